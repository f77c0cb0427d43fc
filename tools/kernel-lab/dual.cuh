// Lab prototype "dual" (issue 10, item 3; written 2026-12-04, not yet run; the generator's family since:
// src/families/dual, templates/dual.cu.hbs): a dual-sparse gather that skips
// both kinds of zero, for 3x3 convs of pruned networks at batch 1 (ResNet-50 pruned 90%: 512x7x7 -> 512,
// 256x14x14 -> 256, 128x28x28 -> 128; DenseNet-169 pruned: 128x7x7 -> 32).
//
// Why this shape of kernel: pxg (pxg.cuh, templates/pxg.cu.hbs) showed that one block per output pixel,
// its warps compacting the window's nonzero inputs with ballots and sharing them out evenly, skips ReLU's
// zeros at element granularity (DenseNet-169's 7x7 convs 2.3-2.6 us against cuDNN's 12.8). pxg reads a
// whole weight row (all K output channels of one (channel, tap)) per nonzero input: on pruned weights
// that row is 90% zeros. Here the rows are stored compressed (CSR over (channel, tap): the nonzero
// weights' output channels and values, fixed before the run, as the generator would bake them), so the
// work per pixel is the nonzero inputs times their rows' nonzero weights: both kinds of zero skipped.
// A nonzero input whose weight row is empty is dropped in the compaction itself.
//
// Per block: WARPS warps load the pixel's window (NCH values a lane), count and compact the nonzero
// inputs with nonempty rows into one block list (ascending (channel, tap) order), then warp w takes the
// entries [w * M / WARPS, (w + 1) * M / WARPS). For each entry the warp's lanes walk the row's nonzeros
// (32 at a time, UNROLL entries' loads in flight) and add v * w into the warp's own accumulators in
// shared memory, acc[warp][k] (within one row the output channels are distinct: no two lanes of an
// instruction touch one k). Then the warps' accumulators are added in warp order: exact fp32, and a
// fixed order of every sum (per (warp, k): entry order), so reruns are bitwise identical.
//
// Expected limits (to measure): one block per pixel (49 blocks on 7x7), the row's dependent loads
// (row start, then channels and values), bank conflicts of the scattered k in the accumulators.
#pragma once
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdlib>
#include <vector>

#include "pxg.cuh"  // pxgLoad, pxgLoadWindow

namespace lab {

template <int C_, int H_, int W_, int K_, int R_, int S_, int SH_, int SW_, int PT_, int PL_, int HO_, int WO_,
          int WARPS_, int UNROLL_>
struct Dual {
  static constexpr int C = C_, H = H_, W = W_, K = K_, R = R_, S = S_, SH = SH_, SW = SW_, PT = PT_, PL = PL_;
  static constexpr int HO = HO_, WO = WO_, WARPS = WARPS_, UNROLL = UNROLL_;
  static constexpr int RS = R * S, PIX = HO * WO, PAIRS = C * RS;
  static constexpr int THREADS = 32 * WARPS;
  static constexpr int SLICE = (PAIRS + WARPS - 1) / WARPS;  // pairs per warp to load
  static constexpr int NCH = (SLICE + 31) / 32;              // loads per lane
  static constexpr int LIST = WARPS * NCH * 32;              // the block list's capacity
  static constexpr int BLOCKS = PIX;
  // list pairs and values, per-warp accumulators, per-warp counts
  static constexpr int SMEM_BYTES = LIST * 8 + WARPS * K * 4 + WARPS * 4;
  static_assert(THREADS <= 1024, "threads");
  static_assert(K <= 65536, "output channels stored as uint16");
};

__device__ __forceinline__ int dualLoadInt(const int* p) {
  int v;
  asm volatile("ld.global.nc.s32 %0, [%1];" : "=r"(v) : "l"(p));
  return v;
}
__device__ __forceinline__ unsigned dualLoadU16(const unsigned short* p) {
  unsigned short v;
  asm volatile("ld.global.nc.u16 %0, [%1];" : "=h"(v) : "l"(p));
  return v;
}

// rowStart [PAIRS + 1]; rowK, rowW [nnz]: row pair = c * R * S + r * S + s, its nonzero weights' output
// channels (ascending) and values.
template <class P>
__global__ void __launch_bounds__(P::THREADS)
    dualKernel(const float* __restrict__ in, const int* __restrict__ rowStart, const unsigned short* __restrict__ rowK,
               const float* __restrict__ rowW, float* __restrict__ out) {
  extern __shared__ __align__(16) float smem[];
  int* listPair = reinterpret_cast<int*>(smem);
  float* listVal = smem + P::LIST;
  float* acc = smem + 2 * P::LIST;  // [WARPS][K]
  int* count = reinterpret_cast<int*>(acc + P::WARPS * P::K);
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  const int lo = warp * P::SLICE, hi = min(P::PAIRS, lo + P::SLICE);
  const int p = blockIdx.x;
  const int oy = p / P::WO, ox = p - (p / P::WO) * P::WO;
  const int iy0 = oy * P::SH - P::PT, ix0 = ox * P::SW - P::PL;
  for (int k = lane; k < P::K; k += 32) acc[warp * P::K + k] = 0.0f;
  // Which rows are empty does not depend on the previous kernel: read before the wait.
  bool rowLive[P::NCH];
#pragma unroll
  for (int j = 0; j < P::NCH; ++j) {
    const int pair = lo + 32 * j + lane, q = pair < hi ? pair : 0;  // a dead slot reads a valid address
    const int a = dualLoadInt(rowStart + q), b = dualLoadInt(rowStart + q + 1);
    rowLive[j] = pair < hi && b > a;
  }
  asm volatile("griddepcontrol.wait;" ::: "memory");
  asm volatile("griddepcontrol.launch_dependents;" ::: "memory");

  float v[P::NCH];
  pxgLoadWindow<P>(in, lo, lane, iy0, ix0, rowLive, v);  // pxg's window load, the empty rows' inputs dropped
  unsigned bal[P::NCH];
  int m = 0;
#pragma unroll
  for (int j = 0; j < P::NCH; ++j) {
    bal[j] = __ballot_sync(0xffffffffu, v[j] != 0.0f);
    m += __popc(bal[j]);
  }
  if (lane == 0) count[warp] = m;
  __syncthreads();
  int pos0 = 0, total = 0;
  for (int w = 0; w < P::WARPS; ++w) {
    const int n = count[w];
    pos0 += w < warp ? n : 0;
    total += n;
  }
#pragma unroll
  for (int j = 0; j < P::NCH; ++j) {
    if (v[j] != 0.0f) {
      const int pos = pos0 + __popc(bal[j] & ((1u << lane) - 1u));
      listPair[pos] = lo + 32 * j + lane;
      listVal[pos] = v[j];
    }
    pos0 += __popc(bal[j]);
  }
  __syncthreads();
  const int b0 = warp * total / P::WARPS, b1 = (warp + 1) * total / P::WARPS;
  float* myAcc = acc + warp * P::K;
  for (int base = b0; base < b1; base += P::UNROLL) {
    int s0[P::UNROLL], len[P::UNROLL];
    float xv[P::UNROLL];
    int maxLen = 0;
#pragma unroll
    for (int u = 0; u < P::UNROLL; ++u) {
      const bool live = base + u < b1;
      const int pair = live ? listPair[base + u] : 0;
      xv[u] = live ? listVal[base + u] : 0.0f;
      s0[u] = dualLoadInt(rowStart + pair);
      len[u] = live ? dualLoadInt(rowStart + pair + 1) - s0[u] : 0;
      maxLen = max(maxLen, len[u]);  // the same for every lane: the entries are the warp's
    }
    for (int j0 = 0; j0 < maxLen; j0 += 32) {
      unsigned kk[P::UNROLL];
      float wv[P::UNROLL];
#pragma unroll
      for (int u = 0; u < P::UNROLL; ++u) {
        const int j = j0 + lane;
        const int at = s0[u] + (j < len[u] ? j : 0);
        kk[u] = dualLoadU16(rowK + at);
        wv[u] = pxgLoad(rowW + at);
      }
#pragma unroll
      for (int u = 0; u < P::UNROLL; ++u) {
        if (j0 + lane < len[u]) myAcc[kk[u]] = fmaf(xv[u], wv[u], myAcc[kk[u]]);
        // The next update may touch an accumulator this one wrote, from another lane: without the warp
        // barrier that is a race under independent thread scheduling (found when the family was ported).
        __syncwarp();
      }
    }
  }
  __syncthreads();
  for (int k = threadIdx.x; k < P::K; k += P::THREADS) {
    float s = 0.0f;
    for (int w = 0; w < P::WARPS; ++w) s += acc[w * P::K + k];
    out[k * P::PIX + p] = s;
  }
}

// The row-compressed weights of a [C][R][S][K] (CRSK) kernel, on the device.
struct DualRows {
  int* start = nullptr;
  unsigned short* k = nullptr;
  float* w = nullptr;
  int nnz = 0;
};

inline DualRows dualRowsFromCrsk(const std::vector<float>& crsk, int pairs, int K) {
  std::vector<int> start(pairs + 1, 0);
  std::vector<unsigned short> ks;
  std::vector<float> ws;
  for (int q = 0; q < pairs; ++q) {
    start[q] = static_cast<int>(ks.size());
    for (int k = 0; k < K; ++k) {
      const float v = crsk[static_cast<size_t>(q) * K + k];
      if (v != 0.0f) { ks.push_back(static_cast<unsigned short>(k)); ws.push_back(v); }
    }
  }
  start[pairs] = static_cast<int>(ks.size());
  DualRows d;
  d.nnz = start[pairs];
  const size_t n = std::max<size_t>(1, ks.size());
  cudaMalloc(&d.start, start.size() * 4);
  cudaMalloc(&d.k, n * 2);
  cudaMalloc(&d.w, n * 4);
  cudaMemcpy(d.start, start.data(), start.size() * 4, cudaMemcpyHostToDevice);
  if (!ks.empty()) {
    cudaMemcpy(d.k, ks.data(), ks.size() * 2, cudaMemcpyHostToDevice);
    cudaMemcpy(d.w, ws.data(), ws.size() * 4, cudaMemcpyHostToDevice);
  }
  return d;
}

inline void dualRowsFree(DualRows& d) {
  cudaFree(d.start); cudaFree(d.k); cudaFree(d.w);
  d = DualRows{};
}

template <class P>
cudaError_t launchDual(const float* in, const DualRows& rows, float* out, cudaStream_t st) {
  static const cudaError_t attr = cudaFuncSetAttribute(dualKernel<P>, cudaFuncAttributeMaxDynamicSharedMemorySize, P::SMEM_BYTES);
  if (attr != cudaSuccess) return attr;
  cudaLaunchConfig_t cfg = {};
  cfg.gridDim = dim3(P::BLOCKS);
  cfg.blockDim = dim3(P::THREADS);
  cfg.dynamicSmemBytes = P::SMEM_BYTES;
  cfg.stream = st;
  cudaLaunchAttribute at[1];
  at[0].id = cudaLaunchAttributeProgrammaticStreamSerialization;
  at[0].val.programmaticStreamSerializationAllowed = 1;
  static const bool pdl = getenv("LAB_PDL") != nullptr;
  cfg.attrs = at;
  cfg.numAttrs = pdl ? 1 : 0;
  return cudaLaunchKernelEx(&cfg, dualKernel<P>, in, static_cast<const int*>(rows.start),
                            static_cast<const unsigned short*>(rows.k), static_cast<const float*>(rows.w), out);
}

}  // namespace lab
