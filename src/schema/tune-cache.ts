// The tune cache ('cusnn-tune/1', written by `cusnn-gen tune`, read by the planner): the schema of
// src/plan/tune-cache.ts's TuneCache, entry by entry. That file's reader checks a parsed document
// with `checkSchema(TuneCacheSchema, data, 'tune cache <file>')`.
import { Type, type Static, type TSchema } from '@sinclair/typebox';
import type { TuneCache } from '../plan/tune-cache.js';
import { ArchString, ConvProblemFields, Count, Fraction, KernelTilesSchema, PositiveInt, Positive } from './tiles.js';

export const TUNE_FORMAT = 'cusnn-tune/1';

export const TuneShapeSchema = Type.Object(ConvProblemFields);

const pick = <T extends TSchema>(us: T) =>
  Type.Object({ kernel: Type.String({ minLength: 1 }), tiles: KernelTilesSchema, us });

export const TunedLayerSchema = Type.Object({
  model: Type.String({ minLength: 1 }),
  layer: Type.String({ minLength: 1 }),
  zeros: Fraction,
  bestUs: Positive,
  heuristicUs: Type.Union([Positive, Type.Null()]),
  cudnnUs: Positive,
});

const NullableUs = Type.Union([Positive, Type.Null()]);

/** One candidate as measured (src/plan/measured-choice.ts MeasuredCandidate). */
export const MeasuredCandidateSchema = Type.Object({
  family: Type.String({ pattern: '^[a-z][a-z0-9-]*$', description: 'a kernel family name' }),
  kernel: Type.String({ minLength: 1 }),
  tiles: KernelTilesSchema,
  us: NullableUs,
  p10Us: NullableUs,
  p90Us: NullableUs,
  discarded: Type.Union([Type.String(), Type.Null()]),
});

export const TunedMeasurementsSchema = Type.Object({
  cudnn: Type.Object({ us: Positive, p10Us: Positive, p90Us: Positive, algo: Type.Union([Type.String(), Type.Null()]) }),
  candidates: Type.Array(MeasuredCandidateSchema, { minItems: 1, description: 'a non-empty list of the candidates measured' }),
});

export const TuneEntrySchema = Type.Object({
  gpu: Type.String({ minLength: 1 }),
  arch: ArchString,
  shape: TuneShapeSchema,
  bucket: Type.Integer({ minimum: 0, maximum: 100, multipleOf: 10, description: 'a zeros bucket 0, 10, ..., 100' }),
  batch: PositiveInt,
  best: pick(Positive),
  heuristic: Type.Union([pick(Type.Union([Positive, Type.Null()])), Type.Null()]),
  cudnnUs: Positive,
  candidates: PositiveInt,
  discarded: Count,
  inputs: Type.Union([Type.Literal('images'), Type.Literal('random')]),
  iters: PositiveInt,
  layers: Type.Array(TunedLayerSchema, { minItems: 1, description: 'a non-empty list of the layers it was measured on ({model, layer, zeros, bestUs, heuristicUs, cudnnUs})' }),
  weights: Type.Optional(Type.String({ pattern: '^[0-9a-f]{10}$', description: 'the digest of the layers\' weight structure (10 hex digits)' })),
  measured: Type.Optional(TunedMeasurementsSchema),
});

export const TuneCacheSchema = Type.Object({
  format: Type.Literal(TUNE_FORMAT),
  entries: Type.Record(Type.String(), TuneEntrySchema),
});

// The schema's type must stay assignable to the planner's (a compile error when they drift); arch is
// narrowed to a known ArchName by the reader.
type Assert<T extends true> = T;
type Narrowed = Omit<Static<typeof TuneEntrySchema>, 'arch'> & { arch: TuneCache['entries'][string]['arch'] };
export type TuneCacheMatch = Assert<{ format: typeof TUNE_FORMAT; entries: Record<string, Narrowed> } extends TuneCache ? true : false>;
