// Kernel tiles as stored with a measurement (calibration.json's `measured.tiles`, the tune cache):
// act-sparse {th, tw, tc, kb, cs} (family absent or 'act-sparse') or igemm {family: 'igemm', bm,
// bn, bkc, tm, tn, warpM, split, stages, vec?, kept?} or dconv {family: 'dconv', bm, tm, tn, rowsT, bkc, split,
// stages} or wsparse {family: 'wsparse', ppl, split, cpb, patternDigest, nnz, rowMax, kActive} or
// wstage {family: 'wstage', rows, warps, groups, patternDigest, nnz, rowMax, kActive, slotMax, chunk?, slotChMax?, chunkMax?}
// or pxg {family: 'pxg', warps, unroll, ppb?} or dual {family: 'dual', warps, unroll, patternDigest, nnz, rowMax, rowsLive}
// or wino {family: 'wino', split, warps?}.
import { Type, type Static } from '@sinclair/typebox';
import type { KernelTiles } from '../families/registry.js';

export const PositiveInt = Type.Integer({ minimum: 1 });
export const Count = Type.Integer({ minimum: 0 });
/** A finite number > 0 (times, sizes). */
export const Positive = Type.Number({ exclusiveMinimum: 0 });
export const NonNegative = Type.Number({ minimum: 0 });
export const Fraction = Type.Number({ minimum: 0, maximum: 1 });
export const ArchString = Type.String({ pattern: '^sm_[0-9]+$', description: 'an arch name such as "sm_80"' });

/** The problem fields every family's spec has (src/plan/types.ts ConvProblem). */
export const ConvProblemFields = {
  c: PositiveInt,
  h: PositiveInt,
  w: PositiveInt,
  k: PositiveInt,
  r: PositiveInt,
  s: PositiveInt,
  strideH: PositiveInt,
  strideW: PositiveInt,
  padTop: Count,
  padLeft: Count,
  ho: PositiveInt,
  wo: PositiveInt,
  bias: Type.Boolean(),
  relu: Type.Boolean(),
};

/** Each family's tile fields, shared by its spec (plan.json) and its tiles (calibration, tune cache). */
export const ActSparseTileFields = { th: PositiveInt, tw: PositiveInt, tc: PositiveInt, kb: PositiveInt, cs: PositiveInt };
export const IgemmTileFields = {
  bm: PositiveInt, bn: PositiveInt, bkc: PositiveInt, tm: PositiveInt, tn: PositiveInt, warpM: PositiveInt, split: PositiveInt, stages: PositiveInt,
  /** 4: 16-byte pixel copies and stores (large-batch 1x1 tiles); absent: 4-byte copies. */
  vec: Type.Optional(Type.Literal(4)),
  /** Whole-filter pruning: the output channels whose filters the kernel computes (ascending); absent: all. */
  kept: Type.Optional(Type.Array(Type.Integer({ minimum: 0 }), { minItems: 4 })),
};
export const DconvTileFields = {
  bm: PositiveInt, tm: PositiveInt, tn: PositiveInt, rowsT: PositiveInt, bkc: PositiveInt, split: PositiveInt, stages: PositiveInt,
};

export const PxgTileFields = { warps: PositiveInt, unroll: PositiveInt, ppb: Type.Optional(PositiveInt), pdl: Type.Optional(Type.Literal(false)) };

/** wsparse: the tiles and the structure figures they were derived with (a measurement holds for one weight structure). */
export const WsparseTileFields = {
  ppl: PositiveInt, split: PositiveInt, cpb: PositiveInt,
  patternDigest: Type.String({ pattern: '^[0-9a-f]{10}$', description: 'the digest of the layer\'s nonzero structure (10 hex digits)' }),
  nnz: Count, rowMax: Count, kActive: Count,
};

/** wstage: the tiles and the structure figures they were derived with, as for wsparse. */
export const WstageTileFields = {
  rows: PositiveInt, warps: PositiveInt, groups: PositiveInt,
  patternDigest: WsparseTileFields.patternDigest,
  nnz: Count, rowMax: Count, kActive: Count, slotMax: Count,
  chunk: Type.Optional(PositiveInt), slotChMax: Type.Optional(PositiveInt), chunkMax: Type.Optional(Count),
};

/** dual: the tiles and the structure figures they were derived with, as for wsparse. */
export const DualTileFields = {
  warps: PositiveInt, unroll: PositiveInt,
  patternDigest: WsparseTileFields.patternDigest,
  nnz: Count, rowMax: Count, rowsLive: Count,
};

export const ActSparseTilesSchema = Type.Object({ family: Type.Optional(Type.Literal('act-sparse')), ...ActSparseTileFields });
export const IgemmTilesSchema = Type.Object({ family: Type.Literal('igemm'), ...IgemmTileFields });
export const DconvTilesSchema = Type.Object({ family: Type.Literal('dconv'), ...DconvTileFields });

export const WsparseTilesSchema = Type.Object({ family: Type.Literal('wsparse'), ...WsparseTileFields });

export const WstageTilesSchema = Type.Object({ family: Type.Literal('wstage'), ...WstageTileFields });

export const PxgTilesSchema = Type.Object({ family: Type.Literal('pxg'), ...PxgTileFields });

export const DualTilesSchema = Type.Object({ family: Type.Literal('dual'), ...DualTileFields });

/** wino: the cluster split of the input channels and, when 16, the warps a block (absent: 8; src/families/wino/spec.ts). */
export const WinoTileFields = { split: Type.Union([Type.Literal(1), Type.Literal(2), Type.Literal(4), Type.Literal(8)]), warps: Type.Optional(Type.Literal(16)) };
export const WinoTilesSchema = Type.Object({ family: Type.Literal('wino'), ...WinoTileFields });

export const KernelTilesSchema = Type.Union([IgemmTilesSchema, DconvTilesSchema, PxgTilesSchema, WsparseTilesSchema, WstageTilesSchema, DualTilesSchema, WinoTilesSchema, ActSparseTilesSchema]);

// The schema's type must stay assignable to the registry's (a compile error when they drift).
type Assert<T extends true> = T;
export type TilesMatch = Assert<Static<typeof KernelTilesSchema> extends KernelTiles ? true : false>;
