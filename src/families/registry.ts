// The kernel families the planner can emit, in one registry: each family is one part (spec and
// name, tiling rule, resource count, cost model, renderer and template) under src/families/<name>
// or, for the original act-sparse family, src/plan + src/codegen. Adding a family touches its own
// folder and this file.
import type { GpuProfile } from '../arch/profiles.js';
import { renderActSparseKernel, type RenderedKernel, type ServedLayer } from '../codegen/act-sparse.js';
import { kernelName as actSparseName } from '../codegen/naming.js';
import { kernelResources as actSparseResources } from '../plan/act-sparse-resources.js';
import { actSparseUs } from '../plan/cost.js';
import type { ActSparseKernelSpec, KernelResources } from '../plan/types.js';
import { dconvUs } from './dconv/cost.js';
import { renderDconvKernel } from './dconv/render.js';
import { dconvResources } from './dconv/resources.js';
import { dconvName, DCONV_TILE_FIELDS, type DconvKernelSpec, type DconvTiles } from './dconv/spec.js';
import { igemmUs } from './igemm/cost.js';
import { renderIgemmKernel } from './igemm/render.js';
import { igemmResources } from './igemm/resources.js';
import { igemmName, IGEMM_TILE_FIELDS, type IgemmKernelSpec, type IgemmTiles } from './igemm/spec.js';

export type KernelSpec = ActSparseKernelSpec | IgemmKernelSpec | DconvKernelSpec;
export type KernelFamily = KernelSpec['family'];
export const KERNEL_FAMILIES: readonly KernelFamily[] = ['act-sparse', 'igemm', 'dconv'];

/** The tile fields of a spec, as stored with a measurement (calibration.json, the tune cache). */
export type KernelTiles =
  | { readonly family?: 'act-sparse'; readonly th: number; readonly tw: number; readonly tc: number; readonly kb: number; readonly cs: number }
  | ({ readonly family: 'igemm' } & IgemmTiles)
  | ({ readonly family: 'dconv' } & DconvTiles);

export function kernelNameOf(spec: KernelSpec): string {
  return spec.family === 'igemm' ? igemmName(spec) : spec.family === 'dconv' ? dconvName(spec) : actSparseName(spec);
}

export function renderKernel(spec: KernelSpec, servedBy: readonly ServedLayer[]): RenderedKernel {
  if (spec.family === 'dconv') return renderDconvKernel(spec, servedBy);
  return spec.family === 'igemm' ? renderIgemmKernel(spec, servedBy) : renderActSparseKernel(spec, servedBy);
}

export function resourcesOf(spec: KernelSpec, batch: number): KernelResources {
  if (spec.family === 'dconv') return dconvResources(spec, batch);
  return spec.family === 'igemm' ? igemmResources(spec, batch) : actSparseResources(spec, batch);
}

/** The family's cost-model estimate in microseconds at input density `density` (fraction of nonzeros). */
export function estimateUs(p: GpuProfile, spec: KernelSpec, batch: number, density: number): number | null {
  if (spec.family === 'igemm') return igemmUs(p, spec, batch)?.us ?? null;
  if (spec.family === 'dconv') return dconvUs(p, spec, batch, density)?.us ?? null;
  return actSparseUs(p, spec, batch, density)?.us ?? null;
}

export function tilesOf(spec: KernelSpec): KernelTiles {
  if (spec.family === 'igemm') {
    return { family: 'igemm', ...Object.fromEntries(IGEMM_TILE_FIELDS.map((f) => [f, spec[f]])) } as KernelTiles;
  }
  if (spec.family === 'dconv') {
    return { family: 'dconv', ...Object.fromEntries(DCONV_TILE_FIELDS.map((f) => [f, spec[f]])) } as KernelTiles;
  }
  return { th: spec.th, tw: spec.tw, tc: spec.tc, kb: spec.kb, cs: spec.cs };
}

/** The spec a measurement's tiles describe on a problem (the problem fields of either family). */
export function specWithTiles(problem: Omit<ActSparseKernelSpec, 'family' | 'th' | 'tw' | 'tc' | 'kb' | 'cs'>, tiles: KernelTiles): KernelSpec {
  if (tiles.family === 'dconv') {
    const t: DconvTiles = { bm: tiles.bm, tm: tiles.tm, tn: tiles.tn, rowsT: tiles.rowsT, bkc: tiles.bkc, split: tiles.split, stages: tiles.stages };
    return { ...problem, ...t, family: 'dconv' };
  }
  if (tiles.family === 'igemm') {
    const t: IgemmTiles = { bm: tiles.bm, bn: tiles.bn, bkc: tiles.bkc, tm: tiles.tm, tn: tiles.tn, warpM: tiles.warpM, split: tiles.split, stages: tiles.stages };
    return { ...problem, ...t, family: 'igemm' };
  }
  return { ...problem, family: 'act-sparse', th: tiles.th, tw: tiles.tw, tc: tiles.tc, kb: tiles.kb, cs: tiles.cs };
}

/** Tiles in words (report.md, reasons). */
export function describeTiles(spec: KernelSpec): string {
  if (spec.family === 'dconv') {
    return `dconv bm ${spec.bm} x ${spec.rowsT} rows, t ${spec.tm}x${spec.tn}, bkc ${spec.bkc}, split ${spec.split}`;
  }
  if (spec.family === 'igemm') {
    return `igemm bm ${spec.bm} x bn ${spec.bn}, bkc ${spec.bkc}, t ${spec.tm}x${spec.tn}, warp ${spec.warpM}x${32 / spec.warpM}, split ${spec.split}`;
  }
  return `${spec.th}x${spec.tw}, ${spec.tc}, ${spec.kb}, ${spec.cs}`;
}
