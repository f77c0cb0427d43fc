// Small ONNX models for the import tests, each drawn fresh from a seed: random channel counts,
// odd spatial sizes and random weights, stored in every way ONNX stores them (raw_data, float_data,
// double and float16 raw_data, an external data file). Each covers a mix of ops the importer takes.
import { float, int, ints, OnnxModelBuilder, Random, str, stored, type Storage } from './helpers.js';

export interface TestModel {
  readonly name: string;
  readonly builder: OnnxModelBuilder;
  readonly inputName: string;
  /** N,C,H,W of the input the test feeds. */
  readonly inputDims: readonly [number, number, number, number];
  /** The C,H,W to pass as --input-shape when the file leaves them symbolic. */
  readonly inputShape?: readonly [number, number, number];
}

/** Adds conv weights (K, C/g, R, S) and an optional bias; returns the Conv node's output. */
function conv(
  m: OnnxModelBuilder, r: Random, x: string, c: number, k: number, name: string,
  o: { kernel: [number, number]; group?: number; bias?: boolean; storage?: Storage; attrs?: Record<string, ReturnType<typeof int>> },
): string {
  const g = o.group ?? 1;
  const [kh, kw] = o.kernel;
  const fan = (c / g) * kh * kw;
  const storage = o.storage ?? 'raw';
  const w = m.init(`${name}.weight`, [k, c / g, kh, kw], stored(r.floats(k * (c / g) * kh * kw, -Math.sqrt(3 / fan), Math.sqrt(3 / fan)), storage), storage);
  const inputs = [x, w];
  if (o.bias ?? true) inputs.push(m.init(`${name}.bias`, [k], r.floats(k, -0.2, 0.2), storage === 'external' ? 'float_data' : storage));
  return m.node('Conv', inputs, { name, attrs: { kernel_shape: ints([kh, kw]), ...(g !== 1 ? { group: int(g) } : {}), ...o.attrs } });
}

/** BatchNormalization with random statistics (variance > 0); returns its output. */
function bn(m: OnnxModelBuilder, r: Random, x: string, c: number, name: string, storage: Storage = 'raw', eps = 1e-5): string {
  const scale = m.init(`${name}.weight`, [c], r.floats(c, 0.5, 1.5), storage);
  const bias = m.init(`${name}.bias`, [c], r.floats(c, -0.3, 0.3), storage);
  const mean = m.init(`${name}.running_mean`, [c], r.floats(c, -0.3, 0.3), storage);
  const v = m.init(`${name}.running_var`, [c], r.floats(c, 0.3, 1.5), storage);
  return m.node('BatchNormalization', [x, scale, bias, mean, v], { name, attrs: { epsilon: float(eps) } });
}

function gemm(m: OnnxModelBuilder, r: Random, x: string, features: number, units: number, name: string, o: { transB: 0 | 1; alpha?: number; beta?: number; storage?: Storage; biasDims?: number[] }): string {
  const storage = o.storage ?? 'raw';
  const b = o.transB ? m.init(`${name}.weight`, [units, features], r.floats(units * features, -0.3, 0.3), storage) : m.init(`${name}.weight`, [features, units], r.floats(units * features, -0.3, 0.3), storage);
  const c = m.init(`${name}.bias`, o.biasDims ?? [units], r.floats(units, -0.2, 0.2), storage === 'external' ? 'raw' : storage);
  return m.node('Gemm', [x, b, c], { name, attrs: { transB: int(o.transB), ...(o.alpha !== undefined ? { alpha: float(o.alpha) } : {}), ...(o.beta !== undefined ? { beta: float(o.beta) } : {}) } });
}

/**
 * ResNet-like: conv 3x3/s2 -> BN -> ReLU -> maxpool 3x3/s2/p1, a bottleneck block with a conv
 * shortcut and a residual Add -> ReLU, another with the identity shortcut, global average pool,
 * Flatten (of 1x1 data: no layer), Gemm (transB), Softmax. Mixed storage incl. external data.
 */
export function resnetLike(seed: number): TestModel {
  const r = new Random(seed);
  const m = new OnnxModelBuilder(r.pick([11, 13, 17]));
  const [c0, h, w] = [3, r.int(11, 19), r.int(9, 17)];
  const c1 = r.int(4, 9);
  m.input('input', ['batch', c0, h, w]);
  let x = conv(m, r, 'input', c0, c1, '/conv1/Conv', { kernel: [3, 3], attrs: { strides: ints([2, 2]), pads: ints([1, 1, 1, 1]) }, storage: 'external' });
  x = bn(m, r, x, c1, '/bn1/BatchNormalization', 'float_data');
  x = m.node('Relu', [x], { name: '/relu/Relu' });
  x = m.node('MaxPool', [x], { name: '/maxpool/MaxPool', attrs: { kernel_shape: ints([3, 3]), strides: ints([2, 2]), pads: ints([1, 1, 1, 1]) } });
  const block = (x: string, c: number, mid: number, out: number, shortcutConv: boolean, name: string): string => {
    let sc = x;
    if (shortcutConv) sc = bn(m, r, conv(m, r, x, c, out, `${name}/downsample/Conv`, { kernel: [1, 1], bias: false }), out, `${name}/downsample/bn`);
    let y = m.node('Relu', [bn(m, r, conv(m, r, x, c, mid, `${name}/conv1/Conv`, { kernel: [1, 1], bias: false, storage: 'raw' }), mid, `${name}/bn1`)], { name: `${name}/relu1` });
    y = m.node('Relu', [bn(m, r, conv(m, r, y, mid, mid, `${name}/conv2/Conv`, { kernel: [3, 3], attrs: { pads: ints([1, 1, 1, 1]) } }), mid, `${name}/bn2`)], { name: `${name}/relu2` });
    y = bn(m, r, conv(m, r, y, mid, out, `${name}/conv3/Conv`, { kernel: [1, 1], storage: 'float_data' }), out, `${name}/bn3`);
    const sum = m.node('Add', [sc, y], { name: `${name}/Add` });
    return m.node('Relu', [sum], { name: `${name}/relu_out` });
  };
  const c2 = r.int(5, 10);
  x = block(x, c1, r.int(2, 5), c2, true, '/layer1/0');
  x = block(x, c2, r.int(2, 5), c2, false, '/layer1/1');
  x = m.node('GlobalAveragePool', [x], { name: '/avgpool/GlobalAveragePool' });
  x = m.node('Flatten', [x], { name: '/Flatten', attrs: { axis: int(1) } });
  const classes = r.int(5, 12);
  x = gemm(m, r, x, c2, classes, '/fc/Gemm', { transB: 1 });
  m.node('Softmax', [x], { name: '/Softmax', outputs: ['probs'], attrs: { axis: int(1) } });
  m.output('probs');
  return { name: 'resnet-like', builder: m, inputName: 'input', inputDims: [r.int(1, 3), c0, h, w], inputShape: undefined };
}

/**
 * MobileNet-like: conv 3x3/s2 SAME_UPPER (no bias) -> BN -> Clip(0,6), a depthwise 3x3 conv
 * (group = C, channel multiplier 2) SAME_LOWER/s2 -> BN -> Clip(0,6), a 1x1 conv -> BN, a
 * residual Add, AveragePool 3x3 pads 1 (count_include_pad 0), a Flatten of a HxW>1 map read by
 * Dropout -> MatMul + Add (one dense layer, columns permuted), ReLU, Gemm (transB 0, alpha, beta,
 * bias [1,units]), Softmax. Float16 and double storage too.
 */
export function mobilenetLike(seed: number): TestModel {
  const r = new Random(seed);
  const m = new OnnxModelBuilder(r.pick([13, 17]));
  const [c0, h, w] = [r.int(2, 4), r.int(12, 21), r.int(10, 19)];
  const c1 = r.int(3, 6);
  m.input('image', ['N', c0, h, w]);
  const zero = m.scalar('clip_min', 0);
  const six = m.scalar('clip_max', 6);
  let x = conv(m, r, 'image', c0, c1, 'features.0.0', { kernel: [3, 3], bias: false, attrs: { strides: ints([2, 2]), auto_pad: str('SAME_UPPER') }, storage: 'raw' });
  x = bn(m, r, x, c1, 'features.0.1', 'raw', 1e-3);
  x = m.node('Clip', [x, zero, six], { name: 'features.0.2' });
  const c2 = 2 * c1;
  x = conv(m, r, x, c1, c2, 'features.1.dw', { kernel: [3, 3], group: c1, bias: false, attrs: { strides: ints([2, 2]), auto_pad: str('SAME_LOWER') } });
  x = bn(m, r, x, c2, 'features.1.dw_bn', 'float_data');
  x = m.node('Clip', [x, zero, six], { name: 'features.1.relu6' });
  const y = bn(m, r, conv(m, r, x, c2, c2, 'features.2.pw', { kernel: [1, 1], bias: false }), c2, 'features.2.bn');
  x = m.node('Add', [x, y], { name: 'features.2.add' });
  x = m.node('AveragePool', [x], { name: 'pool', attrs: { kernel_shape: ints([3, 3]), strides: ints([1, 1]), pads: ints([1, 1, 1, 1]), count_include_pad: int(0) } });
  const [hh, ww] = [Math.ceil(Math.ceil(h / 2) / 2), Math.ceil(Math.ceil(w / 2) / 2)];
  const features = c2 * hh * ww;
  x = m.node('Flatten', [x], { name: 'flatten' });
  x = m.node('Dropout', [x], { name: 'classifier.0' });
  const units = r.int(4, 9);
  const wt = m.init('classifier.1.weight_t', [features, units], r.floats(features * units, -0.2, 0.2), 'external');
  x = m.node('MatMul', [x, wt], { name: 'classifier.1.matmul' });
  x = m.node('Add', [x, m.init('classifier.1.bias', [units], r.floats(units, -0.1, 0.1))], { name: 'classifier.1.add' });
  x = m.node('Relu', [x], { name: 'classifier.2' });
  const classes = r.int(3, 7);
  x = gemm(m, r, x, units, classes, 'classifier.3', { transB: 0, alpha: 0.75, beta: 1.5, biasDims: [1, classes], storage: 'float_data' });
  m.node('Softmax', [x], { name: 'softmax', outputs: ['output'] });
  m.output('output');
  return { name: 'mobilenet-like', builder: m, inputName: 'image', inputDims: [r.int(1, 2), c0, h, w], inputShape: undefined };
}

/**
 * DenseNet-like, with the shapes left symbolic (--input-shape): a non-square 5x3 conv with stride
 * [1,2] and asymmetric pads, BN -> ReLU, a Concat of the block input and a new conv's output, BN ->
 * ReLU -> 1x1 conv, AveragePool 2x2/s2 ceil_mode on odd sizes (count_include_pad 0), a MaxPool
 * with padding over values that can be negative (padding excluded), Identity, and a Reshape
 * [0,-1] of a HxW>1 map as the graph output (feature order c,h,w).
 */
export function densenetLike(seed: number): TestModel {
  const r = new Random(seed);
  const m = new OnnxModelBuilder(r.pick([12, 17]));
  const [c0, h, w] = [r.int(1, 3), 2 * r.int(5, 9) + 1, 2 * r.int(6, 10) + 1];
  m.input('x', ['n', 'c', 'h', 'w']);
  const c1 = r.int(4, 7);
  let x = conv(m, r, 'x', c0, c1, 'conv0', { kernel: [5, 3], attrs: { strides: ints([1, 2]), pads: ints([2, 1, 1, 0]) } });
  x = m.node('Relu', [bn(m, r, x, c1, 'norm0', 'float_data')], { name: 'relu0' });
  const growth = r.int(2, 5);
  const y = conv(m, r, m.node('Relu', [bn(m, r, x, c1, 'block.norm1')], { name: 'block.relu1' }), c1, growth, 'block.conv1', { kernel: [3, 3], attrs: { pads: ints([1, 1, 1, 1]) } });
  x = m.node('Concat', [x, y], { name: 'block.concat', attrs: { axis: int(1) } });
  const c2 = c1 + growth;
  const c3 = r.int(3, 6);
  x = conv(m, r, m.node('Relu', [bn(m, r, x, c2, 'trans.norm')], { name: 'trans.relu' }), c2, c3, 'trans.conv', { kernel: [1, 1], bias: false });
  x = m.node('AveragePool', [x], { name: 'trans.pool', attrs: { kernel_shape: ints([2, 2]), strides: ints([2, 2]), ceil_mode: int(1) } });
  x = m.node('Identity', [x], { name: 'same' });
  x = m.node('MaxPool', [x], { name: 'maxpool_neg', attrs: { kernel_shape: ints([3, 2]), strides: ints([2, 1]), pads: ints([1, 0, 1, 1]), ceil_mode: int(1) } });
  const shape = m.initInts('flat_shape', [0, -1]);
  m.node('Reshape', [x, shape], { name: 'flat', outputs: ['features'] });
  m.output('features');
  return { name: 'densenet-like', builder: m, inputName: 'x', inputDims: [r.int(1, 2), c0, h, w], inputShape: [c0, h, w] };
}

/**
 * Opset 11 (Clip bounds as inputs from Constant nodes, Softmax's coerced-2-D axis 1): a VALID
 * conv, Clip(0, inf) as ReLU, MaxPool with padding after ReLU (zero padding as is), a Reshape
 * [-1, F] whose shape is a Constant node, Gemm without bias, and a second graph output.
 */
export function opset11(seed: number): TestModel {
  const r = new Random(seed);
  const m = new OnnxModelBuilder(11, 6);
  const [c0, h, w] = [r.int(2, 4), r.int(7, 12), r.int(7, 12)];
  const c1 = r.int(3, 6);
  m.input('data', [1, c0, h, w]);
  let x = conv(m, r, 'data', c0, c1, 'conv', { kernel: [3, 3], attrs: { auto_pad: str('VALID') } });
  const lo = m.constant({ dims: [], data_type: 1, float_data: [0] }, 'zero');
  x = m.node('Clip', [x, lo], { name: 'relu_as_clip' });
  x = m.node('MaxPool', [x], { name: 'pool', attrs: { kernel_shape: ints([2, 2]), strides: ints([2, 2]), pads: ints([0, 0, 1, 1]) } });
  const [hh, ww] = [Math.floor((h - 2 + 1 - 2) / 2) + 1, Math.floor((w - 2 + 1 - 2) / 2) + 1];
  const features = c1 * hh * ww;
  const gap = m.node('GlobalAveragePool', [x], { name: 'gap', outputs: ['pooled'] });
  void gap;
  const shape = m.constant({ dims: [2], data_type: 7, int64_data: [-1, features] }, 'shape');
  x = m.node('Reshape', [x, shape], { name: 'reshape' });
  const units = r.int(3, 8);
  x = m.node('Gemm', [x, m.init('fc.w', [units, features], r.floats(units * features, -0.3, 0.3), 'float_data')], { name: 'fc', attrs: { transB: int(1) } });
  m.node('Softmax', [x], { name: 'prob', outputs: ['prob'] });
  m.output('prob');
  m.output('pooled');
  return { name: 'opset11', builder: m, inputName: 'data', inputDims: [1, c0, h, w] };
}

/**
 * DenseNet as PyTorch exports it: every dense layer concatenates the block input and all feature
 * maps so far again (the first layer's Concat has one input), and the block ends with a Concat of
 * them all, so each Concat is a run of the last one's inputs (the GPU lowering makes them views of
 * one buffer); a zero-padded MaxPool after ReLU, a transition with AveragePool 2x2/s2, BN -> ReLU
 * -> GlobalAveragePool -> Flatten -> Gemm (logits out).
 */
export function torchDensenetLike(seed: number): TestModel {
  const r = new Random(seed);
  const m = new OnnxModelBuilder(13, 7);
  const [c0, h, w] = [3, 2 * r.int(5, 8), 2 * r.int(5, 8)];
  m.input('x', ['N', c0, h, w]);
  const c1 = r.int(4, 8);
  let x = conv(m, r, 'x', c0, c1, 'features.conv0', { kernel: [3, 3], bias: false, attrs: { strides: ints([2, 2]), pads: ints([1, 1, 1, 1]) } });
  x = m.node('Relu', [bn(m, r, x, c1, 'features.norm0')], { name: 'features.relu0' });
  x = m.node('MaxPool', [x], { name: 'features.pool0', attrs: { kernel_shape: ints([3, 3]), strides: ints([2, 2]), pads: ints([1, 1, 1, 1]) } });
  const growth = r.int(2, 4);
  const block = (input: string, c: number, layers: number, name: string): [string, number] => {
    const features = [input];
    let ch = c;
    for (let i = 1; i <= layers; i++) {
      const at = `${name}.denselayer${i}`;
      const cat = m.node('Concat', [...features], { name: `${at}/Concat`, attrs: { axis: int(1) } });
      let y = m.node('Relu', [bn(m, r, cat, ch, `${at}.norm1`)], { name: `${at}.relu1` });
      const mid = 2 * growth;
      y = conv(m, r, y, ch, mid, `${at}.conv1`, { kernel: [1, 1], bias: false });
      y = m.node('Relu', [bn(m, r, y, mid, `${at}.norm2`)], { name: `${at}.relu2` });
      y = conv(m, r, y, mid, growth, `${at}.conv2`, { kernel: [3, 3], bias: false, attrs: { pads: ints([1, 1, 1, 1]) } });
      features.push(y);
      ch += growth;
    }
    return [m.node('Concat', features, { name: `${name}/Concat`, attrs: { axis: int(1) } }), ch];
  };
  let ch: number;
  [x, ch] = block(x, c1, 3, 'features.denseblock1');
  const ct = Math.max(2, Math.floor(ch / 2));
  x = conv(m, r, m.node('Relu', [bn(m, r, x, ch, 'features.transition1.norm')], { name: 'features.transition1.relu' }), ch, ct, 'features.transition1.conv', { kernel: [1, 1], bias: false });
  x = m.node('AveragePool', [x], { name: 'features.transition1.pool', attrs: { kernel_shape: ints([2, 2]), strides: ints([2, 2]) } });
  [x, ch] = block(x, ct, 2, 'features.denseblock2');
  x = m.node('Relu', [bn(m, r, x, ch, 'features.norm5')], { name: '/Relu' });
  x = m.node('GlobalAveragePool', [x], { name: '/GlobalAveragePool' });
  x = m.node('Flatten', [x], { name: '/Flatten', attrs: { axis: int(1) } });
  const classes = r.int(5, 12);
  m.output(gemm(m, r, x, ch, classes, 'classifier', { transB: 1 }));
  return { name: 'torch-densenet-like', builder: m, inputName: 'x', inputDims: [r.int(1, 3), c0, h, w] };
}

/**
 * ONNX's (c,h,w) Flatten where no dense layer can absorb the order: conv -> Relu -> Flatten read by
 * a Relu (so the IR keeps a 'chw' flatten: the GPU path copies the buffer as it is), MatMul + Add
 * (one dense layer), Relu, Gemm (transB 0, alpha, beta), Softmax.
 */
export function flattenChwLike(seed: number): TestModel {
  const r = new Random(seed);
  const m = new OnnxModelBuilder(13, 7);
  const [c0, h, w] = [r.int(1, 3), r.int(4, 7), r.int(4, 7)];
  m.input('img', ['N', c0, h, w]);
  const c1 = r.int(2, 5);
  let x = conv(m, r, 'img', c0, c1, 'conv', { kernel: [3, 3], attrs: { pads: ints([1, 1, 1, 1]) } });
  x = m.node('Relu', [x], { name: 'relu' });
  x = m.node('Flatten', [x], { name: 'flatten', attrs: { axis: int(1) } });
  x = m.node('Relu', [x], { name: 'relu_flat' });
  const units = r.int(4, 9);
  const wt = m.init('fc1.weight_t', [c1 * h * w, units], r.floats(c1 * h * w * units, -0.3, 0.3));
  x = m.node('MatMul', [x, wt], { name: 'fc1.matmul' });
  x = m.node('Add', [x, m.init('fc1.bias', [units], r.floats(units, -0.1, 0.1))], { name: 'fc1.add' });
  x = m.node('Relu', [x], { name: 'fc1.relu' });
  const classes = r.int(3, 7);
  x = gemm(m, r, x, units, classes, 'fc2', { transB: 0, alpha: 0.5, beta: 2 });
  m.node('Softmax', [x], { name: 'softmax', outputs: ['prob'], attrs: { axis: int(1) } });
  m.output('prob');
  return { name: 'flatten-chw', builder: m, inputName: 'img', inputDims: [r.int(1, 3), c0, h, w] };
}

/**
 * The ops MobileNetV2 brings to the GPU path, each where it is hardest: conv 3x3/s2 -> BN -> Clip(0,6)
 * on the image, a 1x1 expansion -> BN -> Clip(0,6) (on a generated kernel when forced: the clamp
 * runs after it), a depthwise 3x3 (group = C) -> BN -> Clip(0,6), a depthwise 3x3/s2 SAME_UPPER on an
 * even size (asymmetric padding) with channel multiplier 2 and a bias -> Clip(0,6) (no BN), a 1x1
 * projection -> BN read twice (so its Clip(0,6) is a step of its own), Add -> Clip(0,6),
 * AveragePool 3x3 pads 1 count_include_pad 0, a 1x1 conv (values of both signs) -> MaxPool 3x3/s2
 * pads 1 (padding excluded), AveragePool 2x2 pads [0,0,1,1] count_include_pad 1 (zeros counted), and
 * a Softmax over the channels of the remaining 2x2 map (opset 13, axis 1) as the output.
 */
export function mobileOpsLike(seed: number): TestModel {
  const r = new Random(seed);
  const m = new OnnxModelBuilder(13, 7);
  // h: a multiple of 4, so the first map has an even height and SAME_UPPER/s2 pads it 0 above, 1 below.
  const [c0, h, w] = [3, 4 * r.int(3, 4), r.int(9, 15)];
  m.input('input', ['N', c0, h, w]);
  const zero = m.scalar('clip_min', 0);
  const six = m.scalar('clip_max', 6);
  const relu6 = (x: string, name: string): string => m.node('Clip', [x, zero, six], { name });
  const c1 = r.int(4, 8);
  let x = conv(m, r, 'input', c0, c1, 'stem.conv', { kernel: [3, 3], bias: false, attrs: { strides: ints([2, 2]), pads: ints([1, 1, 1, 1]) } });
  x = relu6(bn(m, r, x, c1, 'stem.bn'), 'stem.relu6');
  const c2 = c1 + r.int(2, 6);
  x = relu6(bn(m, r, conv(m, r, x, c1, c2, 'expand.conv', { kernel: [1, 1] }), c2, 'expand.bn'), 'expand.relu6');
  x = relu6(bn(m, r, conv(m, r, x, c2, c2, 'dw.conv', { kernel: [3, 3], group: c2, bias: false, attrs: { pads: ints([1, 1, 1, 1]) } }), c2, 'dw.bn'), 'dw.relu6');
  x = relu6(conv(m, r, x, c2, 2 * c2, 'dw2.conv', { kernel: [3, 3], group: c2, attrs: { strides: ints([2, 2]), auto_pad: str('SAME_UPPER') } }), 'dw2.relu6');
  const c3 = r.int(3, 7);
  const y = bn(m, r, conv(m, r, x, 2 * c2, c3, 'project.conv', { kernel: [1, 1], bias: false }), c3, 'project.bn');
  const clipped = relu6(y, 'project.relu6');
  x = relu6(m.node('Add', [y, clipped], { name: 'res.add' }), 'res.relu6');
  x = m.node('AveragePool', [x], { name: 'avg_exclude', attrs: { kernel_shape: ints([3, 3]), strides: ints([1, 1]), pads: ints([1, 1, 1, 1]), count_include_pad: int(0) } });
  const c4 = r.int(3, 6);
  x = conv(m, r, x, c3, c4, 'head.conv', { kernel: [1, 1] });
  x = m.node('MaxPool', [x], { name: 'max_exclude', attrs: { kernel_shape: ints([3, 3]), strides: ints([2, 2]), pads: ints([1, 1, 1, 1]) } });
  x = m.node('AveragePool', [x], { name: 'avg_include', attrs: { kernel_shape: ints([2, 2]), strides: ints([1, 1]), pads: ints([0, 0, 1, 1]), count_include_pad: int(1) } });
  m.node('Softmax', [x], { name: 'softmax', outputs: ['probs'], attrs: { axis: int(1) } });
  m.output('probs');
  return { name: 'mobile-ops', builder: m, inputName: 'input', inputDims: [r.int(1, 3), c0, h, w] };
}
