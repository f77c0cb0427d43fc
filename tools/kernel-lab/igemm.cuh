// Prototype of the implicit-GEMM split-K convolution core, as a C++ template so the lab can sweep
// tiles without regenerating code. The generated kernels (templates/igemm.cu.hbs) are this code with
// every parameter a literal. Keep the two in step.
//
// GEMM view of a convolution at batch N: M = K output channels, columns = N*HO*WO output pixels,
// reduction = C*R*S ordered (c, r, s) — the row order of the [C][R][S][K] weights, so a stage of BKC
// channels is BKC*R*S consecutive weight rows of K floats each.
#pragma once
#include <cooperative_groups.h>
#include <cuda_runtime.h>
#include <stdint.h>

#include "gred.cuh"

namespace lab {
namespace cg = cooperative_groups;

__device__ __forceinline__ unsigned smemAddr(const void* p) {
  return static_cast<unsigned>(__cvta_generic_to_shared(p));
}
// cp.async with zero fill: src-size 0 writes zeros and reads nothing (sm_80+).
__device__ __forceinline__ void cpAsync4(void* dst, const float* src, bool valid) {
  asm volatile("cp.async.ca.shared.global [%0], [%1], 4, %2;\n" ::"r"(smemAddr(dst)), "l"(src), "r"(valid ? 4 : 0));
}
__device__ __forceinline__ void cpAsync16(void* dst, const float* src, bool valid) {
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(smemAddr(dst)), "l"(src), "r"(valid ? 16 : 0));
}
__device__ __forceinline__ void cpCommit() { asm volatile("cp.async.commit_group;\n" ::); }
template <int N>
__device__ __forceinline__ void cpWait() { asm volatile("cp.async.wait_group %0;\n" ::"n"(N)); }

template <int C_, int H_, int W_, int K_, int R_, int S_, int SH_, int SW_, int PT_, int PL_, int HO_, int WO_,
          int BM_, int BN_, int BKC_, int TM_, int TN_, int WARP_M_, int SPLIT_, int STAGES_, bool SKIP_, bool BIAS_,
          bool RELU_, int MODE_ = 0, int RED_ = 0>
struct Igemm {
  // MODE (lab only): 0 full, 1 empty kernel, 2 loads only (no FMAs), 3 FMAs only (no loads)
  static constexpr int MODE = MODE_;
  static constexpr int RED = RED_;  // split-K reduction: 0 cluster DSMEM, 1/2 global (gred.cuh)
  static constexpr int C = C_, H = H_, W = W_, K = K_, R = R_, S = S_, SH = SH_, SW = SW_, PT = PT_, PL = PL_;
  static constexpr int HO = HO_, WO = WO_, BM = BM_, BN = BN_, BKC = BKC_, TM = TM_, TN = TN_;
  static constexpr int WARP_M = WARP_M_, SPLIT = SPLIT_, STAGES = STAGES_;
  static constexpr bool SKIP = SKIP_, BIAS = BIAS_, RELU = RELU_;
  static constexpr int RS = R * S;
  static constexpr int WARP_N = 32 / WARP_M;
  static constexpr int WTM = WARP_M * TM, WTN = WARP_N * TN;  // warp tile
  static constexpr int WARPS_M = BM / WTM, WARPS_N = BN / WTN;
  static constexpr int THREADS = 32 * WARPS_M * WARPS_N;
  static constexpr int ROWS = BKC * RS;  // reduction rows per stage
  static constexpr int A_STAGE = ROWS * BM, B_STAGE = ROWS * BN;  // floats
  static constexpr int STAGE_FLOATS = A_STAGE + B_STAGE;
  static constexpr int RED_FLOATS = SPLIT > 1 ? BM * BN : 0;
  static constexpr int SMEM_FLOATS = STAGES * STAGE_FLOATS > RED_FLOATS ? STAGES * STAGE_FLOATS : RED_FLOATS;
  static constexpr int SMEM_BYTES = SMEM_FLOATS * 4;
  static constexpr int HW = H * W, PIX = HO * WO;
  // Channels per split, a whole number of stages.
  static constexpr int CPS = ((C + SPLIT - 1) / SPLIT + BKC - 1) / BKC * BKC;
  static constexpr int A_CHUNKS = ROWS * BM / 4;                      // float4 chunks per stage
  static constexpr int A_PER_T = (A_CHUNKS + THREADS - 1) / THREADS;  // per thread
  static constexpr int B_PAIRS = RS * BN;                             // (r, s, column) pairs
  static constexpr int B_PER_T = (B_PAIRS + THREADS - 1) / THREADS;
  static constexpr int MASK_WORDS = (ROWS + 31) / 32;
  static_assert(32 % WARP_M == 0 && BM % WTM == 0 && BN % WTN == 0, "warp tiling");
  static_assert(TM % 4 == 0 && K % 4 == 0 && BM % 4 == 0, "16-byte weight chunks");
  static_assert(TN == 1 || TN == 2 || TN == 4, "TN");
  static_assert(THREADS <= 1024, "threads");
};

template <class P>
__global__ void __launch_bounds__(P::THREADS, 1)
    igemmKernel(const float* __restrict__ in, long long inBS, const float* __restrict__ wt,
                const float* __restrict__ bias, float* __restrict__ out, long long outBS, int batch,
                float* __restrict__ gws, int* gctr) {
  extern __shared__ __align__(16) float smem[];
  if (P::MODE == 1) return;
  const int tid = threadIdx.x;
  const int lane = tid & 31, warp = tid >> 5;
  const int wm = warp % P::WARPS_M, wn = warp / P::WARPS_M;
  const int lm = lane % P::WARP_M, ln = lane / P::WARP_M;
  const int npix = batch * P::PIX;
  const int col0 = blockIdx.x * P::BN;
  const int k0 = blockIdx.y * P::BM;
  const int split = blockIdx.z;
  const int cBegin = split * P::CPS;
  const int cEnd = min(P::C, cBegin + P::CPS);
  const int nStages = cEnd > cBegin ? (cEnd - cBegin + P::BKC - 1) / P::BKC : 0;

  // Per-thread gather sources of the input tile: pair j = (rs, column); the pointer is channel 0's
  // element (or null when the pair reads padding or lies past the last pixel).
  const float* bSrc[P::B_PER_T];
  int bDst[P::B_PER_T];
#pragma unroll
  for (int i = 0; i < P::B_PER_T; ++i) {
    const int j = tid + i * P::THREADS;
    bSrc[i] = nullptr;
    bDst[i] = -1;
    if (j < P::B_PAIRS) {
      const int rs = j / P::BN, n = j % P::BN;
      const int r = rs / P::S, s = rs % P::S;
      const int q = col0 + n;
      bDst[i] = rs * P::BN + n;  // + channel * RS * BN
      if (q < npix) {
        const int img = q / P::PIX, rem = q % P::PIX;
        const int oy = rem / P::WO, ox = rem % P::WO;
        const int iy = oy * P::SH - P::PT + r, ix = ox * P::SW - P::PL + s;
        if (iy >= 0 && iy < P::H && ix >= 0 && ix < P::W) bSrc[i] = in + img * inBS + iy * P::W + ix;
      }
    }
  }

  auto loadStage = [&](int st, int buf) {
    if (P::MODE == 3) return;
    float* As = smem + buf * P::STAGE_FLOATS;
    float* Bs = As + P::A_STAGE;
    const int c0 = cBegin + st * P::BKC;
    const int rowsValid = min(P::BKC, cEnd - c0) * P::RS;
#pragma unroll
    for (int i = 0; i < P::A_PER_T; ++i) {
      const int j = tid + i * P::THREADS;
      if (P::A_CHUNKS % P::THREADS == 0 || j < P::A_CHUNKS) {
        const int row = j / (P::BM / 4), m = (j % (P::BM / 4)) * 4;
        const bool ok = row < rowsValid && k0 + m < P::K;
        const float* src = ok ? wt + (static_cast<long long>(c0) * P::RS + row) * P::K + k0 + m : wt;
        cpAsync16(As + row * P::BM + m, src, ok);
      }
    }
#pragma unroll
    for (int ch = 0; ch < P::BKC; ++ch) {
      const bool chOk = c0 + ch < cEnd;
#pragma unroll
      for (int i = 0; i < P::B_PER_T; ++i) {
        if (bDst[i] >= 0) {
          const bool ok = chOk && bSrc[i] != nullptr;
          cpAsync4(Bs + ch * P::RS * P::BN + bDst[i], ok ? bSrc[i] + (c0 + ch) * P::HW : in, ok);
        }
      }
    }
  };

  float acc[P::TM][P::TN];
#pragma unroll
  for (int i = 0; i < P::TM; ++i)
#pragma unroll
    for (int j = 0; j < P::TN; ++j) acc[i][j] = 0.0f;

#pragma unroll
  for (int s = 0; s < P::STAGES - 1; ++s) {
    if (s < nStages) loadStage(s, s);
    cpCommit();
  }
  for (int st = 0; st < nStages; ++st) {
    cpWait<P::STAGES - 2>();
    __syncthreads();
    {
      const int next = st + P::STAGES - 1;
      if (next < nStages) loadStage(next, next % P::STAGES);
      cpCommit();
    }
    const float* As = smem + (st % P::STAGES) * P::STAGE_FLOATS;
    const float* Bs = As + P::A_STAGE;
    const float* aBase = As + wm * P::WTM + lm * P::TM;
    const float* bBase = Bs + wn * P::WTN + ln * P::TN;
    unsigned mask[P::MASK_WORDS];
    if (P::SKIP) {
      // Which rows have a nonzero in this warp's WTN columns: lane l tests rows l, l + 32, ...
      const float* span = Bs + wn * P::WTN;
#pragma unroll
      for (int wd = 0; wd < P::MASK_WORDS; ++wd) {
        const int row = wd * 32 + lane;
        bool nz = false;
        if (row < P::ROWS) {
#pragma unroll
          for (int x = 0; x < P::WTN; ++x) nz |= span[row * P::BN + x] != 0.0f;
        }
        mask[wd] = __ballot_sync(0xffffffffu, nz);
      }
    }
#pragma unroll
    for (int row = 0; row < P::ROWS; ++row) {
      if (P::MODE == 2) break;
      if (!P::SKIP || (mask[row / 32] >> (row % 32)) & 1u) {
        float a[P::TM], b[P::TN];
#pragma unroll
        for (int i = 0; i < P::TM; i += 4) {
          const float4 v = *reinterpret_cast<const float4*>(aBase + row * P::BM + i);
          a[i] = v.x; a[i + 1] = v.y; a[i + 2] = v.z; a[i + 3] = v.w;
        }
        if (P::TN == 4) {
          const float4 v = *reinterpret_cast<const float4*>(bBase + row * P::BN);
          b[0] = v.x; b[1] = v.y; b[2] = v.z; b[3] = v.w;
        } else if (P::TN == 2) {
          const float2 v = *reinterpret_cast<const float2*>(bBase + row * P::BN);
          b[0] = v.x; b[P::TN - 1] = v.y;
        } else {
          b[0] = bBase[row * P::BN];
        }
#pragma unroll
        for (int i = 0; i < P::TM; ++i)
#pragma unroll
          for (int j = 0; j < P::TN; ++j) acc[i][j] = fmaf(a[i], b[j], acc[i][j]);
      }
    }
  }
  cpWait<0>();

  // Epilogue. Thread's outputs: k = k0 + wm*WTM + lm*TM + i, column = col0 + wn*WTN + ln*TN + j.
  const int mBase = wm * P::WTM + lm * P::TM;
  const int nBase = wn * P::WTN + ln * P::TN;
  auto store = [&](int m, int n, float y) {
    const int k = k0 + m, q = col0 + n;
    if (k >= P::K || q >= npix) return;
    if (P::BIAS) y += __ldg(bias + k);
    if (P::RELU) y = fmaxf(y, 0.0f);
    const int img = q / P::PIX, rem = q % P::PIX;
    out[img * outBS + static_cast<long long>(k) * P::PIX + rem] = y;
  };
  if (P::SPLIT == 1) {
#pragma unroll
    for (int i = 0; i < P::TM; ++i)
#pragma unroll
      for (int j = 0; j < P::TN; ++j) store(mBase + i, nBase + j, acc[i][j]);
  } else if (P::RED != 0) {
    const int tileId = blockIdx.x + gridDim.x * blockIdx.y;
    float* tileWs = gws + static_cast<size_t>(tileId) * P::SPLIT * P::BM * P::BN;
#pragma unroll
    for (int i = 0; i < P::TM; ++i)
#pragma unroll
      for (int j = 0; j < P::TN; ++j) __stcg(tileWs + blockIdx.z * P::BM * P::BN + (mBase + i) * P::BN + nBase + j, acc[i][j]);
    gredFinish<P::SPLIT, P::BM * P::BN, P::THREADS, P::RED>(tileWs, blockIdx.z, gctr + 2 * tileId,
                                                           [&](int e, float y) { store(e / P::BN, e % P::BN, y); });
  } else {
    // Split-K over the cluster's SPLIT blocks: each parks its partial tile in its own shared memory,
    // then block z sums elements z*THREADS + t (stride SPLIT*THREADS) over ranks 0..SPLIT-1 in that
    // fixed order: deterministic, no atomics, one kernel.
    cg::cluster_group cluster = cg::this_cluster();
    __syncthreads();
    float* red = smem;
#pragma unroll
    for (int i = 0; i < P::TM; ++i)
#pragma unroll
      for (int j = 0; j < P::TN; ++j) red[(mBase + i) * P::BN + nBase + j] = acc[i][j];
    cluster.sync();
    const int rank = static_cast<int>(cluster.block_rank());
    const float* peers[P::SPLIT];
#pragma unroll
    for (int z = 0; z < P::SPLIT; ++z) peers[z] = cluster.map_shared_rank(red, z);
    for (int e = rank * P::THREADS + tid; e < P::BM * P::BN; e += P::SPLIT * P::THREADS) {
      float y = 0.0f;
#pragma unroll
      for (int z = 0; z < P::SPLIT; ++z) y += peers[z][e];
      store(e / P::BN, e % P::BN, y);
    }
    cluster.sync();  // peers read this block's shared memory until here
  }
}

template <class P>
cudaError_t launchIgemm(const float* in, long long inBS, const float* wt, const float* bias, float* out, long long outBS,
                        int batch, cudaStream_t stream) {
  static const cudaError_t attr = [] {
    cudaError_t e = cudaFuncSetAttribute(igemmKernel<P>, cudaFuncAttributeMaxDynamicSharedMemorySize, P::SMEM_BYTES);
    // Clusters above 8 blocks are Hopper's non-portable sizes (up to 16): opt in.
    if (e == cudaSuccess && P::SPLIT > 8) e = cudaFuncSetAttribute(igemmKernel<P>, cudaFuncAttributeNonPortableClusterSizeAllowed, 1);
    return e;
  }();
  if (attr != cudaSuccess) return attr;
  const int npix = batch * P::PIX;
  cudaLaunchConfig_t cfg = {};
  cfg.gridDim = dim3((npix + P::BN - 1) / P::BN, (P::K + P::BM - 1) / P::BM, P::SPLIT);
  cfg.blockDim = dim3(P::THREADS);
  cfg.dynamicSmemBytes = P::SMEM_BYTES;
  cfg.stream = stream;
  cudaLaunchAttribute at[1];
  at[0].id = cudaLaunchAttributeClusterDimension;
  at[0].val.clusterDim.x = 1;
  at[0].val.clusterDim.y = 1;
  at[0].val.clusterDim.z = P::SPLIT;
  cfg.attrs = at;
  cfg.numAttrs = P::RED == 0 ? 1 : 0;
  Gws g;
  if (P::RED != 0) {
    const int tiles = cfg.gridDim.x * cfg.gridDim.y;
    const cudaError_t e = gwsFor<P>(static_cast<size_t>(tiles) * P::SPLIT * P::BM * P::BN, tiles, g);
    if (e != cudaSuccess) return e;
    if (P::RED == 2 && tiles * P::SPLIT > 132) return cudaErrorInvalidConfiguration;
  }
  return cudaLaunchKernelEx(&cfg, igemmKernel<P>, in, inBS, wt, bias, out, outBS, batch, g.ws, g.ctr);
}

}  // namespace lab
