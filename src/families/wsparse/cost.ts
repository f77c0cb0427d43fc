// Cost model of the wsparse family, driven by the nonzero count: issue slots of the busiest warp
// and the stages' latency through the batch-1 skeleton (src/families/batch1-cost.ts), bounded
// below by the L2 traffic. Per nonzero, a warp issues one 8-byte shared load of (value, offset),
// an address add, and per pixel row of its lanes a shared load and an FMA, plus the loop (3 + 2*TP
// instructions); the busiest warp walks `slotMax` nonzeros. Per chunk, every thread stages
// BKC*WIN/THREADS input values (index math, one copy) and nzCap/THREADS nonzeros (decode the
// offset, copy the weight value from the CRSK weights, store the window offset), and the block
// synchronizes twice. The issue rate is the other families' (~1.7 cycles per instruction per warp
// sharing a scheduler). L2: each block stages its window of every input channel and reads one
// 32-byte sector per nonzero of its channels (CRSK weights: a channel's values are K floats apart).
// Not yet fitted to a measurement: no wsparse kernel has run on a GPU.
import type { GpuProfile } from '../../arch/profiles.js';
import type { KernelEstimate } from '../../plan/types.js';
import { batch1Estimate, batch1Launch } from '../batch1-cost.js';
import { wsparseLayout, wsparseResources } from './resources.js';
import type { WsparseKernelSpec } from './spec.js';

const CYCLES_PER_INSTR_PER_WARP = 1.7;
const STAGE_INSTR_PER_VALUE = 10;
const STAGE_INSTR_PER_NONZERO = 18;
const CHUNK_OVERHEAD_INSTR = 40;

/** Same figures as every family's estimate (src/plan/types.ts). */
export type WsparseEstimate = KernelEstimate;

/** The estimate; the input density does not change it (the weights' zeros do, through the spec). */
export function wsparseUs(p: GpuProfile, spec: WsparseKernelSpec, batch: number): WsparseEstimate | null {
  const res = wsparseResources(spec, batch);
  const l = batch1Launch(p, res);
  if (!l) return null;
  const lay = wsparseLayout(spec);
  // Chunks that hold any of the kernel's nonzeros at all (a block skips the empty ones).
  const chunks = spec.nnz === 0 ? 0 : Math.min(lay.nChunks, spec.nnz);
  const compute = spec.slotMax * (3 + 2 * lay.tp);
  const staging = chunks * (Math.ceil((spec.bkc * lay.win) / lay.threads) * STAGE_INSTR_PER_VALUE +
    Math.ceil(spec.nzCap / lay.threads) * STAGE_INSTR_PER_NONZERO + CHUNK_OVERHEAD_INSTR);
  const emptyShare = Math.ceil((spec.k - spec.kActive) / lay.chTiles) * Math.ceil((lay.rowsT * lay.colsT) / lay.threads) * 6;
  const epilogue = spec.tk * lay.tp * 8 + emptyShare;
  const est = batch1Estimate(p, l, (compute + staging + epilogue) * CYCLES_PER_INSTR_PER_WARP, Math.max(1, chunks), spec, batch);
  const blocksX = res.grid[0];
  const l2Bytes = blocksX * (lay.chTiles * chunks * spec.bkc * lay.win * 4 + spec.nnz * 32) + 4 * batch * spec.k * spec.ho * spec.wo;
  const l2Us = l2Bytes / (p.l2BandwidthGBs * 1e3);
  if (p.launchUs + l2Us <= est.us) return est;
  return { ...est, us: p.launchUs + l2Us, bound: 'memory' };
}
