// `cusnn-gen run <dir> --images ...` and `cusnn-gen calibrate <dir> --images DIR`: the whole
// network on the GPU through the folder's addon.
import { writeFileSync } from 'node:fs';
import { Command, Option } from 'commander';
import { listImages } from '../runtime/images.js';
import { loadNetwork, type SwitchMode } from '../runtime/network.js';
import { addMeasuredTimes } from '../runtime/tune.js';
import { intOption, MAX_BATCH, UsageError } from '../output/exit.js';
import { readInputTensor } from './run-cpu.js';
import { table } from './table.js';

interface RunOptions {
  images?: string[];
  input?: string;
  top: number;
  save?: string;
  layer?: string;
  mode: SwitchMode;
  math: 'fp32' | 'tf32';
  weights?: string;
  fillMissing?: boolean;
  batch?: number;
  algo: 'search' | 'implicit-gemm';
  iters: number;
}

/** A float32 array as a NumPy .npy file (format 1.0, little-endian '<f4', C order). */
export function npyBytes(data: Float32Array, shape: readonly number[]): Buffer {
  let header = `{'descr': '<f4', 'fortran_order': False, 'shape': (${shape.join(', ')}${shape.length === 1 ? ',' : ''}), }`;
  const unpadded = 10 + header.length + 1;
  header += ' '.repeat((64 - (unpadded % 64)) % 64) + '\n';
  const pre = Buffer.alloc(10);
  pre.write('\x93NUMPY', 0, 'latin1');
  pre[6] = 1;
  pre[7] = 0;
  pre.writeUInt16LE(header.length, 8);
  return Buffer.concat([pre, Buffer.from(header, 'latin1'), Buffer.from(data.buffer, data.byteOffset, data.byteLength)]);
}

const modeOption = () => new Option('--mode <mode>', 'static: the plan; dynamic: per-layer threshold decided on the device; cudnn: cuDNN only').choices(['static', 'dynamic', 'cudnn']).default('static');
const mathOption = () => new Option('--math <math>', 'fp32 (exact, FMA) or tf32').choices(['fp32', 'tf32']).default('fp32');

export function runCommand(print: (s: string) => void = console.log): Command {
  return new Command('run')
    .description('run the network of a generated folder on the GPU: top classes, time, optional .npy output')
    .argument('<dir>', 'generated folder with a built addon (cusnn-gen build <dir>)')
    .option('--images <paths...>', 'image folder or files in the original format (224x224x3 float32 BGR HWC), preprocessed for the model')
    .option('--input <file>', 'instead of --images: an input tensor, already preprocessed: .npy (float32/float64, N,C,H,W or C,H,W) or raw little-endian float32 .bin')
    .option('--top <k>', 'classes to print per image, 1..1000 (at most the network\'s classes)', intOption('--top', 1, 1000), 5)
    .option('--save <file.npy>', 'write the output (or --layer\'s output) as a NumPy file')
    .option('--layer <name>', 'with --save: save this layer\'s output instead of the network output')
    .option('--weights <path>', 'weights (default: as recorded in plan.json)')
    .option('--fill-missing', 'fill tensors missing from --weights synthetically')
    .option('--batch <n>', `images per forward, 1..${MAX_BATCH} (default: all at once)`, intOption('--batch', 1, MAX_BATCH))
    .addOption(modeOption())
    .addOption(mathOption())
    .addOption(new Option('--algo <algo>', 'cuDNN algorithms: search (measured at load) or implicit-gemm (fixed, no search)').choices(['search', 'implicit-gemm']).default('search'))
    .option('--iters <n>', 'timed graph replays after the run, 0..1000000 (0: no timing)', intOption('--iters', 0, 1_000_000), 100)
    .action((dir: string, o: RunOptions) => {
      if ((o.images === undefined) === (o.input === undefined)) throw new UsageError('run needs one of --images <dir|files> or --input <file.npy|file.bin>');
      const files = o.images ? listImages(o.images.length === 1 ? o.images[0]! : o.images) : null;
      if (files && files.length > MAX_BATCH && o.batch === undefined) throw new Error(`${files.length} images: more than one forward takes (${MAX_BATCH}); pass --batch`);
      const net = loadNetwork(dir, { weights: o.weights, fillMissing: o.fillMissing, mode: o.mode, math: o.math, algo: o.algo, keep: o.layer ? [o.layer] : [] });
      try {
        // The items: image files (preprocessed for the model's family), or a tensor's batch items.
        const tensor = o.input !== undefined ? readInputTensor(o.input, net.graph) : null;
        if (tensor && tensor.batch > MAX_BATCH && o.batch === undefined) throw new Error(`${o.input}: ${tensor.batch} items: more than one forward takes (${MAX_BATCH}); pass --batch`);
        const per = net.graph.layers[0]!.shape.reduce((a, b) => a * b, 1);
        const labels = files ?? Array.from({ length: tensor!.batch }, (_, i) => `${o.input}[${i}]`);
        const load = (from: number, to: number): Float32Array => (files ? net.preprocessFiles(files.slice(from, to)) : tensor!.data.subarray(from * per, to * per));
        const count = labels.length;
        const batch = o.batch ?? count;
        // Which plan static mode runs at each batch size this run uses: at a batch without a plan the
        // nearest plan is timed against cuDNN, on the inputs of the first chunk of that size.
        if (o.mode === 'static') {
          const full = Math.min(batch, count);
          const rest = count % batch;
          const sizes: [number, number][] = [[full, 0]];
          if (rest > 0 && rest !== full) sizes.push([rest, count - rest]);
          for (const [b, from] of sizes) {
            const f = net.planFor(b, load(from, from + b));
            if (f.source !== 'plan') process.stderr.write(`${net.plan.model}: ${f.note}\n`);
          }
        }
        const outs: Float32Array[] = [];
        const rows: string[][] = [];
        const outShape = net.graph.layers[net.graph.layers.length - 1]!.shape;
        const classes = outShape[0];
        const flat = outShape[1] * outShape[2] === 1;
        const outFloats = outShape[0] * outShape[1] * outShape[2];
        if (flat && o.top > classes) throw new Error(`--top ${o.top}: ${net.plan.model} has ${classes} classes`);
        if (o.layer && !net.graph.layers.some((l) => l.name === o.layer)) throw new Error(`--layer '${o.layer}': no such layer in ${net.plan.model}`);
        for (let i = 0; i < count; i += batch) {
          const n = Math.min(batch, count - i);
          const y = net.infer(load(i, i + n));
          outs.push(o.layer ? net.output(o.layer, n) : y);
          for (let j = 0; j < n; j++) {
            const scores = y.subarray(j * outFloats, (j + 1) * outFloats);
            if (flat) {
              const top = [...scores.keys()].sort((a, b) => scores[b]! - scores[a]! || a - b).slice(0, o.top);
              rows.push([labels[i + j]!, top.map((c) => `${c} (${scores[c]!.toFixed(4)})`).join('  ')]);
            } else {
              let lo = Infinity;
              let hi = -Infinity;
              for (const v of scores) {
                lo = Math.min(lo, v);
                hi = Math.max(hi, v);
              }
              rows.push([labels[i + j]!, `${outShape.join('x')} output: min ${lo.toFixed(4)}, max ${hi.toFixed(4)}`]);
            }
          }
        }
        print(table([files ? 'image' : 'input', flat ? `top ${o.top}: class (score)` : 'output'], rows));
        const t = o.iters > 0 ? net.time(Math.min(batch, count), o.iters) : null;
        if (t) print(`${net.plan.model} ${o.mode} batch ${Math.min(batch, count)}: median ${t.medianUs.toFixed(1)} us per forward (p10 ${t.p10Us.toFixed(1)}, p90 ${t.p90Us.toFixed(1)}; CUDA graph replays)`);
        if (o.save) {
          const all = new Float32Array(outs.reduce((n, a) => n + a.length, 0));
          let at = 0;
          for (const a of outs) { all.set(a, at); at += a.length; }
          const shape = o.layer ? [count, ...net.graph.layers.find((l) => l.name === o.layer)!.shape] : flat ? [count, classes] : [count, ...outShape];
          writeFileSync(o.save, npyBytes(all, shape));
          print(`wrote ${o.save} (${shape.join('x')})`);
        }
      } finally {
        net.dispose();
      }
    });
}

export function calibrateCommand(print: (s: string) => void = console.log): Command {
  return new Command('calibrate')
    .description('measure every conv\'s input sparsity on the GPU over images, and time both paths of every conv that has a kernel; writes <dir>/calibration.json for --calibration')
    .argument('<dir>', 'generated folder with a built addon')
    .requiredOption('--images <dir>', 'image folder in the original format')
    .option('--weights <path>', 'weights (default: as recorded in plan.json)')
    .option('--fill-missing', 'fill tensors missing from --weights synthetically')
    .option('--out <file>', 'where to write (default: <dir>/calibration.json)')
    .option('--no-time', 'measure sparsity only (no per-conv timings of both paths)')
    .action((dir: string, o: { images: string; weights?: string; fillMissing?: boolean; out?: string; time: boolean }) => {
      const net = loadNetwork(dir, { weights: o.weights, fillMissing: o.fillMissing });
      const file = o.out ?? `${dir}/calibration.json`;
      try {
        let cal = net.calibrate(o.images, file);
        if (o.time) {
          const files = listImages(o.images);
          cal = addMeasuredTimes(net, cal, files[files.length - 1]!, file);
        }
        const rows = Object.entries(cal.layers).map(([l, v]) => [l, `${(100 * v.inputSparsity).toFixed(2)}%`,
          v.measured ? v.measured.cudnnUs.toFixed(1) : '', v.measured ? v.measured.actSparseUs.toFixed(1) : '',
          v.measured ? `${(v.measured.cudnnUs / v.measured.actSparseUs).toFixed(2)}x` : '']);
        print(table(['conv', 'input zeros', 'cuDNN us', 'generated us', 'speedup'], rows));
        const timed = Object.values(cal.layers).filter((v) => v.measured).length;
        print(`measured over ${cal.images} images${timed ? `; ${timed} convs timed both ways on ${cal.gpu}` : ''}; wrote ${file}`);
      } finally {
        net.dispose();
      }
    });
}
