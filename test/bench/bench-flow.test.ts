// The whole bench on a machine without a GPU, through a mock addon (test/bench/mock-addon.ts):
// the folder reused instead of built, calibration, measured decisions, the correctness check
// (and what a mismatch does), the three engines' times and energies, per-layer figures, clocks,
// and results.json + report files that `cusnn-gen report` reads back.
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { runBench } from '../../src/bench/bench.js';
import { readResults } from '../../src/bench/report.js';
import { ENGINES } from '../../src/bench/results.js';
import { buildModel } from '../../src/model/zoo/index.js';
import { writeCusnnBin } from '../../src/weights/cusnn-bin.js';
import { saveWeights } from '../../src/weights/load.js';
import { syntheticWeights } from '../../src/weights/synthetic.js';
import { installMockFolder, mockConfig } from './mock-addon.js';

const tmp = mkdtempSync(join(tmpdir(), 'cusnn-bench-flow-'));
const buildDir = join(tmp, 'build');
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
// The second model, beside resnet50: DenseNet-121 (generated, and its synthetic weights drawn, in
// about a second; 31 MB of weights). Nothing checked here depends on the network (the mock addon's
// outputs depend only on the input); it was VGG-16, whose 138M parameters made each of its five
// benches 4-5 s longer and its fp16 safetensors file 264 MB.
const OTHER = 'densenet121';
// The bench plans a folder for the batches it runs (prepare's batches): folders planned for 1 and 2
// for the runs at --batch 1,2, one of DenseNet-121 planned for batch 1 alone for the runs at batch 1.
const buildDir12 = join(tmp, 'build-b12');
installMockFolder(buildDir, 'resnet50', { batches: [1, 2] });
installMockFolder(buildDir, OTHER);
installMockFolder(buildDir12, 'resnet50', { batches: [1, 2] });
installMockFolder(buildDir12, OTHER, { batches: [1, 2] });
beforeEach(() => {
  const c = mockConfig();
  for (const k of Object.keys(c)) delete (c as Record<string, unknown>)[k];
});

const options = (out: string) => ({
  arch: 'sm_90', weightsDir: null, imagesDir: null, out, buildDir, iters: 100, layerIters: 5, energySeconds: 2, checkInputs: 3, seed: 0,
});

describe('runBench through a mock addon', () => {
  it('resnet50 at batch 1 and 2: three engines, energies, 53 layers, every file, readable by the report', async () => {
    const out = join(tmp, 'ok');
    const log: string[] = [];
    const ticks: string[] = [];
    let files: readonly string[] = [];
    let total = 0;
    const r = await runBench({ ...options(out), models: ['resnet50'], batches: [1, 2] }, {
      log: (s) => log.push(s),
      progress: (n) => { total = n; return { tick: (w) => ticks.push(w ?? ''), done: () => ticks.push('done') }; },
      written: (f) => { files = f; },
    });
    expect(total).toBe(2 + 2 * 5);
    expect(ticks).toHaveLength(total + 1);
    expect(ticks.at(-1)).toBe('done');
    expect(log.join('\n')).toMatch(/unchanged since the last build .*: reused/);
    expect(r.format).toBe('cusnn-bench/2');
    expect(r.gpu).toMatchObject({ name: 'Mock GPU', sm: 'sm_90', driver: '580.65.06', cudaRuntime: '13.0', cudnn: '9.14.0', cublas: '13.0.0', peakFp32Tflops: 66.9 });
    // The mock has no probeRoofline: the profile's peaks, said so.
    expect(r.gpu.roofline.source).toBe('profile');
    expect(r.gpu.roofline.note).toMatch(/^peaks of the H100 SXM5 80GB \(sm_90\) profile: the addon at .*mock-addon\.cjs has no probeRoofline/);
    expect(r.gpu.clocksStart).toEqual({ smMHz: 1980, memMHz: 2619, temperatureC: 41, powerW: 72.5 });
    expect(r.gpu.clocksEnd).not.toBeNull();
    expect(r.runs.map((m) => m.batch)).toEqual([1, 2]);
    for (const m of r.runs) {
      expect(m.error, m.error).toBeUndefined();
      expect(m).toMatchObject({ model: 'resnet50', weights: 'synthetic', weightsSource: 'synthetic (seed 0)', buildReused: true, convLayers: 53 });
      expect(m.inputs).toMatch(/^random image-like \(seed 0, 16 images\)$/);
      expect(m.notes!.join('\n')).toMatch(/synthetic weights \(seed 0\): no weights folder/);
      expect(m.correctness).toMatchObject({ passed: true, tolerance: 1e-4, maxRelError: { cusnn: 0, cudnn: 0, 'cudnn-implicit-gemm': 0 } });
      expect(m.correctness.inputs).toBe(m.batch === 1 ? 3 : 4);
      expect(m.correctness.topAgree).toBe(m.correctness.inputs);
      expect(m.engines.map((e) => e.engine)).toEqual([...ENGINES]);
      const t = Object.fromEntries(m.engines.map((e) => [e.engine, e.time.medianUs]));
      expect(t).toEqual({ cusnn: 900 * m.batch, cudnn: 1000 * m.batch, 'cudnn-implicit-gemm': 1500 * m.batch });
      // 16 random images: the first 8 decide, the other 8 check and time.
      expect(m.images!.calibrate).toHaveLength(8);
      expect(m.images!.time).toHaveLength(8);
      expect(m.images!.calibrate.some((f) => m.images!.time.includes(f))).toBe(false);
      for (const e of m.engines) {
        expect(e.time).toMatchObject({ iters: 3 * 34, rounds: 3 });
        expect(e.energy!.rounds).toBe(3);
        expect(e.energy!.mJPerInference).toBeCloseTo(300 * 1.02 * e.time.medianUs / 1e3, 6);
        expect(e.energy!.idlePowerW, 'idle: the board before any GPU work (gpuSample at the start)').toBe(72.5);
        expect(e.energy!.preWindowPowerW).toBe(70);
      }
      // Every conv with a kernel measured faster on it (10 vs 20 us): all of them act-sparse.
      expect(m.layers).toHaveLength(53);
      expect(m.sparseLayers).toBe(m.layers.filter((l) => l.path === 'act-sparse').length);
      expect(m.sparseLayers).toBeGreaterThan(40);
      const l = m.layers.find((x) => x.layer === 'conv2_block1_2_conv')!;
      expect(l).toMatchObject({ c: 64, h: 56, w: 56, k: 64, r: 3, s: 3, stride: 1, inputSparsity: 0.5, weightSparsity: 0, path: 'act-sparse',
        cusnnUs: 10 * m.batch, cudnnUs: 20 * m.batch, speedup: 2, verdict: 'faster', cudnnAlgo: 'IMPLICIT_PRECOMP_GEMM' });
      expect(l.decision!.reason).toMatch(/generated kernel$/);
      // Whichever family the planner picked for it (act-sparse, igemm or wino: wino2x3), named for this shape.
      expect(l.kernel).toMatch(/^[a-z]+[23]x3_c64_h56_w56_k64_/);
      const flops = 2 * 64 * 56 * 56 * 64 * 9 * m.batch;
      expect(l.flops).toBe(flops);
      expect(l.usefulFlops).toBeCloseTo(flops / 2, 3);
      expect(l.minBytes).toBeCloseTo(4 * (2 * 0.5 * 64 * 56 * 56 * m.batch + 64 * 64 * 9 + 64 * 56 * 56 * m.batch), 3);
      expect(l.cusnnGflops).toBeCloseTo(flops / (10 * m.batch) / 1e3, 6);
      expect(l.floorUs).toBeCloseTo(Math.max(flops / 2 / 66.9e12, l.minBytes / 3352e9) * 1e6, 9);
      expect(l.achievedFraction).toBeCloseTo(l.floorUs / l.cusnnUs, 12);
    }
    // Files: results.json first, then the report's; and the report reads it back.
    expect(files[0]).toBe(join(out, 'results.json'));
    for (const f of ['results.csv', 'layers.csv', 'summary.md', 'energy.svg', 'time.svg', 'layers-resnet50.svg', 'layers-resnet50-b2.svg', 'speedup-vs-sparsity.svg']) {
      expect(files, f).toContain(join(out, f));
      expect(existsSync(join(out, f)), f).toBe(true);
    }
    expect(readResults(join(out, 'results.json'))).toEqual(JSON.parse(JSON.stringify(r)));
    expect(r.settings).toMatchObject({ batches: [1, 2], iters: 100, layerIters: 5, energySeconds: 2, checkInputs: 3, weightsDir: null, imagesDir: null });
    expect(existsSync(join(buildDir, 'resnet50-sm_90', 'calibration.json'))).toBe(true);
    // The engines are what they say: cudnn searched, cudnn-implicit-gemm fixed.
    expect(mockConfig().created).toEqual(expect.arrayContaining(['resnet50/1/cudnn/search', 'resnet50/1/cudnn/implicit-gemm', 'resnet50/2/static/search']));
  }, 120_000);

  it('a mismatch stops that model with the error; the next model still runs', async () => {
    mockConfig().breakStaticOf = 'resnet50';
    const out = join(tmp, 'mismatch');
    const r = await runBench({ ...options(out), buildDir: buildDir12, models: ['resnet50', OTHER], batches: [1, 2] });
    expect(r.runs.map((m) => `${m.model}/${m.batch}`)).toEqual(['resnet50/1', 'resnet50/2', `${OTHER}/1`, `${OTHER}/2`]);
    const [a, b, c, d] = r.runs;
    expect(a!.error).toMatch(/^correctness: cusnn output differs from cudnn: max rel\. L2 error 1\.00e-2 > 0\.0001 over 3 inputs$/);
    expect(a!.correctness.passed).toBe(false);
    expect(a!.correctness.maxRelError.cusnn).toBeCloseTo(0.01, 6);
    expect(a!.engines).toEqual([]);
    expect(b!.error).toMatch(/^not run: batch 1 failed the correctness check/);
    expect(c!.error).toBeUndefined();
    expect(d!.error).toBeUndefined();
    expect(c!.engines).toHaveLength(3);
    expect(readResults(join(out, 'results.json')).runs).toHaveLength(4);
  }, 120_000);

  it('no NVML: clocks null and energy null, each with the reason', async () => {
    mockConfig().noNvml = true;
    mockConfig().noEnergy = true;
    const out = join(tmp, 'nonvml');
    const r = await runBench({ ...options(out), models: [OTHER] });
    expect(r.gpu.clocksStart).toBeNull();
    expect(r.gpu.clocksNote).toMatch(/^start: NVML: cannot load libnvidia-ml\.so\.1/);
    expect(r.gpu.driver).toBe('CUDA driver API 13.0');
    const m = r.runs[0]!;
    expect(m.error).toBeUndefined();
    for (const e of m.engines) {
      expect(e.energy).toBeNull();
      expect(e.energyNote).toMatch(/^NVML: total energy counter not supported on Mock GPU/);
    }
    expect(readResults(join(out, 'results.json')).runs).toHaveLength(1);
  }, 120_000);

  it('energySeconds 0: no energy, said so', async () => {
    const r = await runBench({ ...options(join(tmp, 'noenergy')), models: [OTHER], energySeconds: 0 });
    for (const e of r.runs[0]!.engines) expect(e).toMatchObject({ energy: null, energyNote: 'not measured (energySeconds 0)' });
  }, 120_000);

  it('no CUDA device stops the whole bench with the addon\'s error', async () => {
    mockConfig().noGpu = true;
    const out = join(tmp, 'nogpu');
    await expect(runBench({ ...options(out), models: [OTHER, 'resnet50'] })).rejects.toThrow(/^no CUDA device: .*\(the addon at .*mock-addon\.cjs needs an NVIDIA GPU\)$/);
    expect(existsSync(join(out, 'results.json'))).toBe(false);
  }, 120_000);

  it('a cuSNN .bin folder missing a layer is real weights, the filled tensors named', async () => {
    const graph = buildModel('resnet50');
    const wdir = join(tmp, 'weights-bin');
    writeCusnnBin(join(wdir, 'resnet50'), graph, syntheticWeights(graph, 5));
    rmSync(join(wdir, 'resnet50', 'predictions.bin'));
    const bdir = join(tmp, 'build-bin');
    installMockFolder(bdir, 'resnet50', { weights: join(wdir, 'resnet50'), fillMissing: true });
    const r = await runBench({ ...options(join(tmp, 'bin')), buildDir: bdir, weightsDir: wdir, models: ['resnet50'] });
    const m = r.runs[0]!;
    expect(m.error, m.error).toBeUndefined();
    expect(m.buildReused).toBe(true);
    expect(m.weights).toBe('real');
    expect(m.weightsSource).toMatch(/weights-bin\/resnet50 \(1 missing layer\(s\) filled synthetically, seed 0\)/);
    expect(m.notes!.join('\n')).toMatch(/2 tensors missing from .*weights-bin\/resnet50 filled synthetically \(seed 0\): predictions/);
  }, 120_000);

  it('a safetensors file that holds synthetic weights is named synthetic', async () => {
    const graph = buildModel(OTHER);
    const wdir = join(tmp, 'weights-st');
    mkdirSync(wdir, { recursive: true });
    saveWeights(join(wdir, `${OTHER}.safetensors`), graph, syntheticWeights(graph, 0), 'fp16');
    const bdir = join(tmp, 'build-st');
    installMockFolder(bdir, OTHER, { weights: join(wdir, `${OTHER}.safetensors`) });
    const r = await runBench({ ...options(join(tmp, 'st')), buildDir: bdir, weightsDir: wdir, models: [OTHER] });
    const m = r.runs[0]!;
    expect(m.error, m.error).toBeUndefined();
    expect(m.weights).toBe('synthetic');
    expect(m.notes!.join('\n')).toMatch(/densenet121\.safetensors holds synthetic weights: .*densenet121\.safetensors \(synthetic \(seed 0\)\)$/m);
  }, 120_000);
});
