// Batch kernel lab, step 2 (GPU host): every generated kernel listed in kernels.inc (rendered by
// tools/kernel-lab/batch-lab.mjs) against cuDNN's fastest exact-fp32 algorithm (FMA math, every
// algorithm tried, the fastest within 2e-5 of IMPLICIT_GEMM kept) on the same random post-ReLU input
// (half zeros, fresh per shape), weights and bias, at the entry's batch. Correctness first: the
// kernel's output (NaN-poisoned before) against IMPLICIT_GEMM + bias + ReLU, relative L2 and max,
// and bitwise equal on a rerun. Timing as the runtime's: the launch alone in a CUDA graph, events
// around each replay, median (and p10/p90) of ITERS replays after 20 warm-up replays. cuDNN's time is
// the convolution alone (its bias and ReLU not counted: in cuDNN's favour). One JSON line per entry.
//
//   nvcc -O3 -std=c++17 -arch=sm_90 -I<dir> batch-lab.cu <dir>/*.cu -lcudnn && ./a.out [filter]
#include <cudnn.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <string>
#include <vector>

#define CK(x) do { cudaError_t e_ = (x); if (e_ != cudaSuccess) { fprintf(stderr, "%s:%d %s: %s\n", __FILE__, __LINE__, #x, cudaGetErrorString(e_)); exit(1); } } while (0)
#define CD(x) do { cudnnStatus_t s_ = (x); if (s_ != CUDNN_STATUS_SUCCESS) { fprintf(stderr, "%s:%d %s: %s\n", __FILE__, __LINE__, #x, cudnnGetErrorString(s_)); exit(1); } } while (0)

typedef cudaError_t (*Launch)(const float*, long long, const float*, const float*, float*, long long, int, cudaStream_t);
struct Entry {
  const char* name;
  const char* model;
  Launch launch;
  int C, H, W, K, R, S, stride, pad, HO, WO, batch, rule;
};
#include "kernels.inc"
#include "graph-timing.cuh"

static const int ITERS = 200;
static cudaStream_t gStream;
static cudnnHandle_t gDnn;

static uint64_t gRng = 0x9E3779B97F4A7C15ull;
static float urand() {
  gRng ^= gRng << 13; gRng ^= gRng >> 7; gRng ^= gRng << 17;
  return (gRng >> 40) / 16777216.0f;
}

struct Times { double med, p10, p90; };
template <class F>
static Times timeGraph(F launch) {
  const std::vector<double> us = graphReplayUs(gStream, launch, ITERS);
  return {us[ITERS / 2], us[ITERS / 10], us[ITERS * 9 / 10]};
}

struct Problem {
  int C, H, W, K, R, S, stride, pad, HO, WO, batch;
  float *in, *wCrsk, *wKcrs, *bias, *out, *ws;
  size_t inN, outN, wsBytes;
  std::vector<float> ref;  // IMPLICIT_GEMM + bias + ReLU
  double cudnnUs = 1e30, cudnnP10 = 0, cudnnP90 = 0;
  int algo = -1;
};

static std::string key(const Entry& e) {
  char b[128];
  snprintf(b, sizeof b, "%d_%d_%d_%d_%d_%d_%d_%d_%d", e.C, e.H, e.W, e.K, e.R, e.S, e.stride, e.pad, e.batch);
  return b;
}

static void setup(Problem& q, const Entry& e) {
  q.C = e.C; q.H = e.H; q.W = e.W; q.K = e.K; q.R = e.R; q.S = e.S; q.stride = e.stride; q.pad = e.pad; q.HO = e.HO; q.WO = e.WO; q.batch = e.batch;
  q.inN = (size_t)e.batch * e.C * e.H * e.W;
  q.outN = (size_t)e.batch * e.K * e.HO * e.WO;
  const int RS = e.R * e.S;
  const size_t wN = (size_t)e.K * e.C * RS;
  std::vector<float> hin(q.inN), hw(wN), hwk(wN), hb(e.K);
  for (auto& v : hin) v = urand() < 0.5f ? 0.0f : urand();
  const float scale = 1.0f / std::sqrt((float)e.C * RS);
  for (auto& v : hw) v = (2 * urand() - 1) * scale;  // [C][R][S][K]
  for (int k = 0; k < e.K; ++k)
    for (int c = 0; c < e.C * RS; ++c) hwk[(size_t)k * e.C * RS + c] = hw[(size_t)c * e.K + k];
  for (auto& v : hb) v = (2 * urand() - 1) * 0.1f;
  CK(cudaMalloc(&q.in, q.inN * 4)); CK(cudaMalloc(&q.wCrsk, wN * 4)); CK(cudaMalloc(&q.wKcrs, wN * 4));
  CK(cudaMalloc(&q.bias, e.K * 4)); CK(cudaMalloc(&q.out, q.outN * 4));
  CK(cudaMemcpy(q.in, hin.data(), q.inN * 4, cudaMemcpyHostToDevice));
  CK(cudaMemcpy(q.wCrsk, hw.data(), wN * 4, cudaMemcpyHostToDevice));
  CK(cudaMemcpy(q.wKcrs, hwk.data(), wN * 4, cudaMemcpyHostToDevice));
  CK(cudaMemcpy(q.bias, hb.data(), e.K * 4, cudaMemcpyHostToDevice));
  cudnnTensorDescriptor_t xd, yd;
  cudnnFilterDescriptor_t wd;
  cudnnConvolutionDescriptor_t cd;
  CD(cudnnCreateTensorDescriptor(&xd)); CD(cudnnCreateTensorDescriptor(&yd));
  CD(cudnnCreateFilterDescriptor(&wd)); CD(cudnnCreateConvolutionDescriptor(&cd));
  CD(cudnnSetTensor4dDescriptor(xd, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, e.batch, e.C, e.H, e.W));
  CD(cudnnSetTensor4dDescriptor(yd, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, e.batch, e.K, e.HO, e.WO));
  CD(cudnnSetFilter4dDescriptor(wd, CUDNN_DATA_FLOAT, CUDNN_TENSOR_NCHW, e.K, e.C, e.R, e.S));
  CD(cudnnSetConvolution2dDescriptor(cd, e.pad, e.pad, e.stride, e.stride, 1, 1, CUDNN_CROSS_CORRELATION, CUDNN_DATA_FLOAT));
  CD(cudnnSetConvolutionMathType(cd, CUDNN_FMA_MATH));
  q.wsBytes = 512 << 20;
  CK(cudaMalloc(&q.ws, q.wsBytes));
  const float one = 1, zero = 0;
  CD(cudnnConvolutionForward(gDnn, &one, xd, q.in, wd, q.wKcrs, cd, CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_GEMM, q.ws, q.wsBytes, &zero, yd, q.out));
  CK(cudaStreamSynchronize(gStream));
  std::vector<float> conv(q.outN);
  CK(cudaMemcpy(conv.data(), q.out, q.outN * 4, cudaMemcpyDeviceToHost));
  q.ref.resize(q.outN);
  const size_t pix = (size_t)e.HO * e.WO;
  for (size_t i = 0; i < q.outN; ++i) q.ref[i] = std::max(conv[i] + hb[(i / pix) % e.K], 0.0f);
  for (int a = 0; a < CUDNN_CONVOLUTION_FWD_ALGO_COUNT; ++a) {
    size_t need = 0;
    if (cudnnGetConvolutionForwardWorkspaceSize(gDnn, xd, wd, cd, yd, (cudnnConvolutionFwdAlgo_t)a, &need) != CUDNN_STATUS_SUCCESS) continue;
    if (need > q.wsBytes) continue;
    CK(cudaMemset(q.out, 0xff, q.outN * 4));
    if (cudnnConvolutionForward(gDnn, &one, xd, q.in, wd, q.wKcrs, cd, (cudnnConvolutionFwdAlgo_t)a, q.ws, need, &zero, yd, q.out) != CUDNN_STATUS_SUCCESS) continue;
    CK(cudaStreamSynchronize(gStream));
    std::vector<float> h(q.outN);
    CK(cudaMemcpy(h.data(), q.out, q.outN * 4, cudaMemcpyDeviceToHost));
    double num = 0, den = 0;
    for (size_t i = 0; i < q.outN; ++i) { const double d = (double)h[i] - conv[i]; num += d * d; den += (double)conv[i] * conv[i]; }
    if (!(std::sqrt(num / std::max(den, 1e-30)) <= 2e-5)) continue;
    const Times t = timeGraph([&] { cudnnConvolutionForward(gDnn, &one, xd, q.in, wd, q.wKcrs, cd, (cudnnConvolutionFwdAlgo_t)a, q.ws, need, &zero, yd, q.out); });
    if (t.med < q.cudnnUs) { q.cudnnUs = t.med; q.cudnnP10 = t.p10; q.cudnnP90 = t.p90; q.algo = a; }
  }
  cudnnDestroyTensorDescriptor(xd); cudnnDestroyTensorDescriptor(yd); cudnnDestroyFilterDescriptor(wd); cudnnDestroyConvolutionDescriptor(cd);
}

int main(int argc, char** argv) {
  const char* filter = argc > 1 ? argv[1] : nullptr;
  CK(cudaStreamCreateWithFlags(&gStream, cudaStreamNonBlocking));
  CD(cudnnCreate(&gDnn));
  CD(cudnnSetStream(gDnn, gStream));
  cudaDeviceProp prop;
  CK(cudaGetDeviceProperties(&prop, 0));
  printf("{\"device\":\"%s\",\"sms\":%d,\"cudnn\":%zu,\"entries\":%zu}\n", prop.name, prop.multiProcessorCount, cudnnGetVersion(), sizeof kEntries / sizeof kEntries[0]);
  std::map<std::string, Problem> problems;
  for (const Entry& e : kEntries) {
    if (filter && !strstr(e.name, filter)) continue;
    Problem& q = problems[key(e)];
    if (q.algo < 0 && q.inN == 0) setup(q, e);
    std::vector<float> h(q.outN), h2(q.outN);
    cudaError_t err = cudaSuccess;
    for (int rep = 0; rep < 2 && err == cudaSuccess; ++rep) {
      CK(cudaMemset(q.out, 0xff, q.outN * 4));  // NaN poison: every output must be written
      err = e.launch(q.in, (long long)e.C * e.H * e.W, q.wCrsk, q.bias, q.out, (long long)e.K * e.HO * e.WO, e.batch, gStream);
      if (err == cudaSuccess) err = cudaStreamSynchronize(gStream);
      if (err == cudaSuccess) CK(cudaMemcpy(rep ? h2.data() : h.data(), q.out, q.outN * 4, cudaMemcpyDeviceToHost));
    }
    if (err != cudaSuccess) {
      printf("{\"name\":\"%s\",\"batch\":%d,\"error\":\"%s\"}\n", e.name, e.batch, cudaGetErrorString(err));
      fflush(stdout);
      if (err != cudaErrorInvalidValue && err != cudaErrorInvalidConfiguration) exit(1);
      continue;
    }
    double num = 0, den = 0, maxRel = 0;
    for (size_t i = 0; i < q.outN; ++i) {
      const double d = (double)h[i] - q.ref[i];
      num += d * d; den += (double)q.ref[i] * q.ref[i];
      if (!(std::fabs(d) <= 1e30)) maxRel = INFINITY;
    }
    const double rel = std::sqrt(num / std::max(den, 1e-30));
    const bool same = memcmp(h.data(), h2.data(), q.outN * 4) == 0;
    const Times t = timeGraph([&] { e.launch(q.in, (long long)e.C * e.H * e.W, q.wCrsk, q.bias, q.out, (long long)e.K * e.HO * e.WO, e.batch, gStream); });
    const double flops = 2.0 * e.batch * e.K * e.C * e.R * e.S * e.HO * e.WO;
    printf("{\"name\":\"%s\",\"model\":\"%s\",\"shape\":\"%dx%dx%d->%d %dx%d s%d p%d\",\"batch\":%d,\"rule\":%d,\"relL2\":%.2e,\"finite\":%s,\"bitwise\":%s,"
           "\"us\":%.2f,\"p10\":%.2f,\"p90\":%.2f,\"cudnnUs\":%.2f,\"cudnnP10\":%.2f,\"cudnnP90\":%.2f,\"algo\":%d,\"tflops\":%.1f,\"cudnnTflops\":%.1f,\"speedup\":%.2f}\n",
           e.name, e.model, e.C, e.H, e.W, e.K, e.R, e.S, e.stride, e.pad, e.batch, e.rule, rel, std::isinf(maxRel) ? "false" : "true", same ? "true" : "false",
           t.med, t.p10, t.p90, q.cudnnUs, q.cudnnP10, q.cudnnP90, q.algo, flops / t.med * 1e-6, flops / q.cudnnUs * 1e-6, q.cudnnUs / t.med);
    fflush(stdout);
  }
  return 0;
}
