// Renderer of the wstage family (templates/wstage.cu.hbs). As for wsparse, the kernel's tables
// come from the layer's nonzero structure, which the caller recomputes from the weights; it must
// have the digest the spec was planned with.
import type { RenderedKernel, ServedLayer } from '../../codegen/kernel.js';
import { render } from '../../codegen/handlebars.js';
import { fusedEpilogue, kernelContext, problemSection, table } from '../../codegen/header.js';
import { cInitializer, tableTypes } from '../wsparse/render.js';
import { balanceOf, rowStats } from '../wsparse/schedule.js';
import { checkPlannedStructure, type WeightStructure } from '../wsparse/structure.js';
import { WSTAGE_LEFT, wstageLayout, wstageResources } from './resources.js';
import { chunkTables, flatTables, wstageSchedule, type WstageSchedule } from './schedule.js';
import { validateWstageSpec, wstageName, WSTAGE_MAX_PPL, type WstageKernelSpec } from './spec.js';
import { wstageSpecFor } from './tiles.js';

/** The schedule of `spec` on `st`, after checking that `st` is the structure the spec was planned for. */
export function checkedSchedule(spec: WstageKernelSpec, st: WeightStructure, where: string): WstageSchedule {
  validateWstageSpec(spec);
  const { family: _f, rows, warps, groups, patternDigest: _d, nnz: _n, rowMax: _m, kActive: _a, slotMax: _s, chunk, slotChMax: _c, chunkMax: _x, ...problem } = spec;
  checkPlannedStructure(spec, st, where, ['nnz', 'rowMax', 'kActive', 'slotMax', 'slotChMax', 'chunkMax'], () => wstageSpecFor(problem, st, { rows, warps, groups, chunk }));
  return wstageSchedule(st, groups * warps);
}

export function renderWstageKernel(spec: WstageKernelSpec, servedBy: readonly ServedLayer[], st: WeightStructure | undefined): RenderedKernel {
  const name = wstageName(spec);
  const where = `wstage kernel ${name} (${servedBy.map((l) => l.layer).join(', ') || 'no layer listed'})`;
  if (!st) throw new Error(`${where}: rendering needs the layer's weight structure (the nonzero lists are not in the plan; codegen recomputes them from the weights)`);
  const sched = checkedSchedule(spec, st, where);
  const lay = wstageLayout(spec);
  const res = wstageResources(spec, 1);
  const stats = rowStats(st);
  const weights = spec.k * spec.c * spec.r * spec.s;
  const summary = [
    `Weight-sparse ${spec.r}x${spec.s} convolution over a staged input window, stride ${spec.strideH}x${spec.strideW}, pad ${spec.padTop}x${spec.padLeft}` +
      `${fusedEpilogue(spec)}.`,
    ...(spec.chunk === undefined ? [
      'A block copies its tile\'s input window (all channels, halo and padding zeros) into shared memory, then each warp',
      'sums the nonzero weights of its output channels, every load a shared-memory hit.',
    ] : [
      `A block streams its tile's input window (halo and padding zeros) through two shared-memory buffers, ${spec.chunk} input`,
      'channels at a time (the next chunk copied while the current one is summed); each warp keeps the sums of all its output',
      'channels and adds each chunk\'s nonzero weights, every input load a shared-memory hit.',
    ]),
    'The offsets are tables below (fixed at generation), the values read packed in table order (gathered by the runtime',
    'at load). Fixed order, exact fp32, no atomics.',
  ];
  const sections = [
    problemSection(spec),
    {
      title: `Tiles (${spec.arch})`,
      rows: table([
        ['block tile', `${spec.rows} output row${spec.rows > 1 ? 's' : ''} x ${spec.wo} = ${lay.pixT} pixels (${lay.ppl} per lane${spec.chunk !== undefined ? ', at fixed window distances' : ''}) x the channels of ${spec.warps} warp slots`],
        ['input window', spec.chunk === undefined ? `${spec.c} x ${lay.inRows} x ${lay.inCols} floats in shared memory`
          : `${spec.c} x ${lay.inRows} x ${lay.inCols} floats, streamed ${spec.chunk} channels at a time through two shared-memory buffers (${lay.chunks} chunks)`],
        ['threads', `${res.threads}`],
        ['grid', `(${res.grid[0]}, ${res.grid[1]}, batch) = ${res.grid[0] * res.grid[1]} blocks at batch 1`],
        ['shared', spec.chunk === undefined ? `${res.sharedBytes} bytes dynamic (window + ${spec.warps} x ${spec.slotMax} entries of 8 bytes)`
          : `${res.sharedBytes} bytes dynamic (2 x (${spec.chunk} channels of the window + ${spec.warps} x ${spec.chunkMax} entries of 8 bytes))`],
        ...(spec.chunk !== undefined ? [['accumulators', `up to ${spec.slotChMax} output channel${spec.slotChMax === 1 ? "" : "s"} per warp x ${lay.ppl} pixels per lane`] as [string, string]] : []),
      ]),
    },
    {
      title: 'Weight structure',
      rows: table([
        ['digest', spec.patternDigest],
        ['nonzeros', `${spec.nnz} of ${weights} (${(100 * (1 - spec.nnz / weights)).toFixed(2)}% zeros)`],
        ['channels', `${spec.kActive} of ${spec.k} with nonzeros, ${stats.empty} all-zero`],
        ['balance', `busiest channel ${spec.rowMax} / mean ${(spec.nnz / spec.k).toFixed(1)} = ${balanceOf(stats, spec.k).toFixed(3)}; ` +
          `busiest of ${spec.groups * spec.warps} warp slots ${sched.slotMax} nonzeros (load ${sched.loadMax.toFixed(0)} / mean ${sched.loadMean.toFixed(1)})`],
      ]),
    },
  ];
  const types = tableTypes(spec);
  const flat = flatTables(st, sched);
  const chunked = spec.chunk !== undefined ? chunkContext(spec, st, sched, lay) : null;
  const context = {
    ...kernelContext(name, spec, servedBy), summary, sections,
    rows: spec.rows, warps: spec.warps, groups: spec.groups, slotMax: spec.slotMax, slotMaxOrOne: Math.max(1, spec.slotMax),
    maxPpl: WSTAGE_MAX_PPL, pixTiles: lay.pixTiles,
    nnz: spec.nnz, kActive: spec.kActive, rowMax: spec.rowMax, weights, patternDigest: spec.patternDigest,
    threads: res.threads, sharedBytes: res.sharedBytes, windowH: lay.inRows, windowW: lay.inCols,
    gridX: res.grid[0], gridY: res.grid[1],
    startType: types.startType, offsetType: types.offsetType,
    slotStartType: spec.k <= 65535 ? 'uint16_t' : 'uint32_t', channelType: spec.k <= 65536 ? 'uint16_t' : 'uint32_t',
    slotStartTable: cInitializer(sched.slotStart), slotChTable: cInitializer(sched.slotCh), chNTable: cInitializer(flat.chN),
    entStartType: spec.nnz <= 65535 ? 'uint16_t' : 'uint32_t', entStartTable: cInitializer(flat.entStart),
    entCrsTable: cInitializer(flat.entCrs),
    chunked: chunked !== null, ...(chunked ?? {}),
  };
  return { name, source: render('wstage.cu.hbs', context) };
}

/** The chunked kernel's tables: each (slot, chunk, channel) run's first entry, and each entry's offset in its chunk's buffer. */
function chunkContext(spec: WstageKernelSpec, st: WeightStructure, sched: WstageSchedule, lay: ReturnType<typeof wstageLayout>) {
  const chunk = spec.chunk!;
  const t = chunkTables(st, sched, chunk, spec.slotChMax!);
  const rs = spec.r * spec.s;
  const chFloats = lay.inRows * lay.inCols;
  const off = Uint32Array.from(t.entCrs, (crs) => {
    const c = Math.floor(crs / rs), r = Math.floor((crs % rs) / spec.s), s = crs % spec.s;
    return (c % chunk) * chFloats + r * lay.inCols + s + WSTAGE_LEFT - spec.padLeft;
  });
  return {
    chunk, chunks: t.chunks, slotChMax: spec.slotChMax!, tail: lay.tail, ppl: lay.ppl,
    runStartType: spec.nnz <= 65535 ? 'uint16_t' : 'uint32_t', runStartTable: cInitializer(t.runStart), runs: t.runStart.length - 1,
    chunkMax: spec.chunkMax!, chunkMaxOrOne: Math.max(1, spec.chunkMax!), entOffTable: cInitializer(off),
  };
}
