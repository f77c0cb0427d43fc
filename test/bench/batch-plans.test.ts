// `bench --batch 1,4`: a folder planned for every benched batch, each batch deciding among the
// kernels of its own plan (issue 8 item 5). The graph has 1x1 convs whose tiles the rule changes
// at batch > 1 (the large-batch 8x8 tiles), so batch 1's and batch 4's kernels differ by name. The
// fake addon (test/bench/cpu-addon.ts) computes on the CPU and gives each kernel its own true time:
// the batch-4 kernels clearly beat cuDNN, the batch-1 kernels clearly lose. Checked: prepare is
// asked for both batches; at batch 4 the wins are the batch-4 kernels (names from the batch-4 plan,
// planBatch 4) and at batch 1 every conv stays on cuDNN; a folder planned for batch 1 only (a hook
// that ignores the batches) decides batch 4 among batch 1's kernels and says so. Seed printed;
// CUSNN_TEST_SEED repeats a run.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { gpuProfile } from '../../src/arch/profiles.js';
import { runBench, type BenchHooks } from '../../src/bench/bench.js';
import { plannedBatches, type PrepareOptions, type PreparedFolder } from '../../src/bench/prepare.js';
import { readResults } from '../../src/bench/report.js';
import { emitNetwork } from '../../src/codegen/emit.js';
import { kernelNameOf } from '../../src/families/registry.js';
import { GraphBuilder } from '../../src/model/builder.js';
import { uniformPad, type Graph } from '../../src/model/ir.js';
import { batchPlans, planNetwork, withBatches } from '../../src/plan/planner.js';
import type { NetworkPlan } from '../../src/plan/types.js';
import { sparsityProfile } from '../../src/sparsity/profile.js';
import { syntheticWeights } from '../../src/weights/synthetic.js';
import { mulberry32, testSeed } from '../helpers/random.js';
import { referenceInputs } from './reference-inputs.js';
import { CpuAddon, installCpuAddon, type ConvTruth } from './cpu-addon.js';

const SEED = testSeed();
console.log(`test/bench/batch-plans.test.ts: seed ${SEED} (CUSNN_TEST_SEED=${SEED} repeats this run)`);
const tmp = mkdtempSync(join(tmpdir(), 'cusnn-batch-plans-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** A stem to 64 x 16 x 16, then a bottleneck of 1x1, 3x3 and 1x1 convs of 64 channels (256 pixels: batch 4 reaches the large-batch tiles). */
function wideNet(): Graph {
  const b = new GraphBuilder('wide_net', 'resnet', 'caffe');
  let x = b.input('input', [3, 32, 32]);
  x = b.relu('conv1_relu', b.batchnorm('conv1_bn', b.conv('conv1_conv', x, 64, { kernel: 3, stride: 2, pad: uniformPad(1), bias: true }), 1e-3));
  let y = b.relu('a_relu', b.conv('a_conv', x, 64, { kernel: 1, bias: true }));
  y = b.relu('b_relu', b.conv('b_conv', y, 64, { kernel: 3, pad: uniformPad(1), bias: true }));
  y = b.conv('c_conv', y, 64, { kernel: 1, bias: true });
  x = b.relu('out', b.addLayers('add', [x, y]));
  x = b.globalAvgPool('avg_pool', x);
  b.softmax('predictions_softmax', b.dense('predictions', x, 10));
  return b.build();
}

const BATCHES = [1, 4];
const graph = wideNet();
const weights = syntheticWeights(graph, 5);
const sparsity = sparsityProfile(graph, weights);
const planAt = (batch: number): NetworkPlan => planNetwork(graph, gpuProfile('sm_90'), sparsity, { batch, weightsSource: weights.source, force: 'act-sparse' });
/** The kernel names of a plan, per conv with one. */
const kernelsOf = (p: NetworkPlan): Map<string, string> => new Map(p.convs.filter((c) => c.spec).map((c) => [c.layer, kernelNameOf(c.spec!)]));
const batch1 = kernelsOf(planAt(1));
const batch4 = kernelsOf(planAt(4));

/** Folders planned for `batchesOf(o)` with the fake addon; small image-like inputs per image file. */
function hooks(addon: CpuAddon, batchesOf: (o: PrepareOptions) => number[], asked: PrepareOptions[]): BenchHooks {
  const prepare = async (o: PrepareOptions): Promise<PreparedFolder> => {
    asked.push(o);
    const dir = join(o.buildDir, o.name ?? `${o.model}-${o.arch}`);
    const plan = withBatches(batchesOf(o).map(planAt));
    const emitted = emitNetwork(graph, plan, dir);
    installCpuAddon(dir, addon);
    return { dir, generated: { graph, weights, sparsity, plan: emitted.plan, plans: batchPlans(emitted.plan), emitted, dropped: [], gpuProblems: [] },
      reused: false, buildSeconds: 0, kernels: emitted.kernels.length };
  };
  const imageOf = (file: string): Float32Array => {
    const rnd = mulberry32(SEED * 17 + Number(/(\d+)\.bin$/.exec(file)![1]));
    const shift = 80 * (rnd() - 0.5);
    return Float32Array.from({ length: 3 * 32 * 32 }, () => shift + 200 * (rnd() - 0.5));
  };
  const inputs = referenceInputs(imageOf);
  return { prepare, inputs };
}

/** True times: each conv's cuDNN time drawn fresh; its batch-4 kernel 2-3x faster, its batch-1 kernel 2-3x slower. */
function fakeAddon(rnd: () => number): CpuAddon {
  const uni = (a: number, b: number): number => a + (b - a) * rnd();
  const truth = new Map<string, ConvTruth>();
  const fast = new Map<string, number>();
  const slow = new Map<string, number>();
  for (const l of graph.layers.filter((x) => x.op === 'conv')) {
    const cudnnUs = uni(10, 50);
    truth.set(l.name, { cudnnUs, generatedUs: cudnnUs, sigma: uni(0.005, 0.02) });
    const k4 = batch4.get(l.name);
    const k1 = batch1.get(l.name);
    if (k4) fast.set(k4, cudnnUs / uni(2, 3));
    if (k1) slow.set(k1, cudnnUs * uni(2, 3));
  }
  return new CpuAddon({ truth, otherUs: uni(1, 3), drift: 0.002, powerW: { static: 290, cudnn: 310, 'implicit-gemm': 280 }, random: rnd,
    kernelUs: (kernel) => fast.get(kernel) ?? slow.get(kernel) });
}

const OPTIONS = { models: ['wide_net'], arch: 'sm_90', weightsDir: null, imagesDir: null, rounds: 3, iters: 40, layerIters: 20, energySeconds: 0, checkInputs: 4, batches: BATCHES } as const;

describe(`bench --batch 1,4: a plan per batch (seed ${SEED})`, () => {
  it('the plans differ: every generated conv has another kernel at batch 4 than at batch 1', () => {
    expect([...batch4.keys()].sort()).toEqual([...batch1.keys()].sort());
    expect(batch4.size).toBe(3);
    for (const [layer, k] of batch4) expect(k, layer).not.toBe(batch1.get(layer));
    expect(plannedBatches([32, 1, 8, 8])).toEqual([1, 8, 32]);
    expect(plannedBatches(undefined)).toEqual([1]);
  });

  it('decides each batch among its own plan\'s kernels: batch 4 runs the batch-4 kernels, batch 1 keeps cuDNN', async () => {
    const asked: PrepareOptions[] = [];
    const out = join(tmp, 'own');
    const r = await runBench({ ...OPTIONS, out, buildDir: join(tmp, 'build-own') },
      hooks(fakeAddon(mulberry32(SEED)), (o) => plannedBatches(o.batches), asked));
    expect(asked.map((o) => o.batches)).toEqual([BATCHES]);
    expect(r.runs.map((m) => [m.batch, m.planBatch, m.error ?? null])).toEqual([[1, 1, null], [4, 4, null]]);
    const [b1, b4] = r.runs;
    expect(b1!.sparseLayers).toBe(0);
    expect(b1!.layers.filter((l) => l.path === 'act-sparse')).toEqual([]);
    expect(b4!.sparseLayers).toBe(3);
    const gen = b4!.layers.filter((l) => l.path === 'act-sparse');
    expect(new Map(gen.map((l) => [l.layer, l.kernel]))).toEqual(batch4);
    for (const l of gen) expect(l.speedup!, l.layer).toBeGreaterThan(1.5);
    // The whole network at batch 4: cusnn faster than its cuDNN path (the fake times add up).
    const t = new Map(b4!.engines.map((e) => [e.engine, e.time.medianUs]));
    expect(t.get('cusnn')!).toBeLessThan(t.get('cudnn')!);
    // What was written reads back with the field.
    expect(readResults(join(out, 'results.json')).runs.map((m) => m.planBatch)).toEqual([1, 4]);
  });

  it('a folder planned for batch 1 only decides batch 4 among batch 1\'s kernels, and the run says so', async () => {
    const r = await runBench({ ...OPTIONS, out: join(tmp, 'one'), buildDir: join(tmp, 'build-one') },
      hooks(fakeAddon(mulberry32(SEED + 1)), () => [1], []));
    const b4 = r.runs.find((m) => m.batch === 4)!;
    expect(b4.planBatch).toBe(1);
    expect(b4.notes?.join('\n')).toMatch(/no plan for batch 4: the kernels of its batch-1 plan were decided among/);
    expect(b4.sparseLayers).toBe(0);
  });
});
