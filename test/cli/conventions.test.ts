// The CLI follows one set of conventions: --version, help, unknown commands with a suggestion, one
// error prefix, results on stdout and progress on stderr, --json, EPIPE, ranged numeric options,
// and the exit codes 0 ok, 1 bad input, 2 usage, 3 no GPU/tool, 4 internal error.
//
// Every check runs the compiled executable (dist/cli.js, spawned) except the tables of error
// messages: those run main() in this process with stdout and stderr captured (the same command
// tree the executable runs, without ~1 s of node start and imports per case), and each run
// spawns a fresh random sample of them too, which must give the same exit code and the same bytes.
// Also in this process: the setup steps (the folders and weights files the checks read: each
// check's own command line is still spawned), and the help texts past the first one (the bare
// cusnn-gen and --help of the executable are checked byte for byte against each other, help <cmd>
// only has to print that command's help) and one of --version/-V, drawn at random.
import { spawn } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import { afterAll, describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.js';
import { classify, EXIT } from '../../src/output/exit.js';
import { SchemaError } from '../../src/schema/check.js';
import { needsBuiltCli, oneLineError } from '../helpers/cli.js';
import { CLI_ABS, runCli } from './run.js';
import { mulberry32, testSeed } from '../helpers/random.js';
import { inProcess, sampleIndexes, type Ran } from '../helpers/in-process.js';

const rnd = mulberry32(testSeed());

const tmp = mkdtempSync(join(tmpdir(), 'cusnn-conv-'));
needsBuiltCli();
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const VERSION = (JSON.parse(readFileSync('package.json', 'utf8')) as { version: string }).version;


/** Exit code `code` (null: any non-zero one) and exactly the one stderr line `line` (a RegExp or the exact text). */
function expectFails(r: Ran, args: string[], code: number | null, line: RegExp | string): void {
  oneLineError(r, typeof line === 'string' ? new RegExp(`^${line.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`) : line);
  if (code !== null) expect(r.code, `${args.join(' ')}: ${r.err}`).toBe(code);
  expect(r.err.startsWith('cusnn-gen: '), r.err).toBe(true);
  expect(r.err).not.toMatch(/^error:|\n\s+at /m); // one prefix, no stack
}

/** fails(), through the spawned executable. */
function fails(args: string[], code: number | null, line: RegExp | string): void {
  expectFails(runCli(...args), args, code, line);
}


/**
 * A table of failing command lines: each through main() in this process (exit code, the one
 * stderr line, nothing on stdout), and `spawned` of them, picked at random, also through the
 * executable, which must print the same.
 */
async function failsAll(cases: readonly [args: string[], code: number | null, line: RegExp | string][], spawned = 2): Promise<void> {
  for (const [args, code, line] of cases) {
    const r = await inProcess(args);
    expectFails(r, args, code, line);
    expect(r.out, args.join(' ')).toBe('');
  }
  for (const i of sampleIndexes(cases.length, spawned, rnd)) {
    const [args, code, line] = cases[i]!;
    const r = runCli(...args);
    expectFails(r, args, code, line);
    expect({ code: r.code, out: r.out, err: r.err }, `spawned: ${args.join(' ')}`).toEqual(await inProcess(args));
  }
}

/** Setup through main() in this process: exit 0 expected. */
async function setup(args: string[]): Promise<void> {
  const r = await inProcess(args);
  expect(r.code, `${args.join(' ')}: ${r.err}`).toBe(0);
}

// The folders and weights files the checks need are DenseNet-121's (generated in ~1 s, 31 MB of
// weights): what is checked (streams, plan errors, EPIPE) does not depend on the network, and
// VGG-16's 138M parameters made each generation 4-5 s and each weights file 528 MB.
const MODEL = 'densenet121';

/** A densenet121 sm_90 folder generated once (in this process: the tests spawn their own command lines); tests take copies. */
let folder: string | null = null;
async function folderCopy(name: string): Promise<string> {
  if (!folder) {
    folder = join(tmp, `${MODEL}-sm_90`);
    await setup(['--model', MODEL, '--arch', 'sm_90', '--out', folder, '-q']);
  }
  const dir = join(tmp, name);
  cpSync(folder, dir, { recursive: true });
  return dir;
}

describe('help and version', () => {
  it('a bare cusnn-gen prints the help on stdout and exits 0', () => {
    const r = runCli();
    expect(r.code).toBe(0);
    expect(r.err).toBe('');
    expect(r.out).toMatch(/^Usage: cusnn-gen \[options\] \[command\]/);
    for (const c of ['list', 'inspect', 'weights', 'prune', 'build', 'run', 'calibrate', 'verify', 'bench', 'report', 'help']) expect(r.out).toMatch(new RegExp(`^  ${c}\\b`, 'm'));
    expect(r.out).toMatch(/Exit codes: 0 ok, 1 bad input, 2 usage, 3 no GPU or tool/);
    expect(runCli('--help').out).toBe(r.out);
  });

  it('--version and -V print the package version', async () => {
    const spawned = rnd() < 0.5 ? '--version' : '-V';
    for (const flag of ['--version', '-V']) {
      const r = flag === spawned ? runCli(flag) : await inProcess([flag]);
      expect(r.code, flag).toBe(0);
      expect(r.out, flag).toBe(`${VERSION}\n`);
    }
  });

  it('help <cmd> and help <cmd> <sub> print that command\'s help on stdout', async () => {
    const w = await inProcess(['help', 'weights', 'synth']);
    expect(w.code, w.err).toBe(0);
    expect(w.out).toMatch(/^Usage: cusnn-gen weights synth \[options\]/);
    expect(w.out).toContain('--seed <n>');
    const i = await inProcess(['help', 'inspect']);
    expect(i.out).toMatch(/^Usage: cusnn-gen inspect \[options\] <dir>/);
    const bare = await inProcess([]);
    expect(bare.out).toMatch(/^Usage: cusnn-gen \[options\] \[command\]/);
    expect((await inProcess(['help'])).out).toBe(bare.out);
    fails(['help', 'lsit'], 2, "cusnn-gen: unknown command 'lsit' (did you mean list?)");
    await failsAll([[['help', 'weights', 'sinth'], 2, "cusnn-gen: unknown command 'sinth' (did you mean synth?)"]], 0);
  });
});

describe('errors', () => {
  it('unknown commands and options: one line with a suggestion, exit 2', async () => {
    await failsAll([
      [['lsit'], 2, "cusnn-gen: unknown command 'lsit' (did you mean list?)"],
      [['inspcet', 'x'], 2, "cusnn-gen: unknown command 'inspcet' (did you mean inspect?)"],
      [['weights', 'inof', 'x'], 2, "cusnn-gen: unknown command 'inof' (did you mean info?)"],
      [['frobnicate'], 2, /^cusnn-gen: unknown command 'frobnicate'; commands: list, inspect, .*help/],
      [['--model', 'vgg16', '--arch', 'sm_90', '--bacth', '2'], 2, "cusnn-gen: unknown option '--bacth' (did you mean --batch?)"],
      [['weights', 'synth', '--out', 'x.safetensors'], 2, "cusnn-gen: required option '--model <name>' not specified"],
      [['--arch', 'sm_90'], 2, /^cusnn-gen: --model and --arch are required/],
      [['--model', 'resnet18', '--arch', 'sm_90'], 2, /^cusnn-gen: option '--model <name>' argument 'resnet18' is invalid\. Allowed choices are resnet50/],
    ]);
  });

  it('every numeric option is checked against its range (exit 2, the flag, the range and the value named)', async () => {
    const g = ['--model', 'vgg16', '--arch', 'sm_90'];
    const cases: [string[], string][] = [
      [[...g, '--batch', '100000'], "--batch must be an integer in [1, 65535], got '100000'"],
      [[...g, '--batch', '0'], "--batch must be an integer in [1, 65535], got '0'"],
      [[...g, '--batch', '1e3'], "--batch must be an integer in [1, 65535], got '1e3'"],
      [[...g, '--batch', '2.5'], "--batch must be an integer in [1, 65535], got '2.5'"],
      [[...g, '--seed', '-1'], "--seed must be an integer in [0, 4294967295], got '-1'"],
      [[...g, '--seed', '4294967296'], "--seed must be an integer in [0, 4294967295], got '4294967296'"],
      [['run', tmp, '--images', tmp, '--top', '0'], "--top must be an integer in [1, 1000], got '0'"],
      [['run', tmp, '--images', tmp, '--top', 'five'], "--top must be an integer in [1, 1000], got 'five'"],
      [['run', tmp, '--images', tmp, '--iters', '-5'], "--iters must be an integer in [0, 1000000], got '-5'"],
      [['run', tmp, '--images', tmp, '--batch', '70000'], "--batch must be an integer in [1, 65535], got '70000'"],
      [['verify', tmp, '--images', tmp, '--iters', '0'], "--iters must be an integer in [1, 1000000], got '0'"],
      [['verify', tmp, '--images', tmp, '--min-sparsity', '1.5'], "--min-sparsity must be a number in [0, 1], got '1.5'"],
      [['verify', tmp, '--images', tmp, '--min-sparsity', 'NaN'], "--min-sparsity must be a number in [0, 1], got 'NaN'"],
      [['build', tmp, '-j', '0'], "--jobs must be an integer in [1, 1024], got '0'"],
      [['weights', 'synth', '--model', 'vgg16', '--out', 'x.safetensors', '--seed', '1.5'], "--seed must be an integer in [0, 4294967295], got '1.5'"],
      [['prune', '--model', 'vgg16', '--sparsity', '80', '--out', 'x.safetensors'], "--sparsity must be a fraction of zeros in [0, 1] (e.g. 0.8), got '80'"],
    ];
    await failsAll(cases.map(([args, msg]) => [args, 2, `cusnn-gen: ${msg}`]));
  });

  it('bad input exits 1 naming the file', async () => {
    // Output files are checked before any work: no table printed (stdout stays empty), then a failure.
    await failsAll([
      [['--model', 'vgg16', '--arch', 'sm_90', '--weights', join(tmp, 'nope.safetensors'), '--out', join(tmp, 'o')], 1, /^cusnn-gen: weights path '.*nope\.safetensors' does not exist/],
      [['inspect', join(tmp, 'missing')], 1, /^cusnn-gen: .*missing: no such folder/],
      [['inspect', join(process.cwd(), 'package.json')], 1, /^cusnn-gen: .*: not a folder/],
      [['run', tmp, '--images', join(tmp, 'no-images')], 1, /no-images/],
      [['prune', '--model', 'resnet50', '--sparsity', '0.5', '--out', join(tmp, 'x.bin')], null, /^cusnn-gen: --out '.*x\.bin' must end in \.safetensors$/],
      [['weights', 'synth', '--model', 'vgg16', '--out', join(tmp, 'no', 'such', 'w.safetensors')], 1, /^cusnn-gen: --out '.*w\.safetensors': the folder .*such does not exist$/],
    ]);
  });

  it('a broken plan.json is one line naming the file and the conv (read through the plan schema)', async () => {
    const dir = await folderCopy('broken-plan');
    const good = JSON.parse(readFileSync(join(dir, 'plan.json'), 'utf8')) as { convs: Record<string, unknown>[] } & Record<string, unknown>;
    const i = 1 + Math.floor(rnd() * (good.convs.length - 1));
    const { convs: _convs, ...noConvs } = good;
    const broken: [plan: unknown, line: RegExp][] = [
      ['{"format": "cusnn-plan/1", ', /^cusnn-gen: .*plan\.json: not valid JSON \(/],
      [null, /plan\.json: unknown format .*expected "cusnn-plan\/1"/],
      [noConvs, /plan\.json: convs: expected .*found nothing \(the field is absent\)$/],
      [{ ...good, convs: [null] }, /plan\.json: convs\[0\].*found null$/],
      [{ ...good, convs: good.convs.map((c, j) => (j === i ? { ...c, inputSparsity: null } : c)) },
        new RegExp(`plan\\.json: convs\\[${i}\\]\\.inputSparsity \\(conv '${String(good.convs[i]!.layer)}'\\): expected a finite number in \\[0, 1\\], found null$`)],
      [{ ...good, convs: good.convs.map((c, j) => (j === i ? { ...c, kernelName: '../../etc/passwd' } : c)) }, /"kernelName" must be null or a kernel name/],
    ];
    // Each broken file through main() in this process; two of them, at random, through the executable too.
    const spawned = new Set(sampleIndexes(broken.length, 2, rnd));
    for (const [k, [plan, line]] of broken.entries()) {
      writeFileSync(join(dir, 'plan.json'), typeof plan === 'string' ? plan : JSON.stringify(plan));
      await failsAll([[['inspect', dir], 1, line]], spawned.has(k) ? 1 : 0);
    }
  });

  it('no GPU is exit 3 with one line (an addon that finds no CUDA device)', async () => {
    const dir = await folderCopy('no-gpu');
    mkdirSync(join(dir, 'build'));
    writeFileSync(join(dir, 'build', 'addon.cjs'), "module.exports = { deviceInfo() { throw new Error('no CUDA device: cudaErrorNoDevice'); }, createRuntime() { throw new Error('unreachable'); } };\n");
    writeFileSync(join(dir, 'build', 'cusnn-addon.json'), JSON.stringify({ format: 'cusnn-addon/1', node: 'addon.cjs' }));
    const images = join(tmp, 'images');
    mkdirSync(images);
    writeFileSync(join(images, '0.bin'), Buffer.alloc(224 * 224 * 3 * 4));
    fails(['run', dir, '--images', images, '--iters', '0'], 3, /^cusnn-gen: no CUDA device: cudaErrorNoDevice \(the addon at .*addon\.cjs needs an NVIDIA GPU\)$/);
  });
});

describe('internal errors', () => {
  const throwing = (e: unknown): Command => new Command('cusnn-gen').command('boom').action(() => { throw e; }).parent!;

  it('an unexpected exception is "cusnn-gen: internal error: ..." with exit 4; the stack only under CUSNN_DEBUG=1', async () => {
    const lines: string[] = [];
    const code = await main(['boom'], { program: throwing(new TypeError("Cannot read properties of null (reading 'us')")), err: (s) => void lines.push(s), env: {} });
    expect(code).toBe(EXIT.internal);
    expect(lines).toEqual(["cusnn-gen: internal error: Cannot read properties of null (reading 'us')\n"]);
    const debug: string[] = [];
    await main(['boom'], { program: throwing(new RangeError('bad length')), err: (s) => void debug.push(s), env: { CUSNN_DEBUG: '1' } });
    expect(debug[0]).toBe('cusnn-gen: internal error: bad length\n');
    expect(debug.join('')).toMatch(/RangeError: bad length\n\s+at /);
  });

  it('classifies errors into exit codes', () => {
    expect(classify(new Error('weights path x does not exist')).code).toBe(EXIT.badInput);
    expect(classify(new Error('no CUDA device: cudaErrorNoDevice (the addon at x needs an NVIDIA GPU)')).code).toBe(EXIT.noTool);
    expect(classify(new Error('nvcc not found (set CUDA_HOME or put the CUDA toolkit bin/ on PATH)')).code).toBe(EXIT.noTool);
    expect(classify(Object.assign(new Error("ENOENT: no such file or directory, open 'x'"), { code: 'ENOENT', syscall: 'open' })).code).toBe(EXIT.badInput);
    expect(classify(Object.assign(new Error('spawn cmake ENOENT'), { code: 'ENOENT', syscall: 'spawn cmake' })).code).toBe(EXIT.noTool);
    expect(classify(new SyntaxError('Unexpected token')).code).toBe(EXIT.internal);
    expect(classify('a string').message).toBe('internal error: a string');
    expect(classify(Object.assign(new Error('x'), { exitCode: 2 })).code).toBe(EXIT.usage);
    // A schema error of a file the user gave is bad input, not a bug.
    expect(classify(new SchemaError('calibration c.json: layers.conv1_conv.inputSparsity: expected a finite number in [0, 1], found 2'))).toEqual({
      code: EXIT.badInput, message: 'calibration c.json: layers.conv1_conv.inputSparsity: expected a finite number in [0, 1], found 2', internal: false,
    });
  });
});

describe('stdout and stderr', () => {
  it('generate: progress on stderr, the folder on stdout; -q leaves only the result', () => {
    const out = join(tmp, 'streams');
    const r = runCli('--model', MODEL, '--arch', 'sm_90', '--out', out);
    expect(r.code, r.err).toBe(0);
    expect(r.out).toBe(`${out}\n`);
    expect(r.err).toMatch(/\] model densenet121: /);
    expect(r.err).toMatch(/\] wrote /);
    const q = runCli('--model', MODEL, '--arch', 'sm_90', '--out', out, '-q');
    expect(q.code).toBe(0);
    expect(q.err).toBe('');
    expect(q.out).toBe(`${out}\n`);
  });

  it('cusnn-gen list | head (the reader gone) exits quietly instead of an EPIPE stack trace', async () => {
    const w = join(tmp, 'epipe.safetensors');
    await setup(['weights', 'synth', '--model', MODEL, '--out', w]);
    for (const args of [['list'], ['weights', 'info', w, '--layers'], ['list', '--json']]) {
      const child = spawn(process.execPath, [CLI_ABS, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
      child.stdout.destroy(); // the reader is gone before the first write
      let err = '';
      child.stderr.on('data', (d: Buffer) => { err += d.toString(); });
      const code = await new Promise<number | null>((res) => child.on('close', (c) => res(c)));
      expect(err, args.join(' ')).toBe('');
      expect(code, args.join(' ')).toBe(0);
    }
  });
});

describe('--json', () => {
  it('list --json: every model and architecture with their figures', () => {
    const r = runCli('list', '--json');
    expect(r.code, r.err).toBe(0);
    const j = JSON.parse(r.out) as { models: { name: string; parameters: number; convs: number }[]; archs: { arch: string; smCount: number }[] };
    expect(j.models.map((m) => m.name)).toEqual(['resnet50', 'resnet101', 'resnet152', 'densenet121', 'densenet169', 'densenet201', 'vgg16', 'vgg19']);
    expect(j.models.find((m) => m.name === 'resnet152')!.parameters).toBe(60_419_944);
    expect(j.archs.map((a) => a.arch)).toEqual(['sm_70', 'sm_75', 'sm_80', 'sm_86', 'sm_89', 'sm_90']);
    expect(j.archs.find((a) => a.arch === 'sm_90')!.smCount).toBe(132);
  });

  it('inspect --json: the summary, and one layer with its kernel source', async () => {
    const dir = join(tmp, 'json-r50');
    await setup(['--model', 'resnet50', '--arch', 'sm_90', '--force', 'act-sparse', '--out', dir, '-q']);
    const plan = JSON.parse(readFileSync(join(dir, 'plan.json'), 'utf8')) as { convs: { layer: string; kernelName: string | null; inputSparsity: number }[] };
    const s = runCli('inspect', dir, '--json');
    expect(s.code, s.err).toBe(0);
    const j = JSON.parse(s.out) as { model: string; arch: string; convs: { layer: string; kernelName: string | null; inputSparsity: number }[] };
    expect(j.model).toBe('resnet50');
    expect(j.arch).toBe('sm_90');
    expect(j.convs.map((c) => [c.layer, c.kernelName, c.inputSparsity])).toEqual(plan.convs.map((c) => [c.layer, c.kernelName, c.inputSparsity]));
    const sparse = plan.convs.find((c) => c.kernelName)!;
    const l = runCli('inspect', dir, '--layer', sparse.layer, '--json', '--no-ptxas');
    expect(l.code, l.err).toBe(0);
    const lj = JSON.parse(l.out) as { conv: { layer: string }; kernel: { file: string; source: string }; ptxas: unknown };
    expect(lj.conv.layer).toBe(sparse.layer);
    expect(lj.kernel.file).toBe(join(dir, 'kernels', `${sparse.kernelName}.cu`));
    expect(lj.kernel.source).toContain('__global__');
    expect(lj.ptxas).toBeNull();
  });

  it('weights info --json, with the model taken from the file\'s metadata', async () => {
    const w = join(tmp, 'd121.safetensors');
    await setup(['weights', 'synth', '--model', 'densenet121', '--seed', '7', '--out', w]);
    const r = runCli('weights', 'info', w, '--json');
    expect(r.code, r.err).toBe(0);
    const j = JSON.parse(r.out) as { model: string; params: number; tensors: number; storage: string; kernels: unknown[]; filledLayers: string[]; kernelSparsity: number };
    expect(j.model).toBe('densenet121');
    expect(j.params).toBe(8_062_504);
    expect(j.storage).toBe('fp32');
    expect(j.kernels.length).toBe(121);
    expect(j.filledLayers).toEqual([]);
    expect(j.kernelSparsity).toBe(0);
    // The text form without --model too; a wrong --model is still caught by the reader.
    const t = await inProcess(['weights', 'info', w]);
    expect(t.out).toContain('model:    densenet121');
    // A .bin folder names no model unless it is named after one.
    const bin = join(tmp, 'some-bins');
    mkdirSync(bin);
    await failsAll([
      [['weights', 'info', w, '--model', 'vgg16'], 1, /holds weights for model 'densenet121', not 'vgg16'/],
      [['weights', 'info', bin], 2, /^cusnn-gen: --model is required for '.*some-bins'/],
    ], 1);
  });
});
