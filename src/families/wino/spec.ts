// The fused Winograd family ("wino"): one part — spec and name (here), resources, tile space, cost
// model and renderer (template templates/wino.cu.hbs), registered in src/families/registry.ts.
//
// For dense 3x3 stride-1 pad-1 convs at batch >= 8, where cuDNN's fastest fp32 algorithms
// (WINOGRAD_NONFUSED, IMPLICIT_PRECOMP_GEMM) hold ResNet-50's 3x3 convs at 52-72 us each and the
// generated direct tiles lose to them (docs/PERFORMANCE.md, "The next calls", item 5). Winograd
// F(2x2, 3x3): each 2x2 output tile from a 4x4 input patch with 16 multiplies per (channel, output
// channel) instead of 36, 2.25x fewer. One kernel does every step, so it needs no workspace and no
// new weight layout: a chunk of 8 input channels (16 with 16 warps) of a 32-tile x 32-output-channel block is
// transformed in the kernel (input B^T d B, filter G g G^T) into shared memory, double-buffered, and
// multiplied as 16 small GEMMs; the input channels are split over a cluster of `split` blocks whose
// partial sums meet in distributed shared memory before the output transform (A^T M A), bias and
// ReLU (at split 8 after each block's own transform: 4 values a pair instead of 16, runs 86-87). Deterministic: fixed summation order, no atomics. Dense: zeros are not skipped.
// Its rule (tiles.ts) serves batch 8 to 16 and the large batch-1 outputs, where runs 70 and 84 measured it
// ahead of the other families; `cusnn-gen tune` times its whole space against cuDNN and the other
// families at any batch.
import { ARCH_NAMES, type ArchName } from '../../arch/profiles.js';
import { problemName } from '../../codegen/naming.js';
import type { ConvProblem } from '../../plan/types.js';

export interface WinoKernelSpec extends ConvProblem {
  readonly family: 'wino';
  readonly arch: ArchName;
  /** Blocks of one cluster sharing the input channels (1: no cluster). */
  readonly split: number;
  /**
   * Warps a block (absent: 8). 16 warps take chunks of 16 input channels, one Winograd position a warp, 128 KB of
   * shared memory and one block a SM: twice the warps of the 8-warp kernel where the grid is under a wave (batch 1).
   */
  readonly warps?: 16;
}

export const WINO_TILE_FIELDS = ['split', 'warps'] as const;
export type WinoTiles = Pick<WinoKernelSpec, (typeof WINO_TILE_FIELDS)[number]>;
export type WinoProblem = Omit<WinoKernelSpec, keyof WinoTiles | 'family'>;

/** Output channels and output tiles (2x2 pixels) per block. */
export const WINO_BK = 32;
export const WINO_BT = 32;
/** The warps a block may have: a warp per input channel of a chunk (8 or 16 channels). */
export const WINO_WARPS = [8, 16] as const;

/** Warps a block (8 unless the spec says 16). */
export function winoWarps(spec: Pick<WinoKernelSpec, 'warps'>): number {
  return spec.warps ?? 8;
}
/** Input channels a chunk: one a warp (the load roles: warp = chunk channel, lane = tile and output channel). */
export function winoBc(spec: Pick<WinoKernelSpec, 'warps'>): number {
  return winoWarps(spec);
}
/** The splits the space offers (cluster sizes; 1 on any arch). */
export const WINO_SPLITS = [1, 2, 4, 8] as const;

/** The arches whose opt-in shared memory holds the 64 KB of the 8-warp kernel's double-buffered chunks (16 warps: 128 KB, where it fits). */
export function winoSupports(arch: ArchName): boolean {
  return ARCH_NAMES.includes(arch) && Number(arch.slice(3)) >= 70;
}

/** Clusters (split > 1) need sm_90. */
export function winoMaxSplit(arch: ArchName): number {
  return Number(arch.slice(3)) >= 90 ? 8 : 1;
}

/** Why the family cannot serve a problem, or null: 3x3, stride 1, 'same' padding of 1, the shape the transforms are built for. */
export function winoUnsupported(q: ConvProblem): string | null {
  if (q.r !== 3 || q.s !== 3) return `a ${q.r}x${q.s} filter (F(2x2,3x3) needs 3x3)`;
  if (q.strideH !== 1 || q.strideW !== 1) return `stride ${q.strideH}x${q.strideW} (needs 1x1)`;
  if (q.padTop !== 1 || q.padLeft !== 1) return `padding ${q.padTop}x${q.padLeft} (needs 1x1)`;
  if (q.ho !== q.h || q.wo !== q.w) return `output ${q.ho}x${q.wo} of input ${q.h}x${q.w} (needs the same size)`;
  return null;
}

export function validateWinoSpec(spec: WinoKernelSpec): WinoKernelSpec {
  const errors: string[] = [];
  if (spec.family !== 'wino') errors.push(`family must be 'wino', got '${String(spec.family)}'`);
  for (const f of ['c', 'h', 'w', 'k', 'r', 's', 'strideH', 'strideW', 'ho', 'wo', 'split'] as const) {
    if (!Number.isInteger(spec[f]) || spec[f] < 1) errors.push(`${f} must be a positive integer, got ${spec[f]}`);
  }
  if (spec.warps !== undefined && spec.warps !== 16) errors.push(`warps must be 16 or absent (8), got ${String(spec.warps)}`);
  if (errors.length === 0) {
    if (!winoSupports(spec.arch)) errors.push(`arch ${spec.arch} is not served (needs sm_70 or newer for 64 KB of shared memory a block)`);
    const why = winoUnsupported(spec);
    if (why) errors.push(`the problem has ${why}`);
    if (!(WINO_SPLITS as readonly number[]).includes(spec.split)) errors.push(`split must be one of ${WINO_SPLITS.join(', ')}, got ${spec.split}`);
    else if (spec.split > winoMaxSplit(spec.arch)) errors.push(`split ${spec.split} needs thread block clusters (at most ${winoMaxSplit(spec.arch)} on ${spec.arch})`);
    else if (spec.split > Math.ceil(spec.c / winoBc(spec))) errors.push(`split ${spec.split} exceeds the ${Math.ceil(spec.c / winoBc(spec))} chunks of ${winoBc(spec)} input channels`);
  }
  if (errors.length > 0) throw new Error(`invalid wino spec: ${errors.join('; ')}`);
  return spec;
}

/** e.g. wino2x3_c256_h14_w14_k256_s2_bias_relu_sm90, _s2_w16_ with 16 warps (F(2x2,3x3); the problem part without the "3x3" of problemName). */
export function winoName(spec: WinoKernelSpec): string {
  validateWinoSpec(spec);
  let name = problemName('wino', spec).replace(/^wino3x3/, 'wino2x3');
  name += `_s${spec.split}`;
  if (spec.warps !== undefined) name += `_w${spec.warps}`;
  if (spec.bias) name += '_bias';
  if (spec.relu) name += '_relu';
  return `${name}_sm${spec.arch.slice(3)}`;
}
