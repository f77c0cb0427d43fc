// The dual-sparse family ("dual"): one part — spec and name (here), the weight rows (rows.ts),
// resources, tiling rule and tile space (tiles.ts), cost model and renderer (template
// templates/dual.cu.hbs), registered in src/families/registry.ts.
//
// For pruned convs whose inputs are ReLU-sparse too (issue 10, item 3): it skips both kinds of zero.
// One block per output pixel, as pxg: its warps load the pixel's window, compact with ballots the
// nonzero inputs whose weight row is not empty into one block list and share it evenly. pxg then reads
// a whole weight row (all K output channels of one (channel, tap)) per nonzero input; on pruned
// weights that row is mostly zeros. Here each row is stored compressed, fixed at generation time
// (the output channels of its nonzero weights, a table in the .cu; their values packed by the runtime
// at load in the table's order), so a pixel's work is its nonzero inputs times their rows' nonzero
// weights. The lanes add v * w into the warp's own accumulators in shared memory (one row's output
// channels are distinct), and the warps' accumulators are added in warp order: exact fp32, a fixed
// order of every sum, no atomics.
// Prototype: tools/kernel-lab/dual.cuh (run 45's prediction in tools/kernel-lab/PREDICTIONS.md).
// Not yet measured on a GPU: the rule serves no conv (tiles.ts); `cusnn-gen tune` measures its space.
// Any KxK, stride, padding, 1x1; any arch (plain loads, ballots, shuffles, shared memory).
import { ARCH_NAMES, type ArchName } from '../../arch/profiles.js';
import { isCIdentifier, problemName } from '../../codegen/naming.js';
import type { ConvProblem } from '../../plan/types.js';
import { DIGEST_HEX } from '../wsparse/structure.js';

export interface DualKernelSpec extends ConvProblem {
  readonly family: 'dual';
  readonly arch: ArchName;
  /** Warps per block: each loads a contiguous slice of the pixel's C * R * S (channel, tap) pairs. */
  readonly warps: number;
  /** List entries (nonzero inputs) whose row loads are in flight together per warp. */
  readonly unroll: number;
  /** Digest of the layer's nonzero weight structure (src/families/wsparse/structure.ts): the tables follow from it. */
  readonly patternDigest: string;
  /** Nonzero weights of the kernel. */
  readonly nnz: number;
  /** Nonzeros of the busiest weight row (one (channel, tap): its output channels with a nonzero weight). */
  readonly rowMax: number;
  /** Rows (of C * R * S) with at least one nonzero weight: the others' inputs are dropped in the compaction. */
  readonly rowsLive: number;
}

/** Tile fields, with the structure figures they were derived with (stored with a measurement). */
export const DUAL_TILE_FIELDS = ['warps', 'unroll', 'patternDigest', 'nnz', 'rowMax', 'rowsLive'] as const;
export type DualTiles = Pick<DualKernelSpec, (typeof DUAL_TILE_FIELDS)[number]>;
export type DualProblem = Omit<DualKernelSpec, keyof DualTiles | 'family'>;

/** Output channels at most: each row's output channels are stored as uint16. */
export const DUAL_MAX_K = 65536;
export const DUAL_MAX_WARPS = 32;
export const DUAL_MAX_UNROLL = 16;

export function dualSupports(arch: ArchName): boolean {
  return ARCH_NAMES.includes(arch);
}

const DIGEST = new RegExp(`^[0-9a-f]{${DIGEST_HEX}}$`);

export function validateDualSpec(spec: DualKernelSpec): DualKernelSpec {
  const errors: string[] = [];
  if (spec.family !== 'dual') errors.push(`family must be 'dual', got '${String(spec.family)}'`);
  for (const f of ['c', 'h', 'w', 'k', 'r', 's', 'strideH', 'strideW', 'ho', 'wo', 'warps', 'unroll'] as const) {
    if (!Number.isInteger(spec[f]) || spec[f] < 1) errors.push(`${f} must be a positive integer, got ${spec[f]}`);
  }
  for (const f of ['padTop', 'padLeft', 'nnz', 'rowMax', 'rowsLive'] as const) {
    if (!Number.isInteger(spec[f]) || spec[f] < 0) errors.push(`${f} must be a non-negative integer, got ${spec[f]}`);
  }
  if (typeof spec.patternDigest !== 'string' || !DIGEST.test(spec.patternDigest)) errors.push(`patternDigest must be ${DIGEST_HEX} hex digits, got '${String(spec.patternDigest)}'`);
  if (errors.length === 0) {
    const pairs = spec.c * spec.r * spec.s;
    if (!dualSupports(spec.arch)) errors.push(`unknown arch ${spec.arch}`);
    if (spec.k > DUAL_MAX_K) errors.push(`k must be at most ${DUAL_MAX_K} (output channels stored as uint16), got ${spec.k}`);
    if (spec.warps > DUAL_MAX_WARPS) errors.push(`warps must be at most ${DUAL_MAX_WARPS}, got ${spec.warps}`);
    if (spec.unroll > DUAL_MAX_UNROLL) errors.push(`unroll must be at most ${DUAL_MAX_UNROLL}, got ${spec.unroll}`);
    if (spec.nnz > spec.k * pairs) errors.push(`nnz ${spec.nnz} exceeds the kernel's ${spec.k * pairs} weights`);
    if (spec.rowMax > spec.k || spec.rowMax > spec.nnz) errors.push(`rowMax ${spec.rowMax} exceeds k ${spec.k} or nnz ${spec.nnz}`);
    if (spec.rowsLive > pairs) errors.push(`rowsLive ${spec.rowsLive} exceeds the ${pairs} (channel, tap) rows`);
    if ((spec.rowsLive === 0) !== (spec.nnz === 0)) errors.push(`rowsLive ${spec.rowsLive} and nnz ${spec.nnz} must both be 0 or both positive`);
    if (spec.ho * spec.wo > 2147483647) errors.push('grid: too many output pixels');
  }
  if (errors.length > 0) throw new Error(`invalid dual spec: ${errors.join('; ')}`);
  return spec;
}

/** e.g. dual3x3_c512_h7_w7_k512_w16_u8_d3f9a0c21be_bias_relu_sm90 (w: warps, u: entries in flight, d: the pattern digest). */
export function dualName(spec: DualKernelSpec): string {
  validateDualSpec(spec);
  let name = problemName('dual', spec);
  name += `_w${spec.warps}_u${spec.unroll}_d${spec.patternDigest}`;
  if (spec.bias) name += '_bias';
  if (spec.relu) name += '_relu';
  name += `_sm${spec.arch.slice(3)}`;
  if (!isCIdentifier(name)) throw new Error(`dual kernel name '${name}' is not a C identifier`);
  return name;
}
