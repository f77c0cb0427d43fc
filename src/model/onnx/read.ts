// Reads an ONNX model file (a protobuf `onnx.ModelProto`) into plain typed objects: the graph's
// nodes with their attributes, its initializers (values in raw_data at any byte offset of the
// decoded buffer, in the typed fields float_data/int64_data/..., or in an external data file beside
// the model), its inputs, outputs and value_info with their shapes. Decoding is protobufjs' (its
// light build, with the ONNX schema as a JSON descriptor: ./schema.ts); everything after it is
// checked here, so a malformed or unsupported file is one error naming the file and the field.
// Tensor values are converted only when asked for (tensorFloat32, tensorIntegers): the importer
// reads each initializer once, and external data files are read tensor by tensor.
import * as fs from 'node:fs';
import * as path from 'node:path';
import protobuf from 'protobufjs/light.js';
import { EXIT } from '../../output/exit.js';
import { fromF16Bits } from '../../weights/fp16.js';
import { readFullyFd } from '../../weights/io.js';
import { assertLittleEndian } from '../../weights/store.js';
import { ONNX_SCHEMA } from './schema.js';

/** A malformed, unsupported or inconsistent ONNX file (exit 1: bad input). */
export class OnnxError extends Error {
  readonly exitCode = EXIT.badInput;
  // One line, whatever the file holds: names read from a damaged file may carry control characters (a
  // newline in a tensor name split the message in two: found by test/onnx/fuzz.test.ts), so they are escaped.
  constructor(message: string) {
    super(message.replace(/[\u0000-\u001f\u007f]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`));
  }
}

/** The oldest default-domain opset the importer reads (Clip's min/max became inputs in 11). */
export const MIN_OPSET = 11;

/** TensorProto.DataType values (onnx.proto3). */
export const DataType = {
  UNDEFINED: 0, FLOAT: 1, UINT8: 2, INT8: 3, UINT16: 4, INT16: 5, INT32: 6, INT64: 7, STRING: 8, BOOL: 9,
  FLOAT16: 10, DOUBLE: 11, UINT32: 12, UINT64: 13, COMPLEX64: 14, COMPLEX128: 15, BFLOAT16: 16,
} as const;

const TYPE_NAMES = new Map<number, string>(Object.entries(DataType).map(([k, v]) => [v, k]));
export const dataTypeName = (t: number): string => TYPE_NAMES.get(t) ?? `data type ${t}`;

/** Bytes per element of the numeric types the reader converts. */
const ELEM_BYTES: Readonly<Record<number, number>> = {
  [DataType.FLOAT]: 4, [DataType.DOUBLE]: 8, [DataType.FLOAT16]: 2, [DataType.BFLOAT16]: 2,
  [DataType.INT64]: 8, [DataType.INT32]: 4, [DataType.INT16]: 2, [DataType.INT8]: 1,
  [DataType.UINT8]: 1, [DataType.UINT16]: 2, [DataType.UINT32]: 4, [DataType.UINT64]: 8, [DataType.BOOL]: 1,
};

/** Where a tensor's values are. */
export type TensorData =
  /** `raw_data`: little-endian bytes, a view into the decoded buffer at any byte offset. */
  | { readonly kind: 'raw'; readonly bytes: Uint8Array }
  /** One of the typed repeated fields (float_data, double_data, int32_data, int64_data, uint64_data), as numbers. */
  | { readonly kind: 'field'; readonly field: string; readonly values: readonly number[] }
  /** `data_location: EXTERNAL`: `length` bytes (null: to the end of the file) at `offset` of `file`. */
  | { readonly kind: 'external'; readonly file: string; readonly offset: number; readonly length: number | null };

export interface OnnxTensor {
  readonly name: string;
  readonly dataType: number;
  readonly dims: readonly number[];
  readonly data: TensorData;
  /** How messages name it, e.g. `initializer 'conv1.weight'`. */
  readonly where: string;
}

export type OnnxAttribute =
  | { readonly name: string; readonly type: 'float'; readonly value: number }
  | { readonly name: string; readonly type: 'int'; readonly value: number }
  | { readonly name: string; readonly type: 'string'; readonly value: string }
  | { readonly name: string; readonly type: 'tensor'; readonly value: OnnxTensor }
  | { readonly name: string; readonly type: 'floats'; readonly value: readonly number[] }
  | { readonly name: string; readonly type: 'ints'; readonly value: readonly number[] }
  | { readonly name: string; readonly type: 'strings'; readonly value: readonly string[] }
  /** Graphs, sparse tensors, type protos and lists of them: kept by kind only (no importer op takes them). */
  | { readonly name: string; readonly type: 'other'; readonly value: string };

export interface OnnxNode {
  /** Position in graph.node (0-based), as error messages name it. */
  readonly index: number;
  /** The node's name as written ('' when the file has none). */
  readonly name: string;
  readonly opType: string;
  /** '' (or 'ai.onnx') for the default operator set. */
  readonly domain: string;
  /** Tensor names; '' marks an optional input or output left out. */
  readonly inputs: readonly string[];
  readonly outputs: readonly string[];
  readonly attributes: ReadonlyMap<string, OnnxAttribute>;
}

/** One dimension: its value, its symbolic name (dim_param), or null when neither is given. */
export type OnnxDim = number | string | null;

export interface OnnxValueInfo {
  readonly name: string;
  /** Element type of a tensor type; null for a non-tensor type or none given. */
  readonly elemType: number | null;
  /** The shape; null when the rank is unknown (no shape given). */
  readonly dims: readonly OnnxDim[] | null;
}

export interface OnnxGraph {
  readonly name: string;
  readonly nodes: readonly OnnxNode[];
  readonly initializers: ReadonlyMap<string, OnnxTensor>;
  /** graph.input as written (IR < 4 lists the initializers there too). */
  readonly inputs: readonly OnnxValueInfo[];
  readonly outputs: readonly OnnxValueInfo[];
  readonly valueInfo: ReadonlyMap<string, OnnxValueInfo>;
}

export interface OnnxModel {
  /** The file read, or the label given to parseOnnx. */
  readonly source: string;
  readonly irVersion: number;
  /** Version of the default operator set (domain '' or 'ai.onnx'). */
  readonly opset: number;
  /** Every imported operator set by domain. */
  readonly opsets: ReadonlyMap<string, number>;
  readonly producer: string;
  /** The model's metadata_props (e.g. `cusnn.preprocessing`, which export-onnx writes). */
  readonly metadata: ReadonlyMap<string, string>;
  readonly graph: OnnxGraph;
}

export interface ParseOptions {
  /** Names the model in messages (the file path). */
  readonly source: string;
  /** Folder that external data locations are relative to (the model's folder). */
  readonly dir: string;
  /** Oldest default-domain opset accepted; default MIN_OPSET. */
  readonly minOpset?: number;
}

// ---------------------------------------------------------------------------------------------
// The decoded messages as protobufjs hands them out (field names as in onnx.proto3). int64
// fields are numbers or Long objects, bytes fields Uint8Array views when present; absent message
// fields null. An absent scalar field reads as its prototype default, which for bytes is
// protobufjs' shared empty *Array* (util.emptyArray), not a Uint8Array: read bytes with bytesField.

type Int64 = number | { low: number; high: number; unsigned?: boolean };
/** A bytes field: a Uint8Array view, or (absent) protobufjs' empty Array default; read with bytesField. */
type Bytes = Uint8Array | readonly never[];
interface StringStringMsg { key: string; value: string }
interface TensorMsg {
  dims: Int64[]; data_type: number; float_data: number[]; int32_data: number[]; string_data: Bytes[];
  int64_data: Int64[]; name: string; raw_data: Bytes; external_data: StringStringMsg[]; data_location: number;
  double_data: number[]; uint64_data: Int64[]; segment: unknown;
}
interface AttributeMsg {
  name: string; type: number; f: number; i: Int64; s: Bytes; t: TensorMsg | null; g: unknown;
  floats: number[]; ints: Int64[]; strings: Bytes[]; tensors: unknown[]; graphs: unknown[];
  sparse_tensor: unknown; sparse_tensors: unknown[]; tp: unknown; type_protos: unknown[]; ref_attr_name: string;
}
interface NodeMsg { input: string[]; output: string[]; name: string; op_type: string; domain: string; attribute: AttributeMsg[] }
interface DimMsg { dim_value: Int64; dim_param: string; value?: string }
interface TypeMsg { tensor_type: { elem_type: number; shape: { dim: DimMsg[] } | null } | null; value?: string }
interface ValueInfoMsg { name: string; type: TypeMsg | null }
interface GraphMsg { node: NodeMsg[]; name: string; initializer: TensorMsg[]; sparse_initializer: unknown[]; input: ValueInfoMsg[]; output: ValueInfoMsg[]; value_info: ValueInfoMsg[] }
interface OpsetMsg { domain: string; version: Int64 }
interface ModelMsg { ir_version: Int64; opset_import: OpsetMsg[]; producer_name: string; producer_version: string; graph: GraphMsg | null; metadata_props: StringStringMsg[] }

let modelType: protobuf.Type | undefined;
/** onnx.ModelProto, built once from the JSON descriptor. */
export function modelProtoType(): protobuf.Type {
  modelType ??= protobuf.Root.fromJSON(ONNX_SCHEMA).lookupType('onnx.ModelProto');
  return modelType;
}

const has = (m: object, field: string): boolean => Object.hasOwn(m, field);

function int(v: Int64, what: () => string): number {
  let n: number;
  if (typeof v === 'number') n = v;
  else n = v.unsigned ? (v.high >>> 0) * 2 ** 32 + (v.low >>> 0) : v.high * 2 ** 32 + (v.low >>> 0);
  if (!Number.isSafeInteger(n)) throw new OnnxError(`${what()}: integer ${n} is outside the exactly representable range`);
  return n;
}

const utf8 = new TextDecoder('utf-8');
const text = (b: Uint8Array): string => utf8.decode(b);

const NO_BYTES = new Uint8Array(0);
/**
 * A decoded bytes field (attribute s, an element of strings, raw_data) as a Uint8Array. Absent, it
 * is the empty value: proto3 decoding drops an empty bytes field (so `s: ""` written by a proto2
 * writer arrives absent), a field with the wrong wire type is skipped as unknown, and ONNX's checker
 * takes a missing value field as the proto3 default. protobufjs then leaves its prototype default,
 * an empty plain Array, which TextDecoder rejects with a TypeError (a STRING attribute without its
 * s was an internal error: found by test/onnx/fuzz.test.ts). Anything else is no bytes value.
 */
function bytesField(v: unknown, what: () => string): Uint8Array {
  if (v instanceof Uint8Array) return v;
  if (v === undefined || v === null || (Array.isArray(v) && v.length === 0)) return NO_BYTES;
  throw new OnnxError(`${what()}: expected bytes, got ${Array.isArray(v) ? `an array of ${v.length}` : typeof v}`);
}

/** Reads and decodes `file`; throws OnnxError naming the file for anything it cannot use. */
export function readOnnxFile(file: string, o: { readonly minOpset?: number } = {}): OnnxModel {
  let bytes: Buffer;
  try {
    bytes = fs.readFileSync(file);
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    const why = err.code === 'ENOENT' ? 'does not exist' : err.code === 'EISDIR' ? 'is a folder' : `cannot be read (${err.message})`;
    throw new OnnxError(`ONNX model '${file}' ${why}`);
  }
  return parseOnnx(bytes, { source: file, dir: path.dirname(path.resolve(file)), minOpset: o.minOpset });
}

/** Decodes an ONNX ModelProto from `bytes` (any Uint8Array view). */
export function parseOnnx(bytes: Uint8Array, o: ParseOptions): OnnxModel {
  const src = o.source;
  let m: ModelMsg;
  try {
    m = modelProtoType().decode(bytes) as unknown as ModelMsg;
  } catch (e) {
    throw new OnnxError(`${src}: not an ONNX model (protobuf decoding failed: ${(e as Error).message})`);
  }
  if (!m.graph) throw new OnnxError(`${src}: not an ONNX model (no graph)`);
  const irVersion = int(m.ir_version, () => `${src}: ir_version`);
  const opsets = new Map<string, number>();
  for (const op of m.opset_import) {
    const domain = op.domain === 'ai.onnx' ? '' : op.domain;
    opsets.set(domain, int(op.version, () => `${src}: opset_import '${op.domain}'`));
  }
  // IR version 2 and older had no opset_import: the default set was version 1.
  const opset = opsets.get('') ?? (m.opset_import.length === 0 ? 1 : 0);
  const minOpset = o.minOpset ?? MIN_OPSET;
  if (opsets.get('') === undefined && m.opset_import.length > 0) {
    throw new OnnxError(`${src}: imports no default-domain (ai.onnx) operator set (only ${[...opsets.keys()].map((d) => `'${d}'`).join(', ')}); its ops are not ONNX's`);
  }
  if (opset < minOpset) {
    throw new OnnxError(`${src}: ONNX opset ${opset} is older than ${minOpset}, the oldest supported; re-export the model with opset ${minOpset} or newer (e.g. torch.onnx.export(..., opset_version=17))`);
  }
  const graph = readGraph(m.graph, src, o.dir);
  const metadata = new Map((m.metadata_props ?? []).map((e) => [e.key, e.value] as const));
  return { source: src, irVersion, opset, opsets, producer: [m.producer_name, m.producer_version].filter((s) => s !== '').join(' '), metadata, graph };
}

function readGraph(g: GraphMsg, src: string, dir: string): OnnxGraph {
  if (g.sparse_initializer.length > 0) throw new OnnxError(`${src}: sparse initializers are not supported (${g.sparse_initializer.length} in graph '${g.name}')`);
  const initializers = new Map<string, OnnxTensor>();
  g.initializer.forEach((t, i) => {
    if (t.name === '') throw new OnnxError(`${src}: initializer ${i} has no name`);
    if (initializers.has(t.name)) throw new OnnxError(`${src}: two initializers named '${t.name}'`);
    initializers.set(t.name, readTensor(t, `initializer '${t.name}'`, src, dir));
  });
  const nodes = g.node.map((n, index): OnnxNode => {
    const label = `ONNX node ${index} '${n.name}' (${n.op_type})`;
    const attributes = new Map<string, OnnxAttribute>();
    for (const a of n.attribute) {
      if (attributes.has(a.name)) throw new OnnxError(`${src}: ${label}: attribute '${a.name}' given twice`);
      attributes.set(a.name, readAttribute(a, `${label}: attribute '${a.name}'`, src, dir));
    }
    return { index, name: n.name, opType: n.op_type, domain: n.domain === 'ai.onnx' ? '' : n.domain, inputs: [...n.input], outputs: [...n.output], attributes };
  });
  const info = (v: ValueInfoMsg): OnnxValueInfo => readValueInfo(v, src);
  const valueInfo = new Map<string, OnnxValueInfo>(g.value_info.map((v) => [v.name, info(v)]));
  return { name: g.name, nodes, initializers, inputs: g.input.map(info), outputs: g.output.map(info), valueInfo };
}

function readValueInfo(v: ValueInfoMsg, src: string): OnnxValueInfo {
  const tt = v.type?.tensor_type ?? null;
  if (!tt) return { name: v.name, elemType: null, dims: null };
  const dims = tt.shape
    ? tt.shape.dim.map((d): OnnxDim => {
      if (has(d, 'dim_value')) return int(d.dim_value, () => `${src}: value '${v.name}' dimension`);
      if (has(d, 'dim_param') && d.dim_param !== '') return d.dim_param;
      return null;
    })
    : null;
  return { name: v.name, elemType: tt.elem_type, dims };
}

const ATTR_TYPES: Readonly<Record<number, string>> = {
  1: 'float', 2: 'int', 3: 'string', 4: 'tensor', 5: 'graph', 6: 'floats', 7: 'ints', 8: 'strings',
  9: 'tensors', 10: 'graphs', 11: 'sparse_tensor', 12: 'sparse_tensors', 13: 'type_proto', 14: 'type_protos',
};

/** `where` names the attribute without the file (`ONNX node 3 'c' (Conv): attribute 'pads'`). */
function readAttribute(a: AttributeMsg, where: string, src: string, dir: string): OnnxAttribute {
  const label = `${src}: ${where}`;
  if (a.ref_attr_name !== '') throw new OnnxError(`${label}: refers to function attribute '${a.ref_attr_name}' (functions are not supported)`);
  let type = ATTR_TYPES[a.type];
  if (a.type === 0) {
    // Old producers leave the type out: take the field that is present.
    if (has(a, 'f')) type = 'float';
    else if (has(a, 'i')) type = 'int';
    else if (has(a, 's')) type = 'string';
    else if (a.t) type = 'tensor';
    else if (a.g) type = 'graph';
    else if (a.floats.length > 0) type = 'floats';
    else if (a.ints.length > 0) type = 'ints';
    else if (a.strings.length > 0) type = 'strings';
  }
  if (type === undefined) throw new OnnxError(`${label}: unknown attribute type ${a.type}`);
  const name = a.name;
  switch (type) {
    case 'float':
      return { name, type, value: a.f };
    case 'int':
      return { name, type, value: int(a.i, () => label) };
    case 'string':
      return { name, type, value: text(bytesField(a.s, () => `${label}: field s`)) };
    case 'tensor':
      if (!a.t) throw new OnnxError(`${label}: a tensor attribute without its tensor`);
      return { name, type, value: readTensor(a.t, where, src, dir) };
    case 'floats':
      return { name, type, value: [...a.floats] };
    case 'ints':
      return { name, type, value: a.ints.map((v) => int(v, () => label)) };
    case 'strings':
      return { name, type, value: a.strings.map((v, k) => text(bytesField(v, () => `${label}: strings[${k}]`))) };
    default:
      return { name, type: 'other', value: type };
  }
}

function readTensor(t: TensorMsg, where: string, src: string, dir: string): OnnxTensor {
  const label = `${src}: ${where}`;
  if (t.segment) throw new OnnxError(`${label}: segmented tensors are not supported`);
  const dims = t.dims.map((d) => int(d, () => `${label}: dims`));
  if (dims.some((d) => d < 0)) throw new OnnxError(`${label}: negative dimension in dims [${dims.join(',')}]`);
  const base = { name: t.name, dataType: t.data_type, dims, where };
  if (t.data_location === 1) {
    const kv = new Map(t.external_data.map((e) => [e.key, e.value]));
    const location = kv.get('location');
    if (location === undefined || location === '') throw new OnnxError(`${label}: external data without a location`);
    if (path.isAbsolute(location) || location.split(/[\\/]/).includes('..')) {
      throw new OnnxError(`${label}: external data location '${location}' must be a path relative to the model's folder, inside it`);
    }
    const num = (key: string): number | null => {
      const v = kv.get(key);
      if (v === undefined) return null;
      const n = /^\d+$/.test(v) ? Number(v) : NaN;
      if (!Number.isSafeInteger(n)) throw new OnnxError(`${label}: external data ${key} '${v}' is not a non-negative integer`);
      return n;
    };
    return { ...base, data: { kind: 'external', file: path.join(dir, location), offset: num('offset') ?? 0, length: num('length') } };
  }
  if (t.data_location !== 0) throw new OnnxError(`${label}: unknown data_location ${t.data_location}`);
  if (has(t, 'raw_data')) return { ...base, data: { kind: 'raw', bytes: bytesField(t.raw_data, () => `${label}: raw_data`) } };
  const fields: [string, readonly Int64[]][] = [['float_data', t.float_data], ['double_data', t.double_data], ['int32_data', t.int32_data], ['int64_data', t.int64_data], ['uint64_data', t.uint64_data]];
  const given = fields.filter(([, v]) => v.length > 0);
  if (given.length > 1) throw new OnnxError(`${label}: values in both ${given[0]![0]} and ${given[1]![0]}`);
  if (t.string_data.length > 0) return { ...base, data: { kind: 'field', field: 'string_data', values: [] } };
  const [field, values] = given[0] ?? [fieldFor(t.data_type), []];
  return { ...base, data: { kind: 'field', field, values: values.map((v) => (typeof v === 'number' ? v : int(v, () => label))) } };
}

/** The typed field ONNX keeps values of `dataType` in when raw_data is not used. */
function fieldFor(dataType: number): string {
  switch (dataType) {
    case DataType.FLOAT: case DataType.COMPLEX64: return 'float_data';
    case DataType.DOUBLE: case DataType.COMPLEX128: return 'double_data';
    case DataType.INT64: return 'int64_data';
    case DataType.UINT32: case DataType.UINT64: return 'uint64_data';
    case DataType.STRING: return 'string_data';
    default: return 'int32_data'; // int8/16/32, uint8/16, bool, float16, bfloat16
  }
}

export const elementCount = (t: OnnxTensor): number => t.dims.reduce((a, b) => a * b, 1);

/** The tensor's little-endian bytes (raw_data or the external file), checked against its dims. */
function tensorBytes(t: OnnxTensor, src: string): Uint8Array | null {
  const n = elementCount(t);
  const size = ELEM_BYTES[t.dataType];
  if (size === undefined) throw new OnnxError(`${src}: ${t.where} is ${dataTypeName(t.dataType)}, not a numeric type the importer reads`);
  const need = n * size;
  if (t.data.kind === 'raw') {
    if (t.data.bytes.length !== need) {
      throw new OnnxError(`${src}: ${t.where} has ${t.data.bytes.length} bytes of raw_data; dims [${t.dims.join(',')}] of ${dataTypeName(t.dataType)} need ${need}`);
    }
    return t.data.bytes;
  }
  if (t.data.kind === 'external') {
    const { file, offset, length } = t.data;
    let fd: number;
    try {
      fd = fs.openSync(file, 'r');
    } catch (e) {
      const err = e as NodeJS.ErrnoException;
      throw new OnnxError(`${src}: ${t.where} is in external file '${file}', which ${err.code === 'ENOENT' ? 'does not exist' : `cannot be read (${err.message})`}`);
    }
    try {
      const fileSize = fs.fstatSync(fd).size;
      const len = length ?? fileSize - offset;
      if (len !== need) {
        throw new OnnxError(`${src}: ${t.where} has ${len} bytes in external file '${file}'${length === null ? ` (from offset ${offset} to its end)` : ''}; dims [${t.dims.join(',')}] of ${dataTypeName(t.dataType)} need ${need}`);
      }
      if (offset + len > fileSize) {
        throw new OnnxError(`${src}: ${t.where}: bytes ${offset}..${offset + len} of external file '${file}' go past its end (${fileSize} bytes)`);
      }
      const out = new Uint8Array(len);
      readFullyFd(fd, out, offset, file);
      return out;
    } finally {
      fs.closeSync(fd);
    }
  }
  return null;
}

/** A copy of `bytes` whose buffer starts at byte 0 (so it can be viewed as any typed array). */
const aligned = (bytes: Uint8Array): ArrayBuffer => {
  const out = new Uint8Array(bytes.length);
  out.set(bytes);
  return out.buffer;
};

/** The values of a float tensor (FLOAT, DOUBLE, FLOAT16, BFLOAT16) as float32, in the tensor's order. */
export function tensorFloat32(t: OnnxTensor, src: string): Float32Array {
  assertLittleEndian();
  const n = elementCount(t);
  const float = [DataType.FLOAT, DataType.DOUBLE, DataType.FLOAT16, DataType.BFLOAT16] as number[];
  if (!float.includes(t.dataType)) throw new OnnxError(`${src}: ${t.where} is ${dataTypeName(t.dataType)}; expected a float tensor`);
  const bytes = tensorBytes(t, src);
  if (bytes) {
    const buf = aligned(bytes);
    switch (t.dataType) {
      case DataType.FLOAT: return new Float32Array(buf);
      case DataType.DOUBLE: return Float32Array.from(new Float64Array(buf));
      case DataType.FLOAT16: return Float32Array.from(new Uint16Array(buf), fromF16Bits);
      default: return new Float32Array(Uint32Array.from(new Uint16Array(buf), (h) => h << 16).buffer);
    }
  }
  const d = t.data as Extract<TensorData, { kind: 'field' }>;
  const expected = fieldFor(t.dataType);
  if (d.field !== expected) throw new OnnxError(`${src}: ${t.where} is ${dataTypeName(t.dataType)} but keeps its values in ${d.field}, not ${expected}`);
  if (d.values.length !== n) throw new OnnxError(`${src}: ${t.where} has ${d.values.length} values in ${d.field}; dims [${t.dims.join(',')}] need ${n}`);
  switch (t.dataType) {
    case DataType.FLOAT: case DataType.DOUBLE: return Float32Array.from(d.values);
    case DataType.FLOAT16: return Float32Array.from(d.values, (v) => fromF16Bits(v & 0xffff));
    default: return new Float32Array(Uint32Array.from(d.values, (v) => (v & 0xffff) << 16).buffer);
  }
}

/** The values of an integer tensor (INT64, INT32, ...) as numbers (exact: at most 2^53 in magnitude). */
export function tensorIntegers(t: OnnxTensor, src: string): number[] {
  assertLittleEndian();
  const n = elementCount(t);
  const ints = [DataType.INT64, DataType.INT32, DataType.INT16, DataType.INT8, DataType.UINT8, DataType.UINT16, DataType.UINT32, DataType.UINT64, DataType.BOOL] as number[];
  if (!ints.includes(t.dataType)) throw new OnnxError(`${src}: ${t.where} is ${dataTypeName(t.dataType)}; expected an integer tensor`);
  const bytes = tensorBytes(t, src);
  if (bytes) {
    const buf = aligned(bytes);
    const big = (v: bigint): number => {
      const x = Number(v);
      if (!Number.isSafeInteger(x)) throw new OnnxError(`${src}: ${t.where}: value ${v} is outside the exactly representable range`);
      return x;
    };
    switch (t.dataType) {
      case DataType.INT64: return Array.from(new BigInt64Array(buf), big);
      case DataType.UINT64: return Array.from(new BigUint64Array(buf), big);
      case DataType.INT32: return Array.from(new Int32Array(buf));
      case DataType.UINT32: return Array.from(new Uint32Array(buf));
      case DataType.INT16: return Array.from(new Int16Array(buf));
      case DataType.UINT16: return Array.from(new Uint16Array(buf));
      case DataType.INT8: return Array.from(new Int8Array(buf));
      default: return Array.from(new Uint8Array(buf));
    }
  }
  const d = t.data as Extract<TensorData, { kind: 'field' }>;
  if (d.values.length !== n) throw new OnnxError(`${src}: ${t.where} has ${d.values.length} values in ${d.field}; dims [${t.dims.join(',')}] need ${n}`);
  return [...d.values];
}

/** Float or integer tensor values as float64 numbers (for scalars such as Clip's bounds). */
export function tensorNumbers(t: OnnxTensor, src: string): number[] {
  const float = [DataType.FLOAT, DataType.DOUBLE, DataType.FLOAT16, DataType.BFLOAT16] as number[];
  return float.includes(t.dataType) ? Array.from(tensorFloat32(t, src)) : tensorIntegers(t, src);
}
