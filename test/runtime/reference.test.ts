import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { GraphBuilder, type ConvOptions } from '../../src/model/builder.js';
import { paramSpecs, size, tensorKey, type Graph, type Padding, type TensorRole } from '../../src/model/ir.js';
import { buildModel } from '../../src/model/zoo/index.js';
import { listImages, preprocess, readImage } from '../../src/runtime/images.js';
import { referenceForward } from '../../src/runtime/reference.js';
import { loadWeights } from '../../src/weights/load.js';
import { Rng } from '../../src/weights/prng.js';
import { getTensor, type WeightSet } from '../../src/weights/store.js';
import { seedFor, TEST_SEED } from '../weights/helpers.js';

const rng = new Rng(seedFor(401), 0);

// ---------------------------------------------------------------------------------------------
// Random tiny networks and an independent, naive computation of each op.

/** Random parameters for every tensor of `graph`; batch-norm variances stay positive. */
function randomWeights(graph: Graph): WeightSet {
  const range: Record<TensorRole, [number, number]> = {
    kernel: [-1, 1], bias: [-1, 1], gamma: [0.5, 1.5], beta: [-0.5, 0.5], moving_mean: [-0.5, 0.5], moving_variance: [0.05, 2],
  };
  const tensors = new Map<string, Float32Array>();
  for (const s of paramSpecs(graph)) {
    const [lo, hi] = range[s.role];
    tensors.set(tensorKey(s.layer, s.role), Float32Array.from({ length: size(s.shape) }, () => rng.uniform(lo, hi)));
  }
  return { model: graph.name, source: `random (test seed ${TEST_SEED})`, tensors, filled: [] };
}

/** U(-1, 1) values with about `zeroFraction` of them exactly 0 (as after a ReLU). */
function randomInput(n: number, zeroFraction = 0): Float32Array {
  return Float32Array.from({ length: n }, () => (rng.nextUnit() < zeroFraction ? 0 : rng.uniform(-1, 1)));
}

/** A plain NCHW tensor with an element accessor: the naive ops index it one element at a time. */
class T {
  constructor(readonly n: number, readonly c: number, readonly h: number, readonly w: number, readonly data: Float64Array) {
    expect(data.length).toBe(n * c * h * w);
  }
  static of(n: number, c: number, h: number, w: number, d: ArrayLike<number>): T {
    return new T(n, c, h, w, Float64Array.from(d));
  }
  static zeros(n: number, c: number, h: number, w: number): T {
    return new T(n, c, h, w, new Float64Array(n * c * h * w));
  }
  at(n: number, c: number, y: number, x: number): number {
    return ((n * this.c + c) * this.h + y) * this.w + x;
  }
  get(n: number, c: number, y: number, x: number): number {
    return this.data[this.at(n, c, y, x)]!;
  }
}

/** Keras ZeroPadding2D: a bigger tensor with the input in the middle and zeros around it. */
function zeroPad(x: T, p: Padding): T {
  const out = T.zeros(x.n, x.c, x.h + p.top + p.bottom, x.w + p.left + p.right);
  for (let n = 0; n < x.n; n++)
    for (let c = 0; c < x.c; c++)
      for (let y = 0; y < x.h; y++) for (let xx = 0; xx < x.w; xx++) out.data[out.at(n, c, y + p.top, xx + p.left)] = x.get(n, c, y, xx);
  return out;
}

/** Valid convolution of the explicitly padded input, one output element at a time. */
function naiveConv(x: T, wt: Float32Array, bias: Float32Array | null, k: number, r: number, s: number, stride: number, pad: Padding, groups: number): T {
  const xp = zeroPad(x, pad);
  const ho = Math.floor((xp.h - r) / stride) + 1;
  const wo = Math.floor((xp.w - s) / stride) + 1;
  const cg = x.c / groups;
  const out = T.zeros(x.n, k, ho, wo);
  for (let n = 0; n < x.n; n++)
    for (let kk = 0; kk < k; kk++) {
      const g = Math.floor(kk / (k / groups));
      for (let oy = 0; oy < ho; oy++)
        for (let ox = 0; ox < wo; ox++) {
          let sum = bias ? bias[kk]! : 0;
          for (let ci = 0; ci < cg; ci++)
            for (let dr = 0; dr < r; dr++)
              for (let ds = 0; ds < s; ds++) sum += wt[((kk * cg + ci) * r + dr) * s + ds]! * xp.get(n, g * cg + ci, oy * stride + dr, ox * stride + ds);
          out.data[out.at(n, kk, oy, ox)] = sum;
        }
    }
  return out;
}

function naivePool(x: T, op: 'max' | 'avg', k: number, stride: number, pad: Padding): T {
  const xp = zeroPad(x, pad);
  const ho = Math.floor((xp.h - k) / stride) + 1;
  const wo = Math.floor((xp.w - k) / stride) + 1;
  const out = T.zeros(x.n, x.c, ho, wo);
  for (let n = 0; n < x.n; n++)
    for (let c = 0; c < x.c; c++)
      for (let oy = 0; oy < ho; oy++)
        for (let ox = 0; ox < wo; ox++) {
          const window: number[] = [];
          for (let dr = 0; dr < k; dr++) for (let ds = 0; ds < k; ds++) window.push(xp.get(n, c, oy * stride + dr, ox * stride + ds));
          out.data[out.at(n, c, oy, ox)] = op === 'max' ? Math.max(...window) : window.reduce((a, b) => a + b, 0) / window.length;
        }
  return out;
}

/** Largest |a - b| relative to the largest |b| (1 when b is all zeros). */
function relErr(a: Float64Array, b: Float64Array): number {
  expect(a.length).toBe(b.length);
  let err = 0;
  let scale = 0;
  for (let i = 0; i < a.length; i++) {
    err = Math.max(err, Math.abs(a[i]! - b[i]!));
    scale = Math.max(scale, Math.abs(b[i]!));
  }
  return err / (scale || 1);
}

/** The graph's one output after a forward pass. */
function only(outputs: Map<string, Float64Array>, name: string): Float64Array {
  expect([...outputs.keys()]).toEqual([name]);
  return outputs.get(name)!;
}

const TOL = 1e-12;

// ---------------------------------------------------------------------------------------------

describe(`reference ops against naive computations (seed ${TEST_SEED})`, () => {
  const convCases: { name: string; c: number; h: number; w: number; k: number; o: ConvOptions }[] = [
    { name: '3x3/s1/p1 with bias', c: 5, h: 9, w: 11, k: 6, o: { kernel: 3, pad: { top: 1, bottom: 1, left: 1, right: 1 }, bias: true } },
    { name: '3x3/s2/p1 odd and even sizes', c: 8, h: 10, w: 9, k: 4, o: { kernel: 3, stride: 2, pad: { top: 1, bottom: 1, left: 1, right: 1 }, bias: false } },
    { name: '1x1/s2', c: 8, h: 9, w: 8, k: 12, o: { kernel: 1, stride: 2, bias: true } },
    { name: '1x1/s1 (the whole-plane path)', c: 7, h: 6, w: 5, k: 9, o: { kernel: 1, bias: true } },
    { name: '5x5 with asymmetric padding', c: 4, h: 8, w: 10, k: 3, o: { kernel: 5, pad: { top: 1, bottom: 3, left: 2, right: 0 }, bias: true } },
    { name: '5x5/s2 with asymmetric padding', c: 6, h: 11, w: 8, k: 5, o: { kernel: 5, stride: 2, pad: { top: 0, bottom: 2, left: 3, right: 1 }, bias: false } },
    { name: '7x7/s2/p3 on 3 channels (the stem)', c: 3, h: 16, w: 14, k: 4, o: { kernel: 7, stride: 2, pad: { top: 3, bottom: 3, left: 3, right: 3 }, bias: true } },
    { name: '3x1 kernel', c: 4, h: 7, w: 6, k: 4, o: { kernel: [3, 1], pad: { top: 1, bottom: 1, left: 0, right: 0 }, bias: true } },
    { name: 'grouped 3x3, 2 groups', c: 8, h: 7, w: 7, k: 6, o: { kernel: 3, pad: { top: 1, bottom: 1, left: 1, right: 1 }, groups: 2, bias: true } },
    { name: 'depthwise-like 3x3/s2, 6 groups of 1', c: 6, h: 9, w: 9, k: 6, o: { kernel: 3, stride: 2, pad: { top: 1, bottom: 1, left: 1, right: 1 }, groups: 6, bias: false } },
  ];
  for (const cc of convCases) {
    it(`conv ${cc.name}`, () => {
      const b = new GraphBuilder('t', 'resnet', 'caffe');
      b.conv('conv', b.input('input', [cc.c, cc.h, cc.w]), cc.k, cc.o);
      const g = b.build();
      const ws = randomWeights(g);
      const batch = 2;
      const x = randomInput(batch * cc.c * cc.h * cc.w, 0.3);
      const res = referenceForward(g, ws, x, batch);
      const kernel = typeof cc.o.kernel === 'number' ? [cc.o.kernel, cc.o.kernel] : cc.o.kernel;
      const want = naiveConv(
        T.of(batch, cc.c, cc.h, cc.w, x), getTensor(ws, 'conv', 'kernel'), cc.o.bias ? getTensor(ws, 'conv', 'bias') : null,
        cc.k, kernel[0], kernel[1], cc.o.stride ?? 1, cc.o.pad ?? { top: 0, bottom: 0, left: 0, right: 0 }, cc.o.groups ?? 1,
      );
      expect(relErr(only(res.outputs, 'conv'), want.data)).toBeLessThan(TOL);
      expect(res.inputSparsity.get('conv')).toBe(x.filter((v) => v === 0).length / x.length);
    });
  }

  const poolCases: { op: 'maxpool' | 'avgpool'; k: number; stride: number; pad: Padding; h: number; w: number }[] = [
    { op: 'maxpool', k: 3, stride: 2, pad: { top: 1, bottom: 1, left: 1, right: 1 }, h: 9, w: 8 },
    { op: 'maxpool', k: 2, stride: 2, pad: { top: 0, bottom: 0, left: 0, right: 0 }, h: 8, w: 6 },
    { op: 'maxpool', k: 3, stride: 1, pad: { top: 0, bottom: 2, left: 1, right: 0 }, h: 5, w: 7 },
    { op: 'avgpool', k: 2, stride: 2, pad: { top: 0, bottom: 0, left: 0, right: 0 }, h: 8, w: 7 },
    { op: 'avgpool', k: 3, stride: 2, pad: { top: 1, bottom: 1, left: 1, right: 1 }, h: 7, w: 8 },
  ];
  for (const pc of poolCases) {
    const p = pc.pad;
    it(`${pc.op} ${pc.k}x${pc.k}/s${pc.stride} pad t${p.top} b${p.bottom} l${p.left} r${p.right}: padded zeros take part`, () => {
      const b = new GraphBuilder('t', 'resnet', 'caffe');
      b.pool(pc.op, 'pool', b.input('input', [3, pc.h, pc.w]), { kernel: pc.k, stride: pc.stride, pad: pc.pad });
      const g = b.build();
      const batch = 2;
      // All negative: a padded window's max is then the padding's 0, so a pool that ignored the
      // padding would differ at every border.
      const x = Float32Array.from({ length: batch * 3 * pc.h * pc.w }, () => rng.uniform(-1, -0.01));
      const got = only(referenceForward(g, randomWeights(g), x, batch).outputs, 'pool');
      const want = naivePool(T.of(batch, 3, pc.h, pc.w, x), pc.op === 'maxpool' ? 'max' : 'avg', pc.k, pc.stride, pc.pad);
      expect(relErr(got, want.data)).toBeLessThan(TOL);
      if (pc.op === 'maxpool' && p.top + p.left > 0) expect(got[0]).toBe(0); // the corner window reaches into the padding
    });
  }

  it('batch norm is (x - mean) / sqrt(var + eps) * gamma + beta per channel', () => {
    const b = new GraphBuilder('t', 'densenet', 'torch');
    b.batchnorm('bn', b.input('input', [5, 4, 3]), 1.001e-5);
    const g = b.build();
    const ws = randomWeights(g);
    const x = randomInput(2 * 5 * 12);
    const got = only(referenceForward(g, ws, x, 2).outputs, 'bn');
    const [gamma, beta, mean, variance] = (['gamma', 'beta', 'moving_mean', 'moving_variance'] as const).map((r) => getTensor(ws, 'bn', r));
    const xt = T.of(2, 5, 4, 3, x);
    for (let n = 0; n < 2; n++)
      for (let c = 0; c < 5; c++)
        for (let y = 0; y < 4; y++)
          for (let xx = 0; xx < 3; xx++) {
            const want = ((xt.get(n, c, y, xx) - mean![c]!) / Math.sqrt(variance![c]! + 1.001e-5)) * gamma![c]! + beta![c]!;
            expect(got[xt.at(n, c, y, xx)]).toBeCloseTo(want, 12);
          }
  });

  it('relu, add of three inputs and concat of three inputs in order', () => {
    const b = new GraphBuilder('t', 'resnet', 'caffe');
    const i = b.input('input', [4, 3, 5]);
    const r = b.relu('relu', i);
    const c1 = b.conv('c1', i, 4, { kernel: 1, bias: true });
    const c2 = b.conv('c2', i, 2, { kernel: 1, bias: false });
    b.addLayers('add', [i, r, c1]);
    b.concat('concat', [r, c2, i]);
    const g = b.build();
    const ws = randomWeights(g);
    const x = randomInput(2 * 4 * 15);
    const res = referenceForward(g, ws, x, 2, { keep: (n) => n === 'relu' || n === 'c1' || n === 'c2' });
    expect([...res.outputs.keys()].sort()).toEqual(['add', 'c1', 'c2', 'concat', 'relu']);
    const xt = T.of(2, 4, 3, 5, x);
    const relu = res.outputs.get('relu')!;
    const c1t = new T(2, 4, 3, 5, res.outputs.get('c1')!);
    const c2t = new T(2, 2, 3, 5, res.outputs.get('c2')!);
    const add = new T(2, 4, 3, 5, res.outputs.get('add')!);
    const cat = new T(2, 10, 3, 5, res.outputs.get('concat')!);
    for (let n = 0; n < 2; n++)
      for (let y = 0; y < 3; y++)
        for (let xx = 0; xx < 5; xx++) {
          for (let c = 0; c < 4; c++) {
            const v = xt.get(n, c, y, xx);
            expect(relu[xt.at(n, c, y, xx)]).toBe(Math.max(v, 0));
            expect(add.get(n, c, y, xx)).toBeCloseTo(v + Math.max(v, 0) + c1t.get(n, c, y, xx), 13);
            expect(cat.get(n, c, y, xx)).toBe(Math.max(v, 0));
            expect(cat.get(n, 6 + c, y, xx)).toBe(v);
          }
          for (let c = 0; c < 2; c++) expect(cat.get(n, 4 + c, y, xx)).toBe(c2t.get(n, c, y, xx));
        }
  });

  it('flatten is in HWC order: a dense after it sees feature (y*w + x)*c + ch', () => {
    const [C, H, W, U] = [3, 4, 5, 7];
    const b = new GraphBuilder('t', 'vgg', 'caffe');
    const f = b.flatten('flatten', b.input('input', [C, H, W]));
    b.dense('dense', f, U);
    const g = b.build();
    const ws = randomWeights(g);
    const batch = 2;
    const x = randomInput(batch * C * H * W);
    const res = referenceForward(g, ws, x, batch, { keep: (n) => n === 'flatten' });
    const xt = T.of(batch, C, H, W, x);
    const flat = res.outputs.get('flatten')!;
    const kernel = getTensor(ws, 'dense', 'kernel');
    const bias = getTensor(ws, 'dense', 'bias');
    const dense = res.outputs.get('dense')!;
    for (let n = 0; n < batch; n++) {
      for (let c = 0; c < C; c++)
        for (let y = 0; y < H; y++) for (let xx = 0; xx < W; xx++) expect(flat[n * C * H * W + (y * W + xx) * C + c]).toBe(xt.get(n, c, y, xx));
      for (let u = 0; u < U; u++) {
        let want = bias[u]!;
        for (let c = 0; c < C; c++)
          for (let y = 0; y < H; y++) for (let xx = 0; xx < W; xx++) want += kernel[u * C * H * W + (y * W + xx) * C + c]! * xt.get(n, c, y, xx);
        expect(dense[n * U + u]).toBeCloseTo(want, 12);
      }
    }
  });

  it('global average pool, dense with and without bias, softmax', () => {
    const [C, H, W, U] = [6, 3, 4, 5];
    const b = new GraphBuilder('t', 'resnet', 'caffe');
    const gap = b.globalAvgPool('gap', b.input('input', [C, H, W]));
    const d1 = b.dense('d1', gap, U, false);
    b.softmax('softmax', b.dense('d2', d1, U));
    const g = b.build();
    const ws = randomWeights(g);
    const batch = 3;
    const x = randomInput(batch * C * H * W);
    const res = referenceForward(g, ws, x, batch, { keep: () => true });
    const xt = T.of(batch, C, H, W, x);
    const k1 = getTensor(ws, 'd1', 'kernel');
    const k2 = getTensor(ws, 'd2', 'kernel');
    const b2 = getTensor(ws, 'd2', 'bias');
    for (let n = 0; n < batch; n++) {
      const pooled = Array.from({ length: C }, (_, c) => {
        let s = 0;
        for (let y = 0; y < H; y++) for (let xx = 0; xx < W; xx++) s += xt.get(n, c, y, xx);
        return s / (H * W);
      });
      pooled.forEach((v, c) => expect(res.outputs.get('gap')![n * C + c]).toBeCloseTo(v, 14));
      const h1 = Array.from({ length: U }, (_, u) => pooled.reduce((a, v, c) => a + k1[u * C + c]! * v, 0));
      const h2 = Array.from({ length: U }, (_, u) => h1.reduce((a, v, i) => a + k2[u * U + i]! * v, b2[u]!));
      const e = h2.map(Math.exp);
      const sum = e.reduce((a, v) => a + v, 0);
      const sm = res.outputs.get('softmax')!.subarray(n * U, (n + 1) * U);
      e.forEach((v, u) => expect(sm[u]).toBeCloseTo(v / sum, 14));
      expect(sm.reduce((a, v) => a + v, 0)).toBeCloseTo(1, 14);
    }
  });

  it('batch 3 gives exactly the three batch-1 runs; sparsity is counted over the batch', () => {
    const g = mixedGraph();
    const ws = randomWeights(g);
    const per = 3 * 12 * 10;
    const x = randomInput(3 * per, 0.2);
    const seen: string[] = [];
    let r2Zeros = 0;
    const all = referenceForward(g, ws, x, 3, {
      onLayer: (n, out) => {
        seen.push(`${n}:${out.length}`);
        if (n === 'r2') r2Zeros = out.filter((v) => v === 0).length / out.length;
      },
    });
    expect(seen).toEqual(g.layers.map((l) => `${l.name}:${3 * size(l.shape)}`));
    const out3 = only(all.outputs, 'softmax');
    const sparsity1 = new Map<string, number[]>();
    for (let n = 0; n < 3; n++) {
      const one = referenceForward(g, ws, x.subarray(n * per, (n + 1) * per), 1);
      const out1 = only(one.outputs, 'softmax');
      expect(Array.from(out3.subarray(n * out1.length, (n + 1) * out1.length))).toEqual(Array.from(out1));
      for (const [k, v] of one.inputSparsity) sparsity1.set(k, [...(sparsity1.get(k) ?? []), v]);
    }
    expect([...all.inputSparsity.keys()]).toEqual(g.layers.filter((l) => l.op === 'conv').map((l) => l.name));
    for (const [k, v] of all.inputSparsity) expect(v, k).toBeCloseTo((sparsity1.get(k)![0]! + sparsity1.get(k)![1]! + sparsity1.get(k)![2]!) / 3, 14);
    // The convs after a ReLU see its zeros; the first conv sees the input's.
    expect(all.inputSparsity.get('c1')).toBe(x.filter((v) => v === 0).length / x.length);
    expect(all.inputSparsity.get('b2')).toBe(r2Zeros);
    expect(r2Zeros).toBeGreaterThan(0);
  });

  it('frees intermediates unless kept; errors name the layer and the expected size', () => {
    const g = mixedGraph();
    const ws = randomWeights(g);
    const x = randomInput(3 * 12 * 10);
    const kept = referenceForward(g, ws, x, 1, { keep: (n) => n === 'pool' || n === 'b1' });
    expect([...kept.outputs.keys()]).toEqual(['pool', 'b1', 'softmax']);
    expect(() => referenceForward(g, ws, x.subarray(1), 1)).toThrow(/input has 359 floats, expected batch 1 x 3x12x10 = 360/);
    const missing = new Map(ws.tensors);
    missing.delete(tensorKey('b2', 'kernel'));
    expect(() => referenceForward(g, { ...ws, tensors: missing }, x, 1)).toThrow(/layer 'b2' has no kernel tensor/);
    const short = new Map(ws.tensors);
    short.set(tensorKey('bn', 'gamma'), new Float32Array(3));
    expect(() => referenceForward(g, { ...ws, tensors: short }, x, 1)).toThrow(/layer 'bn' gamma has 3 values, expected 8/);
  });
});

/** Every op once, in a ResNet/DenseNet-like wiring: stem, pool, two branches, add, concat, head. */
function mixedGraph(): Graph {
  const b = new GraphBuilder('mixed', 'resnet', 'caffe');
  let x = b.input('input', [3, 12, 10]);
  x = b.conv('c1', x, 8, { kernel: 3, pad: { top: 1, bottom: 1, left: 1, right: 1 }, bias: true });
  x = b.relu('r1', b.batchnorm('bn', x, 1e-3));
  x = b.pool('maxpool', 'pool', x, { kernel: 3, stride: 2, pad: { top: 1, bottom: 1, left: 1, right: 1 } });
  const s = b.conv('b1', x, 8, { kernel: 1, bias: true });
  const y = b.conv('b2', b.relu('r2', s), 8, { kernel: 3, pad: { top: 1, bottom: 1, left: 1, right: 1 }, groups: 2, bias: false });
  x = b.relu('r3', b.addLayers('add', [x, y]));
  x = b.concat('cat', [x, s]);
  x = b.pool('avgpool', 'avg', x, { kernel: 2, stride: 2 });
  x = b.conv('c3', x, 6, { kernel: 3, stride: 2, pad: { top: 1, bottom: 1, left: 1, right: 1 }, bias: true });
  x = b.dense('dense', b.globalAvgPool('gap', x), 4);
  b.softmax('softmax', x);
  return b.build();
}

// ---------------------------------------------------------------------------------------------
// The real networks: the wiring proof. Input sparsity is a sensitive fingerprint of the whole
// pass (preprocessing, weights layout, every op): a miswired network gives very different figures.

const ARTIFACT = process.env.CUSNN_ARTIFACT ?? fileURLToPath(new URL('../../../shared/cusnn-artifact', import.meta.url));
const haveArtifact = fs.existsSync(path.join(ARTIFACT, 'weights')) && fs.existsSync(path.join(ARTIFACT, 'sample_images'));
if (!haveArtifact) console.warn(`cuSNN artifact not found at ${ARTIFACT} (set CUSNN_ARTIFACT): real-network reference tests skipped`);

const mean = (v: readonly number[]): number => v.reduce((a, b) => a + b, 0) / v.length;

/** Input sparsity of the `*_2_conv` layers grouped by stage (conv2..conv5), in layer order. */
function threeByThreeByStage(sp: Map<string, number>): Map<string, [string, number][]> {
  const out = new Map<string, [string, number][]>();
  for (const [name, v] of sp) {
    if (!name.endsWith('_2_conv')) continue;
    const stage = name.split('_')[0]!;
    out.set(stage, [...(out.get(stage) ?? []), [name, v]]);
  }
  return out;
}

function runReal(model: string, images: readonly number[]): { sp: Map<string, number>; probs: Float64Array; ms: number; filled: readonly string[] } {
  const graph = buildModel(model);
  const ws = loadWeights(graph, { path: path.join(ARTIFACT, 'weights', model), fillMissing: true });
  const files = listImages(path.join(ARTIFACT, 'sample_images'));
  const x = preprocess(images.map((i) => readImage(files[i]!)), graph.preprocessing);
  const t0 = performance.now();
  const res = referenceForward(graph, ws, x, images.length);
  const ms = performance.now() - t0;
  return { sp: res.inputSparsity, probs: only(res.outputs, 'predictions_softmax'), ms, filled: ws.filled };
}

function report(model: string, images: readonly number[], r: ReturnType<typeof runReal>, stages: Map<string, [string, number][]>): void {
  const lines = [`${model} reference, images ${images.join(',')} (batch ${images.length}): ${(r.ms / 1000).toFixed(1)} s; filled synthetically: ${[...new Set(r.filled.map((k) => k.split(':')[0]))].join(', ')}`];
  for (const [stage, layers] of stages) {
    const synthetic = layers.some(([n]) => r.filled.includes(`${n}:kernel`)) ? ' (after synthetic layers)' : '';
    lines.push(`  ${stage} 3x3 input zeros${synthetic}: mean ${(100 * mean(layers.map(([, v]) => v))).toFixed(1)}%  [${layers.map(([, v]) => (100 * v).toFixed(1)).join(' ')}]`);
  }
  const oneByOne = [...r.sp].filter(([n]) => !n.endsWith('_2_conv') && n !== 'conv1/conv' && n !== 'conv1_conv');
  lines.push(`  1x1 input zeros: mean ${(100 * mean(oneByOne.map(([, v]) => v))).toFixed(1)}% over ${oneByOne.length} convs`);
  console.log(lines.join('\n'));
}

function expectProbabilities(probs: Float64Array, batch: number): void {
  expect(probs.length).toBe(batch * 1000);
  for (let n = 0; n < batch; n++) {
    const row = probs.subarray(n * 1000, (n + 1) * 1000);
    expect(row.every((v) => Number.isFinite(v) && v >= 0)).toBe(true);
    expect(row.reduce((a, v) => a + v, 0)).toBeCloseTo(1, 10);
  }
}

// CI (2 cores, a 10-minute budget) runs each network on one sample image drawn at random each run
// (batch 1: a whole float64 pass is ~12-15 s there); CUSNN_FULL_CHECKS=1 on two different images
// (batch 2). The bounds below hold for every one of the 32 images on its own (the per-image ranges
// in the comments), so one random image is as strict a check of the wiring as the mean of two, and
// across runs every image is drawn; batches of several images are checked against batch-1 runs
// exactly in 'batch 3 gives exactly the three batch-1 runs' above.
const FULL = process.env.CUSNN_FULL_CHECKS === '1';

describe.skipIf(!haveArtifact)(`reference forward of the real networks (${ARTIFACT}, ${FULL ? 'two images' : 'one image'} each)`, () => {
  // Different images each run (two under CUSNN_FULL_CHECKS=1), so the figures are not tied to one picture.
  const pick = (): number[] => {
    const a = Math.floor(rng.nextUnit() * 32);
    const b = (a + 1 + Math.floor(rng.nextUnit() * 31)) % 32;
    return FULL ? [a, b] : [a];
  };

  it('DenseNet-169 (torch preprocessing): 3x3 input sparsity 76% overall, ~35% in the first layers rising to ~93% in the last', () => {
    const images = pick();
    const r = runReal('densenet169', images);
    expect(r.filled).toEqual(['predictions:kernel', 'predictions:bias']);
    expectProbabilities(r.probs, images.length);
    const stages = threeByThreeByStage(r.sp);
    report('densenet169', images, r, stages);
    expect([...stages.keys()]).toEqual(['conv2', 'conv3', 'conv4', 'conv5']);
    const all = [...stages.values()].flat().map(([, v]) => v);
    expect(all.length).toBe(6 + 12 + 32 + 32);
    expect(mean(all)).toBeGreaterThanOrEqual(0.7);
    expect(mean(all)).toBeLessThanOrEqual(0.82);
    const stageMean = (s: string): number => mean(stages.get(s)!.map(([, v]) => v));
    expect(stageMean('conv2')).toBeLessThan(0.6);
    expect(stageMean('conv2')).toBeLessThan(stageMean('conv3'));
    expect(stageMean('conv3')).toBeLessThan(stageMean('conv4'));
    expect(stageMean('conv4')).toBeLessThan(stageMean('conv5'));
    // Per image over all 32 samples: overall 0.74-0.78, dense block 1 0.40-0.55, block 4
    // 0.83-0.88 (its first layers sit near 65-70%: a 0.85 bound on the block mean fails some
    // images), its last 16 layers 0.91-0.96 (DESIGN's "94% in the last"), the first two layers
    // 0.20-0.45 (DESIGN's "36%"). Caffe preprocessing instead gives block 1 ~0.75.
    expect(stageMean('conv5')).toBeGreaterThan(0.8);
    expect(mean(stages.get('conv5')!.slice(16).map(([, v]) => v))).toBeGreaterThan(0.85);
    expect(mean(stages.get('conv2')!.slice(0, 2).map(([, v]) => v))).toBeLessThan(0.5);
  });

  it('ResNet-50 (caffe preprocessing): 3x3 input sparsity ~40-50% at 56x56, rising with depth', () => {
    const images = pick();
    const r = runReal('resnet50', images);
    expect(r.filled.every((k) => k.startsWith('conv5_') || k.startsWith('predictions:'))).toBe(true);
    expectProbabilities(r.probs, images.length);
    // conv5 has synthetic weights (missing from the artifact): only conv2..conv4 are real.
    const stages = threeByThreeByStage(r.sp);
    report('resnet50', images, r, stages);
    // Per image over all 32 samples: conv2 0.38-0.52, conv3 0.62-0.64, conv4 0.72-0.74. The
    // bounds also catch the wrong preprocessing: torch's gives conv2 ~0.31 and conv4 ~0.69.
    const stageMean = (s: string): number => mean(stages.get(s)!.map(([, v]) => v));
    expect(stageMean('conv2')).toBeGreaterThanOrEqual(0.35);
    expect(stageMean('conv2')).toBeLessThanOrEqual(0.55);
    expect(stageMean('conv3')).toBeGreaterThan(stageMean('conv2'));
    expect(stageMean('conv4')).toBeGreaterThan(stageMean('conv3'));
    expect(stageMean('conv4')).toBeGreaterThanOrEqual(0.7);
    expect(stageMean('conv4')).toBeLessThanOrEqual(0.78);
  });
});
