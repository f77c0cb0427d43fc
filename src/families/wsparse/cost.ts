// Cost model of the wsparse family, driven by the nonzero counts. Per nonzero a warp issues 3
// shuffles (offset, reach, value from the lane that loaded them, one load per 32 nonzeros) and per
// pixel of its lanes an index add, a bounds check (none for a 1x1 without padding), a load and an
// FMA (a float4 load and 4 FMAs on the vectorized 1x1 path); the busiest block's warps walk
// ceil(rowMax / split) nonzeros each, in stages of ~8 independent loads whose L2 latency is the
// batch-1 skeleton's stage latency (src/families/batch1-cost.ts). L2 traffic: every nonzero of
// every block reads PPL 128-byte lines of input per warp and one 32-byte sector of its weight.
// Fitted to nothing yet: the first measurement of this design is the bench of 2026-12-02 (run 8).
import type { GpuProfile } from '../../arch/profiles.js';
import type { KernelEstimate } from '../../plan/types.js';
import { batch1Estimate, batch1Launch } from '../batch1-cost.js';
import { wsparseLayout, wsparseResources } from './resources.js';
import { wsparseVec4, type WsparseKernelSpec } from './spec.js';

const CYCLES_PER_INSTR_PER_WARP = 1.7;
/** Independent loads the unrolled loop keeps in flight: one stage of latency per this many nonzeros. */
const LOADS_IN_FLIGHT = 8;

/** Same figures as every family's estimate (src/plan/types.ts). */
export type WsparseEstimate = KernelEstimate;

/**
 * L2 traffic of a launch: every nonzero of every block reads PPL 128-byte lines of input per warp and one
 * 32-byte sector of its weight; the output is written once (tools/bench/model-error.mjs divides it by
 * measured times).
 */
export function wsparseL2Bytes(spec: WsparseKernelSpec, batch: number): number {
  const lay = wsparseLayout(spec);
  return batch * lay.pixTiles * spec.nnz * (spec.ppl * 128 + 32) + 4 * batch * spec.k * spec.ho * spec.wo;
}

/** The estimate; the input density does not change it (the weights' zeros do, through the spec). */
export function wsparseUs(p: GpuProfile, spec: WsparseKernelSpec, batch: number): WsparseEstimate | null {
  const res = wsparseResources(spec, batch);
  const l = batch1Launch(p, res);
  if (!l) return null;
  const vec = wsparseVec4(spec);
  const padded = spec.padTop > 0 || spec.padLeft > 0 || spec.r > 1 || spec.s > 1;
  const perPixel = vec ? 1.5 : padded ? 6 : 3;
  const perWarp = Math.ceil(spec.rowMax / spec.split);
  // Mean work per block: the cycles a scheduler spends; the busiest block sets the latency chain.
  const meanPerWarp = spec.nnz / Math.max(1, spec.k) / spec.split;
  const cycles = (meanPerWarp * (3 + perPixel * spec.ppl) + Math.ceil(meanPerWarp / 32) * 8 + 20 + (spec.split > 1 ? 4 * spec.ppl : 0)) * CYCLES_PER_INSTR_PER_WARP;
  // The busiest block's chain once, the mean block's in every further wave.
  const stages = Math.ceil(perWarp / LOADS_IN_FLIGHT) + (l.waves - 1) * Math.ceil(meanPerWarp / LOADS_IN_FLIGHT);
  const est = batch1Estimate(p, l, cycles, Math.max(1, stages) / l.waves, spec, batch);
  const l2Us = p.launchUs + wsparseL2Bytes(spec, batch) / (p.l2BandwidthGBs * 1e3);
  if (l2Us <= est.us) return est;
  return { ...est, us: l2Us, bound: 'memory' };
}
