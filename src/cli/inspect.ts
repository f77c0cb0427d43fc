// `cusnn-gen inspect <dir> [--layer NAME]`: read a generated folder back — the plan summary, or
// one layer's plan entry, its reason and its kernel source, plus ptxas resources when nvcc is here.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Command } from 'commander';
import { compileCheck, findNvcc } from '../build/nvcc.js';
import type { NetworkPlan } from '../plan/types.js';
import { table } from './table.js';

export function readPlan(dir: string): NetworkPlan {
  const file = join(dir, 'plan.json');
  if (!existsSync(file)) throw new Error(`${dir}: no plan.json (not a folder written by cusnn-gen?)`);
  const plan = JSON.parse(readFileSync(file, 'utf8')) as NetworkPlan;
  if (plan.format !== 'cusnn-plan/1') throw new Error(`${file}: unknown format ${JSON.stringify(plan.format)}`);
  return plan;
}

export function inspectCommand(print: (s: string) => void = console.log): Command {
  return new Command('inspect')
    .description('show a generated folder: the plan, or one layer with its kernel and ptxas resources')
    .argument('<dir>', 'folder written by cusnn-gen (generated/<model>-<arch>)')
    .option('--layer <name>', 'one conv layer: plan entry, reason, kernel source')
    .option('--no-ptxas', 'skip compiling the kernel for its resource usage')
    .action(async (dir: string, opts: { layer?: string; ptxas: boolean }) => {
      const plan = readPlan(dir);
      if (!opts.layer) {
        print(`${plan.model} on ${plan.arch} (${plan.board}), batch ${plan.batch}; weights: ${plan.weights}`);
        print(`input sparsity: ${plan.sparsitySource}`);
        print(table(['layer', 'input', 'output', 'zeros', 'decision', 'kernel'], plan.convs.map((c) => [
          c.layer, c.input.join('x'), c.output.join('x'), `${(100 * c.inputSparsity).toFixed(0)}%`, c.decision, c.kernelName ?? '',
        ])));
        return;
      }
      const conv = plan.convs.find((c) => c.layer === opts.layer);
      if (!conv) throw new Error(`${dir}: no conv layer '${opts.layer}' in plan.json (convs: ${plan.convs.slice(0, 4).map((c) => c.layer).join(', ')}, ...)`);
      print(JSON.stringify(conv, null, 2));
      print(`\nreason: ${conv.reason}`);
      if (!conv.kernelName) return;
      const file = join(dir, 'kernels', `${conv.kernelName}.cu`);
      if (!existsSync(file)) throw new Error(`${file}: kernel source missing (regenerate the folder)`);
      print(`\n// ${file}\n${readFileSync(file, 'utf8')}`);
      if (!opts.ptxas) return;
      if (!findNvcc()) {
        print('(nvcc not found: no ptxas resource report)');
        return;
      }
      const [r] = await compileCheck([file], plan.arch);
      print(`ptxas (${r!.arch}): ${r!.registers} registers, ${r!.spillStores}/${r!.spillLoads} bytes spill stores/loads, ` +
        `${r!.sharedStatic} bytes static shared memory${r!.ok ? '' : ' — FAILED'}`);
      if (!r!.ok) print(r!.log);
    });
}
