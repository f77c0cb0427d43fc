// What the bench measures for one network at one batch size, on a loaded Network (any graph: the
// CPU test drives this with a small one through a fake addon):
//   decide    every conv with a generated kernel timed both ways on the calibration images, in
//             interleaved rounds; the kernel is kept only when it wins outside the spread and by
//             MEASURED_MARGIN, else cuDNN (a tie is not a win);
//   check     every engine's logits against cudnn's on the timing images;
//   time      the three engines interleaved (A B C A B C ...) over the rounds, each round on the
//             next timing batch, median of rounds and the spread over rounds and replays;
//   energy    the same interleaving of NVML windows;
//   layers    every conv alone in cusnn and cudnn on the timing images, rounds again, with its
//             roofline floor; a speedup only where cusnn runs a generated kernel.
import { MEASURED_MARGIN, stepTime } from '../runtime/tune.js';
import type { Calibration } from '../sparsity/calibration.js';
import type { Decisions, Network, SwitchMode } from '../runtime/network.js';
import type { NativeRuntime } from '../runtime/addon.js';
import type { Program } from '../runtime/program.js';
import type { ConvPlan } from '../plan/types.js';
import { relL2Error, topClasses } from './metrics.js';
import { floorUs, type Peaks } from './roofline.js';
import {
  ENGINES, type CorrectnessResult, type Engine, type EnergyStats, type LayerDecision, type LayerResult, type TimingStats,
} from './results.js';
import { batchOf } from './split.js';
import { aggregateEnergy, aggregateTimings, compare, spreadMeasured, type EnergyWindow, type RoundTiming } from './stats.js';

export const MODE: Readonly<Record<Engine, SwitchMode>> = { cusnn: 'static', cudnn: 'cudnn', 'cudnn-implicit-gemm': 'cudnn-implicit-gemm' };

/** The bench's images, each one preprocessed CHW tensor, in the two halves (src/bench/split.ts). */
export interface SplitInputs {
  readonly calibrate: readonly Float32Array[];
  readonly time: readonly Float32Array[];
}

export interface RoundSettings {
  readonly batch: number;
  /** Interleaved rounds (>= 1; the bench uses >= 3). */
  readonly rounds: number;
  readonly log?: (s: string) => void;
}

const perRound = (iters: number, rounds: number): number => Math.max(1, Math.ceil(iters / rounds));
const us = (v: number): string => v.toFixed(1);

function convSteps(p: Program): Map<string, number> {
  const m = new Map<string, number>();
  p.steps.forEach((s, i) => {
    if (s.op === 'conv') m.set(s.layer, i);
  });
  return m;
}

function stepOf(steps: Map<string, number>, layer: string, mode: string): number {
  const i = steps.get(layer);
  if (i === undefined) throw new Error(`conv '${layer}' has no step in the ${mode} program`);
  return i;
}

interface PairTimes {
  readonly cusnn: TimingStats;
  readonly cudnn: TimingStats;
}

/**
 * Every listed conv timed alone in static and cudnn mode, `rounds` rounds; round r first runs
 * both programs on batch r of `images` (the steps are timed on the activations it leaves), then
 * times each conv static, cudnn, next conv, ... so a drift of the clocks hits both paths alike.
 */
function timeConvPairs(net: Network, layers: readonly string[], images: readonly Float32Array[], iters: number, o: RoundSettings): Map<string, PairTimes> {
  const { batch, rounds } = o;
  const sIdx = convSteps(net.programFor(batch, 'static'));
  const cIdx = convSteps(net.programFor(batch, 'cudnn'));
  const n = perRound(iters, rounds);
  const got = new Map<string, { s: RoundTiming[]; c: RoundTiming[] }>(layers.map((l) => [l, { s: [], c: [] }]));
  for (let r = 0; r < rounds; r++) {
    const x = batchOf(images, batch, r * batch);
    net.inferWith(x, 'static');
    net.inferWith(x, 'cudnn');
    for (const layer of layers) {
      const g = got.get(layer)!;
      g.s.push(stepTime(net, batch, 'static', stepOf(sIdx, layer, 'static'), n));
      g.c.push(stepTime(net, batch, 'cudnn', stepOf(cIdx, layer, 'cudnn'), n));
    }
  }
  return new Map([...got].map(([l, g]) => [l, { cusnn: aggregateTimings(g.s, n), cudnn: aggregateTimings(g.c, n) }]));
}

export interface DecideResult {
  readonly decisions: Decisions;
  readonly records: ReadonlyMap<string, LayerDecision>;
}

/**
 * The convs of the plan made for `batch` (its kernels: the large-batch tiles differ from batch 1's),
 * else of the folder's first plan: the static engine runs the same (Network.decidedPlan).
 */
function convsAt(net: Network, batch: number): readonly ConvPlan[] {
  return (net.planAt(batch) ?? net.plan).convs;
}

/**
 * The path of every conv by measurement on the calibration images: the generated kernel only
 * where it is faster outside both spreads and by MEASURED_MARGIN (src/runtime/tune.ts); ties,
 * small wins and losses stay on cuDNN. Every conv with a kernel is on it while measuring; the
 * decisions set before are restored.
 */
export function decideLayers(net: Network, images: readonly Float32Array[], iters: number, o: RoundSettings): DecideResult {
  const before = net.paths();
  const convs = convsAt(net, o.batch);
  const all: Record<string, 'act-sparse' | 'cudnn'> = {};
  for (const c of convs) all[c.layer] = c.spec ? 'act-sparse' : 'cudnn';
  net.setDecisions(all);
  let times: Map<string, PairTimes>;
  try {
    times = timeConvPairs(net, convs.filter((c) => c.spec).map((c) => c.layer), images, iters, o);
  } finally {
    net.setDecisions(before);
  }
  const decisions: Record<string, 'act-sparse' | 'cudnn'> = {};
  const records = new Map<string, LayerDecision>();
  convs.forEach((c, i) => {
    const t = times.get(c.layer);
    if (!t) {
      decisions[c.layer] = 'cudnn';
      records.set(c.layer, { actSparseUs: null, cudnnUs: null, verdict: null, reason: `no generated kernel in the folder (${c.reason})` });
      return;
    }
    const g = t.cusnn;
    const d = t.cudnn;
    const verdict = compare(spreadMeasured(g.medianUs, { lo: g.p10Us, hi: g.p90Us }), spreadMeasured(d.medianUs, { lo: d.p10Us, hi: d.p90Us }));
    const wins = verdict === 'faster' && g.medianUs * MEASURED_MARGIN < d.medianUs;
    const figures = `generated ${us(g.medianUs)} us (p10-p90 ${us(g.p10Us)}-${us(g.p90Us)}) vs cuDNN ${us(d.medianUs)} us (${us(d.p10Us)}-${us(d.p90Us)}), ` +
      `${(d.medianUs / g.medianUs).toFixed(2)}x on the calibration images`;
    const why = wins ? 'faster outside the spread and by more than the margin: generated kernel'
      : verdict === 'tie' ? 'a tie within the spread: cuDNN kept'
        : verdict === 'faster' ? `faster by less than the ${MEASURED_MARGIN}x margin: cuDNN kept`
          : 'slower: cuDNN kept';
    decisions[c.layer] = wins ? 'act-sparse' : 'cudnn';
    records.set(c.layer, { actSparseUs: g.medianUs, cudnnUs: d.medianUs, verdict, reason: `${figures}; ${why}` });
    o.log?.(`[${i + 1}/${convs.length}] ${c.layer}: ${figures}; ${why}`);
  });
  return { decisions, records };
}

export type CheckResult = CorrectnessResult & { readonly why: string | null };

const finite = (a: Float32Array): boolean => a.every((v) => Number.isFinite(v));

/** Every engine's logits against cudnn's on `n` of `images` (ceil(n / batch) forwards at this batch). */
export function checkEngines(net: Network, images: readonly Float32Array[], batch: number, n: number, tolerance: number): CheckResult {
  const forwards = Math.max(1, Math.ceil(n / batch));
  const maxRelError: Record<Engine, number> = { cusnn: 0, cudnn: 0, 'cudnn-implicit-gemm': 0 };
  let topAgree = 0;
  let inputs = 0;
  let first: Float32Array | null = null;
  let inputSpread = 0;
  for (let f = 0; f < forwards; f++) {
    const x = batchOf(images, batch, f * batch);
    // Logits, not the softmax: a saturated softmax would hide differences (net.logitsLayer()).
    const ref = net.logitsWith(x, 'cudnn');
    if (!finite(ref)) throw new Error(`the cudnn engine's output holds NaN or Inf (input ${f * batch}..${f * batch + batch - 1})`);
    const outs = new Map<Engine, Float32Array>();
    for (const e of ENGINES) if (e !== 'cudnn') outs.set(e, net.logitsWith(x, MODE[e]));
    const per = ref.length / batch;
    for (let j = 0; j < batch; j++) {
      const r = ref.subarray(j * per, (j + 1) * per);
      if (first === null) first = r.slice();
      else inputSpread = Math.max(inputSpread, relL2Error(r, first));
      for (const [e, out] of outs) maxRelError[e] = Math.max(maxRelError[e], relL2Error(out.subarray(j * per, (j + 1) * per), r));
      if (topClasses(outs.get('cusnn')!.subarray(j * per, (j + 1) * per), 5).join() === topClasses(r, 5).join()) topAgree++;
      inputs++;
    }
  }
  let why: string | null = null;
  for (const e of ENGINES) {
    if (!(maxRelError[e] <= tolerance)) {
      why = `${why ? `${why}; ` : ''}${e} output differs from cudnn: max rel. L2 error ${maxRelError[e].toExponential(2)} > ${tolerance} over ${inputs} inputs`;
    }
  }
  return { maxRelError, tolerance, topAgree, inputs, passed: why === null, why, inputSpread };
}

/** The warm-up before an engine's first timed replays: about 0.2 s, so the clocks have left idle. */
function warmUp(rt: NativeRuntime): void {
  const probe = rt.timeForward(10);
  rt.timeForward(Math.min(500, Math.max(10, Math.ceil(200_000 / Math.max(probe.medianUs, 1)))));
}

/**
 * The three engines' whole-forward times, interleaved: round r runs cusnn, cudnn, igemm on timing
 * batch r, `iters / rounds` replays each. An engine measured alone in one block would take every
 * clock or thermal drift of that block into its figure; interleaved, the drift is shared.
 */
export function timeEngines(net: Network, images: readonly Float32Array[], iters: number, o: RoundSettings): Record<Engine, TimingStats> {
  const { batch, rounds } = o;
  const n = perRound(iters, rounds);
  const got: Record<Engine, RoundTiming[]> = { cusnn: [], cudnn: [], 'cudnn-implicit-gemm': [] };
  for (let r = 0; r < rounds; r++) {
    const x = batchOf(images, batch, r * batch);
    for (const e of ENGINES) {
      net.inferWith(x, MODE[e]);
      const rt = net.runtimeFor(batch, MODE[e]);
      if (r === 0) warmUp(rt);
      got[e].push(rt.timeForward(n));
    }
  }
  const out = {} as Record<Engine, TimingStats>;
  for (const e of ENGINES) out[e] = aggregateTimings(got[e], n);
  return out;
}

export interface EngineEnergy {
  readonly energy: EnergyStats | null;
  readonly note?: string;
}

/**
 * NVML energy windows interleaved the same way (each >= `seconds`). An engine whose window throws
 * (no counter) is not asked again; a "no CUDA device" error goes up.
 */
export function energyEngines(net: Network, images: readonly Float32Array[], seconds: number, idlePowerW: number | undefined, o: RoundSettings): Record<Engine, EngineEnergy> {
  const { batch, rounds } = o;
  const windows: Record<Engine, EnergyWindow[]> = { cusnn: [], cudnn: [], 'cudnn-implicit-gemm': [] };
  const notes: Partial<Record<Engine, string>> = {};
  for (let r = 0; r < rounds; r++) {
    const x = batchOf(images, batch, r * batch);
    for (const e of ENGINES) {
      if (notes[e] !== undefined) continue;
      net.inferWith(x, MODE[e]);
      try {
        const m = net.runtimeFor(batch, MODE[e]).measureEnergy(seconds);
        // Idle: the board before the bench did any GPU work. The sample taken just before this
        // window (after a short pause) is kept beside it: the board has not settled by then.
        windows[e].push({ mJPerInference: m.mJPerInference, windowSeconds: m.windowSeconds, inferences: m.inferences, avgPowerW: m.avgPowerW,
          idlePowerW: idlePowerW !== undefined && idlePowerW > 0 ? idlePowerW : m.idlePowerW, preWindowPowerW: m.idlePowerW });
      } catch (err) {
        const text = err instanceof Error ? err.message : String(err);
        if (/no CUDA device/.test(text)) throw err;
        notes[e] = r === 0 ? text : `${text} (round ${r + 1} of ${rounds}; the earlier windows are dropped)`;
      }
    }
  }
  const out = {} as Record<Engine, EngineEnergy>;
  for (const e of ENGINES) {
    out[e] = notes[e] !== undefined || windows[e].length === 0 ? { energy: null, note: notes[e] ?? 'no energy window' } : { energy: aggregateEnergy(windows[e]) };
  }
  return out;
}

/**
 * Every conv timed alone in cusnn (static with the decisions) and in cudnn on the timing images,
 * with its roofline figures. The times are measured again here, not reused from the decisions
 * (the minimum of noisy figures would favour the chosen path), and on other images.
 */
export function layerResults(net: Network, images: readonly Float32Array[], cal: Calibration, decided: DecideResult, peaks: Peaks, iters: number, o: RoundSettings): LayerResult[] {
  const { batch } = o;
  const algos = new Map(net.runtimeFor(batch, 'cudnn').algorithms().map((a) => [a.layer, a.algoName]));
  const convs = convsAt(net, batch);
  const times = timeConvPairs(net, convs.map((c) => c.layer), images, iters, o);
  return convs.map((c) => {
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
    const floor = floorUs(usefulFlops, minBytes, peaks);
    const t = times.get(c.layer)!;
    const cusnnUs = t.cusnn.medianUs;
    const cudnnUs = t.cudnn.medianUs;
    const path = decided.decisions[c.layer] === 'act-sparse' ? 'act-sparse' : 'cudnn';
    const cusnnSpreadUs = { lo: t.cusnn.p10Us, hi: t.cusnn.p90Us };
    const cudnnSpreadUs = { lo: t.cudnn.p10Us, hi: t.cudnn.p90Us };
    // On the cuDNN path both engines run the same cuDNN conv: their ratio is noise, not a speedup.
    const generated = path === 'act-sparse' && cusnnUs > 0;
    return {
      layer: c.layer, c: C, h: H, w: W, k: K, r: R, s: S, stride: c.stride[0],
      inputSparsity, weightSparsity, flops, usefulFlops, minBytes,
      path, kernel: path === 'act-sparse' ? c.kernelName : null,
      cudnnAlgo: algos.get(c.layer) ?? '?',
      cusnnUs, cudnnUs, cusnnSpreadUs, cudnnSpreadUs,
      speedup: generated ? cudnnUs / cusnnUs : null,
      verdict: generated ? compare(spreadMeasured(cusnnUs, cusnnSpreadUs), spreadMeasured(cudnnUs, cudnnSpreadUs)) : null,
      decision: decided.records.get(c.layer) ?? null,
      cusnnGflops: cusnnUs > 0 ? flops / (cusnnUs * 1e3) : 0,
      cudnnGflops: cudnnUs > 0 ? flops / (cudnnUs * 1e3) : 0,
      floorUs: floor,
      achievedFraction: cusnnUs > 0 ? floor / cusnnUs : 0,
    };
  });
}
