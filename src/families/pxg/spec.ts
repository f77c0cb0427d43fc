// The pixel-gather family ("pxg"): one part — spec and name (here), resources, tiling rule, cost
// model and renderer (template templates/pxg.cu.hbs), registered in src/families/registry.ts.
//
// For convs to few output channels (K <= 128) on small maps at very high input sparsity: DenseNet's
// 128x7x7 -> 32 and 128x14x14 -> 32 3x3 convs at >= 85% zeros, where dconv's staged pipeline takes
// 4.3 us whatever the zeros (its FMA chain alone is 1.4 us: tools/kernel-lab/PREDICTIONS.md run 35).
// One block per output pixel: its warps split the pixel's (channel, tap) pairs, compact the nonzero
// inputs with ballots into one block list, share it evenly (since run 39) and sum only those, lanes
// along the output channels, weight rows read from L2. Every zero element is skipped, not only zero
// tiles. Lab (H200, dependent launch, run 37): 2.61 us at 90% zeros on 128x7x7 -> 32 against dconv
// 4.32 and cuDNN 13.05; DenseNet-169's bench (run 40): 2.28-3.58 us on its 7x7 convs.
// Any KxK, stride, padding; any arch (plain loads, ballots and shuffles).
import { ARCH_NAMES, type ArchName } from '../../arch/profiles.js';
import { problemName } from '../../codegen/naming.js';
import type { ConvProblem } from '../../plan/types.js';

export interface PxgKernelSpec extends ConvProblem {
  readonly family: 'pxg';
  readonly arch: ArchName;
  /** Warps per block: each sums a contiguous slice of the pixel's C * R * S (channel, tap) pairs. */
  readonly warps: number;
  /** Weight rows (nonzero inputs) whose loads are in flight together per warp. */
  readonly unroll: number;
  /**
   * Output pixels a block computes at once (default 1), each by warps / ppb of its warps: fewer blocks
   * where one per pixel would take more than one wave (DenseNet's 14x14: 196 blocks on 132 SMs).
   */
  readonly ppb?: number;
  /**
   * false: launched without dependent launch on sm_90 (default: with it, as every sm_90 kernel). Offered to tune
   * where blocks finish almost at once (DenseNet-201's 7x7 convs at 96-99% zeros ran 1.5 us slower in the bench
   * chain than alone: docs/PERFORMANCE.md, run 43); not yet measured.
   */
  readonly pdl?: false;
}

export const PXG_TILE_FIELDS = ['warps', 'unroll', 'ppb', 'pdl'] as const;
export type PxgTiles = Pick<PxgKernelSpec, (typeof PXG_TILE_FIELDS)[number]>;
export type PxgProblem = Omit<PxgKernelSpec, keyof PxgTiles | 'family'>;

// The tile space `tune` measures (tiles.ts drops those whose registers would spill). 32 warps and 4 rows
// in flight were slower on the lab's uniform zeros (run 36) but are kept: on real activations a pixel's
// window holds up to twice the mean nonzeros, and run 40's tune picked 8 warps with 16 rows on most of
// DenseNet-169's 7x7 convs, so 32 rows follow.
export const PXG_WARPS = [8, 16, 32] as const;
export const PXG_UNROLLS = [4, 8, 16, 32] as const;
/** Output channels a block serves at most: 4 per lane. */
export const PXG_MAX_K = 128;

export function pxgSupports(arch: ArchName): boolean {
  return ARCH_NAMES.includes(arch);
}

export function validatePxgSpec(spec: PxgKernelSpec): PxgKernelSpec {
  const errors: string[] = [];
  if (spec.family !== 'pxg') errors.push(`family must be 'pxg', got '${String(spec.family)}'`);
  for (const f of ['c', 'h', 'w', 'k', 'r', 's', 'strideH', 'strideW', 'ho', 'wo', 'warps', 'unroll'] as const) {
    if (!Number.isInteger(spec[f]) || spec[f] < 1) errors.push(`${f} must be a positive integer, got ${spec[f]}`);
  }
  for (const f of ['padTop', 'padLeft'] as const) {
    if (!Number.isInteger(spec[f]) || spec[f] < 0) errors.push(`${f} must be a non-negative integer, got ${spec[f]}`);
  }
  if (errors.length === 0) {
    if (!pxgSupports(spec.arch)) errors.push(`unknown arch ${spec.arch}`);
    if (spec.k > PXG_MAX_K) errors.push(`k must be at most ${PXG_MAX_K} (4 output channels per lane), got ${spec.k}`);
    if (spec.warps > 32) errors.push(`warps must be at most 32, got ${spec.warps}`);
    if (spec.unroll > 32) errors.push(`unroll must be at most 32, got ${spec.unroll}`);
    const ppb = spec.ppb ?? 1;
    if (!Number.isInteger(ppb) || ppb < 1 || ppb > 4) errors.push(`ppb must be 1..4, got ${ppb}`);
    else if (spec.warps % ppb !== 0) errors.push(`warps (${spec.warps}) must be a multiple of ppb (${ppb})`);
    if (spec.pdl !== undefined && spec.pdl !== false) errors.push(`pdl must be false or absent, got ${String(spec.pdl)}`);
  }
  if (errors.length > 0) throw new Error(`invalid pxg spec: ${errors.join('; ')}`);
  return spec;
}

/** e.g. pxg3x3_c128_h7_w7_k32_w16_u8_bias_relu_sm90. */
export function pxgName(spec: PxgKernelSpec): string {
  validatePxgSpec(spec);
  let name = problemName('pxg', spec);
  name += `_w${spec.warps}_u${spec.unroll}`;
  if ((spec.ppb ?? 1) > 1) name += `_p${spec.ppb}`;
  if (spec.pdl === false) name += '_nopdl';
  if (spec.bias) name += '_bias';
  if (spec.relu) name += '_relu';
  return `${name}_sm${spec.arch.slice(3)}`;
}
