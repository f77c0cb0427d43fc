// The weight rows of a dual kernel: the layer's nonzero structure (src/families/wsparse/structure.ts,
// kept per output channel) turned around, per (channel, tap) pair q = c * R * S + r * S + s, into the
// ascending list of the output channels k whose weight (k, q) is nonzero. These are the kernel's
// tables (templates/dual.cu.hbs):
//   rowStart[q] .. rowStart[q + 1]   row q's entries (C * R * S + 1 values);
//   rowK[e]                          entry e's output channel, ascending within a row;
// and the packed weight values are read at wt[e], the folded [K][C][R][S] weight at order[e].
import type { WeightStructure } from '../wsparse/structure.js';

export interface DualRows {
  readonly start: Uint32Array;
  readonly ks: Uint32Array;
  /** Entry e's weight: index k * C * R * S + q into the [K][C][R][S] kernel. */
  readonly order: Uint32Array;
  /** Entries of the longest row. */
  readonly rowMax: number;
  /** Rows with at least one entry. */
  readonly rowsLive: number;
}

/** The rows of a structure: a counting sort of its nonzeros by pair, output channels ascending within each. */
export function dualRows(st: WeightStructure): DualRows {
  const pairs = st.c * st.r * st.s;
  const count = new Uint32Array(pairs + 1);
  for (let e = 0; e < st.offsets.length; e++) count[st.offsets[e]! + 1]!++;
  let rowMax = 0, rowsLive = 0;
  for (let q = 0; q < pairs; q++) {
    const n = count[q + 1]!;
    if (n > 0) rowsLive++;
    rowMax = Math.max(rowMax, n);
    count[q + 1] = count[q]! + n;
  }
  const start = count.slice();
  const at = count.slice(0, pairs);
  const ks = new Uint32Array(st.offsets.length);
  const order = new Uint32Array(st.offsets.length);
  // Output channels in ascending order, so each row's entries come out ascending in k.
  for (let k = 0; k < st.k; k++) {
    for (let e = st.start[k]!; e < st.start[k + 1]!; e++) {
      const q = st.offsets[e]!;
      const i = at[q]!++;
      ks[i] = k;
      order[i] = k * pairs + q;
    }
  }
  return { start, ks, order, rowMax, rowsLive };
}

/** Where each packed weight value of a dual kernel comes from (registry kernelWeightOrder). */
export function dualWeightOrder(st: WeightStructure): Uint32Array {
  return dualRows(st).order;
}
