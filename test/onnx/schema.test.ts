// The reader's JSON descriptor (src/model/onnx/schema.ts) is exactly protobufjs' reading of the
// vendored onnx.proto3: regenerating it after replacing the .proto keeps them in step.
import { readFileSync } from 'node:fs';
import protobuf from 'protobufjs';
import { describe, expect, it } from 'vitest';
import { ONNX_SCHEMA } from '../../src/model/onnx/schema.js';

describe('vendored ONNX schema', () => {
  it('schema.ts is protobufjs.parse(onnx.proto3).toJSON()', () => {
    const text = readFileSync(new URL('../../src/model/onnx/onnx.proto3', import.meta.url), 'utf8');
    expect(text).toMatch(/^package onnx;$/m);
    const json = protobuf.parse(text, { keepCase: true }).root.toJSON();
    expect(JSON.parse(JSON.stringify(ONNX_SCHEMA))).toEqual(JSON.parse(JSON.stringify(json)));
  });
});
