// Cost models the planner compares. Both are coarse on purpose: they rank tile shapes and find
// the sparsity where our kernel overtakes cuDNN; measurement (the runtime's calibration and the
// bench) has the last word.
import { occupancy, type GpuProfile } from '../arch/profiles.js';
import { kernelResources, windowOf } from './act-sparse-resources.js';
import type { ActSparseKernelSpec } from './types.js';

export interface DenseConvProblem {
  readonly c: number;
  readonly k: number;
  readonly ho: number;
  readonly wo: number;
  readonly r: number;
  readonly s: number;
  readonly h: number;
  readonly w: number;
  readonly batch: number;
}

/**
 * cuDNN at small batch: a fixed cost plus the FLOPs at an efficiency that grows with the number
 * of output elements per SM (the parallelism implicit GEMM has without split-K). Fitted to the
 * H100 best-of-all-algorithms times in DESIGN.md section 2 (17..67 us for the ResNet 3x3 layers,
 * 13..29 us for DenseNet's 128->32) and scaled to other GPUs by their SM count and peak.
 */
export function cudnnConvUs(p: GpuProfile, q: DenseConvProblem): number {
  const macs = q.k * q.ho * q.wo * q.c * q.r * q.s * q.batch;
  const outPerSm = (q.k * q.ho * q.wo * q.batch) / p.smCount;
  const eff = Math.min(0.6, 0.49 * Math.pow(outPerSm / 1515, 0.85));
  const computeUs = (2 * macs) / (p.fp32Tflops * 1e6 * eff);
  const bytes = 4 * (q.c * q.h * q.w * q.batch + q.k * q.c * q.r * q.s + q.k * q.ho * q.wo * q.batch);
  const memUs = bytes / (p.memBandwidthGBs * 1e3);
  return 8 + p.launchUs + Math.max(computeUs, memUs);
}

// Instruction and latency constants of the act-sparse kernel (per warp, in issue slots / cycles).
const COMPACT_INSTR_PER_32 = 14; // index math, bounds test, load, ballot, popc, two stores
const PER_NONZERO_INSTR = 6; // two shared loads and the indexed branch of the switch
const PER_WEIGHT_INSTR = 2; // address + load of each of the R*S weights of a channel
const CHUNK_LATENCY_CYCLES = 600; // global load round trip + two barriers per channel chunk
const NONZERO_LATENCY_CYCLES = 35; // shared load -> branch -> FMAs chain of one nonzero

export interface ActSparseEstimate {
  readonly us: number;
  readonly blocks: number;
  readonly blocksPerSm: number;
  readonly occupancy: number;
  readonly limitedBy: string;
  readonly waves: number;
  /** What bounds the estimate: issue slots, the per-warp latency chain, or DRAM. */
  readonly bound: 'issue' | 'latency' | 'memory';
}

/** Estimated time of one act-sparse kernel at input density `density` (fraction of nonzeros). */
export function actSparseUs(p: GpuProfile, spec: ActSparseKernelSpec, batch: number, density: number): ActSparseEstimate | null {
  const res = kernelResources(spec, batch);
  const occ = occupancy(p, res.threads, res.regsEstimate, res.sharedBytes);
  if (occ.blocksPerSm === 0 || res.threads > p.maxThreadsPerBlock) return null;
  const [wh, ww] = windowOf(spec);
  const win = wh * ww;
  const warps = res.threads / p.warpSize;
  const chunks = Math.ceil(spec.c / spec.tc);
  const chanPerSlice = spec.tc / spec.cs;
  const compactPerWarp = Math.ceil(spec.tc / warps) * Math.ceil(win / 32) * COMPACT_INSTR_PER_32;
  const perChannel = spec.r * spec.s * PER_WEIGHT_INSTR + density * (win * PER_NONZERO_INSTR + spec.th * spec.tw * spec.r * spec.s);
  const epilogue = spec.th * spec.tw * (spec.cs > 1 ? 4 : 2);
  const instrPerWarp = chunks * (compactPerWarp + chanPerSlice * perChannel) + epilogue;
  const latencyPerBlock = chunks * (CHUNK_LATENCY_CYCLES + chanPerSlice * density * win * NONZERO_LATENCY_CYCLES);

  const blocks = res.grid[0] * res.grid[1] * res.grid[2];
  const perSm = Math.ceil(blocks / p.smCount);
  const resident = Math.min(occ.blocksPerSm, perSm);
  const waves = Math.ceil(perSm / resident);
  const issueCycles = (resident * warps * instrPerWarp) / 4;
  const waveCycles = Math.max(issueCycles, latencyPerBlock);
  const computeUs = (waves * waveCycles) / (p.boostClockGhz * 1e3);
  const bytes = 4 * batch * (spec.c * spec.h * spec.w + spec.k * spec.ho * spec.wo) + 4 * spec.c * spec.r * spec.s * spec.k;
  const memUs = bytes / (p.memBandwidthGBs * 1e3);
  const bound = memUs > computeUs ? 'memory' : issueCycles >= latencyPerBlock ? 'issue' : 'latency';
  return {
    us: p.launchUs + Math.max(computeUs, memUs),
    blocks,
    blocksPerSm: occ.blocksPerSm,
    occupancy: occ.fraction,
    limitedBy: occ.limitedBy,
    waves: blocks / (p.smCount * occ.blocksPerSm),
    bound,
  };
}
