// `cusnn-gen list [--json]`: the models and GPU architectures the generator knows.
import { Command } from 'commander';
import { ARCH_NAMES, gpuProfile } from '../arch/profiles.js';
import { paramCount } from '../model/ir.js';
import { buildModel, MODEL_NAMES } from '../model/zoo/index.js';
import { printJson, table } from './table.js';

export interface ListedModel {
  readonly name: string;
  readonly family: string;
  readonly preprocessing: string;
  readonly layers: number;
  readonly convs: number;
  readonly convs3x3: number;
  readonly parameters: number;
}

export function listModels(): ListedModel[] {
  return MODEL_NAMES.map((m) => {
    const g = buildModel(m);
    const convs = g.layers.filter((l) => l.op === 'conv');
    const k3 = convs.filter((l) => l.op === 'conv' && l.kernel[0] === 3).length;
    return { name: m, family: g.family, preprocessing: g.preprocessing, layers: g.layers.length, convs: convs.length, convs3x3: k3, parameters: paramCount(g) };
  });
}

export function listCommand(print: (s: string) => void = console.log): Command {
  return new Command('list')
    .description('list the zoo models and the GPU architecture profiles')
    .option('--json', 'print {models, archs} as JSON')
    .action((o: { json?: boolean }) => {
      const models = listModels();
      const profiles = ARCH_NAMES.map((a) => gpuProfile(a));
      if (o.json) {
        printJson(print, { models, archs: profiles });
        return;
      }
      print('Models');
      print(table(['model', 'family', 'preprocessing', 'layers', 'convs', '3x3 convs', 'parameters'], models.map((m) => [
        m.name, m.family, m.preprocessing, String(m.layers), String(m.convs), String(m.convs3x3), m.parameters.toLocaleString('en-US')])));
      const archs = profiles.map((p) => [p.arch, p.board, String(p.smCount), `${p.sharedPerSm / 1024} / ${Math.floor(p.sharedPerBlockOptin / 1024)} KiB`,
        String(p.regsPerSm), `${p.maxThreadsPerSm} / ${p.maxBlocksPerSm}`, `${p.l2Bytes / 2 ** 20} MiB`,
        `${p.fp32Tflops} TFLOP/s`, `${p.memBandwidthGBs} GB/s`]);
      print('\nArchitectures');
      print(table(['arch', 'board', 'SMs', 'smem SM / block', 'regs/SM', 'threads / blocks per SM', 'L2', 'fp32 peak', 'DRAM'], archs));
    });
}
