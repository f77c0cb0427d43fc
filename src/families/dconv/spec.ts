// The direct activation-sparse family ("dconv"): one part — spec and name (here), resources,
// tiling rule, cost model and renderer (template templates/dconv.cu.hbs), registered in
// src/families/registry.ts. A block owns BM output channels x ROWS_T full output rows; the input's
// halo window is staged once per channel (igemm stages R*S shifted copies), and a thread holds TM
// channels x TN consecutive pixels of one row. Every input value a warp reads is the same for all
// its lanes when the warp's lanes all go along the channels, so "skip this zero" is a warp-uniform
// branch: the zeros a ReLU leaves cost a compare, not S*TM FMAs. The input channels are split over
// the blocks of a thread block cluster (sm_90) and reduced in a fixed order, as in igemm.
import type { ArchName } from '../../arch/profiles.js';
import { problemName } from '../../codegen/naming.js';
import type { ConvProblem } from '../../plan/types.js';
import { maxSplit } from '../igemm/spec.js';

export interface DconvKernelSpec extends ConvProblem {
  readonly family: 'dconv';
  readonly arch: ArchName;
  /** Output channels per block and per thread. */
  readonly bm: number;
  readonly tm: number;
  /** Consecutive output pixels of one row per thread. */
  readonly tn: number;
  /** Output rows per block (full width). */
  readonly rowsT: number;
  /** Input channels per pipeline stage. */
  readonly bkc: number;
  readonly split: number;
  readonly stages: number;
}

export const DCONV_TILE_FIELDS = ['bm', 'tm', 'tn', 'rowsT', 'bkc', 'split', 'stages'] as const;
export type DconvTiles = Pick<DconvKernelSpec, (typeof DCONV_TILE_FIELDS)[number]>;
export type DconvProblem = Omit<DconvKernelSpec, keyof DconvTiles | 'family'>;

export function dconvSupports(arch: ArchName): boolean {
  return Number(arch.slice(3)) >= 80;
}

export function validateDconvSpec(spec: DconvKernelSpec): DconvKernelSpec {
  const errors: string[] = [];
  if (spec.family !== 'dconv') errors.push(`family must be 'dconv', got '${String(spec.family)}'`);
  for (const f of ['c', 'h', 'w', 'k', 'r', 's', 'strideH', 'strideW', 'ho', 'wo', ...DCONV_TILE_FIELDS] as const) {
    if (!Number.isInteger(spec[f]) || spec[f] < 1) errors.push(`${f} must be a positive integer, got ${spec[f]}`);
  }
  for (const f of ['padTop', 'padLeft'] as const) {
    if (!Number.isInteger(spec[f]) || spec[f] < 0) errors.push(`${f} must be a non-negative integer, got ${spec[f]}`);
  }
  if (errors.length === 0) {
    if (!dconvSupports(spec.arch)) errors.push(`${spec.arch} has no cp.async (the family needs sm_80 or newer)`);
    if (spec.split > maxSplit(spec.arch)) errors.push(`split ${spec.split} needs clusters of that size (at most ${maxSplit(spec.arch)} on ${spec.arch})`);
    if (![1, 2, 4].includes(spec.tm)) errors.push(`tm must be 1, 2 or 4, got ${spec.tm}`);
    const groups = spec.bm / spec.tm;
    const lm = Math.min(32, groups);
    if (spec.bm % spec.tm !== 0 || 32 % lm !== 0 || groups % lm !== 0) errors.push(`bm / tm = ${groups} channel groups must be a power of two up to 32 or a multiple of 32`);
    if (spec.bm % 4 !== 0 || spec.k % 4 !== 0) errors.push(`bm (${spec.bm}) and k (${spec.k}) must be multiples of 4 (16-byte weight copies)`);
    if (spec.stages < 2) errors.push(`stages must be >= 2, got ${spec.stages}`);
  }
  if (errors.length > 0) throw new Error(`invalid dconv spec: ${errors.join('; ')}`);
  return spec;
}


/** e.g. dconv3x3_c512_h7_w7_k512_bm64_t2x7_rows7_bkc4_z16_st3_bias_relu_sm90. */
export function dconvName(spec: DconvKernelSpec): string {
  validateDconvSpec(spec);
  let name = problemName('dconv', spec);
  name += `_bm${spec.bm}_t${spec.tm}x${spec.tn}_rows${spec.rowsT}_bkc${spec.bkc}_z${spec.split}_st${spec.stages}`;
  if (spec.bias) name += '_bias';
  if (spec.relu) name += '_relu';
  return `${name}_sm${spec.arch.slice(3)}`;
}
