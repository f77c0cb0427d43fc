// The one place a model argument becomes a graph: a zoo name (`resnet50`) builds the zoo network;
// a path ending in `.onnx` reads and imports that file (src/model/onnx/import.ts), whose
// initializers are then its default weights. Call sites that took `buildModel(name)` take
// `resolveModel(arg).graph`, and where they load weights, `resolvedWeights(resolved, options)`.
import * as path from 'node:path';
import { loadWeights, type LoadOptions } from '../weights/load.js';
import { readOnnxWeights } from '../weights/onnx.js';
import type { WeightSet } from '../weights/store.js';
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

/** A zoo name or an ONNX file as a graph (and, for ONNX, its weights); throws naming the model or the file. */
export function resolveModel(arg: string, o: ResolveOptions = {}): ResolvedModel {
  if (isOnnxModelArg(arg)) {
    const onnx = importOnnxFile(arg, { inputShape: o.inputShape });
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
