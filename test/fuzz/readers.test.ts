// Seeded fuzz test of every reader of a file cusnn reads: random corruptions of real files
// (bytes flipped, truncated, extended; JSON fields removed, retyped, set to null, NaN or huge;
// keys duplicated). Each case must end in a clean error (an Error, not a TypeError/RangeError/...,
// one line that names the file) or a correct result (what the file holds, every number finite,
// nothing filled that the file did not label filled), within a time bound (no hang).
// CUSNN_FUZZ_SEED picks another seed; CUSNN_FUZZ_SCALE multiplies the case counts.
// docs/ROBUSTNESS.md records the counts.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readResults } from '../../src/bench/report.js';
import { GraphBuilder } from '../../src/model/builder.js';
import { paramSpecs, size, tensorKey, type Graph } from '../../src/model/ir.js';
import { readImage, IMAGE_BYTES } from '../../src/runtime/images.js';
import { readPlanFile } from '../../src/runtime/network.js';
import { readCalibration } from '../../src/sparsity/calibration.js';
import { binFileName, readCusnnBin, writeCusnnBin } from '../../src/weights/cusnn-bin.js';
import { f16ToF32Array } from '../../src/weights/fp16.js';
import { readSafetensors, writeSafetensors } from '../../src/weights/safetensors.js';
import type { WeightSet } from '../../src/weights/store.js';
import { syntheticWeights } from '../../src/weights/synthetic.js';
import { mulberry32 } from '../helpers/random.js';

const SEED = process.env.CUSNN_FUZZ_SEED ? Number(process.env.CUSNN_FUZZ_SEED) : 0x5eed2026;
const SCALE = process.env.CUSNN_FUZZ_SCALE ? Number(process.env.CUSNN_FUZZ_SCALE) : 1;
const n = (base: number): number => Math.max(1, Math.round(base * SCALE));
/** A case slower than this counts as a hang. */
const CASE_MS = 2000;

const repo = path.resolve(__dirname, '../..');
const artifact = path.resolve(repo, '../shared/cusnn-artifact');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'cusnn-fuzz-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** Seeded corruptions (the tests' mulberry32): same counts for the same seed. */
const rng = mulberry32;
type Rand = () => number;
const int = (r: Rand, lo: number, hi: number): number => lo + Math.floor(r() * (hi - lo + 1));
const pick = <T>(r: Rand, xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;

// ---------------------------------------------------------------- corruptions

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

/** Every path to a value inside a JSON document (objects and lists), root excluded. */
function paths(v: Json, at: (string | number)[] = [], out: (string | number)[][] = []): (string | number)[][] {
  if (Array.isArray(v)) v.forEach((x, i) => { out.push([...at, i]); paths(x, [...at, i], out); });
  else if (v !== null && typeof v === 'object') for (const [k, x] of Object.entries(v)) { out.push([...at, k]); paths(x, [...at, k], out); }
  return out;
}

/** Sentinels written into the JSON text after stringify (JSON has no NaN; 1e400 parses as Infinity). */
const RAW = { NaN: '"\u0000NaN\u0000"', HUGE: '"\u0000HUGE\u0000"', NEGHUGE: '"\u0000NEGHUGE\u0000"' } as const;
const unsentinel = (text: string): string => text.replaceAll(RAW.NaN, 'NaN').replaceAll(RAW.HUGE, '1e400').replaceAll(RAW.NEGHUGE, '-1e400');

const MUTATIONS = ['remove', 'null', 'NaN', 'huge', 'retype', 'negative', 'fraction', 'bigint', 'empty', 'duplicate'] as const;
type Mutation = (typeof MUTATIONS)[number];

/** One structural corruption of a JSON document, as text (some are not valid JSON on purpose). */
function mutateJson(r: Rand, doc: Json, focus?: (p: (string | number)[]) => boolean): { text: string; what: string } {
  const copy = structuredClone(doc);
  const all = paths(copy);
  const candidates = focus ? all.filter(focus) : all;
  const p = pick(r, candidates.length > 0 ? candidates : all);
  const parent = p.slice(0, -1).reduce<Json>((x, k) => (x as Record<string | number, Json>)[k]!, copy) as Record<string | number, Json>;
  const key = p[p.length - 1]!;
  const old = parent[key]!;
  const m: Mutation = pick(r, MUTATIONS);
  const set = (v: Json): void => { parent[key] = v; };
  switch (m) {
    case 'remove':
      if (Array.isArray(parent)) parent.splice(key as number, 1);
      else delete parent[key];
      break;
    case 'null': set(null); break;
    case 'NaN': set(RAW.NaN.slice(1, -1)); break;
    case 'huge': set(pick(r, [RAW.HUGE.slice(1, -1), RAW.NEGHUGE.slice(1, -1), 2 ** 60, 1e300, Number.MAX_SAFE_INTEGER + 2])); break;
    case 'retype':
      set(typeof old === 'number' ? String(old) : typeof old === 'string' ? (Number(old) || 7) : Array.isArray(old) ? { 0: old[0] ?? null } : old !== null && typeof old === 'object' ? [old] : typeof old === 'boolean' ? Number(old) : 'x');
      break;
    case 'negative': set(typeof old === 'number' ? -Math.abs(old) - 1 : -1); break;
    case 'fraction': set(typeof old === 'number' ? old + 0.5 : 0.5); break;
    case 'bigint': set(typeof old === 'number' ? old * 1e6 + 3 : 123456789); break;
    case 'empty': set(Array.isArray(old) ? [] : old !== null && typeof old === 'object' ? {} : ''); break;
    case 'duplicate':
      break; // handled on the text below
  }
  let text = unsentinel(JSON.stringify(copy));
  if (m === 'duplicate' && !Array.isArray(parent)) {
    // Repeat the first key of the document's top object with another value.
    const first = Object.keys(copy as Record<string, Json>)[0];
    if (first !== undefined) text = `{${JSON.stringify(first)}:${JSON.stringify(old)},${text.slice(1)}`;
  }
  return { text, what: `${m} ${p.join('.')}` };
}

/** One byte-level corruption: flip 1-4 bytes (anywhere or within `region`), truncate, or extend. */
function mutateBytes(r: Rand, bytes: Buffer, region?: readonly [number, number]): { bytes: Buffer; what: string } {
  const kind = pick(r, ['flip', 'flip', 'truncate', 'extend'] as const);
  if (kind === 'truncate') {
    const at = int(r, 0, bytes.length - 1);
    return { bytes: bytes.subarray(0, at), what: `truncate to ${at}` };
  }
  if (kind === 'extend') {
    const extra = Buffer.alloc(int(r, 1, 64));
    for (let i = 0; i < extra.length; i++) extra[i] = int(r, 0, 255);
    return { bytes: Buffer.concat([bytes, extra]), what: `extend by ${extra.length}` };
  }
  const out = Buffer.from(bytes);
  const [lo, hi] = region ?? [0, bytes.length];
  const k = int(r, 1, 4);
  const at: number[] = [];
  for (let i = 0; i < k; i++) {
    const j = int(r, lo, hi - 1);
    out[j] = out[j]! ^ (1 << int(r, 0, 7));
    at.push(j);
  }
  return { bytes: out, what: `flip bytes ${at.join(',')}` };
}

// ---------------------------------------------------------------- outcomes

interface Tally {
  cases: number;
  errors: number;
  results: number;
  failures: string[];
  maxMs: number;
}
const tallies = new Map<string, Tally>();

/** Runs one case: the reader either returns (then `verify` must pass) or throws a clean error naming `file`. */
function runCase<T>(reader: string, file: string, what: string, read: () => T, verify: (v: T) => string | null): void {
  let t = tallies.get(reader);
  if (!t) tallies.set(reader, (t = { cases: 0, errors: 0, results: 0, failures: [], maxMs: 0 }));
  t.cases++;
  const start = performance.now();
  let result: { ok: true; v: T } | { ok: false; e: unknown };
  try {
    result = { ok: true, v: read() };
  } catch (e) {
    result = { ok: false, e };
  }
  const ms = performance.now() - start;
  t.maxMs = Math.max(t.maxMs, ms);
  const fail = (why: string): void => { if (t.failures.length < 20) t.failures.push(`${what}: ${why}`); };
  if (ms > CASE_MS) fail(`took ${ms.toFixed(0)} ms (a hang)`);
  if (result.ok) {
    t.results++;
    const bad = verify(result.v);
    if (bad !== null) fail(`returned a wrong result: ${bad}`);
    return;
  }
  t.errors++;
  const e = result.e;
  if (!(e instanceof Error)) return fail(`threw a non-Error ${String(e)}`);
  if (e.constructor !== Error && e.name !== 'SchemaError') return fail(`crashed with ${e.name}: ${e.message}`);
  if (e.message.includes('\n')) return fail(`error of several lines: ${JSON.stringify(e.message)}`);
  if (!e.message.includes(path.basename(file))) fail(`error does not name the file: ${e.message}`);
}

/** The first number in `v` that is not finite, as a path, or null. */
function nonFinite(v: unknown, at = ''): string | null {
  if (typeof v === 'number') return Number.isFinite(v) ? null : `${at || '.'} is ${v}`;
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) {
      const x = nonFinite(v[i], `${at}[${i}]`);
      if (x) return x;
    }
  } else if (v !== null && typeof v === 'object') {
    for (const [k, x] of Object.entries(v)) {
      const y = nonFinite(x, `${at}.${k}`);
      if (y) return y;
    }
  }
  return null;
}

const writeCase = (name: string, data: Buffer | string): string => {
  const f = path.join(tmp, name);
  fs.writeFileSync(f, data);
  return f;
};

// ---------------------------------------------------------------- weights

/** The first layers of Keras ResNet-50 with their real parameter shapes (conv1 7x7x3->64, conv2_block1_1 1x1 64->64, with BNs). */
function resnet50Head(): Graph {
  const b = new GraphBuilder('resnet50', 'resnet', 'caffe');
  let x = b.input('input_1', [3, 32, 32]);
  x = b.conv('conv1_conv', x, 64, { kernel: 7, stride: 2, bias: true });
  x = b.relu('conv1_relu', b.batchnorm('conv1_bn', x, 1.001e-5));
  x = b.conv('conv2_block1_1_conv', x, 64, { kernel: 1, bias: true });
  b.relu('conv2_block1_1_relu', b.batchnorm('conv2_block1_1_bn', x, 1.001e-5));
  return b.build();
}

const head = resnet50Head();
const realDir = path.join(artifact, 'weights', 'resnet50');
const haveReal = paramSpecs(head).every((s) => fs.existsSync(path.join(realDir, binFileName(s.layer))));
/** The real weights of those layers when ../shared has them (else the synthetic ones, said so). */
function headWeights(): WeightSet {
  if (!haveReal) {
    console.warn(`fuzz: ${realDir} is absent; fuzzing the readers on synthetic weights of the same layers`);
    return syntheticWeights(head, 0);
  }
  const dir = path.join(tmp, 'real-head');
  fs.mkdirSync(dir, { recursive: true });
  for (const layer of new Set(paramSpecs(head).map((s) => s.layer))) fs.copyFileSync(path.join(realDir, binFileName(layer)), path.join(dir, binFileName(layer)));
  return readCusnnBin(dir, head);
}

/** Decodes a safetensors file independently of the reader: the tensors it declares, or null when it is not well formed. */
function decodeSafetensors(bytes: Buffer): { tensors: Map<string, Float32Array>; filled: string[] } | null {
  const len = Number(bytes.readBigUInt64LE(0));
  const header = JSON.parse(bytes.subarray(8, 8 + len).toString('utf8')) as Record<string, { dtype: string; data_offsets: [number, number] }>;
  const data = bytes.subarray(8 + len);
  const tensors = new Map<string, Float32Array>();
  for (const s of paramSpecs(head)) {
    const key = tensorKey(s.layer, s.role);
    const e = header[key];
    if (!e) continue;
    const raw = data.subarray(e.data_offsets[0], e.data_offsets[1]);
    const copy = new Uint8Array(raw);
    const t = e.dtype === 'F32' ? new Float32Array(copy.buffer) : f16ToF32Array(new Uint16Array(copy.buffer), new Float32Array(size(s.shape)));
    tensors.set(key, t);
  }
  const meta = (header as { __metadata__?: { filled?: string } }).__metadata__;
  return { tensors, filled: meta?.filled ? (JSON.parse(meta.filled) as string[]) : [] };
}

const sameBits = (a: Float32Array, b: Float32Array): boolean =>
  a.length === b.length && Buffer.compare(Buffer.from(a.buffer, a.byteOffset, a.byteLength), Buffer.from(b.buffer, b.byteOffset, b.byteLength)) === 0;

function verifyWeights(ws: WeightSet, expected: ReadonlyMap<string, Float32Array>, filled: readonly string[]): string | null {
  for (const s of paramSpecs(head)) {
    const key = tensorKey(s.layer, s.role);
    const t = ws.tensors.get(key);
    if (!t) return `no tensor ${key}`;
    for (let i = 0; i < t.length; i++) if (!Number.isFinite(t[i]!)) return `${key}[${i}] is ${t[i]}`;
    if (s.role === 'moving_variance' && t.some((x) => x < 0)) return `${key} has a negative variance`;
    if (!filled.includes(key) && !sameBits(t, expected.get(key)!)) return `${key} differs from the file`;
  }
  if (ws.filled.length !== filled.length || ws.filled.some((k) => !filled.includes(k))) return `filled ${JSON.stringify(ws.filled)}, the file labels ${JSON.stringify(filled)} (a silent fill)`;
  return null;
}

describe(`fuzz: weight readers (seed ${SEED}, ${haveReal ? 'real resnet50 weights' : 'synthetic weights'})`, () => {
  const ws = headWeights();

  it('safetensors: header JSON corrupted, bytes flipped, truncated, extended', () => {
    const r = rng(SEED ^ 0x51);
    const variants = (['fp32', 'fp16'] as const).map((storage) => {
      const f = path.join(tmp, `head-${storage}.safetensors`);
      writeSafetensors(f, head, storage === 'fp16' ? { ...ws, filled: [tensorKey('conv1_bn', 'beta')] } : ws, storage);
      const bytes = fs.readFileSync(f);
      const len = Number(bytes.readBigUInt64LE(0));
      return { bytes, len, header: JSON.parse(bytes.subarray(8, 8 + len).toString('utf8')) as Json };
    });
    for (let i = 0; i < n(1500); i++) {
      const v = pick(r, variants);
      let bytes: Buffer;
      let what: string;
      if (r() < 0.5) {
        const m = mutateJson(r, v.header);
        const json = Buffer.from(m.text, 'utf8');
        const len = Buffer.alloc(8);
        len.writeBigUInt64LE(BigInt(json.length));
        bytes = Buffer.concat([len, json, v.bytes.subarray(8 + v.len)]);
        what = `header ${m.what}`;
      } else {
        // Half the flips land in the 8-byte length or the header, where they break structure.
        const m = mutateBytes(r, v.bytes, r() < 0.5 ? [0, 8 + v.len] : undefined);
        bytes = m.bytes;
        what = m.what;
      }
      const file = writeCase(`st-${i}.safetensors`, bytes);
      runCase('safetensors', file, `case ${i} (${what})`, () => readSafetensors(file, head).weights, (got) => {
        const d = decodeSafetensors(bytes);
        return d ? verifyWeights(got, d.tensors, d.filled) : 'accepted a file that is not well formed';
      });
      fs.rmSync(file);
    }
    report('safetensors');
  });

  it('safetensors with --fill-missing: removed tensors are filled and labelled, never silently', () => {
    const r = rng(SEED ^ 0x52);
    const f = path.join(tmp, 'head.safetensors');
    writeSafetensors(f, head, ws, 'fp32');
    const bytes = fs.readFileSync(f);
    const len = Number(bytes.readBigUInt64LE(0));
    const header = JSON.parse(bytes.subarray(8, 8 + len).toString('utf8')) as Record<string, Json>;
    const keys = paramSpecs(head).map((s) => tensorKey(s.layer, s.role));
    for (let i = 0; i < n(300); i++) {
      // Drop the last k tensors (their data too, so the rest stays contiguous) and maybe corrupt more.
      const k = int(r, 1, keys.length);
      const kept = keys.slice(0, keys.length - k);
      const h: Record<string, Json> = { __metadata__: header.__metadata__! };
      for (const key of kept) h[key] = header[key]!;
      const end = kept.length === 0 ? 0 : ((header[kept[kept.length - 1]!] as { data_offsets: number[] }).data_offsets[1]!);
      const json = Buffer.from(JSON.stringify(h), 'utf8');
      const lb = Buffer.alloc(8);
      lb.writeBigUInt64LE(BigInt(json.length));
      let out: Buffer = Buffer.concat([lb, json, bytes.subarray(8 + len, 8 + len + end)]);
      let what = `drop ${k} tensor(s)`;
      if (r() < 0.3) {
        const m = mutateBytes(r, out);
        out = m.bytes;
        what += `, ${m.what}`;
      }
      const file = writeCase(`fill-${i}.safetensors`, out);
      const dropped = keys.slice(keys.length - k);
      runCase('safetensors --fill-missing', file, `case ${i} (${what})`, () => readSafetensors(file, head, { fillMissing: true }).weights, (got) => {
        if (kept.length === 0) return 'filled a file holding no tensor of the model';
        const d = decodeSafetensors(out);
        return d ? verifyWeights(got, d.tensors, dropped) : 'not decodable';
      });
      fs.rmSync(file);
    }
    report('safetensors --fill-missing');
  });

  it('.bin folders: files flipped, truncated, extended, removed; filled labels survive export and import', () => {
    const r = rng(SEED ^ 0x53);
    const base = path.join(tmp, 'bin-base');
    writeCusnnBin(base, head, ws);
    const layers = [...new Set(paramSpecs(head).map((s) => s.layer))];
    for (let i = 0; i < n(1200); i++) {
      const dir = path.join(tmp, `bin-${i}`);
      fs.cpSync(base, dir, { recursive: true });
      const layer = pick(r, layers);
      const file = path.join(dir, binFileName(layer));
      const fill = r() < 0.25;
      let what: string;
      if (fill && r() < 0.5) {
        fs.rmSync(file);
        what = `remove ${binFileName(layer)}, --fill-missing`;
      } else {
        const m = mutateBytes(r, fs.readFileSync(file));
        fs.writeFileSync(file, m.bytes);
        what = `${binFileName(layer)}: ${m.what}${fill ? ', --fill-missing' : ''}`;
      }
      runCase('.bin', file, `case ${i} (${what})`, () => readCusnnBin(dir, head, { fillMissing: fill }), (got) => {
        // Expected: each present file's floats as they are now; a removed layer's tensors filled.
        const expected = new Map<string, Float32Array>();
        const filled: string[] = [];
        for (const l of layers) {
          const f = path.join(dir, binFileName(l));
          const specs = paramSpecs(head).filter((s) => s.layer === l);
          if (!fs.existsSync(f)) {
            filled.push(...specs.map((s) => tensorKey(s.layer, s.role)));
            continue;
          }
          const all = new Float32Array(new Uint8Array(fs.readFileSync(f)).buffer);
          let at = 0;
          for (const s of specs) {
            expected.set(tensorKey(s.layer, s.role), all.subarray(at, at + size(s.shape)));
            at += size(s.shape);
          }
        }
        const bad = verifyWeights(got, expected, filled);
        if (bad || filled.length === 0) return bad;
        // Export and re-import: the filled tensors stay labelled filled.
        const out = path.join(dir, 'export');
        writeCusnnBin(out, head, got);
        const back = readCusnnBin(out, head);
        return back.filled.join() === got.filled.join() ? null : `export/import lost the filled labels: ${JSON.stringify(back.filled)}`;
      });
      fs.rmSync(dir, { recursive: true, force: true });
    }
    report('.bin');
  });
});

// ---------------------------------------------------------------- JSON documents

function fuzzJson<T>(reader: string, doc: Json, cases: number, salt: number, place: (text: string, i: number) => string, read: (file: string) => T,
  verify: (got: T, parsed: unknown) => string | null, focus?: (p: (string | number)[]) => boolean): void {
  const r = rng(SEED ^ salt);
  const original = JSON.stringify(doc, null, 2);
  for (let i = 0; i < cases; i++) {
    let text: string;
    let what: string;
    if (r() < 0.8) {
      const m = mutateJson(r, doc, r() < 0.5 ? focus : undefined);
      text = m.text;
      what = m.what;
    } else {
      const m = mutateBytes(r, Buffer.from(original, 'utf8'));
      text = m.bytes.toString('latin1');
      what = m.what;
    }
    const file = place(text, i);
    runCase(reader, file, `case ${i} (${what})`, () => read(file), (got) => {
      let parsed: unknown;
      try {
        parsed = JSON.parse(text);
      } catch {
        return 'accepted a file that is not JSON';
      }
      return nonFinite(got) ?? verify(got, parsed);
    });
  }
  report(reader);
}

const planDoc = JSON.parse(fs.readFileSync(path.join(repo, 'generated/resnet152-sm_70/plan.json'), 'utf8')) as Json;

/** A calibration of resnet152 shaped as `calibrate` writes it: the committed plan's convs, both tile families measured. */
function calibrationDoc(): Json {
  const convs = (planDoc as { convs: { layer: string; inputSparsity: number }[] }).convs;
  const layers: Record<string, Json> = {};
  convs.forEach((c, i) => {
    const measured = i % 7 === 3 ? { kernel: `act_${i}`, tiles: { th: 2, tw: 7, tc: 8, kb: 32, cs: 4 }, cudnnUs: 20.5 + i, cudnnAlgo: 'IMPLICIT_PRECOMP_GEMM', actSparseUs: 18.25 + i }
      : i % 7 === 5 ? { kernel: `igemm_${i}`, tiles: { family: 'igemm', bm: 64, bn: 32, bkc: 8, tm: 4, tn: 4, warpM: 8, split: 4, stages: 3 }, cudnnUs: 11 + i, cudnnAlgo: 'GEMM', actSparseUs: 9.5 + i }
        : undefined;
    layers[c.layer] = (measured ? { inputSparsity: c.inputSparsity, measured } : { inputSparsity: c.inputSparsity }) as Json;
  });
  return { format: 'cusnn-calibration/1', model: 'resnet152', images: 16, weights: 'synthetic (seed 0)', layers, gpu: 'NVIDIA H100 80GB HBM3', arch: 'sm_90' };
}

describe(`fuzz: JSON readers (seed ${SEED})`, () => {
  it('plan.json (generated/resnet152-sm_70): readPlanFile', () => {
    fuzzJson('plan.json', planDoc, n(1200), 0x61, (text, i) => {
      const dir = path.join(tmp, `plan-${i % 4}`);
      fs.mkdirSync(dir, { recursive: true });
      return writeCase(path.join(`plan-${i % 4}`, 'plan.json'), text);
    }, (file) => readPlanFile(path.dirname(file)), (got, parsed) => (JSON.stringify(got) === JSON.stringify(parsed) ? null : 'differs from the file'),
    (p) => p[0] === 'convs');
  });

  it('calibration.json (resnet152, both tile families): readCalibration', () => {
    const convs = (planDoc as { convs: { layer: string }[] }).convs.map((c) => c.layer);
    fuzzJson('calibration.json', calibrationDoc(), n(1200), 0x62, (text, i) => writeCase(`calibration-${i % 4}.json`, text), (file) => readCalibration(file, 'resnet152', convs),
      (got, parsed) => {
        for (const [k, v] of Object.entries(got.layers)) {
          if (!convs.includes(k)) return `kept layer '${k}', not a conv`;
          if (!(v.inputSparsity >= 0 && v.inputSparsity <= 1)) return `layer ${k} inputSparsity ${v.inputSparsity}`;
        }
        return JSON.stringify(got) === JSON.stringify(parsed) ? null : 'differs from the file';
      }, (p) => p[0] === 'layers');
  });

  it('results.json (docs/results/example-bench): readResults', () => {
    const doc = JSON.parse(fs.readFileSync(path.join(repo, 'docs/results/example-bench/results.json'), 'utf8')) as Json;
    fuzzJson('results.json', doc, n(800), 0x63, (text, i) => writeCase(`results-${i % 4}.json`, text), (file) => readResults(file), () => null, (p) => p[0] === 'runs');
  });
});

// ---------------------------------------------------------------- images

const imageFile = path.join(artifact, 'sample_images', '0.bin');
describe.skipIf(!fs.existsSync(imageFile))(`fuzz: image reader (seed ${SEED}, ${imageFile})`, () => {
  it('images: flipped, truncated, extended; NaN/Inf pixels rejected', () => {
    const r = rng(SEED ^ 0x71);
    const bytes = fs.readFileSync(imageFile);
    expect(bytes.length).toBe(IMAGE_BYTES);
    for (let i = 0; i < n(400); i++) {
      // One case in four sets a whole float's exponent bits (a flip rarely makes one NaN or Inf).
      const special = r() < 0.25;
      const m = special ? (() => {
        const out = Buffer.from(bytes);
        const at = int(r, 0, IMAGE_BYTES / 4 - 1);
        out.writeFloatLE(pick(r, [Number.NaN, Infinity, -Infinity]), 4 * at);
        return { bytes: out, what: `pixel value ${at} set non-finite` };
      })() : mutateBytes(r, bytes);
      const file = writeCase(`image-${i % 4}.bin`, m.bytes);
      runCase('images', file, `case ${i} (${m.what})`, () => readImage(file), (got) => {
        if (special) return 'accepted a non-finite pixel';
        if (!sameBits(got, new Float32Array(new Uint8Array(m.bytes).buffer))) return 'differs from the file';
        return got.some((x) => !Number.isFinite(x)) ? 'returned a non-finite pixel' : null;
      });
    }
    report('images');
  });
});

function report(reader: string): void {
  const t = tallies.get(reader)!;
  console.log(`fuzz ${reader}: ${t.cases} cases, ${t.errors} clean errors, ${t.results} correct results, ${t.failures.length} failures, slowest ${t.maxMs.toFixed(1)} ms`);
  expect(t.failures, `${reader} (seed ${SEED}):\n${t.failures.join('\n')}`).toEqual([]);
}
