// A small generated folder for the addon tests: three act-sparse kernels rendered by the real
// renderer (3x3 stride 1 with bias + ReLU; 3x3 stride 2 with 'same' padding that is asymmetric,
// ReLU only; 1x1 with bias, no ReLU, K not a multiple of the block's 32 channels), the registry
// and a CMakeLists.txt like the ones cusnn-gen writes. Building it takes a fraction of a real
// network's time, so CI can build the addon on every run.
import type { ActSparseKernelSpec } from '../../src/families/act-sparse/spec.js';
import { writeKernelFolder } from '../../src/runtime/kernel-folder.js';

type Problem = Omit<ActSparseKernelSpec, 'family' | 'arch'>;

export const TINY_PROBLEMS = {
  /** 3x3/1, pad 1, bias + ReLU. */
  conv3x3: { c: 32, h: 10, w: 12, k: 64, r: 3, s: 3, strideH: 1, strideW: 1, padTop: 1, padLeft: 1, ho: 10, wo: 12,
    bias: true, relu: true, th: 2, tw: 6, tc: 8, kb: 32, cs: 2 },
  /** 3x3/2 on 10x10, TF 'same': pad top/left 0, bottom/right 1; ReLU, no bias. */
  conv3x3s2: { c: 16, h: 10, w: 10, k: 32, r: 3, s: 3, strideH: 2, strideW: 2, padTop: 0, padLeft: 0, ho: 5, wo: 5,
    bias: false, relu: true, th: 2, tw: 5, tc: 8, kb: 32, cs: 2 },
  /** 1x1, bias, no ReLU, K = 40 (a partial block of output channels). */
  conv1x1: { c: 48, h: 7, w: 7, k: 40, r: 1, s: 1, strideH: 1, strideW: 1, padTop: 0, padLeft: 0, ho: 7, wo: 7,
    bias: true, relu: false, th: 1, tw: 7, tc: 16, kb: 32, cs: 1 },
} as const satisfies Record<string, Problem>;

export type TinyKernel = keyof typeof TINY_PROBLEMS;

export interface TinyFolder {
  readonly dir: string;
  readonly target: string;
  /** Kernel name of each problem. */
  readonly kernels: Record<TinyKernel, string>;
}

/** Writes the tiny folder for `arch` (e.g. sm_90) into `dir`. */
export function writeTinyFolder(dir: string, arch: 'sm_75' | 'sm_80' | 'sm_86' | 'sm_89' | 'sm_90' = 'sm_90'): TinyFolder {
  const entries = Object.entries(TINY_PROBLEMS) as [TinyKernel, Problem][];
  const { target, names } = writeKernelFolder(dir, arch, entries.map(([, p]) => ({ family: 'act-sparse', arch, ...p })), `cusnn_tiny_${arch}`);
  return { dir, target, kernels: Object.fromEntries(entries.map(([k], i) => [k, names[i]!])) as Record<TinyKernel, string> };
}

// The reusable part lives in src/runtime/kernel-folder.ts (cusnn-gen tune writes its search
// folders with it); re-exported for the GPU tests that import it from here.
export { writeKernelFolder } from '../../src/runtime/kernel-folder.js';
