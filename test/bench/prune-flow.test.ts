// `bench --prune`: the whole bench flow (runBench: folders, decisions, the correctness check,
// times, energy, per-layer figures, results.json and the report) on the small graph through the
// CPU-backed fake addon (test/bench/cpu-addon.ts), with the dense weights and two pruned variants.
// The graph and its folders come from the `prepare` hook (the zoo is not involved), the inputs
// from the `inputs` hook (small images, input sparsity from the float64 reference). Checked:
// every run's prune fields; the whole-network and per-layer weight sparsity against zeros counted
// here; the CSV columns; the weight-sparsity chart, one point per generated-kernel layer; each
// pruned run checked against its own cuDNN path (a broken generated path on a pruned variant
// fails that run only); a weights file that comes pruned is recorded so. Seed printed;
// CUSNN_TEST_SEED repeats a run.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { gpuProfile } from '../../src/arch/profiles.js';
import { runBench, PRUNED_WEIGHTS_FILE, type BenchHooks } from '../../src/bench/bench.js';
import { parseCsv } from '../../src/bench/csv.js';
import { relL2Error } from '../../src/bench/metrics.js';
import type { PrepareOptions, PreparedFolder } from '../../src/bench/prepare.js';
import { readResults } from '../../src/bench/report.js';
import type { BenchResults, ModelResult } from '../../src/bench/results.js';
import { batchOf } from '../../src/bench/split.js';
import { emitNetwork } from '../../src/codegen/emit.js';
import type { Graph } from '../../src/model/ir.js';
import { planNetwork } from '../../src/plan/planner.js';
import { referenceForward } from '../../src/runtime/reference.js';
import { sparsityProfile } from '../../src/sparsity/profile.js';
import { loadWeights, saveWeights } from '../../src/weights/load.js';
import { pruneWeights } from '../../src/weights/prune.js';
import type { WeightSet } from '../../src/weights/store.js';
import { syntheticWeights } from '../../src/weights/synthetic.js';
import { mulberry32, testSeed } from '../helpers/random.js';
import { smallResnet } from '../helpers/small-graph.js';
import { referenceInputs } from './reference-inputs.js';
import { CpuAddon, installCpuAddon, type ConvTruth, type Engine3 } from './cpu-addon.js';

const SEED = testSeed();
console.log(`test/bench/prune-flow.test.ts: seed ${SEED} (CUSNN_TEST_SEED=${SEED} repeats this run)`);
const tmp = mkdtempSync(join(tmpdir(), 'cusnn-prune-flow-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const convNames = (g: Graph): string[] => g.layers.filter((l) => l.op === 'conv').map((l) => l.name);

/** Zeros counted here, not by the code under test: per conv kernel, and over all of them. */
function zerosOf(g: Graph, ws: WeightSet): { perLayer: Map<string, number>; total: number } {
  const perLayer = new Map<string, number>();
  let zeros = 0;
  let n = 0;
  for (const name of convNames(g)) {
    const t = ws.tensors.get(`${name}:kernel`)!;
    let z = 0;
    for (const v of t) if (v === 0) z++;
    perLayer.set(name, z / t.length);
    zeros += z;
    n += t.length;
  }
  return { perLayer, total: zeros / n };
}

interface World {
  readonly hooks: BenchHooks;
  readonly prepared: PrepareOptions[];
  /** Image-like inputs of the small graph, per image file index. */
  readonly imageOf: (file: string) => Float32Array;
}

/**
 * The hooks: folders of the small graph (the weights the bench gives: synthetic at its seed, or
 * its pruned file), planned with every eligible conv on a generated kernel and the fake addon
 * installed; small inputs per image file. `addonFor` picks the fake addon of each folder.
 */
function world(seed: number, addonFor: (o: PrepareOptions) => CpuAddon): World {
  const prepared: PrepareOptions[] = [];
  const imageOf = (file: string): Float32Array => {
    const i = Number(/(\d+)\.bin$/.exec(file)![1]);
    const rnd = mulberry32(seed * 31 + i);
    // Caffe-preprocessed pixels (0..255 minus the mean): the synthetic weights' scales expect them.
    const shift = 80 * (rnd() - 0.5);
    return Float32Array.from({ length: 3 * 18 * 18 }, () => shift + 200 * (rnd() - 0.5));
  };
  const prepare = async (o: PrepareOptions): Promise<PreparedFolder> => {
    prepared.push(o);
    const graph = smallResnet();
    const weights = o.weights.path === null ? syntheticWeights(graph, o.seed) : loadWeights(graph, { path: o.weights.path });
    const sparsity = sparsityProfile(graph, weights);
    const dir = join(o.buildDir, o.name ?? `${o.model}-${o.arch}`);
    const plan = planNetwork(graph, gpuProfile(o.arch), sparsity, { batch: 1, weightsSource: weights.source, force: 'act-sparse',
      weightsRef: { path: o.weights.path === null ? null : resolve(o.weights.path), seed: o.seed, fillMissing: false } });
    const emitted = emitNetwork(graph, plan, dir);
    installCpuAddon(dir, addonFor(o));
    return { dir, generated: { graph, weights, sparsity, plan: emitted.plan, plans: [emitted.plan], emitted, dropped: [], gpuProblems: [] }, reused: false, buildSeconds: 0,
      kernels: emitted.kernels.length };
  };
  const inputs = referenceInputs(imageOf);
  return { hooks: { prepare, inputs }, prepared, imageOf };
}

/** A fake addon whose convs have true times drawn fresh: most generated kernels clearly win, some clearly lose. */
function fakeAddon(rnd: () => number, perturb?: Engine3): CpuAddon {
  const uni = (a: number, b: number): number => a + (b - a) * rnd();
  const truth = new Map<string, ConvTruth>();
  convNames(smallResnet()).forEach((name, i) => {
    const cudnnUs = uni(8, 60);
    const win = i <= 2 || rnd() < 0.7; // convs 1 and 2 (block1's first two; 0 is the stem, without a kernel) always: two winners at least
    truth.set(name, { cudnnUs, generatedUs: cudnnUs / (win ? uni(1.6, 3) : uni(0.3, 0.7)), sigma: uni(0.005, 0.02) });
  });
  return new CpuAddon({ truth, otherUs: uni(1, 3), drift: 0.002, powerW: { static: 290, cudnn: 310, 'implicit-gemm': 280 }, random: rnd, ...(perturb ? { perturb } : {}) });
}

const OPTIONS = { models: ['small_resnet'], arch: 'sm_90', weightsDir: null, imagesDir: null, rounds: 3, iters: 99, layerIters: 30, energySeconds: 2, checkInputs: 3 } as const;

const pointTitles = (svg: string): string[] => [...svg.matchAll(/<circle class="point"[^>]*><title>([^<]*)<\/title>/g)].map((m) => m[1]!);

describe(`bench --prune on the small graph through the CPU-backed fake addon (seed ${SEED})`, () => {
  it('runs the dense weights and each pruned variant through the whole flow, each recorded with its prune and weight sparsity', async () => {
    const rnd = mulberry32(SEED);
    const seed = Math.floor(rnd() * 1000);
    const addon = fakeAddon(rnd);
    const w = world(SEED, () => addon);
    const out = join(tmp, 'ok');
    const buildDir = join(tmp, 'build-ok');
    let total = 0;
    let ticks = 0;
    const r = await runBench({ ...OPTIONS, out, buildDir, seed, prune: [0.5, 0.9] }, {
      ...w.hooks, progress: (n) => { total = n; return { tick: () => void ticks++, done: () => {} }; },
    });
    // Three weights variants, each its own run (one batch): prepare + calibrate + 5 batch steps each.
    expect(total).toBe(3 * (2 + 5));
    expect(ticks).toBe(total);
    expect(r.runs.map((m) => m.prune)).toEqual([null, { sparsity: 0.5, pattern: 'unstructured' }, { sparsity: 0.9, pattern: 'unstructured' }]);
    expect(r.settings).toMatchObject({ prune: [0.5, 0.9], prunePattern: 'unstructured' });
    expect(r.command).toMatch(/--prune 0\.5,0\.9$/);

    // The folders: the dense one first, then one per variant from a weights file the bench wrote,
    // each offered the folders before it to borrow an addon from.
    expect(w.prepared.map((o) => o.name ?? `${o.model}-${o.arch}`)).toEqual(['small_resnet-sm_90', 'small_resnet-sm_90-p0.50', 'small_resnet-sm_90-p0.90']);
    expect(w.prepared[0]!.weights.path).toBeNull();
    expect(w.prepared.map((o) => (o.reuse ?? []).map((f) => f.dir))).toEqual([[], [join(buildDir, 'small_resnet-sm_90')],
      [join(buildDir, 'small_resnet-sm_90'), join(buildDir, 'small_resnet-sm_90-p0.50')]]);

    // What the variants must be: the same synthetic weights pruned per layer, first conv and dense layer kept.
    const graph = smallResnet();
    const dense = syntheticWeights(graph, seed);
    const expected = new Map<number, WeightSet>([[0, dense], ...[0.5, 0.9].map((p): [number, WeightSet] => [p, pruneWeights(graph, dense, { sparsity: p }).weights])]);
    for (const [i, m] of r.runs.entries()) {
      const p = m.prune?.sparsity ?? 0;
      expect(m.error, m.error).toBeUndefined();
      expect(m.weights).toBe('synthetic');
      const file = w.prepared[i]!.weights.path;
      if (p > 0) {
        expect(file).toBe(join(buildDir, `small_resnet-sm_90-p${p.toFixed(2)}`, PRUNED_WEIGHTS_FILE));
        const read = loadWeights(graph, { path: file! });
        expect(m.weightsSource).toBe(read.source);
        expect(m.weightsSource).toMatch(new RegExp(`pruned per layer to ${p} sparsity`));
        // The file holds exactly the weights pruned here: every tensor, bit for bit.
        const bytes = (t: Float32Array): Buffer => Buffer.from(t.buffer, t.byteOffset, t.byteLength);
        for (const [k, t] of expected.get(p)!.tensors) expect(bytes(read.tensors.get(k)!).equals(bytes(t)), k).toBe(true);
        expect(m.notes!.join('\n')).toMatch(new RegExp(`weights pruned by the bench from synthetic \\(seed ${seed}\\): unstructured, by magnitude, each conv but the first to ${p.toFixed(2)}`));
      }
      const z = zerosOf(graph, expected.get(p)!);
      expect(m.weightSparsity).toBeCloseTo(z.total, 12);
      // Independently of the pruning code: per layer round(p * n) zeros, the stem kept dense.
      const convs = graph.layers.filter((l) => l.op === 'conv');
      let want = 0;
      let all = 0;
      for (const l of convs) {
        const n = dense.tensors.get(`${l.name}:kernel`)!.length;
        const before = zerosOf(graph, dense).perLayer.get(l.name)! * n;
        want += l.name === 'conv1_conv' ? before : Math.max(before, Math.round(p * n));
        all += n;
      }
      expect(m.weightSparsity).toBeCloseTo(want / all, 12);
      if (p > 0) expect(m.weightSparsity).toBeGreaterThan(p * 0.9);
      // Every layer row carries its own weight sparsity.
      expect(m.layers.map((l) => l.layer)).toEqual(convNames(graph));
      for (const l of m.layers) {
        expect(l.weightSparsity, `${m.prune?.sparsity} ${l.layer}`).toBeCloseTo(z.perLayer.get(l.layer)!, 12);
        if (p > 0 && l.layer !== 'conv1_conv') expect(l.weightSparsity).toBeCloseTo(p, 2);
      }
      expect(m.layers.find((l) => l.layer === 'conv1_conv')!.weightSparsity).toBe(z.perLayer.get('conv1_conv'));
      // Checked against its own cuDNN path, and it passed: the generated path computes the pruned network.
      expect(m.correctness).toMatchObject({ passed: true, inputs: 3 });
      expect(m.correctness.maxRelError.cusnn).toBeLessThan(1e-6);
      // Fresh random inputs give different logits: the check could tell engines apart.
      expect(m.correctness.inputSpread ?? 0).toBeGreaterThan(1e-3);
      expect(m.sparseLayers).toBeGreaterThanOrEqual(2);
    }
    // A check against the dense network's logits would have failed: the pruned logits are far from them.
    const x = batchOf([w.imageOf('/x/8.bin')], 1);
    const logits = (ws: WeightSet): Float64Array => referenceForward(graph, ws, x, 1, { keep: (l) => l === 'predictions' }).outputs.get('predictions')!;
    expect(relL2Error(logits(expected.get(0.9)!), logits(dense))).toBeGreaterThan(1e-2);

    // results.json reads back as written.
    expect(readResults(join(out, 'results.json'))).toEqual(JSON.parse(JSON.stringify(r)));
    checkReport(r, out);
  }, 120_000);

  it('a pruned variant is checked on its own: its broken generated path fails that run only', async () => {
    const rnd = mulberry32(SEED + 1);
    const good = fakeAddon(rnd);
    const broken = new CpuAddon({ ...good.config, perturb: 'static' });
    const w = world(SEED + 1, (o) => (o.name?.endsWith('-p0.80') ? broken : good));
    const r = await runBench({ ...OPTIONS, out: join(tmp, 'broken'), buildDir: join(tmp, 'build-broken'), prune: [0.8], energySeconds: 0 }, w.hooks);
    const [d, p] = r.runs;
    expect(d!.error, d!.error).toBeUndefined();
    expect(d!.correctness.passed).toBe(true);
    expect(p!.prune).toEqual({ sparsity: 0.8, pattern: 'unstructured' });
    expect(p!.error).toMatch(/^correctness: cusnn output differs from cudnn: max rel\. L2 error [\d.]+e-\d > 0\.0001 over 3 inputs$/);
    expect(p!.engines).toEqual([]);
    expect(p!.weightSparsity).toBeGreaterThan(0.7);
    // No timing of the wrong result: the broken addon measured nothing.
    expect(broken.events.some((e) => e.what === 'timeForward' || e.what === 'measureEnergy')).toBe(false);
  }, 120_000);

  it('a weights file that comes pruned counts too: prune null, its weight sparsity measured, named so', async () => {
    const rnd = mulberry32(SEED + 2);
    const addon = fakeAddon(rnd);
    const w = world(SEED + 2, () => addon);
    const graph = smallResnet();
    const p = 0.55 + 0.4 * rnd();
    const weightsDir = join(tmp, 'weights-pruned');
    const file = join(weightsDir, 'small_resnet.safetensors');
    const ws = pruneWeights(graph, syntheticWeights(graph, 7), { sparsity: p }).weights;
    mkdirSync(weightsDir, { recursive: true });
    saveWeights(file, graph, ws);
    const out = join(tmp, 'given');
    const r = await runBench({ ...OPTIONS, weightsDir, out, buildDir: join(tmp, 'build-given'), energySeconds: 0 }, w.hooks);
    expect(w.prepared.map((o) => o.weights.path)).toEqual([file]);
    const [m] = r.runs;
    expect(m!.error, m!.error).toBeUndefined();
    expect(m!.prune).toBeNull();
    expect(m!.weights).toBe('synthetic'); // the file's metadata says what it holds: synthetic weights, pruned
    expect(m!.weightSparsity).toBeCloseTo(zerosOf(graph, ws).total, 12);
    expect(m!.weightSparsity).toBeGreaterThanOrEqual(0.5);
    const pct = `${(100 * m!.weightSparsity!).toFixed(0)}%`;
    expect(m!.notes!.join('\n')).toContain(`pruned weights as given: ${(100 * m!.weightSparsity!).toFixed(1)}% of the conv weights are zero`);
    const summary = readFileSync(join(out, 'summary.md'), 'utf8');
    expect(summary).toContain(`### small_resnet b1 ${pct} zero weights (synthetic), synthetic weights`);
    expect(summary).toContain(`Pruned weights files (at least 50% of the conv weights zero as given): small_resnet b1 ${pct} zero weights.`);
    expect(pointTitles(readFileSync(join(out, 'speedup-vs-weight-sparsity.svg'), 'utf8'))).toHaveLength(m!.layers.filter((l) => l.path === 'act-sparse').length);
  }, 120_000);
});

/** The CSV columns, the weight-sparsity chart (one point per generated-kernel layer), the per-variant layer charts, the table and summary names. */
function checkReport(r: BenchResults, out: string): void {
  const [networks, layers] = ['results.csv', 'layers.csv'].map((f) => parseCsv(readFileSync(join(out, f), 'utf8')));
  const nh = networks![0]!;
  for (const c of ['pruneSparsity', 'prunePattern', 'weightSparsity']) expect(nh, c).toContain(c);
  const col = (h: readonly string[], name: string): number => h.indexOf(name);
  const variants = (m: ModelResult): string => String(m.prune?.sparsity ?? '');
  const rows = networks!.slice(1);
  expect(rows).toHaveLength(3 * 3);
  r.runs.forEach((m, i) => {
    for (const row of rows.slice(3 * i, 3 * i + 3)) {
      expect(row[col(nh, 'pruneSparsity')]).toBe(variants(m));
      expect(row[col(nh, 'prunePattern')]).toBe(m.prune ? 'unstructured' : '');
      expect(Number(row[col(nh, 'weightSparsity')])).toBe(m.weightSparsity);
    }
  });
  const lh = layers![0]!;
  expect(lh.slice(0, 5)).toEqual(['model', 'batch', 'weights', 'pruneSparsity', 'prunePattern']);
  const lrows = layers!.slice(1);
  const all = r.runs.flatMap((m) => m.layers.map((l) => ({ m, l })));
  expect(lrows).toHaveLength(all.length);
  all.forEach(({ m, l }, i) => {
    expect(lrows[i]![col(lh, 'layer')]).toBe(l.layer);
    expect(lrows[i]![col(lh, 'pruneSparsity')]).toBe(variants(m));
    expect(Number(lrows[i]![col(lh, 'weightSparsity')])).toBe(l.weightSparsity);
  });

  // speedup-vs-weight-sparsity.svg: one point per generated-kernel layer of every run, named by its run.
  const svg = readFileSync(join(out, 'speedup-vs-weight-sparsity.svg'), 'utf8');
  const titles = pointTitles(svg);
  const generated = (m: ModelResult) => m.layers.filter((l) => l.path === 'act-sparse');
  expect(titles).toHaveLength(r.runs.reduce((a, m) => a + generated(m).length, 0));
  for (const m of r.runs.filter((x) => x.prune)) {
    const tag = `small_resnet b1 p${m.prune!.sparsity.toFixed(2)} (synthetic) `;
    const mine = titles.filter((t) => t.startsWith(tag));
    expect(mine.map((t) => t.slice(tag.length).split(':')[0])).toEqual(generated(m).map((l) => l.layer));
    for (const l of generated(m)) expect(mine.find((t) => t.startsWith(`${tag}${l.layer}:`))).toContain(`${(100 * l.weightSparsity).toFixed(1)}% zero weights`);
  }
  expect(svg).toMatch(/against weight sparsity/);
  const legend = [...svg.matchAll(/<text class="legend"[^>]*>([^<]*)<\/text>/g)].map((m) => m[1]!);
  expect(legend.filter((l) => !/^(filled|hollow): /.test(l))).toEqual(['small_resnet (synthetic)']); // one series: one model

  for (const f of ['layers-small_resnet.svg', 'layers-small_resnet-p0.50.svg', 'layers-small_resnet-p0.90.svg', 'speedup-vs-sparsity.svg']) expect(existsSync(join(out, f)), f).toBe(true);
  const summary = readFileSync(join(out, 'summary.md'), 'utf8');
  expect(summary).toMatch(/^\| small_resnet p0\.90 \| 1 \| synthetic \| \d+\.\d% \|/m);
  expect(summary).toMatch(/^### small_resnet b1 p0\.50 \(synthetic\), synthetic weights/m);
  expect(summary).toMatch(/Weights: pruned by the bench to 0\.90 \(unstructured: single weights, by magnitude, per layer; the first conv and the dense layers kept dense\): \d+\.\d% of the conv weights zero\./);
  expect(summary).toContain('![speedup-vs-weight-sparsity.svg](speedup-vs-weight-sparsity.svg)');
}
