// The executor's cuDNN algorithm selection (runtime.hpp): every candidate algorithm of a conv timed
// in a graph of its own, once per problem per process.
#include <map>
#include <mutex>
#include <sstream>
#include <string>

#include "runtime-detail.hpp"

namespace cusnn {

const char* algoName(int algo) {
  switch (algo) {
    case CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_GEMM: return "IMPLICIT_GEMM";
    case CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_PRECOMP_GEMM: return "IMPLICIT_PRECOMP_GEMM";
    case CUDNN_CONVOLUTION_FWD_ALGO_GEMM: return "GEMM";
    case CUDNN_CONVOLUTION_FWD_ALGO_DIRECT: return "DIRECT";
    case CUDNN_CONVOLUTION_FWD_ALGO_FFT: return "FFT";
    case CUDNN_CONVOLUTION_FWD_ALGO_FFT_TILING: return "FFT_TILING";
    case CUDNN_CONVOLUTION_FWD_ALGO_WINOGRAD: return "WINOGRAD";
    case CUDNN_CONVOLUTION_FWD_ALGO_WINOGRAD_NONFUSED: return "WINOGRAD_NONFUSED";
    default: return "?";
  }
}

// One algorithm measurement per problem per process (and device and math mode): every runtime of
// the process then runs a given cuDNN problem with the same algorithm, so two engines compared side
// by side differ only where their paths differ, not by which of two near-tied algorithms one
// timing happened to favour; later loads also skip the search.
static std::mutex gAlgoCacheMutex;
static std::map<std::string, ConvAlgo>& processAlgoCache() {
  static std::map<std::string, ConvAlgo> cache;
  return cache;
}

void Runtime::selectAlgorithms() {
  std::lock_guard<std::mutex> lock(gAlgoCacheMutex);
  std::map<std::string, ConvAlgo>& cache = processAlgoCache();
  for (int i = 0; i < static_cast<int>(prog_.steps.size()); ++i) {
    if (prog_.steps[i].op == Op::Conv && convs_[i].cudnn) selectAlgorithm(i, cache);
  }
}

void Runtime::selectAlgorithm(int i, std::map<std::string, ConvAlgo>& cache) {
  const Step& s = prog_.steps[i];
  ConvExec& c = convs_[i];
  const std::string w = where(i);
  const int n = prog_.batch;
  if (opt_.algo == AlgoPolicy::ImplicitGemm) {
    // The original artifact's baseline: IMPLICIT_GEMM for every conv, no search, no timing.
    const auto algo = CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_GEMM;
    size_t need = 0;
    CUSNN_CUDNN(cudnnGetConvolutionForwardWorkspaceSize(cudnn_, c.x, c.w, c.conv, c.y, algo, &need),
                w + " [IMPLICIT_GEMM, fixed by options.algo = 'implicit-gemm']");
    if (need > kMaxAlgoWorkspace) {
      throw Error(w + ": IMPLICIT_GEMM (fixed by options.algo = 'implicit-gemm') wants " + std::to_string(need) +
                  " bytes of workspace, over the 1 GiB limit");
    }
    ConvAlgo a;
    a.step = i;
    a.layer = s.layer;
    a.algo = algo;
    a.us = -1;  // not timed
    a.workspace = need;
    AlgoCandidate cand;
    cand.algo = algo;
    cand.status = "fixed by options.algo = 'implicit-gemm' (no search)";
    cand.workspace = need;
    a.candidates.push_back(cand);
    c.algo = algo;
    c.ws = need;
    workspaceBytes_ = std::max(workspaceBytes_, need);
    algos_.push_back(a);
    return;
  }
  std::ostringstream key;
  key << "dev" << opt_.device << (opt_.tf32 ? ":tf32:" : ":fp32:") << n << ":" << s.in.c << "x" << s.in.h << "x" << s.in.w << "/" << s.in.bs << ":" << s.k << "x" << s.r << "x"
      << s.s << ":" << s.strideH << "," << s.strideW << ":" << s.padT << "," << s.padL << "," << s.padB << ","
      << s.padR << ":" << s.out.bs << ":" << c.explicitPad << ":g" << s.groups;
  const auto hit = cache.find(key.str());
  if (hit != cache.end()) {
    ConvAlgo a = hit->second;
    a.step = i;
    a.layer = s.layer;
    a.cached = true;
    c.algo = static_cast<cudnnConvolutionFwdAlgo_t>(a.algo);
    c.ws = a.workspace;
    workspaceBytes_ = std::max(workspaceBytes_, c.ws);  // the measurement may come from another runtime
    algos_.push_back(a);
    return;
  }

  // Random input (half zeros, like a ReLU output) in the view the conv reads.
  const void* x = ptr(s.in);
  if (c.explicitPad) {
    CUSNN_CUDA(launchFillRandom(toDev(s.in), n, 777u + i, 0.5f, stream_), w);
    CUSNN_CUDA(launchPadCopy(toDev(s.in), padScratch_, s.padT, s.padB, s.padL, s.padR, n, stream_), w);
    x = padScratch_;
  } else {
    CUSNN_CUDA(launchFillRandom(toDev(s.in), n, 777u + i, 0.5f, stream_), w);
  }
  const float* wts = tensors_[s.weightsKcrs];
  float* y = ptr(s.out);
  const float one = 1.0f, zero = 0.0f;

  // Reference: IMPLICIT_GEMM (no workspace) into a packed scratch output.
  const size_t outFloats = static_cast<size_t>(n) * s.out.chw();
  float* ref = nullptr;
  float* diff = nullptr;
  void* ws = nullptr;
  size_t wsBytes = 0;
  cudnnTensorDescriptor_t packed = nullptr;
  ConvAlgo result;
  result.step = i;
  result.layer = s.layer;
  auto cleanup = [&]() {
    if (ref) cudaFree(ref);
    if (diff) cudaFree(diff);
    if (ws) cudaFree(ws);
    if (packed) cudnnDestroyTensorDescriptor(packed);
    ref = diff = nullptr;
    ws = nullptr;
    packed = nullptr;
  };
  try {
    CUSNN_CUDA(cudaMalloc(&ref, outFloats * sizeof(float)), w);
    CUSNN_CUDA(cudaMalloc(&diff, 2 * sizeof(float)), w);
    CUSNN_CUDNN(cudnnCreateTensorDescriptor(&packed), w);
    CUSNN_CUDNN(cudnnSetTensor4dDescriptor(packed, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, n, s.out.c, s.out.h, s.out.w), w);
    CUSNN_CUDNN(cudnnSetStream(cudnn_, stream_), w);
    bool haveRef = cudnnConvolutionForward(cudnn_, &one, c.x, x, c.w, wts, c.conv,
                                           CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_GEMM, nullptr, 0, &zero, packed,
                                           ref) == CUDNN_STATUS_SUCCESS;
    CUSNN_CUDA(cudaStreamSynchronize(stream_), w + ": reference convolution");

    // The algorithms cuDNN offers for this problem, in its heuristic order.
    std::vector<int> offered;
    cudnnConvolutionFwdAlgoPerf_t perf[CUDNN_CONVOLUTION_FWD_ALGO_COUNT];
    int returned = 0;
    if (cudnnGetConvolutionForwardAlgorithm_v7(cudnn_, c.x, c.w, c.conv, c.y, CUDNN_CONVOLUTION_FWD_ALGO_COUNT,
                                               &returned, perf) == CUDNN_STATUS_SUCCESS) {
      for (int k = 0; k < returned; ++k) {
        const int a = perf[k].algo;
        if (std::find(offered.begin(), offered.end(), a) != offered.end()) continue;
        if (perf[k].status == CUDNN_STATUS_SUCCESS) {
          offered.push_back(a);
        } else {
          AlgoCandidate cand;
          cand.algo = a;
          cand.status = std::string("not offered: ") + cudnnGetErrorString(perf[k].status);
          result.candidates.push_back(cand);
        }
      }
    }
    if (offered.empty()) {
      for (int a = 0; a < CUDNN_CONVOLUTION_FWD_ALGO_COUNT; ++a) offered.push_back(a);
    }
    // Exact fp32 algorithms agree to ~1e-6; some (Winograd, FFT variants) lose ~1e-3 on 5x5 filters
    // and must not become the "exact fp32" baseline.
    const double tol = opt_.tf32 ? 2e-2 : 2e-5;

    for (int a : offered) {
      AlgoCandidate cand;
      cand.algo = a;
      const auto algo = static_cast<cudnnConvolutionFwdAlgo_t>(a);
      size_t need = 0;
      cudnnStatus_t st = cudnnGetConvolutionForwardWorkspaceSize(cudnn_, c.x, c.w, c.conv, c.y, algo, &need);
      if (st != CUDNN_STATUS_SUCCESS) {
        cand.status = std::string("workspace query: ") + cudnnGetErrorString(st);
        result.candidates.push_back(cand);
        continue;
      }
      cand.workspace = need;
      if (need > kMaxAlgoWorkspace) {
        cand.status = "workspace over 1 GiB";
        result.candidates.push_back(cand);
        continue;
      }
      if (need > wsBytes) {
        if (ws) cudaFree(ws);
        ws = nullptr;
        if (cudaMalloc(&ws, need) != cudaSuccess) {
          cudaGetLastError();
          wsBytes = 0;
          cand.status = "workspace allocation failed";
          result.candidates.push_back(cand);
          continue;
        }
        wsBytes = need;
      }
      st = cudnnConvolutionForward(cudnn_, &one, c.x, x, c.w, wts, c.conv, algo, ws, need, &zero, c.y, y);
      if (st != CUDNN_STATUS_SUCCESS) {
        cand.status = std::string("forward: ") + cudnnGetErrorString(st);
        result.candidates.push_back(cand);
        continue;
      }
      CUSNN_CUDA(cudaStreamSynchronize(stream_), w + ": cuDNN " + algoName(a));
      if (!haveRef) {
        // No IMPLICIT_GEMM: the first algorithm that runs is the reference.
        CUSNN_CUDNN(cudnnConvolutionForward(cudnn_, &one, c.x, x, c.w, wts, c.conv, algo, ws, need, &zero, packed, ref), w);
        haveRef = true;
      }
      float d[2] = {0, 0};
      CUSNN_CUDA(cudaMemsetAsync(diff, 0, 2 * sizeof(float), stream_), w);
      CUSNN_CUDA(launchMaxAbsDiff(toDev(s.out), ref, n, diff, stream_), w);
      CUSNN_CUDA(cudaMemcpyAsync(d, diff, sizeof(d), cudaMemcpyDeviceToHost, stream_), w);
      CUSNN_CUDA(cudaStreamSynchronize(stream_), w);
      if (!(d[0] <= tol * std::max(d[1], 1e-30f))) {
        std::ostringstream m;
        m << "disagrees with the reference (IMPLICIT_GEMM): max |diff| / max |ref| = " << d[0] / std::max(d[1], 1e-30f)
          << " > " << tol;
        cand.status = m.str();
        result.candidates.push_back(cand);
        continue;
      }
      // Time it in a graph of its own.
      cudaGraph_t g = nullptr;
      cudaGraphExec_t ge = nullptr;
      cudaError_t e = cudaStreamBeginCapture(stream_, cudaStreamCaptureModeThreadLocal);
      if (e == cudaSuccess) {
        st = cudnnConvolutionForward(cudnn_, &one, c.x, x, c.w, wts, c.conv, algo, ws, need, &zero, c.y, y);
        e = cudaStreamEndCapture(stream_, &g);
        if (st == CUDNN_STATUS_SUCCESS && e == cudaSuccess) e = cudaGraphInstantiate(&ge, g, 0);
      }
      if (st != CUDNN_STATUS_SUCCESS || e != cudaSuccess) {
        cudaGetLastError();
        if (ge) cudaGraphExecDestroy(ge);
        if (g) cudaGraphDestroy(g);
        cand.status = std::string("not capturable in a CUDA graph: ") +
                      (st != CUDNN_STATUS_SUCCESS ? cudnnGetErrorString(st) : cudaGetErrorName(e));
        result.candidates.push_back(cand);
        continue;
      }
      try {
        cand.us = timeGraphUs(ge, opt_.selectIters, nullptr);
      } catch (...) {
        cudaGraphExecDestroy(ge);
        cudaGraphDestroy(g);
        throw;
      }
      cudaGraphExecDestroy(ge);
      cudaGraphDestroy(g);
      cand.status = "ok";
      result.candidates.push_back(cand);
      if (result.algo < 0 || cand.us < result.us) {
        result.algo = a;
        result.us = cand.us;
        result.workspace = need;
      }
    }
    cleanup();
  } catch (...) {
    cleanup();
    throw;
  }
  if (result.algo < 0) {
    std::ostringstream m;
    m << w << ": no cuDNN algorithm ran for this convolution:";
    for (const auto& cand : result.candidates) m << " " << algoName(cand.algo) << " (" << cand.status << ");";
    throw Error(m.str());
  }
  c.algo = static_cast<cudnnConvolutionFwdAlgo_t>(result.algo);
  c.ws = result.workspace;
  workspaceBytes_ = std::max(workspaceBytes_, c.ws);
  cache[key.str()] = result;
  algos_.push_back(result);
}

}  // namespace cusnn
