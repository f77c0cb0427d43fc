// The planner's model of cuDNN, the path every generated kernel is weighed against (each kernel
// family's own cost model lives with the family: src/families/<name>/cost.ts). Coarse on purpose:
// it finds the sparsity where a generated kernel overtakes cuDNN; measurement (the runtime's
// calibration, tune and the bench) has the last word.
import type { GpuProfile } from '../arch/profiles.js';

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
 * The efficiency cuDNN's 1x1 convs reach at most. Fitted on ResNet-50's 15 distinct 1x1 shapes at batch 8 (run 83,
 * H100: 0.25-0.43 of the FFMA peak, median 0.34, where the 3x3 shapes reach 0.6); with the 3x3 cap of 0.6 the
 * model made cuDNN's 1x1 convs at batch 8 1.3-1.9x faster than measured, so the planner without a tune cache kept
 * them on cuDNN where igemm measured 1.1-1.7x faster (tools/bench/heuristic-decisions.py; docs/PERFORMANCE.md;
 * test/plan/cost-fit.test.ts).
 */
export const CUDNN_1X1_EFF_CAP = 0.35;

/**
 * cuDNN at small batch: a fixed cost plus the FLOPs at an efficiency that grows with the number
 * of output elements per SM (the parallelism implicit GEMM has without split-K). Fitted to the
 * H100 best-of-all-algorithms times in DESIGN.md section 2 (17..67 us for the ResNet 3x3 layers,
 * 13..29 us for DenseNet's 128->32) and scaled to other GPUs by their SM count and peak.
 */
export function cudnnConvUs(p: GpuProfile, q: DenseConvProblem): number {
  const macs = q.k * q.ho * q.wo * q.c * q.r * q.s * q.batch;
  const outPerSm = (q.k * q.ho * q.wo * q.batch) / p.smCount;
  const eff = Math.min(q.r * q.s === 1 ? CUDNN_1X1_EFF_CAP : 0.6, 0.49 * Math.pow(outPerSm / 1515, 0.85));
  const computeUs = (2 * macs) / (p.fp32Tflops * 1e6 * eff);
  const bytes = 4 * (q.c * q.h * q.w * q.batch + q.k * q.c * q.r * q.s + q.k * q.ho * q.wo * q.batch);
  const memUs = bytes / (p.memBandwidthGBs * 1e3);
  return 8 + p.launchUs + Math.max(computeUs, memUs);
}
