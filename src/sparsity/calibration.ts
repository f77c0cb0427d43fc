// calibration.json: per-conv input sparsity measured on the GPU over real images (written by
// `cusnn-gen calibrate`, read by the planner). Checked strictly: a calibration of another model
// or a malformed figure is an error naming the file and the layer; the schema is
// src/schema/calibration.ts.
import { readFileSync } from 'node:fs';
import type { KernelTiles } from '../families/registry.js';
import { CALIBRATION_FORMAT, CalibrationSchema } from '../schema/calibration.js';
import { checkSchema, found, parseJson } from '../schema/check.js';

export interface Calibration {
  readonly format: 'cusnn-calibration/1';
  readonly model: string;
  /** Images the figures are averaged over. */
  readonly images: number;
  readonly weights?: string;
  /** Conv layer name -> fraction of zeros in its input, and (when timed) both paths' times. */
  readonly layers: Readonly<Record<string, CalibratedLayer>>;
  /** The GPU the times were measured on (present when any layer has `measured`). */
  readonly gpu?: string;
  readonly arch?: string;
}

export interface CalibratedLayer {
  readonly inputSparsity: number;
  /** Both paths timed alone on the GPU (median of CUDA-graph replays, batch 1, the last image's activations). */
  readonly measured?: {
    readonly kernel: string;
    /** The kernel's tiles with their family (absent in older files: act-sparse). */
    readonly tiles: KernelTiles;
    readonly cudnnUs: number;
    readonly cudnnAlgo: string;
    readonly actSparseUs: number;
    /** The replays' p10-p90 of both paths (absent in files written before: no spread). */
    readonly cudnnP10Us?: number;
    readonly cudnnP90Us?: number;
    readonly actSparseP10Us?: number;
    readonly actSparseP90Us?: number;
    /** The digest of the layer's weight structure where its weights were pruned (absent: dense): the times decide only that structure. */
    readonly weights?: string;
  };
}

/** `layers.conv1_conv.measured.tiles` -> `layer 'conv1_conv' measured.tiles` (a layer name may hold dots or slashes). */
function layerField(names: readonly string[]): (field: string) => string {
  const sorted = [...names].sort((a, b) => b.length - a.length);
  return (field) => {
    if (!field.startsWith('layers.')) return field;
    const rest = field.slice('layers.'.length);
    const name = sorted.find((n) => rest === n || rest.startsWith(`${n}.`));
    if (name === undefined) return field;
    const sub = rest.slice(name.length + 1);
    if (sub.startsWith('measured')) return `layer '${name}' "measured" must have kernel, tiles {th,tw,tc,kb,cs}, {family:'igemm',bm,bn,bkc,tm,tn,warpM,split,stages}, {family:'dconv',bm,tm,tn,rowsT,bkc,split,stages}, {family:'pxg',warps,unroll}, {family:'wsparse',ppl,split,cpb,patternDigest,nnz,rowMax,kActive}, {family:'wstage',rows,warps,groups,patternDigest,nnz,rowMax,kActive,slotMax}, {family:'dual',warps,unroll,patternDigest,nnz,rowMax,rowsLive} or {family:'wino',split,warps?}, cudnnUs > 0 and actSparseUs > 0; ${sub}`;
    return `layer '${name}'${sub === '' ? '' : ` ${sub}`}`;
  };
}

/**
 * Reads and checks a calibration.json against its schema (src/schema/calibration.ts) for `model`;
 * with `convs` (the model's conv layer names) every layer it names must be one of them.
 */
export function readCalibration(path: string, model: string, convs?: readonly string[]): Calibration {
  const label = `calibration ${path}`;
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new Error(`${label}: cannot read (${code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'is a directory' : (e as Error).message})`);
  }
  const raw = parseJson(text, label);
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new Error(`${label}: expected a JSON object with "format": "${CALIBRATION_FORMAT}", found ${found(raw)}`);
  const layers = (raw as { layers?: unknown }).layers;
  const names = typeof layers === 'object' && layers !== null ? Object.keys(layers) : [];
  const cal = checkSchema(CalibrationSchema, raw, label, layerField(names));
  if (cal.model !== model) throw new Error(`${label}: measured on model '${cal.model}', not '${model}'`);
  for (const [layer, v] of Object.entries(cal.layers)) {
    if (v.measured !== undefined && (cal.arch === undefined || cal.gpu === undefined)) {
      throw new Error(`${label}: layer '${layer}' has "measured" times but the file names no "gpu" and "arch"`);
    }
  }
  if (convs !== undefined) checkCalibrationLayers(cal, path, convs);
  return cal;
}

/** Every layer of the calibration must be a conv of the model (a calibration naming none of them is another model's). */
export function checkCalibrationLayers(cal: Calibration, path: string, convs: readonly string[]): void {
  const known = new Set(convs);
  const names = Object.keys(cal.layers);
  const unknown = names.filter((n) => !known.has(n));
  if (unknown.length === 0) return;
  const some = unknown.slice(0, 3).map((n) => `'${n}'`).join(', ');
  if (unknown.length === names.length) {
    throw new Error(`calibration ${path}: none of its ${names.length} layers is a conv of ${cal.model} (${some}${unknown.length > 3 ? ', ...' : ''}); was it measured on another network?`);
  }
  throw new Error(`calibration ${path}: ${unknown.length} layer(s) are not convs of ${cal.model}: ${some}${unknown.length > 3 ? ', ...' : ''}`);
}
