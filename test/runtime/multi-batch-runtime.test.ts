// The runtime of a folder planned for batch 1, 8 and 32 (a small graph) through the CPU-backed fake
// addon (test/bench/cpu-addon.ts: outputs really computed, times from a hidden truth per conv path).
// A planned batch runs its own plan; a batch without one runs the nearest plan (ties: the smaller)
// only where the Network's own whole-forward timing finds it no slower than all-cuDNN there, else
// cuDNN, and the note says which with both times; measured once per batch; decisions still win.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { gpuProfile } from '../../src/arch/profiles.js';
import { emitNetwork } from '../../src/codegen/emit.js';
import { kernelNameOf } from '../../src/families/registry.js';
import { planNetwork, withBatches } from '../../src/plan/planner.js';
import { Network, NEAREST_PLAN_ITERS, readPlanFile } from '../../src/runtime/network.js';
import { syntheticWeights } from '../../src/weights/synthetic.js';
import { CpuAddon, installCpuAddon, type ConvTruth } from '../bench/cpu-addon.js';
import { mulberry32, testSeed } from '../helpers/random.js';
import { smallResnet } from '../helpers/small-graph.js';
import { uniformSparsity } from '../plan/helpers.js';

const SEED = testSeed();
const tmp = mkdtempSync(join(tmpdir(), 'cusnn-multi-batch-rt-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const graph = smallResnet();
const weights = syntheticWeights(graph, 7);
const plans = [1, 8, 32].map((batch) => planNetwork(graph, gpuProfile('sm_90'), uniformSparsity(graph, 0.7), { batch, weightsSource: 'test' }));
const PER = 3 * 18 * 18;
let folders = 0;

/** A folder of the three plans with a fake addon whose generated kernels take `ratio` x cuDNN's time. */
function folder(ratio: number, seed: number): { net: Network; addon: CpuAddon } {
  const rnd = mulberry32(seed);
  const dir = join(tmp, `f${folders++}`);
  emitNetwork(graph, withBatches(plans), dir);
  const truth = new Map<string, ConvTruth>(plans[0]!.convs.map((c) => {
    const cudnnUs = 10 + 20 * rnd();
    return [c.layer, { cudnnUs, generatedUs: cudnnUs * ratio, sigma: 0.005 }];
  }));
  const addon = new CpuAddon({ truth, otherUs: 1, drift: 0.001, powerW: { static: 300, cudnn: 300, 'implicit-gemm': 300 }, random: rnd });
  installCpuAddon(dir, addon);
  return { net: new Network(dir, graph, readPlanFile(dir), weights, {}), addon };
}

const input = (batch: number, seed: number): Float32Array => {
  const rnd = mulberry32(seed);
  return Float32Array.from({ length: batch * PER }, () => rnd() * 3 - 1.5);
};

/** The static program's conv paths and kernels at a batch. */
const convPaths = (net: Network, batch: number): string[] =>
  net.programFor(batch, 'static').steps.flatMap((s) => (s.op === 'conv' ? [`${s.layer}:${s.path}:${s.path === 'act-sparse' ? s.kernel : ''}`] : []));
const planPaths = (batch: number, cudnn = false): string[] =>
  plans.find((p) => p.batch === batch)!.convs.map((c) => (!cudnn && c.decision === 'act-sparse' && c.spec ? `${c.layer}:act-sparse:${kernelNameOf(c.spec)}` : `${c.layer}:cudnn:`));

describe(`plans per batch at run time (seed ${SEED})`, () => {
  it('runs each planned batch on its own plan, measuring nothing', () => {
    const { net, addon } = folder(0.5, SEED);
    try {
      expect(net.plannedBatches()).toEqual([1, 8, 32]);
      for (const b of [1, 8, 32]) {
        expect(net.planFor(b)).toMatchObject({ source: 'plan', planBatch: b, note: `batch ${b}: the plan made for batch ${b}` });
        net.infer(input(b, SEED + b));
        expect(convPaths(net, b)).toEqual(planPaths(b));
      }
      // The cost model's plans differ between these batches, so the check above tells them apart.
      expect(planPaths(1)).not.toEqual(planPaths(32));
      expect(addon.events.filter((e) => e.what === 'timeForward')).toEqual([]);
    } finally {
      net.dispose();
    }
  });

  it('runs the nearest plan at a batch without one when it measures no slower than cuDNN there (ties: the smaller batch), once per batch', () => {
    const { net, addon } = folder(0.4, SEED + 1);
    try {
      expect(net.nearestPlannedBatch(20)).toBe(8);
      expect(net.nearestPlannedBatch(4)).toBe(1);
      expect(net.nearestPlannedBatch(5)).toBe(8);
      expect(net.nearestPlannedBatch(1000)).toBe(32);
      const x = input(20, SEED);
      const y = net.infer(x);
      const f = net.planFor(20);
      expect(f.source).toBe('nearest');
      expect(f.planBatch).toBe(8);
      expect(f.measured).toMatchObject({ planBatch: 8, iters: NEAREST_PLAN_ITERS, input: 'given' });
      expect(f.measured!.planUs).toBeLessThan(f.measured!.cudnnUs);
      expect(f.note).toBe(`batch 20: no plan for this batch; the plan made for batch 8, the nearest of the folder's plans (batch 1, 8, 32), runs: measured no slower than every conv on cuDNN at batch 20 ` +
        `(${f.measured!.planUs.toFixed(1)} vs ${f.measured!.cudnnUs.toFixed(1)} us per forward, medians of ${NEAREST_PLAN_ITERS} CUDA graph replays on the first input at this batch)`);
      expect(convPaths(net, 20)).toEqual(planPaths(8));
      // Both candidates timed on the given input, at the requested batch; no more timing afterwards.
      const timed = addon.events.filter((e) => e.what === 'timeForward');
      expect(timed).toHaveLength(2);
      for (const e of timed) expect(e).toMatchObject({ batch: 20, iters: NEAREST_PLAN_ITERS, input: CpuAddon.keyOf(x) });
      net.infer(input(20, SEED + 5));
      net.planFor(20);
      expect(addon.events.filter((e) => e.what === 'timeForward')).toHaveLength(2);
      // The nearest plan's kernels compute the same network as cuDNN does.
      const ref = net.inferWith(x, 'cudnn');
      let err = 0;
      let norm = 0;
      for (let i = 0; i < ref.length; i++) { err += (y[i]! - ref[i]!) ** 2; norm += ref[i]! ** 2; }
      expect(Math.sqrt(err / norm)).toBeLessThan(1e-5);
      // Decisions set by measurement still override the measured choice.
      const layer = plans[1]!.convs.find((c) => c.spec)!.layer;
      net.setDecisions({ [layer]: 'cudnn' });
      expect(net.planFor(20).source).toBe('decisions');
      expect(convPaths(net, 20).find((p) => p.startsWith(`${layer}:`))).toBe(`${layer}:cudnn:`);
      net.setDecisions({});
      expect(net.planFor(20).source).toBe('nearest');
    } finally {
      net.dispose();
    }
  });

  it('runs every conv on cuDNN at a batch without a plan when the nearest plan measures slower there, and says so with both times', () => {
    const { net, addon } = folder(2.5, SEED + 2);
    try {
      net.infer(input(3, SEED));
      const f = net.planFor(3);
      expect(f.source).toBe('cudnn');
      expect(f.planBatch).toBeNull();
      expect(f.measured).toMatchObject({ planBatch: 1, input: 'given' });
      expect(f.measured!.planUs).toBeGreaterThan(f.measured!.cudnnUs);
      expect(f.note).toBe(`batch 3: no plan for this batch; the plan made for batch 1, the nearest of the folder's plans (batch 1, 8, 32), measured slower than every conv on cuDNN at batch 3 ` +
        `(${f.measured!.planUs.toFixed(1)} vs ${f.measured!.cudnnUs.toFixed(1)} us per forward, medians of ${NEAREST_PLAN_ITERS} CUDA graph replays on the first input at this batch), so every conv runs on cuDNN`);
      expect(convPaths(net, 3)).toEqual(planPaths(1, true));
      // Still the planned batches' own plans, whatever the fake says about generated kernels.
      expect(net.planFor(8).source).toBe('plan');
      // Asked before any input (as `cusnn-gen run` does): timed on a seeded noise batch, said so.
      const g = net.planFor(12);
      expect(g.measured).toMatchObject({ planBatch: 8, input: 'synthetic' });
      expect(g.source).toBe('cudnn');
      expect(g.note).toMatch(/on a seeded noise input \(none given yet\)\), so every conv runs on cuDNN$/);
      expect(addon.events.filter((e) => e.what === 'timeForward' && e.batch === 12)).toHaveLength(2);
      net.infer(input(12, SEED));
      expect(addon.events.filter((e) => e.what === 'timeForward')).toHaveLength(4);
      expect(convPaths(net, 12)).toEqual(planPaths(8, true));
    } finally {
      net.dispose();
    }
  });
});
