// Renderer of the activation-sparse kernel family (templates/act-sparse.cu.hbs).
//
// Everything that needs arithmetic is computed here and handed to the template as plain data:
// the case table of the scatter switch, the shared-memory layout (from act-sparse-resources.ts,
// which the planner sized the kernel with), the grid, the edge guards and the header text. The
// template only lays text out, so what a kernel does can be tested from TypeScript.
import { ARCH_NAMES, gpuProfile, isArchName } from '../arch/profiles.js';
import { kernelResources, sharedLayout, windowOf } from '../plan/act-sparse-resources.js';
import type { ActSparseKernelSpec } from '../plan/types.js';
import { problemSection, table } from './header.js';
import { render } from './handlebars.js';
import { kernelName } from './naming.js';

/** A layer a kernel serves, listed in the generated file's header. */
export interface ServedLayer {
  readonly model: string;
  readonly layer: string;
}

export interface RenderedKernel {
  readonly name: string;
  readonly source: string;
}

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

/** Throws with every reason the spec cannot be rendered; returns the spec otherwise. */
export function validateActSparseSpec(spec: ActSparseKernelSpec): ActSparseKernelSpec {
  const errors: string[] = [];
  if (spec.family !== 'act-sparse') errors.push(`family must be 'act-sparse', got '${String(spec.family)}'`);
  if (!isArchName(spec.arch)) errors.push(`arch must be one of ${ARCH_NAMES.join(', ')}, got '${spec.arch}'`);
  const positive = ['c', 'h', 'w', 'k', 'r', 's', 'strideH', 'strideW', 'ho', 'wo', 'th', 'tw', 'tc', 'kb', 'cs'] as const;
  for (const f of positive) {
    if (!Number.isInteger(spec[f]) || spec[f] < 1) errors.push(`${f} must be a positive integer, got ${spec[f]}`);
  }
  for (const f of ['padTop', 'padLeft'] as const) {
    if (!Number.isInteger(spec[f]) || spec[f] < 0) errors.push(`${f} must be a non-negative integer, got ${spec[f]}`);
  }
  if (typeof spec.bias !== 'boolean' || typeof spec.relu !== 'boolean') errors.push('bias and relu must be booleans');
  if (errors.length === 0) {
    if (spec.kb % 32 !== 0) errors.push(`kb (${spec.kb}) must be a multiple of 32 so that a warp stays in one channel slice`);
    if (spec.kb * spec.cs > 1024) errors.push(`kb * cs = ${spec.kb * spec.cs} threads exceeds 1024 per block`);
    const [wh, ww] = windowOf(spec);
    if (wh * ww > 65536) errors.push(`window ${wh}x${ww} has more positions than a uint16 index holds`);
    if (isArchName(spec.arch)) {
      const bytes = sharedLayout(spec).totalBytes;
      const limit = gpuProfile(spec.arch).sharedPerBlockOptin;
      if (bytes > limit) errors.push(`shared memory ${bytes} B exceeds the ${limit} B a block may use on ${spec.arch}`);
    }
  }
  if (errors.length > 0) throw new Error(`invalid act-sparse spec: ${errors.join('; ')}`);
  return spec;
}


/**
 * Renders one activation-sparse kernel: a self-contained .cu file with the kernel, its C-linkage
 * launcher `cusnn_launch_<name>` and its description `cusnn_info_<name>`. Deterministic: the same
 * spec and served list give the same bytes.
 */
export function renderActSparseKernel(spec: ActSparseKernelSpec, servedBy: readonly ServedLayer[]): RenderedKernel {
  validateActSparseSpec(spec);
  const name = kernelName(spec);
  const layout = sharedLayout(spec);
  const res = kernelResources(spec, 1);
  const contributions = windowContributions(spec);
  const sm = Number(spec.arch.slice(3));

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

  const epilogueParts = [spec.bias ? 'bias' : null, spec.relu ? 'ReLU' : null].filter((p) => p !== null);
  const zerosAt = [spec.strideH > spec.r ? 'rows' : null, spec.strideW > spec.s ? 'cols' : null].filter((p) => p !== null);

  const summary = [
    `Activation-sparse ${spec.r}x${spec.s} convolution, stride ${spec.strideH}x${spec.strideW}, pad ${spec.padTop}x${spec.padLeft}${epilogueParts.length ? `, fused ${epilogueParts.join(' + ')}` : ''}.`,
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
    name,
    family: spec.family,
    summary,
    sections,
    servedBy: servedBy.map((l) => ({ model: l.model, layer: l.layer })),
    c: spec.c, h: spec.h, w: spec.w, k: spec.k, r: spec.r, s: spec.s,
    strideH: spec.strideH, strideW: spec.strideW, padTop: spec.padTop, padLeft: spec.padLeft,
    ho: spec.ho, wo: spec.wo,
    bias: spec.bias, relu: spec.relu,
    biasLiteral: String(spec.bias), reluLiteral: String(spec.relu),
    biasInt: spec.bias ? 1 : 0, reluInt: spec.relu ? 1 : 0,
    th: spec.th, tw: spec.tw, tc: spec.tc, kb: spec.kb, cs: spec.cs,
    sm,
    threads: res.threads,
    windowH: res.windowH, windowW: res.windowW,
    gridX: res.grid[0], gridY: res.grid[1],
    layout,
    skipIdle: zerosAt.length > 0,
    cases,
    reduce: spec.cs > 1,
    epilogueStep: spec.cs > 1 ? 4 : 3,
    epilogueWhat: [spec.bias ? 'add bias[k]' : null, spec.relu ? 'apply ReLU' : null].filter((p) => p !== null).join(', ') || 'no bias, no ReLU',
    edgeGuard: guards.join(' && '),
    edgeGuardWhy,
    // 48 KiB is the dynamic shared memory every architecture grants without cudaFuncSetAttribute.
    optIn: layout.totalBytes > 48 * 1024,
    nameIndent: ' '.repeat(name.length + 1),
    launchIndent: ' '.repeat('extern "C" cudaError_t cusnn_launch_'.length + name.length + 1),
  };
  return { name, source: render('act-sparse.cu.hbs', context) };
}
