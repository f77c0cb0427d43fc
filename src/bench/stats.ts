// Aggregation of interleaved rounds and the comparison rule every table and chart uses. One rule
// in one place: a difference whose medians fall inside the other side's spread is a tie, not a
// speedup (the H100's ResNet-50 read 1.68 vs 1.67 ms and was printed as a 1.00x "result").
import type { EnergyStats, Spread, TimingStats, Verdict } from './results.js';

/** One round's timing as the addon returns it (timeForward / timeStep). */
export interface RoundTiming {
  readonly medianUs: number;
  readonly p10Us: number;
  readonly p90Us: number;
  readonly iters?: number;
}

/** Median of `xs` (mean of the two middle values for an even count); NaN for none. */
export function median(xs: readonly number[]): number {
  if (xs.length === 0) return Number.NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** Geometric mean of positive finite values (the others are ignored); undefined for none. */
export function geomean(xs: readonly number[]): number | undefined {
  const ok = xs.filter((x) => Number.isFinite(x) && x > 0);
  return ok.length === 0 ? undefined : Math.exp(ok.reduce((a, x) => a + Math.log(x), 0) / ok.length);
}

/**
 * Rounds to one TimingStats: the median of the rounds' medians (robust to one disturbed round),
 * the lowest p10 and highest p90 of any round as the spread (what a reader may see on another run).
 */
export function aggregateTimings(rounds: readonly RoundTiming[], itersPerRound: number): TimingStats {
  if (rounds.length === 0) throw new Error('aggregateTimings: no rounds');
  const meds = rounds.map((r) => r.medianUs);
  return {
    medianUs: median(meds),
    p10Us: Math.min(...rounds.map((r) => r.p10Us)),
    p90Us: Math.max(...rounds.map((r) => r.p90Us)),
    iters: rounds.reduce((a, r) => a + (r.iters ?? itersPerRound), 0),
    rounds: rounds.length,
    roundMinUs: Math.min(...meds),
    roundMaxUs: Math.max(...meds),
  };
}

/** One energy window as measured (EnergyStats without the round fields). */
export type EnergyWindow = Omit<EnergyStats, 'rounds' | 'minMJ' | 'maxMJ'>;

/**
 * Windows to one EnergyStats: the median window's own figures (a real window, so its power, time
 * and count stay consistent with each other; the lower middle for an even count) and the range.
 */
export function aggregateEnergy(windows: readonly EnergyWindow[]): EnergyStats {
  if (windows.length === 0) throw new Error('aggregateEnergy: no windows');
  const sorted = [...windows].sort((a, b) => a.mJPerInference - b.mJPerInference);
  const mid = sorted[Math.floor((sorted.length - 1) / 2)]!;
  return { ...mid, rounds: windows.length, minMJ: sorted[0]!.mJPerInference, maxMJ: sorted[sorted.length - 1]!.mJPerInference };
}

/** A measured value with its spread, as compare() reads it. */
export interface Measured {
  readonly value: number;
  readonly lo: number;
  readonly hi: number;
}

export const timeMeasured = (t: TimingStats): Measured => ({ value: t.medianUs, lo: t.p10Us, hi: t.p90Us });
export const energyMeasured = (e: EnergyStats): Measured => ({ value: e.mJPerInference, lo: e.minMJ, hi: e.maxMJ });
export const spreadMeasured = (value: number, s: Spread): Measured => ({ value, lo: s.lo, hi: s.hi });

/**
 * cusnn (`a`, lower is better) against a baseline `b`: a tie when either median lies inside the
 * other's spread (the difference is within what repeating the measurement moves), else faster or
 * slower. A value measured once has no spread (lo = hi = value) and only ties an equal value.
 */
export function compare(a: Measured, b: Measured): Verdict {
  const inside = (v: number, m: Measured): boolean => v >= m.lo && v <= m.hi;
  if (inside(a.value, b) || inside(b.value, a) || a.value === b.value) return 'tie';
  return a.value < b.value ? 'faster' : 'slower';
}
