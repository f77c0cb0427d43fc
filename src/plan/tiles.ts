// Tile search for the act-sparse family: enumerate the shapes that fit the GPU (threads, shared
// memory, registers), rank them with the cost model at the layer's expected sparsity. The
// original cuSNN hand-tuned these per GPU; here the same resources decide, so a V100 (2048
// threads and 96 KiB per SM) and a 2080 Ti (1024 threads, 64 KiB) get different tiles.
import type { GpuProfile } from '../arch/profiles.js';
import { kernelResources } from './act-sparse-resources.js';
import { actSparseUs, type ActSparseEstimate } from './cost.js';
import type { ActSparseKernelSpec } from './types.js';

export type ActSparseProblem = Omit<ActSparseKernelSpec, 'th' | 'tw' | 'tc' | 'kb' | 'cs'>;

export interface TileChoice {
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

const cache = new Map<string, TileChoice | null>();

/** Best tile shape for a problem at input density `density`, or null if none fits the GPU. */
export function chooseTiles(p: GpuProfile, problem: ActSparseProblem, batch: number, density: number): TileChoice | null {
  const key = JSON.stringify([p.arch, problem, batch, Math.round(density * 1000)]);
  const hit = cache.get(key);
  if (hit !== undefined) return hit;
  let best: TileChoice | null = null;
  let candidates = 0;
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
            const spec: ActSparseKernelSpec = { ...problem, th, tw, tc, kb, cs };
            const res = kernelResources(spec, batch);
            if (res.regsEstimate > MAX_REGS || res.sharedBytes > p.sharedPerBlockOptin) continue;
            const estimate = actSparseUs(p, spec, batch, density);
            if (!estimate) continue;
            candidates++;
            // Strictly better by 0.5% to replace: among near-ties the earlier (smaller) tile wins,
            // which keeps plans stable against rounding.
            if (!best || estimate.us < best.estimate.us * 0.995) best = { spec, estimate, candidates: 0 };
          }
        }
      }
    }
  }
  const result = best ? { ...best, candidates } : null;
  cache.set(key, result);
  return result;
}
