// Tile space of the wino family: the block is fixed (32 output channels x 32 tiles x 8-channel
// chunks, 256 threads); only the split of the input channels over a cluster varies, the number of
// blocks it trades against each block's chunks. The rule (chooseWinoTiles, below) picks a split at
// batch 8 to 16; tune times every split against cuDNN at any batch.
import type { ArchName, GpuProfile } from '../../arch/profiles.js';
import type { ConvProblem, KernelEstimate } from '../../plan/types.js';
import { winoUs } from './cost.js';
import { winoLayout } from './resources.js';
import { WINO_BK, WINO_BT, WINO_SPLITS, winoMaxSplit, winoSupports, winoUnsupported, type WinoKernelSpec } from './spec.js';

/** Each split's kernel that launches on this GPU, for a problem the family serves; none otherwise. */
export function winoCandidates(p: GpuProfile, q: ConvProblem & { readonly arch: ArchName }, batch: number): WinoKernelSpec[] {
  if (!winoSupports(q.arch) || winoUnsupported(q) !== null) return [];
  const { chunks } = winoLayout({ ...q, split: 1 });
  const out: WinoKernelSpec[] = [];
  for (const split of WINO_SPLITS) {
    if (split > winoMaxSplit(q.arch) || split > chunks) continue;
    const spec: WinoKernelSpec = { ...q, family: 'wino', split };
    if (winoUs(p, spec, batch)) out.push(spec);
  }
  return out;
}

/** Below this many blocks without a split (2.5 waves of one block an SM on 132 SMs), the rule splits the channels in two. */
const WINO_SPLIT_BELOW_WAVES = 2.5;

/**
 * The rule (runs 63-70, H100, batch 8; tools/kernel-lab/PREDICTIONS.md): at batch >= 8 wino was the
 * measured best of every family on each of ResNet-50's four 3x3 stride-1 shapes (64..512 channels,
 * 56x56..7x7), 1.19-1.87x over cuDNN's fastest, with split 1 where the grid held 392 blocks and split 2
 * at 64-196 blocks. At batch 32 the same kernels were 0.61-0.91x of cuDNN (run 63's lab: cuDNN's
 * WINOGRAD_NONFUSED gets faster with the batch). So: batch 8 to 16 (16 not measured), at least 64 input
 * and output channels (the shapes measured; the DenseNets' 32-channel 3x3 convs were not), split 2 below
 * 2.5 waves of blocks. Null otherwise (tune still times the space at any batch).
 */
export function chooseWinoTiles(p: GpuProfile, q: ConvProblem & { readonly arch: ArchName }, batch: number): { spec: WinoKernelSpec; estimate: KernelEstimate; why: string } | null {
  if (batch < 8 || batch > 16 || q.c < 64 || q.k < 64) return null;
  if (!winoSupports(q.arch) || winoUnsupported(q) !== null) return null;
  const blocks = Math.ceil((batch * winoLayout({ ...q, split: 1 }).tiles) / WINO_BT) * Math.ceil(q.k / WINO_BK);
  const split = blocks < WINO_SPLIT_BELOW_WAVES * p.smCount && winoMaxSplit(q.arch) >= 2 ? 2 : 1;
  const spec: WinoKernelSpec = { ...q, family: 'wino', split };
  const estimate = winoUs(p, spec, batch);
  if (!estimate) return null;
  return { spec, estimate, why: `wino rule: batch ${batch} in 8..16, ${q.c} -> ${q.k} channels (>= 64), ${blocks} blocks unsplit: split ${split} (runs 63-70)` };
}
