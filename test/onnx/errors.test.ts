// Everything the importer cannot express exactly is an error naming the node (index, name, op
// type) and what is supported; nothing is skipped. Files that are no ONNX model, too old an opset,
// and graph-level problems are one-line errors naming the file, classified as bad input (exit 1).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { importOnnxFile } from '../../src/model/onnx/import.js';
import { OnnxError, readOnnxFile } from '../../src/model/onnx/read.js';
import { classify, EXIT } from '../../src/output/exit.js';
import { float, int, ints, OnnxModelBuilder, Random, str, type Attr } from './helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'cusnn-onnx-err-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let count = 0;
const r = new Random(7);

/** input x [1,c,8,8] -> `relus` ReLUs -> f(m, x) -> output y. */
function model(f: (m: OnnxModelBuilder, x: string) => string, o: { c?: number; relus?: number; opset?: number } = {}): string {
  const c = o.c ?? 4;
  const m = new OnnxModelBuilder(o.opset ?? 17);
  m.input('x', [1, c, 8, 8]);
  let x = 'x';
  for (let i = 0; i < (o.relus ?? 0); i++) x = m.node('Relu', [x], { name: `relu${i}` });
  const y = f(m, x);
  m.node('Identity', [y], { name: 'out', outputs: ['y'] });
  m.output('y');
  return m.write(join(dir, `e${count++}`));
}

const convW = (m: OnnxModelBuilder, k: number, c: number, kh = 3, kw = 3): string => m.init(`w${count}_${k}_${c}`, [k, c, kh, kw], r.floats(k * c * kh * kw));
const conv = (attrs: Record<string, Attr>, o: { k?: number; cg?: number; name?: string } = {}) => (m: OnnxModelBuilder, x: string): string =>
  m.node('Conv', [x, convW(m, o.k ?? 4, o.cg ?? 4)], { name: o.name ?? 'conv', attrs });

function fails(file: string, pattern: RegExp): void {
  let err: unknown;
  try {
    importOnnxFile(file);
  } catch (e) {
    err = e;
  }
  expect(err, `${file} imported without error`).toBeInstanceOf(OnnxError);
  const msg = (err as Error).message;
  expect(msg).toMatch(pattern);
  expect(msg).not.toContain('\n');
  expect(msg.startsWith(file)).toBe(true); // names the file
  expect(classify(err)).toMatchObject({ code: EXIT.badInput, internal: false });
}

describe('unsupported ops, attributes and shapes name the node', () => {
  it('dilation: the node index, its name and its op type', () => {
    const f = model(conv({ dilations: ints([2, 2]), pads: ints([2, 2, 2, 2]) }, { name: 'conv5/dw' }), { relus: 17 });
    fails(f, /: ONNX node 17 'conv5\/dw' \(Conv\): dilations \[2,2\] not supported \(dilation 1 only\)$/);
  });

  it('an op the importer does not take', () => {
    fails(model((m, x) => m.node('Sigmoid', [x], { name: 'act' }), { relus: 2 }), /ONNX node 2 'act' \(Sigmoid\): op not supported \(supported: Conv, BatchNormalization, .*\)/);
    fails(model((m, x) => m.node('Relu', [x], { name: 'custom', domain: 'com.microsoft' })), /ONNX node 0 'custom' \(Relu\): op domain 'com\.microsoft' not supported/);
  });

  it('group other than 1 or C, and inconsistent weights', () => {
    fails(model(conv({ group: int(2) }, { cg: 2 })), /ONNX node 0 'conv' \(Conv\): group 2 not supported \(1, or 4 = the input channels for a depthwise conv\)/);
    fails(model(conv({}, { cg: 3 })), /ONNX node 0 'conv' \(Conv\): weight W has dims \[4x3x3x3\]: 3 input channels per group x group 1 != the input's 4 channels/);
    fails(model(conv({ kernel_shape: ints([5, 5]) })), /kernel_shape \[5,5\] differs from the weight's 3x3/);
    fails(model((m, x) => m.node('Conv', [x, m.init('w1d', [4, 4, 3], r.floats(48))], { name: 'c1d' })), /ONNX node 0 'c1d' \(Conv\): weight W has dims \[4x4x3\]; a 2-D convolution/);
  });

  it('an attribute the op does not take, or a value outside what is supported', () => {
    fails(model((m, x) => m.node('Relu', [x], { name: 'r', attrs: { alpha: float(0.1) } })), /ONNX node 0 'r' \(Relu\): attribute 'alpha' not supported \(Relu takes none\)/);
    fails(model(conv({ auto_pad: str('SAME_MIDDLE') })), /auto_pad 'SAME_MIDDLE' not supported/);
    fails(model(conv({ auto_pad: str('SAME_UPPER'), pads: ints([1, 1, 1, 1]) })), /auto_pad SAME_UPPER with explicit pads \[1,1,1,1\]/);
    fails(model(conv({ pads: ints([1, 1]) })), /pads \[1,1\] not supported \(4 values/);
    fails(model((m, x) => m.node('Concat', [x, x], { name: 'cat', attrs: { axis: int(2) } })), /ONNX node 0 'cat' \(Concat\): axis 2 not supported \(the channel axis 1 only\)/);
    fails(model((m, x) => m.node('MaxPool', [x], { name: 'mp', attrs: { kernel_shape: ints([2, 2]), dilations: ints([2, 2]) } })), /ONNX node 0 'mp' \(MaxPool\): dilations \[2,2\] not supported/);
    fails(model((m, x) => m.node('MaxPool', [x], { name: 'mp', attrs: { kernel_shape: ints([2, 2]), pads: ints([2, 0, 0, 0]) } })), /ONNX node 0 'mp' \(MaxPool\): pads \[2,0,0,0\] not supported \(each pad smaller than the window 2x2\)/);
    fails(model((m, x) => m.node('Softmax', [x], { name: 'sm', attrs: { axis: int(-1) } })), /ONNX node 0 'sm' \(Softmax\): axis -1 not supported on an N,C,H,W tensor/);
    fails(model((m, x) => m.node('Softmax', [x], { name: 'sm' }), { opset: 12 }), /ONNX node 0 'sm' \(Softmax\): axis 1 at opset 12 on a 8x8 map/);
    fails(model((m, x) => m.node('BatchNormalization', [x, ...['s', 'b', 'm', 'v'].map((n) => m.init(n, [4], r.floats(4, 0.1, 1)))], { name: 'bn', attrs: { training_mode: int(1) } })), /ONNX node 0 'bn' \(BatchNormalization\): training_mode 1 not supported/);
  });

  it('Clip other than (0, 6) or (0, inf)', () => {
    fails(model((m, x) => m.node('Clip', [x, m.scalar('lo', -1), m.scalar('hi', 1)], { name: 'clip' })), /ONNX node 0 'clip' \(Clip\): Clip\(min -1, max 1\) not supported \(Clip\(0, 6\) as ReLU6 and Clip\(0, inf\) as ReLU only\)/);
  });

  it('shapes: broadcasting Add, Reshape to 4-D, Gemm transA, computed weights', () => {
    fails(model((m, x) => m.node('Add', [x, m.init('bias', [1, 4, 1, 1], r.floats(4))], { name: 'add' })), /ONNX node 0 'add' \(Add\): adding a constant \('bias'\) is supported only as the bias of the MatMul/);
    fails(model((m, x) => m.node('Reshape', [x, m.initInts('shape', [1, 4, 64, 1])], { name: 'rs' })), /ONNX node 0 'rs' \(Reshape\): Reshape to \[1,4,64,1\] not supported \(to 2-D \[batch, 256\] only/);
    fails(model((m, x) => {
      const f = m.node('Flatten', [x], { name: 'flat' });
      return m.node('Gemm', [f, m.init('g', [256, 3], r.floats(768))], { name: 'fc', attrs: { transA: int(1) } });
    }), /ONNX node 1 'fc' \(Gemm\): transA 1 not supported/);
    fails(model((m, x) => m.node('Conv', [x, x], { name: 'cx' })), /ONNX node 0 'cx' \(Conv\): the weight W \(input 1 'x'\) must be an initializer or a Constant/);
    fails(model((m, x) => m.node('Gemm', [x, m.init('g', [3, 256], r.floats(768))], { name: 'fc4' })), /ONNX node 0 'fc4' \(Gemm\): Gemm needs a 2-D input \(N x features\); input 'x' has rank 4/);
  });

  it('a used extra output (MaxPool indices, Dropout mask)', () => {
    fails(model((m, x) => {
      m.node('MaxPool', [x], { name: 'mp', outputs: ['p', 'idx'], attrs: { kernel_shape: ints([2, 2]) } });
      return m.node('Add', ['p', 'idx'], { name: 'use' });
    }), /ONNX node 0 'mp' \(MaxPool\): output 1 'idx' is used \(by ONNX node 1 'use' \(Add\)\); only the first output is supported/);
  });
});

describe('files and graphs', () => {
  it('opset older than 11', () => {
    fails(model(conv({}), { opset: 9 }), /ONNX opset 9 is older than 11, the oldest supported; re-export the model with opset 11 or newer/);
  });

  it('not an ONNX file, or none at all', () => {
    const junk = join(dir, 'junk.onnx');
    writeFileSync(junk, Buffer.from('this is not a protobuf message \xff\xff\xff\xff', 'latin1'));
    fails(junk, /: not an ONNX model \(protobuf decoding failed: /);
    const empty = join(dir, 'empty.onnx');
    writeFileSync(empty, new Uint8Array(0));
    fails(empty, /: not an ONNX model \(no graph\)/);
    expect(() => importOnnxFile(join(dir, 'missing.onnx'))).toThrow(/ONNX model '.*missing\.onnx' does not exist/);
  });

  it('graph problems: no single float image input, a dead node, out of order', () => {
    const two = new OnnxModelBuilder(17);
    two.input('a', [1, 2, 4, 4]).input('b', [1, 2, 4, 4]);
    two.node('Add', ['a', 'b'], { outputs: ['y'] });
    two.output('y');
    fails(two.write(join(dir, `e${count++}`)), /the graph has 2 inputs \('a', 'b'\); one image input is supported/);
    const ints64 = new OnnxModelBuilder(17);
    ints64.input('a', [1, 2, 4, 4], 7);
    ints64.node('Relu', ['a'], { outputs: ['y'] });
    ints64.output('y');
    fails(ints64.write(join(dir, `e${count++}`)), /graph input 'a' is INT64; a FLOAT tensor is supported/);
    fails(model((m, x) => {
      m.node('Relu', [x], { name: 'dead' });
      return m.node('Relu', [x], { name: 'live' });
    }), /ONNX node 0 'dead' \(Relu\): its output reaches no graph output/);
    const order = new OnnxModelBuilder(17);
    order.input('x', [1, 2, 4, 4]);
    order.node('Relu', ['later'], { name: 'first', outputs: ['y'] });
    order.node('Relu', ['x'], { name: 'second', outputs: ['later'] });
    order.output('y');
    fails(order.write(join(dir, `e${count++}`)), /ONNX node 0 'first' \(Relu\): input 'later' is not computed before this node/);
  });

  it('--input-shape that contradicts a fixed input shape', () => {
    const f = model(conv({}));
    expect(() => importOnnxFile(f, { inputShape: [4, 9, 9] })).toThrow(/graph input 'x' has fixed shape \[1,4,8,8\]; --input-shape 4,9,9 differs/);
  });
});

// A STRING attribute whose `s` is not decoded (absent, empty, or written with the wrong wire type)
// read as protobufjs' default for bytes, a plain empty Array, and TextDecoder threw a TypeError:
// an internal error (test/onnx/fuzz.test.ts, seed 801995570, mutation 205). An absent `s` is the
// empty string (the proto3 default, as ONNX's checker takes it); the importer refuses what it cannot use.
describe('attribute values that protobufjs leaves at their defaults', () => {
  /** Input x [1,4,8,8] -> Conv 'conv' with `attrs` -> y, encoded. */
  const convModel = (attrs: Record<string, Attr>): Uint8Array => {
    const m = new OnnxModelBuilder(17);
    m.input('x', [1, 4, 8, 8]);
    m.node('Conv', ['x', convW(m, 4, 4)], { name: 'conv', outputs: ['y'], attrs });
    m.output('y');
    return m.encode();
  };
  /** `bytes` with the one occurrence of `from` replaced by `to` (same length). */
  const patch = (bytes: Uint8Array, from: readonly number[], to: readonly number[]): Uint8Array => {
    const at: number[] = [];
    for (let i = 0; i + from.length <= bytes.length; i++) if (from.every((b, k) => bytes[i + k] === b)) at.push(i);
    expect(at, `byte pattern ${from.join(',')}`).toHaveLength(1);
    const out = Uint8Array.from(bytes);
    out.set(to, at[0]!);
    return out;
  };
  const save = (bytes: Uint8Array): string => {
    const f = join(dir, `damaged${count++}.onnx`);
    writeFileSync(f, bytes);
    return f;
  };
  const ascii = (t: string): number[] => [...Buffer.from(t, 'latin1')];

  it('s written with the wrong wire type (the fuzz case): no value, so auto_pad is empty and refused', () => {
    // AttributeProto field 4 (s), length-delimited: tag 0x22; tag 0x12 is field 2 (f), whose wire type is fixed32.
    const sameUpper = [0x22, 10, ...ascii('SAME_UPPER')];
    const f = save(patch(convModel({ auto_pad: str('SAME_UPPER') }), sameUpper, [0x12, ...sameUpper.slice(1)]));
    fails(f, /: ONNX node 0 'conv' \(Conv\): auto_pad '' not supported \(NOTSET, SAME_UPPER, SAME_LOWER, VALID\)$/);
  });

  it('type changed from INTS to STRING: a string attribute without s, refused by the op', () => {
    // kernel_shape [3,3]: ints packed (tag 0x42), then type (field 20, tag 0xa0 0x01) INTS = 7, changed to STRING = 3.
    const ks = [0x42, 2, 3, 3, 0xa0, 0x01];
    const f = save(patch(convModel({ kernel_shape: ints([3, 3]) }), [...ks, 7], [...ks, 3]));
    fails(f, /: ONNX node 0 'conv' \(Conv\): attribute 'kernel_shape' must be a list of ints, got string$/);
  });

  it('an empty string (no s on the wire in proto3) reads as the empty string', () => {
    const model = readOnnxFile(save(convModel({ auto_pad: str('') })));
    expect(model.graph.nodes[0]!.attributes.get('auto_pad')).toEqual({ name: 'auto_pad', type: 'string', value: '' });
  });
});
