// Renderer of the wsparse family (templates/wsparse.cu.hbs). The kernel's tables come from the
// layer's nonzero structure, which a plan does not hold (only its digest): the caller passes the
// structure recomputed from the weights, and it must have the digest the spec was planned with.
import type { RenderedKernel, ServedLayer } from '../../codegen/kernel.js';
import { render } from '../../codegen/handlebars.js';
import { problemSection, table } from '../../codegen/header.js';
import { wsparseLayout, wsparseResources } from './resources.js';
import { balanceOf, wsparseTables, type WsparseTables } from './schedule.js';
import { wsparseName, validateWsparseSpec, type WsparseKernelSpec } from './spec.js';
import type { WeightStructure } from './structure.js';
import { wsparseSpecFor } from './tiles.js';

const PER_LINE = 24;

/** A C initializer list body: PER_LINE values a line, each line indented and ending with a comma; "0" for an empty table (arrays have at least one element). */
export function cInitializer(values: ArrayLike<number>): string {
  if (values.length === 0) return '    0';
  const lines: string[] = [];
  for (let i = 0; i < values.length; i += PER_LINE) {
    const row: string[] = [];
    for (let j = i; j < Math.min(values.length, i + PER_LINE); j++) row.push(String(values[j]));
    lines.push(`    ${row.join(',')},`);
  }
  return lines.join('\n');
}

/** The C types of the offset and segment tables. */
export function tableTypes(spec: Pick<WsparseKernelSpec, 'c' | 'r' | 's' | 'nnz'>): { offsetType: string; segType: string } {
  return {
    offsetType: spec.c * spec.r * spec.s <= 65536 ? 'uint16_t' : 'uint32_t',
    segType: spec.nnz <= 65535 ? 'uint16_t' : 'uint32_t',
  };
}

/**
 * The tables of `spec` on `st`, after checking that `st` is the structure the spec was planned for
 * (same digest, same derived figures). `where` names the layer(s) in the error.
 */
export function checkedTables(spec: WsparseKernelSpec, st: WeightStructure, where: string): WsparseTables {
  validateWsparseSpec(spec);
  if (st.digest !== spec.patternDigest) {
    throw new Error(`${where}: the weights' nonzero structure has digest ${st.digest}, the plan's wsparse kernel was generated for ${spec.patternDigest}: ` +
      'the weights changed since planning (re-plan with these weights)');
  }
  const { family: _f, rowsT, warps, tk, bkc, split: _s, patternDigest: _d, nnz: _n, kActive: _a, slotMax: _m, nzCap: _z, ...problem } = spec;
  const again = wsparseSpecFor(problem, st, { rowsT, warps, tk, bkc });
  for (const f of ['nnz', 'kActive', 'slotMax', 'nzCap'] as const) {
    if (again[f] !== spec[f]) throw new Error(`${where}: wsparse spec says ${f} ${spec[f]}, the structure gives ${again[f]}`);
  }
  const t = wsparseTables(st, spec);
  if (t.nzCap !== spec.nzCap) throw new Error(`${where}: wsparse tables need ${t.nzCap} nonzeros per chunk, the spec holds ${spec.nzCap}`);
  return t;
}

export function renderWsparseKernel(spec: WsparseKernelSpec, servedBy: readonly ServedLayer[], st: WeightStructure | undefined): RenderedKernel {
  const name = wsparseName(spec);
  const where = `wsparse kernel ${name} (${servedBy.map((l) => l.layer).join(', ') || 'no layer listed'})`;
  if (!st) throw new Error(`${where}: rendering needs the layer's weight structure (the nonzero lists are not in the plan; codegen recomputes them from the weights)`);
  const t = checkedTables(spec, st, where);
  const a = t.assignment;
  const lay = wsparseLayout(spec);
  const res = wsparseResources(spec, 1);
  const weights = spec.k * spec.c * spec.r * spec.s;
  const mean = a.nnz / a.slots;
  const epilogueParts = [spec.bias ? 'bias' : null, spec.relu ? 'ReLU' : null].filter((x) => x !== null);
  const summary = [
    `Weight-sparse direct ${spec.r}x${spec.s} convolution, stride ${spec.strideH}x${spec.strideW}, pad ${spec.padTop}x${spec.padLeft}${epilogueParts.length ? `, fused ${epilogueParts.join(' + ')}` : ''}.`,
    `Each output channel sums over its own nonzero weights only: their offsets are tables below (fixed at generation),`,
    `their values read from the [C][R][S][K] weights at run time. The lanes of a warp go along pixels and walk one`,
    `channel's list together; channels are dealt to warps by nonzero count. Fixed order, exact fp32, no atomics.`,
  ];
  const sections = [
    problemSection(spec),
    {
      title: `Tiles (${spec.arch})`,
      rows: table([
        ['block tile', `${lay.kb} channels (${spec.warps} warps x ${spec.tk}) x ${lay.rowsT} rows x ${lay.colsT} columns`],
        ['lanes', `${lay.lcol} columns x ${lay.lr} rows, ${lay.tp} output rows each`],
        ['window', `${lay.winH} x ${lay.winW} per input channel`],
        ['reduction', `bkc ${spec.bkc} channels per stage, ${lay.nChunks} chunks, 2 stages`],
        ['threads', `${res.threads}`],
        ['grid', `(${res.grid[0]}, ${res.grid[1]}, 1) = ${res.grid[0] * res.grid[1]} blocks at batch 1`],
        ['shared', `${res.sharedBytes} bytes dynamic`],
      ]),
    },
    {
      title: 'Weight structure',
      rows: table([
        ['digest', spec.patternDigest],
        ['nonzeros', `${a.nnz} of ${weights} (${(100 * (1 - a.nnz / weights)).toFixed(2)}% zeros)`],
        ['channels', `${a.kActive} of ${spec.k} with nonzeros, ${a.empty.length} all-zero`],
        ['balance', `max ${a.slotMax} / mean ${mean.toFixed(1)} nonzeros per thread = ${balanceOf(a).toFixed(3)}`],
        ['per chunk', `at most ${t.nzCap} nonzeros staged per block`],
      ]),
    },
  ];
  const types = tableTypes(spec);
  const context = {
    name, family: spec.family, summary, sections,
    servedBy: servedBy.map((l) => ({ model: l.model, layer: l.layer })),
    c: spec.c, h: spec.h, w: spec.w, k: spec.k, r: spec.r, s: spec.s,
    strideH: spec.strideH, strideW: spec.strideW, padTop: spec.padTop, padLeft: spec.padLeft, ho: spec.ho, wo: spec.wo,
    biasLiteral: String(spec.bias), reluLiteral: String(spec.relu), biasInt: spec.bias ? 1 : 0, reluInt: spec.relu ? 1 : 0,
    tp: lay.tp, warps: spec.warps, tk: spec.tk, bkc: spec.bkc, lcol: lay.lcol, colTiles: lay.colTiles,
    rowsT: lay.rowsT, colsT: lay.colsT, kb: lay.kb, chTiles: lay.chTiles, nzCap: spec.nzCap,
    nnz: a.nnz, nEmpty: a.empty.length, kActive: a.kActive, slotMax: a.slotMax, meanPerSlot: mean.toFixed(1), weights,
    patternDigest: spec.patternDigest,
    threads: res.threads, sharedBytes: res.sharedBytes, windowH: res.windowH, windowW: res.windowW,
    gridX: res.grid[0], gridY: res.grid[1], sm: Number(spec.arch.slice(3)),
    segType: types.segType, offsetType: types.offsetType,
    slotChannelTable: cInitializer(a.slotChannel), segTable: cInitializer(t.seg),
    offsetTable: cInitializer(t.entries), emptyTable: cInitializer(a.empty),
    epilogueWhat: [spec.bias ? 'add bias[k]' : null, spec.relu ? 'apply ReLU' : null].filter((x) => x !== null).join(', ') || 'no bias, no ReLU',
    nameIndent: ' '.repeat(name.length + 1),
    launchIndent: ' '.repeat('extern "C" cudaError_t cusnn_launch_'.length + name.length + 1),
  };
  return { name, source: render('wsparse.cu.hbs', context) };
}
