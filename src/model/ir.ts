// Network IR: a topologically ordered list of named layers with inferred output shapes.
// Shapes are per batch item, NCHW order without N: [channels, height, width]. Flattened and
// dense outputs use [features, 1, 1] so every tensor has the same rank.

export type Shape = readonly [c: number, h: number, w: number];

export interface Padding {
  readonly top: number;
  readonly bottom: number;
  readonly left: number;
  readonly right: number;
}

/** Keras preprocessing of the 0..255 BGR images that goes with each family's weights. */
export type Preprocessing = 'caffe' | 'torch';
export type Family = 'resnet' | 'densenet' | 'vgg' | 'onnx';

interface LayerBase {
  /** Keras layer name (e.g. `conv2_block1_1_conv`, `conv1/conv`). Unique in the graph. */
  readonly name: string;
  /** Names of the layers whose outputs feed this one, in order. */
  readonly inputs: readonly string[];
  /** Output shape, filled by shape inference. */
  readonly shape: Shape;
}

export interface InputLayer extends LayerBase {
  readonly op: 'input';
}
export interface ConvLayer extends LayerBase {
  readonly op: 'conv';
  readonly outChannels: number;
  readonly kernel: readonly [r: number, s: number];
  readonly stride: readonly [sh: number, sw: number];
  readonly pad: Padding;
  readonly groups: number;
  readonly bias: boolean;
}
export interface BatchNormLayer extends LayerBase {
  readonly op: 'batchnorm';
  readonly epsilon: number;
}
export interface ReluLayer extends LayerBase {
  readonly op: 'relu';
}
/** min(max(x, 0), 6) (ONNX `Clip(0, 6)`, MobileNet's ReLU6). */
export interface Relu6Layer extends LayerBase {
  readonly op: 'relu6';
}
export interface AddLayer extends LayerBase {
  readonly op: 'add';
}
/** Channel concatenation (DenseNet). */
export interface ConcatLayer extends LayerBase {
  readonly op: 'concat';
}
export interface PoolLayer extends LayerBase {
  readonly op: 'maxpool' | 'avgpool';
  readonly kernel: readonly [r: number, s: number];
  readonly stride: readonly [sh: number, sw: number];
  /**
   * Keras pads with an explicit ZeroPadding2D before a 'valid' pool, so padded cells hold 0 and
   * take part in the max (harmless: pooled inputs follow a ReLU). Average pools here never pad.
   */
  readonly pad: Padding;
  /**
   * What padded cells are: `zero` (absent: the Keras rule above; an average divides by the whole
   * window) or `exclude` (ONNX/PyTorch MaxPool, and AveragePool with count_include_pad 0: padded
   * cells take no part; the max is over the window's cells inside the input, the average divides
   * by their count). The ONNX importer sets `exclude` only where it changes the result.
   */
  readonly padMode?: 'zero' | 'exclude';
}
export interface GlobalAvgPoolLayer extends LayerBase {
  readonly op: 'globalavgpool';
}
/**
 * Keras Flatten on NHWC data: the feature order is (h, w, c), which the dense weights assume.
 * `chw`: ONNX/PyTorch Flatten of NCHW data, feature (c*H + h)*W + w holds in[c, h, w] (the NCHW
 * buffer as it is). The ONNX importer emits `chw` only where no dense layer's columns can absorb the
 * order instead (a flatten read by dense layers alone is `hwc` with the dense kernels permuted).
 */
export interface FlattenLayer extends LayerBase {
  readonly op: 'flatten';
  readonly order: 'hwc' | 'chw';
}
export interface DenseLayer extends LayerBase {
  readonly op: 'dense';
  readonly units: number;
  readonly bias: boolean;
}
export interface SoftmaxLayer extends LayerBase {
  readonly op: 'softmax';
}

export type Layer =
  | InputLayer
  | ConvLayer
  | BatchNormLayer
  | ReluLayer
  | Relu6Layer
  | AddLayer
  | ConcatLayer
  | PoolLayer
  | GlobalAvgPoolLayer
  | FlattenLayer
  | DenseLayer
  | SoftmaxLayer;

export type OpKind = Layer['op'];

/** Where a graph that is not a zoo model came from. */
export interface ModelOrigin {
  readonly format: 'onnx';
  /** Absolute path of the model file. */
  readonly path: string;
}

export interface Graph {
  /** Zoo name, e.g. `resnet152`; an imported model's file name, e.g. `mobilenet_v2.onnx`. */
  readonly name: string;
  readonly family: Family;
  readonly preprocessing: Preprocessing;
  readonly layers: readonly Layer[];
  /** Absent for zoo models; an imported model's file (src/model/onnx/import.ts). */
  readonly origin?: ModelOrigin;
}

/** Tensor names inside a layer, as stored in weight files. */
export type TensorRole = 'kernel' | 'bias' | 'gamma' | 'beta' | 'moving_mean' | 'moving_variance';

export interface TensorSpec {
  readonly layer: string;
  readonly role: TensorRole;
  /** Conv kernel: [K, C/groups, R, S]; dense kernel: [units, inFeatures]; vectors: [n]. */
  readonly shape: readonly number[];
}

export const size = (shape: readonly number[]): number => shape.reduce((a, b) => a * b, 1);

/** Full key of a tensor in a weight store: `<layer>:<role>` (Keras layer names may contain `/`). */
export const tensorKey = (layer: string, role: TensorRole): string => `${layer}:${role}`;

export function samePad(k: number): Padding {
  const before = Math.floor((k - 1) / 2);
  return { top: before, bottom: k - 1 - before, left: before, right: k - 1 - before };
}
export const uniformPad = (p: number): Padding => ({ top: p, bottom: p, left: p, right: p });
export const NO_PAD: Padding = uniformPad(0);

/** Output extent of a windowed op along one axis. */
export function windowOut(inSize: number, k: number, stride: number, padBefore: number, padAfter: number): number {
  const span = inSize + padBefore + padAfter - k;
  if (span < 0) throw new Error(`window ${k} larger than padded input ${inSize + padBefore + padAfter}`);
  return Math.floor(span / stride) + 1;
}

/** Ordered parameter tensors of one layer (Keras order: kernel, bias; gamma, beta, mean, variance). */
export function layerTensors(layer: Layer, inputShape: (name: string) => Shape): TensorSpec[] {
  switch (layer.op) {
    case 'conv': {
      const [c] = inputShape(layer.inputs[0]!);
      const specs: TensorSpec[] = [
        { layer: layer.name, role: 'kernel', shape: [layer.outChannels, c / layer.groups, layer.kernel[0], layer.kernel[1]] },
      ];
      if (layer.bias) specs.push({ layer: layer.name, role: 'bias', shape: [layer.outChannels] });
      return specs;
    }
    case 'batchnorm': {
      const c = layer.shape[0];
      return (['gamma', 'beta', 'moving_mean', 'moving_variance'] as const).map((role) => ({ layer: layer.name, role, shape: [c] }));
    }
    case 'dense': {
      const [f, h, w] = inputShape(layer.inputs[0]!);
      const specs: TensorSpec[] = [{ layer: layer.name, role: 'kernel', shape: [layer.units, f * h * w] }];
      if (layer.bias) specs.push({ layer: layer.name, role: 'bias', shape: [layer.units] });
      return specs;
    }
    default:
      return [];
  }
}

export class GraphError extends Error {}

export function layerIndex(graph: Graph): Map<string, Layer> {
  return new Map(graph.layers.map((l) => [l.name, l]));
}

export function getLayer(graph: Graph, name: string): Layer {
  const layer = graph.layers.find((l) => l.name === name);
  if (!layer) throw new GraphError(`${graph.name}: no layer named '${name}'`);
  return layer;
}

/** All parameter tensors of a graph, in layer order. */
export function paramSpecs(graph: Graph): TensorSpec[] {
  const byName = layerIndex(graph);
  const shapeOf = (n: string): Shape => byName.get(n)!.shape;
  return graph.layers.flatMap((l) => layerTensors(l, shapeOf));
}

/** Total parameter count, batch-norm statistics included (as Keras' `count_params`). */
export function paramCount(graph: Graph): number {
  return paramSpecs(graph).reduce((n, t) => n + size(t.shape), 0);
}

/** Shape of a conv's input. */
export function convInputShape(graph: Graph, conv: ConvLayer): Shape {
  return getLayer(graph, conv.inputs[0]!).shape;
}

/** Multiply-accumulates of one conv at batch 1 (dense). */
export function convMacs(conv: ConvLayer, inShape: Shape): number {
  const [, ho, wo] = conv.shape;
  return conv.outChannels * ho * wo * (inShape[0] / conv.groups) * conv.kernel[0] * conv.kernel[1];
}

/** The layers that read each layer's output. */
export function consumers(graph: Graph): Map<string, Layer[]> {
  const out = new Map<string, Layer[]>(graph.layers.map((l) => [l.name, []]));
  for (const l of graph.layers) for (const i of l.inputs) out.get(i)!.push(l);
  return out;
}
