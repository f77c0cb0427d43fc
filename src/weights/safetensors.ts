// cusnn's own single-file weight format: standard safetensors (u64 LE header length, JSON header,
// raw little-endian data), keys `<layer>:<role>`, dtypes F32 or F16, and `__metadata__` with
// format `cusnn-weights/1`, model, source and storage. With fp16 storage only conv and dense
// kernels are F16; biases and batch-norm vectors stay F32 (moving variances overflow fp16).
//
// Data moves with one read/write per tensor straight between the file and the tensor's memory;
// only fp16 tensors go through a conversion loop.
import * as fs from 'node:fs';
import { paramSpecs, size, tensorKey, type Graph, type TensorSpec } from '../model/ir.js';
import { f16ToF32Array, f32ToF16Array } from './fp16.js';
import { readFullyFd, writeFully } from './io.js';
import { assertLittleEndian, formatShape, validateWeights, type WeightSet } from './store.js';

export const FORMAT = 'cusnn-weights/1';
export type Storage = 'fp32' | 'fp16';
type DType = 'F32' | 'F16';
const BYTES: Readonly<Record<DType, number>> = { F32: 4, F16: 2 };

export interface SafetensorsWeights {
  readonly weights: WeightSet;
  readonly storage: Storage;
  /** The file's `__metadata__` (all string values, as safetensors requires). */
  readonly metadata: Readonly<Record<string, string>>;
}

interface HeaderEntry {
  dtype: string;
  shape: number[];
  data_offsets: [number, number];
}

/** The dtype a tensor is stored with: kernels follow `storage`, vectors are always F32. */
export const storedDType = (spec: TensorSpec, storage: Storage): DType => (storage === 'fp16' && spec.role === 'kernel' ? 'F16' : 'F32');

/** Writes `ws` (validated against `graph`) to `file`, atomically (temp file + rename). */
export function writeSafetensors(file: string, graph: Graph, ws: WeightSet, storage: Storage): void {
  assertLittleEndian();
  validateWeights(graph, ws);
  const specs = paramSpecs(graph);
  const metadata: Record<string, string> = { format: FORMAT, model: graph.name, source: ws.source, storage };
  if (ws.filled.length > 0) metadata.filled = JSON.stringify(ws.filled);
  const header: Record<string, unknown> = { __metadata__: metadata };
  let offset = 0;
  for (const s of specs) {
    const dtype = storedDType(s, storage);
    const bytes = size(s.shape) * BYTES[dtype];
    header[tensorKey(s.layer, s.role)] = { dtype, shape: [...s.shape], data_offsets: [offset, offset + bytes] };
    offset += bytes;
  }
  // Spaces pad the header so the data starts 8-byte aligned (allowed by the safetensors spec).
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - (Buffer.byteLength(json) % 8)) % 8);
  const head = Buffer.alloc(8 + Buffer.byteLength(json));
  head.writeBigUInt64LE(BigInt(head.length - 8), 0);
  head.write(json, 8, 'utf8');

  const tmp = `${file}.tmp-${process.pid}`;
  const fd = fs.openSync(tmp, 'w');
  try {
    writeFully(fd, head);
    const chunk = new Uint16Array(1 << 20);
    for (const s of specs) {
      const t = ws.tensors.get(tensorKey(s.layer, s.role))!;
      if (storedDType(s, storage) === 'F32') {
        writeFully(fd, new Uint8Array(t.buffer, t.byteOffset, t.byteLength));
        continue;
      }
      for (let at = 0; at < t.length; at += chunk.length) {
        const part = t.subarray(at, Math.min(t.length, at + chunk.length));
        const h = f32ToF16Array(part, chunk.subarray(0, part.length));
        writeFully(fd, new Uint8Array(h.buffer, 0, h.byteLength));
      }
    }
    fs.closeSync(fd);
    fs.renameSync(tmp, file);
  } catch (e) {
    try {
      fs.closeSync(fd);
    } catch {
      // already closed
    }
    fs.rmSync(tmp, { force: true });
    throw e;
  }
}

/** Reads a cusnn safetensors file and checks it holds exactly `graph`'s tensors. */
export function readSafetensors(file: string, graph: Graph): SafetensorsWeights {
  assertLittleEndian();
  const fd = fs.openSync(file, 'r');
  try {
    return readFromFd(fd, file, graph);
  } finally {
    fs.closeSync(fd);
  }
}

function readFromFd(fd: number, file: string, graph: Graph): SafetensorsWeights {
  const fileSize = fs.fstatSync(fd).size;
  const bad = (why: string): Error => new Error(`${file}: ${why}`);
  if (fileSize < 8) throw bad(`truncated or not a safetensors file (${fileSize} bytes, less than the 8-byte header length)`);
  const lenBuf = Buffer.alloc(8);
  readFullyFd(fd, lenBuf, 0, file);
  const headerLen = Number(lenBuf.readBigUInt64LE(0));
  if (headerLen > fileSize - 8) throw bad(`truncated or not a safetensors file (header length ${headerLen} exceeds the file size ${fileSize})`);
  const headBuf = Buffer.alloc(headerLen);
  readFullyFd(fd, headBuf, 8, file);
  let header: Record<string, unknown>;
  try {
    const parsed: unknown = JSON.parse(headBuf.toString('utf8'));
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new Error('header is not a JSON object');
    header = parsed as Record<string, unknown>;
  } catch (e) {
    throw bad(`not a safetensors file (${(e as Error).message})`);
  }
  const metadata = readMetadata(header.__metadata__, bad);
  if (metadata.format !== undefined && metadata.format !== FORMAT) throw bad(`unsupported format '${metadata.format}' (expected '${FORMAT}')`);
  if (metadata.model !== undefined && metadata.model !== graph.name) {
    throw bad(`holds weights for model '${metadata.model}', not '${graph.name}'`);
  }

  const dataStart = 8 + headerLen;
  const dataLen = fileSize - dataStart;
  const specs = paramSpecs(graph);
  const tensors = new Map<string, Float32Array>();
  let sawF16 = false;
  for (const s of specs) {
    const key = tensorKey(s.layer, s.role);
    const want = `${graph.name} layer '${s.layer}' ${s.role}, expected shape ${formatShape(s.shape)}`;
    const raw = header[key];
    if (raw === undefined) throw bad(`no tensor '${key}' (${want})`);
    const e = raw as Partial<HeaderEntry>;
    if (e.dtype !== 'F32' && e.dtype !== 'F16') throw bad(`tensor '${key}' has dtype ${String(e.dtype)}; only F32 and F16 are supported (${want})`);
    if (!Array.isArray(e.shape) || e.shape.length !== s.shape.length || e.shape.some((d, i) => d !== s.shape[i])) {
      throw bad(`tensor '${key}' has shape ${Array.isArray(e.shape) ? formatShape(e.shape) : String(e.shape)} (${want})`);
    }
    const n = size(s.shape);
    const bytes = n * BYTES[e.dtype];
    const off = e.data_offsets;
    if (!Array.isArray(off) || off.length !== 2 || !Number.isSafeInteger(off[0]) || off[1] !== off[0] + bytes || off[0] < 0) {
      throw bad(`tensor '${key}' has data_offsets ${JSON.stringify(off)}, expected a range of ${bytes} bytes (${want}, ${e.dtype})`);
    }
    if (off[1] > dataLen) throw bad(`truncated: tensor '${key}' needs data bytes [${off[0]}, ${off[1]}) but the file holds only ${dataLen} (${want})`);
    const out = new Float32Array(n);
    if (e.dtype === 'F32') {
      readFullyFd(fd, new Uint8Array(out.buffer), dataStart + off[0], file);
    } else {
      sawF16 = true;
      const h = new Uint16Array(n);
      readFullyFd(fd, new Uint8Array(h.buffer), dataStart + off[0], file);
      f16ToF32Array(h, out);
    }
    tensors.set(key, out);
  }
  const known = Object.keys(header).filter((k) => k !== '__metadata__');
  if (known.length !== specs.length) {
    const expected = new Set(specs.map((s) => tensorKey(s.layer, s.role)));
    const extra = known.find((k) => !expected.has(k));
    throw bad(`tensor '${extra}' is not a parameter of ${graph.name}`);
  }
  const storage: Storage = metadata.storage === 'fp16' || metadata.storage === 'fp32' ? metadata.storage : sawF16 ? 'fp16' : 'fp32';
  const filled = metadata.filled ? parseFilled(metadata.filled, bad) : [];
  const source = metadata.source ? `${file} (${metadata.source})` : file;
  return { weights: { model: graph.name, source, tensors, filled }, storage, metadata };
}

function readMetadata(raw: unknown, bad: (why: string) => Error): Record<string, string> {
  if (raw === undefined) return {};
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw bad('__metadata__ is not an object');
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(raw)) {
    if (typeof v !== 'string') throw bad(`__metadata__.${k} is not a string`);
    out[k] = v;
  }
  return out;
}

function parseFilled(s: string, bad: (why: string) => Error): string[] {
  try {
    const v: unknown = JSON.parse(s);
    if (Array.isArray(v) && v.every((x) => typeof x === 'string')) return v as string[];
  } catch {
    // reported below
  }
  throw bad('__metadata__.filled is not a JSON list of tensor keys');
}
