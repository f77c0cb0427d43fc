// `calibrate`'s per-layer times (src/runtime/tune.ts withMeasuredTimes) on a folder of a small
// graph pruned to 90%, through the CPU-backed fake addon: each timed conv records its kernel's
// tiles with the family (act-sparse's too), both paths' spreads, cuDNN's algorithm and the digest
// of its weight structure; read back, the planner re-emits that kernel where it won outside the
// spread and by the margin, keeps cuDNN on a tie, records the decision (ConvPlan.measured), and
// ignores the times for another pruned file's weights. Seed printed; CUSNN_TEST_SEED repeats it.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { gpuProfile } from '../../src/arch/profiles.js';
import { emitNetwork } from '../../src/codegen/emit.js';
import { kernelNameOf } from '../../src/families/registry.js';
import { structureLookup } from '../../src/families/wsparse/structure.js';
import { planNetwork, type MeasuredConv } from '../../src/plan/planner.js';
import { Network, readPlanFile } from '../../src/runtime/network.js';
import { withMeasuredTimes } from '../../src/runtime/tune.js';
import { readCalibration, type Calibration } from '../../src/sparsity/calibration.js';
import { sparsityProfile } from '../../src/sparsity/profile.js';
import { pruneWeights } from '../../src/weights/prune.js';
import { syntheticWeights } from '../../src/weights/synthetic.js';
import { CpuAddon, installCpuAddon, type ConvTruth } from '../bench/cpu-addon.js';
import { mulberry32, testSeed } from '../helpers/random.js';
import { smallResnet } from '../helpers/small-graph.js';

const SEED = testSeed();
const tmp = mkdtempSync(join(tmpdir(), 'cusnn-calibrate-weights-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
const FAKE_GPU = 'CPU fake GPU';

type Outcome = 'win' | 'tie' | 'lose';

describe(`calibrate's times on pruned weights (seed ${SEED})`, () => {
  it('records family, spreads and the weight structure; the planner decides by them only for those weights', () => {
    const rnd = mulberry32(SEED);
    const graph = smallResnet();
    const pruned = pruneWeights(graph, syntheticWeights(graph, Math.floor(rnd() * 1e9)), { sparsity: 0.9 }).weights;
    const structures = structureLookup(graph, pruned);
    const sp = sparsityProfile(graph, pruned);
    const p = gpuProfile('sm_90');
    // Every eligible conv on a generated kernel, as bench and calibrate's users generate the folder.
    const forced = planNetwork(graph, p, sp, { batch: 1, weightsSource: 'pruned', force: 'act-sparse', weightStructure: structures });
    const dir = join(tmp, 'folder');
    emitNetwork(graph, forced, dir, { structures });
    const plan = readPlanFile(dir);
    const outcome = new Map<string, Outcome>();
    const truth = new Map<string, ConvTruth>(plan.convs.map((c) => {
      const o: Outcome = (['win', 'tie', 'lose'] as const)[Math.floor(rnd() * 3)]!;
      outcome.set(c.layer, o);
      const cudnnUs = 10 + 20 * rnd();
      return [c.layer, { cudnnUs, generatedUs: cudnnUs * (o === 'win' ? 0.6 : o === 'tie' ? 0.99 : 1.5), sigma: 0.01 }];
    }));
    const addon = new CpuAddon({ truth, otherUs: 1, drift: 0.001, powerW: { static: 300, cudnn: 300, 'implicit-gemm': 300 }, random: rnd });
    installCpuAddon(dir, addon);
    const net = new Network(dir, graph, plan, pruned, {});
    let cal: Calibration;
    try {
      const base: Calibration = { format: 'cusnn-calibration/1', model: graph.name, images: 1,
        layers: Object.fromEntries(plan.convs.map((c) => [c.layer, { inputSparsity: sp.convs.get(c.layer)!.inputSparsity }])) };
      cal = withMeasuredTimes(net, base, Float32Array.from({ length: 3 * 18 * 18 }, () => rnd() * 3 - 1.5), { iters: 41 });
    } finally {
      net.dispose();
    }
    const file = join(tmp, 'calibration.json');
    writeFileSync(file, JSON.stringify(cal));
    const back = readCalibration(file, graph.name);
    expect(back.gpu).toBe(FAKE_GPU);
    const timed = plan.convs.filter((c) => c.spec);
    expect(timed.length).toBe(6);
    for (const c of timed) {
      const m = back.layers[c.layer]!.measured!;
      expect(m.tiles.family ?? null, c.layer).toBe(c.spec!.family);
      expect(m.kernel).toBe(c.kernelName);
      expect(m.weights, c.layer).toBe(structures(c.layer)!.digest);
      expect(m.cudnnAlgo).toBe('IMPLICIT_PRECOMP_GEMM');
      expect(m.actSparseP10Us!).toBeLessThanOrEqual(m.actSparseUs);
      expect(m.cudnnP90Us!).toBeGreaterThanOrEqual(m.cudnnUs);
    }
    // As generate() reads them.
    const measured = new Map<string, MeasuredConv>(Object.entries(back.layers).flatMap(([l, v]) => (v.measured ? [[l, { ...v.measured, gpu: back.gpu!, arch: back.arch! }] as const] : [])));
    const planned = planNetwork(graph, p, sp, { batch: 1, weightsSource: 'pruned', weightStructure: structures, measured, gpu: FAKE_GPU });
    for (const c of timed) {
      const d = planned.convs.find((x) => x.layer === c.layer)!;
      const o = outcome.get(c.layer)!;
      expect(d.decision, `${c.layer} (${o}): ${d.reason}`).toBe(o === 'win' ? 'act-sparse' : 'cudnn');
      if (o === 'win') expect(kernelNameOf(d.spec!), c.layer).toBe(c.kernelName);
      expect(d.measured, c.layer).toMatchObject({ source: 'calibration', gpu: FAKE_GPU, winner: o === 'win' ? c.kernelName : 'cudnn', candidates: [{ family: c.spec!.family, kernel: c.kernelName }] });
      expect(d.measured!.why, c.layer).toMatch(o === 'win' ? /faster outside the spread and by more than the 1\.03x margin$/ : o === 'tie' ? /(a tie within the spread|by less than the 1\.03x margin): cuDNN kept$/ : /slower: cuDNN kept$/);
    }
    // Another pruned file: its layers are not decided by these times.
    const other = pruneWeights(graph, syntheticWeights(graph, SEED + 3), { sparsity: 0.9 }).weights;
    const elsewhere = planNetwork(graph, p, sparsityProfile(graph, other), { batch: 1, weightsSource: 'other', weightStructure: structureLookup(graph, other), measured, gpu: FAKE_GPU });
    for (const c of timed) {
      const d = elsewhere.convs.find((x) => x.layer === c.layer)!;
      expect(d.measured, c.layer).toBeUndefined();
      expect(d.reason, c.layer).toMatch(new RegExp(`calibration times ignored: measured with weight structure ${structures(c.layer)!.digest}, these weights have weight structure [0-9a-f]{10}`));
    }
  });
});
