// Cost model of the dconv family: issue slots of the busiest scheduler. Per warp, channel and
// filter row: (TN-1)*SW+S shared loads of input values, S weight loads, a compare and branch per
// input value, and S*TM FMAs (fewer at the edges) for each nonzero one. The issue rate per warp is
// the igemm lab's (ncu: ~1.7 cycles per instruction per warp sharing a scheduler); launch and the
// cluster reduction are fixed costs.
import type { GpuProfile } from '../../arch/profiles.js';
import type { KernelEstimate } from '../../plan/types.js';
import { batch1Estimate, batch1Launch } from '../batch1-cost.js';
import { dconvLayout, dconvResources, dconvStages } from './resources.js';
import type { DconvKernelSpec } from './spec.js';

const CYCLES_PER_INSTR_PER_WARP = 1.7;

/** Same figures as every family's estimate (src/plan/types.ts). */
export type DconvEstimate = KernelEstimate;

export function dconvUs(p: GpuProfile, spec: DconvKernelSpec, batch: number, density: number): DconvEstimate | null {
  const l = batch1Launch(p, dconvResources(spec, batch));
  if (!l) return null;
  const xn = (spec.tn - 1) * spec.strideW + spec.s;
  // FMAs per nonzero input value: each window column feeds about TN*S/XN pixels of the segment.
  const fmaPerValue = (spec.tn * spec.s * spec.tm) / xn;
  // Divergence: with LN > 1 lanes of one warp read different values, a branch is skipped only when all are zero.
  const ln = dconvLayout(spec).ln;
  const skip = ln === 1 ? 1 - density : Math.pow(1 - density, ln);
  // Per filter row: XN input loads, S weight loads, a compare + branch per input value, the FMAs of the nonzero ones.
  const perRow = xn + spec.s + xn * (2 + (1 - skip) * fmaPerValue);
  const instrPerWarp = dconvStages(spec) * spec.bkc * spec.r * perRow;
  return batch1Estimate(p, l, instrPerWarp * CYCLES_PER_INSTR_PER_WARP, dconvStages(spec), spec, batch);
}
