// `cusnn-gen bench` without a GPU: argument validation, the model list and --all, which weights
// each model gets (real where the folder has them, synthetic elsewhere, named so), the inputs,
// the GPU probe, the reuse of an unchanged build, and the CLI's one-line error on a machine
// without a GPU (the GPU side is test/gpu/bench.test.ts).
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { needsBuiltCli, oneLineError, runCli } from '../helpers/cli.js';
import { inProcess, sampleIndexes } from '../helpers/in-process.js';
import { mulberry32, testSeed } from '../helpers/random.js';
import { runBench } from '../../src/bench/bench.js';
import {
  ALL_MODELS, batchFiles, benchImages, buildFingerprint, defaultDir, expandModels, gpuAbsentReason, parseBatches, prepareFolder, randomImages, resolveWeights,
} from '../../src/bench/prepare.js';
import { findNvcc } from '../../src/toolchain/nvcc.js';
import { MODEL_NAMES } from '../../src/model/zoo/index.js';
import { EXIT } from '../../src/output/exit.js';
import { packageRoot } from '../../src/paths.js';
import { IMAGE_BYTES, readImage } from '../../src/runtime/images.js';
import { GraphBuilder } from '../../src/model/builder.js';
import { uniformPad } from '../../src/model/ir.js';
import { writeOnnx } from '../../src/model/onnx/export.js';
import { syntheticWeights } from '../../src/weights/synthetic.js';

const tmp = mkdtempSync(join(tmpdir(), 'cusnn-bench-'));
needsBuiltCli();
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const run = runCli;
const hasGpu = gpuAbsentReason() === null;

describe('bench arguments', () => {
  it('--all is the eight zoo models in the issue\'s order', () => {
    expect(expandModels({ all: true })).toEqual(['densenet169', 'densenet201', 'resnet50', 'resnet152', 'resnet101', 'densenet121', 'vgg16', 'vgg19']);
    expect([...ALL_MODELS].sort()).toEqual([...MODEL_NAMES].sort());
  });

  it('--model takes a comma-separated list, in order, without duplicates', () => {
    expect(expandModels({ model: 'resnet50' })).toEqual(['resnet50']);
    expect(expandModels({ model: 'vgg19, resnet50,vgg19' })).toEqual(['vgg19', 'resnet50']);
  });

  it('refuses unknown models, both or neither of --model and --all', () => {
    expect(() => expandModels({ model: 'resnet50,resnet18' })).toThrow(/unknown model 'resnet18' \(known: resnet50/);
    expect(() => expandModels({ model: 'resnet50', all: true })).toThrow(/--model and --all exclude each other/);
    expect(() => expandModels({})).toThrow(/give --model <name>\[,<name>\.\.\.\] or --all/);
    expect(() => expandModels({ model: ' , ' })).toThrow(/no model named/);
  });

  it('--batch is a list of positive integers', () => {
    expect(parseBatches('1')).toEqual([1]);
    expect(parseBatches('1,8,32')).toEqual([1, 8, 32]);
    expect(parseBatches('8, 1,8')).toEqual([8, 1]);
    for (const bad of ['0', '-1', 'a', '1,,2', '1.5', '', '65536', '1e3', '0x10', '99999999999999999999']) expect(() => parseBatches(bad), bad).toThrow(/--batch must be a comma-separated list of positive integers \(each <= 65535/);
    // The launchers' limit (gridDim.z), not less: batch 5000 is a valid batch.
    expect(parseBatches('5000,65535')).toEqual([5000, 65535]);
  });

  it('runBench validates its options before touching anything', async () => {
    const out = join(tmp, 'never');
    await expect(runBench({ models: ['resnet18'], arch: 'sm_90', out })).rejects.toThrow(/unknown model 'resnet18'/);
    await expect(runBench({ models: ['resnet50'], arch: 'sm_61', out })).rejects.toThrow(/unknown arch 'sm_61'/);
    await expect(runBench({ models: ['resnet50'], arch: 'sm_90', batches: [0], out })).rejects.toThrow(/batch must be an integer >= 1/);
    await expect(runBench({ models: ['resnet50'], arch: 'sm_90', batches: [], out })).rejects.toThrow(/no batch sizes/);
    await expect(runBench({ models: [], arch: 'sm_90', out })).rejects.toThrow(/no models/);
    await expect(runBench({ models: ['resnet50'], arch: 'sm_90', energySeconds: -1, out })).rejects.toThrow(/energySeconds/);
    expect(existsSync(out)).toBe(false);
  });
});

describe('weights: real where the folder has them, synthetic elsewhere', () => {
  const dir = join(tmp, 'weights');
  mkdirSync(join(dir, 'densenet169'), { recursive: true });
  mkdirSync(join(dir, 'vgg16'), { recursive: true }); // a folder without .bin files does not count
  mkdirSync(join(dir, 'resnet101'), { recursive: true });
  writeFileSync(join(dir, 'resnet50.safetensors'), 'fake: only the name is looked at here');
  writeFileSync(join(dir, 'densenet169', 'conv1_conv.bin'), Buffer.alloc(16));
  writeFileSync(join(dir, 'resnet101.safetensors'), 'fake');
  writeFileSync(join(dir, 'resnet101', 'conv1_conv.bin'), Buffer.alloc(16));

  it('<model>.safetensors is real weights', () => {
    expect(resolveWeights('resnet50', dir)).toEqual({ kind: 'real', path: join(dir, 'resnet50.safetensors'), fillMissing: true, why: `${join(dir, 'resnet50.safetensors')} (tensors it lacks filled synthetically)` });
  });

  it('a <model>/ folder of .bin files is real weights, missing tensors filled', () => {
    const w = resolveWeights('densenet169', dir);
    expect(w).toMatchObject({ kind: 'real', path: join(dir, 'densenet169'), fillMissing: true });
    expect(w.why).toMatch(/cuSNN \.bin folder; missing tensors filled synthetically/);
  });

  it('the safetensors file wins over the .bin folder', () => {
    expect(resolveWeights('resnet101', dir).path).toBe(join(dir, 'resnet101.safetensors'));
  });

  it('anything else is synthetic, and says why', () => {
    expect(resolveWeights('vgg16', dir)).toEqual({ kind: 'synthetic', path: null, fillMissing: false, why: `neither vgg16.safetensors nor vgg16/*.bin in ${dir}` });
    expect(resolveWeights('densenet121', dir).kind).toBe('synthetic');
    expect(resolveWeights('resnet50', null)).toEqual({ kind: 'synthetic', path: null, fillMissing: false, why: 'no weights folder' });
  });

  it('folders: as given (must exist), else the shared artifact\'s when present, else none', () => {
    expect(defaultDir(dir, '/nonexistent')).toBe(dir);
    expect(() => defaultDir(join(tmp, 'nope'), dir)).toThrow(/'.*nope' does not exist/);
    expect(defaultDir(undefined, dir)).toBe(dir);
    expect(defaultDir(undefined, join(tmp, 'nope'))).toBeNull();
  });

  it.skipIf(!existsSync('../shared/cusnn-artifact/weights'))('the shared artifact: real for resnet50 and the DenseNets it has, synthetic for the rest', () => {
    const shared = '../shared/cusnn-artifact/weights';
    const kinds = Object.fromEntries(ALL_MODELS.map((m) => [m, resolveWeights(m, shared).kind]));
    expect(kinds).toMatchObject({ resnet50: 'real', densenet169: 'real', densenet201: 'real', vgg16: 'synthetic', resnet152: 'synthetic' });
  });
});

describe('inputs', () => {
  it('random image-like inputs are seeded, in the artifact\'s format, written once', () => {
    const a = randomImages(join(tmp, 'ra'), 3, 7);
    const b = randomImages(join(tmp, 'rb'), 3, 7);
    const c = randomImages(join(tmp, 'rc'), 1, 8);
    expect(a).toHaveLength(3);
    for (const f of a) expect(statSync(f).size).toBe(IMAGE_BYTES);
    expect(readFileSync(a[1]!).equals(readFileSync(b[1]!))).toBe(true);
    expect(readFileSync(a[0]!).equals(readFileSync(a[1]!))).toBe(false);
    expect(readFileSync(a[0]!).equals(readFileSync(c[0]!))).toBe(false);
    const img = readImage(a[0]!);
    expect(img.reduce((m, v) => Math.min(m, v), Infinity)).toBeGreaterThanOrEqual(0);
    expect(img.reduce((m, v) => Math.max(m, v), -Infinity)).toBeLessThanOrEqual(255);
    const mtime = statSync(a[0]!).mtimeMs;
    randomImages(join(tmp, 'ra'), 3, 7);
    expect(statSync(a[0]!).mtimeMs).toBe(mtime);
  });

  it('benchImages: the folder\'s images, or random ones named as such', () => {
    const r = benchImages(null, join(tmp, 'imgs'), 3, 32, 2);
    expect(r).toMatchObject({ random: true, describe: 'random image-like (seed 3, 2 images)' });
    const f = benchImages(join(tmp, 'imgs', 'random-images-seed3'), tmp, 0);
    expect(f).toMatchObject({ random: false, files: r.files });
    expect(f.describe).toMatch(/^2 images from /);
  });

  it('a batch larger than the images repeats them', () => {
    expect(batchFiles(['a', 'b', 'c'], 2)).toEqual(['a', 'b']);
    expect(batchFiles(['a', 'b', 'c'], 5, 2)).toEqual(['c', 'a', 'b', 'c', 'a']);
    expect(() => batchFiles([], 1)).toThrow(/no input images/);
  });
});

describe('GPU probe', () => {
  it('CUDA_VISIBLE_DEVICES="" or -1 hides every GPU', () => {
    expect(gpuAbsentReason({ CUDA_VISIBLE_DEVICES: '' })).toMatch(/CUDA_VISIBLE_DEVICES='' hides every GPU/);
    expect(gpuAbsentReason({ CUDA_VISIBLE_DEVICES: '-1' })).toMatch(/hides every GPU/);
  });

  it.skipIf(hasGpu)('without a GPU: cusnn-gen bench exits non-zero with one clear line, before generating anything', () => {
    const out = join(tmp, 'nogpu');
    const r = run('bench', '--model', 'resnet50', '--arch', 'sm_90', '--out', out);
    oneLineError(r, /^cusnn-gen bench: no CUDA device \(.+\): the bench runs on an NVIDIA GPU/);
    expect(r.code, 'no GPU: exit 3 (EXIT.noTool)').toBe(EXIT.noTool);
    expect(existsSync(out)).toBe(false);
    const all = run('bench', '--all', '--arch', 'sm_90');
    oneLineError(all, /^cusnn-gen bench: no CUDA device/);
    expect(all.code).toBe(EXIT.noTool);
  });
});

// The argument errors through main() in this process (the command tree dist/cli.js runs, without
// ~1 s of node start per case), and a fresh random sample of them through the executable, which
// must print the same bytes with the same exit code (seed printed; CUSNN_TEST_SEED repeats it).
const ARGS_SEED = testSeed();
describe(`cusnn-gen bench arguments (CLI, seed ${ARGS_SEED})`, () => {
  it('bad arguments exit non-zero with one clear line', async () => {
    const m = ['--model', 'resnet50', '--arch', 'sm_90'];
    const cases: [args: string[], code: number | null, pattern: RegExp][] = [
      [['--arch', 'sm_90'], null, /give --model <name>\[,<name>\.\.\.\] or --all/],
      [['--model', 'resnet50'], null, /required option '--arch <sm_xx>' not specified/],
      [['--model', 'resnet50', '--arch', 'sm_61'], null, /sm_61.*(invalid|Allowed choices)/],
      [['--model', 'resnet18', '--arch', 'sm_90'], null, /unknown model 'resnet18'/],
      [['--model', 'resnet50', '--all', '--arch', 'sm_90'], null, /--model and --all exclude each other/],
      // Usage errors (exit 2): each numeric option with its range, checked before any GPU probe.
      [[...m, '--batch', '1,0'], EXIT.usage, /--batch must be a comma-separated list of positive integers \(each <= 65535/],
      [[...m, '--batch', '100000'], EXIT.usage, /--batch must be .*got '100000'/],
      [[...m, '--iters', '50'], EXIT.usage, /^cusnn-gen: --iters must be an integer in \[100, 1000000\], got '50'$/],
      [[...m, '--iters', '1e3'], EXIT.usage, /--iters must be an integer in \[100, 1000000\], got '1e3'/],
      [[...m, '--rounds', '2'], EXIT.usage, /--rounds must be an integer in \[3, 1000\], got '2'/],
      [[...m, '--layer-iters', '5.5'], EXIT.usage, /--layer-iters must be an integer in \[10, 1000000\], got '5\.5'/],
      [[...m, '--check-inputs', '0'], EXIT.usage, /--check-inputs must be an integer in \[1, 1024\], got '0'/],
      [[...m, '--seed', '-1'], EXIT.usage, /--seed must be an integer in \[0, 4294967295\], got '-1'/],
      [[...m, '--jobs', 'x'], EXIT.usage, /--jobs must be an integer in \[1, 1024\], got 'x'/],
      [[...m, '--energy-seconds', '1'], EXIT.usage, /--energy-seconds must be 0 \(no energy\) or between 2 and 600/],
      [[...m, '--energy-seconds', 'NaN'], EXIT.usage, /--energy-seconds must be 0 \(no energy\) or between 2 and 600/],
      [[...m, '--synthetic', '--weights', tmp], EXIT.usage, /--synthetic and --weights exclude each other/],
      [[...m, '--random-inputs', '--images', tmp], EXIT.usage, /--random-inputs and --images exclude each other/],
    ];
    for (const [args, code, pattern] of cases) {
      const r = await inProcess(['bench', ...args]);
      oneLineError(r, pattern);
      if (code !== null) expect(r.code, args.join(' ')).toBe(code);
      expect(r.out, args.join(' ')).toBe('');
    }
    for (const i of sampleIndexes(cases.length, 3, mulberry32(ARGS_SEED))) {
      const [args, code, pattern] = cases[i]!;
      const r = run('bench', ...args);
      oneLineError(r, pattern);
      if (code !== null) expect(r.code, args.join(' ')).toBe(code);
      expect(r, `spawned: bench ${args.join(' ')}`).toEqual(await inProcess(['bench', ...args]));
    }
  });

  it('--help lists the options', () => {
    const r = run('bench', '--help');
    expect(r.code).toBe(0);
    for (const opt of ['--model', '--all', '--arch', '--batch', '--weights', '--images', '--out', '--iters', '--energy-seconds']) expect(r.out).toContain(opt);
  });
});

// The generated folder and its addon are reused when nothing the build depends on changed.
function buildReason(): string | null {
  if (!findNvcc()) return 'nvcc not found';
  const root = packageRoot();
  const ok = ['cudnn', 'cuda'].some((d) => existsSync(join(root, '.deps', d, 'nvidia', 'cudnn', 'include', 'cudnn.h'))) ||
    ['/usr/include/cudnn.h', '/usr/include/x86_64-linux-gnu/cudnn.h', '/usr/local/cuda/include/cudnn.h'].some((f) => existsSync(f)) ||
    (process.env.CUDNN_INCLUDE_DIR !== undefined && existsSync(join(process.env.CUDNN_INCLUDE_DIR, 'cudnn.h')));
  return ok ? null : 'cuDNN headers not found (python3 -m pip install --no-deps --target .deps/cudnn nvidia-cudnn-cu13 nvidia-cublas)';
}
const noBuild = buildReason();

/**
 * A small network exported to ONNX (fresh synthetic weights), planned forced as the bench plans:
 * three generated kernels of the three sm_90 families of VGG-16's folder (dconv 3x3, igemm 3x3,
 * igemm 1x1) where VGG-16 has eight, so the addon it builds (the native runtime, the registry and
 * the kernels, through cusnn-gen's CMakeLists.txt) takes about half the time; what is checked
 * (the build, its stamp, the reuse) does not depend on the network.
 */
function tinyOnnx(file: string, seed: number): string {
  const b = new GraphBuilder('tiny_bench', 'vgg', 'caffe');
  let x = b.input('input', [3, 32, 32]);
  x = b.relu('block1_conv1_relu', b.conv('block1_conv1', x, 16, { kernel: 3, pad: uniformPad(1), bias: true }));
  x = b.relu('block1_conv2_relu', b.conv('block1_conv2', x, 32, { kernel: 3, pad: uniformPad(1), bias: true }));
  x = b.pool('maxpool', 'block1_pool', x, { kernel: 2, stride: 2 });
  x = b.relu('block2_conv1_relu', b.conv('block2_conv1', x, 64, { kernel: 3, pad: uniformPad(1), bias: true }));
  x = b.relu('block2_conv2_relu', b.conv('block2_conv2', x, 32, { kernel: 1, bias: true }));
  x = b.globalAvgPool('avg_pool', x);
  b.softmax('predictions', b.dense('fc', x, 10));
  const g = b.build();
  writeOnnx(file, g, syntheticWeights(g, seed));
  return file;
}

describe.skipIf(noBuild !== null)('generated folder and addon reuse', () => {
  const buildDir = join(tmp, 'build');
  const weights = { kind: 'synthetic', path: null, fillMissing: false, why: 'test' } as const;
  const model = tinyOnnx(join(tmp, 'tiny_bench.onnx'), ARGS_SEED % 1_000_000);

  it('builds once; a second prepare with the same inputs touches no kernel and skips the build', async () => {
    const lines: string[] = [];
    const a = await prepareFolder({ model, arch: 'sm_90', weights, seed: 0, buildDir, log: (s) => lines.push(s) });
    expect(a.reused).toBe(false);
    expect(a.dir).toBe(join(buildDir, 'tiny_bench-sm_90'));
    expect(a.kernels).toBe(3);
    expect(new Set(a.generated.emitted.kernels.map((k) => k.spec.family))).toEqual(new Set(['dconv', 'igemm']));
    expect(existsSync(join(a.dir, 'build', 'cusnn-bench-build.json'))).toBe(true);
    expect(existsSync(join(buildDir, '.stage-tiny_bench-sm_90'))).toBe(false);
    const kernel = join(a.dir, a.generated.emitted.kernels[0]!.file);
    const mtime = statSync(kernel).mtimeMs;
    const b = await prepareFolder({ model, arch: 'sm_90', weights, seed: 0, buildDir, log: (s) => lines.push(s) });
    expect(b.reused).toBe(true);
    expect(statSync(kernel).mtimeMs).toBe(mtime);
    expect(lines.some((l) => /unchanged since the last build .*: reused/.test(l))).toBe(true);
  }, 900_000);

  it('the fingerprint follows the kernels and the arch', () => {
    const dir = join(buildDir, 'tiny_bench-sm_90');
    const f = buildFingerprint(dir, 'sm_90');
    expect(buildFingerprint(dir, 'sm_90')).toBe(f);
    expect(buildFingerprint(dir, 'sm_89')).not.toBe(f);
    const extra = join(dir, 'kernels', 'zz_extra.cu');
    writeFileSync(extra, '// extra\n');
    expect(buildFingerprint(dir, 'sm_90')).not.toBe(f);
    rmSync(extra);
    expect(buildFingerprint(dir, 'sm_90')).toBe(f);
  });
});

if (noBuild !== null) {
  describe('generated folder and addon reuse (skipped)', () => {
    it.skip(`skipped: ${noBuild}`, () => {});
  });
}
