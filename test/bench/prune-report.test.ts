// `bench --prune` on the CPU side: the command line (--prune values are usage errors naming the
// value, exit 2; --prune-pattern as `cusnn-gen prune --pattern`), and the report of pruned runs on
// fresh random results (test/bench/fixture.ts) with pruned variants added: run names in the
// table, summary and charts, CSV columns, the weight-sparsity chart, the per-variant layer charts,
// what readResults refuses. Results without weight sparsity (every committed file) render as
// before: the other report tests compare them byte for byte. Seed printed; CUSNN_TEST_SEED repeats.
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runBench } from '../../src/bench/bench.js';
import { layerSpeedupChart, weightSparsitySpeedupChart } from '../../src/bench/charts.js';
import { LAYER_COLUMNS, NETWORK_COLUMNS, parseCsv, resultsToCsv } from '../../src/bench/csv.js';
import { parsePruneList } from '../../src/bench/prepare.js';
import { renderTable } from '../../src/bench/render.js';
import { validateResults, writeReport } from '../../src/bench/report.js';
import type { BenchResults, LayerResult, ModelResult, PruneSpec } from '../../src/bench/results.js';
import { benchTable, networkRows, runLabel, sparsityText, variantKey } from '../../src/bench/table.js';
import { main } from '../../src/cli/main.js';
import { mulberry32, testSeed } from '../helpers/random.js';
import { makeBenchResults } from './fixture.js';

const SEED = testSeed();
console.log(`test/bench/prune-report.test.ts: seed ${SEED} (CUSNN_TEST_SEED=${SEED} repeats this run)`);
const tmp = mkdtempSync(join(tmpdir(), 'cusnn-prune-report-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** `cusnn-gen <args>` in process, with every GPU hidden: the exit code and stderr. */
async function cli(...args: string[]): Promise<{ code: number; err: string }> {
  const before = process.env.CUDA_VISIBLE_DEVICES;
  const stderr = process.stderr.write.bind(process.stderr);
  let err = '';
  process.env.CUDA_VISIBLE_DEVICES = '';
  // The bench's own "no CUDA device" line goes to process.stderr.
  process.stderr.write = ((s: string | Uint8Array) => { err += String(s); return true; }) as typeof process.stderr.write;
  try {
    const code = await main(args, { err: (s) => { err += s; } });
    return { code, err };
  } finally {
    process.stderr.write = stderr;
    if (before === undefined) delete process.env.CUDA_VISIBLE_DEVICES;
    else process.env.CUDA_VISIBLE_DEVICES = before;
    process.exitCode = undefined;
  }
}

const BENCH = ['bench', '--model', 'resnet50', '--arch', 'sm_90', '--out', join(tmp, 'never')];

describe('bench --prune on the command line', () => {
  it('takes fractions in (0, 1), each once, ascending', () => {
    expect(parsePruneList('0.8,0.9,0.95')).toEqual([0.8, 0.9, 0.95]);
    expect(parsePruneList(' .5, 0.75 ')).toEqual([0.5, 0.75]);
    expect(parsePruneList('0.999')).toEqual([0.999]);
  });

  it('refuses 0, 1, a value twice, a descending list, a non-number: exit 2, one line naming the value', async () => {
    const cases: [string, RegExp][] = [
      ['0', /^cusnn-gen: --prune must be a comma-separated list of fractions of zeros in \(0, 1\).*, got '0': 0 is the dense run, which always runs$/],
      ['1', /^cusnn-gen: --prune must be .*, got '1': 1 leaves no weights$/],
      ['0.9,0.9', /^cusnn-gen: --prune lists 0\.9 twice in '0\.9,0\.9': give each sparsity once$/],
      ['x', /^cusnn-gen: --prune must be .*, got 'x': not a number$/],
      ['0.8,x', /^cusnn-gen: --prune must be .*, got 'x' \(in '0\.8,x'\): not a number$/],
      ['0.9,0.8', /^cusnn-gen: --prune must list sparsities in ascending order, got '0\.9,0\.8' \(0\.9 before 0\.8\)$/],
      ['1.5', /^cusnn-gen: --prune must be .*, got '1\.5': not a fraction$/],
      ['-0.5', /^cusnn-gen: --prune must be .*, got '-0\.5': not a number$/],
      ['', /^cusnn-gen: --prune must be .*, got '': not a number$/],
      ['0.5,,0.9', /^cusnn-gen: --prune must be .*, got '' \(in '0\.5,,0\.9'\): not a number$/],
    ];
    for (const [v, want] of cases) {
      const r = await cli(...BENCH, '--prune', v);
      expect(r.code, `--prune '${v}': ${r.err}`).toBe(2);
      expect(r.err.trimEnd().split('\n'), v).toHaveLength(1);
      expect(r.err.trimEnd(), v).toMatch(want);
    }
  });

  it('--prune-pattern: the prune command\'s patterns; 2:4 is 0.5; it needs --prune', async () => {
    const bad: [string[], RegExp][] = [
      [['--prune', '0.8', '--prune-pattern', '2:4'], /^cusnn-gen: --prune-pattern 2:4 keeps 2 of every 4 weights, so its sparsity is 0\.5: give --prune 0\.5, got '0\.8'$/],
      [['--prune-pattern', 'block4x1'], /^cusnn-gen: --prune-pattern block4x1 needs --prune/],
      [['--prune', '0.8', '--prune-pattern', 'rows'], /rows.*(invalid|Allowed choices).*unstructured, 2:4, block4x1, filter/],
    ];
    for (const [args, want] of bad) {
      const r = await cli(...BENCH, ...args);
      expect(r.code, r.err).toBe(2);
      expect(r.err.trimEnd()).toMatch(want);
    }
    // Valid: past the parsing, to the GPU probe (hidden here: exit 3, nothing generated).
    for (const args of [['--prune', '0.8,0.9,0.95'], ['--prune', '0.5', '--prune-pattern', '2:4'], ['--prune', '0.7', '--prune-pattern', 'filter']]) {
      const r = await cli(...BENCH, ...args);
      expect(r.code, r.err).toBe(3);
      expect(r.err).toMatch(/no CUDA device \(CUDA_VISIBLE_DEVICES='' hides every GPU\)/);
    }
  });

  it('runBench checks its prune options before touching anything', async () => {
    const base = { models: ['resnet50'], arch: 'sm_90', out: join(tmp, 'never-lib') };
    await expect(runBench({ ...base, prune: [0] })).rejects.toThrow(/prune sparsity must be a fraction in \(0, 1\), got 0/);
    await expect(runBench({ ...base, prune: [0.9, 0.8] })).rejects.toThrow(/distinct and ascending, got 0\.9, 0\.8/);
    await expect(runBench({ ...base, prune: [0.9], prunePattern: '2:4' })).rejects.toThrow(/2:4 keeps 2 of every 4 weights/);
    expect(readdirSync(tmp)).not.toContain('never-lib');
  });
});

/** Fresh random results with pruned variants of two runs added (their layers' weight sparsity near the target). */
function prunedResults(seed: number): { r: BenchResults; specs: PruneSpec[] } {
  const rnd = mulberry32(seed);
  const base = makeBenchResults(seed, [
    { model: 'resnet50', batch: 1, weights: 'real' },
    { model: 'vgg16', batch: 1, weights: 'synthetic' },
    { model: 'densenet121', batch: 1, weights: 'real', fail: 'correctness' },
  ]);
  const patterns = ['unstructured', 'block4x1', 'filter'] as const;
  const specs: PruneSpec[] = [0.8, 0.9].map((s) => ({ sparsity: s, pattern: patterns[Math.floor(rnd() * patterns.length)]! }));
  const withWs = (m: ModelResult, prune: PruneSpec | null): ModelResult => {
    const layers: LayerResult[] = m.layers.map((l, i) => ({ ...l, weightSparsity: prune && i > 0 ? Math.min(1, prune.sparsity + 0.01 * (rnd() - 0.5)) : 0 }));
    return { ...m, prune, weightSparsity: prune ? prune.sparsity * (0.95 + 0.04 * rnd()) : 0, layers };
  };
  const runs: ModelResult[] = [];
  for (const m of base.runs) {
    runs.push(withWs(m, null));
    if (m.model !== 'densenet121') for (const p of specs) runs.push(withWs(m, p));
  }
  // A pruned weights file given as it is: no prune, most conv weights zero.
  runs.push({ ...base.runs[0]!, prune: null, weightSparsity: 0.5 + 0.4 * rnd(), weightsSource: 'pruned-resnet50.safetensors' });
  return { r: { ...base, runs, settings: { ...base.settings!, prune: [0.8, 0.9], prunePattern: 'unstructured' } }, specs };
}

describe('the report of pruned runs', () => {
  it('names the variants, adds the weight-sparsity columns and chart, a layer chart per variant', () => {
    const { r, specs } = prunedResults(SEED);
    const v = validateResults(JSON.parse(JSON.stringify(r)));
    expect(v).toEqual(JSON.parse(JSON.stringify(r)));
    const tag = (p: PruneSpec): string => `p${p.sparsity.toFixed(2)}${p.pattern === 'unstructured' ? '' : ` ${p.pattern}`}`;
    const pruned = r.runs.filter((m) => m.prune);
    for (const m of pruned) {
      expect(runLabel(m, false)).toBe(`${m.model} b1 ${tag(m.prune!)}`);
      expect(variantKey(m)).toBe(tag(m.prune!).replace(' ', '-'));
    }
    const given = r.runs.at(-1)!;
    expect(runLabel(given)).toBe(`resnet50 b1 ${(100 * given.weightSparsity!).toFixed(0)}% zero weights`);

    // The terminal table: the variant in the model column, a weight zeros column.
    const { header, rows } = networkRows(r);
    expect(header.slice(0, 4)).toEqual(['model', 'batch', 'weights', 'weight zeros']);
    expect(rows.map((x) => x[0])).toEqual(r.runs.map((m) => `${m.model}${m.prune ? ` ${tag(m.prune)}` : ''}`));
    r.runs.forEach((m, i) => expect(rows[i]![3]).toBe(`${(100 * m.weightSparsity!).toFixed(1)}%`));
    expect(benchTable(r)).toMatch(new RegExp(`^resnet50 ${tag(specs[1]!)} +1 +real +\\d+\\.\\d%`, 'm'));
    // README / PERFORMANCE tables: the variant in the run's name.
    for (const kind of ['readme', 'performance'] as const) expect(renderTable(kind, r)).toContain(`| ResNet-50 ${tag(specs[0]!)} | real |`);

    // CSV: the columns after weightsSource (networks) and weights (layers).
    const csv = resultsToCsv(r);
    const net = parseCsv(csv.networks);
    const lay = parseCsv(csv.layers);
    const at = NETWORK_COLUMNS.indexOf('weightsSource') + 1;
    expect(net[0]).toEqual([...NETWORK_COLUMNS.slice(0, at), 'pruneSparsity', 'prunePattern', 'weightSparsity', ...NETWORK_COLUMNS.slice(at)]);
    expect(lay[0]).toEqual([...LAYER_COLUMNS.slice(0, 3), 'pruneSparsity', 'prunePattern', ...LAYER_COLUMNS.slice(3)]);
    const engines = r.runs.flatMap((m) => (m.engines.length > 0 ? m.engines.map(() => m) : [m]));
    net.slice(1).forEach((row, i) => {
      const m = engines[i]!;
      expect(row.slice(at, at + 3)).toEqual([m.prune ? String(m.prune.sparsity) : '', m.prune?.pattern ?? '', String(m.weightSparsity)]);
    });
    const layers = r.runs.flatMap((m) => m.layers.map((l) => ({ m, l })));
    lay.slice(1).forEach((row, i) => {
      expect(row.slice(3, 5)).toEqual([layers[i]!.m.prune ? String(layers[i]!.m.prune!.sparsity) : '', layers[i]!.m.prune?.pattern ?? '']);
      expect(Number(row[lay[0]!.indexOf('weightSparsity')])).toBe(layers[i]!.l.weightSparsity);
    });

    // The chart: one series per model, one point per generated-kernel layer of every run with layers.
    const svg = weightSparsitySpeedupChart(r);
    const points = [...svg.matchAll(/<circle class="point"[^>]*><title>([^<]*)<\/title>/g)].map((x) => x[1]!);
    const byModel = [...new Set(r.runs.map((m) => m.model))].flatMap((model) => r.runs.filter((m) => m.model === model));
    const generated = byModel.flatMap((m) => m.layers.filter((l) => l.path === 'act-sparse' && l.speedup !== null).map((l) => `${runLabel(m)} ${l.layer}: `));
    expect(points.map((p) => p.slice(0, p.indexOf(': ') + 2))).toEqual(generated);
    const legend = [...svg.matchAll(/<text class="legend"[^>]*>([^<]*)<\/text>/g)].map((x) => x[1]!).filter((l) => !/^(filled|hollow): /.test(l));
    expect(legend).toEqual(['resnet50', 'vgg16 (synthetic)']);
    expect(svg).toMatch(/<text class="note"[^>]*>Note: densenet121 b1 skipped: correctness/);
    // Each variant's own layer chart, named by its key.
    expect(layerSpeedupChart(r, 'resnet50', 1, variantKey(pruned[1]!))).toContain(`resnet50 b1 ${tag(pruned[1]!.prune!)}`);

    const files = writeReport(r, join(tmp, 'report')).map((f) => f.slice(join(tmp, 'report').length + 1));
    const keys = specs.map((p) => tag(p).replace(' ', '-'));
    expect(files).toEqual(['results.csv', 'layers.csv', 'energy.svg', 'time.svg', 'layers-resnet50.svg', ...keys.map((k) => `layers-resnet50-${k}.svg`),
      'layers-vgg16.svg', ...keys.map((k) => `layers-vgg16-${k}.svg`), 'speedup-vs-sparsity.svg', 'speedup-vs-weight-sparsity.svg', 'summary.md']);
    const summary = readFileSync(join(tmp, 'report', 'summary.md'), 'utf8');
    expect(summary).toContain(`### vgg16 b1 ${tag(specs[0]!)} (synthetic), synthetic weights`);
    expect(summary).toMatch(/\| layer \| cusnn path \| input zeros \| weight zeros \| useful GFLOP \|/);
    expect(summary).toContain('Settings: ');
    expect(summary).toMatch(/prune 0\.8, 0\.9; prunePattern unstructured\./);
  });

  it('results without weight sparsity: the columns and charts of before, no weight-sparsity chart', () => {
    const r = makeBenchResults(SEED + 1);
    const csv = resultsToCsv(r);
    expect(parseCsv(csv.networks)[0]).toEqual([...NETWORK_COLUMNS]);
    expect(parseCsv(csv.layers)[0]).toEqual([...LAYER_COLUMNS]);
    expect(networkRows(r).header).not.toContain('weight zeros');
    expect(writeReport(r, join(tmp, 'old')).map((f) => f.slice(join(tmp, 'old').length + 1))).not.toContain('speedup-vs-weight-sparsity.svg');
  });

  it('readResults refuses a prune out of (0, 1), an unknown pattern, and 2:4 other than 0.5', () => {
    const { r } = prunedResults(SEED + 2);
    const i = r.runs.findIndex((m) => m.prune);
    const withPrune = (prune: unknown): unknown => ({ ...r, runs: r.runs.map((m, j) => (j === i ? { ...m, prune } : m)) });
    expect(() => validateResults(withPrune({ sparsity: 1, pattern: 'unstructured' }))).toThrow(new RegExp(`runs\\[${i}\\]\\.prune.*sparsity: expected a fraction of zeros in \\(0, 1\\), found 1`));
    expect(() => validateResults(withPrune({ sparsity: 0.9, pattern: 'rows' }))).toThrow(new RegExp(`runs\\[${i}\\]\\.prune`));
    expect(() => validateResults(withPrune({ sparsity: 0.9, pattern: '2:4' }))).toThrow(new RegExp(`runs\\[${i}\\]\\.prune\\.sparsity: 2:4 pruning keeps 2 of every 4 weights, so 0\\.5, found 0\\.9`));
    expect(validateResults(withPrune({ sparsity: 0.5, pattern: '2:4' })).runs[i]!.prune).toEqual({ sparsity: 0.5, pattern: '2:4' });
    expect(() => validateResults({ ...r, runs: r.runs.map((m, j) => (j === i ? { ...m, weightSparsity: 1.5 } : m)) })).toThrow(new RegExp(`runs\\[${i}\\]\\.weightSparsity`));
  });

  it('sparsities in names: two decimals at least', () => {
    expect([0.5, 0.9, 0.95, 0.975, 0.8125].map(sparsityText)).toEqual(['0.50', '0.90', '0.95', '0.975', '0.8125']);
  });
});
