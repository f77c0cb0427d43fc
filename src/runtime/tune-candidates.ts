// The candidates `cusnn-gen tune` times for one conv, from the registry alone
// (src/families/registry.ts): the planner's own pick (the heuristic), the act-sparse rule's pick
// (the planner's baseline), the rule's pick of every family registered for the arch, given the
// layer's weights so that weight-structure families (wsparse) serve pruned layers, then the
// families' tile spaces (RuleFamily.space) taken in turn, each ranked by its own cost model: the
// models of two families are not comparable, so a large space (igemm's hundreds of tiles) cannot
// crowd another family's out of --max-candidates. A family added to the registry is a candidate
// here without any change to this file.
import type { GpuProfile } from '../arch/profiles.js';
import type { ActSparseProblem } from '../families/act-sparse/spec.js';
import { chooseActSparseTiles } from '../families/act-sparse/tiles.js';
import { estimateUs, familiesFor, kernelNameOf, tilesOf, type ConvWeights, type KernelSpec, type KernelTiles } from '../families/registry.js';
import type { TuneShape } from '../plan/tune-cache.js';

export interface Candidate {
  readonly spec: KernelSpec;
  readonly kernel: string;
  /** The planner's own pick without a cache. */
  readonly heuristic: boolean;
}

/** The tiles as a measurement stores them: always with their family (act-sparse's tilesOf leaves it out), so the planner re-emits that kernel. */
export function storedTiles(spec: KernelSpec): KernelTiles {
  const t = tilesOf(spec);
  return t.family === undefined ? { family: 'act-sparse', ...t } : t;
}

/** Cost-model rank of a candidate (unknown estimates last). */
const rank = (p: GpuProfile, spec: KernelSpec, batch: number, density: number): number => estimateUs(p, spec, batch, density) ?? Number.MAX_VALUE;

/**
 * The candidates of one conv, deduplicated by kernel name, the heuristic first; at most `max`
 * (default all). `density` is the input's fraction of nonzeros; `weights` the layer's weights
 * where known (absent: no family that needs them serves the conv).
 */
export function convCandidates(p: GpuProfile, shape: TuneShape, batch: number, density: number, heuristic: KernelSpec, weights?: ConvWeights, max?: number): Candidate[] {
  const problem = { arch: p.arch, ...shape };
  const specs: KernelSpec[] = [heuristic];
  const act = chooseActSparseTiles(p, { family: 'act-sparse', ...problem } satisfies ActSparseProblem, batch, density);
  if (act) specs.push(act.spec);
  const families = familiesFor(p.arch);
  for (const f of families) {
    const pick = f.choose(problem, p, batch, density, weights);
    if (pick) specs.push(pick.spec);
  }
  const spaces = families.map((f) => [...(f.space?.(problem, p, batch, weights) ?? [])].sort((a, b) => rank(p, a, batch, density) - rank(p, b, batch, density)));
  for (let i = 0; spaces.some((s) => i < s.length); i++) for (const s of spaces) if (i < s.length) specs.push(s[i]!);
  const heuristicName = kernelNameOf(heuristic);
  const seen = new Set<string>();
  const out: Candidate[] = [];
  for (const spec of specs) {
    const kernel = kernelNameOf(spec);
    if (seen.has(kernel)) continue;
    seen.add(kernel);
    out.push({ spec, kernel, heuristic: kernel === heuristicName });
    if (max !== undefined && out.length >= Math.max(1, max)) break;
  }
  return out;
}
