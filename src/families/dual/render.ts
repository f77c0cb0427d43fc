// Renderer of the dual family (templates/dual.cu.hbs). As for wsparse, the kernel's tables come from
// the layer's nonzero structure, which a plan holds only as a digest: the caller passes the structure
// recomputed from the weights, and it must be the one the spec was planned with.
import type { RenderedKernel, ServedLayer } from '../../codegen/kernel.js';
import { render } from '../../codegen/handlebars.js';
import { fusedEpilogue, kernelContext, problemSection, table } from '../../codegen/header.js';
import { cInitializer } from '../wsparse/render.js';
import { checkPlannedStructure, type WeightStructure } from '../wsparse/structure.js';
import { dualLayout, dualResources } from './resources.js';
import { dualRows, type DualRows } from './rows.js';
import { dualName, validateDualSpec, type DualKernelSpec } from './spec.js';

/** The rows of `spec` on `st`, after checking that `st` is the structure the spec was planned for. `where` names the layer(s) in the error. */
export function checkedRows(spec: DualKernelSpec, st: WeightStructure, where: string): DualRows {
  validateDualSpec(spec);
  // The digest covers K, C, R and S too: a structure of another kernel shape never passes.
  let rows: DualRows | undefined;
  checkPlannedStructure(spec, st, where, ['nnz', 'rowMax', 'rowsLive'], () => {
    rows = dualRows(st);
    return { nnz: st.offsets.length, rowMax: rows.rowMax, rowsLive: rows.rowsLive };
  });
  return rows!;
}

export function renderDualKernel(spec: DualKernelSpec, servedBy: readonly ServedLayer[], st: WeightStructure | undefined): RenderedKernel {
  const name = dualName(spec);
  const where = `dual kernel ${name} (${servedBy.map((l) => l.layer).join(', ') || 'no layer listed'})`;
  if (!st) throw new Error(`${where}: rendering needs the layer's weight structure (the weight rows are not in the plan; codegen recomputes them from the weights)`);
  const rows = checkedRows(spec, st, where);
  const l = dualLayout(spec);
  const res = dualResources(spec, 1);
  const weights = spec.k * l.pairs;
  const meanRow = spec.rowsLive > 0 ? spec.nnz / spec.rowsLive : 0;
  const summary = [
    `Dual-sparse ${spec.r}x${spec.s} convolution (pruned weights and the input's zeros both skipped), stride ${spec.strideH}x${spec.strideW}, pad ${spec.padTop}x${spec.padLeft}${fusedEpilogue(spec)}.`,
    `One block per output pixel: ${spec.warps} warps load its ${l.pairs} (channel, tap) pairs, skipping those whose weight row is empty,`,
    `compact the nonzero inputs into one list shared evenly over the warps, and add each entry's row of nonzero weights`,
    `(output channels: a table below, fixed at generation; values packed by the runtime at load) into per-warp accumulators.`,
    `Sums in entry order, warps added in warp order: exact fp32, deterministic, no atomics.`,
  ];
  const sections = [
    problemSection(spec),
    {
      title: `Tiles (${spec.arch})`,
      rows: table([
        ['block', `1 output pixel x ${spec.k} channels, ${spec.warps} warps x ${l.slice} pairs loaded each, the nonzeros shared evenly`],
        ['lane', `${l.nch} input loads; per entry, its row's weights 32 at a time`],
        ['entries in flight', `${spec.unroll} per warp`],
        ['threads', `${res.threads}`],
        ['grid', `(${res.grid[0]}, 1, batch) = ${res.grid[0]} blocks at batch 1`],
        ['shared', `${res.sharedBytes} bytes dynamic`],
      ]),
    },
    {
      title: 'Weight structure',
      rows: table([
        ['digest', spec.patternDigest],
        ['nonzeros', `${spec.nnz} of ${weights} (${(100 * (1 - spec.nnz / weights)).toFixed(2)}% zeros)`],
        ['rows', `${spec.rowsLive} of ${l.pairs} (channel, tap) rows with nonzeros; busiest ${spec.rowMax}, mean ${meanRow.toFixed(1)}`],
      ]),
    },
  ];
  const context = {
    ...kernelContext(name, spec, servedBy), summary, sections,
    warps: spec.warps, unroll: spec.unroll,
    threads: res.threads, sharedBytes: res.sharedBytes, gridX: res.grid[0],
    nnz: spec.nnz, rowsLive: spec.rowsLive, rowMax: spec.rowMax, pairs: l.pairs, weights, meanPerRow: meanRow.toFixed(1), patternDigest: spec.patternDigest,
    startType: spec.nnz <= 65535 ? 'uint16_t' : 'uint32_t',
    rowStartTable: cInitializer(rows.start), rowKTable: cInitializer(rows.ks),
  };
  return { name, source: render('dual.cu.hbs', context) };
}
