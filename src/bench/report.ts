// `cusnn-gen report`: from a results.json (written by `cusnn-gen bench`) to CSV tables, SVG charts
// and a markdown summary, without a GPU. readResults checks the file against the 'cusnn-bench/2'
// schema (src/schema/results.ts; the types in src/bench/results.ts), or 'cusnn-bench/1' and
// migrates it (src/bench/migrate.ts), and names the file and the field at fault.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { energyChart, layerSpeedupChart, sparsitySpeedupChart, timeChart, weightSparsitySpeedupChart } from './charts.js';
import { resultsToCsv } from './csv.js';
import { checkSchema, found, parseJson, SchemaError } from '../schema/check.js';
import { RESULTS_V1, RESULTS_V2, ResultsV1Schema, ResultsV2Schema } from '../schema/results.js';
import { migrateV1 } from './migrate.js';
import { ENGINES, PRUNED_WEIGHTS, type BenchResults, type ClockSample, type LayerResult, type ModelResult, type Verdict } from './results.js';
import { geomean } from './stats.js';
import {
  ENGINE_LABEL, ENGINE_SHORT, correctnessCell, dateOf, energyRatio, energyVerdict, engineResult, failure, fixed, networkRows, percent, prunedWeights, runLabel,
  sparsityText, timeSpeedup, timeVerdict, times, variantKey,
} from './table.js';

/**
 * Optional fields the bench runner may add next to the core schema. They are read through these
 * views (not through results.ts) so the report works with files that have them and files that do not.
 */
export interface RunExtras {
  readonly notes?: readonly string[];
  readonly kernels?: number;
  readonly buildSeconds?: number;
  readonly buildReused?: boolean;
}
export interface GpuExtras {
  readonly profileBoard?: string;
  readonly pciBusId?: string;
  readonly clocksNote?: string;
}
export interface ResultsExtras {
  readonly settings?: Readonly<Record<string, unknown>>;
  readonly seconds?: number;
}
export const runExtras = (m: ModelResult): RunExtras => m as RunExtras;
const gpuExtras = (r: BenchResults): GpuExtras => r.gpu as GpuExtras;
const resultsExtras = (r: BenchResults): ResultsExtras => r as ResultsExtras;

// ---------------------------------------------------------------- validation

/**
 * Checks that `data` is a 'cusnn-bench/2' BenchResults, or a 'cusnn-bench/1' one (then migrated to
 * /2), against its schema (src/schema/results.ts); throws `<field>: expected ..., found ...` for
 * the first field at fault (`label` prefixed: readResults names the file).
 */
export function validateResults(data: unknown, label = 'results'): BenchResults {
  const fail = (what: string): never => {
    throw new SchemaError(`${label}: ${what}`);
  };
  if (data === null || typeof data !== 'object' || Array.isArray(data)) fail(`the top level: expected an object, found ${found(data)}`);
  const format = (data as { format?: unknown }).format;
  if (format !== RESULTS_V2 && format !== RESULTS_V1) {
    fail(format === undefined ? 'no "format" field: not a cusnn-gen bench results file' : `format: expected '${RESULTS_V2}' (or '${RESULTS_V1}'), found ${found(format)}`);
  }
  const r = format === RESULTS_V1 ? checkSchema(ResultsV1Schema, data, label) : checkSchema(ResultsV2Schema, data, label);
  // What the schema cannot say.
  r.runs.forEach((m, i) => {
    const seen = new Set<string>();
    m.engines.forEach((e, j) => {
      if (seen.has(e.engine)) fail(`runs[${i}].engines[${j}].engine: '${e.engine}' appears twice`);
      seen.add(e.engine);
    });
    if (r.format !== RESULTS_V2) return;
    const prune = 'prune' in m ? m.prune : undefined;
    if (prune && prune.pattern === '2:4' && prune.sparsity !== 0.5) fail(`runs[${i}].prune.sparsity: 2:4 pruning keeps 2 of every 4 weights, so 0.5, found ${found(prune.sparsity)}`);
    m.layers.forEach((l, j) => {
      // A speedup exists only where cusnn runs a generated kernel (n/a on the cuDNN path).
      if (l.path === 'cudnn' && l.speedup !== null) fail(`runs[${i}].layers[${j}].speedup: expected null on the cuDNN path (both engines run cuDNN there), found ${found(l.speedup)}`);
    });
  });
  return r.format === RESULTS_V1 ? migrateV1(r) : r;
}

/** Reads and validates a results.json; errors are one line naming the file and the problem. */
export function readResults(file: string): BenchResults {
  const label = `results file ${file}`;
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new Error(`${label}: ${code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'is a directory, expected a results.json file' : (e as Error).message}`);
  }
  return validateResults(parseJson(text, label), label);
}

// ---------------------------------------------------------------- markdown summary

const mdCell = (s: string): string => s.replace(/\|/g, '\\|').replace(/\s*\n\s*/g, ' ');
function mdTable(header: readonly string[], rows: readonly (readonly string[])[], align: string): string {
  const sep = header.map((_, i) => (align[i] === 'r' ? '---:' : '---'));
  return [header, sep, ...rows].map((r) => `| ${r.map(mdCell).join(' | ')} |`).join('\n');
}

const clock = (c: ClockSample | null): string =>
  c ? `SM ${c.smMHz} MHz, memory ${c.memMHz} MHz, ${c.temperatureC} C, ${c.powerW.toFixed(1)} W` : 'not sampled';

/** A layer's speedup cell: n/a on the cuDNN path, tie inside the spread, else the ratio. */
const layerSpeedupCell = (l: LayerResult): string =>
  l.path === 'cudnn' || l.speedup === null ? 'n/a' : l.verdict === 'tie' ? `tie (${l.speedup.toFixed(2)})` : `${l.speedup.toFixed(2)}x`;

/** Per-layer roofline table of one run (issue 4, point 5), with totals rows; a run with pruned weights also gets each layer's weight zeros. */
function rooflineTable(m: ModelResult): string {
  const pruned = prunedWeights(m);
  const rows = m.layers.map((l) => [
    l.layer, l.path === 'act-sparse' ? 'generated' : 'cuDNN', `${(100 * l.inputSparsity).toFixed(1)}%`,
    ...(pruned ? [`${(100 * l.weightSparsity).toFixed(1)}%`] : []),
    (l.usefulFlops / 1e9).toFixed(4), (l.minBytes / 1e6).toFixed(3), l.floorUs.toFixed(2), l.cusnnUs.toFixed(2), l.cudnnUs.toFixed(2),
    layerSpeedupCell(l), `${(100 * l.achievedFraction).toFixed(1)}%`,
  ]);
  const sum = (ls: readonly LayerResult[], f: (l: LayerResult) => number): number => ls.reduce((a, l) => a + f(l), 0);
  const total = (label: string, ls: readonly LayerResult[], speedup: string): string[] => {
    const floor = sum(ls, (l) => l.floorUs);
    const cusnn = sum(ls, (l) => l.cusnnUs);
    return [label, '', '', ...(pruned ? [''] : []), (sum(ls, (l) => l.usefulFlops) / 1e9).toFixed(4), (sum(ls, (l) => l.minBytes) / 1e6).toFixed(3),
      floor.toFixed(2), cusnn.toFixed(2), sum(ls, (l) => l.cudnnUs).toFixed(2), speedup, cusnn > 0 ? `${(100 * floor / cusnn).toFixed(1)}%` : '-'];
  };
  // Speedups summarised over the generated-kernel layers only: the cuDNN-path ones have none.
  const generated = m.layers.filter((l) => l.path === 'act-sparse');
  const g = geomean(generated.flatMap((l) => (l.speedup === null ? [] : [l.speedup])));
  rows.push(total(`**all convs** (${m.sparseLayers}/${m.convLayers} generated)`, m.layers, ''));
  if (generated.length > 0) rows.push(total(`**generated-kernel convs** (${generated.length})`, generated, g === undefined ? '-' : `geomean ${g.toFixed(2)}x`));
  return mdTable(['layer', 'cusnn path', 'input zeros', ...(pruned ? ['weight zeros'] : []), 'useful GFLOP', 'min MB', 'floor us', 'cusnn us', 'cudnn us', 'speedup', 'achieved'], rows,
    pruned ? 'llrrrrrrrrr' : 'llrrrrrrrr');
}

/** Where the roofline's peaks come from, in a table cell. */
function peaksCell(r: BenchResults): string {
  const g = r.gpu;
  const rl = g.roofline;
  const base = `${g.peakFp32Tflops} TFLOP/s fp32, ${g.bandwidthGBs} GB/s`;
  if (rl.source === 'measured' && rl.probe) {
    const p = rl.probe;
    const clockPeak = p.clockPeakFp32Tflops === null ? '' : `, clocks give ${p.clockPeakFp32Tflops} TFLOP/s`;
    return `${base}, measured on this GPU at bench start (FFMA chains on ${p.smCount} SMs; ${(p.copyBytes / 2 ** 20).toFixed(0)} MiB device-to-device copy; ` +
      `max clocks SM ${p.smClockMHz} MHz, memory ${p.memClockMHz} MHz x ${p.memBusWidthBits} bit = ${p.clockBandwidthGBs} GB/s${clockPeak})`;
  }
  return `${base}: ${rl.note ?? 'from the arch profile'}`;
}

/** A network-level comparison in words: "1.10x faster than cuDNN" or "a tie with cuDNN (inside the spread)". */
function claimWords(ratio: number | undefined, verdict: Verdict | undefined, what: string, base: string): string {
  if (verdict === 'tie') return `${what}: a tie with ${base} (inside the spread)`;
  return `${what} ${times(ratio)} over ${base}`;
}

const PATTERN_WORDS = { unstructured: 'single weights', '2:4': '2 of every 4 input channels', block4x1: '4x1 blocks along the output channels', filter: 'whole filters' } as const;

/** What a run's weights are, where the results record it: pruned by the bench (how, to what), a pruned file, or dense. */
function weightsLine(m: ModelResult): string | null {
  if (m.prune === undefined && m.weightSparsity === undefined) return null;
  const zeros = m.weightSparsity === undefined ? 'weight zeros not measured' : `${percent(m.weightSparsity)} of the conv weights zero`;
  if (m.prune) {
    return `Weights: pruned by the bench to ${sparsityText(m.prune.sparsity)} (${m.prune.pattern}: ${PATTERN_WORDS[m.prune.pattern]}, by magnitude, per layer; ` +
      `the first conv and the dense layers kept dense): ${zeros}.`;
  }
  return prunedWeights(m) ? `Weights: a pruned weights file, ${zeros} as given.` : `Weights: as given, ${zeros}.`;
}

export function summaryMarkdown(r: BenchResults, charts: readonly string[]): string {
  const g = r.gpu;
  const gx = gpuExtras(r);
  const rx = resultsExtras(r);
  const out: string[] = [
    `# cusnn bench: ${g.name}, ${dateOf(r.createdAt)}`,
    '',
    `Command: \`${r.command}\` (arch ${r.arch}, written ${r.createdAt}).`,
    '',
    mdTable(['', ''], [
      ['GPU', `${g.name} (${g.sm}, ${g.multiprocessors} SMs)`],
      ['driver / CUDA runtime', `${g.driver} / ${g.cudaRuntime}`],
      ['cuDNN / cuBLAS', `${g.cudnn} / ${g.cublas}`],
      ['clocks at start', clock(g.clocksStart)],
      ['clocks at end', clock(g.clocksEnd)],
      ...(gx.clocksNote ? [['clocks note', gx.clocksNote]] : []),
      ['roofline peaks', peaksCell(r)],
      ...(gx.pciBusId ? [['PCI bus', gx.pciBusId]] : []),
      ...(rx.seconds !== undefined ? [['bench wall time', `${rx.seconds.toFixed(0)} s`]] : []),
    ], 'll'),
    '',
  ];
  if (rx.settings) {
    const cell = (v: unknown): string => (v === null ? '-' : Array.isArray(v) ? v.join(', ') : typeof v === 'object' ? JSON.stringify(v) : String(v));
    out.push('Settings: ' + Object.entries(rx.settings).map(([k, v]) => `${k} ${mdCell(cell(v))}`).join('; ') + '.', '');
  }
  if (g.clocksStart && g.clocksEnd && g.clocksEnd.smMHz < 0.9 * g.clocksStart.smMHz) {
    out.push(`**Warning:** the SM clock fell from ${g.clocksStart.smMHz} to ${g.clocksEnd.smMHz} MHz during the run (throttling?); late runs may be slower.`, '');
  }
  const { header, rows, align } = networkRows(r);
  out.push('## Networks', '',
    'Times: median per inference (one forward of the whole batch) over the interleaved rounds, ms; `x cudnn` / `x igemm`: speedup of cusnn over that engine ' +
    '(above 1: cusnn faster; `tie`: one median lies inside the other\'s spread, p10-p90 over rounds and replays, so no speedup is claimed); ' +
    'energy: mJ per inference (NVML; tie: inside the range over rounds); `sparse/conv`: convolutions on generated kernels / all convolutions.', '',
    mdTable(header, rows, align), '');
  const failed = r.runs.filter((m) => failure(m) !== undefined);
  if (failed.length) out.push('Failed:', '', ...failed.map((m) => `- **${runLabel(m, false)}**: ${mdCell(failure(m)!)}`), '');
  const synthetic = r.runs.filter((m) => m.weights === 'synthetic');
  if (synthetic.length) {
    out.push(`Synthetic weights (not the trained ones; sparsity and times may differ from real weights): ${synthetic.map((m) => runLabel(m, false)).join(', ')}. ` +
      'Their labels say "(synthetic)" and their bars are hatched in the charts.', '');
  }
  const byBench = r.runs.filter((m) => m.prune);
  const givenPruned = r.runs.filter((m) => !m.prune && prunedWeights(m));
  if (byBench.length) {
    out.push(`Pruned variants (\`p0.90\`: the model's source weights pruned by the bench to 0.90, src/weights/prune.ts by magnitude per layer, ` +
      'every conv but the first, dense layers kept dense; each run as a run of its own: generated, built, decided, checked against its own cuDNN path, timed): ' +
      `${byBench.map((m) => runLabel(m, false)).join(', ')}. \`weight zeros\`: the measured fraction of zero conv weights.`, '');
  }
  if (givenPruned.length) {
    out.push(`Pruned weights files (at least ${percent(PRUNED_WEIGHTS, 0)} of the conv weights zero as given): ${givenPruned.map((m) => runLabel(m, false)).join(', ')}.`, '');
  }
  const noEnergy = r.runs.flatMap((m) => m.engines.filter((e) => e.energy === null).map((e) => `${runLabel(m, false)} ${ENGINE_SHORT[e.engine]}${e.energyNote ? ` (${e.energyNote})` : ''}`));
  if (noEnergy.length) out.push(`No energy measured for: ${mdCell(noEnergy.join('; '))}.`, '');
  out.push('## Charts', '', ...charts.map((c) => `![${c}](${c})`), '');
  out.push('## Roofline per layer', '',
    'useful GFLOP: 2 x MACs with a nonzero input and a nonzero weight; min MB: the smallest DRAM traffic (nonzero inputs with positions, ' +
    'weights, output); floor: max(useful FLOP / peak FLOP/s, min bytes / bandwidth); achieved: floor / cusnn time (100% = at the floor).', '');
  for (const m of r.runs) {
    out.push(`### ${runLabel(m)}, ${m.weights} weights (${mdCell(m.weightsSource)})`, '');
    const w = weightsLine(m);
    if (w) out.push(w, '');
    const cells = ENGINES.map((e) => {
      const er = engineResult(m, e);
      return er ? `${ENGINE_LABEL[e]} ${fixed(er.time.medianUs / 1000, 3)} ms` : `${ENGINE_LABEL[e]} -`;
    });
    out.push(`Inputs: ${mdCell(m.inputs)}. Correctness: ${correctnessCell(m)}. ${cells.join(', ')}; ${claimWords(timeSpeedup(m, 'cudnn'), timeVerdict(m, 'cudnn'), 'speedup', 'cuDNN')}, ` +
      `${claimWords(energyRatio(m, 'cudnn'), energyVerdict(m, 'cudnn'), 'energy ratio', 'cuDNN')}. ${m.seconds.toFixed(0)} s.`, '');
    if (m.images) {
      out.push(`Images: paths decided on ${m.images.calibrate.length} (calibration), checked and timed on ${m.images.time.length} others` +
        `${m.images.note ? ` (${mdCell(m.images.note)})` : ''}.`, '');
    }
    const rounds = m.engines[0]?.time.rounds;
    if (rounds !== undefined) out.push(rounds > 1 ? `Engines interleaved over ${rounds} rounds, time and energy.` : 'Engines timed one after the other (one round, no spread over rounds).', '');
    const x = runExtras(m);
    if (x.kernels !== undefined || x.buildSeconds !== undefined) {
      out.push(`Build: ${x.kernels ?? '?'} generated kernels, ${x.buildReused ? 'addon reused from an earlier run' : `addon built in ${fixed(x.buildSeconds, 0)} s`}.`, '');
    }
    if (x.notes?.length) out.push(...x.notes.map((s) => `- ${mdCell(s)}`), '');
    if (failure(m)) out.push(`Failed: ${mdCell(failure(m)!)}`, '');
    out.push(m.layers.length ? rooflineTable(m) : 'No layer results.', '');
  }
  return out.join('\n');
}

// ---------------------------------------------------------------- files

/** File-name-safe model name. */
const safe = (s: string): string => s.replace(/[^A-Za-z0-9._-]+/g, '_');

/**
 * Writes results.csv (networks), layers.csv, energy.svg, time.svg, layers-<model>.svg per model
 * (the smallest batch; layers-<model>-b<N>.svg for the other batches; a pruned variant's with its
 * key, layers-<model>-p0.90.svg), speedup-vs-sparsity.svg, speedup-vs-weight-sparsity.svg when a
 * run's weights are pruned, and summary.md into `outDir` (created if needed). Returns the written
 * paths, in that order.
 */
export function writeReport(r: BenchResults, outDir: string): string[] {
  mkdirSync(outDir, { recursive: true });
  const files: [string, string][] = [];
  const csv = resultsToCsv(r);
  files.push(['results.csv', csv.networks], ['layers.csv', csv.layers], ['energy.svg', energyChart(r)], ['time.svg', timeChart(r)]);
  const firstBatch = new Map<string, number>();
  for (const m of r.runs) firstBatch.set(m.model, Math.min(firstBatch.get(m.model) ?? Infinity, m.batch));
  const charts: string[] = ['energy.svg', 'time.svg'];
  for (const m of r.runs) {
    if (m.layers.length === 0) continue;
    const key = variantKey(m);
    const name = `layers-${safe(m.model)}${m.batch === firstBatch.get(m.model) ? '' : `-b${m.batch}`}${key ? `-${safe(key)}` : ''}.svg`;
    if (files.some(([f]) => f === name)) continue; // the same model, batch and weights twice: the first one
    files.push([name, layerSpeedupChart(r, m.model, m.batch, key)]);
    charts.push(name);
  }
  files.push(['speedup-vs-sparsity.svg', sparsitySpeedupChart(r)]);
  charts.push('speedup-vs-sparsity.svg');
  if (r.runs.some(prunedWeights)) {
    files.push(['speedup-vs-weight-sparsity.svg', weightSparsitySpeedupChart(r)]);
    charts.push('speedup-vs-weight-sparsity.svg');
  }
  files.push(['summary.md', summaryMarkdown(r, charts)]);
  return files.map(([name, content]) => {
    const path = join(outDir, name);
    writeFileSync(path, content);
    return path;
  });
}
