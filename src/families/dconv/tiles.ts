// Tiling rule of the dconv family (from the kernel lab on the H200, docs/PERFORMANCE.md):
// - a warp's 32 lanes all go along the output channels (so the zero test is warp-uniform):
//   64 channels per block at 2 per thread where K >= 64, 32 at 1 per thread for K = 32;
// - TN pixels of a row per thread: 7 where the width is a multiple of 7 (every zoo map), else the
//   largest divisor of the width up to 8;
// - rows per block and the cluster split chosen to give ~2-3.5 blocks per SM at batch 1, each block
//   keeping at least 8 input channels.
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
  const bm = narrow ? 32 : 64;
  const tm = narrow ? 1 : 2;
  const tn = rowPixels(problem.wo);
  const segw = Math.ceil(problem.wo / tn);
  // Rows per block: about 8 segments (warps) per block, at most the whole map.
  const rowsT = Math.max(1, Math.min(problem.ho, Math.round(8 / segw)));
  const baseBlocks = Math.ceil(problem.ho / rowsT) * batch * Math.ceil(problem.k / bm);
  const maxBlocks = Math.floor(3.5 * p.smCount);
  let split = 1;
  while (split * 2 <= maxSplit(problem.arch) && baseBlocks * split * 2 <= maxBlocks && problem.c / (split * 2) >= 8) split *= 2;
  const bkc = Math.ceil(problem.c / split) >= 16 ? 4 : 2;
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
