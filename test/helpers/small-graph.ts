// A small ResNet-like graph the CPU-backed fake addon runs quickly: a strided stem (it reads the
// image), two residual blocks of 3x3 and 1x1 convs, a classifier. Shared by the bench and tune flows.
import { GraphBuilder } from '../../src/model/builder.js';
import { uniformPad, type Graph } from '../../src/model/ir.js';

export function smallResnet(): Graph {
  const b = new GraphBuilder('small_resnet', 'resnet', 'caffe');
  let x = b.input('input', [3, 18, 18]);
  x = b.relu('conv1_relu', b.batchnorm('conv1_bn', b.conv('conv1_conv', x, 16, { kernel: 3, stride: 2, pad: uniformPad(1), bias: true }), 1e-3));
  for (const name of ['block1', 'block2']) {
    let y = b.relu(`${name}_1_relu`, b.batchnorm(`${name}_1_bn`, b.conv(`${name}_1_conv`, x, 16, { kernel: 3, pad: uniformPad(1), bias: true }), 1e-3));
    y = b.relu(`${name}_2_relu`, b.batchnorm(`${name}_2_bn`, b.conv(`${name}_2_conv`, y, 16, { kernel: 3, pad: uniformPad(1), bias: true }), 1e-3));
    y = b.batchnorm(`${name}_3_bn`, b.conv(`${name}_3_conv`, y, 16, { kernel: 1, bias: true }), 1e-3);
    x = b.relu(`${name}_out`, b.addLayers(`${name}_add`, [x, y]));
  }
  x = b.globalAvgPool('avg_pool', x);
  b.softmax('predictions_softmax', b.dense('predictions', x, 10));
  return b.build();
}
