// The implicit-GEMM split-K family ("igemm"): the batch-1 convolution core. One part in one place:
// its spec and name (here), resources (resources.ts), tiling rule (tiles.ts), cost model (cost.ts)
// and renderer (render.ts, template templates/igemm.cu.hbs); src/families/registry.ts registers it
// with the planner.
//
// GEMM view: M = K output channels, N = batch * HO * WO output pixels, reduction = C * R * S in the
// row order of the [C][R][S][K] weights. At batch 1 these problems are far too small to fill 132
// SMs with output tiles alone, so the input channels are split over SPLIT blocks of one thread
// block cluster that reduce their partial tiles through distributed shared memory in a fixed order
// (deterministic, one kernel, no atomics). Weights arrive as 16-byte cp.async copies.
import { createHash } from 'node:crypto';
import type { ArchName } from '../../arch/profiles.js';
import { problemName } from '../../codegen/naming.js';
import type { ConvProblem } from '../../plan/types.js';

export interface IgemmKernelSpec extends ConvProblem {
  readonly family: 'igemm';
  readonly arch: ArchName;
  // Tiles.
  /** Output channels and output pixels per block. */
  readonly bm: number;
  readonly bn: number;
  /** Input channels per pipeline stage (bkc * r * s reduction rows). */
  readonly bkc: number;
  /** Accumulators per thread: tm output channels x tn pixels. */
  readonly tm: number;
  readonly tn: number;
  /** Lanes of a warp along M (the rest, 32 / warpM, along N). */
  readonly warpM: number;
  /** Blocks of one cluster sharing the input channels (1: no cluster). */
  readonly split: number;
  /** cp.async pipeline depth. */
  readonly stages: number;
  /**
   * 4: the input tile arrives as 16-byte copies of 4 pixels and the epilogue stores 4 pixels at once
   * (1x1, stride 1, no padding, HO * WO a multiple of 4, tn a multiple of 4; the large-batch tiles).
   * Absent: 4-byte copies (the batch-1 kernels, unchanged).
   */
  readonly vec?: 4;
  /**
   * Whole-filter pruning as a smaller dense conv (issue 10): the output channels whose filters the
   * kernel computes, ascending, a multiple of 4 of them and fewer than k; every other channel's filter
   * is all zero in the layer's weights, and the kernel writes act(bias) there. The kernel reads the
   * kept filters' weights only ([C][R][S][kept.length], igemmKeptOrder). Absent: every filter.
   */
  readonly kept?: readonly number[];
  /**
   * The epilogue adds a residual tensor of the output's shape (a ResNet shortcut) after the bias and
   * before the ReLU: y = act(conv + bias + res), so the add step after the conv goes away (the
   * planner fuses it, src/plan/residual.ts). The launcher then takes the residual's pointer and batch
   * stride (cusnn_launcher_res, src/codegen/emit.ts). Absent: no residual.
   */
  readonly residual?: true;
}

// `kept` is part of the tiles: a measured or tuned kernel with kept filters is that kernel only for weights with
// the same zero filters (the planner checks them), and re-emitting it from its tiles must keep them.
export type IgemmTiles = Pick<IgemmKernelSpec, 'bm' | 'bn' | 'bkc' | 'tm' | 'tn' | 'warpM' | 'split' | 'stages' | 'vec' | 'kept'>;
export type IgemmProblem = Omit<IgemmKernelSpec, keyof IgemmTiles | 'family'>;

export const IGEMM_TILE_FIELDS = ['bm', 'bn', 'bkc', 'tm', 'tn', 'warpM', 'split', 'stages', 'vec', 'kept'] as const;

type Geometry = Pick<IgemmKernelSpec, 'r' | 's' | 'strideH' | 'strideW' | 'padTop' | 'padLeft' | 'h' | 'w' | 'ho' | 'wo'>;

/** A 1x1, stride-1, unpadded conv: output pixel q reads input pixel q of every channel. */
export function igemmPointwise(q: Geometry): boolean {
  return q.r === 1 && q.s === 1 && q.strideH === 1 && q.strideW === 1 && q.padTop === 0 && q.padLeft === 0 && q.ho === q.h && q.wo === q.w;
}

/** Whether a problem can take 16-byte pixel copies (vec 4): a pointwise conv on HO * WO % 4 == 0. */
export function igemmVecFits(q: Geometry): boolean {
  return igemmPointwise(q) && (q.ho * q.wo) % 4 === 0;
}

/** The architectures the family is generated for: cp.async needs sm_80; split > 1 needs clusters (sm_90). */
export function igemmSupports(arch: ArchName): boolean {
  return Number(arch.slice(3)) >= 80;
}
export function maxSplit(arch: ArchName): number {
  return Number(arch.slice(3)) >= 90 ? 16 : 1;
}

/** The GEMM's M: the filters the kernel computes (the kept ones, else all K). */
export const igemmRows = (spec: Pick<IgemmKernelSpec, 'k' | 'kept'>): number => spec.kept?.length ?? spec.k;

/**
 * Floats of act(bias) one block writes at most on the pruned channels of its pixel tile, a kept-filter
 * kernel's writer tiles past that. 2048 (8 KB, 2 float4 stores a thread of 256) keeps a writer block short; run
 * 30 measured blocks writing 7-15K floats each on 49-52 blocks as the slowest kept kernels (11-13.5 us).
 */
export const PRUNED_FLOATS_PER_BLOCK = 2048;

/**
 * Writer tiles of a kept-filter kernel: grid rows past the GEMM's channel tiles whose blocks only write
 * act(bias) on the pruned channels, so that the blocks of a pixel tile (GEMM and writers, over every split rank)
 * write at most PRUNED_FLOATS_PER_BLOCK each. 0 without kept filters, or when the GEMM blocks are enough.
 */
export function igemmWriterTiles(spec: Pick<IgemmKernelSpec, 'k' | 'kept' | 'bm' | 'bn' | 'split'>): number {
  if (!spec.kept) return 0;
  const shares = Math.ceil(((spec.k - spec.kept.length) * spec.bn) / PRUNED_FLOATS_PER_BLOCK);
  return Math.max(0, Math.ceil(shares / spec.split) - Math.ceil(spec.kept.length / spec.bm));
}

/** Hex digits of the kept-channel digest in a kernel's name (two layers with other kept channels get other kernels). */
export const KEPT_DIGEST_HEX = 10;

export function keptDigest(kept: readonly number[]): string {
  return createHash('sha256').update(`igemm-kept/1 ${kept.join(',')}`).digest('hex').slice(0, KEPT_DIGEST_HEX);
}

/**
 * The kept channels for a layer whose zero filters are `zeroFilter` (per output channel): the
 * nonzero filters, plus the lowest zero ones until the count is a multiple of 4 (16-byte weight
 * copies; a zero filter computed gives act(bias), as if skipped). Null when nothing would be skipped.
 */
export function keptChannels(zeroFilter: readonly boolean[]): number[] | null {
  const kept = zeroFilter.flatMap((z, k) => (z ? [] : [k]));
  const zeros = zeroFilter.flatMap((z, k) => (z ? [k] : []));
  while (kept.length % 4 !== 0 && zeros.length > 0) kept.push(zeros.shift()!);
  kept.sort((a, b) => a - b);
  return kept.length > 0 && kept.length < zeroFilter.length && kept.length % 4 === 0 ? kept : null;
}

/**
 * The kept channels of a layer with K filters from its weight structure's row starts (filter k is all
 * zero where start[k] == start[k + 1]); null without a structure of K rows or without filters to skip.
 */
export function keptFromStructure(start: Uint32Array | undefined, k: number): number[] | null {
  return start && start.length === k + 1 ? keptChannels(Array.from({ length: k }, (_, i) => start[i + 1] === start[i])) : null;
}

/**
 * The kernel's weights as indices into the layer's [K][C][R][S] weights: [C][R][S][kept] (the
 * [C][R][S][K] layout of the kept columns), null without `kept` (the dense [C][R][S][K] layout).
 */
export function igemmKeptOrder(spec: Pick<IgemmKernelSpec, 'c' | 'r' | 's' | 'kept'>): Uint32Array | null {
  if (!spec.kept) return null;
  const crs = spec.c * spec.r * spec.s;
  const ka = spec.kept.length;
  const order = new Uint32Array(crs * ka);
  for (let i = 0; i < crs; i++) for (let j = 0; j < ka; j++) order[i * ka + j] = spec.kept[j]! * crs + i;
  return order;
}

/** Throws with every reason the spec cannot be rendered; returns it otherwise. */
export function validateIgemmSpec(spec: IgemmKernelSpec): IgemmKernelSpec {
  const errors: string[] = [];
  if (spec.family !== 'igemm') errors.push(`family must be 'igemm', got '${String(spec.family)}'`);
  for (const f of ['c', 'h', 'w', 'k', 'r', 's', 'strideH', 'strideW', 'ho', 'wo', ...IGEMM_TILE_FIELDS.filter((x) => x !== 'vec' && x !== 'kept')] as const) {
    if (!Number.isInteger(spec[f]) || spec[f] < 1) errors.push(`${f} must be a positive integer, got ${spec[f]}`);
  }
  for (const f of ['padTop', 'padLeft'] as const) {
    if (!Number.isInteger(spec[f]) || spec[f] < 0) errors.push(`${f} must be a non-negative integer, got ${spec[f]}`);
  }
  if (errors.length === 0) {
    if (!igemmSupports(spec.arch)) errors.push(`${spec.arch} has no cp.async (the family needs sm_80 or newer)`);
    if (spec.split > maxSplit(spec.arch)) errors.push(`split ${spec.split} needs thread block clusters of that size (at most ${maxSplit(spec.arch)} on ${spec.arch})`);
    if (32 % spec.warpM !== 0) errors.push(`warpM (${spec.warpM}) must divide 32`);
    const wtm = spec.warpM * spec.tm;
    const wtn = (32 / spec.warpM) * spec.tn;
    if (spec.bm % wtm !== 0) errors.push(`bm (${spec.bm}) must be a multiple of the warp tile's ${wtm} channels`);
    if (spec.bn % wtn !== 0) errors.push(`bn (${spec.bn}) must be a multiple of the warp tile's ${wtn} pixels`);
    if (spec.tm % 4 !== 0 || spec.k % 4 !== 0) errors.push(`tm (${spec.tm}) and k (${spec.k}) must be multiples of 4 (16-byte weight copies)`);
    if (![1, 2, 4, 8].includes(spec.tn)) errors.push(`tn must be 1, 2, 4 or 8, got ${spec.tn}`);
    if (spec.vec !== undefined) {
      if (spec.vec !== 4) errors.push(`vec must be 4 or absent, got ${String(spec.vec)}`);
      else if (!igemmVecFits(spec)) errors.push('vec 4 needs a 1x1, stride-1, unpadded conv with HO * WO a multiple of 4');
      else if (spec.tn % 4 !== 0 || (spec.bn / 4) > 32 || 32 % (spec.bn / 4) !== 0) errors.push(`vec 4 needs tn a multiple of 4 and bn / 4 dividing 32 (tn ${spec.tn}, bn ${spec.bn})`);
    }
    if (spec.stages < 2) errors.push(`stages must be >= 2, got ${spec.stages}`);
    if (spec.residual !== undefined && spec.residual !== true) errors.push(`residual must be true or absent, got ${String(spec.residual)}`);
    if (spec.residual && spec.kept) errors.push('residual with kept filters is not generated (the pruned channels would need the residual too)');
    if (spec.kept !== undefined) {
      const kept = spec.kept;
      if (!Array.isArray(kept) || kept.length === 0 || kept.length % 4 !== 0 || kept.length >= spec.k) {
        errors.push(`kept must list a positive multiple of 4 output channels, fewer than k (${spec.k}), got ${Array.isArray(kept) ? kept.length : String(kept)}`);
      } else if (kept.some((x, i) => !Number.isInteger(x) || x < 0 || x >= spec.k || (i > 0 && x <= kept[i - 1]!))) {
        errors.push(`kept must be ascending distinct output channels in [0, ${spec.k})`);
      }
    }
  }
  if (errors.length > 0) throw new Error(`invalid igemm spec: ${errors.join('; ')}`);
  return spec;
}


/**
 * Deterministic name: igemm<R>x<S>[_s..][_p..]_c_h_w_k[_o..]_bm<BM>_bn<BN>_bkc<BKC>_t<TM>x<TN>_wm<WARP_M>
 * _z<SPLIT>_st<STAGES>[_v4][_kept<N>_d<DIGEST>[_wt<WRITER_TILES>]][_bias][_res][_relu]_sm<NN>, e.g. igemm3x3_c512_h7_w7_k512_bm32_bn64_bkc4_t4x4_wm8_z16_st3_bias_relu_sm90.
 */
export function igemmName(spec: IgemmKernelSpec): string {
  validateIgemmSpec(spec);
  let name = problemName('igemm', spec);
  name += `_bm${spec.bm}_bn${spec.bn}_bkc${spec.bkc}_t${spec.tm}x${spec.tn}_wm${spec.warpM}_z${spec.split}_st${spec.stages}`;
  if (spec.vec === 4) name += '_v4';
  if (spec.kept) name += `_kept${spec.kept.length}_d${keptDigest(spec.kept)}`;
  const writers = igemmWriterTiles(spec);
  if (writers > 0) name += `_wt${writers}`;
  if (spec.bias) name += '_bias';
  if (spec.residual) name += '_res';
  if (spec.relu) name += '_relu';
  return `${name}_sm${spec.arch.slice(3)}`;
}
