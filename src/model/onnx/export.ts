// A graph of our IR and its weights as an ONNX model (opset 13), written with protobufjs from the
// schema the reader uses (./schema.ts): one node per layer, named as the layer and writing a tensor
// of the layer's name, so that importing the file (./import.ts) gives the same layers with the same
// names and the same weights bit for bit (float32 raw_data), hence the same plan.
//
//   conv        Conv (W [K, C/group, R, S], B when the layer has a bias; pads, strides, group)
//   batchnorm   BatchNormalization (scale, B, mean, var, epsilon); not folded, as the zoo has it
//   relu/relu6  Relu / Clip(0, 6)
//   add/concat  Add / Concat(axis 1)
//   maxpool     MaxPool with explicit pads: ONNX excludes padding, the zoo's Keras pools pad with
//               zeros, the same wherever the input is >= 0 (after a ReLU; otherwise an error)
//   avgpool     AveragePool, count_include_pad 1 where the zoo pads with zeros (divides by the
//               whole window), 0 where padding is excluded (padMode 'exclude')
//   globalavgpool  GlobalAveragePool
//   flatten     Flatten; the Keras (h,w,c) order is kept by permuting the columns of the dense
//               layers that read it (any other reader is an error: ONNX's Flatten is (c,h,w))
//   dense       Gemm (transB 1, B [units, features]); a Flatten before it where its input is a
//               1x1 map (ONNX's Gemm takes a 2-D input; the importer makes no layer of it)
//   softmax     Softmax(axis 1)
//
// The model's metadata records the preprocessing the weights expect (`cusnn.preprocessing`: caffe
// for the Keras ResNets and VGGs), which the importer reads back.
import { writeFileSync } from 'node:fs';
import protobuf from 'protobufjs/light.js';
import { consumers, layerIndex, type Graph, type Layer } from '../ir.js';
import { getTensor, type WeightSet } from '../../weights/store.js';
import { nonNegativeOutput, PREPROCESSING_KEY } from './import.js';
import { ONNX_SCHEMA } from './schema.js';

/** The opset and IR version the exporter writes (IR 7 is opset 13's). */
export const EXPORT_OPSET = 13;
export const EXPORT_IR_VERSION = 7;

/** A layer or weight the exporter cannot write as ONNX without changing what it computes. */
export class OnnxExportError extends Error {}

type Obj = Record<string, unknown>;

const FLOAT = 1;
const ATTR = { FLOAT: 1, INT: 2, INTS: 7 } as const;

const attrInt = (name: string, i: number): Obj => ({ name, type: ATTR.INT, i });
const attrInts = (name: string, ints: readonly number[]): Obj => ({ name, type: ATTR.INTS, ints: [...ints] });
const attrFloat = (name: string, f: number): Obj => ({ name, type: ATTR.FLOAT, f });

function floatTensor(name: string, dims: readonly number[], values: Float32Array): Obj {
  const n = dims.reduce((a, b) => a * b, 1);
  if (values.length !== n) throw new OnnxExportError(`tensor '${name}': ${values.length} values for dims [${dims.join('x')}]`);
  // Little-endian float32 bytes (the IR's typed arrays are little-endian: assertLittleEndian in the weight readers).
  return { name, dims: [...dims], data_type: FLOAT, raw_data: new Uint8Array(values.buffer, values.byteOffset, values.byteLength) };
}

export interface ExportOptions {
  /** producer_name (default 'cusnn-gen'). */
  readonly producer?: string;
  readonly producerVersion?: string;
}

/** `graph` with `weights` as an ONNX ModelProto's bytes. */
export function exportOnnx(graph: Graph, weights: WeightSet, o: ExportOptions = {}): Uint8Array {
  const byName = layerIndex(graph);
  const readers = consumers(graph);
  const nodes: Obj[] = [];
  const initializers: Obj[] = [];
  const inputs: Obj[] = [];
  /** ONNX rank of each layer's output: 4 (N,C,H,W) or 2 (N,F). */
  const rank = new Map<string, 2 | 4>();
  const usedTensorNames = new Set<string>(graph.layers.map((l) => l.name));
  const fresh = (base: string): string => {
    let name = base;
    for (let k = 2; usedTensorNames.has(name); k++) name = `${base}_${k}`;
    usedTensorNames.add(name);
    return name;
  };
  const fail = (l: Layer, why: string): never => {
    throw new OnnxExportError(`${graph.name}/${l.name} (${l.op}): ${why}`);
  };
  const init = (base: string, dims: readonly number[], values: Float32Array): string => {
    const name = fresh(base);
    initializers.push(floatTensor(name, dims, values));
    return name;
  };
  const tensor = (l: Layer, role: Parameters<typeof getTensor>[2]): Float32Array => {
    try {
      return getTensor(weights, l.name, role);
    } catch (e) {
      return fail(l, (e as Error).message);
    }
  };
  const node = (opType: string, name: string, ins: readonly string[], out: string, attribute: Obj[] = []): void => {
    nodes.push({ name, op_type: opType, input: [...ins], output: [out], attribute });
  };
  let clipMin: string | null = null;
  let clipMax: string | null = null;

  for (const l of graph.layers) {
    const x = l.inputs[0]!;
    switch (l.op) {
      case 'input': {
        if (inputs.length > 0) fail(l, 'a second input layer; ONNX models here have one image input');
        inputs.push({ name: l.name, type: { tensor_type: { elem_type: FLOAT, shape: { dim: [{ dim_param: 'N' }, ...l.shape.map((d) => ({ dim_value: d }))] } } } });
        rank.set(l.name, 4);
        break;
      }
      case 'conv': {
        const c = byName.get(x)!.shape[0];
        const w = init(`${l.name}.weight`, [l.outChannels, c / l.groups, l.kernel[0], l.kernel[1]], tensor(l, 'kernel'));
        const ins = [x, w];
        if (l.bias) ins.push(init(`${l.name}.bias`, [l.outChannels], tensor(l, 'bias')));
        const attrs = [attrInts('kernel_shape', l.kernel), attrInts('strides', l.stride), attrInts('pads', [l.pad.top, l.pad.left, l.pad.bottom, l.pad.right])];
        if (l.groups !== 1) attrs.push(attrInt('group', l.groups));
        node('Conv', l.name, ins, l.name, attrs);
        rank.set(l.name, 4);
        break;
      }
      case 'batchnorm': {
        const c = l.shape[0];
        const ins = [x, ...(['gamma', 'beta', 'moving_mean', 'moving_variance'] as const).map((role, i) =>
          init(`${l.name}.${['weight', 'bias', 'running_mean', 'running_var'][i]}`, [c], tensor(l, role)))];
        node('BatchNormalization', l.name, ins, l.name, [attrFloat('epsilon', l.epsilon)]);
        rank.set(l.name, rank.get(x)!);
        break;
      }
      case 'relu':
        node('Relu', l.name, [x], l.name);
        rank.set(l.name, rank.get(x)!);
        break;
      case 'relu6':
        clipMin ??= init('clip.min', [], new Float32Array([0]));
        clipMax ??= init('clip.max', [], new Float32Array([6]));
        node('Clip', l.name, [x, clipMin, clipMax], l.name);
        rank.set(l.name, rank.get(x)!);
        break;
      case 'add':
        if (l.inputs.length !== 2) fail(l, `an add of ${l.inputs.length} inputs; ONNX's Add takes 2`);
        node('Add', l.name, l.inputs, l.name);
        rank.set(l.name, rank.get(x)!);
        break;
      case 'concat':
        node('Concat', l.name, l.inputs, l.name, [attrInt('axis', 1)]);
        rank.set(l.name, rank.get(x)!);
        break;
      case 'maxpool':
      case 'avgpool': {
        const pads = [l.pad.top, l.pad.left, l.pad.bottom, l.pad.right];
        const padded = pads.some((p) => p > 0);
        if (pads[0]! >= l.kernel[0] || pads[2]! >= l.kernel[0] || pads[1]! >= l.kernel[1] || pads[3]! >= l.kernel[1]) {
          fail(l, `pads [${pads.join(',')}] not smaller than the window ${l.kernel.join('x')}; ONNX pools need each pad smaller than the window`);
        }
        const attrs = [attrInts('kernel_shape', l.kernel), attrInts('strides', l.stride), attrInts('pads', pads)];
        const exclude = l.padMode === 'exclude';
        if (l.op === 'maxpool') {
          if (padded && !exclude && !nonNegativeOutput((l) => byName.get(l)!, x)) {
            fail(l, 'a max pool over zero padding of values that can be negative: ONNX\'s MaxPool excludes the padding (no ONNX op here pads with zeros)');
          }
          node('MaxPool', l.name, [x], l.name, attrs);
        } else {
          if (padded && !exclude) attrs.push(attrInt('count_include_pad', 1));
          node('AveragePool', l.name, [x], l.name, attrs);
        }
        rank.set(l.name, 4);
        break;
      }
      case 'globalavgpool':
        node('GlobalAveragePool', l.name, [x], l.name);
        rank.set(l.name, 4);
        break;
      case 'flatten': {
        const [, h, w] = byName.get(x)!.shape;
        if (l.order === 'hwc' && h * w > 1) {
          const others = readers.get(l.name)!.filter((r) => r.op !== 'dense');
          if (others.length > 0) {
            fail(l, `a Keras (h,w,c) flatten read by '${others[0]!.name}' (${others[0]!.op}); ONNX's Flatten is (c,h,w), so only dense readers (whose columns are permuted) can follow it`);
          }
        }
        node('Flatten', l.name, [x], l.name, [attrInt('axis', 1)]);
        rank.set(l.name, 2);
        break;
      }
      case 'dense': {
        const src = byName.get(x)!;
        const [f, h, w] = src.shape;
        const features = f * h * w;
        const kernel = tensor(l, 'kernel');
        if (kernel.length !== l.units * features) fail(l, `kernel has ${kernel.length} values, expected ${l.units}x${features}`);
        let b = kernel;
        // The IR's dense after a Keras (h,w,c) flatten reads column (y*W + x)*C + c; ONNX's Flatten
        // puts that value at column (c*H + y)*W + x: permute the columns to match.
        if (src.op === 'flatten' && src.order === 'hwc') {
          const [c, hh, ww] = byName.get(src.inputs[0]!)!.shape;
          if (hh * ww > 1) {
            b = new Float32Array(kernel.length);
            for (let u = 0; u < l.units; u++) {
              for (let i = 0; i < features; i++) {
                const ch = i % c;
                const p = Math.floor(i / c);
                b[u * features + ch * hh * ww + p] = kernel[u * features + i]!;
              }
            }
          }
        }
        let input = x;
        if (rank.get(x) === 4) {
          if (h !== 1 || w !== 1) fail(l, `dense over a ${f}x${h}x${w} map without a flatten`);
          input = fresh(`${x}/flatten`);
          node('Flatten', input, [x], input, [attrInt('axis', 1)]);
        }
        const ins = [input, init(`${l.name}.weight`, [l.units, features], b)];
        if (l.bias) ins.push(init(`${l.name}.bias`, [l.units], tensor(l, 'bias')));
        node('Gemm', l.name, ins, l.name, [attrInt('transB', 1)]);
        rank.set(l.name, 2);
        break;
      }
      case 'softmax':
        node('Softmax', l.name, [x], l.name, [attrInt('axis', 1)]);
        rank.set(l.name, rank.get(x)!);
        break;
    }
  }
  if (inputs.length !== 1) throw new OnnxExportError(`${graph.name}: no input layer`);
  const outputs = graph.layers.filter((l) => readers.get(l.name)!.length === 0).map((l) => ({ name: l.name, type: { tensor_type: { elem_type: FLOAT } } }));
  const model = {
    ir_version: EXPORT_IR_VERSION,
    producer_name: o.producer ?? 'cusnn-gen',
    producer_version: o.producerVersion ?? '',
    opset_import: [{ domain: '', version: EXPORT_OPSET }],
    metadata_props: [{ key: PREPROCESSING_KEY, value: graph.preprocessing }, { key: 'cusnn.model', value: graph.name }, { key: 'cusnn.weights', value: weights.source }],
    graph: { name: graph.name, node: nodes, initializer: initializers, input: inputs, output: outputs },
  };
  const type = protobuf.Root.fromJSON(ONNX_SCHEMA).lookupType('onnx.ModelProto');
  const problem = type.verify(model);
  if (problem) throw new OnnxExportError(`${graph.name}: internal: the ONNX model does not verify: ${problem}`);
  return type.encode(type.fromObject(model)).finish();
}

/** Writes `graph` with `weights` to `file` as ONNX; returns the number of bytes. */
export function writeOnnx(file: string, graph: Graph, weights: WeightSet, o: ExportOptions = {}): number {
  const bytes = exportOnnx(graph, weights, o);
  writeFileSync(file, bytes);
  return bytes.length;
}
