// Keras `DenseNet121/169/201`: growth rate 32, bottleneck 1x1 conv to 128 channels, compression
// 0.5 in transitions, no conv biases, BN epsilon 1.001e-5. The stem's ZeroPadding2D layers are
// folded into the padding of `conv1/conv` and `pool1`.
import { GraphBuilder } from '../builder.js';
import { uniformPad, type Graph } from '../ir.js';

const EPS = 1.001e-5;
const GROWTH = 32;

function convBlock(b: GraphBuilder, x: string, name: string): string {
  let y = b.batchnorm(`${name}_0_bn`, x, EPS);
  y = b.relu(`${name}_0_relu`, y);
  y = b.conv(`${name}_1_conv`, y, 4 * GROWTH, { kernel: 1, bias: false });
  y = b.batchnorm(`${name}_1_bn`, y, EPS);
  y = b.relu(`${name}_1_relu`, y);
  y = b.conv(`${name}_2_conv`, y, GROWTH, { kernel: 3, pad: uniformPad(1), bias: false });
  return b.concat(`${name}_concat`, [x, y]);
}

function transition(b: GraphBuilder, x: string, name: string): string {
  let y = b.batchnorm(`${name}_bn`, x, EPS);
  y = b.relu(`${name}_relu`, y);
  y = b.conv(`${name}_conv`, y, Math.floor(b.shape(y)[0] * 0.5), { kernel: 1, bias: false });
  return b.pool('avgpool', `${name}_pool`, y, { kernel: 2, stride: 2 });
}

export function densenet(name: string, blocks: readonly [number, number, number, number], classes = 1000): Graph {
  const b = new GraphBuilder(name, 'densenet', 'torch');
  let x = b.input('input', [3, 224, 224]);
  x = b.conv('conv1/conv', x, 64, { kernel: 7, stride: 2, pad: uniformPad(3), bias: false });
  x = b.batchnorm('conv1/bn', x, EPS);
  x = b.relu('conv1/relu', x);
  x = b.pool('maxpool', 'pool1', x, { kernel: 3, stride: 2, pad: uniformPad(1) });
  blocks.forEach((n, i) => {
    for (let j = 1; j <= n; j++) x = convBlock(b, x, `conv${i + 2}_block${j}`);
    if (i < 3) x = transition(b, x, `pool${i + 2}`);
  });
  x = b.batchnorm('bn', x, EPS);
  x = b.relu('relu', x);
  x = b.globalAvgPool('avg_pool', x);
  x = b.dense('predictions', x, classes);
  b.softmax('predictions_softmax', x);
  return b.build();
}
