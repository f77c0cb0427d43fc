// `cusnn-gen export-onnx`: a model of the IR as an ONNX file (src/model/onnx/export.ts) that the
// importer reads back as the same layers, names and weights. A small graph with every op the
// exporter writes (the Keras (h,w,c) flatten before a dense layer, zero-padded pools, relu6, add,
// concat) goes round the trip and through onnxruntime; ResNet-50 and DenseNet-121 with fresh
// synthetic weights give, from the exported file, the plan the zoo name gives (decisions, kernels,
// shapes, layer by layer) and the same logits under run --cpu's reference (1e-9 relative).
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { main } from '../../src/cli/main.js';
import { resolveRunTarget } from '../../src/cli/run-cpu.js';
import { GraphBuilder } from '../../src/model/builder.js';
import { uniformPad, type Graph } from '../../src/model/ir.js';
import { exportOnnx, OnnxExportError, writeOnnx } from '../../src/model/onnx/export.js';
import { importOnnxFile } from '../../src/model/onnx/import.js';
import { EXIT } from '../../src/output/exit.js';
import type { NetworkPlan } from '../../src/plan/types.js';
import { readPlanFile } from '../../src/runtime/network.js';
import { referenceForward } from '../../src/runtime/reference.js';
import { syntheticWeights } from '../../src/weights/synthetic.js';
import { mulberry32, testSeed } from '../helpers/random.js';
import { Random, relL2, relMax, runOrt } from './helpers.js';

const SEED = testSeed();
beforeAll(() => console.info(`onnx export seed ${SEED} (CUSNN_TEST_SEED=${SEED} repeats it)`));
const dir = mkdtempSync(join(tmpdir(), 'cusnn-onnx-export-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function cli(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  const logSpy = vi.spyOn(console, 'log').mockImplementation((s: unknown) => void (out += `${String(s)}\n`));
  const outSpy = vi.spyOn(process.stdout, 'write').mockImplementation((s: string | Uint8Array) => ((out += String(s)), true));
  const errSpy = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
  let err = '';
  try {
    const code = await main(argv, { err: (s) => void (err += s), env: {} });
    return { code, out, err };
  } finally {
    logSpy.mockRestore();
    outSpy.mockRestore();
    errSpy.mockRestore();
  }
}

/** A small network with every op the exporter writes; sizes drawn from `seed`. */
function tinyNet(seed: number): Graph {
  const r = new Random(seed);
  const b = new GraphBuilder('tiny_export', 'vgg', 'caffe');
  let x = b.input('input', [3, r.int(9, 14), r.int(9, 14)]);
  const c1 = r.int(3, 6);
  x = b.relu('block1_relu', b.conv('block1_conv', x, c1, { kernel: 3, pad: uniformPad(1), bias: true }));
  x = b.pool('maxpool', 'block1_pool', x, { kernel: 2, stride: 2 });
  const c2 = r.int(3, 6);
  x = b.relu('block2_relu', b.batchnorm('block2_bn', b.conv('block2_conv', x, c2, { kernel: [3, 1], strides: [1, 2], pad: { top: 1, bottom: 1, left: 0, right: 0 }, bias: false }), 1.001e-5));
  x = b.pool('maxpool', 'block2/pool', x, { kernel: 3, stride: 2, pad: { top: 1, bottom: 0, left: 1, right: 1 } });
  const side = b.conv('side_conv', x, c2, { kernel: 1, bias: true });
  x = b.relu('add_relu', b.addLayers('add', [x, side]));
  const y = b.relu6('relu6', b.conv('dw_like', x, c2, { kernel: 3, pad: uniformPad(1), bias: true }));
  x = b.concat('concat', [x, y]);
  x = b.pool('avgpool', 'avg', x, { kernel: 3, stride: 1, pad: uniformPad(1) });
  x = b.flatten('flatten', x);
  x = b.relu('fc1_relu', b.dense('fc1', x, r.int(4, 9)));
  b.softmax('predictions', b.dense('fc2', x, r.int(3, 7)));
  return b.build();
}

describe('export-onnx', () => {
  it('a small network round-trips: same layers, names and weights; onnxruntime computes what the reference does', async () => {
    const graph = tinyNet(SEED);
    const ws = syntheticWeights(graph, SEED % 1_000_000);
    const file = join(dir, 'tiny.onnx');
    writeOnnx(file, graph, ws);
    const back = importOnnxFile(file, { name: graph.name });
    expect(back.graph.preprocessing).toBe('caffe');
    expect(back.graph.layers.map((l) => `${l.name}:${l.op}:${l.shape.join('x')}`)).toEqual(graph.layers.map((l) => `${l.name}:${l.op}:${l.shape.join('x')}`));
    for (const [i, l] of graph.layers.entries()) {
      const m = back.graph.layers[i]!;
      if (l.op === 'conv' && m.op === 'conv') expect([m.kernel, m.stride, m.pad, m.groups, m.bias]).toEqual([l.kernel, l.stride, l.pad, l.groups, l.bias]);
      if ((l.op === 'maxpool' || l.op === 'avgpool') && (m.op === 'maxpool' || m.op === 'avgpool')) {
        expect([m.kernel, m.stride, m.pad, m.padMode ?? 'zero']).toEqual([l.kernel, l.stride, l.pad, l.padMode ?? 'zero']);
      }
      if (l.op === 'flatten' && m.op === 'flatten') expect(m.order).toBe('hwc');
      if (l.op === 'batchnorm' && m.op === 'batchnorm') expect(m.epsilon).toBe(Math.fround(l.epsilon)); // ONNX's epsilon is a float32
    }
    expect([...back.weights.tensors.keys()]).toEqual([...ws.tensors.keys()]);
    for (const [k, t] of ws.tensors) expect(Buffer.from(back.weights.tensors.get(k)!.buffer).equals(Buffer.from(t.buffer, t.byteOffset, t.byteLength)), k).toBe(true);
    const [c, h, w] = graph.layers[0]!.shape;
    const batch = 2;
    const x = new Random(SEED + 1).floats(batch * c * h * w, -100, 100);
    const want = referenceForward(graph, ws, x, batch, { keep: (n) => n === 'fc2' });
    const got = referenceForward(back.graph, back.weights, x, batch, { keep: (n) => n === 'fc2' });
    expect(relMax(got.outputs.get('fc2')!, want.outputs.get('fc2')!)).toBeLessThanOrEqual(1e-9);
    const ort = (await runOrt(file, 'input', x, [batch, c, h, w])).get('predictions')!;
    expect(relL2(ort, want.outputs.get('predictions')!)).toBeLessThanOrEqual(1e-5);
  });

  it('what ONNX cannot say is an error naming the layer', () => {
    const neg = new GraphBuilder('neg', 'vgg', 'caffe');
    let x = neg.input('input', [2, 6, 6]);
    x = neg.conv('conv', x, 3, { kernel: 1, bias: true });
    neg.pool('maxpool', 'pool', x, { kernel: 3, stride: 2, pad: uniformPad(1) });
    const g1 = neg.build();
    expect(() => exportOnnx(g1, syntheticWeights(g1, 1))).toThrow(OnnxExportError);
    expect(() => exportOnnx(g1, syntheticWeights(g1, 1))).toThrow(/^neg\/pool \(maxpool\): a max pool over zero padding of values that can be negative: ONNX's MaxPool excludes the padding/);
    const flat = new GraphBuilder('flat', 'vgg', 'caffe');
    x = flat.relu('relu', flat.conv('conv', flat.input('input', [2, 3, 3]), 2, { kernel: 1, bias: true }));
    flat.softmax('sm', flat.flatten('flatten', x));
    const g2 = flat.build();
    expect(() => exportOnnx(g2, syntheticWeights(g2, 1))).toThrow(/^flat\/flatten \(flatten\): a Keras \(h,w,c\) flatten read by 'sm' \(softmax\); ONNX's Flatten is \(c,h,w\), so only dense readers/);
  });

  it('CLI: --out must be a new .onnx file (usage 2 / bad input 1)', async () => {
    const wrong = await cli('export-onnx', '--model', 'resnet50', '--out', join(dir, 'x.safetensors'));
    expect(wrong.code).toBe(EXIT.usage);
    expect(wrong.err).toMatch(/--out '.*x\.safetensors' must end in \.onnx/);
    const noDir = await cli('export-onnx', '--model', 'resnet50', '--out', join(dir, 'nope', 'x.onnx'));
    expect(noDir.code).toBe(EXIT.badInput);
    const bad = await cli('export-onnx', '--model', 'resnet18', '--out', join(dir, 'x.onnx'));
    expect(bad.code).toBe(EXIT.usage);
  });

  // One random seed for both models' synthetic weights (fresh each run), and one input each.
  const seed = Math.floor(mulberry32(SEED)() * 1_000_000);
  // Both models are exported, imported and planned from the file every run (the plans compared conv
  // by conv, a few seconds each). The logits part, two float64 reference passes at 224x224 (~25 s a
  // model on 2 cores: most of this file's time), runs in CI on one of the two drawn from the seed
  // (fresh each run, printed), on both under CUSNN_FULL_CHECKS=1: the export, the import and
  // resolveRunTarget are one code path for both, what differs between them (adds vs concats, the
  // torch vs caffe preprocessing) is already compared layer by layer in the plans and in the graphs
  // both folders resolve to, and every run still proves one exported network end to end (and
  // through onnxruntime). Timeout 120 s (the cpu project's default): resnet50 with the logits is
  // ~35 s alone on 2 cores and passed 60 s while CUDA builds ran on the same machine.
  const FULL = process.env.CUSNN_FULL_CHECKS === '1';
  const MODELS = ['resnet50', 'densenet121'] as const;
  const runs = FULL ? [...MODELS] : [MODELS[Math.floor(mulberry32(SEED ^ 0x10915)() * MODELS.length)]!];
  it.each(MODELS)(`%s: the exported file plans and runs as the zoo name does (logits: ${runs.join(', ')}${FULL ? '' : '; CUSNN_FULL_CHECKS=1 both'})`, async (model) => {
    const file = join(dir, `${model}.onnx`);
    const e = await cli('export-onnx', '--model', model, '--seed', String(seed), '--out', file);
    expect(e.err).toBe('');
    expect(e.code).toBe(EXIT.ok);
    expect(e.out).toMatch(new RegExp(`^wrote .*${model}\\.onnx \\(ONNX opset 13, [\\d.]+ MiB\\)\\n$`));
    expect((await cli('export-onnx', '--model', model, '--out', file)).err).toMatch(/exists; pass --force to replace it/);
    const zoo = join(dir, `${model}-zoo`);
    const onnx = join(dir, `${model}-onnx`);
    const z = await cli('--model', model, '--seed', String(seed), '--arch', 'sm_90', '--out', zoo, '-q');
    expect(z.code, z.err).toBe(EXIT.ok);
    const o = await cli('--model', file, '--arch', 'sm_90', '--out', onnx, '-q');
    expect(o.code, o.err).toBe(EXIT.ok);

    // The plans, conv by conv: the same shapes, decisions, kernels and tiles (sparsity estimates
    // differ in the last digits only: ONNX stores batch-norm epsilon as a float32).
    const pz: NetworkPlan = readPlanFile(zoo);
    const po: NetworkPlan = readPlanFile(onnx);
    expect(po.model).toBe(`${model}.onnx`);
    expect(po.convs.length).toBe(pz.convs.length);
    expect(po.convs.length).toBeGreaterThan(50);
    pz.convs.forEach((a, i) => {
      const b = po.convs[i]!;
      const fields = (c: typeof a) => ({ input: c.input, output: c.output, kernel: c.kernel, stride: c.stride, pad: c.pad, macs: c.macs, weightSparsity: c.weightSparsity,
        decision: c.decision, kernelName: c.kernelName, spec: c.spec, resources: c.resources, fusedRelu: c.fusedRelu, source: c.inputSparsitySource });
      expect(fields(b), `conv ${i} (${a.layer})`).toEqual(fields(a));
      expect(b.layer).toBe(a.layer); // the exporter names each node after its layer
      expect(Math.abs(b.inputSparsity - a.inputSparsity), a.layer).toBeLessThanOrEqual(1e-6);
    });
    expect(readdirSync(join(onnx, 'kernels')).sort()).toEqual(readdirSync(join(zoo, 'kernels')).sort());

    // run --cpu's reference on both folders (each resolves its model and weights from plan.json): equal logits.
    const tz = resolveRunTarget(zoo);
    const to = resolveRunTarget(onnx);
    expect(to.graph.layers.map((l) => `${l.name}:${l.op}:${l.shape.join('x')}`)).toEqual(tz.graph.layers.map((l) => `${l.name}:${l.op}:${l.shape.join('x')}`));
    if (!runs.includes(model)) return;
    const [c, h, w] = tz.graph.layers[0]!.shape;
    const x = new Random(seed + 1).floats(c * h * w, -2, 2);
    const logits = 'predictions';
    const yz = referenceForward(tz.graph, tz.weights, x, 1, { keep: (n) => n === logits });
    const yo = referenceForward(to.graph, to.weights, x, 1, { keep: (n) => n === logits });
    expect(relMax(yo.outputs.get(logits)!, yz.outputs.get(logits)!)).toBeLessThanOrEqual(1e-9);
    // And onnxruntime on the exported file agrees with the reference (fp32, after the softmax).
    const ort = (await runOrt(file, 'input', x, [1, c, h, w])).get(tz.graph.layers[tz.graph.layers.length - 1]!.name)!;
    expect(relL2(ort, yz.outputs.get(tz.graph.layers[tz.graph.layers.length - 1]!.name)!)).toBeLessThanOrEqual(1e-4);
  }, 120_000);
});

describe('README synopsis of ONNX input and export-onnx', () => {
  it('every option the synopsis lines name is an option of that command', async () => {
    const readme = (await import('node:fs')).readFileSync('README.md', 'utf8');
    const block = readme.slice(readme.indexOf('## CLI'), readme.indexOf('### CLI conventions'));
    const lines = (start: string): string => {
      const at = block.indexOf(start);
      expect(at, start).toBeGreaterThanOrEqual(0);
      const rest = block.slice(at).split('\n');
      const out = [rest[0]!];
      for (const l of rest.slice(1)) if (/^ {6,}/.test(l)) out.push(l); else break;
      return out.join('\n').replace(/\(.*?\)\s*$/gm, '');
    };
    const check = async (synopsis: string, help: string[]): Promise<void> => {
      const h = await cli('help', ...help);
      expect(h.code).toBe(EXIT.ok);
      const flags = [...new Set(synopsis.match(/--[a-z][a-z-]*/g) ?? [])];
      expect(flags.length).toBeGreaterThan(2);
      for (const f of flags) expect(h.out, `${f} of '${synopsis.split('\n')[0]}'`).toMatch(new RegExp(`${f}\\b`));
    };
    await check(lines('cusnn-gen --model path/to/model.onnx'), []);
    await check(lines('cusnn-gen export-onnx'), ['export-onnx']);
    await check(lines('cusnn-gen run <dir>'), ['run']);
    await check(lines('cusnn-gen run --cpu'), ['run-cpu']);
  });
});
