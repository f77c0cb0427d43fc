// How a wsparse kernel spreads a layer's nonzeros over its blocks, and the tables it gets.
//
// One block per (output channel, pixel tile): its warps split the channel's nonzero list into
// SPLIT contiguous shares of equal size (within one nonzero), so the warps of a block finish
// together. Channels differ in their counts; blocks are dispatched longest first (the grid's
// fastest index walks the channels in descending nonzero count, ties by index), the LPT order, so
// the short ones fill the tail of the last wave. Channels without any nonzero get a block too: it
// writes their epilogue of 0 (bias, ReLU).
//
// Tables (templates/wsparse.cu.hbs):
//   rowOrder[i]          the output channel of grid column i (descending nonzero count);
//   rowStart[k]          first entry of channel k; rowStart[k + 1] ends it (K + 1 entries);
//   entries[...]         c*R*S + r*S + s of each nonzero, ascending within a channel.
// A channel's nonzeros are summed per warp in ascending offset, and the warps' partial sums in warp
// order: the summation order of every output is fixed, whatever the input.
import type { WeightStructure } from './structure.js';

export interface RowStats {
  readonly nnz: number;
  readonly kActive: number;
  /** Nonzeros of the busiest output channel. */
  readonly rowMax: number;
  /** Channels without nonzeros. */
  readonly empty: number;
}

export function rowStats(st: WeightStructure): RowStats {
  let rowMax = 0;
  let kActive = 0;
  for (let k = 0; k < st.k; k++) {
    const n = st.start[k + 1]! - st.start[k]!;
    if (n > 0) kActive++;
    rowMax = Math.max(rowMax, n);
  }
  return { nnz: st.offsets.length, kActive, rowMax, empty: st.k - kActive };
}

/** The output channels in dispatch order: descending nonzero count, ties by ascending index. */
export function rowOrder(st: WeightStructure): Int32Array {
  const n = (k: number): number => st.start[k + 1]! - st.start[k]!;
  return Int32Array.from(Array.from({ length: st.k }, (_, k) => k).sort((a, b) => n(b) - n(a) || a - b));
}

/** Max over mean nonzeros per output channel (1: every channel equal; the busiest block's share of the work). */
export function balanceOf(s: Pick<RowStats, 'rowMax' | 'nnz'>, k: number): number {
  return s.nnz === 0 ? 1 : s.rowMax / (s.nnz / k);
}

export interface WsparseTables {
  readonly rowOrder: Int32Array;
  readonly rowStart: Uint32Array;
  readonly entries: Uint32Array;
  readonly stats: RowStats;
}

/**
 * Where each packed weight value comes from: the kernel reads entry e's value at wt[e], the folded
 * [K][C][R][S] weight at order[e] (channel by channel, ascending offset: the structure's order).
 */
export function wsparseWeightOrder(st: WeightStructure): Uint32Array {
  const crs = st.c * st.r * st.s;
  const order = new Uint32Array(st.offsets.length);
  for (let k = 0; k < st.k; k++) for (let e = st.start[k]!; e < st.start[k + 1]!; e++) order[e] = k * crs + st.offsets[e]!;
  return order;
}

/** The kernel's tables for a structure (see the header). */
export function wsparseTables(st: WeightStructure): WsparseTables {
  return { rowOrder: rowOrder(st), rowStart: st.start, entries: st.offsets, stats: rowStats(st) };
}
