// Resource count of the wstage family: the constexprs of templates/wstage.cu.hbs (which
// static_asserts equality with these numbers).
import type { KernelResources } from '../../plan/types.js';
import { chunkedMapping, type WstageKernelSpec } from './spec.js';

type Tiling = Pick<WstageKernelSpec, 'rows' | 'warps' | 'groups' | 'slotMax' | 'c' | 'w' | 'r' | 's' | 'strideH' | 'strideW' | 'padLeft' | 'ho' | 'wo' | 'chunk' | 'chunkMax'>;

/** Input column 0 sits at this column of a window row (16-byte aligned); the left padding must fit before it. */
export const WSTAGE_LEFT = 4;

export function wstageLayout(t: Tiling) {
  const pixT = t.rows * t.wo;
  // The input window of a tile: its rows with halo; each row a whole input row at column
  // WSTAGE_LEFT, the padding the window reads as zeros around it, rounded up to 16 bytes.
  const inRows = (t.rows - 1) * t.strideH + t.r;
  const right = Math.max(0, (t.wo - 1) * t.strideW + t.s - t.padLeft - t.w);
  const inCols = Math.ceil((WSTAGE_LEFT + t.w + right) / 4) * 4;
  const inFloats = t.c * inRows * inCols;
  // Entries (offset, value) are 8-byte aligned after the input.
  const inFloatsPadded = inFloats + (inFloats % 2);
  // Chunked: two buffers, each `chunk` channels of the window with a tail and every warp's entries
  // of that chunk (4-byte offset, 4-byte value). The tail keeps the reads of lanes without a pixel
  // (at their fixed distances, see chunkedMapping) inside the buffer: the largest read is the
  // farthest lane start plus the farthest pixel distance plus the largest entry offset.
  const map = chunkedMapping(t.rows, t.wo);
  let tail = 0;
  if (t.chunk !== undefined) {
    const maxBase = map.wide ? 31 * t.strideW : (map.lr - 1) * t.strideH * inCols + (t.wo - 1) * t.strideW;
    const last = map.ppl - 1;
    const maxPix = map.wide ? Math.floor(last / map.cp) * t.strideH * inCols + (last % map.cp) * 32 * t.strideW : last * map.lr * t.strideH * inCols;
    const maxOff = (t.chunk - 1) * inRows * inCols + (t.r - 1) * inCols + (t.s - 1) + WSTAGE_LEFT - t.padLeft;
    tail = Math.ceil(Math.max(0, maxBase + maxPix + maxOff + 1 - t.chunk * inRows * inCols) / 4) * 4;
  }
  const chunkFloats = t.chunk !== undefined ? t.chunk * inRows * inCols + tail : 0;
  return {
    pixT,
    ppl: t.chunk !== undefined ? map.ppl : Math.ceil(pixT / 32),
    tail,
    pixTiles: Math.ceil(t.ho / t.rows),
    inRows, inCols, inFloats, inFloatsPadded, chunkFloats,
    chunks: t.chunk !== undefined ? Math.ceil(t.c / t.chunk) : 1,
    threads: 32 * t.warps,
    sharedBytes: t.chunk !== undefined ? 8 * chunkFloats + 16 * t.warps * Math.max(1, t.chunkMax ?? 0) : 4 * inFloatsPadded + 8 * t.warps * Math.max(1, t.slotMax),
  };
}

/**
 * ptxas estimate: a pixel's accumulator and window offset per PPL, loop state and the staging; a
 * chunked kernel keeps `channels` accumulators per pixel.
 */
export function wstageRegsEstimate(ppl: number, channels = 1): number {
  return channels > 1 ? Math.min(255, 40 + (3 + channels) * ppl) : Math.min(255, 32 + 3 * ppl);
}

export function wstageResources(spec: WstageKernelSpec, batch: number): KernelResources {
  const l = wstageLayout(spec);
  return {
    threads: l.threads,
    windowH: l.inRows,
    windowW: l.inCols,
    sharedBytes: l.sharedBytes,
    regsEstimate: wstageRegsEstimate(l.ppl, spec.chunk !== undefined ? spec.slotChMax : 1),
    grid: [spec.groups, l.pixTiles, batch],
  };
}
