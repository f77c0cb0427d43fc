import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { GraphBuilder } from '../../src/model/builder.js';
import { paramSpecs, size, tensorKey, type ConvLayer, type Graph } from '../../src/model/ir.js';
import { buildModel, MODEL_NAMES } from '../../src/model/zoo/index.js';
import { reluZeroFraction } from '../../src/sparsity/gaussian.js';
import { fnv1a32, Rng } from '../../src/weights/prng.js';
import { getTensor, validateWeights, type WeightSet } from '../../src/weights/store.js';
import { analyticStats, syntheticWeights, targetZeroFractions, type ChannelStats } from '../../src/weights/synthetic.js';
import { seedFor, TEST_SEED } from './helpers.js';

let salt = 0;
const randomSeed = (): number => seedFor(++salt);

function sha256(graph: Graph, ws: WeightSet): string {
  const h = createHash('sha256');
  for (const s of paramSpecs(graph)) {
    const t = getTensor(ws, s.layer, s.role);
    h.update(new Uint8Array(t.buffer, t.byteOffset, t.byteLength));
  }
  return h.digest('hex');
}

/** Mean over channels of the analytic zero fraction of every ReLU's output. */
function reluZeros(graph: Graph, stats: ReadonlyMap<string, ChannelStats>): Map<string, number> {
  const out = new Map<string, number>();
  for (const l of graph.layers) {
    if (l.op !== 'relu') continue;
    const s = stats.get(l.inputs[0]!)!;
    let z = 0;
    for (let i = 0; i < s.mean.length; i++) z += reluZeroFraction(s.mean[i]!, s.variance[i]!);
    out.set(l.name, z / s.mean.length);
  }
  return out;
}

describe('PRNG', () => {
  it('xoshiro128** reproduces the reference sequence from state (1, 2, 3, 4)', () => {
    const r = Rng.fromState(1, 2, 3, 4);
    expect(Array.from({ length: 8 }, () => r.nextU32())).toEqual([11520, 0, 5927040, 70819200, 2031721883, 1637235492, 1287239034, 3734860849]);
  });
  it('FNV-1a 32 known values', () => {
    expect(fnv1a32('')).toBe(0x811c9dc5);
    expect(fnv1a32('a')).toBe(0xe40c292c);
    expect(fnv1a32('foobar')).toBe(0xbf9cf968);
  });
  it('bulk fill equals scalar draws', () => {
    const seed = randomSeed();
    const a = new Float32Array(1000);
    Rng.forKey(seed, 'x').fillSymmetric(a, 0.25);
    const r = Rng.forKey(seed, 'x');
    for (let i = 0; i < a.length; i++) expect(a[i]).toBe(Math.fround(((r.nextU32() >>> 8) - 2 ** 23) * (0.25 / 2 ** 23)));
  });
});

describe(`synthetic weights: determinism (CUSNN_TEST_SEED=${TEST_SEED})`, () => {
  const graph = buildModel('densenet121');

  it('pinned: densenet121 seed 0 has the same bytes on every machine', () => {
    const ws = syntheticWeights(graph, 0);
    // Spot values first, so a mismatch says whether the PRNG or the statistics moved.
    expect(Array.from(getTensor(ws, 'conv1/conv', 'kernel').slice(0, 3))).toEqual([0.16676416993141174, 0.060071781277656555, -0.16506996750831604]);
    expect(Array.from(getTensor(ws, 'conv1/bn', 'gamma').slice(0, 3))).toEqual([0.8506354093551636, 0.8106212615966797, 1.3425666093826294]);
    expect(Array.from(getTensor(ws, 'conv1/bn', 'moving_variance').slice(0, 3))).toEqual([2.0194993019104004, 1.9912738800048828, 1.9138603210449219]);
    expect(Array.from(getTensor(ws, 'conv1/bn', 'beta').slice(0, 3))).toEqual([0.04172218218445778, 0.12229499965906143, 0.04143967479467392]);
    expect(sha256(graph, ws)).toBe('a65719e0d52cfc58eec5d28d8d50a74440ebcea7291cd2b5ad80b0fc6014c43b');
  });

  it('same seed -> identical bytes, different seed -> different tensors', () => {
    const seed = randomSeed();
    const a = syntheticWeights(graph, seed);
    const b = syntheticWeights(graph, seed);
    const c = syntheticWeights(graph, (seed + 1) >>> 0);
    expect(sha256(graph, a)).toBe(sha256(graph, b));
    expect(sha256(graph, a)).not.toBe(sha256(graph, c));
    for (const s of paramSpecs(graph)) {
      if (s.role === 'moving_mean' || s.role === 'moving_variance') continue; // derived, not drawn
      const x = getTensor(a, s.layer, s.role);
      const y = getTensor(c, s.layer, s.role);
      let same = 0;
      for (let i = 0; i < x.length; i++) if (x[i] === y[i]) same++;
      expect(same / x.length, `${s.layer}:${s.role}`).toBeLessThan(0.01);
    }
    expect([...a.tensors.keys()]).toEqual(paramSpecs(graph).map((s) => tensorKey(s.layer, s.role)));
    expect(a.source).toBe(`synthetic (seed ${seed})`);
    expect(a.filled).toEqual([]);
  });

  it('each kernel is drawn from its own stream (independent of generation order)', () => {
    const seed = randomSeed();
    const ws = syntheticWeights(graph, seed);
    for (const conv of graph.layers.filter((l): l is ConvLayer => l.op === 'conv').slice(0, 20)) {
      const k = getTensor(ws, conv.name, 'kernel');
      const fanIn = k.length / conv.outChannels;
      const alone = new Float32Array(k.length);
      Rng.forKey(seed, tensorKey(conv.name, 'kernel')).fillSymmetric(alone, Math.sqrt(6 / fanIn));
      expect(Buffer.from(alone.buffer).equals(Buffer.from(k.buffer, k.byteOffset, k.byteLength))).toBe(true);
    }
  });

  it('rejects seeds that are not 32-bit unsigned integers', () => {
    expect(() => syntheticWeights(graph, -1)).toThrow(/seed/);
    expect(() => syntheticWeights(graph, 1.5)).toThrow(/seed/);
    expect(() => syntheticWeights(graph, 2 ** 32)).toThrow(/seed/);
  });
});

describe(`synthetic weights: distributions (CUSNN_TEST_SEED=${TEST_SEED})`, () => {
  it('He-uniform kernels, positive gammas, small biases (resnet50, random seed)', () => {
    const graph = buildModel('resnet50');
    const ws = syntheticWeights(graph, randomSeed());
    validateWeights(graph, ws);
    for (const s of paramSpecs(graph)) {
      const t = getTensor(ws, s.layer, s.role);
      if (s.role === 'kernel') {
        const fanIn = size(s.shape) / s.shape[0]!;
        const a = Math.sqrt(6 / fanIn);
        let sum = 0;
        let sq = 0;
        let max = 0;
        for (const x of t) {
          sum += x;
          sq += x * x;
          max = Math.max(max, Math.abs(x));
        }
        expect(max).toBeLessThanOrEqual(a * (1 + 2 ** -23)); // float32 rounding of a
        expect(max).toBeGreaterThan(0.99 * a);
        expect(Math.abs(sum / t.length)).toBeLessThan((5 * a) / Math.sqrt(3 * t.length));
        expect(sq / t.length / (a * a / 3)).toBeCloseTo(1, 1);
      } else if (s.role === 'gamma') {
        for (const x of t) expect(x >= 0.6 && x <= 1.4).toBe(true);
      } else if (s.role === 'moving_variance') {
        for (const x of t) expect(x).toBeGreaterThan(0);
      } else if (s.role === 'bias' && s.layer !== 'predictions') {
        for (const x of t) expect(Math.abs(x)).toBeLessThanOrEqual(0.05);
      }
    }
  });
});

describe(`synthetic weights: trained-like batch norm and ReLU sparsity (CUSNN_TEST_SEED=${TEST_SEED})`, () => {
  it.each(MODEL_NAMES)('%s: moving_variance > 0, ReLU zero fractions in [0.4, 0.9], rising with depth', (name) => {
    const graph = buildModel(name);
    const ws = syntheticWeights(graph, randomSeed());
    for (const s of paramSpecs(graph)) {
      if (s.role !== 'moving_variance') continue;
      const v = getTensor(ws, s.layer, s.role);
      for (let i = 0; i < v.length; i++) if (!(v[i]! > 0)) expect(v[i], `${s.layer}[${i}]`).toBeGreaterThan(0);
    }
    const zeros = reluZeros(graph, analyticStats(graph, ws));
    const targets = targetZeroFractions(graph);
    expect([...zeros.keys()]).toEqual([...targets.keys()]); // every ReLU of the zoo is targeted
    for (const [relu, z] of zeros) {
      expect(z, relu).toBeGreaterThanOrEqual(0.4);
      expect(z, relu).toBeLessThanOrEqual(0.9);
      // Per-channel jitter is +-0.05, so the channel average sits close to the target.
      expect(Math.abs(z - targets.get(relu)!), relu).toBeLessThan(0.02);
    }
    const z = [...zeros.values()];
    expect(z[0]).toBeLessThan(0.5);
    expect(z.at(-1)).toBeGreaterThan(0.8);
  });

  it('the analytic zero fractions hold on a forward pass with Gaussian inputs (Monte Carlo)', () => {
    // Small net whose first conv sees i.i.d. Gaussian pixels, where the model is exact, then a
    // second BN/ReLU whose input is a sum of 16 rectified channels (approximately Gaussian).
    const b = new GraphBuilder('tiny', 'densenet', 'torch');
    let x = b.input('input', [3, 5, 5]);
    x = b.conv('c1', x, 16, { kernel: 3, bias: true });
    x = b.relu('r1', b.batchnorm('bn1', x, 1e-5));
    x = b.conv('c2', x, 8, { kernel: 1, bias: false });
    b.relu('r2', b.batchnorm('bn2', x, 1e-5));
    const graph = b.build();
    const ws = syntheticWeights(graph, randomSeed());
    const stats = analyticStats(graph, ws);
    const t = (l: string, r: 'kernel' | 'bias' | 'gamma' | 'beta' | 'moving_mean' | 'moving_variance'): Float32Array => getTensor(ws, l, r);
    const zerosWant = (_relu: string, input: string): Float64Array => {
      const s = stats.get(input)!;
      return s.mean.map((m, i) => reluZeroFraction(m, s.variance[i]!));
    };
    const want1 = zerosWant('r1', 'bn1');
    const want2 = zerosWant('r2', 'bn2');
    const bn = (v: number, l: string, c: number): number =>
      (t(l, 'gamma')[c]! * (v - t(l, 'moving_mean')[c]!)) / Math.sqrt(t(l, 'moving_variance')[c]! + 1e-5) + t(l, 'beta')[c]!;
    const rng = new Rng(TEST_SEED, 99);
    let u = 0;
    let spare: number | null = null;
    const gauss = (): number => {
      if (spare !== null) {
        const s = spare;
        spare = null;
        return s;
      }
      const a = rng.nextUnit() || 2 ** -25;
      const r = Math.sqrt(-2 * Math.log(a));
      const th = 2 * Math.PI * rng.nextUnit();
      spare = r * Math.sin(th);
      u++;
      return r * Math.cos(th);
    };
    const n = 3000;
    const z1 = new Float64Array(16);
    const z2 = new Float64Array(8);
    const img = new Float64Array(75);
    const h1 = new Float64Array(16 * 9);
    for (let it = 0; it < n; it++) {
      for (let i = 0; i < 75; i++) img[i] = gauss();
      for (let k = 0; k < 16; k++) {
        for (let p = 0; p < 9; p++) {
          const oy = Math.floor(p / 3);
          const ox = p % 3;
          let acc = t('c1', 'bias')[k]!;
          for (let c = 0; c < 3; c++) for (let r = 0; r < 3; r++) for (let s = 0; s < 3; s++) acc += t('c1', 'kernel')[((k * 3 + c) * 3 + r) * 3 + s]! * img[c * 25 + (oy + r) * 5 + ox + s]!;
          const y = Math.max(0, bn(acc, 'bn1', k));
          if (y === 0) z1[k]++;
          h1[k * 9 + p] = y;
        }
      }
      for (let k = 0; k < 8; k++) {
        for (let p = 0; p < 9; p++) {
          let acc = 0;
          for (let c = 0; c < 16; c++) acc += t('c2', 'kernel')[k * 16 + c]! * h1[c * 9 + p]!;
          if (bn(acc, 'bn2', k) <= 0) z2[k]++;
        }
      }
    }
    expect(u).toBeGreaterThan(0);
    for (let k = 0; k < 16; k++) expect(Math.abs(z1[k]! / (9 * n) - want1[k]!), `r1 channel ${k}`).toBeLessThan(0.03);
    const mean = (a: Float64Array): number => a.reduce((s, v) => s + v, 0) / a.length;
    // The rectified-then-summed input of r2 is only roughly Gaussian: compare the layer average.
    expect(Math.abs(mean(z2.map((v) => v / (9 * n))) - mean(want2))).toBeLessThan(0.04);
  });
});

describe('synthetic weights: speed (the whole CLI run has a 5 s budget)', () => {
  it('resnet152 in under 1.5 s, vgg16 in under 3 s', () => {
    for (const [name, limit] of [['resnet152', 1500], ['vgg16', 3000]] as const) {
      const graph = buildModel(name);
      const t0 = performance.now();
      const ws = syntheticWeights(graph, randomSeed());
      const ms = performance.now() - t0;
      expect(ws.tensors.size).toBe(paramSpecs(graph).length);
      expect(ms, `${name}: ${ms.toFixed(0)} ms`).toBeLessThan(limit);
    }
  });
});
