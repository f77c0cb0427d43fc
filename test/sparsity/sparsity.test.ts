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
    expect(() => readCalibration(write('b.json', bad), 'resnet50')).toThrow(/b\.json: layer 'conv2_block1_2_conv' inputSparsity: expected a finite number in \[0, 1\], found 1\.5$/);
    writeFileSync(join(tmp, 'x.json'), '{not json');
    expect(() => readCalibration(join(tmp, 'x.json'), 'resnet50')).toThrow(/x\.json: not valid JSON/);
    expect(() => readCalibration(join(tmp, 'nope.json'), 'resnet50')).toThrow(/nope\.json: cannot read \(no such file\)/);
    expect(() => readCalibration(write('f.json', { ...ok, format: 'v0' }), 'resnet50')).toThrow(/f\.json: format: expected "cusnn-calibration\/1", found "v0"/);
  });

  it('null documents, null layers, huge or non-finite figures and both tile shapes: one line naming the file and the layer', () => {
    const ok = { format: 'cusnn-calibration/1', model: 'resnet50', images: 32, layers: { conv2_block1_2_conv: { inputSparsity: 0.4 } } };
    const oneLine = (f: () => unknown, re: RegExp): void => {
      let msg = '';
      try {
        f();
      } catch (e) {
        expect(e).not.toBeInstanceOf(TypeError);
        msg = (e as Error).message;
      }
      expect(msg).toMatch(re);
      expect(msg).not.toContain('\n');
    };
    oneLine(() => readCalibration(write('null.json', null), 'resnet50'), /null\.json: expected a JSON object .*found null/);
    oneLine(() => readCalibration(write('nl.json', { ...ok, layers: { conv2_block1_2_conv: null } }), 'resnet50'), /nl\.json: layer 'conv2_block1_2_conv': expected an object with inputSparsity, found null/);
    oneLine(() => readCalibration(write('nolayers.json', { ...ok, layers: null }), 'resnet50'), /nolayers\.json: layers: expected .*found null/);
    writeFileSync(join(tmp, 'huge.json'), JSON.stringify(ok).replace('32', '1e400'));
    oneLine(() => readCalibration(join(tmp, 'huge.json'), 'resnet50'), /huge\.json: images: expected an integer >= 1, found Infinity/);
    const measured = (tiles: unknown) => ({ ...ok, gpu: 'H100', arch: 'sm_90', layers: { conv2_block1_2_conv: { inputSparsity: 0.4, measured: { kernel: 'k', tiles, cudnnUs: 3, cudnnAlgo: 'IMPLICIT_GEMM', actSparseUs: 2 } } } });
    const act = { th: 2, tw: 7, tc: 8, kb: 32, cs: 4 };
    const igemm = { family: 'igemm', bm: 64, bn: 32, bkc: 8, tm: 4, tn: 4, warpM: 8, split: 2, stages: 3 };
    expect(readCalibration(write('act.json', measured(act)), 'resnet50').layers.conv2_block1_2_conv!.measured!.tiles).toEqual(act);
    expect(readCalibration(write('ig.json', measured(igemm)), 'resnet50').layers.conv2_block1_2_conv!.measured!.tiles).toEqual(igemm);
    oneLine(() => readCalibration(write('ig2.json', measured({ ...igemm, split: 0 })), 'resnet50'), /ig2\.json: layer 'conv2_block1_2_conv' "measured" must have .*; measured\.tiles\.split: expected an integer >= 1, found 0/);
    oneLine(() => readCalibration(write('act2.json', measured({ ...act, kb: null })), 'resnet50'), /act2\.json: layer 'conv2_block1_2_conv' "measured" must have .*; measured\.tiles\.kb: expected an integer >= 1, found null/);
    oneLine(() => readCalibration(write('us.json', { ...measured(act), gpu: undefined }), 'resnet50'), /us\.json: layer 'conv2_block1_2_conv' has "measured" times but the file names no "gpu"/);
  });

  it('a calibration whose layers are not convs of the model is rejected, naming them', () => {
    const graph = buildModel('resnet50');
    const ws = syntheticWeights(graph, seed);
    const other = { format: 'cusnn-calibration/1', model: 'resnet50', images: 4, layers: { conv0_block9_conv: { inputSparsity: 0.4 }, 'pool1/x': { inputSparsity: 0.5 } } };
    const f = write('foreign.json', other);
    expect(() => sparsityProfile(graph, ws, { calibration: { path: f, data: readCalibration(f, 'resnet50') } })).toThrow(/foreign\.json: none of its 2 layers is a conv of resnet50 \('conv0_block9_conv', 'pool1\/x'\)/);
    const convs = graph.layers.filter((l) => l.op === 'conv').map((l) => l.name);
    const partly = { ...other, layers: { conv2_block1_2_conv: { inputSparsity: 0.4 }, conv2_block1_9_conv: { inputSparsity: 0.4 } } };
    expect(() => readCalibration(write('partly.json', partly), 'resnet50', convs)).toThrow(/partly\.json: 1 layer\(s\) are not convs of resnet50: 'conv2_block1_9_conv'/);
  });
});

describe('weights the estimate cannot use', () => {
  const graph = buildModel('resnet50');
  const base = syntheticWeights(graph, seed);
  const withValue = (key: string, i: number, v: number) => {
    const tensors = new Map(base.tensors);
    const t = new Float32Array(tensors.get(key)!);
    t[i] = v;
    tensors.set(key, t);
    return { ...base, tensors };
  };
  it('NaN in a kernel or a batch-norm vector, Inf or negative moving_variance: an error naming the layer, never a NaN sparsity', () => {
    expect(() => sparsityProfile(graph, withValue('conv3_block1_1_conv:kernel', 17, NaN))).toThrow(/layer 'conv3_block1_1_conv'.*tensor 'conv3_block1_1_conv:kernel' value 17 .* is NaN; weights must be finite/);
    expect(() => sparsityProfile(graph, withValue('conv2_block2_1_bn:gamma', 3, NaN))).toThrow(/layer 'conv2_block2_1_bn'.*is NaN/);
    expect(() => sparsityProfile(graph, withValue('conv2_block2_1_bn:moving_variance', 0, Infinity))).toThrow(/layer 'conv2_block2_1_bn'.*moving_variance' value 0 .* is Infinity/);
    expect(() => sparsityProfile(graph, withValue('conv2_block2_1_bn:moving_variance', 5, -2))).toThrow(/layer 'conv2_block2_1_bn'.*moving_variance' value 5 .* is -2; a batch norm's moving variance must be >= 0/);
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
