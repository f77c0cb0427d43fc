// Cost model of the igemm family, fitted to the kernel lab on an H200 (tools/kernel-lab,
// docs/PERFORMANCE.md): a launch, a fixed pipeline fill + cluster reduction, and the per-stage FMA
// work of the busiest scheduler. ncu on 256x14x14->256 (split 16): 0.59 instructions issued per
// scheduler cycle, about half of them FFMA, 3.4 warps per scheduler; so one thread's FMA costs
// about 3.7 cycles per warp sharing its scheduler. Dense: the time does not depend on the zeros.
import { occupancy, type GpuProfile } from '../../arch/profiles.js';
import type { KernelEstimate } from '../../plan/types.js';
import { igemmRegsEstimate, igemmResources, igemmSharedBytes, igemmStages, igemmThreads } from './resources.js';
import type { IgemmKernelSpec } from './spec.js';

const CYCLES_PER_FMA_PER_WARP = 3.7;
/** Pipeline fill, cluster barriers and the reduction/epilogue beyond the launch (lab: ~2 us). */
const FIXED_US = 2.0;
/** One stage's load-to-use latency when there is too little work to hide it. */
const STAGE_LATENCY_US = 0.35;

/** Same figures as every family's estimate (src/plan/types.ts). */
export type IgemmEstimate = KernelEstimate;

export function igemmUs(p: GpuProfile, spec: IgemmKernelSpec, batch: number): IgemmEstimate | null {
  const threads = igemmThreads(spec);
  if (threads > p.maxThreadsPerBlock || igemmSharedBytes(spec) > p.sharedPerBlockOptin) return null;
  const occ = occupancy(p, threads, igemmRegsEstimate(spec), igemmSharedBytes(spec));
  if (occ.blocksPerSm === 0) return null;
  const res = igemmResources(spec, batch);
  const blocks = res.grid[0] * res.grid[1] * res.grid[2];
  const warpsPerBlock = threads / p.warpSize;
  const resident = occ.blocksPerSm * p.smCount;
  const waves = Math.ceil(blocks / resident);
  const blocksPerSmWave = Math.min(occ.blocksPerSm, Math.ceil(blocks / p.smCount));
  const warpsPerScheduler = Math.max(1, (blocksPerSmWave * warpsPerBlock) / 4);
  const stages = igemmStages(spec);
  const fmaPerThread = stages * spec.bkc * spec.r * spec.s * spec.tm * spec.tn;
  const computeUs = (waves * fmaPerThread * CYCLES_PER_FMA_PER_WARP * warpsPerScheduler) / (p.boostClockGhz * 1e3);
  const latencyUs = waves * stages * STAGE_LATENCY_US;
  const bytes = 4 * (spec.c * spec.r * spec.s * spec.k + batch * (spec.c * spec.h * spec.w + spec.k * spec.ho * spec.wo));
  const memUs = bytes / (p.memBandwidthGBs * 1e3);
  const core = Math.max(computeUs, latencyUs, memUs);
  return {
    us: p.launchUs + FIXED_US + core,
    blocks,
    blocksPerSm: occ.blocksPerSm,
    occupancy: occ.fraction,
    limitedBy: occ.limitedBy,
    waves: blocks / resident,
    bound: core === memUs ? 'memory' : core === computeUs ? 'issue' : 'latency',
  };
}
