// Resource count of the act-sparse family: threads, halo window, shared memory, grid and a register
// estimate. The tile search sizes tiles with them and templates/act-sparse.cu.hbs lays out shared
// memory the same way (from the offsets computed here), so both must change together.
//
// Shared memory of one block (dynamic, `extern __shared__`), in this order:
//   vals  float   [tc][win]    nonzero values of each staged channel's halo window, compacted
//   pos   uint16  [tc][win]    their positions in the window (row * windowW + col)
//   count int32   [tc]         nonzeros per staged channel
// After the channel loop the same bytes are reused to reduce the cs channel slices:
//   red   float   [cs-1][th*tw][kb]
import type { KernelResources } from '../../plan/types.js';
import type { ActSparseKernelSpec } from './spec.js';

const align = (n: number, a: number): number => Math.ceil(n / a) * a;

export function windowOf(spec: Pick<ActSparseKernelSpec, 'th' | 'tw' | 'r' | 's' | 'strideH' | 'strideW'>): [number, number] {
  return [(spec.th - 1) * spec.strideH + spec.r, (spec.tw - 1) * spec.strideW + spec.s];
}

export interface SharedLayout {
  readonly win: number;
  readonly valsOffset: number;
  readonly posOffset: number;
  readonly countOffset: number;
  readonly listBytes: number;
  readonly reduceBytes: number;
  readonly totalBytes: number;
}

type TileShape = Pick<ActSparseKernelSpec, 'th' | 'tw' | 'r' | 's' | 'strideH' | 'strideW' | 'tc' | 'kb' | 'cs'>;

export function sharedLayout(spec: TileShape): SharedLayout {
  const [wh, ww] = windowOf(spec);
  const win = wh * ww;
  const valsOffset = 0;
  const posOffset = align(valsOffset + spec.tc * win * 4, 16);
  const countOffset = align(posOffset + spec.tc * win * 2, 16);
  const listBytes = align(countOffset + spec.tc * 4, 16);
  const reduceBytes = (spec.cs - 1) * spec.th * spec.tw * spec.kb * 4;
  return { win, valsOffset, posOffset, countOffset, listBytes, reduceBytes, totalBytes: Math.max(listBytes, reduceBytes) };
}

/** Dynamic shared memory bytes of one block. */
export function sharedBytes(spec: TileShape): number {
  return sharedLayout(spec).totalBytes;
}

/** Accumulators + the thread's R*S weights of the current channel + addressing and loop state
 * (ptxas on sm_75/sm_90 uses 10-20 registers more than th*tw + r*s, hence the 32). */
export function regsEstimate(spec: Pick<ActSparseKernelSpec, 'th' | 'tw' | 'r' | 's'>): number {
  return spec.th * spec.tw + spec.r * spec.s + 32;
}

export function actSparseResources(spec: ActSparseKernelSpec, batch: number): KernelResources {
  const [windowH, windowW] = windowOf(spec);
  const tilesH = Math.ceil(spec.ho / spec.th);
  const tilesW = Math.ceil(spec.wo / spec.tw);
  return {
    threads: spec.kb * spec.cs,
    windowH,
    windowW,
    sharedBytes: sharedBytes(spec),
    regsEstimate: regsEstimate(spec),
    grid: [tilesH * tilesW, Math.ceil(spec.k / spec.kb), batch],
  };
}
