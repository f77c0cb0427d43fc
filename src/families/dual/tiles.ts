// Tiling rule and tile space of the dual family.
//
// The rule serves no conv yet: the kernel has not run on a GPU (run 45 in
// tools/kernel-lab/PREDICTIONS.md is its written prediction), and its cost model is fitted to
// nothing, so the planner cannot weigh it against wsparse, wstage or pxg without a measurement.
// `cusnn-gen tune` times its space (below) on pruned layers beside the other families; a tune
// entry whose winner is a dual kernel puts it in the plan (the measured-decision flow, as for every
// family). Once measured, the rule follows from where it won.
//
// The space: warps {8, 16, 32} x entries in flight {4, 8}, on a conv whose weights the weight-sparse
// families serve (a known pattern, >= 50% zeros) and whose blocks (one per output pixel and batch
// item) are at most DUAL_MAX_BLOCKS_PER_SM per SM: a block computes all K output channels of its pixel,
// so large maps (56x56 and up) have no reason to use it.
import type { GpuProfile } from '../../arch/profiles.js';
import type { WeightStructure } from '../wsparse/structure.js';
import { dualUs } from './cost.js';
import { dualLayout, dualRegsEstimate } from './resources.js';
import { dualRows } from './rows.js';
import { DUAL_MAX_K, type DualKernelSpec, type DualProblem, type DualTiles } from './spec.js';

export const DUAL_WARPS = [8, 16, 32] as const;
export const DUAL_UNROLLS = [4, 8] as const;
/** Blocks (output pixels x batch items) per SM the space covers at most: ResNet-50's 28x28 (784 blocks) at batch 1. */
export const DUAL_MAX_BLOCKS_PER_SM = 6;

/** The structure must be the problem's kernel. */
function checkStructure(problem: Pick<DualProblem, 'k' | 'c' | 'r' | 's'>, st: WeightStructure): void {
  if (st.k !== problem.k || st.c !== problem.c || st.r !== problem.r || st.s !== problem.s) {
    throw new Error(`dual: weight structure ${st.k}x${st.c}x${st.r}x${st.s} is not the problem's kernel ${problem.k}x${problem.c}x${problem.r}x${problem.s}`);
  }
}

/** The spec of `tiles` on a structure: the derived fields (nnz, rowMax, rowsLive, digest) filled in. */
export function dualSpecFor(problem: DualProblem, st: WeightStructure, t: Pick<DualTiles, 'warps' | 'unroll'>): DualKernelSpec {
  checkStructure(problem, st);
  const rows = dualRows(st);
  return { family: 'dual', ...problem, warps: t.warps, unroll: t.unroll, patternDigest: st.digest, nnz: st.offsets.length, rowMax: rows.rowMax, rowsLive: rows.rowsLive };
}

/** Where the family's kernels are worth measuring at all (shape and GPU). */
export function dualShapeServes(p: GpuProfile, problem: DualProblem, batch: number): boolean {
  return problem.k <= DUAL_MAX_K && problem.ho * problem.wo * batch <= DUAL_MAX_BLOCKS_PER_SM * p.smCount;
}

export function dualFits(p: GpuProfile, spec: DualKernelSpec): boolean {
  const l = dualLayout(spec);
  // __launch_bounds__(threads) caps the registers at regsPerSm / threads: a tile estimated above it would spill.
  const regCap = Math.min(p.maxRegsPerThread, Math.floor(p.regsPerSm / l.threads / 8) * 8);
  return l.threads <= p.maxThreadsPerBlock && l.sharedBytes <= p.sharedPerBlockOptin && dualRegsEstimate(spec) <= regCap;
}

/** The family's tile space for measurement (`cusnn-gen tune`): every warps x unroll that fits this GPU. */
export function dualCandidates(p: GpuProfile, problem: DualProblem, batch: number, st: WeightStructure): DualKernelSpec[] {
  if (!dualShapeServes(p, problem, batch)) return [];
  const out: DualKernelSpec[] = [];
  for (const warps of DUAL_WARPS) {
    for (const unroll of DUAL_UNROLLS) {
      const spec = dualSpecFor(problem, st, { warps, unroll });
      if (dualFits(p, spec) && dualUs(p, spec, batch, 0.5)) out.push(spec);
    }
  }
  return out;
}
