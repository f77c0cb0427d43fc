// The results of `cusnn-gen bench`: one JSON document (results.json) that the bench writes and
// `cusnn-gen report` reads back to draw charts and tables without a GPU. Everything a chart or a
// table shows is in here; nothing is recomputed from the GPU afterwards.
//
// cusnn-bench/2 (this file) over /1: engines timed in interleaved rounds with the spread over
// rounds kept (TimingStats.rounds..., EnergyStats.rounds...), the image split between decisions
// and timing (ModelResult.images), per-layer speedups only for generated-kernel layers (null: n/a),
// each layer's decision measurement, and the roofline's source (GpuInfo.roofline). A /1 file is
// migrated on reading (src/bench/migrate.ts), with 1 round and the profile's peaks said so.
//
// Pruned runs (`bench --prune 0.8,0.9`) added optional fields, not a new format: a run's `prune`
// (how the bench pruned its weights; null: the weights as given) and `weightSparsity` (the
// measured fraction of zero conv weights), the settings' `prune` and `prunePattern`. Files
// without them read as before, and their CSV, charts and tables come out as before.

import type { RooflineMeasurement } from '../runtime/addon.js';
import type { PrunePattern } from '../weights/prune.js';

/** The three engines the bench runs side by side in one process. */
export type Engine = 'cusnn' | 'cudnn' | 'cudnn-implicit-gemm';
export const ENGINES: readonly Engine[] = ['cusnn', 'cudnn', 'cudnn-implicit-gemm'];

export const RESULTS_FORMAT = 'cusnn-bench/2';

/**
 * CUDA-event timings of CUDA graph replays, after warm-up, over `rounds` interleaved rounds
 * (A B C A B C ...): medianUs is the median of the rounds' medians; p10Us / p90Us the lowest p10
 * and the highest p90 of any round (the spread over rounds and replays); iters all replays.
 */
export interface TimingStats {
  readonly medianUs: number;
  readonly p10Us: number;
  readonly p90Us: number;
  readonly iters: number;
  readonly rounds: number;
  /** The fastest and slowest round's median (equal when rounds is 1). */
  readonly roundMinUs: number;
  readonly roundMaxUs: number;
}

/** NVML total-energy counter over a window of back-to-back inferences. */
export interface EnergyStats {
  /** Energy per inference (per forward pass of the whole batch), millijoules. */
  readonly mJPerInference: number;
  readonly windowSeconds: number;
  readonly inferences: number;
  /** Mean board power over the window, watts. */
  readonly avgPowerW: number;
  /** Board power at idle, watts: sampled when the bench started, before any GPU work (older files: just before the window). */
  readonly idlePowerW: number;
  /** Board power sampled ~200 ms before the window, after the previous work (not settled to idle), watts. */
  readonly preWindowPowerW?: number;
  /**
   * Windows measured, one per interleaved round; the fields above are the median round's (so
   * avgPowerW x windowSeconds / inferences is still mJPerInference), min/max the spread over rounds.
   */
  readonly rounds: number;
  readonly minMJ: number;
  readonly maxMJ: number;
}

export interface EngineResult {
  readonly engine: Engine;
  readonly time: TimingStats;
  /** null where NVML gave no energy counter; `energyNote` says why. */
  readonly energy: EnergyStats | null;
  readonly energyNote?: string;
}

/** One convolution, timed alone (its step captured in a graph) in both `cusnn` and `cudnn`. */
export interface LayerResult {
  readonly layer: string;
  /** Problem: input C x H x W, K filters of R x S, stride, batch. */
  readonly c: number;
  readonly h: number;
  readonly w: number;
  readonly k: number;
  readonly r: number;
  readonly s: number;
  readonly stride: number;
  /** Measured fraction of zeros in the conv's input (calibration on the bench's images). */
  readonly inputSparsity: number;
  /** Fraction of zeros in the conv's weights. */
  readonly weightSparsity: number;
  /** 2 * MACs of the dense conv. */
  readonly flops: number;
  /** 2 * MACs with a nonzero input and a nonzero weight (what a perfect sparse kernel must do). */
  readonly usefulFlops: number;
  /** Smallest possible DRAM traffic: nonzero inputs (value + position) + weights + output, bytes. */
  readonly minBytes: number;
  /** What the cusnn engine runs for this layer. */
  readonly path: 'cudnn' | 'act-sparse';
  readonly kernel: string | null;
  /** cuDNN's algorithm in the cudnn engine (chosen by measurement). */
  readonly cudnnAlgo: string;
  /** Medians over the interleaved rounds (see TimingStats), with the spread (null in /1 files). */
  readonly cusnnUs: number;
  readonly cudnnUs: number;
  readonly cusnnSpreadUs: Spread | null;
  readonly cudnnSpreadUs: Spread | null;
  /** cudnnUs / cusnnUs where the layer runs a generated kernel; null (n/a) on the cuDNN path: both engines run cuDNN there, the ratio is noise. */
  readonly speedup: number | null;
  /** 'tie' when one median lies inside the other's spread; null on the cuDNN path or without spreads. */
  readonly verdict: Verdict | null;
  /** The measurement that decided the path, on the calibration images (null in /1 files). */
  readonly decision: LayerDecision | null;
  /** flops / time (dense-equivalent GFLOP/s, the usual convention). */
  readonly cusnnGflops: number;
  readonly cudnnGflops: number;
  /** Roofline floor: max(usefulFlops / peak FLOP/s, minBytes / bandwidth), microseconds. */
  readonly floorUs: number;
  /** floorUs / cusnnUs: how close the cusnn engine comes to the floor (1 = at the floor). */
  readonly achievedFraction: number;
}

/** p10 and p90 (lowest / highest over rounds) of a time, microseconds. */
export interface Spread {
  readonly lo: number;
  readonly hi: number;
}

/** cusnn against a baseline: 'faster' / 'slower' outside the spreads, 'tie' inside. */
export type Verdict = 'faster' | 'slower' | 'tie';

export interface LayerDecision {
  /** Generated kernel and cuDNN step times on the calibration images (median of rounds); actSparseUs null without a kernel. */
  readonly actSparseUs: number | null;
  readonly cudnnUs: number | null;
  readonly verdict: Verdict | null;
  /** Why this path, in words (margin, tie, no kernel). */
  readonly reason: string;
}

/** Which images decided (calibration, tuning) and which checked and timed: never the same ones when there are two or more. */
export interface ImageSplit {
  readonly calibrate: readonly string[];
  readonly time: readonly string[];
  readonly note?: string;
}

export interface CorrectnessResult {
  /** max over inputs of ||engine - cudnn|| / ||cudnn|| at the network output, per engine. */
  readonly maxRelError: Readonly<Record<Engine, number>>;
  readonly tolerance: number;
  /** Inputs whose top-5 classes agree between cusnn and cudnn. */
  readonly topAgree: number;
  readonly inputs: number;
  readonly passed: boolean;
  /**
   * Largest ||ref_j - ref_0|| / ||ref_0|| over the checked inputs' cuDNN logits: near 0 means the
   * network gives every input the same output (activations that die out, e.g. a synthetic network
   * pruned hard), so the check could not tell engines apart. Absent in results written before it.
   */
  readonly inputSpread?: number;
}

/** Below this input spread the correctness check is reported as degenerate. */
export const DEGENERATE_SPREAD = 1e-6;

/** How the bench pruned a run's weights: src/weights/prune.ts per layer, the first conv and the dense layers kept dense (as `cusnn-gen prune` does by default). */
export interface PruneSpec {
  /** Target fraction of zeros in each pruned conv kernel. */
  readonly sparsity: number;
  readonly pattern: PrunePattern;
}

/** A run whose conv weights are at least this fraction zeros counts as pruned weights, also when the weights file came pruned (prune null). */
export const PRUNED_WEIGHTS = 0.5;

export interface ModelResult {
  readonly model: string;
  /** 'real': weights from a file (the shared ImageNet weights, an ONNX model's own initializers: weightsSource says which); 'synthetic': deterministic synthetic weights (named so in every chart). */
  readonly weights: 'real' | 'synthetic';
  readonly weightsSource: string;
  /**
   * How the bench pruned these weights (a variant of the model's source weights, run as a run of
   * its own); null: the weights as given. Absent in files written before pruned runs.
   */
  readonly prune?: PruneSpec | null;
  /** Measured fraction of zeros over all conv kernels of the weights this run ran (absent in older files, and when the weights could not be read). */
  readonly weightSparsity?: number;
  readonly batch: number;
  /** Images fed (files, or 'random' for synthetic image-like inputs). */
  readonly inputs: string;
  /** The split of those images (null in /1 files: one set did everything). */
  readonly images: ImageSplit | null;
  readonly correctness: CorrectnessResult;
  /** Empty when correctness failed (the bench stops for that model and says why in `error`). */
  readonly engines: readonly EngineResult[];
  readonly layers: readonly LayerResult[];
  /** Layers the cusnn engine runs through generated kernels / convs in total. */
  readonly sparseLayers: number;
  readonly convLayers: number;
  readonly error?: string;
  /** Wall seconds spent on this model (generate, build, calibrate, check, time). */
  readonly seconds: number;
  /** What a reader must know about this run: tensors filled synthetically, inputs repeated to fill the batch, ... */
  readonly notes?: readonly string[];
  /** Generated kernels in the model's folder (every eligible conv has one) and the addon build: seconds, or reused from an earlier run. */
  readonly kernels?: number;
  readonly buildSeconds?: number;
  readonly buildReused?: boolean;
  /**
   * The batch whose plan gave the generated kernels this run decided among (the folder holds one
   * plan per benched batch, so this is the run's own batch). Absent in files written before.
   */
  readonly planBatch?: number;
}

export interface GpuInfo {
  readonly name: string;
  readonly sm: string;
  readonly multiprocessors: number;
  readonly driver: string;
  readonly cudaRuntime: string;
  readonly cudnn: string;
  readonly cublas: string;
  /** SM and memory clocks (MHz) and temperature (C) when the bench started and ended. */
  readonly clocksStart: ClockSample | null;
  readonly clocksEnd: ClockSample | null;
  /** Peak figures used for the roofline (roofline.source says whether measured on this GPU or from a profile). */
  readonly peakFp32Tflops: number;
  readonly bandwidthGBs: number;
  readonly roofline: RooflineInfo;
  /** The board of the GPU profile (src/arch/profiles.ts) the peaks come from. */
  readonly profileBoard?: string;
  readonly pciBusId?: string;
  /** Why clocksStart / clocksEnd are null or incomplete (NVML missing or a reading unsupported). */
  readonly clocksNote?: string;
}

/** Where the roofline's peaks come from. */
export interface RooflineInfo {
  /** 'measured': the probe on the GPU the bench ran on; 'profile': src/arch/profiles.ts (note says why). */
  readonly source: 'measured' | 'profile';
  readonly note?: string;
  /** Probe results at bench start (absent with source 'profile'). */
  readonly probe?: RooflineProbe;
}

/** The addon's probeRoofline() (its fields: src/runtime/addon.ts), with the clock-derived peaks beside it. */
export interface RooflineProbe extends RooflineMeasurement {
  /** SMs x fp32 lanes x 2 x max clock (lanes from the profile), and clock x bus width x 2, for comparison. */
  readonly clockPeakFp32Tflops: number | null;
  readonly clockBandwidthGBs: number;
}

export interface ClockSample {
  readonly smMHz: number;
  readonly memMHz: number;
  readonly temperatureC: number;
  readonly powerW: number;
}

export interface BenchResults {
  readonly format: typeof RESULTS_FORMAT;
  readonly createdAt: string;
  /** The command line that produced this file. */
  readonly command: string;
  readonly arch: string;
  readonly gpu: GpuInfo;
  readonly runs: readonly ModelResult[];
  /** The settings the bench ran with. */
  readonly settings?: BenchSettings;
  /** Wall seconds of the whole bench. */
  readonly seconds?: number;
}

export interface BenchSettings {
  readonly batches: readonly number[];
  /** Interleaved rounds of every timing and energy measurement (0 in /1 files: not interleaved). */
  readonly rounds: number;
  /** Timed whole-forward replays per engine, and per conv step (all rounds together). */
  readonly iters: number;
  readonly layerIters: number;
  /** Minimum energy window per engine (0: energy not measured). */
  readonly energySeconds: number;
  /** Inputs compared per engine before timing, and the tolerance. */
  readonly checkInputs: number;
  readonly tolerance: number;
  readonly seed: number;
  readonly weightsDir: string | null;
  readonly imagesDir: string | null;
  readonly buildDir: string;
  /** The pruned variants' target sparsities and their pattern (absent: no pruned runs). */
  readonly prune?: readonly number[];
  readonly prunePattern?: PrunePattern;
}
