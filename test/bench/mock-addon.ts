// A stand-in for a generated folder's native addon, in plain JavaScript, so that the whole bench
// (src/bench/bench.ts: folders, calibration, measured decisions, correctness, timing, energy,
// per-layer results, results.json and the report) runs on a machine without a GPU. It keeps the
// addon's contract (src/runtime/addon.ts): outputs depend only on the input (every engine agrees
// unless told not to), times and energies are fixed per engine, conv steps are faster on a
// generated kernel. What it does is set through globalThis.__cusnnMock.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildFingerprint, plannedBatches } from '../../src/bench/prepare.js';
import { generate } from '../../src/generate.js';

export interface MockConfig {
  /** deviceInfo throws "no CUDA device: ..." */
  noGpu?: boolean;
  /** gpuSample throws "NVML: cannot load ..." */
  noNvml?: boolean;
  /** measureEnergy throws the NVML "not supported" error. */
  noEnergy?: boolean;
  /** The static (cusnn) engine of this model gives outputs 1% off. */
  breakStaticOf?: string;
  /** Runtimes created, by mode/algo (to check what the bench loads). */
  created?: string[];
}

export const mockConfig = (): MockConfig => {
  const g = globalThis as { __cusnnMock?: MockConfig };
  g.__cusnnMock ??= {};
  return g.__cusnnMock;
};

const MOCK_JS = String.raw`'use strict';
const cfg = () => globalThis.__cusnnMock || {};
const device = () => {
  if (cfg().noGpu) throw new Error('no CUDA device: CUDA driver version is insufficient for CUDA runtime version (cudaErrorInsufficientDriver)');
  return { name: 'Mock GPU', computeCapability: '9.0', sm: 'sm_90', multiprocessors: 132, globalMemoryBytes: 80e9, l2Bytes: 50e6,
    driverVersion: 13000, runtimeVersion: 13000, cudnnVersion: 91400, cublasVersion: '13.0.0', buildArch: 'sm_90' };
};
exports.deviceInfo = () => device();
exports.buildInfo = () => ({ buildArch: 'sm_90', generatedArch: 'sm_90', cudnnHeaderVersion: 91400, cudaRuntimeHeaderVersion: 13000, kernels: [] });
exports.kernels = () => [];
exports.gpuSample = () => {
  device();
  if (cfg().noNvml) throw new Error('NVML: cannot load libnvidia-ml.so.1 (not found): energy, power and clock readings need the NVIDIA driver\'s NVML library');
  return { smMHz: 1980, memMHz: 2619, temperatureC: 41, powerW: 72.5, driver: '580.65.06', name: 'Mock GPU', pciBusId: '00000000:19:00.0', notes: '' };
};
exports.createRuntime = (json, tensors, options) => {
  device();
  const p = JSON.parse(json);
  const mode = options.mode;
  const algo = options.algo || 'search';
  (cfg().created = cfg().created || []).push(p.model + '/' + p.batch + '/' + mode + '/' + algo);
  const per = p.output.c * p.output.h * p.output.w;
  const inPer = p.input.c * p.input.h * p.input.w;
  const sparse = (s) => mode !== 'cudnn' && s.path === 'act-sparse';
  const engineUs = mode === 'static' ? 900 : algo === 'implicit-gemm' ? 1500 : 1000;
  let hasInput = false;
  let disposed = false;
  let last = new Float32Array(p.batch * per);
  const live = () => { if (disposed) throw new Error('this runtime was disposed'); };
  return {
    run(x) {
      live();
      if (x.length !== p.batch * inPer) throw new RangeError('run: the input has ' + x.length + ' floats');
      hasInput = true;
      const out = new Float32Array(p.batch * per);
      const off = mode === 'static' && cfg().breakStaticOf === p.model ? 1.01 : 1;
      for (let n = 0; n < p.batch; n++) {
        let s = 0;
        for (let i = 0; i < inPer; i += 97) s += x[n * inPer + i];
        for (let k = 0; k < per; k++) out[n * per + k] = Math.sin(s * 1e-3 + k) * off;
      }
      last = out;
      return out;
    },
    runEager(x) { return this.run(x); },
    // A kept view (e.g. the logits) reads as the last output, cycled to the view's size.
    readView(name) {
      live();
      const v = p.views[name];
      const n = v ? v.c * v.h * v.w * p.batch : per * p.batch;
      return Float32Array.from({ length: n }, (_, i) => last[i % last.length]);
    },
    readBuffer() { live(); return new Float32Array(1); },
    fillBuffers() { live(); },
    zeroCounts() {
      live();
      const z = new Float64Array(p.zeroCounters);
      for (const s of p.steps) if (s.op === 'conv' && s.inZeros !== null) z[s.inZeros] = 0.5 * s.in.c * s.in.h * s.in.w * p.batch;
      return z;
    },
    branches() { return new Int32Array(p.steps.length).fill(-1); },
    timeForward(iters) {
      live();
      if (!hasInput) throw new Error('timeForward: no input yet: call run(input) once first');
      return { medianUs: engineUs * p.batch, p10Us: 0.97 * engineUs * p.batch, p90Us: 1.05 * engineUs * p.batch, iters };
    },
    timeStep(step, iters) {
      live();
      if (!hasInput) throw new Error('timeStep: no input yet');
      const s = p.steps[step];
      if (!s) throw new Error('timeStep: step ' + step + ' is out of range');
      const us = s.op === 'conv' ? (sparse(s) ? 10 : algo === 'implicit-gemm' ? 30 : 20) * p.batch : 3;
      return { medianUs: us, p10Us: us * 0.98, p90Us: us * 1.03, iters };
    },
    measureEnergy(minSeconds) {
      live();
      if (!hasInput) throw new Error('measureEnergy: no input yet: call run(input) once first');
      if (cfg().noEnergy) throw new Error('NVML: total energy counter not supported on Mock GPU: nvmlDeviceGetTotalEnergyConsumption: Not Supported (NVML error 3)');
      const replayUs = engineUs * p.batch * 1.02;
      const inferences = Math.ceil((minSeconds * 1e6) / replayUs);
      const windowSeconds = (inferences * replayUs) / 1e6;
      const energyMj = 300 * windowSeconds * 1000;
      return { mJPerInference: energyMj / inferences, windowSeconds, inferences, avgPowerW: 300, idlePowerW: 70, replayUs, energyMj, gpu: 'Mock GPU' };
    },
    algorithms() {
      const a = [];
      p.steps.forEach((s, i) => {
        if (s.op !== 'conv' || sparse(s)) return;
        const name = algo === 'implicit-gemm' ? 'IMPLICIT_GEMM' : 'IMPLICIT_PRECOMP_GEMM';
        a.push({ step: i, layer: s.layer, algo: algo === 'implicit-gemm' ? 0 : 1, algoName: name, us: algo === 'implicit-gemm' ? -1 : 20, workspaceBytes: 0, cached: false, candidates: [] });
      });
      return a;
    },
    info() {
      return { model: p.model, batch: p.batch, steps: p.steps.length, mode, math: 'fp32', algo, conditional: 'none', bodyFallbacks: 0, bodyNote: '',
        deviceBytes: 0, inputFloats: p.batch * inPer, outputFloats: p.batch * per };
    },
    dispose() { disposed = true; },
  };
};
`;

/**
 * Generates `<buildDir>/<model>-<arch>` (or `<buildDir>/<name>`: a pruned variant's folder) as the
 * bench does (the weights given or synthetic ones, seed 0, every eligible conv on a generated
 * kernel: the tiles depend on the weights; planned for `batches`, as the bench plans for the batches
 * it runs) and installs the mock as its "built" addon, with the
 * build stamp the bench checks, so prepareFolder reuses it instead of compiling.
 */
export function installMockFolder(buildDir: string, model: string, o: { arch?: string; weights?: string; fillMissing?: boolean; name?: string; batches?: readonly number[] } = {}): string {
  const arch = o.arch ?? 'sm_90';
  const dir = join(buildDir, o.name ?? `${model}-${arch}`);
  generate({ model, arch, seed: 0, weights: o.weights, fillMissing: o.fillMissing ?? false, force: 'act-sparse', out: dir, batch: plannedBatches(o.batches) });
  mkdirSync(join(dir, 'build'), { recursive: true });
  writeFileSync(join(dir, 'build', 'mock-addon.cjs'), MOCK_JS);
  writeFileSync(join(dir, 'build', 'cusnn-addon.json'), JSON.stringify({ format: 'cusnn-addon/1', node: 'mock-addon.cjs', target: `cusnn_${model}_${arch}`, generatedArch: arch, arch, nvcc: null, seconds: 0 }));
  writeFileSync(join(dir, 'build', 'cusnn-bench-build.json'), JSON.stringify({ fingerprint: buildFingerprint(dir, arch) }));
  return dir;
}
