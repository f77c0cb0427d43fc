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
import { wstageChunkMax, wstageSchedule } from './schedule.js';
import { chunkedMapping, WSTAGE_CHUNKS, WSTAGE_MAX_ACC, WSTAGE_MAX_PPL, WSTAGE_WARPS, type WstageKernelSpec, type WstageProblem, type WstageTiles } from './spec.js';

export interface WstageChoice {
  readonly spec: WstageKernelSpec;
  readonly estimate: KernelEstimate;
  readonly why: string;
}

/** The spec of (rows, warps, groups) on a structure: the derived fields filled in from the schedule. */
export function wstageSpecFor(problem: WstageProblem, st: WeightStructure, t: Pick<WstageTiles, 'rows' | 'warps' | 'groups' | 'chunk'>): WstageKernelSpec {
  checkStructure(problem, st);
  const s = rowStats(st);
  const sched = wstageSchedule(st, t.groups * t.warps);
  return {
    family: 'wstage', ...problem, rows: t.rows, warps: t.warps, groups: t.groups,
    patternDigest: st.digest, nnz: s.nnz, rowMax: s.rowMax, kActive: s.kActive, slotMax: sched.slotMax,
    ...(t.chunk !== undefined ? { chunk: t.chunk, slotChMax: sched.slotChMax, chunkMax: wstageChunkMax(st, t.groups * t.warps, t.chunk) } : {}),
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
      // The whole window (chunk absent), or streamed through two buffers of `chunk` channels.
      for (const chunk of [undefined, ...WSTAGE_CHUNKS.filter((c) => c < problem.c)]) {
        const ppl = chunk !== undefined ? chunkedMapping(rows, problem.wo).ppl : Math.ceil((rows * problem.wo) / 32);
        // Chunked: each warp keeps its channels' accumulators, at most WSTAGE_MAX_ACC per lane.
        const chCap = Math.min(31, Math.floor(WSTAGE_MAX_ACC / ppl)); // run bounds: one per lane, CHM + 1
        if (chunk !== undefined && (chCap < 1 || ppl > WSTAGE_MAX_PPL)) continue;
        const lay0 = wstageLayout({ ...problem, rows, warps, groups: 1, slotMax: 0, chunk });
        if (lay0.sharedBytes > p.sharedPerBlockOptin) continue;
        const occ = occupancy(p, 32 * warps, wstageRegsEstimate(lay0.ppl, chunk !== undefined ? chCap : 1), lay0.sharedBytes);
        if (occ.blocksPerSm === 0) continue;
        const gMin = chunk !== undefined ? Math.ceil(problem.k / (warps * chCap)) : 1;
        for (let round = 1; round <= 4; round++) {
          const groups = Math.min(Math.floor(problem.k / warps), Math.max(gMin, Math.ceil((round * occ.blocksPerSm * p.smCount) / (tiles * batch))));
          const key = `${rows}/${warps}/${groups}/${chunk ?? 'all'}`;
          if (groups < 1 || seen.has(key)) continue;
          seen.add(key);
          const spec = wstageSpecFor(problem, st, { rows, warps, groups, chunk });
          // chCap bounds both the accumulators (slotChMax x ppl <= WSTAGE_MAX_ACC) and the run bounds held per lane.
          if (chunk !== undefined && spec.slotChMax! > chCap) continue;
          const lay = wstageLayout(spec);
          if (lay.sharedBytes > p.sharedPerBlockOptin) continue;
          const sched = wstageSchedule(st, groups * warps);
          const estimate = wstageUs(p, spec, batch, sched.loadMean);
          if (!estimate) continue;
          const window = chunk === undefined
            ? `input window ${problem.c} x ${lay.inRows} x ${lay.inCols} in shared memory (${lay.sharedBytes} bytes with the entries)`
            : `input window ${problem.c} x ${lay.inRows} x ${lay.inCols} streamed ${chunk} channels at a time through two buffers (${lay.sharedBytes} bytes), up to ${spec.slotChMax} channels' accumulators per warp`;
          const why = `rule (cost model, cheapest of the tiles that fit): ${rows} output row${rows > 1 ? 's' : ''} x ${problem.wo} per tile (${lay.ppl} pixels per lane), ` +
            `${window}, ${warps} warps x ${groups} groups (busiest slot ${sched.slotMax} nonzeros, mean ${((spec.nnz) / (groups * warps)).toFixed(1)})`;
          out.push({ spec, estimate, why });
        }
      }
    }
  }
  return out.sort((a, b) => a.estimate.us - b.estimate.us || a.spec.rows - b.spec.rows || a.spec.warps - b.spec.warps || a.spec.groups - b.spec.groups || (a.spec.chunk ?? a.spec.c) - (b.spec.chunk ?? b.spec.c));
}

export function chooseWstageTiles(p: GpuProfile, problem: WstageProblem, batch: number, st: WeightStructure): WstageChoice | null {
  return wstageCandidates(p, problem, batch, st)[0] ?? null;
}
