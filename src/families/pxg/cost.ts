// Cost model of the pxg family: a latency chain, not issue slots. Per wave of blocks: the launch,
// one round of input loads, and one round of weight-row loads from L2 per UNROLL nonzero inputs of
// the busiest warp (a block waits for its slowest warp; its live pairs are taken as the mean plus
// two standard deviations of a binomial over the warp's slice). Fitted to the kernel lab on the H200
// with dependent launch (tools/kernel-lab/PREDICTIONS.md run 37, 8 copies per graph, warps16
// unroll8): 128x7x7 -> 32 at 5/10/15% nonzeros 2.43/2.61/2.94 us (model 2.40/2.68/2.92) and
// 128x14x14 -> 32 2.99/3.28/3.66 (2.95/3.23/3.48).
// The lab kernel gave each warp its own slice's list; since run 39 the warps share the pixel's list
// evenly, so the busiest warp's term now stands in for the spread between pixels (a block waits for
// its pixel, the kernel for the heaviest pixel: up to twice the mean on real activations). Not refitted:
// the benches of runs 39-42 (2.3-2.6 us on DenseNet-169's 7x7 convs at 88-95% zeros) lie within it.
import type { GpuProfile } from '../../arch/profiles.js';
import type { KernelEstimate } from '../../plan/types.js';
import { batch1Launch } from '../batch1-cost.js';
import { pxgLayout, pxgResources } from './resources.js';
import type { PxgKernelSpec } from './spec.js';

/** One group of UNROLL weight-row loads (L2 round trip) of the busiest warp. */
const GROUP_US = 0.44;
/** Per block resident on an SM beyond the lab's 49 blocks on 132 SMs: its share of L2 and scheduling. */
const BLOCKS_PER_SM_US = 0.5;
const BASE_BLOCKS_PER_SM = 49 / 132;
/** Each further output channel per lane adds a load and an FMA per nonzero (not measured: an assumption). */
const EXTRA_KPL_SHARE = 0.25;

export function pxgBusiestLive(spec: PxgKernelSpec, density: number): number {
  const { slice } = pxgLayout(spec);
  const d = Math.min(1, Math.max(0, density));
  return Math.min(slice, slice * d + 2 * Math.sqrt(slice * d * (1 - d)));
}

export function pxgUs(p: GpuProfile, spec: PxgKernelSpec, batch: number, density: number): KernelEstimate | null {
  const res = pxgResources(spec, batch);
  const l = batch1Launch(p, res);
  if (!l) return null;
  const { kpl } = pxgLayout(spec);
  const groups = pxgBusiestLive(spec, density) / spec.unroll;
  const perWave = Math.min(l.blocks, l.resident) / p.smCount;
  const waveUs = BLOCKS_PER_SM_US * (perWave - BASE_BLOCKS_PER_SM) + GROUP_US * groups * (1 + EXTRA_KPL_SHARE * (kpl - 1));
  return {
    us: p.launchUs + l.waves * Math.max(0, waveUs),
    blocks: l.blocks,
    blocksPerSm: l.occ.blocksPerSm,
    occupancy: l.occ.fraction,
    limitedBy: l.occ.limitedBy,
    waves: l.blocks / l.resident,
    bound: 'latency',
  };
}
