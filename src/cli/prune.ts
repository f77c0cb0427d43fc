// `cusnn-gen prune`: magnitude-prune a network's kernels to a target sparsity and save the result
// (single weights, 2:4 along input channels, 4x1 blocks along output channels, or whole filters).
import { Command, InvalidArgumentError, Option } from 'commander';
import { resolvedWeights, resolveModel } from '../model/resolve.js';
import { saveWeights } from '../weights/load.js';
import { UsageError } from '../output/exit.js';
import { PRUNE_PATTERNS, pruneWeights, type PruneMode, type PrunePattern } from '../weights/prune.js';
import { formatCount, formatPercent, formatTable } from '../weights/summary.js';
import { modelOption } from './run-cpu.js';
import { checkWeightsOut, filledLine, seedOption, type Print } from './weights.js';

interface PruneCliOptions {
  model: string;
  weights?: string;
  sparsity?: number;
  mode: PruneMode;
  pattern: PrunePattern;
  includeFirst?: boolean;
  includeDense?: boolean;
  out: string;
  fp16?: boolean;
  fillMissing?: boolean;
  seed: number;
}

export function parseSparsity(v: string): number {
  const n = Number(v);
  if (v.trim() === '' || !(n >= 0 && n <= 1)) throw new InvalidArgumentError(`--sparsity must be a fraction of zeros in [0, 1] (e.g. 0.8), got '${v}'`);
  return n;
}

const stdout: Print = (line) => void process.stdout.write(`${line}\n`);

export function pruneCommand(print: Print = stdout): Command {
  return new Command('prune')
    .description('magnitude-prune conv (and optionally dense) kernels to a target sparsity')
    .requiredOption('--model <name>', 'zoo model, or an ONNX file (path ending in .onnx)', modelOption)
    .option('--weights <path>', 'a .safetensors file, a cuSNN .bin folder or an .onnx file of the same network (default: an ONNX model\'s own, else synthetic)')
    .option('--sparsity <fraction>', 'target fraction of zeros, e.g. 0.8 (required; 2:4 is 0.5 by construction)', parseSparsity)
    .addOption(new Option('--mode <mode>', 'layer: every kernel gets the target; global: one magnitude threshold').choices(['layer', 'global']).default('layer'))
    .addOption(
      new Option(
        '--pattern <pattern>',
        'unstructured: single weights; 2:4: in every 4 consecutive input channels at one (k, r, s) keep the 2 largest |w| (50%, --mode has no effect); ' +
          'block4x1: blocks of 4 consecutive output channels at one (c, r, s), by L2 norm; filter: whole output filters, by L2 norm ' +
          '(the batch norm after a conv is left as is: a pruned filter outputs its BN bias only)',
      )
        .choices([...PRUNE_PATTERNS])
        .default('unstructured'),
    )
    .option('--include-first', 'also prune the first conv (kept dense by default)')
    .option('--include-dense', 'also prune dense layers (kept dense by default)')
    .requiredOption('--out <file>', 'output .safetensors file')
    .option('--fp16', 'store conv and dense kernels as fp16')
    .option('--fill-missing', 'generate layers missing from a --weights folder')
    .addOption(seedOption())
    .action((o: PruneCliOptions) => {
      if (o.pattern === '2:4' && o.sparsity !== undefined && o.sparsity !== 0.5) {
        throw new UsageError(`--pattern 2:4 keeps 2 of every 4 weights, so its sparsity is 0.5: leave --sparsity out or give 0.5, got '${o.sparsity}'`);
      }
      if (o.sparsity === undefined && o.pattern !== '2:4') throw new UsageError(`required option '--sparsity <fraction>' not specified`);
      const sparsity = o.sparsity ?? 0.5;
      checkWeightsOut(o.out); // before the table, not after it
      const m = resolveModel(o.model);
      const graph = m.graph;
      const ws = resolvedWeights(m, { path: o.weights, seed: o.seed, fillMissing: o.fillMissing ?? false });
      const r = pruneWeights(graph, ws, { sparsity, mode: o.mode, pattern: o.pattern, includeFirst: o.includeFirst ?? false, includeDense: o.includeDense ?? false });
      print(`${graph.name}: ${ws.source}`);
      const f = filledLine(graph, ws);
      if (f) print(f);
      const rows = r.layers.map((l) => [l.layer, formatCount(l.params), formatPercent(l.before), formatPercent(l.after), l.eligible ? '' : 'kept dense']);
      for (const line of formatTable(['layer', 'params', 'before', 'after', ''], rows)) print(line);
      print(
        `total: ${formatCount(r.eligibleParams)} prunable params, sparsity ${formatPercent(r.eligibleBefore)} -> ${formatPercent(r.eligibleAfter)} ` +
          `(target ${formatPercent(sparsity)}, ${o.pattern === 'unstructured' ? o.mode : o.pattern === '2:4' ? '2:4' : `${o.pattern}, ${o.mode}`}); all kernels ${formatPercent(r.kernelsAfter)}`,
      );
      const storage = o.fp16 ? 'fp16' : 'fp32';
      saveWeights(o.out, graph, r.weights, storage);
      print(`wrote ${o.out} (${storage})`);
    });
}
