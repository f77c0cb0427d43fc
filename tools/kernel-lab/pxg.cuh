// Lab prototype "pxg" (run 36): a pixel-stationary gather over the input's nonzeros, for 3x3 convs
// with few output channels at very high input sparsity (DenseNet's 128x7x7 -> 32 and 128x14x14 -> 32 at
// >= 85% zeros, where dconv takes 4.3-4.7 us against the 2.56 us that 5x over cuDNN needs).
//
// Why another design after dsmall (run 6) lost: dsmall staged the whole map in each of 8-32 blocks, so
// most SMs idled and each block waited on a long staging loop. Here one block owns one output pixel and
// all K output channels: its WARPS warps split the C * R * S (channel, tap) pairs of the pixel's window;
// each lane loads PAIRS/32 input values at once (one round of L2 latency), the warp compacts the nonzero
// ones into a shared list with ballots (ascending pair order: a fixed summation order), and then walks
// only that list, lanes along the output channels, UNROLL weight rows (CRSK: 128 contiguous bytes per
// row for K = 32) in flight at once. The warps' partial sums are added in warp order (bitwise identical
// runs). At 90% zeros a warp of 8 holds ~14 live pairs of its 144: about two rounds of weight loads.
// Work skipped is per element, not per tile: ReLU's scattered zeros all count.
//
// This lab copy keeps runs 36-37's per-warp lists, measured on uniform zeros. The generator's template
// (templates/pxg.cu.hbs) shares the block's compacted list evenly over the warps since run 39: on real
// activations whole channels are zero and the per-warp lists were very uneven (docs/PERFORMANCE.md).
#pragma once
#include <cuda_runtime.h>
#include <cstdlib>

namespace lab {

template <int C_, int H_, int W_, int K_, int R_, int S_, int SH_, int SW_, int PT_, int PL_, int HO_, int WO_,
          int WARPS_, int UNROLL_, int PPB_, int PF_ = 0>
struct Pxg {
  static constexpr int C = C_, H = H_, W = W_, K = K_, R = R_, S = S_, SH = SH_, SW = SW_, PT = PT_, PL = PL_;
  static constexpr int HO = HO_, WO = WO_, WARPS = WARPS_, UNROLL = UNROLL_, PPB = PPB_;
  // PF (run 37): before the dependent-launch wait, 0 nothing; 1 prefetch every weight line into L1 (weights
  // do not depend on the previous kernel, so with PDL this overlaps its tail)
  static constexpr int PF = PF_;
  static constexpr int RS = R * S, PIX = HO * WO, PAIRS = C * RS;
  static constexpr int THREADS = 32 * WARPS;
  static constexpr int KPL = (K + 31) / 32;                 // output channels per lane
  static constexpr int SLICE = (PAIRS + WARPS - 1) / WARPS;  // pairs per warp
  static constexpr int NCH = (SLICE + 31) / 32;              // loads per lane
  static constexpr int LIST = NCH * 32;                      // a warp's list capacity
  static constexpr int BLOCKS = (PIX + PPB - 1) / PPB;
  static constexpr int SMEM_BYTES = WARPS * LIST * 8 + WARPS * K * 4;
  static_assert(THREADS <= 1024, "threads");
};

// Loads whose address the compiler cannot turn into a branch (a dead slot loads a valid address).
__device__ __forceinline__ float pxgLoad(const float* p) {
  float v;
  asm volatile("ld.global.nc.f32 %0, [%1];" : "=f"(v) : "l"(p));
  return v;
}

// A warp's slice of one pixel's window: every lane's NCH input values (pair lo + 32 j + lane), all loads
// issued before any is used; a slot with live[j] false (past the slice, or the caller's reason) or outside
// the input reads a valid address and gives 0. Shared with dual.cuh.
template <class P>
__device__ __forceinline__ void pxgLoadWindow(const float* __restrict__ in, int lo, int lane, int iy0, int ix0,
                                              const bool (&live)[P::NCH], float (&v)[P::NCH]) {
#pragma unroll
  for (int j = 0; j < P::NCH; ++j) {
    const int pair = lo + 32 * j + lane;
    const int c = pair / P::RS, tap = pair - (pair / P::RS) * P::RS;
    const int r = tap / P::S, s = tap - (tap / P::S) * P::S;
    const int iy = iy0 + r, ix = ix0 + s;
    const bool ok = live[j] && static_cast<unsigned>(iy) < static_cast<unsigned>(P::H) &&
                    static_cast<unsigned>(ix) < static_cast<unsigned>(P::W);
    const float x = pxgLoad(ok ? in + (c * P::H + iy) * P::W + ix : in);
    v[j] = ok ? x : 0.0f;
  }
}

template <class P>
__global__ void __launch_bounds__(P::THREADS)
    pxgKernel(const float* __restrict__ in, const float* __restrict__ wt, float* __restrict__ out) {
  __shared__ int listPair[P::WARPS * P::LIST];
  __shared__ float listVal[P::WARPS * P::LIST];
  __shared__ float red[P::WARPS * P::K];
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  int* myPair = listPair + warp * P::LIST;
  float* myVal = listVal + warp * P::LIST;
  const int lo = warp * P::SLICE, hi = min(P::PAIRS, lo + P::SLICE);
  if (P::PF == 1) {
    constexpr int LINES = (P::PAIRS * P::K * 4 + 127) / 128;
    for (int i = threadIdx.x; i < LINES; i += P::THREADS)
      asm volatile("prefetch.global.L1 [%0];" ::"l"(reinterpret_cast<const char*>(wt) + 128ll * i));
  }
  // Dependent launch (a no-op without the launch attribute): the input only after the wait.
  asm volatile("griddepcontrol.wait;" ::: "memory");
  asm volatile("griddepcontrol.launch_dependents;" ::: "memory");

  for (int q = 0; q < P::PPB; ++q) {
    const int p = blockIdx.x * P::PPB + q;
    if (p >= P::PIX) break;  // uniform over the block
    const int oy = p / P::WO, ox = p - (p / P::WO) * P::WO;
    const int iy0 = oy * P::SH - P::PT, ix0 = ox * P::SW - P::PL;

    // Every lane's input values of the warp's slice, all loads issued before any is used.
    bool inSlice[P::NCH];
#pragma unroll
    for (int j = 0; j < P::NCH; ++j) inSlice[j] = lo + 32 * j + lane < hi;
    float v[P::NCH];
    pxgLoadWindow<P>(in, lo, lane, iy0, ix0, inSlice, v);
    // Compact the nonzero pairs, ascending.
    int m = 0;
#pragma unroll
    for (int j = 0; j < P::NCH; ++j) {
      const unsigned bal = __ballot_sync(0xffffffffu, v[j] != 0.0f);
      if (v[j] != 0.0f) {
        const int pos = m + __popc(bal & ((1u << lane) - 1u));
        myPair[pos] = lo + 32 * j + lane;
        myVal[pos] = v[j];
      }
      m += __popc(bal);
    }
    __syncwarp();

    float acc[P::KPL];
#pragma unroll
    for (int t = 0; t < P::KPL; ++t) acc[t] = 0.0f;
    for (int base = 0; base < m; base += P::UNROLL) {
      float xv[P::UNROLL], wv[P::UNROLL][P::KPL];
#pragma unroll
      for (int u = 0; u < P::UNROLL; ++u) {
        const bool live = base + u < m;
        const int pair = live ? myPair[base + u] : 0;
        xv[u] = live ? myVal[base + u] : 0.0f;
#pragma unroll
        for (int t = 0; t < P::KPL; ++t) {
          const int k = lane + 32 * t;
          wv[u][t] = pxgLoad(wt + static_cast<long long>(pair) * P::K + (k < P::K ? k : 0));
        }
      }
#pragma unroll
      for (int u = 0; u < P::UNROLL; ++u)
#pragma unroll
        for (int t = 0; t < P::KPL; ++t)
          if (base + u < m) acc[t] = fmaf(xv[u], wv[u][t], acc[t]);
    }
#pragma unroll
    for (int t = 0; t < P::KPL; ++t) {
      const int k = lane + 32 * t;
      if (k < P::K) red[warp * P::K + k] = acc[t];
    }
    __syncthreads();
    for (int k = threadIdx.x; k < P::K; k += P::THREADS) {
      float s = 0.0f;
#pragma unroll 4
      for (int w = 0; w < P::WARPS; ++w) s += red[w * P::K + k];
      out[k * P::PIX + p] = s;
    }
    __syncthreads();  // red and the lists are reused by the next pixel
  }
}

template <class P>
cudaError_t launchPxg(const float* in, const float* wt, float* out, cudaStream_t st) {
  cudaLaunchConfig_t cfg = {};
  cfg.gridDim = dim3(P::BLOCKS);
  cfg.blockDim = dim3(P::THREADS);
  cfg.stream = st;
  cudaLaunchAttribute at[1];
  at[0].id = cudaLaunchAttributeProgrammaticStreamSerialization;
  at[0].val.programmaticStreamSerializationAllowed = 1;
  cfg.attrs = at;
  cfg.numAttrs = getenv("LAB_PDL") ? 1 : 0;
  return cudaLaunchKernelEx(&cfg, pxgKernel<P>, in, wt, out);
}

}  // namespace lab
