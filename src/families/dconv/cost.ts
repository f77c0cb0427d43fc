// Cost model of the dconv family: issue slots of the busiest scheduler. Per warp, channel and
// filter row: (TN-1)*SW+S shared loads of input values, S weight loads, a compare and branch per
// input value, and S*TM FMAs (fewer at the edges) for each nonzero one. The issue rate per warp is
// the igemm lab's (ncu: ~1.7 cycles per instruction per warp sharing a scheduler); launch and the
// cluster reduction are fixed costs.
import { occupancy, type GpuProfile } from '../../arch/profiles.js';
import type { KernelEstimate } from '../../plan/types.js';
import { dconvLayout, dconvRegsEstimate, dconvResources, dconvStages } from './resources.js';
import type { DconvKernelSpec } from './spec.js';

const CYCLES_PER_INSTR_PER_WARP = 1.7;
const FIXED_US = 2.0;
const STAGE_LATENCY_US = 0.35;

/** Same figures as every family's estimate (src/plan/types.ts). */
export type DconvEstimate = KernelEstimate;

export function dconvUs(p: GpuProfile, spec: DconvKernelSpec, batch: number, density: number): DconvEstimate | null {
  const l = dconvLayout(spec);
  if (l.threads > p.maxThreadsPerBlock || l.sharedBytes > p.sharedPerBlockOptin) return null;
  const occ = occupancy(p, l.threads, dconvRegsEstimate(spec), l.sharedBytes);
  if (occ.blocksPerSm === 0) return null;
  const res = dconvResources(spec, batch);
  const blocks = res.grid[0] * res.grid[1] * res.grid[2];
  const warpsPerBlock = l.threads / p.warpSize;
  const waves = Math.ceil(blocks / (occ.blocksPerSm * p.smCount));
  const blocksPerSmWave = Math.min(occ.blocksPerSm, Math.ceil(blocks / p.smCount));
  const warpsPerScheduler = Math.max(1, (blocksPerSmWave * warpsPerBlock) / 4);
  const xn = (spec.tn - 1) * spec.strideW + spec.s;
  // FMAs per nonzero input value: each window column feeds about TN*S/XN pixels of the segment.
  const fmaPerValue = (spec.tn * spec.s * spec.tm) / xn;
  // Divergence: with LN > 1 lanes of one warp read different values, a branch is skipped only when all are zero.
  const skip = l.ln === 1 ? 1 - density : Math.pow(1 - density, l.ln);
  const perRow = xn + spec.s * (spec.tm > 1 ? 1 : 1) + xn * (2 + (1 - skip) * fmaPerValue);
  const instrPerWarp = dconvStages(spec) * spec.bkc * spec.r * perRow;
  const computeUs = (waves * instrPerWarp * CYCLES_PER_INSTR_PER_WARP * warpsPerScheduler) / (p.boostClockGhz * 1e3);
  const latencyUs = waves * dconvStages(spec) * STAGE_LATENCY_US;
  const bytes = 4 * (spec.c * spec.r * spec.s * spec.k + batch * (spec.c * spec.h * spec.w + spec.k * spec.ho * spec.wo));
  const memUs = bytes / (p.memBandwidthGBs * 1e3);
  const core = Math.max(computeUs, latencyUs, memUs);
  return {
    us: p.launchUs + FIXED_US + core,
    blocks,
    blocksPerSm: occ.blocksPerSm,
    occupancy: occ.fraction,
    limitedBy: occ.limitedBy,
    waves: blocks / (occ.blocksPerSm * p.smCount),
    bound: core === memUs ? 'memory' : core === computeUs ? 'issue' : 'latency',
  };
}
