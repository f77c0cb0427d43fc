// ONNX models in: small models written here (helpers.ts, models.ts) with fresh random shapes and
// weights each run, imported (src/model/onnx/import.ts) and run through the float64 CPU reference,
// checked against onnxruntime-node on the CPU (float32: relative L2 <= 1e-5). Also: the imported
// structure (conv -> BN -> ReLU kept, so the lowering folds it), the weight key scheme, the
// storage forms (raw_data at odd byte offsets, float_data, double, float16, external data), and
// the lowering of an imported model proven against onnxruntime too. CUSNN_TEST_SEED repeats a run.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gpuProfile } from '../../src/arch/profiles.js';
import { paramSpecs, tensorKey, type Graph, type Layer } from '../../src/model/ir.js';
import { importOnnx, importOnnxFile, type ImportedModel } from '../../src/model/onnx/import.js';
import { parseOnnx, readOnnxFile } from '../../src/model/onnx/read.js';
import { resolvedWeights, resolveModel } from '../../src/model/resolve.js';
import { planNetwork } from '../../src/plan/planner.js';
import { lowerNetworkF64 } from '../../src/runtime/lower.js';
import { runProgramCpu } from '../../src/runtime/program-cpu.js';
import { referenceForward } from '../../src/runtime/reference.js';
import { readOnnxWeights } from '../../src/weights/onnx.js';
import { validateWeights } from '../../src/weights/store.js';
import { testSeed } from '../helpers/random.js';
import { uniformSparsity } from '../plan/helpers.js';
import { OnnxModelBuilder, Random, relL2, runOrt, stored, type Storage } from './helpers.js';
import { densenetLike, mobileOpsLike, mobilenetLike, opset11, resnetLike, type TestModel } from './models.js';

const SEED = testSeed();
beforeAll(() => console.info(`onnx import seed ${SEED} (CUSNN_TEST_SEED=${SEED} repeats it)`));
const seedFor = (k: number): number => (SEED * 7919 + k * 104729) % 2 ** 31;

const TOL = 1e-5;
const dir = mkdtempSync(join(tmpdir(), 'cusnn-onnx-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let fileCount = 0;
const writeModel = (t: TestModel): string => t.builder.write(join(dir, `${t.name}-${fileCount++}`));

function inputFor(t: TestModel, seed: number): Float32Array {
  const [n, c, h, w] = t.inputDims;
  return new Random(seed).floats(n * c * h * w, -2, 2);
}

/** Our float64 reference and onnxruntime on the same file and input: every graph output within TOL. */
async function checkAgainstOrt(t: TestModel, file: string, imp: ImportedModel, seed: number): Promise<number> {
  const input = inputFor(t, seed);
  const ref = referenceForward(imp.graph, imp.weights, input, t.inputDims[0]);
  const want = await runOrt(file, t.inputName, input, t.inputDims);
  let worst = 0;
  imp.outputNames.forEach((name, i) => {
    const got = ref.outputs.get(imp.outputLayers[i]!);
    expect(got, `output ${name}`).toBeDefined();
    const err = relL2(got!, want.get(name)!);
    expect(err, `${t.name} output ${name} (seed ${seed})`).toBeLessThanOrEqual(TOL);
    worst = Math.max(worst, err);
  });
  return worst;
}

const layer = (g: Graph, name: string): Layer => {
  const l = g.layers.find((x) => x.name === name);
  if (!l) throw new Error(`no layer ${name} in ${g.layers.map((x) => x.name).join(', ')}`);
  return l;
};

describe('ONNX models against onnxruntime (CPU)', () => {
  const cases: [string, (s: number) => TestModel][] = [['resnet-like', resnetLike], ['mobilenet-like', mobilenetLike], ['densenet-like', densenetLike], ['opset 11', opset11],
    ['MobileNetV2 ops (softmax over a map, both AveragePool pad modes)', mobileOpsLike]];
  it.each(cases)('%s: the float64 reference of the imported graph matches onnxruntime', async (_, make) => {
    const errs: string[] = [];
    for (let k = 0; k < 3; k++) {
      const seed = seedFor(k + make.name.length * 31);
      const t = make(seed);
      const file = writeModel(t);
      const imp = importOnnxFile(file, { inputShape: t.inputShape });
      errs.push((await checkAgainstOrt(t, file, imp, seed + 1)).toExponential(1));
    }
    console.info(`${make.name}: relative L2 vs onnxruntime ${errs.join(', ')}`);
  });

  it('resnet-like: conv -> BN -> ReLU, the residual add and the classifier keep the zoo structure; names are the node names', () => {
    const t = resnetLike(seedFor(1));
    const imp = importOnnxFile(writeModel(t));
    const g = imp.graph;
    expect(g.family).toBe('onnx');
    expect(g.preprocessing).toBe('torch');
    expect(g.name).toBe('model.onnx');
    expect(g.origin?.format).toBe('onnx');
    expect(g.layers[0]!.op).toBe('input');
    // Names kept as written (the IR needs no change to '/').
    const ops = g.layers.map((l) => `${l.name}:${l.op}`);
    expect(ops.slice(1, 5)).toEqual(['/conv1/Conv:conv', '/bn1/BatchNormalization:batchnorm', '/relu/Relu:relu', '/maxpool/MaxPool:maxpool']);
    expect(layer(g, '/bn1/BatchNormalization').inputs).toEqual(['/conv1/Conv']);
    expect(layer(g, '/layer1/0/Add').inputs).toEqual(['/layer1/0/downsample/bn', '/layer1/0/bn3']);
    // Flatten of 1x1 data is no layer: the dense layer reads the global pool, as in the zoo.
    expect(layer(g, '/fc/Gemm')).toMatchObject({ op: 'dense', inputs: ['/avgpool/GlobalAveragePool'], bias: true });
    expect(imp.nodes.find((n) => n.name === '/Flatten')).toMatchObject({ how: 'alias', layer: '/avgpool/GlobalAveragePool' });
    // Zero padding is exact after a ReLU: no padMode.
    expect(layer(g, '/maxpool/MaxPool')).not.toHaveProperty('padMode');
    expect(imp.layerOfNode.get('/fc/Gemm')).toBe('/fc/Gemm');
    // The weights: exactly the graph's parameter tensors, keyed <layer>:<role>.
    validateWeights(g, imp.weights);
    expect([...imp.weights.tensors.keys()]).toEqual(paramSpecs(g).map((s) => tensorKey(s.layer, s.role)));
    expect(imp.weights.tensors.has('/bn1/BatchNormalization:moving_variance')).toBe(true);
    expect(imp.weights.model).toBe(g.name);
  });

  it('mobilenet-like: Clip(0,6) is relu6, the depthwise conv has group = C, MatMul + Add is one dense layer over a hwc flatten', () => {
    const t = mobilenetLike(seedFor(2));
    const imp = importOnnxFile(writeModel(t));
    const g = imp.graph;
    expect(layer(g, 'features.0.2').op).toBe('relu6');
    const dw = layer(g, 'features.1.dw');
    const c1 = layer(g, 'features.0.2').shape[0];
    expect(dw).toMatchObject({ op: 'conv', groups: c1, outChannels: 2 * c1, bias: false });
    expect(imp.weights.tensors.get('features.1.dw:kernel')!.length).toBe(2 * c1 * 9);
    expect(layer(g, 'pool')).toMatchObject({ op: 'avgpool', padMode: 'exclude' });
    expect(layer(g, 'flatten')).toMatchObject({ op: 'flatten', order: 'hwc' });
    expect(layer(g, 'classifier.1.matmul')).toMatchObject({ op: 'dense', inputs: ['flatten'], bias: true });
    expect(imp.nodes.find((n) => n.name === 'classifier.1.add')).toMatchObject({ how: 'bias', layer: 'classifier.1.matmul' });
    expect(imp.nodes.find((n) => n.name === 'classifier.0')).toMatchObject({ how: 'alias', layer: 'flatten' });
    expect(g.layers.some((l) => l.name === 'classifier.0' || l.name === 'classifier.1.add')).toBe(false);
  });

  it('densenet-like: symbolic input shape needs --input-shape; exclude padding where it matters; a chw flatten as output', () => {
    const t = densenetLike(seedFor(3));
    const file = writeModel(t);
    expect(() => importOnnxFile(file)).toThrow(/graph input 'x' has \[n,c,h,w\]: give its C,H,W with --input-shape/);
    const imp = importOnnxFile(file, { inputShape: t.inputShape });
    const g = imp.graph;
    expect(layer(g, 'x').shape).toEqual(t.inputShape);
    expect(layer(g, 'conv0')).toMatchObject({ kernel: [5, 3], stride: [1, 2], pad: { top: 2, left: 1, bottom: 1, right: 0 } });
    expect(layer(g, 'block.concat').inputs).toEqual(['relu0', 'block.conv1']);
    expect(layer(g, 'maxpool_neg')).toMatchObject({ op: 'maxpool', padMode: 'exclude' });
    expect(layer(g, 'flat')).toMatchObject({ op: 'flatten', order: 'chw', inputs: ['maxpool_neg'] });
  });
});

describe('how initializers are stored', () => {
  it('raw_data read at any byte offset of the decoded buffer', async () => {
    const t = resnetLike(seedFor(4));
    const bytes = t.builder.encode();
    // The same model at byte offset 1, 2 and 3 of a larger buffer: every raw_data view is then at
    // an odd offset of its ArrayBuffer too.
    const file = writeModel(t);
    const base = importOnnxFile(file);
    for (const shift of [1, 2, 3]) {
      const big = new Uint8Array(bytes.length + 8);
      big.set(bytes, shift);
      const view = big.subarray(shift, shift + bytes.length);
      const model = parseOnnx(view, { source: 'shifted.onnx', dir: join(dir, `${t.name}-${fileCount - 1}`) });
      const raw = [...model.graph.initializers.values()].filter((x) => x.data.kind === 'raw');
      expect(raw.length).toBeGreaterThan(3);
      expect(raw.some((x) => x.data.kind === 'raw' && x.data.bytes.byteOffset % 4 !== 0)).toBe(true);
      const imp = importOnnx(model, { name: base.graph.name }, file);
      for (const [k, v] of base.weights.tensors) expect(imp.weights.tensors.get(k), k).toEqual(v);
    }
    await checkAgainstOrt(t, file, base, seedFor(5));
  });

  it('float_data, double and float16 raw_data, and external data read as the same float32 values', () => {
    const r = new Random(seedFor(6));
    const [c, k] = [r.int(2, 5), r.int(3, 7)];
    const w = r.floats(k * c * 9);
    const read = (storage: Storage): Float32Array => {
      const m = new OnnxModelBuilder(17);
      m.input('x', [1, c, 6, 7]);
      m.node('Conv', ['x', m.init('w', [k, c, 3, 3], w, storage)], { name: 'conv', outputs: ['y'] });
      m.output('y');
      const file = m.write(join(dir, `storage-${storage}-${fileCount++}`));
      const imp = importOnnxFile(file);
      return imp.weights.tensors.get('conv:kernel')!;
    };
    const raw = read('raw');
    expect(raw).toEqual(w);
    expect(read('float_data')).toEqual(w);
    expect(read('external')).toEqual(w);
    expect(read('double_raw')).toEqual(w); // double of a float32 value rounds back to it
    expect(read('fp16_raw')).toEqual(stored(w, 'fp16_raw'));
  });

  it('external data: location, offset and length checked against the file', () => {
    const m = new OnnxModelBuilder(17);
    m.input('x', [1, 2, 5, 5]);
    m.node('Conv', ['x', m.init('w', [3, 2, 1, 1], new Random(1).floats(6), 'external')], { name: 'conv', outputs: ['y'] });
    m.output('y');
    const d = join(dir, `external-${fileCount++}`);
    const file = m.write(d);
    expect(importOnnxFile(file).weights.tensors.get('conv:kernel')!.length).toBe(6);
    rmSync(join(d, 'weights.data'));
    expect(() => importOnnxFile(file)).toThrow(/initializer 'w' is in external file '.*weights\.data', which does not exist/);
  });
});

describe('resolution and weights', () => {
  it('resolveModel: .onnx -> imported graph with its weights; zoo names as before', () => {
    const t = opset11(seedFor(7));
    const file = writeModel(t);
    const m = resolveModel(file);
    expect(m.kind).toBe('onnx');
    expect(m.weights).not.toBeNull();
    expect(resolvedWeights(m)).toBe(m.weights);
    // --weights another export of the same network: same keys, its values.
    const other = readOnnxWeights(file, m.graph);
    expect([...other.tensors.keys()]).toEqual([...m.weights!.tensors.keys()]);
    expect(resolvedWeights(m, { path: file })).toBe(m.weights);
    const z = resolveModel('vgg16');
    expect(z.kind).toBe('zoo');
    expect(z.graph.name).toBe('vgg16');
    expect(() => resolveModel('vgg16', { inputShape: [3, 32, 32] })).toThrow(/zoo model/);
  });

  it('--weights of another network is refused naming the layer', () => {
    const a = importOnnxFile(writeModel(opset11(seedFor(8))));
    const bFile = writeModel(resnetLike(seedFor(9)));
    expect(() => readOnnxWeights(bFile, a.graph)).toThrow(/no tensor for layer 'conv' kernel|layer 'conv' kernel has shape/);
  });
});

describe('lowering an imported model', () => {
  it('resnet-like: BN folded into the convs, ReLUs fused; the lowered program (float64) matches onnxruntime', async () => {
    const t = resnetLike(seedFor(10));
    const file = writeModel(t);
    const imp = importOnnxFile(file);
    const batch = t.inputDims[0];
    const plan = planNetwork(imp.graph, gpuProfile('sm_90'), uniformSparsity(imp.graph, 0.7), { batch, weightsSource: 'test', force: 'act-sparse' });
    const { program, tensors } = lowerNetworkF64(imp.graph, plan, imp.weights, { batch });
    // Every BN follows a conv: none is left as its own scale/shift step.
    expect(program.steps.filter((s) => s.op === 'scale_shift')).toEqual([]);
    const convs = program.steps.filter((s) => s.op === 'conv');
    expect(convs.length).toBe(imp.graph.layers.filter((l) => l.op === 'conv').length);
    const input = inputFor(t, seedFor(11));
    const run = runProgramCpu(program, tensors, input);
    const want = await runOrt(file, t.inputName, input, t.inputDims);
    expect(relL2(run.output, want.get('probs')!)).toBeLessThanOrEqual(TOL);
  });
});

describe('the vendored schema', () => {
  it('reads what the writer (full protobufjs on onnx.proto3) wrote, field for field', () => {
    const t = mobilenetLike(seedFor(12));
    const file = writeModel(t);
    const model = readOnnxFile(file);
    expect(model.opset).toBe(t.builder.opset);
    expect(model.producer).toBe('cusnn-test');
    expect(model.graph.inputs[0]).toEqual({ name: 'image', elemType: 1, dims: ['N', ...t.inputDims.slice(1)] });
    const conv = model.graph.nodes.find((n) => n.name === 'features.1.dw')!;
    expect(conv.attributes.get('auto_pad')).toEqual({ name: 'auto_pad', type: 'string', value: 'SAME_LOWER' });
    expect(conv.attributes.get('strides')).toEqual({ name: 'strides', type: 'ints', value: [2, 2] });
    expect(readFileSync(file).length).toBeGreaterThan(100);
  });
});
