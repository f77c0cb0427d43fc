// What the cost models of the batch-1 families (igemm, dconv) share: how a launch lands on the
// GPU (occupancy, waves, warps per scheduler) and how a per-warp cycle count, the stages' latency
// and the DRAM floor become one estimate. Fitted to the kernel lab on an H200 (docs/PERFORMANCE.md):
// each family supplies only its cycles per warp.
import { occupancy, type GpuProfile } from '../arch/profiles.js';
import type { ConvProblem, KernelEstimate, KernelResources } from '../plan/types.js';

/** Pipeline fill, cluster barriers and the reduction/epilogue beyond the launch (lab: ~2 us). */
const FIXED_US = 2.0;
/** One stage's load-to-use latency when there is too little work to hide it. */
const STAGE_LATENCY_US = 0.35;

export interface Batch1Launch {
  readonly blocks: number;
  readonly waves: number;
  /** Warps sharing one of the SM's 4 schedulers in a wave (at least 1). */
  readonly warpsPerScheduler: number;
  readonly occ: ReturnType<typeof occupancy>;
  readonly resident: number;
}

/** The launch of a kernel with these resources, or null when a block cannot be resident. */
export function batch1Launch(p: GpuProfile, res: KernelResources): Batch1Launch | null {
  if (res.threads > p.maxThreadsPerBlock || res.sharedBytes > p.sharedPerBlockOptin) return null;
  const occ = occupancy(p, res.threads, res.regsEstimate, res.sharedBytes);
  if (occ.blocksPerSm === 0) return null;
  const blocks = res.grid[0] * res.grid[1] * res.grid[2];
  const resident = occ.blocksPerSm * p.smCount;
  const blocksPerSmWave = Math.min(occ.blocksPerSm, Math.ceil(blocks / p.smCount));
  return {
    blocks, occ, resident,
    waves: Math.ceil(blocks / resident),
    warpsPerScheduler: Math.max(1, (blocksPerSmWave * (res.threads / p.warpSize)) / 4),
  };
}

/**
 * One estimate from a launch: `cyclesPerWarp` of one warp's work on its scheduler (times the warps
 * sharing it, per wave), the stages' latency, and the DRAM floor of weights, input and output.
 */
export function batch1Estimate(p: GpuProfile, l: Batch1Launch, cyclesPerWarp: number, stages: number, q: ConvProblem, batch: number,
                               fractionalWaves = false): KernelEstimate {
  // fractionalWaves: past one wave the work counts in fractional waves (blocks start as others finish), for the
  // families whose fit says so (igemm's 1x1 tiles: src/families/igemm/cost.ts); else a partial last wave is whole.
  const waves = fractionalWaves ? Math.max(1, l.blocks / l.resident) : l.waves;
  const computeUs = (waves * cyclesPerWarp * l.warpsPerScheduler) / (p.boostClockGhz * 1e3);
  const latencyUs = l.waves * stages * STAGE_LATENCY_US;
  const bytes = 4 * (q.c * q.r * q.s * q.k + batch * (q.c * q.h * q.w + q.k * q.ho * q.wo));
  const memUs = bytes / (p.memBandwidthGBs * 1e3);
  const core = Math.max(computeUs, latencyUs, memUs);
  return {
    us: p.launchUs + FIXED_US + core,
    blocks: l.blocks,
    blocksPerSm: l.occ.blocksPerSm,
    occupancy: l.occ.fraction,
    limitedBy: l.occ.limitedBy,
    waves: l.blocks / l.resident,
    bound: core === memUs ? 'memory' : core === computeUs ? 'issue' : 'latency',
  };
}
