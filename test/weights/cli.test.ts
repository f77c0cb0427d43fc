import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command, CommanderError } from 'commander';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pruneCommand } from '../../src/cli/prune.js';
import { weightsCommand } from '../../src/cli/weights.js';
import { paramSpecs } from '../../src/model/ir.js';
import { buildModel } from '../../src/model/zoo/index.js';
import { readSafetensors } from '../../src/weights/safetensors.js';
import { countZeros, getTensor, type WeightSet } from '../../src/weights/store.js';
import { syntheticWeights } from '../../src/weights/synthetic.js';
import { seedFor, TEST_SEED } from './helpers.js';

const repoRoot = fileURLToPath(new URL('../..', import.meta.url));
const REAL = path.join(process.env.CUSNN_ARTIFACT ?? path.resolve(repoRoot, '../shared/cusnn-artifact'), 'weights');

let dir: string;
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cusnn-cli-'));
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
const tmp = (name: string): string => path.join(dir, name);

/** Makes commander throw instead of exiting, recursively, and captures what it prints. */
function tame(cmd: Command, sink: string[]): Command {
  cmd.exitOverride().configureOutput({ writeOut: (s) => void sink.push(s), writeErr: (s) => void sink.push(s) });
  for (const c of cmd.commands) tame(c, sink);
  return cmd;
}

async function run(which: 'weights' | 'prune', args: string[]): Promise<string[]> {
  const lines: string[] = [];
  const cmd = which === 'weights' ? weightsCommand((l) => lines.push(l)) : pruneCommand((l) => lines.push(l));
  await tame(cmd, lines).parseAsync(args, { from: 'user' });
  return lines;
}

const sameBytes = (a: Float32Array, b: Float32Array): boolean =>
  Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));

function expectSameWeights(model: string, a: WeightSet, b: WeightSet): void {
  for (const s of paramSpecs(buildModel(model))) expect(sameBytes(getTensor(a, s.layer, s.role), getTensor(b, s.layer, s.role)), `${s.layer}:${s.role}`).toBe(true);
}

describe(`cusnn-gen weights (CUSNN_TEST_SEED=${TEST_SEED})`, () => {
  const seed = seedFor(11);
  const graph = buildModel('densenet121');

  it('synth writes the synthetic weights of the seed; --fp16 halves the kernels', async () => {
    const out = await run('weights', ['synth', '--model', 'densenet121', '--seed', String(seed), '--out', tmp('s.safetensors')]);
    expect(out[0]).toBe(`densenet121: synthetic (seed ${seed}), 8,062,504 params`);
    expect(out[1]).toMatch(/^wrote .*s\.safetensors \(fp32, 30\.\d MiB\)$/);
    const back = readSafetensors(tmp('s.safetensors'), graph);
    expectSameWeights('densenet121', back.weights, syntheticWeights(graph, seed));
    await run('weights', ['synth', '--model', 'densenet121', '--seed', String(seed), '--fp16', '--out', tmp('s16.safetensors')]);
    expect(readSafetensors(tmp('s16.safetensors'), graph).storage).toBe('fp16');
  });

  it('export (synthetic) -> import -> export (from the file) round-trips the .bin layout', async () => {
    const out = await run('weights', ['export', '--model', 'densenet121', '--seed', String(seed), '--to', tmp('bin1')]);
    const layers = new Set(paramSpecs(graph).map((s) => s.layer)).size; // 120 convs, 121 BNs, 1 dense
    expect(layers).toBe(242);
    expect(out[0]).toBe(`densenet121: wrote 242 .bin files to ${tmp('bin1')} (weights: synthetic (seed ${seed}))`);
    expect(fs.readdirSync(tmp('bin1'))).toHaveLength(242);
    const imp = await run('weights', ['import', '--model', 'densenet121', '--from', tmp('bin1'), '--out', tmp('imp.safetensors')]);
    expect(imp[0]).toBe(`densenet121: imported 606 tensors from ${tmp('bin1')}`);
    const imported = readSafetensors(tmp('imp.safetensors'), graph).weights;
    expectSameWeights('densenet121', imported, syntheticWeights(graph, seed));
    await run('weights', ['export', '--model', 'densenet121', '--weights', tmp('imp.safetensors'), '--to', tmp('bin2')]);
    for (const f of fs.readdirSync(tmp('bin1'))) expect(fs.readFileSync(tmp(`bin2/${f}`)).equals(fs.readFileSync(tmp(`bin1/${f}`))), f).toBe(true);
  });

  it('import reports a missing layer, and --fill-missing fills and records it', async () => {
    await run('weights', ['export', '--model', 'densenet121', '--to', tmp('bin3')]);
    fs.rmSync(tmp('bin3/conv4_block7_2_conv.bin'));
    await expect(run('weights', ['import', '--model', 'densenet121', '--from', tmp('bin3'), '--out', tmp('x.safetensors')])).rejects.toThrow(
      /layer 'conv4_block7_2_conv' is missing: no file .*conv4_block7_2_conv\.bin \(expected 36864 floats = 147456 bytes/,
    );
    const out = await run('weights', ['import', '--model', 'densenet121', '--from', tmp('bin3'), '--out', tmp('f.safetensors'), '--fill-missing', '--fp16']);
    expect(out).toContain('filled synthetically (1 layer(s)): conv4_block7_2_conv');
    const info = await run('weights', ['info', tmp('f.safetensors'), '--model', 'densenet121']);
    expect(info).toContain('filled:   conv4_block7_2_conv');
    expect(info).toContain(`tensors:  ${paramSpecs(graph).length}`);
    expect(paramSpecs(graph).length).toBe(606);
    expect(info).toContain('params:   8,062,504');
    expect(info.find((l) => l.startsWith('format:'))).toBe('format:   cusnn safetensors (cusnn-weights/1), storage fp16');
    await expect(run('weights', ['import', '--model', 'densenet121', '--from', tmp('nope'), '--out', tmp('y.safetensors')])).rejects.toThrow(/--from '.*nope' is not a folder/);
  });

  it('import --only-present stores only the layers the folder holds; --fill-missing at load gives the same set as filling at import', async () => {
    await run('weights', ['export', '--model', 'densenet121', '--to', tmp('bin4')]);
    fs.rmSync(tmp('bin4/conv5_block3_1_conv.bin'));
    fs.rmSync(tmp('bin4/conv5_block3_2_conv.bin'));
    const out = await run('weights', ['import', '--model', 'densenet121', '--from', tmp('bin4'), '--out', tmp('p.safetensors'), '--only-present']);
    expect(out).toContain('not stored (load with --fill-missing): (2 layer(s)): conv5_block3_1_conv, conv5_block3_2_conv');
    await run('weights', ['import', '--model', 'densenet121', '--from', tmp('bin4'), '--out', tmp('full.safetensors'), '--fill-missing']);
    // 2 kernels fewer: 128x576 (1x1) + 32x128x3x3 floats.
    expect(fs.statSync(tmp('full.safetensors')).size - fs.statSync(tmp('p.safetensors')).size).toBeGreaterThanOrEqual((128 * 576 + 32 * 128 * 9) * 4);
    expect(() => readSafetensors(tmp('p.safetensors'), graph)).toThrow(/no tensor 'conv5_block3_1_conv:kernel'/);
    const partial = readSafetensors(tmp('p.safetensors'), graph, { fillMissing: true, seed: 0 }).weights;
    const full = readSafetensors(tmp('full.safetensors'), graph).weights;
    expect(partial.filled.length).toBe(full.filled.length);
    expect(partial.filled.length).toBeGreaterThan(0);
    expectSameWeights('densenet121', partial, full);
    const info = await run('weights', ['info', tmp('p.safetensors'), '--model', 'densenet121', '--fill-missing']);
    expect(info).toContain('filled:   conv5_block3_1_conv, conv5_block3_2_conv');
    await expect(run('weights', ['import', '--model', 'densenet121', '--from', tmp('bin4'), '--out', tmp('q.safetensors'), '--only-present', '--fill-missing'])).rejects.toThrow(/exclude each other/);
  });

  it('info on a .bin folder, with the per-layer table', async () => {
    const out = await run('weights', ['info', tmp('bin1'), '--model', 'densenet121', '--layers']);
    expect(out).toContain('format:   cuSNN .bin folder (float32)');
    expect(out).toContain('filled:   none');
    expect(out.find((l) => l.startsWith('kernels:'))).toMatch(/^kernels:  121 \(7,\d{3},\d{3} params\), sparsity 0\.00%$/);
    expect(out.some((l) => /^conv1\/conv\s+conv\s+64x3x7x7\s+9,408\s+0\.00%$/.test(l))).toBe(true);
  });

  it.skipIf(!fs.existsSync(path.join(REAL, 'resnet50')))('import of the real resnet50 folder needs --fill-missing', async () => {
    const from = path.join(REAL, 'resnet50');
    await expect(run('weights', ['import', '--model', 'resnet50', '--from', from, '--out', tmp('r50.safetensors')])).rejects.toThrow(/layer 'conv5_block1_0_conv' is missing/);
    const out = await run('weights', ['import', '--model', 'resnet50', '--from', from, '--out', tmp('r50.safetensors'), '--fill-missing']);
    expect(out[1]).toMatch(/^filled synthetically \(10 layer\(s\)\): conv5_block1_0_conv, .*, predictions$/);
  });

  it('bad arguments fail with one clear message', async () => {
    await expect(run('weights', ['synth', '--model', 'resnet9', '--out', tmp('z.safetensors')])).rejects.toThrow(/argument 'resnet9' is invalid\. Allowed choices are resnet50/);
    await expect(run('weights', ['synth', '--model', 'vgg16', '--out', tmp('z.safetensors'), '--seed', '-3'])).rejects.toThrow(/--seed must be an integer in \[0, 4294967295\], got '-3'/);
    await expect(run('weights', ['synth', '--model', 'densenet121', '--out', tmp('z.bin')])).rejects.toThrow(/must end in \.safetensors/);
    await expect(run('weights', ['synth', '--out', tmp('z.safetensors')])).rejects.toThrow(/required option '--model <name>' not specified/);
  });
});

describe(`cusnn-gen prune (CUSNN_TEST_SEED=${TEST_SEED})`, () => {
  const graph = buildModel('resnet50');
  const seed = seedFor(12);

  it('prints the per-layer table and total, and writes the pruned weights', async () => {
    const out = await run('prune', ['--model', 'resnet50', '--seed', String(seed), '--sparsity', '0.8', '--mode', 'global', '--out', tmp('p.safetensors')]);
    expect(out[0]).toBe(`resnet50: synthetic (seed ${seed})`);
    expect(out[1]).toMatch(/^layer\s+params\s+before\s+after$/);
    expect(out.some((l) => /^conv1_conv\s+9,408\s+0\.00%\s+0\.00%\s+kept dense$/.test(l))).toBe(true);
    expect(out.some((l) => /^predictions\s+2,048,000\s+\d+\.\d\d%\s+\d+\.\d\d%\s+kept dense$/.test(l))).toBe(true);
    expect(out.at(-2)).toMatch(/^total: 23,445,504 prunable params, sparsity 0\.00% -> 80\.00% \(target 80\.00%, global\); all kernels 7\d\.\d\d%$/);
    const ws = readSafetensors(tmp('p.safetensors'), graph).weights;
    let zeros = 0;
    let n = 0;
    for (const l of graph.layers) {
      if (l.op !== 'conv' || l.name === 'conv1_conv') continue;
      const k = getTensor(ws, l.name, 'kernel');
      zeros += countZeros(k);
      n += k.length;
    }
    expect(Math.abs(zeros / n - 0.8)).toBeLessThan(0.005);
    expect(countZeros(getTensor(ws, 'conv1_conv', 'kernel'))).toBeLessThan(3);
  });

  it('--include-first --include-dense prune those too; --fp16 stores kernels in fp16', async () => {
    const src = tmp('src.safetensors');
    await run('weights', ['synth', '--model', 'resnet50', '--seed', String(seed), '--out', src]);
    const out = await run('prune', ['--model', 'resnet50', '--weights', src, '--sparsity', '0.5', '--include-first', '--include-dense', '--fp16', '--out', tmp('p2.safetensors')]);
    expect(out.some((l) => l.includes('kept dense'))).toBe(false);
    expect(out.at(-1)).toBe(`wrote ${tmp('p2.safetensors')} (fp16)`);
    const back = readSafetensors(tmp('p2.safetensors'), graph);
    expect(back.storage).toBe('fp16');
    for (const name of ['conv1_conv', 'predictions', 'conv3_block1_2_conv']) {
      const k = getTensor(back.weights, name, 'kernel');
      expect(countZeros(k) / k.length, name).toBeCloseTo(0.5, 2);
    }
  });

  it('rejects a sparsity outside [0, 1] and an unknown mode', async () => {
    await expect(run('prune', ['--model', 'resnet50', '--sparsity', '80', '--out', tmp('q.safetensors')])).rejects.toThrow(
      /--sparsity must be a fraction of zeros in \[0, 1\] \(e\.g\. 0\.8\), got '80'/,
    );
    await expect(run('prune', ['--model', 'resnet50', '--sparsity', '0.5', '--mode', 'random', '--out', tmp('q.safetensors')])).rejects.toThrow(/Allowed choices are layer, global/);
  });
});

describe('help and mounting', () => {
  it.each([[[]], [['import']], [['export']], [['synth']], [['info']]])('weights %j --help', async (sub) => {
    const sink: string[] = [];
    const cmd = tame(weightsCommand(() => {}), sink);
    const err = await cmd.parseAsync([...sub, '--help'], { from: 'user' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CommanderError);
    expect((err as CommanderError).code).toBe('commander.helpDisplayed');
    expect(sink.join('')).toContain(`Usage: weights${sub.length ? ` ${sub[0]}` : ''}`);
  });

  it('prune --help', async () => {
    const sink: string[] = [];
    const err = await tame(pruneCommand(() => {}), sink).parseAsync(['--help'], { from: 'user' }).catch((e: unknown) => e);
    expect((err as CommanderError).code).toBe('commander.helpDisplayed');
    expect(sink.join('')).toMatch(/--sparsity <fraction>[\s\S]*--include-first[\s\S]*--include-dense/);
  });

  it('works under a parent that has its own --model/--seed options when positional options are on', async () => {
    const lines: string[] = [];
    const parent = new Command('cusnn-gen').enablePositionalOptions().option('--model <name>').option('--seed <n>');
    parent.addCommand(weightsCommand((l) => lines.push(l)));
    await tame(parent, lines).parseAsync(['weights', 'synth', '--model', 'densenet121', '--seed', '3', '--out', tmp('m.safetensors')], { from: 'user' });
    expect(lines[0]).toBe('densenet121: synthetic (seed 3), 8,062,504 params');
  });
});
