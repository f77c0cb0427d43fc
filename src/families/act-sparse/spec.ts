// The activation-sparse family ("act-sparse"): the original cuSNN kernel, generalized to any KxK
// filter, stride and padding. One part in one place: its spec, name and validation (here),
// resources (resources.ts), tile search (tiles.ts), cost model (cost.ts) and renderer (render.ts,
// template templates/act-sparse.cu.hbs); src/families/registry.ts registers it with the planner.
//
// A block owns th x tw output pixels of kb output channels. It compacts the nonzeros of each
// staged input channel's halo window into shared memory, then every thread scatters them through
// a generated switch into a fully unrolled register tile for one output channel; cs channel slices
// are reduced through shared memory in a fixed order (deterministic, no atomics). Any arch.
//
// Name grammar: the problem part of every family (src/codegen/naming.ts, problemName) with the
// prefix `act`, then
//
//   _th<th>_tw<tw>_tc<tc>_kb<kb>_cs<cs>   tiles
//   _bias _relu                     fused epilogue, when enabled
//   _sm<NN>                         target architecture
//
// e.g. act3x3_c128_h14_w14_k32_th2_tw7_tc16_kb32_cs2_sm90.
import { ARCH_NAMES, gpuProfile, isArchName, type ArchName } from '../../arch/profiles.js';
import { problemName } from '../../codegen/naming.js';
import type { ConvProblem } from '../../plan/types.js';
import { sharedLayout, windowOf } from './resources.js';

/** Problem and tile parameters of one activation-sparse kernel instance. */
export interface ActSparseKernelSpec extends ConvProblem {
  readonly family: 'act-sparse';
  readonly arch: ArchName;
  // Tiles.
  /** Output tile per block: th x tw output pixels. */
  readonly th: number;
  readonly tw: number;
  /** Input channels compressed into shared memory per step. */
  readonly tc: number;
  /** Output channels per block: one per thread along threadIdx.x (a multiple of 32). */
  readonly kb: number;
  /** Channel slices per block along threadIdx.y; reduced through shared memory at the end. */
  readonly cs: number;
}

export const ACT_SPARSE_TILE_FIELDS = ['th', 'tw', 'tc', 'kb', 'cs'] as const;
export type ActSparseTiles = Pick<ActSparseKernelSpec, (typeof ACT_SPARSE_TILE_FIELDS)[number]>;
/** The problem with the family and arch (the tile search's input and cache key). */
export type ActSparseProblem = Omit<ActSparseKernelSpec, keyof ActSparseTiles>;

/** Throws with every reason the spec cannot be rendered; returns the spec otherwise. */
export function validateActSparseSpec(spec: ActSparseKernelSpec): ActSparseKernelSpec {
  const errors: string[] = [];
  if (spec.family !== 'act-sparse') errors.push(`family must be 'act-sparse', got '${String(spec.family)}'`);
  if (!isArchName(spec.arch)) errors.push(`arch must be one of ${ARCH_NAMES.join(', ')}, got '${spec.arch}'`);
  const positive = ['c', 'h', 'w', 'k', 'r', 's', 'strideH', 'strideW', 'ho', 'wo', 'th', 'tw', 'tc', 'kb', 'cs'] as const;
  for (const f of positive) {
    if (!Number.isInteger(spec[f]) || spec[f] < 1) errors.push(`${f} must be a positive integer, got ${spec[f]}`);
  }
  for (const f of ['padTop', 'padLeft'] as const) {
    if (!Number.isInteger(spec[f]) || spec[f] < 0) errors.push(`${f} must be a non-negative integer, got ${spec[f]}`);
  }
  if (typeof spec.bias !== 'boolean' || typeof spec.relu !== 'boolean') errors.push('bias and relu must be booleans');
  if (errors.length === 0) {
    if (spec.kb % 32 !== 0) errors.push(`kb (${spec.kb}) must be a multiple of 32 so that a warp stays in one channel slice`);
    if (spec.kb * spec.cs > 1024) errors.push(`kb * cs = ${spec.kb * spec.cs} threads exceeds 1024 per block`);
    const [wh, ww] = windowOf(spec);
    if (wh * ww > 65536) errors.push(`window ${wh}x${ww} has more positions than a uint16 index holds`);
    if (isArchName(spec.arch)) {
      const bytes = sharedLayout(spec).totalBytes;
      const limit = gpuProfile(spec.arch).sharedPerBlockOptin;
      if (bytes > limit) errors.push(`shared memory ${bytes} B exceeds the ${limit} B a block may use on ${spec.arch}`);
    }
  }
  if (errors.length > 0) throw new Error(`invalid act-sparse spec: ${errors.join('; ')}`);
  return spec;
}

function checkInt(spec: ActSparseKernelSpec, field: keyof ActSparseKernelSpec, min: number): void {
  const v = spec[field];
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min) {
    throw new Error(`act-sparse spec: ${String(field)} must be an integer >= ${min}, got ${String(v)}`);
  }
}

/** Deterministic, descriptive name of an activation-sparse kernel (see the grammar above). */
export function actSparseName(spec: ActSparseKernelSpec): string {
  for (const f of ['c', 'h', 'w', 'k', 'r', 's', 'strideH', 'strideW', 'ho', 'wo', 'th', 'tw', 'tc', 'kb', 'cs'] as const) {
    checkInt(spec, f, 1);
  }
  checkInt(spec, 'padTop', 0);
  checkInt(spec, 'padLeft', 0);
  const arch = /^sm_(\d+)$/.exec(spec.arch);
  if (!arch) throw new Error(`act-sparse spec: arch must look like sm_NN, got '${spec.arch}'`);

  let name = problemName('act', spec);
  name += `_th${spec.th}_tw${spec.tw}_tc${spec.tc}_kb${spec.kb}_cs${spec.cs}`;
  if (spec.bias) name += '_bias';
  if (spec.relu) name += '_relu';
  name += `_sm${arch[1]}`;
  return name;
}
