// Builders shared by the GPU tests: views, conv steps and programs in the runtime's format
// (src/runtime/program.ts), the [C][R][S][K] weight copy the generated kernels read, and a float64
// CPU conv for checks that do not trust cuDNN either.
import type { ConvStep, Program, Step, View } from '../../src/runtime/program.js';

export const V = (buf: number, c: number, h: number, w: number, offset = 0, batchStride = c * h * w): View => ({ buf, offset, c, h, w, batchStride });
export const chw = (v: View): number => v.c * v.h * v.w;

export interface ConvShape {
  c: number; h: number; w: number; k: number; r: number; s: number;
  strideH: number; strideW: number; padTop: number; padLeft: number; ho: number; wo: number;
  /** Channel groups (absent: 1); weights [K][C/groups][R][S]. */
  groups?: number;
}

/** Float64 conv; `clamp` [lo, hi] after bias and ReLU (ReLU6: [0, 6]). */
export function convRef(x: ArrayLike<number>, n: number, p: ConvShape, wKcrs: ArrayLike<number>, bias: ArrayLike<number> | null, relu: boolean,
  clamp: readonly [number, number] | null = null): Float64Array {
  const { c, h, w, k, r, s, ho, wo } = p;
  const g = p.groups ?? 1;
  const cg = c / g;
  const kg = k / g;
  const y = new Float64Array(n * k * ho * wo);
  for (let b = 0; b < n; b++) {
    for (let kk = 0; kk < k; kk++) {
      const c0 = Math.floor(kk / kg) * cg;
      for (let oy = 0; oy < ho; oy++) {
        for (let ox = 0; ox < wo; ox++) {
          let acc = bias ? bias[kk]! : 0;
          for (let cc = 0; cc < cg; cc++) {
            for (let ry = 0; ry < r; ry++) {
              const iy = oy * p.strideH + ry - p.padTop;
              if (iy < 0 || iy >= h) continue;
              for (let sx = 0; sx < s; sx++) {
                const ix = ox * p.strideW + sx - p.padLeft;
                if (ix < 0 || ix >= w) continue;
                acc += x[((b * c + c0 + cc) * h + iy) * w + ix]! * wKcrs[((kk * cg + cc) * r + ry) * s + sx]!;
              }
            }
          }
          if (relu) acc = Math.max(acc, 0);
          if (clamp) acc = Math.min(Math.max(acc, clamp[0]), clamp[1]);
          y[((b * k + kk) * ho + oy) * wo + ox] = acc;
        }
      }
    }
  }
  return y;
}

export function kcrsToCrsk(wt: Float32Array, k: number, c: number, r: number, s: number): Float32Array {
  const out = new Float32Array(wt.length);
  for (let kk = 0; kk < k; kk++) for (let cc = 0; cc < c; cc++) for (let i = 0; i < r * s; i++) out[(cc * r * s + i) * k + kk] = wt[(kk * c + cc) * r * s + i]!;
  return out;
}

// ------------------------------------------------------------------------------------------------
// Program builders.

export interface ConvOpts {
  in: View; out: View; shape: ConvShape; weights: number; bias: number | null; relu: boolean; clamp?: readonly [number, number];
  path?: 'cudnn' | 'act-sparse'; kernel?: string | null; crsk?: number | null; threshold?: number | null;
  inZeros?: number | null; countZeros?: number | null; layer: string;
}

export function convStep(o: ConvOpts): ConvStep {
  const p = o.shape;
  return {
    op: 'conv', layer: o.layer, in: o.in, out: o.out, k: p.k, r: p.r, s: p.s, strideH: p.strideH, strideW: p.strideW,
    padTop: p.padTop, padLeft: p.padLeft,
    padBottom: (p.ho - 1) * p.strideH + p.r - p.h - p.padTop < 0 ? 0 : (p.ho - 1) * p.strideH + p.r - p.h - p.padTop,
    padRight: (p.wo - 1) * p.strideW + p.s - p.w - p.padLeft < 0 ? 0 : (p.wo - 1) * p.strideW + p.s - p.w - p.padLeft,
    ...(p.groups !== undefined && p.groups !== 1 ? { groups: p.groups } : {}),
    weightsKcrs: o.weights, bias: o.bias, relu: o.relu, ...(o.clamp ? { clamp: o.clamp } : {}), path: o.path ?? 'cudnn', kernel: o.kernel ?? null,
    weightsCrsk: o.crsk ?? null, threshold: o.threshold ?? null, inZeros: o.inZeros ?? null, countZeros: o.countZeros ?? null,
  };
}

export function program(p: { batch: number; buffers: number[]; tensors: Float32Array[]; counters: number; input: View; output: View; views: Record<string, View>; steps: Step[] }): Program {
  return {
    format: 'cusnn-program/1', model: 'test', batch: p.batch, buffers: p.buffers,
    tensors: p.tensors.map((t, i) => ({ name: `t${i}`, floats: t.length })),
    zeroCounters: p.counters, input: p.input, output: p.output, views: p.views, steps: p.steps,
  };
}

