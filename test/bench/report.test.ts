// The CPU side of `cusnn-gen bench` results: CSV, terminal table, SVG charts, summary.md, the
// results.json reader, the progress bar and the `report` command, on fresh random results each run
// (seed printed; CUSNN_TEST_SEED=<n> repeats a run). CUSNN_WRITE_EXAMPLE=1 rewrites the committed
// example in docs/results/example-bench/ (fixed seed).
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { energyChart, layerSpeedupChart, niceTicks, sparsitySpeedupChart, timeChart } from '../../src/bench/charts.js';
import { LAYER_COLUMNS, LAYER_CSV_FIELDS, LAYER_FIELDS, NETWORK_COLUMNS, csvField, parseCsv, resultsToCsv } from '../../src/bench/csv.js';
import { createProgress, formatDuration } from '../../src/bench/progress.js';
import { readResults, validateResults, writeReport } from '../../src/bench/report.js';
import type { BenchResults, LayerResult, ModelResult } from '../../src/bench/results.js';
import { benchTable } from '../../src/bench/table.js';
import { DEFAULT_RUNS, makeBenchResults, type FixtureRun } from './fixture.js';

const SEED = Number(process.env.CUSNN_TEST_SEED ?? (Date.now() % 1_000_000_007));
console.log(`test/bench/report.test.ts: seed ${SEED} (CUSNN_TEST_SEED=${SEED} repeats this run)`);
const R = makeBenchResults(SEED);
const tmp = mkdtempSync(join(tmpdir(), 'cusnn-report-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const EXAMPLE_DIR = 'docs/results/example-bench';
const EXAMPLE_SEED = 20261124;
const EXAMPLE_RUNS: FixtureRun[] = [
  { model: 'resnet50', batch: 1, weights: 'real' },
  { model: 'vgg16', batch: 1, weights: 'synthetic', energy: 'one' },
  { model: 'densenet121', batch: 1, weights: 'real', fail: 'correctness' },
];

// ------------------------------------------------------------ a minimal XML well-formedness checker

interface Element { name: string; attrs: Record<string, string> }
const ENTITY = /&(?!(?:amp|lt|gt|quot|apos|#\d+|#x[0-9a-fA-F]+);)/;
/** Parses XML well enough to reject what is not well-formed: unbalanced or crossed tags, bad attributes, raw < or & in text or values, several roots. */
function parseXml(s: string): Element[] {
  let i = 0;
  if (s.startsWith('<?xml')) i = s.indexOf('?>') + 2;
  const stack: string[] = [];
  const elements: Element[] = [];
  let roots = 0;
  const tag = /<([A-Za-z_][\w.:-]*)((?:\s+[A-Za-z_][\w.:-]*\s*=\s*"[^"<]*")*)\s*(\/?)>/y;
  const close = /<\/([A-Za-z_][\w.:-]*)\s*>/y;
  while (i < s.length) {
    const lt = s.indexOf('<', i);
    const txt = lt < 0 ? s.slice(i) : s.slice(i, lt);
    if (ENTITY.test(txt)) throw new Error(`bad '&' in text at ${i}: ${txt.slice(0, 40)}`);
    if (stack.length === 0 && txt.trim() !== '') throw new Error(`text outside the root at ${i}`);
    if (lt < 0) break;
    close.lastIndex = lt;
    tag.lastIndex = lt;
    const c = close.exec(s);
    if (c) {
      const open = stack.pop();
      if (open !== c[1]) throw new Error(`</${c[1]}> at ${lt} closes <${open ?? 'nothing'}>`);
      i = close.lastIndex;
      continue;
    }
    const t = tag.exec(s);
    if (!t) throw new Error(`malformed tag at ${lt}: ${s.slice(lt, lt + 60)}`);
    const attrs: Record<string, string> = {};
    for (const a of t[2]!.matchAll(/([A-Za-z_][\w.:-]*)\s*=\s*"([^"]*)"/g)) {
      if (a[1]! in attrs) throw new Error(`attribute ${a[1]} twice in <${t[1]}> at ${lt}`);
      if (ENTITY.test(a[2]!)) throw new Error(`bad '&' in attribute ${a[1]} at ${lt}`);
      attrs[a[1]!] = a[2]!;
    }
    if (stack.length === 0 && ++roots > 1) throw new Error(`second root element <${t[1]}> at ${lt}`);
    elements.push({ name: t[1]!, attrs });
    if (t[3] !== '/') stack.push(t[1]!);
    i = tag.lastIndex;
  }
  if (stack.length) throw new Error(`unclosed <${stack.join('>, <')}>`);
  if (elements[0]?.name !== 'svg') throw new Error('the root is not <svg>');
  return elements;
}
const count = (els: Element[], name: string, cls: string): number => els.filter((e) => e.name === name && e.attrs.class === cls).length;
const svgText = (svg: string): string => [...svg.matchAll(/<text[^>]*>([^<]*)<\/text>/g)].map((m) => m[1]!).join('\n');

const withEngines = (r: BenchResults): ModelResult[] => r.runs.filter((m) => m.engines.length > 0);
const clone = (r: BenchResults): BenchResults => JSON.parse(JSON.stringify(r)) as BenchResults;
type Mutable<T> = { -readonly [K in keyof T]: T[K] extends object ? Mutable<T[K]> : T[K] };

describe('parseXml (the checker itself)', () => {
  it('accepts well-formed and rejects broken XML', () => {
    expect(parseXml('<svg a="1"><g><rect class="bar"/></g><text>a &amp; b</text></svg>')).toHaveLength(4);
    for (const bad of ['<svg><g></svg>', '<svg></g></svg>', '<svg a="1" a="2"/>', '<svg><text>a & b</text></svg>', '<svg x="<"/>', '<svg/><svg/>', '<svg><g x=1/></svg>']) {
      expect(() => parseXml(bad), bad).toThrow();
    }
  });
});

describe('CSV', () => {
  const csv = resultsToCsv(R);
  const networks = parseCsv(csv.networks);
  const layers = parseCsv(csv.layers);

  it('quotes only what needs it, and parses back', () => {
    expect(csvField('plain')).toBe('plain');
    expect(csvField('a,b')).toBe('"a,b"');
    expect(csvField('say "hi"')).toBe('"say ""hi"""');
    expect(csvField('two\nlines')).toBe('"two\nlines"');
    expect(csvField(' edge')).toBe('" edge"');
    expect(csvField(null)).toBe('');
    expect(csvField(undefined)).toBe('');
    expect(csvField(1.5e-7)).toBe('1.5e-7');
    expect(csvField(true)).toBe('true');
    const cells = ['a', 'b,c', '"q"', 'x\r\ny', '', ' s '];
    expect(parseCsv(`${cells.map(csvField).join(',')}\n`)).toEqual([cells]);
  });

  it('has one network row per (model, batch, engine), one row for a run without engines', () => {
    const expected = R.runs.reduce((a, m) => a + Math.max(1, m.engines.length), 0);
    expect(networks[0]).toEqual([...NETWORK_COLUMNS]);
    expect(networks.length - 1).toBe(expected);
    for (const row of networks) expect(row).toHaveLength(NETWORK_COLUMNS.length);
  });

  it('has one layer row per (model, batch, layer) with every LayerResult field', () => {
    expect(layers[0]).toEqual([...LAYER_COLUMNS]);
    expect(layers.length - 1).toBe(R.runs.reduce((a, m) => a + m.layers.length, 0));
    for (const row of layers) expect(row).toHaveLength(LAYER_COLUMNS.length);
    const sample = R.runs.find((m) => m.layers.length > 0)!.layers[0]!;
    expect([...LAYER_FIELDS].sort()).toEqual(Object.keys(sample).sort());
  });

  it('round-trips every number exactly and keeps nulls empty and errors intact', () => {
    const col = (name: string): number => (NETWORK_COLUMNS as readonly string[]).indexOf(name);
    let row = 1;
    for (const m of R.runs) {
      if (m.engines.length === 0) {
        const cells = networks[row++]!;
        expect(cells[col('engine')]).toBe('');
        expect(cells[col('error')]).toBe(m.error ?? '');
        expect(cells[col('correct')]).toBe(String(m.correctness.passed));
        continue;
      }
      for (const e of m.engines) {
        const cells = networks[row++]!;
        expect(cells[col('model')]).toBe(m.model);
        expect(Number(cells[col('batch')])).toBe(m.batch);
        expect(cells[col('engine')]).toBe(e.engine);
        expect(Number(cells[col('medianUs')])).toBe(e.time.medianUs);
        expect(Number(cells[col('p10Us')])).toBe(e.time.p10Us);
        expect(Number(cells[col('p90Us')])).toBe(e.time.p90Us);
        expect(Number(cells[col('maxRelError')])).toBe(m.correctness.maxRelError[e.engine]);
        if (e.energy === null) {
          expect(cells[col('mJPerInference')]).toBe('');
          expect(cells[col('energyNote')]).toBe(e.energyNote ?? '');
        } else {
          expect(Number(cells[col('mJPerInference')])).toBe(e.energy.mJPerInference);
          expect(Number(cells[col('avgPowerW')])).toBe(e.energy.avgPowerW);
          expect(Number(cells[col('idlePowerW')])).toBe(e.energy.idlePowerW);
        }
      }
    }
    const all = R.runs.flatMap((m) => m.layers.map((l) => ({ m, l })));
    all.forEach(({ m, l }, i) => {
      const cells = layers[i + 1]!;
      expect(cells.slice(0, 3)).toEqual([m.model, String(m.batch), m.weights]);
      // The objects flattened into their own columns; a cuDNN-path speedup is 'n/a'.
      const flat: Record<string, unknown> = {
        ...l, cusnnP10Us: l.cusnnSpreadUs?.lo, cusnnP90Us: l.cusnnSpreadUs?.hi, cudnnP10Us: l.cudnnSpreadUs?.lo, cudnnP90Us: l.cudnnSpreadUs?.hi,
        decisionActSparseUs: l.decision?.actSparseUs, decisionCudnnUs: l.decision?.cudnnUs, decisionVerdict: l.decision?.verdict, decisionReason: l.decision?.reason,
      };
      LAYER_CSV_FIELDS.forEach((f, j) => {
        const v = flat[f];
        const cell = cells[3 + j]!;
        if (f === 'speedup' && l.path === 'cudnn') expect(cell, `${l.layer}.speedup`).toBe('n/a');
        else if (typeof v === 'number') expect(Number(cell), `${l.layer}.${f}`).toBe(v);
        else expect(cell, `${l.layer}.${f}`).toBe(v ?? '');
      });
    });
    // The build error holds quotes, commas and a newline: it comes back byte for byte.
    const build = R.runs.find((m) => m.error?.includes('\n'));
    expect(build).toBeDefined();
    expect(networks.some((r) => r.includes(build!.error!))).toBe(true);
  });
});

describe('terminal table', () => {
  it('summarises every run, aligns its columns and lists the failed runs with their error on one line', () => {
    const t = benchTable(R);
    console.log(t);
    const lines = t.split('\n');
    const head = lines.findIndex((l) => l.startsWith('model'));
    const body = lines.slice(head + 2, head + 2 + R.runs.length);
    expect(lines[head + 1]).toMatch(/^-+( +-+)+$/);
    // Column starts line up: every dash run in the rule starts where the header's column starts.
    const starts = [...lines[head + 1]!.matchAll(/-+/g)].map((m) => m.index!);
    expect(starts).toHaveLength(15);
    for (const m of R.runs) expect(body.some((l) => l.startsWith(`${m.model} `) && l.includes(` ${m.batch} `)), m.model).toBe(true);
    const failed = R.runs.filter((m) => m.error !== undefined || !m.correctness.passed);
    expect(body.filter((l) => l.trimEnd().endsWith('FAILED'))).toHaveLength(failed.length);
    expect(t).toMatch(new RegExp(`failed \\(${failed.length}\\):`));
    for (const m of failed) expect(t).toContain(`  ${m.model} b${m.batch}: ${m.error!.split('\n')[0]}`);
    expect(t).toContain('build failed: nvcc "kernels/act3x3_c64_h56_w56_k64.cu", line 12: error: identifier "tile, h" is undefined 1 error detected');
    expect(t).toMatch(/no energy measurement: .*resnet50 b1/);
    expect(t).toMatch(/notes:\n(  .*\n)*  resnet50 b8: 32 images repeated to fill batch 8/);
    expect(t).toContain(R.gpu.name);
  });
});

describe('SVG charts', () => {
  const common = (svg: string): Element[] => {
    const els = parseXml(svg);
    const txt = svgText(svg);
    expect(txt).toContain(R.gpu.name.replace(/&/g, '&amp;'));
    expect(txt).toContain('2026-11-24');
    expect(svg).not.toMatch(/="[^"]*(NaN|Infinity|undefined)/); // no broken coordinates or attributes
    return els;
  };

  it('energyChart: one bar per engine with energy, synthetic runs marked, failures and missing energy noted', () => {
    const svg = energyChart(R);
    const els = common(svg);
    const withEnergy = withEngines(R).reduce((a, m) => a + m.engines.filter((e) => e.energy !== null).length, 0);
    expect(count(els, 'rect', 'bar')).toBe(withEnergy);
    const synthetic = withEngines(R).filter((m) => m.weights === 'synthetic');
    expect(count(els, 'rect', 'hatch')).toBe(synthetic.reduce((a, m) => a + m.engines.filter((e) => e.energy !== null).length, 0));
    const txt = svgText(svg);
    for (const m of synthetic) expect(txt).toContain(`${m.model} b${m.batch} (synthetic)`);
    expect(txt).toMatch(/energy per inference \(mJ\)/);
    const notes = els.filter((e) => e.attrs.class === 'note').length;
    expect(notes).toBeGreaterThanOrEqual(3); // two failed runs, one engine without energy
    expect(txt).toMatch(/Note: densenet121 b1 skipped: correctness/);
    expect(txt).toMatch(/Note: resnet50 b1 .*no energy \(NVML/);
  });

  it('timeChart: one bar and one p10-p90 whisker per engine result', () => {
    const svg = timeChart(R);
    const els = common(svg);
    const n = withEngines(R).reduce((a, m) => a + m.engines.length, 0);
    expect(count(els, 'rect', 'bar')).toBe(n);
    expect(count(els, 'line', 'whisker')).toBe(n);
    expect(svgText(svg)).toMatch(/time per inference \(ms\)/);
    // Bars are drawn to scale: the tallest bar belongs to the slowest median.
    const heights = els.filter((e) => e.attrs.class === 'bar').map((e) => Number(e.attrs.height));
    const medians = withEngines(R).flatMap((m) => m.engines.map((e) => e.time.medianUs));
    expect(heights.indexOf(Math.max(...heights))).toBe(medians.indexOf(Math.max(...medians)));
  });

  const generated = (m: ModelResult): LayerResult[] => m.layers.filter((l) => l.path === 'act-sparse');

  it('layerSpeedupChart: one bar per generated-kernel layer in network order, ties grey, cuDNN-path layers n/a, a line at 1.0', () => {
    for (const model of ['resnet152', 'densenet201']) {
      const m = R.runs.find((x) => x.model === model)!;
      const svg = layerSpeedupChart(R, model);
      const els = common(svg);
      const bars = els.filter((e) => e.name === 'rect' && e.attrs.class === 'bar');
      const gen = generated(m);
      expect(gen.length, 'the fixture puts layers on both paths').toBeGreaterThan(0);
      expect(gen.length).toBeLessThan(m.layers.length);
      expect(bars).toHaveLength(gen.length);
      expect(bars.filter((b) => b.attrs.fill === '#D55E00')).toHaveLength(gen.filter((l) => l.verdict !== 'tie').length);
      expect(bars.filter((b) => b.attrs.fill === '#bbbbbb')).toHaveLength(gen.filter((l) => l.verdict === 'tie').length);
      expect(svgText(svg)).toContain(`${m.layers.length - gen.length} layer(s) on the cuDNN path: speedup n/a`);
      expect(count(els, 'line', 'ref')).toBe(1);
      const xs = bars.map((b) => Number(b.attrs.x));
      expect(xs).toEqual([...xs].sort((a, b) => a - b));
      expect(svgText(svg)).toContain(gen[0]!.layer);
      // The geometric mean is over the generated-kernel layers only.
      const g = Math.exp(gen.reduce((a, l) => a + Math.log(l.speedup!), 0) / gen.length);
      expect(svgText(svg)).toContain(`geomean speedup there ${g.toFixed(2)}x`);
    }
    // A model at two batch sizes: the smallest by default, the other when asked.
    const b8 = R.runs.find((x) => x.model === 'resnet50' && x.batch === 8)!;
    expect(svgText(layerSpeedupChart(R, 'resnet50'))).toMatch(/resnet50 b1/);
    expect(count(parseXml(layerSpeedupChart(R, 'resnet50', 8)), 'rect', 'bar')).toBe(generated(b8).length);
    // Synthetic weights: hatched bars and the label says so.
    const vgg = layerSpeedupChart(R, 'vgg16');
    expect(count(parseXml(vgg), 'rect', 'hatch')).toBe(generated(R.runs.find((x) => x.model === 'vgg16')!).length);
    expect(svgText(vgg)).toContain('vgg16 b1 (synthetic)');
  });

  it('sparsitySpeedupChart: one point per generated-kernel layer of every run', () => {
    const svg = sparsitySpeedupChart(R);
    const els = common(svg);
    expect(count(els, 'circle', 'point')).toBe(R.runs.reduce((a, m) => a + generated(m).length, 0));
    expect(svgText(svg)).toMatch(/layer\(s\) on the cuDNN path: speedup n\/a/);
    expect(svgText(svg)).toMatch(/measured input sparsity \(% zeros/);
    expect(svgText(svg)).toMatch(/log scale/);
    expect(svgText(svg)).toContain('vgg16 b1 (synthetic)');
  });

  it('draws without data instead of crashing: failed models, no energy at all, bad speedups, unknown model', () => {
    const r = clone(R) as Mutable<BenchResults>;
    for (const m of r.runs) for (const e of m.engines) { e.energy = null; e.energyNote = 'NVML: not supported'; }
    const energy = parseXml(energyChart(r));
    expect(count(energy, 'rect', 'bar')).toBe(0);
    expect(energyChart(r)).toMatch(/no data to draw/);
    expect(energyChart(r)).toMatch(/\.\.\. and \d+ more/); // notes capped

    const m = r.runs.find((x) => x.model === 'resnet152')!;
    const gen = m.layers.filter((l) => l.path === 'act-sparse');
    (gen[0] as Mutable<LayerResult>).speedup = Number.NaN;
    (gen[1] as Mutable<LayerResult>).speedup = 0;
    const layers = layerSpeedupChart(r, 'resnet152');
    expect(count(parseXml(layers), 'rect', 'bar')).toBe(gen.length - 2);
    expect(svgText(layers)).toMatch(/2 layer\(s\) without a valid speedup skipped/);
    expect(count(parseXml(sparsitySpeedupChart(r)), 'circle', 'point')).toBe(r.runs.reduce((a, x) => a + x.layers.filter((l) => l.path === 'act-sparse').length, 0) - 2);

    const unknown = layerSpeedupChart(r, 'nosuchnet');
    expect(count(parseXml(unknown), 'rect', 'bar')).toBe(0);
    expect(svgText(unknown)).toMatch(/no results for nosuchnet/);
    const failedOnly = layerSpeedupChart(r, 'densenet121');
    expect(svgText(failedOnly)).toMatch(/densenet121 b1: no layer results \(correctness/);

    const empty: BenchResults = { ...r, runs: [] };
    for (const svg of [energyChart(empty), timeChart(empty), sparsitySpeedupChart(empty)]) expect(svg).toMatch(/no data to draw/);
    const allFailed: BenchResults = { ...r, runs: r.runs.filter((x) => x.engines.length === 0) };
    for (const svg of [energyChart(allFailed), timeChart(allFailed), sparsitySpeedupChart(allFailed)]) expect(parseXml(svg).length).toBeGreaterThan(5);
  });

  it('is deterministic and escapes text', () => {
    expect(energyChart(clone(R))).toBe(energyChart(R));
    expect(layerSpeedupChart(clone(R), 'densenet201')).toBe(layerSpeedupChart(R, 'densenet201'));
    const r = clone(R) as Mutable<BenchResults>;
    r.gpu.name = 'GPU <A&B> "quoted"';
    for (const svg of [energyChart(r), timeChart(r), sparsitySpeedupChart(r), layerSpeedupChart(r, 'vgg16')]) {
      parseXml(svg);
      expect(svg).toContain('GPU &lt;A&amp;B&gt; &quot;quoted&quot;');
    }
  });

  it('niceTicks covers the maximum with round steps', () => {
    expect(niceTicks(9.3)).toEqual([0, 2, 4, 6, 8, 10]);
    expect(niceTicks(0.37)).toEqual([0, 0.1, 0.2, 0.3, 0.4]);
    expect(niceTicks(0)).toEqual([0, 0.2, 0.4, 0.6, 0.8, 1]);
    for (let i = 0; i < 50; i++) {
      const max = 10 ** (8 * Math.random() - 4);
      const t = niceTicks(max);
      expect(t[t.length - 1]!).toBeGreaterThanOrEqual(max);
      expect(t.length).toBeGreaterThanOrEqual(3);
      expect(t.length).toBeLessThanOrEqual(12);
    }
  });
});

describe('writeReport and readResults', () => {
  it('writes every file, and summary.md has the machine and a roofline table per run', () => {
    const out = join(tmp, 'report');
    const files = writeReport(R, out);
    const names = files.map((f) => basename(f));
    expect(names.slice(0, 4)).toEqual(['results.csv', 'layers.csv', 'energy.svg', 'time.svg']);
    expect(names).toContain('layers-resnet152.svg');
    expect(names).toContain('layers-densenet201.svg');
    expect(names).toContain('layers-resnet50.svg');
    expect(names).toContain('layers-resnet50-b8.svg');
    expect(names).not.toContain('layers-densenet121.svg'); // failed: no layers
    expect(names.slice(-2)).toEqual(['speedup-vs-sparsity.svg', 'summary.md']);
    expect(readdirSync(out).sort()).toEqual([...names].sort());
    for (const f of files.filter((x) => x.endsWith('.svg'))) parseXml(readFileSync(f, 'utf8'));

    const md = readFileSync(join(out, 'summary.md'), 'utf8');
    for (const s of [R.gpu.name, R.gpu.driver, R.gpu.cudnn, 'clocks at start', 'clocks at end', '## Networks', '![energy.svg](energy.svg)']) expect(md).toContain(s);
    for (const m of R.runs) {
      const start = md.indexOf(`### ${m.model} b${m.batch}`);
      expect(start, m.model).toBeGreaterThan(0);
      if (m.layers.length === 0) continue;
      const section = md.slice(start).split('\n### ')[0]!;
      const rows = section.split('\n').filter((l) => l.startsWith('| '));
      const gen = m.layers.filter((l) => l.path === 'act-sparse');
      // header, separator, one per layer, all convs, generated-kernel convs (when there are any)
      expect(rows).toHaveLength(m.layers.length + 3 + (gen.length > 0 ? 1 : 0));
      expect(rows[0]).toMatch(/useful GFLOP .* floor us .* cusnn us .* achieved/);
      const l = m.layers[m.layers.length - 1]!;
      expect(section).toContain(`| ${l.layer} | ${l.path === 'act-sparse' ? 'generated' : 'cuDNN'} |`);
      // n/a on the cuDNN path; a tie says so; the geomean covers the generated-kernel layers only.
      for (const x of m.layers) {
        const row = rows.find((rw) => rw.startsWith(`| ${x.layer} |`))!;
        const cellText = row.split(' | ')[8]!;
        if (x.path === 'cudnn') expect(cellText, x.layer).toBe('n/a');
        else if (x.verdict === 'tie') expect(cellText, x.layer).toBe(`tie (${x.speedup!.toFixed(2)})`);
        else expect(cellText, x.layer).toBe(`${x.speedup!.toFixed(2)}x`);
      }
      if (gen.length > 0) {
        const g = Math.exp(gen.reduce((a, x) => a + Math.log(x.speedup!), 0) / gen.length);
        expect(section).toContain(`| **generated-kernel convs** (${gen.length}) |`);
        expect(section).toContain(`geomean ${g.toFixed(2)}x`);
      }
    }
    expect(md).toMatch(/Failed:\n\n- \*\*densenet121 b1\*\*: correctness/);
    // Optional fields of the runner, shown when present.
    expect(md).toMatch(/Settings: batches 1, 8; rounds 3; iters 200; layerIters 100; .*weightsDir \.data/);
    expect(md).toMatch(/roofline peaks \| 66\.9 TFLOP\/s fp32, 3352 GB\/s, measured on this GPU at bench start \(FFMA chains on 132 SMs; 256 MiB/);
    expect(md).toContain('Engines interleaved over 3 rounds, time and energy.');
    expect(md).toContain('Images: paths decided on 16 (calibration), checked and timed on 16 others.');
    expect(md).toMatch(/\| bench wall time \| \d+ s \|/);
    expect(md).toMatch(/### resnet50 b8[^#]*Build: \d+ generated kernels, addon reused[^#]*- 32 images repeated to fill batch 8/);
    const bare = clone(R) as Mutable<BenchResults> & { settings?: unknown; seconds?: unknown };
    delete bare.settings;
    delete bare.seconds;
    for (const m of bare.runs) for (const k of ['notes', 'kernels', 'buildSeconds', 'buildReused']) delete (m as Record<string, unknown>)[k];
    (bare.gpu as Record<string, unknown>).clocksStart = null;
    (bare.gpu as Record<string, unknown>).clocksNote = 'NVML not found';
    const bareMd = readFileSync(writeReport(validateResults(JSON.parse(JSON.stringify(bare)))!, join(tmp, 'bare')).at(-1)!, 'utf8');
    expect(bareMd).not.toMatch(/Settings:|Build:|bench wall time/);
    expect(bareMd).toContain('| clocks at start | not sampled |');
    expect(bareMd).toContain('| clocks note | NVML not found |');
    expect(md).toMatch(/Synthetic weights .*vgg16 b1/);
  });

  it('readResults reads back what the bench writes', () => {
    const f = join(tmp, 'ok.json');
    writeFileSync(f, JSON.stringify(R, null, 2));
    expect(readResults(f)).toEqual(R);
  });

  it('readResults rejects bad files naming the file and the problem', () => {
    const write = (name: string, content: string): string => {
      const f = join(tmp, name);
      writeFileSync(f, content);
      return f;
    };
    const bad = (mutate: (r: any) => void): string => {
      const r = clone(R);
      mutate(r);
      return write(`bad-${Math.random().toString(36).slice(2)}.json`, JSON.stringify(r));
    };
    const expectError = (file: string, pattern: RegExp): void => {
      expect(() => readResults(file)).toThrow(pattern);
      try { readResults(file); } catch (e) {
        expect((e as Error).message).toContain(file);
        expect((e as Error).message).not.toContain('\n');
      }
    };
    expectError(join(tmp, 'missing.json'), /missing\.json: no such file/);
    expectError(tmp, /is a directory/);
    expectError(write('trunc.json', JSON.stringify(R).slice(0, 500)), /not valid JSON/);
    expectError(write('other.json', '{"hello": 1}'), /no "format" field: not a cusnn-gen bench results file/);
    expectError(bad((r) => { r.format = 'cusnn-bench/3'; }), /format: expected 'cusnn-bench\/2' \(or 'cusnn-bench\/1'\), found "cusnn-bench\/3"/);
    const cudnnRow = R.runs[0]!.layers.findIndex((l) => l.path === 'cudnn');
    expectError(bad((r) => { r.runs[0].layers[cudnnRow].speedup = 0.93; }), new RegExp(`runs\\[0\\]\\.layers\\[${cudnnRow}\\]\\.speedup: expected null on the cuDNN path .*, found 0\\.93$`));
    expectError(bad((r) => { r.runs[0].engines[0].time.rounds = 0; }), /runs\[0\]\.engines\[0\]\.time\.rounds: expected an integer >= 1, found 0$/);
    expectError(bad((r) => { r.runs[0].layers[0].verdict = 'win'; }), /runs\[0\]\.layers\[0\]\.verdict: expected "faster" or "slower" or "tie" or null, found "win"$/);
    expectError(bad((r) => { r.gpu.roofline = { source: 'guess' }; }), /gpu\.roofline\.source: expected "measured" or "profile", found "guess"$/);
    expectError(bad((r) => { r.runs[0].images.time = [1]; }), /runs\[0\]\.images\.time\[0\]: expected a string, found 1$/);
    expectError(bad((r) => { delete r.gpu.driver; }), /gpu\.driver: expected a string, found nothing \(the field is absent\)$/);
    expectError(bad((r) => { r.runs[0].layers[3].cusnnUs = null; }), /runs\[0\]\.layers\[3\]\.cusnnUs: expected a finite number >= 0, found null$/);
    expectError(bad((r) => { r.runs[1].engines[0].engine = 'tensorrt'; }), /runs\[1\]\.engines\[0\]\.engine: expected "cusnn" or "cudnn" or "cudnn-implicit-gemm", found "tensorrt"$/);
    expectError(bad((r) => { r.runs[0].engines[1].engine = 'cusnn'; }), /runs\[0\]\.engines\[1\]\.engine: 'cusnn' appears twice$/);
    expectError(bad((r) => { r.runs[0].layers[0].inputSparsity = 1.5; }), /runs\[0\]\.layers\[0\]\.inputSparsity: expected a finite number in \[0, 1\], found 1\.5$/);
    expectError(bad((r) => { r.runs[2].batch = 0; }), /runs\[2\]\.batch: expected an integer >= 1, found 0$/);
    expectError(bad((r) => { r.runs[0].weights = 'imagenet'; }), /runs\[0\]\.weights: expected "real" or "synthetic", found "imagenet"$/);
    expectError(bad((r) => { r.runs = {}; }), /runs: expected a list of .*, found an empty object$/);
    expectError(bad((r) => { r.runs[0].correctness.passed = 'yes'; }), /runs\[0\]\.correctness\.passed: expected true or false, found "yes"$/);
    expectError(bad((r) => { r.gpu.clocksStart = { smMHz: 1 }; }), /gpu\.clocksStart\.memMHz: expected a finite number, found nothing/);
    expectError(bad((r) => { r.runs[0].notes = ['ok', 3]; }), /runs\[0\]\.notes\[1\]: expected a string, found 3$/);
    expectError(bad((r) => { r.runs[0].buildReused = 'no'; }), /runs\[0\]\.buildReused: expected true or false, found "no"$/);
    expectError(bad((r) => { r.settings = 5; }), /settings: expected an object with batches, .*, found 5$/);
    // Finite numbers where they must be: a huge literal parses as Infinity; settings are checked too.
    expectError(write('inf.json', JSON.stringify(R).replace(/"medianUs":[0-9.e+-]+/, '"medianUs":1e400')), /runs\[0\]\.engines\[0\]\.time\.medianUs: expected a finite number >= 0, found Infinity \(not a finite number\)$/);
    expectError(bad((r) => { r.settings.iters = -3; }), /settings\.iters: expected an integer >= 0, found -3$/);
    expectError(bad((r) => { r.gpu.roofline.probe = { ...r.gpu.roofline.probe, copyGBs: 'fast' }; }), /gpu\.roofline\.probe\.copyGBs: expected a finite number >= 0, found "fast"$/);
    expect(() => validateResults([])).toThrow(/^results: the top level: expected an object, found a list of 0$/);
  });
});

describe('progress', () => {
  const sink = (isTTY: boolean) => {
    const chunks: string[] = [];
    return { chunks, stream: { isTTY, columns: 100, write: (s: string) => chunks.push(s) } };
  };

  it('prints one line per step when the stream is not a terminal', () => {
    let t = 0;
    const { chunks, stream } = sink(false);
    const p = createProgress(4, 'bench', stream, () => t);
    for (const what of ['resnet50', 'resnet152', 'vgg16']) { t += 10_000; p.tick(what); }
    p.done();
    p.tick('late'); // after done: ignored
    expect(chunks).toEqual([
      'bench 1/4  25% 10s, 30s left  resnet50\n',
      'bench 2/4  50% 20s, 20s left  resnet152\n',
      'bench 3/4  75% 30s, 10s left  vgg16\n',
      'bench: 3/4 done in 30s\n',
    ]);
  });

  it('redraws one line with \\r on a terminal, blanking leftovers, and ends it on done()', () => {
    let t = 0;
    const { chunks, stream } = sink(true);
    const p = createProgress(2, 'bench', stream, () => t);
    t = 65_000;
    p.tick('densenet201 with a long step name');
    t = 130_000;
    p.tick('x');
    p.done();
    const out = chunks.join('');
    expect(chunks.every((c) => c.startsWith('\r'))).toBe(true);
    expect(out.indexOf('\n')).toBe(out.length - 1);
    expect(chunks[1]).toBe('\rbench [############............] 1/2  50% 1m05s, 1m05s left  densenet201 with a long step name');
    expect(chunks[2]!.length).toBeGreaterThanOrEqual(chunks[1]!.length); // padded over the longer line
    expect(chunks[3]).toMatch(/^\rbench: 2\/2 done in 2m10s +\n$/);
    for (const c of chunks) expect(c.length).toBeLessThanOrEqual(101);
  });

  it('formats durations', () => {
    expect([0, 59.4, 61, 3599, 3725].map(formatDuration)).toEqual(['0s', '59s', '1m01s', '59m59s', '1h02m']);
  });
});

describe('cusnn-gen report (the compiled CLI)', () => {
  const CLI = 'dist/cli.js';
  beforeAll(() => {
    // Build when dist is missing or older than this feature's sources (tsc emits even if an unrelated file has type errors).
    const built = 'dist/cli/report.js';
    const sources = ['src/cli/report.ts', 'src/cli/main.ts', ...readdirSync('src/bench').map((f) => join('src/bench', f))];
    if (!existsSync(built) || sources.some((s) => statSync(s).mtimeMs > statSync(built).mtimeMs)) spawnSync('npx', ['tsc', '-p', '.'], { stdio: 'inherit' });
  });
  const run = (...args: string[]) => {
    const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8' });
    return { code: r.status, out: r.stdout, err: r.stderr };
  };

  it('writes all files next to the JSON (or into --out), prints the table and the files, exits 0', () => {
    const dir = join(tmp, 'cli');
    mkdirSync(dir);
    const json = join(dir, 'results.json');
    writeFileSync(json, JSON.stringify(R));
    const r = run('report', json);
    expect(r.code, r.err).toBe(0);
    expect(r.out).toMatch(/^model +batch +weights/m);
    const expected = writeReport(R, join(tmp, 'cli-ref')).map((f) => basename(f));
    expect(r.out).toContain(`wrote ${expected.length} files:`);
    for (const name of expected) {
      expect(existsSync(join(dir, name)), name).toBe(true);
      expect(readFileSync(join(dir, name), 'utf8')).toBe(readFileSync(join(tmp, 'cli-ref', name), 'utf8'));
    }
    const out = join(tmp, 'cli-out');
    expect(run('report', json, '--out', out).code).toBe(0);
    expect(readdirSync(out).sort()).toEqual([...expected].sort());
  });

  it('exits non-zero with one clear line for a missing or invalid file', () => {
    for (const [file, pattern] of [[join(tmp, 'nope.json'), /^cusnn-gen: results file .*nope\.json: no such file$/],
      [join(tmp, 'cli', 'layers.csv'), /^cusnn-gen: results file .*layers\.csv: not valid JSON/]] as const) {
      const r = run('report', file);
      expect(r.code).not.toBe(0);
      const lines = r.err.trim().split('\n');
      expect(lines, r.err).toHaveLength(1);
      expect(lines[0]).toMatch(pattern);
    }
    expect(run('report', '--help').out).toMatch(/Usage: cusnn-gen report \[options\] <results.json>/);
  });
});

describe('committed example (docs/results/example-bench)', () => {
  it.runIf(process.env.CUSNN_WRITE_EXAMPLE === '1')('writes the example', () => {
    const r = makeBenchResults(EXAMPLE_SEED, EXAMPLE_RUNS);
    mkdirSync(EXAMPLE_DIR, { recursive: true });
    writeFileSync(join(EXAMPLE_DIR, 'results.json'), `${JSON.stringify(r, null, 1)}\n`);
    writeReport(r, EXAMPLE_DIR);
  });

  it.runIf(existsSync(join(EXAMPLE_DIR, 'results.json')))('is up to date: regenerating it from its results.json gives the same bytes', () => {
    const r = readResults(join(EXAMPLE_DIR, 'results.json'));
    const out = join(tmp, 'example');
    for (const f of writeReport(r, out)) {
      expect(readFileSync(join(EXAMPLE_DIR, basename(f)), 'utf8'), `${basename(f)} (CUSNN_WRITE_EXAMPLE=1 rewrites it)`).toBe(readFileSync(f, 'utf8'));
    }
  });
});

it('the default fixture covers what the tests rely on', () => {
  expect(DEFAULT_RUNS.some((x) => x.fail === 'build') && DEFAULT_RUNS.some((x) => x.fail === 'correctness')).toBe(true);
  expect(R.runs.map((m) => m.model)).toEqual(DEFAULT_RUNS.map((x) => x.model));
});
