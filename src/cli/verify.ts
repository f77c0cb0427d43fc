// `cusnn-gen verify <dir> --images DIR`: cuSNN path vs cuDNN-only path, checked then timed.
import { writeFileSync } from 'node:fs';
import { Command } from 'commander';
import { verifyNetwork } from '../bench/verify.js';
import { intOption, numberOption } from '../output/exit.js';

export function verifyCommand(print: (s: string) => void = console.log): Command {
  return new Command('verify')
    .description('compare the generated-kernel path with the cuDNN-only path on the GPU: outputs, top-k, per-layer times')
    .argument('<dir>', 'generated folder with a built addon')
    .requiredOption('--images <paths...>', 'image folder or files in the original format')
    .option('--weights <path>', 'weights (default: as recorded in plan.json)')
    .option('--fill-missing', 'fill tensors missing from --weights synthetically (listed)')
    .option('--min-sparsity <x>', 'time the convs with at least this fraction of input zeros, 0..1', numberOption('--min-sparsity', 0, 1), 0.8)
    .option('--iters <n>', 'timed graph replays per measurement, 1..1000000', intOption('--iters', 1, 1_000_000), 200)
    .option('--json <file>', 'write the results as JSON')
    .action((dir: string, o: { images: string[]; weights?: string; fillMissing?: boolean; minSparsity: number; iters: number; json?: string }) => {
      const r = verifyNetwork(dir, { images: o.images.length === 1 ? o.images[0]! : o.images, weights: o.weights, fillMissing: o.fillMissing,
        minSparsity: o.minSparsity, iters: o.iters, log: (s) => process.stderr.write(`${s}\n`) });
      const faster = r.layers.filter((l) => l.cusnnUs < l.cudnnUs).length;
      print(`${r.model}: ${r.images} images, max rel. error ${r.maxRelError.toExponential(2)}, top-${r.top} same on ${r.topAgree}/${r.images}; ` +
        `forward ${r.forwardUs.cusnn.toFixed(1)} us (cuSNN) vs ${r.forwardUs.cudnn.toFixed(1)} us (cuDNN); ` +
        `${faster}/${r.layers.length} layers with >= ${(100 * o.minSparsity).toFixed(0)}% zeros faster through generated kernels`);
      if (o.json) writeFileSync(o.json, `${JSON.stringify(r, null, 2)}\n`);
    });
}
