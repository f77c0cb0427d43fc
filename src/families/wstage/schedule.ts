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
  const nnzOf = (k: number): number => st.start[k + 1]! - st.start[k]!;
  const order = dealOrder(st);
  // Min-heap of (load, slot): the least-loaded slot, ties by the lowest index.
  const load = new Float64Array(slots);
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
  const lists: number[][] = Array.from({ length: slots }, () => []);
  const nnzLoad = new Float64Array(slots);
  for (const k of order) {
    const s = heap[0]!;
    lists[s]!.push(k);
    load[s] = load[s]! + nnzOf(k) + CHANNEL_OVERHEAD;
    nnzLoad[s] = nnzLoad[s]! + nnzOf(k);
    down(0);
  }
  const slotStart = new Uint32Array(slots + 1);
  const slotCh = new Uint32Array(st.k);
  let at = 0;
  for (let s = 0; s < slots; s++) {
    slotStart[s] = at;
    for (const k of lists[s]!) slotCh[at++] = k;
  }
  slotStart[slots] = at;
  let slotMax = 0, loadMax = 0, total = 0;
  for (let s = 0; s < slots; s++) {
    slotMax = Math.max(slotMax, nnzLoad[s]!);
    loadMax = Math.max(loadMax, load[s]!);
    total += load[s]!;
  }
  return { slotStart, slotCh, slotMax, loadMax, loadMean: total / slots };
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

/**
 * Where each packed weight value comes from: entry e of the slot-ordered tables reads the folded
 * [K][C][R][S] weight at order[e] (the runtime gathers the kernel's weights once, at load).
 */
export function wstageWeightOrder(st: WeightStructure, slots: number): Uint32Array {
  const { entCrs, entK } = flatTables(st, wstageSchedule(st, slots));
  const crs = st.c * st.r * st.s;
  return Uint32Array.from(entCrs, (v, e) => entK[e]! * crs + v);
}
