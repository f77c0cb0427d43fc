import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { needsBuiltCli, oneLineError, runCli } from '../helpers/cli.js';
import { inProcess, sampleIndexes, type Ran } from '../helpers/in-process.js';
import { mulberry32, testSeed } from '../helpers/random.js';
import { findNvcc } from '../../src/toolchain/nvcc.js';

const tmp = mkdtempSync(join(tmpdir(), 'cusnn-cli-'));
needsBuiltCli();
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const run = runCli;

// The tables of command lines below (error messages, help texts) run main() in this process (the
// command tree dist/cli.js runs, without its ~2 s of node start and imports per case on 2 busy
// cores), and each run spawns a fresh random sample of them through the executable too, which must
// give the same exit code and the same bytes (seed printed; CUSNN_TEST_SEED repeats it). What is
// about the process itself (exit codes, stdout of the real binary, the time the main job takes) is
// spawned in every run: the sampled cases, list, the main job and --check.
const SEED = testSeed();
const rnd = mulberry32(SEED);

/** Each case in this process; `spawned` of them, at random, through the executable too, which must print the same. */
async function table(cases: readonly string[][], check: (r: Ran, args: string[]) => void, spawned: number): Promise<void> {
  for (const args of cases) check(await inProcess(args), args);
  for (const i of sampleIndexes(cases.length, spawned, rnd)) {
    const args = cases[i]!;
    const r = run(...args);
    check(r, args);
    expect(r, `spawned: ${args.join(' ')}`).toEqual(await inProcess(args));
  }
}

describe(`cusnn-gen CLI (seed ${SEED})`, () => {
  it('bad input exits non-zero with one clear line', async () => {
    mkdirSync(join(tmp, 'empty'));
    const cases: [string[], RegExp][] = [
      [['--model', 'resnet18', '--arch', 'sm_90'], /resnet18.*(invalid|Allowed choices).*resnet50/],
      [['--model', 'resnet50', '--arch', 'sm_61'], /sm_61.*(invalid|Allowed choices).*sm_70/],
      [['--arch', 'sm_90'], /--model and --arch are required/],
      [['--model', 'resnet50', '--arch', 'sm_90', '--weights', join(tmp, 'nope.safetensors'), '--out', join(tmp, 'x')], /nope\.safetensors/],
      [['--model', 'resnet50', '--arch', 'sm_90', '--batch', '0'], /--batch must be an integer in \[1, 65535\], got '0'/],
      [['--model', 'vgg16', '--arch', 'sm_90', '--calibration', join(tmp, 'missing.json'), '--out', join(tmp, 'y')], /calibration .*missing\.json/],
      [['inspect', join(tmp, 'empty')], /no plan\.json/],
    ];
    const pattern = new Map(cases.map(([args, re]) => [args.join('\0'), re]));
    await table(cases.map(([args]) => args), (r, args) => oneLineError(r, pattern.get(args.join('\0'))!), 2);
  });

  it('--help works everywhere', async () => {
    await table([[], ['list'], ['inspect'], ['weights'], ['prune']].map((args) => [...args, '--help']), (r, args) => {
      expect(r.code, args.join(' ')).toBe(0);
      expect(r.out).toMatch(/Usage: cusnn-gen/);
    }, 1);
  });

  // In this process: what is checked is how the command tree parses the subcommands' own options
  // (main() builds the same tree the executable runs); the executable is spawned by the tests around.
  it('weights and prune subcommands take their own --model/--weights inside the full command tree', async () => {
    const w = join(tmp, 'd121.safetensors');
    const synth = await inProcess(['weights', 'synth', '--model', 'densenet121', '--seed', String(1 + Math.floor(Math.random() * 1000)), '--out', w]);
    expect(synth.code, synth.err).toBe(0);
    const pruned = join(tmp, 'd121-p.safetensors');
    const p = await inProcess(['prune', '--model', 'densenet121', '--weights', w, '--sparsity', '0.7', '--out', pruned]);
    expect(p.code, p.err).toBe(0);
    expect(p.out).toMatch(/-> 70\.00% \(target 70\.00%/);
    const g = await inProcess(['--model', 'densenet121', '--arch', 'sm_90', '--weights', pruned, '--out', join(tmp, 'gp')]);
    expect(g.code, g.err).toBe(0);
    const plan = JSON.parse(readFileSync(join(tmp, 'gp', 'plan.json'), 'utf8')) as { convs: { layer: string; weightSparsity: number }[] };
    expect(plan.convs.find((c) => c.layer === 'conv3_block1_2_conv')!.weightSparsity).toBeCloseTo(0.7, 2);
    expect(plan.convs[0]!.weightSparsity).toBe(0); // first conv kept dense by default
  });

  it('list shows every model and architecture', () => {
    const r = run('list');
    expect(r.code).toBe(0);
    for (const m of ['resnet50', 'resnet101', 'resnet152', 'densenet121', 'densenet169', 'densenet201', 'vgg16', 'vgg19']) expect(r.out).toContain(m);
    for (const a of ['sm_70', 'sm_75', 'sm_80', 'sm_86', 'sm_89', 'sm_90']) expect(r.out).toContain(a);
    expect(r.out).toContain('60,419,944');
  });

  it('the main job writes the folder quickly; inspect reads it back', async () => {
    const out = join(tmp, 'resnet152-sm_70');
    const t0 = performance.now();
    const r = run('--model', 'resnet152', '--arch', 'sm_70', '--out', out);
    const seconds = (performance.now() - t0) / 1000;
    expect(r.code, r.err).toBe(0);
    // The bar is 5 s standalone on a 2-core machine; other test files run beside this one.
    expect(seconds).toBeLessThan(10);
    expect(r.err).toMatch(/ESTIMATE/);
    for (const f of ['plan.json', 'report.md', 'CMakeLists.txt', 'index.d.ts', 'kernels/registry.cu']) expect(existsSync(join(out, f)), f).toBe(true);
    const plan = JSON.parse(readFileSync(join(out, 'plan.json'), 'utf8')) as { convs: { layer: string; kernelName: string | null }[] };
    const sparse = plan.convs.find((c) => c.kernelName)!;
    // inspect in this process (its output is what the executable prints: see table() above; inspect
    // --json of the executable is test/cli/conventions.test.ts').
    const shown = await inProcess(['inspect', out, '--layer', sparse.layer, '--no-ptxas']);
    expect(shown.code, shown.err).toBe(0);
    expect(shown.out).toContain(`__global__`);
    expect(shown.out).toContain(sparse.kernelName);
    expect(shown.out).toMatch(/reason: /);
    oneLineError(await inProcess(['inspect', out, '--layer', 'conv9_block1_2_conv']), /no conv layer 'conv9_block1_2_conv'/);
    const summary = await inProcess(['inspect', out]);
    expect(summary.out).toContain('conv4_block36_2_conv');
  });

  it.skipIf(!findNvcc())('--check compiles every kernel; sm_70 falls back to the oldest arch nvcc has and says so', () => {
    const out = join(tmp, 'resnet50-sm_70');
    const r = run('--model', 'resnet50', '--arch', 'sm_70', '--out', out, '--check');
    expect(r.code, r.err).toBe(0);
    expect(r.err).toMatch(/cannot target sm_70; compiled for sm_75/); // a note: stderr
    // The table and the verdict are the results: stdout.
    expect(r.out).toMatch(/check passed: \d+ kernels compile warning-free for sm_75/);
    expect(r.out).toMatch(/act3x3_\w+_sm70 +sm_75 +yes +\d+ +0\/0/);
    expect(readFileSync(join(out, 'CMakeLists.txt'), 'utf8')).toMatch(/ARCH 70 KERNELS/); // the build still targets V100
  });
});
