// Keras `ResNet50/101/152` (v1): the stride of a down-sampling block sits on its `_0_` and `_1_`
// 1x1 convs, not on the 3x3; every conv has a bias; BN epsilon 1.001e-5.
import { GraphBuilder } from '../builder.js';
import { uniformPad, type Graph } from '../ir.js';

const EPS = 1.001e-5;

function block(b: GraphBuilder, x: string, filters: number, stride: number, convShortcut: boolean, name: string): string {
  let shortcut = x;
  if (convShortcut) {
    shortcut = b.conv(`${name}_0_conv`, x, 4 * filters, { kernel: 1, stride, bias: true });
    shortcut = b.batchnorm(`${name}_0_bn`, shortcut, EPS);
  }
  let y = b.conv(`${name}_1_conv`, x, filters, { kernel: 1, stride, bias: true });
  y = b.batchnorm(`${name}_1_bn`, y, EPS);
  y = b.relu(`${name}_1_relu`, y);
  y = b.conv(`${name}_2_conv`, y, filters, { kernel: 3, pad: uniformPad(1), bias: true });
  y = b.batchnorm(`${name}_2_bn`, y, EPS);
  y = b.relu(`${name}_2_relu`, y);
  y = b.conv(`${name}_3_conv`, y, 4 * filters, { kernel: 1, bias: true });
  y = b.batchnorm(`${name}_3_bn`, y, EPS);
  const sum = b.addLayers(`${name}_add`, [shortcut, y]);
  return b.relu(`${name}_out`, sum);
}

function stack(b: GraphBuilder, x: string, filters: number, blocks: number, stride1: number, name: string): string {
  let y = block(b, x, filters, stride1, true, `${name}_block1`);
  for (let i = 2; i <= blocks; i++) y = block(b, y, filters, 1, false, `${name}_block${i}`);
  return y;
}

export function resnet(name: string, blocks: readonly [number, number, number, number], classes = 1000): Graph {
  const b = new GraphBuilder(name, 'resnet', 'caffe');
  let x = b.input('input', [3, 224, 224]);
  x = b.conv('conv1_conv', x, 64, { kernel: 7, stride: 2, pad: uniformPad(3), bias: true });
  x = b.batchnorm('conv1_bn', x, EPS);
  x = b.relu('conv1_relu', x);
  x = b.pool('maxpool', 'pool1_pool', x, { kernel: 3, stride: 2, pad: uniformPad(1) });
  x = stack(b, x, 64, blocks[0], 1, 'conv2');
  x = stack(b, x, 128, blocks[1], 2, 'conv3');
  x = stack(b, x, 256, blocks[2], 2, 'conv4');
  x = stack(b, x, 512, blocks[3], 2, 'conv5');
  x = b.globalAvgPool('avg_pool', x);
  x = b.dense('predictions', x, classes);
  b.softmax('predictions_softmax', x);
  return b.build();
}
