// The nonzero structure of one conv kernel, what a wsparse kernel is specialized on: for every
// output channel k the ascending list of the offsets c*R*S + r*S + s of its nonzero weights, and a
// short digest of that list (the kernel name carries it, so two layers share a kernel only when
// shape and structure agree). Only the zero-ness of a weight counts: a nonzero value changing leaves
// the structure and the digest as they are; the values are read at run time.
import { createHash } from 'node:crypto';
import { getLayer, type ConvLayer, type Graph } from '../../model/ir.js';
import { getTensor, type WeightSet } from '../../weights/store.js';

/** Digest length in hex characters (40 bits: a handful of layers per network, no practical collision). */
export const DIGEST_HEX = 10;

export interface WeightStructure {
  /** Kernel [K][C][R][S] (C per group: groups are 1 for this family). */
  readonly k: number;
  readonly c: number;
  readonly r: number;
  readonly s: number;
  /** Output channel k's nonzeros are offsets[start[k] .. start[k + 1]); K + 1 entries. */
  readonly start: Uint32Array;
  /** c*R*S + r*S + s of every nonzero weight, ascending within each output channel. */
  readonly offsets: Uint32Array;
  /** Hex digest of (K, C, R, S, start, offsets): see structureDigest. */
  readonly digest: string;
}

export interface KernelDims {
  readonly k: number;
  readonly c: number;
  readonly r: number;
  readonly s: number;
}

/** The structure of a [K][C][R][S] kernel (fp32, as the weight set holds it: before any BN folding). */
export function weightStructure(kernel: Float32Array, d: KernelDims): WeightStructure {
  const crs = d.c * d.r * d.s;
  if (![d.k, d.c, d.r, d.s].every((x) => Number.isInteger(x) && x >= 1)) throw new Error(`weight structure: bad kernel shape ${d.k}x${d.c}x${d.r}x${d.s}`);
  if (kernel.length !== d.k * crs) throw new Error(`weight structure: kernel has ${kernel.length} values, shape ${d.k}x${d.c}x${d.r}x${d.s} needs ${d.k * crs}`);
  let nnz = 0;
  for (let i = 0; i < kernel.length; i++) if (kernel[i] !== 0) nnz++;
  const start = new Uint32Array(d.k + 1);
  const offsets = new Uint32Array(nnz);
  let at = 0;
  for (let o = 0; o < d.k; o++) {
    start[o] = at;
    const base = o * crs;
    for (let j = 0; j < crs; j++) if (kernel[base + j] !== 0) offsets[at++] = j;
  }
  start[d.k] = at;
  return { ...d, start, offsets, digest: structureDigest(d, start, offsets) };
}

/**
 * SHA-256 over "wsparse-structure/1 K C R S", then start[] and offsets[] as little-endian uint32,
 * the first DIGEST_HEX hex characters. Deterministic on any machine.
 */
export function structureDigest(d: KernelDims, start: Uint32Array, offsets: Uint32Array): string {
  const h = createHash('sha256');
  h.update(`wsparse-structure/1 ${d.k} ${d.c} ${d.r} ${d.s}\n`);
  const CHUNK = 16384;
  const buf = Buffer.alloc(4 * CHUNK);
  for (const arr of [start, offsets]) {
    for (let i = 0; i < arr.length; i += CHUNK) {
      const n = Math.min(CHUNK, arr.length - i);
      for (let j = 0; j < n; j++) buf.writeUInt32LE(arr[i + j]!, 4 * j);
      h.update(buf.subarray(0, 4 * n));
    }
  }
  return h.digest('hex').slice(0, DIGEST_HEX);
}

/** Nonzeros of output channel k. */
export const channelNnz = (st: WeightStructure, k: number): number => st.start[k + 1]! - st.start[k]!;

/** Fraction of zeros of the kernel. */
export const structureSparsity = (st: WeightStructure): number => 1 - st.offsets.length / (st.k * st.c * st.r * st.s);

/** A layer's structure by name, or null where the layer has none (not a conv of groups 1). */
export type StructureLookup = (layer: string) => WeightStructure | null;

/**
 * The structure of every conv of `graph` in `ws`, computed on first use and kept (generate() hands
 * one lookup to the planner and to codegen, so each kernel is scanned once).
 */
export function structureLookup(graph: Graph, ws: WeightSet): StructureLookup {
  const memo = new Map<string, WeightStructure | null>();
  return (layer) => {
    const hit = memo.get(layer);
    if (hit !== undefined) return hit;
    const l = graph.layers.find((x) => x.name === layer);
    let st: WeightStructure | null = null;
    if (l?.op === 'conv' && (l as ConvLayer).groups === 1) {
      const conv = l as ConvLayer;
      const c = getLayer(graph, conv.inputs[0]!).shape[0];
      st = weightStructure(getTensor(ws, conv.name, 'kernel'), { k: conv.outChannels, c, r: conv.kernel[0], s: conv.kernel[1] });
    }
    memo.set(layer, st);
    return st;
  };
}

/**
 * Checks that `st` is the structure a weight-sparse kernel (wsparse, wstage, dual) was planned for: the same
 * digest, then the same figures derived from it (`derive` runs only once the digest matches). `where` names the
 * kernel and its layers in the error.
 */
export function checkPlannedStructure<S extends { readonly family: string; readonly patternDigest: string }, F extends keyof S & string>(
  spec: S, st: WeightStructure, where: string, fields: readonly F[], derive: () => Pick<S, F>,
): void {
  if (st.digest !== spec.patternDigest) {
    throw new Error(`${where}: the weights' nonzero structure has digest ${st.digest}, the plan's ${spec.family} kernel was generated for ${spec.patternDigest}: ` +
      'the weights changed since planning (re-plan with these weights)');
  }
  const again = derive();
  for (const f of fields) {
    if (again[f] !== spec[f]) throw new Error(`${where}: ${spec.family} spec says ${f} ${String(spec[f])}, the structure gives ${String(again[f])}`);
  }
}
