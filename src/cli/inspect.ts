// `cusnn-gen inspect <dir> [--layer NAME] [--json]`: read a generated folder back — the plan
// summary, or one layer's plan entry, its weights' pattern facts, its reason, what a measurement
// timed for it (every family against cuDNN) and its kernel source, plus ptxas resources when nvcc is here.
import { existsSync, readFileSync, statSync } from 'node:fs';
import { readPlanFile } from '../runtime/network.js';
import { join } from 'node:path';
import { Command } from 'commander';
import { compileCheck, findNvcc } from '../toolchain/nvcc.js';
import { measuredLines } from '../plan/measured-choice.js';
import type { ConvPlan, NetworkPlan } from '../plan/types.js';
import { printJson, table } from './table.js';

/**
 * Reads `<dir>/plan.json` through the plan schema: every error is one line naming the file, the
 * conv (index and layer) and the key.
 */
export function readPlan(dir: string): NetworkPlan {
  const file = join(dir, 'plan.json');
  if (!existsSync(dir)) throw new Error(`${dir}: no such folder (expected a folder written by cusnn-gen)`);
  if (!statSync(dir).isDirectory()) throw new Error(`${dir}: not a folder (expected a folder written by cusnn-gen)`);
  if (!existsSync(file)) throw new Error(`${dir}: no plan.json (not a folder written by cusnn-gen?)`);
  // The schema (src/schema/plan.ts, through readPlanFile) checks every field; inspect adds that a
  // kernel name cannot be a path, since it opens kernels/<name>.cu.
  const plan = readPlanFile(dir);
  plan.convs.forEach((c, i) => {
    if (c.kernelName !== null && !/^\w+$/.test(c.kernelName)) {
      throw new Error(`${file}: convs[${i}] (${c.layer}): "kernelName" must be null or a kernel name ([A-Za-z0-9_]), got ${JSON.stringify(c.kernelName)}`);
    }
  });
  return plan;
}

interface InspectOptions { layer?: string; ptxas: boolean; json?: boolean }

/** The weights as the plan recorded them: pattern, density, nonzeros per output channel, structure digest. */
export function layerFacts(c: ConvPlan): string[] {
  const w = c.weightPattern;
  if (!w) return [`\nweights: ${c.weightSparsity === 0 ? 'dense' : `${(100 * c.weightSparsity).toFixed(1)}% zeros, no pruning pattern recorded (dense, or planned from a profile without it)`}`];
  const n = w.nnzPerOutChannel;
  return [`\nweights: pattern ${w.pattern}, density ${(100 * w.density).toFixed(1)}% (${(100 * c.weightSparsity).toFixed(1)}% zeros), ` +
    `nonzeros per output channel min/mean/max ${n.min}/${n.mean.toFixed(1)}/${n.max}${w.digest ? `, structure digest ${w.digest}` : ''}`];
}

const summaryRow = (c: ConvPlan) => ({ layer: c.layer, input: c.input, output: c.output, inputSparsity: c.inputSparsity, decision: c.decision, kernelName: c.kernelName ?? null });

export function inspectCommand(print: (s: string) => void = console.log, log: (s: string) => void = (s) => void process.stderr.write(`${s}\n`)): Command {
  return new Command('inspect')
    .description('show a generated folder: the plan, or one layer with its kernel and ptxas resources')
    .argument('<dir>', 'folder written by cusnn-gen (generated/<model>-<arch>)')
    .option('--layer <name>', 'one conv layer: plan entry, reason, kernel source')
    .option('--no-ptxas', 'skip compiling the kernel for its resource usage')
    .option('--json', 'print the summary (or the layer: plan entry, kernel file and source, ptxas) as JSON')
    .action(async (dir: string, opts: InspectOptions) => {
      const plan = readPlan(dir);
      if (!opts.layer) {
        if (opts.json) {
          printJson(print, { model: plan.model, ...(plan.modelFile ? { modelFile: plan.modelFile } : {}), arch: plan.arch, board: plan.board, batch: plan.batch, weights: plan.weights,
            sparsitySource: plan.sparsitySource, convs: plan.convs.map(summaryRow) });
          return;
        }
        print(`${plan.model} on ${plan.arch} (${plan.board}), batch ${plan.batch}; weights: ${plan.weights}`);
        if (plan.modelFile) print(`ONNX model: ${plan.modelFile.path} (sha256 ${plan.modelFile.sha256.slice(0, 12)}...); layers are its node names`);
        print(`input sparsity: ${plan.sparsitySource}`);
        print(table(['layer', 'input', 'output', 'zeros', 'decision', 'kernel'], plan.convs.map((c) => [
          c.layer, c.input.join('x'), c.output.join('x'), `${(100 * c.inputSparsity).toFixed(0)}%`, c.decision, c.kernelName ?? '',
        ])));
        return;
      }
      const conv = plan.convs.find((c) => c.layer === opts.layer);
      if (!conv) throw new Error(`${dir}: no conv layer '${opts.layer}' in plan.json (convs: ${plan.convs.slice(0, 4).map((c) => c.layer).join(', ')}${plan.convs.length > 4 ? ', ...' : ''})`);
      const file = conv.kernelName ? join(dir, 'kernels', `${conv.kernelName}.cu`) : null;
      if (file && !existsSync(file)) throw new Error(`${file}: kernel source missing (regenerate the folder)`);
      const source = file ? readFileSync(file, 'utf8') : null;
      let ptxas: { arch: string; ok: boolean; registers: number | null; spillStores: number | null; spillLoads: number | null; sharedStatic: number | null; log: string } | null = null;
      if (file && opts.ptxas) {
        if (!findNvcc()) {
          log('(nvcc not found: no ptxas resource report)');
        } else {
          const [r] = await compileCheck([file], plan.arch);
          ptxas = { arch: r!.arch, ok: r!.ok, registers: r!.registers ?? null, spillStores: r!.spillStores ?? null, spillLoads: r!.spillLoads ?? null, sharedStatic: r!.sharedStatic ?? null, log: r!.log };
        }
      }
      if (opts.json) {
        printJson(print, { conv, kernel: file ? { file, source } : null, ptxas });
        return;
      }
      print(JSON.stringify(conv, null, 2));
      for (const line of layerFacts(conv)) print(line);
      print(`\nreason: ${conv.reason}`);
      if (conv.measured) print(['\nmeasured:', ...measuredLines(conv.measured).map((l) => `  ${l}`)].join('\n'));
      if (!file) return;
      print(`\n// ${file}\n${source}`);
      if (!ptxas) return;
      print(`ptxas (${ptxas.arch}): ${ptxas.registers} registers, ${ptxas.spillStores}/${ptxas.spillLoads} bytes spill stores/loads, ` +
        `${ptxas.sharedStatic} bytes static shared memory${ptxas.ok ? '' : ' — FAILED'}`);
      if (!ptxas.ok) print(ptxas.log);
    });
}
