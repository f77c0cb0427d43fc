// Tiling rule of the wsparse family. Lanes go along output pixels: one lane per column of a row of
// up to 32 pixels (a wider row in equal column tiles of at most 32), floor(32 / columns) lane rows,
// TP output rows per lane; a warp owns TK output channels, a block WARPS warps. The channels are
// dealt to the warps by nonzero count (schedule.ts: LPT, max <= mean + one channel). BKC, the input
// channels per stage, is the largest that keeps the two stages within 48 KB of shared memory.
// TP, WARPS and TK are picked by the cost model (cost.ts) among TP in {1, 2, 4, 8} (no more rows
// than the map has), WARPS in {2, 4, 8}, TK in {1, 2, 4} (TK * TP <= 32 accumulators): a small,
// deterministic search, ties to the first candidate. Not fitted to a measurement yet.
import type { GpuProfile } from '../../arch/profiles.js';
import { wsparseUs, type WsparseEstimate } from './cost.js';
import { wsparseLanes, wsparseLayout } from './resources.js';
import { assignChannels, balanceOf, chunkCounts, nzCapOf, type SlotAssignment } from './schedule.js';
import type { WsparseKernelSpec, WsparseProblem, WsparseTiles } from './spec.js';
import type { WeightStructure } from './structure.js';

export interface WsparseChoice {
  readonly spec: WsparseKernelSpec;
  readonly estimate: WsparseEstimate;
  readonly why: string;
  /** Max over mean nonzeros per thread (schedule.ts balanceOf). */
  readonly balance: number;
  /** Mean nonzeros per thread (per warp slot). */
  readonly meanPerThread: number;
}

/** Shared memory the two stages may take (fits every arch's default per-block limit). */
export const WSPARSE_SMEM_BUDGET = 48 * 1024;

const TPS = [1, 2, 4, 8] as const;
const WARPS = [2, 4, 8] as const;
const TKS = [1, 2, 4] as const;

function bkcCandidates(c: number): number[] {
  const list = [64, 32, 16, 8, 4, 2, 1].filter((b) => b <= c);
  if (c < 64 && !list.includes(c)) list.unshift(c);
  return list;
}

/** The structure must be the problem's kernel. */
export function checkStructure(problem: Pick<WsparseProblem, 'k' | 'c' | 'r' | 's'>, st: WeightStructure): void {
  if (st.k !== problem.k || st.c !== problem.c || st.r !== problem.r || st.s !== problem.s) {
    throw new Error(`wsparse: weight structure ${st.k}x${st.c}x${st.r}x${st.s} is not the problem's kernel ${problem.k}x${problem.c}x${problem.r}x${problem.s}`);
  }
}

/** The spec of `tiles` on a structure: the derived fields (nnz, kActive, slotMax, nzCap, digest) filled in. */
export function wsparseSpecFor(problem: WsparseProblem, st: WeightStructure, t: Pick<WsparseTiles, 'rowsT' | 'warps' | 'tk' | 'bkc'>,
  memo?: { assign?: SlotAssignment; counts?: Uint32Array }): WsparseKernelSpec {
  checkStructure(problem, st);
  const a = memo?.assign ?? assignChannels(st, t.tk, t.warps);
  const counts = memo?.counts ?? chunkCounts(st, t.bkc);
  const nzCap = nzCapOf(a, counts, Math.ceil(st.c / t.bkc), t.warps * t.tk);
  return {
    family: 'wsparse', ...problem, rowsT: t.rowsT, warps: t.warps, tk: t.tk, bkc: t.bkc, split: 1,
    patternDigest: st.digest, nnz: a.nnz, kActive: a.kActive, slotMax: a.slotMax, nzCap,
  };
}

export function chooseWsparseTiles(p: GpuProfile, problem: WsparseProblem, batch: number, st: WeightStructure): WsparseChoice | null {
  checkStructure(problem, st);
  const { lr } = wsparseLanes(problem.wo);
  const countsByBkc = new Map<number, Uint32Array>();
  const countsFor = (bkc: number): Uint32Array => {
    let c = countsByBkc.get(bkc);
    if (!c) countsByBkc.set(bkc, (c = chunkCounts(st, bkc)));
    return c;
  };
  let best: { spec: WsparseKernelSpec; estimate: WsparseEstimate; assign: SlotAssignment } | null = null;
  let candidates = 0;
  for (const warps of WARPS) {
    for (const tk of TKS) {
      const assign = assignChannels(st, tk, warps);
      for (const tp of TPS) {
        if (tk * tp > 32) continue;
        if (tp > 1 && lr * (tp / 2) >= problem.ho) continue; // half as many rows already covered the map
        let spec: WsparseKernelSpec | null = null;
        for (const bkc of bkcCandidates(problem.c)) {
          const s = wsparseSpecFor(problem, st, { rowsT: lr * tp, warps, tk, bkc }, { assign, counts: countsFor(bkc) });
          if (wsparseLayout(s).sharedBytes <= Math.min(WSPARSE_SMEM_BUDGET, p.sharedPerBlockOptin)) {
            spec = s;
            break;
          }
        }
        if (!spec) continue;
        const estimate = wsparseUs(p, spec, batch);
        if (!estimate) continue;
        candidates++;
        if (!best || estimate.us < best.estimate.us) best = { spec, estimate, assign };
      }
    }
  }
  if (!best) return null;
  const { spec, estimate, assign } = best;
  const l = wsparseLayout(spec);
  const balance = balanceOf(assign);
  const meanPerThread = assign.nnz / assign.slots;
  const why = `rule: ${l.kb} channels per block (${spec.warps} warps x ${spec.tk}, dealt by nonzero count), ` +
    `lanes along pixels (${l.lcol} columns x ${l.lr} rows, ${l.tp} rows each: ${l.rowsT}x${l.colsT} tile), ` +
    `${spec.bkc} input channels per stage, ${estimate.blocks} blocks for ${p.smCount} SMs; best of ${candidates} tiles by the cost model`;
  return { spec, estimate, why, balance, meanPerThread };
}
