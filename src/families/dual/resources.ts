// Resource count of the dual family: the constexprs of templates/dual.cu.hbs (which static_asserts
// equality with these numbers).
import type { KernelResources } from '../../plan/types.js';
import type { DualKernelSpec } from './spec.js';

type Tiling = Pick<DualKernelSpec, 'c' | 'k' | 'r' | 's' | 'warps' | 'unroll'>;

export function dualLayout(t: Tiling) {
  const pairs = t.c * t.r * t.s;
  const slice = Math.ceil(pairs / t.warps);
  const nch = Math.ceil(slice / 32);
  // The block list holds every warp's slice: LIST entries of (pair, value).
  const list = t.warps * nch * 32;
  return { pairs, slice, nch, list, threads: 32 * t.warps, sharedBytes: list * 8 + t.warps * t.k * 4 + t.warps * 4 };
}

/**
 * Registers: per entry in flight its row start, length, input value, output channel and weight
 * (5 a row), per load slot a value and a ballot, plus ~24 for indices. Checked against ptxas by the
 * family's nvcc test (test/families/dual.test.ts), which also requires no spills.
 */
export function dualRegsEstimate(t: Tiling): number {
  const l = dualLayout(t);
  return Math.min(255, 24 + 2 * l.nch + 5 * t.unroll);
}

export function dualResources(spec: DualKernelSpec, batch: number): KernelResources {
  const l = dualLayout(spec);
  return {
    threads: l.threads,
    windowH: spec.r,
    windowW: spec.s,
    sharedBytes: l.sharedBytes,
    regsEstimate: dualRegsEstimate(spec),
    grid: [spec.ho * spec.wo, 1, batch],
  };
}
