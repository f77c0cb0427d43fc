// The bench summary as a plain-text table for the terminal (and the helpers the charts and the
// markdown summary share: run names, engine names, speedups, failure status).
import { DEGENERATE_SPREAD, ENGINES, PRUNED_WEIGHTS, type BenchResults, type Engine, type EngineResult, type ModelResult, type Verdict } from './results.js';
import { compare, energyMeasured, timeMeasured } from './stats.js';

export const ENGINE_LABEL: Readonly<Record<Engine, string>> = {
  cusnn: 'cuSNN',
  cudnn: 'cuDNN (fastest algo)',
  'cudnn-implicit-gemm': 'cuDNN IMPLICIT_GEMM',
};
export const ENGINE_SHORT: Readonly<Record<Engine, string>> = { cusnn: 'cusnn', cudnn: 'cudnn', 'cudnn-implicit-gemm': 'igemm' };

/** A target sparsity in a name: `0.90`, `0.95`, `0.975` (two decimals at least, as many as it has). */
export function sparsityText(s: number): string {
  const two = s.toFixed(2);
  return Number(two) === s ? two : String(s);
}

/** `p0.90` for a run the bench pruned to 0.9 (unstructured), `p0.90 block4x1` for another pattern; '' for the weights as given. */
export function pruneTag(m: Pick<ModelResult, 'prune'>): string {
  const p = m.prune;
  if (p === undefined || p === null) return '';
  return `p${sparsityText(p.sparsity)}${p.pattern === 'unstructured' ? '' : ` ${p.pattern}`}`;
}

/** File-name form of pruneTag: `p0.90`, `p0.90-block4x1`, `p0.50-2to4`; '' for the weights as given. */
export function variantKey(m: Pick<ModelResult, 'prune'>): string {
  return pruneTag(m).replace(/ /g, '-').replace(/:/g, 'to');
}

/** Whether a run's weights are pruned: by the bench (prune), or a weights file that came mostly zeros (>= PRUNED_WEIGHTS of the conv weights). */
export function prunedWeights(m: Pick<ModelResult, 'prune' | 'weightSparsity'>): boolean {
  return (m.prune !== undefined && m.prune !== null) || (m.weightSparsity !== undefined && m.weightSparsity >= PRUNED_WEIGHTS);
}

/** Whether the results record weight sparsity (benches since pruned runs): their tables and CSV get the columns. */
export const recordsWeightSparsity = (r: Pick<BenchResults, 'runs'>): boolean => r.runs.some((m) => m.prune !== undefined || m.weightSparsity !== undefined);

/** ` p0.90` (pruned by the bench), ` 91% zero weights` (a pruned weights file), or '' (the weights as given, or an older file). */
export function variantSuffix(m: Pick<ModelResult, 'prune' | 'weightSparsity'>): string {
  const tag = pruneTag(m);
  if (tag) return ` ${tag}`;
  return prunedWeights(m) ? ` ${percent(m.weightSparsity!, 0)} zero weights` : '';
}

/** `0.912` as `91.2%`. */
export const percent = (v: number, digits = 1): string => `${(100 * v).toFixed(digits)}%`;

/** `resnet152 b1`, `resnet50 b1 p0.90` for a pruned variant, with ` (synthetic)` when the run used synthetic weights. */
export function runLabel(m: ModelResult, synthetic = true): string {
  return `${m.model} b${m.batch}${variantSuffix(m)}${synthetic && m.weights === 'synthetic' ? ' (synthetic)' : ''}`;
}

export function engineResult(m: ModelResult, engine: Engine): EngineResult | undefined {
  return m.engines.find((e) => e.engine === engine);
}

/** Time speedup of cusnn over `base` (base median / cusnn median); undefined when either is missing. */
export function timeSpeedup(m: ModelResult, base: Engine): number | undefined {
  const us = engineResult(m, 'cusnn')?.time.medianUs;
  const b = engineResult(m, base)?.time.medianUs;
  return us !== undefined && b !== undefined && us > 0 ? b / us : undefined;
}

/** Energy ratio base / cusnn (above 1: cusnn uses less energy); undefined when either is missing. */
export function energyRatio(m: ModelResult, base: Engine): number | undefined {
  const mj = engineResult(m, 'cusnn')?.energy?.mJPerInference;
  const b = engineResult(m, base)?.energy?.mJPerInference;
  return mj !== undefined && b !== undefined && mj > 0 ? b / mj : undefined;
}

/** cusnn's time against `base`'s: 'tie' when the medians fall inside the other's spread (src/bench/stats.ts). */
export function timeVerdict(m: ModelResult, base: Engine): Verdict | undefined {
  const a = engineResult(m, 'cusnn')?.time;
  const b = engineResult(m, base)?.time;
  return a && b ? compare(timeMeasured(a), timeMeasured(b)) : undefined;
}

/**
 * The same for energy per inference (the spread: the lowest and highest round). A single window
 * (cusnn-bench/1 files) has no spread to judge by: no verdict, the ratio is shown without a claim.
 */
export function energyVerdict(m: ModelResult, base: Engine): Verdict | undefined {
  const a = engineResult(m, 'cusnn')?.energy;
  const b = engineResult(m, base)?.energy;
  return a && b && a.rounds > 1 && b.rounds > 1 ? compare(energyMeasured(a), energyMeasured(b)) : undefined;
}

/** A ratio as a claim: `1.10x`, or `tie` when the difference is inside the spread. */
export const claim = (ratio: number | undefined, verdict: Verdict | undefined): string => (verdict === 'tie' ? 'tie' : times(ratio));

/** Why a run is not a clean result, or undefined when it is one. */
export function failure(m: ModelResult): string | undefined {
  if (m.error !== undefined) return m.error;
  if (!m.correctness.passed) return 'correctness check failed';
  if (m.engines.length === 0) return 'no engine results';
  return undefined;
}

/** Correctness in a few characters: `ok 2.1e-6`, `FAIL 3.0e-3 > 1e-4`. */
export function correctnessCell(m: ModelResult): string {
  const c = m.correctness;
  const errs = ENGINES.map((e) => c.maxRelError[e]).filter((v) => Number.isFinite(v));
  const worst = errs.length ? Math.max(...errs).toExponential(1) : '?';
  const top = `top5 ${c.topAgree}/${c.inputs}`;
  // Every input gave the same logits: agreement says nothing about the kernels.
  const alike = c.inputs > 1 && c.inputSpread !== undefined && c.inputSpread < DEGENERATE_SPREAD ? ', DEGENERATE (same logits for every input)' : '';
  if (c.passed) return `ok ${worst}, ${top}${alike}`;
  const over = errs.some((v) => v > c.tolerance);
  return over ? `FAIL ${worst} > ${c.tolerance.toExponential(0)}, ${top}` : `FAIL, ${top}`;
}

const ms = (e: EngineResult | undefined): number | undefined => (e ? e.time.medianUs / 1000 : undefined);
export const fixed = (v: number | undefined, digits: number): string => (v === undefined || !Number.isFinite(v) ? '-' : v.toFixed(digits));
export const times = (v: number | undefined): string => (v === undefined || !Number.isFinite(v) ? '-' : `${v.toFixed(2)}x`);

/** `2026-11-24` from an ISO timestamp; the text as given when it is not one. */
export const dateOf = (iso: string): string => (/^\d{4}-\d{2}-\d{2}/.test(iso) ? iso.slice(0, 10) : iso);

/** Columns padded to their widest cell; numeric columns (align 'r') right-aligned. */
export function alignedTable(header: readonly string[], rows: readonly (readonly string[])[], align: string): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]): string =>
    cells.map((c, i) => (align[i] === 'r' ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join('  ').trimEnd();
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}

/**
 * One row per run (model, batch, weights variant): times (ms), energies (mJ), speedups, sparse
 * layers, weights, correctness. A pruned variant's model cell names it (`resnet50 p0.90`); results
 * that record weight sparsity get a `weight zeros` column (the fraction of zero conv weights).
 */
export function networkRows(r: BenchResults): { header: string[]; rows: string[][]; align: string } {
  const ws = recordsWeightSparsity(r);
  const header = ['model', 'batch', 'weights', ...(ws ? ['weight zeros'] : []),
    ...ENGINES.map((e) => `${ENGINE_SHORT[e]} ms`), 'x cudnn', 'x igemm',
    ...ENGINES.map((e) => `${ENGINE_SHORT[e]} mJ`), 'mJ x cudnn',
    'sparse/conv', 'correctness', 'status'];
  const rows = r.runs.map((m) => [
    `${m.model}${pruneTag(m) ? ` ${pruneTag(m)}` : ''}`, String(m.batch), m.weights,
    ...(ws ? [m.weightSparsity === undefined ? '-' : percent(m.weightSparsity)] : []),
    ...ENGINES.map((e) => fixed(ms(engineResult(m, e)), 3)),
    claim(timeSpeedup(m, 'cudnn'), timeVerdict(m, 'cudnn')), claim(timeSpeedup(m, 'cudnn-implicit-gemm'), timeVerdict(m, 'cudnn-implicit-gemm')),
    ...ENGINES.map((e) => fixed(engineResult(m, e)?.energy?.mJPerInference, 1)), claim(energyRatio(m, 'cudnn'), energyVerdict(m, 'cudnn')),
    `${m.sparseLayers}/${m.convLayers}`, correctnessCell(m), failure(m) === undefined ? 'ok' : 'FAILED',
  ]);
  return { header, rows, align: ws ? 'lrlrrrrrrrrrrrll' : 'lrlrrrrrrrrrrll' };
}

/** The terminal summary: a header line, the network table, then each failed run with its error. */
export function benchTable(r: BenchResults): string {
  const { header, rows, align } = networkRows(r);
  const out = [
    `${r.gpu.name} (${r.gpu.sm}), ${dateOf(r.createdAt)}; driver ${r.gpu.driver}, CUDA ${r.gpu.cudaRuntime}, cuDNN ${r.gpu.cudnn}`,
    'times: median per inference (whole batch); x cudnn / x igemm: speedup of cusnn (above 1 = cusnn faster; tie: inside the spread); mJ: energy per inference',
    '',
    alignedTable(header, rows, align),
  ];
  const failed = r.runs.filter((m) => failure(m) !== undefined);
  if (failed.length > 0) {
    out.push('', `failed (${failed.length}):`);
    for (const m of failed) out.push(`  ${runLabel(m, false)}: ${failure(m)!.replace(/\s*\n\s*/g, ' ')}`);
  }
  const noEnergy = r.runs.flatMap((m) => m.engines.filter((e) => e.energy === null).map((e) => `${runLabel(m, false)} ${ENGINE_SHORT[e.engine]}${e.energyNote ? ` (${e.energyNote})` : ''}`));
  if (noEnergy.length > 0) out.push('', `no energy measurement: ${noEnergy.join('; ')}`);
  // Optional per-run notes from the bench (filled tensors, repeated inputs, ...), when the file has them.
  const notes = r.runs.flatMap((m) => ((m as { notes?: readonly string[] }).notes ?? []).map((s) => `  ${runLabel(m, false)}: ${s.replace(/\s*\n\s*/g, ' ')}`));
  if (notes.length > 0) out.push('', 'notes:', ...notes);
  return out.join('\n');
}
