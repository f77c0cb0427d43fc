// Cost model of the wstage family, per SM and wave: the staging of each resident block's input
// tile (its bytes through the SM's L2 port, STAGE_BYTES_PER_CYCLE, behind one L2 latency) and then
// the walk over the nonzeros, bounded by the slowest of the shared-memory port (one warp-wide load
// a cycle: an entry and PPL pixel loads per nonzero), the schedulers' issue (the loads and PPL FMAs)
// and the busiest warp's own chain. Staging and walk are summed (a block waits for its tile);
// blocks resident together overlap them, which the model ignores. The constants are first guesses
// from the H200's figures; `cusnn-gen tune` measures.
import type { GpuProfile } from '../../arch/profiles.js';
import type { KernelEstimate } from '../../plan/types.js';
import { batch1Launch } from '../batch1-cost.js';
import { CHANNEL_OVERHEAD } from './schedule.js';
import { wstageLayout, wstageResources } from './resources.js';
import type { WstageKernelSpec } from './spec.js';

const STAGE_BYTES_PER_CYCLE = 64;
const L2_LATENCY_CYCLES = 800;
/** Instructions per staged input value (index math, bounds, copy) on the 4-byte path; a quarter per value on the 16-byte one. */
const STAGE_INSTR = 12;
/**
 * Cycles of one warp's dependent chain per nonzero: CHAIN_NZ_CYCLES for its entry (a shared-memory
 * load the window loads wait on) and CHAIN_PIXEL_CYCLES per pixel of the lane (load, FMA). Fitted on
 * run 57 (H100, ResNet-50 pruned 90%, all 52 convs tuned, 284 wstage tiles measured): the old chain
 * (1.5 + 3 x PPL cycles) put the rule on 4-warp tiles whose busiest warp walks 2-4x the nonzeros of a
 * 16-warp one, measured 1.4-2x slower (26 us against 15 on conv4_block3_2_conv). With these figures the
 * rule's pick is within 10% of the searched best on 46/52 convs (was 36/52; tools/bench/rescore-pruned.mjs).
 * Checked on data not used for the fit (tools/bench/model-error.mjs): the cheapest wstage tile by this model is within 10% of the
 * fastest measured one on 35/52 convs of run 58 (95%; was 19/52), and 5/10 of run 52 (DenseNet-201
 * pruned 90%, unchanged; the model's median error there -2% instead of -14%).
 */
const CHAIN_NZ_CYCLES = 5;
const CHAIN_PIXEL_CYCLES = 7;
/** Chunked: its entries are 8-byte loads with an address add before the window loads (the old model's 4.5 cycles more per nonzero). */
const CHUNK_CHAIN_EXTRA_CYCLES = 4.5;
// Fitted (roughly) to run 13c's tune on the H200: a wstage kernel whose walk is trivial (1x1, few
// nonzeros per slot) measured 6.5-8 us against the model's 3-4 without this; the cause is not yet
// profiled. With it the rule keeps 1x1 convs on wsparse, as measured.
const FIXED_US = 3.0;
/** Chunked: issue slots per (warp, chunk, channel) run (its bounds, loop setup) and cycles per chunk for the two barriers. */
const RUN_INSTR = 8;
const CHUNK_BARRIER_CYCLES = 80;
/** Chunked: instructions issued per scheduler and cycle (run 16's ncu of a 56x56 chunked tile: 0.66). */
const CHUNK_IPC = 0.66;
/** Chunked copies: warp instructions per 16-byte copy sequence (index math, bounds, cp.async) and per 4-byte row pass. */
const CHUNK_COPY16_INSTR = 14;
const CHUNK_COPY4_INSTR = 8;

export function wstageUs(p: GpuProfile, spec: WstageKernelSpec, batch: number, loadMean?: number): KernelEstimate | null {
  const res = wstageResources(spec, batch);
  const l = batch1Launch(p, res);
  if (!l) return null;
  const lay = wstageLayout(spec);
  const slots = spec.groups * spec.warps;
  const mean = loadMean ?? (spec.nnz + CHANNEL_OVERHEAD * spec.k) / slots;
  const busiest = spec.slotMax + CHANNEL_OVERHEAD * Math.ceil(spec.k / slots);
  const perSm = Math.min(l.occ.blocksPerSm, Math.ceil(l.blocks / p.smCount));
  const warpsPerSm = perSm * spec.warps;
  // Rows of whole 16-byte chunks copy 4 floats per instruction sequence (sm_80+, W % 4 == 0).
  const perFloat = p.sm >= 80 && spec.w % 4 === 0 ? STAGE_INSTR / 4 : STAGE_INSTR;
  const stage = L2_LATENCY_CYCLES + Math.max((perSm * 4 * lay.inFloats) / STAGE_BYTES_PER_CYCLE,
    (perSm * Math.ceil(lay.inFloats / 32) * perFloat) / 4);
  let cycles: number;
  let walk: number;
  let latencyBound: boolean;
  if (spec.chunk === undefined) {
    const lsu = warpsPerSm * mean * (1 + lay.ppl);
    const issue = (warpsPerSm * mean * (1 + 2 * lay.ppl)) / 4;
    const chain = busiest * (CHAIN_NZ_CYCLES + CHAIN_PIXEL_CYCLES * lay.ppl);
    walk = Math.max(lsu, issue, chain);
    latencyBound = walk === chain;
    cycles = stage + walk;
  } else {
    // Chunked: per nonzero one 8-byte entry load, one address add and PPL (load, FMA) pairs at fixed
    // distances; the copies of the next chunk (4-byte: a warp per window row; 16-byte: a thread per
    // chunk of 4 floats) share the schedulers with the walk, at the issue rate run 16 measured (ncu:
    // 0.66 instructions per scheduler and cycle with 4-5 warps each); only the first chunk's copy
    // latency is exposed; each (chunk, channel) run and each chunk's two barriers cost on top.
    const runs = lay.chunks * (spec.slotChMax ?? 1);
    const rowsPerChunk = spec.chunk * lay.inRows;
    const copyInstr = perFloat < STAGE_INSTR ? (rowsPerChunk * (lay.inCols / 4) / 32) * CHUNK_COPY16_INSTR : rowsPerChunk * Math.ceil(lay.inCols / 32) * CHUNK_COPY4_INSTR;
    const lsu = warpsPerSm * mean * (1 + lay.ppl);
    const issue = (warpsPerSm * (mean * (4 + 2 * lay.ppl) + runs * RUN_INSTR) + perSm * lay.chunks * copyInstr) / (4 * CHUNK_IPC);
    const chain = busiest * (CHAIN_NZ_CYCLES + CHUNK_CHAIN_EXTRA_CYCLES + CHAIN_PIXEL_CYCLES * lay.ppl) + runs * RUN_INSTR;
    latencyBound = chain >= lsu && chain >= issue;
    walk = Math.max(lsu, issue, chain) + lay.chunks * CHUNK_BARRIER_CYCLES;
    const first = L2_LATENCY_CYCLES + (perSm * 4 * lay.chunkFloats) / STAGE_BYTES_PER_CYCLE;
    cycles = first + Math.max(stage - L2_LATENCY_CYCLES, walk);
  }
  const us = p.launchUs + FIXED_US + (l.waves * cycles) / (p.boostClockGhz * 1e3);
  return {
    us,
    blocks: l.blocks,
    blocksPerSm: l.occ.blocksPerSm,
    occupancy: l.occ.fraction,
    limitedBy: l.occ.limitedBy,
    waves: l.blocks / l.resident,
    bound: latencyBound ? 'latency' : stage > walk ? 'memory' : 'issue',
  };
}
