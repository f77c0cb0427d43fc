import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { paramSpecs, size, tensorKey } from '../../src/model/ir.js';
import { buildModel } from '../../src/model/zoo/index.js';
import { binFileName, readCusnnBin, writeCusnnBin } from '../../src/weights/cusnn-bin.js';
import { loadWeights } from '../../src/weights/load.js';
import { getTensor, specsByLayer, validateWeights } from '../../src/weights/store.js';
import { syntheticWeights } from '../../src/weights/synthetic.js';
import { seedFor, TEST_SEED } from './helpers.js';

const repoRoot = fileURLToPath(new URL('../..', import.meta.url));
const ARTIFACT = process.env.CUSNN_ARTIFACT ?? path.resolve(repoRoot, '../shared/cusnn-artifact');
const REAL = path.join(ARTIFACT, 'weights');

// The layers absent from the public snapshot, per the artifact's README.
const MISSING: Record<string, readonly string[]> = {
  resnet50: [
    'conv5_block1_0_conv', 'conv5_block1_2_conv', 'conv5_block1_3_conv', 'conv5_block2_1_conv', 'conv5_block2_2_conv',
    'conv5_block2_3_conv', 'conv5_block3_1_conv', 'conv5_block3_2_conv', 'conv5_block3_3_conv', 'predictions',
  ],
  densenet169: ['predictions'],
  densenet201: ['pool4_conv', 'predictions'],
};

let dir: string;
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cusnn-bin-'));
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

const haveReal = fs.existsSync(REAL);
if (!haveReal) console.warn(`cuSNN artifact weights not found at ${REAL} (set CUSNN_ARTIFACT): real-data tests skipped`);

describe.skipIf(!haveReal)(`cuSNN .bin reader on the real artifact data (${REAL})`, () => {
  for (const [model, missing] of Object.entries(MISSING)) {
    describe(model, () => {
      const graph = buildModel(model);
      const folder = path.join(REAL, model);

      it('reports the first missing layer by name, file and expected size, and lists the others', () => {
        const first = missing[0]!;
        const specs = specsByLayer(graph).get(first)!;
        const floats = specs.reduce((n, s) => n + size(s.shape), 0);
        let msg = '';
        try {
          readCusnnBin(folder, graph);
        } catch (e) {
          msg = (e as Error).message;
        }
        expect(msg).toContain(`layer '${first}' is missing`);
        expect(msg).toContain(path.join(folder, binFileName(first)));
        expect(msg).toContain(`${floats} floats = ${floats * 4} bytes`);
        for (const m of missing.slice(1)) expect(msg).toContain(m);
      });

      it('--fill-missing reads every present layer and fills exactly the documented missing ones', () => {
        const ws = readCusnnBin(folder, graph, { fillMissing: true });
        validateWeights(graph, ws);
        const filledLayers = new Set(ws.filled.map((k) => k.slice(0, k.lastIndexOf(':'))));
        expect([...filledLayers].sort()).toEqual([...missing].sort());
        expect(ws.source).toContain(`${missing.length} missing layer(s) filled synthetically`);
        // Present layers hold the file's bytes, in paramSpecs order.
        for (const [layer, specs] of specsByLayer(graph)) {
          if (missing.includes(layer)) continue;
          const bytes = fs.readFileSync(path.join(folder, binFileName(layer)));
          let at = 0;
          for (const s of specs) {
            const t = getTensor(ws, s.layer, s.role);
            expect(Buffer.from(t.buffer, t.byteOffset, t.byteLength).equals(bytes.subarray(at, at + t.byteLength)), `${layer}:${s.role}`).toBe(true);
            at += t.byteLength;
          }
        }
      });

      it('batch-norm tensors look like trained ones', () => {
        const ws = readCusnnBin(folder, graph, { fillMissing: true });
        let bns = 0;
        for (const s of paramSpecs(graph)) {
          const t = getTensor(ws, s.layer, s.role);
          let bad = 0;
          for (let i = 0; i < t.length; i++) if (!Number.isFinite(t[i]!)) bad++;
          expect(bad, `${s.layer}:${s.role} non-finite values`).toBe(0);
          if (s.role === 'moving_variance') {
            bns++;
            for (const x of t) if (!(x > 0)) expect(x, s.layer).toBeGreaterThan(0);
          }
          if (s.role === 'gamma') {
            // Trained gammas are mostly positive; a file read in the wrong order (e.g. variances
            // as gammas) would not have mean |gamma| in a sane range.
            const mean = t.reduce((a, b) => a + Math.abs(b), 0) / t.length;
            expect(mean, s.layer).toBeGreaterThan(0.01);
            expect(mean, s.layer).toBeLessThan(20);
          }
        }
        expect(bns).toBe(graph.layers.filter((l) => l.op === 'batchnorm').length);
      });
    });
  }

  it('a wrong-size file is an error naming the layer, the file, the expected and the actual size, even with fillMissing', () => {
    const graph = buildModel('densenet169');
    const copy = path.join(dir, 'd169');
    fs.mkdirSync(copy);
    for (const f of fs.readdirSync(path.join(REAL, 'densenet169'))) fs.symlinkSync(path.join(REAL, 'densenet169', f), path.join(copy, f));
    fs.rmSync(path.join(copy, 'conv1_bn.bin'));
    fs.writeFileSync(path.join(copy, 'conv1_bn.bin'), Buffer.alloc(4 * 255));
    expect(() => readCusnnBin(copy, graph, { fillMissing: true })).toThrow(
      `densenet169 weights: layer 'conv1/bn': ${path.join(copy, 'conv1_bn.bin')} has the wrong size: expected 256 floats = 1024 bytes (gamma 64 + beta 64 + moving_mean 64 + moving_variance 64), found 1020 bytes (255 floats)`,
    );
  });
});

describe(`cuSNN .bin export -> import round trip (CUSNN_TEST_SEED=${TEST_SEED})`, () => {
  it('densenet121 (DenseNet names with "/"): identical tensors', () => {
    const graph = buildModel('densenet121');
    const ws = syntheticWeights(graph, seedFor(1));
    const out = path.join(dir, 'export-d121');
    writeCusnnBin(out, graph, ws);
    const files = fs.readdirSync(out).sort();
    expect(files).toEqual([...specsByLayer(graph).keys()].map(binFileName).sort());
    expect(files).toContain('conv1_conv.bin');
    expect(fs.statSync(path.join(out, 'conv1_conv.bin')).size).toBe(64 * 3 * 7 * 7 * 4);
    const back = loadWeights(graph, { path: out });
    expect(back.filled).toEqual([]);
    for (const s of paramSpecs(graph)) {
      const a = getTensor(ws, s.layer, s.role);
      const b = getTensor(back, s.layer, s.role);
      expect(Buffer.from(b.buffer, b.byteOffset, b.byteLength).equals(Buffer.from(a.buffer, a.byteOffset, a.byteLength)), tensorKey(s.layer, s.role)).toBe(true);
    }
  });

  it('resnet50 layout: conv kernel then bias in one file; fillMissing fills only the deleted layer', () => {
    const graph = buildModel('resnet50');
    const ws = syntheticWeights(graph, seedFor(2));
    const out = path.join(dir, 'export-r50');
    writeCusnnBin(out, graph, ws);
    const bytes = fs.readFileSync(path.join(out, 'conv1_conv.bin'));
    const k = getTensor(ws, 'conv1_conv', 'kernel');
    const b = getTensor(ws, 'conv1_conv', 'bias');
    expect(bytes.length).toBe(4 * (k.length + b.length));
    expect(new Float32Array(bytes.buffer, bytes.byteOffset + 4 * k.length, 64)).toEqual(b);
    fs.rmSync(path.join(out, 'conv3_block2_2_conv.bin'));
    expect(() => readCusnnBin(out, graph)).toThrow(/layer 'conv3_block2_2_conv' is missing: no file .*conv3_block2_2_conv\.bin \(expected 147584 floats = 590336 bytes: kernel 128x128x3x3 \+ bias 128\)/);
    const filled = readCusnnBin(out, graph, { fillMissing: true, seed: 5 });
    expect(filled.filled).toEqual(['conv3_block2_2_conv:kernel', 'conv3_block2_2_conv:bias']);
    expect(getTensor(filled, 'conv3_block2_3_conv', 'kernel')).toEqual(getTensor(ws, 'conv3_block2_3_conv', 'kernel'));
  });
});
