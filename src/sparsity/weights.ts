// Weight sparsity facts of one conv kernel [K, C, R, S]: what a weight-sparse kernel would
// specialize on (nonzeros per output channel for load balance, RxS kernels that vanish), and the
// structure of its zeros (unstructured, 2:4 along C, 4x1 blocks along K, whole filters).
import type { WeightPattern, WeightPatternKind } from './types.js';

/** Zeros outside a structured pattern allowed before it is no longer reported, as a fraction of the kernel. */
export const PATTERN_TOLERANCE = 0.01;

/**
 * The pattern of the zeros of kernel [K, C, R*S] with `zeros` zeros (see WeightPatternKind). A
 * last group of C mod 4 channels counts as zero-padded to 4 (2:4); a last block of K mod 4
 * output channels as a smaller block (block4x1).
 */
export function detectPattern(kernel: Float32Array, k: number, c: number, rs: number, zeros: number): WeightPatternKind {
  if (zeros === 0) return 'dense';
  const n = kernel.length;
  const tol = PATTERN_TOLERANCE * n;
  const perK = c * rs;
  let inFilters = 0;
  for (let o = 0; o < k; o++) {
    let i = o * perK;
    const end = i + perK;
    while (i < end && kernel[i] === 0) i++;
    if (i === end) inFilters += perK;
  }
  let inBlocks = 0;
  for (let k0 = 0; k0 < k; k0 += 4) {
    const m = Math.min(4, k - k0);
    for (let j = 0; j < perK; j++) {
      let i = 0;
      while (i < m && kernel[(k0 + i) * perK + j] === 0) i++;
      if (i === m) inBlocks += m;
    }
  }
  let required = 0;
  let twoOfFour = true;
  outer: for (let o = 0; o < k; o++) {
    for (let c0 = 0; c0 < c; c0 += 4) {
      const need = Math.min(4, c - c0) - 2;
      if (need <= 0) continue;
      for (let j = 0; j < rs; j++) {
        let z = 0;
        for (let i = c0; i < c0 + need + 2; i++) if (kernel[o * perK + i * rs + j] === 0) z++;
        if (z < need) {
          twoOfFour = false;
          break outer;
        }
        required += need;
      }
    }
  }
  // The structured pattern that leaves the fewest zeros outside it (filter before block4x1
  // before 2:4 on a tie: an all-zero kernel is 'filter'), if it leaves fewer than `tol`.
  const fits: [WeightPatternKind, number][] = [];
  if (inFilters > 0) fits.push(['filter', zeros - inFilters]);
  if (inBlocks > 0) fits.push(['block4x1', zeros - inBlocks]);
  if (twoOfFour && required > 0) fits.push(['2:4', zeros - required]);
  let best: [WeightPatternKind, number] | null = null;
  for (const f of fits) if (f[1] < tol && (best === null || f[1] < best[1])) best = f;
  if (best) return best[0];
  return zeros < tol ? 'dense' : 'unstructured';
}

export function weightPattern(kernel: Float32Array, shape: readonly number[]): WeightPattern {
  const [k, c, r, s] = shape as [number, number, number, number];
  const rs = r * s;
  const perK = c * rs;
  if (kernel.length !== k * perK) throw new Error(`kernel has ${kernel.length} values, shape ${shape.join('x')} needs ${k * perK}`);
  let zeros = 0;
  let zeroKernels = 0;
  let min = Infinity;
  let max = 0;
  for (let o = 0; o < k; o++) {
    let nnz = 0;
    for (let i = 0; i < c; i++) {
      const base = o * perK + i * rs;
      let kernelNnz = 0;
      for (let j = 0; j < rs; j++) if (kernel[base + j] !== 0) kernelNnz++;
      if (kernelNnz === 0) zeroKernels++;
      nnz += kernelNnz;
    }
    zeros += perK - nnz;
    min = Math.min(min, nnz);
    max = Math.max(max, nnz);
  }
  return {
    sparsity: zeros / kernel.length,
    pattern: detectPattern(kernel, k, c, rs, zeros),
    nnzPerOutChannel: { min, mean: (kernel.length - zeros) / k, max },
    zeroKernels,
    kernels: k * c,
  };
}
