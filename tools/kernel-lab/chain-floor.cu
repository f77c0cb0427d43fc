// Chain-floor lab (GPU host): what a kernel costs in the bench's per-layer chain (eight copies of one step in a
// CUDA graph, src/native/runtime.cpp timeGraphUs) when it does almost no work, with and without dependent launch.
// Why: DenseNet's 3x3 convs at >= 85% input zeros (7x7, 128 -> 32) run the pxg kernel at 2.7-3.3 us a copy
// against cuDNN's 12.9 (run 85), and the 5x target needs 2.57 us. pxg's work there is ~100 nonzeros a pixel, so
// its time is mostly the chain: the wait for the previous grid, a load of the input, barriers, a load of weight
// rows that depends on the input, the sums across warps and the store. Each variant below adds one of those steps
// on pxg's grid (49 blocks of 256 threads), so the differences say what each costs and how far under 2.57 us a
// kernel of this shape can go on this GPU. One JSON line per (variant, dependent launch).
//
//   nvcc -O3 -std=c++17 -arch=sm_90 tools/kernel-lab/chain-floor.cu -o /tmp/chain-floor && /tmp/chain-floor
#include <cuda_runtime.h>

#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <vector>

#define CK(x) do { cudaError_t e_ = (x); if (e_ != cudaSuccess) { fprintf(stderr, "%s:%d %s: %s\n", __FILE__, __LINE__, #x, cudaGetErrorString(e_)); exit(1); } } while (0)
#include "graph-timing.cuh"

constexpr int BLOCKS = 49, THREADS = 256, WARPS = THREADS / 32;
constexpr int C = 128, HW = 49, K = 32, PAIRS = C * 9;
constexpr int ITERS = 300, COPIES = 8;

__device__ __forceinline__ void waitPrior() { asm volatile("griddepcontrol.wait;" ::: "memory"); }
__device__ __forceinline__ void allowNext() { asm volatile("griddepcontrol.launch_dependents;" ::: "memory"); }

// 0 empty: the wait and the trigger only. 1 store: + one store a thread. 2 load: + one input load before the
// store. 3 dep: + a weight load whose address depends on the input value. 4 dep-bar: + a barrier between the input
// and the weight load and one before the store (pxg's compaction and its cross-warp sums). 5 pxg-like: each lane
// loads 5 inputs, ballots, two barriers, UNROLL-4 rounds of dependent weight rows (3 rounds: ~12 rows a warp as at
// 92% zeros), sums across warps in shared memory, one barrier, 32 outputs stored.
template <int V>
__global__ void __launch_bounds__(THREADS) chain(const float* __restrict__ in, const float* __restrict__ wt, float* __restrict__ out) {
  __shared__ float red[WARPS][K];
  __shared__ int list[WARPS][16];
  waitPrior();
  allowNext();
  const int t = threadIdx.x, lane = t & 31, warp = t >> 5;
  const int gid = blockIdx.x * THREADS + t;
  if constexpr (V == 0) {
    return;
  } else if constexpr (V == 1) {
    out[gid] = 1.0f;
  } else if constexpr (V == 2) {
    out[gid] = __ldg(in + gid % (C * HW));
  } else if constexpr (V == 3) {
    const float v = __ldg(in + gid % (C * HW));
    const int row = static_cast<int>(v * 7.0f) % PAIRS;
    out[gid] = v * __ldg(wt + row * K + lane);
  } else if constexpr (V == 4) {
    const float v = __ldg(in + gid % (C * HW));
    if (lane == 0) list[warp][0] = static_cast<int>(v * 7.0f) % PAIRS;
    __syncthreads();
    const float w = __ldg(wt + list[(warp + 1) % WARPS][0] * K + lane);
    red[warp][lane] = v * w;
    __syncthreads();
    if (warp == 0) {
      float s = 0.0f;
      for (int i = 0; i < WARPS; ++i) s += red[i][lane];
      out[blockIdx.x * K + lane] = s;
    }
  } else {
    // The pixel's window: 5 values a lane (8 warps x 160 slots >= 1152 pairs), then the nonzeros' positions.
    float x[5];
#pragma unroll
    for (int j = 0; j < 5; ++j) x[j] = __ldg(in + (warp * 160 + j * 32 + lane + blockIdx.x * 13) % (C * HW));
    int m = 0;
#pragma unroll
    for (int j = 0; j < 5; ++j) m += __popc(__ballot_sync(0xffffffffu, x[j] != 0.0f));
    __syncthreads();
    if (lane < 12) list[warp][lane] = (warp * 131 + lane * 17 + m) % PAIRS;
    __syncthreads();
    float acc = 0.0f;
#pragma unroll
    for (int r = 0; r < 12; r += 4) {
      float w[4];
#pragma unroll
      for (int u = 0; u < 4; ++u) w[u] = __ldg(wt + list[warp][r + u] * K + lane);
#pragma unroll
      for (int u = 0; u < 4; ++u) acc = fmaf(x[u & 3], w[u], acc);
    }
    red[warp][lane] = acc;
    __syncthreads();
    if (warp == 0) {
      float s = 0.0f;
      for (int i = 0; i < WARPS; ++i) s += red[i][lane];
      out[blockIdx.x * K + lane] = fmaxf(s, 0.0f);
    }
  }
}

template <int V>
static cudaError_t launch(bool pdl, cudaStream_t s, const float* in, const float* wt, float* out) {
  cudaLaunchConfig_t cfg = {};
  cfg.gridDim = dim3(BLOCKS);
  cfg.blockDim = dim3(THREADS);
  cfg.stream = s;
  cudaLaunchAttribute at[1];
  at[0].id = cudaLaunchAttributeProgrammaticStreamSerialization;
  at[0].val.programmaticStreamSerializationAllowed = 1;
  cfg.attrs = pdl ? at : nullptr;
  cfg.numAttrs = pdl ? 1 : 0;
  return cudaLaunchKernelEx(&cfg, chain<V>, in, wt, out);
}

int main() {
  cudaStream_t s;
  CK(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking));
  // Inputs ~92% zeros (the DenseNet conv5 inputs), weights in (-1, 1): fresh random values, never all zero or one.
  std::vector<float> hin(C * HW), hw(PAIRS * K);
  unsigned long long r = 0x9E3779B97F4A7C15ull ^ static_cast<unsigned long long>(time(nullptr));
  auto u = [&] { r ^= r << 13; r ^= r >> 7; r ^= r << 17; return (r >> 40) / 16777216.0f; };
  for (auto& v : hin) v = u() < 0.92f ? 0.0f : u() * 4.0f;
  for (auto& v : hw) v = 2.0f * u() - 1.0f;
  float *in, *wt, *out;
  CK(cudaMalloc(&in, hin.size() * 4));
  CK(cudaMalloc(&wt, hw.size() * 4));
  CK(cudaMalloc(&out, BLOCKS * THREADS * 4));
  CK(cudaMemcpy(in, hin.data(), hin.size() * 4, cudaMemcpyHostToDevice));
  CK(cudaMemcpy(wt, hw.data(), hw.size() * 4, cudaMemcpyHostToDevice));
  cudaDeviceProp p{};
  CK(cudaGetDeviceProperties(&p, 0));
  const char* names[] = {"empty", "store", "load", "dep", "dep-bar", "pxg-like"};
  using L = cudaError_t (*)(bool, cudaStream_t, const float*, const float*, float*);
  const L fns[] = {launch<0>, launch<1>, launch<2>, launch<3>, launch<4>, launch<5>};
  // Interleaved: every (variant, pdl) once a round, three rounds; each entry's median of ITERS replays.
  for (int round = 0; round < 3; ++round)
    for (int v = 0; v < 6; ++v)
      for (int pdl = 0; pdl < 2; ++pdl) {
        const std::vector<double> us = graphReplayUs(s, [&] { CK(fns[v](pdl != 0, s, in, wt, out)); }, ITERS, COPIES);
        printf("{\"gpu\":\"%s\",\"round\":%d,\"variant\":\"%s\",\"pdl\":%d,\"copies\":%d,\"medUs\":%.3f,\"p10Us\":%.3f,\"p90Us\":%.3f}\n",
               p.name, round, names[v], pdl, COPIES, us[ITERS / 2], us[ITERS / 10], us[ITERS * 9 / 10]);
      }
  CK(cudaDeviceSynchronize());
  return 0;
}
