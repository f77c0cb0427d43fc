// calibration.json (`cusnn-gen calibrate`, read by the planner): format 'cusnn-calibration/1'.
import { Type, type Static } from '@sinclair/typebox';
import type { Calibration } from '../sparsity/calibration.js';
import { ArchString, Fraction, KernelTilesSchema, Positive, PositiveInt } from './tiles.js';

export const CALIBRATION_FORMAT = 'cusnn-calibration/1';

export const MeasuredSchema = Type.Object({
  kernel: Type.String({ minLength: 1 }),
  tiles: KernelTilesSchema,
  cudnnUs: Positive,
  cudnnAlgo: Type.String(),
  actSparseUs: Positive,
  cudnnP10Us: Type.Optional(Positive),
  cudnnP90Us: Type.Optional(Positive),
  actSparseP10Us: Type.Optional(Positive),
  actSparseP90Us: Type.Optional(Positive),
  weights: Type.Optional(Type.String({ pattern: '^[0-9a-f]{10}$', description: 'the digest of the layer\'s weight structure (10 hex digits)' })),
});

export const CalibratedLayerSchema = Type.Object({
  inputSparsity: Fraction,
  measured: Type.Optional(MeasuredSchema),
});

export const CalibrationSchema = Type.Object({
  format: Type.Literal(CALIBRATION_FORMAT),
  model: Type.String({ minLength: 1 }),
  images: PositiveInt,
  weights: Type.Optional(Type.String()),
  layers: Type.Record(Type.String(), CalibratedLayerSchema, { description: 'an object of conv layer name -> {inputSparsity, measured?}' }),
  gpu: Type.Optional(Type.String()),
  arch: Type.Optional(ArchString),
});

type Assert<T extends true> = T;
export type CalibrationMatch = Assert<Static<typeof CalibrationSchema> extends Calibration ? true : false>;
