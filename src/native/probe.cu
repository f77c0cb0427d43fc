// Roofline probe (probe.hpp). Copy bandwidth: cudaMemcpyAsync device to device of a few hundred
// MB (far beyond L2, so DRAM is what is timed), the best of several repetitions between CUDA
// events. FFMA rate: independent fmaf chains in every thread of enough blocks to fill every SM,
// the best of several launches. "Best of" because the roofline is a floor: the fastest the board
// was seen to go, not its average.
#include <cuda_runtime.h>

#include <algorithm>
#include <string>

#include "common.hpp"
#include "probe.hpp"

namespace cusnn {
namespace {

constexpr int kChains = 8;       // independent FMA chains per thread: covers the FMA latency
constexpr int kUnroll = 16;      // FMAs per chain per loop iteration
constexpr int kThreads = 256;
constexpr int kReps = 5;

// x = x * a + b on kChains independent values; a and b are kernel arguments, so nothing folds.
// Every thread stores its sum: the chains are live and the store is negligible next to them.
__global__ void ffmaChains(float* out, int iters, float a, float b) {
  float x[kChains];
#pragma unroll
  for (int c = 0; c < kChains; ++c) x[c] = 1e-3f * static_cast<float>(threadIdx.x + c);
  for (int i = 0; i < iters; ++i) {
#pragma unroll
    for (int u = 0; u < kUnroll; ++u) {
#pragma unroll
      for (int c = 0; c < kChains; ++c) x[c] = fmaf(x[c], a, b);
    }
  }
  float s = 0.f;
#pragma unroll
  for (int c = 0; c < kChains; ++c) s += x[c];
  out[blockIdx.x * blockDim.x + threadIdx.x] = s;
}

// Frees what it holds on every exit path (the probe throws on any CUDA error).
struct DeviceBuffer {
  void* p = nullptr;
  ~DeviceBuffer() { if (p) cudaFree(p); }
};
struct Event {
  cudaEvent_t e = nullptr;
  ~Event() { if (e) cudaEventDestroy(e); }
};
struct Stream {
  cudaStream_t s = nullptr;
  ~Stream() { if (s) cudaStreamDestroy(s); }
};

// Milliseconds of the work `f` enqueues on `s`, between two events.
template <class F>
float timed(cudaStream_t s, const Event& a, const Event& b, F&& f) {
  const std::string where = "probeRoofline";
  CUSNN_CUDA(cudaEventRecord(a.e, s), where);
  f();
  CUSNN_CUDA(cudaEventRecord(b.e, s), where);
  CUSNN_CUDA(cudaEventSynchronize(b.e), where);
  float ms = 0;
  CUSNN_CUDA(cudaEventElapsedTime(&ms, a.e, b.e), where);
  return ms;
}

}  // namespace

RooflineProbe probeRoofline(int device, std::size_t copyBytes) {
  const std::string where = "probeRoofline";
  CUSNN_CUDA(cudaSetDevice(device), where);
  RooflineProbe r;
  int clockKHz = 0, memKHz = 0;
  CUSNN_CUDA(cudaDeviceGetAttribute(&r.smCount, cudaDevAttrMultiProcessorCount, device), where);
  CUSNN_CUDA(cudaDeviceGetAttribute(&clockKHz, cudaDevAttrClockRate, device), where);
  CUSNN_CUDA(cudaDeviceGetAttribute(&memKHz, cudaDevAttrMemoryClockRate, device), where);
  CUSNN_CUDA(cudaDeviceGetAttribute(&r.memBusWidthBits, cudaDevAttrGlobalMemoryBusWidth, device), where);
  r.smClockMHz = clockKHz / 1000.0;
  r.memClockMHz = memKHz / 1000.0;

  Stream stream;
  CUSNN_CUDA(cudaStreamCreateWithFlags(&stream.s, cudaStreamNonBlocking), where);
  Event a, b;
  CUSNN_CUDA(cudaEventCreate(&a.e), where);
  CUSNN_CUDA(cudaEventCreate(&b.e), where);

  // Copy bandwidth. Rounded to 16 bytes so the copy runs on whole vector accesses.
  const std::size_t bytes = std::max<std::size_t>(copyBytes, 1 << 20) & ~static_cast<std::size_t>(15);
  {
    DeviceBuffer src, dst;
    CUSNN_CUDA(cudaMalloc(&src.p, bytes), where);
    CUSNN_CUDA(cudaMalloc(&dst.p, bytes), where);
    CUSNN_CUDA(cudaMemsetAsync(src.p, 1, bytes, stream.s), where);
    CUSNN_CUDA(cudaMemcpyAsync(dst.p, src.p, bytes, cudaMemcpyDeviceToDevice, stream.s), where);  // warm-up
    float best = 1e30f;
    for (int i = 0; i < kReps; ++i) {
      best = std::min(best, timed(stream.s, a, b, [&] {
        CUSNN_CUDA(cudaMemcpyAsync(dst.p, src.p, bytes, cudaMemcpyDeviceToDevice, stream.s), where);
      }));
    }
    r.copyBytes = static_cast<double>(bytes);
    r.copyGBs = 2.0 * static_cast<double>(bytes) / (best * 1e-3) / 1e9;
  }

  // FFMA rate: as many resident blocks as fit on every SM, iterations for ~10+ ms per launch.
  {
    int perSm = 0;
    CUSNN_CUDA(cudaOccupancyMaxActiveBlocksPerMultiprocessor(&perSm, ffmaChains, kThreads, 0), where);
    const int blocks = std::max(1, perSm) * r.smCount;
    DeviceBuffer out;
    CUSNN_CUDA(cudaMalloc(&out.p, static_cast<std::size_t>(blocks) * kThreads * sizeof(float)), where);
    float* o = static_cast<float*>(out.p);
    int iters = 256;
    auto launch = [&] {
      ffmaChains<<<blocks, kThreads, 0, stream.s>>>(o, iters, 0.9999999f, 1e-7f);
      CUSNN_CUDA(cudaGetLastError(), where);
    };
    // Grow the launch until it runs long enough for the event resolution not to matter.
    float ms = timed(stream.s, a, b, launch);
    while (ms < 10.f && iters < (1 << 24)) {
      iters *= 2;
      ms = timed(stream.s, a, b, launch);
    }
    float best = ms;
    for (int i = 0; i < kReps; ++i) best = std::min(best, timed(stream.s, a, b, launch));
    const double flops = 2.0 * kChains * kUnroll * static_cast<double>(iters) * blocks * kThreads;
    r.ffmaTflops = flops / (best * 1e-3) / 1e12;
  }
  return r;
}

}  // namespace cusnn
