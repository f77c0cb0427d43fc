// The weight readers refuse what a lax reader would accept silently: overlapping or
// non-contiguous data, duplicate keys, trailing bytes, NaN/Inf values, negative moving variances;
// --fill-missing works for safetensors and filled tensors stay labelled through export/import.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { GraphBuilder } from '../../src/model/builder.js';
import { tensorKey, type Graph } from '../../src/model/ir.js';
import { binFileName, readCusnnBin, writeCusnnBin } from '../../src/weights/cusnn-bin.js';
import { loadWeights } from '../../src/weights/load.js';
import { readSafetensors, writeSafetensors } from '../../src/weights/safetensors.js';
import { syntheticWeights } from '../../src/weights/synthetic.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cusnn-robust-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

function tiny(): Graph {
  const b = new GraphBuilder('tiny', 'resnet', 'caffe');
  let x = b.input('input', [3, 8, 8]);
  x = b.conv('conv1', x, 4, { kernel: 3, bias: true });
  b.relu('relu', b.batchnorm('bn', x, 1e-3));
  return b.build();
}
const graph = tiny();
const ws = syntheticWeights(graph, 1);
const f = (name: string): string => path.join(dir, name);

interface Parts { header: Record<string, { dtype: string; shape: number[]; data_offsets: [number, number] } | Record<string, string>>; data: Buffer }
function parts(): Parts {
  writeSafetensors(f('ok.safetensors'), graph, ws, 'fp32');
  const buf = fs.readFileSync(f('ok.safetensors'));
  const len = Number(buf.readBigUInt64LE(0));
  return { header: JSON.parse(buf.subarray(8, 8 + len).toString('utf8')), data: Buffer.from(buf.subarray(8 + len)) };
}
function write(name: string, header: string | object, data: Buffer): string {
  const json = Buffer.from(typeof header === 'string' ? header : JSON.stringify(header), 'utf8');
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(json.length));
  fs.writeFileSync(f(name), Buffer.concat([len, json, data]));
  return f(name);
}
type E = { dtype: string; shape: number[]; data_offsets: [number, number] };

describe('safetensors layout and values', () => {
  it('overlapping data, gaps, trailing bytes and duplicate keys name the file and the tensors', () => {
    const p = parts();
    const k = p.header['conv1:kernel'] as E;
    const b = p.header['conv1:bias'] as E;
    // bias pointing into the kernel's bytes: same length, overlapping.
    const overlap = { ...p.header, 'conv1:bias': { ...b, data_offsets: [k.data_offsets[0] + 4, k.data_offsets[0] + 4 + 16] } };
    expect(() => readSafetensors(write('overlap.safetensors', overlap, p.data), graph)).toThrow(/overlap\.safetensors: tensor 'conv1:bias' data \[4, 20\) overlaps tensor 'conv1:kernel'/);
    // every tensor shifted by 8 bytes: a hole at the start.
    const shifted = Object.fromEntries(Object.entries(p.header).map(([key, v]) => [key, key === '__metadata__' ? v : { ...(v as E), data_offsets: [(v as E).data_offsets[0] + 8, (v as E).data_offsets[1] + 8] }]));
    expect(() => readSafetensors(write('gap.safetensors', shifted, Buffer.concat([Buffer.alloc(8), p.data])), graph)).toThrow(/gap\.safetensors: 8 byte\(s\) of data \[0, 8\) belong to no tensor \(before 'conv1:kernel'\)/);
    expect(() => readSafetensors(write('trail.safetensors', p.header, Buffer.concat([p.data, Buffer.alloc(12)])), graph)).toThrow(/trail\.safetensors: 12 trailing byte\(s\) after the last tensor's data/);
    const json = JSON.stringify(p.header);
    const dup = `{"bn:gamma":${JSON.stringify(p.header['bn:gamma'])},${json.slice(1)}`;
    expect(() => readSafetensors(write('dup.safetensors', dup, p.data), graph)).toThrow(/dup\.safetensors: header has the key 'bn:gamma' twice/);
  });

  it('NaN, Inf and negative moving variances name the file, the tensor and the index', () => {
    const p = parts();
    const at = (key: string, i: number, v: number): Buffer => {
      const d = Buffer.from(p.data);
      d.writeFloatLE(v, (p.header[key] as E).data_offsets[0] + 4 * i);
      return d;
    };
    expect(() => readSafetensors(write('nan.safetensors', p.header, at('conv1:kernel', 13, NaN)), graph)).toThrow(/nan\.safetensors: tensor 'conv1:kernel' value 13 \(index \[0,1,1,1\] of \[4x3x3x3\]\) is NaN; weights must be finite/);
    expect(() => readSafetensors(write('inf.safetensors', p.header, at('bn:moving_variance', 2, Infinity)), graph)).toThrow(/inf\.safetensors: tensor 'bn:moving_variance' value 2 .* is Infinity/);
    expect(() => readSafetensors(write('neg.safetensors', p.header, at('bn:moving_variance', 1, -0.5)), graph)).toThrow(/neg\.safetensors: layer 'bn': tensor 'bn:moving_variance' value 1 .* is -0\.5; a batch norm's moving variance must be >= 0/);
  });

  it('--fill-missing fills tensors a safetensors file lacks, labelled filled; without it the error says so', () => {
    const p = parts();
    const { 'bn:moving_mean': _m, 'bn:moving_variance': _v, ...rest } = p.header;
    const end = (p.header['bn:beta'] as E).data_offsets[1];
    const file = write('partial.safetensors', rest, p.data.subarray(0, end));
    expect(() => readSafetensors(file, graph)).toThrow(/no tensor 'bn:moving_mean' .*--fill-missing/);
    const got = loadWeights(graph, { path: file, fillMissing: true, seed: 3 });
    expect(got.filled).toEqual(['bn:moving_mean', 'bn:moving_variance']);
    expect(got.source).toMatch(/2 missing tensor\(s\) filled synthetically, seed 3/);
    expect(got.tensors.get('conv1:kernel')).toEqual(ws.tensors.get('conv1:kernel'));
    // An empty or foreign file is not "partial".
    expect(() => readSafetensors(write('none.safetensors', { __metadata__: p.header.__metadata__ }, Buffer.alloc(0)), graph, { fillMissing: true })).toThrow(/none\.safetensors: holds none of tiny's 6 tensors/);
  });
});

describe('.bin folders', () => {
  it('NaN values and negative variances name the file, the tensor and the index', () => {
    const d = f('bin-nan');
    writeCusnnBin(d, graph, ws);
    const file = path.join(d, binFileName('bn'));
    const buf = fs.readFileSync(file);
    buf.writeFloatLE(NaN, 4 * (4 + 4 + 1));
    fs.writeFileSync(file, buf);
    expect(() => readCusnnBin(d, graph)).toThrow(/layer 'bn': .*bn\.bin: tensor 'bn:moving_mean' value 1 \(index \[1\] of \[4\]\) is NaN/);
    buf.writeFloatLE(1, 4 * 9);
    buf.writeFloatLE(-3, 4 * 14);
    fs.writeFileSync(file, buf);
    expect(() => readCusnnBin(d, graph)).toThrow(/bn\.bin: tensor 'bn:moving_variance' value 2 .* is -3; a batch norm's moving variance must be >= 0/);
  });

  it('filled tensors stay labelled filled through export (.bin) and import (.bin -> safetensors -> .bin)', () => {
    const src = f('bin-partial');
    writeCusnnBin(src, graph, ws);
    fs.rmSync(path.join(src, binFileName('bn')));
    expect(() => readCusnnBin(src, graph)).toThrow(/layer 'bn' is missing/);
    const filled = readCusnnBin(src, graph, { fillMissing: true });
    const keys = ['gamma', 'beta', 'moving_mean', 'moving_variance'].map((r) => tensorKey('bn', r as 'gamma'));
    expect(filled.filled).toEqual(keys);
    const out = f('bin-export');
    writeCusnnBin(out, graph, filled);
    expect(JSON.parse(fs.readFileSync(path.join(out, 'cusnn-filled.json'), 'utf8'))).toEqual({ format: 'cusnn-filled/1', model: 'tiny', filled: keys });
    const back = readCusnnBin(out, graph);
    expect(back.filled).toEqual(keys);
    expect(back.source).toMatch(/4 tensor\(s\) labelled filled by cusnn-filled\.json/);
    writeSafetensors(f('imported.safetensors'), graph, back, 'fp32');
    expect(readSafetensors(f('imported.safetensors'), graph).weights.filled).toEqual(keys);
    // Writing real weights over the folder drops the stale label.
    writeCusnnBin(out, graph, ws);
    expect(fs.existsSync(path.join(out, 'cusnn-filled.json'))).toBe(false);
    expect(readCusnnBin(out, graph).filled).toEqual([]);
    // A folder with no file of the model is not "partial" even with --fill-missing.
    fs.mkdirSync(f('bin-empty'));
    expect(() => readCusnnBin(f('bin-empty'), graph, { fillMissing: true })).toThrow(/holds none of the model's 2 layer files/);
  });
});
