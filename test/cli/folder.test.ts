// Output folders are safe: only new, empty or cusnn-written folders are written, checked before
// any work; the new content is swapped in only when complete; a reused folder loses the build and
// calibration of another model.
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { generate } from '../../src/generate.js';
import { checkOutDir, OutFolderError, writeFolderAtomically } from '../../src/output/folder.js';
import { needsBuiltCli, oneLineError } from '../helpers/cli.js';
import { inProcess } from '../helpers/in-process.js';
import { runCli, runNode } from './run.js';

const tmp = mkdtempSync(join(tmpdir(), 'cusnn-out-'));
needsBuiltCli();
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const fresh = (name: string): string => {
  const d = join(tmp, name);
  rmSync(d, { recursive: true, force: true });
  return d;
};
// The folders are generated for DenseNet-121 (1 s in this process): the folder logic does not depend
// on the network, and VGG-16 (138M parameters) takes 4-5 s a generation and writes a 528 MB weights
// file, about half of this file's time before; the refusals that stop before any work stay on vgg16.
const MODEL = 'densenet121';
const plan = (dir: string): { model: string; arch: string; weightsRef: { path: string | null } } =>
  JSON.parse(readFileSync(join(dir, 'plan.json'), 'utf8')) as { model: string; arch: string; weightsRef: { path: string | null } };

describe('checkOutDir', () => {
  it('accepts new, empty and cusnn-written folders; refuses the rest before any work', () => {
    expect(checkOutDir(join(tmp, 'does', 'not', 'exist')).kind).toBe('new');
    const empty = fresh('empty');
    mkdirSync(empty);
    expect(checkOutDir(empty).kind).toBe('empty');
    const ours = fresh('ours');
    mkdirSync(ours);
    writeFileSync(join(ours, 'plan.json'), JSON.stringify({ format: 'cusnn-plan/1', model: 'vgg16', arch: 'sm_90' }));
    expect(checkOutDir(ours)).toEqual({ kind: 'cusnn', model: 'vgg16', arch: 'sm_90' });

    const foreign = fresh('foreign');
    mkdirSync(foreign);
    writeFileSync(join(foreign, 'CMakeLists.txt'), 'project(mine)\n');
    expect(() => checkOutDir(foreign)).toThrow(/holds 1 file\(s\) that cusnn did not write.*--force-overwrite/);
    expect(checkOutDir(foreign, { forceOverwrite: true }).kind).toBe('foreign');
    // A plan.json of something else is not ours either.
    writeFileSync(join(foreign, 'plan.json'), JSON.stringify({ format: 'other/1' }));
    expect(() => checkOutDir(foreign)).toThrow(OutFolderError);

    const file = join(tmp, 'a-file');
    writeFileSync(file, 'x');
    expect(() => checkOutDir(file)).toThrow(/is a file, not a folder/);
    expect(() => checkOutDir(join(file, 'below'))).toThrow(/is a file, not a folder/);
    expect(() => checkOutDir('')).toThrow(/empty string/);
    expect(() => checkOutDir('   ')).toThrow(/empty string/);
    // Replaced as a whole: never the folder we run in, or one holding the package.
    expect(() => checkOutDir('.', { forceOverwrite: true })).toThrow(/is or contains the current directory/);
    expect(() => checkOutDir('..', { forceOverwrite: true })).toThrow(/is or contains the current directory/);
    expect(() => checkOutDir(join(process.cwd(), 'generated', 'resnet152-sm_70'))).not.toThrow();
  });
});

describe('writeFolderAtomically', () => {
  it('a failing write leaves the old folder byte for byte and no staging folder behind', () => {
    const dir = fresh('atomic');
    generate({ model: MODEL, arch: 'sm_90', out: dir });
    const before = new Map(readdirSync(dir, { recursive: true }).map(String).filter((f) => f.includes('.')).map((f) => [f, readFileSync(join(dir, f), 'utf8')]));
    expect(before.size).toBeGreaterThan(3);
    expect(() => writeFolderAtomically(dir, checkOutDir(dir), { model: MODEL, arch: 'sm_90' }, (staging) => {
      writeFileSync(join(staging, 'plan.json'), 'half written');
      throw new Error('bad tile half way');
    })).toThrow('bad tile half way');
    for (const [f, text] of before) expect(readFileSync(join(dir, f), 'utf8'), f).toBe(text);
    expect(readdirSync(tmp).filter((e) => e.startsWith('atomic.'))).toEqual([]);
  });

  it('generate checks the folder before reading any input', () => {
    const dir = fresh('foreign-first');
    mkdirSync(dir);
    writeFileSync(join(dir, 'data.txt'), 'x');
    // The missing weights file would fail too: the folder is refused first.
    expect(() => generate({ model: 'resnet50', arch: 'sm_90', weights: join(tmp, 'missing.safetensors'), out: dir })).toThrow(/did not write/);
    expect(readdirSync(dir)).toEqual(['data.txt']);
  });
});

describe('generate into a reused folder', () => {
  it('keeps build/ and calibration.json of the same network, drops those of another, keeps the user\'s other files', () => {
    const dir = fresh('reuse');
    generate({ model: MODEL, arch: 'sm_90', out: dir });
    const addBuild = (): void => {
      mkdirSync(join(dir, 'build', 'Release'), { recursive: true });
      writeFileSync(join(dir, 'build', 'Release', `cusnn_${MODEL}_sm_90.node`), 'addon');
      writeFileSync(join(dir, 'calibration.json'), JSON.stringify({ format: 'cusnn-calibration/1', model: MODEL, images: 1, layers: {} }));
    };
    addBuild();
    writeFileSync(join(dir, 'notes.md'), 'mine');
    // Same model and arch: the build and the calibration stay.
    const same = generate({ model: MODEL, arch: 'sm_90', batch: 4, out: dir });
    expect(same.dropped).toEqual([]);
    expect(existsSync(join(dir, 'build', 'Release', `cusnn_${MODEL}_sm_90.node`))).toBe(true);
    expect(existsSync(join(dir, 'calibration.json'))).toBe(true);
    // Another arch: the addon was built for the old one.
    const otherArch = generate({ model: MODEL, arch: 'sm_80', out: dir });
    expect(otherArch.dropped).toEqual(['build']);
    expect(existsSync(join(dir, 'build'))).toBe(false);
    expect(existsSync(join(dir, 'calibration.json'))).toBe(true);
    // Another model: both go (the addon lookup must not find densenet121's .node for resnet50).
    addBuild();
    const other = generate({ model: 'resnet50', arch: 'sm_80', out: dir });
    expect([...other.dropped].sort()).toEqual(['build', 'calibration.json']);
    expect(existsSync(join(dir, 'build'))).toBe(false);
    expect(existsSync(join(dir, 'calibration.json'))).toBe(false);
    expect(readFileSync(join(dir, 'notes.md'), 'utf8')).toBe('mine');
    expect(plan(dir).model).toBe('resnet50');
    // Kernels of the old plan are gone, the new plan's are all there.
    const names = new Set((JSON.parse(readFileSync(join(dir, 'plan.json'), 'utf8')) as { convs: { kernelName: string | null }[] }).convs
      .map((c) => c.kernelName).filter((k): k is string => k !== null).map((k) => `${k}.cu`));
    expect(new Set(readdirSync(join(dir, 'kernels')).filter((f) => f !== 'registry.cu'))).toEqual(names);
    expect(readdirSync(tmp).filter((e) => /^reuse\.(tmp|old)-/.test(e))).toEqual([]);
  });
});

// The refusals and the cwd-relative paths through the compiled CLI (spawned: its exit codes, its
// stderr line, its working directory). The generations that only have to succeed (the forced
// overwrite, the rerun, the weights file) run main() in this process instead (the same command
// tree, without ~2 s of node start and imports each on 2 busy cores): what they check is the
// folder they leave, not the process.
describe('cusnn-gen --out (the compiled CLI)', () => {
  it('refuses a folder cusnn did not write before any work, and --force-overwrite replaces only the generated files', async () => {
    const dir = fresh('checkout');
    mkdirSync(join(dir, 'kernels'), { recursive: true });
    writeFileSync(join(dir, 'CMakeLists.txt'), 'project(precious)\n');
    writeFileSync(join(dir, 'kernels', 'mine.cu'), '// mine\n');
    writeFileSync(join(dir, 'README.md'), 'keep me\n');
    const r = runCli('--model', 'vgg16', '--arch', 'sm_90', '--out', dir);
    oneLineError(r, /^cusnn-gen: --out '.*checkout' holds 3 file\(s\) that cusnn did not write .*--force-overwrite/);
    expect(r.code).toBe(1);
    expect(r.out).toBe('');
    expect(readFileSync(join(dir, 'CMakeLists.txt'), 'utf8')).toBe('project(precious)\n');
    expect(readFileSync(join(dir, 'kernels', 'mine.cu'), 'utf8')).toBe('// mine\n');

    const f = await inProcess(['--model', MODEL, '--arch', 'sm_90', '--out', dir, '--force-overwrite', '-q']);
    expect(f.code, f.err).toBe(0);
    expect(f.out).toBe(`${dir}\n`);
    expect(plan(dir).model).toBe(MODEL);
    expect(readFileSync(join(dir, 'README.md'), 'utf8')).toBe('keep me\n');
    // Now it is a cusnn folder: no force needed.
    const again = await inProcess(['--model', MODEL, '--arch', 'sm_90', '--out', dir, '-q']);
    expect(again.code, again.err).toBe(0);
  });

  it("rejects --out '' (usage) and --out naming a file (bad input) up front", () => {
    const e = runCli('--model', 'vgg16', '--arch', 'sm_90', '--out', '');
    oneLineError(e, /^cusnn-gen: --out must name a folder, got an empty string$/);
    expect(e.code).toBe(2);
    const file = join(tmp, 'plain-file');
    writeFileSync(file, 'data');
    const f = runCli('--model', 'vgg16', '--arch', 'sm_90', '--out', file);
    oneLineError(f, /^cusnn-gen: --out '.*plain-file' is a file, not a folder$/);
    expect(f.code).toBe(1);
    expect(readFileSync(file, 'utf8')).toBe('data');
  });

  it('stores the weights path absolute, so loadNetwork from another directory finds the weights', async () => {
    const work = fresh('cwd-a');
    mkdirSync(work);
    const synth = await inProcess(['weights', 'synth', '--model', MODEL, '--out', join(work, 'w.safetensors')]);
    expect(synth.code, synth.err).toBe(0);
    const g = runCli({ cwd: work }, '--model', MODEL, '--arch', 'sm_90', '--weights', 'w.safetensors', '--out', 'gen', '-q');
    expect(g.code, g.err).toBe(0);
    expect(plan(join(work, 'gen')).weightsRef.path).toBe(join(work, 'w.safetensors'));
    // Another cwd: the runtime loads the weights the plan names (the addon is only needed to run).
    const other = fresh('cwd-b');
    mkdirSync(other);
    const lib = join(process.cwd(), 'dist', 'index.js');
    const r = runNode(other, `import { loadNetwork } from ${JSON.stringify(lib)};
      const net = loadNetwork(${JSON.stringify(join(work, 'gen'))}); console.log(net.weights.source);`);
    expect(r.code, r.err).toBe(0);
    expect(r.out).toContain(join(work, 'w.safetensors'));
  });
});

