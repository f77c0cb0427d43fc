// Renderer of the wsparse family (templates/wsparse.cu.hbs). The kernel's tables come from the
// layer's nonzero structure, which a plan does not hold (only its digest): the caller passes the
// structure recomputed from the weights, and it must have the digest the spec was planned with.
import { gpuProfile } from '../../arch/profiles.js';
import type { RenderedKernel, ServedLayer } from '../../codegen/kernel.js';
import { render } from '../../codegen/handlebars.js';
import { fusedEpilogue, kernelContext, problemSection, table } from '../../codegen/header.js';
import { wsparseLayout, wsparseResources } from './resources.js';
import { balanceOf, wsparseTables, type WsparseTables } from './schedule.js';
import { wsparseName, validateWsparseSpec, wsparseVec4, type WsparseKernelSpec } from './spec.js';
import { checkPlannedStructure, type WeightStructure } from './structure.js';
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

/** The C types of the offset and row-start tables. */
export function tableTypes(spec: Pick<WsparseKernelSpec, 'c' | 'r' | 's' | 'nnz'>): { offsetType: string; startType: string } {
  return {
    offsetType: spec.c * spec.r * spec.s <= 65536 ? 'uint16_t' : 'uint32_t',
    startType: spec.nnz <= 65535 ? 'uint16_t' : 'uint32_t',
  };
}

/**
 * The tables of `spec` on `st`, after checking that `st` is the structure the spec was planned for
 * (same digest, same derived figures). `where` names the layer(s) in the error.
 */
export function checkedTables(spec: WsparseKernelSpec, st: WeightStructure, where: string): WsparseTables {
  validateWsparseSpec(spec);
  const { family: _f, ppl, split, cpb, patternDigest: _d, nnz: _n, rowMax: _m, kActive: _a, ...problem } = spec;
  checkPlannedStructure(spec, st, where, ['nnz', 'rowMax', 'kActive'], () => wsparseSpecFor(problem, st, { ppl, split, cpb }));
  return wsparseTables(st);
}

export function renderWsparseKernel(spec: WsparseKernelSpec, servedBy: readonly ServedLayer[], st: WeightStructure | undefined): RenderedKernel {
  const name = wsparseName(spec);
  const where = `wsparse kernel ${name} (${servedBy.map((l) => l.layer).join(', ') || 'no layer listed'})`;
  if (!st) throw new Error(`${where}: rendering needs the layer's weight structure (the nonzero lists are not in the plan; codegen recomputes them from the weights)`);
  const t = checkedTables(spec, st, where);
  const lay = wsparseLayout(spec);
  const res = wsparseResources(spec, 1);
  const weights = spec.k * spec.c * spec.r * spec.s;
  const vec = wsparseVec4(spec);
  const mean = spec.nnz / spec.k;
  const summary = [
    `Weight-sparse ${spec.r}x${spec.s} convolution, stride ${spec.strideH}x${spec.strideW}, pad ${spec.padTop}x${spec.padLeft}${fusedEpilogue(spec)}.`,
    `Each output channel sums over its own nonzero weights only: their offsets are tables below (fixed at generation),`,
    `their values read packed in table order (gathered by the runtime at load). One block per ${spec.cpb} channels and a pixel tile; a`,
    `channel's warps split its nonzeros and add their sums in warp order. Fixed order, exact fp32, no atomics.`,
  ];
  const sections = [
    problemSection(spec),
    {
      title: `Tiles (${spec.arch})`,
      rows: table([
        ['block tile', `${spec.cpb} output channel${spec.cpb > 1 ? 's' : ''} x ${lay.pixT} pixels (${spec.ppl} per lane${vec ? ', float4 loads and stores when aligned' : ''})`],
        ['split', `${spec.split} warp${spec.split > 1 ? 's' : ''} per channel, fixed-order sum in shared memory`],
        ['threads', `${res.threads}`],
        ['grid', `(${res.grid[0]}, ${res.grid[1]}, batch) = ${res.grid[0] * res.grid[1]} blocks at batch 1`],
        ['shared', `${res.sharedBytes} bytes static`],
      ]),
    },
    {
      title: 'Weight structure',
      rows: table([
        ['digest', spec.patternDigest],
        ['nonzeros', `${spec.nnz} of ${weights} (${(100 * (1 - spec.nnz / weights)).toFixed(2)}% zeros)`],
        ['channels', `${spec.kActive} of ${spec.k} with nonzeros, ${t.stats.empty} all-zero`],
        ['balance', `busiest channel ${spec.rowMax} / mean ${mean.toFixed(1)} nonzeros = ${balanceOf(t.stats, spec.k).toFixed(3)} (dispatched longest first)`],
      ]),
    },
  ];
  const types = tableTypes(spec);
  const context = {
    ...kernelContext(name, spec, servedBy), summary, sections,
    ppl: spec.ppl, split: spec.split, cpb: spec.cpb, vec4Literal: String(vec), vec4: vec, pixT: lay.pixT, pixTiles: lay.pixTiles,
    nnz: spec.nnz, kActive: spec.kActive, rowMax: spec.rowMax, meanPerRow: mean.toFixed(1), weights,
    patternDigest: spec.patternDigest,
    threads: res.threads, sharedBytes: res.sharedBytes,
    gridX: res.grid[0], gridY: res.grid[1],
    smMaxThreads: gpuProfile(spec.arch).maxThreadsPerSm, smMaxBlocks: gpuProfile(spec.arch).maxBlocksPerSm,
    startType: types.startType, offsetType: types.offsetType,
    rowOrderTable: cInitializer(t.rowOrder), rowStartTable: cInitializer(t.rowStart), offsetTable: cInitializer(t.entries),
  };
  return { name, source: render('wsparse.cu.hbs', context) };
}
