import { describe, expect, it } from 'vitest';
import { GraphBuilder } from '../../src/model/builder.js';
import { paramSpecs, size, tensorKey, type Graph } from '../../src/model/ir.js';
import { buildModel } from '../../src/model/zoo/index.js';
import { prunableLayers, pruneWeights } from '../../src/weights/prune.js';
import { countZeros, getTensor, validateWeights, type WeightSet } from '../../src/weights/store.js';
import { syntheticWeights } from '../../src/weights/synthetic.js';
import { TEST_SEED } from './helpers.js';

const seed = TEST_SEED;
const resnet = buildModel('resnet50');
const base = syntheticWeights(resnet, seed);

/** Largest pruned and smallest kept magnitude over the given kernels (before -> after). */
function magnitudeSplit(before: readonly Float32Array[], after: readonly Float32Array[]): { maxPruned: number; minKept: number } {
  let maxPruned = 0;
  let minKept = Infinity;
  before.forEach((b, j) => {
    const a = after[j]!;
    for (let i = 0; i < b.length; i++) {
      const m = Math.abs(b[i]!);
      if (a[i] === 0) maxPruned = Math.max(maxPruned, m);
      else {
        minKept = Math.min(minKept, m);
        if (a[i] !== b[i]) throw new Error(`kept weight changed at ${i}`);
      }
    }
  });
  return { maxPruned, minKept };
}

describe(`magnitude pruning (resnet50 synthetic, seed ${seed})`, () => {
  it.each([0.5, 0.8, 0.95])('per layer to %d: exactly round(p*n) zeros in every eligible kernel, smallest |w| first', (p) => {
    const r = pruneWeights(resnet, base, { sparsity: p, mode: 'layer' });
    validateWeights(resnet, r.weights);
    for (const l of r.layers) {
      const before = getTensor(base, l.layer, 'kernel');
      const after = getTensor(r.weights, l.layer, 'kernel');
      if (!l.eligible) {
        expect(after).toBe(before);
        continue;
      }
      expect(countZeros(after), l.layer).toBe(Math.round(p * before.length));
      expect(l.after).toBeCloseTo(countZeros(after) / before.length, 12);
      expect(Math.abs(l.after - p)).toBeLessThan(0.005);
      const split = magnitudeSplit([before], [after]);
      expect(split.maxPruned, l.layer).toBeLessThanOrEqual(split.minKept);
    }
    expect(Math.abs(r.eligibleAfter - p)).toBeLessThan(0.005);
    // He-uniform draws hit exactly 0 with probability 2^-24: a handful in 23M weights at most.
    expect(r.eligibleBefore).toBeLessThan(1e-6);
  });

  it.each([0.5, 0.8, 0.95])('global to %d: one threshold, overall eligible sparsity within 0.5 percent', (p) => {
    const r = pruneWeights(resnet, base, { sparsity: p, mode: 'global' });
    const eligible = r.layers.filter((l) => l.eligible);
    const before = eligible.map((l) => getTensor(base, l.layer, 'kernel'));
    const after = eligible.map((l) => getTensor(r.weights, l.layer, 'kernel'));
    const zeros = after.reduce((n, t) => n + countZeros(t), 0);
    expect(Math.abs(zeros / r.eligibleParams - p)).toBeLessThan(0.005);
    expect(zeros).toBe(Math.round(p * r.eligibleParams));
    const split = magnitudeSplit(before, after);
    expect(split.maxPruned).toBeLessThanOrEqual(split.minKept);
    // One threshold gives different sparsities per layer (He-uniform scales differ with fan-in).
    const per = eligible.map((l) => l.after);
    expect(Math.max(...per) - Math.min(...per)).toBeGreaterThan(0.05);
  });

  it('keeps the first conv and the dense layer dense by default and prunes them when asked', () => {
    expect(prunableLayers(resnet)).not.toContain('conv1_conv');
    expect(prunableLayers(resnet)).not.toContain('predictions');
    const def = pruneWeights(resnet, base, { sparsity: 0.8 });
    for (const name of ['conv1_conv', 'predictions']) {
      const l = def.layers.find((x) => x.layer === name)!;
      expect(l.eligible).toBe(false);
      expect(l.after).toBe(l.before);
      expect(getTensor(def.weights, name, 'kernel')).toBe(getTensor(base, name, 'kernel'));
    }
    for (const mode of ['layer', 'global'] as const) {
      const all = pruneWeights(resnet, base, { sparsity: 0.8, mode, includeFirst: true, includeDense: true });
      for (const name of ['conv1_conv', 'predictions']) {
        const l = all.layers.find((x) => x.layer === name)!;
        expect(l.eligible).toBe(true);
        expect(l.after, `${mode} ${name}`).toBeGreaterThan(mode === 'layer' ? 0.79 : 0.1);
      }
      expect(all.eligibleParams).toBe(all.layers.reduce((n, l) => n + l.params, 0));
    }
    // Biases, BN vectors and the input set are untouched.
    for (const s of paramSpecs(resnet)) {
      if (s.role !== 'kernel') expect(getTensor(def.weights, s.layer, s.role)).toBe(getTensor(base, s.layer, s.role));
    }
  });
});

describe('pruning details', () => {
  function tiny(kernel: readonly number[]): { graph: Graph; ws: WeightSet } {
    const b = new GraphBuilder('tiny', 'vgg', 'caffe');
    let x = b.input('input', [1, 4, 4]);
    x = b.conv('first', x, 2, { kernel: 1, bias: false });
    x = b.conv('c1', x, 4, { kernel: 1, bias: false });
    x = b.globalAvgPool('gap', x);
    b.dense('fc', x, 3, false);
    const graph = b.build();
    const ws = syntheticWeights(graph, 3);
    const tensors = new Map(ws.tensors);
    tensors.set(tensorKey('c1', 'kernel'), new Float32Array(kernel));
    return { graph, ws: { ...ws, tensors } };
  }

  it('breaks magnitude ties by index and counts pre-existing zeros (incl. -0)', () => {
    const { graph, ws } = tiny([3, -1, 1, 2, -1, 0, 1, 5]);
    const r = pruneWeights(graph, ws, { sparsity: 0.5 });
    expect(Array.from(getTensor(r.weights, 'c1', 'kernel'))).toEqual([3, 0, 0, 2, 0, 0, 1, 5]);
    const l = r.layers.find((x) => x.layer === 'c1')!;
    expect([l.zerosBefore, l.zerosAfter, l.before, l.after]).toEqual([1, 4, 0.125, 0.5]);

    const z = tiny([0, -0, 0.5, -0.25, 4, 0, 2, -3]);
    const keep = pruneWeights(z.graph, z.ws, { sparsity: 0.25 }); // already 3/8 zeros: nothing to add
    expect(keep.layers.find((x) => x.layer === 'c1')).toMatchObject({ zerosBefore: 3, zerosAfter: 3 });
    const more = pruneWeights(z.graph, z.ws, { sparsity: 0.5 });
    // Pruned positions become +0 (the -0 at index 1 counted as a zero all along).
    expect(Array.from(getTensor(more.weights, 'c1', 'kernel'))).toEqual([0, 0, 0.5, 0, 4, 0, 2, -3]);
    expect(getTensor(z.ws, 'c1', 'kernel')[3]).toBe(-0.25); // input not modified
  });

  it('global ties continue in layer order', () => {
    const { graph, ws } = tiny([1, 1, 1, 1, 1, 1, 1, 1]);
    const tensors = new Map(ws.tensors);
    tensors.set(tensorKey('first', 'kernel'), new Float32Array([1, 1]));
    const r = pruneWeights(graph, { ...ws, tensors }, { sparsity: 0.5, mode: 'global', includeFirst: true });
    expect(Array.from(getTensor(r.weights, 'first', 'kernel'))).toEqual([0, 0]);
    expect(Array.from(getTensor(r.weights, 'c1', 'kernel'))).toEqual([0, 0, 0, 1, 1, 1, 1, 1]);
  });

  it('handles 0 and 1 and rejects nonsense', () => {
    const { graph, ws } = tiny([3, -1, 1, 2, -1, 0, 1, 5]);
    expect(countZeros(getTensor(pruneWeights(graph, ws, { sparsity: 1 }).weights, 'c1', 'kernel'))).toBe(8);
    expect(countZeros(getTensor(pruneWeights(graph, ws, { sparsity: 0 }).weights, 'c1', 'kernel'))).toBe(1);
    expect(() => pruneWeights(graph, ws, { sparsity: 1.5 })).toThrow(/sparsity must be a fraction in \[0, 1\], got 1.5/);
    expect(() => pruneWeights(graph, ws, { sparsity: NaN })).toThrow(/sparsity/);
    expect(size([2, 2])).toBe(4);
  });
});
