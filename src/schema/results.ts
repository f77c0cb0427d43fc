// results.json (`cusnn-gen bench`, read back by `cusnn-gen report`): 'cusnn-bench/2', and the older
// 'cusnn-bench/1' (read, then migrated by src/bench/migrate.ts). One schema per format, built from
// the same parts; every number finite (src/schema/check.ts). src/bench/report.ts's readResults
// checks a parsed document with `checkSchema(ResultsV2Schema | ResultsV1Schema, ...)` and then
// what a schema cannot say: an engine listed twice, a speedup on a cuDNN-path layer (/2).
import { Type, type Static, type TSchema } from '@sinclair/typebox';
import { RESULTS_FORMAT, type BenchResults } from '../bench/results.js';
import type { V1Results } from '../bench/migrate.js';
import { Count, Fraction, NonNegative, PositiveInt } from './tiles.js';

export const RESULTS_V1 = 'cusnn-bench/1';
export const RESULTS_V2 = RESULTS_FORMAT;

const Str = Type.String();
const OptStr = Type.Optional(Type.String());
const Nullable = <T extends TSchema>(t: T) => Type.Union([t, Type.Null()]);
const PrunePatternName = Type.Union([Type.Literal('unstructured'), Type.Literal('2:4'), Type.Literal('block4x1'), Type.Literal('filter')]);
/** A pruned variant's target: a fraction of zeros strictly between 0 and 1. */
const PruneTarget = Type.Number({ exclusiveMinimum: 0, exclusiveMaximum: 1, description: 'a fraction of zeros in (0, 1)' });
const Verdict = Type.Union([Type.Literal('faster'), Type.Literal('slower'), Type.Literal('tie')]);
const EngineName = Type.Union([Type.Literal('cusnn'), Type.Literal('cudnn'), Type.Literal('cudnn-implicit-gemm')]);

const Clock = Nullable(Type.Object({ smMHz: Type.Number(), memMHz: Type.Number(), temperatureC: Type.Number(), powerW: Type.Number() }));

const timing = <V extends 1 | 2>(v: V) => Type.Object({
  medianUs: NonNegative,
  p10Us: NonNegative,
  p90Us: NonNegative,
  iters: Count,
  ...(v === 2 ? { rounds: PositiveInt, roundMinUs: NonNegative, roundMaxUs: NonNegative } : {}),
});

const energy = <V extends 1 | 2>(v: V) => Nullable(Type.Object({
  mJPerInference: NonNegative,
  windowSeconds: NonNegative,
  inferences: Count,
  avgPowerW: NonNegative,
  idlePowerW: NonNegative,
  preWindowPowerW: Type.Optional(NonNegative),
  ...(v === 2 ? { rounds: PositiveInt, minMJ: NonNegative, maxMJ: NonNegative } : {}),
}));

const engine = <V extends 1 | 2>(v: V) => Type.Object({ engine: EngineName, time: timing(v), energy: energy(v), energyNote: OptStr });

const Spread = Nullable(Type.Object({ lo: NonNegative, hi: NonNegative }));
const Decision = Nullable(Type.Object({ actSparseUs: Nullable(NonNegative), cudnnUs: Nullable(NonNegative), verdict: Nullable(Verdict), reason: Str }));

const layerCore = {
  layer: Str,
  c: PositiveInt, h: PositiveInt, w: PositiveInt, k: PositiveInt, r: PositiveInt, s: PositiveInt, stride: PositiveInt,
  inputSparsity: Fraction,
  weightSparsity: Fraction,
  flops: NonNegative, usefulFlops: NonNegative, minBytes: NonNegative,
  path: Type.Union([Type.Literal('cudnn'), Type.Literal('act-sparse')]),
  kernel: Nullable(Str),
  cudnnAlgo: Str,
  cusnnUs: NonNegative, cudnnUs: NonNegative,
  cusnnGflops: NonNegative, cudnnGflops: NonNegative, floorUs: NonNegative, achievedFraction: NonNegative,
};
const LayerV1 = Type.Object({ ...layerCore, speedup: NonNegative });
const LayerV2 = Type.Object({
  ...layerCore,
  speedup: Nullable(NonNegative),
  cusnnSpreadUs: Spread,
  cudnnSpreadUs: Spread,
  verdict: Nullable(Verdict),
  decision: Decision,
});

const Correctness = Type.Object({
  maxRelError: Type.Object({ cusnn: Type.Number(), cudnn: Type.Number(), 'cudnn-implicit-gemm': Type.Number() }),
  tolerance: NonNegative,
  topAgree: Count,
  inputs: Count,
  passed: Type.Boolean(),
  inputSpread: Type.Optional(NonNegative),
});

const runCore = {
  model: Str,
  weights: Type.Union([Type.Literal('real'), Type.Literal('synthetic')]),
  weightsSource: Str,
  batch: PositiveInt,
  inputs: Str,
  correctness: Correctness,
  sparseLayers: Count,
  convLayers: Count,
  error: OptStr,
  seconds: NonNegative,
  notes: Type.Optional(Type.Array(Str)),
  kernels: Type.Optional(Count),
  buildSeconds: Type.Optional(NonNegative),
  buildReused: Type.Optional(Type.Boolean()),
  planBatch: Type.Optional(PositiveInt),
};
const RunV1 = Type.Object({ ...runCore, engines: Type.Array(engine(1)), layers: Type.Array(LayerV1) });
const RunV2 = Type.Object({
  ...runCore,
  // Pruned runs (optional: absent in files written before them).
  prune: Type.Optional(Nullable(Type.Object({ sparsity: PruneTarget, pattern: PrunePatternName }))),
  weightSparsity: Type.Optional(Fraction),
  images: Nullable(Type.Object({ calibrate: Type.Array(Str), time: Type.Array(Str), note: OptStr })),
  engines: Type.Array(engine(2)),
  layers: Type.Array(LayerV2),
});

const gpuCore = {
  name: Str, sm: Str, multiprocessors: Count, driver: Str, cudaRuntime: Str, cudnn: Str, cublas: Str,
  clocksStart: Clock, clocksEnd: Clock,
  peakFp32Tflops: NonNegative, bandwidthGBs: NonNegative,
  profileBoard: OptStr, pciBusId: OptStr, clocksNote: OptStr,
};
const Probe = Type.Object({
  smCount: NonNegative, smClockMHz: NonNegative, memClockMHz: NonNegative, memBusWidthBits: NonNegative,
  copyBytes: NonNegative, copyGBs: NonNegative, ffmaTflops: NonNegative,
  clockPeakFp32Tflops: Nullable(NonNegative), clockBandwidthGBs: NonNegative,
});
const GpuV1 = Type.Object(gpuCore);
const GpuV2 = Type.Object({
  ...gpuCore,
  roofline: Type.Object({ source: Type.Union([Type.Literal('measured'), Type.Literal('profile')]), note: OptStr, probe: Type.Optional(Probe) }),
});

const settings = <V extends 1 | 2>(v: V) => Type.Object({
  batches: Type.Array(PositiveInt),
  ...(v === 2 ? { rounds: Count } : {}),
  iters: Count,
  layerIters: Count,
  energySeconds: NonNegative,
  checkInputs: Count,
  tolerance: NonNegative,
  seed: Count,
  weightsDir: Nullable(Str),
  imagesDir: Nullable(Str),
  buildDir: Str,
  ...(v === 2 ? { prune: Type.Optional(Type.Array(PruneTarget)), prunePattern: Type.Optional(PrunePatternName) } : {}),
});

const top = { createdAt: Str, command: Str, arch: Str, seconds: Type.Optional(NonNegative) };
export const ResultsV1Schema = Type.Object({
  format: Type.Literal(RESULTS_V1), ...top, gpu: GpuV1, runs: Type.Array(RunV1), settings: Type.Optional(settings(1)),
});
export const ResultsV2Schema = Type.Object({
  format: Type.Literal(RESULTS_V2), ...top, gpu: GpuV2, runs: Type.Array(RunV2), settings: Type.Optional(settings(2)),
});

// The schemas' types must stay assignable to the ones the bench writes (a compile error when they drift).
type Assert<T extends true> = T;
export type ResultsV2Match = Assert<Static<typeof ResultsV2Schema> extends BenchResults ? true : false>;
export type ResultsV1Match = Assert<Static<typeof ResultsV1Schema> extends V1Results ? true : false>;
