// The planner reads the tune cache (PlanOptions.tuned + gpu): a conv whose (GPU model, shape,
// zeros bucket, batch) has an entry gets the entry's tiles and is decided by its measured times,
// "tuned on <gpu>"; entries of another GPU model are ignored and the reason says so; other
// buckets and batches do not match. Calibration times follow the same rule when gpu is given.
// Random times and sparsity per run (seed printed; CUSNN_TEST_SEED repeats it).
import { describe, expect, it } from 'vitest';
import { gpuProfile } from '../../src/arch/profiles.js';
import { kernelNameOf } from '../../src/families/registry.js';
import { unfusedSpec } from '../../src/plan/residual.js';
import { buildModel } from '../../src/model/zoo/index.js';
import { planNetwork, type MeasuredConv } from '../../src/plan/planner.js';
import { bucketOf, emptyTuneCache, keyOf, mergeTuneCache, shapeOf, type TuneEntry } from '../../src/plan/tune-cache.js';
import type { ConvPlan } from '../../src/plan/types.js';
import { mulberry32, testSeed } from '../helpers/random.js';
import { uniformSparsity } from '../plan/helpers.js';

const SEED = testSeed();
const rnd = mulberry32(SEED);
const H200 = 'NVIDIA H200';
const graph = buildModel('resnet50');
const p = gpuProfile('sm_90');
// Per-layer zeros in 5..95%, fixed for the run.
const zeros = new Map(graph.layers.filter((l) => l.op === 'conv').map((l) => [l.name, 0.05 + 0.9 * rnd()]));
const sparsity = uniformSparsity(graph, (l) => zeros.get(l)!);
// As tune sees the convs (tuneJobs): without residual fusion, so the entries' shapes are the plain problems.
const base = planNetwork(graph, p, sparsity, { batch: 1, weightsSource: 'test', force: 'act-sparse', fuseResidual: false });
// Tiles no heuristic picks for these shapes: seeing them in a plan proves the entry was used.
const ODD_IGEMM = { family: 'igemm', bm: 32, bn: 16, bkc: 2, tm: 4, tn: 4, warpM: 8, split: 2, stages: 2 } as const;
const ODD_ACT = { th: 1, tw: 1, tc: 8, kb: 32, cs: 1 } as const;

function entryFor(c: ConvPlan, o: { gpu?: string; fast: boolean; bucket?: number; batch?: number }): TuneEntry {
  const shape = shapeOf(c.spec!);
  const cudnnUs = 10 + 90 * rnd();
  const bestUs = o.fast ? cudnnUs / (1.1 + rnd()) : cudnnUs * (1 + rnd());
  const tiles = shape.k % 4 === 0 && rnd() < 0.5 ? ODD_IGEMM : ODD_ACT;
  const kernel = kernelNameOf({ ...shape, arch: 'sm_90', ...('family' in tiles ? tiles : { family: 'act-sparse' as const, ...tiles }) });
  return {
    gpu: o.gpu ?? H200, arch: 'sm_90', shape, bucket: o.bucket ?? bucketOf(c.inputSparsity), batch: o.batch ?? 1,
    best: { kernel, tiles, us: bestUs }, heuristic: { kernel: c.kernelName ?? kernelNameOf(c.spec!), tiles: { th: 2, tw: 7, tc: 8, kb: 32, cs: 1 }, us: bestUs * 1.04 },
    cudnnUs, candidates: 40, discarded: 1, inputs: 'images', iters: 100,
    layers: [{ model: 'resnet50', layer: c.layer, zeros: c.inputSparsity, bestUs, heuristicUs: bestUs * 1.04, cudnnUs }],
  };
}

describe(`the planner and the tune cache (seed ${SEED})`, () => {
  const eligible = base.convs.filter((c) => c.spec);

  it('uses matching entries (tiles and decision by the measured times), "tuned on <gpu>"', () => {
    const picked = eligible.filter(() => rnd() < 0.5);
    const entries = new Map<string, TuneEntry>();
    for (const c of picked) {
      const e = entryFor(c, { fast: rnd() < 0.5 });
      entries.set(c.layer, e);
    }
    const cache = mergeTuneCache(emptyTuneCache(), [...entries.values()]).cache;
    const plan = planNetwork(graph, p, sparsity, { batch: 1, weightsSource: 'test', tuned: cache, gpu: H200 });
    let used = 0;
    for (const c of plan.convs) {
      // Layers of one shape and bucket share one key: the last entry written for it decides them all.
      const spec = base.convs.find((b) => b.layer === c.layer)!.spec;
      const mine = spec ? cache.entries[keyOf({ gpu: H200, shape: shapeOf(spec), bucket: bucketOf(zeros.get(c.layer)!), batch: 1 })] : undefined;
      // No entry of its own bucket: an igemm winner (zeros-blind) of the next bucket decides it, and says so.
      const b = bucketOf(zeros.get(c.layer)!);
      const near = spec && !mine ? [b - 10, b + 10].map((nb) => cache.entries[keyOf({ gpu: H200, shape: shapeOf(spec), bucket: nb, batch: 1 })])
        .find((e) => e?.best.tiles.family === 'igemm') : undefined;
      if (!mine && near && c.inputSparsitySource !== 'image') {
        expect(c.reason, c.layer).toMatch(/tune cache: tuned at \d+% zeros, this layer has \d+%: its winner is igemm/);
        continue;
      }
      if (!mine || c.inputSparsitySource === 'image') {
        expect(c.reason, c.layer).not.toMatch(/tuned on/);
        continue;
      }
      used++;
      expect(c.reason, c.layer).toMatch(new RegExp(`tuned on ${H200}: best of 40 candidates [\\d.]+ us vs cuDNN [\\d.]+ us`));
      const fast = mine.best.us * 1.03 < mine.cudnnUs;
      expect(c.decision, `${c.layer}: ${c.reason}`).toBe(fast ? 'act-sparse' : 'cudnn');
      // The tuned kernel, or its variant that adds the residual (and the ReLU after it): tune times convs without the add.
      if (fast) {
        expect(kernelNameOf(unfusedSpec(c.spec!)), c.layer).toBe(mine.best.kernel);
        if (c.residual) expect(kernelNameOf(c.spec!), c.layer).toMatch(/_res(_relu)?_sm90$/);
      }
    }
    expect(used).toBeGreaterThanOrEqual(picked.length);
  });

  it('ignores entries of another GPU model (and says so), of other buckets and of other batches', () => {
    const c = eligible[Math.floor(rnd() * eligible.length)]!;
    const b = bucketOf(c.inputSparsity);
    const cache = mergeTuneCache(emptyTuneCache(), [
      entryFor(c, { gpu: 'NVIDIA H100 80GB HBM3', fast: true }),
      // Two buckets away: an igemm winner reaches one bucket only (test/tune/cache.test.ts).
      entryFor(c, { fast: true, bucket: b >= 80 ? b - 20 : b + 20 }),
      entryFor(c, { fast: true, batch: 8 }),
    ]).cache;
    const plan = planNetwork(graph, p, sparsity, { batch: 1, weightsSource: 'test', tuned: cache, gpu: H200 });
    const got = plan.convs.find((x) => x.layer === c.layer)!;
    expect(got.reason).not.toMatch(/tuned on NVIDIA H200:/);
    expect(got.reason).toMatch(/tune cache: tuned on NVIDIA H100 80GB HBM3, not NVIDIA H200: ignored \(a measurement decides a layer only on the GPU model it was taken on\)/);
    const plain = planNetwork(graph, p, sparsity, { batch: 1, weightsSource: 'test' });
    const want = plain.convs.find((x) => x.layer === c.layer)!;
    expect(got.decision).toBe(want.decision);
    expect(got.spec).toEqual(want.spec);
    // The same cache planned on the H100 uses the H100's entry.
    const onH100 = planNetwork(graph, p, sparsity, { batch: 1, weightsSource: 'test', tuned: cache, gpu: 'NVIDIA H100 80GB HBM3' });
    expect(onH100.convs.find((x) => x.layer === c.layer)!.reason).toMatch(/tuned on NVIDIA H100 80GB HBM3: best of/);
    // At batch 8 the batch-8 entry decides.
    const at8 = planNetwork(graph, p, sparsity, { batch: 8, weightsSource: 'test', tuned: cache, gpu: H200 });
    expect(at8.convs.find((x) => x.layer === c.layer)!.reason).toMatch(/tuned on NVIDIA H200: .* batch 8/);
    expect(() => planNetwork(graph, p, sparsity, { batch: 1, weightsSource: 'test', tuned: cache })).toThrow(/needs the target GPU model/);
  });

  it('calibration times decide a layer only on the GPU model they were taken on when gpu is given', () => {
    const threes = eligible.filter((c) => c.kernel[0] === 3 && c.inputSparsitySource !== 'image');
    const measured = new Map<string, MeasuredConv>();
    for (const c of threes) {
      const cudnnUs = 10 + 90 * rnd();
      // Always far faster than cuDNN: a plan that uses them puts every one of these on the odd tiles.
      measured.set(c.layer, { kernel: 'k', tiles: ODD_ACT, cudnnUs, actSparseUs: cudnnUs / (2 + rnd()), gpu: 'NVIDIA H100 80GB HBM3', arch: 'sm_90' });
    }
    const noGpu = planNetwork(graph, p, sparsity, { batch: 1, weightsSource: 'test', measured });
    for (const c of noGpu.convs.filter((x) => measured.has(x.layer))) expect(c.reason, c.layer).toMatch(/measured on NVIDIA H100 80GB HBM3/);
    const h100 = planNetwork(graph, p, sparsity, { batch: 1, weightsSource: 'test', measured, gpu: 'NVIDIA H100 80GB HBM3' });
    for (const c of h100.convs.filter((x) => measured.has(x.layer))) expect(c.reason, c.layer).toMatch(/measured on NVIDIA H100 80GB HBM3/);
    const h200 = planNetwork(graph, p, sparsity, { batch: 1, weightsSource: 'test', measured, gpu: H200 });
    const plain = planNetwork(graph, p, sparsity, { batch: 1, weightsSource: 'test' });
    for (const c of h200.convs.filter((x) => measured.has(x.layer))) {
      expect(c.reason, c.layer).not.toMatch(/measured on/);
      expect(c.reason, c.layer).toMatch(/calibration times taken on NVIDIA H100 80GB HBM3, not NVIDIA H200: ignored \(a measurement decides a layer only on the GPU model it was taken on\)/);
      const want = plain.convs.find((x) => x.layer === c.layer)!;
      expect(c.decision).toBe(want.decision);
      expect(c.spec).toEqual(want.spec);
    }
  });
});
