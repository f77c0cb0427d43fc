// Shared by the kernel labs (lab.cu, batch-lab.cu): the runtime's timing method
// (src/native/runtime.cpp timeGraphUs). `copies` launches captured in one CUDA graph, 20 warm-up
// replays, then `iters` replays with events around each; returns each replay's microseconds per
// launch, sorted (callers take the median and spread). Needs the CK macro of its includer.
#pragma once
#include <algorithm>
#include <vector>

template <class F>
static std::vector<double> graphReplayUs(cudaStream_t stream, F launch, int iters, int copies = 1) {
  cudaGraph_t g;
  cudaGraphExec_t ge;
  CK(cudaStreamBeginCapture(stream, cudaStreamCaptureModeThreadLocal));
  for (int i = 0; i < copies; ++i) launch();
  CK(cudaStreamEndCapture(stream, &g));
  CK(cudaGraphInstantiate(&ge, g, 0));
  std::vector<cudaEvent_t> ev(2 * iters);
  for (auto& e : ev) CK(cudaEventCreate(&e));
  for (int i = 0; i < 20; ++i) CK(cudaGraphLaunch(ge, stream));
  for (int i = 0; i < iters; ++i) {
    CK(cudaEventRecord(ev[2 * i], stream));
    CK(cudaGraphLaunch(ge, stream));
    CK(cudaEventRecord(ev[2 * i + 1], stream));
  }
  CK(cudaStreamSynchronize(stream));
  std::vector<double> us(iters);
  for (int i = 0; i < iters; ++i) { float ms; CK(cudaEventElapsedTime(&ms, ev[2 * i], ev[2 * i + 1])); us[i] = ms * 1e3 / copies; }
  for (auto& e : ev) CK(cudaEventDestroy(e));
  std::sort(us.begin(), us.end());
  CK(cudaGraphExecDestroy(ge));
  CK(cudaGraphDestroy(g));
  return us;
}
