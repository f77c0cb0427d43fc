// Cost model of the dual family. Fitted to nothing yet: its constants are run 45's written
// prediction (tools/kernel-lab/PREDICTIONS.md), to be refitted when tune or the lab first times the
// kernel. It ranks the family's own candidates for `cusnn-gen tune`; the planner does not weigh it
// against other families (the rule serves no conv: tiles.ts).
//
// A warp's chain: the window's loads (one L2 round), then its even share E of the block's list (the
// nonzero inputs with nonempty rows, about density x rowsLive / warps), UNROLL entries at a time:
// one round for their row starts, then per 32 of a row's entries one round for the output channels
// and weights. Beside that chain the SM issues every warp's instructions (~12 per 32 entries of a
// row: two loads, the shared accumulator's load, FMA and store, the warp barrier, indices), shared
// by the warps of a scheduler. The slower of the two per wave.
import type { GpuProfile } from '../../arch/profiles.js';
import type { KernelEstimate } from '../../plan/types.js';
import { batch1Launch } from '../batch1-cost.js';
import { dualResources } from './resources.js';
import type { DualKernelSpec } from './spec.js';

/** One dependent round of loads (row starts from L1/L2, then channels and weights from L2). */
const ROUND_US = 0.25;
/** The window's loads, the compaction's barriers. */
const WINDOW_US = 0.6;
/** The warps' accumulators added and stored. */
const EPILOGUE_US = 0.3;
/** Instructions per entry (row start, length, list reads) and per 32 of a row's weights. */
const INSTR_PER_ENTRY = 4;
const INSTR_PER_ROW_STEP = 12;

/** Entries of a warp's even share at input density `density`. */
export function dualEntriesPerWarp(spec: Pick<DualKernelSpec, 'warps' | 'rowsLive'>, density: number): number {
  return (Math.min(1, Math.max(0, density)) * spec.rowsLive) / spec.warps;
}

export function dualUs(p: GpuProfile, spec: DualKernelSpec, batch: number, density: number): KernelEstimate | null {
  const res = dualResources(spec, batch);
  const l = batch1Launch(p, res);
  if (!l) return null;
  const entries = dualEntriesPerWarp(spec, density);
  const meanRow = spec.rowsLive > 0 ? spec.nnz / spec.rowsLive : 0;
  const rowSteps = Math.max(1, Math.ceil(meanRow / 32));
  const latencyUs = WINDOW_US + Math.ceil(entries / spec.unroll) * ROUND_US * (1 + rowSteps);
  const computeUs = (entries * (INSTR_PER_ENTRY + rowSteps * INSTR_PER_ROW_STEP) * l.warpsPerScheduler) / (p.boostClockGhz * 1e3);
  const core = Math.max(latencyUs, computeUs);
  return {
    us: p.launchUs + l.waves * core + EPILOGUE_US,
    blocks: l.blocks,
    blocksPerSm: l.occ.blocksPerSm,
    occupancy: l.occ.fraction,
    limitedBy: l.occ.limitedBy,
    waves: l.blocks / l.resident,
    bound: core === latencyUs ? 'latency' : 'issue',
  };
}
