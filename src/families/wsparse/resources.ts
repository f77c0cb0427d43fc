// Resource count of the wsparse family: the constexprs of templates/wsparse.cu.hbs (which
// static_asserts equality with these numbers).
import type { KernelResources } from '../../plan/types.js';
import type { WsparseKernelSpec } from './spec.js';

type Tiling = Pick<WsparseKernelSpec, 'rowsT' | 'warps' | 'tk' | 'bkc' | 'kActive' | 'nzCap' | 'c' | 'r' | 's' | 'strideH' | 'strideW' | 'ho' | 'wo'>;

/**
 * Lanes along an output row (LCOL) and lane rows (LR = floor(32 / LCOL)) of a warp: a row of up to
 * 32 pixels takes one lane per pixel; a wider one is cut into equal column tiles of at most 32.
 */
export function wsparseLanes(wo: number): { lcol: number; lr: number; colTiles: number } {
  const colTiles = Math.ceil(wo / 32);
  const lcol = Math.ceil(wo / colTiles);
  return { lcol, lr: Math.floor(32 / lcol), colTiles };
}

/** Thread-block channel tiles: warps x tk channel slots each, enough for every active channel (at least one tile). */
export function wsparseChannelTiles(t: Pick<WsparseKernelSpec, 'kActive' | 'tk' | 'warps'>): number {
  return Math.max(1, Math.ceil(Math.ceil(t.kActive / t.tk) / t.warps));
}

export function wsparseLayout(t: Tiling) {
  const { lcol, lr, colTiles } = wsparseLanes(t.wo);
  const rowsT = t.rowsT;
  const tp = rowsT / lr;
  const colsT = lcol;
  const rowTiles = Math.ceil(t.ho / rowsT);
  const winH = (rowsT - 1) * t.strideH + t.r;
  const winW = (colsT - 1) * t.strideW + t.s;
  const win = winH * winW;
  const xFloats = Math.ceil((t.bkc * win) / 2) * 2;
  const stageFloats = xFloats + 2 * t.nzCap;
  return {
    lcol, lr, tp, rowsT, colsT, rowTiles, colTiles, winH, winW, win,
    threads: 32 * t.warps,
    kb: t.warps * t.tk,
    nChunks: Math.ceil(t.c / t.bkc),
    chTiles: wsparseChannelTiles(t),
    xFloats, stageFloats,
    /** Two stages (double buffer) of the input window and the chunk's (value, offset) pairs. */
    sharedBytes: 2 * 4 * stageFloats,
  };
}

/** ptxas (CUDA 13, sm_75/80/90): 59-72 registers at TP 1-2, 80 at TK 4 x TP 4, 102-110 at TP 8 (the unrolled loop keeps ~4 x TP loads in flight). */
export function wsparseRegsEstimate(t: Pick<WsparseKernelSpec, 'tk' | 'rowsT' | 'wo'>): number {
  const tp = t.rowsT / wsparseLanes(t.wo).lr;
  return Math.min(255, Math.max(64, 48 + t.tk * tp + 5 * tp));
}

export function wsparseResources(spec: WsparseKernelSpec, batch: number): KernelResources {
  const l = wsparseLayout(spec);
  return {
    threads: l.threads,
    windowH: l.winH,
    windowW: l.winW,
    sharedBytes: l.sharedBytes,
    regsEstimate: wsparseRegsEstimate(spec),
    grid: [l.rowTiles * l.colTiles * batch, l.chTiles, 1],
  };
}
