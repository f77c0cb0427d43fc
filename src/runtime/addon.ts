// Loads a generated folder's native addon (built by `cusnn-gen build <dir>`, src/toolchain/addon.ts)
// and types what it exports (src/native/addon.cpp). Loading fails with one clear Error, never a
// crash: when the addon was not built, when it cannot be loaded (a missing shared library), and
// when there is no usable GPU ("no CUDA device: ... (the addon at ... needs an NVIDIA GPU)").
// The CUDA runtime loads the driver lazily, so the .node itself loads on a machine without one;
// the device check is the explicit deviceInfo() call made here.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, resolve } from 'node:path';
import type { Program } from './program.js';

/** The build's manifest in `<dir>/build/` (written by src/toolchain/addon.ts). */
const ADDON_MANIFEST = 'cusnn-addon.json';

export interface DeviceInfo {
  readonly name: string;
  /** e.g. "9.0" */
  readonly computeCapability: string;
  /** e.g. "sm_90" */
  readonly sm: string;
  readonly multiprocessors: number;
  readonly globalMemoryBytes: number;
  readonly l2Bytes: number;
  /** CUDA versions as 1000 * major + 10 * minor (13000 = 13.0). */
  readonly driverVersion: number;
  readonly runtimeVersion: number;
  /** cudnnGetVersion(), e.g. 91400 for 9.14.0. */
  readonly cudnnVersion: number;
  readonly cublasVersion: string;
  /** Architecture the addon was compiled for. */
  readonly buildArch: string;
}

export interface BuildInfo {
  readonly buildArch: string;
  readonly generatedArch: string;
  readonly cudnnHeaderVersion: number;
  readonly cudaRuntimeHeaderVersion: number;
  readonly kernels: readonly string[];
}

export interface RuntimeOptions {
  /** 'static': each conv's planned path; 'dynamic': decided per forward on the device from the
   * zero count of the conv's input and its threshold; 'cudnn': every conv through cuDNN. */
  readonly mode: 'static' | 'dynamic' | 'cudnn';
  /** 'fp32' (default): exact fp32 (cuDNN FMA math, cuBLAS default math); 'tf32' allows TF32. */
  readonly math?: 'fp32' | 'tf32';
  /** Dynamic mode: record which branch each dynamic conv took (an extra memset node per branch). */
  readonly traceBranches?: boolean;
  /** runEager only: synchronize after every step, so an asynchronous fault names its layer. */
  readonly syncEachStep?: boolean;
  readonly device?: number;
  /** Timed graph replays per cuDNN algorithm when choosing algorithms at load (default 10). */
  readonly selectIters?: number;
  /** 'search' (default): each cuDNN conv's algorithm by measurement; 'implicit-gemm': all fixed to IMPLICIT_GEMM (the original artifact's baseline). */
  readonly algo?: 'search' | 'implicit-gemm';
}

/** NVML reading of the GPU (gpuSample). A field NVML does not support on this GPU is null; `notes` says why. */
export interface GpuSample {
  readonly smMHz: number | null;
  readonly memMHz: number | null;
  readonly temperatureC: number | null;
  readonly powerW: number | null;
  /** NVIDIA driver version, e.g. "580.65.06". */
  readonly driver: string;
  /** NVML's name of the GPU. */
  readonly name: string;
  /** PCI bus id of the CUDA device (how the NVML device was found). */
  readonly pciBusId: string;
  readonly notes: string;
}

/** Energy of back-to-back forward graph replays, from NVML's total-energy counter (measureEnergy). */
export interface EnergyMeasurement {
  /** Energy per replay (one forward of the whole batch), millijoules. */
  readonly mJPerInference: number;
  /** Host wall time between the two counter readings (>= minSeconds). */
  readonly windowSeconds: number;
  readonly inferences: number;
  /** Counter difference / window, watts. */
  readonly avgPowerW: number;
  /** Board power after an idle pause before the window, watts. */
  readonly idlePowerW: number;
  /** Mean replay time inside the window (host clock), microseconds. */
  readonly replayUs: number;
  /** Counter difference, millijoules. */
  readonly energyMj: number;
  /** NVML's name of the GPU. */
  readonly gpu: string;
}

export interface Timing {
  readonly medianUs: number;
  readonly p10Us: number;
  readonly p90Us: number;
  readonly iters: number;
}

export interface AlgoCandidate {
  readonly algo: number;
  readonly algoName: string;
  /** "ok", or why the algorithm was not kept. */
  readonly status: string;
  /** Median of the timed replays, -1 when not timed. */
  readonly us: number;
  readonly workspaceBytes: number;
}

export interface ConvAlgorithm {
  readonly step: number;
  readonly layer: string;
  readonly algo: number;
  readonly algoName: string;
  readonly us: number;
  readonly workspaceBytes: number;
  /** Same problem as an earlier conv of this process (any runtime, same device and math): its measurement was reused, so every runtime runs that problem with the same algorithm. */
  readonly cached: boolean;
  readonly candidates: readonly AlgoCandidate[];
}

export interface RuntimeInfo {
  readonly model: string;
  readonly batch: number;
  readonly steps: number;
  readonly mode: RuntimeOptions['mode'];
  readonly math: 'fp32' | 'tf32';
  /** How the cuDNN convs got their algorithm (RuntimeOptions.algo). */
  readonly algo: 'search' | 'implicit-gemm';
  /** Conditional nodes used by dynamic mode: 'if-else', 'two-if', or 'none' outside dynamic mode. */
  readonly conditional: 'if-else' | 'two-if' | 'none';
  /** Dynamic branches that went into their conditional node as a child graph (direct capture failed), and why. */
  readonly bodyFallbacks: number;
  readonly bodyNote: string;
  readonly deviceBytes: number;
  readonly inputFloats: number;
  readonly outputFloats: number;
}

export interface NativeRuntime {
  /** Copies `input` (batch x c x h x w of Program.input) in, replays the forward graph, returns Program.output. */
  run(input: Float32Array): Float32Array;
  /** The same forward step by step without the graph (dynamic convs decided on the host). */
  runEager(input: Float32Array): Float32Array;
  /** A view's contents after the last forward (a Program.views name, or '@input' / '@output'), packed batch x c x h x w. */
  readView(layer: string): Float32Array;
  /** A whole activation buffer. */
  readBuffer(index: number): Float32Array;
  /** Fills every activation buffer with `value` (NaN poisons: unwritten elements show up). */
  fillBuffers(value: number): void;
  /** Program.zeroCounters after the last forward (exact below 2^53). */
  zeroCounts(): Float64Array;
  /** Per step: 1 generated kernel, 0 cuDNN, -1 not a conv (or an untraced dynamic conv). */
  branches(): Int32Array;
  /** CUDA events around `iters` replays of the forward graph (after warm-up), on the last input. */
  timeForward(iters?: number): Timing;
  /**
   * The same for one step captured alone (its zero counter is restored afterwards); with
   * `copies` > 1 the graph holds that many enqueues of the step and each replay's time is divided
   * by copies (the step's cost inside a network's graph, the graph launch shared; 1..64, default 1).
   */
  timeStep(stepIndex: number, iters?: number, copies?: number): Timing;
  /**
   * After a run(): idles `idleMs` (default 200), samples the idle board power, then replays the
   * forward graph back-to-back until at least `minSeconds` (default 2; NVML's counter updates too
   * rarely for shorter windows) have passed, reading the total-energy counter right before the
   * first replay and right after the last. Throws "NVML: ..." where NVML or its counter is missing
   * (e.g. "NVML: total energy counter not supported on <gpu>: ...").
   */
  measureEnergy(minSeconds?: number, idleMs?: number): EnergyMeasurement;
  /** The cuDNN algorithm chosen per conv and every candidate's measurement ('implicit-gemm': IMPLICIT_GEMM, us = -1, not timed). */
  algorithms(): ConvAlgorithm[];
  info(): RuntimeInfo;
  /** Frees the GPU memory now (otherwise at garbage collection); later calls throw. */
  dispose(): void;
}

/** probeRoofline(): the device's clocks and a measured copy bandwidth and FFMA rate (src/native/probe.cu). */
export interface RooflineMeasurement {
  readonly smCount: number;
  /** Maximum clocks the device reports (cudaDevAttrClockRate / MemoryClockRate), MHz; bus width in bits. */
  readonly smClockMHz: number;
  readonly memClockMHz: number;
  readonly memBusWidthBits: number;
  /** Bytes of one device-to-device copy; the best repetition's rate, read + write counted, GB/s. */
  readonly copyBytes: number;
  readonly copyGBs: number;
  /** The best repetition of an FFMA-chain kernel on every SM, 2 FLOP per FFMA, TFLOP/s. */
  readonly ffmaTflops: number;
}

export interface CusnnAddon {
  /** Throws "no CUDA device: ..." where there is no usable GPU. */
  deviceInfo(device?: number): DeviceInfo;
  /** No GPU needed. */
  buildInfo(): BuildInfo;
  /** Names in the generated kernel registry (no GPU needed). */
  kernels(): string[];
  /** Clocks, temperature, power and driver version through NVML (loaded at run time). Throws
   * "no CUDA device: ..." without a GPU and "NVML: ..." where NVML cannot be loaded or used. */
  gpuSample(device?: number): GpuSample;
  createRuntime(programJson: string, tensors: readonly Float32Array[], options: RuntimeOptions): NativeRuntime;
  /** Absent in addons built before it. Throws "no CUDA device: ..." without a GPU. */
  probeRoofline?(device?: number, copyBytes?: number): RooflineMeasurement;
}

/** The addon's exports, plus where it was loaded from and the device it found. */
export interface LoadedAddon extends CusnnAddon {
  readonly path: string;
  /** null when loaded with { requireDevice: false } on a machine without a GPU. */
  readonly device: DeviceInfo | null;
}

/** The model and arch a folder's plan.json names (null without a readable plan: a kernel folder, a bare build). */
function planOf(dir: string): { model: string; arch: string } | null {
  try {
    const p = JSON.parse(readFileSync(join(dir, 'plan.json'), 'utf8')) as { model?: unknown; arch?: unknown };
    return typeof p.model === 'string' && typeof p.arch === 'string' ? { model: p.model, arch: p.arch } : null;
  } catch {
    return null;
  }
}

/** The CMake target (and .node name) `cusnn-gen build` gives a generated folder (src/codegen/emit.ts). */
/**
 * The CMake target (and .node file) of a folder's addon: `cusnn_<model>_<arch>`, with characters of
 * the model name outside [A-Za-z0-9_] as '_' (an ONNX model's name has a dot: `cusnn_resnet50_onnx_sm_90`).
 */
export const addonTarget = (model: string, arch: string): string => `cusnn_${model.replace(/[^A-Za-z0-9_]/g, '_')}_${arch}`;

/**
 * The .node file of a generated folder: `<dir>/build/cusnn-addon.json` names it; else the only
 * .node in `<dir>/build/Release/`. A path to a .node file is returned as it is. null when none.
 * When the folder has a plan.json, the addon must be the one built for it: a manifest whose target
 * or generated arch is another model's or arch's, or a lone .node of another target, is an error
 * naming both (a folder reused for another model keeps no stale addon).
 */
export function addonPath(dirOrNode: string): string | null {
  const p = resolve(dirOrNode);
  if (p.endsWith('.node')) return existsSync(p) ? p : null;
  const plan = planOf(p);
  const want = plan ? addonTarget(plan.model, plan.arch) : null;
  const other = (what: string): never => {
    throw new Error(`${dirOrNode}: the built addon is ${what}, but the folder's plan.json is ${plan!.model} for ${plan!.arch} (target ${want}): run 'cusnn-gen build ${dirOrNode}'`);
  };
  const manifest = join(p, 'build', ADDON_MANIFEST);
  if (existsSync(manifest)) {
    let m: { node?: unknown; target?: unknown; generatedArch?: unknown };
    try {
      m = JSON.parse(readFileSync(manifest, 'utf8')) as typeof m;
    } catch (e) {
      throw new Error(`${manifest}: not valid JSON (${(e as Error).message.split('\n')[0]}); run 'cusnn-gen build ${dirOrNode}'`);
    }
    if (plan && typeof m.target === 'string' && m.target !== want) other(`target ${m.target} (${manifest})`);
    if (plan && typeof m.generatedArch === 'string' && m.generatedArch !== plan.arch) other(`of a folder generated for ${m.generatedArch} (${manifest})`);
    if (typeof m.node === 'string' && m.node !== '') {
      const node = resolve(p, 'build', m.node);
      if (existsSync(node)) return node;
    }
  }
  const release = join(p, 'build', 'Release');
  if (existsSync(release) && statSync(release).isDirectory()) {
    const nodes = readdirSync(release).filter((f) => f.endsWith('.node'));
    if (want !== null) {
      if (nodes.includes(`${want}.node`)) return join(release, `${want}.node`);
      if (nodes.length > 0) other(`${nodes.map((f) => join(release, f)).join(', ')}`);
      return null;
    }
    if (nodes.length === 1) return join(release, nodes[0]!);
  }
  return null;
}

/**
 * Loads the addon of `dir` (a generated folder built by `cusnn-gen build`, or a .node path) and
 * checks for a GPU. Errors: not built; cannot be loaded; "no CUDA device: <CUDA error> (the addon
 * at <path> needs an NVIDIA GPU)" unless `requireDevice` is false.
 */
export function loadAddon(dir: string, o: { requireDevice?: boolean } = {}): LoadedAddon {
  const path = addonPath(dir);
  if (!path) {
    throw new Error(`no addon built for ${dir}: run 'cusnn-gen build ${dir}' (it writes ${join(dir, 'build')}/)`);
  }
  let addon: CusnnAddon;
  try {
    addon = createRequire(import.meta.url)(path) as CusnnAddon;
  } catch (e) {
    throw new Error(`cannot load the addon at ${path}: ${(e as Error).message}`);
  }
  if (typeof addon.deviceInfo !== 'function' || typeof addon.createRuntime !== 'function') {
    throw new Error(`${path} is not a cusnn addon (no deviceInfo/createRuntime exports)`);
  }
  let device: DeviceInfo | null = null;
  try {
    device = addon.deviceInfo();
  } catch (e) {
    const msg = (e as Error).message;
    if (o.requireDevice === false) return { ...addon, path, device: null };
    throw new Error(`${msg.startsWith('no CUDA device') ? msg : `no CUDA device: ${msg}`} (the addon at ${path} needs an NVIDIA GPU)`);
  }
  return { ...addon, path, device };
}

/** createRuntime with a Program object (serialized here) instead of its JSON. */
export function createRuntime(addon: CusnnAddon, program: Program, tensors: readonly Float32Array[], options: RuntimeOptions): NativeRuntime {
  return addon.createRuntime(JSON.stringify(program), tensors, options);
}
