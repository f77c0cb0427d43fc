// The native runtime on a GPU: every step type against a float64 CPU computation on fresh random
// data (seed printed; CUSNN_TEST_SEED repeats a run), with every activation buffer poisoned (NaN)
// before each forward so an element nobody wrote shows up, and writes outside a view's channel
// slice too. Zero counts must equal the zeros of the GPU's own output exactly; dynamic mode must
// take the generated kernel exactly when the input's zero fraction reaches the threshold, on the
// device (graph) and on the host (eager); a graph replay must give the bytes of the eager run.
//
// Builds the tiny generated folder (test/gpu/tiny-folder.ts) for the local GPU first. Skips, with
// the reason, where there is no NVIDIA GPU, nvcc or cuDNN (CI: the cpu project never runs this).
// CUSNN_GPU_LOG=<file> writes the measurements (algorithms, timings) as JSON.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildAddon } from '../../src/toolchain/addon.js';
import { findNvcc } from '../../src/toolchain/nvcc.js';
import { loadAddon, type LoadedAddon, type NativeRuntime, type RuntimeOptions } from '../../src/runtime/addon.js';
import type { ConvStep, Program, Step, View } from '../../src/runtime/program.js';
import { chw, convRef, convStep, kcrsToCrsk, program, V, type ConvShape } from './programs.js';
import { TINY_PROBLEMS, writeTinyFolder, type TinyFolder, type TinyKernel } from './tiny-folder.js';
import { mulberry32 } from '../helpers/random.js';

// ------------------------------------------------------------------------------------------------
// Where this can run.

function gpuReason(): string | null {
  const smi = spawnSync('nvidia-smi', ['-L'], { encoding: 'utf8' });
  const hasDev = existsSync('/dev/nvidiactl') || (existsSync('/dev') && readdirSync('/dev').some((f) => /^nvidia\d+$/.test(f)));
  if (!(smi.status === 0 && /GPU \d+:/.test(smi.stdout)) && !hasDev) return 'no NVIDIA GPU here (nvidia-smi lists none, no /dev/nvidia*): run this project on the GPU host';
  if (!findNvcc()) return 'nvcc not found: the addon cannot be built here';
  return null;
}

const skipReason = gpuReason();
const SEED = Number(process.env.CUSNN_TEST_SEED ?? (Date.now() % 1_000_000_007));
const measurements: Record<string, unknown> = { seed: SEED };

// ------------------------------------------------------------------------------------------------
// Random data and CPU references (float64, packed [n][c][h][w]).

let rnd = mulberry32(SEED);

/** Uniform in (-1, 1), exact zeros with probability zeroFrac. */
function randomData(n: number, zeroFrac = 0, scale = 1): Float32Array {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = rnd() < zeroFrac ? 0 : (rnd() * 2 - 1) * scale;
  return a;
}

/** Non-negative data (a ReLU output): exact zeros with probability zeroFrac, else (0.05, 1). */
function reluData(n: number, zeroFrac: number): Float32Array {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = rnd() < zeroFrac ? 0 : 0.05 + 0.95 * rnd();
  return a;
}

function affineRef(x: ArrayLike<number>, n: number, c: number, hw: number, scale: ArrayLike<number> | null, shift: ArrayLike<number> | null, relu: boolean): Float64Array {
  const y = new Float64Array(n * c * hw);
  for (let b = 0; b < n; b++) for (let cc = 0; cc < c; cc++) for (let i = 0; i < hw; i++) {
    const j = (b * c + cc) * hw + i;
    let v = x[j]! * (scale ? scale[cc]! : 1) + (shift ? shift[cc]! : 0);
    if (relu) v = Math.max(v, 0);
    y[j] = v;
  }
  return y;
}

function poolRef(x: ArrayLike<number>, n: number, c: number, h: number, w: number, isMax: boolean, k: readonly [number, number], st: readonly [number, number], pad: readonly [number, number, number, number]): Float64Array {
  const ho = Math.floor((h + pad[0] + pad[2] - k[0]) / st[0]) + 1;
  const wo = Math.floor((w + pad[1] + pad[3] - k[1]) / st[1]) + 1;
  const y = new Float64Array(n * c * ho * wo);
  for (let b = 0; b < n; b++) for (let cc = 0; cc < c; cc++) for (let oy = 0; oy < ho; oy++) for (let ox = 0; ox < wo; ox++) {
    let acc = isMax ? -Infinity : 0;
    for (let ky = 0; ky < k[0]; ky++) for (let kx = 0; kx < k[1]; kx++) {
      const iy = oy * st[0] + ky - pad[0], ix = ox * st[1] + kx - pad[1];
      const v = iy >= 0 && iy < h && ix >= 0 && ix < w ? x[((b * c + cc) * h + iy) * w + ix]! : 0;
      acc = isMax ? Math.max(acc, v) : acc + v;
    }
    y[((b * c + cc) * ho + oy) * wo + ox] = isMax ? acc : acc / (k[0] * k[1]);
  }
  return y;
}

const zerosOf = (a: ArrayLike<number>): number => {
  let z = 0;
  for (let i = 0; i < a.length; i++) if (a[i] === 0) z++;
  return z;
};

const errors: Record<string, number> = {};
function expectClose(name: string, got: Float32Array, ref: ArrayLike<number>, relTol: number): void {
  expect(got.length, `${name}: length`).toBe(ref.length);
  let bad = 0, maxErr = 0, maxRef = 0;
  for (let i = 0; i < got.length; i++) {
    if (!Number.isFinite(got[i]!)) { bad++; continue; }
    maxErr = Math.max(maxErr, Math.abs(got[i]! - ref[i]!));
    maxRef = Math.max(maxRef, Math.abs(ref[i]!));
  }
  expect(bad, `${name}: ${bad} non-finite elements (unwritten?)`).toBe(0);
  const rel = maxErr / Math.max(maxRef, 1e-30);
  errors[name] = rel;
  expect(rel, `${name}: max |gpu - cpu| / max |cpu| = ${rel.toExponential(2)}`).toBeLessThan(relTol);
}

/** Every element of `buffer` outside the views must still be NaN (nobody wrote there). */
function expectUntouchedOutside(name: string, buffer: Float32Array, views: readonly View[], n: number): void {
  const inside = new Uint8Array(buffer.length);
  for (const v of views) for (let b = 0; b < n; b++) inside.fill(1, v.offset + b * v.batchStride, v.offset + b * v.batchStride + chw(v));
  let written = 0;
  for (let i = 0; i < buffer.length; i++) if (!inside[i] && !Number.isNaN(buffer[i]!)) written++;
  expect(written, `${name}: elements written outside the views`).toBe(0);
}

const sameBits = (a: Float32Array, b: Float32Array): boolean =>
  a.length === b.length && Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));

// ------------------------------------------------------------------------------------------------

describe.skipIf(skipReason !== null)('native runtime on the GPU', () => {
  let tiny: TinyFolder;
  let addon: LoadedAddon;
  const runtimes: NativeRuntime[] = [];
  const open = (prog: Program, tensors: Float32Array[], options: RuntimeOptions): NativeRuntime => {
    const rt = addon.createRuntime(JSON.stringify(prog), tensors, options);
    runtimes.push(rt);
    return rt;
  };
  /** Poison, run (graph), return the output. */
  const forward = (rt: NativeRuntime, input: Float32Array, eager = false): Float32Array => {
    rt.fillBuffers(Number.NaN);
    return eager ? rt.runEager(input) : rt.run(input);
  };

  beforeAll(async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cusnn-tiny-'));
    const probe = spawnSync('nvidia-smi', ['--query-gpu=compute_cap', '--format=csv,noheader'], { encoding: 'utf8' });
    const cc = /(\d+)\.(\d+)/.exec(probe.stdout ?? '');
    const arch = cc ? `sm_${cc[1]}${cc[2]}` : 'sm_90';
    tiny = writeTinyFolder(dir, (['sm_75', 'sm_80', 'sm_86', 'sm_89', 'sm_90'].includes(arch) ? arch : 'sm_90') as 'sm_90');
    const t0 = performance.now();
    await buildAddon(dir, { log: (l) => { if (/error|\[build\]/i.test(l)) console.log(l); } });
    measurements.buildSeconds = (performance.now() - t0) / 1000;
    addon = loadAddon(dir);
    measurements.device = addon.device;
    console.log(`seed ${SEED}; device ${addon.device!.name} (${addon.device!.sm}), cuDNN ${addon.device!.cudnnVersion}, cuBLAS ${addon.device!.cublasVersion}; built in ${(measurements.buildSeconds as number).toFixed(1)} s`);
  });

  afterAll(() => {
    for (const rt of runtimes) rt.dispose();
    measurements.errors = errors;
    if (process.env.CUSNN_GPU_LOG) writeFileSync(process.env.CUSNN_GPU_LOG, `${JSON.stringify(measurements, null, 2)}\n`);
  });

  it('cuDNN convs: strided input prefix, output channel slice, asymmetric padding, epilogues, exact counts, tf32', () => {
    const n = 2, C = 16, Cw = 24, H = 10, W = 12;
    const input = V(0, C, H, W, 0, Cw * H * W);
    const shapes: Record<string, ConvShape> = {
      c3x3: { c: C, h: H, w: W, k: 24, r: 3, s: 3, strideH: 1, strideW: 1, padTop: 1, padLeft: 1, ho: 10, wo: 12 },
      c3x3s2: { c: C, h: H, w: W, k: 8, r: 3, s: 3, strideH: 2, strideW: 2, padTop: 0, padLeft: 0, ho: 5, wo: 6 },
      c5x5: { c: C, h: H, w: W, k: 12, r: 5, s: 5, strideH: 1, strideW: 1, padTop: 2, padLeft: 2, ho: 10, wo: 12 },
      c1x1s2: { c: C, h: H, w: W, k: 20, r: 1, s: 1, strideH: 2, strideW: 2, padTop: 0, padLeft: 0, ho: 5, wo: 6 },
    };
    const weights = Object.values(shapes).map((p) => randomData(p.k * p.c * p.r * p.s, 0, 0.3));
    const biases = [randomData(24, 0, 0.5), randomData(20, 0, 0.5)];
    const tensors = [...weights, ...biases];
    const out = {
      c3x3: V(1, 24, 10, 12, 8 * 120, 40 * 120), // channels 8..31 of a 40-channel buffer
      c3x3s2: V(2, 8, 5, 6),
      c5x5: V(3, 12, 10, 12),
      c1x1s2: V(4, 20, 5, 6),
    };
    const steps = [
      convStep({ layer: 'c3x3', in: input, out: out.c3x3, shape: shapes.c3x3!, weights: 0, bias: 4, relu: true, countZeros: 0 }),
      convStep({ layer: 'c3x3s2', in: input, out: out.c3x3s2, shape: shapes.c3x3s2!, weights: 1, bias: null, relu: true, countZeros: 1 }),
      convStep({ layer: 'c5x5', in: input, out: out.c5x5, shape: shapes.c5x5!, weights: 2, bias: null, relu: false }),
      convStep({ layer: 'c1x1s2', in: input, out: out.c1x1s2, shape: shapes.c1x1s2!, weights: 3, bias: 5, relu: false }),
    ];
    expect((steps[1] as ConvStep).padBottom).toBe(1);
    const prog = program({ batch: n, buffers: [n * Cw * H * W, n * 40 * 120, n * 8 * 30, n * 12 * 120, n * 20 * 30], tensors, counters: 2, input, output: out.c3x3, views: out, steps });
    const x = randomData(n * C * H * W, 0.3);
    const refs = {
      c3x3: convRef(x, n, shapes.c3x3!, weights[0]!, biases[0]!, true),
      c3x3s2: convRef(x, n, shapes.c3x3s2!, weights[1]!, null, true),
      c5x5: convRef(x, n, shapes.c5x5!, weights[2]!, null, false),
      c1x1s2: convRef(x, n, shapes.c1x1s2!, weights[3]!, biases[1]!, false),
    };
    for (const math of ['fp32', 'tf32'] as const) {
      const rt = open(prog, tensors, { mode: 'static', math });
      const y = forward(rt, x);
      const tol = math === 'fp32' ? 1e-4 : 1e-2; // cuDNN's FFT and Winograd algorithms round differently
      expectClose(`cudnn ${math} c3x3 (output)`, y, refs.c3x3, tol);
      for (const name of Object.keys(out) as (keyof typeof out)[]) expectClose(`cudnn ${math} ${name}`, rt.readView(name), refs[name], tol);
      const counts = rt.zeroCounts();
      expect(counts[0], 'zeros of c3x3').toBe(zerosOf(rt.readView('c3x3')));
      expect(counts[1], 'zeros of c3x3s2').toBe(zerosOf(rt.readView('c3x3s2')));
      expect(counts[0]).toBeGreaterThan(0);
      expectUntouchedOutside('output slice buffer', rt.readBuffer(1), [out.c3x3], n);
      expectUntouchedOutside('input buffer', rt.readBuffer(0), [input], n);
      expect(Array.from(rt.branches())).toEqual([0, 0, 0, 0]);
      const algos = rt.algorithms();
      expect(algos.map((a) => a.layer)).toEqual(['c3x3', 'c3x3s2', 'c5x5', 'c1x1s2']);
      for (const a of algos) expect(a.candidates.some((c) => c.status === 'ok' && c.algo === a.algo), `${a.layer} chosen algorithm measured`).toBe(true);
      measurements[`cudnn-${math}-algorithms`] = algos.map((a) => ({ layer: a.layer, algo: a.algoName, us: a.us, candidates: a.candidates.map((c) => `${c.algoName}:${c.status === 'ok' ? c.us.toFixed(1) : c.status}`) }));
      // Replays give the bytes of the eager run.
      const eager = forward(rt, x, true);
      expect(sameBits(eager, y), 'graph replay == eager run').toBe(true);
    }
  });

  it('act-sparse convs through the generated kernels (prefix in, slice out), also forced to cuDNN', () => {
    const n = 2;
    for (const key of Object.keys(TINY_PROBLEMS) as TinyKernel[]) {
      const p = TINY_PROBLEMS[key];
      const shape: ConvShape = { ...p };
      const Cw = p.c + 8, Kw = p.k + 24, off = 16;
      const input = V(0, p.c, p.h, p.w, 0, Cw * p.h * p.w);
      const out = V(1, p.k, p.ho, p.wo, off * p.ho * p.wo, Kw * p.ho * p.wo);
      const wt = randomData(p.k * p.c * p.r * p.s, 0, 0.2);
      const bias = p.bias ? randomData(p.k, 0, 0.3) : null;
      const tensors = [wt, kcrsToCrsk(wt, p.k, p.c, p.r, p.s), ...(bias ? [bias] : [])];
      const step = convStep({ layer: key, in: input, out, shape, weights: 0, crsk: 1, bias: bias ? 2 : null, relu: p.relu,
        path: 'act-sparse', kernel: tiny.kernels[key], countZeros: 0 });
      const prog = program({ batch: n, buffers: [n * Cw * p.h * p.w, n * Kw * p.ho * p.wo], tensors, counters: 1, input, output: out, views: { [key]: out }, steps: [step] });
      const x = reluData(n * p.c * p.h * p.w, 0.6);
      const ref = convRef(x, n, shape, wt, bias, p.relu);
      for (const mode of ['static', 'cudnn'] as const) {
        const rt = open(prog, tensors, { mode });
        const y = forward(rt, x);
        expectClose(`${mode} ${key}`, y, ref, mode === 'static' ? 1e-5 : 1e-4);
        expect(rt.zeroCounts()[0], `${mode} ${key}: zeros`).toBe(zerosOf(y));
        expectUntouchedOutside(`${mode} ${key}: output buffer`, rt.readBuffer(1), [out], n);
        expect(Array.from(rt.branches())).toEqual([mode === 'static' ? 1 : 0]);
        const eager = forward(rt, x, true);
        expect(sameBits(eager, y), `${mode} ${key}: graph replay == eager run`).toBe(true);
        const again = forward(rt, x);
        expect(sameBits(again, y), `${mode} ${key}: replays agree`).toBe(true);
        const t = rt.timeStep(0, 50);
        expect(t.p10Us).toBeLessThanOrEqual(t.medianUs);
        expect(t.medianUs).toBeLessThanOrEqual(t.p90Us);
        measurements[`step-${mode}-${key}`] = t;
        expect(rt.zeroCounts()[0], 'timeStep keeps the counters').toBe(zerosOf(y));
        // Eight copies in one graph share one launch: per copy no dearer than a graph of its own,
        // and the zero counters restored as for one copy.
        const t8 = rt.timeStep(0, 50, 8);
        expect(t8.medianUs, `${mode} ${key}: in-graph time per copy`).toBeGreaterThan(0);
        expect(t8.medianUs, `${mode} ${key}: in-graph time per copy`).toBeLessThanOrEqual(t.medianUs * 1.1);
        expect(rt.zeroCounts()[0], 'timeStep with copies keeps the counters').toBe(zerosOf(y));
        expect(() => rt.timeStep(0, 5, 0)).toThrow(/copies/);
      }
    }
  });

  it('element-wise steps: scale_shift, bias_relu, add, max/avg pool with zero padding, gap, flatten, dense, softmax', () => {
    const n = 2, C = 8, H = 9, W = 9, HW = H * W;
    const scale = randomData(C, 0, 1.5), shift = randomData(C, 0, 0.5), bias = randomData(C, 0, 0.5);
    const denseW = randomData(16 * C * 25, 0, 0.2), denseB = randomData(16, 0, 0.2);
    const tensors = [scale, shift, bias, denseW, denseB];
    const v = {
      x: V(0, C, H, W), ss: V(1, C, H, W), br: V(2, C, H, W), add: V(3, C, H, W),
      maxpool: V(4, C, 5, 5), avgpool: V(5, C, 5, 5), gap: V(6, C, 1, 1), flat: V(7, C * 25, 1, 1),
      dense: V(8, 16, 1, 1), softmax: V(9, 16, 1, 1),
    };
    const steps: Step[] = [
      { op: 'scale_shift', layer: 'ss', in: v.x, out: v.ss, scale: 0, shift: 1, relu: true, countZeros: 0 },
      { op: 'bias_relu', layer: 'br', in: v.ss, out: v.br, bias: 2, relu: true, countZeros: 1 },
      { op: 'add', layer: 'add', a: v.br, b: v.x, out: v.add, relu: true, countZeros: 2 },
      { op: 'maxpool', layer: 'maxpool', in: v.add, out: v.maxpool, kernel: [3, 3], stride: [2, 2], pad: [1, 1, 1, 1], countZeros: 3 },
      { op: 'avgpool', layer: 'avgpool', in: v.add, out: v.avgpool, kernel: [2, 2], stride: [2, 2], pad: [0, 0, 1, 1], countZeros: 4 },
      { op: 'globalavgpool', layer: 'gap', in: v.maxpool, out: v.gap },
      { op: 'flatten_hwc', layer: 'flat', in: v.avgpool, out: v.flat },
      { op: 'dense', layer: 'dense', in: v.flat, out: v.dense, units: 16, weights: 3, bias: 4, relu: true },
      { op: 'softmax', layer: 'softmax', in: v.dense, out: v.softmax },
    ];
    const buffers = Object.values(v).map((x) => n * chw(x));
    const views = Object.fromEntries(Object.entries(v).filter(([k]) => k !== 'x'));
    const prog = program({ batch: n, buffers, tensors, counters: 5, input: v.x, output: v.softmax, views, steps });
    const x = randomData(n * C * HW, 0.1);
    for (const mode of ['static', 'dynamic'] as const) {
      const rt = open(prog, tensors, { mode });
      const y = forward(rt, x);
      const get = (name: keyof typeof v): Float32Array => (name === 'x' ? x : rt.readView(name));
      expectClose(`${mode} scale_shift`, get('ss'), affineRef(x, n, C, HW, scale, shift, true), 1e-6);
      expectClose(`${mode} bias_relu`, get('br'), affineRef(get('ss'), n, C, HW, null, bias, true), 1e-6);
      const sum = new Float64Array(n * C * HW).map((_, i) => Math.max(get('br')[i]! + x[i]!, 0));
      expectClose(`${mode} add`, get('add'), sum, 1e-6);
      expectClose(`${mode} maxpool`, get('maxpool'), poolRef(get('add'), n, C, H, W, true, [3, 3], [2, 2], [1, 1, 1, 1]), 1e-7);
      expectClose(`${mode} avgpool`, get('avgpool'), poolRef(get('add'), n, C, H, W, false, [2, 2], [2, 2], [0, 0, 1, 1]), 1e-6);
      const mp = get('maxpool');
      const gap = new Float64Array(n * C).map((_, i) => { let s = 0; for (let j = 0; j < 25; j++) s += mp[i * 25 + j]!; return s / 25; });
      expectClose(`${mode} gap`, get('gap'), gap, 1e-6);
      const ap = get('avgpool');
      const flat = new Float64Array(n * C * 25);
      for (let b = 0; b < n; b++) for (let c = 0; c < C; c++) for (let i = 0; i < 25; i++) flat[b * C * 25 + i * C + c] = ap[(b * C + c) * 25 + i]!;
      expectClose(`${mode} flatten_hwc`, get('flat'), flat, 0 + Number.EPSILON);
      const fl = get('flat');
      const dense = new Float64Array(n * 16).map((_, j) => {
        const b = Math.floor(j / 16), u = j % 16;
        let s = denseB[u]!;
        for (let i = 0; i < C * 25; i++) s += denseW[u * C * 25 + i]! * fl[b * C * 25 + i]!;
        return Math.max(s, 0);
      });
      expectClose(`${mode} dense`, get('dense'), dense, 1e-5);
      const d = get('dense');
      const soft = new Float64Array(n * 16);
      for (let b = 0; b < n; b++) {
        const m = Math.max(...d.subarray(b * 16, b * 16 + 16));
        let s = 0;
        for (let u = 0; u < 16; u++) s += Math.exp(d[b * 16 + u]! - m);
        for (let u = 0; u < 16; u++) soft[b * 16 + u] = Math.exp(d[b * 16 + u]! - m) / s;
      }
      expectClose(`${mode} softmax`, y, soft, 1e-5);
      const counts = Array.from(rt.zeroCounts());
      expect(counts).toEqual(['ss', 'br', 'add', 'maxpool', 'avgpool'].map((k) => zerosOf(get(k as keyof typeof v))));
      expect(counts.slice(0, 3).every((c) => c > 0), `the ReLU outputs have zeros: ${counts}`).toBe(true);
      const eager = forward(rt, x, true);
      expect(sameBits(eager, y), 'graph replay == eager run').toBe(true);
      expect(Array.from(rt.zeroCounts())).toEqual(counts);
      const t = rt.timeForward(100);
      expect(t.iters).toBe(100);
      expect(t.p10Us).toBeGreaterThan(0);
      expect(t.p10Us).toBeLessThanOrEqual(t.medianUs);
      expect(t.medianUs).toBeLessThanOrEqual(t.p90Us);
      measurements[`elementwise-${mode}-forward`] = t;
    }
  });

  it('MobileNet\'s steps: grouped and depthwise convs (cuDNN group count, explicit padding), clamps (ReLU6) on every element-wise step, pools excluding their padding, a softmax over a strided map', () => {
    const n = 2, C = 12, Cw = 16, H = 9, W = 10, HW = H * W;
    const input = V(0, C, H, W, 0, Cw * HW); // channels 0..11 of a 16-channel buffer
    const shapes = {
      // Depthwise 3x3/1, pad 1.
      dw: { c: C, h: H, w: W, k: C, r: 3, s: 3, strideH: 1, strideW: 1, padTop: 1, padLeft: 1, ho: 9, wo: 10, groups: C },
      // Depthwise, channel multiplier 2, 3x3/2 'same' on 9x10: pad 1/1 rows, 0/1 columns (asymmetric: cuDNN's explicit-pad path).
      dw2: { c: C, h: H, w: W, k: 2 * C, r: 3, s: 3, strideH: 2, strideW: 2, padTop: 1, padLeft: 0, ho: 5, wo: 5, groups: C },
      // 1x1 with 3 groups of 4 -> 2 channels (a ResNeXt-style grouped conv).
      g3: { c: C, h: H, w: W, k: 6, r: 1, s: 1, strideH: 1, strideW: 1, padTop: 0, padLeft: 0, ho: 9, wo: 10, groups: 3 },
    } satisfies Record<string, ConvShape>;
    const wDw = randomData(C * 9, 0, 0.6), bDw = randomData(C, 0, 0.5), wDw2 = randomData(2 * C * 9, 0, 0.6);
    const wG3 = randomData(6 * 4, 0, 0.8), bG3 = randomData(6, 0, 0.3);
    const scale = randomData(C, 0, 1.5), shift = randomData(C, 0, 0.5), denseW = randomData(7 * C, 0, 0.5), denseB = randomData(7, 0, 0.2);
    const tensors = [wDw, bDw, wDw2, wG3, bG3, scale, shift, denseW, denseB];
    const v = {
      dw: V(1, C, 9, 10), dw2: V(2, 2 * C, 5, 5), g3: V(3, 6, 9, 10, 2 * HW, 10 * HW), br: V(4, 6, 9, 10), ss: V(5, C, 9, 10),
      add: V(6, C, 9, 10), maxEx: V(7, C, 5, 5), avgEx: V(8, C, 5, 5), softmax: V(9, 6, 9, 10, 0, 7 * HW), gap: V(10, C, 1, 1), dense: V(11, 7, 1, 1),
    };
    const RELU6 = [0, 6] as const;
    const steps: Step[] = [
      convStep({ layer: 'dw', in: input, out: v.dw, shape: shapes.dw, weights: 0, bias: 1, relu: false, clamp: RELU6, countZeros: 0 }),
      convStep({ layer: 'dw2', in: input, out: v.dw2, shape: shapes.dw2, weights: 2, bias: null, relu: false, clamp: [-0.25, 0.5] }),
      convStep({ layer: 'g3', in: v.dw, out: v.g3, shape: shapes.g3, weights: 3, bias: 4, relu: true }),
      { op: 'bias_relu', layer: 'br', in: v.g3, out: v.br, bias: null, relu: false, clamp: RELU6, countZeros: 1 },
      { op: 'scale_shift', layer: 'ss', in: v.dw, out: v.ss, scale: 5, shift: 6, relu: true, clamp: RELU6, countZeros: null },
      { op: 'add', layer: 'add', a: v.dw, b: v.ss, out: v.add, relu: false, clamp: RELU6, countZeros: 2 },
      { op: 'maxpool', layer: 'maxEx', in: input, out: v.maxEx, kernel: [3, 3], stride: [2, 2], pad: [1, 1, 1, 1], excludePad: true, countZeros: null },
      { op: 'avgpool', layer: 'avgEx', in: v.add, out: v.avgEx, kernel: [3, 3], stride: [2, 2], pad: [1, 0, 2, 1], excludePad: true, countZeros: 3 },
      { op: 'softmax', layer: 'softmax', in: v.g3, out: v.softmax },
      { op: 'globalavgpool', layer: 'gap', in: v.add, out: v.gap },
      { op: 'dense', layer: 'dense', in: v.gap, out: v.dense, units: 7, weights: 7, bias: 8, relu: true, clamp: [0, 0.3] },
    ];
    const buffers = [n * Cw * HW, ...Object.values(v).map((x) => n * x.batchStride)];
    const prog = program({ batch: n, buffers, tensors, counters: 4, input, output: v.dense, views: v, steps });
    const x = randomData(n * C * HW, 0.05, 4);
    const clampTo = (a: ArrayLike<number>, lo: number, hi: number): Float64Array => Float64Array.from(a, (y) => Math.min(Math.max(y, lo), hi));
    const poolEx = (src: ArrayLike<number>, c: number, h: number, w: number, isMax: boolean, pad: readonly number[], ho: number, wo: number): Float64Array => {
      const y = new Float64Array(n * c * ho * wo);
      for (let p = 0; p < n * c; p++) for (let oy = 0; oy < ho; oy++) for (let ox = 0; ox < wo; ox++) {
        let acc = isMax ? -Infinity : 0, cells = 0;
        for (let iy = Math.max(0, oy * 2 - pad[0]!); iy < Math.min(h, oy * 2 - pad[0]! + 3); iy++) {
          for (let ix = Math.max(0, ox * 2 - pad[1]!); ix < Math.min(w, ox * 2 - pad[1]! + 3); ix++) {
            const val = src[(p * h + iy) * w + ix]!;
            acc = isMax ? Math.max(acc, val) : acc + val;
            cells++;
          }
        }
        y[(p * ho + oy) * wo + ox] = isMax ? acc : acc / cells;
      }
      return y;
    };
    for (const mode of ['static', 'cudnn'] as const) {
      const rt = open(prog, tensors, { mode });
      const y = forward(rt, x);
      const get = (name: keyof typeof v): Float32Array => rt.readView(name);
      const dw = get('dw');
      expectClose(`${mode} depthwise conv + ReLU6`, dw, convRef(x, n, shapes.dw, wDw, bDw, false, RELU6), 1e-5);
      expect(dw.some((a) => a === 0) && dw.some((a) => a === 6), 'ReLU6 clamps at both ends').toBe(true);
      expectClose(`${mode} depthwise x2 stride 2, asymmetric pad, clamp [-0.25, 0.5]`, get('dw2'), convRef(x, n, shapes.dw2, wDw2, null, false, [-0.25, 0.5]), 1e-5);
      expectClose(`${mode} grouped 1x1 (3 groups) + ReLU`, get('g3'), convRef(dw, n, shapes.g3, wG3, bG3, true), 1e-5);
      expectClose(`${mode} bias_relu ReLU6`, get('br'), clampTo(get('g3'), 0, 6), 1e-6);
      expectClose(`${mode} scale_shift ReLU + clamp`, get('ss'), clampTo(affineRef(dw, n, C, HW, scale, shift, true), 0, 6), 1e-6);
      expectClose(`${mode} add ReLU6`, get('add'), clampTo(Float64Array.from(dw, (a, i) => a + get('ss')[i]!), 0, 6), 1e-6);
      expectClose(`${mode} maxpool excluding padding`, get('maxEx'), poolEx(x, C, H, W, true, [1, 1], 5, 5), 1e-7);
      expect(get('maxEx').some((a) => a < 0), 'the input has negative maxima (zero padding would win there)').toBe(true);
      expectClose(`${mode} avgpool excluding padding`, get('avgEx'), poolEx(get('add'), C, H, W, false, [1, 0], 5, 5), 1e-6);
      const g3 = get('g3');
      const soft = new Float64Array(n * 6 * HW);
      for (let b = 0; b < n; b++) for (let p = 0; p < HW; p++) {
        const at = (c: number): number => (b * 6 + c) * HW + p;
        let m = -Infinity, sum = 0;
        for (let c = 0; c < 6; c++) m = Math.max(m, g3[at(c)]!);
        for (let c = 0; c < 6; c++) sum += Math.exp(g3[at(c)]! - m);
        for (let c = 0; c < 6; c++) soft[at(c)] = Math.exp(g3[at(c)]! - m) / sum;
      }
      expectClose(`${mode} softmax over the channels of a 9x10 map (strided in and out, cuDNN)`, get('softmax'), soft, 1e-5);
      const add = get('add');
      const gap = Float64Array.from({ length: n * C }, (_, i) => { let t = 0; for (let j = 0; j < HW; j++) t += add[i * HW + j]!; return t / HW; });
      expectClose(`${mode} gap`, get('gap'), gap, 1e-6);
      const g = get('gap');
      const dense = Float64Array.from({ length: n * 7 }, (_, j) => {
        const b = Math.floor(j / 7), u = j % 7;
        let t = denseB[u]!;
        for (let i = 0; i < C; i++) t += denseW[u * C + i]! * g[b * C + i]!;
        return Math.min(Math.max(t, 0), 0.3);
      });
      expectClose(`${mode} dense ReLU + clamp [0, 0.3]`, y, dense, 1e-5);
      const counts = Array.from(rt.zeroCounts());
      expect(counts).toEqual([zerosOf(dw), zerosOf(get('br')), zerosOf(add), zerosOf(get('avgEx'))]);
      expect(counts.slice(0, 3).every((c) => c > 0), `the clamped outputs have zeros: ${counts}`).toBe(true);
      expectUntouchedOutside(`${mode} grouped conv output slice`, rt.readBuffer(3), [v.g3], n);
      expectUntouchedOutside(`${mode} softmax output (batch stride 7x9x10)`, rt.readBuffer(9), [v.softmax], n);
      expect(rt.algorithms().map((a) => a.layer)).toEqual(['dw', 'dw2', 'g3']);
      measurements[`mobilenet-steps-${mode}-algorithms`] = rt.algorithms().map((a) => ({ layer: a.layer, algo: a.algoName, us: a.us }));
      const eager = forward(rt, x, true);
      expect(sameBits(eager, y), 'graph replay == eager run').toBe(true);
    }

    // A clamp after a generated kernel (its epilogue is bias only): an in-place pass that also counts the zeros.
    const p = TINY_PROBLEMS.conv1x1;
    const shape: ConvShape = { ...p };
    const cin = V(0, p.c, p.h, p.w), cout = V(1, p.k, p.ho, p.wo);
    const wt = randomData(p.k * p.c, 0, 0.2), bias = randomData(p.k, 0, 0.3);
    const ct = [wt, kcrsToCrsk(wt, p.k, p.c, 1, 1), bias];
    const cstep = convStep({ layer: 'pw', in: cin, out: cout, shape, weights: 0, crsk: 1, bias: 2, relu: false, clamp: [0, 0.5],
      path: 'act-sparse', kernel: tiny.kernels.conv1x1, countZeros: 0 });
    const cprog = program({ batch: n, buffers: [n * chw(cin), n * chw(cout)], tensors: ct, counters: 1, input: cin, output: cout, views: { pw: cout }, steps: [cstep] });
    const cx = reluData(n * chw(cin), 0.5);
    const cref = convRef(cx, n, shape, wt, bias, false, [0, 0.5]);
    for (const mode of ['static', 'cudnn'] as const) {
      const rt = open(cprog, ct, { mode });
      const y = forward(rt, cx);
      expectClose(`${mode} generated 1x1 + clamp [0, 0.5]`, y, cref, 1e-5);
      expect(y.some((a) => a === 0) && y.some((a) => a === 0.5), 'clamped at both ends').toBe(true);
      expect(rt.zeroCounts()[0], `${mode}: zeros after the clamp`).toBe(zerosOf(y));
      expect(Array.from(rt.branches())).toEqual([mode === 'static' ? 1 : 0]);
      expect(sameBits(forward(rt, cx, true), y), `${mode}: graph replay == eager run`).toBe(true);
    }

    // What the runtime refuses, naming the step: groups that do not divide, a grouped conv on a generated kernel, a bad clamp.
    const bad = (over: Record<string, unknown>, at = 0): Program => ({ ...prog, steps: prog.steps.map((st, i) => (i === at ? ({ ...st, ...over } as Step) : st)) });
    expect(() => open(bad({ groups: 5 }), tensors, { mode: 'static' })).toThrow(/bad program: steps\[0\] \(dw\): groups 5 does not divide in.c 12 and k 12/);
    expect(() => open(bad({ path: 'act-sparse', kernel: tiny.kernels.conv3x3, weightsCrsk: 0 }), tensors, { mode: 'static' })).toThrow(/bad program: steps\[0\] \(dw\): groups 12 on a generated kernel; grouped convs take the cuDNN path only/);
    expect(() => open(bad({ clamp: [1, 0] }, 5), tensors, { mode: 'static' })).toThrow(/bad program: steps\[5\] \(add\): clamp \[lo, hi\] needs lo <= hi/);
  });

  it('dynamic mode: the device picks the generated kernel exactly when zeros/total >= threshold (graph and eager)', () => {
    const n = 2, p = TINY_PROBLEMS.conv3x3;
    const shape: ConvShape = { ...p };
    const total = n * p.c * p.h * p.w;
    const x0 = V(0, p.c, p.h, p.w), a = V(1, p.c, p.h, p.w), y = V(2, p.k, p.ho, p.wo);
    const wt = randomData(p.k * p.c * 9, 0, 0.2), bias = randomData(p.k, 0, 0.3);
    const ones = new Float32Array(p.c).fill(1), zeros = new Float32Array(p.c);
    const tensors = [wt, kcrsToCrsk(wt, p.k, p.c, 3, 3), bias, ones, zeros];
    const steps: Step[] = [
      { op: 'scale_shift', layer: 'relu_in', in: x0, out: a, scale: 3, shift: 4, relu: true, countZeros: 0 },
      convStep({ layer: 'conv', in: a, out: y, shape, weights: 0, crsk: 1, bias: 2, relu: true, path: 'cudnn', kernel: tiny.kernels.conv3x3,
        threshold: 0.5, inZeros: 0, countZeros: 1 }),
    ];
    const prog = program({ batch: n, buffers: [total, total, n * p.k * p.ho * p.wo], tensors, counters: 2, input: x0, output: y, views: { relu_in: a, conv: y }, steps });
    /** Input whose ReLU has exactly `z` zeros. */
    const inputWithZeros = (z: number): Float32Array => {
      const xs = new Float32Array(total);
      const idx = Array.from({ length: total }, (_, i) => i);
      for (let i = total - 1; i > 0; i--) { const j = Math.floor(rnd() * (i + 1)); [idx[i], idx[j]] = [idx[j]!, idx[i]!]; }
      for (let i = 0; i < total; i++) xs[idx[i]!] = i < z ? -(0.05 + rnd()) : 0.05 + rnd();
      return xs;
    };
    const traced = open(prog, tensors, { mode: 'dynamic', traceBranches: true });
    const plain = open(prog, tensors, { mode: 'dynamic' });
    const info = traced.info();
    expect(['if-else', 'two-if']).toContain(info.conditional);
    measurements.conditional = info;
    const cases = [0.6, 0.4, 0.5, 0.4999, 0.9, 0.1, 0.6];
    const seen: string[] = [];
    for (const frac of cases) {
      const z = Math.round(frac * total);
      const xs = inputWithZeros(z);
      const relu = affineRef(xs, 1, 1, total, null, null, true);
      const ref = convRef(relu, n, shape, wt, bias, true);
      const expectSparse = z / total >= 0.5 ? 1 : 0;
      for (const eager of [false, true]) {
        const out = forward(traced, xs, eager);
        expectClose(`dynamic ${frac} ${eager ? 'eager' : 'graph'}`, out, ref, 1e-5);
        const counts = traced.zeroCounts();
        expect(counts[0], 'input zeros').toBe(z);
        expect(counts[1], 'output zeros').toBe(zerosOf(out));
        expect(traced.branches()[1], `zeros ${z}/${total}: ${eager ? 'eager' : 'graph'} branch`).toBe(expectSparse);
        seen.push(`${(z / total).toFixed(4)}:${eager ? 'eager' : 'graph'}:${traced.branches()[1]}`);
      }
      const out2 = forward(plain, xs);
      expectClose(`dynamic untraced ${frac}`, out2, ref, 1e-5);
      expect(plain.branches()[1]).toBe(-1);
    }
    measurements.dynamicBranches = seen;
    measurements['dynamic-forward-sparse'] = (() => { forward(traced, inputWithZeros(Math.round(0.7 * total))); return traced.timeForward(100); })();
    measurements['dynamic-forward-cudnn'] = (() => { forward(traced, inputWithZeros(Math.round(0.3 * total))); return traced.timeForward(100); })();
  });

  it('errors name the layer and the call', () => {
    const p = TINY_PROBLEMS.conv3x3;
    const shape: ConvShape = { ...p };
    const input = V(0, p.c, p.h, p.w), out = V(1, p.k, p.ho, p.wo);
    const wt = randomData(p.k * p.c * 9, 0, 0.2);
    const tensors = [wt, kcrsToCrsk(wt, p.k, p.c, 3, 3), randomData(p.k)];
    const mk = (over: Partial<ConvStep>, outView = out): Program => program({
      batch: 1, buffers: [p.c * p.h * p.w, p.k * p.ho * p.wo], tensors, counters: 1, input, output: out, views: {},
      steps: [{ ...convStep({ layer: 'my_conv', in: input, out: outView, shape, weights: 0, crsk: 1, bias: 2, relu: true, path: 'act-sparse', kernel: tiny.kernels.conv3x3 }), ...over }],
    });
    expect(() => open(mk({ kernel: 'act3x3_nope' }), tensors, { mode: 'static' })).toThrow(/layer my_conv .*'act3x3_nope' is not in this addon's registry/);
    expect(() => open(mk({ relu: false }), tensors, { mode: 'static' })).toThrow(/layer my_conv .*does not match the step.*relu 1 vs 0/);
    expect(() => open(mk({}, V(1, p.k, p.ho, p.wo, 10)), tensors, { mode: 'static' })).toThrow(/bad program: steps\[0\] \(my_conv\)\.out: .*past buffer 1/);
    expect(() => open(mk({}), tensors.slice(0, 2), { mode: 'static' })).toThrow(/bad program: it lists 3 tensors, 2 were passed/);
    expect(() => open(mk({}), tensors, { mode: 'fast' as 'static' })).toThrow(/options.mode/);
    const rt = open(mk({}), tensors, { mode: 'static' });
    expect(() => rt.timeForward(10)).toThrow(/call run\(input\) once first/);
    expect(() => rt.run(new Float32Array(5))).toThrow(/the input has 5 floats/);
    expect(() => rt.readView('nope')).toThrow(/no view named 'nope'/);
    expect(() => rt.timeStep(3, 10)).toThrow(/out of range/);
    rt.dispose();
    expect(() => rt.run(new Float32Array(p.c * p.h * p.w))).toThrow(/disposed/);
  });

  it('cuDNN baseline on real layer shapes (measured algorithm choice; DESIGN.md section 2 has the H100 numbers)', () => {
    const layers = [
      { name: 'resnet 512x7x7 -> 512', c: 512, h: 7, k: 512 },
      { name: 'resnet 256x14x14 -> 256', c: 256, h: 14, k: 256 },
      { name: 'densenet 128x28x28 -> 32', c: 128, h: 28, k: 32 },
      { name: 'densenet 128x56x56 -> 32', c: 128, h: 56, k: 32 },
    ];
    const table: Record<string, unknown>[] = [];
    for (const l of layers) {
      const shape: ConvShape = { c: l.c, h: l.h, w: l.h, k: l.k, r: 3, s: 3, strideH: 1, strideW: 1, padTop: 1, padLeft: 1, ho: l.h, wo: l.h };
      const input = V(0, l.c, l.h, l.h), out = V(1, l.k, l.h, l.h);
      const wt = randomData(l.k * l.c * 9, 0, 0.05), bias = randomData(l.k, 0, 0.1);
      const tensors = [wt, bias];
      const prog = program({ batch: 1, buffers: [chw(input), chw(out)], tensors, counters: 1, input, output: out, views: {},
        steps: [convStep({ layer: l.name, in: input, out, shape, weights: 0, bias: 1, relu: true, countZeros: 0 })] });
      const rt = open(prog, tensors, { mode: 'cudnn', selectIters: 20 });
      forward(rt, reluData(chw(input), 0.7));
      const a = rt.algorithms()[0]!;
      const step = rt.timeStep(0, 200);
      table.push({ layer: l.name, algo: a.algoName, selectUs: +a.us.toFixed(1), stepMedianUs: +step.medianUs.toFixed(1), candidates: a.candidates.map((c) => `${c.algoName}:${c.status === 'ok' ? c.us.toFixed(1) : c.status}`).join(' ') });
      rt.dispose();
    }
    measurements.cudnnBaseline = table;
    console.table(table);
  });
});

describe.skipIf(skipReason === null)('native runtime on the GPU (skipped)', () => {
  it.skip(`skipped: ${skipReason}`, () => {});
});
