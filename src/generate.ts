// The generator pipeline, stage by stage: model -> weights -> sparsity -> plan -> codegen, and
// optionally the nvcc check. Each stage reports what it did (with its time) through `log`.
// The output folder is checked before any work and written safely (src/output/folder.ts).
import { isAbsolute, join, resolve } from 'node:path';
import { gpuProfile } from './arch/profiles.js';
import { emitNetwork, type Emitted } from './codegen/emit.js';
import { paramCount, type Graph, type Shape } from './model/ir.js';
import { modelFileRef, modelLabel, resolvedWeights, resolveModel } from './model/resolve.js';
import { gpuPathProblems, gpuPathSummary } from './runtime/lower.js';
import { batchListProblem, batchPlans, planNetwork, withBatches, type MeasuredConv } from './plan/planner.js';
import type { NetworkPlan } from './plan/types.js';
import { readCalibration } from './sparsity/calibration.js';
import { readTuneCache } from './plan/tune-cache.js';
import { sparsityProfile } from './sparsity/profile.js';
import type { SparsityProfile } from './sparsity/types.js';
import { structureLookup } from './families/wsparse/structure.js';
import type { WeightSet } from './weights/store.js';
import { MAX_BATCH, MAX_SEED } from './output/exit.js';
import { checkOutDir, writeFolderAtomically } from './output/folder.js';

export interface GenerateOptions {
  /** A zoo name (`resnet50`) or an ONNX file (a path ending in .onnx: its initializers are the default weights). */
  readonly model: string;
  /** An ONNX model's input C,H,W where the file leaves them symbolic (recorded in plan.json). */
  readonly inputShape?: Shape;
  readonly arch: string;
  readonly weights?: string;
  readonly fillMissing?: boolean;
  readonly seed?: number;
  readonly calibration?: string;
  /**
   * The batch size to plan for (default 1), or several ascending ones (e.g. [1, 8, 32]): each gets
   * its own plan, all written into one folder (one plan.json, the union of their kernels).
   */
  readonly batch?: number | readonly number[];
  /** Put every eligible conv on one path (ablations, cuDNN-only baselines); default: the cost model decides. */
  readonly force?: 'cudnn' | 'act-sparse';
  /** A tune cache (`cusnn-gen tune --cache`): its entries for `gpu` decide the tiles of matching convs. */
  readonly tuneCache?: string;
  /** false: residual adds stay steps (no conv takes one into its epilogue; src/plan/residual.ts). Default true. */
  readonly fuseResidual?: boolean;
  /**
   * The target GPU model as the device reports it (e.g. "NVIDIA H200"): tune entries and calibration
   * times count only when taken on it. Required with tuneCache.
   */
  readonly gpu?: string;
  /**
   * Output folder; default generated/<model>-<arch> under the current directory. It must be new,
   * empty or written by cusnn (plan.json says so), else generate throws before any work.
   */
  readonly out?: string;
  /** Write into a folder cusnn did not write (its generated files are replaced, others kept). */
  readonly forceOverwrite?: boolean;
  readonly log?: (line: string) => void;
}

export interface Generated {
  readonly graph: Graph;
  readonly weights: WeightSet;
  readonly sparsity: SparsityProfile;
  /** plan.json's document: the first batch's plan, with the other batches' under `batches`. */
  readonly plan: NetworkPlan;
  /** One complete plan per batch, ascending (kernel names filled in). */
  readonly plans: readonly NetworkPlan[];
  readonly emitted: Emitted;
  /** Entries of a reused folder left out because they belonged to another model or arch (build, calibration.json). */
  readonly dropped: readonly string[];
  /** Why the GPU path (lowering for the native runtime) cannot run this network yet, one line per layer; empty when it can. */
  readonly gpuProblems: readonly string[];
}

/** generated/<model>-<arch>; for an ONNX file its base name without .onnx (`generated/mobilenet_v2-sm_90`). */
export const defaultOutDir = (model: string, arch: string): string => join('generated', `${modelLabel(model)}-${arch}`);

export function generate(o: GenerateOptions): Generated {
  const log = o.log ?? (() => {});
  const t0 = performance.now();
  const step = (what: string): void => log(`[${((performance.now() - t0) / 1000).toFixed(2)}s] ${what}`);
  const profile = gpuProfile(o.arch); // validate both names before any heavy work
  const model = resolveModel(o.model, { inputShape: o.inputShape });
  const graph = model.graph;
  const batches: readonly number[] = typeof o.batch === 'number' ? [o.batch] : o.batch ?? [1];
  for (const batch of batches) {
    if (!Number.isInteger(batch) || batch < 1 || batch > MAX_BATCH) throw new Error(`batch must be an integer in [1, ${MAX_BATCH}] (the launchers' grid limit), got ${batch}`);
  }
  const badBatch = batchListProblem(batches, MAX_BATCH);
  if (badBatch) throw new Error(badBatch);
  const seed = o.seed ?? 0;
  if (!Number.isInteger(seed) || seed < 0 || seed > MAX_SEED) throw new Error(`seed must be an integer in [0, ${MAX_SEED}], got ${seed}`);
  const out = o.out ?? defaultOutDir(o.model, profile.arch);
  const outState = checkOutDir(out, { forceOverwrite: o.forceOverwrite });
  // Read every user-given file before printing anything, so bad input fails with one line.
  const calibration = o.calibration ? { path: o.calibration, data: readCalibration(o.calibration, graph.name) } : undefined;
  if (o.gpu !== undefined && o.gpu.trim() === '') throw new Error('gpu must name the GPU model as the device reports it, e.g. "NVIDIA H200"');
  if (o.tuneCache && !o.gpu) throw new Error(`tune cache ${o.tuneCache}: needs the target GPU model (--gpu, e.g. --gpu "NVIDIA H200"): its entries are per GPU model`);
  const tuned = o.tuneCache ? readTuneCache(o.tuneCache) : undefined;
  const weights = resolvedWeights(model, { path: o.weights, seed, fillMissing: o.fillMissing });
  // An ONNX model's file and digest go into plan.json: later commands on the folder read it again.
  const modelFile = modelFileRef(model, o.inputShape);
  step(`model ${graph.name}: ${graph.layers.length} layers, ${paramCount(graph).toLocaleString('en-US')} parameters` +
    `${modelFile ? ` (ONNX ${modelFile.path}, sha256 ${modelFile.sha256.slice(0, 12)}...)` : ''}`);
  step(`weights: ${weights.source}${weights.filled.length ? `; filled synthetically: ${weights.filled.join(', ')}` : ''}`);

  const sparsity = sparsityProfile(graph, weights, { calibration });
  step(`input sparsity: ${sparsity.activationSource}`);
  // The nonzero lists of pruned convs (wsparse family): computed on first use, by the planner and again by codegen's check.
  const weightStructure = structureLookup(graph, weights);

  const measured = new Map<string, MeasuredConv>();
  for (const [layer, v] of Object.entries(calibration?.data.layers ?? {})) {
    if (v.measured) measured.set(layer, { ...v.measured, gpu: calibration!.data.gpu!, arch: calibration!.data.arch! });
  }
  if (measured.size > 0) {
    const same = calibration!.data.arch === profile.arch;
    const sameGpu = o.gpu === undefined || calibration!.data.gpu === o.gpu;
    step(`measured times of ${measured.size} convs on ${calibration!.data.gpu} (${calibration!.data.arch})${!same ? `: not ${profile.arch}, so ignored` : !sameGpu ? `: not ${o.gpu}, so ignored` : ': they decide those layers'}`);
  }
  // The plan records the weights by absolute path, so `run` from any directory finds them.
  const weightsPath = o.weights ? (isAbsolute(o.weights) ? o.weights : resolve(o.weights)) : null;
  // Calibration times are taken at batch 1 (Network.calibrate): with several batches planned they
  // decide only the batch-1 plan. One batch keeps the behaviour of folders planned for one batch.
  const measuredBatch = batches.length > 1 ? 1 : undefined;
  if (measured.size > 0 && measuredBatch !== undefined) {
    step(`measured times were taken at batch ${measuredBatch}: ${batches.includes(measuredBatch) ? `they decide the batch-${measuredBatch} plan only` : 'no planned batch is 1, so unused'}`);
  }
  const planned = batches.map((batch) => {
    if (tuned) {
      const mine = Object.values(tuned.entries).filter((e) => e.gpu === o.gpu && e.arch === profile.arch && e.batch === batch).length;
      step(`tune cache ${o.tuneCache}: ${Object.keys(tuned.entries).length} entries, ${mine} for ${o.gpu} (${profile.arch}) at batch ${batch}`);
    }
    const plan = planNetwork(graph, profile, sparsity, { batch, weightsSource: weights.source, force: o.force, fuseResidual: o.fuseResidual, measured, measuredBatch, tuned, gpu: o.gpu,
      weightsRef: { path: weightsPath, seed, fillMissing: o.fillMissing ?? false }, weightStructure });
    const sparse = plan.convs.filter((c) => c.decision === 'act-sparse').length;
    // decision 'act-sparse' means "a generated kernel": say which families.
    const fams = new Map<string, number>();
    for (const c of plan.convs) if (c.decision === 'act-sparse') fams.set(c.spec?.family ?? 'act-sparse', (fams.get(c.spec?.family ?? 'act-sparse') ?? 0) + 1);
    const famText = [...fams].map(([f, n]) => `${f} ${n}`).join(', ');
    step(`plan for ${profile.arch} (${profile.board})${batches.length > 1 ? ` at batch ${batch}` : ''}: ${plan.convs.length} convs, ${sparse} on generated kernels${famText ? ` (${famText})` : ''}, ${plan.convs.length - sparse} cuDNN`);
    return plan;
  });
  const plan = withModelFile(withBatches(planned), modelFile);
  const gpuProblems = gpuPathProblems(graph);
  const unsupported = gpuPathSummary(graph);
  if (unsupported !== null) step(`note: the GPU path (build, run) cannot run this network yet: ${unsupported}; run --cpu can`);

  // Written beside the old folder and swapped in when complete: a failure leaves the old one intact.
  const { value: staged, dropped } = writeFolderAtomically(out, outState, { model: graph.name, arch: profile.arch },
    (staging) => emitNetwork(graph, plan, staging, { structures: weightStructure }));
  const emitted: Emitted = { ...staged, dir: out };
  if (dropped.length > 0) step(`dropped ${dropped.join(' and ')} of the old folder: another model or arch`);
  step(`wrote ${emitted.dir}: ${emitted.kernels.length} kernels${batches.length > 1 ? ` (batch ${batches.join(', ')})` : ''}, plan.json, report.md, CMakeLists.txt, index.d.ts`);
  return { graph, weights, sparsity, plan: emitted.plan, plans: batchPlans(emitted.plan), emitted, dropped, gpuProblems };
}

/** The plan with `modelFile` right after `model` (plan.json reads in that order); unchanged for a zoo model. */
function withModelFile(plan: NetworkPlan, modelFile: NetworkPlan['modelFile'] | null): NetworkPlan {
  if (!modelFile) return plan;
  const { format, model, ...rest } = plan;
  return { format, model, modelFile, ...rest };
}
