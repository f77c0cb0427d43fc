// Tile space of the wino family: the block is fixed (32 output channels x 32 tiles x 8-channel
// chunks, 256 threads); only the split of the input channels over a cluster varies, the number of
// blocks it trades against each block's chunks. No rule: tune times these against cuDNN, and a plan
// holds a wino kernel only where that measurement put it.
import type { ArchName, GpuProfile } from '../../arch/profiles.js';
import type { ConvProblem } from '../../plan/types.js';
import { winoUs } from './cost.js';
import { winoLayout } from './resources.js';
import { WINO_SPLITS, winoMaxSplit, winoSupports, winoUnsupported, type WinoKernelSpec } from './spec.js';

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
