// The cusnn-gen command tree. src/cli.ts is the executable that runs it.
//
// Conventions (README "CLI conventions"): results on stdout, progress and logs on stderr; every
// error is one line `cusnn-gen: ...`; exit codes 0 ok, 1 bad input, 2 usage, 3 no GPU/tool,
// 4 internal error (the stack only under CUSNN_DEBUG=1); a bare `cusnn-gen` prints the help.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Command, Option } from 'commander';
import { ARCH_NAMES, gpuProfile } from '../arch/profiles.js';
import { findNvcc } from '../toolchain/nvcc.js';
import { generate } from '../generate.js';
import { classify, EXIT, intOption, MAX_BATCH, MAX_SEED, ToolError, UsageError } from '../output/exit.js';
import { packageRoot } from '../paths.js';
import { benchCommand } from './bench.js';
import { buildCommand } from './build.js';
import { checkKernels } from './check.js';
import { inspectCommand } from './inspect.js';
import { listCommand } from './list.js';
import { pruneCommand } from './prune.js';
import { reportCommand } from './report.js';
import { tuneCommand } from './tune.js';
import { calibrateCommand, runCommand } from './run.js';
import { exportOnnxCommand } from './export-onnx.js';
import { inputShapeOption, modelOption, routeCpuRun, runCpuCommand } from './run-cpu.js';
import { verifyCommand } from './verify.js';
import { weightsCommand } from './weights.js';

interface MainOptions {
  model?: string;
  inputShape?: [number, number, number];
  arch?: string;
  weights?: string;
  fillMissing?: boolean;
  seed: number;
  calibration?: string;
  batch: number[];
  out?: string;
  forceOverwrite?: boolean;
  check?: boolean;
  force?: 'cudnn' | 'act-sparse';
  tuneCache?: string;
  gpu?: string;
  /** commander's --no-residual-fusion: false when given. */
  residualFusion: boolean;
  quiet?: boolean;
}

/** The package's version (package.json). */
export function version(): string {
  const pkg = JSON.parse(readFileSync(join(packageRoot(), 'package.json'), 'utf8')) as { version?: unknown };
  return typeof pkg.version === 'string' ? pkg.version : 'unknown';
}

const nonEmpty = (flag: string) => (v: string): string => {
  if (v.trim() === '') throw new UsageError(`${flag} must name a folder, got an empty string`);
  return v;
};

/**
 * `--batch 8` or `--batch 1,8,32`: each an integer in [1, MAX_BATCH], given once, ascending (the
 * folder gets one plan per batch). A usage error naming the bad value otherwise.
 */
export function batchListOption(v: string): number[] {
  const parts = v.split(',');
  const list = parts.length > 1 ? ` (in '${v}')` : '';
  const out: number[] = [];
  for (const p of parts) {
    const t = p.trim();
    const n = /^\d+$/.test(t) ? Number(t) : NaN;
    if (!Number.isSafeInteger(n) || n < 1 || n > MAX_BATCH) throw new UsageError(`--batch must be an integer in [1, ${MAX_BATCH}], got '${parts.length > 1 ? t : v}'${list}`);
    if (out.includes(n)) throw new UsageError(`--batch lists ${n} twice in '${v}': give each batch size once`);
    if (out.length > 0 && n < out[out.length - 1]!) throw new UsageError(`--batch must list batch sizes in ascending order, got '${v}' (${out[out.length - 1]} before ${n})`);
    out.push(n);
  }
  return out;
}

/** Optimal-string-alignment distance (a transposition counts as one edit: lsit -> list). */
function editDistance(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let v = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) v = Math.min(v, d[i - 2]![j - 2]! + 1);
      d[i]![j] = v;
    }
  }
  return d[a.length]![b.length]!;
}

/** "unknown command 'lsit' (did you mean list?)" */
export function unknownCommand(name: string, known: readonly string[], under = 'cusnn-gen'): UsageError {
  const scored = known.map((k) => ({ k, d: editDistance(name, k) })).filter((s) => s.d <= Math.max(1, Math.floor(s.k.length / 3))).sort((x, y) => x.d - y.d);
  const hint = scored.length > 0 ? ` (did you mean ${scored[0]!.k}?)` : `; commands: ${known.join(', ')} (see '${under} help')`;
  return new UsageError(`unknown command '${name}'${hint}`);
}

export function program(): Command {
  // Positional options: the subcommands (weights, prune) have their own --model, --seed and
  // --weights, which must not be taken by the top-level options of the same names.
  const p = new Command('cusnn-gen')
    .enablePositionalOptions()
    .description('Generate CUDA kernels specialized to a sparse CNN\'s layers and a GPU architecture.')
    .version(version(), '-V, --version', 'print the version')
    .addOption(new Option('--model <name>', 'zoo model, or an ONNX file (path ending in .onnx)').argParser(modelOption))
    .addOption(new Option('--arch <sm_xx>', 'target GPU architecture').choices([...ARCH_NAMES]))
    .addOption(new Option('--input-shape <C,H,W>', 'an ONNX model\'s input C,H,W where the file leaves them symbolic (recorded in plan.json)').argParser(inputShapeOption))
    .option('--weights <path>', 'weights: a cuSNN .bin folder, a .safetensors file or an .onnx file of the same network (default: an ONNX model\'s own, else synthetic)')
    .option('--fill-missing', 'fill tensors missing from --weights synthetically (listed in the output)')
    .option('--seed <n>', `seed of the synthetic weights, 0..${MAX_SEED}`, intOption('--seed', 0, MAX_SEED), 0)
    .option('--calibration <file>', 'calibration.json with measured input sparsity (default: estimate)')
    .addOption(new Option('--batch <n[,n...]>', `batch size(s) to plan for, each 1..${MAX_BATCH}; several (ascending, e.g. 1,8,32) give one plan per batch in one folder`)
      .argParser(batchListOption).default([1], '1'))
    .option('--out <dir>', 'output folder: new, empty or written by cusnn-gen (default: generated/<model>-<arch>)', nonEmpty('--out'))
    .option('--force-overwrite', 'write into a folder cusnn-gen did not write (its generated files are replaced)')
    .addOption(new Option('--force <path>', 'put every eligible conv on one path instead of the cost model\'s choice').choices(['cudnn', 'act-sparse']))
    .option('--tune-cache <file>', 'tune cache of cusnn-gen tune: its winners for --gpu decide the tiles of matching convs')
    .option('--gpu <model>', 'target GPU model as the device reports it, e.g. "NVIDIA H200" (tune entries and calibration times count only on it)')
    .option('--no-residual-fusion', 'keep ResNet residual adds as steps instead of fusing them into the generated conv before them')
    .option('--check', 'compile every emitted kernel with nvcc and report registers, spills, shared memory')
    .option('-q, --quiet', 'no progress on stderr (results and errors still print)')
    .helpCommand('help [command...]', 'show the help of a command, e.g. cusnn-gen help weights synth')
    .allowExcessArguments(true)
    .addHelpText('after', [
      '',
      'Results go to stdout, progress and logs to stderr; list, inspect and weights info take --json.',
      'Exit codes: 0 ok, 1 bad input, 2 usage, 3 no GPU or tool (nvcc, CMake), 4 internal error',
      '(set CUSNN_DEBUG=1 for its stack).',
    ].join('\n'))
    .action(async (o: MainOptions, cmd: Command) => {
      if (cmd.args.length > 0) throw unknownCommand(cmd.args[0]!, commandNames(p));
      if (!o.model || !o.arch) throw new UsageError(`--model and --arch are required (e.g. cusnn-gen --model resnet152 --arch sm_70); see cusnn-gen --help`);
      if (o.check && !findNvcc()) throw new ToolError('--check needs nvcc (CUDA toolkit) on PATH or in CUDA_HOME/bin');
      const log = o.quiet ? () => {} : (s: string) => void process.stderr.write(`${s}\n`);
      const g = generate({ model: o.model, inputShape: o.inputShape, arch: o.arch, weights: o.weights, fillMissing: o.fillMissing, seed: o.seed,
        calibration: o.calibration, batch: o.batch, force: o.force, tuneCache: o.tuneCache, gpu: o.gpu, fuseResidual: o.residualFusion, out: o.out, forceOverwrite: o.forceOverwrite, log });
      process.stdout.write(`${g.emitted.dir}\n`);
      if (o.check && !(await checkKernels(g.emitted, gpuProfile(o.arch).arch, log))) process.exitCode = EXIT.badInput;
    });
  // One line per command.
  p.addCommand(listCommand());
  p.addCommand(inspectCommand());
  p.addCommand(weightsCommand());
  p.addCommand(pruneCommand());
  p.addCommand(buildCommand());
  p.addCommand(runCommand().addHelpText('after', '\nWithout a GPU: cusnn-gen run --cpu <dir|model> --input x.npy (the float64 CPU reference; see cusnn-gen help run-cpu).'));
  p.addCommand(runCpuCommand());
  p.addCommand(calibrateCommand());
  p.addCommand(verifyCommand());
  p.addCommand(benchCommand());
  p.addCommand(reportCommand());
  p.addCommand(tuneCommand());
  p.addCommand(exportOnnxCommand());
  return p;
}

const commandNames = (c: Command): string[] => [...c.commands.map((s) => s.name()), 'help'];

/** Every command of the tree throws instead of exiting and prints no error of its own (main does). */
function tame(c: Command): void {
  c.exitOverride().configureOutput({
    writeOut: (s) => void process.stdout.write(s),
    writeErr: (s) => void process.stderr.write(s),
    outputError: () => {},
  });
  for (const s of c.commands) tame(s);
}

/** `cusnn-gen help [cmd [sub]]`: the help of that command on stdout. */
function help(root: Command, path: readonly string[]): void {
  let c = root;
  const at: string[] = ['cusnn-gen'];
  for (const name of path) {
    const next = c.commands.find((s) => s.name() === name || s.aliases().includes(name));
    if (!next) throw unknownCommand(name, c.commands.map((s) => s.name()), at.join(' '));
    c = next;
    at.push(name);
  }
  c.outputHelp();
}

export interface MainOptionsIo {
  /** The command tree (tests pass their own); default program(). */
  readonly program?: Command;
  /** Where the error line goes; default stderr. */
  readonly err?: (s: string) => void;
  readonly env?: NodeJS.ProcessEnv;
}

/** Runs cusnn-gen with `argv` and returns the exit code (errors printed as one line). */
export async function main(argv: readonly string[], io: MainOptionsIo = {}): Promise<number> {
  const err = io.err ?? ((s: string) => void process.stderr.write(s));
  const env = io.env ?? process.env;
  process.exitCode = undefined;
  try {
    const p = io.program ?? program();
    tame(p);
    if (argv.length === 0) {
      p.outputHelp();
      return EXIT.ok;
    }
    if (argv[0] === 'help') {
      help(p, argv.slice(1));
      return EXIT.ok;
    }
    await p.parseAsync(routeCpuRun(argv), { from: 'user' });
    return typeof process.exitCode === 'number' ? process.exitCode : EXIT.ok;
  } catch (e) {
    const c = classify(e);
    if (c.code === EXIT.ok) return EXIT.ok; // --help, --version
    err(`cusnn-gen: ${c.message}\n`);
    if (env.CUSNN_DEBUG === '1' && e instanceof Error && e.stack) err(`${e.stack}\n`);
    return c.code;
  }
}

/**
 * `cusnn-gen ... | head -1`: once the reader is gone, stop quietly (exit 0, nothing on stderr)
 * instead of dying with an EPIPE stack trace. Installed by the executable only.
 */
export function installPipeHandlers(): void {
  process.stdout.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE') process.exit(EXIT.ok);
    process.stderr.write(`cusnn-gen: cannot write the output: ${e.message}\n`);
    process.exit(EXIT.badInput);
  });
  process.stderr.on('error', () => {
    // Nowhere left to report to.
  });
}
