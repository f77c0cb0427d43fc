// `cusnn-gen weights import|export|synth|info`: move weights between the cuSNN .bin folder layout
// and cusnn's safetensors file, generate synthetic weights, and describe a weight source.
import * as fs from 'node:fs';
import { Command, Option } from 'commander';
import type { Graph } from '../model/ir.js';
import { buildModel, MODEL_NAMES } from '../model/zoo/index.js';
import { readCusnnBin, writeCusnnBin } from '../weights/cusnn-bin.js';
import { loadWeights, saveWeights } from '../weights/load.js';
import { readSafetensors, type Storage } from '../weights/safetensors.js';
import type { WeightSet } from '../weights/store.js';
import { formatBytes, formatCount, formatPercent, formatTable, summarizeWeights } from '../weights/summary.js';
import { syntheticWeights } from '../weights/synthetic.js';

/** Where command output goes (stdout by default; tests capture it). */
export type Print = (line: string) => void;
const stdout: Print = (line) => void process.stdout.write(`${line}\n`);

export const modelOption = (): Option => new Option('--model <name>', 'zoo model').choices(MODEL_NAMES).makeOptionMandatory();
export const seedOption = (what = 'seed of synthetic (and filled) weights'): Option =>
  new Option('--seed <n>', what).argParser(parseSeed).default(0);

export function parseSeed(v: string): number {
  const n = Number(v);
  if (v.trim() === '' || !Number.isInteger(n) || n < 0 || n > 0xffffffff) throw new Error(`--seed must be an integer in [0, 4294967295], got '${v}'`);
  return n;
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

interface ImportOptions { model: string; from: string; out: string; fp16?: boolean; fillMissing?: boolean; seed: number }
interface ExportOptions { model: string; weights?: string; to: string; fillMissing?: boolean; seed: number }
interface SynthOptions { model: string; out: string; seed: number; fp16?: boolean }
interface InfoOptions { model: string; fillMissing?: boolean; seed: number; layers?: boolean }

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
    .addOption(seedOption('seed of filled layers'))
    .action((o: ImportOptions) => {
      const graph = buildModel(o.model);
      if (!fs.existsSync(o.from) || !fs.statSync(o.from).isDirectory()) {
        throw new Error(`--from '${o.from}' is not a folder (expected the cuSNN layout: one <layer>.bin file per layer)`);
      }
      const ws = readCusnnBin(o.from, graph, { fillMissing: o.fillMissing ?? false, seed: o.seed });
      const storage = storageOf(o.fp16);
      saveWeights(o.out, graph, ws, storage);
      print(`${graph.name}: imported ${ws.tensors.size} tensors from ${o.from}`);
      const f = filledLine(graph, ws);
      if (f) print(f);
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
    .addOption(modelOption())
    .option('--fill-missing', 'fill layers missing from a .bin folder instead of failing')
    .addOption(seedOption('seed of filled layers'))
    .option('--layers', 'print every conv and dense kernel')
    .action((path: string, o: InfoOptions) => {
      const graph = buildModel(o.model);
      let ws: WeightSet;
      let format: string;
      if (path.endsWith('.safetensors') && fs.existsSync(path) && fs.statSync(path).isFile()) {
        const r = readSafetensors(path, graph);
        ws = r.weights;
        format = `cusnn safetensors (${r.metadata.format ?? 'no format tag'}), storage ${r.storage}`;
      } else {
        ws = loadWeights(graph, { path, seed: o.seed, fillMissing: o.fillMissing ?? false });
        format = 'cuSNN .bin folder (float32)';
      }
      const s = summarizeWeights(graph, ws);
      print(`model:    ${s.model}`);
      print(`source:   ${s.source}`);
      print(`format:   ${format}`);
      print(`tensors:  ${s.tensors}`);
      print(`params:   ${formatCount(s.params)}`);
      print(`kernels:  ${s.kernels.length} (${formatCount(s.kernelParams)} params), sparsity ${formatPercent(s.kernelParams ? s.kernelZeros / s.kernelParams : 0)}`);
      print(`filled:   ${s.filledLayers.length > 0 ? s.filledLayers.join(', ') : 'none'}`);
      if (o.layers) {
        const rows = s.kernels.map((k) => [k.layer, k.op, k.shape.join('x'), formatCount(k.params), formatPercent(k.zeros / k.params)]);
        for (const line of formatTable(['layer', 'op', 'shape', 'params', 'sparsity'], rows)) print(line);
      }
    });

  return cmd;
}
