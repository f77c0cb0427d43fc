// The cusnn-gen command tree. src/cli.ts is the executable that runs it.
import { Command, Option } from 'commander';
import { ARCH_NAMES, gpuProfile } from '../arch/profiles.js';
import { checkKernels } from './check.js';
import { inspectCommand } from './inspect.js';
import { listCommand } from './list.js';
import { pruneCommand } from './prune.js';
import { reportCommand } from './report.js';
import { benchCommand } from './bench.js';
import { buildCommand } from './build.js';
import { calibrateCommand, runCommand } from './run.js';
import { verifyCommand } from './verify.js';
import { weightsCommand } from './weights.js';
import { generate } from '../generate.js';
import { MODEL_NAMES } from '../model/zoo/index.js';

interface MainOptions {
  model?: string;
  arch?: string;
  weights?: string;
  fillMissing?: boolean;
  seed: number;
  calibration?: string;
  batch: number;
  out?: string;
  check?: boolean;
  force?: 'cudnn' | 'act-sparse';
  quiet?: boolean;
}

const positiveInt = (what: string) => (v: string): number => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new Error(`${what} must be a positive integer, got '${v}'`);
  return n;
};
const nonNegativeInt = (what: string) => (v: string): number => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new Error(`${what} must be a non-negative integer, got '${v}'`);
  return n;
};

export function program(): Command {
  // Positional options: the subcommands (weights, prune) have their own --model, --seed and
  // --weights, which must not be taken by the top-level options of the same names.
  const p = new Command('cusnn-gen')
    .enablePositionalOptions()
    .description('Generate CUDA kernels specialized to a sparse CNN\'s layers and a GPU architecture.')
    .addOption(new Option('--model <name>', 'zoo model').choices(MODEL_NAMES))
    .addOption(new Option('--arch <sm_xx>', 'target GPU architecture').choices([...ARCH_NAMES]))
    .option('--weights <path>', 'weights: a cuSNN .bin folder or a .safetensors file (default: synthetic)')
    .option('--fill-missing', 'fill tensors missing from --weights synthetically (listed in the output)')
    .option('--seed <n>', 'seed of the synthetic weights', nonNegativeInt('--seed'), 0)
    .option('--calibration <file>', 'calibration.json with measured input sparsity (default: estimate)')
    .option('--batch <n>', 'batch size to plan for', positiveInt('--batch'), 1)
    .option('--out <dir>', 'output folder (default: generated/<model>-<arch>)')
    .addOption(new Option('--force <path>', 'put every eligible conv on one path instead of the cost model\'s choice').choices(['cudnn', 'act-sparse']))
    .option('--check', 'compile every emitted kernel with nvcc and report registers, spills, shared memory')
    .option('-q, --quiet', 'print only errors')
    .action(async (o: MainOptions) => {
      if (!o.model || !o.arch) throw new Error(`--model and --arch are required (e.g. cusnn-gen --model resnet152 --arch sm_70); see cusnn-gen --help`);
      const log = o.quiet ? () => {} : (s: string) => process.stderr.write(`${s}\n`);
      const g = generate({ model: o.model, arch: o.arch, weights: o.weights, fillMissing: o.fillMissing, seed: o.seed,
        calibration: o.calibration, batch: o.batch, force: o.force, out: o.out, log });
      if (o.check && !(await checkKernels(g.emitted, gpuProfile(o.arch).arch, log))) process.exitCode = 1;
    });
  p.addCommand(listCommand());
  p.addCommand(inspectCommand());
  p.addCommand(weightsCommand());
  p.addCommand(pruneCommand());
  p.addCommand(buildCommand());
  p.addCommand(runCommand());
  p.addCommand(calibrateCommand());
  p.addCommand(verifyCommand());
  p.addCommand(benchCommand());
  p.addCommand(reportCommand());
  return p;
}

export async function main(argv: readonly string[]): Promise<number> {
  try {
    await program().parseAsync(argv, { from: 'user' });
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (e) {
    process.stderr.write(`cusnn-gen: ${(e as Error).message}\n`);
    return 1;
  }
}
