// results.json as two CSV tables (RFC 4180 quoting, LF line ends, header row first):
// - networks: one row per (model, batch, engine); a model with no engine results (it failed
//   before timing) still gets one row, with an empty engine and its error, so no run disappears;
// - layers: one row per (model, batch, layer) with every LayerResult field (the spreads and the
//   decision flattened into columns of their own); a cuDNN-path layer's speedup is 'n/a' (both
//   engines run cuDNN there: no speedup to claim).
// Numbers are written with String(n) (the shortest text that reads back as the same double);
// null and absent values are empty cells.
// Results that record weight sparsity (benches since pruned runs, `bench --prune`) get the run's
// weights variant in both tables (pruneSparsity and prunePattern, empty for the weights as given)
// and its measured fraction of zero conv weights in the networks table (weightSparsity; each
// layer's own is in the layers table already); older files give the same tables as before.
import type { BenchResults, EngineResult, LayerResult, ModelResult } from './results.js';
import { recordsWeightSparsity } from './table.js';

export type CsvCell = string | number | boolean | null | undefined;

/** One CSV field, quoted when it holds a comma, a quote, a line break or edge spaces. */
export function csvField(v: CsvCell): string {
  if (v === null || v === undefined) return '';
  const s = typeof v === 'string' ? v : String(v);
  return /[",\r\n]|^\s|\s$/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

export function toCsv(header: readonly string[], rows: readonly (readonly CsvCell[])[]): string {
  const line = (cells: readonly CsvCell[]): string => cells.map(csvField).join(',');
  return [line(header), ...rows.map(line)].map((l) => `${l}\n`).join('');
}

/** Parses RFC 4180 CSV (quoted fields may hold commas, quotes and line breaks) into rows of strings. */
export function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let quoted = false;
  let i = 0;
  while (i < text.length) {
    const ch = text[i]!;
    if (quoted) {
      if (ch === '"') {
        if (text[i + 1] === '"') { field += '"'; i += 2; continue; }
        quoted = false;
      } else field += ch;
      i++;
      continue;
    }
    if (ch === '"') quoted = true;
    else if (ch === ',') { row.push(field); field = ''; }
    else if (ch === '\n' || ch === '\r') {
      if (ch === '\r' && text[i + 1] === '\n') i++;
      row.push(field); rows.push(row); row = []; field = '';
    } else field += ch;
    i++;
  }
  if (quoted) throw new Error('CSV ends inside a quoted field');
  if (field !== '' || row.length > 0) { row.push(field); rows.push(row); }
  return rows;
}

/** Every LayerResult field, in the interface's order (the compiler checks that none is missing). */
export const LAYER_FIELDS = [
  'layer', 'c', 'h', 'w', 'k', 'r', 's', 'stride', 'inputSparsity', 'weightSparsity', 'flops', 'usefulFlops',
  'minBytes', 'path', 'kernel', 'cudnnAlgo', 'cusnnUs', 'cudnnUs', 'cusnnSpreadUs', 'cudnnSpreadUs', 'speedup', 'verdict', 'decision',
  'cusnnGflops', 'cudnnGflops', 'floorUs', 'achievedFraction',
] as const satisfies readonly (keyof LayerResult)[];

/** The fields that are objects, and the columns each becomes. */
const FLATTENED = {
  cusnnSpreadUs: ['cusnnP10Us', 'cusnnP90Us'],
  cudnnSpreadUs: ['cudnnP10Us', 'cudnnP90Us'],
  decision: ['decisionActSparseUs', 'decisionCudnnUs', 'decisionVerdict', 'decisionReason'],
} as const satisfies Partial<Record<(typeof LAYER_FIELDS)[number], readonly string[]>>;
type Flattened = keyof typeof FLATTENED;
const isFlattened = (f: string): f is Flattened => Object.hasOwn(FLATTENED, f);

/** The layer table's columns after model, batch, weights: LAYER_FIELDS with the objects flattened. */
export const LAYER_CSV_FIELDS: readonly string[] = LAYER_FIELDS.flatMap((f): readonly string[] => (isFlattened(f) ? FLATTENED[f] : [f]));

/** A cuDNN-path layer's speedup in the CSV. */
export const NOT_APPLICABLE = 'n/a';

function layerCells(l: LayerResult): CsvCell[] {
  return LAYER_FIELDS.flatMap((f): CsvCell[] => {
    switch (f) {
      case 'cusnnSpreadUs':
      case 'cudnnSpreadUs': {
        const sp = l[f];
        return [sp?.lo, sp?.hi];
      }
      case 'decision': {
        const d = l.decision;
        return [d?.actSparseUs, d?.cudnnUs, d?.verdict, d?.reason];
      }
      case 'speedup':
        return [l.speedup ?? (l.path === 'cudnn' ? NOT_APPLICABLE : null)];
      default:
        return [l[f]];
    }
  });
}
type MissingLayerField = Exclude<keyof LayerResult, (typeof LAYER_FIELDS)[number]>;
/** Fails to compile when LayerResult gains a field that LAYER_FIELDS does not list. */
export const LAYER_FIELDS_COMPLETE: [MissingLayerField] extends [never] ? true : MissingLayerField = true;

export const NETWORK_COLUMNS = [
  'model', 'batch', 'weights', 'weightsSource', 'inputs', 'engine',
  'medianUs', 'p10Us', 'p90Us', 'iters', 'rounds', 'roundMinUs', 'roundMaxUs',
  'mJPerInference', 'energyRounds', 'minMJ', 'maxMJ', 'avgPowerW', 'idlePowerW', 'preWindowPowerW', 'energyWindowSeconds', 'energyInferences', 'energyNote',
  'maxRelError', 'tolerance', 'topAgree', 'checkedInputs', 'correct',
  'sparseLayers', 'convLayers', 'seconds', 'error',
] as const;

export const LAYER_COLUMNS: readonly string[] = ['model', 'batch', 'weights', ...LAYER_CSV_FIELDS];

/** The run's weights variant and weight sparsity: in the networks table after weightsSource, in the layers table (without weightSparsity) after weights. */
export const PRUNE_NETWORK_COLUMNS = ['pruneSparsity', 'prunePattern', 'weightSparsity'] as const;
export const PRUNE_LAYER_COLUMNS = ['pruneSparsity', 'prunePattern'] as const;

const insertAfter = (cols: readonly string[], after: string, extra: readonly string[]): string[] => {
  const i = cols.indexOf(after) + 1;
  return [...cols.slice(0, i), ...extra, ...cols.slice(i)];
};

/** The networks table's columns for these results (NETWORK_COLUMNS, plus PRUNE_NETWORK_COLUMNS when they record weight sparsity). */
export const networkColumns = (r: Pick<BenchResults, 'runs'>): readonly string[] =>
  (recordsWeightSparsity(r) ? insertAfter(NETWORK_COLUMNS, 'weightsSource', PRUNE_NETWORK_COLUMNS) : NETWORK_COLUMNS);

/** The layers table's columns for these results (LAYER_COLUMNS, plus PRUNE_LAYER_COLUMNS when they record weight sparsity). */
export const layerColumns = (r: Pick<BenchResults, 'runs'>): readonly string[] =>
  (recordsWeightSparsity(r) ? insertAfter(LAYER_COLUMNS, 'weights', PRUNE_LAYER_COLUMNS) : LAYER_COLUMNS);

const pruneCells = (m: ModelResult): CsvCell[] => [m.prune?.sparsity, m.prune?.pattern];

function networkRow(m: ModelResult, e: EngineResult | null, ws: boolean): CsvCell[] {
  const c = m.correctness;
  return [
    m.model, m.batch, m.weights, m.weightsSource, ...(ws ? [...pruneCells(m), m.weightSparsity] : []), m.inputs, e?.engine ?? '',
    e?.time.medianUs, e?.time.p10Us, e?.time.p90Us, e?.time.iters, e?.time.rounds, e?.time.roundMinUs, e?.time.roundMaxUs,
    e?.energy?.mJPerInference, e?.energy?.rounds, e?.energy?.minMJ, e?.energy?.maxMJ, e?.energy?.avgPowerW, e?.energy?.idlePowerW, e?.energy?.preWindowPowerW, e?.energy?.windowSeconds, e?.energy?.inferences, e?.energyNote,
    e ? c.maxRelError[e.engine] : undefined, c.tolerance, c.topAgree, c.inputs, c.passed,
    m.sparseLayers, m.convLayers, m.seconds, m.error,
  ];
}

export function resultsToCsv(r: BenchResults): { networks: string; layers: string } {
  const ws = recordsWeightSparsity(r);
  const networks = r.runs.flatMap((m) => (m.engines.length > 0 ? m.engines.map((e) => networkRow(m, e, ws)) : [networkRow(m, null, ws)]));
  const layers = r.runs.flatMap((m) => m.layers.map((l): CsvCell[] => [m.model, m.batch, m.weights, ...(ws ? pruneCells(m) : []), ...layerCells(l)]));
  return { networks: toCsv(networkColumns(r), networks), layers: toCsv(layerColumns(r), layers) };
}
