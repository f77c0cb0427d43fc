// Resource count of the pxg family: the constexprs of templates/pxg.cu.hbs (which static_asserts
// equality with these numbers).
import type { KernelResources } from '../../plan/types.js';
import type { PxgKernelSpec } from './spec.js';

type Tiling = Pick<PxgKernelSpec, 'c' | 'k' | 'r' | 's' | 'ho' | 'wo' | 'warps' | 'unroll' | 'ppb'>;

export function pxgLayout(t: Tiling) {
  const pairs = t.c * t.r * t.s;
  const ppb = t.ppb ?? 1;
  // Each pixel's warps (warps / ppb) split its pairs.
  const wpp = t.warps / ppb;
  const slice = Math.ceil(pairs / wpp);
  const nch = Math.ceil(slice / 32);
  const list = nch * 32;
  const kpl = Math.ceil(t.k / 32);
  return { pairs, ppb, wpp, slice, nch, kpl, threads: 32 * t.warps, sharedBytes: t.warps * list * 8 + t.warps * t.k * 4 + t.warps * 4 };
}

export function pxgRegsEstimate(t: Tiling): number {
  const l = pxgLayout(t);
  return Math.min(255, 24 + l.nch + t.unroll * (1 + l.kpl) + l.kpl);
}

export function pxgResources(spec: PxgKernelSpec, batch: number): KernelResources {
  const l = pxgLayout(spec);
  return {
    threads: l.threads,
    windowH: spec.r,
    windowW: spec.s,
    sharedBytes: l.sharedBytes,
    regsEstimate: pxgRegsEstimate(spec),
    grid: [Math.ceil((spec.ho * spec.wo) / (spec.ppb ?? 1)), 1, batch],
  };
}
