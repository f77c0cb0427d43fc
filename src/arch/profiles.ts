// GPU architecture profiles: the resources a kernel plan has to fit (per CUDA's occupancy rules)
// and the peaks a cost model divides by. One representative board per architecture; numbers
// from NVIDIA's architecture whitepapers and the CUDA programming guide's compute-capability table.

export const ARCH_NAMES = ['sm_70', 'sm_75', 'sm_80', 'sm_86', 'sm_89', 'sm_90'] as const;
export type ArchName = (typeof ARCH_NAMES)[number];

export interface GpuProfile {
  readonly arch: ArchName;
  /** Compute capability as an integer (70, 75, ...). */
  readonly sm: number;
  /** The board the figures describe. */
  readonly board: string;
  readonly smCount: number;
  /** Unified shared memory carve-out available per SM, bytes. */
  readonly sharedPerSm: number;
  /** Static shared memory limit per block without opting in, bytes. */
  readonly sharedPerBlock: number;
  /** Dynamic shared memory a block may request after cudaFuncSetAttribute, bytes. */
  readonly sharedPerBlockOptin: number;
  /** Shared memory the driver reserves per resident block (sm_80+), bytes. */
  readonly sharedReservedPerBlock: number;
  readonly regsPerSm: number;
  readonly maxRegsPerThread: number;
  /** Registers are allocated per warp in units of this many. */
  readonly regAllocUnit: number;
  readonly maxThreadsPerSm: number;
  readonly maxThreadsPerBlock: number;
  readonly maxBlocksPerSm: number;
  readonly warpSize: number;
  readonly l2Bytes: number;
  /** fp32 lanes per SM (FMA units) and the boost clock they run at; peak = SMs x lanes x 2 x clock. */
  readonly fp32LanesPerSm: number;
  readonly boostClockGhz: number;
  /** fp32 FMA peak at boost clock, TFLOP/s. */
  readonly fp32Tflops: number;
  /** DRAM bandwidth, GB/s. */
  readonly memBandwidthGBs: number;
  /** Sustained L2 read bandwidth, GB/s (microbenchmark figures, roughly 2-3x DRAM). */
  readonly l2BandwidthGBs: number;
  /** Typical cost of one kernel launch node in a CUDA graph, microseconds (for the cost model). */
  readonly launchUs: number;
}

const KB = 1024;
const MB = 1024 * KB;

const PROFILES: Record<ArchName, GpuProfile> = {
  sm_70: {
    arch: 'sm_70', sm: 70, board: 'Tesla V100-SXM2', smCount: 80,
    sharedPerSm: 96 * KB, sharedPerBlock: 48 * KB, sharedPerBlockOptin: 96 * KB, sharedReservedPerBlock: 0,
    regsPerSm: 65536, maxRegsPerThread: 255, regAllocUnit: 256,
    maxThreadsPerSm: 2048, maxThreadsPerBlock: 1024, maxBlocksPerSm: 32, warpSize: 32,
    l2Bytes: 6 * MB, fp32LanesPerSm: 64, boostClockGhz: 1.53, fp32Tflops: 15.7, memBandwidthGBs: 900, l2BandwidthGBs: 2500, launchUs: 3,
  },
  sm_75: {
    arch: 'sm_75', sm: 75, board: 'GeForce RTX 2080 Ti', smCount: 68,
    sharedPerSm: 64 * KB, sharedPerBlock: 48 * KB, sharedPerBlockOptin: 64 * KB, sharedReservedPerBlock: 0,
    regsPerSm: 65536, maxRegsPerThread: 255, regAllocUnit: 256,
    maxThreadsPerSm: 1024, maxThreadsPerBlock: 1024, maxBlocksPerSm: 16, warpSize: 32,
    l2Bytes: 5.5 * MB, fp32LanesPerSm: 64, boostClockGhz: 1.545, fp32Tflops: 13.4, memBandwidthGBs: 616, l2BandwidthGBs: 1900, launchUs: 3,
  },
  sm_80: {
    arch: 'sm_80', sm: 80, board: 'A100-SXM4-40GB', smCount: 108,
    sharedPerSm: 164 * KB, sharedPerBlock: 48 * KB, sharedPerBlockOptin: 163 * KB, sharedReservedPerBlock: 1 * KB,
    regsPerSm: 65536, maxRegsPerThread: 255, regAllocUnit: 256,
    maxThreadsPerSm: 2048, maxThreadsPerBlock: 1024, maxBlocksPerSm: 32, warpSize: 32,
    l2Bytes: 40 * MB, fp32LanesPerSm: 64, boostClockGhz: 1.41, fp32Tflops: 19.5, memBandwidthGBs: 1555, l2BandwidthGBs: 4800, launchUs: 2.5,
  },
  sm_86: {
    arch: 'sm_86', sm: 86, board: 'GeForce RTX 3090', smCount: 82,
    sharedPerSm: 100 * KB, sharedPerBlock: 48 * KB, sharedPerBlockOptin: 99 * KB, sharedReservedPerBlock: 1 * KB,
    regsPerSm: 65536, maxRegsPerThread: 255, regAllocUnit: 256,
    maxThreadsPerSm: 1536, maxThreadsPerBlock: 1024, maxBlocksPerSm: 16, warpSize: 32,
    l2Bytes: 6 * MB, fp32LanesPerSm: 128, boostClockGhz: 1.695, fp32Tflops: 35.6, memBandwidthGBs: 936, l2BandwidthGBs: 2200, launchUs: 2.5,
  },
  sm_89: {
    arch: 'sm_89', sm: 89, board: 'GeForce RTX 4090', smCount: 128,
    sharedPerSm: 100 * KB, sharedPerBlock: 48 * KB, sharedPerBlockOptin: 99 * KB, sharedReservedPerBlock: 1 * KB,
    regsPerSm: 65536, maxRegsPerThread: 255, regAllocUnit: 256,
    maxThreadsPerSm: 1536, maxThreadsPerBlock: 1024, maxBlocksPerSm: 24, warpSize: 32,
    l2Bytes: 72 * MB, fp32LanesPerSm: 128, boostClockGhz: 2.52, fp32Tflops: 82.6, memBandwidthGBs: 1008, l2BandwidthGBs: 5000, launchUs: 2.5,
  },
  sm_90: {
    arch: 'sm_90', sm: 90, board: 'H100 SXM5 80GB', smCount: 132,
    sharedPerSm: 228 * KB, sharedPerBlock: 48 * KB, sharedPerBlockOptin: 227 * KB, sharedReservedPerBlock: 1 * KB,
    regsPerSm: 65536, maxRegsPerThread: 255, regAllocUnit: 256,
    maxThreadsPerSm: 2048, maxThreadsPerBlock: 1024, maxBlocksPerSm: 32, warpSize: 32,
    l2Bytes: 50 * MB, fp32LanesPerSm: 128, boostClockGhz: 1.98, fp32Tflops: 66.9, memBandwidthGBs: 3352, l2BandwidthGBs: 7000, launchUs: 2,
  },
};

export function isArchName(name: string): name is ArchName {
  return (ARCH_NAMES as readonly string[]).includes(name);
}

export function gpuProfile(arch: string): GpuProfile {
  if (!isArchName(arch)) throw new Error(`unknown arch '${arch}' (known: ${ARCH_NAMES.join(', ')})`);
  return PROFILES[arch];
}

export interface Occupancy {
  readonly blocksPerSm: number;
  /** Resident warps / maximum warps per SM. */
  readonly fraction: number;
  /** Which resource bounds blocksPerSm. */
  readonly limitedBy: 'threads' | 'registers' | 'shared memory' | 'blocks';
}

/** CUDA occupancy calculator for one block shape (0 blocks when the block cannot launch at all). */
export function occupancy(p: GpuProfile, threads: number, regsPerThread: number, sharedBytes: number): Occupancy {
  const warps = Math.ceil(threads / p.warpSize);
  const regsPerWarp = Math.ceil((regsPerThread * p.warpSize) / p.regAllocUnit) * p.regAllocUnit;
  // Written without temporaries: the planner calls this for every tile candidate.
  let blocksPerSm = p.maxBlocksPerSm;
  let limitedBy: Occupancy['limitedBy'] = 'blocks';
  const byThreads = Math.floor(p.maxThreadsPerSm / (warps * p.warpSize));
  if (byThreads < blocksPerSm) { blocksPerSm = byThreads; limitedBy = 'threads'; }
  const byRegs = Math.floor(p.regsPerSm / (regsPerWarp * warps));
  if (byRegs < blocksPerSm) { blocksPerSm = byRegs; limitedBy = 'registers'; }
  const byShared = sharedBytes > p.sharedPerBlockOptin ? 0 : Math.floor(p.sharedPerSm / (sharedBytes + p.sharedReservedPerBlock));
  if (byShared < blocksPerSm) { blocksPerSm = byShared; limitedBy = 'shared memory'; }
  blocksPerSm = Math.max(0, blocksPerSm);
  return { blocksPerSm, fraction: (blocksPerSm * warps) / (p.maxThreadsPerSm / p.warpSize), limitedBy };
}
