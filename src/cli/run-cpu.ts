// `cusnn-gen run --cpu <dir|model> --input x.npy|x.bin` (also `cusnn-gen run-cpu ...`): the whole
// network through the float64 CPU reference (src/runtime/reference.ts), on any machine. The target
// is a generated folder (its plan.json names the model and the weights), a zoo name or an ONNX
// file; the input a preprocessed N,C,H,W (or C,H,W) tensor as .npy (float32 or float64) or raw
// little-endian float32 .bin, or images in the original format (`--images`, preprocessed as the
// model's family wants).
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { Command, InvalidArgumentError } from 'commander';
import { size, type Graph, type Shape } from '../model/ir.js';
import { modelArgProblem, parseInputShape, resolvedWeights, resolveModel, type ResolvedModel } from '../model/resolve.js';
import { intOption, MAX_SEED, UsageError } from '../output/exit.js';
import { listImages, preprocess, readImage } from '../runtime/images.js';
import { planModel, readPlanFile } from '../runtime/network.js';
import { referenceForward } from '../runtime/reference.js';
import { assertLittleEndian, type WeightSet } from '../weights/store.js';
import { npyBytes } from './run.js';

/** `--input-shape C,H,W` for commander. */
export function inputShapeOption(v: string): Shape {
  const s = parseInputShape(v);
  if (typeof s === 'string') throw new InvalidArgumentError(s);
  return s;
}

/** `--model <name|file.onnx>` for commander: a zoo name or a path ending in .onnx (read later). */
export function modelOption(v: string): string {
  const problem = modelArgProblem(v);
  if (problem) throw new InvalidArgumentError(problem);
  return v;
}

/**
 * `run ... --cpu ...` is `run-cpu ...`: the CPU run has other options (no addon, no --images
 * requirement), so it is its own command; this rewrites the arguments before parsing.
 */
export function routeCpuRun(argv: readonly string[]): readonly string[] {
  if (argv[0] !== 'run') return argv;
  const end = argv.indexOf('--');
  const head = end < 0 ? argv : argv.slice(0, end);
  const at = head.indexOf('--cpu');
  if (at < 0) return argv;
  return ['run-cpu', ...argv.slice(1, at), ...argv.slice(at + 1)];
}

export interface RunTarget {
  readonly graph: Graph;
  readonly weights: WeightSet;
  /** What was resolved, in words (for the log). */
  readonly label: string;
}

export interface TargetOptions {
  readonly inputShape?: Shape | undefined;
  readonly weights?: string | undefined;
  readonly fillMissing?: boolean | undefined;
  readonly seed?: number | undefined;
}

/**
 * A generated folder, a zoo name or an ONNX file as a graph and its weights. A folder's plan.json
 * names the model (for an ONNX model, `modelFile` records the file and its digest, which must
 * still match) and how its weights were loaded.
 */
export function resolveRunTarget(arg: string, o: TargetOptions = {}): RunTarget {
  const isDir = existsSync(arg) && statSync(arg).isDirectory();
  if (!isDir) {
    const problem = modelArgProblem(arg);
    if (problem) throw new UsageError(`'${arg}' is neither a generated folder nor a model: ${problem}`);
    const m = resolveModel(arg, { inputShape: o.inputShape });
    const weights = resolvedWeights(m, { path: o.weights, fillMissing: o.fillMissing, seed: o.seed });
    return { graph: m.graph, weights, label: describe(m) };
  }
  const plan = readPlanFile(arg);
  if (o.inputShape) throw new UsageError(`--input-shape is for an ONNX file; the folder ${arg} records its model's input shape`);
  const { graph, weights } = planModel(arg, plan, { weights: o.weights, fillMissing: o.fillMissing, seed: o.seed });
  return { graph, weights, label: `${arg} (${plan.modelFile ? `ONNX ${plan.modelFile.path}` : `zoo ${graph.name}`})` };
}

const describe = (m: ResolvedModel): string => (m.kind === 'onnx' ? `ONNX ${m.path}` : `zoo ${m.graph.name}`);

/** An input file's bytes; a missing or unreadable file is one clear line naming it. */
function readInputFile(file: string): Buffer {
  try {
    return readFileSync(file);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new Error(`input '${file}' ${code === 'ENOENT' ? 'does not exist' : `cannot be read (${(e as Error).message})`}`);
  }
}

/** A float tensor from a .npy file (little-endian float32 or float64, C order) with its shape. */
export function readNpy(file: string): { data: Float32Array; shape: number[] } {
  assertLittleEndian();
  const b = readInputFile(file);
  const bad = (why: string): never => {
    throw new Error(`input '${file}': ${why}; expected a NumPy .npy file of float32 or float64 values`);
  };
  if (b.length < 10 || b.toString('latin1', 0, 6) !== '\x93NUMPY') bad('not a .npy file (no \\x93NUMPY magic)');
  const major = b[6]!;
  const headerLen = major === 1 ? b.readUInt16LE(8) : major === 2 || major === 3 ? b.readUInt32LE(8) : bad(`.npy format version ${major} is unknown`);
  const start = major === 1 ? 10 : 12;
  if (start + headerLen > b.length) bad('header runs past the end of the file');
  const header = b.toString('latin1', start, start + headerLen);
  const descr = /'descr'\s*:\s*'([^']*)'/.exec(header)?.[1];
  const fortran = /'fortran_order'\s*:\s*(True|False)/.exec(header)?.[1];
  const shapeText = /'shape'\s*:\s*\(([^)]*)\)/.exec(header)?.[1];
  if (descr === undefined || fortran === undefined || shapeText === undefined) bad('header lacks descr, fortran_order or shape');
  if (fortran === 'True') bad('Fortran order (save it in C order)');
  const shape = shapeText!.split(',').map((s) => s.trim()).filter((s) => s !== '').map(Number);
  if (shape.some((d) => !Number.isSafeInteger(d) || d < 0)) bad(`shape (${shapeText}) is not a list of sizes`);
  const n = size(shape);
  const body = b.subarray(start + headerLen);
  const bytes = descr === '<f4' ? 4 : descr === '<f8' ? 8 : bad(`dtype '${descr}'`);
  if (body.length !== n * bytes) bad(`${body.length} data bytes for shape (${shape.join(', ')}) of ${descr} (${n * bytes} needed)`);
  const copy = new Uint8Array(body.length);
  copy.set(body);
  const data = bytes === 4 ? new Float32Array(copy.buffer) : Float32Array.from(new Float64Array(copy.buffer));
  return { data, shape };
}

/** The input batch for `graph`: a .npy tensor [N,C,H,W] or [C,H,W], or raw float32 .bin (N inferred). */
export function readInputTensor(file: string, graph: Graph): { data: Float32Array; batch: number } {
  const [c, h, w] = graph.layers.find((l) => l.op === 'input')!.shape;
  const item = c * h * w;
  let data: Float32Array;
  let batch: number;
  if (file.endsWith('.npy')) {
    const t = readNpy(file);
    const dims = t.shape.length === 3 ? [1, ...t.shape] : t.shape;
    if (dims.length !== 4 || dims[1] !== c || dims[2] !== h || dims[3] !== w || dims[0]! < 1) {
      throw new Error(`input '${file}' has shape (${t.shape.join(', ')}); ${graph.name} takes (N, ${c}, ${h}, ${w}) or (${c}, ${h}, ${w})`);
    }
    data = t.data;
    batch = dims[0]!;
  } else if (file.endsWith('.bin')) {
    assertLittleEndian();
    const b = readInputFile(file);
    if (b.length === 0 || b.length % (4 * item) !== 0) {
      throw new Error(`input '${file}' has ${b.length} bytes; raw float32 N x ${c}x${h}x${w} input needs a positive multiple of ${4 * item}`);
    }
    const copy = new Uint8Array(b.length);
    copy.set(b);
    data = new Float32Array(copy.buffer);
    batch = b.length / (4 * item);
  } else {
    throw new Error(`input '${file}': expected a .npy file or a raw float32 .bin file`);
  }
  for (let i = 0; i < data.length; i++) {
    if (!Number.isFinite(data[i]!)) throw new Error(`input '${file}': value ${i} is ${data[i]}, expected a finite number`);
  }
  return { data, batch };
}

interface RunCpuOptions {
  input?: string;
  images?: string[];
  inputShape?: Shape;
  weights?: string;
  fillMissing?: boolean;
  seed?: number;
  top: number;
  save?: string;
  layer?: string;
}

/** Top-k (index, value) of one item's vector, largest first (ties: the smaller index). */
function topK(v: Float64Array, from: number, n: number, k: number): [number, number][] {
  const idx = Array.from({ length: n }, (_, i) => i);
  idx.sort((a, b) => v[from + b]! - v[from + a]! || a - b);
  return idx.slice(0, k).map((i) => [i, v[from + i]!]);
}

export function runCpuCommand(print: (s: string) => void = console.log, log: (s: string) => void = (s) => void process.stderr.write(`${s}\n`)): Command {
  return new Command('run-cpu')
    .description('run a network on the CPU with the float64 reference (no GPU): a generated folder, a zoo model or an ONNX file; also `cusnn-gen run --cpu ...`')
    .argument('<dir|model>', 'generated folder (plan.json), zoo model name, or .onnx file')
    .option('--input <file>', 'input tensor: .npy (float32/float64, N,C,H,W or C,H,W) or raw little-endian float32 .bin (N inferred), already preprocessed')
    .option('--images <paths...>', 'instead of --input: images in the original format (224x224x3 float32 BGR HWC), preprocessed for the model')
    .option('--input-shape <C,H,W>', 'an ONNX model\'s input C,H,W where the file leaves them symbolic', inputShapeOption)
    .option('--weights <path>', 'weights: an .onnx file of the same network, a cuSNN .bin folder or a .safetensors file (default: the folder\'s, the ONNX file\'s own, or synthetic)')
    .option('--fill-missing', 'fill tensors missing from --weights synthetically')
    .option('--seed <n>', `seed of synthetic weights, 0..${MAX_SEED}`, intOption('--seed', 0, MAX_SEED))
    .option('--top <k>', 'classes to print per item, 1..1000', intOption('--top', 1, 1000), 5)
    .option('--save <file.npy>', 'write the output (or --layer\'s output) as a float32 NumPy file')
    .option('--layer <name>', 'with --save: save this layer\'s output instead of the network output')
    .action((target: string, o: RunCpuOptions) => {
      if ((o.input === undefined) === (o.images === undefined)) throw new UsageError('run --cpu needs one of --input <file.npy|file.bin> or --images <dir|files>');
      if (o.layer !== undefined && o.save === undefined) throw new UsageError('--layer goes with --save');
      const t = resolveRunTarget(target, { inputShape: o.inputShape, weights: o.weights, fillMissing: o.fillMissing, seed: o.seed });
      log(`model: ${t.label}: ${t.graph.layers.length} layers; weights: ${t.weights.source}`);
      let input: Float32Array;
      let batch: number;
      if (o.images) {
        const files = listImages(o.images.length === 1 ? o.images[0]! : o.images);
        input = preprocess(files.map((f) => readImage(f)), t.graph.preprocessing);
        batch = files.length;
        const [c, h, w] = t.graph.layers[0]!.shape;
        if (input.length !== batch * c * h * w) throw new Error(`${t.graph.name} takes ${c}x${h}x${w} inputs; images are 3x224x224 (use --input for other shapes)`);
      } else {
        ({ data: input, batch } = readInputTensor(o.input!, t.graph));
      }
      if (o.layer !== undefined && !t.graph.layers.some((l) => l.name === o.layer)) throw new Error(`${t.graph.name}: no layer named '${o.layer}'`);
      const t0 = performance.now();
      const res = referenceForward(t.graph, t.weights, input, batch, { keep: (l) => l === o.layer });
      log(`float64 reference forward of batch ${batch}: ${((performance.now() - t0) / 1000).toFixed(2)} s`);
      const byName = new Map(t.graph.layers.map((l) => [l.name, l]));
      // The graph's outputs: the layers nothing reads (a kept --layer is saved, not printed).
      const read = new Set(t.graph.layers.flatMap((l) => l.inputs));
      const outs = t.graph.layers.filter((l) => !read.has(l.name)).map((l) => l.name);
      for (const name of outs) {
        const [c, h, w] = byName.get(name)!.shape;
        const data = res.outputs.get(name)!;
        print(`${name} [${batch}x${c}x${h}x${w}]`);
        for (let n = 0; n < batch; n++) {
          if (h === 1 && w === 1) {
            const top = topK(data, n * c, c, Math.min(o.top, c));
            print(`  ${n}: ${top.map(([i, v]) => `${i} ${v.toPrecision(6)}`).join(', ')}`);
          } else {
            const item = data.subarray(n * c * h * w, (n + 1) * c * h * w);
            let lo = Infinity;
            let hi = -Infinity;
            let sum = 0;
            for (const v of item) {
              lo = Math.min(lo, v);
              hi = Math.max(hi, v);
              sum += v;
            }
            print(`  ${n}: min ${lo.toPrecision(6)}, max ${hi.toPrecision(6)}, mean ${(sum / item.length).toPrecision(6)}`);
          }
        }
      }
      if (o.save !== undefined) {
        const name = o.layer ?? outs[outs.length - 1]!;
        const [c, h, w] = byName.get(name)!.shape;
        const shape = h === 1 && w === 1 ? [batch, c] : [batch, c, h, w];
        writeFileSync(o.save, npyBytes(Float32Array.from(res.outputs.get(name)!), shape));
        print(`wrote ${o.save} (${name}, ${shape.join('x')})`);
      }
    });
}
