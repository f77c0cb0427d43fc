// Element-wise and helper kernels of the native runtime (declared in kernels.hpp).
//
// Layout: one grid row (blockIdx.y) per batch item, a grid-stride loop over the item's elements
// along x, 256 threads per block. Counting kernels keep a per-thread count, reduce it per warp
// with shuffles, then per block through shared memory, and add it to the 64-bit counter with one
// atomicAdd per block.
#include "kernels.hpp"

#include <cfloat>
#include <cmath>
#include <cstdlib>

namespace cusnn {
namespace {

constexpr int kThreads = 256;
constexpr int kMaxBlocksX = 2048;

inline dim3 gridFor(long long elems, int batch) {
  long long bx = (elems + kThreads - 1) / kThreads;
  if (bx < 1) bx = 1;
  if (bx > kMaxBlocksX) bx = kMaxBlocksX;
  return dim3(static_cast<unsigned>(bx), static_cast<unsigned>(batch));
}

// Dependent launch (sm_90+) for the in-network element-wise kernels (affine, add, pool), as the generated kernels
// have it (templates/partials/dependent-launch.hbs). Why: DenseNet-169 at batch 1 runs ~90 of these between its
// convs (each dense layer's pre-activation batch norm + ReLU), and its whole network took 238 us more than the sum
// of its convs (1378 against 1140 us, run 85, H100); a kernel launched only once its predecessor has drained leaves
// the GPU idle for part of a microsecond a node (the chain floor, run 91: 1.19 us a copy without, 0.91 with).
// Each such kernel waits for its predecessor's completion and memory before it reads anything, then lets its own
// dependent be scheduled: the results are unchanged. Not yet measured on a GPU, so opt-in: CUSNN_PDL_ALL=1 turns
// it on, with the generated families launched without it today (templates/partials/dependent-launch.hbs);
// CUSNN_PDL=0 keeps it off.
__device__ __forceinline__ void pdlWaitThenAllow() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  asm volatile("griddepcontrol.wait;" ::: "memory");
  asm volatile("griddepcontrol.launch_dependents;" ::: "memory");
#endif
}

bool nativeDependentLaunchOn() {
  static const bool on = [] {
    const char* e = std::getenv("CUSNN_PDL");
    if (e != nullptr && e[0] == '0') return false;
    const char* opt = std::getenv("CUSNN_PDL_ALL");
    if (opt == nullptr || opt[0] != '1') return false;
    int dev = 0, major = 0;
    if (cudaGetDevice(&dev) != cudaSuccess) return false;
    if (cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, dev) != cudaSuccess) return false;
    return major >= 9;
  }();
  return on;
}

// kernel<<<grid, kThreads, 0, stream>>>(args...), with programmatic stream serialization where it is on.
template <typename... P, typename... A>
cudaError_t launchDependent(void (*kernel)(P...), dim3 grid, cudaStream_t stream, A... args) {
  cudaLaunchConfig_t cfg = {};
  cfg.gridDim = grid;
  cfg.blockDim = dim3(kThreads);
  cfg.stream = stream;
  cudaLaunchAttribute at[1];
  at[0].id = cudaLaunchAttributeProgrammaticStreamSerialization;
  at[0].val.programmaticStreamSerializationAllowed = 1;
  const bool pdl = nativeDependentLaunchOn();
  cfg.attrs = pdl ? at : nullptr;
  cfg.numAttrs = pdl ? 1 : 0;
  return cudaLaunchKernelEx(&cfg, kernel, static_cast<P>(args)...);
}

// Block-wide sum of per-thread counts, one atomicAdd per block. Every thread of the (1-D, multiple
// of 32) block must call it.
__device__ __forceinline__ void blockCountAdd(unsigned cnt, unsigned long long* counter) {
  __shared__ unsigned warpSums[32];
  for (int o = 16; o > 0; o >>= 1) cnt += __shfl_down_sync(0xffffffffu, cnt, o);
  const int lane = threadIdx.x & 31;
  const int warp = threadIdx.x >> 5;
  if (lane == 0) warpSums[warp] = cnt;
  __syncthreads();
  if (warp == 0) {
    const int warps = (blockDim.x + 31) >> 5;
    cnt = lane < warps ? warpSums[lane] : 0u;
    for (int o = 16; o > 0; o >>= 1) cnt += __shfl_down_sync(0xffffffffu, cnt, o);
    if (lane == 0 && cnt != 0u) atomicAdd(counter, static_cast<unsigned long long>(cnt));
  }
}

__device__ __forceinline__ float blockReduceMax(float v, float* shared) {
  for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_down_sync(0xffffffffu, v, o));
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = (blockDim.x + 31) >> 5;
  __syncthreads();
  if (lane == 0) shared[warp] = v;
  __syncthreads();
  if (warp == 0) {
    v = lane < warps ? shared[lane] : -FLT_MAX;
    for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_down_sync(0xffffffffu, v, o));
    if (lane == 0) shared[0] = v;
  }
  __syncthreads();
  return shared[0];
}

__device__ __forceinline__ float blockReduceSum(float v, float* shared) {
  for (int o = 16; o > 0; o >>= 1) v += __shfl_down_sync(0xffffffffu, v, o);
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = (blockDim.x + 31) >> 5;
  __syncthreads();
  if (lane == 0) shared[warp] = v;
  __syncthreads();
  if (warp == 0) {
    v = lane < warps ? shared[lane] : 0.0f;
    for (int o = 16; o > 0; o >>= 1) v += __shfl_down_sync(0xffffffffu, v, o);
    if (lane == 0) shared[0] = v;
  }
  __syncthreads();
  return shared[0];
}

// Activation kinds of the element-wise kernels: a template argument, so the plain ReLU path keeps
// its single fmaxf and a kernel without activation passes NaN through untouched.
enum Act : int { kActNone = 0, kActRelu = 1, kActClamp = 2 };

// ReLU then clamp [lo, hi] is the clamp [max(lo, 0), hi]: max(max(v, 0), lo) = max(v, max(lo, 0)).
struct ActArgs {
  float lo, hi;
};

template <int ACT>
__device__ __forceinline__ float activate(float v, ActArgs a) {
  if (ACT == kActRelu) return fmaxf(v, 0.0f);
  if (ACT == kActClamp) return fminf(fmaxf(v, a.lo), a.hi);
  return v;
}

inline int actKind(const Activation& act) { return act.clamp ? kActClamp : act.relu ? kActRelu : kActNone; }
inline ActArgs actArgs(const Activation& act) {
  return ActArgs{act.relu ? fmaxf(act.lo, 0.0f) : act.lo, act.hi};
}

template <bool SCALE, bool SHIFT, int ACT, bool COUNT>
__global__ void __launch_bounds__(kThreads) affineKernel(const float* in, long long inBs, float* out, long long outBs,
                                                          long long chw, int hw, const float* __restrict__ scale,
                                                          const float* __restrict__ shift, ActArgs act,
                                                          unsigned long long* counter) {
  pdlWaitThenAllow();
  const float* x = in + blockIdx.y * inBs;
  float* y = out + blockIdx.y * outBs;
  unsigned cnt = 0;
  for (long long i = blockIdx.x * static_cast<long long>(blockDim.x) + threadIdx.x; i < chw;
       i += static_cast<long long>(gridDim.x) * blockDim.x) {
    float v = x[i];
    if (SCALE || SHIFT) {
      const int ch = static_cast<int>(i / hw);
      if (SCALE && SHIFT) v = fmaf(v, __ldg(scale + ch), __ldg(shift + ch));
      else if (SCALE) v *= __ldg(scale + ch);
      else v += __ldg(shift + ch);
    }
    v = activate<ACT>(v, act);
    y[i] = v;
    if (COUNT) cnt += (v == 0.0f);
  }
  if (COUNT) blockCountAdd(cnt, counter);
}

template <bool SCALE, bool SHIFT, int ACT, bool COUNT>
cudaError_t affine4(const DevView& in, const DevView& out, const float* scale, const float* shift, ActArgs act,
                    unsigned long long* counter, int batch, cudaStream_t stream) {
  const long long chw = in.chw();
  return launchDependent(affineKernel<SCALE, SHIFT, ACT, COUNT>, gridFor(chw, batch), stream, in.p, in.bs, out.p, out.bs,
                         chw, in.h * in.w, scale, shift, act, counter);
}

template <bool SCALE, bool SHIFT, int ACT>
cudaError_t affine3(const DevView& in, const DevView& out, const float* scale, const float* shift, ActArgs act,
                    unsigned long long* counter, int batch, cudaStream_t stream) {
  return counter ? affine4<SCALE, SHIFT, ACT, true>(in, out, scale, shift, act, counter, batch, stream)
                 : affine4<SCALE, SHIFT, ACT, false>(in, out, scale, shift, act, counter, batch, stream);
}

template <bool SCALE, bool SHIFT>
cudaError_t affine2(const DevView& in, const DevView& out, const float* scale, const float* shift,
                    const Activation& act, unsigned long long* counter, int batch, cudaStream_t stream) {
  const ActArgs a = actArgs(act);
  switch (actKind(act)) {
    case kActClamp: return affine3<SCALE, SHIFT, kActClamp>(in, out, scale, shift, a, counter, batch, stream);
    case kActRelu: return affine3<SCALE, SHIFT, kActRelu>(in, out, scale, shift, a, counter, batch, stream);
    default: return affine3<SCALE, SHIFT, kActNone>(in, out, scale, shift, a, counter, batch, stream);
  }
}

template <int ACT, bool COUNT>
__global__ void __launch_bounds__(kThreads) addKernel(const float* a, long long aBs, const float* b, long long bBs,
                                                       float* out, long long outBs, long long chw, ActArgs act,
                                                       unsigned long long* counter) {
  pdlWaitThenAllow();
  const float* xa = a + blockIdx.y * aBs;
  const float* xb = b + blockIdx.y * bBs;
  float* y = out + blockIdx.y * outBs;
  unsigned cnt = 0;
  for (long long i = blockIdx.x * static_cast<long long>(blockDim.x) + threadIdx.x; i < chw;
       i += static_cast<long long>(gridDim.x) * blockDim.x) {
    const float v = activate<ACT>(xa[i] + xb[i], act);
    y[i] = v;
    if (COUNT) cnt += (v == 0.0f);
  }
  if (COUNT) blockCountAdd(cnt, counter);
}

template <bool MAX, bool EXCLUDE, bool COUNT>
__global__ void __launch_bounds__(kThreads) poolKernel(const float* __restrict__ in, long long inBs, int c, int h, int w,
                                                        float* __restrict__ out, long long outBs, int ho, int wo,
                                                        int kh, int kw, int sh, int sw, int pt, int pl,
                                                        unsigned long long* counter) {
  pdlWaitThenAllow();
  const float* x = in + blockIdx.y * inBs;
  float* y = out + blockIdx.y * outBs;
  const long long total = 1LL * c * ho * wo;
  const float inv = 1.0f / static_cast<float>(kh * kw);
  unsigned cnt = 0;
  for (long long i = blockIdx.x * static_cast<long long>(blockDim.x) + threadIdx.x; i < total;
       i += static_cast<long long>(gridDim.x) * blockDim.x) {
    const int ch = static_cast<int>(i / (ho * wo));
    const int rem = static_cast<int>(i % (ho * wo));
    const int oy = rem / wo, ox = rem % wo;
    const float* xc = x + 1LL * ch * h * w;
    float acc = MAX ? -FLT_MAX : 0.0f;
    if (EXCLUDE) {
      // Only the window's cells inside the input; the mean divides by their count.
      const int y0 = max(oy * sh - pt, 0), y1 = min(oy * sh - pt + kh, h);
      const int x0 = max(ox * sw - pl, 0), x1 = min(ox * sw - pl + kw, w);
      for (int iy = y0; iy < y1; ++iy) {
        for (int ix = x0; ix < x1; ++ix) {
          const float v = __ldg(xc + iy * w + ix);
          acc = MAX ? fmaxf(acc, v) : acc + v;
        }
      }
      const int cells = max(y1 - y0, 0) * max(x1 - x0, 0);
      if (cells == 0) acc = __int_as_float(0x7fc00000);  // NaN, as the float64 reference gives
      else if (!MAX) acc /= static_cast<float>(cells);
    } else {
      for (int ky = 0; ky < kh; ++ky) {
        const int iy = oy * sh + ky - pt;
        for (int kx = 0; kx < kw; ++kx) {
          const int ix = ox * sw + kx - pl;
          const float v = (iy >= 0 && iy < h && ix >= 0 && ix < w) ? __ldg(xc + iy * w + ix) : 0.0f;
          acc = MAX ? fmaxf(acc, v) : acc + v;
        }
      }
      if (!MAX) acc *= inv;
    }
    y[i] = acc;
    if (COUNT) cnt += (acc == 0.0f);
  }
  if (COUNT) blockCountAdd(cnt, counter);
}

// One warp per (batch item, channel).
__global__ void __launch_bounds__(kThreads) gapKernel(const float* __restrict__ in, long long inBs, int c, int hw,
                                                       float* __restrict__ out, long long outBs, int batch) {
  const long long warpId = (blockIdx.x * static_cast<long long>(blockDim.x) + threadIdx.x) >> 5;
  const int lane = threadIdx.x & 31;
  if (warpId >= 1LL * batch * c) return;  // whole warps leave together
  const int n = static_cast<int>(warpId / c), ch = static_cast<int>(warpId % c);
  const float* x = in + n * inBs + 1LL * ch * hw;
  float s = 0.0f;
  for (int i = lane; i < hw; i += 32) s += __ldg(x + i);
  for (int o = 16; o > 0; o >>= 1) s += __shfl_down_sync(0xffffffffu, s, o);
  if (lane == 0) out[n * outBs + ch] = s / static_cast<float>(hw);
}

__global__ void __launch_bounds__(kThreads) flattenHwcKernel(const float* __restrict__ in, long long inBs, int c, int h,
                                                              int w, float* __restrict__ out, long long outBs) {
  const float* x = in + blockIdx.y * inBs;
  float* y = out + blockIdx.y * outBs;
  const long long total = 1LL * c * h * w;
  const int hw = h * w;
  for (long long i = blockIdx.x * static_cast<long long>(blockDim.x) + threadIdx.x; i < total;
       i += static_cast<long long>(gridDim.x) * blockDim.x) {
    // i indexes the output (y * w + x) * c + ch: consecutive threads write consecutive floats.
    const int ch = static_cast<int>(i % c);
    const int pix = static_cast<int>(i / c);
    y[i] = __ldg(x + 1LL * ch * hw + pix);
  }
}

// One block per batch item.
__global__ void __launch_bounds__(kThreads) softmaxKernel(const float* in, long long inBs, float* out, long long outBs,
                                                           long long n) {
  __shared__ float shared[32];
  const float* x = in + blockIdx.x * inBs;
  float* y = out + blockIdx.x * outBs;
  float m = -FLT_MAX;
  for (long long i = threadIdx.x; i < n; i += blockDim.x) m = fmaxf(m, x[i]);
  m = blockReduceMax(m, shared);
  float s = 0.0f;
  for (long long i = threadIdx.x; i < n; i += blockDim.x) s += expf(x[i] - m);
  s = blockReduceSum(s, shared);
  const float inv = 1.0f / s;
  for (long long i = threadIdx.x; i < n; i += blockDim.x) y[i] = expf(x[i] - m) * inv;
}

__global__ void __launch_bounds__(kThreads) countZerosKernel(const float* __restrict__ in, long long inBs, long long chw,
                                                              unsigned long long* counter) {
  const float* x = in + blockIdx.y * inBs;
  unsigned cnt = 0;
  for (long long i = blockIdx.x * static_cast<long long>(blockDim.x) + threadIdx.x; i < chw;
       i += static_cast<long long>(gridDim.x) * blockDim.x) {
    cnt += (__ldg(x + i) == 0.0f);
  }
  blockCountAdd(cnt, counter);
}

__global__ void __launch_bounds__(kThreads) padCopyKernel(const float* __restrict__ in, long long inBs, int c, int h,
                                                           int w, float* __restrict__ dst, int h2, int w2, int pt,
                                                           int pl) {
  const float* x = in + blockIdx.y * inBs;
  const long long total = 1LL * c * h2 * w2;
  float* y = dst + blockIdx.y * total;
  for (long long i = blockIdx.x * static_cast<long long>(blockDim.x) + threadIdx.x; i < total;
       i += static_cast<long long>(gridDim.x) * blockDim.x) {
    const int ch = static_cast<int>(i / (1LL * h2 * w2));
    const int rem = static_cast<int>(i % (1LL * h2 * w2));
    const int iy = rem / w2 - pt, ix = rem % w2 - pl;
    y[i] = (iy >= 0 && iy < h && ix >= 0 && ix < w) ? __ldg(x + (1LL * ch * h + iy) * w + ix) : 0.0f;
  }
}

__global__ void fillKernel(float* p, size_t n, float v) {
  for (size_t i = blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<size_t>(gridDim.x) * blockDim.x) {
    p[i] = v;
  }
}

__device__ __forceinline__ unsigned hash32(unsigned x) {
  x ^= x >> 16;
  x *= 0x7feb352du;
  x ^= x >> 15;
  x *= 0x846ca68bu;
  x ^= x >> 16;
  return x;
}

__global__ void fillRandomKernel(float* p, long long bs, long long chw, unsigned seed, float zeroFraction) {
  float* y = p + blockIdx.y * bs;
  for (long long i = blockIdx.x * static_cast<long long>(blockDim.x) + threadIdx.x; i < chw;
       i += static_cast<long long>(gridDim.x) * blockDim.x) {
    const unsigned h1 = hash32(static_cast<unsigned>(i) ^ hash32(seed + 0x9e3779b9u * (blockIdx.y + 1)));
    const unsigned h2 = hash32(h1 ^ 0x85ebca6bu);
    const float u = (h1 >> 8) * (1.0f / 16777216.0f);
    const float v = ((h2 >> 8) + 0.5f) * (2.0f / 16777216.0f) - 1.0f;
    y[i] = u < zeroFraction ? 0.0f : v;
  }
}

__global__ void maxAbsDiffKernel(const float* __restrict__ a, long long aBs, const float* __restrict__ b,
                                 long long chw, float* result) {
  const float* xa = a + blockIdx.y * aBs;
  const float* xb = b + blockIdx.y * chw;
  float d = 0.0f, m = 0.0f;
  for (long long i = blockIdx.x * static_cast<long long>(blockDim.x) + threadIdx.x; i < chw;
       i += static_cast<long long>(gridDim.x) * blockDim.x) {
    float di = fabsf(xa[i] - xb[i]);
    if (!(di <= FLT_MAX)) di = FLT_MAX;  // NaN or inf
    float mi = fabsf(xb[i]);
    if (!(mi <= FLT_MAX)) mi = FLT_MAX;
    d = fmaxf(d, di);
    m = fmaxf(m, mi);
  }
  // Non-negative floats order like their bit patterns.
  atomicMax(reinterpret_cast<unsigned*>(result), __float_as_uint(d));
  atomicMax(reinterpret_cast<unsigned*>(result + 1), __float_as_uint(m));
}

__global__ void setBranchKernel(cudaGraphConditionalHandle hSparse, cudaGraphConditionalHandle hDense, bool hasDense,
                                const unsigned long long* counter, double total, double threshold) {
  const bool sparse = static_cast<double>(*counter) / total >= threshold;
  cudaGraphSetConditional(hSparse, sparse ? 1u : 0u);
  if (hasDense) cudaGraphSetConditional(hDense, sparse ? 0u : 1u);
}

}  // namespace

cudaError_t launchAffine(const DevView& in, const DevView& out, const float* scale, const float* shift,
                         const Activation& act, unsigned long long* counter, int batch, cudaStream_t stream) {
  if (scale && shift) return affine2<true, true>(in, out, scale, shift, act, counter, batch, stream);
  if (scale) return affine2<true, false>(in, out, scale, shift, act, counter, batch, stream);
  if (shift) return affine2<false, true>(in, out, scale, shift, act, counter, batch, stream);
  return affine2<false, false>(in, out, scale, shift, act, counter, batch, stream);
}

template <int ACT>
cudaError_t add2(const DevView& a, const DevView& b, const DevView& out, ActArgs act, unsigned long long* counter,
                 int batch, cudaStream_t stream) {
  const long long chw = out.chw();
  const dim3 grid = gridFor(chw, batch);
  return counter ? launchDependent(addKernel<ACT, true>, grid, stream, a.p, a.bs, b.p, b.bs, out.p, out.bs, chw, act, counter)
                 : launchDependent(addKernel<ACT, false>, grid, stream, a.p, a.bs, b.p, b.bs, out.p, out.bs, chw, act, counter);
}

cudaError_t launchAdd(const DevView& a, const DevView& b, const DevView& out, const Activation& act,
                      unsigned long long* counter, int batch, cudaStream_t stream) {
  const ActArgs args = actArgs(act);
  switch (actKind(act)) {
    case kActClamp: return add2<kActClamp>(a, b, out, args, counter, batch, stream);
    case kActRelu: return add2<kActRelu>(a, b, out, args, counter, batch, stream);
    default: return add2<kActNone>(a, b, out, args, counter, batch, stream);
  }
}

template <bool MAX, bool EXCLUDE>
cudaError_t pool2(const DevView& in, const DevView& out, int kh, int kw, int sh, int sw, int pt, int pl,
                  unsigned long long* counter, int batch, cudaStream_t stream) {
  const dim3 grid = gridFor(out.chw(), batch);
  return counter ? launchDependent(poolKernel<MAX, EXCLUDE, true>, grid, stream, in.p, in.bs, in.c, in.h, in.w, out.p,
                                   out.bs, out.h, out.w, kh, kw, sh, sw, pt, pl, counter)
                 : launchDependent(poolKernel<MAX, EXCLUDE, false>, grid, stream, in.p, in.bs, in.c, in.h, in.w, out.p,
                                   out.bs, out.h, out.w, kh, kw, sh, sw, pt, pl, counter);
}

cudaError_t launchPool(bool isMax, bool excludePad, const DevView& in, const DevView& out, int kh, int kw, int sh,
                       int sw, int pt, int pl, unsigned long long* counter, int batch, cudaStream_t stream) {
  if (isMax) {
    return excludePad ? pool2<true, true>(in, out, kh, kw, sh, sw, pt, pl, counter, batch, stream)
                      : pool2<true, false>(in, out, kh, kw, sh, sw, pt, pl, counter, batch, stream);
  }
  return excludePad ? pool2<false, true>(in, out, kh, kw, sh, sw, pt, pl, counter, batch, stream)
                    : pool2<false, false>(in, out, kh, kw, sh, sw, pt, pl, counter, batch, stream);
}

cudaError_t launchGlobalAvgPool(const DevView& in, const DevView& out, int batch, cudaStream_t stream) {
  const long long threads = 32LL * batch * in.c;
  const unsigned blocks = static_cast<unsigned>((threads + kThreads - 1) / kThreads);
  gapKernel<<<blocks, kThreads, 0, stream>>>(in.p, in.bs, in.c, in.h * in.w, out.p, out.bs, batch);
  return cudaGetLastError();
}

cudaError_t launchFlattenHwc(const DevView& in, const DevView& out, int batch, cudaStream_t stream) {
  flattenHwcKernel<<<gridFor(in.chw(), batch), kThreads, 0, stream>>>(in.p, in.bs, in.c, in.h, in.w, out.p, out.bs);
  return cudaGetLastError();
}

cudaError_t launchSoftmax(const DevView& in, const DevView& out, int batch, cudaStream_t stream) {
  softmaxKernel<<<batch, kThreads, 0, stream>>>(in.p, in.bs, out.p, out.bs, in.chw());
  return cudaGetLastError();
}

cudaError_t launchCountZeros(const DevView& v, unsigned long long* counter, int batch, cudaStream_t stream) {
  countZerosKernel<<<gridFor(v.chw(), batch), kThreads, 0, stream>>>(v.p, v.bs, v.chw(), counter);
  return cudaGetLastError();
}

cudaError_t launchPadCopy(const DevView& in, float* dst, int pt, int pb, int pl, int pr, int batch, cudaStream_t stream) {
  const int h2 = in.h + pt + pb, w2 = in.w + pl + pr;
  padCopyKernel<<<gridFor(1LL * in.c * h2 * w2, batch), kThreads, 0, stream>>>(in.p, in.bs, in.c, in.h, in.w, dst, h2,
                                                                               w2, pt, pl);
  return cudaGetLastError();
}

cudaError_t launchFill(float* p, size_t n, float value, cudaStream_t stream) {
  if (n == 0) return cudaSuccess;
  size_t blocks = (n + kThreads - 1) / kThreads;
  if (blocks > 4096) blocks = 4096;
  fillKernel<<<static_cast<unsigned>(blocks), kThreads, 0, stream>>>(p, n, value);
  return cudaGetLastError();
}

cudaError_t launchFillRandom(const DevView& v, int batch, unsigned seed, float zeroFraction, cudaStream_t stream) {
  fillRandomKernel<<<gridFor(v.chw(), batch), kThreads, 0, stream>>>(v.p, v.bs, v.chw(), seed, zeroFraction);
  return cudaGetLastError();
}

cudaError_t launchMaxAbsDiff(const DevView& a, const float* packedB, int batch, float* result, cudaStream_t stream) {
  maxAbsDiffKernel<<<gridFor(a.chw(), batch), kThreads, 0, stream>>>(a.p, a.bs, packedB, a.chw(), result);
  return cudaGetLastError();
}

cudaError_t launchSetBranch(cudaGraphConditionalHandle hSparse, cudaGraphConditionalHandle hDense, bool hasDense,
                            const unsigned long long* counter, double total, double threshold, cudaStream_t stream) {
  setBranchKernel<<<1, 1, 0, stream>>>(hSparse, hDense, hasDense, counter, total, threshold);
  return cudaGetLastError();
}

}  // namespace cusnn
