// The TypeScript API over the native runtime: load a generated folder, run it on the GPU,
// measure input sparsity (calibration). Lowering happens here, execution in the addon.
import { readFileSync, writeFileSync } from 'node:fs';
import { isAbsolute, join, resolve } from 'node:path';
import { buildModel } from '../model/zoo/index.js';
import type { Graph } from '../model/ir.js';
import type { NetworkPlan } from '../plan/types.js';
import type { Calibration } from '../sparsity/calibration.js';
import { loadWeights } from '../weights/load.js';
import type { WeightSet } from '../weights/store.js';
import { loadAddon, type NativeRuntime } from './addon.js';
import { listImages, preprocess, readImage } from './images.js';
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
  const names = Array.isArray((raw as { convs?: unknown }).convs) ? ((raw as { convs: unknown[] }).convs) : [];
  const plan = checkSchema(PlanSchema, raw, file, (field) => {
    const m = /^convs\[(\d+)\](.*)$/.exec(field);
    const layer = m ? (names[Number(m[1])] as { layer?: unknown } | null | undefined)?.layer : undefined;
    return m && typeof layer === 'string' ? `${field} (conv '${layer}')` : field;
  });
  return plan as unknown as NetworkPlan;
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

  constructor(
    readonly dir: string,
    readonly graph: Graph,
    readonly plan: NetworkPlan,
    readonly weights: WeightSet,
    private readonly options: LoadOptions,
  ) {}

  layers(): LayerInfo[] {
    const convs = new Map(this.plan.convs.map((c) => [c.layer, c]));
    return this.graph.layers.map((l) => {
      const c = convs.get(l.name);
      return c ? { name: l.name, op: l.op, shape: [...l.shape] as [number, number, number], path: c.decision === 'act-sparse' ? 'act-sparse' : 'cudnn', kernel: c.kernelName }
        : { name: l.name, op: l.op, shape: [...l.shape] as [number, number, number] };
    });
  }

  private instance(batch: number, countZeros: boolean, mode: SwitchMode = this.options.mode ?? 'static'): Instance {
    if (this.disposed) throw new Error(`${this.dir}: network was disposed`);
    const key = `${batch}/${countZeros}/${mode}`;
    const hit = this.instances.get(key);
    if (hit) return hit;
    const cudnnOnly = mode === 'cudnn' || mode === 'cudnn-implicit-gemm';
    const lowered = lowerNetwork(this.graph, mode === 'static' ? this.decidedPlan(batch) : this.plan, this.weights, {
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
    const inst = { program: lowered.program, runtime };
    this.instances.set(key, inst);
    return inst;
  }

  /**
   * Which plan static mode runs at `batch`, in words. The plan's decisions were made (and, with a
   * calibration, measured) for plan.batch; a generated kernel tuned for batch 1 can be slower than
   * cuDNN at batch 16 (measured on the H200: 9.62 vs 7.39 ms for DenseNet-169), so another batch
   * runs every conv on cuDNN unless setDecisions gave decisions measured by the caller.
   */
  planFor(batch: number): { readonly source: 'plan' | 'decisions' | 'cudnn'; readonly note: string } {
    if (Object.keys(this.decisions).length > 0) return { source: 'decisions', note: `batch ${batch}: the decisions set by measurement` };
    if (batch === this.plan.batch) return { source: 'plan', note: `batch ${batch}: the plan made for batch ${this.plan.batch}` };
    return { source: 'cudnn', note: `batch ${batch}: no plan for this batch (the folder's plan is for batch ${this.plan.batch} and was not measured here), so every conv runs on cuDNN` };
  }

  /** The plan with setDecisions' overrides applied (static mode's plan) at `batch`. */
  private decidedPlan(batch: number = this.plan.batch): NetworkPlan {
    if (this.planFor(batch).source === 'cudnn') {
      return { ...this.plan, convs: this.plan.convs.map((c) => (c.decision === 'cudnn' ? c : { ...c, decision: 'cudnn', reason: `${c.reason}; cuDNN at batch ${batch}: the plan is for batch ${this.plan.batch}` })) };
    }
    if (Object.keys(this.decisions).length === 0) return this.plan;
    return { ...this.plan, convs: this.plan.convs.map((c) => {
      const d = this.decisions[c.layer];
      return d === undefined || d === c.decision ? c : { ...c, decision: d, reason: `${c.reason}; overridden to ${d} by measurement` };
    }) };
  }

  /**
   * Overrides the static-mode path of the named convs (e.g. the faster path per layer measured by
   * runtime/tune.ts). A conv can go act-sparse only if this folder has its kernel (generate with
   * force act-sparse to have one for every eligible conv). Static instances are rebuilt.
   */
  setDecisions(d: Decisions): void {
    const convs = new Map(this.plan.convs.map((c) => [c.layer, c]));
    for (const [layer, path] of Object.entries(d)) {
      const c = convs.get(layer);
      if (!c) throw new Error(`${this.plan.model}: setDecisions: no conv named '${layer}'`);
      if (path !== 'cudnn' && path !== 'act-sparse') throw new Error(`${this.plan.model}: setDecisions: ${layer}: path must be 'cudnn' or 'act-sparse', got '${String(path)}'`);
      if (path === 'act-sparse' && c.spec === null) {
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

  /** The decisions set by setDecisions (empty: the plan decides, at its batch only). */
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
    return this.instance(x.length / per, false, mode).runtime.readView(this.logitsLayer()).slice();
  }

  /** Runs a batch: NCHW preprocessed floats (batch inferred from the length), or image files in the original's format. */
  infer(input: Float32Array | readonly string[]): Float32Array {
    const x = input instanceof Float32Array ? input : this.preprocessFiles(input);
    const per = this.graph.layers[0]!.shape.reduce((a, b) => a * b, 1);
    if (x.length === 0 || x.length % per !== 0) throw new Error(`${this.plan.model}: input has ${x.length} floats, not a multiple of ${per} (one ${this.graph.layers[0]!.shape.join('x')} image)`);
    return this.instance(x.length / per, false).runtime.run(x);
  }

  /** `infer` through a given switch mode (cuSNN path vs cuDNN-only path side by side). */
  inferWith(x: Float32Array, mode: SwitchMode): Float32Array {
    const per = this.graph.layers[0]!.shape.reduce((a, b) => a * b, 1);
    return this.instance(x.length / per, false, mode).runtime.run(x);
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

export function loadNetwork(dir: string, o: LoadOptions = {}): Network {
  const plan = readPlanFile(dir);
  const graph = buildModel(plan.model);
  const ref = plan.weightsRef;
  // Plans store the path absolute; an older plan's relative path is relative to the plan's folder.
  const refPath = ref?.path == null ? undefined : isAbsolute(ref.path) ? ref.path : resolve(dir, ref.path);
  const weights = loadWeights(graph, {
    path: o.weights ?? refPath,
    seed: o.seed ?? ref?.seed ?? 0,
    fillMissing: o.fillMissing ?? ref?.fillMissing ?? false,
  });
  return new Network(dir, graph, plan, weights, o);
}
