// Tiling rule of the wstage family: the cost model (cost.ts) ranks every tile that fits. For each
// tile height (whole output rows, at most WSTAGE_MAX_PPL pixels per lane, the input window in one
// block's shared memory on this arch) and warps per block, the channel groups are the counts that
// fill 1-4 rounds of the GPU's resident blocks (at most one warp slot per output channel); each
// candidate's schedule (schedule.ts) gives its busiest slot. The cheapest estimate is the rule's
// pick; `space` hands the best few to `cusnn-gen tune`.
import type { GpuProfile } from '../../arch/profiles.js';
import { occupancy } from '../../arch/profiles.js';
import type { KernelEstimate } from '../../plan/types.js';
import { checkStructure } from '../wsparse/tiles.js';
import { rowStats } from '../wsparse/schedule.js';
import type { WeightStructure } from '../wsparse/structure.js';
import { wstageUs } from './cost.js';
import { WSTAGE_LEFT, wstageLayout, wstageRegsEstimate } from './resources.js';
import { wstageSchedule } from './schedule.js';
import { WSTAGE_MAX_PPL, WSTAGE_WARPS, type WstageKernelSpec, type WstageProblem, type WstageTiles } from './spec.js';

export interface WstageChoice {
  readonly spec: WstageKernelSpec;
  readonly estimate: KernelEstimate;
  readonly why: string;
}

/** The spec of (rows, warps, groups) on a structure: the derived fields filled in from the schedule. */
export function wstageSpecFor(problem: WstageProblem, st: WeightStructure, t: Pick<WstageTiles, 'rows' | 'warps' | 'groups'>): WstageKernelSpec {
  checkStructure(problem, st);
  const s = rowStats(st);
  const sched = wstageSchedule(st, t.groups * t.warps);
  return {
    family: 'wstage', ...problem, rows: t.rows, warps: t.warps, groups: t.groups,
    patternDigest: st.digest, nnz: s.nnz, rowMax: s.rowMax, kActive: s.kActive, slotMax: sched.slotMax,
  };
}

/** Every candidate the rule weighs, cheapest first (ties: fewer rows, fewer warps, fewer groups). */
export function wstageCandidates(p: GpuProfile, problem: WstageProblem, batch: number, st: WeightStructure): WstageChoice[] {
  checkStructure(problem, st);
  const out: WstageChoice[] = [];
  // The window keeps WSTAGE_LEFT columns before input column 0 for the left padding.
  if (problem.padLeft > WSTAGE_LEFT) return out;
  const seen = new Set<string>();
  for (let rows = 1; rows <= problem.ho; rows++) {
    if (Math.ceil((rows * problem.wo) / 32) > WSTAGE_MAX_PPL) break;
    // Skip tile heights that leave the same number of tiles as a smaller one (more rows, no fewer tiles).
    const tiles = Math.ceil(problem.ho / rows);
    if (rows > 1 && Math.ceil(problem.ho / (rows - 1)) === tiles) continue;
    for (const warps of WSTAGE_WARPS) {
      const lay0 = wstageLayout({ ...problem, rows, warps, groups: 1, slotMax: 0 });
      if (lay0.sharedBytes > p.sharedPerBlockOptin) continue;
      const occ = occupancy(p, 32 * warps, wstageRegsEstimate(lay0.ppl), lay0.sharedBytes);
      if (occ.blocksPerSm === 0) continue;
      for (let round = 1; round <= 4; round++) {
        const groups = Math.min(Math.floor(problem.k / warps), Math.ceil((round * occ.blocksPerSm * p.smCount) / (tiles * batch)));
        if (groups < 1 || seen.has(`${rows}/${warps}/${groups}`)) continue;
        seen.add(`${rows}/${warps}/${groups}`);
        const spec = wstageSpecFor(problem, st, { rows, warps, groups });
        const sched = wstageSchedule(st, groups * warps);
        const estimate = wstageUs(p, spec, batch, sched.loadMean);
        if (!estimate) continue;
        const lay = wstageLayout(spec);
        const why = `rule (cost model, cheapest of the tiles that fit): ${rows} output row${rows > 1 ? 's' : ''} x ${problem.wo} per tile (${lay.ppl} pixels per lane), ` +
          `input window ${problem.c} x ${lay.inRows} x ${lay.inCols} in shared memory (${lay.sharedBytes} bytes with the entries), ` +
          `${warps} warps x ${groups} groups (busiest slot ${sched.slotMax} nonzeros, mean ${((spec.nnz) / (groups * warps)).toFixed(1)})`;
        out.push({ spec, estimate, why });
      }
    }
  }
  return out.sort((a, b) => a.estimate.us - b.estimate.us || a.spec.rows - b.spec.rows || a.spec.warps - b.spec.warps || a.spec.groups - b.spec.groups);
}

export function chooseWstageTiles(p: GpuProfile, problem: WstageProblem, batch: number, st: WeightStructure): WstageChoice | null {
  return wstageCandidates(p, problem, batch, st)[0] ?? null;
}
