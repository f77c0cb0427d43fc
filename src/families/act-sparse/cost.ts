// Cost model of the act-sparse family: issue slots and the per-warp latency chain of the compact +
// scatter loop, DRAM and L2 traffic (every spatial tile re-reads its K-group's weights). Coarse on
// purpose: it ranks tile shapes and finds the sparsity where the kernel overtakes cuDNN
// (src/plan/cost.ts); measurement (calibration, tune, bench) has the last word.
import { occupancy, type GpuProfile } from '../../arch/profiles.js';
import type { KernelEstimate } from '../../plan/types.js';
import { regsEstimate, sharedBytes, windowOf } from './resources.js';
import type { ActSparseKernelSpec } from './spec.js';

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

/** Same figures as every family's estimate (src/plan/types.ts). */
export type ActSparseEstimate = KernelEstimate;

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
