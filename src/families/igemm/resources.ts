// Resource count of the igemm family: threads, shared memory, grid and a register estimate, the
// same formulas as the constexprs of templates/igemm.cu.hbs (the template static_asserts equality).
import type { KernelResources } from '../../plan/types.js';
import { igemmRows, igemmWriterTiles, type IgemmKernelSpec } from './spec.js';

type Tiling = Pick<IgemmKernelSpec, 'bm' | 'bn' | 'bkc' | 'tm' | 'tn' | 'warpM' | 'split' | 'stages' | 'r' | 's'>;

export function igemmThreads(t: Tiling): number {
  const wtm = t.warpM * t.tm;
  const wtn = (32 / t.warpM) * t.tn;
  return 32 * (t.bm / wtm) * (t.bn / wtn);
}

export function igemmSharedBytes(t: Tiling): number {
  const rows = t.bkc * t.r * t.s;
  const stages = t.stages * rows * (t.bm + t.bn);
  const red = t.split > 1 ? t.bm * t.bn : 0;
  return 4 * Math.max(stages, red);
}

/** Accumulators, one row of operands, gather pointers (2 registers each) and addressing; ptxas has the real figure. */
export function igemmRegsEstimate(t: Tiling): number {
  const threads = igemmThreads(t);
  const gathers = Math.ceil((t.r * t.s * t.bn) / threads);
  return Math.min(255, t.tm * t.tn + t.tm + t.tn + 3 * gathers + 40);
}

/**
 * __launch_bounds__'s minimum blocks per SM. The large-batch tiles (>= 32 accumulators a thread) ask
 * for as many blocks as 128 registers a thread allow (2 of 256 threads), so that one block's
 * pipeline waits are hidden by another's FMAs; the batch-1 tiles keep 1 (all registers available).
 */
export function igemmMinBlocks(t: Tiling): number {
  return t.tm * t.tn >= 32 ? Math.max(1, Math.floor(512 / igemmThreads(t))) : 1;
}

export function igemmStages(spec: Pick<IgemmKernelSpec, 'c' | 'split' | 'bkc'>): number {
  const cps = Math.ceil(Math.ceil(spec.c / spec.split) / spec.bkc) * spec.bkc;
  return Math.ceil(Math.min(spec.c, cps) / spec.bkc);
}

export function igemmResources(spec: IgemmKernelSpec, batch: number): KernelResources {
  return {
    threads: igemmThreads(spec),
    windowH: spec.r,
    windowW: spec.s,
    sharedBytes: igemmSharedBytes(spec),
    regsEstimate: igemmRegsEstimate(spec),
    grid: [Math.ceil((batch * spec.ho * spec.wo) / spec.bn), Math.ceil(igemmRows(spec) / spec.bm) + igemmWriterTiles(spec), spec.split],
  };
}
