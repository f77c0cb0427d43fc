// The TypeScript API over the native runtime: load a generated folder, run it on the GPU,
// measure input sparsity (calibration). Lowering happens here, execution in the addon.
import { readFileSync, writeFileSync } from 'node:fs';
import { isAbsolute, join, resolve } from 'node:path';
import type { Graph } from '../model/ir.js';
import { resolvedWeights, resolvePlanModel } from '../model/resolve.js';
import { batchPlans } from '../plan/planner.js';
import type { ConvPlan, NetworkPlan } from '../plan/types.js';
import { Rng } from '../weights/prng.js';
import type { Calibration } from '../sparsity/calibration.js';
import type { WeightSet } from '../weights/store.js';
import { loadAddon, type NativeRuntime } from './addon.js';
import { CAFFE_MEAN_BGR, listImages, preprocess, readImage, TORCH_MEAN_RGB, TORCH_STD_RGB } from './images.js';
import { lowerNetwork } from './lower.js';
import { checkSchema, found, parseJson } from '../schema/check.js';
import { PLAN_FORMAT, PlanSchema } from '../schema/plan.js';
import type { Program } from './program.js';

/**
 * static: the plan's decisions (or those set by setDecisions); dynamic: decided per layer on the
 * device from the zero count; cudnn: every conv on cuDNN with the algorithm found by measurement;
 * cudnn-implicit-gemm: every conv on cuDNN's IMPLICIT_GEMM (the original artifact's baseline).
 */
export type SwitchMode = 'static' | 'dynamic' | 'cudnn' | 'cudnn-implicit-gemm';

/** Per-conv path override for static mode. */
export type Decisions = Readonly<Record<string, 'cudnn' | 'act-sparse'>>;

export interface LoadOptions {
  /** Weights path; default: what plan.json records (the generator's --weights, or synthetic with its seed). */
  readonly weights?: string;
  readonly fillMissing?: boolean;
  readonly seed?: number;
  readonly mode?: SwitchMode;
  readonly math?: 'fp32' | 'tf32';
  /** cuDNN algorithms: by measurement at load (default), or all fixed to IMPLICIT_GEMM (no search: the original's baseline, and fast loads under compute-sanitizer). */
  readonly algo?: 'search' | 'implicit-gemm';
  /** Layers whose outputs must be readable after a forward pass (`output(layer)`). */
  readonly keep?: readonly string[];
}

export interface LayerInfo {
  readonly name: string;
  readonly op: string;
  readonly shape: readonly [number, number, number];
  /** For convs: the planner's path. */
  readonly path?: 'cudnn' | 'act-sparse';
  readonly kernel?: string | null;
}

/** Reads `<dir>/plan.json` and checks it against its schema (src/schema/plan.ts); errors are one line naming the file and the field. */
export function readPlanFile(dir: string): NetworkPlan {
  const file = join(dir, 'plan.json');
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new Error(`${file}: cannot read (${code === 'ENOENT' ? 'no such file' : (e as Error).message}); is ${dir} a folder written by cusnn-gen?`);
  }
  const raw = parseJson(text, file);
  const format = typeof raw === 'object' && raw !== null ? (raw as { format?: unknown }).format : undefined;
  if (format !== PLAN_FORMAT) throw new Error(`${file}: unknown format ${found(format)}, expected "${PLAN_FORMAT}"; is ${dir} a folder written by cusnn-gen?`);
  const convsOf = (x: unknown): unknown[] => (typeof x === 'object' && x !== null && Array.isArray((x as { convs?: unknown }).convs) ? (x as { convs: unknown[] }).convs : []);
  const extra = typeof raw === 'object' && raw !== null && Array.isArray((raw as { batches?: unknown }).batches) ? (raw as { batches: unknown[] }).batches : [];
  const plan = checkSchema(PlanSchema, raw, file, (field) => {
    const m = /^(?:batches\[(\d+)\]\.)?convs\[(\d+)\](.*)$/.exec(field);
    const names = m ? convsOf(m[1] === undefined ? raw : extra[Number(m[1])]) : [];
    const layer = m ? (names[Number(m[2])] as { layer?: unknown } | null | undefined)?.layer : undefined;
    return m && typeof layer === 'string' ? `${field} (conv '${layer}')` : field;
  }) as unknown as NetworkPlan;
  // The schema checks each plan; one folder's plans must also be distinct batches of the same convs.
  let prev = plan.batch;
  const layers = plan.convs.map((c) => c.layer).join(',');
  (plan.batches ?? []).forEach((b, i) => {
    if (b.batch <= prev) throw new Error(`${file}: batches[${i}].batch: expected a batch larger than ${prev} (ascending, each batch once), found ${b.batch}`);
    if (b.convs.map((c) => c.layer).join(',') !== layers) throw new Error(`${file}: batches[${i}].convs: expected the same convs in the same order as the top-level plan (batch ${plan.batch}), found others`);
    prev = b.batch;
  });
  return plan;
}

/** Replays per engine when a batch without a plan times the nearest plan against all-cuDNN. */
export const NEAREST_PLAN_ITERS = 20;

/** Which plan static mode runs at a batch, and why (Network.planFor). */
export interface PlanChoice {
  /**
   * plan: the folder's plan for this batch; nearest: the plan of the nearest planned batch,
   * measured no slower than all-cuDNN at this batch; decisions: those set by setDecisions;
   * cudnn: every conv on cuDNN.
   */
  readonly source: 'plan' | 'nearest' | 'decisions' | 'cudnn';
  /** The planned batch whose decisions and kernels run (null when decisions were set or every conv is on cuDNN). */
  readonly planBatch: number | null;
  /** At a batch without a plan, when the nearest plan was timed against all-cuDNN here. */
  readonly measured?: NearestMeasurement;
  /** In words, for a person: which plan runs and why (with the two times when measured). */
  readonly note: string;
}

/** Whole-forward medians at a batch without a plan: the nearest plan's decisions vs every conv on cuDNN. */
export interface NearestMeasurement {
  readonly planBatch: number;
  readonly planUs: number;
  readonly cudnnUs: number;
  readonly iters: number;
  /** given: the input of the first forward at this batch; synthetic: planFor was asked before any input (a seeded noise image per item). */
  readonly input: 'given' | 'synthetic';
}

/** One lowered program per batch size, created on first use. */
interface Instance {
  readonly program: Program;
  readonly runtime: NativeRuntime;
}

export class Network {
  private readonly instances = new Map<string, Instance>();
  private disposed = false;
  private decisions: Decisions = {};
  /** The folder's plans by batch (one for a folder planned for one batch). */
  private readonly plans: ReadonlyMap<number, NetworkPlan>;
  /** Batches without a plan whose nearest plan was timed against all-cuDNN: the outcome, per batch. */
  private readonly nearest = new Map<number, NearestMeasurement>();

  constructor(
    readonly dir: string,
    readonly graph: Graph,
    /** plan.json's document: the first planned batch's plan, the others under `batches`. */
    readonly plan: NetworkPlan,
    readonly weights: WeightSet,
    private readonly options: LoadOptions,
  ) {
    this.plans = new Map(batchPlans(plan).map((p) => [p.batch, p]));
  }

  /** The batch sizes the folder has plans for, ascending. */
  plannedBatches(): number[] {
    return [...this.plans.keys()];
  }

  /** The plan made for `batch` (without `batches`), or null when the folder has none for it. */
  planAt(batch: number): NetworkPlan | null {
    return this.plans.get(batch) ?? null;
  }

  /** The planned batch closest to `batch`; of two as close, the smaller. */
  nearestPlannedBatch(batch: number): number {
    let best = this.plan.batch;
    for (const b of this.plans.keys()) if (Math.abs(b - batch) < Math.abs(best - batch)) best = b;
    return best;
  }

  layers(): LayerInfo[] {
    const convs = new Map(this.plan.convs.map((c) => [c.layer, c]));
    return this.graph.layers.map((l) => {
      const c = convs.get(l.name);
      return c ? { name: l.name, op: l.op, shape: [...l.shape] as [number, number, number], path: c.decision === 'act-sparse' ? 'act-sparse' : 'cudnn', kernel: c.kernelName }
        : { name: l.name, op: l.op, shape: [...l.shape] as [number, number, number] };
    });
  }

  private instance(batch: number, countZeros: boolean, mode: SwitchMode = this.options.mode ?? 'static', input?: Float32Array): Instance {
    if (this.disposed) throw new Error(`${this.dir}: network was disposed`);
    const key = `${batch}/${countZeros}/${mode}`;
    const hit = this.instances.get(key);
    if (hit) return hit;
    // Deciding a batch without a plan times both candidates and keeps the winner's runtime under this key.
    const plan = mode === 'static' ? this.decidedPlan(batch, input) : this.plans.get(this.nearestPlannedBatch(batch))!;
    const made = this.instances.get(key);
    if (made) return made;
    const inst = this.build(plan, batch, countZeros, mode);
    this.instances.set(key, inst);
    return inst;
  }

  private build(plan: NetworkPlan, batch: number, countZeros: boolean, mode: SwitchMode): Instance {
    const cudnnOnly = mode === 'cudnn' || mode === 'cudnn-implicit-gemm';
    const lowered = lowerNetwork(this.graph, plan, this.weights, {
      batch,
      mode: cudnnOnly ? 'cudnn' : 'plan',
      keep: [...(this.options.keep ?? []), this.logitsLayer()],
      countZeros: countZeros || mode === 'dynamic',
    });
    const addon = loadAddon(this.dir);
    const runtime = addon.createRuntime(JSON.stringify(lowered.program), lowered.tensors, {
      mode: cudnnOnly ? 'cudnn' : mode,
      algo: mode === 'cudnn-implicit-gemm' ? 'implicit-gemm' : this.options.algo ?? 'search',
      math: this.options.math ?? 'fp32',
    });
    return { program: lowered.program, runtime };
  }

  /**
   * Which plan static mode runs at `batch`, and why. A plan's decisions were made (and, with a
   * calibration or tune cache, measured) for its batch; a generated kernel fast at batch 1 can be
   * slower than cuDNN at batch 16 (measured on the H200: 9.62 vs 7.39 ms for DenseNet-169). So a
   * batch with its own plan runs it; a batch without one runs the nearest planned batch's plan
   * only if that measures no slower than every conv on cuDNN at this batch (whole forwards, timed
   * once per batch on `input`, or on a seeded noise input when none is given yet), else cuDNN.
   * Decisions set by setDecisions override all of it.
   */
  planFor(batch: number, input?: Float32Array): PlanChoice {
    if (Object.keys(this.decisions).length > 0) return { source: 'decisions', planBatch: null, note: `batch ${batch}: the decisions set by measurement` };
    if (this.plans.has(batch)) return { source: 'plan', planBatch: batch, note: `batch ${batch}: the plan made for batch ${batch}` };
    const near = this.nearestPlannedBatch(batch);
    const planned = this.plannedBatches();
    const which = planned.length > 1 ? `the nearest of the folder's plans (batch ${planned.join(', ')})` : 'the folder\'s only plan';
    const head = `batch ${batch}: no plan for this batch; the plan made for batch ${near}, ${which},`;
    if (!this.plans.get(near)!.convs.some((c) => c.decision === 'act-sparse')) {
      return { source: 'cudnn', planBatch: null, note: `${head} puts every conv on cuDNN, so every conv runs on cuDNN` };
    }
    const m = this.nearest.get(batch) ?? this.measureNearest(batch, near, input);
    const times = `${m.planUs.toFixed(1)} vs ${m.cudnnUs.toFixed(1)} us per forward, medians of ${m.iters} CUDA graph replays on ${m.input === 'given' ? 'the first input at this batch' : 'a seeded noise input (none given yet)'}`;
    return m.planUs <= m.cudnnUs
      ? { source: 'nearest', planBatch: near, measured: m, note: `${head} runs: measured no slower than every conv on cuDNN at batch ${batch} (${times})` }
      : { source: 'cudnn', planBatch: null, measured: m, note: `${head} measured slower than every conv on cuDNN at batch ${batch} (${times}), so every conv runs on cuDNN` };
  }

  /**
   * Times the nearest plan's decisions and all-cuDNN at `batch` (static mode, the runtimes that
   * would run), remembers the outcome and keeps the winner's runtime as the static one of `batch`.
   */
  private measureNearest(batch: number, near: number, input?: Float32Array): NearestMeasurement {
    if (this.disposed) throw new Error(`${this.dir}: network was disposed`);
    const per = this.graph.layers[0]!.shape.reduce((a, b) => a * b, 1);
    if (input !== undefined && input.length !== batch * per) throw new Error(`${this.plan.model}: input has ${input.length} floats, not ${batch} x ${per} (batch ${batch})`);
    const x = input ?? this.noiseInput(batch);
    const candidate = this.build(this.plans.get(near)!, batch, false, 'static');
    let baseline: Instance | null = null;
    let m: NearestMeasurement;
    try {
      baseline = this.build(this.cudnnPlan(batch), batch, false, 'static');
      candidate.runtime.run(x);
      baseline.runtime.run(x);
      m = { planBatch: near, planUs: candidate.runtime.timeForward(NEAREST_PLAN_ITERS).medianUs, cudnnUs: baseline.runtime.timeForward(NEAREST_PLAN_ITERS).medianUs,
        iters: NEAREST_PLAN_ITERS, input: input === undefined ? 'synthetic' : 'given' };
    } catch (e) {
      candidate.runtime.dispose();
      baseline?.runtime.dispose();
      throw e;
    }
    this.nearest.set(batch, m);
    const [keep, drop] = m.planUs <= m.cudnnUs ? [candidate, baseline] : [baseline, candidate];
    drop.runtime.dispose();
    this.instances.set(`${batch}/false/static`, keep);
    return m;
  }

  /** A seeded noise batch in the network's preprocessed input range (0..255 pixels, the family's normalization). */
  private noiseInput(batch: number): Float32Array {
    const [c, h, w] = this.graph.layers[0]!.shape;
    const rng = Rng.forKey(0, `nearest-plan-input/${this.graph.name}/${batch}`);
    const x = new Float32Array(batch * c * h * w);
    const caffe = this.graph.preprocessing === 'caffe';
    for (let n = 0; n < batch; n++) {
      for (let ch = 0; ch < c; ch++) {
        const at = (n * c + ch) * h * w;
        for (let i = 0; i < h * w; i++) {
          const px = rng.uniform(0, 255);
          x[at + i] = caffe ? px - CAFFE_MEAN_BGR[ch % 3]! : (px / 255 - TORCH_MEAN_RGB[ch % 3]!) / TORCH_STD_RGB[ch % 3]!;
        }
      }
    }
    return x;
  }

  /** The nearest plan with every conv on cuDNN, each reason saying why. */
  private cudnnPlan(batch: number, why?: string): NetworkPlan {
    const near = this.plans.get(this.nearestPlannedBatch(batch))!;
    const because = why ?? `no plan for batch ${batch}`;
    return { ...near, convs: near.convs.map((c) => (c.decision === 'cudnn' ? c : { ...c, decision: 'cudnn', reason: `${c.reason}; cuDNN at batch ${batch}: ${because}` })) };
  }

  /** The plan with setDecisions' overrides applied (static mode's plan) at `batch`. */
  private decidedPlan(batch: number = this.plan.batch, input?: Float32Array): NetworkPlan {
    const choice = this.planFor(batch, input);
    if (choice.source === 'plan' || choice.source === 'nearest') return this.plans.get(choice.planBatch!)!;
    if (choice.source === 'cudnn') {
      const near = this.nearestPlannedBatch(batch);
      return this.cudnnPlan(batch, choice.measured ? `the plan for batch ${near} measured slower than cuDNN here` : `the plan for batch ${near} has no generated kernel`);
    }
    // Decisions: the convs of this batch's plan (else the nearest one's); a conv set to act-sparse
    // without a kernel there takes one another batch's plan has (setDecisions checked that one exists).
    const base = this.plans.get(batch) ?? this.plans.get(this.nearestPlannedBatch(batch))!;
    return { ...base, convs: base.convs.map((c) => {
      const d = this.decisions[c.layer];
      if (d === undefined || d === c.decision) return c;
      const k = d === 'act-sparse' && c.spec === null ? this.withKernel(c.layer) : c;
      return { ...k, decision: d, reason: `${k.reason}; overridden to ${d} by measurement` };
    }) };
  }

  /** The conv `layer` from the first planned batch whose plan gives it a generated kernel. */
  private withKernel(layer: string): ConvPlan {
    for (const p of this.plans.values()) {
      const c = p.convs.find((x) => x.layer === layer);
      if (c?.spec) return c;
    }
    throw new Error(`${this.plan.model}: ${layer} has no generated kernel in ${this.dir}`);
  }

  /**
   * Overrides the static-mode path of the named convs (e.g. the faster path per layer measured by
   * runtime/tune.ts). A conv can go act-sparse only if this folder has its kernel (generate with
   * force act-sparse to have one for every eligible conv). Static instances are rebuilt.
   */
  setDecisions(d: Decisions): void {
    const convs = new Map(this.plan.convs.map((c) => [c.layer, c]));
    const hasKernel = new Set([...this.plans.values()].flatMap((p) => p.convs.filter((c) => c.spec !== null).map((c) => c.layer)));
    for (const [layer, path] of Object.entries(d)) {
      const c = convs.get(layer);
      if (!c) throw new Error(`${this.plan.model}: setDecisions: no conv named '${layer}'`);
      if (path !== 'cudnn' && path !== 'act-sparse') throw new Error(`${this.plan.model}: setDecisions: ${layer}: path must be 'cudnn' or 'act-sparse', got '${String(path)}'`);
      if (path === 'act-sparse' && !hasKernel.has(layer)) {
        throw new Error(`${this.plan.model}: setDecisions: ${layer} has no generated kernel in ${this.dir} (${c.reason}); generate with --force act-sparse to have one`);
      }
    }
    const before = this.paths();
    const hadDecisions = Object.keys(this.decisions).length > 0;
    this.decisions = { ...d };
    const after = this.paths();
    // Setting or clearing decisions also changes what other batches run (planFor), so rebuild then.
    if (hadDecisions === Object.keys(this.decisions).length > 0 && Object.keys(after).every((l) => after[l] === before[l])) return;
    for (const [key, inst] of this.instances) {
      if (key.endsWith('/static')) {
        inst.runtime.dispose();
        this.instances.delete(key);
      }
    }
  }

  /** The decisions set by setDecisions (empty: the plans decide, see planFor). */
  getDecisions(): Decisions {
    return { ...this.decisions };
  }

  /** The current static-mode path of every conv. */
  paths(): Record<string, 'cudnn' | 'act-sparse'> {
    return Object.fromEntries(this.decidedPlan().convs.map((c) => [c.layer, c.decision === 'act-sparse' ? 'act-sparse' : 'cudnn']));
  }

  /** The native runtime of this batch and mode (created on first use), for measurements the Network does not wrap. */
  runtimeFor(batch: number, mode: SwitchMode): NativeRuntime {
    return this.instance(batch, false, mode).runtime;
  }

  /**
   * The layer to compare two paths at: the input of a final softmax (the logits), else the output.
   * A softmax saturates (synthetic classifiers give one-hot outputs in fp32), so comparing after it
   * can hide differences; comparing the logits cannot.
   */
  logitsLayer(): string {
    const layers = this.graph.layers;
    const last = layers[layers.length - 1]!;
    return last.op === 'softmax' && last.inputs.length === 1 ? last.inputs[0]! : last.name;
  }

  /** Forward through `mode` and return a copy of the logits (logitsLayer()) for the batch. */
  logitsWith(x: Float32Array, mode: SwitchMode): Float32Array {
    const per = this.graph.layers[0]!.shape.reduce((a, b) => a * b, 1);
    this.inferWith(x, mode);
    return this.instance(x.length / per, false, mode, x).runtime.readView(this.logitsLayer()).slice();
  }

  /** Runs a batch: NCHW preprocessed floats (batch inferred from the length), or image files in the original's format. */
  infer(input: Float32Array | readonly string[]): Float32Array {
    const x = input instanceof Float32Array ? input : this.preprocessFiles(input);
    const per = this.graph.layers[0]!.shape.reduce((a, b) => a * b, 1);
    if (x.length === 0 || x.length % per !== 0) throw new Error(`${this.plan.model}: input has ${x.length} floats, not a multiple of ${per} (one ${this.graph.layers[0]!.shape.join('x')} image)`);
    return this.instance(x.length / per, false, undefined, x).runtime.run(x);
  }

  /** `infer` through a given switch mode (cuSNN path vs cuDNN-only path side by side). */
  inferWith(x: Float32Array, mode: SwitchMode): Float32Array {
    const per = this.graph.layers[0]!.shape.reduce((a, b) => a * b, 1);
    return this.instance(x.length / per, false, mode, x).runtime.run(x);
  }

  /** The lowered program run at this batch and mode. */
  programFor(batch: number, mode: SwitchMode): Program {
    return this.instance(batch, false, mode).program;
  }

  /** Median / p10 / p90 of one step captured alone (after a forward at this batch and mode). */
  timeStep(batch: number, mode: SwitchMode, step: number, iters: number): { medianUs: number; p10Us: number; p90Us: number } {
    if (step < 0) throw new Error(`${this.plan.model}: no such step`);
    return this.instance(batch, false, mode).runtime.timeStep(step, iters);
  }

  /** Output of a layer named in `keep` after the last forward at this batch size (and mode). */
  output(layer: string, batch = 1, mode?: SwitchMode): Float32Array {
    if (!(this.options.keep ?? []).includes(layer) && this.graph.layers[this.graph.layers.length - 1]!.name !== layer) {
      throw new Error(`${this.plan.model}: layer '${layer}' was not kept; load the network with keep: ['${layer}']`);
    }
    return this.instance(batch, false, mode).runtime.readView(layer);
  }

  preprocessFiles(files: readonly string[]): Float32Array {
    if (files.length === 0) throw new Error('no images given');
    return preprocess(files.map((f) => readImage(f)), this.graph.preprocessing);
  }

  /**
   * Measures each conv's input sparsity on the GPU over `images` (one image per forward, counters
   * on the device) and writes calibration.json into the folder (or `out`); the planner reads it.
   */
  calibrate(images: string | readonly string[], out = join(this.dir, 'calibration.json')): Calibration {
    const files = listImages(images);
    const inst = this.instance(1, true);
    const convs = inst.program.steps.filter((s) => s.op === 'conv');
    const zeros = new Float64Array(inst.program.zeroCounters);
    for (const f of files) {
      inst.runtime.run(this.preprocessFiles([f]));
      const z = inst.runtime.zeroCounts();
      for (let i = 0; i < zeros.length; i++) zeros[i]! += z[i]!;
    }
    const layers: Record<string, { inputSparsity: number }> = {};
    for (const c of convs) {
      if (c.op !== 'conv' || c.inZeros === null) continue;
      const elems = c.in.c * c.in.h * c.in.w * files.length;
      layers[c.layer] = { inputSparsity: zeros[c.inZeros]! / elems };
    }
    const cal: Calibration = { format: 'cusnn-calibration/1', model: this.plan.model, images: files.length, weights: this.weights.source, layers };
    writeFileSync(out, `${JSON.stringify(cal, null, 2)}\n`);
    return cal;
  }

  /** Median / p10 / p90 of whole-forward CUDA graph replays at `batch`, in microseconds. */
  time(batch: number, iters: number, mode?: SwitchMode): { medianUs: number; p10Us: number; p90Us: number } {
    return this.instance(batch, false, mode).runtime.timeForward(iters);
  }

  dispose(): void {
    for (const i of this.instances.values()) i.runtime.dispose();
    this.instances.clear();
    this.disposed = true;
  }
}

/**
 * The network of a generated folder: its plan, the model it names (a zoo model, or the ONNX file
 * plan.json records, which must be unchanged: src/model/resolve.ts resolvePlanModel) and the
 * weights: `o.weights`, else what the plan records (the generator's --weights, an ONNX model's own
 * initializers, or synthetic with its seed).
 */
export function planModel(dir: string, plan: NetworkPlan, o: Pick<LoadOptions, 'weights' | 'seed' | 'fillMissing'> = {}): { graph: Graph; weights: WeightSet } {
  const m = resolvePlanModel(plan, join(dir, 'plan.json'));
  const ref = plan.weightsRef;
  // Plans store the path absolute; an older plan's relative path is relative to the plan's folder.
  const refPath = ref?.path == null ? undefined : isAbsolute(ref.path) ? ref.path : resolve(dir, ref.path);
  const weights = resolvedWeights(m, {
    path: o.weights ?? refPath,
    seed: o.seed ?? ref?.seed ?? 0,
    fillMissing: o.fillMissing ?? ref?.fillMissing ?? false,
  });
  return { graph: m.graph, weights };
}

export function loadNetwork(dir: string, o: LoadOptions = {}): Network {
  const plan = readPlanFile(dir);
  const { graph, weights } = planModel(dir, plan, o);
  return new Network(dir, graph, plan, weights, o);
}
