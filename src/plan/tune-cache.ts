// The tune cache ("cusnn-tune/1"): winners of `cusnn-gen tune`'s measured search, one entry per
// (GPU model as the device reports it, problem shape incl. bias/ReLU, input-zeros bucket, batch,
// and, for pruned weights, the digest of the layer's nonzero structure: what wins on one pruned
// weight file says nothing of another's layer, so an entry decides only a layer of that structure).
// The planner reads it (PlanOptions.tuned): a matching entry decides its conv's tiles; an entry
// of another GPU model never does, because a measurement decides a layer only on the GPU model it
// was taken on. Each entry also keeps the heuristic's pick and every layer's times, so "the
// heuristic lands within 10% of the searched best" can be computed from the file alone.
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { ARCH_NAMES, isArchName, type ArchName } from '../arch/profiles.js';
import type { KernelTiles } from '../families/registry.js';
import type { StructureLookup } from '../families/wsparse/structure.js';
import type { WeightPattern } from '../sparsity/types.js';
import { PATTERN_TOLERANCE } from '../sparsity/weights.js';
import type { MeasuredCandidate, MeasuredTime } from './measured-choice.js';
import { checkSchema, SchemaError } from '../schema/check.js';
import { TUNE_FORMAT, TuneCacheSchema } from '../schema/tune-cache.js';
import type { ConvProblem } from './types.js';

export { TUNE_FORMAT };

/** The problem of one conv as the kernel families see it (per batch item). */
export type TuneShape = ConvProblem;

export const TUNE_SHAPE_INTS = ['c', 'h', 'w', 'k', 'r', 's', 'strideH', 'strideW', 'padTop', 'padLeft', 'ho', 'wo'] as const;

export interface TunedPick {
  readonly kernel: string;
  readonly tiles: KernelTiles;
  /** Median time (CUDA-graph replays), mean over the entry's layers; null: it failed the check against cuDNN. */
  readonly us: number | null;
}

/** One layer the entry was measured on. */
export interface TunedLayer {
  readonly model: string;
  readonly layer: string;
  /** The fraction of zeros in the input it was timed on. */
  readonly zeros: number;
  /** The searched best on this layer alone, the heuristic's pick (null: failed the check) and cuDNN. */
  readonly bestUs: number;
  readonly heuristicUs: number | null;
  readonly cudnnUs: number;
}

export interface TuneEntry {
  readonly gpu: string;
  /** The architecture the kernels were compiled for: an entry decides only plans for it. */
  readonly arch: ArchName;
  readonly shape: TuneShape;
  /** Input zeros rounded down to 10% (0, 10, ..., 100). */
  readonly bucket: number;
  readonly batch: number;
  /** The candidate with the lowest mean time over the layers (correct on all of them). */
  readonly best: TunedPick & { readonly us: number };
  /** What the planner's heuristic picks without the cache (null: no family's rule serves the shape). */
  readonly heuristic: TunedPick | null;
  /** cuDNN's fastest algorithm, mean over the layers. */
  readonly cudnnUs: number;
  /** Candidates timed, and those discarded (output off cuDNN's by more than the tolerance, or failed to run). */
  readonly candidates: number;
  readonly discarded: number;
  /** 'images': real activations; 'random': seeded random inputs at the layer's zero fraction. */
  readonly inputs: 'images' | 'random';
  readonly iters: number;
  readonly layers: readonly TunedLayer[];
  /**
   * The digest of the layers' weight structure where they are pruned (weightsDigest); part of the
   * key. Absent: dense weights (and entries written before the digest was recorded).
   */
  readonly weights?: string;
  /**
   * Every candidate (family, kernel, tiles; median and spread, means over the layers) and cuDNN's
   * fastest algorithm: the planner decides from these by src/plan/measured-choice.ts. Absent in
   * entries written before: `best` against `cudnnUs` by the margin, without spreads.
   */
  readonly measured?: TunedMeasurements;
}

export interface TunedMeasurements {
  readonly cudnn: MeasuredTime & { readonly algo: string | null };
  readonly candidates: readonly MeasuredCandidate[];
}

export interface TuneCache {
  readonly format: typeof TUNE_FORMAT;
  readonly entries: Readonly<Record<string, TuneEntry>>;
}

/** The bucket of a zero fraction: rounded down to 10% (the epsilon keeps 0.7 in bucket 70). */
export function bucketOf(zeros: number): number {
  return Math.min(100, Math.max(0, Math.floor(zeros * 10 + 1e-9) * 10));
}

/** The shape in words, as it appears in keys: "3x3/1x1 pad 1,1 c256 14x14 -> k256 14x14 bias relu". */
export function shapeWords(s: TuneShape): string {
  return `${s.r}x${s.s}/${s.strideH}x${s.strideW} pad ${s.padTop},${s.padLeft} c${s.c} ${s.h}x${s.w} -> k${s.k} ${s.ho}x${s.wo}` +
    `${s.bias ? ' bias' : ''}${s.relu ? ' relu' : ''}`;
}

/** The key; `weights` (a structure digest, for pruned weights) appended, so dense keys read as before. */
export function tuneKey(gpu: string, shape: TuneShape, bucket: number, batch: number, weights: string | null = null): string {
  return `${gpu} | ${shapeWords(shape)} | zeros ${bucket}% | batch ${batch}${weights === null ? '' : ` | weights ${weights}`}`;
}

export const keyOf = (e: Pick<TuneEntry, 'gpu' | 'shape' | 'bucket' | 'batch' | 'weights'>): string => tuneKey(e.gpu, e.shape, e.bucket, e.batch, e.weights ?? null);

/**
 * Pruned weights: a pattern other than dense (a profile rebuilt without the pattern: at least
 * PATTERN_TOLERANCE zeros). Measurements of such a layer hold for its nonzero structure only.
 */
export function isPruned(w: Pick<WeightPattern, 'pattern' | 'sparsity'>): boolean {
  return w.pattern !== undefined ? w.pattern !== 'dense' : w.sparsity >= PATTERN_TOLERANCE;
}

/**
 * What keys a layer's measurements by its weights: null for dense weights (the candidates' times
 * do not depend on them), else the digest of its nonzero structure, 'unknown' where the weights are
 * pruned but their structure was not given (matches no entry: no measurement of other weights decides).
 */
export function weightsDigest(w: Pick<WeightPattern, 'pattern' | 'sparsity'>, layer: string, structures: StructureLookup | undefined): string | null {
  if (!isPruned(w)) return null;
  return structures?.(layer)?.digest ?? 'unknown';
}

/** The shape fields of a problem (drops family, arch and tiles). */
export function shapeOf(p: TuneShape): TuneShape {
  return { c: p.c, h: p.h, w: p.w, k: p.k, r: p.r, s: p.s, strideH: p.strideH, strideW: p.strideW, padTop: p.padTop, padLeft: p.padLeft,
    ho: p.ho, wo: p.wo, bias: p.bias, relu: p.relu };
}

const sameShape = (a: TuneShape, b: TuneShape): boolean =>
  TUNE_SHAPE_INTS.every((f) => a[f] === b[f]) && a.bias === b.bias && a.relu === b.relu;

export const emptyTuneCache = (): TuneCache => ({ format: TUNE_FORMAT, entries: {} });

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * Checks parsed JSON as a tune cache against its schema (src/schema/tune-cache.ts, tiles of every
 * family); errors are one line naming the file and the entry's key: `tune cache <file>: entry
 * '<key>': best.tiles.bn: expected an integer >= 1, found nothing (the field is absent)`.
 */
export function validateTuneCache(raw: unknown, file: string): TuneCache {
  const label = `tune cache ${file}`;
  if (!isObj(raw)) throw new SchemaError(`${label}: not a JSON object`);
  if (raw.format !== TUNE_FORMAT) throw new SchemaError(`${label}: expected "format": "${TUNE_FORMAT}", got ${JSON.stringify(raw.format)}`);
  if (!isObj(raw.entries)) throw new SchemaError(`${label}: "entries" must be an object keyed by (gpu | shape | zeros bucket | batch)`);
  const keys = Object.keys(raw.entries).sort((x, y) => y.length - x.length);
  const cache = checkSchema(TuneCacheSchema, raw, label, (field) => {
    const key = keys.find((k) => field === `entries.${k}` || field.startsWith(`entries.${k}.`));
    return key === undefined ? field : `entry '${key}'${field.length > `entries.${key}`.length ? `: ${field.slice(`entries.${key}.`.length)}` : ''}`;
  });
  // What the schema cannot say: an arch this version knows, and a key made of the entry's own fields.
  for (const [key, e] of Object.entries(cache.entries)) {
    if (!isArchName(e.arch)) throw new SchemaError(`${label}: entry '${key}': arch: expected an architecture cusnn knows (${ARCH_NAMES.join(', ')}), found ${JSON.stringify(e.arch)}`);
    const want = keyOf(e);
    if (key !== want) throw new SchemaError(`${label}: entry '${key}': the key does not match the entry's gpu, shape, bucket, batch and weights (they give '${want}')`);
    // The family re-emits the kernel through its tiles: the two must name the same one.
    e.measured?.candidates.forEach((c, i) => {
      const tf = c.tiles.family ?? 'act-sparse';
      if (c.family !== tf) throw new SchemaError(`${label}: entry '${key}': measured.candidates[${i}].family: '${c.family}' but its tiles are of '${tf}'`);
    });
  }
  return cache as TuneCache;
}

export function readTuneCache(file: string): TuneCache {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8')) as unknown;
  } catch (e) {
    throw new Error(`tune cache ${file}: cannot read (${(e as Error).message.split('\n')[0]})`);
  }
  return validateTuneCache(raw, file);
}

/** Writes the cache with its keys sorted (stable diffs), through a temporary file so a crash leaves the old one. */
export function writeTuneCache(file: string, cache: TuneCache): void {
  const entries = Object.fromEntries(Object.keys(cache.entries).sort().map((k) => [k, cache.entries[k]!]));
  validateTuneCache({ format: cache.format, entries }, file);
  const tmp = `${file}.tmp-${process.pid}`;
  writeFileSync(tmp, `${JSON.stringify({ format: TUNE_FORMAT, entries }, null, 2)}\n`);
  renameSync(tmp, file);
}

/** `cache` with `entries` added; an entry of the same key is replaced (the newest measurement wins). */
export function mergeTuneCache(cache: TuneCache, entries: readonly TuneEntry[]): { cache: TuneCache; replaced: string[] } {
  const out: Record<string, TuneEntry> = { ...cache.entries };
  const replaced: string[] = [];
  for (const e of entries) {
    const k = keyOf(e);
    if (out[k]) replaced.push(k);
    out[k] = e;
  }
  return { cache: { format: TUNE_FORMAT, entries: out }, replaced };
}

export interface TunedLookup {
  /** The entry that decides this conv, if any. */
  readonly entry: TuneEntry | null;
  readonly key: string;
  /** Why entries for this shape, bucket and batch were not used (another GPU model or arch), in words; null when none. */
  readonly ignored: string | null;
  /** When the entry is of another zeros bucket (a weight-sparse winner, see findTuned): why it still applies. */
  readonly note?: string;
}

/**
 * Families whose time does not depend on the input's zeros: wsparse and wstage read every input value their nonzero
 * weights touch; wino transforms every input patch and igemm multiplies every input value (dense, they skip nothing).
 */
const ZEROS_BLIND = new Set(['wsparse', 'wstage', 'wino', 'igemm']);
/** The zeros-blind families that serve dense layers. */
const DENSE_BLIND = new Set(['wino', 'igemm']);
/**
 * How far (in zeros buckets' percent) an entry of a wino or igemm winner (the zeros-blind families that serve dense
 * layers) reaches: one bucket, for dense and pruned layers alike, since far from its bucket a zero-skipping family
 * (dconv, pxg, dual) may win instead. A pruned layer's wsparse or wstage winner reaches any bucket (its structure
 * digest already ties the entry to that layer, and at those sparsities the dense families lose).
 */
const DENSE_BLIND_REACH = 10;

/** The cache entry for a conv on `gpu` / `arch` at `zeros` input zeros and `batch`, of weights `weights` (weightsDigest). */
export function findTuned(cache: TuneCache, gpu: string, arch: ArchName, shape: TuneShape, zeros: number, batch: number, weights: string | null = null): TunedLookup {
  const bucket = bucketOf(zeros);
  const key = tuneKey(gpu, shape, bucket, batch, weights);
  const hit = cache.entries[key];
  if (hit && hit.arch === arch) return { entry: hit, key, ignored: null };
  // A pruned layer's entry of another zeros bucket still decides it when its winner is weight-sparse:
  // that kernel's time and cuDNN's do not depend on the input zeros, so a layer whose measured zeros
  // fall just across a bucket edge from tune's keeps the measured pick (run 18: VGG-16 block5_conv2
  // at 89.8% zeros lost its tuned tile, 42 -> 61 us, to an edge between calibration images). A dense layer's entry
  // of a wino winner does too, from the next bucket only (run 65: ResNet-50's conv3_block1_2_conv, 49.7% zeros in
  // the bench against tune's 51%, lost its 1.31x wino kernel to the heuristic's tile and stayed on cuDNN). igemm's
  // winners too: at batch 8 they serve most 1x1 convs, and ResNet-152 takes ResNet-50's entries by shape at zeros of
  // its own.
  if (!hit) {
    const blind = Object.values(cache.entries)
      .filter((e) => e.gpu === gpu && e.arch === arch && e.batch === batch && (e.weights ?? null) === weights && sameShape(e.shape, shape) && ZEROS_BLIND.has(e.best.tiles.family ?? 'act-sparse'))
      .filter((e) => (DENSE_BLIND.has(e.best.tiles.family ?? 'act-sparse') ? Math.abs(e.bucket - bucket) <= DENSE_BLIND_REACH : weights !== null))
      .sort((a, b) => Math.abs(a.bucket - bucket) - Math.abs(b.bucket - bucket) || a.bucket - b.bucket);
    const e = blind[0];
    if (e) {
      return { entry: e, key: keyOf(e), ignored: null,
        note: `tuned at ${e.bucket}% zeros, this layer has ${bucket}%: its winner is ${e.best.tiles.family}, whose time (and cuDNN's) does not depend on the input zeros` };
    }
  }
  const near = Object.values(cache.entries).filter((e) => e.bucket === bucket && e.batch === batch && sameShape(e.shape, shape));
  const others = near.filter((e) => e.gpu !== gpu && (e.weights ?? null) === weights);
  const otherWeights = near.filter((e) => e.gpu === gpu && e.arch === arch && (e.weights ?? null) !== weights);
  const notes: string[] = [];
  if (hit) notes.push(`tuned on ${gpu} for ${hit.arch}, not ${arch}: ignored`);
  if (others.length > 0) {
    notes.push(`tuned on ${[...new Set(others.map((e) => e.gpu))].join(', ')}, not ${gpu}: ignored (a measurement decides a layer only on the GPU model it was taken on)`);
  }
  if (otherWeights.length > 0) {
    const words = (d: string | null | undefined): string => (d == null ? 'dense weights' : `weight structure ${d}`);
    notes.push(`tuned for ${[...new Set(otherWeights.map((e) => words(e.weights)))].join(', ')}, not ${words(weights)}: ignored ` +
      '(a measurement on one pruned weight file does not decide a layer of another)');
  }
  return { entry: null, key, ignored: notes.length ? notes.join('; ') : null };
}

/** The heuristic is "within 10%" on a layer when its pick passed the check and took at most 1.1x the searched best there. */
export const HEURISTIC_TOLERANCE = 1.1;

export interface HeuristicSummary {
  readonly layers: number;
  readonly within: number;
  readonly fraction: number;
  /** Layers outside, worst first: heuristic / best. */
  readonly worst: readonly { readonly model: string; readonly layer: string; readonly key: string; readonly ratio: number | null }[];
}

/** Over every layer of the entries (optionally of one GPU model and some models): how often the heuristic is within 10%. */
export function heuristicSummary(entries: Readonly<Record<string, TuneEntry>>, o: { gpu?: string; models?: readonly string[] } = {}): HeuristicSummary {
  let layers = 0;
  let within = 0;
  const worst: { model: string; layer: string; key: string; ratio: number | null }[] = [];
  for (const [key, e] of Object.entries(entries)) {
    if (o.gpu !== undefined && e.gpu !== o.gpu) continue;
    for (const l of e.layers) {
      if (o.models && !o.models.includes(l.model)) continue;
      layers++;
      const ratio = l.heuristicUs === null ? null : l.heuristicUs / l.bestUs;
      if (ratio !== null && ratio <= HEURISTIC_TOLERANCE) within++;
      else worst.push({ model: l.model, layer: l.layer, key, ratio });
    }
  }
  // A failed heuristic pick (ratio null) sorts first: it is the worst outcome.
  worst.sort((a, b) => (b.ratio ?? Number.MAX_VALUE) - (a.ratio ?? Number.MAX_VALUE));
  return { layers, within, fraction: layers ? within / layers : 0, worst };
}

/**
 * An entry's measurements as the planner decides from them: `measured` where the entry has it;
 * for an entry written before, its best candidate and cuDNN without spreads (p10 = p90 = median),
 * which the measured choice decides exactly as the planner did then (best * margin < cuDNN).
 */
export function tunedMeasurements(e: TuneEntry): TunedMeasurements {
  if (e.measured) return e.measured;
  const b = e.best;
  return {
    cudnn: { us: e.cudnnUs, p10Us: e.cudnnUs, p90Us: e.cudnnUs, algo: null },
    candidates: [{ family: b.tiles.family ?? 'act-sparse', kernel: b.kernel, tiles: b.tiles, us: b.us, p10Us: b.us, p90Us: b.us, discarded: null }],
  };
}
