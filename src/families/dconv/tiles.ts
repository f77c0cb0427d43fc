// Tiling rule of the dconv family (from the kernel lab on the H200, docs/PERFORMANCE.md):
// the lab's best configuration per zoo shape class (docs/results/lab-h200/lab-dconv-*.jsonl):
// - K <= 32 (DenseNet's 3x3): 32 channels per block, 1 per thread (2 at 56x56) so that a warp's 32
//   lanes all go along the channels and the zero test is warp-uniform; 2 rows per block (7 at 7x7,
//   4 at 56x56), 2 channels per stage (4 at 56x56): 6.9-17.2 us vs cuDNN's 15.3-31.6;
// - K >= 64 at 7x7: 64 channels (2 per thread) x the whole map, 8 channels per stage (23.7 us vs 67);
//   at 14x14: 128 channels (4 per thread) x 2 rows (17.0 us vs 53.6);
// - wider maps with K >= 64 measured slower than igemm (21.1 vs 17.2 us at 28x28): not served;
// - K <= 32 at 56x56 at batch 1: not served either since the measured search of run 25
//   (docs/results/tune-h200/2026-12-03-run25-heuristic): igemm's rule tile 16.9 us against this
//   rule's 20.1 on DenseNet-169's and DenseNet-201's 128x56x56->32 convs (dconv stays best at 7x7-28x28);
// - TN = 7 pixels of a row per thread where the width is a multiple of 7 (every zoo map);
// - the cluster split gives ~3.5 blocks per SM at batch 1, each block keeping >= 8 input channels.
import type { GpuProfile } from '../../arch/profiles.js';
import { maxSplit } from '../igemm/spec.js';
import { dconvUs, type DconvEstimate } from './cost.js';
import { dconvLayout } from './resources.js';
import type { DconvKernelSpec, DconvProblem, DconvTiles } from './spec.js';

export interface DconvChoice {
  readonly spec: DconvKernelSpec;
  readonly estimate: DconvEstimate;
  readonly why: string;
}

function rowPixels(wo: number): number {
  if (wo % 7 === 0) return 7;
  for (let t = Math.min(8, wo); t >= 1; t--) if (wo % t === 0) return t;
  return 1;
}

export function chooseDconvTiles(p: GpuProfile, problem: DconvProblem, batch: number, density: number): DconvChoice | null {
  if (problem.k % 4 !== 0 || problem.r * problem.s === 1) return null;  // 1x1: no halo to share, igemm serves it
  const narrow = problem.k <= 32;
  if (!narrow && problem.ho > 14) return null;
  const wide56 = problem.ho >= 56;
  if (narrow && wide56 && batch === 1) return null;  // run 25: igemm's rule tile is faster here
  const bm = narrow ? 32 : problem.ho <= 7 ? 64 : 128;
  const tm = narrow ? (wide56 ? 2 : 1) : problem.ho <= 7 ? 2 : 4;
  const tn = rowPixels(problem.wo);
  const rowsT = Math.min(problem.ho, problem.ho <= 7 ? 7 : wide56 && narrow ? 4 : 2);
  const baseBlocks = Math.ceil(problem.ho / rowsT) * batch * Math.ceil(problem.k / bm);
  const maxBlocks = Math.floor(3.5 * p.smCount);
  let split = 1;
  while (split * 2 <= maxSplit(problem.arch) && baseBlocks * split * 2 <= maxBlocks && problem.c / (split * 2) >= 8) split *= 2;
  const perSplit = Math.ceil(problem.c / split);
  const bkc = !narrow && problem.ho <= 7 && perSplit >= 16 ? 8 : narrow && !wide56 ? 2 : perSplit >= 8 ? 4 : 2;
  const tiles: DconvTiles = { bm, tm, tn, rowsT, bkc, split, stages: 3 };
  const spec: DconvKernelSpec = { family: 'dconv', ...problem, ...tiles };
  const l = dconvLayout(spec);
  if (l.threads > p.maxThreadsPerBlock || l.sharedBytes > p.sharedPerBlockOptin) return null;
  const estimate = dconvUs(p, spec, batch, density);
  if (!estimate) return null;
  const why = `rule: ${bm} channels (${tm} per thread, warp-uniform zero skip) x ${rowsT} rows of ${problem.wo} (${tn} pixels per thread), ` +
    `${bkc} channels per stage, split ${split} (${baseBlocks * split} blocks for ${p.smCount} SMs)`;
  return { spec, estimate, why };
}

/** At most this many tiles in the family's space (tune times them beside the other families'). */
export const DCONV_SPACE_MAX = 12;

/**
 * The family's tile space for measurement (`cusnn-gen tune`): the rule's tile and neighbours of it in the
 * fields the rule fixed without a measured search at batch 1. Why: until now tune timed only the rule's pick,
 * and DenseNet's 3x3 convs at 14x14 and >= 85% zeros run it at 4.66-4.74 us a copy (runs 85, 88, H100) where
 * the 5x target needs 3.18: their 8 channels a block go through 4 pipeline stages of 2 channels, each a
 * dependent round of loads at a few hundred instructions of work, so one stage of all 8 (bkc = the split's
 * channels), fewer rows a block (more blocks) and the other split are the candidates (not yet measured).
 * Each tile must fit the block's threads and shared memory; the rule's own tile comes first.
 */
export function dconvCandidates(p: GpuProfile, problem: DconvProblem, batch: number): DconvKernelSpec[] {
  const rule = chooseDconvTiles(p, problem, batch, 0.5);
  if (!rule) return [];
  const base = rule.spec;
  const out: DconvKernelSpec[] = [base];
  const seen = new Set([JSON.stringify(base)]);
  const add = (t: Partial<DconvTiles>): void => {
    const spec: DconvKernelSpec = { ...base, ...t };
    if (spec.split > maxSplit(problem.arch) || spec.split < 1 || problem.c / spec.split < 4) return;
    const perSplit = Math.ceil(problem.c / spec.split);
    if (spec.bkc > perSplit || spec.rowsT > problem.ho) return;
    const l = dconvLayout(spec);
    if (l.threads > p.maxThreadsPerBlock || l.sharedBytes > p.sharedPerBlockOptin) return;
    const key = JSON.stringify(spec);
    if (seen.has(key) || out.length >= DCONV_SPACE_MAX) return;
    seen.add(key);
    out.push(spec);
  };
  const perSplit = (split: number): number => Math.ceil(problem.c / split);
  for (const split of [base.split, base.split * 2, base.split / 2].filter((z) => Number.isInteger(z) && z >= 1)) {
    // All of the split's channels in one stage (two buffers: the template's pipeline needs two), then half of them.
    add({ split, bkc: perSplit(split), stages: 2 });
    add({ split, bkc: Math.max(1, perSplit(split) / 2), stages: 2 });
    if (split === base.split) {
      add({ split, bkc: 4 });
      if (base.rowsT > 1) add({ split, rowsT: Math.ceil(base.rowsT / 2), bkc: perSplit(split), stages: 2 });
      if (base.rowsT < problem.ho) add({ split, rowsT: Math.min(problem.ho, base.rowsT * 2), bkc: perSplit(split), stages: 2 });
    }
  }
  return out;
}
