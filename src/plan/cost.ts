// Cost models the planner compares. Both are coarse on purpose: they rank tile shapes and find
// the sparsity where our kernel overtakes cuDNN; measurement (the runtime's calibration and the
// bench) has the last word.
import { occupancy, type GpuProfile } from '../arch/profiles.js';
import { regsEstimate, sharedBytes, windowOf } from './act-sparse-resources.js';
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

// Instruction and latency constants of the act-sparse kernel (per warp, in issue slots / cycles),
// fitted to H100 timings of generated kernels at 75% zeros (64x56^2->64 .. 512x7^2->512, tile
// shapes with cs 1..16): the model lands within about 25% of those measurements.
const COMPACT_INSTR_PER_32 = 20; // index math, bounds tests, load, ballot, popc, two stores
const PER_NONZERO_INSTR = 10; // two shared loads, jump-table address, indexed branch, loop
const PER_WEIGHT_INSTR = 2; // address + load of each of the R*S weights of a channel
const CHUNK_LATENCY_CYCLES = 600; // global load round trip + two barriers per channel chunk
const NONZERO_LATENCY_CYCLES = 35; // shared load -> branch -> FMAs chain of one nonzero
const WEIGHT_LATENCY_CYCLES = 800; // a channel's R*S weight loads from L2 before its first FMA
/** Warp instructions an SM issues per cycle in practice (4 schedulers, dependencies and stalls). */
const ISSUE_PER_CYCLE = 1;
/** Ramp-up and tail of one kernel beyond the launch itself. */
const KERNEL_FIXED_US = 2;

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

// Figures of the last `actSparseCore` call. The tile search evaluates thousands of candidates
// per layer, so the core returns a number and leaves the details here instead of allocating.
const last = { blocks: 0, blocksPerSm: 0, occupancy: 0, limitedBy: '', waves: 0, bound: 'issue' as ActSparseEstimate['bound'] };

/** Estimated microseconds of one act-sparse kernel at input density `density`; Infinity if it cannot launch. */
export function actSparseCore(p: GpuProfile, spec: ActSparseKernelSpec, batch: number, density: number): number {
  const threads = spec.kb * spec.cs;
  if (threads > p.maxThreadsPerBlock) return Infinity;
  const occ = occupancy(p, threads, regsEstimate(spec), sharedBytes(spec));
  if (occ.blocksPerSm === 0) return Infinity;
  const [wh, ww] = windowOf(spec);
  const win = wh * ww;
  const warps = threads / p.warpSize;
  const chunks = Math.ceil(spec.c / spec.tc);
  const chanPerSlice = spec.tc / spec.cs;
  const compactPerWarp = Math.ceil(spec.tc / warps) * Math.ceil(win / 32) * COMPACT_INSTR_PER_32;
  const perChannel = spec.r * spec.s * PER_WEIGHT_INSTR + density * (win * PER_NONZERO_INSTR + spec.th * spec.tw * spec.r * spec.s);
  const epilogue = spec.th * spec.tw * (spec.cs > 1 ? 4 : 2);
  const instrPerWarp = chunks * (compactPerWarp + chanPerSlice * perChannel) + epilogue;
  const latencyPerBlock = chunks * (CHUNK_LATENCY_CYCLES + chanPerSlice * (WEIGHT_LATENCY_CYCLES + density * win * NONZERO_LATENCY_CYCLES));

  const blocks = Math.ceil(spec.ho / spec.th) * Math.ceil(spec.wo / spec.tw) * Math.ceil(spec.k / spec.kb) * batch;
  const perSm = Math.ceil(blocks / p.smCount);
  const resident = Math.min(occ.blocksPerSm, perSm);
  const waves = Math.ceil(perSm / resident);
  const issueCycles = (resident * warps * instrPerWarp) / ISSUE_PER_CYCLE;
  const waveCycles = Math.max(issueCycles, latencyPerBlock);
  const computeUs = (waves * waveCycles) / (p.boostClockGhz * 1e3);
  const bytes = 4 * batch * (spec.c * spec.h * spec.w + spec.k * spec.ho * spec.wo) + 4 * spec.c * spec.r * spec.s * spec.k;
  // Every spatial tile re-reads its K-group's whole C x R x S weights (and its halo window):
  // for deep layers with few pixels this L2 traffic, not the FMAs, sets the floor.
  const spatialTiles = Math.ceil(spec.ho / spec.th) * Math.ceil(spec.wo / spec.tw) * batch;
  const l2Bytes = 4 * spatialTiles * (spec.c * spec.r * spec.s * spec.k + spec.c * win * Math.ceil(spec.k / spec.kb));
  const memUs = Math.max(bytes / (p.memBandwidthGBs * 1e3), l2Bytes / (p.l2BandwidthGBs * 1e3));
  last.blocks = blocks;
  last.blocksPerSm = occ.blocksPerSm;
  last.occupancy = occ.fraction;
  last.limitedBy = occ.limitedBy;
  last.waves = blocks / (p.smCount * occ.blocksPerSm);
  last.bound = memUs > computeUs ? 'memory' : issueCycles >= latencyPerBlock ? 'issue' : 'latency';
  return p.launchUs + KERNEL_FIXED_US + Math.max(computeUs, memUs);
}

/** Estimated time of one act-sparse kernel at input density `density` (fraction of nonzeros), with its launch figures. */
export function actSparseUs(p: GpuProfile, spec: ActSparseKernelSpec, batch: number, density: number): ActSparseEstimate | null {
  const us = actSparseCore(p, spec, batch, density);
  return Number.isFinite(us) ? { us, ...last } : null;
}
