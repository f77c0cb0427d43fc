// Resource count of the wino family: the constexprs of templates/wino.cu.hbs (which static_asserts
// equality with these numbers).
import type { KernelResources } from '../../plan/types.js';
import { WINO_BK, WINO_BT, winoBc, winoWarps, type WinoKernelSpec } from './spec.js';

type Tiling = Pick<WinoKernelSpec, 'c' | 'k' | 'ho' | 'wo' | 'split' | 'warps'>;

export function winoLayout(t: Tiling) {
  const tilesH = Math.ceil(t.ho / 2), tilesW = Math.ceil(t.wo / 2);
  const bc = winoBc(t);
  const chunks = Math.ceil(t.c / bc);
  // V and U (16 positions x BC channels x 32), double-buffered; the epilogue's M[16][BK][BT] reuses them.
  const chunkFloats = 16 * bc * WINO_BT;
  return { tilesH, tilesW, tiles: tilesH * tilesW, bc, chunks, chunksPerSplit: Math.ceil(chunks / t.split), chunkFloats, sharedBytes: 4 * 4 * chunkFloats };
}

/**
 * 8 warps: 64 accumulators, a chunk's 25 prefetched loads, addressing; the template's __launch_bounds__(256, 2)
 * caps it at 128. 16 warps: 32 accumulators, __launch_bounds__(512, 1) caps it at 128 too (ptxas: 116-117).
 */
export const WINO_REGS = 128;

export function winoResources(spec: WinoKernelSpec, batch: number): KernelResources {
  const l = winoLayout(spec);
  return {
    threads: 32 * winoWarps(spec),
    windowH: 4,
    windowW: 4,
    sharedBytes: l.sharedBytes,
    regsEstimate: WINO_REGS,
    grid: [Math.ceil((batch * l.tiles) / WINO_BT), Math.ceil(spec.k / WINO_BK), spec.split],
  };
}
