import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { buildModel } from '../../src/model/zoo/index.js';
import { readCalibration } from '../../src/sparsity/calibration.js';
import { sparsityProfile } from '../../src/sparsity/profile.js';
import { weightPattern } from '../../src/sparsity/weights.js';
import { syntheticWeights } from '../../src/weights/synthetic.js';

const tmp = mkdtempSync(join(tmpdir(), 'cusnn-sp-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
const seed = Math.floor(Math.random() * 1e9);

describe('weight patterns', () => {
  it('counts zeros, nonzeros per output channel and all-zero RxS kernels', () => {
    const [k, c, r, s] = [5, 7, 3, 3];
    const w = new Float32Array(k * c * r * s).map(() => (Math.random() < 0.6 ? 0 : Math.random() + 0.1));
    // make output channel 2's kernel for input channel 4 entirely zero, and channel 3 fully dense
    for (let j = 0; j < 9; j++) w[(2 * c + 4) * 9 + j] = 0;
    for (let j = 0; j < c * 9; j++) w[3 * c * 9 + j] = 1 + Math.random();
    const p = weightPattern(w, [k, c, r, s]);
    const zeros = w.filter((x) => x === 0).length;
    expect(p.sparsity).toBeCloseTo(zeros / w.length, 12);
    const perK = Array.from({ length: k }, (_, o) => w.subarray(o * c * 9, (o + 1) * c * 9).filter((x) => x !== 0).length);
    expect(p.nnzPerOutChannel).toEqual({ min: Math.min(...perK), mean: (w.length - zeros) / k, max: c * 9 });
    let zk = 0;
    for (let i = 0; i < k * c; i++) if (w.subarray(i * 9, i * 9 + 9).every((x) => x === 0)) zk++;
    expect(p.zeroKernels).toBe(zk);
    expect(p.zeroKernels).toBeGreaterThanOrEqual(1);
    expect(() => weightPattern(w.subarray(1), [k, c, r, s])).toThrow(/needs 315/);
  });
});

describe('calibration files', () => {
  const write = (name: string, data: unknown) => {
    const f = join(tmp, name);
    writeFileSync(f, JSON.stringify(data));
    return f;
  };
  it('rejects another model, bad figures and bad JSON with the file and layer named', () => {
    const ok = { format: 'cusnn-calibration/1', model: 'resnet50', images: 32, layers: { conv2_block1_2_conv: { inputSparsity: 0.4 } } };
    expect(readCalibration(write('ok.json', ok), 'resnet50').layers.conv2_block1_2_conv!.inputSparsity).toBe(0.4);
    expect(() => readCalibration(write('m.json', ok), 'vgg16')).toThrow(/m\.json: measured on model 'resnet50', not 'vgg16'/);
    const bad = { ...ok, layers: { conv2_block1_2_conv: { inputSparsity: 1.5 } } };
    expect(() => readCalibration(write('b.json', bad), 'resnet50')).toThrow(/b\.json: layer 'conv2_block1_2_conv' inputSparsity must be a number in \[0, 1\]/);
    writeFileSync(join(tmp, 'x.json'), '{not json');
    expect(() => readCalibration(join(tmp, 'x.json'), 'resnet50')).toThrow(/x\.json: cannot read/);
    expect(() => readCalibration(write('f.json', { ...ok, format: 'v0' }), 'resnet50')).toThrow(/expected "format"/);
  });
});

describe('sparsity profile', () => {
  it('estimates input sparsity of every conv from the weights, labelled as an estimate', () => {
    for (const m of ['resnet50', 'densenet121', 'vgg16']) {
      const g = buildModel(m);
      const sp = sparsityProfile(g, syntheticWeights(g, seed));
      expect(sp.activationSource).toMatch(/ESTIMATE/);
      const convs = [...sp.convs.values()];
      expect(convs[0]!.inputSource).toBe('image');
      expect(convs[0]!.inputSparsity).toBe(0);
      const threeByThree = convs.filter((c) => c.inputSource === 'estimate' && g.layers.find((l) => l.name === c.layer)!.op === 'conv'
        && (g.layers.find((l) => l.name === c.layer) as unknown as { kernel: number[] }).kernel[0] === 3);
      const mean = threeByThree.reduce((s, c) => s + c.inputSparsity, 0) / threeByThree.length;
      // Synthetic BN statistics target 45% -> 85% zeros after each BN -> ReLU.
      expect(mean, m).toBeGreaterThan(0.4);
      expect(mean, m).toBeLessThan(0.9);
      for (const c of convs) expect(c.weights.sparsity).toBeLessThan(1e-3); // dense; a 24-bit uniform draw hits 0 exactly once in 2^24
    }
  });

  it('takes measured figures from a calibration and estimates only what it lacks', () => {
    const g = buildModel('densenet121');
    const layers = { 'conv2_block1_2_conv': { inputSparsity: 0.123 }, 'conv5_block16_2_conv': { inputSparsity: 0.987 } };
    const data = { format: 'cusnn-calibration/1' as const, model: 'densenet121', images: 4, layers };
    const sp = sparsityProfile(g, syntheticWeights(g, seed), { calibration: { path: 'cal.json', data } });
    expect(sp.convs.get('conv2_block1_2_conv')).toMatchObject({ inputSparsity: 0.123, inputSource: 'calibration' });
    expect(sp.convs.get('conv5_block16_2_conv')).toMatchObject({ inputSparsity: 0.987, inputSource: 'calibration' });
    expect(sp.convs.get('conv3_block1_2_conv')!.inputSource).toBe('estimate');
    expect(sp.activationSource).toMatch(/measured: cal\.json \(4 images\); ESTIMATE for \d+ convs/);
  });
});
