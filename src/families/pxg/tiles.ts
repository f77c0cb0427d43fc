// Tiling rule of the pxg family (kernel lab on the H200, tools/kernel-lab/PREDICTIONS.md runs 36-37):
// - served only where it measured faster than dconv: a KxK conv (not 1x1) to at most 32 output
//   channels, at least PXG_MIN_ZEROS (60%) of input zeros, and at most one block (pixels x batch items)
//   per SM (the lab's uniform zeros had it faster on 14x14 too; real activations did not, runs 38-39);
//   the tile space (for tune) reaches two blocks per SM;
// - 16 warps, 8 weight rows in flight: the best at 85-90% zeros on both shapes (8 warps were 0.3-0.6
//   us slower, 4 warps 0.9-1.6; 32 warps slower again; two pixels per block *in sequence* 1.2-2.2 us
//   slower: the space's ppb 2 computes its two pixels at once, half the warps each, and is not yet measured);
//   from PXG_SPARSE_TILE_ZEROS (95%) 8 warps and 4 rows (run 48, real activations).
import type { GpuProfile } from '../../arch/profiles.js';
import type { KernelEstimate } from '../../plan/types.js';
import { pxgUs } from './cost.js';
import { pxgLayout, pxgRegsEstimate } from './resources.js';
import { PXG_UNROLLS, PXG_WARPS, type PxgKernelSpec, type PxgProblem } from './spec.js';

/**
 * Input zeros from which the rule serves a conv. The lab's ties with dconv lay at ~50% (uniform zeros);
 * on real activations (run 40, `tune --images`) pxg was the fastest candidate on every DenseNet-169 7x7
 * conv, those at 65-80% zeros included (2.9-3.6 us in the bench against dconv's 4.3). Was 0.8 until then.
 */
export const PXG_MIN_ZEROS = 0.6;
/** Output channels the rule serves at most (the lab measured 32; the template takes up to 128). */
export const PXG_RULE_MAX_K = 32;

export interface PxgChoice {
  readonly spec: PxgKernelSpec;
  readonly estimate: KernelEstimate;
  readonly why: string;
}

/** Where the family's kernels are worth measuring at all (shape and GPU only, any sparsity). */
export function pxgShapeServes(p: GpuProfile, problem: PxgProblem, batch: number): boolean {
  return problem.r * problem.s > 1 && problem.k <= PXG_RULE_MAX_K && problem.ho * problem.wo * batch <= 2 * p.smCount;
}

/**
 * Output pixels (x batch items) per SM up to which the space also offers a few tiles on large maps:
 * DenseNet's 128x56x56 -> 32 3x3 convs (3136 pixels) run dense igemm at 16.8 us against cuDNN's 29.2 (1.73x,
 * run 42) at 35-70% input zeros, short of the 2x target; skipping the zeros there is not yet measured.
 */
export const PXG_LARGE_MAP_PIXELS_PER_SM = 24;

/** The tiles the space also offers without dependent launch (warps, unroll): the rule's and run 40's tune picks. */
const PXG_NOPDL_TILES: readonly (readonly [number, number])[] = [[16, 8], [8, 16], [16, 4]];

/** The large-map tiles: fewer warps a pixel and two pixels a block, so that more blocks are resident (not yet measured). */
const LARGE_MAP_TILES: readonly { warps: number; unroll: number; ppb?: number }[] = [
  { warps: 8, unroll: 8 }, { warps: 8, unroll: 16 }, { warps: 16, unroll: 8 }, { warps: 16, unroll: 8, ppb: 2 }, { warps: 32, unroll: 8, ppb: 4 },
];

function fits(p: GpuProfile, spec: PxgKernelSpec): boolean {
  const l = pxgLayout(spec);
  // __launch_bounds__(threads) caps the registers at regsPerSm / threads: a tile estimated above it would spill.
  const regCap = Math.min(p.maxRegsPerThread, Math.floor(p.regsPerSm / l.threads / 8) * 8);
  return l.threads <= p.maxThreadsPerBlock && l.sharedBytes <= p.sharedPerBlockOptin && pxgRegsEstimate(spec) <= regCap;
}

/**
 * Blocks (pixels x batch items) per SM the rule serves at most: one wave. On DenseNet-169's 14x14 convs
 * (196 blocks on 132 SMs) pxg measured slower than dconv on real activations in runs 38-39 (median
 * 4.45-4.57 us against 4.10 at 75-86% zeros), on its 7x7 convs (49 blocks) faster (2.56 against 4.32).
 */
export const PXG_RULE_MAX_WAVES = 1;

/**
 * Input zeros from which the rule takes 8 warps and 4 weight rows in flight instead of 16 and 8. Run 48
 * (H100, `tune --images` on DenseNet-201's 24 conv5 3x3 convs at 96-99% zeros) measured 8 x 4 at 2.31 us
 * against 16 x 8's 2.66 (so 5.6x over cuDNN instead of 4.9x); at 90-95% (run 40, H200, DenseNet-169's 17
 * such convs) the two tied (2.51 us each), and below 90% 16 x 8 was 0.2-0.9 us faster on both boards.
 * With so few nonzeros a pixel, fewer warps means less to reduce and synchronize.
 */
export const PXG_SPARSE_TILE_ZEROS = 0.95;

export function choosePxgTiles(p: GpuProfile, problem: PxgProblem, batch: number, density: number): PxgChoice | null {
  if (!pxgShapeServes(p, problem, batch) || 1 - density < PXG_MIN_ZEROS) return null;
  if (problem.ho * problem.wo * batch > PXG_RULE_MAX_WAVES * p.smCount) return null;
  const sparse = 1 - density >= PXG_SPARSE_TILE_ZEROS;
  const spec: PxgKernelSpec = { family: 'pxg', ...problem, warps: sparse ? 8 : 16, unroll: sparse ? 4 : 8 };
  if (!fits(p, spec)) return null;
  const estimate = pxgUs(p, spec, batch, density);
  if (!estimate) return null;
  const why = `rule: one block per output pixel (${estimate.blocks} blocks for ${p.smCount} SMs), ${spec.warps} warps over its ${pxgLayout(spec).pairs} (channel, tap) pairs, ` +
    `only the nonzero inputs summed (${((1 - density) * 100).toFixed(0)}% zeros >= ${PXG_MIN_ZEROS * 100}%), ${spec.unroll} weight rows in flight` +
    (sparse ? ` (>= ${PXG_SPARSE_TILE_ZEROS * 100}% zeros: 8 x 4, measured in 13% less time than 16 x 8 there, run 48)` : '');
  return { spec, estimate, why };
}

/**
 * The family's tile space for measurement (`cusnn-gen tune`): every warps x unroll that fits; where one
 * block per pixel takes more than one wave, also two pixels per block (16 or 32 warps, 8 or 16 rows), so
 * that tune measures whether one wave of blocks with half the warps a pixel wins there (not yet measured).
 * On larger maps (up to PXG_LARGE_MAP_PIXELS_PER_SM pixels per SM) a few tiles only (LARGE_MAP_TILES).
 */
export function pxgCandidates(p: GpuProfile, problem: PxgProblem, batch: number): PxgKernelSpec[] {
  if (!pxgShapeServes(p, problem, batch)) {
    const large = problem.r * problem.s > 1 && problem.k <= PXG_RULE_MAX_K && problem.ho * problem.wo * batch <= PXG_LARGE_MAP_PIXELS_PER_SM * p.smCount;
    return large ? LARGE_MAP_TILES.map((t) => ({ family: 'pxg' as const, ...problem, ...t })).filter((spec) => fits(p, spec)) : [];
  }
  const out: PxgKernelSpec[] = [];
  for (const warps of PXG_WARPS) {
    for (const unroll of PXG_UNROLLS) {
      const spec: PxgKernelSpec = { family: 'pxg', ...problem, warps, unroll };
      if (fits(p, spec)) out.push(spec);
    }
  }
  // Without dependent launch, where the blocks fit one wave (sm_90+, where it exists): the rule's tile and run 40's
  // picks. DenseNet-201's 7x7 convs at 96-99% zeros ran 1.5 us slower in the bench chain than alone (run 43): a
  // copy whose blocks finish at once may lose to the handoff (docs/PERFORMANCE.md; not yet measured).
  if (Number(problem.arch.slice(3)) >= 90 && problem.ho * problem.wo * batch <= p.smCount) {
    for (const [warps, unroll] of PXG_NOPDL_TILES) {
      const spec: PxgKernelSpec = { family: 'pxg', ...problem, warps, unroll, pdl: false };
      if (fits(p, spec)) out.push(spec);
    }
  }
  if (problem.ho * problem.wo * batch > p.smCount) {
    for (const warps of [16, 32]) {
      for (const unroll of [8, 16]) {
        const spec: PxgKernelSpec = { family: 'pxg', ...problem, warps, unroll, ppb: 2 };
        if (fits(p, spec)) out.push(spec);
      }
    }
    // Two pixels a block in one wave (DenseNet's 14x14: 98 blocks), also without dependent launch.
    const plain: PxgKernelSpec = { family: 'pxg', ...problem, warps: 16, unroll: 8, ppb: 2, pdl: false };
    if (Number(problem.arch.slice(3)) >= 90 && Math.ceil((problem.ho * problem.wo) / 2) * batch <= p.smCount && fits(p, plain)) out.push(plain);
  }
  return out;
}
