// Resource count of the wsparse family: the constexprs of templates/wsparse.cu.hbs (which
// static_asserts equality with these numbers).
import type { KernelResources } from '../../plan/types.js';
import type { WsparseKernelSpec } from './spec.js';

type Tiling = Pick<WsparseKernelSpec, 'ppl' | 'split' | 'cpb' | 'k' | 'ho' | 'wo'>;

export function wsparseLayout(t: Tiling) {
  const pixT = 32 * t.ppl;
  const pix = t.ho * t.wo;
  return {
    pixT,
    pixTiles: Math.ceil(pix / pixT),
    chTiles: Math.ceil(t.k / t.cpb),
    threads: 32 * t.split * t.cpb,
    /** Per channel, the partial sums of its parts 1..SPLIT-1, added by part 0 in order. */
    sharedBytes: t.split > 1 ? 4 * t.cpb * (t.split - 1) * pixT : 0,
  };
}

/**
 * ptxas (CUDA 13, sm_90, the template of 2026-12-02): to be replaced by measured figures; the loop
 * keeps ~8 loads of PPL values in flight, plus the lane's pixel coordinates.
 */
export function wsparseRegsEstimate(t: Pick<WsparseKernelSpec, 'ppl'>): number {
  return Math.min(255, 40 + 12 * t.ppl);
}

export function wsparseResources(spec: WsparseKernelSpec, batch: number): KernelResources {
  const l = wsparseLayout(spec);
  return {
    threads: l.threads,
    // A lane's reach into the input per output pixel: the filter.
    windowH: spec.r,
    windowW: spec.s,
    sharedBytes: l.sharedBytes,
    regsEstimate: wsparseRegsEstimate(spec),
    grid: [l.chTiles, l.pixTiles, batch],
  };
}
