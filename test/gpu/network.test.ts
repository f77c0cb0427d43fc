// Whole networks on the GPU: the cuSNN path (every eligible conv forced onto generated kernels, so
// each kernel of the network runs), the dynamic path and the cuDNN-only path against each other,
// and the cuDNN-only path against the float64 CPU reference, on fresh random image-like inputs.
// Synthetic weights; CUSNN_GPU_MODELS=resnet50,densenet121 (default) picks the models.
import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildAddon } from '../../src/toolchain/addon.js';
import { generate } from '../../src/generate.js';
import { preprocess } from '../../src/runtime/images.js';
import { loadNetwork } from '../../src/runtime/network.js';
import { referenceForward } from '../../src/runtime/reference.js';
import { measureConvs, measuredDecisions } from '../../src/runtime/tune.js';

const hasGpu = spawnSync('nvidia-smi', ['-L'], { encoding: 'utf8' }).status === 0;
if (!hasGpu) console.warn('gpu/network: no NVIDIA GPU here (nvidia-smi failed): skipping whole-network GPU tests');
const models = (process.env.CUSNN_GPU_MODELS ?? 'resnet50,densenet121').split(',');
const seed = Number(process.env.CUSNN_TEST_SEED ?? Date.now() % 1e9);

function randomImage(): Float32Array {
  // Smooth-ish random image in 0..255 (a plain uniform image is far from real statistics).
  const img = new Float32Array(224 * 224 * 3);
  const base = [Math.random() * 255, Math.random() * 255, Math.random() * 255];
  for (let i = 0; i < img.length; i++) img[i] = Math.min(255, Math.max(0, base[i % 3]! + (Math.random() - 0.5) * 160));
  return img;
}

const relErr = (a: ArrayLike<number>, b: ArrayLike<number>): number => {
  let n = 0;
  let d = 0;
  for (let i = 0; i < a.length; i++) {
    n += (a[i]! - b[i]!) ** 2;
    d += b[i]! ** 2;
  }
  return Math.sqrt(n / d);
};

const bitwiseEqual = (a: Float32Array, b: Float32Array): boolean => a.length === b.length && a.every((v, i) => Object.is(v, b[i]));

/** Batch 1: a view's floats, packed, out of its buffer. */
const viewOf = (buf: Float32Array, v: { offset: number; c: number; h: number; w: number }): Float32Array => buf.slice(v.offset, v.offset + v.c * v.h * v.w);

describe.skipIf(!hasGpu)(`whole networks on the GPU (seed ${seed})`, () => {
  for (const model of models) {
    it(model, { timeout: 900_000 }, async () => {
      const dir = join(mkdtempSync(join(tmpdir(), 'cusnn-net-')), `${model}-sm_90`);
      const g = generate({ model, arch: 'sm_90', seed: seed % 1000, force: 'act-sparse', out: dir });
      await buildAddon(dir, { log: () => {} });
      const net = loadNetwork(dir, { keep: ['predictions'] });
      try {
        const x = preprocess([randomImage()], g.graph.preprocessing);
        net.inferWith(x, 'static');
        const ours = net.output('predictions', 1, 'static').slice();
        net.inferWith(x, 'dynamic');
        const dyn = net.output('predictions', 1, 'dynamic').slice();
        net.inferWith(x, 'cudnn');
        const cudnn = net.output('predictions', 1, 'cudnn').slice();
        const ref = referenceForward(g.graph, g.weights, x, 1, { keep: (l) => l === 'predictions' }).outputs.get('predictions')!;
        const e = { oursVsCudnn: relErr(ours, cudnn), dynamicVsCudnn: relErr(dyn, cudnn), cudnnVsReference: relErr(cudnn, ref), oursVsReference: relErr(ours, ref) };
        console.log(`${model}: logits rel. error ${JSON.stringify(e)}; sparse convs ${g.plan.convs.filter((c) => c.decision === 'act-sparse').length}, kernels ${g.emitted.kernels.length}`);
        expect(e.oursVsCudnn).toBeLessThanOrEqual(1e-4);
        expect(e.dynamicVsCudnn).toBeLessThanOrEqual(1e-4);
        expect(e.cudnnVsReference).toBeLessThanOrEqual(1e-4);
        expect(e.oursVsReference).toBeLessThanOrEqual(1e-4);
        // Timings run on the input they were given. The forward graph's replays: the logits after
        // them are the logits of x (a reused input buffer made every replay run on a later layer's values).
        net.runtimeFor(1, 'static').timeForward(3);
        expect(bitwiseEqual(net.output('predictions', 1, 'static'), ours), 'logits after timeForward').toBe(true);
        // A step timed alone reads its own input: what it writes then is what it wrote in the forward
        // (the buffers of a network that keeps every layer, so nothing is overwritten, say what that was).
        const all = loadNetwork(dir, { keep: g.graph.layers.map((l) => l.name) });
        try {
          all.inferWith(x, 'static');
          const rt = net.runtimeFor(1, 'static');
          const steps = net.programFor(1, 'static').steps;
          const kept = all.programFor(1, 'static').steps;
          let checked = 0;
          steps.forEach((s, i) => {
            if (s.op !== 'conv' || s.path !== 'act-sparse') return;
            rt.timeStep(i, 2, 1);
            const k = kept[i]!;
            expect(k.layer).toBe(s.layer);
            const got = viewOf(rt.readBuffer(s.out.buf), s.out);
            const want = viewOf(all.runtimeFor(1, 'static').readBuffer(k.out.buf), k.out);
            expect(bitwiseEqual(got, want), `${s.layer}: its output after timeStep is its output in the forward`).toBe(true);
            checked++;
          });
          expect(checked).toBeGreaterThan(0);
        } finally {
          all.dispose();
        }
        // Both paths of every conv timed alone; the measured decisions give a working static plan.
        const ms = measureConvs(net, x, { iters: 20 });
        expect(ms.map((m) => m.layer)).toEqual(g.plan.convs.map((c) => c.layer));
        for (const m of ms) {
          expect(m.cudnnUs, m.layer).toBeGreaterThan(0);
          if (m.kernel !== null) expect(m.actSparseUs, m.layer).toBeGreaterThan(0);
        }
        const d = measuredDecisions(ms);
        net.setDecisions(d);
        expect(net.paths()).toEqual(d);
        net.inferWith(x, 'static');
        const tuned = net.output('predictions', 1, 'static').slice();
        const sparse = Object.values(d).filter((p) => p === 'act-sparse').length;
        console.log(`${model}: measured decisions put ${sparse}/${ms.length} convs on generated kernels; rel. error vs cuDNN ${relErr(tuned, cudnn).toExponential(2)}`);
        expect(relErr(tuned, cudnn)).toBeLessThanOrEqual(1e-4);
      } finally {
        net.dispose();
      }
    });
  }
});
