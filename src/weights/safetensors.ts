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
import type { Static } from '@sinclair/typebox';
import { firstProblem, found } from '../schema/check.js';
import { FilledKeysSchema, SafetensorsHeaderSchema, type TensorEntrySchema } from '../schema/weights.js';
import { assertFilledFinite, assertFinite, assertLittleEndian, assertVariance, formatShape, validateWeights, type WeightSet } from './store.js';
import { fillMissingTensors } from './synthetic.js';

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

/** The dtype a tensor is stored with: kernels follow `storage`, vectors are always F32. */
export const storedDType = (spec: TensorSpec, storage: Storage): DType => (storage === 'fp16' && spec.role === 'kernel' ? 'F16' : 'F32');

/** Writes `ws` (validated against `graph`) to `file`, atomically (temp file + rename). */
export function writeSafetensors(file: string, graph: Graph, ws: WeightSet, storage: Storage, o: { readonly omitFilled?: boolean } = {}): void {
  assertLittleEndian();
  validateWeights(graph, ws);
  // omitFilled: only the tensors the source held (ResNet-50's real tensors are 20 MB in fp16, with
  // the synthetic conv5 block 47 MB: too big to carry to the GPU host); readers fill the rest again
  // with --fill-missing, from the same seed, so the same bytes come back.
  const omitted = new Set(o.omitFilled ? ws.filled : []);
  const specs = paramSpecs(graph).filter((s) => !omitted.has(tensorKey(s.layer, s.role)));
  const metadata: Record<string, string> = { format: FORMAT, model: graph.name, source: ws.source, storage };
  if (ws.filled.length > 0 && !o.omitFilled) metadata.filled = JSON.stringify(ws.filled);
  if (omitted.size > 0) metadata.absent = `${omitted.size} tensor(s) not stored (filled synthetically at load with --fill-missing)`;
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

export interface ReadSafetensorsOptions {
  /** Generate the tensors the file lacks (labelled filled) instead of failing. */
  readonly fillMissing?: boolean;
  /** Seed of the generated tensors (default 0). */
  readonly seed?: number;
}

/**
 * Reads a cusnn safetensors file and checks it holds exactly `graph`'s tensors: the header against
 * its schema (src/schema/weights.ts), no duplicate keys, every tensor's data in one contiguous run
 * of the data section (no overlap, no gap, no trailing bytes), every value finite.
 */
export function readSafetensors(file: string, graph: Graph, o: ReadSafetensorsOptions = {}): SafetensorsWeights {
  assertLittleEndian();
  let fd: number;
  try {
    fd = fs.openSync(file, 'r');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new Error(`${file}: cannot read (${code === 'ENOENT' ? 'no such file' : (e as Error).message})`);
  }
  try {
    return readFromFd(fd, file, graph, o);
  } finally {
    fs.closeSync(fd);
  }
}

type Header = Static<typeof SafetensorsHeaderSchema>;
type Entry = Static<typeof TensorEntrySchema>;

function readFromFd(fd: number, file: string, graph: Graph, o: ReadSafetensorsOptions): SafetensorsWeights {
  const st = fs.fstatSync(fd);
  const bad = (why: string): Error => new Error(`${file}: ${why}`);
  if (!st.isFile()) throw bad('not a regular file');
  const fileSize = st.size;
  if (fileSize < 8) throw bad(`truncated or not a safetensors file (${fileSize} bytes, less than the 8-byte header length)`);
  const lenBuf = Buffer.alloc(8);
  readFullyFd(fd, lenBuf, 0, file);
  const headerLen = lenBuf.readBigUInt64LE(0);
  if (headerLen > BigInt(fileSize - 8)) throw bad(`truncated or not a safetensors file (header length ${headerLen} exceeds the file size ${fileSize})`);
  const headBuf = Buffer.alloc(Number(headerLen));
  readFullyFd(fd, headBuf, 8, file);
  const text = headBuf.toString('utf8');
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (e) {
    throw bad(`not a safetensors file (header is not valid JSON: ${(e as Error).message.split('\n')[0]})`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw bad(`not a safetensors file (header is not a JSON object: found ${found(parsed)})`);
  const dup = duplicateKey(text);
  if (dup !== null) throw bad(`header has the key '${dup}' twice (a reader would silently take one of them)`);
  const problem = firstProblem(SafetensorsHeaderSchema, parsed);
  if (problem !== null) throw bad(`header: ${problem}`);
  const header = parsed as Header;
  const metadata: Record<string, string> = { ...(header.__metadata__ ?? {}) };
  if (metadata.format !== undefined && metadata.format !== FORMAT) throw bad(`unsupported format '${metadata.format}' (expected '${FORMAT}')`);
  if (metadata.model !== undefined && metadata.model !== graph.name) {
    throw bad(`holds weights for model '${metadata.model}', not '${graph.name}'`);
  }

  const dataStart = 8 + Number(headerLen);
  const dataLen = fileSize - dataStart;
  const specs = paramSpecs(graph);
  const expected = new Set(specs.map((s) => tensorKey(s.layer, s.role)));
  const entries = new Map<string, Entry>();
  for (const [k, v] of Object.entries(header)) if (k !== '__metadata__') entries.set(k, v as Entry);
  for (const k of entries.keys()) if (!expected.has(k)) throw bad(`tensor '${k}' is not a parameter of ${graph.name}`);

  // First every entry against its spec, then the layout as a whole, then the data.
  const missing: string[] = [];
  const present: { spec: TensorSpec; key: string; entry: Entry & { dtype: DType } }[] = [];
  for (const s of specs) {
    const key = tensorKey(s.layer, s.role);
    const want = `${graph.name} layer '${s.layer}' ${s.role}, expected shape ${formatShape(s.shape)}`;
    const e = entries.get(key);
    if (e === undefined) {
      if (o.fillMissing) {
        missing.push(key);
        continue;
      }
      throw bad(`no tensor '${key}' (${want})${missing.length === 0 ? ' (--fill-missing generates missing tensors synthetically)' : ''}`);
    }
    if (e.dtype !== 'F32' && e.dtype !== 'F16') throw bad(`tensor '${key}' has dtype ${e.dtype}; only F32 and F16 are supported (${want})`);
    if (e.shape.length !== s.shape.length || e.shape.some((d, i) => d !== s.shape[i])) {
      throw bad(`tensor '${key}' has shape ${formatShape(e.shape)} (${want})`);
    }
    const n = size(s.shape);
    const bytes = n * BYTES[e.dtype];
    const off = e.data_offsets;
    if (off[1] - off[0] !== bytes) {
      throw bad(`tensor '${key}' has data_offsets ${JSON.stringify(off)}, expected a range of ${bytes} bytes (${want}, ${e.dtype})`);
    }
    if (off[1] > dataLen) throw bad(`truncated: tensor '${key}' needs data bytes [${off[0]}, ${off[1]}) but the file holds only ${dataLen} (${want})`);
    present.push({ spec: s, key, entry: { ...e, dtype: e.dtype } });
  }
  checkLayout(entries, dataLen, bad);

  const tensors = new Map<string, Float32Array>();
  let sawF16 = false;
  for (const { spec: s, key, entry: e } of present) {
    const n = size(s.shape);
    const off = e.data_offsets;
    const out = new Float32Array(n);
    if (e.dtype === 'F32') {
      readFullyFd(fd, new Uint8Array(out.buffer), dataStart + off[0], file);
    } else {
      sawF16 = true;
      const h = new Uint16Array(n);
      readFullyFd(fd, new Uint8Array(h.buffer), dataStart + off[0], file);
      f16ToF32Array(h, out);
    }
    assertFinite(file, key, s.shape, out);
    if (s.role === 'moving_variance') assertVariance(`${file}: layer '${s.layer}'`, key, s.shape, out);
    tensors.set(key, out);
  }
  const storage: Storage = metadata.storage === 'fp16' || metadata.storage === 'fp32' ? metadata.storage : sawF16 ? 'fp16' : 'fp32';
  const labelled = metadata.filled !== undefined ? parseFilled(metadata.filled, expected, bad) : [];
  for (const k of labelled) if (!tensors.has(k)) throw bad(`__metadata__.filled names '${k}', which the file does not hold`);
  const origin = metadata.source ? `${file} (${metadata.source})` : file;
  if (missing.length === 0) return { weights: { model: graph.name, source: origin, tensors, filled: labelled }, storage, metadata };
  if (tensors.size === 0) throw bad(`holds none of ${graph.name}'s ${specs.length} tensors; --fill-missing fills a partial file, not an empty or foreign one`);
  const seed = o.seed ?? 0;
  const fill = fillMissingTensors(graph, tensors, seed);
  assertFilledFinite(file, graph, fill.tensors, fill.filled);
  const now = new Set([...labelled, ...fill.filled]);
  const filled = [...fill.tensors.keys()].filter((k) => now.has(k));
  const source = `${origin} (${missing.length} missing tensor(s) filled synthetically, seed ${seed})`;
  return { weights: { model: graph.name, source, tensors: fill.tensors, filled }, storage, metadata };
}

/**
 * The data section must be the tensors back to back: sorted by offset, the first begins at 0, each
 * begins where the previous ends, the last ends at the end of the file.
 */
function checkLayout(entries: ReadonlyMap<string, Entry>, dataLen: number, bad: (why: string) => Error): void {
  const runs = [...entries].map(([key, e]) => ({ key, begin: e.data_offsets[0], end: e.data_offsets[1] }));
  for (const r of runs) {
    if (r.end < r.begin) throw bad(`tensor '${r.key}' has data_offsets [${r.begin}, ${r.end}]: the end lies before the begin`);
    if (r.end > dataLen) throw bad(`truncated: tensor '${r.key}' needs data bytes [${r.begin}, ${r.end}) but the file holds only ${dataLen}`);
  }
  runs.sort((a, b) => a.begin - b.begin || a.end - b.end);
  let at = 0;
  let prev: (typeof runs)[number] | undefined;
  for (const r of runs) {
    if (r.begin < at) throw bad(`tensor '${r.key}' data [${r.begin}, ${r.end}) overlaps tensor '${prev!.key}' [${prev!.begin}, ${prev!.end})`);
    if (r.begin > at) {
      throw bad(`${r.begin - at} byte(s) of data [${at}, ${r.begin}) belong to no tensor (${prev ? `between '${prev.key}' and '${r.key}'` : `before '${r.key}'`}); tensors must be contiguous`);
    }
    at = r.end;
    prev = r;
  }
  if (at < dataLen) throw bad(`${dataLen - at} trailing byte(s) after the last tensor's data (data ends at ${at}, the file's data section holds ${dataLen})`);
}

/** The first key that occurs twice in one object of a JSON text (JSON.parse keeps only the last), or null. */
export function duplicateKey(text: string): string | null {
  const stack: { keys: Set<string> | null; expectKey: boolean }[] = [];
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22) {
      let j = i + 1;
      while (j < text.length && text.charCodeAt(j) !== 0x22) j += text.charCodeAt(j) === 0x5c ? 2 : 1;
      const top = stack[stack.length - 1];
      if (top?.keys && top.expectKey) {
        const key = JSON.parse(text.slice(i, j + 1)) as string;
        if (top.keys.has(key)) return key;
        top.keys.add(key);
        top.expectKey = false;
      }
      i = j;
    } else if (c === 0x7b) stack.push({ keys: new Set(), expectKey: true });
    else if (c === 0x5b) stack.push({ keys: null, expectKey: false });
    else if (c === 0x7d || c === 0x5d) stack.pop();
    else if (c === 0x2c) {
      const top = stack[stack.length - 1];
      if (top?.keys) top.expectKey = true;
    }
  }
  return null;
}

function parseFilled(s: string, expected: ReadonlySet<string>, bad: (why: string) => Error): string[] {
  let v: unknown;
  try {
    v = JSON.parse(s);
  } catch {
    throw bad('__metadata__.filled is not a JSON list of tensor keys');
  }
  const problem = firstProblem(FilledKeysSchema, v);
  if (problem !== null) throw bad(`__metadata__.filled: ${problem}`);
  const keys = v as string[];
  for (const k of keys) if (!expected.has(k)) throw bad(`__metadata__.filled names '${k}', which is not a tensor of the model`);
  return keys;
}
