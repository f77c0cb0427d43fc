// `cusnn-gen tune`'s search end to end on a small graph through the CPU-backed fake addon
// (test/bench/cpu-addon.ts): outputs really computed by the program interpreter, times drawn per
// kernel from a hidden truth with replay noise. One candidate per shape is made the fastest of
// all but wrong (its output off by ~1e-3): it must be discarded and reported, and the winner must
// be the fastest correct one. The cache written is read back by the planner, which uses it on the
// fake's GPU model only, keeping the fastest or a kernel tied with it of a family it prefers.
// Seed printed; CUSNN_TEST_SEED repeats a run.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { gpuProfile } from '../../src/arch/profiles.js';
import { kernelNameOf } from '../../src/families/registry.js';
import { unfusedSpec } from '../../src/plan/residual.js';
import { familyOrder } from '../../src/plan/measured-choice.js';
import { planNetwork } from '../../src/plan/planner.js';
import { emptyTuneCache, heuristicSummary, keyOf, mergeTuneCache, readTuneCache, shapeWords, writeTuneCache } from '../../src/plan/tune-cache.js';
import { referenceForward } from '../../src/runtime/reference.js';
import { tuneJobs, tuneSearch, type ConvJob } from '../../src/runtime/tune-search.js';
import { syntheticWeights } from '../../src/weights/synthetic.js';
import { uniformSparsity } from '../plan/helpers.js';
import { mulberry32, testSeed } from '../helpers/random.js';
import { CpuAddon, installCpuAddon, type ConvTruth } from '../bench/cpu-addon.js';
import { smallResnet } from '../helpers/small-graph.js';

const SEED = testSeed();
console.log(`test/tune/flow.test.ts: seed ${SEED} (CUSNN_TEST_SEED=${SEED} repeats this run)`);
const tmp = mkdtempSync(join(tmpdir(), 'cusnn-tune-flow-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
const FAKE_GPU = 'CPU fake GPU';

const smallGraph = smallResnet;

interface Truth {
  readonly kernelUs: Map<string, number>;
  readonly wrong: Set<string>;
  /** Per shape (words): the fastest correct kernel, the wrong one, and whether the heuristic is within 10%. */
  readonly perShape: Map<string, { fastest: string; wrong: string; heuristicWithin: boolean; cudnnFactor: number }>;
  readonly layerTruth: Map<string, ConvTruth>;
}

/** Hidden times per kernel (shared by the layers of one shape, as on a GPU). */
function makeTruth(jobs: readonly ConvJob[], rnd: () => number): Truth {
  const uni = (a: number, b: number): number => a + (b - a) * rnd();
  const kernelUs = new Map<string, number>();
  const wrong = new Set<string>();
  const perShape = new Map<string, { fastest: string; wrong: string; heuristicWithin: boolean; cudnnFactor: number }>();
  const layerTruth = new Map<string, ConvTruth>();
  for (const j of jobs) {
    const words = shapeWords(j.shape);
    if (!perShape.has(words)) {
      const others = j.candidates.filter((c) => !c.heuristic);
      expect(others.length, `${j.layer}: candidates`).toBeGreaterThanOrEqual(3);
      const fi = Math.floor(rnd() * others.length);
      let wi = Math.floor(rnd() * (others.length - 1));
      if (wi >= fi) wi++;
      const base = uni(10, 40);
      const heuristicWithin = rnd() < 0.5;
      for (const c of j.candidates) kernelUs.set(c.kernel, base * uni(1.3, 3));
      kernelUs.set(others[fi]!.kernel, base);
      kernelUs.set(others[wi]!.kernel, base * 0.6); // faster than everything, but wrong
      wrong.add(others[wi]!.kernel);
      kernelUs.set(j.heuristic!.kernel, base * (heuristicWithin ? uni(1.01, 1.06) : uni(1.2, 1.5)));
      // cuDNN per shape: faster than the best candidate or clearly slower (the planner must follow).
      perShape.set(words, { fastest: others[fi]!.kernel, wrong: others[wi]!.kernel, heuristicWithin, cudnnFactor: rnd() < 0.5 ? uni(0.5, 0.9) : uni(1.3, 2.5) });
    }
    const t = perShape.get(words)!;
    const best = kernelUs.get(t.fastest)!;
    layerTruth.set(j.layer, { generatedUs: best, cudnnUs: best * t.cudnnFactor * uni(0.98, 1.02), sigma: 0.004 });
  }
  return { kernelUs, wrong, perShape, layerTruth };
}

function setup(seed: number) {
  const rnd = mulberry32(seed);
  const graph = smallGraph();
  const ws = syntheticWeights(graph, Math.floor(rnd() * 1e9));
  // Zeros per conv: block1_1 and block2_1 in one bucket (one entry, two layers), the others spread. The hidden times
  // are per shape, so the four 3x3 convs (one shape) stay where the rule picks one family for all: pxg from 60% zeros.
  const z: Record<string, number> = { block1_1_conv: 0.61 + 0.03 * rnd(), block2_1_conv: 0.65 + 0.04 * rnd(), block1_2_conv: 0.72 + 0.05 * rnd(),
    block2_2_conv: 0.81 + 0.05 * rnd(), block1_3_conv: 0.45 + 0.04 * rnd(), block2_3_conv: 0.85 + 0.04 * rnd() };
  const plan = planNetwork(graph, gpuProfile('sm_90'), uniformSparsity(graph, (l) => z[l] ?? 0.5), { batch: 1, weightsSource: 'synthetic' });
  return { rnd, graph, ws, plan, z };
}

describe(`cusnn-gen tune through the CPU-backed fake addon (seed ${SEED})`, () => {
  it('keeps the fastest correct candidate, discards a wrong one, and the planner uses the cache on that GPU model only', async () => {
    const { rnd, graph, ws, plan } = setup(SEED);
    const maxCandidates = 10;
    const { jobs, skipped } = tuneJobs(graph, plan, { maxCandidates });
    expect(skipped.map((s) => s.layer)).toEqual(['conv1_conv']);
    expect(jobs).toHaveLength(6);
    for (const j of jobs) {
      expect(j.candidates.length).toBeLessThanOrEqual(maxCandidates);
      expect(new Set(j.candidates.map((c) => c.kernel)).size, `${j.layer}: deduped`).toBe(j.candidates.length);
      expect(j.candidates.filter((c) => c.heuristic)).toHaveLength(1);
      expect(j.candidates.some((c) => c.spec.family === 'act-sparse') && j.candidates.some((c) => c.spec.family === 'igemm'), j.layer).toBe(true);
    }
    const truth = makeTruth(jobs, rnd);
    const addon = new CpuAddon({ truth: truth.layerTruth, otherUs: 1, drift: 0.002, powerW: { static: 300, cudnn: 300, 'implicit-gemm': 300 }, random: rnd,
      kernelUs: (k) => truth.kernelUs.get(k), wrongKernels: truth.wrong });
    const work = join(tmp, 'work-random');
    let built = 0;
    const r = await tuneSearch(graph, plan, ws, { inputs: { kind: 'random', seed: SEED }, maxCandidates, iters: 31, workDir: work,
      build: async (dir) => { built++; installCpuAddon(dir, addon); } });
    expect(built).toBe(1);
    expect(r.gpu).toBe(FAKE_GPU);
    expect(r.kernels).toBe(new Set(jobs.flatMap((j) => j.candidates.map((c) => c.kernel))).size);
    // Timed on random inputs, never all zero, at about the plan's zeros.
    for (const l of r.layers) {
      const want = plan.convs.find((c) => c.layer === l.layer)!.inputSparsity;
      expect(l.zeros, l.layer).toBeGreaterThan(want - 0.05);
      expect(l.zeros, l.layer).toBeLessThan(Math.min(want + 0.05, 1));
      const wrongHere = l.candidates.find((c) => truth.wrong.has(c.kernel))!;
      expect(wrongHere.us, `${l.layer}: the wrong kernel is discarded`).toBeNull();
      expect(wrongHere.discarded).toMatch(/rel\. L2 error [\d.e+-]+ vs cuDNN > 1e-5/);
      for (const c of l.candidates.filter((x) => !truth.wrong.has(x.kernel))) {
        expect(c.discarded, `${l.layer}: ${c.kernel}`).toBeNull();
        expect(c.relError!).toBeLessThanOrEqual(1e-5);
      }
    }
    // One entry per key; block1_1 and block2_1 share one.
    expect(r.entries).toHaveLength(5);
    expect(r.noEntry).toEqual([]);
    const shared = r.entries.find((e) => e.layers.length === 2)!;
    expect(shared.layers.map((l) => l.layer).sort()).toEqual(['block1_1_conv', 'block2_1_conv']);
    let within = 0;
    for (const e of r.entries) {
      const t = truth.perShape.get(shapeWords(e.shape))!;
      expect(e.best.kernel, keyOf(e)).toBe(t.fastest);
      // The heuristic of the entry's own layers (two layers of one shape in other zero buckets may have another: pxg from 60%).
      expect(e.heuristic!.kernel).toBe(jobs.find((j) => j.layer === e.layers[0]!.layer)!.heuristic!.kernel);
      expect(e.discarded).toBe(1);
      within += t.heuristicWithin ? e.layers.length : 0;
    }
    expect(heuristicSummary(Object.fromEntries(r.entries.map((e) => [keyOf(e), e])))).toMatchObject({ layers: 6, within });

    // Written, read back, planned with: the fake GPU's entries decide; on another GPU model they do not.
    const file = join(tmp, 'tune-cache.json');
    writeTuneCache(file, mergeTuneCache(emptyTuneCache(), r.entries).cache);
    const cache = readTuneCache(file);
    const sp = uniformSparsity(graph, (l) => plan.convs.find((c) => c.layer === l)!.inputSparsity);
    const tunedPlan = planNetwork(graph, gpuProfile('sm_90'), sp, { batch: 1, weightsSource: 'synthetic', tuned: cache, gpu: FAKE_GPU });
    for (const j of jobs) {
      const c = tunedPlan.convs.find((x) => x.layer === j.layer)!;
      const e = r.entries.find((x) => x.layers.some((l) => l.layer === j.layer))!;
      expect(c.reason, j.layer).toContain(`tuned on ${FAKE_GPU}`);
      const wins = e.best.us * 1.03 < e.cudnnUs;
      expect(c.decision, `${j.layer}: ${c.reason}`).toBe(wins ? 'act-sparse' : 'cudnn');
      expect(wins).toBe(truth.perShape.get(shapeWords(j.shape))!.cudnnFactor > 1);
      if (wins) {
        // The fastest, or a kernel it does not beat by the margin whose family comes first in the
        // registry's order of preference (a tie: src/plan/measured-choice.ts).
        // The tune timed the kernel without the residual the plan fused into it.
        const kept = e.measured!.candidates.find((x) => x.kernel === kernelNameOf(unfusedSpec(c.spec!)))!;
        const order = familyOrder('sm_90');
        expect(kept.us, j.layer).not.toBeNull();
        if (kept.kernel !== e.best.kernel) {
          expect(kept.us! < e.best.us * 1.03 && order.indexOf(kept.family) < order.indexOf(e.measured!.candidates.find((x) => x.kernel === e.best.kernel)!.family), `${j.layer}: ${c.reason}`).toBe(true);
        }
        expect(c.measured).toMatchObject({ source: 'tune', winner: kept.kernel });
      }
    }
    const elsewhere = planNetwork(graph, gpuProfile('sm_90'), sp, { batch: 1, weightsSource: 'synthetic', tuned: cache, gpu: 'NVIDIA H200' });
    for (const c of elsewhere.convs.filter((x) => jobs.some((j) => j.layer === x.layer))) {
      expect(c.reason).toContain(`tuned on ${FAKE_GPU}, not NVIDIA H200: ignored`);
    }
  });

  it('times on the real activations of a network input', async () => {
    const { rnd, graph, ws, plan } = setup(SEED + 1);
    const { jobs } = tuneJobs(graph, plan, { maxCandidates: 4 });
    const truth = makeTruth(jobs, rnd);
    const addon = new CpuAddon({ truth: truth.layerTruth, otherUs: 1, drift: 0.002, powerW: { static: 300, cudnn: 300, 'implicit-gemm': 300 }, random: rnd,
      kernelUs: (k) => truth.kernelUs.get(k), wrongKernels: truth.wrong });
    const x = Float32Array.from({ length: 3 * 18 * 18 }, () => rnd() * 3 - 1.5);
    const r = await tuneSearch(graph, plan, ws, { inputs: { kind: 'network', x, what: 'test image' }, maxCandidates: 4, iters: 15, workDir: join(tmp, 'work-real'),
      build: async (dir) => installCpuAddon(dir, addon) });
    const ref = referenceForward(graph, ws, x, 1);
    expect(r.inputs).toBe('images');
    let real = 0;
    for (const l of r.layers) {
      const want = ref.inputSparsity.get(l.layer)!;
      const planZeros = plan.convs.find((c) => c.layer === l.layer)!.inputSparsity;
      if (want === 1) {
        // An all-zero real input checks nothing: that layer falls back to random inputs at the plan's zeros.
        expect(Math.abs(l.zeros - planZeros), l.layer).toBeLessThan(0.05);
        continue;
      }
      real++;
      // The zeros of the real activation (the CPU reference's), filed under their own bucket.
      expect(l.zeros, l.layer).toBeCloseTo(want, 2);
      expect(l.bucket).toBe(Math.floor(l.zeros * 10 + 1e-9) * 10);
    }
    expect(real, 'layers timed on real activations').toBeGreaterThan(0);
    for (const e of r.entries) expect(e.inputs).toBe('images');
  });
});
