// Measured per-conv times (calibration.json "measured", written by `cusnn-gen calibrate` on the
// GPU) override the cost model: the plan emits exactly the kernel that was timed and decides by
// the times; times from another architecture, or for other tiles, are ignored. Random times per
// run (seed printed).
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { generate } from '../../src/generate.js';
import { readCalibration } from '../../src/sparsity/calibration.js';
import { mulberry32, testSeed } from '../helpers/random.js';

const seed = testSeed();
const rnd = mulberry32(seed);
const tmp = (): string => mkdtempSync(join(tmpdir(), 'cusnn-measured-'));

describe(`measured times decide the plan (seed ${seed})`, () => {
  it('flips decisions both ways, keeps measured tiles, ignores another architecture', () => {
    const base = generate({ model: 'resnet50', arch: 'sm_90', force: 'act-sparse', out: join(tmp(), 'f') });
    const layers: Record<string, unknown> = {};
    const want = new Map<string, 'cudnn' | 'act-sparse'>();
    // Per 3x3 layer: odd tiles (th 1, tw 1 never the model's pick at these shapes) with random
    // times, half of them faster than cuDNN.
    const threes = base.plan.convs.filter((c) => c.kernel[0] === 3 && c.spec);
    expect(threes.length).toBeGreaterThan(10);
    const tilesOf = new Map<string, { th: number; tw: number; tc: number; kb: number; cs: number }>();
    for (const c of threes) {
      const shapeKey = `${c.input.join('x')}-${c.output.join('x')}`;
      if (!tilesOf.has(shapeKey)) tilesOf.set(shapeKey, { th: 1, tw: 1, tc: 8, kb: 32, cs: 1 });
      const cudnnUs = 10 + 90 * rnd();
      const fast = rnd() < 0.5;
      const actSparseUs = fast ? cudnnUs / (1.1 + rnd()) : cudnnUs * (1.0 + rnd());
      want.set(c.layer, fast ? 'act-sparse' : 'cudnn');
      layers[c.layer] = { inputSparsity: 0.5 + 0.4 * rnd(), measured: { kernel: 'k', tiles: tilesOf.get(shapeKey), cudnnUs, cudnnAlgo: 'FFT', actSparseUs } };
    }
    const file = join(tmp(), 'cal.json');
    writeFileSync(file, JSON.stringify({ format: 'cusnn-calibration/1', model: 'resnet50', images: 3, gpu: 'NVIDIA H100 80GB HBM3', arch: 'sm_90', layers }));
    const g = generate({ model: 'resnet50', arch: 'sm_90', calibration: file, out: join(tmp(), 'm') });
    for (const c of g.plan.convs.filter((x) => want.has(x.layer))) {
      expect(c.decision, `${c.layer}: ${c.reason}`).toBe(want.get(c.layer));
      expect(c.reason).toMatch(/measured on NVIDIA H100 80GB HBM3: generated [\d.]+ us vs cuDNN [\d.]+ us/);
      if (c.decision === 'act-sparse') {
        expect(c.spec!.family === 'act-sparse' && c.spec!.th === 1 && c.spec!.tw === 1).toBe(true);
        expect(c.kernelName).toMatch(/_th1_tw1_/);
      }
    }
    // Another architecture: the times are ignored and the cost model decides as without them.
    writeFileSync(file, JSON.stringify({ format: 'cusnn-calibration/1', model: 'resnet50', images: 3, gpu: 'Tesla V100', arch: 'sm_70', layers }));
    const other = generate({ model: 'resnet50', arch: 'sm_90', calibration: file, out: join(tmp(), 'o') });
    for (const c of other.plan.convs) expect(c.reason).not.toMatch(/measured on/);
    expect(other.plan.convs.filter((c) => c.spec).every((c) => !(c.spec!.family === 'act-sparse' && c.spec!.th === 1 && c.spec!.tw === 1 && c.kernel[0] === 3))).toBe(true);
  });

  it('a measured igemm kernel decides its layer and is emitted exactly', () => {
    const layers: Record<string, unknown> = {};
    const want = new Map<string, 'cudnn' | 'act-sparse'>();
    const base = generate({ model: 'densenet121', arch: 'sm_90', force: 'act-sparse', out: join(tmp(), 'f') });
    // An unusual tile (bn 16, split 2) the rule never picks for these shapes, random times.
    const tiles = { family: 'igemm', bm: 32, bn: 16, bkc: 2, tm: 4, tn: 4, warpM: 8, split: 2, stages: 2 };
    for (const c of base.plan.convs.filter((x) => x.spec && x.output[0] % 4 === 0).slice(0, 40)) {
      const cudnnUs = 10 + 40 * rnd();
      const fast = rnd() < 0.5;
      want.set(c.layer, fast ? 'act-sparse' : 'cudnn');
      layers[c.layer] = { inputSparsity: 0.3 + 0.6 * rnd(), measured: { kernel: 'k', tiles, cudnnUs, cudnnAlgo: 'FFT', actSparseUs: fast ? cudnnUs / (1.1 + rnd()) : cudnnUs * (1 + rnd()) } };
    }
    const file = join(tmp(), 'cal.json');
    writeFileSync(file, JSON.stringify({ format: 'cusnn-calibration/1', model: 'densenet121', images: 2, gpu: 'NVIDIA H200', arch: 'sm_90', layers }));
    const g = generate({ model: 'densenet121', arch: 'sm_90', calibration: file, out: join(tmp(), 'm') });
    for (const c of g.plan.convs.filter((x) => want.has(x.layer))) {
      expect(c.decision, `${c.layer}: ${c.reason}`).toBe(want.get(c.layer));
      expect(c.reason).toMatch(/measured on NVIDIA H200: generated [\d.]+ us vs cuDNN/);
      if (c.decision === 'act-sparse') expect(c.kernelName).toMatch(/^igemm.*_bm32_bn16_bkc2_t4x4_wm8_z2_st2_/);
    }
  });

  it('rejects malformed measured times with the file and layer', () => {
    const file = join(tmp(), 'bad.json');
    const good = { kernel: 'k', tiles: { th: 2, tw: 7, tc: 8, kb: 32, cs: 1 }, cudnnUs: 50, cudnnAlgo: 'FFT', actSparseUs: 20 };
    const write = (layer: object, top: object = { gpu: 'g', arch: 'sm_90' }): void =>
      writeFileSync(file, JSON.stringify({ format: 'cusnn-calibration/1', model: 'resnet50', images: 1, ...top, layers: { conv2_block1_2_conv: layer } }));
    write({ inputSparsity: 0.5, measured: good });
    expect(readCalibration(file, 'resnet50').layers.conv2_block1_2_conv!.measured!.actSparseUs).toBe(20);
    write({ inputSparsity: 0.5, measured: { ...good, actSparseUs: -1 } });
    expect(() => readCalibration(file, 'resnet50')).toThrow(/bad\.json: layer 'conv2_block1_2_conv' "measured" must have/);
    write({ inputSparsity: 0.5, measured: { ...good, tiles: { th: 2 } } });
    expect(() => readCalibration(file, 'resnet50')).toThrow(/"measured" must have kernel, tiles/);
    write({ inputSparsity: 0.5, measured: good }, {});
    expect(() => readCalibration(file, 'resnet50')).toThrow(/names no "gpu" and "arch"/);
  });
});
