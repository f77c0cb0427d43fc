// Magnitude pruning of conv and dense kernels to a target fraction of zeros, per layer (each
// kernel exactly round(p*n) zeros) or global (one magnitude threshold over all eligible kernels).
//
// The k-th smallest magnitude is found by a two-pass radix select over the float bits: for
// non-negative floats the bit pattern orders like the value, so |w| is `bits & 0x7fffffff` and a
// 16-bit histogram of the high half, then of the low half inside the chosen bucket, pins the exact
// threshold without sorting (VGG-16 has 138M weights). Ties at the threshold are pruned in
// index order (layer order, then index, for global), which makes the zero count exact.
import { tensorKey, type Graph, type Layer } from '../model/ir.js';
import { checkWeightValues, countZeros, getTensor, type WeightSet } from './store.js';

export type PruneMode = 'layer' | 'global';

export interface PruneOptions {
  /** Target fraction of zeros in each (layer) or all (global) eligible kernels, in [0, 1]. */
  readonly sparsity: number;
  readonly mode?: PruneMode;
  /** Also prune the first conv (the one reading the image); default false. */
  readonly includeFirst?: boolean;
  /** Also prune dense (fully connected) kernels; default false. */
  readonly includeDense?: boolean;
}

export interface PruneLayerReport {
  readonly layer: string;
  readonly op: 'conv' | 'dense';
  readonly params: number;
  /** False for kernels kept dense (first conv, dense layers unless included). */
  readonly eligible: boolean;
  readonly zerosBefore: number;
  readonly zerosAfter: number;
  /** Fractions of zeros before and after. */
  readonly before: number;
  readonly after: number;
}

export interface PruneResult {
  readonly weights: WeightSet;
  /** Every conv and dense kernel, in graph order. */
  readonly layers: readonly PruneLayerReport[];
  readonly eligibleParams: number;
  /** Sparsity over the eligible kernels, before and after. */
  readonly eligibleBefore: number;
  readonly eligibleAfter: number;
  /** Sparsity over all conv and dense kernels after pruning. */
  readonly kernelsAfter: number;
}

/** Conv and dense layers whose kernels `o` allows pruning. */
export function prunableLayers(graph: Graph, o: Omit<PruneOptions, 'sparsity' | 'mode'> = {}): string[] {
  const inputs = new Set(graph.layers.filter((l) => l.op === 'input').map((l) => l.name));
  // The first conv sees the raw image, has few weights and is the most sensitive to pruning.
  const isFirstConv = (l: Layer): boolean => l.op === 'conv' && inputs.has(l.inputs[0]!);
  return graph.layers
    .filter((l) => (l.op === 'conv' && (o.includeFirst || !isFirstConv(l))) || (l.op === 'dense' && o.includeDense))
    .map((l) => l.name);
}

const bitsOf = (t: Float32Array): Uint32Array => new Uint32Array(t.buffer, t.byteOffset, t.length);

interface Threshold {
  /** Magnitude bits of the k-th smallest |w|. */
  readonly key: number;
  /** How many of the k zeros are taken from elements whose magnitude equals `key`. */
  readonly ties: number;
}

/** The k-th smallest magnitude (1-based) over the concatenation of `tensors`. */
function kthSmallestMagnitude(tensors: readonly Float32Array[], k: number): Threshold {
  const hist = new Float64Array(65536);
  for (const t of tensors) {
    const b = bitsOf(t);
    for (let i = 0; i < b.length; i++) hist[(b[i]! & 0x7fffffff) >>> 16]++;
  }
  let below = 0;
  let hi = 0;
  while (below + hist[hi]! < k) below += hist[hi++]!;
  hist.fill(0);
  for (const t of tensors) {
    const b = bitsOf(t);
    for (let i = 0; i < b.length; i++) {
      const m = b[i]! & 0x7fffffff;
      if (m >>> 16 === hi) hist[m & 0xffff]++;
    }
  }
  let lo = 0;
  while (below + hist[lo]! < k) below += hist[lo++]!;
  return { key: ((hi << 16) | lo) >>> 0, ties: k - below };
}

/** A copy of `t` with every |w| below the threshold zeroed and the first `ties` equal ones. */
function applyThreshold(t: Float32Array, key: number, ties: number): { out: Float32Array; tiesLeft: number } {
  const out = new Float32Array(t.length);
  const src = bitsOf(t);
  const dst = bitsOf(out);
  for (let i = 0; i < src.length; i++) {
    const b = src[i]!;
    const m = b & 0x7fffffff;
    if (m < key) dst[i] = 0;
    else if (m === key && ties > 0) {
      dst[i] = 0;
      ties--;
    } else dst[i] = b;
  }
  return { out, tiesLeft: ties };
}

export function pruneWeights(graph: Graph, ws: WeightSet, o: PruneOptions): PruneResult {
  const p = o.sparsity;
  if (!(p >= 0 && p <= 1)) throw new Error(`sparsity must be a fraction in [0, 1], got ${p}`);
  const mode = o.mode ?? 'layer';
  if (mode !== 'layer' && mode !== 'global') throw new Error(`prune mode must be 'layer' or 'global', got '${String(mode)}'`);
  // A NaN magnitude sorts nowhere: the threshold would be meaningless.
  checkWeightValues(graph, ws);
  const eligible = new Set(prunableLayers(graph, o));
  const kernels = graph.layers.filter((l) => l.op === 'conv' || l.op === 'dense');
  const input = new Map(kernels.map((l) => [l.name, getTensor(ws, l.name, 'kernel')]));
  const pruned = new Map<string, Float32Array>();

  if (mode === 'layer') {
    for (const name of eligible) {
      const t = input.get(name)!;
      const k = Math.round(p * t.length);
      if (k === 0) continue;
      const th = kthSmallestMagnitude([t], k);
      pruned.set(name, applyThreshold(t, th.key, th.ties).out);
    }
  } else {
    const names = kernels.map((l) => l.name).filter((n) => eligible.has(n));
    const ts = names.map((n) => input.get(n)!);
    const n = ts.reduce((s, t) => s + t.length, 0);
    const k = Math.round(p * n);
    if (k > 0) {
      const th = kthSmallestMagnitude(ts, k);
      let ties = th.ties;
      names.forEach((name, i) => {
        const r = applyThreshold(ts[i]!, th.key, ties);
        ties = r.tiesLeft;
        pruned.set(name, r.out);
      });
    }
  }

  const tensors = new Map(ws.tensors);
  for (const [name, t] of pruned) tensors.set(tensorKey(name, 'kernel'), t);
  const layers: PruneLayerReport[] = kernels.map((l) => {
    const before = input.get(l.name)!;
    const after = pruned.get(l.name) ?? before;
    const zb = countZeros(before);
    const za = after === before ? zb : countZeros(after);
    const n = before.length;
    return { layer: l.name, op: l.op as 'conv' | 'dense', params: n, eligible: eligible.has(l.name), zerosBefore: zb, zerosAfter: za, before: zb / n, after: za / n };
  });
  const sum = (rs: readonly PruneLayerReport[], f: (r: PruneLayerReport) => number): number => rs.reduce((s, r) => s + f(r), 0);
  const el = layers.filter((r) => r.eligible);
  const eligibleParams = sum(el, (r) => r.params);
  const what = `pruned ${mode === 'layer' ? 'per layer' : 'globally'} to ${p} sparsity`;
  return {
    weights: { model: ws.model, source: `${ws.source}, ${what}`, tensors, filled: ws.filled },
    layers,
    eligibleParams,
    eligibleBefore: eligibleParams ? sum(el, (r) => r.zerosBefore) / eligibleParams : 0,
    eligibleAfter: eligibleParams ? sum(el, (r) => r.zerosAfter) / eligibleParams : 0,
    kernelsAfter: sum(layers, (r) => r.zerosAfter) / Math.max(1, sum(layers, (r) => r.params)),
  };
}
