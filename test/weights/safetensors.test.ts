import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GraphBuilder } from '../../src/model/builder.js';
import { paramSpecs, size, tensorKey, type Graph } from '../../src/model/ir.js';
import { buildModel } from '../../src/model/zoo/index.js';
import { loadWeights, saveWeights } from '../../src/weights/load.js';
import { FORMAT, readSafetensors, writeSafetensors } from '../../src/weights/safetensors.js';
import { getTensor, validateWeights, type WeightSet } from '../../src/weights/store.js';
import { syntheticWeights } from '../../src/weights/synthetic.js';

let dir: string;
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cusnn-st-'));
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

/** Fresh random weights: magnitudes log-uniform in [1e-3, 10] (fp16 normal range), random signs. */
function randomWeights(graph: Graph): WeightSet {
  const tensors = new Map<string, Float32Array>();
  for (const s of paramSpecs(graph)) {
    const t = new Float32Array(size(s.shape));
    for (let i = 0; i < t.length; i++) t[i] = (Math.random() < 0.5 ? -1 : 1) * 10 ** (-3 + 4 * Math.random());
    // Moving variances are >= 0 (the reader rejects others); beyond fp16's 65504 prove vectors are stored in fp32.
    if (s.role === 'moving_variance') {
      for (let i = 0; i < t.length; i++) t[i] = Math.abs(t[i]!);
      t[0] = 1e6 + Math.random();
    }
    tensors.set(tensorKey(s.layer, s.role), t);
  }
  return { model: graph.name, source: 'random test data', tensors, filled: [] };
}

function tinyGraph(): Graph {
  const b = new GraphBuilder('tiny', 'resnet', 'caffe');
  let x = b.input('input', [3, 8, 8]);
  x = b.conv('conv1/conv', x, 4, { kernel: 3, bias: true });
  x = b.relu('relu', b.batchnorm('conv1/bn', x, 1e-3));
  x = b.globalAvgPool('gap', x);
  b.dense('predictions', x, 5);
  return b.build();
}

interface Entry { dtype: string; shape: number[]; data_offsets: [number, number] }
function readHeader(file: string): { header: Record<string, Entry> & { __metadata__?: Record<string, string> }; headerLen: number } {
  const buf = fs.readFileSync(file);
  const headerLen = Number(buf.readBigUInt64LE(0));
  return { header: JSON.parse(buf.subarray(8, 8 + headerLen).toString('utf8')), headerLen };
}

/** A safetensors file written independently of the code under test (no padding, any key order). */
function writeRaw(file: string, header: object, data: Buffer): void {
  const json = Buffer.from(JSON.stringify(header), 'utf8');
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(json.length));
  fs.writeFileSync(file, Buffer.concat([len, json, data]));
}

describe('safetensors round trip (densenet121, fresh random data)', () => {
  const graph = buildModel('densenet121');
  const ws = randomWeights(graph);

  it('fp32 is bit exact and the file is standard safetensors with our metadata', () => {
    const file = path.join(dir, 'd121.safetensors');
    writeSafetensors(file, graph, ws, 'fp32');
    const { header, headerLen } = readHeader(file);
    expect(header.__metadata__).toEqual({ format: FORMAT, model: 'densenet121', source: 'random test data', storage: 'fp32' });
    expect((8 + headerLen) % 8).toBe(0);
    let end = 0;
    for (const s of paramSpecs(graph)) {
      const e = header[tensorKey(s.layer, s.role)]!;
      expect(e.dtype).toBe('F32');
      expect(e.shape).toEqual([...s.shape]);
      expect(e.data_offsets).toEqual([end, end + 4 * size(s.shape)]);
      end = e.data_offsets[1];
    }
    expect(fs.statSync(file).size).toBe(8 + headerLen + end);

    const back = readSafetensors(file, graph);
    expect(back.storage).toBe('fp32');
    validateWeights(graph, back.weights);
    for (const s of paramSpecs(graph)) {
      const a = getTensor(ws, s.layer, s.role);
      const b = getTensor(back.weights, s.layer, s.role);
      expect(Buffer.from(b.buffer, b.byteOffset, b.byteLength).equals(Buffer.from(a.buffer, a.byteOffset, a.byteLength)), `${s.layer}:${s.role}`).toBe(true);
    }
  });

  it('fp16 stores only kernels as F16 (within 1e-3 relative); vectors stay exact F32', () => {
    const file = path.join(dir, 'd121-16.safetensors');
    saveWeights(file, graph, ws, 'fp16');
    const { header } = readHeader(file);
    expect(header.__metadata__?.storage).toBe('fp16');
    const back = loadWeights(graph, { path: file });
    for (const s of paramSpecs(graph)) {
      const key = tensorKey(s.layer, s.role);
      expect(header[key]!.dtype).toBe(s.role === 'kernel' ? 'F16' : 'F32');
      const a = getTensor(ws, s.layer, s.role);
      const b = getTensor(back, s.layer, s.role);
      if (s.role !== 'kernel') {
        expect(Array.from(b), key).toEqual(Array.from(a));
        continue;
      }
      let worst = 0;
      for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(b[i]! - a[i]!) / Math.abs(a[i]!));
      expect(worst, key).toBeLessThan(1e-3);
      expect(worst, key).toBeGreaterThan(0); // it really went through fp16
    }
    expect(fs.statSync(file).size).toBeLessThan(0.6 * fs.statSync(path.join(dir, 'd121.safetensors')).size);
  });

  it('records filled tensors in the metadata and reads them back', () => {
    const file = path.join(dir, 'filled.safetensors');
    const filled = [tensorKey('predictions', 'kernel'), tensorKey('predictions', 'bias')];
    writeSafetensors(file, graph, { ...ws, filled }, 'fp32');
    expect(readSafetensors(file, graph).weights.filled).toEqual(filled);
  });
});

describe('safetensors reading: interoperability and errors', () => {
  const graph = tinyGraph();
  const specs = paramSpecs(graph);
  const ws = randomWeights(graph);
  const file = (name: string): string => path.join(dir, `${name}.safetensors`);

  /** Header and data of `ws` laid out by hand, optionally altered. */
  function raw(alter: (h: Record<string, unknown>) => void = () => {}, meta: Record<string, string> | null = { format: FORMAT, model: 'tiny' }): { header: Record<string, unknown>; data: Buffer } {
    const header: Record<string, unknown> = meta ? { __metadata__: meta } : {};
    const parts: Buffer[] = [];
    let at = 0;
    for (const s of [...specs].reverse()) {
      const t = getTensor(ws, s.layer, s.role);
      parts.push(Buffer.from(t.buffer, t.byteOffset, t.byteLength));
      header[tensorKey(s.layer, s.role)] = { dtype: 'F32', shape: [...s.shape], data_offsets: [at, at + t.byteLength] };
      at += t.byteLength;
    }
    alter(header);
    return { header, data: Buffer.concat(parts) };
  }

  it('reads a plain safetensors file (no metadata, no padding, other key order)', () => {
    const { header, data } = raw(undefined, null);
    writeRaw(file('plain'), header, data);
    const back = readSafetensors(file('plain'), graph).weights;
    for (const s of specs) expect(Array.from(getTensor(back, s.layer, s.role))).toEqual(Array.from(getTensor(ws, s.layer, s.role)));
  });

  it('missing tensor: names the file, the layer and the expected shape', () => {
    const { header, data } = raw((h) => delete h['conv1/bn:moving_variance']);
    writeRaw(file('missing'), header, data);
    expect(() => readSafetensors(file('missing'), graph)).toThrow(
      new RegExp(`${file('missing')}.*conv1/bn:moving_variance.*layer 'conv1/bn' moving_variance, expected shape \\[4\\]`),
    );
  });

  it('wrong shape: names the layer, the found and the expected shape', () => {
    const { header, data } = raw((h) => {
      (h['conv1/conv:kernel'] as Entry).shape = [4, 3, 9];
    });
    writeRaw(file('shape'), header, data);
    expect(() => readSafetensors(file('shape'), graph)).toThrow(/shape\.safetensors: tensor 'conv1\/conv:kernel' has shape \[4x3x9\] .*expected shape \[4x3x3x3\]/);
  });

  it('data size not matching the shape: names the tensor, the byte count and the expected shape', () => {
    const { header, data } = raw((h) => {
      const e = h['conv1/conv:bias'] as Entry;
      e.data_offsets = [e.data_offsets[0], e.data_offsets[1] - 4];
    });
    writeRaw(file('size'), header, data);
    expect(() => readSafetensors(file('size'), graph)).toThrow(
      /size\.safetensors: tensor 'conv1\/conv:bias' has data_offsets \[\d+,\d+\], expected a range of 16 bytes \(tiny layer 'conv1\/conv' bias, expected shape \[4\], F32\)/,
    );
  });

  it('unknown dtype: names the dtype and the layer', () => {
    const { header, data } = raw((h) => {
      (h['predictions:kernel'] as Entry).dtype = 'BF16';
    });
    writeRaw(file('dtype'), header, data);
    expect(() => readSafetensors(file('dtype'), graph)).toThrow(/dtype\.safetensors: tensor 'predictions:kernel' has dtype BF16; only F32 and F16.*layer 'predictions' kernel, expected shape \[5x4\]/);
  });

  it('truncated file: names the file, the tensor and the expected shape', () => {
    writeSafetensors(file('full'), graph, ws, 'fp32');
    const bytes = fs.readFileSync(file('full'));
    fs.writeFileSync(file('cut'), bytes.subarray(0, bytes.length - 7));
    expect(() => readSafetensors(file('cut'), graph)).toThrow(/cut\.safetensors: truncated: tensor 'predictions:bias' .*expected shape \[5\]/);
    fs.writeFileSync(file('cut2'), bytes.subarray(0, 100));
    expect(() => readSafetensors(file('cut2'), graph)).toThrow(/cut2\.safetensors: truncated or not a safetensors file/);
    fs.writeFileSync(file('cut3'), bytes.subarray(0, 5));
    expect(() => readSafetensors(file('cut3'), graph)).toThrow(/cut3\.safetensors: truncated or not a safetensors file/);
  });

  it('wrong model, foreign format, extra tensors, broken header', () => {
    writeSafetensors(file('tiny'), graph, ws, 'fp32');
    const other = { ...graph, name: 'tiny2' };
    expect(() => readSafetensors(file('tiny'), other)).toThrow(/tiny\.safetensors: holds weights for model 'tiny', not 'tiny2'/);
    const d121 = buildModel('densenet121');
    writeSafetensors(file('d121'), d121, syntheticWeights(d121, 0), 'fp16');
    expect(() => loadWeights(buildModel('densenet169'), { path: file('d121') })).toThrow(/d121\.safetensors: holds weights for model 'densenet121', not 'densenet169'/);

    let r = raw(undefined, { format: 'something-else/2' });
    writeRaw(file('fmt'), r.header, r.data);
    expect(() => readSafetensors(file('fmt'), graph)).toThrow(/unsupported format 'something-else\/2'/);

    r = raw((h) => {
      h['ghost:kernel'] = { dtype: 'F32', shape: [1], data_offsets: [0, 4] };
    });
    writeRaw(file('extra'), r.header, r.data);
    expect(() => readSafetensors(file('extra'), graph)).toThrow(/tensor 'ghost:kernel' is not a parameter of tiny/);

    const len = Buffer.alloc(8);
    len.writeBigUInt64LE(5n);
    fs.writeFileSync(file('junk'), Buffer.concat([len, Buffer.from('{"a":')]));
    expect(() => readSafetensors(file('junk'), graph)).toThrow(/junk\.safetensors: not a safetensors file/);
  });

  it('writing validates the weights against the graph and leaves no partial file', () => {
    const tensors = new Map(ws.tensors);
    tensors.set('conv1/conv:bias', new Float32Array(3));
    expect(() => writeSafetensors(file('bad'), graph, { ...ws, tensors }, 'fp32')).toThrow(/layer 'conv1\/conv' bias has 3 values, expected shape \[4\]/);
    tensors.delete('conv1/conv:bias');
    expect(() => writeSafetensors(file('bad'), graph, { ...ws, tensors }, 'fp32')).toThrow(/layer 'conv1\/conv' lacks its bias tensor \(expected shape \[4\]\)/);
    expect(fs.existsSync(file('bad'))).toBe(false);
    expect(fs.readdirSync(dir).filter((f) => f.includes('.tmp-'))).toEqual([]);
    expect(() => saveWeights(path.join(dir, 'x.bin'), graph, ws)).toThrow(/must end in \.safetensors/);
  });
});

describe('loadWeights', () => {
  const graph = tinyGraph();
  it('no path -> synthetic with the given seed', () => {
    const ws = loadWeights(graph, { seed: 7 });
    expect(ws.source).toBe('synthetic (seed 7)');
    expect(Array.from(getTensor(ws, 'conv1/conv', 'kernel'))).toEqual(Array.from(getTensor(syntheticWeights(graph, 7), 'conv1/conv', 'kernel')));
  });
  it('bad paths name the path and what was expected', () => {
    expect(() => loadWeights(graph, { path: path.join(dir, 'nope.safetensors') })).toThrow(/weights path '.*nope\.safetensors' does not exist; expected a cuSNN weight folder \(<layer>\.bin files\) or a \.safetensors file/);
    const txt = path.join(dir, 'weights.txt');
    fs.writeFileSync(txt, 'hello');
    expect(() => loadWeights(graph, { path: txt })).toThrow(/weights path '.*weights\.txt' is neither a folder nor a \.safetensors file/);
  });
});

describe('safetensors speed', () => {
  it('resnet152 (60M params) writes and reads in fp32 and fp16 quickly', () => {
    const graph = buildModel('resnet152');
    const ws = syntheticWeights(graph, 1);
    const f = path.join(dir, 'r152.safetensors');
    const times: Record<string, number> = {};
    for (const storage of ['fp32', 'fp16'] as const) {
      let t = performance.now();
      writeSafetensors(f, graph, ws, storage);
      times[`write ${storage}`] = performance.now() - t;
      t = performance.now();
      const back = readSafetensors(f, graph);
      times[`read ${storage}`] = performance.now() - t;
      expect(back.weights.tensors.size).toBe(ws.tensors.size);
    }
    // Generous bounds (a 2-core CI box, other test files running): bulk I/O is well under these.
    for (const [what, ms] of Object.entries(times)) expect(ms, `${what}: ${ms.toFixed(0)} ms`).toBeLessThan(what.includes('fp16') ? 4000 : 3000);
    fs.rmSync(f);
  });
});
