// Magnitude pruning of conv and dense kernels to a target fraction of zeros, per layer (each
// kernel exactly round(p*n) zeros) or global (one magnitude threshold over all eligible kernels).
//
// Patterns (`pattern`), on a kernel seen as [K, C, RS] (conv [K, C/groups, R, S]; dense
// [units, inFeatures] as [units, inFeatures, 1]):
// - 'unstructured' (default): single weights, as described below.
// - '2:4': in every group of 4 consecutive input channels (C, the reduction axis, as NVIDIA's
//   sparse tensor cores and cuSPARSELt take it) at one (k, r, s), the 2 of largest magnitude are
//   kept. A last group of m < 4 channels (C not a multiple of 4) is treated as zero-padded to 4:
//   m - 2 are pruned. 50% by construction; `mode` changes nothing.
// - 'block4x1': 4 consecutive output channels (K) at one (c, r, s) are pruned together, ranked by
//   the block's L2 norm (a last block of K mod 4 channels is a smaller block).
// - 'filter': whole output filters (all C*R*S weights of one k), ranked by L2 norm. Nothing else
//   changes: the batch norm after a pruned filter still adds its bias.
// Blocks and filters are pruned in ascending (norm, index) order (global: layer order, then index)
// while each one brings the zero count at least as close to round(p*n) as it was: the result is
// within half a block (half a filter) of the target, and no kept unit has a smaller norm than a
// pruned one.
//
// The k-th smallest magnitude is found by a two-pass radix select over the float bits: for
// non-negative floats the bit pattern orders like the value, so |w| is `bits & 0x7fffffff` and a
// 16-bit histogram of the high half, then of the low half inside the chosen bucket, pins the exact
// threshold without sorting (VGG-16 has 138M weights). Ties at the threshold are pruned in
// index order (layer order, then index, for global), which makes the zero count exact.
import { tensorKey, type Graph, type Layer } from '../model/ir.js';
import type { WeightPatternKind } from '../sparsity/types.js';
import { checkWeightValues, countZeros, getTensor, type WeightSet } from './store.js';

export type PruneMode = 'layer' | 'global';

/** What is pruned together: single weights, 2 of every 4 along C, 4x1 blocks along K, whole filters. */
export type PrunePattern = Exclude<WeightPatternKind, 'dense'>;
export const PRUNE_PATTERNS: readonly PrunePattern[] = ['unstructured', '2:4', 'block4x1', 'filter'];

export interface PruneOptions {
  /** Target fraction of zeros in each (layer) or all (global) eligible kernels, in [0, 1]. */
  readonly sparsity: number;
  readonly mode?: PruneMode;
  /** Also prune the first conv (the one reading the image); default false. */
  readonly includeFirst?: boolean;
  /** Also prune dense (fully connected) kernels; default false. */
  readonly includeDense?: boolean;
  /** Default 'unstructured'. '2:4' needs sparsity 0.5. */
  readonly pattern?: PrunePattern;
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
  readonly pattern: PrunePattern;
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

/** A kernel as [K, C, RS]: output channels, input channels (the reduction axis), kernel positions. */
interface KernelDims {
  readonly k: number;
  readonly c: number;
  readonly rs: number;
}

function kernelDims(layer: Layer, t: Float32Array): KernelDims {
  const d: KernelDims = layer.op === 'conv' ? { k: layer.outChannels, c: 0, rs: layer.kernel[0] * layer.kernel[1] } : { k: layer.op === 'dense' ? layer.units : 0, c: 0, rs: 1 };
  const c = t.length / (d.k * d.rs);
  if (!Number.isInteger(c) || c < 1) throw new Error(`layer '${layer.name}': kernel has ${t.length} values, not a multiple of ${d.k * d.rs}`);
  return { ...d, c };
}

/** 2:4 along C: in each group of 4 consecutive input channels at one (k, r, s), zero the 2 smallest |w| (ties: lower index first). */
function prune2of4(t: Float32Array, d: KernelDims): Float32Array {
  const out = t.slice();
  const src = bitsOf(t);
  const dst = bitsOf(out);
  const idx = [0, 0, 0, 0];
  const mag = [0, 0, 0, 0];
  const perK = d.c * d.rs;
  for (let o = 0; o < d.k; o++) {
    for (let c0 = 0; c0 < d.c; c0 += 4) {
      const m = Math.min(4, d.c - c0);
      const drop = m - 2;
      if (drop <= 0) continue;
      for (let j = 0; j < d.rs; j++) {
        // insertion sort of the group by (magnitude, index), ascending
        for (let i = 0; i < m; i++) {
          const at = o * perK + (c0 + i) * d.rs + j;
          const v = src[at]! & 0x7fffffff;
          let q = i;
          while (q > 0 && mag[q - 1]! > v) {
            mag[q] = mag[q - 1]!;
            idx[q] = idx[q - 1]!;
            q--;
          }
          mag[q] = v;
          idx[q] = at;
        }
        for (let i = 0; i < drop; i++) dst[idx[i]!] = 0;
      }
    }
  }
  return out;
}

/** Units pruned together (4x1 blocks along K, or whole filters) of one kernel. */
interface UnitLayout {
  readonly count: number;
  /** Calls `f` with every flat index of unit `u`. */
  forEach(u: number, f: (i: number) => void): void;
}

function unitLayout(pattern: 'block4x1' | 'filter', d: KernelDims): UnitLayout {
  const perK = d.c * d.rs;
  if (pattern === 'filter') {
    return {
      count: d.k,
      forEach(u, f) {
        for (let i = u * perK; i < (u + 1) * perK; i++) f(i);
      },
    };
  }
  // block id = kb * perK + crs; its weights are (4kb + i) * perK + crs
  return {
    count: Math.ceil(d.k / 4) * perK,
    forEach(u, f) {
      const kb = Math.floor(u / perK);
      const crs = u - kb * perK;
      const m = Math.min(4, d.k - 4 * kb);
      for (let i = 0; i < m; i++) f((4 * kb + i) * perK + crs);
    },
  };
}

/** Sum of squares (float64) and nonzero count of every unit of `t`, written at `at` onward. */
function unitScores(t: Float32Array, u: UnitLayout, scores: Float64Array, nnz: Uint32Array, at: number): void {
  for (let b = 0; b < u.count; b++) {
    let s = 0;
    let n = 0;
    u.forEach(b, (i) => {
      const v = t[i]!;
      s += v * v;
      if (v !== 0) n++;
    });
    scores[at + b] = s;
    nnz[at + b] = n;
  }
}

/**
 * Which units to prune: ascending (score, index), each pruned while `zeros + nnz/2 <= target`
 * (it leaves the count at least as close to the target), stopping at the first that fails.
 * Scores are non-negative doubles, whose bit patterns order like their values: a histogram of the
 * top 20 bits finds the buckets pruned whole; only the boundary bucket is sorted.
 */
function selectUnits(scores: Float64Array, nnz: Uint32Array, zeros: number, target: number): Uint8Array {
  const n = scores.length;
  const pruned = new Uint8Array(n);
  const words = new Uint32Array(scores.buffer, scores.byteOffset, 2 * n);
  const bucketOf = (i: number): number => words[2 * i + 1]! >>> 12; // little-endian: high word second
  const BUCKETS = 1 << 20;
  const adds = new Float64Array(BUCKETS);
  const counts = new Uint32Array(BUCKETS);
  for (let i = 0; i < n; i++) {
    const b = bucketOf(i);
    adds[b] += nnz[i]!;
    counts[b]++;
  }
  let z = zeros;
  let b = 0;
  for (;;) {
    while (b < BUCKETS && (counts[b] === 0 || z + adds[b]! <= target)) {
      z += adds[b]!;
      b++;
    }
    // buckets below b are pruned whole
    if (b >= BUCKETS) break;
    const members: number[] = [];
    for (let i = 0; i < n; i++) if (bucketOf(i) === b) members.push(i);
    members.sort((x, y) => scores[x]! - scores[y]! || x - y);
    let stopped = false;
    for (const i of members) {
      if (z + nnz[i]! / 2 > target) {
        stopped = true;
        break;
      }
      pruned[i] = 1;
      z += nnz[i]!;
    }
    if (stopped) {
      // mark the whole buckets below b
      for (let i = 0; i < n; i++) if (bucketOf(i) < b) pruned[i] = 1;
      return pruned;
    }
    b++;
    // the boundary bucket was pruned whole after all: go on (its members are marked)
    for (let i = 0; i < n; i++) if (bucketOf(i) < b) pruned[i] = 1;
  }
  for (let i = 0; i < n; i++) pruned[i] = 1;
  return pruned;
}

/** Prunes 4x1 blocks or filters of the given kernels to `p`, per layer or over all of them. */
function pruneUnits(pattern: 'block4x1' | 'filter', ts: readonly Float32Array[], dims: readonly KernelDims[], p: number, global: boolean): Float32Array[] {
  const layouts = dims.map((d) => unitLayout(pattern, d));
  const apply = (t: Float32Array, u: UnitLayout, mask: Uint8Array, at: number): Float32Array => {
    const out = t.slice();
    for (let b = 0; b < u.count; b++) if (mask[at + b]) u.forEach(b, (i) => void (out[i] = 0));
    return out;
  };
  const select = (idx: readonly number[]): Uint8Array => {
    const total = idx.reduce((s, j) => s + layouts[j]!.count, 0);
    const scores = new Float64Array(total);
    const nnz = new Uint32Array(total);
    let at = 0;
    let zeros = 0;
    let n = 0;
    for (const j of idx) {
      unitScores(ts[j]!, layouts[j]!, scores, nnz, at);
      at += layouts[j]!.count;
      zeros += countZeros(ts[j]!);
      n += ts[j]!.length;
    }
    return selectUnits(scores, nnz, zeros, Math.round(p * n));
  };
  if (!global) {
    return ts.map((t, j) => apply(t, layouts[j]!, select([j]), 0));
  }
  const mask = select(ts.map((_, j) => j));
  let at = 0;
  return ts.map((t, j) => {
    const out = apply(t, layouts[j]!, mask, at);
    at += layouts[j]!.count;
    return out;
  });
}

export function pruneWeights(graph: Graph, ws: WeightSet, o: PruneOptions): PruneResult {
  const p = o.sparsity;
  if (!(p >= 0 && p <= 1)) throw new Error(`sparsity must be a fraction in [0, 1], got ${p}`);
  const mode = o.mode ?? 'layer';
  if (mode !== 'layer' && mode !== 'global') throw new Error(`prune mode must be 'layer' or 'global', got '${String(mode)}'`);
  const pattern = o.pattern ?? 'unstructured';
  if (!PRUNE_PATTERNS.includes(pattern)) throw new Error(`prune pattern must be one of ${PRUNE_PATTERNS.join(', ')}, got '${String(pattern)}'`);
  if (pattern === '2:4' && p !== 0.5) throw new Error(`2:4 pruning keeps 2 of every 4 weights: its sparsity is 0.5, got ${p}`);
  // A NaN magnitude sorts nowhere: the threshold would be meaningless.
  checkWeightValues(graph, ws);
  const eligible = new Set(prunableLayers(graph, o));
  const kernels = graph.layers.filter((l) => l.op === 'conv' || l.op === 'dense');
  const input = new Map(kernels.map((l) => [l.name, getTensor(ws, l.name, 'kernel')]));
  const pruned = new Map<string, Float32Array>();

  if (pattern !== 'unstructured') {
    const layers = kernels.filter((l) => eligible.has(l.name));
    const ts = layers.map((l) => input.get(l.name)!);
    const dims = layers.map((l, j) => kernelDims(l, ts[j]!));
    const outs = pattern === '2:4' ? ts.map((t, j) => prune2of4(t, dims[j]!)) : pruneUnits(pattern, ts, dims, p, mode === 'global');
    layers.forEach((l, j) => pruned.set(l.name, outs[j]!));
  } else if (mode === 'layer') {
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
  const how = { unstructured: '', '2:4': ' 2:4 (along input channels)', block4x1: ' in 4x1 blocks (along output channels)', filter: ' by whole filters' }[pattern];
  const what = pattern === '2:4' ? `pruned${how} to 0.5 sparsity` : `pruned${how} ${mode === 'layer' ? 'per layer' : 'globally'} to ${p} sparsity`;
  return {
    pattern,
    weights: { model: ws.model, source: `${ws.source}, ${what}`, tensors, filled: ws.filled },
    layers,
    eligibleParams,
    eligibleBefore: eligibleParams ? sum(el, (r) => r.zerosBefore) / eligibleParams : 0,
    eligibleAfter: eligibleParams ? sum(el, (r) => r.zerosAfter) / eligibleParams : 0,
    kernelsAfter: sum(layers, (r) => r.zerosAfter) / Math.max(1, sum(layers, (r) => r.params)),
  };
}
