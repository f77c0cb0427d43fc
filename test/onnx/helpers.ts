// Test helpers: small ONNX models written with protobufjs (the ModelProto built from the vendored
// onnx.proto3, parsed here with protobufjs' full build, so the writer shares no code with the
// reader's JSON descriptor), random weights stored in every way ONNX stores them, and a run of
// the same file through onnxruntime-node on the CPU.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import protobuf from 'protobufjs';
import { mulberry32 } from '../helpers/random.js';

let modelType: protobuf.Type | undefined;
export function writerModelType(): protobuf.Type {
  if (!modelType) {
    const text = readFileSync(new URL('../../src/model/onnx/onnx.proto3', import.meta.url), 'utf8');
    modelType = protobuf.parse(text, { keepCase: true }).root.lookupType('onnx.ModelProto');
  }
  return modelType;
}

/** How an initializer keeps its values. */
export type Storage = 'raw' | 'float_data' | 'external' | 'double_raw' | 'fp16_raw';

export type Attr =
  | { readonly i: number }
  | { readonly f: number }
  | { readonly ints: readonly number[] }
  | { readonly floats: readonly number[] }
  | { readonly s: string }
  | { readonly t: TensorObj };
export const int = (i: number): Attr => ({ i });
export const float = (f: number): Attr => ({ f });
export const ints = (v: readonly number[]): Attr => ({ ints: v });
export const str = (s: string): Attr => ({ s });

interface TensorObj { [k: string]: unknown }

/** Uniform random numbers in [lo, hi) from a seeded generator. */
export class Random {
  private readonly next: () => number;
  constructor(readonly seed: number) {
    this.next = mulberry32(seed);
  }
  uniform(lo = 0, hi = 1): number {
    return lo + (hi - lo) * this.next();
  }
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.next() * (hi - lo + 1));
  }
  pick<T>(xs: readonly T[]): T {
    return xs[Math.floor(this.next() * xs.length)]!;
  }
  floats(n: number, lo = -1, hi = 1): Float32Array {
    const out = new Float32Array(n);
    for (let i = 0; i < n; i++) out[i] = this.uniform(lo, hi);
    return out;
  }
}

const F16 = (x: number): number => {
  // float32 -> IEEE half bits (round to nearest even), for the values the tests use (|x| < 65504).
  const f = new Float32Array([x]);
  const u = new Uint32Array(f.buffer)[0]!;
  const sign = (u >>> 16) & 0x8000;
  const exp = ((u >>> 23) & 0xff) - 127 + 15;
  let mant = u & 0x7fffff;
  if (exp <= 0) {
    if (exp < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - exp;
    let h = mant >>> shift;
    const rem = mant & ((1 << shift) - 1);
    const half = 1 << (shift - 1);
    if (rem > half || (rem === half && (h & 1))) h++;
    return sign | h;
  }
  let h = sign | (exp << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && (h & 1))) h++;
  return h;
};

/** float32 values rounded as the storage keeps them (so both sides compute with the same weights). */
export function stored(values: Float32Array, storage: Storage): Float32Array {
  if (storage !== 'fp16_raw') return values;
  const out = new Float32Array(values.length);
  const half = new Uint16Array(values.map(F16));
  for (let i = 0; i < out.length; i++) {
    const h = half[i]!;
    const s = h & 0x8000 ? -1 : 1;
    const e = (h >> 10) & 0x1f;
    const m = h & 0x3ff;
    out[i] = e === 0 ? s * m * 2 ** -24 : s * (1 + m / 1024) * 2 ** (e - 15);
  }
  return out;
}

/** Builds one ONNX model. */
export class OnnxModelBuilder {
  private readonly nodes: TensorObj[] = [];
  private readonly initializers: TensorObj[] = [];
  private readonly inputs: TensorObj[] = [];
  private readonly outputs: TensorObj[] = [];
  /** External data: file name -> chunks (written by write()). */
  private readonly external = new Map<string, Uint8Array[]>();
  private readonly externalSize = new Map<string, number>();
  private count = 0;

  constructor(readonly opset = 17, readonly irVersion = 8) {}

  input(name: string, dims: readonly (number | string)[], elemType = 1): this {
    this.inputs.push(valueInfo(name, dims, elemType));
    return this;
  }

  output(name: string): this {
    this.outputs.push({ name, type: { tensor_type: { elem_type: 1 } } });
    return this;
  }

  /** A float initializer stored as `storage`; returns its name. */
  init(name: string, dims: readonly number[], values: Float32Array, storage: Storage = 'raw'): string {
    if (values.length !== dims.reduce((a, b) => a * b, 1)) throw new Error(`${name}: ${values.length} values for dims ${dims.join('x')}`);
    const t: TensorObj = { name, dims: [...dims], data_type: 1 };
    switch (storage) {
      case 'raw':
        t.raw_data = new Uint8Array(values.buffer.slice(values.byteOffset, values.byteOffset + values.byteLength));
        break;
      case 'float_data':
        t.float_data = Array.from(values);
        break;
      case 'double_raw':
        t.data_type = 11;
        t.raw_data = new Uint8Array(Float64Array.from(values).buffer);
        break;
      case 'fp16_raw':
        t.data_type = 10;
        t.raw_data = new Uint8Array(Uint16Array.from(values, F16).buffer);
        break;
      case 'external': {
        const file = 'weights.data';
        const chunks = this.external.get(file) ?? [];
        const pad = 12; // a gap before each tensor: offsets are not 0 and not 4-aligned multiples of a tensor
        const at = (this.externalSize.get(file) ?? 0) + pad;
        chunks.push(new Uint8Array(pad).fill(0xab), new Uint8Array(values.buffer.slice(values.byteOffset, values.byteOffset + values.byteLength)));
        this.external.set(file, chunks);
        this.externalSize.set(file, at + values.byteLength);
        t.data_location = 1;
        t.external_data = [{ key: 'location', value: file }, { key: 'offset', value: String(at) }, { key: 'length', value: String(values.byteLength) }];
        break;
      }
    }
    this.initializers.push(t);
    return name;
  }

  /** An int64 initializer (shapes). */
  initInts(name: string, values: readonly number[]): string {
    this.initializers.push({ name, dims: [values.length], data_type: 7, raw_data: new Uint8Array(BigInt64Array.from(values.map(BigInt)).buffer) });
    return name;
  }

  /** A float scalar initializer (Clip bounds). */
  scalar(name: string, v: number): string {
    this.initializers.push({ name, dims: [], data_type: 1, float_data: [v] });
    return name;
  }

  /** A node; returns its first output's name. */
  node(opType: string, inputs: readonly string[], o: { name?: string; outputs?: readonly string[]; attrs?: Readonly<Record<string, Attr>>; domain?: string } = {}): string {
    const id = this.count++;
    const outputs = o.outputs ?? [`t${id}`];
    const attribute = Object.entries(o.attrs ?? {}).map(([name, a]) => attribute_(name, a));
    this.nodes.push({ name: o.name ?? `${opType.toLowerCase()}_${id}`, op_type: opType, input: [...inputs], output: [...outputs], attribute, ...(o.domain ? { domain: o.domain } : {}) });
    return outputs[0]!;
  }

  /** A Constant node holding `t` (a TensorProto object); returns its output. */
  constant(t: TensorObj, name?: string): string {
    return this.node('Constant', [], { attrs: { value: { t } }, ...(name ? { name } : {}) });
  }

  encode(): Uint8Array {
    const type = writerModelType();
    const obj = {
      ir_version: this.irVersion,
      producer_name: 'cusnn-test',
      opset_import: [{ domain: '', version: this.opset }],
      graph: { name: 'test', node: this.nodes, initializer: this.initializers, input: this.inputs, output: this.outputs },
    };
    const problem = type.verify(obj);
    if (problem) throw new Error(`test model does not verify: ${problem}`);
    return type.encode(type.fromObject(obj)).finish();
  }

  /** Writes `<dir>/<file>` and its external data files; returns the model's path. */
  write(dir: string, file = 'model.onnx'): string {
    mkdirSync(dir, { recursive: true });
    const p = join(dir, file);
    writeFileSync(p, this.encode());
    for (const [f, chunks] of this.external) writeFileSync(join(dir, f), Buffer.concat(chunks));
    return p;
  }
}

function valueInfo(name: string, dims: readonly (number | string)[], elemType: number): TensorObj {
  return {
    name,
    type: { tensor_type: { elem_type: elemType, shape: { dim: dims.map((d) => (typeof d === 'number' ? { dim_value: d } : { dim_param: d })) } } },
  };
}

function attribute_(name: string, a: Attr): TensorObj {
  if ('i' in a) return { name, type: 2, i: a.i };
  if ('f' in a) return { name, type: 1, f: a.f };
  if ('ints' in a) return { name, type: 7, ints: [...a.ints] };
  if ('floats' in a) return { name, type: 6, floats: [...a.floats] };
  if ('s' in a) return { name, type: 3, s: new TextEncoder().encode(a.s) };
  return { name, type: 4, t: a.t };
}

/**
 * Runs `file` in onnxruntime-node (CPU) on one float32 NCHW input; the outputs by name. Warnings
 * are off: with ceil_mode, ONNX's shape inference still counts windows that start in the right
 * padding, which the spec ("are ignored") and onnxruntime's kernels drop; the kernels' outputs are
 * what the tests compare.
 */
export async function runOrt(file: string, inputName: string, input: Float32Array, dims: readonly number[]): Promise<Map<string, Float32Array>> {
  // Imported here, not at the top: the GPU host's test pack leaves onnxruntime-node out (288 MB),
  // and test/gpu/onnx-ops.test.ts uses this file's builders without it.
  const ort = await import('onnxruntime-node');
  const session = await ort.InferenceSession.create(file, { executionProviders: ['cpu'], graphOptimizationLevel: 'disabled', logSeverityLevel: 3 });
  try {
    const res = await session.run({ [inputName]: new ort.Tensor('float32', input, [...dims]) });
    const out = new Map<string, Float32Array>();
    for (const [k, v] of Object.entries(res)) out.set(k, v.data as Float32Array);
    return out;
  } finally {
    await session.release();
  }
}

/** Relative L2 distance ||a - b|| / ||b||. */
export function relL2(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`lengths ${a.length} and ${b.length}`);
  let num = 0;
  let den = 0;
  for (let i = 0; i < a.length; i++) {
    num += (a[i]! - b[i]!) ** 2;
    den += b[i]! ** 2;
  }
  return Math.sqrt(num / (den || 1e-300));
}

/** The largest absolute difference over the largest |b|: the error of the worst element against the tensor's scale. */
export function relMax(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let num = 0;
  let den = 0;
  for (let i = 0; i < b.length; i++) {
    num = Math.max(num, Math.abs(a[i]! - b[i]!));
    den = Math.max(den, Math.abs(b[i]!));
  }
  return num / (den || 1e-300);
}
