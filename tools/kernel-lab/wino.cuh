// Winograd lab (issue 8, batch 8): a fused F(2x2,3x3) convolution for 3x3 stride-1 pad-1 convs, the
// kernel the "fused Winograd" direction of docs/PERFORMANCE.md proposes, written by hand to measure
// before it becomes a family. One kernel does all four steps, so no workspace and no weight layout
// change: the weights are read in the runtime's [C][R][S][K] layout and transformed in the kernel.
//   block: 32 output channels (k) x 32 output tiles of 2x2 pixels (t), 256 threads, split-C over a
//          cluster of SPLIT blocks along z (their partial sums reduced through distributed shared
//          memory before the output transform, so the result does not depend on timing).
//   per chunk of 8 input channels: each thread transforms one (channel, tile) 4x4 input patch
//          (B^T d B) and one (channel, k) 3x3 filter (G g G^T) into shared memory, double-buffered,
//          the next chunk's global loads in flight while the current one is multiplied.
//   multiply: 16 independent GEMMs (one per Winograd position), warp w owns positions 2w and 2w+1,
//          a lane 4 k x 8 t of each: 64 accumulators, 32 FMAs per 3 shared-memory vector loads.
//   epilogue: the accumulators through shared memory, A^T M A, bias, ReLU, NCHW store.
// Template constants: the layer's shape, as the generator would emit them.
#pragma once
#include <cooperative_groups.h>
#include <cuda_runtime.h>

namespace wino {
namespace cg = cooperative_groups;

constexpr int BK = 32, BT = 32, BC = 8, THREADS = 256;
constexpr int CHUNK = 16 * BC * BT;  // floats of one buffer of V (and of U: BK == BT)
constexpr int SMEM_BYTES = 4 * CHUNK * 4;  // V and U, double-buffered; the epilogue's M[16][BK][BT] fits in it

template <int C, int H, int W, int K, int SPLIT>
__global__ void __launch_bounds__(THREADS, 2)
f2x3(const float* __restrict__ in, long long inStride, const float* __restrict__ w, const float* __restrict__ bias,
     float* __restrict__ out, long long outStride, int batch) {
  constexpr int TH = (H + 1) / 2, TW = (W + 1) / 2, TILES = TH * TW, HW = H * W;
  constexpr int CHUNKS = (C + BC - 1) / BC;
  extern __shared__ float4 smem4[];
  float* smem = reinterpret_cast<float*>(smem4);
  const int tid = threadIdx.x, lane = tid & 31, wid = tid >> 5;
  const int tileBase = blockIdx.x * BT, kBase = blockIdx.y * BK;
  const int split = SPLIT > 1 ? (int)blockIdx.z : 0;
  const int c0 = split * CHUNKS / SPLIT, c1 = (split + 1) * CHUNKS / SPLIT;
  const int nTiles = batch * TILES;

  // Load roles: thread (cl = tid / 32, lane) loads channel cl of the chunk for tile `lane` and for k `lane`.
  const int cl = wid;
  const int gt = tileBase + lane;
  const bool tileOk = gt < nTiles;
  int n = 0, y0 = 0, x0 = 0;
  if (tileOk) { n = gt / TILES; const int r = gt % TILES; y0 = 2 * (r / TW) - 1; x0 = 2 * (r % TW) - 1; }
  const float* inTile = in + (long long)n * inStride;
  const int kl = kBase + lane;
  const bool kOk = kl < K;

  float d[16], g[9];
  auto load = [&](int chunk) {
    const int c = chunk * BC + cl;
    const bool cOk = c < C;
#pragma unroll
    for (int i = 0; i < 4; ++i)
#pragma unroll
      for (int j = 0; j < 4; ++j) {
        const int y = y0 + i, x = x0 + j;
        const bool ok = tileOk && cOk && y >= 0 && y < H && x >= 0 && x < W;
        d[i * 4 + j] = ok ? __ldg(inTile + (long long)c * HW + y * W + x) : 0.0f;
      }
#pragma unroll
    for (int i = 0; i < 9; ++i) g[i] = (cOk && kOk) ? __ldg(w + ((long long)c * 9 + i) * K + kl) : 0.0f;
  };
  auto store = [&](int buf) {
    float* V = smem + buf * CHUNK;
    float* U = smem + 2 * CHUNK + buf * CHUNK;
    float t[16];
#pragma unroll
    for (int j = 0; j < 4; ++j) {  // B^T d (rows)
      t[0 * 4 + j] = d[0 * 4 + j] - d[2 * 4 + j];
      t[1 * 4 + j] = d[1 * 4 + j] + d[2 * 4 + j];
      t[2 * 4 + j] = d[2 * 4 + j] - d[1 * 4 + j];
      t[3 * 4 + j] = d[1 * 4 + j] - d[3 * 4 + j];
    }
#pragma unroll
    for (int i = 0; i < 4; ++i) {  // (B^T d) B (columns)
      V[((i * 4 + 0) * BC + cl) * BT + lane] = t[i * 4 + 0] - t[i * 4 + 2];
      V[((i * 4 + 1) * BC + cl) * BT + lane] = t[i * 4 + 1] + t[i * 4 + 2];
      V[((i * 4 + 2) * BC + cl) * BT + lane] = t[i * 4 + 2] - t[i * 4 + 1];
      V[((i * 4 + 3) * BC + cl) * BT + lane] = t[i * 4 + 1] - t[i * 4 + 3];
    }
    float a[12];
#pragma unroll
    for (int j = 0; j < 3; ++j) {  // G g
      a[0 * 3 + j] = g[0 * 3 + j];
      a[1 * 3 + j] = 0.5f * (g[0 * 3 + j] + g[1 * 3 + j] + g[2 * 3 + j]);
      a[2 * 3 + j] = 0.5f * (g[0 * 3 + j] - g[1 * 3 + j] + g[2 * 3 + j]);
      a[3 * 3 + j] = g[2 * 3 + j];
    }
#pragma unroll
    for (int i = 0; i < 4; ++i) {  // (G g) G^T
      U[((i * 4 + 0) * BC + cl) * BK + lane] = a[i * 3 + 0];
      U[((i * 4 + 1) * BC + cl) * BK + lane] = 0.5f * (a[i * 3 + 0] + a[i * 3 + 1] + a[i * 3 + 2]);
      U[((i * 4 + 2) * BC + cl) * BK + lane] = 0.5f * (a[i * 3 + 0] - a[i * 3 + 1] + a[i * 3 + 2]);
      U[((i * 4 + 3) * BC + cl) * BK + lane] = a[i * 3 + 2];
    }
  };

  // Multiply roles: warp wid owns positions 2 wid, 2 wid + 1; lane: k 4 kq .. +3, t 8 tq .. +7.
  const int kq = lane >> 2, tq = lane & 3;
  float acc[2][4][8];
#pragma unroll
  for (int p = 0; p < 2; ++p)
#pragma unroll
    for (int i = 0; i < 4; ++i)
#pragma unroll
      for (int j = 0; j < 8; ++j) acc[p][i][j] = 0.0f;

  if (c0 < c1) { load(c0); store(0); }
  __syncthreads();
  for (int ch = c0; ch < c1; ++ch) {
    const int buf = (ch - c0) & 1;
    const bool more = ch + 1 < c1;
    if (more) load(ch + 1);
    const float* V = smem + buf * CHUNK;
    const float* U = smem + 2 * CHUNK + buf * CHUNK;
#pragma unroll
    for (int c = 0; c < BC; ++c)
#pragma unroll
      for (int p = 0; p < 2; ++p) {
        const int pos = 2 * wid + p;
        const float4 u = *reinterpret_cast<const float4*>(U + (pos * BC + c) * BK + 4 * kq);
        const float4 v0 = *reinterpret_cast<const float4*>(V + (pos * BC + c) * BT + 8 * tq);
        const float4 v1 = *reinterpret_cast<const float4*>(V + (pos * BC + c) * BT + 8 * tq + 4);
        const float uu[4] = {u.x, u.y, u.z, u.w};
        const float vv[8] = {v0.x, v0.y, v0.z, v0.w, v1.x, v1.y, v1.z, v1.w};
#pragma unroll
        for (int i = 0; i < 4; ++i)
#pragma unroll
          for (int j = 0; j < 8; ++j) acc[p][i][j] = fmaf(uu[i], vv[j], acc[p][i][j]);
      }
    if (more) store(buf ^ 1);
    __syncthreads();
  }

  // M[pos][k][t] in shared memory (all reads of the last chunk are done: the loop ended on a barrier).
  float* M = smem;
#pragma unroll
  for (int p = 0; p < 2; ++p)
#pragma unroll
    for (int i = 0; i < 4; ++i) {
      float* row = M + ((2 * wid + p) * BK + 4 * kq + i) * BT + 8 * tq;
      *reinterpret_cast<float4*>(row) = make_float4(acc[p][i][0], acc[p][i][1], acc[p][i][2], acc[p][i][3]);
      *reinterpret_cast<float4*>(row + 4) = make_float4(acc[p][i][4], acc[p][i][5], acc[p][i][6], acc[p][i][7]);
    }
  constexpr int PAIRS = BK * BT;
  int q0 = 0, q1 = PAIRS;
  float* peers[SPLIT];
  if constexpr (SPLIT > 1) {
    cg::cluster_group cluster = cg::this_cluster();
    cluster.sync();
    const int rank = (int)cluster.block_rank();
    q0 = rank * PAIRS / SPLIT; q1 = (rank + 1) * PAIRS / SPLIT;
#pragma unroll
    for (int s = 0; s < SPLIT; ++s) peers[s] = cluster.map_shared_rank(M, s);
  } else {
    __syncthreads();
    peers[0] = M;
  }
  for (int q = q0 + tid; q < q1; q += THREADS) {
    const int tl = q % BT, klq = q / BT;
    const int t = tileBase + tl, k = kBase + klq;
    if (t >= nTiles || k >= K) continue;
    float m[16];
#pragma unroll
    for (int pos = 0; pos < 16; ++pos) {
      float s = peers[0][(pos * BK + klq) * BT + tl];
#pragma unroll
      for (int r = 1; r < SPLIT; ++r) s += peers[r][(pos * BK + klq) * BT + tl];
      m[pos] = s;
    }
    float s[8];
#pragma unroll
    for (int j = 0; j < 4; ++j) {  // A^T M (rows)
      s[0 * 4 + j] = m[0 * 4 + j] + m[1 * 4 + j] + m[2 * 4 + j];
      s[1 * 4 + j] = m[1 * 4 + j] - m[2 * 4 + j] - m[3 * 4 + j];
    }
    const float b = __ldg(bias + k);
    const int nn = t / TILES, r = t % TILES, y = 2 * (r / TW), x = 2 * (r % TW);
    float* o = out + (long long)nn * outStride + (long long)k * HW + y * W + x;
#pragma unroll
    for (int i = 0; i < 2; ++i) {  // (A^T M) A (columns), bias, ReLU
      if (y + i >= H) break;
      const float e0 = fmaxf(s[i * 4 + 0] + s[i * 4 + 1] + s[i * 4 + 2] + b, 0.0f);
      const float e1 = fmaxf(s[i * 4 + 1] - s[i * 4 + 2] - s[i * 4 + 3] + b, 0.0f);
      if constexpr (W % 2 == 0) {
        *reinterpret_cast<float2*>(o + i * W) = make_float2(e0, e1);
      } else {
        o[i * W] = e0;
        if (x + 1 < W) o[i * W + 1] = e1;
      }
    }
  }
  if constexpr (SPLIT > 1) cg::this_cluster().sync();  // the peers' shared memory stays live until all have read it
}

template <int C, int H, int W, int K, int SPLIT>
cudaError_t launch(const float* in, long long inStride, const float* w, const float* bias, float* out, long long outStride, int batch,
                   cudaStream_t stream) {
  auto kernel = f2x3<C, H, W, K, SPLIT>;
  static bool attr = false;
  if (!attr) {
    cudaError_t e = cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, SMEM_BYTES);
    if (e != cudaSuccess) return e;
    if (SPLIT > 1) {
      e = cudaFuncSetAttribute(kernel, cudaFuncAttributeNonPortableClusterSizeAllowed, 1);
      if (e != cudaSuccess) return e;
    }
    attr = true;
  }
  constexpr int TILES = ((H + 1) / 2) * ((W + 1) / 2);
  cudaLaunchConfig_t cfg = {};
  cfg.gridDim = dim3((batch * TILES + BT - 1) / BT, (K + BK - 1) / BK, SPLIT);
  cfg.blockDim = dim3(THREADS);
  cfg.dynamicSmemBytes = SMEM_BYTES;
  cfg.stream = stream;
  cudaLaunchAttribute at[1];
  at[0].id = cudaLaunchAttributeClusterDimension;
  at[0].val.clusterDim.x = 1; at[0].val.clusterDim.y = 1; at[0].val.clusterDim.z = SPLIT;
  cfg.attrs = at;
  cfg.numAttrs = SPLIT > 1 ? 1 : 0;
  return cudaLaunchKernelEx(&cfg, kernel, in, inStride, w, bias, out, outStride, batch);
}
}  // namespace wino
