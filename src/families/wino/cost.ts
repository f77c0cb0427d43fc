// Cost model of the wino family, before any fit (tools/kernel-lab/PREDICTIONS.md, run 63): the 16
// multiplies per (channel, output channel, tile) of a block's chunks at a fraction of the FFMA issue
// rate, through the launch figures and estimate the batch-1 families share (src/families/batch1-cost.ts:
// waves, warps per scheduler, a chunk's latency, the DRAM floor). Only its ranking of one conv's splits
// matters: the rule picks the split from the grid, and tune measures the space.
import type { GpuProfile } from '../../arch/profiles.js';
import type { KernelEstimate } from '../../plan/types.js';
import { batch1Estimate, batch1Launch } from '../batch1-cost.js';
import { winoLayout, winoResources } from './resources.js';
import { winoWarps, type WinoKernelSpec } from './spec.js';

/** One thread's 512 FMAs a chunk (8 channels x 2 positions, or 16 x 1 with 16 warps, x 4 k x 8 tiles) at this many cycles each per warp on its scheduler (an assumption: ~45% of issue). */
const CYCLES_PER_FMA_PER_WARP = 2.2;
/** The chunk's transforms, loads and barrier on top of its FMAs (count from the template: ~20%). */
const CHUNK_OVERHEAD = 1.2;

export function winoUs(p: GpuProfile, spec: WinoKernelSpec, batch: number): KernelEstimate | null {
  const l = batch1Launch(p, winoResources(spec, batch));
  if (!l) return null;
  const { chunksPerSplit, bc } = winoLayout(spec);
  const positionsPerWarp = 16 / winoWarps(spec);
  const fmaPerThread = chunksPerSplit * bc * positionsPerWarp * 4 * 8;
  return batch1Estimate(p, l, fmaPerThread * CYCLES_PER_FMA_PER_WARP * CHUNK_OVERHEAD, chunksPerSplit, spec, batch);
}
