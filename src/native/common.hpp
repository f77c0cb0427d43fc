// Shared by the native runtime's translation units: the error type every failure becomes (the
// N-API layer turns it into a JS exception) and the checks that name the layer and the call.
#pragma once

#include <cuda_runtime.h>

#include <stdexcept>
#include <string>

namespace cusnn {

struct Error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// "cudnnConvolutionForward(handle, ...)" -> "cudnnConvolutionForward": errors name the call, not
// its whole argument list.
inline std::string callName(const char* expr) {
  std::string s(expr);
  const auto p = s.find('(');
  return p == std::string::npos ? s : s.substr(0, p);
}

inline void checkCuda(cudaError_t e, const char* expr, const std::string& where) {
  if (e != cudaSuccess) {
    throw Error(where + ": " + callName(expr) + " failed: " + cudaGetErrorName(e) + " (" + cudaGetErrorString(e) + ")");
  }
}

}  // namespace cusnn

// `where` is a string such as "layer conv2_block1_2_conv (step 12)" or "load".
#define CUSNN_CUDA(expr, where) ::cusnn::checkCuda((expr), #expr, (where))
