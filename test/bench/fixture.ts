// Realistic random bench results (cusnn-bench/2) for the report tests: the convolutions of real zoo
// models with their true shapes and FLOPs, sparsity rising with depth, times, energies and
// roofline figures in the ranges measured on the H100 (docs/PERFORMANCE.md, ../shared/DESIGN.md).
// Not a measurement: every number comes from the seeded generator.
import { buildModel, type ModelName } from '../../src/model/zoo/index.js';
import type { ConvLayer } from '../../src/model/ir.js';
import { ENGINES, RESULTS_FORMAT, type BenchResults, type EngineResult, type LayerResult, type ModelResult } from '../../src/bench/results.js';
import { compare, spreadMeasured } from '../../src/bench/stats.js';
import { mulberry32 } from '../helpers/random.js';

export interface FixtureRun {
  readonly model: ModelName;
  readonly batch: number;
  readonly weights: 'real' | 'synthetic';
  /** 'correctness': the check failed (no engines, no layers); 'build': nvcc failed (error with quotes, commas and a newline). */
  readonly fail?: 'correctness' | 'build';
  /** 'none': NVML gave no energy for any engine; 'one': one engine (picked at random) has none. */
  readonly energy?: 'ok' | 'one' | 'none';
}

export const DEFAULT_RUNS: readonly FixtureRun[] = [
  { model: 'resnet152', batch: 1, weights: 'real' },
  { model: 'densenet201', batch: 1, weights: 'real' },
  { model: 'resnet50', batch: 1, weights: 'real', energy: 'one' },
  { model: 'resnet50', batch: 8, weights: 'real' },
  { model: 'vgg16', batch: 1, weights: 'synthetic' },
  { model: 'densenet121', batch: 1, weights: 'synthetic', fail: 'correctness' },
  { model: 'vgg19', batch: 1, weights: 'synthetic', fail: 'build', energy: 'none' },
];

const PEAK_TFLOPS = 66.9;
const BANDWIDTH_GBS = 3352;
const ALGOS = ['IMPLICIT_GEMM', 'IMPLICIT_PRECOMP_GEMM', 'GEMM', 'WINOGRAD_NONFUSED', 'FFT_TILING'];

export function makeBenchResults(seed: number, runs: readonly FixtureRun[] = DEFAULT_RUNS): BenchResults {
  const rnd = mulberry32(seed);
  const uni = (a: number, b: number): number => a + (b - a) * rnd();
  const normal = (): number => Math.sqrt(-2 * Math.log(1 - rnd())) * Math.cos(2 * Math.PI * rnd());
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
  const clamp = (v: number, lo: number, hi: number): number => Math.min(Math.max(v, lo), hi);

  function layersOf(model: ModelName, batch: number, weights: 'real' | 'synthetic'): LayerResult[] {
    const g = buildModel(model);
    const shapes = new Map(g.layers.map((l) => [l.name, l.shape]));
    const convs = g.layers.filter((l): l is ConvLayer => l.op === 'conv');
    return convs.map((l, i) => {
      const [c, h, w] = shapes.get(l.inputs[0]!)!;
      const [, ho, wo] = l.shape;
      const [r, s] = l.kernel;
      const k = l.outChannels;
      const depth = i / Math.max(convs.length - 1, 1);
      const inputSparsity = i === 0 ? 0 : clamp(r === 1 ? 0.5 + 0.08 * normal() : 0.4 + 0.5 * depth + 0.05 * normal(), 0, 0.98);
      const weightSparsity = weights === 'real' ? clamp(0.002 * rnd(), 0, 1) : 0;
      const flops = 2 * batch * k * c * r * s * ho * wo;
      const usefulFlops = Math.round(flops * (1 - inputSparsity) * (1 - weightSparsity));
      const nnz = Math.round(batch * c * h * w * (1 - inputSparsity));
      const minBytes = nnz * 6 + k * c * r * s * 4 + batch * k * ho * wo * 4;
      // cuDNN's fp32 throughput at batch 1 grows with the layer (H100: ~3 TFLOP/s on DenseNet's 128->32, ~16 on VGG's big layers).
      const cudnnUs = 4 + flops / (20e6 * (flops / (flops + 3e8)) * uni(0.7, 1.3));
      const sparse = r === 3 && l.stride[0] === 1 && inputSparsity > 0.6 && rnd() < 0.92;
      const speedup0 = sparse ? Math.exp(Math.log(0.4 + 2.2 * (inputSparsity - 0.5)) + 0.2 * normal()) : 1 + 0.015 * normal();
      const cusnnUs = cudnnUs / speedup0;
      const floorUs = Math.max(usefulFlops / (PEAK_TFLOPS * 1e12), minBytes / (BANDWIDTH_GBS * 1e9)) * 1e6;
      // p10-p90 over rounds and replays: a few percent, wider for the short layers.
      const spread = (t: number): { lo: number; hi: number } => ({ lo: t * (1 - uni(0.005, 0.04)), hi: t * (1 + uni(0.005, 0.06)) });
      const cusnnSpreadUs = spread(cusnnUs);
      const cudnnSpreadUs = spread(cudnnUs);
      const decisionUs = cusnnUs * uni(0.97, 1.03);
      return {
        layer: l.name, c, h, w, k, r, s, stride: l.stride[0], inputSparsity, weightSparsity, flops, usefulFlops, minBytes,
        path: sparse ? 'act-sparse' : 'cudnn',
        kernel: sparse ? `act${r}x${s}_c${c}_h${h}_w${w}_k${k}_th${pick([2, 3, 4, 7])}_tw7_tc${pick([4, 8, 16])}_bias_relu_sm90` : null,
        cudnnAlgo: pick(ALGOS), cusnnUs, cudnnUs, cusnnSpreadUs, cudnnSpreadUs,
        speedup: sparse ? cudnnUs / cusnnUs : null,
        verdict: sparse ? compare(spreadMeasured(cusnnUs, cusnnSpreadUs), spreadMeasured(cudnnUs, cudnnSpreadUs)) : null,
        decision: { actSparseUs: r === 3 ? decisionUs : null, cudnnUs: cudnnUs * uni(0.98, 1.02), verdict: r === 3 ? (sparse ? 'faster' : 'tie') : null,
          reason: sparse ? 'faster outside the spread and by more than the margin: generated kernel' : r === 3 ? 'a tie within the spread: cuDNN kept' : 'no generated kernel' },
        cusnnGflops: flops / (cusnnUs * 1e3), cudnnGflops: flops / (cudnnUs * 1e3),
        floorUs, achievedFraction: floorUs / cusnnUs,
      };
    });
  }

  function run(f: FixtureRun): ModelResult {
    const layers = layersOf(f.model, f.batch, f.weights);
    const base = {
      model: f.model, weights: f.weights, batch: f.batch,
      weightsSource: f.weights === 'real' ? `.data/${f.model}.safetensors (filled synthetically: predictions)` : 'synthetic, seed 0',
      inputs: f.weights === 'real' ? '../shared/cusnn-artifact/images (32 files)' : 'random',
      images: f.weights === 'real'
        ? { calibrate: Array.from({ length: 16 }, (_, i) => `../shared/cusnn-artifact/images/${i}.bin`), time: Array.from({ length: 16 }, (_, i) => `../shared/cusnn-artifact/images/${16 + i}.bin`) }
        : { calibrate: ['random/0.bin'], time: ['random/0.bin'], note: 'only one image: decisions and timing use the same image' },
      convLayers: layers.length, seconds: uni(40, 400),
    };
    if (f.fail) {
      const error = f.fail === 'correctness'
        ? 'correctness: cusnn vs cudnn max rel. error 3.1e-2 > tolerance 1e-4 on input 7; stopped before timing'
        : 'build failed: nvcc "kernels/act3x3_c64_h56_w56_k64.cu", line 12: error: identifier "tile, h" is undefined\n1 error detected';
      return { ...base, correctness: { maxRelError: { cusnn: f.fail === 'correctness' ? 0.031 : 0, cudnn: 0, 'cudnn-implicit-gemm': 0 }, tolerance: 1e-4, topAgree: f.fail === 'correctness' ? 19 : 0, inputs: 32, passed: false },
        engines: [], layers: [], sparseLayers: 0, error };
    }
    const otherUs = layers.reduce((a, l) => a + l.cudnnUs, 0) * uni(0.2, 0.4);
    const medians = {
      cusnn: layers.reduce((a, l) => a + l.cusnnUs, 0) + otherUs,
      cudnn: layers.reduce((a, l) => a + l.cudnnUs, 0) + otherUs,
      'cudnn-implicit-gemm': (layers.reduce((a, l) => a + l.cudnnUs, 0) + otherUs) * uni(1.1, 1.6),
    };
    const noEnergy = f.energy === 'none' ? ENGINES : f.energy === 'one' ? [pick(ENGINES)] : [];
    const runPower = uni(160, 360) + 10 * Math.log2(f.batch);
    const engines: EngineResult[] = ENGINES.map((engine) => {
      const medianUs = medians[engine];
      const power = runPower * uni(0.93, 1.07);
      const idle = uni(65, 75);
      const windowSeconds = uni(4, 6);
      const mJ = (power * medianUs) / 1000;
      const energy = noEnergy.includes(engine) ? null
        : { mJPerInference: mJ, windowSeconds, inferences: Math.round((windowSeconds * 1e6) / medianUs), avgPowerW: power, idlePowerW: idle,
          rounds: 3, minMJ: mJ * uni(0.97, 1), maxMJ: mJ * uni(1, 1.03) };
      const p10Us = medianUs * uni(0.95, 0.995);
      const p90Us = medianUs * uni(1.005, 1.08);
      return {
        engine, time: { medianUs, p10Us, p90Us, iters: 201, rounds: 3, roundMinUs: medianUs * uni(p10Us / medianUs, 1), roundMaxUs: medianUs * uni(1, p90Us / medianUs) }, energy,
        ...(energy === null ? { energyNote: 'NVML: nvmlDeviceGetTotalEnergyConsumption not supported on this board' } : {}),
      };
    });
    const rel = (): number => 10 ** uni(-7, -5.5);
    // Optional fields of the bench runner (RunExtras in src/bench/report.ts).
    const extras = {
      kernels: layers.filter((l) => l.r === 3 && l.stride === 1).length, buildSeconds: uni(15, 60), buildReused: f.batch > 1,
      ...(f.weights === 'real' ? { notes: [`tensors filled synthetically: predictions`, ...(f.batch > 1 ? [`32 images repeated to fill batch ${f.batch}`] : [])] } : {}),
    };
    return { ...base, correctness: { maxRelError: { cusnn: rel(), cudnn: 0, 'cudnn-implicit-gemm': rel() }, tolerance: 1e-4, topAgree: 32, inputs: 32, passed: true },
      engines, layers, sparseLayers: layers.filter((l) => l.path === 'act-sparse').length, ...extras };
  }

  return {
    format: RESULTS_FORMAT,
    createdAt: '2026-11-24T09:30:00.000Z',
    command: `test/bench/fixture.ts makeBenchResults(${seed}): random example data, not a measurement`,
    arch: 'sm_90',
    gpu: {
      name: 'NVIDIA H100 80GB HBM3 (example data)', sm: 'sm_90', multiprocessors: 132,
      driver: '580.65.06', cudaRuntime: '13.0', cudnn: '9.13.0', cublas: '13.0.2',
      clocksStart: { smMHz: 1980, memMHz: 2619, temperatureC: 34, powerW: 71.5 },
      clocksEnd: { smMHz: 1980 - 15 * Math.floor(uni(0, 4)), memMHz: 2619, temperatureC: Math.round(uni(45, 60)), powerW: uni(70, 90) },
      peakFp32Tflops: PEAK_TFLOPS, bandwidthGBs: BANDWIDTH_GBS, profileBoard: 'H100 SXM5 80GB',
      roofline: { source: 'measured', probe: { smCount: 132, smClockMHz: 1980, memClockMHz: 2619, memBusWidthBits: 5120, copyBytes: 268435456,
        copyGBs: BANDWIDTH_GBS, ffmaTflops: PEAK_TFLOPS, clockPeakFp32Tflops: 66.9, clockBandwidthGBs: 3352.3 } },
    },
    runs: runs.map(run),
    // Optional fields of the bench runner (ResultsExtras in src/bench/report.ts).
    settings: { batches: [...new Set(runs.map((x) => x.batch))], rounds: 3, iters: 200, layerIters: 100, energySeconds: 5, checkInputs: 32, tolerance: 1e-4, seed, weightsDir: '.data', imagesDir: '../shared/cusnn-artifact/images', buildDir: 'generated/bench' },
    seconds: uni(600, 3600),
  } as BenchResults;
}
