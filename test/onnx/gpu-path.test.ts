// The GPU path of imported models, proven on the CPU: a folder generated from an ONNX file, its
// model read back from plan.json as the runtime reads it (planModel), lowered to the program the
// native runtime executes, run by the float64 program interpreter, must compute what the float64
// reference computes (1e-9) — PyTorch's DenseNet concatenations (every layer's Concat a run of the
// block's last one: views, no copies), ONNX's (c,h,w) Flatten (a copy of the buffer), and MobileNet's
// ops (depthwise convs on cuDNN with a group count, ReLU6 as a clamp fused into the step before it,
// pools excluding their padding, a softmax over the channels of a map) included. What the native
// runtime still cannot run (several graph outputs) is an error naming it, never a wrong result.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generate } from '../../src/generate.js';
import { resolveModel } from '../../src/model/resolve.js';
import { classify, EXIT } from '../../src/output/exit.js';
import { gpuPathProblems, GpuUnsupportedError, lowerNetwork, lowerNetworkF64 } from '../../src/runtime/lower.js';
import { planModel, readPlanFile } from '../../src/runtime/network.js';
import { runProgramCpu } from '../../src/runtime/program-cpu.js';
import type { ConvStep, Program, Step } from '../../src/runtime/program.js';
import { referenceForward } from '../../src/runtime/reference.js';
import { testSeed } from '../helpers/random.js';
import { Random, relMax } from './helpers.js';
import { densenetLike, flattenChwLike, mobileOpsLike, mobilenetLike, opset11, resnetLike, torchDensenetLike, type TestModel } from './models.js';

const SEED = testSeed();
beforeAll(() => console.info(`onnx gpu-path seed ${SEED} (CUSNN_TEST_SEED=${SEED} repeats it)`));
const dir = mkdtempSync(join(tmpdir(), 'cusnn-onnx-gpu-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Writes `t`, generates a folder from it (every eligible conv on a generated kernel) and reads its model back as the runtime does. */
function folderOf(t: TestModel, tag: string, force?: 'act-sparse') {
  const file = t.builder.write(join(dir, tag));
  const out = join(dir, `${tag}-sm_90`);
  const shape = t.inputShape;
  const g = generate({ model: file, arch: 'sm_90', out, force, ...(shape ? { inputShape: shape } : {}) });
  const plan = readPlanFile(out);
  return { file, out, g, plan, ...planModel(out, plan) };
}

const stepOf = (p: Program, layer: string): Step => {
  const s = p.steps.find((x) => x.layer === layer);
  if (!s) throw new Error(`no step for '${layer}' (steps: ${p.steps.map((x) => x.layer).join(', ')})`);
  return s;
};

describe('GPU path of ONNX models (lowered program on the CPU interpreter)', () => {
  const cases: [string, (s: number) => TestModel][] = [
    ['PyTorch-style DenseNet (each Concat a run of the last one)', torchDensenetLike],
    ['ResNet-like (residual adds, padded max pool after ReLU, Gemm, Softmax)', resnetLike],
    ['a (c,h,w) Flatten read by a ReLU, MatMul + Add, Gemm with alpha and beta', flattenChwLike],
    ['MobileNet-like (ReLU6, depthwise conv with channel multiplier 2, exclude-pad AveragePool, hwc Flatten)', mobilenetLike],
    ['DenseNet-like (asymmetric pads, ceil_mode exclude-pad pools, a MaxPool over negative values, a chw Reshape out)', densenetLike],
    ['MobileNetV2 ops (fused and standalone ReLU6, depthwise s1 and s2, both pad modes, softmax over a map)', mobileOpsLike],
  ];
  cases.forEach(([what, make], i) => {
    it(`${what}: the program computes the reference's output (1e-9)`, () => {
      const t = make(SEED + 10 * i);
      const f = folderOf(t, `ok${i}`, 'act-sparse');
      expect(f.g.gpuProblems).toEqual([]);
      expect(f.graph.name).toBe(f.plan.model);
      if (i < 2 || i === 5) expect(f.plan.convs.some((c) => c.decision === 'act-sparse')).toBe(true);
      const batch = t.inputDims[0];
      const [, c, h, w] = t.inputDims;
      // MobileNetV2's ops on a wider input: its ReLU6s then clamp at 6 as well as at 0.
      const span = make === mobileOpsLike ? 6 : 2;
      const x = new Random(SEED + 10 * i + 1).floats(batch * c * h * w, -span, span);
      const { program, tensors } = lowerNetworkF64(f.graph, f.plan, f.weights, { batch });
      const out = f.graph.layers[f.graph.layers.length - 1]!.name;
      const want = referenceForward(f.graph, f.weights, x, batch).outputs.get(out)!;
      const got = runProgramCpu(program, tensors, x).output;
      expect(got.length).toBe(want.length);
      expect(relMax(got, want)).toBeLessThanOrEqual(1e-9);
      // Also with every conv on cuDNN (the baseline the bench checks against).
      const base = lowerNetworkF64(f.graph, f.plan, f.weights, { batch, mode: 'cudnn' });
      expect(relMax(runProgramCpu(base.program, base.tensors, x).output, want)).toBeLessThanOrEqual(1e-9);
      // The program travels to the addon as JSON: nothing in it may be lost there (no Infinity, no undefined).
      expect(JSON.parse(JSON.stringify(program))).toEqual(program);
      if (i === 0) {
        // No copies: every step is a layer's own (concats are views), and each block is one buffer group.
        const concats = f.graph.layers.filter((l) => l.op === 'concat');
        expect(concats.length).toBe(7);
        for (const s of program.steps) expect(s.layer).not.toMatch(/Concat/);
        const last = program.views['features.denseblock1/Concat']!;
        const first = program.views['features.denseblock1.denselayer1/Concat']!;
        expect(first.buf).toBe(last.buf);
        expect(first.offset).toBe(last.offset);
      }
      if (i === 2) {
        const flat = program.steps.find((s) => s.layer === 'flatten')!;
        expect(flat.op).toBe('bias_relu');
        expect(program.steps.filter((s) => s.op === 'dense').map((s) => s.layer)).toEqual(['fc1.matmul', 'fc2']);
      }
    });
  });

  it('MobileNetV2 ops lower to the steps the native runtime has: grouped convs on cuDNN, clamps, excluded padding, a softmax over the map', () => {
    const t = mobileOpsLike(SEED + 60);
    const f = folderOf(t, 'ops', 'act-sparse');
    const batch = t.inputDims[0];
    const { program } = lowerNetwork(f.graph, f.plan, f.weights, { batch });
    const conv = (layer: string): ConvStep => {
      const s = stepOf(program, layer);
      if (s.op !== 'conv') throw new Error(`${layer} is a ${s.op} step`);
      return s;
    };
    const c2 = conv('expand.conv').k;
    // Depthwise convs: cuDNN with the group count, even when every eligible conv is forced onto a
    // generated kernel; weights K x C/groups x R x S; BN folded, ReLU6 fused as a clamp.
    for (const [layer, k, act] of [['dw.conv', c2, 'dw.relu6'], ['dw2.conv', 2 * c2, 'dw2.relu6']] as const) {
      const s = conv(layer);
      expect(s).toMatchObject({ groups: c2, k, path: 'cudnn', kernel: null, weightsCrsk: null, relu: false, clamp: [0, 6] });
      expect(program.tensors[s.weightsKcrs]!.floats).toBe(k * 1 * 3 * 3);
      expect(program.views[act]).toEqual(s.out);
      const cp = f.plan.convs.find((c) => c.layer === layer)!;
      expect(cp.decision).toBe('cudnn');
      expect(cp.spec).toBeNull();
      expect(cp.reason).toMatch(new RegExp(`^depthwise conv \\(groups ${c2}\\): no generated kernel family handles groups other than 1`));
    }
    // SAME_UPPER, stride 2 on an even map: padding 0 above, 1 below (cuDNN's explicit-pad path).
    expect(conv('dw2.conv')).toMatchObject({ padTop: 0, padBottom: 1, strideH: 2 });
    // A ReLU6 after a conv on a generated kernel: the kernel keeps its bias-only epilogue (relu false,
    // as the plan's spec says) and the step clamps after it.
    const expand = conv('expand.conv');
    expect(expand).toMatchObject({ path: 'act-sparse', relu: false, clamp: [0, 6] });
    expect(f.plan.convs.find((c) => c.layer === 'expand.conv')!.spec).toMatchObject({ bias: true, relu: false });
    expect(conv('stem.conv')).toMatchObject({ path: 'cudnn', relu: false, clamp: [0, 6] }); // reads the image
    expect(conv('project.conv')).not.toHaveProperty('clamp'); // its BN output is read twice: no fusion
    expect(stepOf(program, 'project.relu6')).toMatchObject({ op: 'bias_relu', bias: null, relu: false, clamp: [0, 6] });
    expect(stepOf(program, 'res.add')).toMatchObject({ op: 'add', relu: false, clamp: [0, 6] });
    expect(program.views['res.relu6']).toEqual(program.views['res.add']);
    // Pools: excluded padding only where ONNX excludes it.
    expect(stepOf(program, 'avg_exclude')).toMatchObject({ op: 'avgpool', excludePad: true, pad: [1, 1, 1, 1] });
    expect(stepOf(program, 'max_exclude')).toMatchObject({ op: 'maxpool', excludePad: true });
    expect(stepOf(program, 'avg_include')).toMatchObject({ op: 'avgpool', pad: [0, 0, 1, 1] });
    expect(stepOf(program, 'avg_include')).not.toHaveProperty('excludePad');
    const sm = stepOf(program, 'softmax');
    expect(sm.op).toBe('softmax');
    if (sm.op === 'softmax') {
      expect(sm.in.h * sm.in.w).toBeGreaterThan(1);
      expect([sm.out.c, sm.out.h, sm.out.w]).toEqual([sm.in.c, sm.in.h, sm.in.w]);
    }
    // Without ReLU6, depthwise convs or excluded padding, nothing changes: a zoo-like program has none of the new fields.
    const plain = folderOf(resnetLike(SEED + 61), 'plain');
    const p = lowerNetwork(plain.graph, plain.plan, plain.weights, { batch: 1 }).program;
    for (const s of p.steps) for (const key of ['groups', 'clamp', 'excludePad']) expect(s).not.toHaveProperty(key);
  });

  it('zero counters count what the clamped steps leave: each conv input\'s zeros as the reference finds them', () => {
    const t = mobileOpsLike(SEED + 70);
    const f = folderOf(t, 'zeros', 'act-sparse');
    const batch = t.inputDims[0];
    const [, c, h, w] = t.inputDims;
    // Inputs around 0 with a wide spread: the ReLU6 outputs get zeros and values clamped at 6.
    const x = new Random(SEED + 71).floats(batch * c * h * w, -6, 6);
    const ref = referenceForward(f.graph, f.weights, x, batch);
    const { program, tensors } = lowerNetworkF64(f.graph, f.plan, f.weights, { batch, countZeros: true });
    const run = runProgramCpu(program, tensors, x);
    let counted = 0;
    for (const s of program.steps) {
      if (s.op !== 'conv' || s.inZeros === null) continue;
      const total = batch * s.in.c * s.in.h * s.in.w;
      expect(run.zeroCounts[s.inZeros]! / total, `${s.layer} input zeros`).toBeCloseTo(ref.inputSparsity.get(s.layer)!, 12);
      counted++;
    }
    expect(counted).toBeGreaterThanOrEqual(4);
    expect([...ref.inputSparsity.values()].some((z) => z > 0)).toBe(true);
  });

  it('what the native runtime still lacks (several outputs): an error naming it (exit 1), before anything runs', () => {
    const mobile = folderOf(mobilenetLike(SEED + 40), 'mobile');
    expect(mobile.g.gpuProblems).toEqual([]);
    const two = folderOf(opset11(SEED + 42), 'two');
    const problems = gpuPathProblems(two.graph);
    expect(problems).toEqual([expect.stringMatching(/^model\.onnx: 2 graph outputs \('.*', '.*'\) are not supported on the GPU path yet: a program has one output$/)]);
    expect(two.g.gpuProblems).toEqual(problems);
    for (const mode of ['plan', 'cudnn'] as const) {
      let err: unknown;
      try {
        lowerNetwork(two.graph, two.plan, two.weights, { batch: 1, mode });
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(GpuUnsupportedError);
      expect(classify(err).code).toBe(EXIT.badInput);
      expect((err as Error).message).toMatch(/^model\.onnx: 2 graph outputs .* are not supported on the GPU path yet: a program has one output; run --cpu runs it on the CPU$/);
    }
    // Every pool that excludes its padding now lowers (densenetLike has ceil_mode ones and a MaxPool over negative values).
    const dense = resolveModel(densenetLike(SEED + 41).builder.write(join(dir, 'dn')), { inputShape: densenetLike(SEED + 41).inputShape }).graph;
    expect(dense.layers.some((l) => l.op === 'maxpool' && l.padMode === 'exclude')).toBe(true);
    expect(gpuPathProblems(dense)).toEqual([]);
  });
});
