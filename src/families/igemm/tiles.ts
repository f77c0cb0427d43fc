// Tiling rule of the igemm family, derived from the GPU profile (SM count, clusters, shared memory)
// and the shape, following what the kernel lab measured on an H200 (docs/PERFORMANCE.md):
// - warp tile: 16 lanes x 4 channels along M when K >= 64 (a 64-channel warp), else 8 x 4 (32 channels);
//   4 pixels per thread; for very few pixels per image (7x7) and wide K, 32-channel blocks double the blocks;
// - pixels per block: 64 where there are many, 32 at 14x14, 16 for K = 32 at <= 14x14;
// - channels per stage: 4 for 3x3 (36 rows), 16 for 1x1; 2 where a split gets few channels;
// - split: the largest power of two <= the cluster limit that keeps blocks <= ~3.5 per SM and leaves
//   each block at least 8 (3x3) or 32 (1x1) channels, so the 132 SMs are filled at batch 1;
// - from WIDE_MIN_PIXELS pixels at batch > 1, the large-batch tiles of `wideTiles`; at batch 1, 64x64
//   blocks of 16-byte-copy 1x1 convs and of 3x3 convs take 8x4 accumulators (`batch1Wide`,
//   `batch1Wide3x3`), and 1x1 convs to >= 2048 channels at <= 64 pixels 64x64 blocks split in chunks of
//   64 channels (`batch1Deep`).
// `igemmCandidates` enumerates the space `cusnn-gen tune` searches by measurement.
import type { GpuProfile } from '../../arch/profiles.js';
import { igemmUs, type IgemmEstimate } from './cost.js';
import { igemmSharedBytes, igemmThreads } from './resources.js';
import { igemmPointwise, igemmVecFits, keptFromStructure, maxSplit, type IgemmKernelSpec, type IgemmProblem, type IgemmTiles } from './spec.js';

export interface IgemmChoice {
  readonly spec: IgemmKernelSpec;
  readonly estimate: IgemmEstimate;
  readonly why: string;
}

function fits(p: GpuProfile, problem: IgemmProblem, t: IgemmTiles): boolean {
  const spec = { ...problem, ...t, family: 'igemm' as const };
  if (t.bm % (t.warpM * t.tm) !== 0 || t.bn % ((32 / t.warpM) * t.tn) !== 0) return false;
  if (problem.k % 4 !== 0) return false;
  const threads = igemmThreads(spec);
  return threads >= 32 && threads <= p.maxThreadsPerBlock && igemmSharedBytes(spec) <= p.sharedPerBlockOptin;
}

/**
 * Pixels (batch x HO x WO) from which the rule takes the large-batch tiles at batch > 1: 8 images of 7x7 (392).
 * Run 70's search measured those tiles fastest on ResNet-50's two stride-1 7x7 1x1 convs at batch 8, with the
 * split `wideTiles` gives: 2048x7x7->512 42.4 us at split 16 and 512x7x7->2048 43.9 us at split 4, against
 * 48.3 and 49.4 us for the tiles below (run 21's threshold of 1024 pixels kept them there).
 */
export const WIDE_MIN_PIXELS = 392;

/**
 * Blocks of the large-batch tiles per SM the split aims at: a 64 x 64 block is 2 warps (64 threads at 127
 * registers: 8 fit an SM), and run 70's searched best filled 6-7 of them (below).
 */
const WIDE_BLOCKS_PER_SM = 7;
/** The largest split of the large-batch tiles (run 70's best on 2048x7x7->512 at batch 8 was 16). */
const WIDE_MAX_SPLIT = 16;
/** Output pixels an image from which a stage holds 16 channels, not 8 (run 70: 28x28 and up took 16). */
const WIDE_DEEP_STAGE_PIXELS = 784;

/**
 * The large-batch tiles (batch > 1 and at least WIDE_MIN_PIXELS pixels), for stride-1 unpadded 1x1
 * convs: 64 channels x 64 pixels a block (x 128 pixels for K <= 64), 8x8 accumulators a thread (a warp
 * 8 x 4 lanes, 2 warps a block), 16 channels per stage from 28x28 outputs up and 8 below, a 4-deep
 * pipeline, 16-byte pixel copies where HO*WO % 4 == 0 (else 4-byte ones: the 7x7 convs), and the input
 * channels split over a cluster while the blocks stay within WIDE_BLOCKS_PER_SM per SM and each keeps
 * >= 64 channels.
 * Why: run 70's search (docs/results/bench-h100/2026-12-07-run70-resnet50-b8-tuned52, batch 8, H100, 16
 * candidates a conv) found 64-channel blocks fastest on all 22 of ResNet-50's 1x1 (shape, zeros) entries,
 * against the 128 x 64 blocks (4 warps) this rule had (run 21's lab): 36.7 against 40.0 us on
 * 256x14x14->1024 (split 2), 35.4 against 37.2 on 1024x14x14->256 (split 8), 27.3 against 31.5 on
 * 128x28x28->512, 42.4 against 48.3 on 2048x7x7->512 (split 16). Run 69's ncu of the old tiles on
 * 256x14x14->1024 showed why: 200 blocks of 4 warps left 1.6 active warps a scheduler, each issuing every
 * 2.9 cycles. The split puts 6-7 blocks on an SM where the output tiles alone leave fewer; this picks
 * run 70's best split on 8 of its 10 stride-1 shapes (2 where it took 4 there: 256x56x56->64 and
 * 512x28x28->128).
 */
function wideTiles(p: GpuProfile, problem: IgemmProblem, npix: number): IgemmTiles | null {
  if (problem.k < 64 || !igemmPointwise(problem)) return null;
  const bm = 64;
  const bn = problem.k <= 64 ? 128 : 64;
  const base = Math.ceil(npix / bn) * Math.ceil(problem.k / bm);
  const limit = WIDE_BLOCKS_PER_SM * p.smCount;
  let split = 1;
  while (split * 2 <= Math.min(WIDE_MAX_SPLIT, maxSplit(problem.arch)) && base * split * 2 <= limit && problem.c / (split * 2) >= 64) split *= 2;
  const bkc = problem.ho * problem.wo >= WIDE_DEEP_STAGE_PIXELS ? 16 : 8;
  return { bm, bn, bkc, tm: 8, tn: 8, warpM: 8, split, stages: 4, ...(igemmVecFits(problem) ? { vec: 4 as const } : {}) };
}

/**
 * Batch 1's 8x4 accumulators: where the batch-1 rule gives a stride-1 1x1 conv with 16-byte pixel
 * copies 64 x 64 blocks (>= 512 pixels: 28x28 and up), the same blocks and split with a thread's 8x4
 * accumulators (a warp 8 x 4 lanes), 8 channels per stage, 4 stages and 16-byte copies. Why: the
 * measured search of run 25 (docs/results/tune-h200/2026-12-03-run25-heuristic, batch 1, H200) found
 * them faster than the 4x4 tiles of the same blocks on every conv it measured both on: DenseNet-169's
 * 56x56 convs 9.9-13.2 vs 13.3-18.7 us, its 28x28 ones at split 4 5.5-7.9 vs 6.8-9.2 us, ResNet-50's
 * 64x56x56->256 8.7 vs 10.7 us and 256x56x56->64 10.1 vs 12.8 us (8x8 accumulators tied or lost).
 */
function batch1Wide(t: IgemmTiles): IgemmTiles {
  return { bm: 64, bn: 64, bkc: 8, tm: 8, tn: 4, warpM: 8, split: t.split, stages: 4, vec: 4 };
}

/**
 * Batch 1's 3x3 convs on 64 x 64 blocks with 4x4 accumulators: the same blocks, split and stage depth
 * in channels with 8x4 accumulators and 4 stages. Why: run 28's search (docs/results/tune-h200/
 * 2026-12-03-run28-heuristic, H200) measured ResNet-50's 64x56x56->64 convs at 16.6 us on them against
 * 18.2-18.3 us on the 4x4 ones. Only where that was measured: archs with clusters of 16 (sm_90).
 */
function batch1Wide3x3(t: IgemmTiles): IgemmTiles {
  return { ...t, tm: 8, tn: 4, warpM: 8, stages: 4 };
}

/**
 * Output channels from which a 1x1 conv of at most 64 pixels at batch 1 takes `batch1Deep`: run 29
 * measured the tiles faster at 2048 (below) but slower at 1024 (ResNet-50's 512x7x7 convs with 1024 of
 * 2048 filters kept: 11.6 us against 9.7 on the rule's 32 x 64 blocks).
 */
const DEEP_MIN_K = 2048;

/**
 * Batch 1's deep 1x1 convs (K >= DEEP_MIN_K, at most 64 pixels: ResNet's 7x7 convs to 2048 channels),
 * on archs with clusters of 16: 64 x 64 blocks, 8x4 accumulators, 16 channels per stage, 4 stages, the
 * input channels split in chunks of 64 (at most 16). Why: run 28's search measured them 1.09-1.33x
 * faster than the 32 x 64 blocks with split 4 the rule gave (512x7x7->2048 13.0 vs 14.1 us at split 8;
 * the stride-2 1024x14x14->2048 18.1 vs 24.0 us at split 16), while at 14x14 (196 pixels) the same
 * tiles lost or tied (512x28x28->1024 stride 2: 18.4-22.7 vs 16.2 us), so 14x14 keeps the rule's tiles.
 */
function batch1Deep(problem: IgemmProblem): IgemmTiles | null {
  if (maxSplit(problem.arch) < 16) return null;
  let split = 1;
  while (split * 2 <= maxSplit(problem.arch) && problem.c / (split * 2) >= 64) split *= 2;
  return { bm: 64, bn: 64, bkc: 16, tm: 8, tn: 4, warpM: 8, split, stages: 4, ...(igemmVecFits(problem) ? { vec: 4 as const } : {}) };
}

/** The rule's pick for a problem at `batch`, or null when the family cannot serve it on this GPU. */
export function chooseIgemmTiles(p: GpuProfile, problem: IgemmProblem, batch: number): IgemmChoice | null {
  if (problem.k % 4 !== 0) return null;
  const widePix = batch * problem.ho * problem.wo;
  const wide = widePix >= WIDE_MIN_PIXELS && batch > 1 ? wideTiles(p, problem, widePix) : null;
  if (wide && fits(p, problem, wide)) {
    const spec: IgemmKernelSpec = { family: 'igemm', ...problem, ...wide };
    const estimate = igemmUs(p, spec, batch);
    if (estimate) {
      const tiles = Math.ceil(widePix / wide.bn) * Math.ceil(problem.k / wide.bm);
      const why = `rule, large batch (run 70): ${wide.bm} channels x ${wide.bn} pixels per block, 8x8 accumulators a thread, ` +
        `${wide.bkc} channels per stage, split ${wide.split} (${tiles} output tiles x ${wide.split} = ${tiles * wide.split} blocks for ${p.smCount} SMs)` +
        (wide.vec === 4 ? ', 16-byte pixel copies' : ', 4-byte pixel copies (HO*WO % 4 != 0)');
      return { spec, estimate, why };
    }
  }
  const npixImage = problem.ho * problem.wo;
  const npix = batch * npixImage;
  const oneByOne = problem.r * problem.s === 1;
  const narrow = problem.k <= 32;
  const wideFew = problem.k >= 256 && npix <= 64;
  const warpM = narrow || wideFew ? 8 : 16;
  const tm = 4;
  const bm = warpM * tm;
  let tn = 4;
  let bn = npix >= 512 ? 64 : npix >= 128 ? 32 : wideFew ? 64 : 16;
  if (narrow && npix < 512) { bn = 16; tn = npix <= 64 ? 1 : 2; }
  if (bn % ((32 / warpM) * tn) !== 0) bn = (32 / warpM) * tn;
  let bkc = oneByOne ? 16 : 4;
  const minChannels = oneByOne ? 32 : 8;
  const baseBlocks = Math.ceil(npix / bn) * Math.ceil(problem.k / bm);
  const maxBlocks = Math.floor(3.5 * p.smCount);
  let split = 1;
  while (split * 2 <= maxSplit(problem.arch) && baseBlocks * split * 2 <= maxBlocks && problem.c / (split * 2) >= minChannels) split *= 2;
  if (!oneByOne && Math.ceil(problem.c / split) < 4 * bkc) bkc = 2;
  const four: IgemmTiles = { bm, bn, bkc, tm, tn, warpM, split, stages: 3 };
  // Batch 1's measured refinements of the 4x4 tiles (runs 25 and 28), each with its reason for `why`.
  const refined: readonly [IgemmTiles | null, string] = batch !== 1 ? [null, '']
    : oneByOne && wideFew && problem.k >= DEEP_MIN_K ? [batch1Deep(problem), '; batch 1, a deep 1x1 conv: 64x64 blocks, 8x4 accumulators, the channels split in chunks of 64 (run 28)']
    : bm === 64 && bn === 64 && problem.k >= 64 && igemmVecFits(problem) ? [batch1Wide(four), ', 8x4 accumulators a thread and 16-byte pixel copies (batch 1, 64x64 blocks: run 25)']
    : bm === 64 && bn === 64 && problem.k >= 64 && problem.r === 3 && problem.s === 3 && problem.strideH === 1 && problem.strideW === 1 && maxSplit(problem.arch) >= 16 ? [batch1Wide3x3(four), ', 8x4 accumulators a thread, 4 stages (batch 1, a 3x3 conv on 64x64 blocks: run 28)']
    : [null, ''];
  const eight = refined[0];
  const tiles = eight && fits(p, problem, eight) ? eight : four;
  if (!fits(p, problem, tiles)) return null;
  const spec: IgemmKernelSpec = { family: 'igemm', ...problem, ...tiles };
  const estimate = igemmUs(p, spec, batch);
  if (!estimate) return null;
  const blocks = Math.ceil(npix / tiles.bn) * Math.ceil(problem.k / tiles.bm);
  const why = `rule: warp ${tiles.warpM}x${32 / tiles.warpM} lanes, ${tiles.bm} channels x ${tiles.bn} pixels per block, ${tiles.bkc} channels per stage, ` +
    `split ${tiles.split} (${blocks} output tiles x ${tiles.split} = ${blocks * tiles.split} blocks for ${p.smCount} SMs)` + (tiles === eight ? refined[1] : '');
  return { spec, estimate, why };
}

/**
 * Whole-filter pruning as a smaller dense conv: from this fraction of kept filters down, the rule
 * computes only the kept ones (the igemm tiles of a K' = kept conv; the others written as act(bias)).
 * A first threshold, not yet measured: below it the grid and the weights shrink with K'. No lower bound on
 * the kept count: run 29 tried one (>= 64 kept of a >= 64-filter conv) and it lost on 5 of ResNet-50's 6
 * such convs at 50% (e.g. the 3x3 64->64 with 32 kept 12.1 us kept, 16.5 dense); only the 1x1 64->64 gained.
 */
export const KEPT_MAX_FRACTION = 0.75;

/**
 * The rule's pick where the layer's weights are known: with whole zero filters (start[k] ==
 * start[k + 1] in the structure) leaving at most KEPT_MAX_FRACTION of them, the tiles of the conv of
 * the kept filters alone, carrying `kept`; else chooseIgemmTiles.
 */
export function chooseIgemmTilesForWeights(p: GpuProfile, problem: IgemmProblem, batch: number, start: Uint32Array | undefined): IgemmChoice | null {
  const kept = keptFromStructure(start, problem.k);
  const small = kept && kept.length <= KEPT_MAX_FRACTION * problem.k ? chooseIgemmTiles(p, { ...problem, k: kept.length }, batch) : null;
  const spec: IgemmKernelSpec | null = small && kept ? { ...small.spec, k: problem.k, kept } : null;
  const estimate = spec && igemmUs(p, spec, batch);
  if (!small || !kept || !spec || !estimate) return chooseIgemmTiles(p, problem, batch);
  return { spec, estimate, why: `${small.why}; whole-filter pruning: ${kept.length} of ${problem.k} filters computed, the other ${problem.k - kept.length} (all zero) written as act(bias)` };
}

/** Every tile shape of the searched space that fits the GPU (cusnn-gen tune measures them). */
export function igemmCandidates(p: GpuProfile, problem: IgemmProblem): IgemmKernelSpec[] {
  const out: IgemmKernelSpec[] = [];
  const oneByOne = problem.r * problem.s === 1;
  for (const warpM of [8, 16]) {
    for (const bn of [16, 32, 64]) {
      for (const tn of [1, 2, 4]) {
        for (const bkc of oneByOne ? [8, 16, 32] : [2, 4, 8]) {
          for (let split = 1; split <= maxSplit(problem.arch); split *= 2) {
            if (problem.c / split < bkc) break;
            const t: IgemmTiles = { bm: warpM * 4, bn, bkc, tm: 4, tn, warpM, split, stages: 3 };
            if (fits(p, problem, t)) out.push({ family: 'igemm', ...problem, ...t });
          }
        }
      }
    }
  }
  // The large-batch tiles: 8 x tn accumulators, 64 or 128 channels x 64 or 128 pixels, 4 stages.
  const vec = igemmVecFits(problem) ? { vec: 4 as const } : {};
  for (const bm of [64, 128]) {
    for (const bn of [64, 128]) {
      for (const tn of [4, 8]) {
        for (const bkc of oneByOne ? [8, 16] : [1, 2]) {
          for (let split = 1; split <= maxSplit(problem.arch); split *= 2) {
            if (problem.c / split < 4 * bkc) break;
            const t: IgemmTiles = { bm, bn, bkc, tm: 8, tn, warpM: 8, split, stages: 4, ...vec };
            if (fits(p, problem, t)) out.push({ family: 'igemm', ...problem, ...t });
          }
        }
      }
    }
  }
  return out;
}

/**
 * The searched space where the layer's weights are known: with whole zero filters leaving at most
 * KEPT_MAX_FRACTION of them (as the rule decides), every tile of the kept-filter conv carrying `kept`, then
 * every dense tile; else igemmCandidates. `tune` ranks them by the cost model, which favours the kept tiles
 * (fewer rows); the dense ones are reached at larger --max-candidates, and the planner's dense alternatives
 * (dconv, act-sparse) are timed regardless.
 */
export function igemmCandidatesForWeights(p: GpuProfile, problem: IgemmProblem, start: Uint32Array | undefined): IgemmKernelSpec[] {
  const dense = igemmCandidates(p, problem);
  const kept = keptFromStructure(start, problem.k);
  if (!kept || kept.length > KEPT_MAX_FRACTION * problem.k) return dense;
  const small = igemmCandidates(p, { ...problem, k: kept.length }).map((t): IgemmKernelSpec => ({ ...t, k: problem.k, kept }));
  return [...small, ...dense];
}

