// `cusnn-gen --model file.onnx --arch sm_90` and the commands on the folder it writes, through
// main() as a user runs them: plan.json records the file (absolute path, SHA-256, its external
// data's too, the --input-shape given), layer names are the ONNX node names in plan.json,
// report.md and inspect; run --cpu, build and the runtime's loader find the model again from the
// folder, and a changed, moved or deleted file is a one-line error (exit 1), never another network.
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { main } from '../../src/cli/main.js';
import { npyBytes } from '../../src/cli/run.js';
import { readNpy } from '../../src/cli/run-cpu.js';
import { defaultOutDir } from '../../src/generate.js';
import { EXIT } from '../../src/output/exit.js';
import { planModel, readPlanFile } from '../../src/runtime/network.js';
import { readGeneratedCmake } from '../../src/toolchain/addon.js';
import { testSeed } from '../helpers/random.js';
import { Random, relL2, runOrt } from './helpers.js';
import { densenetLike, mobilenetLike, opset11, resnetLike } from './models.js';

const SEED = testSeed();
beforeAll(() => console.info(`onnx folder seed ${SEED} (CUSNN_TEST_SEED=${SEED} repeats it)`));
const dir = mkdtempSync(join(tmpdir(), 'cusnn-onnx-folder-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** main(argv) with everything it prints captured (console.log, stdout and stderr writes) and the error line. */
async function cli(...argv: string[]): Promise<{ code: number; out: string; log: string; err: string }> {
  let out = '';
  let log = '';
  const logSpy = vi.spyOn(console, 'log').mockImplementation((s: unknown) => void (out += `${String(s)}\n`));
  const outSpy = vi.spyOn(process.stdout, 'write').mockImplementation((s: string | Uint8Array) => ((out += String(s)), true));
  const errSpy = vi.spyOn(process.stderr, 'write').mockImplementation((s: string | Uint8Array) => ((log += String(s)), true));
  let err = '';
  try {
    const code = await main(argv, { err: (s) => void (err += s), env: {} });
    return { code, out, log, err };
  } finally {
    logSpy.mockRestore();
    outSpy.mockRestore();
    errSpy.mockRestore();
  }
}

const sha256 = (f: string): string => createHash('sha256').update(readFileSync(f)).digest('hex');

describe('a folder generated from an ONNX file', () => {
  it('records the file, names layers after the ONNX nodes, and runs again from the folder; a changed file is an error', async () => {
    const t = resnetLike(SEED);
    const file = t.builder.write(join(dir, 'resnet'));
    const out = join(dir, 'resnet-sm_90');
    const g = await cli('--model', file, '--arch', 'sm_90', '--out', out);
    expect(g.err).toBe('');
    expect(g.code).toBe(EXIT.ok);
    expect(g.out).toBe(`${out}\n`);
    expect(g.log).toMatch(/model model\.onnx: \d+ layers, [\d,]+ parameters \(ONNX .*model\.onnx, sha256 [0-9a-f]{12}\.\.\.\)/);
    const plan = JSON.parse(readFileSync(join(out, 'plan.json'), 'utf8')) as Record<string, unknown> & { convs: { layer: string }[] };
    expect(Object.keys(plan).slice(0, 3)).toEqual(['format', 'model', 'modelFile']);
    expect(plan.model).toBe('model.onnx');
    expect(plan.modelFile).toEqual({
      format: 'onnx', path: file, sha256: sha256(file), bytes: readFileSync(file).length,
      externalData: [{ file: 'weights.data', sha256: sha256(join(dir, 'resnet', 'weights.data')) }], inputShape: null,
    });
    // Layer names are the node names.
    expect(plan.convs.map((c) => c.layer)).toEqual(['/conv1/Conv', '/layer1/0/downsample/Conv', '/layer1/0/conv1/Conv', '/layer1/0/conv2/Conv', '/layer1/0/conv3/Conv',
      '/layer1/1/conv1/Conv', '/layer1/1/conv2/Conv', '/layer1/1/conv3/Conv']);
    expect(readFileSync(join(out, 'report.md'), 'utf8')).toMatch(/- Model: ONNX .*model\.onnx \(sha256 [0-9a-f]{64}\); layer names are its node names/);
    expect(readFileSync(join(out, 'report.md'), 'utf8')).toContain('/layer1/1/conv2/Conv');
    // The addon's CMake target is an identifier (the name's dot replaced), as the build reads it.
    expect(readGeneratedCmake(out).target).toBe('cusnn_model_onnx_sm_90');
    const ins = await cli('inspect', out, '--json');
    expect(ins.code, ins.err).toBe(EXIT.ok);
    const doc = JSON.parse(ins.out) as { modelFile: { path: string }; convs: { layer: string }[] };
    expect(doc.modelFile.path).toBe(file);
    expect(doc.convs.map((c) => c.layer)).toEqual(plan.convs.map((c) => c.layer));
    const one = await cli('inspect', out, '--layer', '/layer1/0/conv2/Conv', '--no-ptxas');
    expect(one.code, one.err).toBe(EXIT.ok);
    expect(one.out).toMatch(/"layer": "\/layer1\/0\/conv2\/Conv"/);

    // The runtime's loader (loadNetwork reads the model this way) and run --cpu on the folder: the file's own weights.
    const again = planModel(out, readPlanFile(out));
    expect(again.graph.name).toBe('model.onnx');
    expect(again.weights.source).toMatch(/model\.onnx$/);
    const [n, c, h, w] = t.inputDims;
    const input = new Random(SEED + 1).floats(n * c * h * w, -2, 2);
    const npy = join(dir, 'x.npy');
    writeFileSync(npy, npyBytes(input, [n, c, h, w]));
    const y = join(dir, 'y.npy');
    const r = await cli('run', '--cpu', out, '--input', npy, '--save', y);
    expect(r.err).toBe('');
    expect(r.code).toBe(EXIT.ok);
    const want = (await runOrt(file, t.inputName, input, t.inputDims)).get('probs')!;
    expect(relL2(readNpy(y).data, want)).toBeLessThanOrEqual(1e-5);
    const shape = await cli('run', '--cpu', out, '--input', npy, '--input-shape', `${c},${h},${w}`);
    expect(shape.code).toBe(EXIT.usage);
    expect(shape.err).toMatch(/--input-shape is for an ONNX file; the folder .* records its model's input shape/);

    // Changed external data, a changed model file, a deleted one: one line naming the file, exit 1.
    const data = join(dir, 'resnet', 'weights.data');
    const bytes = readFileSync(data);
    const flipped = Buffer.from(bytes);
    flipped[flipped.length - 1]! ^= 1;
    writeFileSync(data, flipped);
    for (const argv of [['run', '--cpu', out, '--input', npy], ['build', out]]) {
      const bad = await cli(...argv);
      expect(bad.code).toBe(EXIT.badInput);
      expect(bad.err).toMatch(/^cusnn-gen: .*plan\.json: external data .*weights\.data of .*model\.onnx changed since the folder was generated \(sha256 [0-9a-f]{12}\.\.\. recorded, [0-9a-f]{12}\.\.\. now\); regenerate the folder \(cusnn-gen --model .*model\.onnx --arch sm_90 --out .* --force-overwrite\)\n$/);
    }
    writeFileSync(data, bytes);
    expect((await cli('run', '--cpu', out, '--input', npy)).code).toBe(EXIT.ok);
    resnetLike(SEED + 7).builder.write(join(dir, 'resnet'));
    const changed = await cli('run', '--cpu', out, '--input', npy);
    expect(changed.code).toBe(EXIT.badInput);
    expect(changed.err).toMatch(/^cusnn-gen: .*plan\.json: the ONNX model .*model\.onnx changed since the folder was generated/);
    expect(() => planModel(out, readPlanFile(out))).toThrow(/changed since the folder was generated/);
    rmSync(file);
    const gone = await cli('build', out);
    expect(gone.code).toBe(EXIT.badInput);
    expect(gone.err).toMatch(/^cusnn-gen: .*plan\.json: the ONNX model .*model\.onnx it was generated from does not exist any more/);
    // A tampered record is named by its field.
    const p = JSON.parse(readFileSync(join(out, 'plan.json'), 'utf8')) as { modelFile: { sha256: string } };
    p.modelFile.sha256 = 'abc';
    writeFileSync(join(out, 'plan.json'), JSON.stringify(p));
    const tampered = await cli('run', '--cpu', out, '--input', npy);
    expect(tampered.code).toBe(EXIT.badInput);
    expect(tampered.err).toMatch(/plan\.json: modelFile\.sha256: expected 64 hex digits, found "abc"/);
  });

  it('--input-shape for symbolic dimensions is recorded; the default folder drops .onnx', async () => {
    const t = densenetLike(SEED + 2);
    const file = t.builder.write(join(dir, 'dense'));
    const out = join(dir, 'dense-sm_80');
    const none = await cli('--model', file, '--arch', 'sm_80', '--out', out);
    expect(none.code).toBe(EXIT.badInput);
    expect(none.err).toMatch(/graph input 'x' has \[n,c,h,w\]: give its C,H,W with --input-shape/);
    expect(existsSync(out)).toBe(false);
    const [n, c, h, w] = t.inputDims;
    const g = await cli('--model', file, '--arch', 'sm_80', '--out', out, '--input-shape', `${c},${h},${w}`, '-q');
    expect(g.code, g.err).toBe(EXIT.ok);
    expect(g.log).toBe('');
    expect((JSON.parse(readFileSync(join(out, 'plan.json'), 'utf8')) as { modelFile: { inputShape: number[] } }).modelFile.inputShape).toEqual([c, h, w]);
    const input = new Random(SEED + 3).floats(n * c * h * w, -2, 2);
    const npy = join(dir, 'xd.npy');
    writeFileSync(npy, npyBytes(input, [n, c, h, w]));
    const y = join(dir, 'yd.npy');
    const r = await cli('run', '--cpu', out, '--input', npy, '--save', y);
    expect(r.code, r.err).toBe(EXIT.ok);
    const want = (await runOrt(file, t.inputName, input, [n, c, h, w])).get('features')!;
    expect(relL2(readNpy(y).data, want)).toBeLessThanOrEqual(1e-5);
    expect(defaultOutDir(join('models', 'mobilenet_v2.onnx'), 'sm_90')).toBe(join('generated', 'mobilenet_v2-sm_90'));
    expect(defaultOutDir('resnet50', 'sm_90')).toBe(join('generated', 'resnet50-sm_90'));
  });

  it('MobileNet\'s ops (relu6, a depthwise conv, an exclude-pad AveragePool) generate with no GPU-path note', async () => {
    const t = mobilenetLike(SEED + 4);
    const file = t.builder.write(join(dir, 'mobile'));
    const out = join(dir, 'mobile-sm_90');
    const g = await cli('--model', file, '--arch', 'sm_90', '--out', out);
    expect(g.code, g.err).toBe(EXIT.ok);
    expect(g.log).not.toMatch(/cannot run this network/);
    expect(readFileSync(join(out, 'report.md'), 'utf8')).toMatch(/depthwise conv \(groups \d+\): no generated kernel family handles groups other than 1/);
  });

  it('a network the GPU path cannot run (two graph outputs): generate says so, build refuses before compiling, run --cpu runs it', async () => {
    const t = opset11(SEED + 6);
    const file = t.builder.write(join(dir, 'two'));
    const out = join(dir, 'two-sm_90');
    const g = await cli('--model', file, '--arch', 'sm_90', '--out', out);
    expect(g.code, g.err).toBe(EXIT.ok);
    expect(g.log).toMatch(/note: the GPU path \(build, run\) cannot run this network yet: model\.onnx: 2 graph outputs \('.*', '.*'\) are not supported on the GPU path yet: a program has one output; run --cpu can/);
    const b = await cli('build', out);
    expect(b.code).toBe(EXIT.badInput);
    expect(b.err).toMatch(/^cusnn-gen: .*two-sm_90: not built: model\.onnx: 2 graph outputs .* are not supported on the GPU path yet: a program has one output; run --cpu .* runs it on the CPU\n$/);
    const [n, c, h, w] = t.inputDims;
    const input = new Random(SEED + 5).floats(n * c * h * w, -2, 2);
    const npy = join(dir, 'xm.npy');
    writeFileSync(npy, npyBytes(input, [n, c, h, w]));
    const y = join(dir, 'ym.npy');
    const r = await cli('run', '--cpu', out, '--input', npy, '--save', y, '--layer', 'prob');
    expect(r.code, r.err).toBe(EXIT.ok);
    const want = (await runOrt(file, t.inputName, input, t.inputDims)).get('prob')!;
    expect(relL2(readNpy(y).data, want)).toBeLessThanOrEqual(1e-5);
  });
});
