// Resource count of the wstage family: the constexprs of templates/wstage.cu.hbs (which
// static_asserts equality with these numbers).
import type { KernelResources } from '../../plan/types.js';
import type { WstageKernelSpec } from './spec.js';

type Tiling = Pick<WstageKernelSpec, 'rows' | 'warps' | 'groups' | 'slotMax' | 'c' | 'w' | 'r' | 's' | 'strideH' | 'strideW' | 'padLeft' | 'ho' | 'wo'>;

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
  return {
    pixT,
    ppl: Math.ceil(pixT / 32),
    pixTiles: Math.ceil(t.ho / t.rows),
    inRows, inCols, inFloats, inFloatsPadded,
    threads: 32 * t.warps,
    sharedBytes: 4 * inFloatsPadded + 8 * t.warps * Math.max(1, t.slotMax),
  };
}

/** ptxas estimate: a pixel's accumulator and window offset per PPL, loop state and the staging. */
export function wstageRegsEstimate(ppl: number): number {
  return Math.min(255, 32 + 3 * ppl);
}

export function wstageResources(spec: WstageKernelSpec, batch: number): KernelResources {
  const l = wstageLayout(spec);
  return {
    threads: l.threads,
    windowH: l.inRows,
    windowW: l.inCols,
    sharedBytes: l.sharedBytes,
    regsEstimate: wstageRegsEstimate(l.ppl),
    grid: [spec.groups, l.pixTiles, batch],
  };
}
