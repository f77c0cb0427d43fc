// A plan is used only at the batch it was made (and measured) for: another batch runs every conv on
// cuDNN unless decisions measured by the caller are set. No addon needed: planFor is pure.
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

describe(`plan per batch (seed ${seed})`, () => {
  it('uses the plan at its batch, cuDNN at any other batch, and measured decisions once set', () => {
    const g = buildModel('densenet121');
    const planBatch = 1 + Math.floor(rnd() * 4);
    const plan = planNetwork(g, gpuProfile('sm_90'), uniformSparsity(g, 0.6 + 0.3 * rnd()), { batch: planBatch, weightsSource: 'test', force: 'act-sparse' });
    expect(plan.convs.some((c) => c.decision === 'act-sparse')).toBe(true);
    const net = new Network('/nonexistent', g, plan, { tensors: new Map() } as unknown as WeightSet, {});
    expect(net.planFor(planBatch).source).toBe('plan');
    const other = planBatch + 1 + Math.floor(rnd() * 30);
    const f = net.planFor(other);
    expect(f.source).toBe('cudnn');
    expect(f.note).toMatch(new RegExp(`batch ${other}: no plan for this batch .*batch ${planBatch}.*cuDNN`));
    const sparse = plan.convs.filter((c) => c.spec).map((c) => c.layer);
    const pick = sparse[Math.floor(rnd() * sparse.length)]!;
    net.setDecisions({ [pick]: 'act-sparse' });
    expect(net.planFor(other).source).toBe('decisions');
    expect(net.paths()[pick]).toBe('act-sparse');
    net.setDecisions({});
    expect(net.planFor(other).source).toBe('cudnn');
    expect(net.getDecisions()).toEqual({});
  });
});
