// Lab prototype "dsmall": direct convolution for small maps at batch 1 (DenseNet's 128x7x7 -> 32 and
// 128x14x14 -> 32 3x3 layers: 1.8 and 7.2 MMAC, all fixed cost), without a cluster. Each block owns
// KPB output channels and the whole map; the block's CW warps split the input channels, and their
// partial sums are added in shared memory in warp order (fixed: bitwise identical runs). Why: the
// split-K kernels spend ~3.4 us on an empty cluster launch in a graph of their own and ~2.7 us in a
// chain (docs/PERFORMANCE.md); a plain grid of K/KPB blocks with the map and weights staged once
// per block has no cluster barrier and no DSMEM round trip, and 32 blocks still cover 32 SMs.
#pragma once
#include <cuda_runtime.h>

namespace lab {

template <int C_, int H_, int W_, int K_, int R_, int S_, int SH_, int SW_, int PT_, int PL_, int HO_, int WO_,
          int KPB_, int CW_>
struct Dsmall {
  static constexpr int C = C_, H = H_, W = W_, K = K_, R = R_, S = S_, SH = SH_, SW = SW_, PT = PT_, PL = PL_;
  static constexpr int HO = HO_, WO = WO_, KPB = KPB_, CW = CW_;
  static constexpr int RS = R * S, PIX = HO * WO;
  static constexpr int WIN_H = (HO - 1) * SH + R, WIN_W = (WO - 1) * SW + S;  // padded input window
  static constexpr int WIN = WIN_H * WIN_W;
  static constexpr int THREADS = 32 * CW;
  static constexpr int NP = (PIX + 31) / 32;    // pixels per lane
  static constexpr int CPW = (C + CW - 1) / CW;  // channels per warp
  static constexpr int X_FLOATS = C * WIN;
  static constexpr int W_FLOATS = C * RS * KPB;
  static constexpr int RED_FLOATS = CW * KPB * PIX;
  static constexpr int SMEM_FLOATS = X_FLOATS + W_FLOATS > RED_FLOATS ? X_FLOATS + W_FLOATS : RED_FLOATS;
  static constexpr int SMEM_BYTES = SMEM_FLOATS * 4;
  static constexpr int BLOCKS = (K + KPB - 1) / KPB;
  static_assert(THREADS <= 1024, "threads");
};

template <class P>
__global__ void __launch_bounds__(P::THREADS, 1)
    dsmallKernel(const float* __restrict__ in, const float* __restrict__ wt, float* __restrict__ out) {
  extern __shared__ __align__(16) float smem[];
  float* xs = smem;                 // [C][WIN_H][WIN_W], zero padded
  float* ws = smem + P::X_FLOATS;   // [C][RS][KPB]
  const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
  const int k0 = blockIdx.x * P::KPB;

  // Stage the padded window and this block's weights (CRSK in global: KPB consecutive floats per (c, rs)).
  for (int i = tid; i < P::X_FLOATS; i += P::THREADS) {
    const int c = i / P::WIN, r = i % P::WIN;
    const int y = r / P::WIN_W - P::PT, x = r % P::WIN_W - P::PL;
    xs[i] = (y >= 0 && y < P::H && x >= 0 && x < P::W) ? __ldg(in + (c * P::H + y) * P::W + x) : 0.0f;
  }
  for (int i = tid; i < P::W_FLOATS; i += P::THREADS) {
    const int kk = i % P::KPB, crs = i / P::KPB;
    ws[i] = k0 + kk < P::K ? __ldg(wt + (long long)crs * P::K + k0 + kk) : 0.0f;
  }
  __syncthreads();

  float acc[P::KPB][P::NP];
#pragma unroll
  for (int kk = 0; kk < P::KPB; ++kk)
#pragma unroll
    for (int j = 0; j < P::NP; ++j) acc[kk][j] = 0.0f;
  int base[P::NP];  // window offset of each pixel's top-left tap
#pragma unroll
  for (int j = 0; j < P::NP; ++j) {
    const int p = lane + 32 * j;
    const int oy = p / P::WO, ox = p % P::WO;
    base[j] = p < P::PIX ? oy * P::SH * P::WIN_W + ox * P::SW : 0;
  }
  const int c0 = warp * P::CPW;
  const int c1 = c0 + P::CPW < P::C ? c0 + P::CPW : P::C;
  for (int c = c0; c < c1; ++c) {
    const float* xc = xs + c * P::WIN;
    const float* wc = ws + c * P::RS * P::KPB;
#pragma unroll
    for (int r = 0; r < P::R; ++r)
#pragma unroll
      for (int s = 0; s < P::S; ++s) {
        float wv[P::KPB];
#pragma unroll
        for (int kk = 0; kk < P::KPB; ++kk) wv[kk] = wc[(r * P::S + s) * P::KPB + kk];  // broadcast
#pragma unroll
        for (int j = 0; j < P::NP; ++j) {
          const float x = xc[base[j] + r * P::WIN_W + s];
#pragma unroll
          for (int kk = 0; kk < P::KPB; ++kk) acc[kk][j] = fmaf(x, wv[kk], acc[kk][j]);
        }
      }
  }
  __syncthreads();  // the window is dead: reuse shared memory for the partial sums
  float* red = smem;  // [CW][KPB][PIX]
#pragma unroll
  for (int kk = 0; kk < P::KPB; ++kk)
#pragma unroll
    for (int j = 0; j < P::NP; ++j) {
      const int p = lane + 32 * j;
      if (p < P::PIX) red[(warp * P::KPB + kk) * P::PIX + p] = acc[kk][j];
    }
  __syncthreads();
  for (int i = tid; i < P::KPB * P::PIX; i += P::THREADS) {
    const int kk = i / P::PIX, p = i % P::PIX;
    if (k0 + kk >= P::K) continue;
    float v = red[i];
    for (int w = 1; w < P::CW; ++w) v += red[w * P::KPB * P::PIX + i];  // warp order: deterministic
    out[(k0 + kk) * P::PIX + p] = v;
  }
}

template <class P>
cudaError_t launchDsmall(const float* in, const float* wt, float* out, cudaStream_t st) {
  static bool attr = false;
  if (!attr) {
    cudaError_t e = cudaFuncSetAttribute(dsmallKernel<P>, cudaFuncAttributeMaxDynamicSharedMemorySize, P::SMEM_BYTES);
    if (e != cudaSuccess) return e;
    attr = true;
  }
  dsmallKernel<P><<<P::BLOCKS, P::THREADS, P::SMEM_BYTES, st>>>(in, wt, out);
  return cudaGetLastError();
}

}  // namespace lab
