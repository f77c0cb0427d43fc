// Window geometry against onnxruntime: random single-op models (Conv with any kernel, stride,
// explicit or automatic padding, depthwise or not; MaxPool and AveragePool with padding,
// ceil_mode and count_include_pad, on inputs that may be negative), fresh each run, each imported
// and run through the float64 reference and compared with onnxruntime's output and shape.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { importOnnxFile } from '../../src/model/onnx/import.js';
import { referenceForward } from '../../src/runtime/reference.js';
import { testSeed } from '../helpers/random.js';
import { float, int, ints, OnnxModelBuilder, Random, relL2, runOrt, str, type Attr } from './helpers.js';

const SEED = testSeed();
beforeAll(() => console.info(`onnx sweep seed ${SEED} (CUSNN_TEST_SEED=${SEED} repeats it)`));
const dir = mkdtempSync(join(tmpdir(), 'cusnn-onnx-sweep-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let count = 0;

const outSize = (size: number, k: number, s: number, before: number, after: number, ceil: boolean): number => {
  const span = size + before + after - k;
  if (span < 0) return 0;
  let out = ceil ? Math.ceil(span / s) + 1 : Math.floor(span / s) + 1;
  if (ceil && (out - 1) * s >= size + before) out--;
  return out;
};

async function check(m: OnnxModelBuilder, dims: [number, number, number, number], r: Random, what: string): Promise<number> {
  const file = m.write(join(dir, `m${count++}`));
  const imp = importOnnxFile(file);
  const input = r.floats(dims.reduce((a, b) => a * b, 1), -2, 2);
  const ref = referenceForward(imp.graph, imp.weights, input, dims[0]);
  const want = (await runOrt(file, 'x', input, dims)).get('y')!;
  const got = ref.outputs.get(imp.outputLayers[0]!)!;
  expect(got.length, `${what}: output size`).toBe(want.length);
  const err = relL2(got, want);
  expect(err, what).toBeLessThanOrEqual(1e-5);
  return err;
}

describe('window geometry against onnxruntime', () => {
  it('Conv: any kernel, stride, pads or auto_pad, group 1 or depthwise (40 random configs)', async () => {
    const r = new Random(SEED);
    let worst = 0;
    for (let done = 0; done < 40;) {
      const [c, h, w] = [r.int(1, 5), r.int(1, 12), r.int(1, 12)];
      const [kh, kw] = [r.int(1, 5), r.int(1, 5)];
      const [sh, sw] = [r.int(1, 3), r.int(1, 3)];
      const depthwise = c > 1 && r.uniform() < 0.4;
      const k = depthwise ? c * r.int(1, 3) : r.int(1, 6);
      const mode = r.pick(['pads', 'pads', 'SAME_UPPER', 'SAME_LOWER', 'VALID', 'none']);
      const attrs: Record<string, Attr> = { strides: ints([sh, sw]) };
      let pads = [0, 0, 0, 0];
      if (mode === 'pads') {
        pads = [r.int(0, kh), r.int(0, kw), r.int(0, kh), r.int(0, kw)];
        attrs.pads = ints(pads);
      } else if (mode !== 'none') attrs.auto_pad = str(mode);
      if (depthwise) attrs.group = int(c);
      if (r.uniform() < 0.5) attrs.kernel_shape = ints([kh, kw]);
      const same = mode.startsWith('SAME');
      const ho = same ? Math.ceil(h / sh) : outSize(h, kh, sh, pads[0]!, pads[2]!, false);
      const wo = same ? Math.ceil(w / sw) : outSize(w, kw, sw, pads[1]!, pads[3]!, false);
      if (ho < 1 || wo < 1) continue;
      const m = new OnnxModelBuilder(r.pick([11, 13, 17]));
      m.input('x', ['n', c, h, w]);
      const inputs = ['x', m.init('w', [k, depthwise ? 1 : c, kh, kw], r.floats(k * (depthwise ? 1 : c) * kh * kw), r.pick(['raw', 'float_data', 'external'] as const))];
      if (r.uniform() < 0.5) inputs.push(m.init('b', [k], r.floats(k)));
      m.node('Conv', inputs, { name: 'conv', outputs: ['y'], attrs });
      m.output('y');
      const what = `Conv ${c}x${h}x${w} -> ${k}, kernel ${kh}x${kw}, stride ${sh}x${sw}, ${mode} ${mode === 'pads' ? pads.join(',') : ''}${depthwise ? ', depthwise' : ''}`;
      worst = Math.max(worst, await check(m, [r.int(1, 2), c, h, w], r, what));
      done++;
    }
    console.info(`conv sweep: worst relative L2 ${worst.toExponential(1)}`);
  });

  it('MaxPool and AveragePool: pads, ceil_mode, count_include_pad, auto_pad, after a ReLU or not (60 random configs)', async () => {
    const r = new Random(SEED + 1);
    let worst = 0;
    let refused = 0;
    for (let done = 0; done < 60;) {
      const [c, h, w] = [r.int(1, 3), r.int(1, 11), r.int(1, 11)];
      const [kh, kw] = [r.int(1, 4), r.int(1, 4)];
      const [sh, sw] = [r.int(1, 3), r.int(1, 3)];
      const op = r.pick(['MaxPool', 'AveragePool']);
      const ceil = r.uniform() < 0.5;
      const countPad = op === 'AveragePool' && r.uniform() < 0.4;
      const auto = r.uniform() < 0.2 ? r.pick(['SAME_UPPER', 'SAME_LOWER']) : null;
      const pads = auto ? [0, 0, 0, 0] : [r.int(0, kh - 1), r.int(0, kw - 1), r.int(0, kh - 1), r.int(0, kw - 1)];
      const attrs: Record<string, Attr> = { kernel_shape: ints([kh, kw]), strides: ints([sh, sw]) };
      if (auto) attrs.auto_pad = str(auto);
      else if (pads.some((p) => p > 0)) attrs.pads = ints(pads);
      if (ceil) attrs.ceil_mode = int(1);
      if (countPad) attrs.count_include_pad = int(1);
      let ho = outSize(h, kh, sh, pads[0]!, pads[2]!, ceil);
      let wo = outSize(w, kw, sw, pads[1]!, pads[3]!, ceil);
      if (auto) {
        ho = Math.ceil(h / sh);
        wo = Math.ceil(w / sw);
        // SAME pads smaller than the window only (the importer's rule for pools).
        const total = (size: number, k: number, s: number): number => Math.max(0, (Math.ceil(size / s) - 1) * s + k - size);
        if (Math.ceil(total(h, kh, sh) / 2) >= kh || Math.ceil(total(w, kw, sw) / 2) >= kw) continue;
        // onnxruntime computes SAME pads without clamping at 0 and rejects the negative ones (window < stride).
        if ((Math.ceil(h / sh) - 1) * sh + kh < h || (Math.ceil(w / sw) - 1) * sw + kw < w) continue;
      }
      if (ho < 1 || wo < 1) continue;
      const afterRelu = r.uniform() < 0.4;
      const m = new OnnxModelBuilder(r.pick([11, 12, 17]));
      m.input('x', ['n', c, h, w]);
      const x = afterRelu ? m.node('Relu', ['x'], { name: 'relu' }) : 'x';
      m.node(op, [x], { name: 'pool', outputs: ['y'], attrs });
      m.output('y');
      const overhang = ceil && !auto && ((ho - 1) * sh + kh > h + pads[0]! + pads[2]! || (wo - 1) * sw + kw > w + pads[1]! + pads[3]!);
      const what = `${op} ${c}x${h}x${w}, kernel ${kh}x${kw}, stride ${sh}x${sw}, ${auto ?? `pads ${pads.join(',')}`}${ceil ? ', ceil' : ''}${countPad ? ', count_include_pad' : ''}${afterRelu ? ', after ReLU' : ''}`;
      if (countPad && overhang) {
        expect(() => importOnnxFile(m.write(join(dir, `m${count++}`))), what).toThrow(/ONNX node \d+ 'pool' \(AveragePool\): count_include_pad 1 with ceil_mode 1/);
        refused++;
        continue;
      }
      worst = Math.max(worst, await check(m, [r.int(1, 2), c, h, w], r, what));
      done++;
    }
    console.info(`pool sweep: worst relative L2 ${worst.toExponential(1)}; ${refused} count_include_pad + ceil overhang configs refused as documented`);
  });

  it('BatchNormalization epsilon and Gemm alpha/beta/transB with a scalar bias', async () => {
    const r = new Random(SEED + 2);
    for (let i = 0; i < 6; i++) {
      const [c, f, units] = [r.int(1, 4), r.int(2, 9), r.int(1, 6)];
      const m = new OnnxModelBuilder(r.pick([11, 17]));
      m.input('x', ['n', c, 1, 1]);
      const bn = m.node('BatchNormalization', ['x', m.init('s', [c], r.floats(c)), m.init('b', [c], r.floats(c)), m.init('m', [c], r.floats(c)), m.init('v', [c], r.floats(c, 0.1, 2))], { name: 'bn', attrs: { epsilon: float(r.pick([1e-5, 1e-3, 0.1])) } });
      const flat = m.node('Flatten', [bn], { name: 'flat' });
      const transB = r.int(0, 1);
      const g1 = m.node('Gemm', [flat, m.init('w1', transB ? [f, c] : [c, f], r.floats(c * f)), m.init('c1', [], r.floats(1))], { name: 'g1', attrs: { transB: int(transB), alpha: float(r.uniform(0.5, 2)), beta: float(r.uniform(-1, 1)) } });
      m.node('Gemm', [g1, m.init('w2', [units, f], r.floats(units * f))], { name: 'g2', outputs: ['y'], attrs: { transB: int(1) } });
      m.output('y');
      await check(m, [r.int(1, 3), c, 1, 1], r, `bn + gemm ${i}`);
    }
  });
});
