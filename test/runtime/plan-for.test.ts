// Which plan static mode runs at a batch (Network.planFor), the cases that need no addon: the plan
// at its own batch; decisions set by measurement override every batch; a batch without a plan
// whose nearest plan has no generated kernel runs cuDNN without measuring anything. A batch whose
// nearest plan does have kernels is decided by timing it (test/runtime/multi-batch-runtime.test.ts).
import { describe, expect, it } from 'vitest';
import { gpuProfile } from '../../src/arch/profiles.js';
import { buildModel } from '../../src/model/zoo/index.js';
import { planNetwork } from '../../src/plan/planner.js';
import { Network } from '../../src/runtime/network.js';
import type { WeightSet } from '../../src/weights/store.js';
import { mulberry32, testSeed } from '../helpers/random.js';
import { uniformSparsity } from '../plan/helpers.js';

const seed = testSeed();
const rnd = mulberry32(seed);
const noWeights = { tensors: new Map() } as unknown as WeightSet;

describe(`plan per batch (seed ${seed})`, () => {
  it('uses the plan at its batch, measured decisions once set at every batch, and times the plan before using it at another batch', () => {
    const g = buildModel('densenet121');
    const planBatch = 1 + Math.floor(rnd() * 4);
    const plan = planNetwork(g, gpuProfile('sm_90'), uniformSparsity(g, 0.6 + 0.3 * rnd()), { batch: planBatch, weightsSource: 'test', force: 'act-sparse' });
    expect(plan.convs.some((c) => c.decision === 'act-sparse')).toBe(true);
    const net = new Network('/nonexistent', g, plan, noWeights, {});
    expect(net.plannedBatches()).toEqual([planBatch]);
    expect(net.planFor(planBatch)).toMatchObject({ source: 'plan', planBatch, note: `batch ${planBatch}: the plan made for batch ${planBatch}` });
    const other = planBatch + 1 + Math.floor(rnd() * 30);
    expect(net.nearestPlannedBatch(other)).toBe(planBatch);
    // Another batch is decided by timing the plan there, which needs the weights and the folder's addon.
    expect(() => net.planFor(other)).toThrow(/has no kernel tensor|no addon built/);
    const sparse = plan.convs.filter((c) => c.spec).map((c) => c.layer);
    const pick = sparse[Math.floor(rnd() * sparse.length)]!;
    net.setDecisions({ [pick]: 'act-sparse' });
    expect(net.planFor(other)).toMatchObject({ source: 'decisions', planBatch: null, note: `batch ${other}: the decisions set by measurement` });
    expect(net.paths()[pick]).toBe('act-sparse');
    net.setDecisions({});
    expect(net.getDecisions()).toEqual({});
    expect(() => net.planFor(other)).toThrow(/has no kernel tensor|no addon built/);
  });

  it('runs cuDNN at a batch without a plan when the nearest plan has no generated kernel (nothing to time)', () => {
    const g = buildModel('resnet50');
    const plan = planNetwork(g, gpuProfile('sm_90'), uniformSparsity(g, 0.7), { batch: 8, weightsSource: 'test', force: 'cudnn' });
    const net = new Network('/nonexistent', g, plan, noWeights, {});
    const f = net.planFor(3);
    expect(f.source).toBe('cudnn');
    expect(f.measured).toBeUndefined();
    expect(f.note).toBe("batch 3: no plan for this batch; the plan made for batch 8, the folder's only plan, puts every conv on cuDNN, so every conv runs on cuDNN");
  });
});
