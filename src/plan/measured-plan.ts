// What a measurement says about one conv, as the planner uses it: a tune cache entry (every
// candidate of every family measured, src/runtime/tune-search.ts) or a layer's calibration times
// (the folder's kernel against cuDNN, src/runtime/tune.ts), both decided by one rule
// (./measured-choice.ts) and both recorded in the plan (ConvPlan.measured) with what was measured;
// and the weight facts that key a measurement (ConvPlan.weightPattern, calibration times per structure).
import type { ArchName } from '../arch/profiles.js';
import type { KernelTiles } from '../families/registry.js';
import type { StructureLookup } from '../families/wsparse/structure.js';
import type { Graph } from '../model/ir.js';
import type { SparsityProfile, WeightPattern } from '../sparsity/types.js';
import { chooseMeasured, decisionRecord, type MeasuredCandidate, type MeasuredChoice, type MeasuredTime } from './measured-choice.js';
import type { MeasuredConv, PlanOptions } from './planner.js';
import { tunedMeasurements, weightsDigest, type TuneEntry } from './tune-cache.js';
import type { ConvWeightFacts, MeasuredDecision } from './types.js';

export interface MeasuredOutcome {
  /** The generated kernel the rule keeps (its tiles re-emit it) and its measured median; null: no candidate passed. */
  readonly kept: { readonly tiles: KernelTiles; readonly us: number } | null;
  /** The kernel beat cuDNN outside the spread and by the margin. */
  readonly beatsCudnn: boolean;
  /** The measurement in words, for the reason. */
  readonly text: string;
  /** ConvPlan.measured, for the given final path. */
  readonly record: (path: 'cudnn' | 'generated') => MeasuredDecision;
}

const us = (x: number): string => `${x.toFixed(1)} us`;

function outcome(choice: MeasuredChoice, text: string, record: MeasuredOutcome['record']): MeasuredOutcome {
  const g = choice.generated;
  return { kept: g ? { tiles: g.tiles, us: g.us } : null, beatsCudnn: choice.beatsCudnn, text, record };
}

/** A tune entry: the reason keeps the entry's summary (best of N, the heuristic's figure) and adds the rule's words. */
export function tunedOutcome(e: TuneEntry, arch: ArchName): MeasuredOutcome {
  const m = tunedMeasurements(e);
  const choice = chooseMeasured(m.candidates, m.cudnn, arch);
  const b = e.bucket;
  const heur = e.heuristic === null ? 'no heuristic pick' : e.heuristic.us === null ? `heuristic ${e.heuristic.kernel} failed the check` :
    `heuristic ${us(e.heuristic.us)} (${(e.heuristic.us / e.best.us).toFixed(2)}x the best)`;
  const families = [...new Set(m.candidates.map((c) => c.family))].join(', ');
  const text = `tuned on ${e.gpu}: best of ${e.candidates} candidates ${us(e.best.us)} vs cuDNN ${us(e.cudnnUs)} (${(e.cudnnUs / e.best.us).toFixed(2)}x) ` +
    `at ${b}-${Math.min(100, b + 10)}% zeros, batch ${e.batch}${e.weights ? `, weight structure ${e.weights}` : ''}; ${heur}; families measured: ${families}; ${choice.why}`;
  return outcome(choice, text, (path) => decisionRecord('tune', e.gpu, m.candidates, m.cudnn, choice, path));
}

/** A layer's calibration times: the folder's one kernel against cuDNN (spreads where calibrate recorded them). */
export function calibratedOutcome(mi: MeasuredConv, arch: ArchName, zeros: number): MeasuredOutcome {
  const cand: MeasuredCandidate = {
    family: mi.tiles.family ?? 'act-sparse', kernel: mi.kernel, tiles: mi.tiles, us: mi.actSparseUs,
    p10Us: mi.actSparseP10Us ?? mi.actSparseUs, p90Us: mi.actSparseP90Us ?? mi.actSparseUs, discarded: null,
  };
  const cudnn: MeasuredTime & { algo: string | null } = { us: mi.cudnnUs, p10Us: mi.cudnnP10Us ?? mi.cudnnUs, p90Us: mi.cudnnP90Us ?? mi.cudnnUs, algo: mi.cudnnAlgo ?? null };
  const choice = chooseMeasured([cand], cudnn, arch);
  const text = `measured on ${mi.gpu}: generated ${us(mi.actSparseUs)} vs cuDNN ${us(mi.cudnnUs)} (${(mi.cudnnUs / mi.actSparseUs).toFixed(2)}x) at ${(100 * zeros).toFixed(0)}% zeros`;
  return outcome(choice, text, (path) => decisionRecord('calibration', mi.gpu, [cand], cudnn, choice, path));
}

/** ConvPlan.weightPattern where the profile found the weights pruned (inspect and report.md show it). */
export function weightFacts(w: WeightPattern, layer: string, structures: StructureLookup | undefined): { weightPattern?: ConvWeightFacts } {
  // Dense weights add nothing to say (every channel has C*R*S nonzeros): their plan.json stays as it was.
  if (w.pattern === undefined || w.pattern === 'dense') return {};
  const digest = weightsDigest(w, layer, structures);
  return { weightPattern: { pattern: w.pattern, density: 1 - w.sparsity, nnzPerOutChannel: w.nnzPerOutChannel, digest: digest === 'unknown' ? null : digest } };
}

/**
 * Calibration times decide a layer only for the weights they were measured with: dense weights
 * (no digest) or the same pruned structure. The others are dropped, each with the note its reason gets.
 */
export function measuredForWeights(graph: Graph, sp: SparsityProfile, o: PlanOptions): { measured: ReadonlyMap<string, MeasuredConv> | undefined; notes: Map<string, string> } {
  const notes = new Map<string, string>();
  if (!o.measured) return { measured: undefined, notes };
  const kept = new Map<string, MeasuredConv>();
  const words = (d: string | null): string => (d === null ? 'dense weights' : d === 'unknown' ? 'pruned weights of unknown structure' : `weight structure ${d}`);
  for (const [layer, m] of o.measured) {
    const facts = sp.convs.get(layer);
    const now = facts && graph.layers.some((l) => l.name === layer) ? weightsDigest(facts.weights, layer, o.weightStructure) : null;
    const then = m.weights ?? null;
    if (now === then) kept.set(layer, m);
    else notes.set(layer, `calibration times ignored: measured with ${words(then)}, these weights have ${words(now)} (a measurement on one weight file does not decide a layer of another)`);
  }
  return { measured: kept, notes };
}
