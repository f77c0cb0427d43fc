// plan.json (written by the generator, read by the runtime, inspect and bench): 'cusnn-plan/1'.
// A folder planned for several batch sizes keeps the same format: the top level is the smallest
// batch's complete plan and the optional `batches` holds the others (batch and convs each), so
// single-batch folders written before it load unchanged and readers of one plan read the first.
import { Type, type Static } from '@sinclair/typebox';
import type { ArchName } from '../arch/profiles.js';
import type { NetworkPlan } from '../plan/types.js';
import {
  ActSparseTileFields, ArchString, ConvProblemFields, Count, DconvTileFields, DualTileFields, Fraction, IgemmTileFields, NonNegative, PositiveInt, PxgTileFields, WinoTileFields, WsparseTileFields, WstageTileFields,
} from './tiles.js';

export const PLAN_FORMAT = 'cusnn-plan/1';

const Problem = { arch: ArchString, ...ConvProblemFields };

export const ActSparseSpecSchema = Type.Object({ family: Type.Literal('act-sparse'), ...Problem, ...ActSparseTileFields });

/** igemm's spec; `residual`: the epilogue adds a shortcut tensor (the plan's fused residual add, src/plan/residual.ts). */
export const IgemmSpecSchema = Type.Object({ family: Type.Literal('igemm'), ...Problem, ...IgemmTileFields, residual: Type.Optional(Type.Literal(true)) });

export const DconvSpecSchema = Type.Object({ family: Type.Literal('dconv'), ...Problem, ...DconvTileFields });

export const PxgSpecSchema = Type.Object({ family: Type.Literal('pxg'), ...Problem, ...PxgTileFields });

/** The wsparse family's spec (src/families/wsparse/spec.ts): tiles and the structure figures they were derived with. */
export const WsparseSpecSchema = Type.Object({
  family: Type.Literal('wsparse'), ...Problem,
  ...WsparseTileFields,
});

/** The wstage family's spec (src/families/wstage/spec.ts). */
export const WstageSpecSchema = Type.Object({
  family: Type.Literal('wstage'), ...Problem,
  ...WstageTileFields,
});

/** The dual family's spec (src/families/dual/spec.ts). */
export const DualSpecSchema = Type.Object({
  family: Type.Literal('dual'), ...Problem,
  ...DualTileFields,
});

/** The wino family's spec (src/families/wino/spec.ts). */
export const WinoSpecSchema = Type.Object({ family: Type.Literal('wino'), ...Problem, ...WinoTileFields });

/**
 * A family registered after these schemas (src/families/registry.ts): the problem fields checked,
 * its tile fields finite numbers, booleans or strings. act-sparse, igemm, dconv, pxg, wsparse, wstage, dual and wino are checked exactly.
 */
export const OtherFamilySpecSchema = Type.Object(
  { family: Type.String({ pattern: '^(?!act-sparse$|igemm$|dconv$|pxg$|wsparse$|wstage$|dual$|wino$)[a-z][a-z0-9-]*$', description: 'a kernel family name' }), ...Problem },
  { additionalProperties: Type.Union([Type.Number(), Type.Boolean(), Type.String()]) },
);

const Triple = Type.Tuple([PositiveInt, PositiveInt, PositiveInt]);
const Pair = Type.Tuple([PositiveInt, PositiveInt]);

export const ResourcesSchema = Type.Object({
  threads: PositiveInt,
  windowH: PositiveInt,
  windowW: PositiveInt,
  sharedBytes: Count,
  regsEstimate: Count,
  grid: Triple,
});

/** What the sparsity profile found in a conv's weights (ConvPlan.weightPattern). */
export const WeightFactsSchema = Type.Object({
  pattern: Type.Union([Type.Literal('dense'), Type.Literal('unstructured'), Type.Literal('2:4'), Type.Literal('block4x1'), Type.Literal('filter')]),
  density: Fraction,
  nnzPerOutChannel: Type.Object({ min: NonNegative, mean: NonNegative, max: NonNegative }),
  digest: Type.Union([Type.String({ pattern: '^[0-9a-f]{10}$', description: 'a weight structure digest (10 hex digits)' }), Type.Null()]),
});

const NullableUs = Type.Union([NonNegative, Type.Null()]);

/** A measured decision (ConvPlan.measured, src/plan/measured-choice.ts). */
export const MeasuredDecisionSchema = Type.Object({
  source: Type.Union([Type.Literal('tune'), Type.Literal('calibration')]),
  gpu: Type.String({ minLength: 1 }),
  cudnn: Type.Object({ us: NonNegative, p10Us: NonNegative, p90Us: NonNegative, algo: Type.Union([Type.String(), Type.Null()]) }),
  candidates: Type.Array(Type.Object({
    family: Type.String({ minLength: 1 }), kernel: Type.String({ minLength: 1 }), us: NullableUs, p10Us: NullableUs, p90Us: NullableUs,
    discarded: Type.Optional(Type.String()),
  })),
  winner: Type.String({ minLength: 1 }),
  why: Type.String(),
});

export const ConvPlanSchema = Type.Object({
  layer: Type.String({ minLength: 1 }),
  input: Triple,
  output: Triple,
  kernel: Pair,
  stride: Pair,
  pad: Type.Tuple([Count, Count, Count, Count]),
  macs: NonNegative,
  inputSparsity: Fraction,
  inputSparsitySource: Type.Union([Type.Literal('calibration'), Type.Literal('estimate'), Type.Literal('image')]),
  weightSparsity: Fraction,
  decision: Type.Union([Type.Literal('cudnn'), Type.Literal('act-sparse'), Type.Literal('weight-sparse')]),
  reason: Type.String(),
  estimate: Type.Object({ cudnnUs: NonNegative, actSparseUs: Type.Union([NonNegative, Type.Null()]) }),
  kernelName: Type.Union([Type.String({ minLength: 1 }), Type.Null()]),
  spec: Type.Union([ActSparseSpecSchema, IgemmSpecSchema, DconvSpecSchema, PxgSpecSchema, WsparseSpecSchema, WstageSpecSchema, DualSpecSchema, WinoSpecSchema, OtherFamilySpecSchema, Type.Null()]),
  resources: Type.Union([ResourcesSchema, Type.Null()]),
  occupancy: Type.Union([Fraction, Type.Null()]),
  waves: Type.Union([NonNegative, Type.Null()]),
  fusedRelu: Type.Boolean(),
  weightPattern: Type.Optional(WeightFactsSchema),
  measured: Type.Optional(MeasuredDecisionSchema),
  residual: Type.Optional(Type.Object({ add: Type.String({ minLength: 1 }), shortcut: Type.String({ minLength: 1 }), relu: Type.Union([Type.String({ minLength: 1 }), Type.Null()]) })),
});

/** One more batch size's plan (NetworkPlan.batches): its batch and its convs. */
export const BatchPlanSchema = Type.Object({
  batch: PositiveInt,
  convs: Type.Array(ConvPlanSchema),
});

export const PlanSchema = Type.Object({
  format: Type.Literal(PLAN_FORMAT),
  model: Type.String({ minLength: 1 }),
  arch: ArchString,
  board: Type.String(),
  batch: PositiveInt,
  weights: Type.String(),
  weightsRef: Type.Object({ path: Type.Union([Type.String(), Type.Null()]), seed: Count, fillMissing: Type.Boolean() }),
  sparsitySource: Type.String(),
  convs: Type.Array(ConvPlanSchema),
  batches: Type.Optional(Type.Array(BatchPlanSchema)),
});

/** The schema's type with the arch narrowed (the zoo's ArchName is checked by the profile lookup). */
type Narrow<T> = T extends { arch: string; family: 'act-sparse' | 'igemm' | 'dconv' | 'pxg' | 'wsparse' | 'wstage' | 'dual' | 'wino' } ? Omit<T, 'arch'> & { arch: ArchName } : T extends { arch: string } ? never : T;
type Assert<T extends true> = T;
type NarrowConv = Omit<Static<typeof ConvPlanSchema>, 'spec'> & { spec: Narrow<Static<typeof ConvPlanSchema>['spec']> };
export type PlanMatch = Assert<
  Omit<Static<typeof PlanSchema>, 'arch' | 'convs' | 'batches'> & { arch: ArchName; convs: NarrowConv[]; batches?: { batch: number; convs: NarrowConv[] }[] } extends NetworkPlan ? true : false
>;
