// Tiling rule of the wsparse family, from the first measurements of the design (bench on the H200,
// ResNet-50 pruned 90/95%, 2026-12-02: one-warp blocks of one channel took 5-9 us on layers whose
// nonzeros need ~1 us; the blocks, not the nonzeros, were the cost). So: SPLIT, the warps per
// channel, is the smallest in {1, 2, 4, 8} that leaves each warp at most 32 of the busiest
// channel's nonzeros (one shuffle batch); CPB, the channels per block, fills the block up to 8 warps,
// halved while the grid would have fewer than 2 blocks per SM; PPL, the pixels per lane, is 4 on
// the float4 1x1 path, else the largest of {4, 2, 1} whose pixel tiles are at least 75% used (the
// best used otherwise). The cost model (cost.ts) gives the estimate; it does not pick.
import type { GpuProfile } from '../../arch/profiles.js';
import { wsparseUs, type WsparseEstimate } from './cost.js';
import { wsparseLayout } from './resources.js';
import { balanceOf, rowStats } from './schedule.js';
import { WSPARSE_MAX_TAPS, WSPARSE_MAX_WARPS, WSPARSE_PPLS, WSPARSE_SPLITS, wsparseVec4, type WsparseKernelSpec, type WsparseProblem, type WsparseTiles } from './spec.js';
import type { WeightStructure } from './structure.js';

export interface WsparseChoice {
  readonly spec: WsparseKernelSpec;
  readonly estimate: WsparseEstimate;
  readonly why: string;
  /** Max over mean nonzeros per output channel (schedule.ts balanceOf). */
  readonly balance: number;
}

/** Nonzeros per warp the rule aims at most (a shuffle batch). */
const PER_WARP = 32;
/** Pixel-tile use the rule accepts for a larger PPL. */
const MIN_TILE_USE = 0.75;

/** The structure must be the problem's kernel. */
export function checkStructure(problem: Pick<WsparseProblem, 'k' | 'c' | 'r' | 's'>, st: WeightStructure): void {
  if (st.k !== problem.k || st.c !== problem.c || st.r !== problem.r || st.s !== problem.s) {
    throw new Error(`wsparse: weight structure ${st.k}x${st.c}x${st.r}x${st.s} is not the problem's kernel ${problem.k}x${problem.c}x${problem.r}x${problem.s}`);
  }
}

/** The spec of `tiles` on a structure: the derived fields (nnz, rowMax, kActive, digest) filled in. */
export function wsparseSpecFor(problem: WsparseProblem, st: WeightStructure, t: Pick<WsparseTiles, 'ppl' | 'split' | 'cpb'>): WsparseKernelSpec {
  checkStructure(problem, st);
  const s = rowStats(st);
  return { family: 'wsparse', ...problem, ppl: t.ppl, split: t.split, cpb: t.cpb, patternDigest: st.digest, nnz: s.nnz, rowMax: s.rowMax, kActive: s.kActive };
}

export function chooseWsparseTiles(p: GpuProfile, problem: WsparseProblem, batch: number, st: WeightStructure): WsparseChoice | null {
  checkStructure(problem, st);
  // The kernel keeps each pixel's in-bounds taps in one 64-bit mask (templates/wsparse.cu.hbs).
  if (problem.r * problem.s > WSPARSE_MAX_TAPS) return null;
  const stats = rowStats(st);
  const pix = problem.ho * problem.wo;
  const split = WSPARSE_SPLITS.find((z) => Math.ceil(stats.rowMax / z) <= PER_WARP) ?? WSPARSE_SPLITS[WSPARSE_SPLITS.length - 1]!;
  const use = (ppl: number): number => pix / (Math.ceil(pix / (32 * ppl)) * 32 * ppl);
  const vecable = wsparseVec4({ ...problem, ppl: 4 });
  const ppl = vecable ? 4 : ([4, 2, 1] as const).find((x) => use(x) >= MIN_TILE_USE) ??
    [...WSPARSE_PPLS].sort((a, b) => use(b) - use(a) || b - a)[0]!;
  const pixTiles = Math.ceil(pix / (32 * ppl));
  let cpb: number = WSPARSE_MAX_WARPS / split; // splits and the warp cap are powers of 2: one of WSPARSE_CPBS
  while (cpb > 1 && Math.ceil(problem.k / cpb) * pixTiles * batch < 2 * p.smCount) cpb /= 2;
  const spec = wsparseSpecFor(problem, st, { ppl, split, cpb });
  const estimate = wsparseUs(p, spec, batch);
  if (!estimate) return null;
  const l = wsparseLayout(spec);
  const why = `rule: ${cpb} channel${cpb > 1 ? 's' : ''} per block x ${l.pixT} pixels (${ppl} per lane${wsparseVec4(spec) ? ', float4' : ''}, tiles ${(100 * use(ppl)).toFixed(0)}% used), ` +
    `${split} warp${split > 1 ? 's' : ''} per channel (busiest channel ${spec.rowMax} nonzeros: ${Math.ceil(spec.rowMax / split)} per warp), ` +
    `${estimate.blocks} blocks for ${p.smCount} SMs`;
  return { spec, estimate, why, balance: balanceOf(stats, problem.k) };
}
