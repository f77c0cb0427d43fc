// Resource count of the wino family: the constexprs of templates/wino.cu.hbs (which static_asserts
// equality with these numbers).
import type { KernelResources } from '../../plan/types.js';
import { WINO_BC, WINO_BK, WINO_BT, WINO_THREADS, type WinoKernelSpec } from './spec.js';

type Tiling = Pick<WinoKernelSpec, 'c' | 'k' | 'ho' | 'wo' | 'split'>;

export function winoLayout(t: Tiling) {
  const tilesH = Math.ceil(t.ho / 2), tilesW = Math.ceil(t.wo / 2);
  const chunks = Math.ceil(t.c / WINO_BC);
  // V and U (16 positions x BC channels x 32), double-buffered; the epilogue's M[16][BK][BT] reuses them.
  const chunkFloats = 16 * WINO_BC * WINO_BT;
  return { tilesH, tilesW, tiles: tilesH * tilesW, chunks, chunksPerSplit: Math.ceil(chunks / t.split), chunkFloats, sharedBytes: 4 * 4 * chunkFloats };
}

/** 64 accumulators, a chunk's 25 prefetched loads, addressing: the template's __launch_bounds__(256, 2) caps it at 128. */
export const WINO_REGS = 128;

export function winoResources(spec: WinoKernelSpec, batch: number): KernelResources {
  const l = winoLayout(spec);
  return {
    threads: WINO_THREADS,
    windowH: 4,
    windowW: 4,
    sharedBytes: l.sharedBytes,
    regsEstimate: WINO_REGS,
    grid: [Math.ceil((batch * l.tiles) / WINO_BT), Math.ceil(spec.k / WINO_BK), spec.split],
  };
}
