import { describe, expect, it } from 'vitest';
import { GraphBuilder } from '../../src/model/builder.js';
import { getLayer, paramCount, uniformPad, type ConvLayer } from '../../src/model/ir.js';
import { buildModel, MODEL_NAMES } from '../../src/model/zoo/index.js';

// Keras applications' model.count_params(), batch-norm moving statistics included.
const KERAS_PARAMS: Record<string, number> = {
  resnet50: 25_636_712, resnet101: 44_707_176, resnet152: 60_419_944,
  densenet121: 8_062_504, densenet169: 14_307_880, densenet201: 20_242_984,
  vgg16: 138_357_544, vgg19: 143_667_240,
};

const conv = (model: string, name: string): ConvLayer => {
  const l = getLayer(buildModel(model), name);
  if (l.op !== 'conv') throw new Error(`${name} is ${l.op}`);
  return l;
};

describe('model zoo', () => {
  it.each(MODEL_NAMES)('%s has exactly the Keras parameter count', (m) => {
    expect(paramCount(buildModel(m))).toBe(KERAS_PARAMS[m]);
  });

  it('ResNet v1 puts the down-sampling stride on the _0_ and _1_ 1x1 convs, not on the 3x3', () => {
    for (const m of ['resnet50', 'resnet101', 'resnet152']) {
      expect(conv(m, 'conv3_block1_0_conv').stride).toEqual([2, 2]);
      expect(conv(m, 'conv3_block1_1_conv').stride).toEqual([2, 2]);
      expect(conv(m, 'conv3_block1_2_conv').stride).toEqual([1, 1]);
      expect(conv(m, 'conv2_block1_1_conv').stride).toEqual([1, 1]);
      expect(conv(m, 'conv5_block1_2_conv').shape).toEqual([512, 7, 7]);
      expect(getLayer(buildModel(m), 'avg_pool').shape).toEqual([2048, 1, 1]);
    }
    expect(conv('resnet152', 'conv4_block36_2_conv').shape).toEqual([256, 14, 14]);
    expect(() => getLayer(buildModel('resnet152'), 'conv4_block37_2_conv')).toThrow(/no layer named/);
  });

  it('DenseNet keeps Keras names and channel growth', () => {
    const g = buildModel('densenet169');
    expect(getLayer(g, 'conv1/conv').shape).toEqual([64, 112, 112]);
    expect(getLayer(g, 'pool1').shape).toEqual([64, 56, 56]);
    expect(conv('densenet169', 'conv2_block1_2_conv').shape).toEqual([32, 56, 56]);
    expect(getLayer(g, 'conv2_block6_concat').shape).toEqual([256, 56, 56]);
    expect(getLayer(g, 'pool2_pool').shape).toEqual([128, 28, 28]);
    expect(getLayer(g, 'bn').shape).toEqual([1664, 7, 7]);
    expect(getLayer(buildModel('densenet201'), 'bn').shape).toEqual([1920, 7, 7]);
    expect(getLayer(buildModel('densenet121'), 'bn').shape).toEqual([1024, 7, 7]);
  });

  it('VGG flattens 512x7x7 into fc1', () => {
    const g = buildModel('vgg19');
    expect(getLayer(g, 'block5_conv4').shape).toEqual([512, 14, 14]);
    expect(getLayer(g, 'flatten').shape).toEqual([25088, 1, 1]);
    expect(getLayer(g, 'predictions').shape).toEqual([1000, 1, 1]);
  });

  it('every zoo graph is topologically ordered and its names unique', () => {
    for (const m of MODEL_NAMES) {
      const seen = new Set<string>();
      for (const l of buildModel(m).layers) {
        for (const i of l.inputs) expect(seen.has(i), `${m}/${l.name} reads ${i}`).toBe(true);
        expect(seen.has(l.name)).toBe(false);
        seen.add(l.name);
      }
    }
  });
});

describe('graph builder shape inference', () => {
  it('infers conv and pool shapes for odd sizes, strides and paddings', () => {
    const b = new GraphBuilder('t', 'vgg', 'caffe');
    const x = b.input('input', [5, 17, 13]);
    const c1 = b.conv('c1', x, 7, { kernel: 3, stride: 2, pad: uniformPad(1), bias: false });
    expect(b.shape(c1)).toEqual([7, 9, 7]);
    const c2 = b.conv('c2', c1, 4, { kernel: 5, pad: { top: 2, bottom: 1, left: 0, right: 0 }, bias: true });
    expect(b.shape(c2)).toEqual([4, 8, 3]);
    const p = b.pool('maxpool', 'p', c1, { kernel: 3, stride: 2 });
    expect(b.shape(p)).toEqual([7, 4, 3]);
  });

  it('rejects bad wiring with the layer named', () => {
    const b = new GraphBuilder('t', 'resnet', 'caffe');
    const x = b.input('input', [8, 8, 8]);
    const y = b.conv('y', x, 4, { kernel: 1, bias: false });
    expect(() => b.addLayers('sum', [x, y])).toThrow(/t\/sum: add of shapes 8x8x8 and 4x8x8/);
    expect(() => b.relu('r', 'nope')).toThrow(/'nope' is used before it is defined/);
    expect(() => b.conv('y', x, 4, { kernel: 1, bias: false })).toThrow(/duplicate layer name 'y'/);
    expect(() => b.conv('g', x, 6, { kernel: 1, groups: 3, bias: false })).toThrow(/not divisible by groups 3/);
    expect(() => b.conv('big', x, 4, { kernel: 11, bias: false })).toThrow(/window 11 larger/);
  });
});
