// `cusnn-gen bench --model file.onnx`: an ONNX model is benched like a zoo name, with its own
// weights (the file's initializers), in a build folder named after the file, through the mock addon
// (test/bench/mock-addon.ts) on a machine without a GPU; and the model list and weights choice the
// CLI makes of ONNX paths.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runBench } from '../../src/bench/bench.js';
import { expandModels, resolveWeights } from '../../src/bench/prepare.js';
import { writeOnnx } from '../../src/model/onnx/export.js';
import { buildModel } from '../../src/model/zoo/index.js';
import { syntheticWeights } from '../../src/weights/synthetic.js';
import { testSeed } from '../helpers/random.js';
import { installMockFolder, mockConfig } from '../bench/mock-addon.js';

const SEED = testSeed();
beforeAll(() => console.info(`onnx bench seed ${SEED} (CUSNN_TEST_SEED=${SEED} repeats it)`));
const tmp = mkdtempSync(join(tmpdir(), 'cusnn-onnx-bench-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('bench of an ONNX model', () => {
  it('model list and weights choice', () => {
    const file = join(tmp, 'net.onnx');
    writeFileSync(file, 'x');
    expect(expandModels({ model: `resnet50,${file}` })).toEqual(['resnet50', file]);
    expect(() => expandModels({ model: join(tmp, 'missing.onnx') })).toThrow(/--model: ONNX model '.*missing\.onnx' does not exist/);
    mkdirSync(join(tmp, 'other'));
    writeFileSync(join(tmp, 'other', 'net.onnx'), 'x');
    expect(() => expandModels({ model: `${file},${join(tmp, 'other', 'net.onnx')}` })).toThrow(/would share the build folder net-<arch>: rename one/);
    expect(expandModels({ model: `${file},${file}` })).toEqual([file]);
    expect(resolveWeights(file, null)).toEqual({ kind: 'real', path: file, fillMissing: false, why: `the initializers of ${file}` });
    // A weights folder's file of the same name is a zoo model's: the ONNX file keeps its own.
    writeFileSync(join(tmp, 'net.safetensors'), 'x');
    expect(resolveWeights(file, tmp)).toMatchObject({ kind: 'real', path: file });
  });

  it('resnet50 exported to ONNX: benched with its own weights, in <name>-<arch>, named after the file', async () => {
    const graph = buildModel('resnet50');
    const seed = SEED % 1000;
    const file = join(tmp, 'r50.onnx');
    writeOnnx(file, graph, syntheticWeights(graph, seed));
    const buildDir = join(tmp, 'build');
    // The "built" folder the bench reuses (the mock addon stands for the native one).
    const dir = installMockFolder(buildDir, file, { weights: file, name: 'r50-sm_90' });
    writeFileSync(join(dir, 'build', 'cusnn-addon.json'), JSON.stringify({ format: 'cusnn-addon/1', node: 'mock-addon.cjs', target: 'cusnn_r50_onnx_sm_90', generatedArch: 'sm_90', arch: 'sm_90', nvcc: null, seconds: 0 }));
    const c = mockConfig();
    for (const k of Object.keys(c)) delete (c as Record<string, unknown>)[k];
    const log: string[] = [];
    const r = await runBench({ models: [file], arch: 'sm_90', weightsDir: null, imagesDir: null, out: join(tmp, 'out'), buildDir, iters: 100, layerIters: 5,
      energySeconds: 0, checkInputs: 2, seed }, { log: (s) => log.push(s) });
    expect(r.runs).toHaveLength(1);
    const m = r.runs[0]!;
    expect(m.error, m.error).toBeUndefined();
    expect(m).toMatchObject({ model: 'r50.onnx', weights: 'real', weightsSource: file, buildReused: true, convLayers: 53 });
    expect(m.correctness.passed).toBe(true);
    expect(m.notes).toContain(`weights: the initializers of ${file} (whatever they were trained on, or not)`);
    expect(m.layers.map((l) => l.layer)).toContain('conv2_block1_2_conv');
    expect(log.join('\n')).toMatch(/r50-sm_90: unchanged since the last build .*: reused/);
    expect(mockConfig().created).toEqual(expect.arrayContaining(['r50.onnx/1/static/search', 'r50.onnx/1/cudnn/search']));
  }, 60_000);
});
