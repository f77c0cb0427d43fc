// How a wsparse kernel spreads a layer's nonzeros over its threads, and the tables it gets.
//
// Balancing: the lanes of a warp go along output pixels, so all 32 threads of a warp walk the same
// nonzero lists (those of the warp's TK output channels) and do exactly equal work; what must
// balance is the work of the warps. The output channels with nonzeros are sorted by nonzero count
// (descending, then by index) and dealt, longest first, to the warp slot ("slot": one warp of one
// block) with the fewest nonzeros so far that has room (TK channels per slot): the LPT rule, which
// keeps every slot within one channel's nonzeros of the mean (max <= mean + the largest channel).
// The slots are then ordered by load, heaviest first, and cut into blocks of WARPS slots, so the
// warps of one block finish together and the heaviest blocks are dispatched first. Channels
// without any nonzero take no slot: every block writes the epilogue of 0 (bias, ReLU) for a share
// of them.
//
// Tables (templates/wsparse.cu.hbs), for channel tile b (a block row of the grid), input-channel
// chunk q (BKC channels) and slot position j = warp * TK + kk of the block:
//   slotChannel[b * KB + j]                the output channel, -1 for an unused position;
//   seg[(b * NCHUNK + q) * KB + j]         first entry of (b, q, j); the next index ends it (one
//                                          final sentinel), so each (b, q) is one contiguous range;
//   entries[...]                           c*R*S + r*S + s of each nonzero, ascending within (b, q, j);
//   empty[]                                the channels without nonzeros, ascending.
// A channel's nonzeros are visited chunk by chunk in ascending offset: the summation order of
// every output is fixed (ascending c*R*S + r*S + s), whatever the tiles.
import type { WeightStructure } from './structure.js';

export interface SlotAssignment {
  /** Channel tiles (grid rows) and slots (chTiles * warps). */
  readonly chTiles: number;
  readonly slots: number;
  /** Output channel of each (tile, warp, kk), -1 where none: chTiles * warps * tk entries. */
  readonly slotChannel: Int32Array;
  /** Nonzeros of each slot (tile-major, then warp). */
  readonly slotLoad: Float64Array;
  /** Channels without a nonzero, ascending. */
  readonly empty: Int32Array;
  readonly kActive: number;
  readonly nnz: number;
  readonly slotMax: number;
}

/** A min-heap of slots keyed by (load, index): the LPT rule's "least loaded slot with room". */
class SlotHeap {
  private readonly items: number[] = [];
  constructor(private readonly load: Float64Array) {}
  private less(a: number, b: number): boolean {
    const la = this.load[a]!, lb = this.load[b]!;
    return la < lb || (la === lb && a < b);
  }
  get size(): number {
    return this.items.length;
  }
  push(x: number): void {
    const h = this.items;
    h.push(x);
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.less(h[i]!, h[p]!)) break;
      [h[i], h[p]] = [h[p]!, h[i]!];
      i = p;
    }
  }
  pop(): number {
    const h = this.items;
    const top = h[0]!;
    const last = h.pop()!;
    if (h.length > 0) {
      h[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1, r = l + 1;
        let m = i;
        if (l < h.length && this.less(h[l]!, h[m]!)) m = l;
        if (r < h.length && this.less(h[r]!, h[m]!)) m = r;
        if (m === i) break;
        [h[i], h[m]] = [h[m]!, h[i]!];
        i = m;
      }
    }
    return top;
  }
}

/** The channels dealt to warp slots (see the header): deterministic in the structure, tk and warps. */
export function assignChannels(st: WeightStructure, tk: number, warps: number): SlotAssignment {
  const nnzOf = (k: number): number => st.start[k + 1]! - st.start[k]!;
  const active: number[] = [];
  const empty: number[] = [];
  for (let k = 0; k < st.k; k++) (nnzOf(k) > 0 ? active : empty).push(k);
  active.sort((a, b) => nnzOf(b) - nnzOf(a) || a - b);
  const chTiles = Math.max(1, Math.ceil(Math.ceil(active.length / tk) / warps));
  const slots = chTiles * warps;
  const load = new Float64Array(slots);
  const count = new Int32Array(slots);
  const members: number[][] = Array.from({ length: slots }, () => []);
  const heap = new SlotHeap(load);
  for (let i = 0; i < slots; i++) heap.push(i);
  for (const k of active) {
    const s = heap.pop();
    members[s]!.push(k);
    load[s] += nnzOf(k);
    if (++count[s]! < tk) heap.push(s);
  }
  // Heaviest slots first, cut into blocks of `warps`.
  const order = Array.from({ length: slots }, (_, i) => i).sort((a, b) => load[b]! - load[a]! || a - b);
  const slotChannel = new Int32Array(slots * tk).fill(-1);
  const slotLoad = new Float64Array(slots);
  order.forEach((s, pos) => {
    slotLoad[pos] = load[s]!;
    members[s]!.forEach((k, kk) => { slotChannel[pos * tk + kk] = k; });
  });
  let slotMax = 0;
  for (const l of slotLoad) slotMax = Math.max(slotMax, l);
  return { chTiles, slots, slotChannel, slotLoad, empty: Int32Array.from(empty), kActive: active.length, nnz: st.offsets.length, slotMax };
}

/** Nonzeros of each output channel in each chunk of `bkc` input channels: [k * nChunks + q]. */
export function chunkCounts(st: WeightStructure, bkc: number): Uint32Array {
  const rs = st.r * st.s;
  const nChunks = Math.ceil(st.c / bkc);
  const out = new Uint32Array(st.k * nChunks);
  for (let k = 0; k < st.k; k++) {
    for (let i = st.start[k]!; i < st.start[k + 1]!; i++) out[k * nChunks + Math.floor(st.offsets[i]! / (bkc * rs))]++;
  }
  return out;
}

/** Most nonzeros one block stages for one chunk: the shared memory the (value, offset) pairs need. */
export function nzCapOf(a: SlotAssignment, counts: Uint32Array, nChunks: number, kb: number): number {
  let cap = 0;
  for (let b = 0; b < a.chTiles; b++) {
    for (let q = 0; q < nChunks; q++) {
      let n = 0;
      for (let j = 0; j < kb; j++) {
        const k = a.slotChannel[b * kb + j]!;
        if (k >= 0) n += counts[k * nChunks + q]!;
      }
      cap = Math.max(cap, n);
    }
  }
  return cap;
}

export interface WsparseTables {
  readonly assignment: SlotAssignment;
  readonly nChunks: number;
  readonly kb: number;
  readonly seg: Uint32Array;
  readonly entries: Uint32Array;
  readonly nzCap: number;
}

/** The kernel's tables for a structure and tiles (see the header). */
export function wsparseTables(st: WeightStructure, t: { readonly tk: number; readonly warps: number; readonly bkc: number }): WsparseTables {
  const a = assignChannels(st, t.tk, t.warps);
  const kb = t.warps * t.tk;
  const rs = st.r * st.s;
  const nChunks = Math.ceil(st.c / t.bkc);
  const seg = new Uint32Array(a.chTiles * nChunks * kb + 1);
  const entries = new Uint32Array(st.offsets.length);
  let at = 0;
  let nzCap = 0;
  for (let b = 0; b < a.chTiles; b++) {
    // Per slot position: the next of its channel's nonzeros not yet placed.
    const next = new Uint32Array(kb);
    for (let j = 0; j < kb; j++) {
      const k = a.slotChannel[b * kb + j]!;
      next[j] = k >= 0 ? st.start[k]! : 0;
    }
    for (let q = 0; q < nChunks; q++) {
      const first = at;
      const end = (q + 1) * t.bkc * rs;
      for (let j = 0; j < kb; j++) {
        seg[(b * nChunks + q) * kb + j] = at;
        const k = a.slotChannel[b * kb + j]!;
        if (k < 0) continue;
        const stop = st.start[k + 1]!;
        let i = next[j]!;
        while (i < stop && st.offsets[i]! < end) entries[at++] = st.offsets[i++]!;
        next[j] = i;
      }
      nzCap = Math.max(nzCap, at - first);
    }
  }
  seg[seg.length - 1] = at;
  if (at !== st.offsets.length) throw new Error(`wsparse tables: placed ${at} of ${st.offsets.length} nonzeros`);
  return { assignment: a, nChunks, kb, seg, entries, nzCap };
}

/** Max over mean nonzeros per thread (per warp slot; every lane of a warp does its slot's work). */
export function balanceOf(a: Pick<SlotAssignment, 'slotMax' | 'nnz' | 'slots'>): number {
  return a.nnz === 0 ? 1 : a.slotMax / (a.nnz / a.slots);
}
