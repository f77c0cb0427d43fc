// The one place a model argument becomes a graph: a zoo name (`resnet50`) builds the zoo network;
// a path ending in `.onnx` reads and imports that file (src/model/onnx/import.ts), whose
// initializers are then its default weights. Call sites that took `buildModel(name)` take
// `resolveModel(arg).graph`, and where they load weights, `resolvedWeights(resolved, options)`.
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { loadWeights, type LoadOptions } from '../weights/load.js';
import { readOnnxWeights } from '../weights/onnx.js';
import type { WeightSet } from '../weights/store.js';
import type { ModelFileRef } from '../plan/types.js';
import type { Graph, Shape } from './ir.js';
import { importOnnxFile, type ImportedModel } from './onnx/import.js';
import { buildModel, isModelName, MODEL_NAMES } from './zoo/index.js';

export interface ResolveOptions {
  /** C,H,W of an ONNX model's input where the file leaves them symbolic (`--input-shape`). */
  readonly inputShape?: Shape | undefined;
}

export interface ResolvedModel {
  readonly kind: 'zoo' | 'onnx';
  readonly graph: Graph;
  /** The ONNX file (absolute), null for a zoo model. */
  readonly path: string | null;
  /** An ONNX model's own weights (its initializers); null for a zoo model (synthetic by default). */
  readonly weights: WeightSet | null;
  /** How each ONNX node was imported (layer names, aliases); null for a zoo model. */
  readonly onnx: ImportedModel | null;
}

/** True when `arg` names an ONNX file rather than a zoo model. */
export const isOnnxModelArg = (arg: string): boolean => /\.onnx$/i.test(arg);

/**
 * The graph name of an ONNX file: its base name (e.g. `mobilenet_v2.onnx`, so it never equals a zoo
 * name) with characters outside [A-Za-z0-9_.+-] as '_': plan.json, folder names and the addon's
 * CMake target are made of it.
 */
export const onnxModelName = (file: string): string => path.basename(file).replace(/[^A-Za-z0-9_.+-]/g, '_');

/** A model argument as a short name for folders and tables: a zoo name as is, an ONNX file's base name without `.onnx`. */
export const modelLabel = (arg: string): string => (isOnnxModelArg(arg) ? onnxModelName(arg).replace(/\.onnx$/i, '') : arg);

/** A zoo name or an ONNX file as a graph (and, for ONNX, its weights); throws naming the model or the file. */
export function resolveModel(arg: string, o: ResolveOptions = {}): ResolvedModel {
  if (isOnnxModelArg(arg)) {
    const onnx = importOnnxFile(arg, { inputShape: o.inputShape, name: onnxModelName(arg) });
    return { kind: 'onnx', graph: onnx.graph, path: path.resolve(arg), weights: onnx.weights, onnx };
  }
  if (o.inputShape) throw new Error(`an input shape is for ONNX models; ${arg} is a zoo model of fixed shape`);
  return { kind: 'zoo', graph: buildModel(arg), path: null, weights: null, onnx: null };
}

/** `resolveModel(arg).graph`: the drop-in replacement of `buildModel(arg)`. */
export const resolveGraph = (arg: string, o: ResolveOptions = {}): Graph => resolveModel(arg, o).graph;

/**
 * The weights a command uses: `--weights` when given (an .onnx file of the same network, a .bin
 * folder or a .safetensors file), else the ONNX model's own initializers, else synthetic ones.
 */
export function resolvedWeights(m: ResolvedModel, o: LoadOptions = {}): WeightSet {
  const p = o.path;
  if (p !== undefined && p !== '') {
    if (isOnnxModelArg(p)) return m.path !== null && path.resolve(p) === m.path && m.weights ? m.weights : readOnnxWeights(p, m.graph);
    return loadWeights(m.graph, o);
  }
  return m.weights ?? loadWeights(m.graph, o);
}

/** Why `v` is no model argument (neither a zoo name nor a path ending in .onnx), or null. */
export function modelArgProblem(v: string): string | null {
  return isModelName(v) || isOnnxModelArg(v) ? null : `Allowed choices are ${MODEL_NAMES.join(', ')}, or an ONNX file (a path ending in .onnx).`;
}

/** `C,H,W` as a shape, or why it is none. */
export function parseInputShape(v: string): Shape | string {
  const dims = v.split(',').map((p) => (/^\s*\d+\s*$/.test(p) ? Number(p) : NaN));
  if (dims.length !== 3 || dims.some((d) => !Number.isSafeInteger(d) || d < 1 || d > 1_000_000)) {
    return `--input-shape must be C,H,W (three integers in [1, 1000000]), got '${v}'`;
  }
  return [dims[0]!, dims[1]!, dims[2]!];
}

// ---------------------------------------------------------------------------------------------
// A generated folder's record of its ONNX model (plan.json `modelFile`): where the file is, its
// digest (and its external data files'), and the input shape given for symbolic dimensions, so
// that build, run, calibrate, verify, tune and bench on the folder read the same model again, and
// a file changed since is an error instead of a network that disagrees with its plan.

function fileSha256(file: string): { sha256: string; bytes: number } {
  const data = fs.readFileSync(file);
  return { sha256: createHash('sha256').update(data).digest('hex'), bytes: data.length };
}

export type { ModelFileRef };

/** The record of an ONNX model for plan.json; null for a zoo model. */
export function modelFileRef(m: ResolvedModel, inputShape?: Shape): ModelFileRef | null {
  if (m.kind !== 'onnx' || m.path === null || m.onnx === null) return null;
  const own = fileSha256(m.path);
  const dir = path.dirname(m.path);
  const externalData = m.onnx.externalFiles.map((f) => ({ file: path.relative(dir, f), sha256: fileSha256(f).sha256 }));
  return { format: 'onnx', path: m.path, sha256: own.sha256, bytes: own.bytes, externalData, inputShape: inputShape ? [inputShape[0], inputShape[1], inputShape[2]] : null };
}

const HEX64 = /^[0-9a-f]{64}$/;

/** `raw` (plan.json's modelFile) checked field by field; errors name the file and the field. */
function checkModelFileRef(raw: unknown, planFile: string): ModelFileRef {
  const bad = (field: string, want: string, got: unknown): never => {
    throw new Error(`${planFile}: modelFile${field}: expected ${want}, found ${JSON.stringify(got) ?? 'nothing'}`);
  };
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) bad('', 'an object {format, path, sha256, bytes, externalData, inputShape}', raw);
  const r = raw as Record<string, unknown>;
  if (r.format !== 'onnx') bad('.format', '"onnx"', r.format);
  if (typeof r.path !== 'string' || !path.isAbsolute(r.path) || !isOnnxModelArg(r.path)) bad('.path', 'the absolute path of an .onnx file', r.path);
  if (typeof r.sha256 !== 'string' || !HEX64.test(r.sha256)) bad('.sha256', '64 hex digits', r.sha256);
  if (typeof r.bytes !== 'number' || !Number.isSafeInteger(r.bytes) || r.bytes < 0) bad('.bytes', 'a byte count', r.bytes);
  if (!Array.isArray(r.externalData)) bad('.externalData', 'a list of {file, sha256}', r.externalData);
  (r.externalData as unknown[]).forEach((e, i) => {
    const x = e as { file?: unknown; sha256?: unknown } | null;
    if (typeof x !== 'object' || x === null || typeof x.file !== 'string' || x.file === '' || typeof x.sha256 !== 'string' || !HEX64.test(x.sha256)) {
      bad(`.externalData[${i}]`, '{file: a path relative to the model\'s folder, sha256: 64 hex digits}', e);
    }
  });
  const s = r.inputShape;
  if (s !== null && !(Array.isArray(s) && s.length === 3 && s.every((d) => Number.isSafeInteger(d) && (d as number) >= 1))) bad('.inputShape', 'null or [C, H, W]', s);
  return r as unknown as ModelFileRef;
}

/**
 * The model a generated folder's plan names, read again: a zoo model by name; an ONNX model from
 * the file plan.json's `modelFile` records, which must still be the file the folder was generated
 * from (same SHA-256, and its external data files too). `planFile` names the plan in errors.
 */
export function resolvePlanModel(plan: { readonly model: string; readonly arch?: string; readonly modelFile?: unknown }, planFile: string): ResolvedModel {
  const folder = path.dirname(planFile);
  const again = (file: string): string => `regenerate the folder (cusnn-gen --model ${file} --arch ${plan.arch ?? '<sm_xx>'} --out ${folder} --force-overwrite)`;
  if (plan.modelFile === undefined) {
    if (isOnnxModelArg(plan.model)) throw new Error(`${planFile}: model '${plan.model}' is an ONNX file but the plan does not record where it is (no modelFile); ${again(plan.model)}`);
    if (!isModelName(plan.model)) throw new Error(`${planFile}: model '${plan.model}' is no zoo model (${MODEL_NAMES.join(', ')}) and the plan records no ONNX file (modelFile)`);
    return resolveModel(plan.model);
  }
  const ref = checkModelFileRef(plan.modelFile, planFile);
  if (!fs.existsSync(ref.path)) throw new Error(`${planFile}: the ONNX model ${ref.path} it was generated from does not exist any more; restore it or ${again('<file.onnx>')}`);
  const now = fileSha256(ref.path);
  const changed = (what: string, was: string, is: string): never => {
    throw new Error(`${planFile}: ${what} changed since the folder was generated (sha256 ${was.slice(0, 12)}... recorded, ${is.slice(0, 12)}... now); ${again(ref.path)}`);
  };
  if (now.sha256 !== ref.sha256) changed(`the ONNX model ${ref.path}`, ref.sha256, now.sha256);
  const m = resolveModel(ref.path, { inputShape: ref.inputShape ?? undefined });
  const dir = path.dirname(ref.path);
  const recorded = new Map(ref.externalData.map((e) => [path.resolve(dir, e.file), e.sha256]));
  const actual = m.onnx!.externalFiles;
  for (const f of actual) {
    const was = recorded.get(f);
    if (was === undefined) throw new Error(`${planFile}: the ONNX model ${ref.path} now reads external data ${f}, which it did not when the folder was generated; ${again(ref.path)}`);
    const is = fileSha256(f).sha256;
    if (is !== was) changed(`external data ${f} of ${ref.path}`, was, is);
  }
  if (actual.length !== recorded.size) throw new Error(`${planFile}: the ONNX model ${ref.path} reads other external data files than when the folder was generated; ${again(ref.path)}`);
  if (m.graph.name !== plan.model) throw new Error(`${planFile}: model '${plan.model}', but ${ref.path} imports as '${m.graph.name}'; ${again(ref.path)}`);
  return m;
}
