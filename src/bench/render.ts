// The result tables of README.md and docs/PERFORMANCE.md, rendered from a results.json so no
// figure there is typed by hand. A document holds each table between two markers that name the
// table and the file it comes from:
//
//   <!-- results:begin readme docs/results/bench-h100/results.json -->
//   | model | ... |
//   <!-- results:end -->
//
// `cusnn-gen report <results.json> --update README.md` rewrites the blocks that name that file;
// a CPU test checks that the committed documents hold exactly what renderTable gives.
import { ENGINES, type BenchResults, type Engine, type ModelResult } from './results.js';
import { geomean } from './stats.js';
import { claim, energyRatio, energyVerdict, engineResult, failure, fixed, timeSpeedup, timeVerdict, variantSuffix } from './table.js';

export const TABLE_KINDS = ['readme', 'performance'] as const;
export type TableKind = (typeof TABLE_KINDS)[number];

const NAMES: Readonly<Record<string, string>> = { resnet: 'ResNet', densenet: 'DenseNet', vgg: 'VGG' };

/** `densenet169` -> `DenseNet-169`; a name of another form as it is. */
export function displayName(model: string): string {
  const m = /^([a-z]+)(\d+)$/.exec(model);
  return m && NAMES[m[1]!] ? `${NAMES[m[1]!]}-${m[2]}` : model;
}

const cell = (s: string): string => s.replace(/\|/g, '\\|').replace(/\s*\n\s*/g, ' ');
const row = (cells: readonly string[]): string => `| ${cells.map(cell).join(' | ')} |`;
const table = (header: readonly string[], align: string, rows: readonly (readonly string[])[]): string =>
  [row(header), row(header.map((_, i) => (align[i] === 'r' ? '---:' : '---'))), ...rows.map(row)].join('\n');

const ms = (m: ModelResult, e: Engine, digits: number): string => fixed(engineResult(m, e) && engineResult(m, e)!.time.medianUs / 1000, digits);
const spreadMs = (m: ModelResult, e: Engine): string => {
  const t = engineResult(m, e)?.time;
  return t ? `${(t.p10Us / 1000).toFixed(3)}-${(t.p90Us / 1000).toFixed(3)}` : '-';
};
const mj = (m: ModelResult, e: Engine): string => fixed(engineResult(m, e)?.energy?.mJPerInference, 0);
/** cusnn's figure in bold only when it is faster outside the spread (a tie is no win). */
const bold = (s: string, win: boolean): string => (win && s !== '-' ? `**${s}**` : s);
const batches = (r: BenchResults): Set<number> => new Set(r.runs.map((m) => m.batch));
/** `ResNet-50`, `ResNet-50 b8`, `ResNet-50 p0.90` (a pruned variant), `ResNet-50 91% zero weights` (a pruned weights file). */
const label = (m: ModelResult, withBatch: boolean): string => `${displayName(m.model)}${withBatch ? ` b${m.batch}` : ''}${variantSuffix(m)}`;

/** Geometric mean of the per-layer speedups of the layers that run a generated kernel. */
export function generatedGeomean(m: ModelResult): number | undefined {
  return geomean(m.layers.flatMap((l) => (l.path === 'act-sparse' && l.speedup !== null ? [l.speedup] : [])));
}

/** README: one row per run; ratios are cusnn's speedup over each engine, `tie` inside the spread. */
function readmeTable(r: BenchResults): string {
  const withBatch = batches(r).size > 1;
  const rows = r.runs.map((m) => {
    const why = failure(m);
    if (why !== undefined) return [label(m, withBatch), m.weights, `failed: ${why.split('\n')[0]!}`, '-', '-', '-'];
    const tv = timeVerdict(m, 'cudnn');
    const energy = `${mj(m, 'cusnn')} / ${mj(m, 'cudnn')} mJ`;
    return [
      label(m, withBatch), m.weights,
      bold(`${ms(m, 'cusnn', 2)} ms`, tv === 'faster'),
      `${ms(m, 'cudnn', 2)} ms (${claim(timeSpeedup(m, 'cudnn'), tv)})`,
      `${ms(m, 'cudnn-implicit-gemm', 2)} ms (${claim(timeSpeedup(m, 'cudnn-implicit-gemm'), timeVerdict(m, 'cudnn-implicit-gemm'))})`,
      energyVerdict(m, 'cudnn') === 'tie' ? `${energy} (tie)` : energy,
    ];
  });
  return table(['model', 'weights', 'cusnn', 'cuDNN (fastest algorithm)', 'cuDNN IMPLICIT_GEMM (the original\'s baseline)', 'energy cusnn / cuDNN'], 'llrrrr', rows);
}

/** docs/PERFORMANCE.md: times with their spread, energies, the generated-kernel layers and their geomean. */
function performanceTable(r: BenchResults): string {
  const withBatch = batches(r).size > 1;
  const rows = r.runs.map((m) => {
    const why = failure(m);
    if (why !== undefined) return [label(m, withBatch), m.weights, `failed: ${why.split('\n')[0]!}`, ...Array<string>(10).fill('-')];
    const tv = timeVerdict(m, 'cudnn');
    const ev = energyVerdict(m, 'cudnn');
    const g = generatedGeomean(m);
    const err = Math.max(...ENGINES.map((e) => m.correctness.maxRelError[e]));
    return [
      label(m, withBatch), m.weights,
      `${bold(ms(m, 'cusnn', 3), tv === 'faster')} (${spreadMs(m, 'cusnn')})`,
      `${ms(m, 'cudnn', 3)} (${spreadMs(m, 'cudnn')})`,
      ms(m, 'cudnn-implicit-gemm', 3),
      claim(timeSpeedup(m, 'cudnn'), tv),
      claim(timeSpeedup(m, 'cudnn-implicit-gemm'), timeVerdict(m, 'cudnn-implicit-gemm')),
      bold(mj(m, 'cusnn'), ev === 'faster'), mj(m, 'cudnn'), claim(energyRatio(m, 'cudnn'), ev),
      `${m.sparseLayers}/${m.convLayers}`,
      g === undefined ? 'n/a' : `${g.toFixed(2)}x`,
      err === 0 ? '0' : err.toExponential(1),
    ];
  });
  return table(['model', 'weights', 'cusnn ms (p10-p90)', 'cudnn ms (p10-p90)', 'IMPLICIT_GEMM ms', 'vs cudnn', 'vs IMPLICIT_GEMM',
    'cusnn mJ', 'cudnn mJ', 'energy vs cudnn', 'convs on generated kernels', 'geomean per-layer speedup (generated kernels)', 'logits rel. error'],
  'llrrrrrrrrrrr', rows);
}

/** The markdown table of `kind` for these results (no trailing newline). */
export function renderTable(kind: TableKind, r: BenchResults): string {
  return kind === 'readme' ? readmeTable(r) : performanceTable(r);
}

/** The README table (the brief's `renderResultsTable`). */
export const renderResultsTable = (r: BenchResults): string => renderTable('readme', r);

export interface MarkedBlock {
  readonly kind: TableKind;
  /** The results file the marker names, as written (relative to the repository root). */
  readonly file: string;
  /** The text between the markers, without the newlines next to them. */
  readonly body: string;
  /** Offsets of the body in the document. */
  readonly start: number;
  readonly end: number;
  /** True for `begin\nend` with nothing between: an update must add the newline before the end marker. */
  readonly empty: boolean;
}

const BEGIN = /<!-- results:begin (\S+) (\S+) -->\n/g;
const END = '\n<!-- results:end -->';

/** Every marked block of a document; a begin marker without its end, or an unknown kind, is an error. */
export function markedBlocks(doc: string): MarkedBlock[] {
  const out: MarkedBlock[] = [];
  for (const m of doc.matchAll(BEGIN)) {
    const kind = m[1]!;
    if (!(TABLE_KINDS as readonly string[]).includes(kind)) throw new Error(`results marker at offset ${m.index}: unknown table '${kind}' (known: ${TABLE_KINDS.join(', ')})`);
    const start = m.index + m[0].length;
    const end = doc.indexOf(END, start - 1);
    if (end < 0) throw new Error(`results marker for ${m[2]} (${kind}) has no '<!-- results:end -->' after it`);
    const empty = end < start;
    out.push({ kind: kind as TableKind, file: m[2]!, body: empty ? '' : doc.slice(start, end), start, end: empty ? start : end, empty });
  }
  return out;
}

/** `doc` with every block that names `file` (as its marker writes it) re-rendered from `r`. */
export function updateMarkedTables(doc: string, file: string, r: BenchResults): { text: string; updated: number } {
  let text = '';
  let at = 0;
  let updated = 0;
  for (const b of markedBlocks(doc)) {
    if (b.file !== file) continue;
    text += doc.slice(at, b.start) + renderTable(b.kind, r) + (b.empty ? '\n' : '');
    at = b.end;
    updated++;
  }
  return { text: text + doc.slice(at), updated };
}
