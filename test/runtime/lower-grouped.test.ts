// The lowering of the ops MobileNets and ResNeXts add, on graphs built layer by layer (the ONNX
// importer takes groups 1 and depthwise only; the IR, the planner, the lowering and the native
// runtime take any group count that divides both channel counts): grouped convs (2 and 4 groups,
// asymmetric padding, stride 2) stay on cuDNN with their group count and a reason, ReLU6 fuses as a
// clamp into a conv, a batch norm (scale_shift), an add and a dense layer or is a step of its own,
// pools exclude their padding. The program, run by the float64 interpreter, computes what the
// float64 reference computes (1e-9), and a plan that puts a grouped conv on a generated kernel is
// refused. Fresh random weights and inputs each run (seed printed; CUSNN_TEST_SEED repeats it).
import { relMax } from '../onnx/helpers.js';
import { beforeAll, describe, expect, it } from 'vitest';
import { gpuProfile } from '../../src/arch/profiles.js';
import { GraphBuilder } from '../../src/model/builder.js';
import type { Graph } from '../../src/model/ir.js';
import { planNetwork } from '../../src/plan/planner.js';
import type { NetworkPlan } from '../../src/plan/types.js';
import { LoweringError, gpuPathProblems, lowerNetwork, lowerNetworkF64 } from '../../src/runtime/lower.js';
import { runProgramCpu } from '../../src/runtime/program-cpu.js';
import type { ConvStep, Program, Step } from '../../src/runtime/program.js';
import { referenceForward } from '../../src/runtime/reference.js';
import { Rng } from '../../src/weights/prng.js';
import { syntheticWeights } from '../../src/weights/synthetic.js';
import { uniformSparsity } from '../plan/helpers.js';

const SEED = Number(process.env.CUSNN_TEST_SEED ?? Math.floor(Math.random() * 2 ** 31));
beforeAll(() => console.info(`lower-grouped seed ${SEED} (CUSNN_TEST_SEED=${SEED} repeats it)`));

/** MobileNet/ResNeXt-like ops; `g2Groups` 1 gives the same shapes with a plain conv (for a plan entry that fits it). */
function groupedGraph(g2Groups = 2): Graph {
  const b = new GraphBuilder('tiny_grouped', 'resnet', 'caffe');
  let x = b.input('input', [4, 13, 11]);
  x = b.relu6('stem_relu6', b.batchnorm('stem_bn', b.conv('stem_conv', x, 8, { kernel: 3, pad: { top: 1, bottom: 1, left: 1, right: 1 }, bias: true }), 1e-3));
  x = b.relu('g2_relu', b.batchnorm('g2_bn', b.conv('g2_conv', x, 12, { kernel: 1, groups: g2Groups, bias: true }), 1e-3));
  const y = b.batchnorm('g4_bn', b.conv('g4_conv', x, 8, { kernel: 3, stride: 2, pad: { top: 0, bottom: 1, left: 1, right: 0 }, groups: 4, bias: false }), 1e-3);
  const y6 = b.relu6('g4_relu6', y); // y has two readers: a step of its own
  x = b.relu6('res_relu6', b.addLayers('res_add', [y, y6]));
  x = b.relu6('pre_relu6', b.batchnorm('pre_bn', x, 1e-3)); // not after a conv: scale_shift + clamp
  x = b.conv('dw_conv', x, 8, { kernel: 3, pad: { top: 1, bottom: 1, left: 1, right: 1 }, groups: 8, bias: true });
  x = b.pool('avgpool', 'avg_exclude', x, { kernel: 3, stride: 1, pad: { top: 1, bottom: 1, left: 1, right: 1 }, padMode: 'exclude' });
  x = b.pool('maxpool', 'max_exclude', x, { kernel: 2, stride: 2, pad: { top: 0, bottom: 1, left: 0, right: 1 }, padMode: 'exclude' });
  x = b.globalAvgPool('gap', x);
  x = b.relu6('fc1_relu6', b.dense('fc1', x, 6));
  b.softmax('predictions', b.dense('fc2', x, 5));
  return b.build();
}

const planOf = (graph: Graph, force?: 'act-sparse'): NetworkPlan =>
  planNetwork(graph, gpuProfile('sm_90'), uniformSparsity(graph, 0.5), { batch: 2, weightsSource: 'test', force });

function randomInput(n: number, seed: number): Float32Array {
  const r = new Rng(seed, 1);
  return Float32Array.from({ length: n }, () => r.uniform(-120, 120));
}

const stepOf = (p: Program, layer: string): Step => p.steps.find((s) => s.layer === layer)!;

describe('grouped convs, ReLU6 and excluded padding in the lowering', () => {
  const graph = groupedGraph();
  const ws = syntheticWeights(graph, SEED % 1_000_000);

  it('the planner keeps grouped convs on cuDNN, even forced, and says why', () => {
    const plan = planOf(graph, 'act-sparse');
    for (const [layer, kind, groups] of [['g2_conv', 'grouped', 2], ['g4_conv', 'grouped', 4], ['dw_conv', 'depthwise', 8]] as const) {
      const cp = plan.convs.find((c) => c.layer === layer)!;
      expect(cp).toMatchObject({ decision: 'cudnn', spec: null, kernelName: null });
      expect(cp.reason).toBe(`${kind} conv (groups ${groups}): no generated kernel family handles groups other than 1; cuDNN runs it with its group count`);
    }
    expect(gpuPathProblems(graph)).toEqual([]);
  });

  it('the program computes the reference (1e-9) in both modes, with the steps the native runtime has', () => {
    const plan = planOf(graph, 'act-sparse');
    const batch = 2;
    const x = randomInput(batch * 4 * 13 * 11, SEED);
    const want = referenceForward(graph, ws, x, batch).outputs.get('predictions')!;
    for (const mode of ['plan', 'cudnn'] as const) {
      const { program, tensors } = lowerNetworkF64(graph, plan, ws, { batch, mode, keep: ['fc2'] });
      const run = runProgramCpu(program, tensors, x);
      expect(relMax(run.output, want), mode).toBeLessThanOrEqual(1e-9);
      // The logits too (a softmax can hide a difference).
      const logits = referenceForward(graph, ws, x, batch, { keep: (l) => l === 'fc2' }).outputs.get('fc2')!;
      const v = program.views.fc2!;
      const got = new Float64Array(batch * v.c);
      for (let n = 0; n < batch; n++) got.set(run.buffers[v.buf]!.subarray(v.offset + n * v.batchStride, v.offset + n * v.batchStride + v.c), n * v.c);
      expect(relMax(got, logits), `${mode} logits`).toBeLessThanOrEqual(1e-9);
    }
    const { program } = lowerNetwork(graph, plan, ws, { batch });
    const conv = (l: string): ConvStep => stepOf(program, l) as ConvStep;
    expect(conv('stem_conv')).toMatchObject({ op: 'conv', relu: false, clamp: [0, 6] });
    expect(conv('stem_conv')).not.toHaveProperty('groups');
    expect(conv('g2_conv')).toMatchObject({ groups: 2, path: 'cudnn', relu: true });
    expect(conv('g2_conv')).not.toHaveProperty('clamp');
    expect(program.tensors[conv('g2_conv').weightsKcrs]!.floats).toBe(12 * 4 * 1 * 1);
    expect(conv('g4_conv')).toMatchObject({ groups: 4, path: 'cudnn', relu: false, padTop: 0, padBottom: 1, padLeft: 1, padRight: 0 });
    expect(program.tensors[conv('g4_conv').weightsKcrs]!.floats).toBe(8 * 3 * 3 * 3);
    expect(conv('dw_conv')).toMatchObject({ groups: 8, path: 'cudnn' });
    expect(stepOf(program, 'g4_relu6')).toMatchObject({ op: 'bias_relu', bias: null, relu: false, clamp: [0, 6] });
    expect(stepOf(program, 'res_add')).toMatchObject({ op: 'add', relu: false, clamp: [0, 6] });
    expect(stepOf(program, 'pre_bn')).toMatchObject({ op: 'scale_shift', relu: false, clamp: [0, 6] });
    expect(stepOf(program, 'fc1')).toMatchObject({ op: 'dense', relu: false, clamp: [0, 6] });
    expect(stepOf(program, 'avg_exclude')).toMatchObject({ op: 'avgpool', excludePad: true });
    expect(stepOf(program, 'max_exclude')).toMatchObject({ op: 'maxpool', excludePad: true, pad: [0, 0, 1, 1] });
    expect(program.steps.some((s) => s.layer.endsWith('relu6') && s.layer !== 'g4_relu6')).toBe(false); // all others fused
  });

  it('a plan that puts a grouped conv on a generated kernel is refused, naming the layer', () => {
    // A plan entry that fits g2_conv's shapes, from the same graph with a plain conv there.
    const plainPlan = planOf(groupedGraph(1), 'act-sparse');
    const entry = plainPlan.convs.find((c) => c.layer === 'g2_conv')!;
    expect(entry.decision).toBe('act-sparse');
    const plan = planOf(graph, 'act-sparse');
    const bad: NetworkPlan = { ...plan, convs: plan.convs.map((c) => (c.layer === 'g2_conv' ? entry : c)) };
    expect(() => lowerNetwork(graph, bad, ws, { batch: 2 })).toThrow(LoweringError);
    expect(() => lowerNetwork(graph, bad, ws, { batch: 2 })).toThrow(/^tiny_grouped\/g2_conv: the plan puts a grouped conv \(groups 2\) on a generated kernel; no kernel family takes groups other than 1$/);
    // The cuDNN-only program of that plan still lowers (the entry's kernel is not used there).
    expect(() => lowerNetwork(graph, bad, ws, { batch: 2, mode: 'cudnn' })).not.toThrow();
  });

  it('the interpreter refuses what the native runtime would: groups that do not divide, an act-sparse grouped conv, a bad clamp', () => {
    const { program, tensors } = lowerNetworkF64(graph, planOf(graph), ws, { batch: 1 });
    const x = randomInput(4 * 13 * 11, SEED + 1);
    const patched = (layer: string, over: Record<string, unknown>): Program => ({
      ...program, steps: program.steps.map((s) => (s.layer === layer ? ({ ...s, ...over } as Step) : s)),
    });
    expect(() => runProgramCpu(patched('g2_conv', { groups: 5 }), tensors, x)).toThrow(/g2_conv: groups 5 must be a positive integer dividing in.c 8 and k 12/);
    expect(() => runProgramCpu(patched('g2_conv', { path: 'act-sparse' }), tensors, x)).toThrow(/g2_conv: act-sparse conv with groups 2/);
    expect(() => runProgramCpu(patched('res_add', { clamp: [6, 0] }), tensors, x)).toThrow(/res_add: clamp \[6, 0\] must be two finite bounds, lo <= hi/);
  });
});
