// The weight-sparse family ("wsparse"): one part — spec and name (here), the nonzero structure
// (structure.ts), the channel order and tables (schedule.ts), tiling rule (tiles.ts), resources,
// cost model and renderer (template templates/wsparse.cu.hbs), registered in
// src/families/registry.ts.
//
// A sparse-times-dense product over each output channel's nonzero weights only, designed for
// batch 1 (the first design, which staged dense input windows per block, measured 1.3-3.4x slower
// than cuDNN on pruned ResNet-50 on the H200: tools/kernel-lab/PREDICTIONS.md run 7). One block
// computes CPB output channels over a tile of 32 * PPL output pixels: each of a channel's SPLIT
// warps walks a contiguous share of its nonzero list, its 32 lanes along the pixels, reading the
// input straight from L1/L2 (the blocks resident together are other channels of the same pixel
// tile, so they share those input lines); the warps' partial sums are added in a fixed order. The
// offsets of the nonzeros are fixed at generation time (tables in the .cu), their values read at
// run time, packed in the tables' order by the runtime at load (registry kernelWeightOrder; folded
// batch norm stays exact).
// Any KxK, stride, padding, 1x1; any arch.
import { ARCH_NAMES, type ArchName } from '../../arch/profiles.js';
import { isCIdentifier, problemName } from '../../codegen/naming.js';
import type { ConvProblem } from '../../plan/types.js';
import { DIGEST_HEX } from './structure.js';

export interface WsparseKernelSpec extends ConvProblem {
  readonly family: 'wsparse';
  readonly arch: ArchName;
  /** Output pixels per lane (1, 2 or 4): a block's pixel tile is 32 * ppl pixels. */
  readonly ppl: number;
  /** Warps per output channel (1-8): each sums a contiguous share of the channel's nonzeros. */
  readonly split: number;
  /** Output channels per block (1-8; cpb * split <= 8 warps): consecutive in descending nonzero count. */
  readonly cpb: number;
  /** Digest of the layer's nonzero structure (structure.ts): the kernel's tables follow from it. */
  readonly patternDigest: string;
  /** Nonzero weights of the kernel. */
  readonly nnz: number;
  /** Nonzeros of the busiest output channel (its block's warps walk rowMax / split each). */
  readonly rowMax: number;
  /** Output channels with at least one nonzero (the others get their epilogue of 0). */
  readonly kActive: number;
}

/** Tile fields, with the structure figures they were derived with (stored with a measurement). */
export const WSPARSE_TILE_FIELDS = ['ppl', 'split', 'cpb', 'patternDigest', 'nnz', 'rowMax', 'kActive'] as const;
export type WsparseTiles = Pick<WsparseKernelSpec, (typeof WSPARSE_TILE_FIELDS)[number]>;
export type WsparseProblem = Omit<WsparseKernelSpec, keyof WsparseTiles | 'family'>;

export const WSPARSE_PPLS = [1, 2, 4] as const;
export const WSPARSE_SPLITS = [1, 2, 4, 8] as const;
/** The most filter taps (R * S) a kernel serves: each pixel keeps its in-bounds taps in one 64-bit mask. */
export const WSPARSE_MAX_TAPS = 64;
export const WSPARSE_CPBS = [1, 2, 4, 8] as const;
/** Warps per block at most (cpb * split). */
export const WSPARSE_MAX_WARPS = 8;

/** Plain loads, shuffles and FMAs: every arch the project knows. */
export function wsparseSupports(arch: ArchName): boolean {
  return ARCH_NAMES.includes(arch);
}

/**
 * 1x1, stride 1, no padding, whole float4s of pixels: each lane then reads and writes 4
 * consecutive pixels as one 16-byte access (the launcher checks the pointers' alignment at run
 * time and takes the scalar path otherwise).
 */
export function wsparseVec4(spec: Pick<WsparseKernelSpec, 'r' | 's' | 'strideH' | 'strideW' | 'padTop' | 'padLeft' | 'ho' | 'wo' | 'h' | 'w' | 'ppl'>): boolean {
  return spec.r === 1 && spec.s === 1 && spec.strideH === 1 && spec.strideW === 1 && spec.padTop === 0 && spec.padLeft === 0 &&
    spec.ho === spec.h && spec.wo === spec.w && (spec.ho * spec.wo) % 4 === 0 && spec.ppl === 4;
}

const DIGEST = new RegExp(`^[0-9a-f]{${DIGEST_HEX}}$`);

export function validateWsparseSpec(spec: WsparseKernelSpec): WsparseKernelSpec {
  const errors: string[] = [];
  if (spec.family !== 'wsparse') errors.push(`family must be 'wsparse', got '${String(spec.family)}'`);
  for (const f of ['c', 'h', 'w', 'k', 'r', 's', 'strideH', 'strideW', 'ho', 'wo', 'ppl', 'split', 'cpb'] as const) {
    if (!Number.isInteger(spec[f]) || spec[f] < 1) errors.push(`${f} must be a positive integer, got ${spec[f]}`);
  }
  for (const f of ['padTop', 'padLeft', 'nnz', 'rowMax', 'kActive'] as const) {
    if (!Number.isInteger(spec[f]) || spec[f] < 0) errors.push(`${f} must be a non-negative integer, got ${spec[f]}`);
  }
  if (typeof spec.patternDigest !== 'string' || !DIGEST.test(spec.patternDigest)) errors.push(`patternDigest must be ${DIGEST_HEX} hex digits, got '${String(spec.patternDigest)}'`);
  if (spec.r * spec.s > WSPARSE_MAX_TAPS) errors.push(`r * s must be at most ${WSPARSE_MAX_TAPS} taps (one 64-bit mask per pixel), got ${spec.r} x ${spec.s}`);
  if (errors.length === 0) {
    if (!wsparseSupports(spec.arch)) errors.push(`unknown arch ${spec.arch}`);
    if (!(WSPARSE_PPLS as readonly number[]).includes(spec.ppl)) errors.push(`ppl must be one of ${WSPARSE_PPLS.join(', ')}, got ${spec.ppl}`);
    if (!(WSPARSE_SPLITS as readonly number[]).includes(spec.split)) errors.push(`split must be one of ${WSPARSE_SPLITS.join(', ')}, got ${spec.split}`);
    if (!(WSPARSE_CPBS as readonly number[]).includes(spec.cpb)) errors.push(`cpb must be one of ${WSPARSE_CPBS.join(', ')}, got ${spec.cpb}`);
    if (spec.cpb * spec.split > WSPARSE_MAX_WARPS) errors.push(`cpb x split = ${spec.cpb * spec.split} warps: at most ${WSPARSE_MAX_WARPS}`);
    if (spec.kActive > spec.k) errors.push(`kActive ${spec.kActive} exceeds k ${spec.k}`);
    if (spec.nnz > spec.k * spec.c * spec.r * spec.s) errors.push(`nnz ${spec.nnz} exceeds the kernel's ${spec.k * spec.c * spec.r * spec.s} weights`);
    if (spec.rowMax > spec.c * spec.r * spec.s || spec.rowMax > spec.nnz) errors.push(`rowMax ${spec.rowMax} exceeds a channel's ${spec.c * spec.r * spec.s} weights or nnz ${spec.nnz}`);
    if ((spec.kActive === 0) !== (spec.nnz === 0)) errors.push(`kActive ${spec.kActive} and nnz ${spec.nnz} must both be 0 or both positive`);
    if (spec.k > 2147483647 || Math.ceil((spec.ho * spec.wo) / (32 * spec.ppl)) > 65535) errors.push('grid: at most 65535 pixel tiles');
  }
  if (errors.length > 0) throw new Error(`invalid wsparse spec: ${errors.join('; ')}`);
  return spec;
}

/** e.g. wsparse3x3_c512_h7_w7_k512_p2_cpb1_z8_d3f9a0c21be_bias_relu_sm90 (p: pixels per lane, cpb: channels per block, z: warps per channel, d: the pattern digest). */
export function wsparseName(spec: WsparseKernelSpec): string {
  validateWsparseSpec(spec);
  let name = problemName('wsparse', spec);
  name += `_p${spec.ppl}_cpb${spec.cpb}_z${spec.split}_d${spec.patternDigest}`;
  if (spec.bias) name += '_bias';
  if (spec.relu) name += '_relu';
  name += `_sm${spec.arch.slice(3)}`;
  if (!isCIdentifier(name)) throw new Error(`wsparse kernel name '${name}' is not a C identifier`);
  return name;
}
