// The measured choice of one conv: every candidate kernel timed for it (`cusnn-gen tune`: the
// candidates of every family in src/families/registry.ts that serves the layer; `calibrate`: the
// folder's kernel) against cuDNN's fastest algorithm, by the rule the bench decides with
// (src/bench/measure.ts decideLayers): a generated kernel is kept only where it is faster outside
// both spreads (p10-p90 of the replays, src/bench/stats.ts compare) and by MEASURED_MARGIN; a tie
// keeps cuDNN. Between generated kernels the same rule breaks ties: the fastest displaces another
// only outside the spread and by the margin; otherwise the kernel of the family earlier in the
// registry's order of preference (familiesFor, then act-sparse, the planner's baseline) is kept, as
// the cost-model planner would prefer it, so noise alone never moves a layer to another family.
// A family registered later joins this choice with no change here (an unknown one ranks last).
import type { ArchName } from '../arch/profiles.js';
import { compare, type Measured } from '../bench/stats.js';
import { familiesFor, type KernelTiles } from '../families/registry.js';
import type { MeasuredDecision, MeasuredKernelTime } from './types.js';

/** The measured generated kernel must beat cuDNN (and a rival kernel) by this factor: below it, a tie within noise. */
export const MEASURED_MARGIN = 1.03;

/** A median with its spread (p10-p90 of the timed replays), microseconds. */
export interface MeasuredTime {
  readonly us: number;
  readonly p10Us: number;
  readonly p90Us: number;
}

/** One candidate as measured, with what re-emits it (family and tiles); `us` null: discarded. */
export interface MeasuredCandidate {
  /** The tiles' family (a string, so a family registered later reads back without a schema of its own here). */
  readonly family: string;
  readonly kernel: string;
  readonly tiles: KernelTiles;
  readonly us: number | null;
  readonly p10Us: number | null;
  readonly p90Us: number | null;
  /** Why it was discarded (failed the check against cuDNN, or did not run); null when kept. */
  readonly discarded: string | null;
}

type Timed = MeasuredCandidate & { readonly us: number };

export interface MeasuredChoice {
  /** The generated kernel the rule keeps (the layer's kernel when `beatsCudnn`, or when forced); null: none passed. */
  readonly generated: Timed | null;
  /** The fastest candidate by median. */
  readonly fastest: Timed | null;
  readonly beatsCudnn: boolean;
  /** The decision in words, with the figures. */
  readonly why: string;
}

/** Families in the order ties are broken: the registry's order of preference for `arch`, then act-sparse. */
export function familyOrder(arch: ArchName): readonly string[] {
  return [...familiesFor(arch).map((f) => f.family), 'act-sparse'];
}

const measured = (t: MeasuredTime): Measured => ({ value: t.us, lo: t.p10Us, hi: t.p90Us });
const timeOf = (c: Timed): MeasuredTime => ({ us: c.us, p10Us: c.p10Us ?? c.us, p90Us: c.p90Us ?? c.us });
/** `a` is faster than `b` outside both spreads and by the margin. */
const beats = (a: MeasuredTime, b: MeasuredTime): boolean => compare(measured(a), measured(b)) === 'faster' && a.us * MEASURED_MARGIN < b.us;

const f1 = (x: number): string => x.toFixed(1);
const spreadText = (t: MeasuredTime): string => `${f1(t.us)} us (p10-p90 ${f1(t.p10Us)}-${f1(t.p90Us)})`;

/** The choice among `candidates` and cuDNN (see the file comment). */
export function chooseMeasured(candidates: readonly MeasuredCandidate[], cudnn: MeasuredTime & { readonly algo?: string | null }, arch: ArchName): MeasuredChoice {
  const order = familyOrder(arch);
  const rank = (f: string): number => (order.includes(f) ? order.indexOf(f) : order.length);
  const ok = candidates.filter((c): c is Timed => c.us !== null)
    .sort((a, b) => a.us - b.us || rank(a.family) - rank(b.family) || (a.kernel < b.kernel ? -1 : a.kernel > b.kernel ? 1 : 0));
  const cudnnText = `cuDNN${cudnn.algo ? ` (${cudnn.algo})` : ''} ${spreadText(cudnn)}`;
  const fastest = ok[0];
  if (!fastest) {
    return { generated: null, fastest: null, beatsCudnn: false, why: `none of the ${candidates.length} candidates passed the check against cuDNN: cuDNN kept (${cudnnText})` };
  }
  const fTime = timeOf(fastest);
  const fastWins = beats(fTime, cudnn);
  // Kernels the fastest does not beat (a tie within the spread or the margin); when the fastest
  // beats cuDNN, only those that beat cuDNN as well may take its place.
  const pool = ok.filter((c) => c === fastest || (!beats(fTime, timeOf(c)) && (!fastWins || beats(timeOf(c), cudnn))));
  const kept = [...pool].sort((a, b) => rank(a.family) - rank(b.family) || a.us - b.us)[0]!;
  const n = `${ok.length} of ${candidates.length} candidates passed the check`;
  const fText = `${fastest.family} ${fastest.kernel} ${spreadText(fTime)}`;
  const vs = `fastest ${fText} vs ${cudnnText} (${(cudnn.us / fastest.us).toFixed(2)}x)`;
  const tieWords = kept === fastest ? '' :
    `; ${kept.family} ${kept.kernel} ${spreadText(timeOf(kept))} is within the fastest's spread or the ${MEASURED_MARGIN}x margin and its family comes first ` +
    `in the order of preference (${order.join(', ')}): it is kept`;
  if (fastWins) {
    return { generated: kept, fastest, beatsCudnn: true, why: `${n}; ${vs}: faster outside the spread and by more than the ${MEASURED_MARGIN}x margin${tieWords}` };
  }
  const verdict = compare(measured(fTime), measured(cudnn));
  const lost = verdict === 'tie' ? 'a tie within the spread: cuDNN kept' : verdict === 'faster' ? `faster by less than the ${MEASURED_MARGIN}x margin: cuDNN kept` : 'slower: cuDNN kept';
  return { generated: kept, fastest, beatsCudnn: false, why: `${n}; ${vs}: ${lost}` };
}

/** The plan's record of a measured decision: every candidate (fastest first, discarded last), cuDNN, the winner and why. */
export function decisionRecord(source: MeasuredDecision['source'], gpu: string, candidates: readonly MeasuredCandidate[],
  cudnn: MeasuredTime & { readonly algo?: string | null }, choice: MeasuredChoice, winner: 'cudnn' | 'generated'): MeasuredDecision {
  const list: MeasuredKernelTime[] = [...candidates]
    .sort((a, b) => (a.us ?? Number.MAX_VALUE) - (b.us ?? Number.MAX_VALUE) || (a.kernel < b.kernel ? -1 : 1))
    .map((c) => ({ family: c.family, kernel: c.kernel, us: c.us, p10Us: c.p10Us, p90Us: c.p90Us, ...(c.discarded ? { discarded: c.discarded } : {}) }));
  return {
    source, gpu, cudnn: { us: cudnn.us, p10Us: cudnn.p10Us, p90Us: cudnn.p90Us, algo: cudnn.algo ?? null }, candidates: list,
    winner: winner === 'generated' && choice.generated ? choice.generated.kernel : 'cudnn', why: choice.why,
  };
}

/**
 * A measured decision in lines for a reader (report.md, inspect): the winner and why, then cuDNN and
 * the fastest kernel of each family measured, then how many were discarded.
 */
export function measuredLines(m: MeasuredDecision): string[] {
  const t = (x: { us: number | null; p10Us: number | null; p90Us: number | null }): string =>
    x.us === null ? 'discarded' : spreadText({ us: x.us, p10Us: x.p10Us ?? x.us, p90Us: x.p90Us ?? x.us });
  const perFamily = new Map<string, MeasuredKernelTime>();
  for (const c of m.candidates) if (c.us !== null && !perFamily.has(c.family)) perFamily.set(c.family, c);
  const discarded = m.candidates.filter((c) => c.us === null);
  return [
    `winner: ${m.winner === 'cudnn' ? 'cuDNN' : m.winner} (${m.source} on ${m.gpu}): ${m.why}`,
    `cuDNN${m.cudnn.algo ? ` ${m.cudnn.algo}` : ''}: ${t(m.cudnn)}`,
    ...[...perFamily.values()].map((c) => `${c.family} (fastest of ${m.candidates.filter((x) => x.family === c.family && x.us !== null).length}): ${c.kernel} ${t(c)}`),
    ...(discarded.length ? [`discarded ${discarded.length}: ${discarded.slice(0, 3).map((c) => `${c.kernel} (${c.discarded ?? 'no time'})`).join('; ')}${discarded.length > 3 ? '; ...' : ''}`] : []),
  ];
}
