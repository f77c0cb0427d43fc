// The staged weight-sparse family ("wstage"): one part — spec and name (here), the warp schedule
// (schedule.ts), tiling rule (tiles.ts), resources, cost model and renderer (template
// templates/wstage.cu.hbs), registered in src/families/registry.ts. It shares the nonzero
// structure of the wsparse family (src/families/wsparse/structure.ts).
//
// Why a second weight-sparse design: wsparse reads the input straight from L1/L2, one load per
// nonzero and pixel, in stages of ~8 loads whose L2 latency a batch-1 grid cannot hide. On the
// 3x3 convs of ResNet-50 pruned 90% it took 15-21 us for work that needs ~1.5 us of load issue
// (docs/results/bench-h200/2026-12-02-resnet50-p90-run12: 0 of 16 3x3 convs at 4x cuDNN). Here a
// block first copies its tile of the input, every input channel with its halo and padding zeros,
// into shared memory, and its channels' nonzeros (shared-memory offset, value) beside it; then
// each warp walks the nonzeros of its output channels with every load a shared-memory hit and no
// bounds check. One block: a tile of ROWS whole output rows x the output channels of one group;
// a group's warps each own a list of channels, balanced by nonzero count at generation time
// (schedule.ts). The nonzero offsets are tables in the .cu; their values are read at run time,
// packed in the tables' order by the runtime at load (folded batch norm stays exact). Any KxK, stride, padding; any arch where
// the tile fits in one block's shared memory.
import { ARCH_NAMES, type ArchName } from '../../arch/profiles.js';
import { isCIdentifier, problemName } from '../../codegen/naming.js';
import type { ConvProblem } from '../../plan/types.js';
import { DIGEST_HEX } from '../wsparse/structure.js';

export interface WstageKernelSpec extends ConvProblem {
  readonly family: 'wstage';
  readonly arch: ArchName;
  /** Output rows per pixel tile (whole rows of WO pixels). */
  readonly rows: number;
  /** Warps per block. */
  readonly warps: number;
  /** Channel groups: blocks per pixel tile; group g's warps own the channels of slots g * warps .. (g + 1) * warps - 1. */
  readonly groups: number;
  /** Digest of the layer's nonzero structure: the kernel's tables follow from it. */
  readonly patternDigest: string;
  readonly nnz: number;
  /** Nonzeros of the busiest output channel. */
  readonly rowMax: number;
  /** Output channels with at least one nonzero. */
  readonly kActive: number;
  /** Nonzeros of the busiest warp slot (sizes the block's shared entry list). */
  readonly slotMax: number;
  /**
   * Input channels staged at a time (absent: all C at once, the window staged whole). With a chunk,
   * the block streams the window through two shared-memory buffers of `chunk` channels (the next
   * copied while the current one is summed), so a tile of a wide layer fits and several blocks share
   * an SM; each warp then keeps the accumulators of all its channels (slotChMax x pixels per lane).
   */
  readonly chunk?: number;
  /** With a chunk: output channels of the busiest warp slot (its accumulators' count). */
  readonly slotChMax?: number;
  /** With a chunk: nonzeros of the busiest (warp slot, chunk) pair (sizes the warp's staged entry list). */
  readonly chunkMax?: number;
}

export const WSTAGE_TILE_FIELDS = ['rows', 'warps', 'groups', 'patternDigest', 'nnz', 'rowMax', 'kActive', 'slotMax', 'chunk', 'slotChMax', 'chunkMax'] as const;
export type WstageTiles = Pick<WstageKernelSpec, (typeof WSTAGE_TILE_FIELDS)[number]>;
export type WstageProblem = Omit<WstageKernelSpec, keyof WstageTiles | 'family'>;

/** Output pixels a lane computes at most (registers: one accumulator and one offset each). */
export const WSTAGE_MAX_PPL = 8;
export const WSTAGE_WARPS = [2, 4, 8, 16] as const;
/** Input channels per stage the rule weighs for a chunked window (fewer than C). 8 was dropped: run 17's tune never picked it (16 and 32 won on VGG-16 and DenseNet-169) and it made the generation of a pruned resnet152 ~1.5 s slower. */
export const WSTAGE_CHUNKS = [16, 32] as const;
/** Accumulators a lane keeps at most in a chunked kernel (slotChMax x pixels per lane): past this ptxas spills. */
export const WSTAGE_MAX_ACC = 32;

/**
 * How a chunked kernel maps a lane to its pixels (templates/wstage.cu.hbs, WIDE / CP / LR): rows
 * wider than 32 in CP column passes of 32, narrower rows LR = 32 / WO at a time; a lane's pixels then
 * lie at fixed distances in the window. `ppl`: pixels per lane.
 */
export function chunkedMapping(rows: number, wo: number): { wide: boolean; cp: number; lr: number; ppl: number } {
  const wide = wo > 32;
  const cp = wide ? Math.ceil(wo / 32) : 1;
  const lr = wide ? 1 : Math.floor(32 / wo);
  return { wide, cp, lr, ppl: wide ? rows * cp : Math.ceil(rows / lr) };
}

/** Shared memory, plain loads and FMAs: every arch the project knows (the tile must fit). */
export function wstageSupports(arch: ArchName): boolean {
  return ARCH_NAMES.includes(arch);
}

const DIGEST = new RegExp(`^[0-9a-f]{${DIGEST_HEX}}$`);

export function validateWstageSpec(spec: WstageKernelSpec): WstageKernelSpec {
  const errors: string[] = [];
  if (spec.family !== 'wstage') errors.push(`family must be 'wstage', got '${String(spec.family)}'`);
  for (const f of ['c', 'h', 'w', 'k', 'r', 's', 'strideH', 'strideW', 'ho', 'wo', 'rows', 'warps', 'groups'] as const) {
    if (!Number.isInteger(spec[f]) || spec[f] < 1) errors.push(`${f} must be a positive integer, got ${spec[f]}`);
  }
  for (const f of ['padTop', 'padLeft', 'nnz', 'rowMax', 'kActive', 'slotMax'] as const) {
    if (!Number.isInteger(spec[f]) || spec[f] < 0) errors.push(`${f} must be a non-negative integer, got ${spec[f]}`);
  }
  if (typeof spec.patternDigest !== 'string' || !DIGEST.test(spec.patternDigest)) errors.push(`patternDigest must be ${DIGEST_HEX} hex digits, got '${String(spec.patternDigest)}'`);
  if (errors.length === 0) {
    if (!wstageSupports(spec.arch)) errors.push(`unknown arch ${spec.arch}`);
    if (spec.rows > spec.ho) errors.push(`rows ${spec.rows} exceeds the ${spec.ho} output rows`);
    if (spec.padLeft > 4) errors.push(`padLeft ${spec.padLeft}: the window keeps 4 columns before the input for the left padding`);
    if (Math.ceil((spec.rows * spec.wo) / 32) > WSTAGE_MAX_PPL) errors.push(`a tile of ${spec.rows} x ${spec.wo} pixels needs more than ${WSTAGE_MAX_PPL} pixels per lane`);
    if (!(WSTAGE_WARPS as readonly number[]).includes(spec.warps)) errors.push(`warps must be one of ${WSTAGE_WARPS.join(', ')}, got ${spec.warps}`);
    if (spec.groups * spec.warps > spec.k) errors.push(`groups x warps = ${spec.groups * spec.warps} warp slots for ${spec.k} output channels: at most one slot per channel`);
    if (spec.kActive > spec.k) errors.push(`kActive ${spec.kActive} exceeds k ${spec.k}`);
    if (spec.nnz > spec.k * spec.c * spec.r * spec.s) errors.push(`nnz ${spec.nnz} exceeds the kernel's ${spec.k * spec.c * spec.r * spec.s} weights`);
    if (spec.rowMax > spec.nnz || spec.slotMax > spec.nnz || spec.slotMax < spec.rowMax) errors.push(`rowMax ${spec.rowMax} <= slotMax ${spec.slotMax} <= nnz ${spec.nnz} must hold`);
    if ((spec.kActive === 0) !== (spec.nnz === 0)) errors.push(`kActive ${spec.kActive} and nnz ${spec.nnz} must both be 0 or both positive`);
    if (Math.ceil(spec.ho / spec.rows) > 65535) errors.push('grid: at most 65535 pixel tiles');
    if (spec.chunk !== undefined) {
      if (chunkedMapping(spec.rows, spec.wo).ppl > WSTAGE_MAX_PPL) errors.push(`a chunked tile of ${spec.rows} rows of ${spec.wo} needs more than ${WSTAGE_MAX_PPL} pixels per lane`);
      if (!Number.isInteger(spec.chunk) || spec.chunk < 1 || spec.chunk >= spec.c) errors.push(`chunk must be an integer in [1, c - 1] (absent: the whole window), got ${spec.chunk}`);
      const ch = spec.slotChMax;
      if (ch === undefined || !Number.isInteger(ch) || ch < 1 || ch > Math.min(31, spec.k)) errors.push(`a chunked spec needs slotChMax in [1, min(31, k)], got ${String(ch)}`);
      else if (ch * chunkedMapping(spec.rows, spec.wo).ppl > WSTAGE_MAX_ACC) errors.push(`slotChMax ${ch} x ${chunkedMapping(spec.rows, spec.wo).ppl} pixels per lane: more than ${WSTAGE_MAX_ACC} accumulators per lane`);
      const cm = spec.chunkMax;
      if (cm === undefined || !Number.isInteger(cm) || cm < 0 || cm > spec.slotMax) errors.push(`a chunked spec needs chunkMax in [0, slotMax ${spec.slotMax}], got ${String(cm)}`);
    } else if (spec.slotChMax !== undefined || spec.chunkMax !== undefined) errors.push('slotChMax and chunkMax are only for a chunked spec');
  }
  if (errors.length > 0) throw new Error(`invalid wstage spec: ${errors.join('; ')}`);
  return spec;
}

/** e.g. wstage3x3_c256_h14_w14_k256_r7_w8_g66_d923475e225_bias_relu_sm90 (r: output rows per tile, w: warps per block, g: channel groups, cc: input channels per stage when chunked, d: the pattern digest). */
export function wstageName(spec: WstageKernelSpec): string {
  validateWstageSpec(spec);
  let name = problemName('wstage', spec);
  name += `_r${spec.rows}_w${spec.warps}_g${spec.groups}`;
  if (spec.chunk !== undefined) name += `_cc${spec.chunk}`;
  name += `_d${spec.patternDigest}`;
  if (spec.bias) name += '_bias';
  if (spec.relu) name += '_relu';
  name += `_sm${spec.arch.slice(3)}`;
  if (!isCIdentifier(name)) throw new Error(`wstage kernel name '${name}' is not a C identifier`);
  return name;
}
