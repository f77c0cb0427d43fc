// The GPU path of imported models, proven on the CPU: a folder generated from an ONNX file, its
// model read back from plan.json as the runtime reads it (planModel), lowered to the program the
// native runtime executes, run by the float64 program interpreter, must compute what the float64
// reference computes (1e-9) — PyTorch's DenseNet concatenations (every layer's Concat a run of the
// block's last one: views, no copies) and ONNX's (c,h,w) Flatten (a copy of the buffer) included.
// Ops the native runtime cannot run (relu6, depthwise conv, pools excluding their padding, a softmax
// over a map, several outputs) are an error naming the ONNX node and the op, never a wrong result.
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
import { referenceForward } from '../../src/runtime/reference.js';
import { testSeed } from '../helpers/random.js';
import { int, ints, OnnxModelBuilder, Random } from './helpers.js';
import { densenetLike, flattenChwLike, mobilenetLike, opset11, resnetLike, torchDensenetLike, type TestModel } from './models.js';

const SEED = testSeed();
beforeAll(() => console.info(`onnx gpu-path seed ${SEED} (CUSNN_TEST_SEED=${SEED} repeats it)`));
const dir = mkdtempSync(join(tmpdir(), 'cusnn-onnx-gpu-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function relMax(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let num = 0;
  let den = 0;
  for (let i = 0; i < b.length; i++) {
    num = Math.max(num, Math.abs(a[i]! - b[i]!));
    den = Math.max(den, Math.abs(b[i]!));
  }
  return num / (den || 1e-300);
}

/** Writes `t`, generates a folder from it (every eligible conv on a generated kernel) and reads its model back as the runtime does. */
function folderOf(t: TestModel, tag: string, force?: 'act-sparse') {
  const file = t.builder.write(join(dir, tag));
  const out = join(dir, `${tag}-sm_90`);
  const shape = t.inputShape;
  const g = generate({ model: file, arch: 'sm_90', out, force, ...(shape ? { inputShape: shape } : {}) });
  const plan = readPlanFile(out);
  return { file, out, g, plan, ...planModel(out, plan) };
}

describe('GPU path of ONNX models (lowered program on the CPU interpreter)', () => {
  const cases: [string, (s: number) => TestModel][] = [
    ['PyTorch-style DenseNet (each Concat a run of the last one)', torchDensenetLike],
    ['ResNet-like (residual adds, padded max pool after ReLU, Gemm, Softmax)', resnetLike],
    ['a (c,h,w) Flatten read by a ReLU, MatMul + Add, Gemm with alpha and beta', flattenChwLike],
  ];
  cases.forEach(([what, make], i) => {
    it(`${what}: the program computes the reference's output (1e-9)`, () => {
      const t = make(SEED + 10 * i);
      const f = folderOf(t, `ok${i}`, 'act-sparse');
      expect(f.g.gpuProblems).toEqual([]);
      expect(f.graph.name).toBe(f.plan.model);
      if (i < 2) expect(f.plan.convs.some((c) => c.decision === 'act-sparse')).toBe(true);
      const batch = t.inputDims[0];
      const [, c, h, w] = t.inputDims;
      const x = new Random(SEED + 10 * i + 1).floats(batch * c * h * w, -2, 2);
      const { program, tensors } = lowerNetworkF64(f.graph, f.plan, f.weights, { batch });
      const out = f.graph.layers[f.graph.layers.length - 1]!.name;
      const want = referenceForward(f.graph, f.weights, x, batch).outputs.get(out)!;
      const got = runProgramCpu(program, tensors, x).output;
      expect(got.length).toBe(want.length);
      expect(relMax(got, want)).toBeLessThanOrEqual(1e-9);
      // Also with every conv on cuDNN (the baseline the bench checks against).
      const base = lowerNetworkF64(f.graph, f.plan, f.weights, { batch, mode: 'cudnn' });
      expect(relMax(runProgramCpu(base.program, base.tensors, x).output, want)).toBeLessThanOrEqual(1e-9);
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

  it('ops the native runtime lacks: an error naming the ONNX node, the op and why (exit 1), before anything runs', () => {
    const mobile = folderOf(mobilenetLike(SEED + 40), 'mobile');
    const problems = mobile.g.gpuProblems;
    expect(problems).toContain(`model.onnx: ONNX node 'features.0.2' (relu6, ONNX Clip(0, 6)) is not supported on the GPU path yet: the native runtime has no clamp at 6 (its element-wise step is bias + ReLU)`);
    expect(problems.some((p) => /ONNX node 'features\.1\.dw' \(depthwise conv, group \d+\) is not supported on the GPU path yet: the native conv step \(cuDNN\) has no group count/.test(p))).toBe(true);
    expect(problems.some((p) => /ONNX node 'pool' \(AveragePool with its padding excluded \(count_include_pad 0\)\) is not supported on the GPU path yet/.test(p))).toBe(true);
    for (const mode of ['plan', 'cudnn'] as const) {
      let err: unknown;
      try {
        lowerNetwork(mobile.graph, mobile.plan, mobile.weights, { batch: 1, mode });
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(GpuUnsupportedError);
      expect(classify(err).code).toBe(EXIT.badInput);
      expect((err as Error).message).toMatch(/^model\.onnx: ONNX node 'features\.0\.2' \(relu6, ONNX Clip\(0, 6\)\) is not supported on the GPU path yet: .* \(and \d+ more: \d+ depthwise conv, \d+ relu6, 1 AveragePool excluding its padding\); run --cpu runs it on the CPU$/);
    }
    const dense = resolveModel(densenetLike(SEED + 41).builder.write(join(dir, 'dn')), { inputShape: densenetLike(SEED + 41).inputShape }).graph;
    const dp = gpuPathProblems(dense);
    expect(dp.some((p) => /ONNX node 'maxpool_neg' \(MaxPool with its padding excluded over values that can be negative\)/.test(p))).toBe(true);
    // Every pool that excludes its padding is named (trans.pool does when ceil_mode hangs a window over an odd size).
    for (const l of dense.layers) {
      if ((l.op === 'avgpool' || l.op === 'maxpool') && l.padMode === 'exclude') expect(dp.some((p) => p.includes(`ONNX node '${l.name}' (`))).toBe(true);
    }
    expect(dp.length).toBe(dense.layers.filter((l) => (l.op === 'avgpool' || l.op === 'maxpool') && l.padMode === 'exclude').length);
    const two = resolveModel(opset11(SEED + 42).builder.write(join(dir, 'two'))).graph;
    expect(gpuPathProblems(two)).toEqual([expect.stringMatching(/^model\.onnx: 2 graph outputs \('.*', '.*'\) are not supported on the GPU path yet: a program has one output$/)]);
    // A softmax over the channels of a map (the native softmax normalizes the whole item).
    const r = new Random(SEED + 43);
    const m = new OnnxModelBuilder(13, 7);
    m.input('x', [1, 2, 3, 3]);
    const y = m.node('Conv', ['x', m.init('w', [4, 2, 1, 1], r.floats(8))], { name: 'c', attrs: { kernel_shape: ints([1, 1]) } });
    m.node('Softmax', [y], { name: 'sm', outputs: ['p'], attrs: { axis: int(1) } });
    m.output('p');
    const sm = resolveModel(m.write(join(dir, 'sm'))).graph;
    expect(gpuPathProblems(sm)).toEqual([`model.onnx: ONNX node 'sm' (softmax over the channels of a 3x3 map) is not supported on the GPU path yet: the native softmax normalizes each item's whole tensor`]);
  });
});
