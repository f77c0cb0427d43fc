// Tile space of the wino family: the block tile is fixed (32 output channels x 32 tiles); its width (8 warps
// and 8-channel chunks, or 16 warps and 16-channel chunks in 128 KB of shared memory) and the split of the
// input channels over a cluster vary, the number of blocks and warps traded against each block's chunks.
// The rule (chooseWinoTiles, below) serves batch 8 to 16 and the large outputs at batch 1 and picks the split;
// 16 warps at batch 1 where they launch (run 91), 8 warps at batch 8 to 16. Tune times the whole space against
// cuDNN at any batch.
import type { ArchName, GpuProfile } from '../../arch/profiles.js';
import type { ConvProblem, KernelEstimate } from '../../plan/types.js';
import { winoUs } from './cost.js';
import { winoLayout } from './resources.js';
import { WINO_BK, WINO_BT, WINO_SPLITS, WINO_WARPS, winoMaxSplit, winoSupports, winoUnsupported, type WinoKernelSpec } from './spec.js';

/** Each (warps, split) kernel that launches on this GPU (16 warps: 128 KB of shared memory), for a problem the family serves; none otherwise. */
export function winoCandidates(p: GpuProfile, q: ConvProblem & { readonly arch: ArchName }, batch: number): WinoKernelSpec[] {
  if (!winoSupports(q.arch) || winoUnsupported(q) !== null) return [];
  const out: WinoKernelSpec[] = [];
  for (const warps of WINO_WARPS) {
    // 8 warps is the field's absence (the names and tiles stored before it existed).
    const width = warps === 16 ? { warps } : {};
    const { chunks } = winoLayout({ ...q, split: 1, ...width });
    for (const split of WINO_SPLITS) {
      if (split > winoMaxSplit(q.arch) || split > chunks) continue;
      const spec: WinoKernelSpec = { ...q, family: 'wino', split, ...width };
      if (winoUs(p, spec, batch)) out.push(spec);
    }
  }
  return out;
}

/** At or above this many blocks without a split (2.5 waves of one block an SM on 132 SMs) the rule does not split. */
const WINO_SPLIT_BELOW_WAVES = 2.5;
/** Below half a wave of blocks without a split, the rule splits as far as one wave (run 84's small grids). */
const WINO_FILL_BELOW_WAVES = 0.5;
/** Batch 1: the output elements (H x W x K) from which wino beat the plans' kernels in run 84 (28x28x128, 56x56x32 and up). */
const WINO_BATCH1_MIN_OUTPUTS = 28 * 28 * 128;

/**
 * The rule (H100, runs 63-70 at batch 8 and run 84's lab at batch 1 and 8; tools/kernel-lab/PREDICTIONS.md).
 * Where it serves:
 * - batch 8 to 16, at least 64 input channels, and either at least 64 output channels or an output of at least
 *   28x28. ResNet-50's four 3x3 shapes ran 1.19-1.87x over cuDNN's fastest (runs 63-70). DenseNet-169's
 *   128 -> 32 convs ran 2.04x at 56x56 and 1.41x at 28x28 (run 84), where the DenseNet benches kept cuDNN. At 14x14
 *   and 7x7 the dconv kernels the DenseNets run are faster than wino (10.4 and 6.4 against 12.4 and 11.9 us).
 *   At batch 32 wino was 0.61-0.91x of cuDNN (run 63: WINOGRAD_NONFUSED gets faster with the batch).
 * - batch 1, where the output has at least 28x28x128 elements. Run 84 measured wino at 13.0, 13.8 and 13.7 us
 *   on ResNet-50's 64x56x56 and 128x28x28 and DenseNet-169's 128x56x56 -> 32. The batch-1 plans' igemm kernels ran
 *   those at 16.7-17.5 us in runs 50 and 53, and cuDNN at 19.3-31.7. On the smaller outputs dconv and pxg are faster.
 *   Batches 2 to 7 were not measured. Only with clusters (sm_90): unsplit, wino was no faster than cuDNN at batch 1.
 * The split fills the GPU. At least 2.5 waves of blocks unsplit: none. Half a wave or more: 2. Fewer: the largest
 * split that stays within one wave. That is the best split of run 84's lab or within 2% of it on all eight shapes,
 * at batch 1 and 8. Run 87 made split 8 faster: on the served shapes the rule's split is still the best or within
 * 3.5%, inside the spread (128x28x28 -> 128 and 128x56x56 -> 32 at batch 1, split 4 against 8).
 * Null otherwise (tune still times the space at any batch).
 */
export function chooseWinoTiles(p: GpuProfile, q: ConvProblem & { readonly arch: ArchName }, batch: number): { spec: WinoKernelSpec; estimate: KernelEstimate; why: string } | null {
  if (!winoSupports(q.arch) || winoUnsupported(q) !== null || q.c < 64) return null;
  const outputs = q.ho * q.wo * q.k;
  let serves: string;
  if (batch >= 8 && batch <= 16 && (q.k >= 64 || q.ho * q.wo >= 28 * 28)) {
    serves = `batch ${batch} in 8..16, ${q.c} -> ${q.k} channels (>= 64${q.k < 64 ? `; ${q.ho}x${q.wo} output, >= 28x28` : ''})`;
  } else if (batch === 1 && outputs >= WINO_BATCH1_MIN_OUTPUTS && winoMaxSplit(q.arch) >= 2) {
    // Unsplit (no clusters before sm_90) run 84 measured it no faster than cuDNN at batch 1 (17.9 against 19.3 us, 30.5 against 31.7).
    serves = `batch 1, ${q.ho}x${q.wo}x${q.k} output (>= 28x28x128), ${q.c} input channels (>= 64)`;
  } else {
    return null;
  }
  const { chunks, tiles } = winoLayout({ ...q, split: 1 });
  const blocks = Math.ceil((batch * tiles) / WINO_BT) * Math.ceil(q.k / WINO_BK);
  const maxSplit = Math.min(winoMaxSplit(q.arch), chunks);
  let split = 1;
  if (blocks < WINO_FILL_BELOW_WAVES * p.smCount) {
    // Ascending: the last split that fits one wave (2 always does, under half a wave).
    for (const s of WINO_SPLITS) if (s <= maxSplit && blocks * s <= p.smCount) split = s;
  } else if (blocks < WINO_SPLIT_BELOW_WAVES * p.smCount && maxSplit >= 2) {
    split = 2;
  }
  const eight: WinoKernelSpec = { ...q, family: 'wino', split };
  // Batch 1: 16 warps a block at the same split, where the GPU has the 128 KB of shared memory a block
  // (winoUs gives null where it does not launch) and the split leaves each block a 16-channel chunk.
  // Run 91 (H100) measured them 9% faster on ResNet-50's 128x28x28 -> 128 (10.35 against 11.35 us a
  // copy in the network) and 3% on 64x56x56 -> 64 (10.3 against 10.6), and the lab 6% on DenseNet-169's
  // 128x56x56 -> 32 at split 4; at batch 8 they were up to 14% slower, so batch 8 keeps 8 warps.
  const wide: WinoKernelSpec = { ...eight, warps: 16 };
  const wideEstimate = batch === 1 && split <= winoLayout({ ...q, split: 1, warps: 16 }).chunks ? winoUs(p, wide, batch) : null;
  const wideFits = wideEstimate !== null;
  const spec = wideFits ? wide : eight;
  const estimate = wideEstimate ?? winoUs(p, eight, batch);
  if (!estimate) return null;
  const width = wideFits ? ', 16 warps (run 91)' : '';
  return { spec, estimate, why: `wino rule: ${serves}, ${blocks} blocks unsplit: split ${split}${width} (runs 63-70, 84)` };
}
