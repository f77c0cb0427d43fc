// How a wstage kernel spreads a layer's output channels over its warps, and the tables it gets.
//
// The GROUPS x WARPS warp slots of a pixel tile each own a list of output channels; a block runs
// one group's WARPS slots over one pixel tile. Channels are dealt longest first (descending
// nonzero count plus a fixed cost for the epilogue, ties by index) to the least-loaded slot (ties:
// the lowest slot), the LPT rule: the busiest slot is at most the mean plus one channel. Channels
// without nonzeros are dealt too: their warp writes their epilogue of 0 (bias, ReLU).
//
// Tables (templates/wstage.cu.hbs):
//   slotStart[i]   first entry of slot i in slotCh; slotStart[i + 1] ends it (GROUPS * WARPS + 1);
//   slotCh[j]      the output channels, slot after slot, each slot's in the order dealt;
//   rowStart[k]    first nonzero of channel k (K + 1 entries), into
//   crs[e]         c*R*S + r*S + s of each nonzero, ascending within a channel (wsparse/structure.ts).
// Each output sums its channel's nonzeros in ascending offset: a fixed order, whatever the input.
import type { WeightStructure } from '../wsparse/structure.js';

/** Nonzero-equivalents a channel costs beyond its nonzeros (its epilogue and loop setup). */
export const CHANNEL_OVERHEAD = 6;

export interface WstageSchedule {
  readonly slotStart: Uint32Array;
  readonly slotCh: Uint32Array;
  /** Nonzeros of the busiest slot. */
  readonly slotMax: number;
  /** Output channels of the busiest slot (a chunked kernel keeps that many accumulators per pixel). */
  readonly slotChMax: number;
  /** Nonzeros plus channel overheads of the busiest slot, and the mean over slots. */
  readonly loadMax: number;
  readonly loadMean: number;
}

// The rule weighs tens of (rows, warps, groups) tiles per conv and many share a slot count; a
// pruned resnet152 spent 7 of its 18 s of generation recomputing equal schedules (node --cpu-prof,
// 2026-12-03). Structures are immutable once built, so each one's dealing order and schedules are
// kept for its lifetime; callers share the tables and must not write into them.
const orderCache = new WeakMap<WeightStructure, Int32Array>();
const scheduleCache = new WeakMap<WeightStructure, Map<number, WstageSchedule>>();

/** Output channels longest first (descending nonzero count, ties by index). */
function dealOrder(st: WeightStructure): Int32Array {
  let order = orderCache.get(st);
  if (!order) {
    const nnzOf = (k: number): number => st.start[k + 1]! - st.start[k]!;
    order = Int32Array.from(Array.from({ length: st.k }, (_, k) => k).sort((a, b) => nnzOf(b) - nnzOf(a) || a - b));
    orderCache.set(st, order);
  }
  return order;
}

export function wstageSchedule(st: WeightStructure, slots: number): WstageSchedule {
  if (!Number.isInteger(slots) || slots < 1 || slots > st.k) throw new Error(`wstage schedule: ${slots} slots for ${st.k} output channels (1..k)`);
  let bySlots = scheduleCache.get(st);
  if (!bySlots) { bySlots = new Map(); scheduleCache.set(st, bySlots); }
  const hit = bySlots.get(slots);
  if (hit) return hit;
  const made = computeSchedule(st, slots);
  bySlots.set(slots, made);
  return made;
}

function computeSchedule(st: WeightStructure, slots: number): WstageSchedule {
  const order = dealOrder(st);
  const K = order.length;
  // Min-heap of (load, slot): the least-loaded slot, ties by the lowest index. While some slot is
  // empty the least-loaded slot is the lowest empty one (every dealt channel adds at least
  // CHANNEL_OVERHEAD), so the first `slots` channels go to slots 0, 1, ... directly and the heap is
  // built (heapified) after them: the same deal as pushing every channel through the heap, without
  // its cost where slots ~ K (a pruned resnet152 spent 1.1 s in this function before).
  const load = new Float64Array(slots);
  const nnzLoad = new Float64Array(slots);
  const slotOf = new Int32Array(K);
  const count = new Int32Array(slots);
  const first = Math.min(slots, K);
  for (let i = 0; i < first; i++) {
    const k = order[i]!, n = st.start[k + 1]! - st.start[k]!;
    slotOf[i] = i;
    count[i] = 1;
    load[i] = n + CHANNEL_OVERHEAD;
    nnzLoad[i] = n;
  }
  if (K > slots) {
    const heap = Int32Array.from({ length: slots }, (_, i) => i);
    const less = (a: number, b: number): boolean => load[a]! < load[b]! || (load[a] === load[b] && a < b);
    const down = (i: number): void => {
      for (;;) {
        const l = 2 * i + 1, r = l + 1;
        let m = i;
        if (l < slots && less(heap[l]!, heap[m]!)) m = l;
        if (r < slots && less(heap[r]!, heap[m]!)) m = r;
        if (m === i) return;
        const t = heap[i]!; heap[i] = heap[m]!; heap[m] = t;
        i = m;
      }
    };
    for (let i = (slots >> 1) - 1; i >= 0; i--) down(i);
    for (let i = slots; i < K; i++) {
      const k = order[i]!, n = st.start[k + 1]! - st.start[k]!;
      const s = heap[0]!;
      slotOf[i] = s;
      count[s]!++;
      load[s] = load[s]! + n + CHANNEL_OVERHEAD;
      nnzLoad[s] = nnzLoad[s]! + n;
      down(0);
    }
  }
  // slotCh: slot after slot, each slot's channels in the order dealt (a counting sort of the deal).
  const slotStart = new Uint32Array(slots + 1);
  for (let s = 0; s < slots; s++) slotStart[s + 1] = slotStart[s]! + count[s]!;
  const fill = Uint32Array.from(slotStart.subarray(0, slots));
  const slotCh = new Uint32Array(K);
  for (let i = 0; i < K; i++) slotCh[fill[slotOf[i]!]!++] = order[i]!;
  let slotMax = 0, loadMax = 0, total = 0, slotChMax = 0;
  for (let s = 0; s < slots; s++) {
    slotMax = Math.max(slotMax, nnzLoad[s]!);
    slotChMax = Math.max(slotChMax, count[s]!);
    loadMax = Math.max(loadMax, load[s]!);
    total += load[s]!;
  }
  return { slotStart, slotCh, slotMax, slotChMax, loadMax, loadMean: total / slots };
}

/** The slot-ordered tables (see schedule.ts): per dealt channel its count, per slot its first nonzero, the nonzeros' offsets and channels. */
export function flatTables(st: WeightStructure, sched: Pick<WstageSchedule, 'slotStart' | 'slotCh'>): { chN: Uint32Array; entStart: Uint32Array; entCrs: Uint32Array; entK: Uint32Array } {
  const slots = sched.slotStart.length - 1;
  const chN = new Uint32Array(st.k);
  const entStart = new Uint32Array(slots + 1);
  const entCrs = new Uint32Array(st.offsets.length);
  const entK = new Uint32Array(st.offsets.length);
  let at = 0;
  for (let s = 0; s < slots; s++) {
    entStart[s] = at;
    for (let ci = sched.slotStart[s]!; ci < sched.slotStart[s + 1]!; ci++) {
      const k = sched.slotCh[ci]!;
      const a = st.start[k]!, b = st.start[k + 1]!;
      chN[ci] = b - a;
      for (let e = a; e < b; e++) { entCrs[at] = st.offsets[e]!; entK[at] = k; at++; }
    }
  }
  entStart[slots] = at;
  return { chN, entStart, entCrs, entK };
}

// Per structure and chunk size: each channel's nonzero count in each chunk ([k][chunks]).
const chunkCountCache = new WeakMap<WeightStructure, Map<number, Uint32Array>>();

function chunkCounts(st: WeightStructure, chunk: number): Uint32Array {
  let byChunk = chunkCountCache.get(st);
  if (!byChunk) { byChunk = new Map(); chunkCountCache.set(st, byChunk); }
  let counts = byChunk.get(chunk);
  if (!counts) {
    const chunks = Math.ceil(st.c / chunk), per = chunk * st.r * st.s;
    counts = new Uint32Array(st.k * chunks);
    for (let k = 0; k < st.k; k++) for (let e = st.start[k]!; e < st.start[k + 1]!; e++) counts[k * chunks + Math.floor(st.offsets[e]! / per)]!++;
    byChunk.set(chunk, counts);
  }
  return counts;
}

// Per structure: chunkMax by `${slots}/${chunk}` (the rule asks for the same pair once per tile
// height and round; uncached it was 3.2 of 11 s of a pruned resnet152's generation).
const chunkMaxCache = new WeakMap<WeightStructure, Map<string, number>>();

/** Nonzeros of the busiest (slot, chunk) pair of `slots` slots with input channels staged `chunk` at a time. */
export function wstageChunkMax(st: WeightStructure, slots: number, chunk: number): number {
  let byKey = chunkMaxCache.get(st);
  if (!byKey) { byKey = new Map(); chunkMaxCache.set(st, byKey); }
  const key = `${slots}/${chunk}`;
  const hit = byKey.get(key);
  if (hit !== undefined) return hit;
  const made = computeChunkMax(st, slots, chunk);
  byKey.set(key, made);
  return made;
}

function computeChunkMax(st: WeightStructure, slots: number, chunk: number): number {
  const sched = wstageSchedule(st, slots);
  const counts = chunkCounts(st, chunk);
  const chunks = Math.ceil(st.c / chunk);
  let max = 0;
  // Per slot, its channels' counts summed chunk by chunk (each channel's row of counts read in order).
  const acc = new Uint32Array(chunks);
  for (let s = 0; s < slots; s++) {
    acc.fill(0);
    for (let ci = sched.slotStart[s]!; ci < sched.slotStart[s + 1]!; ci++) {
      const row = sched.slotCh[ci]! * chunks;
      for (let q = 0; q < chunks; q++) acc[q]! += counts[row + q]!;
    }
    for (let q = 0; q < chunks; q++) if (acc[q]! > max) max = acc[q]!;
  }
  return max;
}

/**
 * The tables of a chunked kernel (input channels staged `chunk` at a time): entries ordered by
 * slot, then chunk (q: input channels q * chunk .. + chunk - 1), then the slot's channel j (its
 * position in slotCh, padded to chMax per slot), each run ascending in c*R*S + r*S + s. So every
 * output still sums its nonzeros in ascending offset (the chunks partition c in ascending order),
 * the order of the unchunked kernel.
 *   runStart[(slot * chunks + q) * chMax + j] .. runStart[... + 1]: the run of (slot, q, j);
 *   entCrs[e], entK[e]: the nonzero's c*R*S + r*S + s and output channel (the weight order).
 */
export function chunkTables(st: WeightStructure, sched: Pick<WstageSchedule, 'slotStart' | 'slotCh'>, chunk: number, chMax: number): { runStart: Uint32Array; entCrs: Uint32Array; entK: Uint32Array; chunks: number } {
  const slots = sched.slotStart.length - 1;
  const rs = st.r * st.s;
  const chunks = Math.ceil(st.c / chunk);
  const runStart = new Uint32Array(slots * chunks * chMax + 1);
  const entCrs = new Uint32Array(st.offsets.length);
  const entK = new Uint32Array(st.offsets.length);
  // Per dealt channel, its next nonzero not yet placed (each channel's nonzeros ascend, so the runs
  // of chunk q are the next ones below (q + 1) * chunk * R * S).
  const next = Uint32Array.from(st.start.subarray(0, st.k));
  let at = 0;
  for (let s = 0; s < slots; s++) {
    const a = sched.slotStart[s]!, b = sched.slotStart[s + 1]!;
    if (b - a > chMax) throw new Error(`wstage chunk tables: slot ${s} has ${b - a} channels, chMax ${chMax}`);
    for (let q = 0; q < chunks; q++) {
      const end = Math.min(st.c, (q + 1) * chunk) * rs;
      for (let j = 0; j < chMax; j++) {
        runStart[(s * chunks + q) * chMax + j] = at;
        if (a + j >= b) continue;
        const k = sched.slotCh[a + j]!;
        const stop = st.start[k + 1]!;
        for (let e = next[k]!; e < stop && st.offsets[e]! < end; e++) { entCrs[at] = st.offsets[e]!; entK[at] = k; at++; next[k] = e + 1; }
      }
    }
  }
  runStart[slots * chunks * chMax] = at;
  if (at !== st.offsets.length) throw new Error(`wstage chunk tables: placed ${at} of ${st.offsets.length} nonzeros`);
  return { runStart, entCrs, entK, chunks };
}

/**
 * Where each packed weight value comes from: entry e of the slot-ordered tables (or, with `chunk`,
 * the chunk-ordered ones) reads the folded [K][C][R][S] weight at order[e] (the runtime gathers the
 * kernel's weights once, at load).
 */
export function wstageWeightOrder(st: WeightStructure, slots: number, chunk?: number): Uint32Array {
  const sched = wstageSchedule(st, slots);
  const { entCrs, entK } = chunk === undefined ? flatTables(st, sched) : chunkTables(st, sched, chunk, sched.slotChMax);
  const crs = st.c * st.r * st.s;
  return Uint32Array.from(entCrs, (v, e) => entK[e]! * crs + v);
}
