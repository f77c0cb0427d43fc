// Whole networks with the real ImageNet weights on the real images: the cuSNN path with every
// eligible conv on a generated kernel (so every kernel of the network runs on real activations)
// against the cuDNN-only path, per image: relative L2 error <= 1e-4 at the logits and at the
// final features, and the same top-5 classes. Tensors the shared weights lack are filled
// synthetically (weights/README.md allows it; the fill is listed).
//
// CUSNN_REAL_WEIGHTS: a folder with <model>.safetensors (our format, `cusnn-gen weights`) or the
// original's <model> .bin folders (default ../shared/cusnn-artifact/weights); CUSNN_REAL_IMAGES:
// image folder (default ../shared/cusnn-artifact/sample_images); CUSNN_REAL_MODELS (default
// resnet50,densenet169,densenet201). A model whose weights are not there is skipped, by name.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildAddon } from '../../src/toolchain/addon.js';
import { generate } from '../../src/generate.js';
import { listImages } from '../../src/runtime/images.js';
import { loadNetwork } from '../../src/runtime/network.js';

const hasGpu = spawnSync('nvidia-smi', ['-L'], { encoding: 'utf8' }).status === 0;
const artifact = process.env.CUSNN_ARTIFACT ?? resolve('..', 'shared', 'cusnn-artifact');
const weightsDir = process.env.CUSNN_REAL_WEIGHTS ?? join(artifact, 'weights');
const imagesDir = process.env.CUSNN_REAL_IMAGES ?? join(artifact, 'sample_images');
const models = (process.env.CUSNN_REAL_MODELS ?? 'resnet50,densenet169,densenet201').split(',');

function weightsFor(model: string): string | null {
  for (const p of [join(weightsDir, `${model}.safetensors`), join(weightsDir, model)]) if (existsSync(p)) return p;
  return null;
}

const relErr = (a: ArrayLike<number>, b: ArrayLike<number>): number => {
  let n = 0, d = 0;
  for (let i = 0; i < a.length; i++) {
    n += (a[i]! - b[i]!) ** 2;
    d += b[i]! ** 2;
  }
  return Math.sqrt(n / d);
};
const top5 = (v: Float32Array): string => [...v.keys()].sort((a, b) => v[b]! - v[a]! || a - b).slice(0, 5).join(',');

describe.skipIf(!hasGpu || !existsSync(imagesDir))('whole networks on real weights and images', () => {
  for (const model of models) {
    const weights = weightsFor(model);
    it.skipIf(weights === null)(`${model} (${weights ?? `no weights in ${weightsDir}`})`, { timeout: 900_000 }, async () => {
      const dir = join(mkdtempSync(join(tmpdir(), 'cusnn-real-')), `${model}-sm_90`);
      const g = generate({ model, arch: 'sm_90', weights: weights!, fillMissing: true, force: 'act-sparse', out: dir });
      if (g.weights.filled.length) console.log(`${model}: filled synthetically: ${g.weights.filled.join(', ')}`);
      await buildAddon(dir, { jobs: 16, log: () => {} });
      const features = g.graph.layers[g.graph.layers.length - 3]!.name; // the global average pool before the classifier
      const net = loadNetwork(dir, { keep: ['predictions', features] });
      try {
        const files = listImages(imagesDir);
        let worstLogits = 0, worstFeatures = 0, same = 0;
        for (const f of files) {
          const x = net.preprocessFiles([f]);
          net.inferWith(x, 'static');
          const ours = net.output('predictions', 1, 'static').slice();
          const oursF = net.output(features, 1, 'static').slice();
          net.inferWith(x, 'cudnn');
          const ref = net.output('predictions', 1, 'cudnn').slice();
          const refF = net.output(features, 1, 'cudnn').slice();
          const e = relErr(ours, ref), ef = relErr(oursF, refF);
          worstLogits = Math.max(worstLogits, e);
          worstFeatures = Math.max(worstFeatures, ef);
          expect(e, `${model} ${f}: logits rel. error`).toBeLessThanOrEqual(1e-4);
          expect(ef, `${model} ${f}: ${features} rel. error`).toBeLessThanOrEqual(1e-4);
          // Bitwise-equal logits would mean the generated kernels did not run.
          expect(e, `${model} ${f}: logits bitwise equal to cuDNN's`).toBeGreaterThan(0);
          if (top5(ours) === top5(ref)) same++;
        }
        const sparse = g.plan.convs.filter((c) => c.decision === 'act-sparse').length;
        console.log(`${model}: ${files.length} images, ${sparse}/${g.plan.convs.length} convs on ${g.emitted.kernels.length} generated kernels; ` +
          `worst rel. error logits ${worstLogits.toExponential(2)}, ${features} ${worstFeatures.toExponential(2)}; top-5 same ${same}/${files.length}`);
        expect(same).toBe(files.length);
      } finally {
        net.dispose();
      }
    });
  }
});
