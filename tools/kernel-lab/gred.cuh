// Lab: split-K reductions through global memory instead of a thread block cluster (run 34).
// Why: an empty kernel launched as clusters of 16 costs ~2.7 us per launch in a chain against
// ~0.85 us for a plain launch (PREDICTIONS.md, run 1 ablation), and the tiny batch-1 layers
// (DenseNet's 128x7x7 -> 32: 1.8 MMAC in 4.3 us) are mostly that fixed cost.
//   RED 1 "last": each split block writes its partial tile to a workspace, bumps the tile's
//     counter; the block that arrives last sums the SPLIT partials in rank order 0..SPLIT-1
//     (the same order whichever block is last: bitwise identical runs) and resets the counter.
//   RED 2 "spin": every block waits until the counter reaches SPLIT, then sums a 1/SPLIT slice
//     (as the cluster path does through DSMEM). Needs every split block of a tile resident at
//     once: the launcher refuses grids larger than one block per SM.
// The workspace and counters are per kernel instantiation, allocated once (the lab runs one
// launch at a time on one stream).
#pragma once
#include <cuda_runtime.h>

namespace lab {

__device__ __forceinline__ int ldAcquire(const int* p) {
  int v;
  asm volatile("ld.acquire.gpu.global.s32 %0, [%1];\n" : "=r"(v) : "l"(p) : "memory");
  return v;
}

// tileWs: this tile's SPLIT x TILE partials (rank-major); ctr: this tile's two counters.
// store(e, y) writes element e of the tile. Call with every thread of the block after its
// partial is in tileWs[z * TILE ..].
template <int SPLIT, int TILE, int THREADS, int RED, class F>
__device__ __forceinline__ void gredFinish(const float* tileWs, int z, int* ctr, F store) {
  __shared__ int flag;
  __threadfence();
  __syncthreads();
  if (RED == 1) {
    if (threadIdx.x == 0) flag = atomicAdd(ctr, 1) == SPLIT - 1;
    __syncthreads();
    if (!flag) return;
    __threadfence();
    constexpr int U = 4;
    for (int e0 = threadIdx.x; e0 < TILE; e0 += U * THREADS) {
      float y[U];
#pragma unroll
      for (int u = 0; u < U; ++u) y[u] = 0.0f;
#pragma unroll
      for (int r = 0; r < SPLIT; ++r)
#pragma unroll
        for (int u = 0; u < U; ++u)
          if (e0 + u * THREADS < TILE) y[u] += __ldcg(tileWs + r * TILE + e0 + u * THREADS);
#pragma unroll
      for (int u = 0; u < U; ++u)
        if (e0 + u * THREADS < TILE) store(e0 + u * THREADS, y[u]);
    }
    if (threadIdx.x == 0) ctr[0] = 0;
  } else {
    if (threadIdx.x == 0) {
      atomicAdd(ctr, 1);
      while (ldAcquire(ctr) < SPLIT) __nanosleep(32);
    }
    __syncthreads();
    for (int e = z * THREADS + threadIdx.x; e < TILE; e += SPLIT * THREADS) {
      float y = 0.0f;
#pragma unroll
      for (int r = 0; r < SPLIT; ++r) y += __ldcg(tileWs + r * TILE + e);
      store(e, y);
    }
    __syncthreads();
    if (threadIdx.x == 0 && atomicAdd(ctr + 1, 1) == SPLIT - 1) {
      ctr[0] = 0;
      ctr[1] = 0;
    }
  }
}

// Workspace for one kernel instantiation: tiles x SPLIT x TILE floats, 2 counters per tile (zeroed).
struct Gws {
  float* ws = nullptr;
  int* ctr = nullptr;
};
template <class Tag>
inline cudaError_t gwsFor(size_t floats, int tiles, Gws& out) {
  static Gws g;
  static cudaError_t err = [&] {
    cudaError_t e = cudaMalloc(&g.ws, floats * 4);
    if (e == cudaSuccess) e = cudaMalloc(&g.ctr, tiles * 2 * sizeof(int));
    if (e == cudaSuccess) e = cudaMemset(g.ctr, 0, tiles * 2 * sizeof(int));
    if (e == cudaSuccess) e = cudaDeviceSynchronize();
    return e;
  }();
  out = g;
  return err;
}

// Empty kernels for the launch-cost sweep: plain, or with one cluster barrier.
template <bool SYNC>
__global__ void emptyKernel(int* never) {
  if (SYNC) cooperative_groups::this_cluster().sync();
  if (never && blockIdx.x == 0x7fffffff) *never = 1;
}

}  // namespace lab
