// `cusnn-gen bench`: per model and batch, three engines in one process on the same inputs:
//   cusnn                the generated kernels where they measured faster than cuDNN, cuDNN elsewhere
//                        (runtime/tune.ts times both paths of every conv on the bench's input);
//   cudnn                every conv through cuDNN, the fastest exact-fp32 algorithm by measurement;
//   cudnn-implicit-gemm  every conv fixed to IMPLICIT_GEMM (the original artifact's baseline).
// Correct first (every engine's output against cudnn's, relative L2 <= 1e-4 at the network
// output; a mismatch stops that model with the error), then timed (CUDA graph replays between
// CUDA events after ~0.2 s of warm-up replays: median, p10, p90), then energy (NVML's
// total-energy counter over >= 2 s of back-to-back replays, idle power beside it), then every
// conv alone in cusnn and cudnn with its measured input sparsity, FLOPs, GFLOP/s and roofline
// floor. The per-layer times are measured again after the decisions, not reused from the
// measurement that made them (the minimum of noisy figures would favour the chosen path).
// results.json is rewritten after every model, so an interrupted bench keeps what it measured;
// the report (CSV, SVG, summary.md) is drawn from it at the end.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { gpuProfile, isArchName, type GpuProfile } from '../arch/profiles.js';
import { isModelName } from '../model/zoo/index.js';
import { loadAddon, type DeviceInfo, type LoadedAddon } from '../runtime/addon.js';
import { Network, readPlanFile, type Decisions, type SwitchMode } from '../runtime/network.js';
import type { Program } from '../runtime/program.js';
import { measureConvs, measuredDecisions } from '../runtime/tune.js';
import type { Calibration } from '../sparsity/calibration.js';
import {
  batchFiles, benchImages, DEFAULT_IMAGES_DIR, DEFAULT_WEIGHTS_DIR, defaultDir, prepareFolder, resolveWeights, type BenchImages,
} from './prepare.js';
import type { Progress } from './progress.js';
import { writeReport } from './report.js';
import { relL2Error, topClasses } from './metrics.js';
import {
  ENGINES, type BenchResults, type BenchSettings, type ClockSample, type CorrectnessResult, type Engine, type EngineResult,
  type EnergyStats, type GpuInfo, type LayerResult, type ModelResult,
} from './results.js';

export interface BenchOptions {
  readonly models: readonly string[];
  readonly arch: string;
  /** Batch sizes, each a separate run of every model (default [1]). */
  readonly batches?: readonly number[];
  /** Folder with `<model>.safetensors` or `<model>/*.bin`; undefined: the shared artifact's when present; null: synthetic weights for every model. */
  readonly weightsDir?: string | null;
  /** Folder of `<i>.bin` images; undefined: the shared sample images when present; null: seeded random image-like inputs. */
  readonly imagesDir?: string | null;
  /** Where results.json and the report go. */
  readonly out: string;
  /** Generated folders and their addons (reused across runs); default `<out>/build`. */
  readonly buildDir?: string;
  /** Timed whole-forward replays per engine (default 200). */
  readonly iters?: number;
  /** Timed replays per conv step, for the decisions and the per-layer table (default 100). */
  readonly layerIters?: number;
  /** Minimum NVML energy window per engine, seconds (default 2; 0: no energy). */
  readonly energySeconds?: number;
  /** Inputs compared per engine before timing (default 8). */
  readonly checkInputs?: number;
  /** Relative L2 error bound at the network output (default 1e-4). */
  readonly tolerance?: number;
  /** Seed of synthetic weights and random inputs (default 0). */
  readonly seed?: number;
  /** Parallel compile jobs per build (default: all cores). */
  readonly jobs?: number;
  /** The command line, for results.json. */
  readonly command?: string;
}

export interface BenchHooks {
  /** Detailed progress lines (build log, per-layer times). */
  readonly log?: (s: string) => void;
  /** A progress bar (src/bench/progress.ts createProgress). */
  readonly progress?: (total: number, label: string) => Progress;
  /** The files written at the end (results.json first). */
  readonly written?: (files: readonly string[]) => void;
}

const MODE: Readonly<Record<Engine, SwitchMode>> = { cusnn: 'static', cudnn: 'cudnn', 'cudnn-implicit-gemm': 'cudnn-implicit-gemm' };
/** Progress steps: per model (prepare, load + calibrate) and per batch (tune, check, 3 engines, layers). */
const MODEL_STEPS = 2;
const BATCH_STEPS = 6;

const msg = (e: unknown): string => (e instanceof Error ? e.message : String(e));
/** Errors that no other model can avoid: stop the whole bench. */
const isFatal = (e: unknown): boolean => /no CUDA device/.test(msg(e));

/** Rethrows with `what` in front, so every error says which stage of which run failed. */
function stage<T>(what: string, f: () => T): T {
  try {
    return f();
  } catch (e) {
    if (isFatal(e)) throw e;
    throw new Error(`${what}: ${msg(e)}`);
  }
}

const topK = (v: Float32Array, k: number): string => topClasses(v, k).join();

const finite = (a: Float32Array): boolean => a.every((v) => Number.isFinite(v));

function validate(o: BenchOptions): void {
  if (o.models.length === 0) throw new Error('bench: no models given');
  for (const m of o.models) if (!isModelName(m)) throw new Error(`bench: unknown model '${m}'`);
  gpuProfile(o.arch);
  const int = (v: number | undefined, what: string, min: number): void => {
    if (v !== undefined && (!Number.isInteger(v) || v < min)) throw new Error(`bench: ${what} must be an integer >= ${min}, got ${v}`);
  };
  for (const b of o.batches ?? []) int(b, 'batch', 1);
  if (o.batches !== undefined && o.batches.length === 0) throw new Error('bench: no batch sizes given');
  int(o.iters, 'iters', 1);
  int(o.layerIters, 'layerIters', 1);
  int(o.checkInputs, 'checkInputs', 1);
  int(o.seed, 'seed', 0);
  if (o.energySeconds !== undefined && !(o.energySeconds >= 0 && o.energySeconds <= 600)) throw new Error(`bench: energySeconds must be in [0, 600], got ${o.energySeconds}`);
  if (o.tolerance !== undefined && !(o.tolerance > 0)) throw new Error(`bench: tolerance must be > 0, got ${o.tolerance}`);
}

// ------------------------------------------------------------------------------------------------
// GPU description

const cudaVersion = (v: number): string => `${Math.floor(v / 1000)}.${Math.floor((v % 1000) / 10)}`;
const cudnnVersion = (v: number): string =>
  v >= 90000 ? `${Math.floor(v / 10000)}.${Math.floor((v % 10000) / 100)}.${v % 100}` : `${Math.floor(v / 1000)}.${Math.floor((v % 1000) / 100)}.${v % 100}`;

interface ClockReading {
  readonly sample: ClockSample | null;
  readonly driver: string | null;
  readonly pciBusId: string | null;
  readonly note: string | null;
}

function readClocks(addon: LoadedAddon): ClockReading {
  if (typeof addon.gpuSample !== 'function') return { sample: null, driver: null, pciBusId: null, note: `the addon at ${addon.path} has no gpuSample (built before NVML support: rebuild it)` };
  try {
    const s = addon.gpuSample();
    const missing = (['smMHz', 'memMHz', 'temperatureC', 'powerW'] as const).filter((k) => s[k] === null);
    if (missing.length > 0) return { sample: null, driver: s.driver, pciBusId: s.pciBusId, note: `NVML reports no ${missing.join(', ')} on ${s.name}: ${s.notes}` };
    return { sample: { smMHz: s.smMHz!, memMHz: s.memMHz!, temperatureC: s.temperatureC!, powerW: s.powerW! }, driver: s.driver, pciBusId: s.pciBusId, note: null };
  } catch (e) {
    return { sample: null, driver: null, pciBusId: null, note: msg(e) };
  }
}

/** The profile the roofline uses: the GPU's own architecture when we have a profile for it, else --arch's. */
function rooflineProfile(device: DeviceInfo | null, arch: string): GpuProfile {
  return device && isArchName(device.sm) ? gpuProfile(device.sm) : gpuProfile(arch);
}

function gpuInfo(device: DeviceInfo | null, start: ClockReading | null, end: ClockReading | null, profile: GpuProfile): GpuInfo {
  const notes = [start?.note ? `start: ${start.note}` : null, end?.note && end.note !== start?.note ? `end: ${end.note}` : null].filter((s) => s !== null);
  const base = {
    clocksStart: start?.sample ?? null,
    clocksEnd: end?.sample ?? null,
    peakFp32Tflops: profile.fp32Tflops,
    bandwidthGBs: profile.memBandwidthGBs,
    profileBoard: `${profile.board} (${profile.arch})`,
    ...(start?.pciBusId ? { pciBusId: start.pciBusId } : {}),
    ...(notes.length > 0 ? { clocksNote: notes.join('; ') } : {}),
  };
  if (!device) {
    return { name: 'unknown (no model reached the GPU)', sm: 'unknown', multiprocessors: 0, driver: 'unknown', cudaRuntime: 'unknown', cudnn: 'unknown', cublas: 'unknown', ...base };
  }
  return {
    name: device.name,
    sm: device.sm,
    multiprocessors: device.multiprocessors,
    driver: start?.driver ?? end?.driver ?? `CUDA driver API ${cudaVersion(device.driverVersion)}`,
    cudaRuntime: cudaVersion(device.runtimeVersion),
    cudnn: cudnnVersion(device.cudnnVersion),
    cublas: device.cublasVersion,
    ...base,
  };
}

// ------------------------------------------------------------------------------------------------
// One model

interface Ctx {
  readonly o: Required<Omit<BenchOptions, 'weightsDir' | 'imagesDir' | 'buildDir' | 'jobs' | 'command'>> & { readonly jobs?: number };
  readonly weightsDir: string | null;
  readonly images: BenchImages;
  readonly buildDir: string;
  readonly log: (s: string) => void;
  readonly tick: (what: string) => void;
  /** The first addon that loaded: device description and NVML clock samples. */
  addon: LoadedAddon | null;
  clocksStart: ClockReading | null;
}

const noCheck = (tolerance: number): CorrectnessResult => ({
  maxRelError: { cusnn: 0, cudnn: 0, 'cudnn-implicit-gemm': 0 }, tolerance, topAgree: 0, inputs: 0, passed: false,
});

/** Every engine's output against cudnn's on `checkInputs` inputs (ceil(checkInputs / batch) forwards at this batch). */
function checkEngines(net: Network, files: readonly string[], batch: number, n: number, tolerance: number): CorrectnessResult & { readonly why: string | null } {
  const forwards = Math.max(1, Math.ceil(n / batch));
  const maxRelError: Record<Engine, number> = { cusnn: 0, cudnn: 0, 'cudnn-implicit-gemm': 0 };
  let topAgree = 0;
  let inputs = 0;
  let why: string | null = null;
  for (let f = 0; f < forwards; f++) {
    const x = net.preprocessFiles(batchFiles(files, batch, f * batch));
    // Logits, not the softmax: a saturated softmax would hide differences (net.logitsLayer()).
    const ref = net.logitsWith(x, 'cudnn');
    if (!finite(ref)) throw new Error(`the cudnn engine's output holds NaN or Inf (input ${f * batch}..${f * batch + batch - 1})`);
    const outs = new Map<Engine, Float32Array>();
    for (const e of ENGINES) if (e !== 'cudnn') outs.set(e, net.logitsWith(x, MODE[e]));
    const per = ref.length / batch;
    for (let j = 0; j < batch; j++) {
      const r = ref.subarray(j * per, (j + 1) * per);
      for (const [e, out] of outs) {
        const err = relL2Error(out.subarray(j * per, (j + 1) * per), r);
        maxRelError[e] = Math.max(maxRelError[e], err);
      }
      if (topK(outs.get('cusnn')!.subarray(j * per, (j + 1) * per), 5) === topK(r, 5)) topAgree++;
      inputs++;
    }
  }
  for (const e of ENGINES) {
    if (!(maxRelError[e] <= tolerance)) {
      why = `${why ? `${why}; ` : ''}${e} output differs from cudnn: max rel. L2 error ${maxRelError[e].toExponential(2)} > ${tolerance} over ${inputs} inputs`;
    }
  }
  return { maxRelError, tolerance, topAgree, inputs, passed: why === null, why };
}

function convSteps(p: Program): Map<string, number> {
  const m = new Map<string, number>();
  p.steps.forEach((s, i) => {
    if (s.op === 'conv') m.set(s.layer, i);
  });
  return m;
}

/** Every conv timed alone in cusnn (static with the decisions) and in cudnn, with its roofline figures. */
function layerResults(net: Network, batch: number, cal: Calibration, decisions: Decisions, profile: GpuProfile, iters: number): LayerResult[] {
  const sIdx = convSteps(net.programFor(batch, 'static'));
  const cIdx = convSteps(net.programFor(batch, 'cudnn'));
  const algos = new Map(net.runtimeFor(batch, 'cudnn').algorithms().map((a) => [a.layer, a.algoName]));
  const peak = profile.fp32Tflops * 1e12;
  const bw = profile.memBandwidthGBs * 1e9;
  return net.plan.convs.map((c) => {
    const [C, H, W] = c.input;
    const [K, Ho, Wo] = c.output;
    const [R, S] = c.kernel;
    const inputSparsity = Math.min(1, Math.max(0, cal.layers[c.layer]?.inputSparsity ?? c.inputSparsity));
    const weightSparsity = Math.min(1, Math.max(0, c.weightSparsity));
    const flops = 2 * K * Ho * Wo * C * R * S * batch;
    const usefulFlops = flops * (1 - inputSparsity) * (1 - weightSparsity);
    const nnzIn = batch * C * H * W * (1 - inputSparsity);
    const weights = K * C * R * S;
    // Pruned weights need positions too; dense ones are read as they are.
    const weightFloats = weightSparsity > 0 ? 2 * weights * (1 - weightSparsity) : weights;
    const minBytes = 4 * (2 * nnzIn + weightFloats + batch * K * Ho * Wo);
    const floorUs = Math.max(usefulFlops / peak, minBytes / bw) * 1e6;
    const si = sIdx.get(c.layer);
    const ci = cIdx.get(c.layer);
    if (si === undefined || ci === undefined) throw new Error(`conv '${c.layer}' has no step in the ${si === undefined ? 'static' : 'cudnn'} program`);
    const cusnnUs = net.timeStep(batch, 'static', si, iters).medianUs;
    const cudnnUs = net.timeStep(batch, 'cudnn', ci, iters).medianUs;
    const path = decisions[c.layer] === 'act-sparse' ? 'act-sparse' : 'cudnn';
    return {
      layer: c.layer, c: C, h: H, w: W, k: K, r: R, s: S, stride: c.stride[0],
      inputSparsity, weightSparsity, flops, usefulFlops, minBytes,
      path, kernel: path === 'act-sparse' ? c.kernelName : null,
      cudnnAlgo: algos.get(c.layer) ?? '?',
      cusnnUs, cudnnUs,
      speedup: cusnnUs > 0 ? cudnnUs / cusnnUs : 0,
      cusnnGflops: cusnnUs > 0 ? flops / (cusnnUs * 1e3) : 0,
      cudnnGflops: cudnnUs > 0 ? flops / (cudnnUs * 1e3) : 0,
      floorUs,
      achievedFraction: cusnnUs > 0 ? floorUs / cusnnUs : 0,
    };
  });
}

async function benchModel(model: string, ctx: Ctx): Promise<ModelResult[]> {
  const { o, log } = ctx;
  const t0 = performance.now();
  const seconds = (): number => Math.round((performance.now() - t0) / 100) / 10;
  const out: ModelResult[] = [];
  let left = MODEL_STEPS + o.batches.length * BATCH_STEPS;
  const tick = (what: string): void => {
    if (left > 0) {
      left--;
      ctx.tick(`${model}: ${what}`);
    }
  };
  const choice = resolveWeights(model, ctx.weightsDir);
  let weights: ModelResult['weights'] = choice.kind;
  let weightsSource = choice.path ?? `synthetic (seed ${o.seed})`;
  const notes: string[] = [];
  if (choice.kind === 'synthetic') notes.push(`synthetic weights (seed ${o.seed}): ${choice.why}`);
  if (ctx.images.random) notes.push(`inputs: ${ctx.images.describe}`);
  let build: Pick<ModelResult, 'kernels' | 'buildSeconds' | 'buildReused'> = {};

  const failed = (batches: readonly number[], error: string, correctness?: CorrectnessResult): void => {
    for (const batch of batches) {
      out.push({ model, weights, weightsSource, batch, inputs: ctx.images.describe, correctness: correctness ?? noCheck(o.tolerance),
        engines: [], layers: [], sparseLayers: 0, convLayers: 0, error, seconds: seconds(), notes: [...notes], ...build });
    }
    while (left > 0) tick('skipped');
  };

  log(`== ${model}: weights ${choice.kind === 'real' ? choice.why : `synthetic (${choice.why})`}`);
  let net: Network | null = null;
  try {
    let prepared;
    try {
      prepared = await prepareFolder({ model, arch: o.arch, weights: choice, seed: o.seed, buildDir: ctx.buildDir, jobs: o.jobs, log });
    } catch (e) {
      if (isFatal(e)) throw e;
      failed(o.batches, `generate/build: ${msg(e)}`);
      return out;
    }
    build = { kernels: prepared.kernels, buildSeconds: Math.round(prepared.buildSeconds * 10) / 10, buildReused: prepared.reused };
    const ws = prepared.generated.weights;
    weightsSource = ws.source;
    // A file can hold synthetic weights (cusnn-gen weights synth): its metadata says so ("<file> (synthetic (seed N)...)").
    if (weights === 'real' && /(^|\()synthetic \(seed \d+\)/.test(ws.source)) {
      weights = 'synthetic';
      notes.push(`${choice.path} holds synthetic weights: ${ws.source}`);
    }
    if (ws.filled.length > 0) {
      const layers = [...new Set(ws.filled.map((k) => k.split(':')[0]!))];
      notes.push(`${ws.filled.length} tensors missing from ${choice.path} filled synthetically (seed ${o.seed}): ${layers.join(', ')}`);
      log(`${model}: ${notes[notes.length - 1]}`);
    }
    log(`${model}: ${prepared.dir}: ${prepared.kernels} kernels, addon ${prepared.reused ? 'reused' : `built in ${prepared.buildSeconds.toFixed(1)} s`}`);
    tick(prepared.reused ? 'addon reused' : `built (${prepared.buildSeconds.toFixed(0)} s)`);

    let cal: Calibration;
    try {
      if (!ctx.addon) {
        ctx.addon = loadAddon(prepared.dir);
        ctx.clocksStart = readClocks(ctx.addon);
        if (ctx.clocksStart.note) log(`clocks: ${ctx.clocksStart.note}`);
      }
      const n = new Network(prepared.dir, prepared.generated.graph, readPlanFile(prepared.dir), ws, { seed: o.seed });
      net = n;
      cal = stage('calibrate', () => n.calibrate(ctx.images.files, join(prepared.dir, 'calibration.json')));
    } catch (e) {
      if (isFatal(e)) throw e;
      failed(o.batches, msg(e));
      return out;
    }
    tick('calibrated');
    const profile = rooflineProfile(ctx.addon.device, o.arch);

    for (let bi = 0; bi < o.batches.length; bi++) {
      const batch = o.batches[bi]!;
      const tb = performance.now();
      let stepsLeft = BATCH_STEPS;
      const btick = (what: string): void => {
        stepsLeft--;
        tick(`b${batch} ${what}`);
      };
      const runNotes = [...notes];
      if (batch > ctx.images.files.length) runNotes.push(`batch ${batch} > ${ctx.images.files.length} images: images repeated to fill it`);
      let correctness: CorrectnessResult = noCheck(o.tolerance);
      try {
        const x = net.preprocessFiles(batchFiles(ctx.images.files, batch, 0));
        const ms = stage(`b${batch} measure convs`, () => measureConvs(net!, x, { batch, iters: o.layerIters, log: (s) => log(`${model} b${batch} tune ${s}`) }));
        const decisions = measuredDecisions(ms);
        net.setDecisions(decisions);
        const sparse = Object.values(decisions).filter((d) => d === 'act-sparse').length;
        log(`${model} b${batch}: ${sparse}/${net.plan.convs.length} convs on generated kernels (measured faster)`);
        btick('tuned');

        const check = stage(`b${batch} correctness check`, () => checkEngines(net!, ctx.images.files, batch, o.checkInputs, o.tolerance));
        const { why, ...c } = check;
        correctness = c;
        log(`${model} b${batch}: max rel. error ${ENGINES.map((e) => `${e} ${c.maxRelError[e].toExponential(2)}`).join(', ')}; top-5 same ${c.topAgree}/${c.inputs}`);
        btick('checked');
        if (why !== null) {
          // A mismatch stops this model: no timings of a wrong result.
          out.push({ model, weights, weightsSource, batch, inputs: ctx.images.describe, correctness, engines: [], layers: [],
            sparseLayers: sparse, convLayers: net.plan.convs.length, error: `correctness: ${why}`, seconds: Math.round((performance.now() - tb) / 100) / 10,
            notes: runNotes, ...build });
          failed(o.batches.slice(bi + 1), `not run: batch ${batch} failed the correctness check (${why})`);
          return out;
        }

        const engines: EngineResult[] = [];
        for (const e of ENGINES) {
          const mode = MODE[e];
          const rt = net.runtimeFor(batch, mode);
          const r = stage(`b${batch} ${e} timing`, () => {
            net!.inferWith(x, mode); // the timed input, in every engine
            // Warm-up: about 0.2 s of replays first, so the clocks have left idle before the timed ones.
            const probe = rt.timeForward(10);
            rt.timeForward(Math.min(500, Math.max(10, Math.ceil(200_000 / Math.max(probe.medianUs, 1)))));
            return rt.timeForward(o.iters);
          });
          let energy: EnergyStats | null = null;
          let energyNote: string | undefined;
          if (o.energySeconds > 0) {
            try {
              const m = rt.measureEnergy(o.energySeconds);
              // Idle: the board before the bench did any GPU work. The sample taken just before this
              // window (after a short pause) is kept beside it: the board has not settled by then.
              const idle = ctx.clocksStart?.sample?.powerW;
              energy = { mJPerInference: m.mJPerInference, windowSeconds: m.windowSeconds, inferences: m.inferences, avgPowerW: m.avgPowerW,
                idlePowerW: idle !== undefined && idle > 0 ? idle : m.idlePowerW, preWindowPowerW: m.idlePowerW };
            } catch (err) {
              if (isFatal(err)) throw err;
              energyNote = msg(err);
            }
          } else {
            energyNote = 'not measured (energySeconds 0)';
          }
          engines.push({ engine: e, time: { medianUs: r.medianUs, p10Us: r.p10Us, p90Us: r.p90Us, iters: r.iters }, energy, ...(energyNote ? { energyNote } : {}) });
          log(`${model} b${batch} ${e}: median ${r.medianUs.toFixed(1)} us (p10 ${r.p10Us.toFixed(1)}, p90 ${r.p90Us.toFixed(1)}, ${r.iters} replays)` +
            (energy ? `; ${energy.mJPerInference.toFixed(2)} mJ per inference, ${energy.avgPowerW.toFixed(0)} W (idle ${energy.idlePowerW.toFixed(0)} W), ${energy.windowSeconds.toFixed(2)} s window` : `; energy: ${energyNote}`));
          btick(`${e} timed`);
        }

        const layers = stage(`b${batch} per-layer timing`, () => layerResults(net!, batch, cal, decisions, profile, o.layerIters));
        btick('layers timed');
        out.push({ model, weights, weightsSource, batch, inputs: ctx.images.describe, correctness, engines, layers,
          sparseLayers: sparse, convLayers: net.plan.convs.length, seconds: Math.round((performance.now() - (bi === 0 ? t0 : tb)) / 100) / 10,
          ...(runNotes.length > 0 ? { notes: runNotes } : {}), ...build });
      } catch (e) {
        if (isFatal(e)) throw e;
        out.push({ model, weights, weightsSource, batch, inputs: ctx.images.describe, correctness, engines: [], layers: [],
          sparseLayers: 0, convLayers: net.plan.convs.length, error: msg(e), seconds: Math.round((performance.now() - tb) / 100) / 10, notes: runNotes, ...build });
        log(`${model} b${batch}: FAILED: ${msg(e)}`);
        while (stepsLeft-- > 0) tick(`b${batch} skipped`);
      }
    }
    return out;
  } finally {
    net?.dispose();
    while (left > 0) tick('done');
  }
}

// ------------------------------------------------------------------------------------------------

function writeResults(r: BenchResults, out: string): string {
  const file = join(out, 'results.json');
  writeFileSync(file, `${JSON.stringify(r, null, 2)}\n`);
  return file;
}

/**
 * Runs the bench and writes results.json (after every model) and the report (results.csv,
 * layers.csv, SVG charts, summary.md) into `o.out`. Per-model failures are recorded in their
 * ModelResult and the bench goes on; a missing GPU stops it with "no CUDA device: ...".
 */
export async function runBench(o: BenchOptions, hooks: BenchHooks = {}): Promise<BenchResults> {
  validate(o);
  const t0 = performance.now();
  const log = hooks.log ?? (() => {});
  const batches = [...(o.batches ?? [1])];
  const opts: Ctx['o'] = {
    models: o.models, arch: o.arch, batches, out: o.out,
    iters: o.iters ?? 200, layerIters: o.layerIters ?? 100, energySeconds: o.energySeconds ?? 2,
    checkInputs: o.checkInputs ?? 8, tolerance: o.tolerance ?? 1e-4, seed: o.seed ?? 0, jobs: o.jobs,
  };
  const weightsDir = o.weightsDir === null ? null : defaultDir(o.weightsDir, DEFAULT_WEIGHTS_DIR);
  const imagesDir = o.imagesDir === null ? null : defaultDir(o.imagesDir, DEFAULT_IMAGES_DIR);
  const buildDir = o.buildDir ?? join(o.out, 'build');
  mkdirSync(o.out, { recursive: true });
  mkdirSync(buildDir, { recursive: true });
  const images = benchImages(imagesDir, buildDir, opts.seed);
  log(`inputs: ${images.describe}; weights: ${weightsDir ?? 'none (synthetic for every model)'}; builds in ${buildDir}`);

  const progress = hooks.progress?.(o.models.length * (MODEL_STEPS + batches.length * BATCH_STEPS), 'bench');
  const ctx: Ctx = { o: opts, weightsDir, images, buildDir, log, tick: (what) => progress?.tick(what), addon: null, clocksStart: null };
  const settings: BenchSettings = {
    batches, iters: opts.iters, layerIters: opts.layerIters, energySeconds: opts.energySeconds, checkInputs: opts.checkInputs,
    tolerance: opts.tolerance, seed: opts.seed, weightsDir: weightsDir && resolve(weightsDir), imagesDir: imagesDir && resolve(imagesDir), buildDir: resolve(buildDir),
  };
  const runs: ModelResult[] = [];
  const createdAt = new Date().toISOString();
  const results = (end: ClockReading | null): BenchResults => {
    const device = ctx.addon?.device ?? null;
    return {
      format: 'cusnn-bench/1',
      createdAt,
      command: o.command ?? `cusnn-gen bench --model ${o.models.join(',')} --arch ${o.arch} --batch ${batches.join(',')}`,
      arch: o.arch,
      gpu: gpuInfo(device, ctx.clocksStart, end, rooflineProfile(device, o.arch)),
      runs: [...runs],
      settings,
      seconds: Math.round((performance.now() - t0) / 100) / 10,
    };
  };
  try {
    for (const model of o.models) {
      runs.push(...(await benchModel(model, ctx)));
      writeResults(results(null), o.out);
    }
  } finally {
    progress?.done();
  }
  const final = results(ctx.addon ? readClocks(ctx.addon) : null);
  const files = [writeResults(final, o.out), ...writeReport(final, o.out)];
  hooks.written?.(files);
  return final;
}
