// Resource count of the dconv family: the constexprs of templates/dconv.cu.hbs (which
// static_asserts equality with these numbers).
import type { KernelResources } from '../../plan/types.js';
import type { DconvKernelSpec } from './spec.js';

type Tiling = Pick<DconvKernelSpec, 'bm' | 'tm' | 'tn' | 'rowsT' | 'bkc' | 'split' | 'stages' | 'r' | 's' | 'strideH' | 'strideW' | 'wo'>;

export function dconvLayout(t: Tiling) {
  const groups = t.bm / t.tm;
  const lm = Math.min(32, groups);
  const ln = 32 / lm;
  const segw = Math.ceil(t.wo / t.tn);
  const nseg = t.rowsT * segw;
  const threads = 32 * (groups / lm) * Math.ceil(nseg / ln);
  const winH = (t.rowsT - 1) * t.strideH + t.r;
  const winW = (t.wo - 1) * t.strideW + t.s;
  const xn = (t.tn - 1) * t.strideW + t.s;
  const stageFloats = Math.ceil((t.bkc * t.r * t.s * t.bm + t.bkc * winH * winW + xn) / 4) * 4;
  const red = t.split > 1 ? t.bm * t.rowsT * t.wo : 0;
  return { lm, ln, nseg, threads, winH, winW, sharedBytes: 4 * Math.max(t.stages * stageFloats, red) };
}

export function dconvStages(spec: Pick<DconvKernelSpec, 'c' | 'split' | 'bkc'>): number {
  const cps = Math.ceil(Math.ceil(spec.c / spec.split) / spec.bkc) * spec.bkc;
  return Math.ceil(Math.min(spec.c, cps) / spec.bkc);
}

export function dconvRegsEstimate(t: Tiling): number {
  return Math.min(255, t.tm * t.tn + t.s * t.tm + (t.tn - 1) * t.strideW + t.s + 40);
}

export function dconvResources(spec: DconvKernelSpec, batch: number): KernelResources {
  const l = dconvLayout(spec);
  return {
    threads: l.threads,
    windowH: l.winH,
    windowW: l.winW,
    sharedBytes: l.sharedBytes,
    regsEstimate: dconvRegsEstimate(spec),
    grid: [Math.ceil(spec.ho / spec.rowsT) * batch, Math.ceil(spec.k / spec.bm), spec.split],
  };
}
