// Weight sparsity facts of one conv kernel [K, C, R, S]: what a weight-sparse kernel would
// specialize on (nonzeros per output channel for load balance, RxS kernels that vanish).
import type { WeightPattern } from './types.js';

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
    nnzPerOutChannel: { min, mean: (kernel.length - zeros) / k, max },
    zeroKernels,
    kernels: k * c,
  };
}
