// Builds a Graph layer by layer, inferring each output shape as the layer is added so that a
// wrong wiring fails at the layer that causes it, with the layer's name in the message.
import {
  GraphError,
  NO_PAD,
  windowOut,
  type Family,
  type Graph,
  type Layer,
  type Padding,
  type Preprocessing,
  type Shape,
} from './ir.js';

export interface ConvOptions {
  kernel: number | readonly [number, number];
  stride?: number;
  /** [sh, sw] for a stride that differs per axis; overrides `stride`. */
  strides?: readonly [number, number];
  pad?: Padding;
  groups?: number;
  bias: boolean;
}

export interface PoolOptions {
  kernel: number | readonly [number, number];
  stride: number | readonly [number, number];
  pad?: Padding;
  /** PoolLayer.padMode; absent: `zero` (the layer then has no padMode field). */
  padMode?: 'zero' | 'exclude';
}

const pair = (k: number | readonly [number, number]): readonly [number, number] => (typeof k === 'number' ? [k, k] : k);

export class GraphBuilder {
  private readonly layers: Layer[] = [];
  private readonly shapes = new Map<string, Shape>();

  constructor(
    private readonly name: string,
    private readonly family: Family,
    private readonly preprocessing: Preprocessing,
  ) {}

  shape(name: string): Shape {
    const s = this.shapes.get(name);
    if (!s) throw new GraphError(`${this.name}: layer '${name}' is used before it is defined`);
    return s;
  }

  private add(layer: Layer): string {
    if (this.shapes.has(layer.name)) throw new GraphError(`${this.name}: duplicate layer name '${layer.name}'`);
    this.layers.push(layer);
    this.shapes.set(layer.name, layer.shape);
    return layer.name;
  }

  input(name: string, shape: Shape): string {
    return this.add({ op: 'input', name, inputs: [], shape });
  }

  conv(name: string, input: string, outChannels: number, o: ConvOptions): string {
    const [c, h, w] = this.shape(input);
    const kernel = pair(o.kernel);
    const stride = o.strides ?? pair(o.stride ?? 1);
    const pad = o.pad ?? NO_PAD;
    const groups = o.groups ?? 1;
    if (c % groups !== 0 || outChannels % groups !== 0) {
      throw new GraphError(`${this.name}/${name}: channels ${c}->${outChannels} not divisible by groups ${groups}`);
    }
    const ho = windowOut(h, kernel[0], stride[0], pad.top, pad.bottom);
    const wo = windowOut(w, kernel[1], stride[1], pad.left, pad.right);
    return this.add({
      op: 'conv', name, inputs: [input], shape: [outChannels, ho, wo],
      outChannels, kernel, stride, pad, groups, bias: o.bias,
    });
  }

  batchnorm(name: string, input: string, epsilon: number): string {
    return this.add({ op: 'batchnorm', name, inputs: [input], shape: this.shape(input), epsilon });
  }

  relu(name: string, input: string): string {
    return this.add({ op: 'relu', name, inputs: [input], shape: this.shape(input) });
  }

  relu6(name: string, input: string): string {
    return this.add({ op: 'relu6', name, inputs: [input], shape: this.shape(input) });
  }

  addLayers(name: string, inputs: readonly string[]): string {
    const first = this.shape(inputs[0]!);
    for (const i of inputs) {
      const s = this.shape(i);
      if (s.some((d, k) => d !== first[k])) {
        throw new GraphError(`${this.name}/${name}: add of shapes ${fmt(first)} and ${fmt(s)}`);
      }
    }
    return this.add({ op: 'add', name, inputs, shape: first });
  }

  concat(name: string, inputs: readonly string[]): string {
    const [, h, w] = this.shape(inputs[0]!);
    let c = 0;
    for (const i of inputs) {
      const s = this.shape(i);
      if (s[1] !== h || s[2] !== w) throw new GraphError(`${this.name}/${name}: concat of spatial sizes ${h}x${w} and ${s[1]}x${s[2]}`);
      c += s[0];
    }
    return this.add({ op: 'concat', name, inputs, shape: [c, h, w] });
  }

  pool(op: 'maxpool' | 'avgpool', name: string, input: string, o: PoolOptions): string {
    const [c, h, w] = this.shape(input);
    const pad = o.pad ?? NO_PAD;
    const kernel = pair(o.kernel);
    const stride = pair(o.stride);
    const ho = windowOut(h, kernel[0], stride[0], pad.top, pad.bottom);
    const wo = windowOut(w, kernel[1], stride[1], pad.left, pad.right);
    return this.add({ op, name, inputs: [input], shape: [c, ho, wo], kernel, stride, pad, ...(o.padMode ? { padMode: o.padMode } : {}) });
  }

  globalAvgPool(name: string, input: string): string {
    return this.add({ op: 'globalavgpool', name, inputs: [input], shape: [this.shape(input)[0], 1, 1] });
  }

  flatten(name: string, input: string, order: 'hwc' | 'chw' = 'hwc'): string {
    const [c, h, w] = this.shape(input);
    return this.add({ op: 'flatten', name, inputs: [input], shape: [c * h * w, 1, 1], order });
  }

  dense(name: string, input: string, units: number, bias = true): string {
    const [, h, w] = this.shape(input);
    if (h !== 1 || w !== 1) throw new GraphError(`${this.name}/${name}: dense input must be flat, got ${fmt(this.shape(input))}`);
    return this.add({ op: 'dense', name, inputs: [input], shape: [units, 1, 1], units, bias });
  }

  softmax(name: string, input: string): string {
    return this.add({ op: 'softmax', name, inputs: [input], shape: this.shape(input) });
  }

  build(): Graph {
    return { name: this.name, family: this.family, preprocessing: this.preprocessing, layers: [...this.layers] };
  }
}

export const fmt = (s: Shape): string => s.join('x');
