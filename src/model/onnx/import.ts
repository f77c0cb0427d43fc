// An ONNX graph (./read.ts) as our IR: one GraphBuilder layer per ONNX node that computes
// something, in the file's (topological) order, with its weights as a WeightSet keyed as the zoo
// models' are (`<layer>:kernel`, `:bias`, `:gamma`, `:beta`, `:moving_mean`, `:moving_variance`),
// so every consumer of loadWeights (planner, lowering, reference, exports) reads them alike.
//
// The structure stays what the zoo models have: Conv -> BatchNormalization -> Relu are three
// layers (the planner and the lowering fold and fuse them as they do for the zoo), a residual Add
// is an add layer, Gemm (and MatMul + Add) a dense layer. No-ops (Identity, Dropout, a Flatten of
// 1x1 data, a Reshape to the shape it has) become no layer: their output names the layer of their
// input. Every op, attribute value or shape the IR cannot express exactly is an error naming the
// node's index, name and op type; nothing is skipped.
//
// Layer names are the ONNX node names, with characters outside [A-Za-z0-9_./-] replaced by '_'
// (the IR keys tensors as `<layer>:<role>` and prints names in tables and one-line messages), a
// nameless node named `<OpType>_<index>`, and a repeated name suffixed `_2`, `_3`, ...; `nodes`
// and `layerOfNode` map every node to its layer.
import * as path from 'node:path';
import { GraphBuilder } from '../builder.js';
import { tensorKey, type Graph, type Padding, type Preprocessing, type Shape, type TensorRole } from '../ir.js';
import { checkWeightValues, inParamOrder, validateWeights, type WeightSet } from '../../weights/store.js';
import {
  DataType,
  dataTypeName,
  elementCount,
  OnnxError,
  readOnnxFile,
  tensorFloat32,
  tensorIntegers,
  tensorNumbers,
  type OnnxAttribute,
  type OnnxModel,
  type OnnxNode,
  type OnnxTensor,
} from './read.js';

export interface ImportOptions {
  /** C,H,W of one input item: fills the graph input's symbolic dimensions; must agree with its fixed ones. */
  readonly inputShape?: Shape | undefined;
  /** C,H,W for the graph input's symbolic dimensions only, never checked against fixed ones (inputShape wins). */
  readonly defaultInputShape?: Shape | undefined;
  /** Name of the graph (and of its weights); default the file's base name, e.g. `mobilenet_v2.onnx`. */
  readonly name?: string | undefined;
  /** How images are preprocessed for `run --images`; default the file's `cusnn.preprocessing` metadata, else `torch` (torchvision's ImageNet normalization). */
  readonly preprocessing?: Preprocessing | undefined;
}

/** What one ONNX node became. */
export interface NodeImport {
  readonly index: number;
  /** The node's name in the file ('' when it has none). */
  readonly name: string;
  readonly opType: string;
  /**
   * `layer`: a layer of its own; `alias`: a no-op whose output is its input's layer; `bias`: an Add
   * folded into the dense layer of the MatMul before it; `constant`: a Constant node (no layer).
   */
  readonly how: 'layer' | 'alias' | 'bias' | 'constant';
  /** The layer that holds the node's output (null for a constant). */
  readonly layer: string | null;
}

export interface ImportedModel {
  readonly graph: Graph;
  readonly weights: WeightSet;
  readonly nodes: readonly NodeImport[];
  /** ONNX node name -> the IR layer holding its output (named nodes only). */
  readonly layerOfNode: ReadonlyMap<string, string>;
  readonly opset: number;
  /** The ONNX graph input and outputs the IR's input and output layers stand for. */
  readonly inputName: string;
  readonly outputNames: readonly string[];
  /** The IR layer of each of outputNames, same order. */
  readonly outputLayers: readonly string[];
  /** The external data files the initializers are read from (absolute, sorted, each once); empty when none. */
  readonly externalFiles: readonly string[];
}

/** Reads and imports an ONNX file (readOnnxFile + importOnnx). */
export function importOnnxFile(file: string, o: ImportOptions = {}): ImportedModel {
  const model = readOnnxFile(file);
  return importOnnx(model, { ...o, name: o.name ?? path.basename(file) }, path.resolve(file));
}

export const SUPPORTED_OPS = [
  'Conv', 'BatchNormalization', 'Relu', 'Clip', 'Add', 'Concat', 'MaxPool', 'AveragePool', 'GlobalAveragePool',
  'Flatten', 'Reshape', 'Gemm', 'MatMul', 'Softmax', 'Identity', 'Dropout', 'Constant',
] as const;

/** Characters a layer name keeps; the others become '_'. */
export const sanitizeLayerName = (name: string): string => name.replace(/[^A-Za-z0-9_./-]/g, '_');

type Value =
  /**
   * A layer's output: rank 4 (N,C,H,W: IR shape [C,H,W]) or rank 2 (N,F: IR shape [F,1,1]).
   * `chw`: the layer is a flatten in the IR's `hwc` order standing for ONNX's (c,h,w) flatten of
   * this shape; the dense layers reading it permute their kernel columns to match.
   */
  | { readonly kind: 'layer'; readonly layer: string; readonly rank: 2 | 4; readonly chw?: Shape }
  | { readonly kind: 'const'; readonly tensor: OnnxTensor };
type LayerValue = Extract<Value, { kind: 'layer' }>;

interface Use {
  readonly node: OnnxNode;
  readonly slot: number;
}

/** Attributes each op may carry (others are an error: an attribute nobody reads could change the result). */
const ATTRIBUTES: Readonly<Record<string, readonly string[]>> = {
  Conv: ['auto_pad', 'dilations', 'group', 'kernel_shape', 'pads', 'strides'],
  BatchNormalization: ['epsilon', 'momentum', 'training_mode', 'spatial'],
  Relu: [],
  Clip: [],
  Add: [],
  Concat: ['axis'],
  MaxPool: ['auto_pad', 'ceil_mode', 'dilations', 'kernel_shape', 'pads', 'storage_order', 'strides'],
  AveragePool: ['auto_pad', 'ceil_mode', 'count_include_pad', 'dilations', 'kernel_shape', 'pads', 'strides'],
  GlobalAveragePool: [],
  Flatten: ['axis'],
  Reshape: ['allowzero'],
  Gemm: ['alpha', 'beta', 'transA', 'transB'],
  MatMul: [],
  Softmax: ['axis'],
  Identity: [],
  Dropout: ['ratio', 'seed', 'is_test'],
  Constant: ['value', 'value_float', 'value_floats', 'value_int', 'value_ints'],
};

const fmtList = (v: readonly number[]): string => `[${v.join(',')}]`;
const fmtDims = (v: readonly number[]): string => `[${v.join('x')}]`;
const sameList = (a: readonly number[], b: readonly number[]): boolean => a.length === b.length && a.every((x, i) => x === b[i]);

/** The metadata key that names the image preprocessing the weights expect (export-onnx writes it). */
export const PREPROCESSING_KEY = 'cusnn.preprocessing';

/** `cusnn.preprocessing` of the file's metadata ('caffe' or 'torch'), else 'torch' (torchvision's normalization). */
function preprocessingOf(model: OnnxModel): Preprocessing {
  const v = model.metadata.get(PREPROCESSING_KEY);
  if (v === undefined) return 'torch';
  if (v !== 'caffe' && v !== 'torch') throw new OnnxError(`${model.source}: metadata ${PREPROCESSING_KEY} is '${v}'; expected 'caffe' or 'torch'`);
  return v;
}

/** Imports an ONNX model; `file` (absolute) is recorded as the graph's origin. */
export function importOnnx(model: OnnxModel, o: ImportOptions = {}, file: string = path.resolve(model.source)): ImportedModel {
  return new Importer(model, o, file).run();
}

class Importer {
  private readonly src: string;
  private readonly name: string;
  private readonly b: GraphBuilder;
  private readonly values = new Map<string, Value>();
  private readonly tensors = new Map<string, Float32Array>();
  private readonly usedNames = new Set<string>();
  /** Per IR layer: its op and inputs (the builder keeps them private), and the node it came from. */
  private readonly layers = new Map<string, { readonly op: string; readonly inputs: readonly string[]; readonly node: OnnxNode | null }>();
  private readonly uses = new Map<string, Use[]>();
  private readonly graphOutputs: Set<string>;
  /** Add nodes (by index) folded into the dense layer before them, with that layer. */
  private readonly biasAdds = new Map<number, string>();
  private readonly records: NodeImport[] = [];
  private inputName = '';

  constructor(private readonly model: OnnxModel, private readonly o: ImportOptions, private readonly file: string) {
    this.src = model.source;
    this.name = o.name ?? path.basename(model.source);
    this.b = new GraphBuilder(this.name, 'onnx', o.preprocessing ?? preprocessingOf(model));
    this.graphOutputs = new Set(model.graph.outputs.map((v) => v.name));
    for (const n of model.graph.nodes) {
      n.inputs.forEach((t, slot) => {
        if (t === '') return;
        const list = this.uses.get(t);
        if (list) list.push({ node: n, slot });
        else this.uses.set(t, [{ node: n, slot }]);
      });
    }
  }

  run(): ImportedModel {
    const g = this.model.graph;
    for (const [name, t] of g.initializers) this.values.set(name, { kind: 'const', tensor: t });
    this.input();
    for (const n of g.nodes) this.node(n);
    const outputLayers = this.outputs();
    const built = this.b.build();
    const graph: Graph = { ...built, origin: { format: 'onnx', path: this.file } };
    const weights: WeightSet = { model: graph.name, source: this.src, tensors: inParamOrder(graph, this.tensors), filled: [] };
    try {
      validateWeights(graph, weights);
      checkWeightValues(graph, weights);
    } catch (e) {
      throw new OnnxError((e as Error).message);
    }
    const layerOfNode = new Map<string, string>();
    for (const r of this.records) if (r.name !== '' && r.layer !== null && !layerOfNode.has(r.name)) layerOfNode.set(r.name, r.layer);
    const outputNames = this.model.graph.outputs.map((v) => v.name);
    const external = new Set<string>();
    for (const t of this.model.graph.initializers.values()) if (t.data.kind === 'external') external.add(path.resolve(t.data.file));
    return { graph, weights, nodes: this.records, layerOfNode, opset: this.model.opset, inputName: this.inputName, outputNames, outputLayers,
      externalFiles: [...external].sort() };
  }

  // -------------------------------------------------------------------------------------------
  // Messages, names, values.

  private label(n: OnnxNode): string {
    return `ONNX node ${n.index} '${n.name}' (${n.opType})`;
  }

  private fail(n: OnnxNode, msg: string): never {
    throw new OnnxError(`${this.src}: ${this.label(n)}: ${msg}`);
  }

  private newLayerName(base: string): string {
    let name = base;
    for (let k = 2; this.usedNames.has(name); k++) name = `${base}_${k}`;
    this.usedNames.add(name);
    return name;
  }

  private layerNameFor(n: OnnxNode): string {
    return this.newLayerName(sanitizeLayerName(n.name) || `${n.opType}_${n.index}`);
  }

  /** Runs a builder call, turning its error (a GraphError or a window error) into one naming the node. */
  private build(n: OnnxNode, layer: string, op: string, inputs: readonly string[], f: () => string): string {
    try {
      f();
    } catch (e) {
      const msg = (e as Error).message.replace(`${this.name}/${layer}: `, '');
      this.fail(n, msg);
    }
    this.layers.set(layer, { op, inputs, node: n });
    return layer;
  }

  private shape(layer: string): Shape {
    return this.b.shape(layer);
  }

  private value(n: OnnxNode, slot: number): Value {
    const t = n.inputs[slot];
    if (t === undefined || t === '') this.fail(n, `input ${slot} is missing`);
    const v = this.values.get(t);
    if (!v) this.fail(n, `input '${t}' is not computed before this node (the graph is not in topological order, or the tensor does not exist)`);
    return v;
  }

  private hasInput(n: OnnxNode, slot: number): boolean {
    const t = n.inputs[slot];
    return t !== undefined && t !== '';
  }

  private layerInput(n: OnnxNode, slot: number): LayerValue {
    const v = this.value(n, slot);
    if (v.kind === 'const') this.fail(n, `input ${slot} '${n.inputs[slot]}' is a constant; this op on constants is not supported (no constant folding)`);
    return v;
  }

  private constInput(n: OnnxNode, slot: number, what: string): OnnxTensor {
    const v = this.value(n, slot);
    if (v.kind !== 'const') this.fail(n, `${what} (input ${slot} '${n.inputs[slot]}') must be an initializer or a Constant, not computed by the graph`);
    return v.tensor;
  }

  private floats(n: OnnxNode, t: OnnxTensor): Float32Array {
    try {
      return tensorFloat32(t, this.src);
    } catch (e) {
      return this.fail(n, (e as Error).message.replace(`${this.src}: `, ''));
    }
  }

  private ints(n: OnnxNode, t: OnnxTensor): number[] {
    try {
      return tensorIntegers(t, this.src);
    } catch (e) {
      return this.fail(n, (e as Error).message.replace(`${this.src}: `, ''));
    }
  }

  private scalar(n: OnnxNode, t: OnnxTensor, what: string): number {
    if (elementCount(t) !== 1) this.fail(n, `${what} must be a scalar, got dims ${fmtDims(t.dims)}`);
    try {
      return tensorNumbers(t, this.src)[0]!;
    } catch (e) {
      return this.fail(n, (e as Error).message.replace(`${this.src}: `, ''));
    }
  }

  private setOutput(n: OnnxNode, v: Value, how: NodeImport['how']): void {
    const out = n.outputs[0];
    if (out === undefined || out === '') this.fail(n, 'has no output');
    this.values.set(out, v);
    // Optional outputs past the first (BatchNormalization's running stats, MaxPool's indices,
    // Dropout's mask) must be unused: the IR computes the first output only.
    n.outputs.forEach((t, i) => {
      if (i === 0 || t === '') return;
      const user = this.uses.get(t)?.[0];
      if (user || this.graphOutputs.has(t)) {
        this.fail(n, `output ${i} '${t}' is used (${user ? `by ${this.label(user.node)}` : 'as a graph output'}); only the first output is supported`);
      }
    });
    this.records.push({ index: n.index, name: n.name, opType: n.opType, how, layer: v.kind === 'layer' ? v.layer : null });
  }

  private put(layer: string, role: TensorRole, data: Float32Array): void {
    this.tensors.set(tensorKey(layer, role), data);
  }

  // -------------------------------------------------------------------------------------------
  // Attributes.

  private attr(n: OnnxNode, name: string): OnnxAttribute | undefined {
    return n.attributes.get(name);
  }

  private attrInt(n: OnnxNode, name: string, def: number): number {
    const a = this.attr(n, name);
    if (!a) return def;
    if (a.type !== 'int') this.fail(n, `attribute '${name}' must be an int, got ${a.type}`);
    return a.value;
  }

  private attrFloat(n: OnnxNode, name: string, def: number): number {
    const a = this.attr(n, name);
    if (!a) return def;
    if (a.type !== 'float') this.fail(n, `attribute '${name}' must be a float, got ${a.type}`);
    return a.value;
  }

  private attrInts(n: OnnxNode, name: string): readonly number[] | undefined {
    const a = this.attr(n, name);
    if (!a) return undefined;
    if (a.type !== 'ints') this.fail(n, `attribute '${name}' must be a list of ints, got ${a.type}`);
    return a.value;
  }

  private attrString(n: OnnxNode, name: string, def: string): string {
    const a = this.attr(n, name);
    if (!a) return def;
    if (a.type !== 'string') this.fail(n, `attribute '${name}' must be a string, got ${a.type}`);
    return a.value;
  }

  private checkAttributes(n: OnnxNode): void {
    const known = ATTRIBUTES[n.opType]!;
    for (const a of n.attributes.keys()) {
      if (!known.includes(a)) this.fail(n, `attribute '${a}' not supported${known.length ? ` (${n.opType} takes ${known.join(', ')})` : ` (${n.opType} takes none)`}`);
    }
  }

  // -------------------------------------------------------------------------------------------
  // The graph input and outputs.

  private input(): void {
    const g = this.model.graph;
    const real = g.inputs.filter((v) => !g.initializers.has(v.name));
    if (real.length !== 1) {
      throw new OnnxError(`${this.src}: the graph has ${real.length} inputs${real.length ? ` (${real.map((v) => `'${v.name}'`).join(', ')})` : ''}; one image input is supported`);
    }
    const v = real[0]!;
    const where = `${this.src}: graph input '${v.name}'`;
    if (v.elemType !== DataType.FLOAT) throw new OnnxError(`${where} is ${v.elemType === null ? 'not a tensor' : dataTypeName(v.elemType)}; a FLOAT tensor is supported`);
    const given = this.o.inputShape;
    const fallback = this.o.defaultInputShape;
    const dims = v.dims;
    if (dims !== null && dims.length !== 4) throw new OnnxError(`${where} has rank ${dims.length} ([${dims.map((d) => d ?? '?').join(',')}]); an N,C,H,W tensor is supported`);
    const chw: number[] = [];
    for (let k = 0; k < 3; k++) {
      const d = dims?.[k + 1] ?? null;
      if (typeof d === 'number') {
        if (given && given[k] !== d) throw new OnnxError(`${where} has fixed shape [${dims!.map((x) => x ?? '?').join(',')}]; --input-shape ${given.join(',')} differs (C,H,W must be ${dims!.slice(1).join(',')})`);
        chw.push(d);
      } else if (given || fallback) {
        chw.push((given ?? fallback)![k]!);
      } else {
        const shown = dims ? `[${dims.map((x) => x ?? '?').join(',')}]` : 'no shape';
        throw new OnnxError(`${where} has ${shown}: give its C,H,W with --input-shape (e.g. --input-shape 3,224,224)`);
      }
    }
    if (chw.some((d) => !Number.isSafeInteger(d) || d < 1)) throw new OnnxError(`${where}: C,H,W ${chw.join(',')} must be positive integers`);
    const name = this.newLayerName(sanitizeLayerName(v.name) || 'input');
    this.b.input(name, chw as unknown as Shape);
    this.layers.set(name, { op: 'input', inputs: [], node: null });
    this.values.set(v.name, { kind: 'layer', layer: name, rank: 4 });
    this.inputName = v.name;
  }

  private outputs(): string[] {
    const g = this.model.graph;
    const outLayers = new Set<string>();
    for (const o of g.outputs) {
      const v = this.values.get(o.name);
      if (!v) throw new OnnxError(`${this.src}: graph output '${o.name}' is computed by no node`);
      if (v.kind === 'const') throw new OnnxError(`${this.src}: graph output '${o.name}' is a constant; outputs computed from the input are supported`);
      outLayers.add(v.layer);
    }
    if (outLayers.size === 0) throw new OnnxError(`${this.src}: the graph has no output`);
    const readers = new Map<string, number>([...this.layers.keys()].map((l) => [l, 0]));
    for (const l of this.layers.values()) for (const i of l.inputs) readers.set(i, readers.get(i)! + 1);
    for (const [layer, count] of readers) {
      const info = this.layers.get(layer)!;
      const who = info.node ? this.label(info.node) : `the graph input '${this.inputName}'`;
      if (count === 0 && !outLayers.has(layer)) throw new OnnxError(`${this.src}: ${who}: its output reaches no graph output (unused nodes are not supported)`);
      if (count > 0 && outLayers.has(layer)) throw new OnnxError(`${this.src}: ${who}: its output is a graph output and also read by other nodes; the IR's outputs are the layers nothing reads`);
    }
    return g.outputs.map((o) => (this.values.get(o.name) as LayerValue).layer);
  }

  // -------------------------------------------------------------------------------------------
  // Nodes.

  private node(n: OnnxNode): void {
    if (n.domain !== '') this.fail(n, `op domain '${n.domain}' not supported (the default ONNX domain only)`);
    if (!Object.hasOwn(ATTRIBUTES, n.opType)) this.fail(n, `op not supported (supported: ${SUPPORTED_OPS.join(', ')})`);
    this.checkAttributes(n);
    switch (n.opType) {
      case 'Conv': return this.conv(n);
      case 'BatchNormalization': return this.batchnorm(n);
      case 'Relu':
        this.inputCount(n, 1, 1);
        return this.unary(n, 'relu');
      case 'Clip': return this.clip(n);
      case 'Add': return this.add(n);
      case 'Concat': return this.concat(n);
      case 'MaxPool': return this.pool(n, 'maxpool');
      case 'AveragePool': return this.pool(n, 'avgpool');
      case 'GlobalAveragePool': return this.globalAvgPool(n);
      case 'Flatten': return this.flatten(n);
      case 'Reshape': return this.reshape(n);
      case 'Gemm': return this.gemm(n);
      case 'MatMul': return this.matmul(n);
      case 'Softmax': return this.softmax(n);
      case 'Identity': return this.identity(n);
      case 'Dropout': return this.dropout(n);
      case 'Constant': return this.constant(n);
    }
  }

  private inputCount(n: OnnxNode, min: number, max: number): void {
    const count = n.inputs.length;
    if (count < min || count > max) this.fail(n, `has ${count} inputs; expected ${min === max ? min : `${min} to ${max}`}`);
  }

  private rank4(n: OnnxNode, x: LayerValue, what: string): void {
    if (x.rank !== 4) this.fail(n, `${what} needs an N,C,H,W input; input '${n.inputs[0]}' has rank ${x.rank}`);
  }

  /** Explicit or automatic padding of a 2-D window op, [top, left, bottom, right] in ONNX's pads order. */
  private windowPads(n: OnnxNode, inH: number, inW: number, k: readonly [number, number], s: readonly [number, number]): Padding {
    const autoPad = this.attrString(n, 'auto_pad', 'NOTSET');
    const pads = this.attrInts(n, 'pads');
    if (pads !== undefined) {
      if (pads.length !== 4) this.fail(n, `pads ${fmtList(pads)} not supported (4 values for a 2-D window: top, left, bottom, right)`);
      if (pads.some((p) => p < 0)) this.fail(n, `pads ${fmtList(pads)} not supported (negative padding)`);
    }
    if (autoPad === 'NOTSET') {
      const p = pads ?? [0, 0, 0, 0];
      return { top: p[0]!, left: p[1]!, bottom: p[2]!, right: p[3]! };
    }
    if (pads !== undefined && pads.some((p) => p !== 0)) this.fail(n, `auto_pad ${autoPad} with explicit pads ${fmtList(pads)} (ONNX allows one of them)`);
    if (autoPad === 'VALID') return { top: 0, left: 0, bottom: 0, right: 0 };
    if (autoPad !== 'SAME_UPPER' && autoPad !== 'SAME_LOWER') this.fail(n, `auto_pad '${autoPad}' not supported (NOTSET, SAME_UPPER, SAME_LOWER, VALID)`);
    const same = (size: number, kk: number, ss: number): [number, number] => {
      const total = Math.max(0, (Math.ceil(size / ss) - 1) * ss + kk - size);
      const small = Math.floor(total / 2);
      return autoPad === 'SAME_UPPER' ? [small, total - small] : [total - small, small];
    };
    const [top, bottom] = same(inH, k[0], s[0]);
    const [left, right] = same(inW, k[1], s[1]);
    return { top, left, bottom, right };
  }

  private pair(n: OnnxNode, name: string, def: readonly [number, number], what: string): [number, number] {
    const v = this.attrInts(n, name);
    if (v === undefined) return [def[0], def[1]];
    if (v.length !== 2) this.fail(n, `${name} ${fmtList(v)} not supported (2 values: a 2-D ${what})`);
    if (v.some((x) => x < 1)) this.fail(n, `${name} ${fmtList(v)} not supported (each >= 1)`);
    return [v[0]!, v[1]!];
  }

  private conv(n: OnnxNode): void {
    this.inputCount(n, 2, 3);
    const x = this.layerInput(n, 0);
    this.rank4(n, x, 'Conv');
    const wt = this.constInput(n, 1, 'the weight W');
    const [c, h, w] = this.shape(x.layer);
    if (wt.dims.length !== 4) this.fail(n, `weight W has dims ${fmtDims(wt.dims)}; a 2-D convolution (K, C/group, R, S) is supported`);
    const [k, cg, r, s] = wt.dims as [number, number, number, number];
    const dil = this.attrInts(n, 'dilations');
    if (dil !== undefined && dil.some((d) => d !== 1)) this.fail(n, `dilations ${fmtList(dil)} not supported (dilation 1 only)`);
    const group = this.attrInt(n, 'group', 1);
    if (group !== 1 && group !== c) this.fail(n, `group ${group} not supported (1, or ${c} = the input channels for a depthwise conv)`);
    if (cg * group !== c) this.fail(n, `weight W has dims ${fmtDims(wt.dims)}: ${cg} input channels per group x group ${group} != the input's ${c} channels`);
    if (k % group !== 0) this.fail(n, `weight W has ${k} output channels, not a multiple of group ${group}`);
    const ks = this.attrInts(n, 'kernel_shape');
    if (ks !== undefined && !sameList(ks, [r, s])) this.fail(n, `kernel_shape ${fmtList(ks)} differs from the weight's ${r}x${s}`);
    if (r < 1 || s < 1 || k < 1) this.fail(n, `weight W has dims ${fmtDims(wt.dims)}; every dimension must be >= 1`);
    const stride = this.pair(n, 'strides', [1, 1], 'stride');
    const pad = this.windowPads(n, h, w, [r, s], stride);
    const hasBias = this.hasInput(n, 2);
    const bias = hasBias ? this.constInput(n, 2, 'the bias B') : null;
    if (bias && !sameList(bias.dims, [k])) this.fail(n, `bias B has dims ${fmtDims(bias.dims)}; expected [${k}]`);
    const name = this.layerNameFor(n);
    this.build(n, name, 'conv', [x.layer], () => this.b.conv(name, x.layer, k, { kernel: [r, s], strides: stride, pad, groups: group, bias: hasBias }));
    this.put(name, 'kernel', this.floats(n, wt));
    if (bias) this.put(name, 'bias', this.floats(n, bias));
    this.setOutput(n, { kind: 'layer', layer: name, rank: 4 }, 'layer');
  }

  private batchnorm(n: OnnxNode): void {
    this.inputCount(n, 5, 5);
    const x = this.layerInput(n, 0);
    if (this.attrInt(n, 'training_mode', 0) !== 0) this.fail(n, 'training_mode 1 not supported (inference only)');
    if (this.attrInt(n, 'spatial', 1) !== 1) this.fail(n, 'spatial 0 not supported (per-channel statistics only)');
    const c = this.shape(x.layer)[0];
    const roles: [TensorRole, string][] = [['gamma', 'scale'], ['beta', 'B'], ['moving_mean', 'input_mean'], ['moving_variance', 'input_var']];
    const data = roles.map(([role, what], i) => {
      const t = this.constInput(n, i + 1, what);
      if (elementCount(t) !== c || t.dims.length !== 1) this.fail(n, `${what} has dims ${fmtDims(t.dims)}; expected [${c}] (one per channel)`);
      return [role, this.floats(n, t)] as const;
    });
    const eps = this.attrFloat(n, 'epsilon', 1e-5);
    if (!(eps >= 0)) this.fail(n, `epsilon ${eps} not supported (>= 0)`);
    const name = this.layerNameFor(n);
    this.build(n, name, 'batchnorm', [x.layer], () => this.b.batchnorm(name, x.layer, eps));
    for (const [role, t] of data) this.put(name, role, t);
    this.setOutput(n, { kind: 'layer', layer: name, rank: x.rank }, 'layer');
  }

  private unary(n: OnnxNode, op: 'relu' | 'relu6'): void {
    const x = this.layerInput(n, 0);
    const name = this.layerNameFor(n);
    this.build(n, name, op, [x.layer], () => (op === 'relu' ? this.b.relu(name, x.layer) : this.b.relu6(name, x.layer)));
    this.setOutput(n, { kind: 'layer', layer: name, rank: x.rank }, 'layer');
  }

  private clip(n: OnnxNode): void {
    this.inputCount(n, 1, 3);
    const lo = this.hasInput(n, 1) ? this.scalar(n, this.constInput(n, 1, 'min'), 'min') : -Infinity;
    const hi = this.hasInput(n, 2) ? this.scalar(n, this.constInput(n, 2, 'max'), 'max') : Infinity;
    if (lo === 0 && hi === 6) return this.unary(n, 'relu6');
    if (lo === 0 && hi === Infinity) return this.unary(n, 'relu');
    this.fail(n, `Clip(min ${lo}, max ${hi}) not supported (Clip(0, 6) as ReLU6 and Clip(0, inf) as ReLU only)`);
  }

  private add(n: OnnxNode): void {
    this.inputCount(n, 2, 2);
    const folded = this.biasAdds.get(n.index);
    if (folded !== undefined) {
      this.setOutput(n, { kind: 'layer', layer: folded, rank: 2 }, 'bias');
      return;
    }
    const a = this.value(n, 0);
    const b = this.value(n, 1);
    if (a.kind === 'const' || b.kind === 'const') {
      this.fail(n, `adding a constant ('${n.inputs[a.kind === 'const' ? 0 : 1]}') is supported only as the bias of the MatMul it follows (MatMul + Add as one dense layer)`);
    }
    if (a.rank !== b.rank) this.fail(n, `add of a rank-${a.rank} and a rank-${b.rank} tensor (broadcasting is not supported)`);
    const sa = this.shape(a.layer);
    const sb = this.shape(b.layer);
    if (!sameList(sa, sb)) this.fail(n, `add of shapes ${fmtDims(sa)} and ${fmtDims(sb)} (broadcasting is not supported)`);
    if (a.chw || b.chw) this.fail(n, 'add of a flattened tensor whose feature order is left to a dense layer');
    const name = this.layerNameFor(n);
    this.build(n, name, 'add', [a.layer, b.layer], () => this.b.addLayers(name, [a.layer, b.layer]));
    this.setOutput(n, { kind: 'layer', layer: name, rank: a.rank }, 'layer');
  }

  private concat(n: OnnxNode): void {
    if (n.inputs.length < 1) this.fail(n, 'has no inputs');
    const xs = n.inputs.map((_, i) => this.layerInput(n, i));
    const rank = xs[0]!.rank;
    if (xs.some((x) => x.rank !== rank)) this.fail(n, 'concat of tensors of different ranks');
    if (xs.some((x) => x.chw)) this.fail(n, 'concat of a flattened tensor whose feature order is left to a dense layer');
    const a = this.attr(n, 'axis');
    if (!a) this.fail(n, 'attribute axis is required');
    const axis = this.attrInt(n, 'axis', 1);
    if (axis !== 1 && axis !== 1 - rank) this.fail(n, `axis ${axis} not supported (the channel axis 1 only)`);
    const name = this.layerNameFor(n);
    const inputs = xs.map((x) => x.layer);
    this.build(n, name, 'concat', inputs, () => this.b.concat(name, inputs));
    this.setOutput(n, { kind: 'layer', layer: name, rank }, 'layer');
  }



  private pool(n: OnnxNode, op: 'maxpool' | 'avgpool'): void {
    this.inputCount(n, 1, 1);
    const x = this.layerInput(n, 0);
    this.rank4(n, x, n.opType);
    const [, h, w] = this.shape(x.layer);
    if (!this.attr(n, 'kernel_shape')) this.fail(n, 'attribute kernel_shape is required');
    const kernel = this.pair(n, 'kernel_shape', [1, 1], 'window');
    const stride = this.pair(n, 'strides', [1, 1], 'stride');
    const dil = this.attrInts(n, 'dilations');
    if (dil !== undefined && dil.some((d) => d !== 1)) this.fail(n, `dilations ${fmtList(dil)} not supported (dilation 1 only)`);
    const ceil = this.attrInt(n, 'ceil_mode', 0);
    if (ceil !== 0 && ceil !== 1) this.fail(n, `ceil_mode ${ceil} not supported (0 or 1)`);
    const countPad = op === 'avgpool' ? this.attrInt(n, 'count_include_pad', 0) : 0;
    const pad = this.windowPads(n, h, w, kernel, stride);
    const sides: [keyof Padding, number][] = [['top', kernel[0]], ['bottom', kernel[0]], ['left', kernel[1]], ['right', kernel[1]]];
    for (const [side, k] of sides) {
      if (pad[side] >= k) this.fail(n, `pads [${pad.top},${pad.left},${pad.bottom},${pad.right}] not supported (each pad smaller than the window ${kernel.join('x')})`);
    }
    // ceil_mode: the last window may hang over the end; it is kept only if it starts inside the
    // input or the leading padding (PyTorch's and onnxruntime's rule). The overhang is padding
    // that takes no part.
    const extent = (size: number, k: number, s: number, before: number, after: number): [number, number] => {
      const span = size + before + after - k;
      if (span < 0) this.fail(n, `window ${kernel.join('x')} larger than the padded input ${h + pad.top + pad.bottom}x${w + pad.left + pad.right}`);
      let out = ceil ? Math.ceil(span / s) + 1 : Math.floor(span / s) + 1;
      if (ceil && (out - 1) * s >= size + before) out--;
      return [out, Math.max(0, (out - 1) * s + k - (size + before + after))];
    };
    const [ho, extraH] = extent(h, kernel[0], stride[0], pad.top, pad.bottom);
    const [wo, extraW] = extent(w, kernel[1], stride[1], pad.left, pad.right);
    const full: Padding = { ...pad, bottom: pad.bottom + extraH, right: pad.right + extraW };
    const padded = full.top + full.bottom + full.left + full.right > 0;
    let padMode: 'exclude' | undefined;
    if (op === 'maxpool') {
      // Zero padding equals ONNX's (padding never wins the max) when the input is >= 0.
      if (padded && !nonNegativeOutput((l) => this.layers.get(l)!, x.layer)) padMode = 'exclude';
    } else if (countPad === 0) {
      if (padded) padMode = 'exclude';
    } else if (extraH + extraW > 0) {
      this.fail(n, 'count_include_pad 1 with ceil_mode 1 hanging a window past the padding not supported');
    }
    const name = this.layerNameFor(n);
    this.build(n, name, op, [x.layer], () => this.b.pool(op, name, x.layer, { kernel, stride, pad: full, ...(padMode ? { padMode } : {}) }));
    const [, oh, ow] = this.shape(name);
    if (oh !== ho || ow !== wo) this.fail(n, `internal: output ${oh}x${ow}, ONNX gives ${ho}x${wo}`);
    this.setOutput(n, { kind: 'layer', layer: name, rank: 4 }, 'layer');
  }

  private globalAvgPool(n: OnnxNode): void {
    this.inputCount(n, 1, 1);
    const x = this.layerInput(n, 0);
    this.rank4(n, x, 'GlobalAveragePool');
    const name = this.layerNameFor(n);
    this.build(n, name, 'globalavgpool', [x.layer], () => this.b.globalAvgPool(name, x.layer));
    this.setOutput(n, { kind: 'layer', layer: name, rank: 4 }, 'layer');
  }

  /** Whether every reader of `tensor` (through Identity and Dropout) is a Gemm or MatMul taking it as A. */
  private readByDenseOnly(tensor: string, seen = new Set<string>()): boolean {
    if (this.graphOutputs.has(tensor) || seen.has(tensor)) return false;
    seen.add(tensor);
    const uses = this.uses.get(tensor) ?? [];
    if (uses.length === 0) return false;
    return uses.every(({ node, slot }) => {
      if (node.domain !== '' || slot !== 0) return false;
      if (node.opType === 'Identity' || node.opType === 'Dropout') return this.readByDenseOnly(node.outputs[0] ?? '', seen);
      return node.opType === 'Gemm' || node.opType === 'MatMul';
    });
  }

  /** ONNX's flatten of x to N x (C*H*W), in (c, h, w) order. */
  private flattenTo2d(n: OnnxNode, x: LayerValue): void {
    if (x.rank === 2) return this.setOutput(n, x, 'alias');
    const [c, h, w] = this.shape(x.layer);
    if (h === 1 && w === 1) return this.setOutput(n, { kind: 'layer', layer: x.layer, rank: 2 }, 'alias');
    const name = this.layerNameFor(n);
    if (this.readByDenseOnly(n.outputs[0] ?? '')) {
      // The IR's flatten is (h, w, c); the dense layers reading it take their columns permuted.
      this.build(n, name, 'flatten', [x.layer], () => this.b.flatten(name, x.layer, 'hwc'));
      return this.setOutput(n, { kind: 'layer', layer: name, rank: 2, chw: [c, h, w] }, 'layer');
    }
    this.build(n, name, 'flatten', [x.layer], () => this.b.flatten(name, x.layer, 'chw'));
    this.setOutput(n, { kind: 'layer', layer: name, rank: 2 }, 'layer');
  }

  private flatten(n: OnnxNode): void {
    this.inputCount(n, 1, 1);
    const x = this.layerInput(n, 0);
    const axis = this.attrInt(n, 'axis', 1);
    if (axis !== 1 && axis !== 1 - x.rank) this.fail(n, `axis ${axis} not supported (axis 1: N x features)`);
    this.flattenTo2d(n, x);
  }

  private reshape(n: OnnxNode): void {
    this.inputCount(n, 2, 2);
    const x = this.layerInput(n, 0);
    const target = this.ints(n, this.constInput(n, 1, 'the shape'));
    const allowZero = this.attrInt(n, 'allowzero', 0);
    const [c, h, w] = this.shape(x.layer);
    const features = c * h * w;
    const bad = (): never => this.fail(n, `Reshape to ${fmtList(target)} not supported (to 2-D [batch, ${features}] only: [0,-1], [-1,${features}], [N,-1] or [N,${features}])`);
    if (target.length !== 2 || (allowZero === 1 && target.includes(0))) bad();
    const [t0, t1] = target as [number, number];
    const inDims = x.rank === 4 ? [null, c, h, w] : [null, c];
    // The first dimension must stay the batch: copied (0), inferred from a fixed feature count
    // (-1), or the graph input's batch written out.
    const batchDim = this.model.graph.inputs.find((v) => v.name === this.inputName)?.dims?.[0];
    const firstOk = t0 === 0 || (t0 === -1 && t1 !== -1 && t1 !== 0) || (typeof batchDim === 'number' && t0 === batchDim) || (batchDim !== undefined && typeof batchDim !== 'number' && t0 === 1);
    if (!firstOk) bad();
    const second = t1 === -1 ? features : t1 === 0 ? inDims[1] : t1;
    if (second !== features) bad();
    this.flattenTo2d(n, x);
  }

  /** The dense kernel [units][in] from B read as [units][in] (trans) or [in][units], times alpha; columns permuted for a (c,h,w) flatten. */
  private denseKernel(x: LayerValue, b: Float32Array, units: number, features: number, trans: boolean, alpha: number): Float32Array {
    const out = new Float32Array(units * features);
    const col = (i: number): number => {
      if (!x.chw) return i;
      // IR column i = (y*W + x)*C + c holds ONNX column (c*H + y)*W + x.
      const [c, h, w] = x.chw;
      const ch = i % c;
      const p = Math.floor(i / c);
      return ch * h * w + p;
    };
    const colOf = new Int32Array(features);
    for (let i = 0; i < features; i++) colOf[i] = col(i);
    for (let u = 0; u < units; u++) {
      for (let i = 0; i < features; i++) {
        const j = colOf[i]!;
        const v = trans ? b[u * features + j]! : b[j * units + u]!;
        out[u * features + i] = alpha === 1 ? v : Math.fround(alpha * v);
      }
    }
    return out;
  }

  private dense(n: OnnxNode, x: LayerValue, kernel: Float32Array, units: number, bias: Float32Array | null): string {
    const name = this.layerNameFor(n);
    this.build(n, name, 'dense', [x.layer], () => this.b.dense(name, x.layer, units, bias !== null));
    this.put(name, 'kernel', kernel);
    if (bias) this.put(name, 'bias', bias);
    this.setOutput(n, { kind: 'layer', layer: name, rank: 2 }, 'layer');
    return name;
  }

  /** A bias vector of `units` values from C (dims [], [1], [units], [1,units] or [1,1]), times beta. */
  private biasVector(n: OnnxNode, t: OnnxTensor, units: number, beta: number, what: string): Float32Array {
    const d = t.dims;
    const count = elementCount(t);
    const ok = d.length <= 2 && (count === 1 || (count === units && d[d.length - 1] === units));
    if (!ok) this.fail(n, `${what} has dims ${fmtDims(d)}; a bias broadcast to [1,${units}] is supported ([${units}], [1,${units}] or a scalar)`);
    const v = this.floats(n, t);
    const out = new Float32Array(units);
    for (let u = 0; u < units; u++) {
      const b = count === 1 ? v[0]! : v[u]!;
      out[u] = beta === 1 ? b : Math.fround(beta * b);
    }
    return out;
  }

  private flatInput(n: OnnxNode, op: string): LayerValue {
    const x = this.layerInput(n, 0);
    if (x.rank !== 2) this.fail(n, `${op} needs a 2-D input (N x features); input '${n.inputs[0]}' has rank 4 (flatten it first)`);
    return x;
  }

  private gemm(n: OnnxNode): void {
    this.inputCount(n, 2, 3);
    const x = this.flatInput(n, 'Gemm');
    const transA = this.attrInt(n, 'transA', 0);
    if (transA !== 0) this.fail(n, `transA ${transA} not supported (A is the N x features activation)`);
    const transB = this.attrInt(n, 'transB', 0);
    if (transB !== 0 && transB !== 1) this.fail(n, `transB ${transB} not supported (0 or 1)`);
    const alpha = this.attrFloat(n, 'alpha', 1);
    const beta = this.attrFloat(n, 'beta', 1);
    const bt = this.constInput(n, 1, 'the weight B');
    const features = this.shape(x.layer)[0];
    if (bt.dims.length !== 2) this.fail(n, `weight B has dims ${fmtDims(bt.dims)}; expected a matrix`);
    const [b0, b1] = bt.dims as [number, number];
    const [inDim, units] = transB ? [b1, b0] : [b0, b1];
    if (inDim !== features) this.fail(n, `weight B has dims ${fmtDims(bt.dims)}${transB ? ' (transB)' : ''}: ${inDim} inputs, but the input has ${features} features`);
    const kernel = this.denseKernel(x, this.floats(n, bt), units, features, transB === 1, alpha);
    const c = this.hasInput(n, 2) ? this.constInput(n, 2, 'the bias C') : null;
    // beta 0 drops C (ONNX: beta * C).
    const bias = c && beta !== 0 ? this.biasVector(n, c, units, beta, 'bias C') : null;
    this.dense(n, x, kernel, units, bias);
  }

  /** The Add that only reads this MatMul's output and a constant bias, if any. */
  private biasAddAfter(n: OnnxNode, units: number): { add: OnnxNode; bias: OnnxTensor } | null {
    const out = n.outputs[0] ?? '';
    const uses = this.uses.get(out) ?? [];
    if (uses.length !== 1 || this.graphOutputs.has(out)) return null;
    const add = uses[0]!.node;
    if (add.opType !== 'Add' || add.domain !== '' || add.inputs.length !== 2) return null;
    const other = add.inputs[1 - uses[0]!.slot]!;
    const v = this.values.get(other);
    const t = v?.kind === 'const' ? v.tensor : this.laterConstant(other);
    if (!t) return null;
    const d = t.dims;
    if (!(sameList(d, [units]) || sameList(d, [1, units]))) return null;
    return { add, bias: t };
  }

  /** A Constant node's value for `tensor` when that node comes after the current one. */
  private laterConstant(tensor: string): OnnxTensor | null {
    const node = this.model.graph.nodes.find((m) => m.opType === 'Constant' && m.domain === '' && m.outputs[0] === tensor);
    return node ? this.constantValue(node) : null;
  }

  private matmul(n: OnnxNode): void {
    this.inputCount(n, 2, 2);
    const x = this.flatInput(n, 'MatMul');
    const bt = this.constInput(n, 1, 'the weight B');
    const features = this.shape(x.layer)[0];
    if (bt.dims.length !== 2) this.fail(n, `weight B has dims ${fmtDims(bt.dims)}; expected a matrix (features x units)`);
    const [inDim, units] = bt.dims as [number, number];
    if (inDim !== features) this.fail(n, `weight B has dims ${fmtDims(bt.dims)}: ${inDim} inputs, but the input has ${features} features`);
    const kernel = this.denseKernel(x, this.floats(n, bt), units, features, false, 1);
    const fused = this.biasAddAfter(n, units);
    const bias = fused ? this.floats(fused.add, fused.bias) : null;
    const layer = this.dense(n, x, kernel, units, bias);
    if (fused) this.biasAdds.set(fused.add.index, layer);
  }

  private softmax(n: OnnxNode): void {
    this.inputCount(n, 1, 1);
    const x = this.layerInput(n, 0);
    const [, h, w] = this.shape(x.layer);
    const axis = this.attrInt(n, 'axis', this.model.opset >= 13 ? -1 : 1);
    if (x.rank === 2) {
      if (axis !== 1 && axis !== -1) this.fail(n, `axis ${axis} not supported (the feature axis 1)`);
    } else if (this.model.opset >= 13) {
      if (axis !== 1 && axis !== -3) this.fail(n, `axis ${axis} not supported on an N,C,H,W tensor (the channel axis 1 only)`);
    } else if (axis !== 1 || h * w !== 1) {
      // Before opset 13 Softmax flattens from `axis` on: over channels only when H = W = 1.
      this.fail(n, `axis ${axis} at opset ${this.model.opset} on a ${h}x${w} map takes the softmax over C*H*W; not supported (over channels only)`);
    }
    if (x.chw) this.fail(n, 'softmax of a flattened tensor whose feature order is left to a dense layer');
    const name = this.layerNameFor(n);
    this.build(n, name, 'softmax', [x.layer], () => this.b.softmax(name, x.layer));
    this.setOutput(n, { kind: 'layer', layer: name, rank: x.rank }, 'layer');
  }

  private identity(n: OnnxNode): void {
    this.inputCount(n, 1, 1);
    this.setOutput(n, this.value(n, 0), 'alias');
  }

  private dropout(n: OnnxNode): void {
    this.inputCount(n, 1, 3);
    if (this.hasInput(n, 2)) {
      const mode = this.scalar(n, this.constInput(n, 2, 'training_mode'), 'training_mode');
      if (mode !== 0) this.fail(n, 'training_mode true not supported (inference: Dropout is a no-op)');
    }
    if (this.attrInt(n, 'is_test', 1) === 0) this.fail(n, 'is_test 0 not supported (inference: Dropout is a no-op)');
    this.setOutput(n, this.value(n, 0), 'alias');
  }

  private constantValue(n: OnnxNode): OnnxTensor {
    const attrs = [...n.attributes.values()];
    if (attrs.length !== 1) this.fail(n, `needs exactly one value attribute, has ${attrs.length}`);
    const a = attrs[0]!;
    const where = `Constant '${n.outputs[0] ?? ''}'`;
    const field = (dataType: number, dims: number[], values: readonly number[]): OnnxTensor => ({
      name: n.outputs[0] ?? '', dataType, dims, where, data: { kind: 'field', field: dataType === DataType.FLOAT ? 'float_data' : 'int64_data', values },
    });
    switch (a.name) {
      case 'value':
        if (a.type !== 'tensor') this.fail(n, `attribute 'value' must be a tensor, got ${a.type}`);
        return a.value;
      case 'value_float':
        return field(DataType.FLOAT, [], [this.attrFloat(n, 'value_float', 0)]);
      case 'value_int':
        return field(DataType.INT64, [], [this.attrInt(n, 'value_int', 0)]);
      case 'value_floats': {
        if (a.type !== 'floats') this.fail(n, `attribute 'value_floats' must be floats, got ${a.type}`);
        return field(DataType.FLOAT, [a.value.length], a.value);
      }
      default: {
        const v = this.attrInts(n, 'value_ints') ?? [];
        return field(DataType.INT64, [v.length], v);
      }
    }
  }

  private constant(n: OnnxNode): void {
    this.setOutput(n, { kind: 'const', tensor: this.constantValue(n) }, 'constant');
  }
}

/**
 * True when `layer`'s output is >= 0 everywhere (ReLU, or pools, concats and flattens of such), so
 * zero padding cannot win a max: a zero-padded max pool then equals ONNX's MaxPool. Import and
 * export both ask it (`lookup` gives a layer's op and inputs).
 */
export function nonNegativeOutput(lookup: (layer: string) => { readonly op: string; readonly inputs: readonly string[] }, layer: string): boolean {
  const l = lookup(layer);
  switch (l.op) {
    case 'relu':
    case 'relu6':
      return true;
    case 'maxpool':
    case 'avgpool':
    case 'globalavgpool':
    case 'concat':
    case 'flatten':
      return l.inputs.every((i) => nonNegativeOutput(lookup, i));
    default:
      return false;
  }
}
