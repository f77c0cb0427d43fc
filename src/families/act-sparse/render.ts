// Renderer of the act-sparse family (templates/act-sparse.cu.hbs).
//
// Everything that needs arithmetic is computed here and handed to the template as plain data:
// the case table of the scatter switch, the shared-memory layout (from resources.ts, which the
// tile search sized the kernel with), the grid, the edge guards and the header text. The
// template only lays text out, so what a kernel does can be tested from TypeScript.
import { render } from '../../codegen/handlebars.js';
import { fusedEpilogue, kernelContext, problemSection, table } from '../../codegen/header.js';
import type { RenderedKernel, ServedLayer } from '../../codegen/kernel.js';
import { actSparseResources, sharedLayout, windowOf } from './resources.js';
import { actSparseName, validateActSparseSpec, type ActSparseKernelSpec } from './spec.js';

/** One term of a window position's case: output pixel (oy, ox) += value * w[rr][ss]. */
export interface WindowTerm {
  readonly rr: number;
  readonly ss: number;
  readonly oy: number;
  readonly ox: number;
}

/**
 * For every position of the halo window (index row * windowW + col), the (rr, ss, oy, ox) it
 * feeds: window row = oy * strideH + rr and window col = ox * strideW + ss with oy < th,
 * ox < tw, rr < r, ss < s. Terms are ordered by (oy, ox); a position feeds each output pixel
 * through at most one filter tap. Positions that feed nothing (stride > filter extent) get [].
 */
export function windowContributions(
  spec: Pick<ActSparseKernelSpec, 'th' | 'tw' | 'r' | 's' | 'strideH' | 'strideW'>,
): WindowTerm[][] {
  const [wh, ww] = windowOf(spec);
  const out: WindowTerm[][] = [];
  for (let row = 0; row < wh; row++) {
    for (let col = 0; col < ww; col++) {
      const terms: WindowTerm[] = [];
      for (let oy = 0; oy < spec.th; oy++) {
        const rr = row - oy * spec.strideH;
        if (rr < 0 || rr >= spec.r) continue;
        for (let ox = 0; ox < spec.tw; ox++) {
          const ss = col - ox * spec.strideW;
          if (ss < 0 || ss >= spec.s) continue;
          terms.push({ rr, ss, oy, ox });
        }
      }
      out.push(terms);
    }
  }
  return out;
}

/**
 * Renders one activation-sparse kernel: a self-contained .cu file with the kernel, its C-linkage
 * launcher `cusnn_launch_<name>` and its description `cusnn_info_<name>`. Deterministic: the same
 * spec and served list give the same bytes.
 */
export function renderActSparseKernel(spec: ActSparseKernelSpec, servedBy: readonly ServedLayer[]): RenderedKernel {
  validateActSparseSpec(spec);
  const name = actSparseName(spec);
  const layout = sharedLayout(spec);
  const res = actSparseResources(spec, 1);
  const contributions = windowContributions(spec);

  const cases = contributions.flatMap((terms, pos) =>
    terms.length === 0
      ? []
      : [{
          pos,
          row: Math.floor(pos / res.windowW),
          col: pos % res.windowW,
          terms: terms.map((t) => ({ ...t, acc: t.oy * spec.tw + t.ox, w: t.rr * spec.s + t.ss })),
        }],
  );
  const idle = contributions.length - cases.length;

  const rowGuard = spec.ho % spec.th !== 0;
  const colGuard = spec.wo % spec.tw !== 0;
  const guards = [rowGuard ? 'oy0 + oy < HO' : null, colGuard ? 'ox0 + ox < WO' : null].filter((g) => g !== null);
  const edgeGuardWhy =
    rowGuard && colGuard ? `TH does not divide HO (${spec.ho}) nor TW WO (${spec.wo}): bottom and right tiles overhang.`
    : rowGuard ? `TH does not divide HO (${spec.ho}): the bottom tiles overhang.`
    : `TW does not divide WO (${spec.wo}): the right tiles overhang.`;

  const zerosAt = [spec.strideH > spec.r ? 'rows' : null, spec.strideW > spec.s ? 'cols' : null].filter((p) => p !== null);

  const summary = [
    `Activation-sparse ${spec.r}x${spec.s} convolution, stride ${spec.strideH}x${spec.strideW}, pad ${spec.padTop}x${spec.padLeft}${fusedEpilogue(spec)}.`,
    `It skips the zeros that a ReLU leaves in its input: a block compacts the nonzeros of each staged`,
    `input channel's halo window into shared memory, then every thread scatters them through a`,
    `generated switch into a fully unrolled register tile for one output channel. Deterministic: no`,
    `atomics, fixed reduction order.`,
  ];
  const sections = [
    problemSection(spec),
    {
      title: `Tiles (${spec.arch})`,
      rows: table([
        ['output tile', `th ${spec.th} x tw ${spec.tw} pixels, kb ${spec.kb} output channels`],
        ['channels', `tc ${spec.tc} staged per step (${Math.ceil(spec.c / spec.tc)} steps${spec.c % spec.tc ? `, the last with ${spec.c % spec.tc}` : ''}), split over cs ${spec.cs} slice${spec.cs > 1 ? 's' : ''}`],
        ['threads', `${res.threads} = kb ${spec.kb} x cs ${spec.cs}`],
        ['window', `${res.windowH} x ${res.windowW} = ${layout.win} positions, ${cases.length} cases${idle ? ` (${idle} feed no output: ${zerosAt.join(' and ')} skipped)` : ''}`],
        ['grid', `(${res.grid[0]}, ${res.grid[1]}, batch) = ${res.grid[0] * res.grid[1]} blocks at batch 1`],
        ['shared', `${layout.totalBytes} bytes dynamic (lists ${layout.listBytes}, reduction ${layout.reduceBytes})`],
        ['registers', `~${res.regsEstimate} estimated (${spec.th * spec.tw} accumulators + ${spec.r * spec.s} weights + addressing)`],
      ]),
    },
  ];

  const context = {
    ...kernelContext(name, spec, servedBy),
    summary,
    sections,
    bias: spec.bias, relu: spec.relu,
    th: spec.th, tw: spec.tw, tc: spec.tc, kb: spec.kb, cs: spec.cs,
    threads: res.threads,
    windowH: res.windowH, windowW: res.windowW,
    gridX: res.grid[0], gridY: res.grid[1],
    layout,
    skipIdle: zerosAt.length > 0,
    cases,
    reduce: spec.cs > 1,
    epilogueStep: spec.cs > 1 ? 4 : 3,
    edgeGuard: guards.join(' && '),
    edgeGuardWhy,
    // 48 KiB is the dynamic shared memory every architecture grants without cudaFuncSetAttribute.
    optIn: layout.totalBytes > 48 * 1024,
  };
  return { name, source: render('act-sparse.cu.hbs', context) };
}
