// `cusnn-gen build <dir>`: compiles a generated folder's kernels and the native runtime into its
// Node addon (<dir>/build/), then says whether this machine can run it.
import { Command } from 'commander';
import { relative } from 'node:path';
import { buildAddon } from '../toolchain/addon.js';
import { loadAddon } from '../runtime/addon.js';
import { intOption } from '../output/exit.js';
import { gpuPathSummary, GpuUnsupportedError } from '../runtime/lower.js';
import { planModel, readPlanFile } from '../runtime/network.js';

interface BuildOptions {
  arch?: string;
  jobs?: number;
  verbose?: boolean;
  quiet?: boolean;
}

export function buildCommand(): Command {
  return new Command('build')
    .description('build the Node addon of a generated folder (kernels + native runtime) into <dir>/build/')
    .argument('<dir>', 'a folder written by cusnn-gen, e.g. generated/resnet152-sm_90')
    .option('--arch <sm_xx>', 'compile for this architecture instead of the folder\'s (CUDA 13 cannot target sm_70: use e.g. --arch sm_90)')
    .option('-j, --jobs <n>', 'parallel compile jobs, 1..1024 (default: all cores)', intOption('--jobs', 1, 1024))
    .option('-v, --verbose', 'print the whole CMake and compiler log')
    .option('-q, --quiet', 'print only errors')
    .action(async (dir: string, o: BuildOptions) => {
      const say = o.quiet ? () => {} : (s: string) => process.stderr.write(`${s}\n`);
      const log = (line: string): void => {
        if (o.verbose || line.startsWith('[build]') || /error|warning:/i.test(line)) say(line);
      };
      // The folder's model first (an ONNX folder's file must be there and unchanged), and whether
      // the GPU path can run it at all: an addon it could never run is not worth minutes of nvcc.
      const { graph } = planModel(dir, readPlanFile(dir));
      const unsupported = gpuPathSummary(graph);
      if (unsupported !== null) throw new GpuUnsupportedError(`${dir}: not built: ${unsupported}; run --cpu ${dir} runs it on the CPU`);
      const node = await buildAddon(dir, { arch: o.arch, jobs: o.jobs, log });
      try {
        const { device } = loadAddon(dir);
        say(`device: ${device!.name} (${device!.sm}); the addon runs here`);
      } catch (e) {
        say(`note: ${(e as Error).message}`);
      }
      process.stdout.write(`${relative(process.cwd(), node) || node}\n`);
    });
}
