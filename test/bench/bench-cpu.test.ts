// The bench's measuring core (src/bench/run-batch.ts, measure.ts, roofline.ts) on a small graph
// through a fake addon that really computes (the CPU interpreter of the lowered program) and
// times with noise (test/bench/cpu-addon.ts). Each conv's true times are drawn fresh per run:
// clear wins, clear losses, ties and wins smaller than the margin, with varied replay noise.
// The checks: only clear wins go to generated kernels; decisions use the calibration images and
// every check and timing the other images; engines interleave over the rounds for time and
// energy; cuDNN-path layers have no speedup; the network verdict follows the truth (a tie when
// no layer wins); the roofline uses the probed peaks (the profile, said so, without a probe); a
// broken engine stops the run. Seed printed; CUSNN_TEST_SEED repeats a run.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { gpuProfile } from '../../src/arch/profiles.js';
import { planNetwork } from '../../src/plan/planner.js';
import type { NetworkPlan } from '../../src/plan/types.js';
import { loadAddon } from '../../src/runtime/addon.js';
import { Network } from '../../src/runtime/network.js';
import { referenceForward } from '../../src/runtime/reference.js';
import { MEASURED_MARGIN } from '../../src/runtime/tune.js';
import type { Calibration } from '../../src/sparsity/calibration.js';
import { syntheticWeights } from '../../src/weights/synthetic.js';
import type { WeightSet } from '../../src/weights/store.js';
import type { RooflineMeasurement } from '../../src/runtime/addon.js';
import { measurePeaks } from '../../src/bench/roofline.js';
import { benchBatch, type BatchSettings } from '../../src/bench/run-batch.js';
import { batchOf, splitHalves } from '../../src/bench/split.js';
import { compare, timeMeasured } from '../../src/bench/stats.js';
import { renderTable } from '../../src/bench/render.js';
import { RESULTS_FORMAT, type BenchResults, type ModelResult } from '../../src/bench/results.js';
import { timeVerdict } from '../../src/bench/table.js';
import { uniformSparsity } from '../plan/helpers.js';
import { mulberry32, testSeed } from '../helpers/random.js';
import { CpuAddon, installCpuAddon, type ConvTruth, type CpuAddonConfig, type Engine3 } from './cpu-addon.js';
import { smallResnet } from '../helpers/small-graph.js';

const SEED = testSeed();
console.log(`test/bench/bench-cpu.test.ts: seed ${SEED} (CUSNN_TEST_SEED=${SEED} repeats this run)`);
const tmp = mkdtempSync(join(tmpdir(), 'cusnn-bench-cpu-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const smallGraph = smallResnet;

type Kind = 'win' | 'lose' | 'tie' | 'small-win';

interface Setup {
  readonly net: Network;
  readonly addon: CpuAddon;
  readonly plan: NetworkPlan;
  readonly kinds: ReadonlyMap<string, Kind | 'no-kernel'>;
  readonly truth: ReadonlyMap<string, ConvTruth>;
  readonly calibrate: readonly Float32Array[];
  readonly time: readonly Float32Array[];
  readonly sparsity: Calibration;
}

let folders = 0;

/** A fresh network, fake addon and images; `kinds` picks each conv's truth (random when absent). */
function setup(seed: number, o: { kinds?: (layer: string, i: number) => Kind; perturb?: Engine3; probe?: CpuAddonConfig['probe']; images?: number } = {}): Setup {
  const rnd = mulberry32(seed);
  const uni = (a: number, b: number): number => a + (b - a) * rnd();
  const graph = smallGraph();
  const ws: WeightSet = syntheticWeights(graph, Math.floor(rnd() * 1e9));
  const plan = planNetwork(graph, gpuProfile('sm_90'), uniformSparsity(graph, 0.6), { batch: 1, weightsSource: 'test', force: 'act-sparse' });
  const kinds = new Map<string, Kind | 'no-kernel'>();
  const truth = new Map<string, ConvTruth>();
  const all: Kind[] = ['win', 'lose', 'tie', 'small-win'];
  plan.convs.forEach((c, i) => {
    const cudnnUs = uni(8, 60);
    const sigma = uni(0.005, 0.03);
    const kind: Kind | 'no-kernel' = c.spec === null ? 'no-kernel' : o.kinds ? o.kinds(c.layer, i) : all[Math.floor(rnd() * all.length)]!;
    kinds.set(c.layer, kind);
    // A small win: faster by less than the margin (and inside the noise): must stay on cuDNN.
    const ratio = kind === 'win' ? uni(1.6, 3) : kind === 'lose' ? uni(0.3, 0.75) : kind === 'tie' ? uni(0.997, 1.003) : uni(1.002, MEASURED_MARGIN - 0.01);
    truth.set(c.layer, { cudnnUs, generatedUs: cudnnUs / ratio, sigma });
  });
  const addon = new CpuAddon({ truth, otherUs: uni(1, 4), drift: uni(0.001, 0.004), powerW: { static: 300, cudnn: 310, 'implicit-gemm': 280 },
    perturb: o.perturb, probe: o.probe, random: rnd });
  const dir = join(tmp, `folder-${folders++}`);
  installCpuAddon(dir, addon);
  const net = new Network(dir, graph, plan, ws, {});
  // Image-like inputs: a per-image offset and noise, so ReLUs leave varied zeros.
  const n = o.images ?? 6;
  const images = Array.from({ length: n }, () => {
    const shift = uni(-0.5, 0.5);
    return Float32Array.from({ length: 3 * 18 * 18 }, () => shift + uni(-1.5, 1.5));
  });
  const halves = splitHalves(images);
  const ref = referenceForward(graph, ws, batchOf(halves.time, halves.time.length), halves.time.length);
  const sparsity: Calibration = { format: 'cusnn-calibration/1', model: graph.name, images: halves.time.length,
    layers: Object.fromEntries([...ref.inputSparsity].map(([l, s]) => [l, { inputSparsity: s }])) };
  return { net, addon, plan, kinds, truth, calibrate: halves.calibrate, time: halves.time, sparsity };
}

const SETTINGS: BatchSettings = { batch: 1, rounds: 3, iters: 99, layerIters: 60, energySeconds: 2, checkInputs: 3, tolerance: 1e-4 };

const peaksOf = (s: Setup) => measurePeaks(loadAddon(s.net.dir), 'sm_90');

describe('the bench core on a small graph through a CPU-backed fake addon', () => {
  it('keeps a generated kernel only where it clearly wins, decides on the calibration images, times on the others', () => {
    const s = setup(SEED);
    const peaks = peaksOf(s);
    const r = benchBatch(s.net, { calibrate: s.calibrate, time: s.time }, s.sparsity, peaks, SETTINGS);
    try {
      expect(r.error, r.error).toBeUndefined();
      // Real outputs, computed twice by different lowerings (act-sparse vs cuDNN paths): they agree.
      expect(r.correctness.passed).toBe(true);
      expect(r.correctness.inputs).toBe(3);
      expect(r.correctness.maxRelError.cusnn).toBeLessThan(1e-6);
      const kinds = [...s.kinds.values()];
      expect(kinds.filter((k) => k !== 'no-kernel').length, 'the small graph has generated kernels').toBeGreaterThan(2);
      for (const l of r.layers) {
        const kind = s.kinds.get(l.layer)!;
        const want = kind === 'win' ? 'act-sparse' : 'cudnn';
        expect(l.path, `${l.layer} (${kind}): ${l.decision?.reason}`).toBe(want);
        if (kind === 'tie') expect(l.decision!.verdict, l.layer).toBe('tie');
        if (kind === 'lose') expect(l.decision!.reason, l.layer).toMatch(/slower: cuDNN kept$/);
        if (kind === 'no-kernel') expect(l.decision).toMatchObject({ actSparseUs: null, cudnnUs: null, verdict: null });
        // Speedups exist only for generated-kernel layers.
        if (l.path === 'cudnn') expect(l).toMatchObject({ speedup: null, verdict: null, kernel: null });
        else {
          const t = s.truth.get(l.layer)!;
          expect(l.speedup!, l.layer).toBeGreaterThan(1.3);
          expect(l.speedup! / (t.cudnnUs / t.generatedUs), 'near the true ratio').toBeGreaterThan(0.85);
          expect(l.verdict, l.layer).toBe('faster');
        }
        expect(l.cusnnSpreadUs!.lo).toBeLessThanOrEqual(l.cusnnUs);
        expect(l.cusnnUs).toBeLessThanOrEqual(l.cusnnSpreadUs!.hi);
        expect(l.inputSparsity).toBe(s.sparsity.layers[l.layer]?.inputSparsity ?? l.inputSparsity);
      }
      expect(r.sparseLayers).toBe(kinds.filter((k) => k === 'win').length);

      // Which images were used where: decisions (the timeSteps before the first whole-forward
      // timing) only on the calibration images; every check, timing, energy window and per-layer
      // time on the timing images.
      const calKeys = new Set(s.calibrate.map((x) => CpuAddon.keyOf(x)));
      const timeKeys = new Set(s.time.map((x) => CpuAddon.keyOf(x)));
      const ev = s.addon.events;
      const firstCheck = ev.findIndex((e) => timeKeys.has(e.input));
      expect(firstCheck).toBeGreaterThan(0);
      const decide = ev.slice(0, firstCheck);
      expect(decide.filter((e) => e.what === 'timeStep').length).toBeGreaterThan(0);
      for (const e of decide) expect(calKeys.has(e.input), `decision phase used ${e.input}`).toBe(true);
      for (const e of ev.slice(firstCheck)) expect(timeKeys.has(e.input), `${e.what} ${e.engine} on ${e.input}`).toBe(true);

      // Interleaved: the timed whole-forward calls (33 replays each) and the energy windows go
      // static, cudnn, igemm, static, ... for three rounds, each round on the next timing image.
      const order = ['static', 'cudnn', 'implicit-gemm'];
      const timed = ev.filter((e) => e.what === 'timeForward' && e.iters === 33);
      expect(timed.map((e) => e.engine)).toEqual([...order, ...order, ...order]);
      expect(new Set(timed.map((e) => e.input)).size).toBe(Math.min(3, s.time.length));
      expect(ev.filter((e) => e.what === 'measureEnergy').map((e) => e.engine)).toEqual([...order, ...order, ...order]);
      for (const e of r.engines) {
        expect(e.time).toMatchObject({ rounds: 3, iters: 99 });
        expect(e.time.p10Us).toBeLessThanOrEqual(e.time.roundMinUs);
        expect(e.time.roundMaxUs).toBeLessThanOrEqual(e.time.p90Us);
        expect(e.energy!.rounds).toBe(3);
        expect(e.energy!.minMJ).toBeLessThanOrEqual(e.energy!.mJPerInference);
        expect(e.energy!.mJPerInference).toBeLessThanOrEqual(e.energy!.maxMJ);
        // The median round's own figures: power x window / inferences is its energy.
        expect(e.energy!.avgPowerW * e.energy!.windowSeconds * 1000 / e.energy!.inferences).toBeCloseTo(e.energy!.mJPerInference, 6);
      }
      // The network verdict follows the truth: generated kernels that win by >= 1.6x on some layers.
      const m = { engines: r.engines } as ModelResult;
      const wins = kinds.filter((k) => k === 'win').length;
      const cus = r.engines.find((e) => e.engine === 'cusnn')!.time;
      const cud = r.engines.find((e) => e.engine === 'cudnn')!.time;
      expect(timeVerdict(m, 'cudnn')).toBe(compare(timeMeasured(cus), timeMeasured(cud)));
      // A saving well outside the 1% replay noise must show as a win (a smaller one may be a tie).
      const saving = [...s.kinds].filter(([, k]) => k === 'win').reduce((a, [l]) => a + s.truth.get(l)!.cudnnUs - s.truth.get(l)!.generatedUs, 0);
      if (wins > 0 && saving > 0.06 * cud.medianUs) expect(timeVerdict(m, 'cudnn')).toBe('faster');
      if (wins === 0) expect(timeVerdict(m, 'cudnn')).toBe('tie');
      expect(timeVerdict(m, 'cudnn-implicit-gemm')).toBe('faster');
    } finally {
      s.net.dispose();
    }
  }, 120_000);

  it('no layer wins: everything on cuDNN, and the network comparison is a tie, not a speedup', () => {
    const s = setup(SEED + 1, { kinds: (_, i) => (i % 2 === 0 ? 'tie' : 'small-win') });
    try {
      const r = benchBatch(s.net, { calibrate: s.calibrate, time: s.time }, s.sparsity, peaksOf(s), SETTINGS);
      expect(r.error, r.error).toBeUndefined();
      expect(r.sparseLayers).toBe(0);
      for (const l of r.layers) expect(l).toMatchObject({ path: 'cudnn', speedup: null });
      const m = { model: 'small_resnet', batch: 1, weights: 'synthetic', weightsSource: 'test', inputs: 'random', images: null, correctness: r.correctness,
        engines: r.engines, layers: r.layers, sparseLayers: 0, convLayers: r.layers.length, seconds: 1 } as ModelResult;
      expect(timeVerdict(m, 'cudnn')).toBe('tie');
      const results = { format: RESULTS_FORMAT, runs: [m] } as unknown as BenchResults;
      const readme = renderTable('readme', results);
      expect(readme).toMatch(/\| small_resnet \| synthetic \| [\d.]+ ms \| [\d.]+ ms \(tie\) \|/);
      expect(renderTable('performance', results)).toMatch(/\| 0\/\d+ \| n\/a \|/);
    } finally {
      s.net.dispose();
    }
  }, 120_000);

  it('the roofline uses the probed peaks; without a probe, or when it fails, the profile, said so', () => {
    const probe: RooflineMeasurement = { smCount: 132, smClockMHz: 1980, memClockMHz: 3201, memBusWidthBits: 6144, copyBytes: 268435456, copyGBs: 4310.5, ffmaTflops: 60.2 };
    const s = setup(SEED + 2, { probe });
    try {
      const peaks = peaksOf(s);
      expect(peaks).toMatchObject({ peakFp32Tflops: 60.2, bandwidthGBs: 4310.5, roofline: { source: 'measured' } });
      expect(peaks.roofline.probe!.clockBandwidthGBs).toBeCloseTo((3201e6 * 2 * 6144) / 8 / 1e9, 2);
      expect(peaks.roofline.probe!.clockPeakFp32Tflops).toBeCloseTo((132 * 128 * 2 * 1980e6) / 1e12, 2);
      const r = benchBatch(s.net, { calibrate: s.calibrate, time: s.time }, s.sparsity, peaks, { ...SETTINGS, energySeconds: 0 });
      for (const l of r.layers) {
        expect(l.floorUs).toBeCloseTo(Math.max(l.usefulFlops / 60.2e12, l.minBytes / 4310.5e9) * 1e6, 9);
        expect(l.achievedFraction).toBeCloseTo(l.floorUs / l.cusnnUs, 12);
      }
      for (const e of r.engines) expect(e).toMatchObject({ energy: null, energyNote: 'not measured (energySeconds 0)' });
    } finally {
      s.net.dispose();
    }
    for (const [p, why] of [[undefined, /has no probeRoofline \(built before it: rebuild it\)$/], ['throw', /probeRoofline failed: .*out of memory/]] as const) {
      const t = setup(SEED + 3, { probe: p });
      const peaks = peaksOf(t);
      expect(peaks).toMatchObject({ peakFp32Tflops: 66.9, bandwidthGBs: 3352, roofline: { source: 'profile' } });
      expect(peaks.roofline.note).toMatch(why);
      t.net.dispose();
    }
  }, 120_000);

  it('a broken engine stops the run before any timing', () => {
    const s = setup(SEED + 4, { perturb: 'implicit-gemm' });
    try {
      const r = benchBatch(s.net, { calibrate: s.calibrate, time: s.time }, s.sparsity, peaksOf(s), SETTINGS);
      expect(r.error).toMatch(/^correctness: cudnn-implicit-gemm output differs from cudnn: max rel\. L2 error [\d.]+e-\d > 0\.0001 over 3 inputs$/);
      expect(r.engines).toEqual([]);
      expect(s.addon.events.some((e) => e.what === 'timeForward' || e.what === 'measureEnergy')).toBe(false);
    } finally {
      s.net.dispose();
    }
  }, 120_000);

  it('splits the images into disjoint halves (one image: shared, said so)', () => {
    const rnd = mulberry32(SEED);
    const n = 2 + Math.floor(rnd() * 40);
    const items = Array.from({ length: n }, (_, i) => `${i}.bin`);
    const h = splitHalves(items);
    expect(h.calibrate.length).toBe(Math.floor(n / 2));
    expect([...h.calibrate, ...h.time]).toEqual(items);
    expect(h.note).toBeUndefined();
    expect(splitHalves(['a.bin'])).toEqual({ calibrate: ['a.bin'], time: ['a.bin'], note: 'only one image: decisions and timing use the same image' });
  });
});
