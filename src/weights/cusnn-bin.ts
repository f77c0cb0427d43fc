// The original cuSNN artifact's weight layout: a folder with one raw little-endian float32 file per
// parameterised layer, `<keras layer name, '/' -> '_'>.bin`, holding the layer's tensors in Keras
// order back to back (conv: kernel K×C×R×S then bias; BN: gamma, beta, moving_mean,
// moving_variance; dense: kernel units×C then bias). There is no header: the size is the check.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { size, tensorKey, type Graph, type TensorSpec } from '../model/ir.js';
import { readFully, writeFully } from './io.js';
import { checkSchema, parseJson } from '../schema/check.js';
import { FILLED_FORMAT, FILLED_MANIFEST, FilledManifestSchema } from '../schema/weights.js';
import { assertFilledFinite, assertFinite, assertLittleEndian, assertVariance, inParamOrder, specsByLayer, type WeightSet } from './store.js';
import { fillMissingTensors } from './synthetic.js';

/** File name of a layer in the .bin layout (DenseNet's `conv1/conv` -> `conv1_conv.bin`). */
export const binFileName = (layer: string): string => `${layer.replace(/\//g, '_')}.bin`;

export interface ReadBinOptions {
  /** Generate the tensors of layers whose file is absent (wrong-size files stay errors). */
  readonly fillMissing?: boolean;
  /** Seed of the generated tensors (default 0). */
  readonly seed?: number;
}

const floatsOf = (specs: readonly TensorSpec[]): number => specs.reduce((n, s) => n + size(s.shape), 0);
const describeSize = (floats: number): string => `${floats} floats = ${floats * 4} bytes`;
const layout = (specs: readonly TensorSpec[]): string =>
  specs.map((s) => `${s.role} ${s.shape.join('x')}`).join(' + ');

/** Reads every layer's file of `graph` from `dir`; see `ReadBinOptions` for missing files. */
export function readCusnnBin(dir: string, graph: Graph, o: ReadBinOptions = {}): WeightSet {
  assertLittleEndian();
  const given = new Map<string, Float32Array>();
  const byFile = new Map<string, string>();
  for (const layer of specsByLayer(graph).keys()) {
    const f = binFileName(layer);
    const other = byFile.get(f);
    if (other !== undefined) throw new Error(`${graph.name} weights: layers '${other}' and '${layer}' would both be stored as ${path.join(dir, f)}`);
    byFile.set(f, layer);
  }
  const labelled = readFilledManifest(dir, graph);
  const missing: { layer: string; file: string; floats: number; specs: TensorSpec[] }[] = [];
  for (const [layer, specs] of specsByLayer(graph)) {
    const file = path.join(dir, binFileName(layer));
    const floats = floatsOf(specs);
    let st: fs.Stats;
    try {
      st = fs.statSync(file);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw new Error(`cannot read weights of layer '${layer}': ${file}: ${(e as Error).message}`);
      missing.push({ layer, file, floats, specs });
      continue;
    }
    if (!st.isFile() || st.size !== floats * 4) {
      const actual = st.isFile() ? `${st.size} bytes${st.size % 4 === 0 ? ` (${st.size / 4} floats)` : ''}` : 'not a regular file';
      throw new Error(
        `${graph.name} weights: layer '${layer}': ${file} has the wrong size: expected ${describeSize(floats)} (${layout(specs)}), found ${actual}`,
      );
    }
    // One read straight into a fresh float32 buffer; tensors are views into it.
    const all = new Float32Array(floats);
    readFully(file, new Uint8Array(all.buffer));
    let at = 0;
    for (const s of specs) {
      const n = size(s.shape);
      const where = `${graph.name} weights: layer '${layer}': ${file}`;
      assertFinite(where, tensorKey(s.layer, s.role), s.shape, all.subarray(at, at + n));
      if (s.role === 'moving_variance') assertVariance(where, tensorKey(s.layer, s.role), s.shape, all.subarray(at, at + n));
      given.set(tensorKey(s.layer, s.role), all.subarray(at, at + n));
      at += n;
    }
  }
  if (missing.length > 0 && !o.fillMissing) {
    const [first, ...rest] = missing;
    const more = rest.length > 0 ? `; ${rest.length} more layer(s) missing: ${rest.map((m) => m.layer).join(', ')}` : '';
    throw new Error(
      `${graph.name} weights: layer '${first!.layer}' is missing: no file ${first!.file} (expected ${describeSize(first!.floats)}: ${layout(first!.specs)})${more} (--fill-missing generates missing layers synthetically)`,
    );
  }
  if (missing.length > 0 && given.size === 0) {
    throw new Error(
      `${graph.name} weights: ${dir} holds none of the model's ${missing.length} layer files (e.g. ${binFileName(missing[0]!.layer)}); --fill-missing fills a partial folder, not an empty or foreign one`,
    );
  }
  const { tensors, filled: now } = missing.length > 0 ? fillMissingTensors(graph, given, o.seed ?? 0) : { tensors: given, filled: [] };
  assertFilledFinite(`${graph.name} weights: ${dir}`, graph, tensors, now);
  for (const k of labelled) if (!tensors.has(k)) throw new Error(`${path.join(dir, FILLED_MANIFEST)}: names '${k}', which is not a tensor of ${graph.name}`);
  const all = new Set([...labelled, ...now]);
  const ordered = inParamOrder(graph, tensors);
  const filled = [...ordered.keys()].filter((k) => all.has(k));
  const notes = [
    ...(now.length > 0 ? [`${missing.length} missing layer(s) filled synthetically, seed ${o.seed ?? 0}`] : []),
    ...(labelled.length > 0 ? [`${labelled.length} tensor(s) labelled filled by ${FILLED_MANIFEST}`] : []),
  ];
  const source = notes.length > 0 ? `${dir} (${notes.join('; ')})` : dir;
  return { model: graph.name, source, tensors: ordered, filled };
}

/** Tensor keys a folder's `cusnn-filled.json` labels as synthetic (none without the file). */
function readFilledManifest(dir: string, graph: Graph): string[] {
  const file = path.join(dir, FILLED_MANIFEST);
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw new Error(`${file}: cannot read (${(e as Error).message})`);
  }
  const m = checkSchema(FilledManifestSchema, parseJson(text, file), file);
  if (m.model !== graph.name) throw new Error(`${file}: labels weights of model '${m.model}', not '${graph.name}'`);
  return m.filled;
}

/**
 * Writes `ws` as one .bin file per layer into `dir` (created if needed), with a `cusnn-filled.json`
 * naming the tensors that were filled synthetically (removed when none were), so that reading the
 * folder back keeps them labelled filled.
 */
export function writeCusnnBin(dir: string, graph: Graph, ws: WeightSet): void {
  assertLittleEndian();
  fs.mkdirSync(dir, { recursive: true });
  for (const [layer, specs] of specsByLayer(graph)) {
    const file = path.join(dir, binFileName(layer));
    const fd = fs.openSync(file, 'w');
    try {
      for (const s of specs) {
        const t = ws.tensors.get(tensorKey(s.layer, s.role));
        if (!t || t.length !== size(s.shape)) {
          throw new Error(`${graph.name} weights (${ws.source}): layer '${layer}' ${s.role} ${t ? `has ${t.length} values` : 'is absent'}, expected shape [${s.shape.join('x')}]`);
        }
        writeFully(fd, new Uint8Array(t.buffer, t.byteOffset, t.byteLength));
      }
    } finally {
      fs.closeSync(fd);
    }
  }
  const manifest = path.join(dir, FILLED_MANIFEST);
  if (ws.filled.length === 0) fs.rmSync(manifest, { force: true });
  else fs.writeFileSync(manifest, `${JSON.stringify({ format: FILLED_FORMAT, model: graph.name, filled: ws.filled }, null, 2)}\n`);
}
