// Dependency-free SVG charts of a bench's results. The SVG text is written here, deterministically
// (same results -> same bytes: no ids from counters or clocks, coordinates rounded to 0.01 px).
// Every chart names the GPU and the date; runs with synthetic weights carry "(synthetic)" in
// their labels and their bars are hatched. Data that is missing (a failed model, an engine
// without an energy counter, a speedup that is not a positive number) is skipped and named in a
// note line under the chart. Per-layer speedups are drawn only for layers that run a generated
// kernel: on the cuDNN path both engines run cuDNN, and their ratio (0.93x, 1.00x) is noise.
//
// Elements tests and tools can count: <rect class="bar"> (one per bar), <line class="whisker">
// (one per p10-p90 whisker), <circle class="point"> (one per scatter point), <text class="note">.
import { ENGINES, type BenchResults, type Engine, type LayerResult, type ModelResult } from './results.js';
import { geomean } from './stats.js';
import { ENGINE_LABEL, dateOf, engineResult, failure, percent, prunedWeights, runLabel, variantKey } from './table.js';

// Okabe-Ito colours (distinguishable with the common colour-vision deficiencies), then a few more.
const PALETTE = ['#0072B2', '#D55E00', '#009E73', '#CC79A7', '#E69F00', '#56B4E9', '#000000', '#999933', '#882255', '#44AA99'];
const ENGINE_COLOR: Readonly<Record<Engine, string>> = { cusnn: '#D55E00', cudnn: '#0072B2', 'cudnn-implicit-gemm': '#56B4E9' };
const PATH_COLOR = { 'act-sparse': '#D55E00', cudnn: '#0072B2' } as const;
const PATH_LABEL = { 'act-sparse': 'generated kernel (act-sparse)', cudnn: 'cuDNN path' } as const;
const TIE_COLOR = '#bbbbbb';

const FONT = 'Helvetica, Arial, sans-serif';
const CHAR_W = 0.58; // average glyph width / font size, to lay out text without a font engine
const MAX_NOTES = 8;

/** A coordinate or length: rounded to 0.01 px, no trailing zeros, never "-0". */
const n = (v: number): string => {
  const r = Math.round(v * 100) / 100;
  return Object.is(r, -0) ? '0' : String(r);
};
export const escapeXml = (s: string): string =>
  s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&apos;');
const textWidth = (s: string, size: number): number => s.length * size * CHAR_W;

/** Splits `s` into lines of at most `width` px at `size`, breaking after `breakAfter` (spaces by default). */
export function wrapText(s: string, width: number, size: number, breakAfter = ' '): string[] {
  const max = Math.max(10, Math.floor(width / (size * CHAR_W)));
  const lines: string[] = [];
  let rest = s;
  while (rest.length > max) {
    const at = rest.lastIndexOf(breakAfter, max - breakAfter.length);
    const space = rest.lastIndexOf(' ', max);
    const [end, cut] = at > 0 ? [at, at + breakAfter.length] : space > 0 ? [space, space + 1] : [max, max];
    lines.push(rest.slice(0, end).trimEnd()); // the separator itself is dropped at a break
    rest = rest.slice(cut).trimStart();
  }
  lines.push(rest);
  return lines;
}

interface TextOpts { size?: number; anchor?: 'start' | 'middle' | 'end'; cls?: string; weight?: 'bold'; fill?: string; rotate?: number }
function text(x: number, y: number, s: string, o: TextOpts = {}): string {
  const attrs = [
    o.cls ? ` class="${o.cls}"` : '', ` x="${n(x)}" y="${n(y)}"`,
    o.size ? ` font-size="${o.size}"` : '', o.anchor && o.anchor !== 'start' ? ` text-anchor="${o.anchor}"` : '',
    o.weight ? ` font-weight="${o.weight}"` : '', o.fill ? ` fill="${o.fill}"` : '',
    o.rotate ? ` transform="rotate(${o.rotate} ${n(x)} ${n(y)})"` : '',
  ].join('');
  return `<text${attrs}>${escapeXml(s)}</text>`;
}
const line = (x1: number, y1: number, x2: number, y2: number, stroke: string, cls?: string, extra = ''): string =>
  `<line${cls ? ` class="${cls}"` : ''} x1="${n(x1)}" y1="${n(y1)}" x2="${n(x2)}" y2="${n(y2)}" stroke="${stroke}"${extra}/>`;

/** A bar; a hatched overlay (not a `bar`) marks synthetic weights; `tip` becomes a hover title. */
function bar(x: number, y: number, w: number, h: number, fill: string, tip: string, hatched: boolean): string {
  const geom = `x="${n(x)}" y="${n(y)}" width="${n(Math.max(w, 0))}" height="${n(Math.max(h, 0))}"`;
  const out = `<rect class="bar" ${geom} fill="${fill}"><title>${escapeXml(tip)}</title></rect>`;
  return hatched ? `${out}\n<rect class="hatch" ${geom} fill="url(#hatch)" pointer-events="none"/>` : out;
}

/** Tick values 0, step, 2 step, ... covering [0, max] with about `target` steps of 1, 2, 2.5 or 5 x 10^k. */
export function niceTicks(max: number, target = 5): number[] {
  const top = max > 0 && Number.isFinite(max) ? max : 1;
  const raw = top / target;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const f = raw / mag;
  const step = (f <= 1 ? 1 : f <= 2 ? 2 : f <= 2.5 ? 2.5 : f <= 5 ? 5 : 10) * mag;
  const count = Math.ceil(top / step - 1e-9);
  return Array.from({ length: count + 1 }, (_, i) => Number((i * step).toPrecision(12)));
}
const tickLabel = (v: number): string => String(Number(v.toPrecision(6)));

/** A legend entry; `swatch(x, y)` draws its 12 x 10 marker with (x, y) the top-left corner. */
interface Legend { label: string; swatch: (x: number, y: number) => string }
interface Frame {
  readonly width: number;
  readonly height: number;
  readonly top: number;
  readonly left: number;
  readonly plotW: number;
  readonly plotH: number;
  readonly parts: string[];
}

/**
 * Title, subtitle, legend (wrapped to the width), the plot area and the notes under it.
 * `bottomSpace`: room under the plot for x labels and the axis title, before the notes.
 */
function frame(o: { title: string; subtitle: string; legend: Legend[]; plotW: number; plotH: number; left?: number; bottomSpace: number; notes: string[] }): Frame {
  const left = o.left ?? 80;
  const right = 30;
  const width = Math.max(left + o.plotW + right, 640, left + textWidth(o.title, 16) * 1.12 + right); // bold is wider
  const sub = wrapText(o.subtitle, width - left - right, 11, ' | ');
  const legendParts: string[] = [];
  let lx = left;
  let ly = 62 + (sub.length - 1) * 15;
  for (const item of o.legend) {
    const w = 18 + textWidth(item.label, 11) + 18;
    if (lx + w > width - right && lx > left) { lx = left; ly += 17; }
    legendParts.push(item.swatch(lx, ly - 9));
    legendParts.push(text(lx + 16, ly, item.label, { size: 11, cls: 'legend' }));
    lx += w;
  }
  const top = (o.legend.length ? ly : 46 + (sub.length - 1) * 15) + 22;
  const capped = o.notes.length > MAX_NOTES ? [...o.notes.slice(0, MAX_NOTES - 1), `... and ${o.notes.length - MAX_NOTES + 1} more`] : o.notes;
  // One <text class="note"> per note; a long note continues on further lines (class note-cont).
  const noteLines = capped.flatMap((s) => wrapText(`Note: ${s}`, width - left - right, 11).map((l, i) => ({ l: i ? `    ${l}` : l, cls: i ? 'note-cont' : 'note' })));
  const height = top + o.plotH + o.bottomSpace + noteLines.length * 15 + 12;
  const parts = [
    text(left, 26, o.title, { size: 16, weight: 'bold', cls: 'title' }),
    ...sub.map((l, i) => text(left, 44 + i * 15, l, { size: 11, fill: '#444444', cls: 'subtitle' })),
    ...legendParts,
    `<rect class="plot" x="${n(left)}" y="${n(top)}" width="${n(o.plotW)}" height="${n(o.plotH)}" fill="none" stroke="#cccccc"/>`,
    ...noteLines.map((x, i) => text(left, top + o.plotH + o.bottomSpace + 12 + i * 15, x.l, { size: 11, fill: '#8a1c1c', cls: x.cls })),
  ];
  return { width, height, top, left, plotW: o.plotW, plotH: o.plotH, parts };
}

function svgDocument(f: Frame, body: string[]): string {
  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<svg xmlns="http://www.w3.org/2000/svg" width="${n(f.width)}" height="${n(f.height)}" viewBox="0 0 ${n(f.width)} ${n(f.height)}" font-family="${FONT}" font-size="12">`,
    '<defs><pattern id="hatch" patternUnits="userSpaceOnUse" width="6" height="6" patternTransform="rotate(45)">' +
      '<line x1="0" y1="0" x2="0" y2="6" stroke="#ffffff" stroke-width="2.5" stroke-opacity="0.8"/></pattern></defs>',
    `<rect class="background" x="0" y="0" width="${n(f.width)}" height="${n(f.height)}" fill="#ffffff"/>`,
    ...f.parts,
    ...body,
    '</svg>',
    '',
  ].join('\n');
}

/** Horizontal grid lines and labels of a linear y axis from 0 to the last tick, plus the axis title. */
function linearYAxis(f: Frame, ticks: number[], title: string): { y: (v: number) => number; parts: string[] } {
  const max = ticks[ticks.length - 1]!;
  const y = (v: number): number => f.top + f.plotH - (v / max) * f.plotH;
  const parts = ticks.flatMap((t) => [
    line(f.left, y(t), f.left + f.plotW, y(t), t === 0 ? '#333333' : '#e5e5e5', 'grid'),
    text(f.left - 6, y(t) + 4, tickLabel(t), { size: 11, anchor: 'end', cls: 'tick' }),
  ]);
  parts.push(text(f.left - 52, f.top + f.plotH / 2, title, { size: 12, anchor: 'middle', rotate: -90, cls: 'axis-title' }));
  return { y, parts };
}

/** log2 y axis: ticks at powers of two covering [lo, hi] (1 always inside). */
function log2YAxis(f: Frame, lo: number, hi: number, title: string): { y: (v: number) => number; parts: string[] } {
  let e0 = Math.floor(Math.log2(Math.min(lo, 1)));
  let e1 = Math.ceil(Math.log2(Math.max(hi, 1)));
  if (e1 - e0 < 2) { e0 -= 1; e1 += 1; }
  const y = (v: number): number => f.top + f.plotH - ((Math.log2(v) - e0) / (e1 - e0)) * f.plotH;
  const parts: string[] = [];
  for (let e = e0; e <= e1; e++) {
    const v = 2 ** e;
    parts.push(line(f.left, y(v), f.left + f.plotW, y(v), '#e5e5e5', 'grid'));
    parts.push(text(f.left - 6, y(v) + 4, `${tickLabel(v)}x`, { size: 11, anchor: 'end', cls: 'tick' }));
  }
  parts.push(line(f.left, y(1), f.left + f.plotW, y(1), '#333333', 'ref', ' stroke-width="1.5" stroke-dasharray="6 3"'));
  parts.push(text(f.left - 52, f.top + f.plotH / 2, title, { size: 12, anchor: 'middle', rotate: -90, cls: 'axis-title' }));
  return { y, parts };
}

const swatch = (color: string, hatched = false) => (x: number, y: number): string =>
  `<rect class="legend-swatch" x="${n(x)}" y="${n(y)}" width="12" height="10" fill="${color}"/>` +
  (hatched ? `<rect class="legend-swatch" x="${n(x)}" y="${n(y)}" width="12" height="10" fill="url(#hatch)"/>` : '');
const dot = (color: string, hollow = false) => (x: number, y: number): string =>
  `<circle class="legend-swatch" cx="${n(x + 6)}" cy="${n(y + 5)}" r="4" ${hollow ? `fill="none" stroke="${color}" stroke-width="1.5"` : `fill="${color}"`}/>`;
const whiskerMark = (x: number, y: number): string =>
  `<g class="legend-swatch">${line(x + 6, y - 1, x + 6, y + 11, '#000000')}${line(x + 3, y - 1, x + 9, y - 1, '#000000')}${line(x + 3, y + 11, x + 9, y + 11, '#000000')}</g>`;
const refMark = (x: number, y: number): string => line(x - 2, y + 5, x + 14, y + 5, '#333333', 'legend-swatch', ' stroke-width="1.5" stroke-dasharray="4 2"');

function subtitle(r: BenchResults, extra?: string): string {
  return [`${r.gpu.name} (${r.gpu.sm})`, dateOf(r.createdAt), extra].filter(Boolean).join('  |  ');
}

/** Runs with engine results (to draw), and notes for the others. */
function drawableRuns(r: BenchResults): { runs: ModelResult[]; notes: string[] } {
  const runs = r.runs.filter((m) => m.engines.length > 0);
  const notes = r.runs.filter((m) => m.engines.length === 0).map((m) => `${runLabel(m, false)} skipped: ${oneLine(failure(m) ?? 'no engine results')}`);
  return { runs, notes };
}
const oneLine = (s: string, max = 140): string => {
  const t = s.replace(/\s*\n\s*/g, ' ');
  return t.length > max ? `${t.slice(0, max - 3)}...` : t;
};

interface BarSpec { engine: Engine; value: number; lo?: number; hi?: number; tip: string }
interface GroupSpec { label: string; synthetic: boolean; bars: BarSpec[] }

/** Bars grouped per run, one colour per engine, optional whiskers; x labels rotated under the groups. */
function groupedBars(r: BenchResults, o: { title: string; yTitle: string; groups: GroupSpec[]; notes: string[]; unit: string }): string {
  const slot = 22;
  const groupW = Math.max(ENGINES.length * slot + 26, 480 / Math.max(o.groups.length, 1)); // few groups: spread over 480 px
  const labelW = Math.max(40, ...o.groups.map((g) => textWidth(g.label, 11)));
  const bottomSpace = Math.min(labelW, 260) * Math.sin(Math.PI / 4) + 46;
  const anySynthetic = o.groups.some((g) => g.synthetic);
  const legend: Legend[] = ENGINES.map((e) => ({ label: ENGINE_LABEL[e], swatch: swatch(ENGINE_COLOR[e]) }));
  if (anySynthetic) legend.push({ label: 'hatched: synthetic weights', swatch: swatch('#777777', true) });
  const hasWhiskers = o.groups.some((g) => g.bars.some((b) => b.lo !== undefined));
  if (hasWhiskers) legend.push({ label: 'whisker: p10-p90', swatch: whiskerMark });
  const f = frame({ title: o.title, subtitle: subtitle(r), legend, plotW: Math.max(o.groups.length, 1) * groupW, plotH: 300, bottomSpace, notes: o.notes });
  const body: string[] = [];
  const max = Math.max(0, ...o.groups.flatMap((g) => g.bars.map((b) => b.hi ?? b.value)));
  const ticks = niceTicks(max * 1.08);
  const ax = linearYAxis(f, ticks, o.yTitle);
  body.push(...ax.parts);
  if (o.groups.length === 0) body.push(text(f.left + f.plotW / 2, f.top + f.plotH / 2, 'no data to draw', { size: 14, anchor: 'middle', cls: 'empty' }));
  o.groups.forEach((g, gi) => {
    const gx = f.left + gi * groupW + (groupW - ENGINES.length * slot) / 2;
    for (const b of g.bars) {
      const x = gx + ENGINES.indexOf(b.engine) * slot + 2;
      const w = slot - 4;
      body.push(bar(x, ax.y(b.value), w, ax.y(0) - ax.y(b.value), ENGINE_COLOR[b.engine], b.tip, g.synthetic));
      if (b.lo !== undefined && b.hi !== undefined) {
        const cx = x + w / 2;
        body.push(`<g class="whisker-group">${line(cx, ax.y(b.lo), cx, ax.y(b.hi), '#000000', 'whisker')}` +
          `${line(cx - 4, ax.y(b.lo), cx + 4, ax.y(b.lo), '#000000')}${line(cx - 4, ax.y(b.hi), cx + 4, ax.y(b.hi), '#000000')}</g>`);
      }
    }
    const lx = gx + (ENGINES.length * slot) / 2;
    const ly = f.top + f.plotH + 14;
    body.push(text(lx, ly, g.label, { size: 11, anchor: 'end', rotate: -45, cls: 'xlabel' }));
  });
  body.push(text(f.left + f.plotW / 2, f.top + f.plotH + bottomSpace - 8, `network, batch size (${o.unit})`, { size: 12, anchor: 'middle', cls: 'axis-title' }));
  return svgDocument(f, body);
}

/** Experiment 1: energy per inference per network, the three engines side by side (mJ). */
export function energyChart(r: BenchResults): string {
  const { runs, notes } = drawableRuns(r);
  const groups: GroupSpec[] = [];
  for (const m of runs) {
    const bars: BarSpec[] = [];
    for (const e of ENGINES) {
      const er = engineResult(m, e);
      if (!er) { notes.push(`${runLabel(m, false)}: no ${ENGINE_LABEL[e]} result`); continue; }
      if (er.energy === null) { notes.push(`${runLabel(m, false)} ${ENGINE_LABEL[e]}: no energy${er.energyNote ? ` (${oneLine(er.energyNote, 80)})` : ''}`); continue; }
      const en = er.energy;
      bars.push({ engine: e, value: en.mJPerInference,
        tip: `${runLabel(m)} ${ENGINE_LABEL[e]}: ${en.mJPerInference.toFixed(2)} mJ/inference, ${en.avgPowerW.toFixed(1)} W avg (idle ${en.idlePowerW.toFixed(1)} W), ${en.inferences} inferences in ${en.windowSeconds.toFixed(1)} s` });
    }
    if (bars.length > 0) groups.push({ label: runLabel(m), synthetic: m.weights === 'synthetic', bars });
  }
  return groupedBars(r, { title: 'Energy per inference (NVML total-energy counter)', yTitle: 'energy per inference (mJ)', groups, notes, unit: 'lower is better' });
}

/** Experiment 2: whole-network time per inference, median bars with p10-p90 whiskers (ms). */
export function timeChart(r: BenchResults): string {
  const { runs, notes } = drawableRuns(r);
  const groups: GroupSpec[] = runs.map((m) => ({
    label: runLabel(m),
    synthetic: m.weights === 'synthetic',
    bars: m.engines.map((e) => ({
      engine: e.engine, value: e.time.medianUs / 1000, lo: e.time.p10Us / 1000, hi: e.time.p90Us / 1000,
      tip: `${runLabel(m)} ${ENGINE_LABEL[e.engine]}: median ${(e.time.medianUs / 1000).toFixed(3)} ms (p10 ${(e.time.p10Us / 1000).toFixed(3)}, p90 ${(e.time.p90Us / 1000).toFixed(3)}), ${e.time.iters} graph replays`,
    })),
  }));
  return groupedBars(r, { title: 'Whole-network time per inference (CUDA graph replay)', yTitle: 'time per inference (ms)', groups, notes, unit: 'median, lower is better' });
}

/** A layer with a speedup to draw: it runs a generated kernel and its ratio is a positive number. */
type Drawn = LayerResult & { readonly speedup: number };
const validSpeedup = (l: LayerResult): l is Drawn => l.path === 'act-sparse' && l.speedup !== null && Number.isFinite(l.speedup) && l.speedup > 0;
const onCudnn = (ls: readonly LayerResult[]): number => ls.filter((l) => l.path === 'cudnn').length;
const verdictText = (l: LayerResult): string => (l.verdict === 'tie' ? ', a tie within the spread' : '');

/**
 * Experiment 3: per-layer speedup of cusnn over cuDNN (cudnnUs / cusnnUs) for one model, bars in
 * network order coloured by the path cusnn runs, a dashed line at 1.0. `batch` picks the run
 * when the model ran at several batch sizes (default: the smallest), `variant` (variantKey: ''
 * for the weights as given, `p0.90` for a pruned variant) when it ran with several weights.
 */
export function layerSpeedupChart(r: BenchResults, model: string, batch?: number, variant?: string): string {
  const candidates = r.runs.filter((m) => m.model === model && (batch === undefined || m.batch === batch) && (variant === undefined || variantKey(m) === variant));
  const m = candidates.sort((a, b) => a.batch - b.batch)[0];
  const notes: string[] = [];
  const layers = m ? m.layers.filter(validSpeedup) : [];
  if (!m) notes.push(`no results for ${model}${batch === undefined ? '' : ` at batch ${batch}`}`);
  else {
    if (m.layers.length === 0) notes.push(`${runLabel(m, false)}: no layer results${failure(m) ? ` (${oneLine(failure(m)!)})` : ''}`);
    const cudnn = onCudnn(m.layers);
    if (cudnn) notes.push(`${cudnn} layer(s) on the cuDNN path: speedup n/a (both engines run cuDNN there), not drawn`);
    const bad = m.layers.filter((l) => l.path === 'act-sparse' && !validSpeedup(l));
    if (bad.length) notes.push(`${bad.length} layer(s) without a valid speedup skipped: ${bad.slice(0, 5).map((l) => l.layer).join(', ')}${bad.length > 5 ? ', ...' : ''}`);
  }
  const plotW = Math.max(layers.length * Math.max(5, Math.min(40, 1100 / Math.max(layers.length, 1))), 400);
  const slot = plotW / Math.max(layers.length, 1);
  const maxLabel = Math.max(40, ...layers.map((l) => textWidth(l.layer, 9)));
  const bottomSpace = maxLabel * Math.sin(Math.PI / 3) + 44;
  const g = geomean(layers.map((l) => l.speedup));
  const extra = m ? [`batch ${m.batch}`, m.weights === 'synthetic' ? 'synthetic weights' : 'real weights',
    prunedWeights(m) && m.weightSparsity !== undefined ? `${percent(m.weightSparsity)} of conv weights zero` : '',
    `${layers.length}/${m.layers.length} layers on generated kernels`,
    g !== undefined ? `geomean speedup there ${g.toFixed(2)}x` : ''].filter(Boolean).join(', ') : undefined;
  const legend: Legend[] = [{ label: PATH_LABEL['act-sparse'], swatch: swatch(PATH_COLOR['act-sparse'], m?.weights === 'synthetic') }];
  if (layers.some((l) => l.verdict === 'tie')) legend.push({ label: 'grey: a tie within the spread', swatch: swatch(TIE_COLOR, m?.weights === 'synthetic') });
  legend.push({ label: 'speedup 1.0 (same time)', swatch: refMark });
  const title = `Per-layer speedup of cuSNN over cuDNN: ${m ? runLabel(m) : model}`;
  const f = frame({ title, subtitle: subtitle(r, extra), legend, plotW, plotH: 320, bottomSpace, notes });
  const maxSpeedup = Math.max(1.2, ...layers.map((l) => l.speedup));
  const ax = linearYAxis(f, niceTicks(maxSpeedup * 1.05), 'speedup: cuDNN time / cuSNN time');
  const body = [...ax.parts];
  if (layers.length === 0) body.push(text(f.left + f.plotW / 2, f.top + f.plotH / 2, 'no data to draw', { size: 14, anchor: 'middle', cls: 'empty' }));
  const labelEvery = Math.max(1, Math.ceil(11 / slot));
  layers.forEach((l, i) => {
    const x = f.left + i * slot;
    body.push(bar(x + slot * 0.1, ax.y(l.speedup), slot * 0.8, ax.y(0) - ax.y(l.speedup), l.verdict === 'tie' ? TIE_COLOR : PATH_COLOR[l.path],
      `${l.layer} (${l.c}x${l.h}x${l.w} -> ${l.k}, ${l.r}x${l.s}/s${l.stride}): ${l.speedup.toFixed(2)}x${verdictText(l)}, cuSNN ${l.cusnnUs.toFixed(1)} us vs cuDNN ${l.cudnnUs.toFixed(1)} us (${l.cudnnAlgo}), input ${(100 * l.inputSparsity).toFixed(1)}% zeros, ${l.path}`,
      m!.weights === 'synthetic'));
    if (i % labelEvery === 0) body.push(text(x + slot / 2 + 3, f.top + f.plotH + 10, l.layer, { size: 9, anchor: 'end', rotate: -60, cls: 'xlabel' }));
  });
  body.push(line(f.left, ax.y(1), f.left + f.plotW, ax.y(1), '#333333', 'ref', ' stroke-width="1.5" stroke-dasharray="6 3"'));
  const every = labelEvery > 1 ? `, every ${labelEvery}${labelEvery === 2 ? 'nd' : labelEvery === 3 ? 'rd' : 'th'} named` : '';
  body.push(text(f.left + f.plotW / 2, f.top + f.plotH + bottomSpace - 8, `convolution layers in network order (${layers.length}${every})`, { size: 12, anchor: 'middle', cls: 'axis-title' }));
  return svgDocument(f, body);
}

/** One colour of a speedup scatter: the runs it draws (one run, or every run of a model). */
interface ScatterSeries {
  readonly label: string;
  readonly runs: readonly ModelResult[];
}

/**
 * Per-layer speedup (log2 scale) against a per-layer fraction `x` (0-100% on the x axis), every
 * generated-kernel layer of every run of every series, one colour per series; hollow for a tie.
 */
function speedupScatter(r: BenchResults, o: {
  readonly title: string;
  readonly series: readonly ScatterSeries[];
  readonly notes: string[];
  readonly x: (l: LayerResult) => number;
  readonly xTitle: string;
  /** The layer's x in a point's hover title, e.g. `82.1% zeros`. */
  readonly xTip: (l: LayerResult) => string;
  /** The subtitle's count of what was drawn, given the number of points. */
  readonly counted: (points: number) => string;
}): string {
  const notes = o.notes;
  const runs = o.series.flatMap((s) => s.runs);
  const points = o.series.map((s) => s.runs.map((m) => {
    const ok = m.layers.filter((l): l is Drawn => validSpeedup(l) && Number.isFinite(o.x(l)));
    const generated = m.layers.length - onCudnn(m.layers);
    if (ok.length < generated) notes.push(`${runLabel(m, false)}: ${generated - ok.length} layer(s) without a valid speedup or sparsity skipped`);
    return ok;
  }));
  const cudnnLayers = runs.reduce((a, m) => a + onCudnn(m.layers), 0);
  if (cudnnLayers) notes.push(`${cudnnLayers} layer(s) on the cuDNN path: speedup n/a (both engines run cuDNN there), not drawn`);
  const all = points.flat(2);
  const legend: Legend[] = o.series.map((s, i) => ({ label: s.label, swatch: dot(PALETTE[i % PALETTE.length]!) }));
  legend.push({ label: 'filled: generated kernel', swatch: dot('#555555') });
  if (all.some((l) => l.verdict === 'tie')) legend.push({ label: 'hollow: a tie within the spread', swatch: dot('#555555', true) });
  const f = frame({ title: o.title, subtitle: subtitle(r, o.counted(all.length)), legend, plotW: 760, plotH: 400, bottomSpace: 56, notes });
  const ax = log2YAxis(f, Math.min(1, ...all.map((l) => l.speedup)), Math.max(1, ...all.map((l) => l.speedup)), 'speedup: cuDNN time / cuSNN time (log scale)');
  const x = (s: number): number => f.left + Math.min(Math.max(s, 0), 1) * f.plotW;
  const body = [...ax.parts];
  for (let t = 0; t <= 10; t++) {
    body.push(line(x(t / 10), f.top, x(t / 10), f.top + f.plotH, '#f0f0f0', 'grid'));
    body.push(text(x(t / 10), f.top + f.plotH + 16, `${t * 10}`, { size: 11, anchor: 'middle', cls: 'tick' }));
  }
  body.push(text(f.left + f.plotW / 2, f.top + f.plotH + 38, o.xTitle, { size: 12, anchor: 'middle', cls: 'axis-title' }));
  if (all.length === 0) body.push(text(f.left + f.plotW / 2, f.top + f.plotH / 2, 'no data to draw', { size: 14, anchor: 'middle', cls: 'empty' }));
  o.series.forEach((s, i) => {
    const color = PALETTE[i % PALETTE.length]!;
    s.runs.forEach((m, j) => {
      for (const l of points[i]![j]!) {
        const paint = l.verdict !== 'tie' ? `fill="${color}" fill-opacity="0.8"` : `fill="none" stroke="${color}" stroke-width="1.2"`;
        body.push(`<circle class="point" cx="${n(x(o.x(l)))}" cy="${n(ax.y(l.speedup))}" r="3" ${paint}><title>${escapeXml(
          `${runLabel(m)} ${l.layer}: ${o.xTip(l)}, ${l.speedup.toFixed(2)}x${verdictText(l)} (${l.path})`)}</title></circle>`);
      }
    });
  });
  return svgDocument(f, body);
}

/** Runs with layer results (to draw), the others named in `notes`. */
function layerRuns(r: BenchResults, notes: string[]): ModelResult[] {
  return r.runs.filter((m) => {
    if (m.layers.length > 0) return true;
    notes.push(`${runLabel(m, false)} skipped: ${oneLine(failure(m) ?? 'no layer results')}`);
    return false;
  });
}

/** Speedup (log2 scale) against measured input sparsity, every layer of every run; colour per run. */
export function sparsitySpeedupChart(r: BenchResults): string {
  const notes: string[] = [];
  const series = layerRuns(r, notes).map((m) => ({ label: runLabel(m), runs: [m] }));
  return speedupScatter(r, {
    title: 'Per-layer speedup of cuSNN over cuDNN against input sparsity', series, notes,
    x: (l) => l.inputSparsity, xTitle: 'measured input sparsity (% zeros in the conv input)', xTip: (l) => `${(100 * l.inputSparsity).toFixed(1)}% zeros`,
    counted: (points) => `${points} generated-kernel layers, ${series.length} runs`,
  });
}

/**
 * Speedup (log2 scale) against each layer's weight sparsity (the fraction of zeros in its
 * kernel), every layer of every run, one colour per model: its dense run at its weights' zeros,
 * its pruned variants (`bench --prune`) further right. The bench writes it when a run is pruned.
 */
export function weightSparsitySpeedupChart(r: BenchResults): string {
  const notes: string[] = [];
  const runs = layerRuns(r, notes);
  const models = [...new Set(runs.map((m) => m.model))];
  const series = models.map((model) => {
    const of = runs.filter((m) => m.model === model);
    return { label: `${model}${of.every((m) => m.weights === 'synthetic') ? ' (synthetic)' : ''}`, runs: of };
  });
  return speedupScatter(r, {
    title: 'Per-layer speedup of cuSNN over cuDNN against weight sparsity', series, notes,
    x: (l) => l.weightSparsity, xTitle: 'weight sparsity (% zeros in the conv kernel)',
    xTip: (l) => `${(100 * l.weightSparsity).toFixed(1)}% zero weights, input ${(100 * l.inputSparsity).toFixed(1)}% zeros`,
    counted: (points) => `${points} generated-kernel layers, ${runs.length} runs of ${series.length} model${series.length === 1 ? '' : 's'}`,
  });
}
