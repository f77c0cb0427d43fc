// `cusnn-gen weights import|export|synth|info`: move weights between the cuSNN .bin folder layout
// and cusnn's safetensors file, generate synthetic weights, and describe a weight source.
// Output files are checked before any work (a .safetensors name in an existing folder).
import * as fs from 'node:fs';
import { basename, dirname, resolve } from 'node:path';
import { Command, Option } from 'commander';
import type { Graph } from '../model/ir.js';
import { buildModel, MODEL_NAMES } from '../model/zoo/index.js';
import { intOption, MAX_SEED, UsageError } from '../output/exit.js';
import { readCusnnBin, writeCusnnBin } from '../weights/cusnn-bin.js';
import { loadWeights, saveWeights } from '../weights/load.js';
import { readSafetensors, type Storage } from '../weights/safetensors.js';
import type { WeightSet } from '../weights/store.js';
import { formatBytes, formatCount, formatPercent, formatTable, summarizeWeights } from '../weights/summary.js';
import { syntheticWeights } from '../weights/synthetic.js';
import { printJson } from './table.js';

/** Where command output goes (stdout by default; tests capture it). */
export type Print = (line: string) => void;
const stdout: Print = (line) => void process.stdout.write(`${line}\n`);

export const modelOption = (): Option => new Option('--model <name>', 'zoo model').choices(MODEL_NAMES).makeOptionMandatory();
export const seedOption = (what = 'seed of synthetic (and filled) weights'): Option =>
  new Option('--seed <n>', what).argParser(parseSeed).default(0);

export const parseSeed: (v: string) => number = intOption('--seed', 0, MAX_SEED);

/**
 * Checks a weights output file before any work: a `.safetensors` name, not a folder, in a folder
 * that exists. `flag` names the option in the message.
 */
export function checkWeightsOut(file: string, flag = '--out'): void {
  if (file.trim() === '') throw new UsageError(`${flag} must name a .safetensors file, got an empty string`);
  if (!file.endsWith('.safetensors')) throw new UsageError(`${flag} '${file}' must end in .safetensors`);
  if (fs.existsSync(file) && fs.statSync(file).isDirectory()) throw new Error(`${flag} '${file}' is a folder, not a file`);
  const parent = dirname(resolve(file));
  if (!fs.existsSync(parent)) throw new Error(`${flag} '${file}': the folder ${parent} does not exist`);
  if (!fs.statSync(parent).isDirectory()) throw new Error(`${flag} '${file}': ${parent} is a file, not a folder`);
}

/** The model a cusnn .safetensors file names in its `__metadata__` (null when it names none). */
export function safetensorsModel(file: string): string | null {
  const fd = fs.openSync(file, 'r');
  try {
    const size = fs.fstatSync(fd).size;
    const len = Buffer.alloc(8);
    if (size < 8 || fs.readSync(fd, len, 0, 8, 0) !== 8) throw new Error(`${file}: truncated or not a safetensors file (${size} bytes)`);
    const n = Number(len.readBigUInt64LE(0));
    if (n > size - 8 || n > 100 * 2 ** 20) throw new Error(`${file}: truncated or not a safetensors file (header length ${n}, file size ${size})`);
    const head = Buffer.alloc(n);
    if (fs.readSync(fd, head, 0, n, 8) !== n) throw new Error(`${file}: truncated header`);
    let h: unknown;
    try {
      h = JSON.parse(head.toString('utf8'));
    } catch (e) {
      throw new Error(`${file}: not a safetensors file (${(e as Error).message})`);
    }
    const meta = typeof h === 'object' && h !== null ? (h as { __metadata__?: unknown }).__metadata__ : undefined;
    const model = typeof meta === 'object' && meta !== null ? (meta as { model?: unknown }).model : undefined;
    return typeof model === 'string' ? model : null;
  } finally {
    fs.closeSync(fd);
  }
}

/** `weights info` without --model: the file's metadata, or a .bin folder named after a zoo model. */
export function modelOf(path: string): string {
  if (fs.existsSync(path) && fs.statSync(path).isFile() && path.endsWith('.safetensors')) {
    const m = safetensorsModel(path);
    if (m === null) throw new UsageError(`${path} names no model in its metadata: pass --model <name>`);
    if (!(MODEL_NAMES as readonly string[]).includes(m)) throw new Error(`${path}: its metadata names model '${m}', not one of ${MODEL_NAMES.join(', ')}`);
    return m;
  }
  const name = basename(resolve(path));
  if ((MODEL_NAMES as readonly string[]).includes(name)) return name;
  throw new UsageError(`--model is required for '${path}' (a .bin folder names no model unless the folder is named after it; a .safetensors file names its own)`);
}

const storageOf = (fp16: boolean | undefined): Storage => (fp16 ? 'fp16' : 'fp32');

/** Reports the synthetic fill of `ws`, if any, on one line. */
export function filledLine(graph: Graph, ws: WeightSet): string | null {
  const layers = summarizeWeights(graph, ws).filledLayers;
  return layers.length > 0 ? `filled synthetically (${layers.length} layer(s)): ${layers.join(', ')}` : null;
}

function savedLine(file: string, storage: Storage): string {
  return `wrote ${file} (${storage}, ${formatBytes(fs.statSync(file).size)})`;
}

interface ImportOptions { model: string; from: string; out: string; fp16?: boolean; fillMissing?: boolean; onlyPresent?: boolean; seed: number }
interface ExportOptions { model: string; weights?: string; to: string; fillMissing?: boolean; seed: number }
interface SynthOptions { model: string; out: string; seed: number; fp16?: boolean }
interface InfoOptions { model?: string; fillMissing?: boolean; seed: number; layers?: boolean; json?: boolean }

export function weightsCommand(print: Print = stdout): Command {
  const cmd = new Command('weights').description('import, export, generate and inspect network weights');

  cmd
    .command('import')
    .description('convert a cuSNN .bin weight folder into a cusnn .safetensors file')
    .addOption(modelOption())
    .requiredOption('--from <dir>', 'folder of <layer>.bin files (the cuSNN artifact layout)')
    .requiredOption('--out <file>', 'output .safetensors file')
    .option('--fp16', 'store conv and dense kernels as fp16 (vectors stay fp32)')
    .option('--fill-missing', 'generate layers whose .bin file is absent (listed in the output and the file)')
    .option('--only-present', 'store only the layers the folder holds (a smaller file); readers fill the rest with --fill-missing')
    .addOption(seedOption('seed of filled layers'))
    .action((o: ImportOptions) => {
      if (o.onlyPresent && o.fillMissing) throw new UsageError('--only-present and --fill-missing exclude each other: the first leaves missing layers out of the file, the second stores synthetic ones');
      checkWeightsOut(o.out);
      const graph = buildModel(o.model);
      if (!fs.existsSync(o.from) || !fs.statSync(o.from).isDirectory()) {
        throw new Error(`--from '${o.from}' is not a folder (expected the cuSNN layout: one <layer>.bin file per layer)`);
      }
      // --only-present reads as --fill-missing does (so the whole set is validated), then stores
      // only what the folder held.
      const ws = readCusnnBin(o.from, graph, { fillMissing: (o.fillMissing || o.onlyPresent) ?? false, seed: o.seed });
      const storage = storageOf(o.fp16);
      saveWeights(o.out, graph, ws, storage, { omitFilled: o.onlyPresent ?? false });
      print(`${graph.name}: imported ${ws.tensors.size - (o.onlyPresent ? ws.filled.length : 0)} tensors from ${o.from}`);
      const f = filledLine(graph, ws);
      if (f) print(o.onlyPresent ? `not stored (load with --fill-missing): ${f.replace(/^filled synthetically /, '')}` : f);
      print(savedLine(o.out, storage));
    });

  cmd
    .command('export')
    .description('write weights in the cuSNN .bin folder layout (one raw float32 file per layer)')
    .addOption(modelOption())
    .option('--weights <path>', 'source: a .safetensors file or a .bin folder (default: synthetic)')
    .requiredOption('--to <dir>', 'output folder (created if needed)')
    .option('--fill-missing', 'generate layers missing from a --weights folder')
    .addOption(seedOption())
    .action((o: ExportOptions) => {
      const graph = buildModel(o.model);
      const ws = loadWeights(graph, { path: o.weights, seed: o.seed, fillMissing: o.fillMissing ?? false });
      writeCusnnBin(o.to, graph, ws);
      const layers = new Set(graph.layers.filter((l) => l.op === 'conv' || l.op === 'dense' || l.op === 'batchnorm').map((l) => l.name));
      print(`${graph.name}: wrote ${layers.size} .bin files to ${o.to} (weights: ${ws.source})`);
      const f = filledLine(graph, ws);
      if (f) print(f);
    });

  cmd
    .command('synth')
    .description('generate deterministic synthetic weights (the default when no weights are given)')
    .addOption(modelOption())
    .requiredOption('--out <file>', 'output .safetensors file')
    .addOption(seedOption('seed (the same seed gives the same bytes on every machine)'))
    .option('--fp16', 'store conv and dense kernels as fp16')
    .action((o: SynthOptions) => {
      checkWeightsOut(o.out);
      const graph = buildModel(o.model);
      const ws = syntheticWeights(graph, o.seed);
      const storage = storageOf(o.fp16);
      saveWeights(o.out, graph, ws, storage);
      print(`${graph.name}: ${ws.source}, ${formatCount(summarizeWeights(graph, ws).params)} params`);
      print(savedLine(o.out, storage));
    });

  cmd
    .command('info')
    .description('describe a weight file or folder: tensors, parameters, kernel sparsity, filled layers')
    .argument('<path>', 'a .safetensors file or a cuSNN .bin folder')
    .addOption(new Option('--model <name>', 'zoo model (default: the one the .safetensors metadata names, or the .bin folder\'s name)').choices(MODEL_NAMES))
    .option('--fill-missing', 'fill layers missing from a .bin folder or a partial .safetensors file instead of failing')
    .addOption(seedOption('seed of filled layers'))
    .option('--layers', 'print every conv and dense kernel')
    .option('--json', 'print the description (every kernel included) as JSON')
    .action((path: string, o: InfoOptions) => {
      const graph = buildModel(o.model ?? modelOf(path));
      let ws: WeightSet;
      let format: string;
      let storage: Storage = 'fp32';
      if (path.endsWith('.safetensors') && fs.existsSync(path) && fs.statSync(path).isFile()) {
        const r = readSafetensors(path, graph, { fillMissing: o.fillMissing ?? false, seed: o.seed });
        ws = r.weights;
        storage = r.storage;
        format = `cusnn safetensors (${r.metadata.format ?? 'no format tag'}), storage ${r.storage}`;
      } else {
        ws = loadWeights(graph, { path, seed: o.seed, fillMissing: o.fillMissing ?? false });
        format = 'cuSNN .bin folder (float32)';
      }
      const s = summarizeWeights(graph, ws);
      const sparsity = s.kernelParams ? s.kernelZeros / s.kernelParams : 0;
      if (o.json) {
        printJson(print, { ...s, format, storage, kernelSparsity: sparsity });
        return;
      }
      print(`model:    ${s.model}`);
      print(`source:   ${s.source}`);
      print(`format:   ${format}`);
      print(`tensors:  ${s.tensors}`);
      print(`params:   ${formatCount(s.params)}`);
      print(`kernels:  ${s.kernels.length} (${formatCount(s.kernelParams)} params), sparsity ${formatPercent(sparsity)}`);
      print(`filled:   ${s.filledLayers.length > 0 ? s.filledLayers.join(', ') : 'none'}`);
      if (o.layers) {
        const rows = s.kernels.map((k) => [k.layer, k.op, k.shape.join('x'), formatCount(k.params), formatPercent(k.zeros / k.params)]);
        for (const line of formatTable(['layer', 'op', 'shape', 'params', 'sparsity'], rows)) print(line);
      }
    });

  return cmd;
}
