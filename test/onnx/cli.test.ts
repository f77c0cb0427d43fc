// `cusnn-gen run --cpu <model.onnx|zoo|dir> --input x.npy|x.bin`: the float64 reference from the
// command line, through main() (argument routing, exit codes, one-line errors), checked against
// onnxruntime; and `--model file.onnx` accepted where zoo names are.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { main } from '../../src/cli/main.js';
import { npyBytes } from '../../src/cli/run.js';
import { readNpy, resolveRunTarget, routeCpuRun } from '../../src/cli/run-cpu.js';
import { EXIT } from '../../src/output/exit.js';
import { testSeed } from '../helpers/random.js';
import { Random, relL2, runOrt } from './helpers.js';
import { densenetLike, resnetLike } from './models.js';

const SEED = testSeed();
beforeAll(() => console.info(`onnx cli seed ${SEED} (CUSNN_TEST_SEED=${SEED} repeats it)`));
const dir = mkdtempSync(join(tmpdir(), 'cusnn-onnx-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** main(argv) with stdout (console.log) and the error line captured. */
async function cli(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const lines: string[] = [];
  const spy = vi.spyOn(console, 'log').mockImplementation((s: unknown) => void lines.push(String(s)));
  const errSpy = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
  let err = '';
  try {
    const code = await main(argv, { err: (s) => void (err += s), env: {} });
    return { code, out: lines.join('\n'), err };
  } finally {
    spy.mockRestore();
    errSpy.mockRestore();
  }
}
afterEach(() => vi.restoreAllMocks());

describe('run --cpu', () => {
  it('an ONNX file with a .npy input: top classes printed, --save equal to onnxruntime', async () => {
    const t = resnetLike(SEED);
    const file = t.builder.write(join(dir, 'resnet'));
    const [n, c, h, w] = t.inputDims;
    const input = new Random(SEED + 1).floats(n * c * h * w, -2, 2);
    const npy = join(dir, 'x.npy');
    writeFileSync(npy, npyBytes(input, [n, c, h, w]));
    const out = join(dir, 'y.npy');
    const r = await cli('run', '--cpu', file, '--input', npy, '--save', out, '--top', '3');
    expect(r.err).toBe('');
    expect(r.code).toBe(EXIT.ok);
    expect(r.out).toMatch(/^\/Softmax \[\d+x\d+x1x1\]$/m);
    expect(r.out.split('\n').filter((l) => /^ {2}\d+: \d+ [\d.e-]+, \d+ [\d.e-]+, \d+ [\d.e-]+$/.test(l)).length).toBe(n);
    const saved = readNpy(out);
    const want = (await runOrt(file, t.inputName, input, t.inputDims)).get('probs')!;
    expect(saved.shape).toEqual([n, want.length / n]);
    expect(relL2(saved.data, want)).toBeLessThanOrEqual(1e-5);
  });

  it('raw float32 .bin input (batch from its size), --input-shape for symbolic dims, --layer', async () => {
    const t = densenetLike(SEED + 2);
    const file = t.builder.write(join(dir, 'densenet'));
    const [, c, h, w] = t.inputDims;
    const input = new Random(SEED + 3).floats(2 * c * h * w, -2, 2);
    const bin = join(dir, 'x.bin');
    writeFileSync(bin, new Uint8Array(input.buffer));
    const out = join(dir, 'flat.npy');
    const r = await cli('run', file, '--cpu', '--input', bin, '--input-shape', `${c},${h},${w}`, '--save', out);
    expect(r.err).toBe('');
    expect(r.code).toBe(EXIT.ok);
    expect(r.out).toMatch(/^flat \[2x\d+x1x1\]$/m);
    const want = (await runOrt(file, t.inputName, input, [2, c, h, w])).get('features')!;
    expect(relL2(readNpy(out).data, want)).toBeLessThanOrEqual(1e-5);
    const kept = join(dir, 'concat.npy');
    const k = await cli('run-cpu', file, '--input', bin, '--input-shape', `${c},${h},${w}`, '--save', kept, '--layer', 'block.concat');
    expect(k.code, k.err).toBe(EXIT.ok);
    expect(readNpy(kept).shape.slice(0, 2)).toEqual([2, readNpy(kept).shape[1]]);
    expect(readNpy(kept).shape.length).toBe(4);
  });

  it('errors: one line, bad input 1, usage 2', async () => {
    const t = densenetLike(SEED + 4);
    const file = t.builder.write(join(dir, 'sym'));
    const npy = join(dir, 'bad.npy');
    writeFileSync(npy, npyBytes(new Float32Array(12), [1, 3, 2, 2]));
    const noShape = await cli('run', '--cpu', file, '--input', npy);
    expect(noShape.code).toBe(EXIT.badInput);
    expect(noShape.err).toMatch(/^cusnn-gen: .*sym\/model\.onnx: graph input 'x' has \[n,c,h,w\]: give its C,H,W with --input-shape.*\n$/);
    const shape = await cli('run', '--cpu', file, '--input', npy, '--input-shape', '3,2');
    expect(shape.code).toBe(EXIT.usage);
    expect(shape.err).toBe("cusnn-gen: --input-shape must be C,H,W (three integers in [1, 1000000]), got '3,2'\n");
    const [, c, h, w] = t.inputDims;
    const wrong = await cli('run', '--cpu', file, '--input', npy, '--input-shape', `${c},${h},${w}`);
    expect(wrong.code).toBe(EXIT.badInput);
    expect(wrong.err).toMatch(/^cusnn-gen: input '.*bad\.npy' has shape \(1, 3, 2, 2\); model\.onnx takes \(N, \d+, \d+, \d+\) or/);
    const none = await cli('run', '--cpu', file);
    expect(none.code).toBe(EXIT.usage);
    expect(none.err).toMatch(/needs one of --input/);
    const unknown = await cli('run', '--cpu', 'resnet18', '--input', npy);
    expect(unknown.code).toBe(EXIT.usage);
    expect(unknown.err).toMatch(/'resnet18' is neither a generated folder nor a model: Allowed choices are resnet50/);
  });

  it('--model accepts an .onnx path where zoo names go; other names are refused as before', async () => {
    const bad = await cli('--model', 'resnet18', '--arch', 'sm_90');
    expect(bad.code).toBe(EXIT.usage);
    expect(bad.err).toMatch(/^cusnn-gen: option '--model <name>' argument 'resnet18' is invalid\. Allowed choices are resnet50.*or an ONNX file/);
    const ok = await cli('--model', join(dir, 'nothing-here.onnx'), '--arch', 'sm_61');
    expect(ok.err).toMatch(/sm_61/); // --model passed its parser; --arch is what failed
  });

  it('routing and folder targets', () => {
    expect(routeCpuRun(['run', '--cpu', 'm.onnx', '--input', 'x.npy'])).toEqual(['run-cpu', 'm.onnx', '--input', 'x.npy']);
    expect(routeCpuRun(['run', 'dir', '--images', 'i'])).toEqual(['run', 'dir', '--images', 'i']);
    expect(routeCpuRun(['run', 'dir', '--', '--cpu'])).toEqual(['run', 'dir', '--', '--cpu']);
    expect(routeCpuRun(['list', '--cpu'])).toEqual(['list', '--cpu']);
    // The committed example folder: its plan names resnet152 with synthetic seed-0 weights.
    const t = resolveRunTarget('generated/resnet152-sm_70');
    expect(t.graph.name).toBe('resnet152');
    expect(t.weights.source).toMatch(/synthetic/);
    expect(readFileSync('generated/resnet152-sm_70/plan.json', 'utf8')).toMatch(/"model": "resnet152"/);
  });
});
