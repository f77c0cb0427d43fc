// Keras `VGG16/19`: 3x3 'same' convs with bias and ReLU, 2x2 max pools, then Flatten (in NHWC
// order, which the fc1 weights assume), fc1, fc2 and predictions.
import { GraphBuilder } from '../builder.js';
import { uniformPad, type Graph } from '../ir.js';

export function vgg(name: string, convsPerBlock: readonly number[], classes = 1000): Graph {
  const b = new GraphBuilder(name, 'vgg', 'caffe');
  let x = b.input('input', [3, 224, 224]);
  const widths = [64, 128, 256, 512, 512];
  convsPerBlock.forEach((n, i) => {
    for (let j = 1; j <= n; j++) {
      const conv = b.conv(`block${i + 1}_conv${j}`, x, widths[i]!, { kernel: 3, pad: uniformPad(1), bias: true });
      x = b.relu(`block${i + 1}_conv${j}_relu`, conv);
    }
    x = b.pool('maxpool', `block${i + 1}_pool`, x, { kernel: 2, stride: 2 });
  });
  x = b.flatten('flatten', x);
  x = b.relu('fc1_relu', b.dense('fc1', x, 4096));
  x = b.relu('fc2_relu', b.dense('fc2', x, 4096));
  x = b.dense('predictions', x, classes);
  b.softmax('predictions_softmax', x);
  return b.build();
}
