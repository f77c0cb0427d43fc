// The GPU calibration committed in docs/results (cusnn-gen calibrate on the H100, DenseNet-169,
// the shared real weights stored as fp16, all 32 sample images) against an independent
// computation: the float64 CPU reference forward of the same network on the same images and the
// same fp16-rounded weights. Every conv's input sparsity must agree within 1% absolute.
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { buildModel } from '../../src/model/zoo/index.js';
import type { Calibration } from '../../src/sparsity/calibration.js';
import { listImages, preprocess, readImage } from '../../src/runtime/images.js';
import { referenceForward } from '../../src/runtime/reference.js';
import { loadWeights, saveWeights } from '../../src/weights/load.js';

const ARTIFACT = process.env.CUSNN_ARTIFACT ?? fileURLToPath(new URL('../../../shared/cusnn-artifact', import.meta.url));
const have = existsSync(join(ARTIFACT, 'weights', 'densenet169')) && existsSync(join(ARTIFACT, 'sample_images'));
if (!have) console.warn(`calibration-match: cuSNN artifact not found at ${ARTIFACT}: skipped`);
const CALIBRATION = fileURLToPath(new URL('../../docs/results/densenet169-sm_90-calibration.json', import.meta.url));

describe.skipIf(!have)('GPU calibration vs the CPU reference (densenet169, 32 images)', () => {
  it('every conv input sparsity within 1% absolute', { timeout: 900_000 }, () => {
    const cal = JSON.parse(readFileSync(CALIBRATION, 'utf8')) as Calibration;
    const graph = buildModel('densenet169');
    // The GPU ran the fp16 copy made by `cusnn-gen weights import --fp16 --fill-missing`: round the same way.
    const tmp = mkdtempSync(join(tmpdir(), 'cusnn-calm-'));
    const file = join(tmp, 'd169.safetensors');
    saveWeights(file, graph, loadWeights(graph, { path: join(ARTIFACT, 'weights', 'densenet169'), fillMissing: true }), 'fp16');
    const ws = loadWeights(graph, { path: file });
    rmSync(tmp, { recursive: true, force: true });
    const files = listImages(join(ARTIFACT, 'sample_images'));
    expect(files.length).toBe(cal.images);
    const sum = new Map<string, number>();
    for (const f of files) {
      const r = referenceForward(graph, ws, preprocess([readImage(f)], graph.preprocessing), 1);
      for (const [layer, z] of r.inputSparsity) sum.set(layer, (sum.get(layer) ?? 0) + z / files.length);
    }
    let worst = 0;
    let checked = 0;
    for (const [layer, { inputSparsity }] of Object.entries(cal.layers)) {
      const ref = sum.get(layer);
      expect(ref, layer).toBeDefined();
      worst = Math.max(worst, Math.abs(ref! - inputSparsity));
      expect(Math.abs(ref! - inputSparsity), `${layer}: GPU ${inputSparsity}, CPU ${ref}`).toBeLessThanOrEqual(0.01);
      checked++;
    }
    console.log(`calibration-match: ${checked} convs, largest |GPU - CPU| = ${(100 * worst).toFixed(4)}%`);
    expect(checked).toBe(167); // every conv but the first (it reads the image)
  });
});
