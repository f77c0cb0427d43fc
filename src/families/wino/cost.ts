// Cost model of the wino family, before any measurement (tools/kernel-lab/PREDICTIONS.md, run 63):
// the 16 multiplies per (channel, output channel, tile) of the block's chunks at a fraction of the
// FFMA issue rate, plus a launch, the transforms' share and a fixed epilogue. Only its ranking of the
// split candidates of one conv matters (the family has no rule: tune measures its space).
import type { GpuProfile } from '../../arch/profiles.js';
import type { KernelEstimate } from '../../plan/types.js';
import { batch1Launch } from '../batch1-cost.js';
import { winoLayout, winoResources } from './resources.js';
import { WINO_BC, type WinoKernelSpec } from './spec.js';

/** One thread's 512 FMAs a chunk (8 channels x 2 positions x 4 k x 8 tiles) at this many cycles each per warp on its scheduler (an assumption: ~45% of issue). */
const CYCLES_PER_FMA_PER_WARP = 2.2;
/** The chunk's transforms, loads and barrier on top of its FMAs (lab count: ~20%). */
const CHUNK_OVERHEAD = 1.2;
/** Epilogue (M through shared memory, the cluster's reduction, output transform) and pipeline fill. */
const FIXED_US = 2.5;

export function winoUs(p: GpuProfile, spec: WinoKernelSpec, batch: number): KernelEstimate | null {
  const res = winoResources(spec, batch);
  const l = batch1Launch(p, res);
  if (!l) return null;
  const { chunksPerSplit } = winoLayout(spec);
  const fmaPerThread = chunksPerSplit * WINO_BC * 2 * 4 * 8;
  // Warps per scheduler in the busiest SM: the blocks it holds (1 per SM when there are fewer blocks than SMs).
  const blocksPerSm = Math.min(l.occ.blocksPerSm, Math.ceil(l.blocks / p.smCount));
  const warpsPerScheduler = (blocksPerSm * res.threads) / 32 / 4;
  const waves = Math.ceil(l.blocks / l.resident);
  const computeUs = (waves * fmaPerThread * CYCLES_PER_FMA_PER_WARP * CHUNK_OVERHEAD * warpsPerScheduler) / (p.boostClockGhz * 1e3);
  return {
    us: p.launchUs + FIXED_US + computeUs,
    blocks: l.blocks,
    blocksPerSm: l.occ.blocksPerSm,
    occupancy: l.occ.fraction,
    limitedBy: l.occ.limitedBy,
    waves: l.blocks / l.resident,
    bound: 'issue',
  };
}
