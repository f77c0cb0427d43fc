// Tiling rule of the act-sparse family, a search: enumerate the shapes that fit the GPU (threads,
// shared memory, registers), rank them with the family's cost model at the layer's expected
// sparsity. The original cuSNN hand-tuned these per GPU; here the same resources decide, so a V100
// (2048 threads and 96 KiB per SM) and a 2080 Ti (1024 threads, 64 KiB) get different tiles.
import type { GpuProfile } from '../../arch/profiles.js';
import { actSparseCore, actSparseUs, type ActSparseEstimate } from './cost.js';
import { regsEstimate, sharedBytes } from './resources.js';
import type { ActSparseKernelSpec, ActSparseProblem } from './spec.js';

export interface ActSparseChoice {
  readonly spec: ActSparseKernelSpec;
  readonly estimate: ActSparseEstimate;
  /** Candidates that fit the GPU and were ranked. */
  readonly candidates: number;
}

const TC = [1, 2, 4, 8, 16, 32, 64];
const KB = [32, 64, 128];
const CS = [1, 2, 4, 8, 16];
/** Keep the unrolled accumulator and the generated switch small enough to stay in registers and I-cache. */
const MAX_TILE_PIXELS = 64;
const MAX_UNROLLED_FMAS = 2048;
/** Stay well under the 255-register limit so ptxas never spills (checked by `--check`). */
const MAX_REGS = 128;

const cache = new Map<string, ActSparseChoice | null>();

/** Best tile shape for a problem at input density `density`, or null if none fits the GPU. */
export function chooseActSparseTiles(p: GpuProfile, problem: ActSparseProblem, batch: number, density: number): ActSparseChoice | null {
  const key = JSON.stringify([p.arch, problem, batch, Math.round(density * 1000)]);
  const hit = cache.get(key);
  if (hit !== undefined) return hit;
  let best: ActSparseKernelSpec | null = null;
  let bestUs = Infinity;
  let candidates = 0;
  const scratch: ActSparseKernelSpec = { ...problem, th: 1, tw: 1, tc: 1, kb: 32, cs: 1 };
  const kbMax = Math.ceil(problem.k / 32) * 32;
  for (let th = 1; th <= Math.min(problem.ho, 8); th++) {
    for (let tw = 1; tw <= Math.min(problem.wo, 8); tw++) {
      if (th * tw > MAX_TILE_PIXELS || th * tw * problem.r * problem.s > MAX_UNROLLED_FMAS) continue;
      for (const tc of TC) {
        if (tc > problem.c && tc !== TC[0]) break;
        for (const kb of KB) {
          if (kb > kbMax) break;
          for (const cs of CS) {
            if (cs > tc || kb * cs > p.maxThreadsPerBlock) break;
            // One scratch spec per search: thousands of candidates per layer, no allocation each.
            Object.assign(scratch, { th, tw, tc, kb, cs });
            if (regsEstimate(scratch) > MAX_REGS || sharedBytes(scratch) > p.sharedPerBlockOptin) continue;
            const us = actSparseCore(p, scratch, batch, density);
            if (!Number.isFinite(us)) continue;
            candidates++;
            // Strictly better by 0.5% to replace: among near-ties the earlier (smaller) tile wins,
            // which keeps plans stable against rounding.
            if (us < bestUs * 0.995) { bestUs = us; best = { ...scratch }; }
          }
        }
      }
    }
  }
  const estimate = best && actSparseUs(p, best, batch, density);
  const result = best && estimate ? { spec: best, estimate, candidates } : null;
  cache.set(key, result);
  return result;
}
