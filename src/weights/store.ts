// In-memory weights of one network: every parameter tensor as a Float32Array keyed by
// `tensorKey(layer, role)`, with where it came from. Readers, the synthetic generator and the
// pruner all produce this; the later stages only read it.
import { paramSpecs, size, tensorKey, type Graph, type TensorRole, type TensorSpec } from '../model/ir.js';

export interface WeightSet {
  /** Zoo name of the network the weights belong to. */
  readonly model: string;
  /** Human-readable origin, e.g. `synthetic (seed 0)` or a path. */
  readonly source: string;
  /** Tensors keyed by `tensorKey(layer, role)`; conv kernels K×C×R×S, dense kernels units×in. */
  readonly tensors: ReadonlyMap<string, Float32Array>;
  /** Tensor keys that were missing from the source and filled synthetically (`--fill-missing`). */
  readonly filled: readonly string[];
}

/** The tensor `layer:role`, or an error naming the layer when the set lacks it. */
export function getTensor(ws: WeightSet, layer: string, role: TensorRole): Float32Array {
  const t = ws.tensors.get(tensorKey(layer, role));
  if (!t) throw new Error(`${ws.model} weights (${ws.source}): layer '${layer}' has no ${role} tensor`);
  return t;
}

export const formatShape = (shape: readonly number[]): string => `[${shape.join('x')}]`;

/**
 * Checks that `ws` holds exactly the graph's parameter tensors with the right sizes; throws an
 * error naming the first offending layer, its role and the expected shape.
 */
export function validateWeights(graph: Graph, ws: WeightSet): void {
  if (ws.model !== graph.name) throw new Error(`weights (${ws.source}) are for model '${ws.model}', not '${graph.name}'`);
  const specs = paramSpecs(graph);
  for (const s of specs) {
    const t = ws.tensors.get(tensorKey(s.layer, s.role));
    if (!t) throw new Error(`${graph.name} weights (${ws.source}): layer '${s.layer}' lacks its ${s.role} tensor (expected shape ${formatShape(s.shape)})`);
    if (t.length !== size(s.shape)) {
      throw new Error(`${graph.name} weights (${ws.source}): layer '${s.layer}' ${s.role} has ${t.length} values, expected shape ${formatShape(s.shape)} = ${size(s.shape)}`);
    }
  }
  if (ws.tensors.size !== specs.length) {
    const known = new Set(specs.map((s) => tensorKey(s.layer, s.role)));
    const extra = [...ws.tensors.keys()].filter((k) => !known.has(k));
    throw new Error(`${graph.name} weights (${ws.source}): ${extra.length} tensor(s) not in the model, e.g. '${extra[0]}'`);
  }
}

/** Parameter specs grouped by layer, in graph order (the unit the .bin format stores). */
export function specsByLayer(graph: Graph): Map<string, TensorSpec[]> {
  const out = new Map<string, TensorSpec[]>();
  for (const s of paramSpecs(graph)) {
    const list = out.get(s.layer);
    if (list) list.push(s);
    else out.set(s.layer, [s]);
  }
  return out;
}

/** The same tensors re-keyed in `paramSpecs` order, so every source hands them out alike. */
export function inParamOrder(graph: Graph, m: ReadonlyMap<string, Float32Array>): Map<string, Float32Array> {
  const out = new Map<string, Float32Array>();
  for (const s of paramSpecs(graph)) {
    const k = tensorKey(s.layer, s.role);
    const t = m.get(k);
    if (t) out.set(k, t);
  }
  return out;
}

/** Number of exact zeros (+0 and -0) in a tensor. */
export function countZeros(t: Float32Array): number {
  let n = 0;
  for (let i = 0; i < t.length; i++) if (t[i] === 0) n++;
  return n;
}

/** Throws on big-endian hosts: every file format here is little-endian and read by bulk copies. */
export function assertLittleEndian(): void {
  if (new Uint8Array(new Uint16Array([1]).buffer)[0] !== 1) {
    throw new Error('cusnn weight files are little-endian; this big-endian host is not supported');
  }
}

/** Index of the first NaN or ±Infinity in `t`, or -1 when every value is finite. */
export function firstNonFinite(t: Float32Array): number {
  for (let i = 0; i < t.length; i++) {
    const v = t[i]!;
    // v - v is 0 for finite values and NaN for NaN and ±Infinity.
    if (v - v !== 0) return i;
  }
  return -1;
}

/** A flat index as a multi-dimensional one: 70 in [2x3x4x5] -> [0,2,2,0]. */
export function unflatIndex(shape: readonly number[], flat: number): number[] {
  const out = new Array<number>(shape.length).fill(0);
  let rest = flat;
  for (let d = shape.length - 1; d >= 0; d--) {
    out[d] = rest % shape[d]!;
    rest = Math.floor(rest / shape[d]!);
  }
  return out;
}

/** Throws `<where>: tensor '<key>' value [i] (index [..] of [shape]) is NaN; weights must be finite` for the first non-finite value. */
export function assertFinite(where: string, key: string, shape: readonly number[], t: Float32Array): void {
  const i = firstNonFinite(t);
  if (i < 0) return;
  throw new Error(
    `${where}: tensor '${key}' value ${i} (index [${unflatIndex(shape, i).join(',')}] of ${formatShape(shape)}) is ${t[i]}; weights must be finite numbers`,
  );
}

/** Throws naming the tensor and index when a moving variance is negative (a finite value no batch norm can have). */
export function assertVariance(where: string, key: string, shape: readonly number[], t: Float32Array): void {
  for (let i = 0; i < t.length; i++) {
    if (t[i]! < 0) {
      throw new Error(`${where}: tensor '${key}' value ${i} (index [${unflatIndex(shape, i).join(',')}] of ${formatShape(shape)}) is ${t[i]}; a batch norm's moving variance must be >= 0`);
    }
  }
}

/**
 * Every value of every tensor finite and every moving variance >= 0; throws naming the layer, the
 * tensor and the index (the readers check files as they read them; this covers weight sets built
 * in memory, e.g. through the library API).
 */
export function checkWeightValues(graph: Graph, ws: WeightSet): void {
  for (const s of paramSpecs(graph)) {
    const key = tensorKey(s.layer, s.role);
    const t = ws.tensors.get(key);
    if (!t) continue;
    const where = `${graph.name} weights (${ws.source}): layer '${s.layer}'`;
    assertFinite(where, key, s.shape, t);
    if (s.role === 'moving_variance') assertVariance(where, key, s.shape, t);
  }
}

/**
 * The tensors `--fill-missing` generated must be finite too: they are derived from the given
 * tensors' statistics, which values near float32's range can overflow.
 */
export function assertFilledFinite(where: string, graph: Graph, tensors: ReadonlyMap<string, Float32Array>, filled: readonly string[]): void {
  const keys = new Set(filled);
  for (const s of paramSpecs(graph)) {
    const key = tensorKey(s.layer, s.role);
    if (!keys.has(key)) continue;
    const t = tensors.get(key)!;
    const i = firstNonFinite(t);
    if (i >= 0) {
      throw new Error(`${where}: filling '${key}' synthetically gives ${t[i]} at value ${i}: the given tensors' values are too large to derive it from (layer '${s.layer}')`);
    }
  }
}
