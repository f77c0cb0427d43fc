// `cusnn-gen bench --model a,b | --all --arch sm_xx [--batch 1,8,32] [--weights DIR] [--images DIR] [--out DIR]
//  [--prune 0.8,0.9,0.95 [--prune-pattern unstructured|2:4|block4x1|filter]]`:
// cusnn vs cuDNN (fastest algorithm) vs cuDNN IMPLICIT_GEMM on the GPU, per model and batch:
// correctness, time, energy, per-layer roofline; results.json, CSV, SVG charts, a summary and a
// terminal table (src/bench/bench.ts). With --prune, every model also runs with its weights pruned
// to each sparsity, each variant as runs of its own. Without a GPU it says so in one line before
// generating or building anything, and exits 3 (EXIT.noTool); a bad option exits 2.
import { appendFileSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { Command, InvalidArgumentError, Option } from 'commander';
import { ARCH_NAMES } from '../arch/profiles.js';
import { runBench } from '../bench/bench.js';
import { ALL_MODELS, expandModels, gpuAbsentReason, parseBatches, parsePruneList, pruneListProblem } from '../bench/prepare.js';
import { createProgress } from '../bench/progress.js';
import { failure, benchTable } from '../bench/table.js';
import { EXIT, intOption, MAX_BATCH, MAX_SEED, UsageError } from '../output/exit.js';
import { PRUNE_PATTERNS, type PrunePattern } from '../weights/prune.js';

interface BenchCliOptions {
  model?: string;
  all?: boolean;
  arch: string;
  batch: number[];
  weights?: string;
  synthetic?: boolean;
  images?: string;
  randomInputs?: boolean;
  out?: string;
  buildDir?: string;
  rounds: number;
  iters: number;
  layerIters: number;
  energySeconds: number;
  checkInputs: number;
  seed: number;
  jobs?: number;
  verbose?: boolean;
  prune?: number[];
  prunePattern?: PrunePattern;
  tuneCache?: string;
  gpu?: string;
  /** commander's --no-residual-fusion: false when given. */
  residualFusion: boolean;
}

const energySeconds = (v: string): number => {
  const n = v.trim() === '' ? NaN : Number(v);
  if (!Number.isFinite(n) || (n !== 0 && n < 2) || n > 600) {
    throw new InvalidArgumentError(`--energy-seconds must be 0 (no energy) or between 2 and 600 (NVML's counter updates too rarely for shorter windows), got '${v}'`);
  }
  return n;
};

/** `--batch 1,8,32`, each in [1, 65535]; a usage error (exit 2) otherwise. */
const batches = (v: string): number[] => {
  try {
    return parseBatches(v);
  } catch (e) {
    throw new InvalidArgumentError((e as Error).message);
  }
};

/** `--prune 0.8,0.9,0.95`: fractions in (0, 1), each once, ascending; a usage error (exit 2) naming the value otherwise. */
export const pruneList = (v: string): number[] => {
  try {
    return parsePruneList(v);
  } catch (e) {
    throw new InvalidArgumentError((e as Error).message);
  }
};

/** `out/bench/2026-11-24T10-05-33` (under out/, which git ignores). */
export const defaultBenchOut = (d = new Date()): string => join('out', 'bench', d.toISOString().slice(0, 19).replace(/:/g, '-'));

export function benchCommand(print: (s: string) => void = console.log): Command {
  return new Command('bench')
    .description('cusnn vs cuDNN (fastest algorithm) vs cuDNN IMPLICIT_GEMM on the GPU: correctness, time, energy, per-layer roofline; results.json, CSV, SVG charts')
    .option('--model <names>', 'comma-separated zoo models or ONNX files (with their own weights), e.g. resnet50,densenet169 or mobilenet_v2.onnx')
    .option('--all', `every zoo model: ${ALL_MODELS.join(', ')}`)
    .addOption(new Option('--arch <sm_xx>', 'GPU architecture to generate and build for (the GPU the bench runs on)').choices([...ARCH_NAMES]).makeOptionMandatory())
    .option('--batch <list>', `comma-separated batch sizes in [1, ${MAX_BATCH}], e.g. 1,8,32`, batches, [1])
    .option('--weights <dir>', 'folder with <model>.safetensors or <model>/*.bin (cuSNN layout); default ../shared/cusnn-artifact/weights when present; models without weights there get synthetic ones')
    .option('--synthetic', 'synthetic weights for every model (no weights folder)')
    .option('--images <dir>', 'folder of <i>.bin images (224x224x3 float32 BGR HWC; the first 32 are used: the first half decides, the second half is timed); default ../shared/cusnn-artifact/sample_images when present, else random image-like inputs')
    .option('--random-inputs', 'seeded random image-like inputs instead of images')
    .option('--out <dir>', 'where results.json, the CSV, the charts and summary.md go (default out/bench/<date-time>)')
    .option('--build-dir <dir>', 'generated folders and their addons, reused across runs (default: <out>/build with --out, else out/bench/build)')
    .option('--rounds <n>', 'interleaved rounds (A B C A B C ...) of every time and energy measurement, 3 to 1000', intOption('--rounds', 3, 1000), 3)
    .option('--iters <n>', 'timed CUDA graph replays per engine, over all rounds, 100 to 1000000', intOption('--iters', 100, 1_000_000), 200)
    .option('--layer-iters <n>', 'timed replays per conv step over all rounds (decisions and per-layer table), 10 to 1000000', intOption('--layer-iters', 10, 1_000_000), 100)
    .option('--energy-seconds <s>', 'minimum NVML energy window per engine and round (0: no energy)', energySeconds, 2)
    .option('--check-inputs <n>', 'inputs compared per engine before timing (from the timing half of the images), 1 to 1024', intOption('--check-inputs', 1, 1024), 8)
    .option('--seed <n>', `seed of synthetic weights and random inputs, 0 to ${MAX_SEED}`, intOption('--seed', 0, MAX_SEED), 0)
    .option('-j, --jobs <n>', 'parallel compile jobs per build, 1 to 1024 (default: all cores)', intOption('--jobs', 1, 1024))
    .option('--prune <list>', 'also run every model with its weights pruned to each of these sparsities (fractions in (0, 1), ascending, e.g. 0.8,0.9,0.95): '
      + 'magnitude pruning per layer as cusnn-gen prune does (the first conv and dense layers kept dense), each variant as runs of its own', pruneList)
    .addOption(new Option('--prune-pattern <pattern>', 'what --prune prunes together, as cusnn-gen prune --pattern: single weights, 2 of every 4 input channels (2:4, sparsity 0.5), '
      + '4x1 blocks along the output channels, whole filters (default unstructured)').choices([...PRUNE_PATTERNS]))
    .option('--tune-cache <file>', 'a tune cache (cusnn-gen tune): its winners for --gpu pick the generated kernel of every matching conv before the bench\'s own measured decisions against cuDNN')
    .option('--gpu <name>', 'the GPU model the tune cache entries must be for, e.g. "NVIDIA H200" (with --tune-cache)')
    .option('--no-residual-fusion', 'keep ResNet residual adds as steps instead of fusing them into the generated conv before them (an A/B of the fusion)')
    .option('-v, --verbose', 'print the detailed log on stderr too (it always goes to <out>/bench.log)')
    .action(async (o: BenchCliOptions) => {
      const models = expandModels(o);
      if (o.synthetic && o.weights) throw new UsageError('--synthetic and --weights exclude each other');
      if (o.randomInputs && o.images) throw new UsageError('--random-inputs and --images exclude each other');
      if (o.prunePattern !== undefined && o.prune === undefined) throw new UsageError(`--prune-pattern ${o.prunePattern} needs --prune (e.g. --prune ${o.prunePattern === '2:4' ? '0.5' : '0.8,0.9'})`);
      if (o.prune !== undefined && o.prunePattern === '2:4' && o.prune.some((s) => s !== 0.5)) {
        throw new UsageError(`--prune-pattern 2:4 keeps 2 of every 4 weights, so its sparsity is 0.5: give --prune 0.5, got '${o.prune.join(',')}'`);
      }
      const pruning = pruneListProblem(o.prune ?? [], o.prunePattern ?? 'unstructured');
      if (pruning) throw new UsageError(`--prune: ${pruning}`);
      if ((o.tuneCache === undefined) !== (o.gpu === undefined)) throw new UsageError('--tune-cache and --gpu go together: the cache\'s entries are per GPU model (e.g. --tune-cache tune.json --gpu "NVIDIA H200")');
      if (o.tuneCache !== undefined && !existsSync(o.tuneCache)) throw new UsageError(`--tune-cache ${o.tuneCache}: no such file`);
      // Before anything is generated or built: is there a GPU at all? (The addon has the last word.)
      const absent = gpuAbsentReason();
      if (absent !== null) {
        process.stderr.write(`cusnn-gen bench: no CUDA device (${absent}): the bench runs on an NVIDIA GPU; generating and building work without one (cusnn-gen --model ..., cusnn-gen build)\n`);
        process.exitCode = EXIT.noTool;
        return;
      }
      const out = o.out ?? defaultBenchOut();
      const buildDir = o.buildDir ?? (o.out ? join(o.out, 'build') : join('out', 'bench', 'build'));
      mkdirSync(out, { recursive: true });
      const logFile = join(out, 'bench.log');
      writeFileSync(logFile, '');
      const log = (s: string): void => {
        appendFileSync(logFile, `${s}\n`);
        if (o.verbose) process.stderr.write(`${s}\n`);
      };
      const variants = o.prune ? `, dense and pruned to ${o.prune.join(', ')}${o.prunePattern && o.prunePattern !== 'unstructured' ? ` (${o.prunePattern})` : ''}` : '';
      process.stderr.write(`cusnn-gen bench: ${models.join(', ')} at batch ${o.batch.join(', ')} for ${o.arch}${variants}; log in ${logFile}\n`);
      let written: readonly string[] = [];
      const bench = runBench({
        models, arch: o.arch, batches: o.batch,
        weightsDir: o.synthetic ? null : o.weights, imagesDir: o.randomInputs ? null : o.images,
        out, buildDir, rounds: o.rounds, iters: o.iters, layerIters: o.layerIters, energySeconds: o.energySeconds, checkInputs: o.checkInputs,
        seed: o.seed, jobs: o.jobs, command: `cusnn-gen ${process.argv.slice(2).join(' ')}`,
        ...(o.prune ? { prune: o.prune, prunePattern: o.prunePattern ?? 'unstructured' } : {}),
        ...(o.tuneCache !== undefined && o.gpu !== undefined ? { tune: { cache: o.tuneCache, gpu: o.gpu } } : {}),
        ...(o.residualFusion === false ? { fuseResidual: false } : {}),
      }, {
        log,
        // With -v the log lines go to the terminal: no bar redrawn between them.
        progress: o.verbose ? undefined : (total, label) => createProgress(total, label),
        written: (files) => { written = files; },
      });
      let r: Awaited<typeof bench>;
      try {
        r = await bench;
      } catch (e) {
        // The addon's own word on the GPU (the probe above only rules out machines without one).
        const m = (e as Error).message;
        if (!/^no CUDA device/.test(m)) throw e;
        process.stderr.write(`cusnn-gen bench: ${m}\n`);
        process.exitCode = EXIT.noTool;
        return;
      }
      print(benchTable(r));
      print('');
      print(`wrote ${written.length} files in ${relative(process.cwd(), out) || out}: ${written.map((f) => relative(out, f)).join(', ')}`);
      const failed = r.runs.filter((m) => failure(m) !== undefined);
      if (failed.length > 0) {
        process.stderr.write(`cusnn-gen bench: ${failed.length} of ${r.runs.length} runs failed (see the table and ${logFile})\n`);
        process.exitCode = 1;
      }
    });
}
