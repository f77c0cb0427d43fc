// Cost model of the igemm family, fitted to the kernel lab on an H200 (tools/kernel-lab,
// docs/PERFORMANCE.md): a launch, a fixed pipeline fill + cluster reduction, and the per-stage FMA
// work of the busiest scheduler. ncu on 256x14x14->256 (split 16): 0.59 instructions issued per
// scheduler cycle, about half of them FFMA, 3.4 warps per scheduler; so one thread's FMA costs
// about 3.7 cycles per warp sharing its scheduler. Dense: the time does not depend on the zeros.
import type { GpuProfile } from '../../arch/profiles.js';
import type { KernelEstimate } from '../../plan/types.js';
import { batch1Estimate, batch1Launch } from '../batch1-cost.js';
import { igemmResources, igemmStages } from './resources.js';
import type { IgemmKernelSpec } from './spec.js';

const CYCLES_PER_FMA_PER_WARP = 3.7;
/**
 * The large-batch tiles (8 x tn accumulators): the batch lab (run 21) measured ~21 TFLOPS for the
 * best of them, about a third of the H200's FFMA issue rate, so ~3 cycles per FMA per warp (the
 * prediction had been 1.45, a register-tiled SIMT GEMM's usual ~70%). Refitted to 2.4 on ResNet-50's 1x1 convs
 * at batch 8 in the bench (run 83, H100: the estimates at 3.0 were ~1.25x the measured times); the batch-1 plans'
 * decisions and tiles did not change with it (docs/PERFORMANCE.md, "The heuristic at batch 8 and 32").
 */
const WIDE_CYCLES_PER_FMA_PER_WARP = 2.4;

/** Same figures as every family's estimate (src/plan/types.ts). */
export type IgemmEstimate = KernelEstimate;

export function igemmUs(p: GpuProfile, spec: IgemmKernelSpec, batch: number): IgemmEstimate | null {
  const l = batch1Launch(p, igemmResources(spec, batch));
  if (!l) return null;
  const stages = igemmStages(spec);
  const fmaPerThread = stages * spec.bkc * spec.r * spec.s * spec.tm * spec.tn;
  const perFma = spec.tm * spec.tn >= 32 ? WIDE_CYCLES_PER_FMA_PER_WARP : CYCLES_PER_FMA_PER_WARP;
  // 1x1 convs from batch 8: fractional waves past the first. With a whole last wave the batch-32 estimates were
  // 1.6-1.9x the measured times (run 81, ResNet-50's 1x1 convs). The 3x3 tiles keep whole waves (fractional ones
  // moved ResNet's 3x3 convs at batch 32 off their measured best), and so does batch 1, whose tiles the rule picks
  // by this model from lab and tune measurements made with it (fractional waves changed two of ResNet-50's, untimed).
  return batch1Estimate(p, l, fmaPerThread * perFma, stages, spec, batch, spec.r * spec.s === 1 && batch >= 8);
}
