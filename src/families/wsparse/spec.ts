// The weight-sparse family ("wsparse"): one part — spec and name (here), the nonzero structure
// (structure.ts), tiling and balancing rule (tiles.ts), resources, cost model and renderer
// (template templates/wsparse.cu.hbs), registered in src/families/registry.ts. A direct
// convolution over each output channel's nonzero weights only: the offsets of the nonzeros are
// fixed at generation time (tables in the .cu), their values read at run time from the CRSK
// weights every generated kernel receives (folded batch norm stays exact). A warp owns TK output
// channels and its 32 lanes go along output pixels, so every lane of a warp walks the same nonzero
// list (warp-uniform, no divergence) and the channels are spread over the warps so that their
// nonzero counts balance. Any KxK, stride, padding, 1x1; any arch (cp.async where sm_80+).
import { ARCH_NAMES, type ArchName } from '../../arch/profiles.js';
import { isCIdentifier, problemName } from '../../codegen/naming.js';
import type { ConvProblem } from '../../plan/types.js';
import { wsparseLanes } from './resources.js';
import { DIGEST_HEX } from './structure.js';

export interface WsparseKernelSpec extends ConvProblem {
  readonly family: 'wsparse';
  readonly arch: ArchName;
  /**
   * Output rows per block: a multiple of the warp's lane rows (wsparseLanes(wo).lr); each lane
   * computes rowsT / lr of them (TP).
   */
  readonly rowsT: number;
  /** Input channels are not split over blocks (grid z = 1): the field the batch-1 families share. */
  readonly split: 1;
  /** Warps per block. */
  readonly warps: number;
  /** Output channels per warp. */
  readonly tk: number;
  /** Input channels per pipeline stage (chunk). */
  readonly bkc: number;
  /** Digest of the layer's nonzero structure (structure.ts): the kernel's tables follow from it and the tiles. */
  readonly patternDigest: string;
  /** Nonzero weights of the kernel. */
  readonly nnz: number;
  /** Output channels with at least one nonzero (the others only get their epilogue of 0). */
  readonly kActive: number;
  /** Nonzeros of the busiest warp (each of its lanes walks them all). */
  readonly slotMax: number;
  /** Most nonzeros one block stages for one chunk (shared memory holds that many). */
  readonly nzCap: number;
}

/** Tile fields, with the structure figures they were derived with (stored with a measurement). */
export const WSPARSE_TILE_FIELDS = ['rowsT', 'warps', 'tk', 'bkc', 'split', 'patternDigest', 'nnz', 'kActive', 'slotMax', 'nzCap'] as const;
export type WsparseTiles = Pick<WsparseKernelSpec, (typeof WSPARSE_TILE_FIELDS)[number]>;
export type WsparseProblem = Omit<WsparseKernelSpec, keyof WsparseTiles | 'family'>;

/** Nothing in the template needs more than sm_70 (cp.async is used on sm_80+, plain loads before). */
export function wsparseSupports(arch: ArchName): boolean {
  return ARCH_NAMES.includes(arch);
}

const DIGEST = new RegExp(`^[0-9a-f]{${DIGEST_HEX}}$`);

export function validateWsparseSpec(spec: WsparseKernelSpec): WsparseKernelSpec {
  const errors: string[] = [];
  if (spec.family !== 'wsparse') errors.push(`family must be 'wsparse', got '${String(spec.family)}'`);
  for (const f of ['c', 'h', 'w', 'k', 'r', 's', 'strideH', 'strideW', 'ho', 'wo', 'rowsT', 'warps', 'tk', 'bkc'] as const) {
    if (!Number.isInteger(spec[f]) || spec[f] < 1) errors.push(`${f} must be a positive integer, got ${spec[f]}`);
  }
  for (const f of ['padTop', 'padLeft', 'nnz', 'kActive', 'slotMax', 'nzCap'] as const) {
    if (!Number.isInteger(spec[f]) || spec[f] < 0) errors.push(`${f} must be a non-negative integer, got ${spec[f]}`);
  }
  if (typeof spec.patternDigest !== 'string' || !DIGEST.test(spec.patternDigest)) errors.push(`patternDigest must be ${DIGEST_HEX} hex digits, got '${String(spec.patternDigest)}'`);
  if (errors.length === 0) {
    if (!wsparseSupports(spec.arch)) errors.push(`unknown arch ${spec.arch}`);
    if (spec.warps > 32) errors.push(`warps must be at most 32, got ${spec.warps}`);
    const { lr } = wsparseLanes(spec.wo);
    if (spec.rowsT % lr !== 0) errors.push(`rowsT ${spec.rowsT} must be a multiple of the ${lr} lane rows a warp has at width ${spec.wo}`);
    else if (spec.tk * (spec.rowsT / lr) > 64) errors.push(`tk x rows per lane = ${spec.tk * (spec.rowsT / lr)} accumulators per thread: at most 64`);
    if (spec.split !== 1) errors.push(`split must be 1, got ${String(spec.split)}`);
    if (spec.bkc > spec.c) errors.push(`bkc ${spec.bkc} exceeds c ${spec.c}`);
    if (spec.kActive > spec.k) errors.push(`kActive ${spec.kActive} exceeds k ${spec.k}`);
    if (spec.nnz > spec.k * spec.c * spec.r * spec.s) errors.push(`nnz ${spec.nnz} exceeds the kernel's ${spec.k * spec.c * spec.r * spec.s} weights`);
    if (spec.slotMax > spec.nnz || spec.nzCap > spec.nnz) errors.push(`slotMax ${spec.slotMax} and nzCap ${spec.nzCap} cannot exceed nnz ${spec.nnz}`);
    if ((spec.kActive === 0) !== (spec.nnz === 0)) errors.push(`kActive ${spec.kActive} and nnz ${spec.nnz} must both be 0 or both positive`);
  }
  if (errors.length > 0) throw new Error(`invalid wsparse spec: ${errors.join('; ')}`);
  return spec;
}

/** Output rows per lane. */
export const wsparseTp = (spec: Pick<WsparseKernelSpec, 'rowsT' | 'wo'>): number => spec.rowsT / wsparseLanes(spec.wo).lr;

/** e.g. wsparse3x3_c512_h7_w7_k512_rows8_wp4_tk1_bkc32_d3f9a0c21be_bias_relu_sm90 (d: the pattern digest). */
export function wsparseName(spec: WsparseKernelSpec): string {
  validateWsparseSpec(spec);
  let name = problemName('wsparse', spec);
  name += `_rows${spec.rowsT}_wp${spec.warps}_tk${spec.tk}_bkc${spec.bkc}_d${spec.patternDigest}`;
  if (spec.bias) name += '_bias';
  if (spec.relu) name += '_relu';
  name += `_sm${spec.arch.slice(3)}`;
  if (!isCIdentifier(name)) throw new Error(`wsparse kernel name '${name}' is not a C identifier`);
  return name;
}
