// The results of `cusnn-gen bench`: one JSON document (results.json) that the bench writes and
// `cusnn-gen report` reads back to draw charts and tables without a GPU. Everything a chart or a
// table shows is in here; nothing is recomputed from the GPU afterwards.

/** The three engines the bench runs side by side in one process. */
export type Engine = 'cusnn' | 'cudnn' | 'cudnn-implicit-gemm';
export const ENGINES: readonly Engine[] = ['cusnn', 'cudnn', 'cudnn-implicit-gemm'];

/** CUDA-event timings of CUDA graph replays, after warm-up. */
export interface TimingStats {
  readonly medianUs: number;
  readonly p10Us: number;
  readonly p90Us: number;
  readonly iters: number;
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
  readonly cusnnUs: number;
  readonly cudnnUs: number;
  /** cudnnUs / cusnnUs. */
  readonly speedup: number;
  /** flops / time (dense-equivalent GFLOP/s, the usual convention). */
  readonly cusnnGflops: number;
  readonly cudnnGflops: number;
  /** Roofline floor: max(usefulFlops / peak FLOP/s, minBytes / bandwidth), microseconds. */
  readonly floorUs: number;
  /** floorUs / cusnnUs: how close the cusnn engine comes to the floor (1 = at the floor). */
  readonly achievedFraction: number;
}

export interface CorrectnessResult {
  /** max over inputs of ||engine - cudnn|| / ||cudnn|| at the network output, per engine. */
  readonly maxRelError: Readonly<Record<Engine, number>>;
  readonly tolerance: number;
  /** Inputs whose top-5 classes agree between cusnn and cudnn. */
  readonly topAgree: number;
  readonly inputs: number;
  readonly passed: boolean;
}

export interface ModelResult {
  readonly model: string;
  /** 'real': the shared ImageNet weights; 'synthetic': deterministic synthetic weights (named so in every chart). */
  readonly weights: 'real' | 'synthetic';
  readonly weightsSource: string;
  readonly batch: number;
  /** Images fed (files, or 'random' for synthetic image-like inputs). */
  readonly inputs: string;
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
  /** Peak figures used for the roofline. */
  readonly peakFp32Tflops: number;
  readonly bandwidthGBs: number;
  /** The board of the GPU profile (src/arch/profiles.ts) the peaks come from. */
  readonly profileBoard?: string;
  readonly pciBusId?: string;
  /** Why clocksStart / clocksEnd are null or incomplete (NVML missing or a reading unsupported). */
  readonly clocksNote?: string;
}

export interface ClockSample {
  readonly smMHz: number;
  readonly memMHz: number;
  readonly temperatureC: number;
  readonly powerW: number;
}

export interface BenchResults {
  readonly format: 'cusnn-bench/1';
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
  /** Timed whole-forward replays per engine, and per conv step. */
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
}
