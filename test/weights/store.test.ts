import { describe, expect, it } from 'vitest';
import { GraphBuilder } from '../../src/model/builder.js';
import { getTensor, validateWeights, type WeightSet } from '../../src/weights/store.js';
import { syntheticWeights } from '../../src/weights/synthetic.js';
import { seedFor } from './helpers.js';

const b = new GraphBuilder('tiny', 'densenet', 'torch');
b.batchnorm('bn', b.conv('conv1/conv', b.input('input', [3, 4, 4]), 2, { kernel: 3, bias: false }), 1e-5);
const graph = b.build();
const ws = syntheticWeights(graph, seedFor(21));

describe('WeightSet access and validation', () => {
  it('getTensor returns the tensor or names the missing layer', () => {
    expect(getTensor(ws, 'conv1/conv', 'kernel')).toHaveLength(2 * 3 * 3 * 3);
    expect(() => getTensor(ws, 'conv1/conv', 'bias')).toThrow(`tiny weights (${ws.source}): layer 'conv1/conv' has no bias tensor`);
    expect(() => getTensor(ws, 'conv9', 'kernel')).toThrow(/layer 'conv9' has no kernel tensor/);
  });

  it('validateWeights checks model, presence, sizes and strays', () => {
    expect(() => validateWeights(graph, ws)).not.toThrow();
    const bad = (tensors: Map<string, Float32Array>, model = 'tiny'): WeightSet => ({ ...ws, model, tensors });
    expect(() => validateWeights(graph, bad(new Map(ws.tensors), 'resnet50'))).toThrow(/are for model 'resnet50', not 'tiny'/);
    const short = new Map(ws.tensors);
    short.set('bn:gamma', new Float32Array(3));
    expect(() => validateWeights(graph, bad(short))).toThrow(/layer 'bn' gamma has 3 values, expected shape \[2\] = 2/);
    const missing = new Map(ws.tensors);
    missing.delete('bn:moving_mean');
    expect(() => validateWeights(graph, bad(missing))).toThrow(/layer 'bn' lacks its moving_mean tensor \(expected shape \[2\]\)/);
    const extra = new Map(ws.tensors);
    extra.set('ghost:bias', new Float32Array(1));
    expect(() => validateWeights(graph, bad(extra))).toThrow(/1 tensor\(s\) not in the model, e\.g\. 'ghost:bias'/);
  });
});
