// The measured choice over every family (`cusnn-gen tune` -> tune cache -> planner -> plan.json,
// report.md, inspect) on a small graph pruned to 90%, through the CPU-backed fake addon
// (test/bench/cpu-addon.ts: outputs really computed, times drawn per kernel from a hidden truth
// with replay noise). Per pruned conv a scenario, assigned at random per run: wsparse clearly
// fastest; dconv clearly fastest; cuDNN fastest; wsparse 2.2% faster than cuDNN, outside the spread
// but within the 1.03x margin (cuDNN kept); wsparse 12% faster than cuDNN but inside a wide spread (cuDNN kept); wsparse
// fastest with dconv 1.5% behind (a tie: dconv kept, first in the registry's order of preference).
// The cache entries carry the weights' structure digest: another pruned file's layers do not use
// them. Seed printed; CUSNN_TEST_SEED repeats a run.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { gpuProfile } from '../../src/arch/profiles.js';
import { inspectCommand } from '../../src/cli/inspect.js';
import { tuneSummary } from '../../src/cli/tune.js';
import { emitNetwork } from '../../src/codegen/emit.js';
import { structureLookup } from '../../src/families/wsparse/structure.js';
import type { Graph } from '../../src/model/ir.js';
import { planNetwork } from '../../src/plan/planner.js';
import { emptyTuneCache, mergeTuneCache, readTuneCache, writeTuneCache } from '../../src/plan/tune-cache.js';
import type { NetworkPlan } from '../../src/plan/types.js';
import { readPlanFile } from '../../src/runtime/network.js';
import { tuneJobs, tuneSearch, type ConvJob } from '../../src/runtime/tune-search.js';
import { sparsityProfile } from '../../src/sparsity/profile.js';
import type { SparsityProfile } from '../../src/sparsity/types.js';
import { pruneWeights } from '../../src/weights/prune.js';
import type { WeightSet } from '../../src/weights/store.js';
import { syntheticWeights } from '../../src/weights/synthetic.js';
import { CpuAddon, installCpuAddon, type ConvTruth } from '../bench/cpu-addon.js';
import { mulberry32, testSeed } from '../helpers/random.js';
import { smallResnet } from '../helpers/small-graph.js';

const SEED = testSeed();
console.log(`test/tune/measured-families.test.ts: seed ${SEED} (CUSNN_TEST_SEED=${SEED} repeats this run)`);
const tmp = mkdtempSync(join(tmpdir(), 'cusnn-tune-families-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
const FAKE_GPU = 'CPU fake GPU';
const ITERS = 101;

type Scenario = 'wsparse' | 'dconv' | 'cudnn' | 'margin-tie' | 'spread-tie' | 'family-tie';
/** The path each scenario must end on, and the words of its reason. */
const EXPECT: Record<Scenario, { family: string | null; why: RegExp }> = {
  wsparse: { family: 'wsparse', why: /fastest wsparse .*: faster outside the spread and by more than the 1\.03x margin$/ },
  dconv: { family: 'dconv', why: /fastest dconv .*: faster outside the spread and by more than the 1\.03x margin$/ },
  cudnn: { family: null, why: /: slower: cuDNN kept$/ },
  'margin-tie': { family: null, why: /fastest wsparse .*: faster by less than the 1\.03x margin: cuDNN kept$/ },
  'spread-tie': { family: null, why: /fastest wsparse .*: a tie within the spread: cuDNN kept$/ },
  'family-tie': { family: 'dconv', why: /fastest wsparse .*margin; dconv \w+ .* is within the fastest's spread or the 1\.03x margin and its family comes first in the order of preference \(pxg, dconv, igemm, wsparse, wstage, dual, wino, act-sparse\): it is kept$/ },
};

/** The profile of the pruned weights with chosen input zeros (the planner's and tune's input). */
function withZeros(sp: SparsityProfile, zeros: (layer: string) => number): SparsityProfile {
  return { ...sp, activationSource: 'test', convs: new Map([...sp.convs].map(([k, v]) => [k, v.inputSource === 'image' ? v : { ...v, inputSparsity: zeros(k), inputSource: 'estimate' as const }])) };
}

interface Setup {
  readonly graph: Graph;
  readonly pruned: WeightSet;
  readonly sp: SparsityProfile;
  readonly plan: NetworkPlan;
}

function setup(rnd: () => number): Setup {
  const graph = smallResnet();
  const pruned = pruneWeights(graph, syntheticWeights(graph, Math.floor(rnd() * 1e9)), { sparsity: 0.9 }).weights;
  const sp = withZeros(sparsityProfile(graph, pruned), () => 0.4 + 0.3 * rnd());
  const plan = planNetwork(graph, gpuProfile('sm_90'), sp, { batch: 1, weightsSource: 'pruned 90%', weightStructure: structureLookup(graph, pruned) });
  return { graph, pruned, sp, plan };
}

interface Truth {
  readonly scenario: Map<string, Scenario>;
  readonly layer: Map<string, ConvTruth>;
  readonly kernelUs: Map<string, number>;
  readonly wrong: Set<string>;
  /** The kernel each scenario makes the winner, per layer (null: cuDNN). */
  readonly winner: Map<string, string | null>;
}

/** Hidden times: the first candidate of a family is its "designated" kernel; every other is >= 1.3x the layer's base. */
function makeTruth(jobs: readonly ConvJob[], rnd: () => number): Truth {
  const uni = (a: number, b: number): number => a + (b - a) * rnd();
  const shuffle = <T>(xs: T[]): T[] => xs.map((x) => [rnd(), x] as const).sort((a, b) => a[0] - b[0]).map(([, x]) => x);
  const k3 = shuffle(jobs.filter((j) => j.shape.r === 3).map((j) => j.layer));
  const k1 = shuffle(jobs.filter((j) => j.shape.r === 1).map((j) => j.layer));
  expect([k3.length, k1.length], 'pruned 3x3 and 1x1 convs').toEqual([4, 2]);
  const scenario = new Map<string, Scenario>([
    ...shuffle<Scenario>(['wsparse', 'dconv', 'spread-tie', 'family-tie']).map((s, i) => [k3[i]!, s] as const),
    ...shuffle<Scenario>(['cudnn', 'margin-tie']).map((s, i) => [k1[i]!, s] as const),
  ]);
  const layer = new Map<string, ConvTruth>();
  const kernelUs = new Map<string, number>();
  const wrong = new Set<string>();
  const winner = new Map<string, string | null>();
  for (const j of jobs) {
    const s = scenario.get(j.layer)!;
    const base = uni(8, 30);
    const first = (family: string): string => {
      const c = j.candidates.find((x) => x.spec.family === family);
      if (!c) throw new Error(`${j.layer}: no ${family} candidate among ${j.candidates.map((x) => x.kernel).join(', ')}`);
      return c.kernel;
    };
    const ws = first('wsparse');
    const dc = j.shape.r === 3 ? first('dconv') : null;
    for (const c of j.candidates) kernelUs.set(`${j.layer}/${c.kernel}`, base * uni(1.3, 2.5));
    const set = (k: string, us: number): void => void kernelUs.set(`${j.layer}/${k}`, us);
    let cudnnUs = base * 2;
    let sigma = 0.004;
    if (s === 'wsparse') set(ws, base);
    if (s === 'dconv') set(dc!, base);
    if (s === 'cudnn') cudnnUs = base / uni(1.2, 1.5);
    if (s === 'margin-tie') { set(ws, base); cudnnUs = base * 1.022; }
    if (s === 'spread-tie') { set(ws, base); cudnnUs = base * 1.12; sigma = 0.15; }
    if (s === 'family-tie') { set(ws, base); set(dc!, base * 1.015); }
    // A wsparse variant faster than everything but wrong: discarded, and said so in the plan.
    const bad = j.candidates.find((c) => c.spec.family === 'wsparse' && c.kernel !== ws);
    if (bad && s === 'wsparse') { set(bad.kernel, base * 0.5); wrong.add(bad.kernel); }
    layer.set(j.layer, { generatedUs: base, cudnnUs, sigma });
    winner.set(j.layer, s === 'wsparse' ? ws : s === 'dconv' || s === 'family-tie' ? dc : null);
  }
  return { scenario, layer, kernelUs, wrong, winner };
}

describe(`the measured choice over every family (small graph pruned 90%, seed ${SEED})`, () => {
  const rnd = mulberry32(SEED);
  const { graph, pruned, sp, plan } = setup(rnd);
  const structures = structureLookup(graph, pruned);
  const maxCandidates = 12;

  it('tunes every family that serves a pruned conv (wsparse and wstage with the weights), cuDNN beside them, keyed by the weight structure', async () => {
    const { jobs, skipped } = tuneJobs(graph, plan, { maxCandidates, weights: pruned });
    expect(skipped.map((x) => x.layer)).toEqual(['conv1_conv']);
    for (const j of jobs) {
      const fams = new Set(j.candidates.map((c) => c.spec.family));
      // The three weight-sparse families on every pruned conv (wstage where its window fits this GPU; dual, which has
      // no rule, from its space alone); pxg on the 3x3 convs (16 output channels on small maps: its shape rule serves them all);
      // wino (no rule either) from its space on the 3x3 stride-1 ones.
      const wino = j.shape.r === 3 && j.shape.strideH === 1 ? ['wino'] : [];
      expect([...fams].sort(), j.layer).toEqual(j.shape.r === 3 ? ['act-sparse', 'dconv', 'dual', 'igemm', 'pxg', ...wino, 'wsparse', 'wstage'] : ['act-sparse', 'dual', 'igemm', 'wsparse', 'wstage']);
      expect(j.weightsDigest, j.layer).toBe(structures(j.layer)!.digest);
    }
    // Without the weights, no weight-structure family, and the pruned layers' structure is unknown (never a dense key).
    for (const j of tuneJobs(graph, plan, { maxCandidates }).jobs) {
      expect(j.candidates.some((c) => c.spec.family === 'wsparse'), j.layer).toBe(false);
      expect(j.weightsDigest).toBe('unknown');
    }

    const truth = makeTruth(jobs, rnd);
    const addon = new CpuAddon({ truth: truth.layer, otherUs: 1, drift: 0.001, powerW: { static: 300, cudnn: 300, 'implicit-gemm': 300 }, random: rnd,
      kernelUs: (k, l) => truth.kernelUs.get(`${l}/${k}`), wrongKernels: truth.wrong });
    const r = await tuneSearch(graph, plan, pruned, { inputs: { kind: 'random', seed: SEED }, maxCandidates, iters: ITERS, workDir: join(tmp, 'work'),
      build: async (dir) => installCpuAddon(dir, addon) });
    // One entry per pruned conv: each has its own structure, so none shares a key.
    expect(r.entries).toHaveLength(6);
    for (const e of r.entries) {
      const l = e.layers[0]!.layer;
      expect(e.weights, l).toBe(structures(l)!.digest);
      expect(e.measured!.cudnn.algo).toBe('IMPLICIT_PRECOMP_GEMM');
      expect(e.measured!.cudnn.p10Us).toBeLessThanOrEqual(e.measured!.cudnn.us);
      for (const c of e.measured!.candidates) {
        expect(c.family, c.kernel).toBe(c.tiles.family);
        if (c.us === null) {
          expect(truth.wrong.has(c.kernel), `${l}: ${c.kernel} discarded: ${c.discarded}`).toBe(true);
          expect(c.discarded).toMatch(/rel\. L2 error .* vs cuDNN > 1e-5/);
        } else {
          expect(c.p10Us!).toBeLessThanOrEqual(c.us);
          expect(c.p90Us!).toBeGreaterThanOrEqual(c.us);
        }
      }
    }
    // tune's summary: a choice column and, per conv, the rule's words.
    const summary = tuneSummary(r);
    expect(summary[0]).toContain('choice');
    for (const j of jobs) {
      const want = EXPECT[truth.scenario.get(j.layer)!];
      expect(summary.find((x) => x.startsWith(`${j.layer}: `)), j.layer).toMatch(want.why);
    }
    const file = join(tmp, 'tune-cache.json');
    writeTuneCache(file, mergeTuneCache(emptyTuneCache(), r.entries).cache);
    const cache = readTuneCache(file);
    expect(Object.keys(cache.entries).every((k) => / \| weights [0-9a-f]{10}$/.test(k))).toBe(true);

    // The planner decides every pruned conv from the cache; plan.json records what was measured.
    const tuned = planNetwork(graph, gpuProfile('sm_90'), sp, { batch: 1, weightsSource: 'pruned 90%', weightStructure: structures, tuned: cache, gpu: FAKE_GPU });
    const dir = join(tmp, 'folder');
    emitNetwork(graph, tuned, dir, { structures });
    const back = readPlanFile(dir);
    const seen = new Set<Scenario>();
    for (const j of jobs) {
      const s = truth.scenario.get(j.layer)!;
      seen.add(s);
      const c = back.convs.find((x) => x.layer === j.layer)!;
      const want = EXPECT[s];
      const what = `${j.layer} (${s}): ${c.reason}`;
      expect(c.reason, what).toMatch(new RegExp(`tuned on ${FAKE_GPU}: best of \\d+ candidates .*weight structure ${structures(j.layer)!.digest}`));
      expect(c.decision, what).toBe(want.family === null ? 'cudnn' : 'act-sparse');
      expect(c.spec?.family ?? null, what).toBe(want.family);
      if (want.family) expect(c.kernelName, what).toBe(truth.winner.get(j.layer));
      const m = c.measured!;
      expect(m.source).toBe('tune');
      expect(m.winner, what).toBe(want.family ? truth.winner.get(j.layer) : 'cudnn');
      expect(m.why, what).toMatch(want.why);
      expect(c.reason).toContain(m.why);
      // Every candidate measured is recorded, fastest first, with the families that served the layer.
      expect(m.candidates.map((x) => x.kernel).sort()).toEqual(j.candidates.map((x) => x.kernel).sort());
      const times = m.candidates.filter((x) => x.us !== null).map((x) => x.us!);
      expect(times).toEqual([...times].sort((a, b) => a - b));
      expect(new Set(m.candidates.map((x) => x.family))).toEqual(new Set(j.candidates.map((x) => x.spec.family)));
      expect(c.weightPattern, j.layer).toMatchObject({ pattern: 'unstructured', digest: structures(j.layer)!.digest });
      expect(c.weightPattern!.density).toBeCloseTo(0.1, 2);
    }
    expect(seen.size).toBe(6);

    const report = readFileSync(join(dir, 'report.md'), 'utf8');
    expect(report).toContain('## Measured decisions');
    for (const j of jobs) {
      const line = report.split('\n').find((x) => x.startsWith(`- **${j.layer}** (weights unstructured, density `))!;
      expect(line, j.layer).toMatch(/winner: (cuDNN|\w+) \(tune on CPU fake GPU\)/);
    }
    expect(report).toMatch(/ {2}- wsparse \(fastest of \d+\): wsparse\w+ [\d.]+ us \(p10-p90 [\d.]+-[\d.]+\)/);
    expect(report).toMatch(/ {2}- cuDNN IMPLICIT_PRECOMP_GEMM: [\d.]+ us \(p10-p90/);

    // inspect --layer: the weights' facts and the measured decision.
    const out: string[] = [];
    const layer = jobs[0]!.layer;
    await inspectCommand((s) => void out.push(s), () => {}).parseAsync([dir, '--layer', layer, '--no-ptxas'], { from: 'user' });
    const text = out.join('\n');
    const st = structures(layer)!;
    let min = Infinity;
    let max = 0;
    for (let k = 0; k < st.k; k++) { const n = st.start[k + 1]! - st.start[k]!; min = Math.min(min, n); max = Math.max(max, n); }
    expect(text).toContain(`weights: pattern unstructured, density 10.0% (90.0% zeros), nonzeros per output channel min/mean/max ${min}/${(st.offsets.length / st.k).toFixed(1)}/${max}, structure digest ${st.digest}`);
    expect(text).toMatch(/\nmeasured:\n {2}winner: /);
    expect(text).toContain(`reason: ${back.convs.find((c) => c.layer === layer)!.reason}`);

    // Another pruned weight file: same shapes, other structures; the entries decide none of its layers.
    const other = pruneWeights(graph, syntheticWeights(graph, SEED + 7), { sparsity: 0.9 }).weights;
    const otherSp = withZeros(sparsityProfile(graph, other), (l) => sp.convs.get(l)!.inputSparsity);
    const elsewhere = planNetwork(graph, gpuProfile('sm_90'), otherSp, { batch: 1, weightsSource: 'other', weightStructure: structureLookup(graph, other), tuned: cache, gpu: FAKE_GPU });
    for (const j of jobs) {
      const c = elsewhere.convs.find((x) => x.layer === j.layer)!;
      expect(c.measured, j.layer).toBeUndefined();
      expect(c.reason, j.layer).toMatch(/tune cache: tuned for weight structure [0-9a-f]{10}(, weight structure [0-9a-f]{10})*, not weight structure [0-9a-f]{10}: ignored \(a measurement on one pruned weight file does not decide a layer of another\)/);
    }
  }, 120_000);
});
