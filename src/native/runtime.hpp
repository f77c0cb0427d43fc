// The executor of a program (program.hpp) on one GPU.
//
// At load: weights uploaded once, Program.buffers allocated once (and zeroed), zero counters as
// unsigned long long on the device, one cuDNN and one cuBLAS handle on a non-blocking stream.
// Every conv that can take the cuDNN path gets its algorithm by measurement: each algorithm that
// cudnnGetConvolutionForwardAlgorithm_v7 reports as supported is checked against IMPLICIT_GEMM on
// random data (a wrong result rules it out), then timed over several replays of a CUDA graph that
// holds just that convolution, and the fastest is kept (cudnnFind's own pick is unreliable for
// these small layers, DESIGN.md section 2). Then one eager warm-up forward (module loading, every
// branch once) and the capture of the whole forward into one CUDA graph that run() replays: no
// host synchronization inside a forward.
//
// Modes: 'static' follows each conv's planned path; 'cudnn' runs every conv through cuDNN (the
// baseline); 'dynamic' decides on the device, per conv that has a generated kernel, a threshold
// and an input counter: a one-thread kernel reads the counter and sets a CUDA graph conditional
// handle, and an IF/ELSE conditional node (CUDA >= 12.8; two IF nodes on older drivers) runs the
// generated kernel's body or the cuDNN body. The counters are reset by a memset node at the start
// of every forward.
#pragma once

#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <cudnn.h>

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "kernels.hpp"
#include "program.hpp"

namespace cusnn {

typedef cudaError_t (*Launcher)(const float*, long long, const float*, const float*, float*, long long, int,
                                cudaStream_t);
// A kernel whose epilogue adds a residual (in, inBs, weights, bias, res, resBs, out, outBs, batch, stream).
typedef cudaError_t (*LauncherRes)(const float*, long long, const float*, const float*, const float*, long long, float*,
                                   long long, int, cudaStream_t);

enum class Mode { Static, Dynamic, Cudnn };

// How the cuDNN path of each conv gets its algorithm: Search times every algorithm cuDNN offers
// (the exact-fp32 baseline); ImplicitGemm fixes every conv to CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_GEMM
// with no search (the original cuSNN artifact's baseline).
enum class AlgoPolicy { Search, ImplicitGemm };

struct Options {
  Mode mode = Mode::Static;
  bool tf32 = false;
  // Dynamic mode: each branch body also writes which branch ran (a 1-byte memset node), for
  // branches(). Off by default: it adds a node per dynamic conv.
  bool traceBranches = false;
  // Eager runs only: synchronize after every step, so an asynchronous fault names its layer.
  bool syncEachStep = false;
  int device = 0;
  int selectIters = 10;  // timed replays per cuDNN algorithm at load
  AlgoPolicy algo = AlgoPolicy::Search;
};

// Energy of back-to-back forward graph replays from NVML's total-energy counter (measureEnergy).
struct EnergyResult {
  double mJPerInference = 0;   // energy / replays (one replay = one forward of the whole batch)
  double windowSeconds = 0;    // host wall time between the two counter readings
  long long inferences = 0;    // replays inside the window
  double avgPowerW = 0;        // energy / windowSeconds
  double idlePowerW = 0;       // board power after an idle pause, before the window
  double replayUs = 0;         // mean replay time inside the window (host clock)
  double energyMj = 0;         // counter difference
  std::string gpu;             // NVML's name of the GPU
};

struct Timing {
  double medianUs = 0, p10Us = 0, p90Us = 0;
  int iters = 0;
};

struct AlgoCandidate {
  int algo = -1;
  std::string status;  // "ok", or why it was not kept
  double us = -1;      // median replay time, -1 when not timed
  size_t workspace = 0;
};

struct ConvAlgo {
  int step = -1;
  std::string layer;
  int algo = -1;
  double us = 0;
  size_t workspace = 0;
  bool cached = false;  // same problem as an earlier conv of this process: its measurement was reused
  std::vector<AlgoCandidate> candidates;
};

const char* algoName(int algo);

// Registry of the generated kernels linked into this addon (kernels/registry.cu).
std::vector<std::string> registryNames();

class Runtime {
 public:
  // tensors: host pointers and lengths, in Program.tensors order (lengths already checked).
  Runtime(Program program, const std::vector<std::pair<const float*, size_t>>& tensors, Options options);
  ~Runtime();
  Runtime(const Runtime&) = delete;
  Runtime& operator=(const Runtime&) = delete;

  const Program& program() const { return prog_; }
  const Options& options() const { return opt_; }
  size_t inputFloats() const { return static_cast<size_t>(prog_.batch) * prog_.input.chw(); }
  size_t outputFloats() const { return static_cast<size_t>(prog_.batch) * prog_.output.chw(); }

  // Copies the input in, runs the forward (graph replay, or step by step when eager), copies the
  // output out. The only synchronization is the final one.
  void run(const float* input, float* output, bool eager);
  std::vector<float> readView(const std::string& layer);
  std::vector<float> readBuffer(int buf);
  void fillBuffers(float value);
  std::vector<unsigned long long> zeroCounts();
  // Per step: 1 generated kernel, 0 cuDNN, -1 not a conv (or a dynamic conv whose branch was
  // not traced / not run yet).
  std::vector<int> branches();
  Timing timeForward(int iters);
  // `copies` enqueues of the step in one graph, each replay's time divided by copies: what the step
  // costs inside a network's graph (one graph launch shared by many nodes), not a graph launch of its own.
  // The steps before it run first (replayPrefix), so it reads what it reads in a forward of the last input.
  Timing timeStep(int step, int iters, int copies = 1);
  // After a run(): idles idleMs, samples the idle board power, then replays the forward graph
  // back-to-back (the queue kept full, a host check every few tens of milliseconds) until at least
  // minSeconds have passed, reading NVML's total-energy counter right before the first replay and
  // right after the last one finished. Throws "NVML: ..." where the counter is unavailable.
  EnergyResult measureEnergy(double minSeconds, int idleMs);
  const std::vector<ConvAlgo>& algorithms() const { return algos_; }
  const char* conditionalKind() const;
  size_t deviceBytes() const { return deviceBytes_; }
  // Conditional bodies that could not be captured directly and went in as child graphs, and why.
  int bodyFallbacks() const { return bodyFallbacks_; }
  const std::string& bodyNote() const { return bodyNote_; }

 private:
  enum class Ctx { Eager, Capture, WarmAll };
  void replayPrefix(int step);
  // Zero counters to 0 on `st`, as every forward starts.
  void resetCounters(cudaStream_t st, const char* what);
  enum class Cond { None, IfElse, TwoIf };

  struct ConvExec {
    bool sparse = false;   // generated kernel (static choice)
    bool dynamic = false;  // decided on the device
    bool cudnn = false;    // the cuDNN path is needed (static choice or dynamic branch)
    Launcher launch = nullptr;
    LauncherRes launchRes = nullptr;  // the step has a residual: its kernel's launcher
    cudnnTensorDescriptor_t x = nullptr, y = nullptr;
    cudnnFilterDescriptor_t w = nullptr;
    cudnnConvolutionDescriptor_t conv = nullptr;
    cudnnConvolutionFwdAlgo_t algo = CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_GEMM;
    size_t ws = 0;
    bool explicitPad = false;  // asymmetric padding: pad into padScratch_, convolve with pad 0
    bool epilogue = false;     // bias / ReLU / clamp / zero count after cuDNN
  };

  // cuDNN's descriptors of a softmax step over a map (h * w > 1); null for the others.
  struct SoftmaxExec {
    cudnnTensorDescriptor_t x = nullptr, y = nullptr;
  };

  DevView toDev(const View& v) const;
  float* ptr(const View& v) const { return bufs_[v.buf] + v.offset; }
  std::string where(int step) const { return stepWhere(prog_, step); }

  void prepareConvs();
  void prepareSoftmax();
  // `launch`: the step's launcher of either signature (only its address is used, to find the kernel's library).
  void checkKernelInfo(int step, const void* launch);
  void selectAlgorithms();
  void selectAlgorithm(int step, std::map<std::string, ConvAlgo>& cache);
  double timeGraphUs(cudaGraphExec_t exec, int iters, std::vector<double>* all);
  void probeConditionals();

  void enqueueForward(cudaStream_t st, Ctx ctx);
  void enqueueStep(int i, cudaStream_t st, Ctx ctx);
  void enqueueCudnn(int i, cudaStream_t st);
  void enqueueSparse(int i, cudaStream_t st);
  void enqueueConditional(int i, cudaStream_t st);
  void captureBody(int i, cudaGraph_t body, bool sparse);
  // Captures the whole forward (step -1) or one step into a graph; returns it instantiated.
  std::pair<cudaGraph_t, cudaGraphExec_t> capture(int step, int copies = 1);
  void ensureEvents(size_t n);
  void release();

  Program prog_;
  Options opt_;
  cudaStream_t stream_ = nullptr, side_ = nullptr;
  cudnnHandle_t cudnn_ = nullptr;
  cublasHandle_t cublas_ = nullptr;
  std::vector<float*> bufs_;
  std::vector<float*> tensors_;
  unsigned long long* counters_ = nullptr;
  unsigned char* trace_ = nullptr;
  void* workspace_ = nullptr;
  size_t workspaceBytes_ = 0;
  void* cublasWorkspace_ = nullptr;
  float* padScratch_ = nullptr;
  size_t padScratchFloats_ = 0;
  std::vector<ConvExec> convs_;
  std::vector<SoftmaxExec> softmax_;
  std::vector<ConvAlgo> algos_;
  cudaGraph_t graph_ = nullptr;
  cudaGraphExec_t exec_ = nullptr;
  std::map<std::pair<int, int>, std::pair<cudaGraph_t, cudaGraphExec_t>> stepGraphs_;  // (step, copies)
  std::vector<cudaEvent_t> events_;
  Cond cond_ = Cond::None;
  bool hasInput_ = false;
  size_t deviceBytes_ = 0;
  int bodyFallbacks_ = 0;
  std::string bodyNote_;
};

}  // namespace cusnn
