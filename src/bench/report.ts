// `cusnn-gen report`: from a results.json (written by `cusnn-gen bench`) to CSV tables, SVG charts
// and a markdown summary, without a GPU. readResults validates the file against the
// 'cusnn-bench/2' schema (src/bench/results.ts), or 'cusnn-bench/1' and migrates it
// (src/bench/migrate.ts), and names the file and the field at fault.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { energyChart, layerSpeedupChart, sparsitySpeedupChart, timeChart } from './charts.js';
import { resultsToCsv } from './csv.js';
import { migrateV1, type V1Results } from './migrate.js';
import { ENGINES, RESULTS_FORMAT, type BenchResults, type ClockSample, type LayerResult, type ModelResult, type Verdict } from './results.js';
import { geomean } from './stats.js';
import {
  ENGINE_LABEL, ENGINE_SHORT, correctnessCell, dateOf, energyRatio, energyVerdict, engineResult, failure, fixed, networkRows, runLabel, timeSpeedup,
  timeVerdict, times,
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

type Json = unknown;
class Invalid extends Error {}

const kind = (v: Json): string => (v === null ? 'null' : Array.isArray(v) ? 'an array' : typeof v === 'string' ? JSON.stringify(v.length > 40 ? `${v.slice(0, 37)}...` : v) : typeof v === 'object' ? 'an object' : String(v));

/** A cursor over the parsed JSON that knows its path (`runs[2].layers[14].cusnnUs`) for error messages. */
class At {
  constructor(readonly v: Json, readonly path: string) {}
  private fail(what: string): never {
    throw new Invalid(`${this.path || 'the top level'} ${what}`);
  }
  field(key: string): At {
    if (this.v === null || typeof this.v !== 'object' || Array.isArray(this.v)) this.fail(`must be an object, got ${kind(this.v)}`);
    return new At((this.v as Record<string, Json>)[key], this.path ? `${this.path}.${key}` : key);
  }
  object(): this {
    if (this.v === null || typeof this.v !== 'object' || Array.isArray(this.v)) this.fail(`must be an object, got ${this.v === undefined ? 'nothing' : kind(this.v)}`);
    return this;
  }
  num(o: { int?: boolean; min?: number; max?: number } = {}): number {
    const v = this.v;
    if (v === undefined) this.fail('is missing (a number)');
    if (typeof v !== 'number') this.fail(`must be a number, got ${kind(v)}${v === null ? ' (JSON writes NaN and Infinity as null)' : ''}`);
    if (o.int && !Number.isInteger(v)) this.fail(`must be an integer, got ${v}`);
    if (o.min !== undefined && v < o.min) this.fail(`must be >= ${o.min}, got ${v}`);
    if (o.max !== undefined && v > o.max) this.fail(`must be <= ${o.max}, got ${v}`);
    return v;
  }
  str(): string {
    if (this.v === undefined) this.fail('is missing (a string)');
    if (typeof this.v !== 'string') this.fail(`must be a string, got ${kind(this.v)}`);
    return this.v;
  }
  optStr(): void {
    if (this.v !== undefined) this.str();
  }
  optNum(o: { int?: boolean; min?: number } = {}): void {
    if (this.v !== undefined) this.num(o);
  }
  optBool(): void {
    if (this.v !== undefined) this.bool();
  }
  present(): boolean {
    return this.v !== undefined;
  }
  bool(): boolean {
    if (typeof this.v !== 'boolean') this.fail(this.v === undefined ? 'is missing (true or false)' : `must be true or false, got ${kind(this.v)}`);
    return this.v;
  }
  oneOf<T extends string>(values: readonly T[]): T {
    const s = this.str();
    if (!(values as readonly string[]).includes(s)) this.fail(`must be one of ${values.map((x) => `'${x}'`).join(', ')}, got '${s}'`);
    return s as T;
  }
  array(): At[] {
    if (!Array.isArray(this.v)) this.fail(this.v === undefined ? 'is missing (an array)' : `must be an array, got ${kind(this.v)}`);
    return (this.v as Json[]).map((x, i) => new At(x, `${this.path}[${i}]`));
  }
  isNull(): boolean {
    return this.v === null;
  }
}

function checkClock(a: At): void {
  if (a.isNull()) return;
  a.object();
  for (const k of ['smMHz', 'memMHz', 'temperatureC', 'powerW']) a.field(k).num();
}

type Version = 1 | 2;

function checkSpread(a: At): void {
  if (a.isNull()) return;
  a.object();
  a.field('lo').num({ min: 0 });
  a.field('hi').num({ min: 0 });
}

const VERDICTS = ['faster', 'slower', 'tie'] as const;
const optVerdict = (a: At): void => {
  if (!a.isNull()) a.oneOf(VERDICTS);
};
const numOrNull = (a: At): void => {
  if (!a.isNull()) a.num({ min: 0 });
};

function checkRun(m: At, v: Version): void {
  m.object();
  m.field('model').str();
  m.field('weights').oneOf(['real', 'synthetic'] as const);
  m.field('weightsSource').str();
  m.field('batch').num({ int: true, min: 1 });
  m.field('inputs').str();
  const c = m.field('correctness').object();
  const errs = c.field('maxRelError').object();
  for (const e of ENGINES) errs.field(e).num();
  c.field('tolerance').num({ min: 0 });
  c.field('topAgree').num({ int: true, min: 0 });
  c.field('inputs').num({ int: true, min: 0 });
  c.field('passed').bool();
  const seen = new Set<string>();
  for (const e of m.field('engines').array()) {
    e.object();
    const engine = e.field('engine').oneOf(ENGINES);
    if (seen.has(engine)) throw new Invalid(`${e.path}.engine '${engine}' appears twice`);
    seen.add(engine);
    const t = e.field('time').object();
    for (const k of ['medianUs', 'p10Us', 'p90Us']) t.field(k).num({ min: 0 });
    t.field('iters').num({ int: true, min: 0 });
    if (v === 2) {
      t.field('rounds').num({ int: true, min: 1 });
      for (const k of ['roundMinUs', 'roundMaxUs']) t.field(k).num({ min: 0 });
    }
    const en = e.field('energy');
    if (!en.isNull()) {
      en.object();
      for (const k of ['mJPerInference', 'windowSeconds', 'avgPowerW', 'idlePowerW']) en.field(k).num({ min: 0 });
      en.field('inferences').num({ int: true, min: 0 });
      en.field('preWindowPowerW').optNum({ min: 0 });
      if (v === 2) {
        en.field('rounds').num({ int: true, min: 1 });
        for (const k of ['minMJ', 'maxMJ']) en.field(k).num({ min: 0 });
      }
    }
    e.field('energyNote').optStr();
  }
  for (const l of m.field('layers').array()) {
    l.object();
    l.field('layer').str();
    for (const k of ['c', 'h', 'w', 'k', 'r', 's', 'stride']) l.field(k).num({ int: true, min: 1 });
    for (const k of ['inputSparsity', 'weightSparsity']) l.field(k).num({ min: 0, max: 1 });
    for (const k of ['flops', 'usefulFlops', 'minBytes', 'cusnnUs', 'cudnnUs', 'cusnnGflops', 'cudnnGflops', 'floorUs', 'achievedFraction']) l.field(k).num({ min: 0 });
    const path = l.field('path').oneOf(['cudnn', 'act-sparse'] as const);
    if (v === 1) l.field('speedup').num({ min: 0 });
    else {
      // A speedup exists only where cusnn runs a generated kernel (n/a on the cuDNN path).
      const sp = l.field('speedup');
      if (path === 'cudnn' && !sp.isNull()) throw new Invalid(`${sp.path} must be null on the cuDNN path (both engines run cuDNN there), got ${kind(sp.v)}`);
      numOrNull(sp);
      checkSpread(l.field('cusnnSpreadUs'));
      checkSpread(l.field('cudnnSpreadUs'));
      optVerdict(l.field('verdict'));
      const d = l.field('decision');
      if (!d.isNull()) {
        d.object();
        numOrNull(d.field('actSparseUs'));
        numOrNull(d.field('cudnnUs'));
        optVerdict(d.field('verdict'));
        d.field('reason').str();
      }
    }
    const kernel = l.field('kernel');
    if (!kernel.isNull()) kernel.str();
    l.field('cudnnAlgo').str();
  }
  if (v === 2) {
    const im = m.field('images');
    if (!im.isNull()) {
      im.object();
      im.field('calibrate').array().forEach((x) => x.str());
      im.field('time').array().forEach((x) => x.str());
      im.field('note').optStr();
    }
  }
  m.field('sparseLayers').num({ int: true, min: 0 });
  m.field('convLayers').num({ int: true, min: 0 });
  m.field('error').optStr();
  m.field('seconds').num({ min: 0 });
  if (m.field('notes').present()) m.field('notes').array().forEach((x) => x.str());
  m.field('kernels').optNum({ int: true, min: 0 });
  m.field('buildSeconds').optNum({ min: 0 });
  m.field('buildReused').optBool();
}

/**
 * Checks that `data` has the shape of a 'cusnn-bench/2' BenchResults, or of a 'cusnn-bench/1' one
 * (then migrated to /2); throws naming the first field at fault.
 */
export function validateResults(data: unknown): BenchResults {
  const top = new At(data, '').object();
  const format = top.field('format');
  if (format.v !== RESULTS_FORMAT && format.v !== 'cusnn-bench/1') {
    throw new Invalid(format.v === undefined ? 'no "format" field: not a cusnn-gen bench results file' : `format is ${kind(format.v)}, expected '${RESULTS_FORMAT}' (or 'cusnn-bench/1')`);
  }
  const v: Version = format.v === 'cusnn-bench/1' ? 1 : 2;
  top.field('createdAt').str();
  top.field('command').str();
  top.field('arch').str();
  const g = top.field('gpu').object();
  for (const k of ['name', 'sm', 'driver', 'cudaRuntime', 'cudnn', 'cublas']) g.field(k).str();
  g.field('multiprocessors').num({ int: true, min: 0 });
  checkClock(g.field('clocksStart'));
  checkClock(g.field('clocksEnd'));
  g.field('peakFp32Tflops').num({ min: 0 });
  g.field('bandwidthGBs').num({ min: 0 });
  for (const k of ['profileBoard', 'pciBusId', 'clocksNote']) g.field(k).optStr();
  if (v === 2) {
    const rl = g.field('roofline').object();
    rl.field('source').oneOf(['measured', 'profile'] as const);
    rl.field('note').optStr();
    const p = rl.field('probe');
    if (p.present()) {
      p.object();
      for (const k of ['smCount', 'smClockMHz', 'memClockMHz', 'memBusWidthBits', 'copyBytes', 'copyGBs', 'ffmaTflops', 'clockBandwidthGBs']) p.field(k).num({ min: 0 });
      numOrNull(p.field('clockPeakFp32Tflops'));
    }
  }
  if (top.field('settings').present()) top.field('settings').object();
  top.field('seconds').optNum({ min: 0 });
  top.field('runs').array().forEach((m) => checkRun(m, v));
  return v === 1 ? migrateV1(data as V1Results) : (data as BenchResults);
}

/** Reads and validates a results.json; errors are one line naming the file and the problem. */
export function readResults(file: string): BenchResults {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new Error(`results file ${file}: ${code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'is a directory, expected a results.json file' : (e as Error).message}`);
  }
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (e) {
    throw new Error(`results file ${file}: not valid JSON (${(e as Error).message.split('\n')[0]})`);
  }
  try {
    return validateResults(data);
  } catch (e) {
    if (e instanceof Invalid) throw new Error(`results file ${file}: ${e.message}`);
    throw e;
  }
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

/** Per-layer roofline table of one run (issue 4, point 5), with totals rows. */
function rooflineTable(m: ModelResult): string {
  const rows = m.layers.map((l) => [
    l.layer, l.path === 'act-sparse' ? 'generated' : 'cuDNN', `${(100 * l.inputSparsity).toFixed(1)}%`,
    (l.usefulFlops / 1e9).toFixed(4), (l.minBytes / 1e6).toFixed(3), l.floorUs.toFixed(2), l.cusnnUs.toFixed(2), l.cudnnUs.toFixed(2),
    layerSpeedupCell(l), `${(100 * l.achievedFraction).toFixed(1)}%`,
  ]);
  const sum = (ls: readonly LayerResult[], f: (l: LayerResult) => number): number => ls.reduce((a, l) => a + f(l), 0);
  const total = (label: string, ls: readonly LayerResult[], speedup: string): string[] => {
    const floor = sum(ls, (l) => l.floorUs);
    const cusnn = sum(ls, (l) => l.cusnnUs);
    return [label, '', '', (sum(ls, (l) => l.usefulFlops) / 1e9).toFixed(4), (sum(ls, (l) => l.minBytes) / 1e6).toFixed(3),
      floor.toFixed(2), cusnn.toFixed(2), sum(ls, (l) => l.cudnnUs).toFixed(2), speedup, cusnn > 0 ? `${(100 * floor / cusnn).toFixed(1)}%` : '-'];
  };
  // Speedups summarised over the generated-kernel layers only: the cuDNN-path ones have none.
  const generated = m.layers.filter((l) => l.path === 'act-sparse');
  const g = geomean(generated.flatMap((l) => (l.speedup === null ? [] : [l.speedup])));
  rows.push(total(`**all convs** (${m.sparseLayers}/${m.convLayers} generated)`, m.layers, ''));
  if (generated.length > 0) rows.push(total(`**generated-kernel convs** (${generated.length})`, generated, g === undefined ? '-' : `geomean ${g.toFixed(2)}x`));
  return mdTable(['layer', 'cusnn path', 'input zeros', 'useful GFLOP', 'min MB', 'floor us', 'cusnn us', 'cudnn us', 'speedup', 'achieved'], rows, 'llrrrrrrrr');
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
  const noEnergy = r.runs.flatMap((m) => m.engines.filter((e) => e.energy === null).map((e) => `${runLabel(m, false)} ${ENGINE_SHORT[e.engine]}${e.energyNote ? ` (${e.energyNote})` : ''}`));
  if (noEnergy.length) out.push(`No energy measured for: ${mdCell(noEnergy.join('; '))}.`, '');
  out.push('## Charts', '', ...charts.map((c) => `![${c}](${c})`), '');
  out.push('## Roofline per layer', '',
    'useful GFLOP: 2 x MACs with a nonzero input and a nonzero weight; min MB: the smallest DRAM traffic (nonzero inputs with positions, ' +
    'weights, output); floor: max(useful FLOP / peak FLOP/s, min bytes / bandwidth); achieved: floor / cusnn time (100% = at the floor).', '');
  for (const m of r.runs) {
    out.push(`### ${runLabel(m)}, ${m.weights} weights (${mdCell(m.weightsSource)})`, '');
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
 * (the smallest batch; layers-<model>-b<N>.svg for the other batches), speedup-vs-sparsity.svg
 * and summary.md into `outDir` (created if needed). Returns the written paths, in that order.
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
    const name = m.batch === firstBatch.get(m.model) ? `layers-${safe(m.model)}.svg` : `layers-${safe(m.model)}-b${m.batch}.svg`;
    if (files.some(([f]) => f === name)) continue; // the same model and batch twice: the first one
    files.push([name, layerSpeedupChart(r, m.model, m.batch)]);
    charts.push(name);
  }
  files.push(['speedup-vs-sparsity.svg', sparsitySpeedupChart(r)]);
  charts.push('speedup-vs-sparsity.svg');
  files.push(['summary.md', summaryMarkdown(r, charts)]);
  return files.map(([name, content]) => {
    const path = join(outDir, name);
    writeFileSync(path, content);
    return path;
  });
}
