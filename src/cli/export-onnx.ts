// `cusnn-gen export-onnx --model resnet50 [--weights PATH] --out resnet50.onnx`: a zoo model (or an
// imported one, e.g. with pruned weights) as an ONNX file, opset 13 (src/model/onnx/export.ts).
// Importing the file gives the same layers, names and weights, so `--model resnet50.onnx` plans
// what `--model resnet50` plans.
import * as fs from 'node:fs';
import { dirname, resolve } from 'node:path';
import { Command } from 'commander';
import { paramCount } from '../model/ir.js';
import { EXPORT_OPSET, writeOnnx } from '../model/onnx/export.js';
import { resolvedWeights, resolveModel } from '../model/resolve.js';
import { UsageError } from '../output/exit.js';
import { formatBytes } from '../weights/summary.js';
import { modelOption } from './run-cpu.js';
import { seedOption, type Print } from './weights.js';
import { version } from './main.js';

interface ExportOnnxOptions {
  model: string;
  weights?: string;
  fillMissing?: boolean;
  seed: number;
  out: string;
  force?: boolean;
}

/** The output file: a name ending in .onnx, in a folder that exists; an existing file only with --force. */
function checkOnnxOut(file: string, force: boolean): void {
  if (file.trim() === '') throw new UsageError('--out must name an .onnx file, got an empty string');
  if (!/\.onnx$/i.test(file)) throw new UsageError(`--out '${file}' must end in .onnx`);
  if (fs.existsSync(file)) {
    if (fs.statSync(file).isDirectory()) throw new Error(`--out '${file}' is a folder, not a file`);
    if (!force) throw new Error(`--out '${file}' exists; pass --force to replace it`);
  }
  const parent = dirname(resolve(file));
  if (!fs.existsSync(parent) || !fs.statSync(parent).isDirectory()) throw new Error(`--out '${file}': the folder ${parent} does not exist`);
}

const stdout: Print = (line) => void process.stdout.write(`${line}\n`);

export function exportOnnxCommand(print: Print = stdout, log: (s: string) => void = (s) => void process.stderr.write(`${s}\n`)): Command {
  return new Command('export-onnx')
    .description(`write a model and its weights as an ONNX file (opset ${EXPORT_OPSET}: Conv, BatchNormalization, Relu, Add, Concat, MaxPool, AveragePool, GlobalAveragePool, Flatten, Gemm, Softmax)`)
    .requiredOption('--model <name>', 'zoo model (or an ONNX file, re-exported with --weights)', modelOption)
    .option('--weights <path>', 'weights: a cuSNN .bin folder, a .safetensors file or an .onnx file of the same network (default: synthetic, or the ONNX file\'s own)')
    .option('--fill-missing', 'fill tensors missing from --weights synthetically')
    .addOption(seedOption())
    .requiredOption('--out <file.onnx>', 'the ONNX file to write')
    .option('--force', 'replace --out if it exists')
    .action((o: ExportOnnxOptions) => {
      checkOnnxOut(o.out, o.force ?? false);
      const m = resolveModel(o.model);
      const weights = resolvedWeights(m, { path: o.weights, seed: o.seed, fillMissing: o.fillMissing ?? false });
      log(`model ${m.graph.name}: ${m.graph.layers.length} layers, ${paramCount(m.graph).toLocaleString('en-US')} parameters; weights: ${weights.source}`);
      // Written beside the target and renamed into place: a failure leaves no half-written file.
      const tmp = `${o.out}.tmp-${process.pid}`;
      try {
        writeOnnx(tmp, m.graph, weights, { producerVersion: version() });
        fs.renameSync(tmp, o.out);
      } finally {
        fs.rmSync(tmp, { force: true });
      }
      print(`wrote ${o.out} (ONNX opset ${EXPORT_OPSET}, ${formatBytes(fs.statSync(o.out).size)})`);
    });
}
