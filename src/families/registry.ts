// The kernel families the planner can emit, in one registry: each family is one part (spec and
// name, tiling rule, resource count, cost model, renderer; template under templates/) in
// src/families/<name>: act-sparse (the original's scatter of nonzeros, any arch), igemm (split-K
// implicit GEMM, sm_80+), dconv (direct, warp-uniform zero skip, sm_80+), pxg (one block per output
// pixel summing only its nonzero inputs, any arch) and wsparse (direct over
// each output channel's nonzero weights, any arch; its kernels are rendered from the layer's weight
// structure) and wstage (the same sums over an input window staged in shared memory, any arch where
// the window fits), and dual (pxg's per-pixel gather of nonzero inputs over compressed weight rows,
// skipping both kinds of zero; measured only, no rule yet) and wino (fused Winograd F(2x2,3x3) for
// dense 3x3 stride-1 convs at batch 8 to 16 and the large batch-1 outputs, with a rule from runs 70 and 84). Adding a family touches its own folder and this file.
import type { ArchName, GpuProfile } from '../arch/profiles.js';
import type { RenderedKernel, ServedLayer } from '../codegen/kernel.js';
import type { ConvProblem, KernelEstimate, KernelResources } from '../plan/types.js';
import type { WeightPatternKind } from '../sparsity/types.js';
import { actSparseUs } from './act-sparse/cost.js';
import { renderActSparseKernel } from './act-sparse/render.js';
import { actSparseResources } from './act-sparse/resources.js';
import { actSparseName, type ActSparseKernelSpec, type ActSparseTiles } from './act-sparse/spec.js';
import { dconvUs } from './dconv/cost.js';
import { renderDconvKernel } from './dconv/render.js';
import { dconvResources } from './dconv/resources.js';
import { dconvName, dconvSupports, DCONV_TILE_FIELDS, type DconvKernelSpec, type DconvTiles } from './dconv/spec.js';
import { chooseDconvTiles, dconvCandidates } from './dconv/tiles.js';
import { pxgUs } from './pxg/cost.js';
import { renderPxgKernel } from './pxg/render.js';
import { pxgResources } from './pxg/resources.js';
import { pxgName, pxgSupports, PXG_TILE_FIELDS, type PxgKernelSpec, type PxgTiles } from './pxg/spec.js';
import { choosePxgTiles, pxgCandidates } from './pxg/tiles.js';
import { igemmUs } from './igemm/cost.js';
import { renderIgemmKernel } from './igemm/render.js';
import { igemmResources } from './igemm/resources.js';
import { igemmKeptOrder, igemmName, igemmSupports, IGEMM_TILE_FIELDS, type IgemmKernelSpec, type IgemmTiles } from './igemm/spec.js';
import { chooseIgemmTilesForWeights, igemmCandidatesForWeights } from './igemm/tiles.js';
import { wsparseUs } from './wsparse/cost.js';
import { renderWsparseKernel } from './wsparse/render.js';
import { wsparseResources } from './wsparse/resources.js';
import {
  wsparseName, wsparseSupports, WSPARSE_CPBS, WSPARSE_MAX_WARPS, WSPARSE_PPLS, WSPARSE_SPLITS, WSPARSE_TILE_FIELDS, type WsparseKernelSpec, type WsparseTiles,
} from './wsparse/spec.js';
import type { WeightStructure } from './wsparse/structure.js';
import { chooseWsparseTiles, wsparseSpecFor } from './wsparse/tiles.js';
import { wstageUs } from './wstage/cost.js';
import { renderWstageKernel } from './wstage/render.js';
import { wstageResources } from './wstage/resources.js';
import { wstageName, wstageSupports, WSTAGE_TILE_FIELDS, type WstageKernelSpec, type WstageTiles } from './wstage/spec.js';
import { chooseWstageTiles, wstageCandidates } from './wstage/tiles.js';
import { wstageWeightOrder } from './wstage/schedule.js';
import { wsparseWeightOrder } from './wsparse/schedule.js';
import { dualUs } from './dual/cost.js';
import { renderDualKernel } from './dual/render.js';
import { dualResources } from './dual/resources.js';
import { dualWeightOrder } from './dual/rows.js';
import { dualName, dualSupports, DUAL_TILE_FIELDS, type DualKernelSpec, type DualTiles } from './dual/spec.js';
import { dualCandidates } from './dual/tiles.js';
import { winoUs } from './wino/cost.js';
import { renderWinoKernel } from './wino/render.js';
import { winoResources } from './wino/resources.js';
import { winoName, winoSupports, WINO_TILE_FIELDS, type WinoKernelSpec, type WinoTiles } from './wino/spec.js';
import { chooseWinoTiles, winoCandidates } from './wino/tiles.js';

export type KernelSpec = ActSparseKernelSpec | IgemmKernelSpec | DconvKernelSpec | PxgKernelSpec | WsparseKernelSpec | WstageKernelSpec | DualKernelSpec | WinoKernelSpec;
export type KernelFamily = KernelSpec['family'];
export const KERNEL_FAMILIES: readonly KernelFamily[] = ['act-sparse', 'igemm', 'dconv', 'pxg', 'wsparse', 'wstage', 'dual', 'wino'];
/** The families whose kernels are generated from a layer's weight structure (their specs carry its digest). */
export type WeightSparseSpec = WsparseKernelSpec | WstageKernelSpec | DualKernelSpec;
export const isWeightSparse = (spec: { readonly family?: string }): spec is WeightSparseSpec => spec.family === 'wsparse' || spec.family === 'wstage' || spec.family === 'dual';

/** The tile fields of a spec, as stored with a measurement (calibration.json, the tune cache). */
export type KernelTiles =
  | ({ readonly family?: 'act-sparse' } & ActSparseTiles)
  | ({ readonly family: 'igemm' } & IgemmTiles)
  | ({ readonly family: 'dconv' } & DconvTiles)
  | ({ readonly family: 'pxg' } & PxgTiles)
  | ({ readonly family: 'wsparse' } & WsparseTiles)
  | ({ readonly family: 'wstage' } & WstageTiles)
  | ({ readonly family: 'dual' } & DualTiles)
  | ({ readonly family: 'wino' } & WinoTiles);

export function kernelNameOf(spec: KernelSpec): string {
  if (spec.family === 'pxg') return pxgName(spec);
  if (spec.family === 'wsparse') return wsparseName(spec);
  if (spec.family === 'wstage') return wstageName(spec);
  if (spec.family === 'dual') return dualName(spec);
  if (spec.family === 'wino') return winoName(spec);
  return spec.family === 'igemm' ? igemmName(spec) : spec.family === 'dconv' ? dconvName(spec) : actSparseName(spec);
}

/** What a renderer may need besides the spec: the weight-sparse families' kernels need their layer's weight structure. */
export interface RenderInputs {
  readonly structure?: WeightStructure;
}

export function renderKernel(spec: KernelSpec, servedBy: readonly ServedLayer[], inputs: RenderInputs = {}): RenderedKernel {
  if (spec.family === 'wsparse') return renderWsparseKernel(spec, servedBy, inputs.structure);
  if (spec.family === 'wstage') return renderWstageKernel(spec, servedBy, inputs.structure);
  if (spec.family === 'dual') return renderDualKernel(spec, servedBy, inputs.structure);
  if (spec.family === 'wino') return renderWinoKernel(spec, servedBy);
  if (spec.family === 'dconv') return renderDconvKernel(spec, servedBy);
  if (spec.family === 'pxg') return renderPxgKernel(spec, servedBy);
  return spec.family === 'igemm' ? renderIgemmKernel(spec, servedBy) : renderActSparseKernel(spec, servedBy);
}

/**
 * The weights a generated kernel reads, as indices into the layer's folded [K][C][R][S] weights:
 * the weight-sparse families read their nonzeros' values packed in their tables' order (coalesced,
 * a tenth of the bytes at 90% zeros), an igemm kernel with kept filters those filters' [C][R][S][kept]
 * columns; null: the [C][R][S][K] layout of the dense families.
 */
export function kernelWeightOrder(spec: KernelSpec, structure: WeightStructure | undefined): Uint32Array | null {
  // igemm with kept filters: the [C][R][S][K] layout of the kept filters' columns (the others are all zero).
  if (spec.family === 'igemm') return igemmKeptOrder(spec);
  if (!isWeightSparse(spec)) return null;
  if (!structure || structure.digest !== spec.patternDigest) {
    throw new Error(`${kernelNameOf(spec)}: its packed weights need the weight structure ${spec.patternDigest}, got ${structure ? structure.digest : 'none'}`);
  }
  if (spec.family === 'dual') return dualWeightOrder(structure);
  return spec.family === 'wsparse' ? wsparseWeightOrder(structure) : wstageWeightOrder(structure, spec.groups * spec.warps, spec.chunk);
}

export function resourcesOf(spec: KernelSpec, batch: number): KernelResources {
  if (spec.family === 'wsparse') return wsparseResources(spec, batch);
  if (spec.family === 'wstage') return wstageResources(spec, batch);
  if (spec.family === 'dual') return dualResources(spec, batch);
  if (spec.family === 'wino') return winoResources(spec, batch);
  if (spec.family === 'dconv') return dconvResources(spec, batch);
  if (spec.family === 'pxg') return pxgResources(spec, batch);
  return spec.family === 'igemm' ? igemmResources(spec, batch) : actSparseResources(spec, batch);
}

/** The family's cost-model estimate at input density `density` (fraction of nonzeros), with its launch figures. */
export function estimateOf(p: GpuProfile, spec: KernelSpec, batch: number, density: number): KernelEstimate | null {
  if (spec.family === 'igemm') return igemmUs(p, spec, batch);
  if (spec.family === 'wsparse') return wsparseUs(p, spec, batch);
  if (spec.family === 'wstage') return wstageUs(p, spec, batch);
  if (spec.family === 'dual') return dualUs(p, spec, batch, density);
  if (spec.family === 'wino') return winoUs(p, spec, batch);
  if (spec.family === 'dconv') return dconvUs(p, spec, batch, density);
  if (spec.family === 'pxg') return pxgUs(p, spec, batch, density);
  return actSparseUs(p, spec, batch, density);
}

/** The family's cost-model estimate in microseconds at input density `density` (fraction of nonzeros). */
export function estimateUs(p: GpuProfile, spec: KernelSpec, batch: number, density: number): number | null {
  return estimateOf(p, spec, batch, density)?.us ?? null;
}

export function tilesOf(spec: KernelSpec): KernelTiles {
  if (spec.family === 'igemm') {
    // vec only when set (absent, not undefined, in plan.json and the tune cache).
    return { family: 'igemm', ...Object.fromEntries(IGEMM_TILE_FIELDS.filter((f) => spec[f] !== undefined).map((f) => [f, spec[f]])) } as KernelTiles;
  }
  if (spec.family === 'dconv') {
    return { family: 'dconv', ...Object.fromEntries(DCONV_TILE_FIELDS.map((f) => [f, spec[f]])) } as KernelTiles;
  }
  if (spec.family === 'pxg') {
    // ppb and pdl only when set (absent, not undefined: tiles stored before they existed stay equal).
    return { family: 'pxg', ...Object.fromEntries(PXG_TILE_FIELDS.filter((f) => spec[f] !== undefined).map((f) => [f, spec[f]])) } as KernelTiles;
  }
  if (spec.family === 'dual') {
    return { family: 'dual', ...Object.fromEntries(DUAL_TILE_FIELDS.map((f) => [f, spec[f]])) } as KernelTiles;
  }
  if (spec.family === 'wino') {
    // warps only when 16 (absent, not undefined: tiles stored before it existed stay equal).
    return { family: 'wino', ...Object.fromEntries(WINO_TILE_FIELDS.filter((f) => spec[f] !== undefined).map((f) => [f, spec[f]])) } as KernelTiles;
  }
  if (spec.family === 'wsparse') {
    return { family: 'wsparse', ...Object.fromEntries(WSPARSE_TILE_FIELDS.map((f) => [f, spec[f]])) } as KernelTiles;
  }
  if (spec.family === 'wstage') {
    // The chunk fields only when chunked (absent, not undefined, in plan.json and the tune cache).
    return { family: 'wstage', ...Object.fromEntries(WSTAGE_TILE_FIELDS.filter((f) => spec[f] !== undefined).map((f) => [f, spec[f]])) } as KernelTiles;
  }
  return { th: spec.th, tw: spec.tw, tc: spec.tc, kb: spec.kb, cs: spec.cs };
}

/** The spec a measurement's tiles describe on a problem (the problem fields of either family). */
export function specWithTiles(problem: ConvProblem & { readonly arch: ArchName }, tiles: KernelTiles): KernelSpec {
  if (tiles.family === 'wsparse') {
    const t: WsparseTiles = { ppl: tiles.ppl, split: tiles.split, cpb: tiles.cpb, patternDigest: tiles.patternDigest, nnz: tiles.nnz, rowMax: tiles.rowMax, kActive: tiles.kActive };
    return { ...problem, ...t, family: 'wsparse' };
  }
  if (tiles.family === 'wstage') {
    const t: WstageTiles = {
      rows: tiles.rows, warps: tiles.warps, groups: tiles.groups, patternDigest: tiles.patternDigest, nnz: tiles.nnz, rowMax: tiles.rowMax, kActive: tiles.kActive, slotMax: tiles.slotMax,
      ...(tiles.chunk !== undefined ? { chunk: tiles.chunk, slotChMax: tiles.slotChMax, chunkMax: tiles.chunkMax } : {}),
    };
    return { ...problem, ...t, family: 'wstage' };
  }
  if (tiles.family === 'dual') {
    const t: DualTiles = { warps: tiles.warps, unroll: tiles.unroll, patternDigest: tiles.patternDigest, nnz: tiles.nnz, rowMax: tiles.rowMax, rowsLive: tiles.rowsLive };
    return { ...problem, ...t, family: 'dual' };
  }
  if (tiles.family === 'wino') {
    const t: WinoTiles = { split: tiles.split, ...(tiles.warps !== undefined ? { warps: tiles.warps } : {}) };
    return { ...problem, ...t, family: 'wino' };
  }
  if (tiles.family === 'pxg') {
    const t: PxgTiles = { warps: tiles.warps, unroll: tiles.unroll, ...(tiles.ppb !== undefined ? { ppb: tiles.ppb } : {}), ...(tiles.pdl === false ? { pdl: false as const } : {}) };
    return { ...problem, ...t, family: 'pxg' };
  }
  if (tiles.family === 'dconv') {
    const t: DconvTiles = { bm: tiles.bm, tm: tiles.tm, tn: tiles.tn, rowsT: tiles.rowsT, bkc: tiles.bkc, split: tiles.split, stages: tiles.stages };
    return { ...problem, ...t, family: 'dconv' };
  }
  if (tiles.family === 'igemm') {
    const t: IgemmTiles = {
      bm: tiles.bm, bn: tiles.bn, bkc: tiles.bkc, tm: tiles.tm, tn: tiles.tn, warpM: tiles.warpM, split: tiles.split, stages: tiles.stages,
      ...(tiles.vec !== undefined ? { vec: tiles.vec } : {}),
      ...(tiles.kept !== undefined ? { kept: [...tiles.kept] } : {}),
    };
    return { ...problem, ...t, family: 'igemm' };
  }
  return { ...problem, family: 'act-sparse', th: tiles.th, tw: tiles.tw, tc: tiles.tc, kb: tiles.kb, cs: tiles.cs };
}

/** Tiles in words (report.md, reasons). */
export function describeTiles(spec: KernelSpec): string {
  if (spec.family === 'wsparse') {
    return `wsparse ${32 * spec.ppl} pixels x ${spec.cpb} channels per block, ${spec.split} warps per channel, ${spec.nnz} nonzeros (busiest channel ${spec.rowMax}), pattern ${spec.patternDigest}`;
  }
  if (spec.family === 'wstage') {
    return `wstage ${spec.rows} output rows x ${spec.wo} per tile, ${spec.warps} warps x ${spec.groups} groups, ` +
      `${spec.chunk !== undefined ? `input staged ${spec.chunk} channels at a time (double-buffered), ` : ''}${spec.nnz} nonzeros (busiest warp slot ${spec.slotMax}), pattern ${spec.patternDigest}`;
  }
  if (spec.family === 'dual') {
    return `dual 1 pixel x ${spec.k} channels per block, ${spec.warps} warps, ${spec.unroll} entries in flight, ${spec.nnz} nonzeros in ${spec.rowsLive} weight rows (busiest ${spec.rowMax}), pattern ${spec.patternDigest}`;
  }
  if (spec.family === 'wino') {
    return `wino F(2x2,3x3) 32 channels x 32 tiles of 2x2 per block, ${spec.warps ?? 8} warps, ${spec.warps ?? 8}-channel chunks, split ${spec.split}`;
  }
  if (spec.family === 'pxg') {
    return `pxg ${spec.ppb ?? 1} pixel(s) x ${spec.k} channels per block, ${spec.warps} warps, ${spec.unroll} weight rows in flight${spec.pdl === false ? ', no dependent launch' : ''}`;
  }
  if (spec.family === 'dconv') {
    return `dconv bm ${spec.bm} x ${spec.rowsT} rows, t ${spec.tm}x${spec.tn}, bkc ${spec.bkc}, split ${spec.split}`;
  }
  if (spec.family === 'igemm') {
    return `igemm bm ${spec.bm} x bn ${spec.bn}, bkc ${spec.bkc}, t ${spec.tm}x${spec.tn}, warp ${spec.warpM}x${32 / spec.warpM}, split ${spec.split}` +
      (spec.vec === 4 ? ', 16-byte pixel copies' : '');
  }
  return `${spec.th}x${spec.tw}, ${spec.tc}, ${spec.kb}, ${spec.cs}`;
}

/** A rule family's pick for one problem: the spec, its estimate and the rule in words (for the reason). */
export interface FamilyChoice {
  readonly spec: KernelSpec;
  readonly estimate: KernelEstimate;
  readonly why: string;
}

/** A conv's weights as a family sees them: the nonzero structure and the sparsity profile's facts. */
export interface ConvWeights {
  readonly structure: WeightStructure;
  /** Fraction of zeros and the detected pattern (src/sparsity/weights.ts); no pattern: structure unknown to the profile. */
  readonly sparsity: number;
  readonly pattern: WeightPatternKind | undefined;
}

/** The weight sparsity from which the wsparse family serves a conv (real zeros in the weights). */
export const WSPARSE_MIN_SPARSITY = 0.5;

/**
 * A family with a tiling rule (one pick per problem) that the planner weighs against the
 * act-sparse family's tile search (src/families/act-sparse/tiles.ts, the planner's baseline on
 * every arch). `choose` returns null where the family cannot serve the problem on this GPU;
 * `weights` is given where the caller knows the layer's weights (wsparse serves only then).
 * `space`, where present, is the family's tile space for measurement (`cusnn-gen tune` times it
 * beside the rule's pick, ranked by the family's cost model); without it the rule's pick alone is
 * measured. A family registered here joins the measured choice with no change to tune.
 */
export interface RuleFamily {
  readonly family: Exclude<KernelFamily, 'act-sparse'>;
  /** Serves only a conv whose weights are given (the weight-sparse families): weighed apart by the planner. */
  readonly needsWeights?: boolean;
  /**
   * The family's rule serves no conv yet (its choose gives null): only a measurement (`cusnn-gen tune`
   * of its space) puts its kernels in a plan. The planner leaves it out of its notes on the rules.
   */
  readonly measuredOnly?: boolean;
  readonly supports: (arch: ArchName) => boolean;
  readonly choose: (problem: ConvProblem & { readonly arch: ArchName }, p: GpuProfile, batch: number, density: number, weights?: ConvWeights) => FamilyChoice | null;
  readonly space?: (problem: ConvProblem & { readonly arch: ArchName }, p: GpuProfile, batch: number, weights?: ConvWeights) => readonly KernelSpec[];
}

/** Where the wsparse family serves a conv: weights given with a known pattern and at least WSPARSE_MIN_SPARSITY zeros. */
const wsparseServes = (w: ConvWeights | undefined): w is ConvWeights => w !== undefined && w.pattern !== undefined && w.sparsity >= WSPARSE_MIN_SPARSITY;

/**
 * Every (ppl, split, cpb) of at most WSPARSE_MAX_WARPS warps that launches on this GPU, for the
 * layer's structure; none where the family's rule does not serve the problem (e.g. too many taps).
 */
function wsparseSpace(q: ConvProblem & { readonly arch: ArchName }, p: GpuProfile, batch: number, w: ConvWeights): KernelSpec[] {
  if (!chooseWsparseTiles(p, q, batch, w.structure)) return [];
  const out: KernelSpec[] = [];
  for (const ppl of WSPARSE_PPLS) {
    for (const split of WSPARSE_SPLITS) {
      for (const cpb of WSPARSE_CPBS) {
        if (cpb * split > WSPARSE_MAX_WARPS) continue;
        const spec = wsparseSpecFor(q, w.structure, { ppl, split, cpb });
        if (wsparseUs(p, spec, batch)) out.push(spec);
      }
    }
  }
  return out;
}

/**
 * The rule families in the planner's order of preference: pxg where its rule serves the conv (few
 * output channels, one wave of blocks, >= PXG_MIN_ZEROS (60%) input zeros: the lab measured it 1.3-1.7 us
 * faster than dconv at >= 85%, run 40's tune on real activations from 65%), then dconv where its rule serves the shape (the lab measured it equal or faster there:
 * docs/PERFORMANCE.md), else igemm. The weight-sparse
 * families, last (wsparse, then wstage), serve only a conv whose weights are given with a known
 * pattern and at least WSPARSE_MIN_SPARSITY zeros; the planner takes the one of lower estimate and
 * weighs it against the others by estimate (src/plan/planner.ts). dual, last, has no rule yet: only
 * tune's measurement of its space puts it in a plan. A measured tie is
 * broken in this order too (src/plan/measured-choice.ts).
 */
const RULE_FAMILIES: readonly RuleFamily[] = [
  { family: 'pxg', supports: pxgSupports, choose: (q, p, batch, density) => choosePxgTiles(p, q, batch, density), space: (q, p, batch) => pxgCandidates(p, q, batch) },
  { family: 'dconv', supports: dconvSupports, choose: (q, p, batch, density) => chooseDconvTiles(p, q, batch, density), space: (q, p, batch) => dconvCandidates(p, q, batch) },
  { family: 'igemm', supports: igemmSupports, choose: (q, p, batch, _density, weights) => chooseIgemmTilesForWeights(p, q, batch, weights?.structure.start), space: (q, p, _batch, weights) => (q.k % 4 === 0 ? igemmCandidatesForWeights(p, q, weights?.structure.start) : []) },
  {
    family: 'wsparse', needsWeights: true, supports: wsparseSupports,
    choose: (q, p, batch, _density, weights) => (wsparseServes(weights) ? chooseWsparseTiles(p, q, batch, weights.structure) : null),
    space: (q, p, batch, weights) => (wsparseServes(weights) ? wsparseSpace(q, p, batch, weights) : []),
  },
  {
    family: 'wstage', needsWeights: true, supports: wstageSupports,
    choose: (q, p, batch, _density, weights) => (wsparseServes(weights) ? chooseWstageTiles(p, q, batch, weights.structure) : null),
    space: (q, p, batch, weights) => (wsparseServes(weights) ? wstageCandidates(p, q, batch, weights.structure).slice(0, WSTAGE_SPACE).map((c) => c.spec) : []),
  },
  {
    // Not yet measured on a GPU (src/families/dual/tiles.ts): no rule, tune times its space on pruned layers.
    family: 'dual', needsWeights: true, measuredOnly: true, supports: dualSupports,
    choose: () => null,
    space: (q, p, batch, weights) => (wsparseServes(weights) ? dualCandidates(p, q, batch, weights.structure) : []),
  },
  {
    // Lab-built for the dense 3x3 convs (tools/kernel-lab/wino.cuh, run 63). Its rule (batch 8 to 16, and the large
    // batch-1 outputs on sm_90: src/families/wino/tiles.ts) is preferred over the other families' where it serves
    // (src/plan/planner.ts): runs 70 and 84 measured it ahead of them there; tune still times its splits.
    family: 'wino', supports: winoSupports,
    choose: (q, p, batch) => chooseWinoTiles(p, q, batch),
    space: (q, p, batch) => winoCandidates(p, q, batch),
  },
];

/** Candidates of the wstage family `tune` times per conv: the cost model's best few (its space is large). */
const WSTAGE_SPACE = 8;

/** The rule families generated for `arch`, in the planner's order of preference. */
export function familiesFor(arch: ArchName): readonly RuleFamily[] {
  return RULE_FAMILIES.filter((f) => f.supports(arch));
}
