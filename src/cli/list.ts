// `cusnn-gen list`: the models and GPU architectures the generator knows.
import { Command } from 'commander';
import { ARCH_NAMES, gpuProfile } from '../arch/profiles.js';
import { paramCount } from '../model/ir.js';
import { buildModel, MODEL_NAMES } from '../model/zoo/index.js';
import { table } from './table.js';

export function listCommand(print: (s: string) => void = console.log): Command {
  return new Command('list')
    .description('list the zoo models and the GPU architecture profiles')
    .action(() => {
      const models = MODEL_NAMES.map((m) => {
        const g = buildModel(m);
        const convs = g.layers.filter((l) => l.op === 'conv');
        const k3 = convs.filter((l) => l.op === 'conv' && l.kernel[0] === 3).length;
        return [m, g.family, g.preprocessing, String(g.layers.length), String(convs.length), String(k3), paramCount(g).toLocaleString('en-US')];
      });
      print('Models');
      print(table(['model', 'family', 'preprocessing', 'layers', 'convs', '3x3 convs', 'parameters'], models));
      const archs = ARCH_NAMES.map((a) => {
        const p = gpuProfile(a);
        return [a, p.board, String(p.smCount), `${p.sharedPerSm / 1024} / ${Math.floor(p.sharedPerBlockOptin / 1024)} KiB`,
          String(p.regsPerSm), `${p.maxThreadsPerSm} / ${p.maxBlocksPerSm}`, `${p.l2Bytes / 2 ** 20} MiB`,
          `${p.fp32Tflops} TFLOP/s`, `${p.memBandwidthGBs} GB/s`];
      });
      print('\nArchitectures');
      print(table(['arch', 'board', 'SMs', 'smem SM / block', 'regs/SM', 'threads / blocks per SM', 'L2', 'fp32 peak', 'DRAM'], archs));
    });
}
