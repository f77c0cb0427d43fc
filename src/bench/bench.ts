// `cusnn-gen bench`: per model and batch, three engines in one process on the same inputs:
//   cusnn                the generated kernels where they measured faster than cuDNN, cuDNN elsewhere;
//   cudnn                every conv through cuDNN, the fastest exact-fp32 algorithm by measurement;
//   cudnn-implicit-gemm  every conv fixed to IMPLICIT_GEMM (the original artifact's baseline).
// The images are split (src/bench/split.ts): the first half measures input sparsity and decides
// each conv's path, the second half checks and times, so no choice is timed on the inputs it was
// made on. Correct first (every engine's logits against cudnn's, relative L2 <= 1e-4; a mismatch
// stops that model), then timed and measured for energy with the engines interleaved over
// `rounds` rounds (src/bench/measure.ts), then every conv alone in cusnn and cudnn with its
// roofline floor, the peaks measured on this GPU at bench start (src/bench/roofline.ts).
// A model's folder is planned for every benched batch (--batch 1,8,32: one plan per batch, each
// with its own kernels, one addon): each batch decides among the kernels of its own plan, so the
// tiles the rule picks only at larger batches are measured at those batches (runs record planBatch).
// With `prune` (bench --prune 0.8,0.9), every model runs again with its source weights (real or
// synthetic) pruned in process by src/weights/prune.ts to each sparsity: a weights variant is
// runs of its own, in a folder of its own (<model>-<arch>-p0.90, with its weights file), through
// the whole flow above, checked against its own cuDNN path; a folder whose kernels are those of an
// earlier one borrows its addon instead of a build. Every run records `prune` (null: the weights
// as given) and its measured fraction of zero conv weights.
// results.json is rewritten after every model and weights variant, so an interrupted bench keeps
// what it measured; the report (CSV, SVG, summary.md) is drawn from it at the end.
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { gpuProfile } from '../arch/profiles.js';
import type { Graph } from '../model/ir.js';
import { isOnnxModelArg, modelLabel, onnxModelName } from '../model/resolve.js';
import { isModelName } from '../model/zoo/index.js';
import { loadAddon, type DeviceInfo, type LoadedAddon } from '../runtime/addon.js';
import { Network, readPlanFile } from '../runtime/network.js';
import type { Calibration } from '../sparsity/calibration.js';
import { saveWeights } from '../weights/load.js';
import { pruneWeights, type PrunePattern } from '../weights/prune.js';
import { countZeros, getTensor, type WeightSet } from '../weights/store.js';
import type { SplitInputs } from './measure.js';
import {
  benchImages, DEFAULT_IMAGES_DIR, DEFAULT_WEIGHTS_DIR, defaultDir, prepareFolder, pruneListProblem, resolveWeights, type BenchImages, type PreparedFolder,
  type PrepareOptions, type WeightsChoice,
} from './prepare.js';
import type { Progress } from './progress.js';
import { writeReport } from './report.js';
import {
  PRUNED_WEIGHTS, RESULTS_FORMAT, type BenchResults, type BenchSettings, type ClockSample, type CorrectnessResult, type GpuInfo, type ImageSplit, type ModelResult,
  type PruneSpec,
} from './results.js';
import { BATCH_STEPS, benchBatch, isFatal, msg, stage } from './run-batch.js';
import { measurePeaks, profileFor, profilePeaks, type Peaks } from './roofline.js';
import { imageSplit, splitHalves, type Halves } from './split.js';
import { percent, pruneTag, sparsityText, variantKey } from './table.js';

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
  /** Interleaved rounds of every time and energy measurement (default 3). */
  readonly rounds?: number;
  /** Timed whole-forward replays per engine over all rounds (default 200). */
  readonly iters?: number;
  /** Timed replays per conv step over all rounds, for the decisions and the per-layer table (default 100). */
  readonly layerIters?: number;
  /** Minimum NVML energy window per engine and round, seconds (default 2; 0: no energy). */
  readonly energySeconds?: number;
  /** Inputs compared per engine before timing, from the timing images (default 8). */
  readonly checkInputs?: number;
  /** Relative L2 error bound at the network output (default 1e-4). */
  readonly tolerance?: number;
  /** Seed of synthetic weights and random inputs (default 0). */
  readonly seed?: number;
  /** Parallel compile jobs per build (default: all cores). */
  readonly jobs?: number;
  /** The command line, for results.json. */
  readonly command?: string;
  /**
   * Pruned variants: after each model's weights as given, the same source weights pruned in
   * process (src/weights/prune.ts, per layer, the first conv and dense layers kept dense) to each of
   * these sparsities, each in (0, 1), ascending; each variant runs the whole flow as its own runs.
   */
  readonly prune?: readonly number[];
  /** What the pruned variants prune together (default 'unstructured'; '2:4' is 0.5 by construction). */
  readonly prunePattern?: PrunePattern;
  /** A tune cache (cusnn-gen tune) whose winners on `gpu` pick the generated kernels of matching convs. */
  readonly tune?: { readonly cache: string; readonly gpu: string };
  /** false: keep residual adds as steps (an A/B of the fusion; recorded in the command line only). Default true. */
  readonly fuseResidual?: boolean;
}

export interface BenchHooks {
  /** Detailed progress lines (build log, per-layer times). */
  readonly log?: (s: string) => void;
  /** A progress bar (src/bench/progress.ts createProgress). */
  readonly progress?: (total: number, label: string) => Progress;
  /** The files written at the end (results.json first). */
  readonly written?: (files: readonly string[]) => void;
  /**
   * A model's folder for the given weights, generated and built (default prepareFolder: a zoo
   * model). With one given, model names are not checked against the zoo: tests bench a graph of
   * their own through a fake addon here.
   */
  readonly prepare?: (o: PrepareOptions) => Promise<PreparedFolder>;
  /** A loaded network's inputs from the image halves (default imageInputs: the images, calibrated on the GPU). */
  readonly inputs?: (net: Network, halves: Halves<string>) => NetworkInputs;
}

/** Progress steps: per model and weights variant (prepare, load + calibrate) and per batch (run-batch.ts BATCH_STEPS). */
const MODEL_STEPS = 2;

/** Interleaved rounds of every time and energy measurement (the issue asks for at least 3). */
export const DEFAULT_ROUNDS = 3;

function validate(o: BenchOptions, hooks: BenchHooks): void {
  if (o.models.length === 0) throw new Error('bench: no models given');
  if (!hooks.prepare) for (const m of o.models) if (!isModelName(m) && !isOnnxModelArg(m)) throw new Error(`bench: unknown model '${m}' (a zoo name or an .onnx file)`);
  const pruning = pruneListProblem(o.prune ?? [], o.prunePattern ?? 'unstructured');
  if (pruning) throw new Error(`bench: ${pruning}`);
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
  int(o.rounds, 'rounds', 1);
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

function gpuInfo(device: DeviceInfo | null, start: ClockReading | null, end: ClockReading | null, peaks: Peaks): GpuInfo {
  const notes = [start?.note ? `start: ${start.note}` : null, end?.note && end.note !== start?.note ? `end: ${end.note}` : null].filter((s) => s !== null);
  const base = {
    clocksStart: start?.sample ?? null,
    clocksEnd: end?.sample ?? null,
    peakFp32Tflops: peaks.peakFp32Tflops,
    bandwidthGBs: peaks.bandwidthGBs,
    roofline: peaks.roofline,
    profileBoard: `${peaks.profile.board} (${peaks.profile.arch})`,
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
// One model, one weights variant

/** What the bench feeds a loaded network: both image halves as network inputs, and the input sparsity measured on the timing half. */
export interface NetworkInputs {
  readonly split: SplitInputs;
  readonly timingSparsity: Calibration;
}

/**
 * The images as the bench feeds them (BenchHooks.inputs' default): each conv's input sparsity
 * calibrated on both halves on the GPU (the calibration half's in calibration.json, what the plan
 * reads; the timing half's goes with the per-layer times measured on it), the images preprocessed.
 */
export function imageInputs(net: Network, halves: Halves<string>): NetworkInputs {
  stage('calibrate', () => net.calibrate([...halves.calibrate], join(net.dir, 'calibration.json')));
  const timingSparsity = stage('calibrate (timing images)', () => net.calibrate([...halves.time], join(net.dir, 'calibration-timing-images.json')));
  return { split: { calibrate: halves.calibrate.map((f) => net.preprocessFiles([f])), time: halves.time.map((f) => net.preprocessFiles([f])) }, timingSparsity };
}

/** The pruned weights of a variant, in its folder (plan.json names the file, so the folder runs on its own too). */
export const PRUNED_WEIGHTS_FILE = 'pruned-weights.safetensors';

/** Fraction of zeros over all conv kernels of `ws`. */
function convWeightSparsity(graph: Graph, ws: WeightSet): number {
  let zeros = 0;
  let n = 0;
  for (const l of graph.layers) {
    if (l.op !== 'conv') continue;
    const t = getTensor(ws, l.name, 'kernel');
    zeros += countZeros(t);
    n += t.length;
  }
  return n > 0 ? zeros / n : 0;
}

interface Ctx {
  readonly o: Required<Omit<BenchOptions, 'weightsDir' | 'imagesDir' | 'buildDir' | 'jobs' | 'command' | 'tune' | 'fuseResidual'>> & { readonly jobs?: number; readonly tune?: BenchOptions['tune']; readonly fuseResidual?: boolean };
  readonly weightsDir: string | null;
  readonly images: BenchImages;
  readonly buildDir: string;
  readonly log: (s: string) => void;
  readonly tick: (what: string) => void;
  readonly prepare: (o: PrepareOptions) => Promise<PreparedFolder>;
  readonly inputs: (net: Network, halves: Halves<string>) => NetworkInputs;
  /** The first addon that loaded: device description, NVML clock samples and the roofline probe. */
  addon: LoadedAddon | null;
  clocksStart: ClockReading | null;
  peaks: Peaks | null;
}

/** What the runs of one model share: its weights choice, the notes every run carries, the image split, and what the dense run prepared. */
interface ModelState {
  /** The model as given: a zoo name or an ONNX file (what generate reads). */
  readonly arg: string;
  /** Its name in results and logs: the zoo name, or the ONNX file's graph name (`mobilenet_v2.onnx`). */
  readonly model: string;
  readonly choice: WeightsChoice;
  readonly notes: readonly string[];
  readonly halves: Halves<string>;
  readonly images: ImageSplit;
  /** The dense run's folder (the source of the pruned variants' weights), its weights' kind after reading them, and its notes on them (filled tensors). */
  dense: { readonly prepared: PreparedFolder; readonly weights: ModelResult['weights']; readonly notes: readonly string[] } | null;
  /** Why the dense run's folder could not be prepared. */
  denseError: string | null;
  /** The folders prepared so far (a later one with the same kernels borrows their addon). */
  readonly folders: PreparedFolder[];
}

const noCheck = (tolerance: number): CorrectnessResult => ({
  maxRelError: { cusnn: 0, cudnn: 0, 'cudnn-implicit-gemm': 0 }, tolerance, topAgree: 0, inputs: 0, passed: false,
});

/** The runs of `model`: its weights as given, then each pruned variant, every one at every batch; `emit` gets each variant's runs when done. */
async function benchModel(model: string, ctx: Ctx, emit: (runs: readonly ModelResult[]) => void): Promise<void> {
  const { o } = ctx;
  const choice = resolveWeights(model, ctx.weightsDir);
  const notes: string[] = [];
  if (choice.kind === 'synthetic') notes.push(`synthetic weights (seed ${o.seed}): ${choice.why}`);
  else if (isOnnxModelArg(model)) notes.push(`weights: ${choice.why} (whatever they were trained on, or not)`);
  if (ctx.images.random) notes.push(`inputs: ${ctx.images.describe}`);
  const halves = splitHalves(ctx.images.files);
  if (halves.note) notes.push(halves.note);
  const st: ModelState = { arg: model, model: isOnnxModelArg(model) ? onnxModelName(model) : model, choice, notes, halves, images: imageSplit(halves), dense: null, denseError: null, folders: [] };
  emit(await benchVariant(st, null, ctx));
  for (const sparsity of o.prune) emit(await benchVariant(st, { sparsity, pattern: o.prunePattern }, ctx));
}

async function benchVariant(st: ModelState, prune: PruneSpec | null, ctx: Ctx): Promise<ModelResult[]> {
  const { o, log } = ctx;
  const { arg, model, choice } = st;
  const name = `${model}${prune ? ` ${pruneTag({ prune })}` : ''}`;
  const t0 = performance.now();
  const seconds = (): number => Math.round((performance.now() - t0) / 100) / 10;
  const out: ModelResult[] = [];
  let left = MODEL_STEPS + o.batches.length * BATCH_STEPS;
  const tick = (what: string): void => {
    if (left > 0) {
      left--;
      ctx.tick(`${name}: ${what}`);
    }
  };
  let weights: ModelResult['weights'] = prune ? st.dense?.weights ?? choice.kind : choice.kind;
  const given = choice.path ?? `synthetic (seed ${o.seed})`;
  let weightsSource = prune ? `${given}, pruned by the bench to ${sparsityText(prune.sparsity)} (${prune.pattern})` : given;
  let weightSparsity: number | undefined;
  const notes = [...st.notes, ...(prune ? st.dense?.notes ?? [] : [])];
  let build: Pick<ModelResult, 'kernels' | 'buildSeconds' | 'buildReused'> = {};
  const inputs = ctx.images.describe;
  const images = st.images;
  const head = (): Pick<ModelResult, 'model' | 'weights' | 'weightsSource' | 'prune' | 'weightSparsity'> =>
    ({ model, weights, weightsSource, prune, ...(weightSparsity !== undefined ? { weightSparsity } : {}) });

  const failed = (batches: readonly number[], error: string, correctness?: CorrectnessResult): void => {
    for (const batch of batches) {
      out.push({ ...head(), batch, inputs, images, correctness: correctness ?? noCheck(o.tolerance),
        engines: [], layers: [], sparseLayers: 0, convLayers: 0, error, seconds: seconds(), notes: [...notes], ...build });
    }
    while (left > 0) tick('skipped');
  };

  log(`== ${name}: weights ${prune ? weightsSource : choice.kind === 'real' ? choice.why : `synthetic (${choice.why})`}`);
  let net: Network | null = null;
  try {
    let prepared: PreparedFolder;
    if (prune) {
      const dense = st.dense;
      if (dense === null) {
        failed(o.batches, `not run: the pruned weights come from the model's weights as given, whose generate/build failed (${st.denseError ?? 'unknown'})`);
        return out;
      }
      try {
        const src = dense.prepared.generated;
        const pruned = stage('prune', () => pruneWeights(src.graph, src.weights, { sparsity: prune.sparsity, pattern: prune.pattern }));
        const folder = `${modelLabel(arg)}-${o.arch}-${variantKey({ prune })}`;
        const file = join(ctx.buildDir, folder, PRUNED_WEIGHTS_FILE);
        stage('save the pruned weights', () => {
          mkdirSync(dirname(file), { recursive: true });
          saveWeights(file, src.graph, pruned.weights, 'fp32');
        });
        notes.push(`weights pruned by the bench from ${src.weights.source}: ${prune.pattern}, by magnitude, each conv but the first to ${sparsityText(prune.sparsity)} ` +
          `(the dense layers kept dense): ${percent(pruned.eligibleAfter)} of the pruned convs' weights zero; written to ${file}`);
        log(`${name}: ${notes[notes.length - 1]}`);
        prepared = await ctx.prepare({ model: arg, arch: o.arch, weights: { kind: weights, path: file, fillMissing: false, why: `${file} (pruned by the bench)` },
          seed: o.seed, buildDir: ctx.buildDir, batches: o.batches, name: folder, reuse: [...st.folders], jobs: o.jobs, tune: o.tune, fuseResidual: o.fuseResidual, log });
      } catch (e) {
        if (isFatal(e)) throw e;
        failed(o.batches, `prune/generate/build: ${msg(e)}`);
        return out;
      }
    } else {
      try {
        prepared = await ctx.prepare({ model: arg, arch: o.arch, weights: choice, seed: o.seed, buildDir: ctx.buildDir, batches: o.batches, jobs: o.jobs, tune: o.tune, fuseResidual: o.fuseResidual, log });
      } catch (e) {
        if (isFatal(e)) throw e;
        st.denseError = msg(e);
        failed(o.batches, `generate/build: ${msg(e)}`);
        return out;
      }
    }
    st.folders.push(prepared);
    build = { kernels: prepared.kernels, buildSeconds: Math.round(prepared.buildSeconds * 10) / 10, buildReused: prepared.reused };
    const ws = prepared.generated.weights;
    weightsSource = ws.source;
    if (!prune) {
      const own: string[] = [];
      // A file can hold synthetic weights (cusnn-gen weights synth): its metadata says so ("<file> (synthetic (seed N)...)").
      if (weights === 'real' && /(^|\()synthetic \(seed \d+\)/.test(ws.source)) {
        weights = 'synthetic';
        own.push(`${choice.path} holds synthetic weights: ${ws.source}`);
      }
      if (ws.filled.length > 0) {
        const layers = [...new Set(ws.filled.map((k) => k.split(':')[0]!))];
        own.push(`${ws.filled.length} tensors missing from ${choice.path} filled synthetically (seed ${o.seed}): ${layers.join(', ')}`);
        log(`${model}: ${own[own.length - 1]}`);
      }
      notes.push(...own);
      st.dense = { prepared, weights, notes: own };
    }
    weightSparsity = convWeightSparsity(prepared.generated.graph, ws);
    if (!prune && weightSparsity >= PRUNED_WEIGHTS) notes.push(`pruned weights as given: ${percent(weightSparsity)} of the conv weights are zero`);
    const addonWhat = prepared.reusedFrom ? `of ${prepared.reusedFrom} reused (the same kernels)` : prepared.reused ? 'reused' : `built in ${prepared.buildSeconds.toFixed(1)} s`;
    log(`${name}: ${prepared.dir}: ${prepared.kernels} kernels, addon ${addonWhat}; ${percent(weightSparsity)} of the conv weights zero`);
    tick(prepared.reused ? 'addon reused' : `built (${prepared.buildSeconds.toFixed(0)} s)`);

    let fed: NetworkInputs;
    try {
      if (!ctx.addon) {
        ctx.addon = loadAddon(prepared.dir);
        ctx.clocksStart = readClocks(ctx.addon);
        if (ctx.clocksStart.note) log(`clocks: ${ctx.clocksStart.note}`);
        // Once per bench, before any model's work: the peaks of this board.
        ctx.peaks = measurePeaks(ctx.addon, o.arch);
        const p = ctx.peaks;
        log(`roofline: ${p.peakFp32Tflops} TFLOP/s fp32, ${p.bandwidthGBs} GB/s (${p.roofline.source}${p.roofline.note ? `: ${p.roofline.note}` : ''})`);
      }
      const n = new Network(prepared.dir, prepared.generated.graph, readPlanFile(prepared.dir), ws, { seed: o.seed });
      net = n;
      fed = ctx.inputs(n, st.halves);
    } catch (e) {
      if (isFatal(e)) throw e;
      failed(o.batches, msg(e));
      return out;
    }
    tick('calibrated');
    const peaks = ctx.peaks ?? profilePeaks(profileFor(ctx.addon.device, o.arch), 'no probe ran');

    for (let bi = 0; bi < o.batches.length; bi++) {
      const batch = o.batches[bi]!;
      const tb = performance.now();
      let stepsLeft = BATCH_STEPS;
      const runNotes = [...notes];
      if (batch > st.halves.time.length) runNotes.push(`batch ${batch} > ${st.halves.time.length} timing images: images repeated to fill it`);
      // The folder is planned for every benched batch (prepare's batches); a prepare hook may plan fewer.
      const planBatch = net.planAt(batch) ? batch : net.nearestPlannedBatch(batch);
      if (planBatch !== batch) runNotes.push(`the folder has no plan for batch ${batch}: the kernels of its batch-${planBatch} plan were decided among`);
      const runSeconds = (): number => Math.round((performance.now() - (bi === 0 ? t0 : tb)) / 100) / 10;
      try {
        const r = benchBatch(net, fed.split, fed.timingSparsity, peaks, {
          batch, rounds: o.rounds, iters: o.iters, layerIters: o.layerIters, energySeconds: o.energySeconds, checkInputs: o.checkInputs,
          tolerance: o.tolerance, idlePowerW: ctx.clocksStart?.sample?.powerW,
        }, { log: (s) => log(`${name} ${s}`), tick: (what) => { stepsLeft--; tick(`b${batch} ${what}`); } });
        out.push({ ...head(), batch, inputs, images, correctness: r.correctness, engines: r.engines, layers: r.layers,
          sparseLayers: r.sparseLayers, convLayers: net.plan.convs.length, ...(r.error ? { error: r.error } : {}), seconds: runSeconds(),
          ...(runNotes.length > 0 || r.error ? { notes: runNotes } : {}), ...build, planBatch });
        if (r.error) {
          // A mismatch stops this model's runs with these weights: no timings of a wrong result.
          failed(o.batches.slice(bi + 1), `not run: batch ${batch} failed the correctness check (${r.error.replace(/^correctness: /, '')})`);
          return out;
        }
      } catch (e) {
        if (isFatal(e)) throw e;
        out.push({ ...head(), batch, inputs, images, correctness: noCheck(o.tolerance), engines: [], layers: [],
          sparseLayers: 0, convLayers: net.plan.convs.length, error: msg(e), seconds: runSeconds(), notes: runNotes, ...build });
        log(`${name} b${batch}: FAILED: ${msg(e)}`);
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
  validate(o, hooks);
  const t0 = performance.now();
  const log = hooks.log ?? (() => {});
  const batches = [...(o.batches ?? [1])];
  const opts: Ctx['o'] = {
    models: o.models, arch: o.arch, batches, out: o.out, rounds: o.rounds ?? DEFAULT_ROUNDS,
    iters: o.iters ?? 200, layerIters: o.layerIters ?? 100, energySeconds: o.energySeconds ?? 2,
    checkInputs: o.checkInputs ?? 8, tolerance: o.tolerance ?? 1e-4, seed: o.seed ?? 0, jobs: o.jobs,
    prune: [...(o.prune ?? [])], prunePattern: o.prunePattern ?? 'unstructured', tune: o.tune,
    ...(o.fuseResidual === false ? { fuseResidual: false } : {}),
  };
  const weightsDir = o.weightsDir === null ? null : defaultDir(o.weightsDir, DEFAULT_WEIGHTS_DIR);
  const imagesDir = o.imagesDir === null ? null : defaultDir(o.imagesDir, DEFAULT_IMAGES_DIR);
  const buildDir = o.buildDir ?? join(o.out, 'build');
  mkdirSync(o.out, { recursive: true });
  mkdirSync(buildDir, { recursive: true });
  const images = benchImages(imagesDir, buildDir, opts.seed);
  log(`inputs: ${images.describe}; weights: ${weightsDir ?? 'none (synthetic for every model)'}; builds in ${buildDir}`);

  const variants = 1 + opts.prune.length;
  const progress = hooks.progress?.(o.models.length * variants * (MODEL_STEPS + batches.length * BATCH_STEPS), 'bench');
  const ctx: Ctx = { o: opts, weightsDir, images, buildDir, log, tick: (what) => progress?.tick(what), prepare: hooks.prepare ?? prepareFolder,
    inputs: hooks.inputs ?? imageInputs, addon: null, clocksStart: null, peaks: null };
  const settings: BenchSettings = {
    batches, rounds: opts.rounds, iters: opts.iters, layerIters: opts.layerIters, energySeconds: opts.energySeconds, checkInputs: opts.checkInputs,
    tolerance: opts.tolerance, seed: opts.seed, weightsDir: weightsDir && resolve(weightsDir), imagesDir: imagesDir && resolve(imagesDir), buildDir: resolve(buildDir),
    ...(opts.prune.length > 0 ? { prune: [...opts.prune], prunePattern: opts.prunePattern } : {}),
  };
  const runs: ModelResult[] = [];
  const createdAt = new Date().toISOString();
  const results = (end: ClockReading | null): BenchResults => {
    const device = ctx.addon?.device ?? null;
    return {
      format: RESULTS_FORMAT,
      createdAt,
      command: o.command ?? `cusnn-gen bench --model ${o.models.join(',')} --arch ${o.arch} --batch ${batches.join(',')}` +
        `${opts.prune.length > 0 ? ` --prune ${opts.prune.join(',')}${opts.prunePattern === 'unstructured' ? '' : ` --prune-pattern ${opts.prunePattern}`}` : ''}`,
      arch: o.arch,
      gpu: gpuInfo(device, ctx.clocksStart, end, ctx.peaks ?? profilePeaks(profileFor(device, o.arch), 'no model reached the GPU')),
      runs: [...runs],
      settings,
      seconds: Math.round((performance.now() - t0) / 100) / 10,
    };
  };
  try {
    for (const model of o.models) {
      // results.json after every model and weights variant: an interrupted bench keeps what it measured.
      await benchModel(model, ctx, (done) => {
        runs.push(...done);
        writeResults(results(null), o.out);
      });
    }
  } finally {
    progress?.done();
  }
  const final = results(ctx.addon ? readClocks(ctx.addon) : null);
  const files = [writeResults(final, o.out), ...writeReport(final, o.out)];
  hooks.written?.(files);
  return final;
}
