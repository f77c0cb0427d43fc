// `cusnn-gen bench` on the GPU: one small run (ResNet-50, batch 1, synthetic weights, few
// replays, a 2 s energy window) through runBench, checked for the shape of results.json, sane
// times and energies, and every report file; then the native pieces the bench stands on:
// IMPLICIT_GEMM fixed by options.algo, NVML's gpuSample and measureEnergy's argument checks.
// Skips where there is no NVIDIA GPU or nvcc.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runBench } from '../../src/bench/bench.js';
import { gpuAbsentReason } from '../../src/bench/prepare.js';
import { readResults } from '../../src/bench/report.js';
import { ENGINES, type BenchResults } from '../../src/bench/results.js';
import { findNvcc } from '../../src/toolchain/nvcc.js';
import { loadAddon } from '../../src/runtime/addon.js';
import { loadNetwork, readPlanFile } from '../../src/runtime/network.js';

const reason = gpuAbsentReason() ?? (findNvcc() ? null : 'nvcc not found: the addon cannot be built here');
if (reason) console.warn(`gpu/bench: skipping: ${reason}`);
const hasSmi = spawnSync('nvidia-smi', ['-L'], { encoding: 'utf8' }).status === 0;

describe.skipIf(reason !== null)('cusnn-gen bench on the GPU', () => {
  const out = mkdtempSync(join(tmpdir(), 'cusnn-bench-gpu-'));
  let r: BenchResults;
  let written: readonly string[] = [];
  const log: string[] = [];

  it('runs resnet50 at batch 1 with synthetic weights and writes every file', async () => {
    const t0 = performance.now();
    r = await runBench({ models: ['resnet50'], arch: 'sm_90', batches: [1], weightsDir: null, out, iters: 30, layerIters: 10, energySeconds: 2, checkInputs: 4 },
      { log: (s) => log.push(s), written: (f) => { written = f; } });
    console.log(`bench resnet50 b1: ${((performance.now() - t0) / 1000).toFixed(1)} s\n${log.filter((l) => !l.startsWith('[')).join('\n')}`);
    expect(r.format).toBe('cusnn-bench/2');
    expect(r.runs).toHaveLength(1);
    const m = r.runs[0]!;
    expect(m.error, m.error).toBeUndefined();
    expect(m).toMatchObject({ model: 'resnet50', weights: 'synthetic', batch: 1 });
    expect(m.correctness.passed).toBe(true);
    expect(m.correctness.inputs).toBe(4);
    for (const e of ENGINES) expect(m.correctness.maxRelError[e]).toBeLessThanOrEqual(1e-4);
    expect(m.engines.map((e) => e.engine)).toEqual([...ENGINES]);
    for (const e of m.engines) {
      expect(e.time.medianUs, e.engine).toBeGreaterThan(0);
      expect(e.time.p10Us).toBeLessThanOrEqual(e.time.medianUs);
      expect(e.time.medianUs).toBeLessThanOrEqual(e.time.p90Us);
      expect(e.time.iters).toBe(30);
      if (e.energy) {
        expect(e.energy.mJPerInference, e.engine).toBeGreaterThan(0);
        expect(e.energy.windowSeconds).toBeGreaterThanOrEqual(2);
        expect(e.energy.inferences).toBeGreaterThan(0);
        expect(e.energy.avgPowerW).toBeGreaterThan(0);
        expect(e.energy.idlePowerW).toBeGreaterThan(0);
        // energy per inference = average power x time per inference, within the replay overheads
        const implied = (e.energy.avgPowerW * e.energy.windowSeconds * 1000) / e.energy.inferences;
        expect(Math.abs(implied - e.energy.mJPerInference) / e.energy.mJPerInference).toBeLessThan(1e-6);
      } else {
        expect(e.energyNote, e.engine).toMatch(/NVML/);
      }
    }
    expect(m.convLayers).toBe(53);
    expect(m.layers).toHaveLength(53);
    expect(m.sparseLayers).toBe(m.layers.filter((l) => l.path === 'act-sparse').length);
    // A generated layer names the kernel the folder's plan gives it (any family: act-sparse, igemm, dconv, ...).
    const planned = new Map(readPlanFile(join(out, 'build', 'resnet50-sm_90')).convs.map((c) => [c.layer, c.kernelName]));
    for (const l of m.layers) {
      expect(l.cusnnUs, l.layer).toBeGreaterThan(0);
      expect(l.cudnnUs, l.layer).toBeGreaterThan(0);
      expect(l.flops).toBeGreaterThan(0);
      expect(l.usefulFlops).toBeLessThanOrEqual(l.flops);
      expect(l.floorUs).toBeGreaterThan(0);
      expect(l.cudnnAlgo).not.toBe('?');
      if (l.path === 'act-sparse') {
        expect(l.kernel, l.layer).toBe(planned.get(l.layer));
        expect(l.kernel, l.layer).toMatch(/_sm90$/);
      }
    }
    expect(r.gpu.name).not.toMatch(/unknown/);
    expect(r.gpu.sm).toMatch(/^sm_\d+$/);
    if (hasSmi) expect(r.gpu.clocksStart, r.gpu.clocksNote).not.toBeNull();
    // results.json reads back through the report's validator; the report files are all there.
    expect(readResults(join(out, 'results.json')).runs).toHaveLength(1);
    expect(written[0]).toBe(join(out, 'results.json'));
    for (const f of ['results.json', 'results.csv', 'layers.csv', 'summary.md', 'energy.svg', 'time.svg', 'layers-resnet50.svg', 'speedup-vs-sparsity.svg']) {
      expect(existsSync(join(out, f)), f).toBe(true);
      expect(statSync(join(out, f)).size, f).toBeGreaterThan(0);
    }
    expect(readdirSync(join(out, 'build'))).toContain('resnet50-sm_90');
  });

  it('cudnn-implicit-gemm: every cuDNN conv fixed to IMPLICIT_GEMM, no search', () => {
    const net = loadNetwork(join(out, 'build', 'resnet50-sm_90'));
    try {
      const rt = net.runtimeFor(1, 'cudnn-implicit-gemm');
      expect(rt.info().algo).toBe('implicit-gemm');
      const algos = rt.algorithms();
      expect(algos).toHaveLength(53);
      for (const a of algos) {
        expect(a.algoName, a.layer).toBe('IMPLICIT_GEMM');
        expect(a.us).toBe(-1);
        expect(a.candidates).toHaveLength(1);
      }
      expect(net.runtimeFor(1, 'cudnn').info().algo).toBe('search');
    } finally {
      net.dispose();
    }
  });

  it('gpuSample and measureEnergy: readings or clear NVML errors', () => {
    const addon = loadAddon(join(out, 'build', 'resnet50-sm_90'));
    let sample;
    try {
      sample = addon.gpuSample();
    } catch (e) {
      expect((e as Error).message).toMatch(/^NVML: /);
    }
    if (sample) {
      expect(sample.driver).toMatch(/^\d+\.\d+/);
      expect(sample.pciBusId).toMatch(/^[0-9a-fA-F]+:[0-9a-fA-F]+:[0-9a-fA-F]+\.[0-9a-fA-F]$/);
      expect(sample.smMHz).toBeGreaterThan(0);
    }
    expect(() => addon.gpuSample(99)).toThrow(/^NVML: /);
    const net = loadNetwork(join(out, 'build', 'resnet50-sm_90'));
    try {
      const rt = net.runtimeFor(1, 'cudnn');
      expect(() => rt.measureEnergy(2)).toThrow(/no input yet/);
      net.inferWith(Float32Array.from({ length: 3 * 224 * 224 }, (_, i) => Math.sin(i * 0.01)), 'cudnn');
      expect(() => rt.measureEnergy(0)).toThrow(/minSeconds must be in \(0, 600\]/);
      expect(() => rt.measureEnergy(1, -5)).toThrow(/idleMs/);
    } finally {
      net.dispose();
    }
  });
});
