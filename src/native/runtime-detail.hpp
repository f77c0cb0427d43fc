// Helpers the executor's sources share (runtime.cpp: load and forward; runtime-algos.cpp: cuDNN
// algorithm selection; runtime-measure.cpp: timing and energy). Internal to the addon: not part of
// runtime.hpp's interface.
#pragma once

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "common.hpp"
#include "runtime.hpp"

namespace cusnn {

inline void checkCudnn(cudnnStatus_t st, const char* expr, const std::string& where) {
  if (st == CUDNN_STATUS_SUCCESS) return;
  char detail[1024] = {0};
  cudnnGetLastErrorString(detail, sizeof(detail));
  std::string msg = where + ": " + callName(expr) + " failed: " + cudnnGetErrorString(st);
  if (detail[0]) msg += std::string(" (") + detail + ")";
  throw Error(msg);
}

inline void checkCublas(cublasStatus_t st, const char* expr, const std::string& where) {
  if (st == CUBLAS_STATUS_SUCCESS) return;
  throw Error(where + ": " + callName(expr) + " failed: " + cublasGetStatusString(st));
}

#define CUSNN_CUDNN(expr, where) checkCudnn((expr), #expr, (where))
#define CUSNN_CUBLAS(expr, where) checkCublas((expr), #expr, (where))

inline constexpr size_t kMaxAlgoWorkspace = size_t(1) << 30;  // algorithms wanting more are not considered
inline constexpr size_t kCublasWorkspace = size_t(32) << 20;

inline double percentile(std::vector<double> v, double q) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const double pos = q * (v.size() - 1);
  const size_t lo = static_cast<size_t>(std::floor(pos));
  const size_t hi = std::min(lo + 1, v.size() - 1);
  return v[lo] + (v[hi] - v[lo]) * (pos - lo);
}

inline Timing timingOf(const std::vector<double>& us) {
  Timing t;
  t.medianUs = percentile(us, 0.5);
  t.p10Us = percentile(us, 0.1);
  t.p90Us = percentile(us, 0.9);
  t.iters = static_cast<int>(us.size());
  return t;
}

template <class T>
inline void freeDev(T*& p) {
  if (p) cudaFree(p);
  p = nullptr;
}

// The step's ReLU and clamp as the element-wise kernels take them.
inline Activation activationOf(const Step& s) {
  Activation a;
  a.relu = s.relu;
  a.clamp = s.clamp;
  a.lo = s.clampLo;
  a.hi = s.clampHi;
  return a;
}

// A view as a cuDNN NCHW tensor of `batch` items (its channel slice and batch stride included).
inline void setViewDescriptor(cudnnTensorDescriptor_t d, const View& v, int batch, const std::string& where) {
  if (v.bs > 0x7fffffffLL) throw Error(where + ": batch stride exceeds cuDNN's int strides");
  CUSNN_CUDNN(cudnnSetTensor4dDescriptorEx(d, CUDNN_DATA_FLOAT, batch, v.c, v.h, v.w, static_cast<int>(v.bs), v.h * v.w,
                                           v.w, 1), where);
}

}  // namespace cusnn
