// `cusnn-gen tune`'s measured search: for every conv of a generated folder's plan, every candidate
// kernel of every registered family that can serve it (./tune-candidates.ts: the planner's own pick,
// each family's rule pick with the layer's weights, the families' tile spaces) is rendered into one
// kernel folder, built into one addon, run through one-conv programs on the layer's input,
// checked against cuDNN and timed with the runtime's CUDA-graph timing (median and p10-p90 over
// `iters`), as is cuDNN's fastest algorithm. The times go into the tune cache
// (src/plan/tune-cache.ts), keyed per (GPU model, shape, zeros bucket, batch, weight structure of a
// pruned layer), from which the planner decides (src/plan/measured-choice.ts).
import { gpuProfile } from '../arch/profiles.js';
import { buildAddon } from '../toolchain/addon.js';
import { isWeightSparse, kernelWeightOrder, type ConvWeights, type KernelTiles } from '../families/registry.js';
import { structureLookup, type StructureLookup } from '../families/wsparse/structure.js';
import { getLayer, type ConvLayer, type Graph } from '../model/ir.js';
import type { MeasuredCandidate } from '../plan/measured-choice.js';
import { planNetwork } from '../plan/planner.js';
import { bucketOf, keyOf, shapeOf, weightsDigest, type TunedLayer, type TuneEntry, type TuneShape } from '../plan/tune-cache.js';
import { weightPattern } from '../sparsity/weights.js';
import { getTensor } from '../weights/store.js';
import { convCandidates, storedTiles, type Candidate } from './tune-candidates.js';
import { STEP_COPIES } from './tune.js';
import type { NetworkPlan } from '../plan/types.js';
import type { ConvSparsity, SparsityProfile } from '../sparsity/types.js';
import type { WeightSet } from '../weights/store.js';
import { loadAddon, type CusnnAddon, type NativeRuntime, type Timing } from './addon.js';
import { writeKernelFolder } from './kernel-folder.js';
import { lowerNetwork } from './lower.js';
import type { ConvStep, Program, View } from './program.js';
import { relL2Error } from '../bench/metrics.js';
import { Rng } from '../weights/prng.js';

/** A candidate's output may differ from cuDNN's by this relative L2 error at most (exact fp32). */
export const TUNE_TOLERANCE = 1e-5;

/** Candidates per runtime: one program holds this many candidate steps (bounded device memory). */
const CHUNK = 32;

export type { Candidate };

/** One conv to tune: its problem, where its input comes from, and its candidates. */
export interface ConvJob {
  readonly layer: string;
  /** The layer whose output is the conv's input (read for real activations). */
  readonly inputLayer: string;
  readonly shape: TuneShape;
  /** The plan's input zero fraction (the bucket of random inputs). */
  readonly planZeros: number;
  readonly candidates: readonly Candidate[];
  readonly heuristic: Candidate | null;
  /** The digest of the layer's weight structure where its weights are pruned (part of the cache key), else null. */
  readonly weightsDigest: string | null;
}

export interface SkippedConv {
  readonly layer: string;
  readonly why: string;
}

/** The network input (NCHW, `batch` items, preprocessed) for real activations, or seeded random inputs per conv. */
export type TuneInputs = { readonly kind: 'network'; readonly x: Float32Array; readonly what: string } | { readonly kind: 'random'; readonly seed: number };

export interface TuneSearchOptions {
  readonly inputs: TuneInputs;
  /** Candidates per conv (the heuristic's pick always included, then by the cost model's rank); default all. */
  readonly maxCandidates?: number;
  /** Timed CUDA-graph replays per candidate (median kept); default 100. */
  readonly iters?: number;
  /** The kernel folder to write and build (its build/ is reused when nothing changed). */
  readonly workDir: string;
  /** Only these convs (default: all). */
  readonly layers?: readonly string[];
  /** Builds the kernel folder's addon; default buildAddon (tests install a fake addon instead). */
  readonly build?: (dir: string) => Promise<void>;
  readonly jobs?: number;
  readonly log?: (line: string) => void;
}

export interface CandidateResult {
  readonly family: string;
  readonly kernel: string;
  /** With the family always (storedTiles): what re-emits the kernel. */
  readonly tiles: KernelTiles;
  readonly heuristic: boolean;
  /** Median time and the replays' p10-p90, or null when discarded. */
  readonly us: number | null;
  readonly p10Us: number | null;
  readonly p90Us: number | null;
  /** Relative L2 error against cuDNN (null: it did not run). */
  readonly relError: number | null;
  /** Why it was discarded; null when kept. */
  readonly discarded: string | null;
}

export interface LayerResult {
  readonly layer: string;
  readonly shape: TuneShape;
  /** Zeros of the input it was timed on, and the bucket its entry is filed under. */
  readonly zeros: number;
  readonly bucket: number;
  readonly cudnnUs: number;
  readonly cudnnP10Us: number;
  readonly cudnnP90Us: number;
  /** The algorithm cuDNN's search picked (null: the addon did not say). */
  readonly cudnnAlgo: string | null;
  readonly weightsDigest: string | null;
  readonly candidates: readonly CandidateResult[];
}

export interface TuneReport {
  readonly gpu: string;
  readonly arch: string;
  readonly batch: number;
  readonly model: string;
  readonly inputs: 'images' | 'random';
  readonly kernels: number;
  readonly layers: readonly LayerResult[];
  readonly skipped: readonly SkippedConv[];
  readonly entries: readonly TuneEntry[];
  /** Keys whose layers had no candidate that passed the check (no entry written). */
  readonly noEntry: readonly string[];
}

/**
 * The plan's input sparsity figures as the planner's input, with each conv's weight pattern read
 * from `weights` when given (as generate() found it: the planner's weight-structure families and
 * the cache key depend on it); without weights, the plan's weight sparsity only.
 */
function sparsityOfPlan(plan: NetworkPlan, graph: Graph, weights: WeightSet | undefined): SparsityProfile {
  const convs = new Map<string, ConvSparsity>(plan.convs.map((c) => {
    const l = graph.layers.find((x): x is ConvLayer => x.op === 'conv' && x.name === c.layer);
    const w = weights && l ? weightPattern(getTensor(weights, l.name, 'kernel'), [l.outChannels, getLayer(graph, l.inputs[0]!).shape[0] / l.groups, l.kernel[0], l.kernel[1]]) : null;
    return [c.layer, {
      layer: c.layer,
      weights: w ?? { sparsity: c.weightSparsity, nnzPerOutChannel: { min: 0, mean: 0, max: 0 }, zeroKernels: 0, kernels: 0 },
      inputSparsity: c.inputSparsity,
      inputSource: c.inputSparsitySource,
    }];
  }));
  return { model: plan.model, activationSource: plan.sparsitySource, convs };
}

/**
 * Every conv's candidates (./tune-candidates.ts). The heuristic is what the planner picks without a
 * cache: its plan with every eligible conv forced onto a generated kernel (the family by its cost
 * models, the tiles by the family's rule), with the weights' structure as generate() gives it.
 * Convs the families cannot serve are listed as skipped, with the reason. Without `weights` no
 * family that needs the layer's weights is a candidate, and a pruned layer (by the plan's weight
 * sparsity) has the digest 'unknown' (tuneSearch always passes the weights).
 */
export function tuneJobs(graph: Graph, plan: NetworkPlan, o: { maxCandidates?: number; layers?: readonly string[]; weights?: WeightSet } = {}): { jobs: ConvJob[]; skipped: SkippedConv[] } {
  const p = gpuProfile(plan.arch);
  const sp = sparsityOfPlan(plan, graph, o.weights);
  const structures: StructureLookup | undefined = o.weights ? structureLookup(graph, o.weights) : undefined;
  // Candidates are timed as plain convs (the common launcher): no residual fusion.
  const forced = planNetwork(graph, p, sp, { batch: plan.batch, weightsSource: plan.weights, force: 'act-sparse', weightStructure: structures, fuseResidual: false });
  const convs = new Map(graph.layers.filter((l): l is ConvLayer => l.op === 'conv').map((l) => [l.name, l]));
  const jobs: ConvJob[] = [];
  const skipped: SkippedConv[] = [];
  for (const c of forced.convs) {
    if (o.layers && !o.layers.includes(c.layer)) continue;
    if (!c.spec) {
      skipped.push({ layer: c.layer, why: c.reason });
      continue;
    }
    const shape = shapeOf(c.spec);
    const facts = sp.convs.get(c.layer)!.weights;
    // The layer's weights as the families see them (each family decides whether it serves them).
    const structure = structures?.(c.layer) ?? null;
    const weights: ConvWeights | undefined = structure ? { structure, sparsity: facts.sparsity, pattern: facts.pattern } : undefined;
    const cut = convCandidates(p, shape, plan.batch, 1 - c.inputSparsity, c.spec, weights, o.maxCandidates);
    const conv = convs.get(c.layer)!;
    jobs.push({ layer: c.layer, inputLayer: conv.inputs[0]!, shape, planZeros: c.inputSparsity, candidates: cut, heuristic: cut[0]!.heuristic ? cut[0]! : null,
      weightsDigest: weightsDigest(facts, c.layer, structures) });
  }
  return { jobs, skipped };
}

/** [K][C][R][S] -> [C][R][S][K] (what the generated kernels read). */
export function kcrsToCrsk(w: Float32Array, k: number, c: number, rs: number): Float32Array {
  const out = new Float32Array(w.length);
  for (let kk = 0; kk < k; kk++) for (let cc = 0; cc < c; cc++) for (let i = 0; i < rs; i++) out[(cc * rs + i) * k + kk] = w[(kk * c + cc) * rs + i]!;
  return out;
}

/**
 * A post-ReLU-like input with about `zeros` of its elements exactly zero (uniform), the others in
 * (0.02, 1); never all zero (a conv of zeros checks nothing): one element stays nonzero.
 */
export function randomReluInput(n: number, zeros: number, rnd: () => number): Float32Array {
  const x = new Float32Array(n);
  for (let i = 0; i < n; i++) x[i] = rnd() < zeros ? 0 : 0.02 + 0.98 * rnd();
  if (!x.some((v) => v !== 0)) x[Math.floor(rnd() * n)] = 0.02 + 0.98 * rnd();
  return x;
}

/** Seeded uniform generator on [0, 1) (the project's xoshiro128**, src/weights/prng.ts), so random inputs repeat with the seed. */
export function seededRandom(seed: number): () => number {
  const r = new Rng(seed, 0);
  return () => r.uniform(0, 1);
}

const V = (buf: number, c: number, h: number, w: number): View => ({ buf, offset: 0, c, h, w, batchStride: c * h * w });

/**
 * The conv's weights as one-conv program tensors: [kcrs, crsk, bias?, packed...], and per candidate
 * kernel the tensor it reads (the weight-sparse families' packed nonzeros; else crsk, tensor 1).
 */
interface ConvTensors {
  readonly tensors: Float32Array[];
  readonly names: readonly string[];
  readonly bias: number | null;
  readonly weightsOf: ReadonlyMap<string, { readonly index: number; readonly packed: boolean }>;
}

/** A program of one input buffer and one conv step per kernel (null: cuDNN), each writing its own buffer. */
function convProgram(job: ConvJob, batch: number, step: ConvStep, t: ConvTensors, kernels: readonly (string | null)[]): Program {
  const s = job.shape;
  const input = V(0, s.c, s.h, s.w);
  const outs = kernels.map((_, i) => V(i + 1, s.k, s.ho, s.wo));
  return {
    format: 'cusnn-program/1', model: `tune:${job.layer}`, batch,
    buffers: [batch * s.c * s.h * s.w, ...outs.map(() => batch * s.k * s.ho * s.wo)],
    tensors: t.tensors.map((x, i) => ({ name: t.names[i]!, floats: x.length })),
    zeroCounters: 0, input, output: outs[0]!, views: {},
    steps: kernels.map((kernel, i): ConvStep => ({
      ...step, layer: job.layer, in: input, out: outs[i]!, weightsKcrs: 0, bias: t.bias, path: kernel === null ? 'cudnn' : 'act-sparse', kernel,
      // Threshold 0: the candidate runs at any zeros (static mode runs it regardless; the program format wants one).
      weightsCrsk: kernel === null ? null : (t.weightsOf.get(kernel)?.index ?? 1), threshold: kernel === null ? null : 0, inZeros: null, countZeros: null,
      ...(kernel !== null && t.weightsOf.get(kernel)?.packed ? { weightsLayout: 'packed' as const } : {}),
    })),
  };
}

/** Runs and times `cands` on `x` in one runtime; per candidate its output and time, or the error that stopped them all. */
function runChunk(addon: CusnnAddon, prog: Program, t: ConvTensors, x: Float32Array, iters: number): { outs: Float32Array[]; us: Timing[] } {
  let rt: NativeRuntime | null = null;
  try {
    rt = addon.createRuntime(JSON.stringify(prog), t.tensors, { mode: 'static' });
    // Poisoned buffers: an output element a kernel never writes stays NaN and fails the check.
    rt.fillBuffers(Number.NaN);
    rt.run(x);
    const outs = prog.steps.map((_, i) => rt!.readBuffer(i + 1));
    const us = prog.steps.map((_, i) => rt!.timeStep(i, iters, STEP_COPIES));
    return { outs, us };
  } finally {
    rt?.dispose();
  }
}

interface CudnnTime {
  readonly us: number;
  readonly p10Us: number;
  readonly p90Us: number;
  readonly algo: string | null;
}

function measureJob(addon: CusnnAddon, job: ConvJob, batch: number, step: ConvStep, t: ConvTensors, x: Float32Array, iters: number, log: (s: string) => void): { cudnn: CudnnTime; results: CandidateResult[] } {
  // cuDNN's own search picks its fastest exact algorithm for the step (mode 'cudnn'): that is the baseline timed.
  const ref = addon.createRuntime(JSON.stringify(convProgram(job, batch, step, t, [null])), t.tensors, { mode: 'cudnn' });
  let y: Float32Array;
  let cudnn: CudnnTime;
  try {
    y = ref.run(x).slice();
    const r = ref.timeStep(0, iters, STEP_COPIES);
    cudnn = { us: r.medianUs, p10Us: r.p10Us, p90Us: r.p90Us, algo: ref.algorithms().find((a) => a.step === 0)?.algoName ?? null };
  } finally {
    ref.dispose();
  }
  const results: CandidateResult[] = [];
  const judge = (c: Candidate, out: Float32Array | null, time: Timing | null, error: string | null): void => {
    const base = { family: c.spec.family, kernel: c.kernel, tiles: storedTiles(c.spec), heuristic: c.heuristic };
    if (out === null || time === null) {
      results.push({ ...base, us: null, p10Us: null, p90Us: null, relError: null, discarded: `did not run: ${error}` });
      return;
    }
    const e = relL2Error(out, y);
    const bad = !(e <= TUNE_TOLERANCE);
    results.push({ ...base, us: bad ? null : time.medianUs, p10Us: bad ? null : time.p10Us, p90Us: bad ? null : time.p90Us, relError: e,
      discarded: bad ? `rel. L2 error ${Number.isFinite(e) ? e.toExponential(2) : 'inf (unwritten or non-finite outputs)'} vs cuDNN > ${TUNE_TOLERANCE.toExponential(0)}` : null });
  };
  for (let at = 0; at < job.candidates.length; at += CHUNK) {
    const chunk = job.candidates.slice(at, at + CHUNK);
    try {
      const r = runChunk(addon, convProgram(job, batch, step, t, chunk.map((c) => c.kernel)), t, x, iters);
      chunk.forEach((c, i) => judge(c, r.outs[i]!, r.us[i]!, null));
    } catch (e) {
      // One candidate that cannot launch stops its whole runtime: run the chunk one by one to find it.
      log(`  ${job.layer}: a chunk of ${chunk.length} candidates failed (${(e as Error).message.split('\n')[0]}); running them one by one`);
      for (const c of chunk) {
        try {
          const r = runChunk(addon, convProgram(job, batch, step, t, [c.kernel]), t, x, iters);
          judge(c, r.outs[0]!, r.us[0]!, null);
        } catch (e1) {
          judge(c, null, null, (e1 as Error).message.split('\n')[0]!);
        }
      }
    }
  }
  return { cudnn, results };
}

const mean = (xs: readonly number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;

/**
 * Every candidate of an entry's layers as measured: median and p10-p90 are means over the layers
 * (so they compare with cuDNN's means); a candidate that failed or missed any layer is discarded,
 * with the first layer's reason.
 */
function measuredCandidates(ls: readonly LayerResult[]): MeasuredCandidate[] {
  const names = [...new Set(ls.flatMap((l) => l.candidates.map((c) => c.kernel)))].sort();
  return names.map((k) => {
    const per = ls.map((l) => l.candidates.find((c) => c.kernel === k));
    const c = per.find((x) => x !== undefined)!;
    const base = { family: c.family, kernel: k, tiles: c.tiles };
    if (per.some((x) => x === undefined || x.us === null)) {
      const why = per.find((x) => x !== undefined && x.discarded !== null)?.discarded ?? 'not measured on every layer of the entry';
      return { ...base, us: null, p10Us: null, p90Us: null, discarded: why };
    }
    const ok = per as CandidateResult[];
    return { ...base, us: mean(ok.map((x) => x.us!)), p10Us: mean(ok.map((x) => x.p10Us!)), p90Us: mean(ok.map((x) => x.p90Us!)), discarded: null };
  });
}

/**
 * The cache entries of measured layers: layers of one key (GPU, shape, bucket, batch, weight
 * structure) share one entry. `best` is the candidate with the lowest mean time among those that
 * passed the check on every one of them; `measured` holds every candidate and cuDNN, from which the
 * planner decides (src/plan/measured-choice.ts).
 */
export function entriesOf(layers: readonly LayerResult[], o: { gpu: string; arch: string; batch: number; model: string; inputs: 'images' | 'random'; iters: number }): { entries: TuneEntry[]; noEntry: string[] } {
  const groups = new Map<string, LayerResult[]>();
  for (const l of layers) {
    const k = keyOf({ gpu: o.gpu, shape: l.shape, bucket: l.bucket, batch: o.batch, weights: l.weightsDigest ?? undefined });
    groups.set(k, [...(groups.get(k) ?? []), l]);
  }
  const entries: TuneEntry[] = [];
  const noEntry: string[] = [];
  for (const [key, ls] of groups) {
    const names = new Set(ls.flatMap((l) => l.candidates.map((c) => c.kernel)));
    const byKernel = (l: LayerResult, k: string): CandidateResult | undefined => l.candidates.find((c) => c.kernel === k);
    let best: { kernel: string; us: number; c: CandidateResult } | null = null;
    for (const k of [...names].sort()) {
      const times = ls.map((l) => byKernel(l, k)?.us ?? null);
      if (times.some((t) => t === null)) continue;
      const us = mean(times as number[]);
      if (!best || us < best.us) best = { kernel: k, us, c: byKernel(ls[0]!, k)! };
    }
    if (!best) {
      noEntry.push(key);
      continue;
    }
    const heur = ls[0]!.candidates.find((c) => c.heuristic) ?? null;
    const heurTimes = heur ? ls.map((l) => byKernel(l, heur.kernel)?.us ?? null) : [];
    const perLayer: TunedLayer[] = ls.map((l) => {
      const ok = l.candidates.filter((c) => c.us !== null).map((c) => c.us!);
      const h = l.candidates.find((c) => c.heuristic);
      return { model: o.model, layer: l.layer, zeros: l.zeros, bestUs: Math.min(...ok), heuristicUs: h?.us ?? null, cudnnUs: l.cudnnUs };
    });
    const discarded = new Set(ls.flatMap((l) => l.candidates.filter((c) => c.discarded !== null).map((c) => c.kernel)));
    const algos = [...new Set(ls.map((l) => l.cudnnAlgo).filter((a) => a !== null))];
    const digest = ls[0]!.weightsDigest;
    entries.push({
      gpu: o.gpu, arch: o.arch as TuneEntry['arch'], shape: ls[0]!.shape, bucket: ls[0]!.bucket, batch: o.batch,
      best: { kernel: best.kernel, tiles: best.c.tiles, us: best.us },
      heuristic: heur ? { kernel: heur.kernel, tiles: heur.tiles, us: heurTimes.some((t) => t === null) ? null : mean(heurTimes as number[]) } : null,
      cudnnUs: mean(ls.map((l) => l.cudnnUs)), candidates: names.size, discarded: discarded.size, inputs: o.inputs, iters: o.iters, layers: perLayer,
      ...(digest !== null ? { weights: digest } : {}),
      measured: {
        cudnn: { us: mean(ls.map((l) => l.cudnnUs)), p10Us: mean(ls.map((l) => l.cudnnP10Us)), p90Us: mean(ls.map((l) => l.cudnnP90Us)), algo: algos.length ? algos.join(', ') : null },
        candidates: measuredCandidates(ls),
      },
    });
  }
  return { entries, noEntry };
}

/** The measured search over a network's convs (see the file comment). */
export async function tuneSearch(graph: Graph, plan: NetworkPlan, weights: WeightSet, o: TuneSearchOptions): Promise<TuneReport> {
  const log = o.log ?? (() => {});
  const iters = o.iters ?? 100;
  const batch = plan.batch;
  const { jobs, skipped } = tuneJobs(graph, plan, { maxCandidates: o.maxCandidates, layers: o.layers, weights });
  if (o.layers) for (const l of o.layers) if (!plan.convs.some((c) => c.layer === l)) throw new Error(`${plan.model}: no conv named '${l}'`);
  if (jobs.length === 0) throw new Error(`${plan.model}: no conv to tune (${skipped.length} convs no generated family serves)`);
  const specs = jobs.flatMap((j) => j.candidates.map((c) => ({ spec: c.spec, layer: j.layer })));
  // Weight-structure kernels (wsparse) are rendered from their layer's nonzeros.
  const structures = structureLookup(graph, weights);
  const folder = writeKernelFolder(o.workDir, plan.arch, specs.map((s) => s.spec), `cusnn_tune_${plan.model.replace(/\W/g, '_')}_${plan.arch}`,
    (i) => [{ model: plan.model, layer: specs[i]!.layer }], (i) => structures(specs[i]!.layer) ?? undefined);
  log(`tune ${plan.model} (${plan.arch}, batch ${batch}): ${jobs.length} convs, ${specs.length} candidates, ${folder.kernels.length} distinct kernels in ${o.workDir}` +
    (skipped.length ? `; skipped (no generated family serves them): ${skipped.map((x) => x.layer).join(', ')}` : ''));
  await (o.build ?? (async (dir: string) => void (await buildAddon(dir, { jobs: o.jobs, log: (l) => { if (l.startsWith('[build]') || /error/i.test(l)) log(l); } }))))(o.workDir);
  const addon = loadAddon(o.workDir);
  const device = addon.device!;
  if (device.sm !== plan.arch) {
    throw new Error(`${o.workDir}: the kernels are for ${plan.arch} but the GPU is ${device.name} (${device.sm}): tune a folder generated for ${device.sm}`);
  }
  const gpu = device.name;

  // The folded weights and fused epilogue of every conv, exactly as the runtime runs them; in
  // 'network' mode the conv inputs are kept readable after one forward through cuDNN.
  const keep = [...new Set(jobs.map((j) => j.inputLayer))];
  const lowered = lowerNetwork(graph, plan, weights, { batch, mode: 'cudnn', keep: o.inputs.kind === 'network' ? keep : [] });
  const stepOf = new Map(lowered.program.steps.filter((s): s is ConvStep => s.op === 'conv').map((s) => [s.layer, s]));
  const inputs = new Map<string, Float32Array>();
  if (o.inputs.kind === 'network') {
    const rt = addon.createRuntime(JSON.stringify(lowered.program), lowered.tensors, { mode: 'cudnn' });
    try {
      rt.run(o.inputs.x);
      for (const l of keep) inputs.set(l, rt.readView(l).slice());
    } finally {
      rt.dispose();
    }
  }
  const rnd = seededRandom(o.inputs.kind === 'random' ? o.inputs.seed : 0);
  const layers: LayerResult[] = [];
  for (const [i, job] of jobs.entries()) {
    const step = stepOf.get(job.layer)!;
    const s = job.shape;
    if (step.relu !== s.relu || (step.bias !== null) !== s.bias) throw new Error(`${plan.model}/${job.layer}: the planner and the lowering disagree on the epilogue (a bug)`);
    const kcrs = lowered.tensors[step.weightsKcrs]!;
    const tensors = [kcrs, kcrsToCrsk(kcrs, s.k, s.c, s.r * s.s), ...(step.bias !== null ? [lowered.tensors[step.bias]!] : [])];
    const names = [`${job.layer}:kcrs`, `${job.layer}:crsk`, ...(step.bias !== null ? [`${job.layer}:bias`] : [])];
    // Each weight-sparse candidate reads its nonzeros packed in its own tables' order; an igemm one with
    // kept filters reads those filters' columns.
    const weightsOf = new Map<string, { index: number; packed: boolean }>();
    for (const c of job.candidates) {
      const order = kernelWeightOrder(c.spec, isWeightSparse(c.spec) ? structures(job.layer) ?? undefined : undefined);
      if (!order || weightsOf.has(c.kernel)) continue;
      weightsOf.set(c.kernel, { index: tensors.length, packed: true });
      tensors.push(Float32Array.from(order, (i) => kcrs[i]!));
      names.push(`${job.layer}:packed:${c.kernel}`);
    }
    const t: ConvTensors = { tensors, names, bias: step.bias !== null ? 2 : null, weightsOf };
    let x = inputs.get(job.inputLayer);
    if (x && !x.some((v) => v !== 0)) {
      log(`  ${job.layer}: its real input is all zeros (nothing to check against); random inputs at ${(100 * job.planZeros).toFixed(0)}% zeros instead`);
      x = undefined;
    }
    const real = x !== undefined;
    x ??= randomReluInput(batch * s.c * s.h * s.w, job.planZeros, rnd);
    let zeroCount = 0;
    for (const v of x) if (v === 0) zeroCount++;
    const zeros = zeroCount / x.length;
    const { cudnn, results } = measureJob(addon, job, batch, step, t, x, iters, log);
    const cudnnUs = cudnn.us;
    // Random inputs are drawn at the plan's figure, so they are filed under its bucket (the one the planner looks up).
    const r: LayerResult = { layer: job.layer, shape: s, zeros, bucket: bucketOf(real ? zeros : job.planZeros), cudnnUs, cudnnP10Us: cudnn.p10Us, cudnnP90Us: cudnn.p90Us,
      cudnnAlgo: cudnn.algo, weightsDigest: job.weightsDigest, candidates: results };
    layers.push(r);
    const ok = results.filter((c) => c.us !== null).sort((a, b) => a.us! - b.us!);
    const h = results.find((c) => c.heuristic);
    log(`[${i + 1}/${jobs.length}] ${job.layer} (${(100 * zeros).toFixed(0)}% zeros${real ? '' : ', random'}): cuDNN ${cudnnUs.toFixed(1)} us; ` +
      (ok.length ? `best ${ok[0]!.us!.toFixed(1)} us (${ok[0]!.kernel})` : 'no candidate passed') +
      (h ? `, heuristic ${h.us === null ? 'discarded' : `${h.us.toFixed(1)} us`}` : '') +
      `; ${results.length - ok.length} of ${results.length} discarded`);
  }
  const inputsKind = o.inputs.kind === 'network' ? 'images' : 'random';
  const { entries, noEntry } = entriesOf(layers, { gpu, arch: plan.arch, batch, model: plan.model, inputs: inputsKind, iters });
  return { gpu, arch: plan.arch, batch, model: plan.model, inputs: inputsKind, kernels: folder.kernels.length, layers, skipped, entries, noEntry };
}
