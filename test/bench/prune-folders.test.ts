// `bench --prune` on a zoo model without a GPU, through the mock addon (test/bench/mock-addon.ts):
// the pruned variant's folder (<model>-<arch>-p0.90) generated from the weights file the bench
// writes into it, plan.json naming that file, the build cache (a folder whose kernels are an
// earlier folder's borrows its addon; an unchanged folder reuses its own), and the records: prune,
// the weight sparsity counted here, per-layer weight sparsity, CSV columns and the chart.
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { PRUNED_WEIGHTS_FILE, runBench } from '../../src/bench/bench.js';
import { parseCsv } from '../../src/bench/csv.js';
import { kernelsFingerprint, prepareFolder, resolveWeights } from '../../src/bench/prepare.js';
import { buildModel } from '../../src/model/zoo/index.js';
import { addonPath, loadAddon } from '../../src/runtime/addon.js';
import { loadWeights, saveWeights } from '../../src/weights/load.js';
import { pruneWeights } from '../../src/weights/prune.js';
import { syntheticWeights } from '../../src/weights/synthetic.js';
import { installMockFolder } from './mock-addon.js';

const tmp = mkdtempSync(join(tmpdir(), 'cusnn-prune-folders-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
const MODEL = 'densenet121';

describe('pruned variants of a zoo model: folders, weights files, the build cache', () => {
  it('a folder with the kernels of an earlier one borrows its addon, and again next time', async () => {
    const buildDir = join(tmp, 'lend');
    installMockFolder(buildDir, MODEL);
    const log: string[] = [];
    const base = { model: MODEL, arch: 'sm_90', weights: resolveWeights(MODEL, null), seed: 0, buildDir, log: (s: string) => log.push(s) };
    const a = await prepareFolder(base);
    expect(a).toMatchObject({ reused: true, buildSeconds: 0 });
    expect(a.reusedFrom).toBeUndefined();
    // The same weights in another folder: the same kernels, so no build.
    for (let i = 0; i < 2; i++) {
      const b = await prepareFolder({ ...base, name: `${MODEL}-sm_90-copy`, reuse: [a] });
      expect(b).toMatchObject({ reused: true, reusedFrom: a.dir, buildSeconds: 0, dir: join(buildDir, `${MODEL}-sm_90-copy`) });
      expect(log.at(-1)).toMatch(new RegExp(`the same kernels as .*${MODEL}-sm_90: its addon reused`));
      expect(addonPath(b.dir)).toBe(addonPath(a.dir));
      const manifest = JSON.parse(readFileSync(join(b.dir, 'build', 'cusnn-addon.json'), 'utf8')) as { node: string; target: string };
      expect(manifest).toMatchObject({ node: `../../${MODEL}-sm_90/build/mock-addon.cjs`, target: `cusnn_${MODEL}_sm_90` });
      expect(JSON.parse(readFileSync(join(b.dir, 'build', 'cusnn-bench-build.json'), 'utf8'))).toMatchObject({ reusedFrom: a.dir });
      expect(loadAddon(b.dir).device!.name).toBe('Mock GPU');
    }
    // What decides: the kernels' names and bytes and CMakeLists.txt, not where the folder is.
    expect(kernelsFingerprint(join(buildDir, `${MODEL}-sm_90-copy`), 'sm_90')).toBe(kernelsFingerprint(a.dir, 'sm_90'));
    expect(kernelsFingerprint(a.dir, 'sm_80')).not.toBe(kernelsFingerprint(a.dir, 'sm_90'));
    const other = join(tmp, 'lend-edited');
    cpSync(a.dir, other, { recursive: true });
    const k = a.generated.emitted.kernels[0]!.file;
    writeFileSync(join(other, k), `${readFileSync(join(other, k), 'utf8')}\n// edited\n`);
    expect(kernelsFingerprint(other, 'sm_90')).not.toBe(kernelsFingerprint(a.dir, 'sm_90'));
  }, 120_000);

  it('bench --prune 0.9: a folder of its own from the weights file the bench writes, recorded with its weight sparsity', async () => {
    const buildDir = join(tmp, 'bench');
    const graph = buildModel(MODEL);
    const pruned = pruneWeights(graph, syntheticWeights(graph, 0), { sparsity: 0.9 }).weights;
    installMockFolder(buildDir, MODEL);
    // The variant's folder as the bench will generate it (kernels of pruned weights may be specialized to them), with the mock as its addon.
    const pre = join(tmp, 'pre-pruned.safetensors');
    saveWeights(pre, graph, pruned);
    const name = `${MODEL}-sm_90-p0.90`;
    installMockFolder(buildDir, MODEL, { weights: pre, name });
    const out = join(tmp, 'bench-out');
    const r = await runBench({ models: [MODEL], arch: 'sm_90', batches: [1], prune: [0.9], weightsDir: null, imagesDir: null, out, buildDir,
      iters: 100, layerIters: 5, energySeconds: 2, checkInputs: 3, seed: 0 });
    expect(r.runs.map((m) => [m.prune, m.error, m.buildReused])).toEqual([[null, undefined, true], [{ sparsity: 0.9, pattern: 'unstructured' }, undefined, true]]);
    const file = join(buildDir, name, PRUNED_WEIGHTS_FILE);
    const plan = JSON.parse(readFileSync(join(buildDir, name, 'plan.json'), 'utf8')) as { weightsRef: { path: string } };
    expect(plan.weightsRef.path).toBe(file);
    const read = loadWeights(graph, { path: file });
    const [dense, p] = r.runs as [typeof r.runs[0], typeof r.runs[0]];
    expect(p.weightsSource).toBe(read.source);
    // Zeros counted here: over all conv kernels, and per layer.
    const convs = graph.layers.filter((l) => l.op === 'conv');
    const zeros = (t: Float32Array): number => t.reduce((a, v) => a + (v === 0 ? 1 : 0), 0);
    const total = (ws: typeof pruned): number => convs.reduce((a, l) => a + zeros(ws.tensors.get(`${l.name}:kernel`)!), 0) / convs.reduce((a, l) => a + ws.tensors.get(`${l.name}:kernel`)!.length, 0);
    expect(p.weightSparsity).toBeCloseTo(total(pruned), 12);
    expect(p.weightSparsity).toBeCloseTo(total(read), 12);
    expect(dense.weightSparsity).toBeCloseTo(total(syntheticWeights(graph, 0)), 12);
    expect(p.weightSparsity).toBeGreaterThan(0.85);
    expect(p.layers).toHaveLength(convs.length);
    for (const l of p.layers) {
      const t = pruned.tensors.get(`${l.layer}:kernel`)!;
      expect(l.weightSparsity, l.layer).toBeCloseTo(zeros(t) / t.length, 12);
    }
    expect(p.correctness.passed).toBe(true);
    const nh = parseCsv(readFileSync(join(out, 'results.csv'), 'utf8'))[0]!;
    expect(nh.slice(nh.indexOf('weightsSource') + 1, nh.indexOf('weightsSource') + 4)).toEqual(['pruneSparsity', 'prunePattern', 'weightSparsity']);
    const svg = readFileSync(join(out, 'speedup-vs-weight-sparsity.svg'), 'utf8');
    const drawn = r.runs.reduce((a, m) => a + m.layers.filter((l) => l.path === 'act-sparse').length, 0);
    expect([...svg.matchAll(/<circle class="point"/g)]).toHaveLength(drawn);
    expect(existsSync(join(out, `layers-${MODEL}-p0.90.svg`))).toBe(true);
  }, 120_000);
});
