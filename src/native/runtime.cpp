// The executor (runtime.hpp): load, eager and captured forwards, dynamic branches through CUDA
// graph conditional nodes, the public operations. cuDNN's algorithm selection is in
// runtime-algos.cpp, timing and energy in runtime-measure.cpp.
#include "runtime.hpp"

#include <dlfcn.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <sstream>

#include "common.hpp"
#include "runtime-detail.hpp"

// The launcher table of the generated folder this addon was built from (kernels/registry.cu).
// A kernel fills the field of its launcher's signature (launchRes: its epilogue adds a residual).
struct cusnn_kernel_entry {
  const char* name;
  cusnn::Launcher launch;
  cusnn::LauncherRes launchRes;
};
extern "C" const int cusnn_kernel_count;
extern "C" const cusnn_kernel_entry cusnn_kernels[];

namespace cusnn {
namespace {

// Kernel description exported by each generated kernel as cusnn_info_<name> (version 1, C layout;
// templates/act-sparse.cu.hbs).
struct KernelInfo {
  int version;
  const char* name;
  const char* family;
  int sm;
  int c, h, w;
  int k, r, s;
  int strideH, strideW;
  int padTop, padLeft;
  int ho, wo;
  int bias, relu;
  int th, tw, tc, kb, cs;
  int threads;
  int windowH, windowW;
  int sharedBytes;
  int gridX, gridY;
};

}  // namespace

std::vector<std::string> registryNames() {
  std::vector<std::string> names;
  for (int i = 0; i < cusnn_kernel_count; ++i) {
    if (cusnn_kernels[i].name) names.emplace_back(cusnn_kernels[i].name);
  }
  return names;
}

DevView Runtime::toDev(const View& v) const { return DevView{ptr(v), v.bs, v.c, v.h, v.w}; }

Runtime::Runtime(Program program, const std::vector<std::pair<const float*, size_t>>& tensors, Options options)
    : prog_(std::move(program)), opt_(options) {
  const std::string load = "load";
  try {
    CUSNN_CUDA(cudaSetDevice(opt_.device), load);
    cudaDeviceProp props{};
    CUSNN_CUDA(cudaGetDeviceProperties(&props, opt_.device), load);
    const int cc = props.major * 10 + props.minor;
    if (cc < CUSNN_BUILD_ARCH) {
      throw Error("load: this addon was built for sm_" + std::to_string(CUSNN_BUILD_ARCH) + "; device " +
                  std::to_string(opt_.device) + " (" + props.name + ") is sm_" + std::to_string(cc) +
                  ": rebuild with cusnn-gen build <dir> --arch sm_" + std::to_string(cc));
    }
    CUSNN_CUDA(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking), load);
    CUSNN_CUDA(cudaStreamCreateWithFlags(&side_, cudaStreamNonBlocking), load);
    CUSNN_CUDNN(cudnnCreate(&cudnn_), load);
    CUSNN_CUDNN(cudnnSetStream(cudnn_, stream_), load);
    CUSNN_CUBLAS(cublasCreate(&cublas_), load);
    CUSNN_CUBLAS(cublasSetStream(cublas_, stream_), load);
    CUSNN_CUBLAS(cublasSetMathMode(cublas_, opt_.tf32 ? CUBLAS_TF32_TENSOR_OP_MATH : CUBLAS_DEFAULT_MATH), load);
    // A workspace of our own, so that cuBLAS allocates nothing while a graph is captured.
    CUSNN_CUDA(cudaMalloc(&cublasWorkspace_, kCublasWorkspace), load);
    deviceBytes_ += kCublasWorkspace;
    CUSNN_CUBLAS(cublasSetWorkspace(cublas_, cublasWorkspace_, kCublasWorkspace), load);

    // Buffers (zeroed), counters, branch trace, weights.
    for (size_t i = 0; i < prog_.buffers.size(); ++i) {
      float* p = nullptr;
      const size_t bytes = static_cast<size_t>(prog_.buffers[i]) * sizeof(float);
      CUSNN_CUDA(cudaMalloc(&p, bytes), "load: buffer " + std::to_string(i) + " (" + std::to_string(bytes) + " bytes)");
      bufs_.push_back(p);
      deviceBytes_ += bytes;
      CUSNN_CUDA(cudaMemsetAsync(p, 0, bytes, stream_), load);
    }
    const size_t counters = std::max(1, prog_.zeroCounters);
    CUSNN_CUDA(cudaMalloc(&counters_, counters * sizeof(unsigned long long)), load);
    CUSNN_CUDA(cudaMemsetAsync(counters_, 0, counters * sizeof(unsigned long long), stream_), load);
    CUSNN_CUDA(cudaMalloc(&trace_, std::max<size_t>(1, prog_.steps.size())), load);
    CUSNN_CUDA(cudaMemsetAsync(trace_, 0, std::max<size_t>(1, prog_.steps.size()), stream_), load);
    for (size_t i = 0; i < tensors.size(); ++i) {
      float* p = nullptr;
      const size_t bytes = std::max<size_t>(1, tensors[i].second) * sizeof(float);
      const std::string w = "load: tensor " + std::to_string(i) + " ('" + prog_.tensors[i].name + "')";
      CUSNN_CUDA(cudaMalloc(&p, bytes), w);
      tensors_.push_back(p);
      deviceBytes_ += bytes;
      if (tensors[i].second > 0) {
        CUSNN_CUDA(cudaMemcpy(p, tensors[i].first, tensors[i].second * sizeof(float), cudaMemcpyHostToDevice), w);
      }
    }

    if (opt_.mode == Mode::Dynamic) probeConditionals();
    prepareConvs();
    prepareSoftmax();
    if (padScratchFloats_ > 0) {
      CUSNN_CUDA(cudaMalloc(&padScratch_, padScratchFloats_ * sizeof(float)), load);
      deviceBytes_ += padScratchFloats_ * sizeof(float);
    }
    selectAlgorithms();
    if (workspaceBytes_ > 0) {
      CUSNN_CUDA(cudaMalloc(&workspace_, workspaceBytes_), load);
      deviceBytes_ += workspaceBytes_;
    }

    // Warm-up: random input, every step once eagerly (both branches of dynamic convs), so module
    // loading and library initialization stay out of the captured graph.
    CUSNN_CUDA(launchFillRandom(toDev(prog_.input), prog_.batch, 12345u, 0.0f, stream_), load);
    enqueueForward(stream_, Ctx::WarmAll);
    CUSNN_CUDA(cudaStreamSynchronize(stream_), "load: warm-up forward");

    auto g = capture(-1);
    graph_ = g.first;
    exec_ = g.second;
    CUSNN_CUDA(cudaGraphLaunch(exec_, stream_), "load: first graph replay");
    CUSNN_CUDA(cudaStreamSynchronize(stream_), "load: first graph replay");
  } catch (...) {
    release();
    throw;
  }
}

Runtime::~Runtime() { release(); }

void Runtime::release() {
  if (stream_) cudaStreamSynchronize(stream_);
  for (auto& [step, g] : stepGraphs_) {
    if (g.second) cudaGraphExecDestroy(g.second);
    if (g.first) cudaGraphDestroy(g.first);
  }
  stepGraphs_.clear();
  if (exec_) cudaGraphExecDestroy(exec_);
  if (graph_) cudaGraphDestroy(graph_);
  exec_ = nullptr;
  graph_ = nullptr;
  for (auto& c : convs_) {
    if (c.x) cudnnDestroyTensorDescriptor(c.x);
    if (c.y) cudnnDestroyTensorDescriptor(c.y);
    if (c.w) cudnnDestroyFilterDescriptor(c.w);
    if (c.conv) cudnnDestroyConvolutionDescriptor(c.conv);
    c = ConvExec{};
  }
  for (auto& sm : softmax_) {
    if (sm.x) cudnnDestroyTensorDescriptor(sm.x);
    if (sm.y) cudnnDestroyTensorDescriptor(sm.y);
    sm = SoftmaxExec{};
  }
  for (auto e : events_) cudaEventDestroy(e);
  events_.clear();
  for (auto& p : bufs_) freeDev(p);
  for (auto& p : tensors_) freeDev(p);
  bufs_.clear();
  tensors_.clear();
  freeDev(counters_);
  freeDev(trace_);
  freeDev(padScratch_);
  if (workspace_) cudaFree(workspace_);
  workspace_ = nullptr;
  if (cublasWorkspace_) cudaFree(cublasWorkspace_);
  cublasWorkspace_ = nullptr;
  if (cudnn_) cudnnDestroy(cudnn_);
  cudnn_ = nullptr;
  if (cublas_) cublasDestroy(cublas_);
  cublas_ = nullptr;
  if (side_) cudaStreamDestroy(side_);
  if (stream_) cudaStreamDestroy(stream_);
  side_ = stream_ = nullptr;
  cudaGetLastError();  // leave no error behind for the next runtime
}

// ------------------------------------------------------------------------------------------------
// Load: convs, kernels, cuDNN descriptors and algorithms.

void Runtime::probeConditionals() {
  // An IF node with an ELSE body needs CUDA >= 12.8 (runtime and driver); plain IF nodes 12.4.
  cudaGraph_t g = nullptr;
  CUSNN_CUDA(cudaGraphCreate(&g, 0), "load: probe of conditional nodes");
  cudaGraphConditionalHandle h;
  cudaError_t e = cudaGraphConditionalHandleCreate(&h, g, 0, 0);
  if (e == cudaSuccess) {
    cudaGraphNodeParams p{};
    p.type = cudaGraphNodeTypeConditional;
    p.conditional.handle = h;
    p.conditional.type = cudaGraphCondTypeIf;
    p.conditional.size = 2;
    cudaGraphNode_t node;
    if (cudaGraphAddNode(&node, g, nullptr, nullptr, 0, &p) == cudaSuccess) {
      cond_ = Cond::IfElse;
    } else {
      cudaGetLastError();
      p = cudaGraphNodeParams{};
      p.type = cudaGraphNodeTypeConditional;
      p.conditional.handle = h;
      p.conditional.type = cudaGraphCondTypeIf;
      p.conditional.size = 1;
      e = cudaGraphAddNode(&node, g, nullptr, nullptr, 0, &p);
      if (e == cudaSuccess) cond_ = Cond::TwoIf;
    }
  }
  cudaGraphDestroy(g);
  if (cond_ == Cond::None) {
    cudaGetLastError();
    throw Error(std::string("load: dynamic mode needs CUDA graph conditional nodes (CUDA 12.4 or newer runtime and driver): ") +
                cudaGetErrorName(e) + " (" + cudaGetErrorString(e) + ")");
  }
}

const char* Runtime::conditionalKind() const {
  switch (cond_) {
    case Cond::IfElse: return "if-else";
    case Cond::TwoIf: return "two-if";
    default: return "none";
  }
}

void Runtime::checkKernelInfo(int i, const void* launch) {
  const Step& s = prog_.steps[i];
  Dl_info dl{};
  if (!dladdr(launch, &dl) || !dl.dli_fname) return;
  void* self = dlopen(dl.dli_fname, RTLD_LAZY | RTLD_NOLOAD);
  if (!self) return;
  const auto* info = static_cast<const KernelInfo*>(dlsym(self, ("cusnn_info_" + s.kernel).c_str()));
  dlclose(self);
  if (!info || info->version != 1) return;  // described by an older or newer generator: no check
  std::ostringstream diff;
  auto cmp = [&](const char* what, long long kernel, long long step) {
    if (kernel != step) diff << " " << what << " " << kernel << " vs " << step << ";";
  };
  cmp("c", info->c, s.in.c);
  cmp("h", info->h, s.in.h);
  cmp("w", info->w, s.in.w);
  cmp("k", info->k, s.k);
  cmp("r", info->r, s.r);
  cmp("s", info->s, s.s);
  cmp("strideH", info->strideH, s.strideH);
  cmp("strideW", info->strideW, s.strideW);
  cmp("padTop", info->padTop, s.padT);
  cmp("padLeft", info->padLeft, s.padL);
  cmp("ho", info->ho, s.out.h);
  cmp("wo", info->wo, s.out.w);
  cmp("bias", info->bias, s.bias >= 0 ? 1 : 0);
  cmp("relu", info->relu, s.relu ? 1 : 0);
  if (!diff.str().empty()) {
    throw Error(where(i) + ": generated kernel '" + s.kernel + "' does not match the step (kernel vs step):" + diff.str());
  }
}

void Runtime::prepareConvs() {
  convs_.assign(prog_.steps.size(), ConvExec{});
  std::map<std::string, const cusnn_kernel_entry*> registry;
  for (int i = 0; i < cusnn_kernel_count; ++i) {
    if (cusnn_kernels[i].name) registry[cusnn_kernels[i].name] = &cusnn_kernels[i];
  }
  for (int i = 0; i < static_cast<int>(prog_.steps.size()); ++i) {
    const Step& s = prog_.steps[i];
    if (s.op != Op::Conv) continue;
    ConvExec& c = convs_[i];
    const std::string w = where(i);
    c.dynamic = opt_.mode == Mode::Dynamic && !s.kernel.empty() && s.hasThreshold && s.inZeros >= 0;
    c.sparse = !c.dynamic && opt_.mode != Mode::Cudnn && s.sparsePath;
    c.cudnn = c.dynamic || !c.sparse;
    if (c.sparse || c.dynamic) {
      const auto it = registry.find(s.kernel);
      if (it == registry.end()) {
        throw Error(w + ": generated kernel '" + s.kernel + "' is not in this addon's registry (cusnn_kernels[] has " +
                    std::to_string(registry.size()) +
                    " kernels): build the addon from the generated folder the program was lowered from");
      }
      c.launch = it->second->launch;
      c.launchRes = it->second->launchRes;
      if (s.hasResidual && !c.launchRes) {
        throw Error(w + ": the step adds a residual but generated kernel '" + s.kernel + "' does not (its launcher takes none)");
      }
      if (!s.hasResidual && !c.launch) {
        throw Error(w + ": generated kernel '" + s.kernel + "' adds a residual but the step gives none");
      }
      checkKernelInfo(i, c.launch ? reinterpret_cast<const void*>(c.launch) : reinterpret_cast<const void*>(c.launchRes));
    }
    if (!c.cudnn) continue;

    const int n = prog_.batch;
    c.explicitPad = s.padT != s.padB || s.padL != s.padR;
    CUSNN_CUDNN(cudnnCreateTensorDescriptor(&c.x), w);
    CUSNN_CUDNN(cudnnCreateTensorDescriptor(&c.y), w);
    CUSNN_CUDNN(cudnnCreateFilterDescriptor(&c.w), w);
    CUSNN_CUDNN(cudnnCreateConvolutionDescriptor(&c.conv), w);
    if (c.explicitPad) {
      const int h2 = s.in.h + s.padT + s.padB, w2 = s.in.w + s.padL + s.padR;
      CUSNN_CUDNN(cudnnSetTensor4dDescriptor(c.x, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, n, s.in.c, h2, w2), w);
      padScratchFloats_ = std::max(padScratchFloats_, static_cast<size_t>(n) * s.in.c * h2 * w2);
      CUSNN_CUDNN(cudnnSetConvolution2dDescriptor(c.conv, 0, 0, s.strideH, s.strideW, 1, 1, CUDNN_CROSS_CORRELATION,
                                                  CUDNN_DATA_FLOAT), w);
    } else {
      // The view's strides: a channel prefix or slice of a wider buffer needs no copy.
      CUSNN_CUDNN(cudnnSetTensor4dDescriptorEx(c.x, CUDNN_DATA_FLOAT, n, s.in.c, s.in.h, s.in.w,
                                               static_cast<int>(s.in.bs), s.in.h * s.in.w, s.in.w, 1), w);
      CUSNN_CUDNN(cudnnSetConvolution2dDescriptor(c.conv, s.padT, s.padL, s.strideH, s.strideW, 1, 1,
                                                  CUDNN_CROSS_CORRELATION, CUDNN_DATA_FLOAT), w);
    }
    CUSNN_CUDNN(cudnnSetConvolutionMathType(c.conv, opt_.tf32 ? CUDNN_DEFAULT_MATH : CUDNN_FMA_MATH), w);
    // Grouped (depthwise: groups = C) convs: cuDNN's group count, filters K x C/groups x R x S.
    if (s.groups != 1) CUSNN_CUDNN(cudnnSetConvolutionGroupCount(c.conv, s.groups), w);
    CUSNN_CUDNN(cudnnSetFilter4dDescriptor(c.w, CUDNN_DATA_FLOAT, CUDNN_TENSOR_NCHW, s.k, s.in.c / s.groups, s.r, s.s), w);
    CUSNN_CUDNN(cudnnSetTensor4dDescriptorEx(c.y, CUDNN_DATA_FLOAT, n, s.out.c, s.out.h, s.out.w,
                                             static_cast<int>(s.out.bs), s.out.h * s.out.w, s.out.w, 1), w);
    int on = 0, oc = 0, oh = 0, ow = 0;
    CUSNN_CUDNN(cudnnGetConvolution2dForwardOutputDim(c.conv, c.x, c.w, &on, &oc, &oh, &ow), w);
    if (on != n || oc != s.k || oh != s.out.h || ow != s.out.w) {
      throw Error(w + ": cuDNN computes a " + std::to_string(oc) + "x" + std::to_string(oh) + "x" + std::to_string(ow) +
                  " output, the step's out view is " + std::to_string(s.out.c) + "x" + std::to_string(s.out.h) + "x" +
                  std::to_string(s.out.w));
    }
    if (s.in.bs > 0x7fffffffLL || s.out.bs > 0x7fffffffLL) throw Error(w + ": batch stride exceeds cuDNN's int strides");
    c.epilogue = s.bias >= 0 || s.relu || s.clamp || s.countZeros >= 0;
  }
}

void Runtime::prepareSoftmax() {
  softmax_.assign(prog_.steps.size(), SoftmaxExec{});
  for (int i = 0; i < static_cast<int>(prog_.steps.size()); ++i) {
    const Step& s = prog_.steps[i];
    // A classifier's N x C softmax stays on launchSoftmax (one block per item); over a map, each
    // pixel's channels are strided by h * w: cuDNN's CHANNEL mode.
    if (s.op != Op::Softmax || s.in.h * s.in.w == 1) continue;
    const std::string w = where(i);
    SoftmaxExec& sm = softmax_[i];
    CUSNN_CUDNN(cudnnCreateTensorDescriptor(&sm.x), w);
    CUSNN_CUDNN(cudnnCreateTensorDescriptor(&sm.y), w);
    setViewDescriptor(sm.x, s.in, prog_.batch, w + ".in");
    setViewDescriptor(sm.y, s.out, prog_.batch, w + ".out");
  }
}



// ------------------------------------------------------------------------------------------------
// Forward: steps on a stream, eagerly or under capture.

void Runtime::resetCounters(cudaStream_t st, const char* what) {
  if (prog_.zeroCounters > 0) {
    CUSNN_CUDA(cudaMemsetAsync(counters_, 0, prog_.zeroCounters * sizeof(unsigned long long), st), what);
  }
}

void Runtime::enqueueForward(cudaStream_t st, Ctx ctx) {
  resetCounters(st, "forward: reset counters");
  if (opt_.traceBranches && ctx != Ctx::WarmAll) {
    CUSNN_CUDA(cudaMemsetAsync(trace_, 0, std::max<size_t>(1, prog_.steps.size()), st), "forward: reset branch trace");
  }
  for (int i = 0; i < static_cast<int>(prog_.steps.size()); ++i) {
    enqueueStep(i, st, ctx);
    if (ctx == Ctx::Eager && opt_.syncEachStep) CUSNN_CUDA(cudaStreamSynchronize(st), where(i));
  }
}

void Runtime::enqueueCudnn(int i, cudaStream_t st) {
  const Step& s = prog_.steps[i];
  const ConvExec& c = convs_[i];
  const std::string w = where(i);
  const void* x = ptr(s.in);
  if (c.explicitPad) {
    CUSNN_CUDA(launchPadCopy(toDev(s.in), padScratch_, s.padT, s.padB, s.padL, s.padR, prog_.batch, st), w);
    x = padScratch_;
  }
  const float one = 1.0f, zero = 0.0f;
  CUSNN_CUDNN(cudnnSetStream(cudnn_, st), w);
  CUSNN_CUDNN(cudnnConvolutionForward(cudnn_, &one, c.x, x, c.w, tensors_[s.weightsKcrs], c.conv, c.algo, workspace_,
                                      workspaceBytes_, &zero, c.y, ptr(s.out)),
              w + " [" + algoName(c.algo) + "]");
  if (s.hasResidual) {
    // The fused residual add on this path (a dynamic conv's cuDNN branch): bias, then the add with the activation.
    if (s.bias >= 0) {
      CUSNN_CUDA(launchAffine(toDev(s.out), toDev(s.out), nullptr, tensors_[s.bias], Activation{}, nullptr, prog_.batch, st),
                 w + " bias");
    }
    CUSNN_CUDA(launchAdd(toDev(s.out), toDev(s.b), toDev(s.out), activationOf(s),
                         s.countZeros >= 0 ? counters_ + s.countZeros : nullptr, prog_.batch, st),
               w + " residual add");
  } else if (c.epilogue) {
    CUSNN_CUDA(launchAffine(toDev(s.out), toDev(s.out), nullptr, s.bias >= 0 ? tensors_[s.bias] : nullptr,
                            activationOf(s), s.countZeros >= 0 ? counters_ + s.countZeros : nullptr, prog_.batch, st),
               w + " epilogue");
  }
}

void Runtime::enqueueSparse(int i, cudaStream_t st) {
  const Step& s = prog_.steps[i];
  const ConvExec& c = convs_[i];
  const std::string w = where(i);
  const float* bias = s.bias >= 0 ? tensors_[s.bias] : nullptr;
  const cudaError_t e = s.hasResidual ? c.launchRes(ptr(s.in), s.in.bs, tensors_[s.weightsCrsk], bias, ptr(s.b), s.b.bs,
                                                    ptr(s.out), s.out.bs, prog_.batch, st)
                                      : c.launch(ptr(s.in), s.in.bs, tensors_[s.weightsCrsk], bias, ptr(s.out), s.out.bs,
                                                 prog_.batch, st);
  checkCuda(e, ("cusnn_launch_" + s.kernel).c_str(), w);
  unsigned long long* counter = s.countZeros >= 0 ? counters_ + s.countZeros : nullptr;
  if (s.clamp) {
    // The generated kernels' epilogue is bias and ReLU: a clamp (ReLU6) follows in place, counting
    // the zeros of what it leaves.
    Activation a;
    a.clamp = true;
    a.lo = s.clampLo;
    a.hi = s.clampHi;
    CUSNN_CUDA(launchAffine(toDev(s.out), toDev(s.out), nullptr, nullptr, a, counter, prog_.batch, st), w + " clamp");
  } else if (counter) {
    CUSNN_CUDA(launchCountZeros(toDev(s.out), counter, prog_.batch, st), w + " zero count");
  }
}

// Fills a conditional node's body with one branch: captured straight into the body
// (cudaStreamBeginCaptureToGraph); should that fail (a library call the body refuses), the branch is
// captured into a graph of its own and added to the body as a child graph node.
void Runtime::captureBody(int i, cudaGraph_t body, bool sparse) {
  const std::string w = where(i) + (sparse ? " [generated-kernel branch]" : " [cuDNN branch]");
  auto fill = [&](cudaStream_t s) {
    if (opt_.traceBranches) CUSNN_CUDA(cudaMemsetAsync(trace_ + i, sparse ? 1 : 2, 1, s), w);
    if (sparse) enqueueSparse(i, s);
    else enqueueCudnn(i, s);
  };
  std::string firstError;
  cudaError_t e = cudaStreamBeginCaptureToGraph(side_, body, nullptr, nullptr, 0, cudaStreamCaptureModeThreadLocal);
  if (e == cudaSuccess) {
    try {
      fill(side_);
    } catch (const std::exception& err) {
      firstError = err.what();
    }
    cudaGraph_t out = nullptr;
    const cudaError_t end = cudaStreamEndCapture(side_, &out);
    if (firstError.empty() && end == cudaSuccess) return;
    if (firstError.empty()) firstError = std::string("cudaStreamEndCapture: ") + cudaGetErrorName(end);
  } else {
    firstError = std::string("cudaStreamBeginCaptureToGraph: ") + cudaGetErrorName(e);
  }
  cudaGetLastError();
  // Empty the body again, then the child-graph route.
  size_t count = 0;
  CUSNN_CUDA(cudaGraphGetNodes(body, nullptr, &count), w);
  if (count > 0) {
    std::vector<cudaGraphNode_t> nodes(count);
    CUSNN_CUDA(cudaGraphGetNodes(body, nodes.data(), &count), w);
    for (auto n : nodes) CUSNN_CUDA(cudaGraphDestroyNode(n), w);
  }
  ++bodyFallbacks_;
  bodyNote_ = firstError;
  cudaGraph_t child = nullptr;
  CUSNN_CUDA(cudaStreamBeginCapture(side_, cudaStreamCaptureModeThreadLocal), w + " (after: " + firstError + ")");
  try {
    fill(side_);
  } catch (...) {
    cudaGraph_t tmp = nullptr;
    cudaStreamEndCapture(side_, &tmp);
    if (tmp) cudaGraphDestroy(tmp);
    cudaGetLastError();
    throw;
  }
  CUSNN_CUDA(cudaStreamEndCapture(side_, &child), w + " (after: " + firstError + ")");
  cudaGraphNode_t node = nullptr;
  e = cudaGraphAddChildGraphNode(&node, body, nullptr, 0, child);
  cudaGraphDestroy(child);  // the node holds a copy
  if (e != cudaSuccess) {
    throw Error(w + ": cannot build the conditional body: " + firstError + "; as a child graph: " + cudaGetErrorName(e) +
                " (" + cudaGetErrorString(e) + ")");
  }
}

void Runtime::enqueueConditional(int i, cudaStream_t st) {
  const Step& s = prog_.steps[i];
  const std::string w = where(i) + " [dynamic]";
  cudaStreamCaptureStatus status;
  cudaGraph_t g = nullptr;
  const cudaGraphNode_t* deps = nullptr;
  size_t nd = 0;
  CUSNN_CUDA(cudaStreamGetCaptureInfo(st, &status, nullptr, &g, &deps, nullptr, &nd), w);
  cudaGraphConditionalHandle hSparse, hDense = 0;
  CUSNN_CUDA(cudaGraphConditionalHandleCreate(&hSparse, g, 0, cudaGraphCondAssignDefault), w);
  const bool twoIf = cond_ == Cond::TwoIf;
  if (twoIf) CUSNN_CUDA(cudaGraphConditionalHandleCreate(&hDense, g, 0, cudaGraphCondAssignDefault), w);
  const double total = static_cast<double>(prog_.batch) * static_cast<double>(s.in.chw());
  CUSNN_CUDA(launchSetBranch(hSparse, hDense, twoIf, counters_ + s.inZeros, total, s.threshold, st), w);
  CUSNN_CUDA(cudaStreamGetCaptureInfo(st, &status, nullptr, &g, &deps, nullptr, &nd), w);

  cudaGraphNodeParams p{};
  p.type = cudaGraphNodeTypeConditional;
  p.conditional.handle = hSparse;
  p.conditional.type = cudaGraphCondTypeIf;
  p.conditional.size = twoIf ? 1 : 2;
  cudaGraphNode_t node = nullptr;
  CUSNN_CUDA(cudaGraphAddNode(&node, g, deps, nullptr, nd, &p), w);
  cudaGraph_t sparseBody = p.conditional.phGraph_out[0];
  cudaGraph_t denseBody = twoIf ? nullptr : p.conditional.phGraph_out[1];
  if (twoIf) {
    cudaGraphNodeParams q{};
    q.type = cudaGraphNodeTypeConditional;
    q.conditional.handle = hDense;
    q.conditional.type = cudaGraphCondTypeIf;
    q.conditional.size = 1;
    cudaGraphNode_t node2 = nullptr;
    CUSNN_CUDA(cudaGraphAddNode(&node2, g, &node, nullptr, 1, &q), w);
    denseBody = q.conditional.phGraph_out[0];
    node = node2;
  }
  CUSNN_CUDA(cudaStreamUpdateCaptureDependencies(st, &node, nullptr, 1, cudaStreamSetCaptureDependencies), w);
  captureBody(i, sparseBody, true);
  captureBody(i, denseBody, false);
  // The library handles must point back at the main stream for the steps that follow.
  CUSNN_CUDNN(cudnnSetStream(cudnn_, st), w);
}

void Runtime::enqueueStep(int i, cudaStream_t st, Ctx ctx) {
  const Step& s = prog_.steps[i];
  const std::string w = where(i);
  const int n = prog_.batch;
  unsigned long long* counter = s.countZeros >= 0 ? counters_ + s.countZeros : nullptr;
  switch (s.op) {
    case Op::Conv: {
      const ConvExec& c = convs_[i];
      if (!c.dynamic) {
        if (c.sparse) enqueueSparse(i, st);
        else enqueueCudnn(i, st);
      } else if (ctx == Ctx::Capture) {
        enqueueConditional(i, st);
      } else if (ctx == Ctx::WarmAll) {
        enqueueCudnn(i, st);
        enqueueSparse(i, st);
      } else {
        // Eager: the host reads the counter (the original cuSNN's way; a sync per dynamic conv).
        unsigned long long zeros = 0;
        CUSNN_CUDA(cudaMemcpyAsync(&zeros, counters_ + s.inZeros, sizeof(zeros), cudaMemcpyDeviceToHost, st), w);
        CUSNN_CUDA(cudaStreamSynchronize(st), w);
        const double total = static_cast<double>(n) * static_cast<double>(s.in.chw());
        const bool sparse = static_cast<double>(zeros) / total >= s.threshold;
        if (opt_.traceBranches) CUSNN_CUDA(cudaMemsetAsync(trace_ + i, sparse ? 1 : 2, 1, st), w);
        if (sparse) enqueueSparse(i, st);
        else enqueueCudnn(i, st);
      }
      break;
    }
    case Op::ScaleShift:
      CUSNN_CUDA(launchAffine(toDev(s.in), toDev(s.out), tensors_[s.scale], tensors_[s.shift], activationOf(s), counter, n,
                              st), w);
      break;
    case Op::BiasRelu:
      CUSNN_CUDA(launchAffine(toDev(s.in), toDev(s.out), nullptr, s.bias >= 0 ? tensors_[s.bias] : nullptr,
                              activationOf(s), counter, n, st), w);
      break;
    case Op::Add:
      CUSNN_CUDA(launchAdd(toDev(s.in), toDev(s.b), toDev(s.out), activationOf(s), counter, n, st), w);
      break;
    case Op::MaxPool:
    case Op::AvgPool:
      CUSNN_CUDA(launchPool(s.op == Op::MaxPool, s.excludePad, toDev(s.in), toDev(s.out), s.kh, s.kw, s.strideH,
                            s.strideW, s.padT, s.padL, counter, n, st), w);
      break;
    case Op::GlobalAvgPool:
      CUSNN_CUDA(launchGlobalAvgPool(toDev(s.in), toDev(s.out), n, st), w);
      break;
    case Op::FlattenHwc:
      CUSNN_CUDA(launchFlattenHwc(toDev(s.in), toDev(s.out), n, st), w);
      break;
    case Op::Softmax: {
      const SoftmaxExec& sm = softmax_[i];
      if (!sm.x) {
        CUSNN_CUDA(launchSoftmax(toDev(s.in), toDev(s.out), n, st), w);
        break;
      }
      const float one = 1.0f, zero = 0.0f;
      CUSNN_CUDNN(cudnnSetStream(cudnn_, st), w);
      CUSNN_CUDNN(cudnnSoftmaxForward(cudnn_, CUDNN_SOFTMAX_ACCURATE, CUDNN_SOFTMAX_MODE_CHANNEL, &one, sm.x, ptr(s.in),
                                      &zero, sm.y, ptr(s.out)), w);
      break;
    }
    case Op::Dense: {
      // Row-major W [units][in] is column-major [in][units]: y (units x n, ld out.bs) = W^T-view * x.
      const int inF = static_cast<int>(s.in.chw());
      const float one = 1.0f, zero = 0.0f;
      // cublasSetStream resets the workspace to cuBLAS's own pool (allocations under capture):
      // switch only when needed and give it ours back.
      cudaStream_t current = nullptr;
      CUSNN_CUBLAS(cublasGetStream(cublas_, &current), w);
      if (current != st) {
        CUSNN_CUBLAS(cublasSetStream(cublas_, st), w);
        CUSNN_CUBLAS(cublasSetWorkspace(cublas_, cublasWorkspace_, kCublasWorkspace), w);
      }
      CUSNN_CUBLAS(cublasSgemm(cublas_, CUBLAS_OP_T, CUBLAS_OP_N, s.units, n, inF, &one, tensors_[s.weights], inF,
                               ptr(s.in), static_cast<int>(s.in.bs), &zero, ptr(s.out), static_cast<int>(s.out.bs)),
                   w);
      if (s.bias >= 0 || s.relu || s.clamp) {
        const DevView out{ptr(s.out), s.out.bs, s.units, 1, 1};
        CUSNN_CUDA(launchAffine(out, out, nullptr, s.bias >= 0 ? tensors_[s.bias] : nullptr, activationOf(s), nullptr, n,
                                st), w + " epilogue");
      }
      break;
    }
  }
}

std::pair<cudaGraph_t, cudaGraphExec_t> Runtime::capture(int step, int copies) {
  const std::string w = step < 0 ? std::string("capture of the forward") : "capture of " + where(step);
  CUSNN_CUDA(cudaStreamBeginCapture(stream_, cudaStreamCaptureModeThreadLocal), w);
  try {
    if (step < 0) enqueueForward(stream_, Ctx::Capture);
    else for (int c = 0; c < copies; ++c) enqueueStep(step, stream_, Ctx::Capture);
  } catch (...) {
    cudaGraph_t g = nullptr;
    cudaStreamEndCapture(stream_, &g);
    if (g) cudaGraphDestroy(g);
    cudaGetLastError();
    throw;
  }
  cudaGraph_t g = nullptr;
  CUSNN_CUDA(cudaStreamEndCapture(stream_, &g), w);
  cudaGraphExec_t exec = nullptr;
  const cudaError_t e = cudaGraphInstantiate(&exec, g, 0);
  if (e != cudaSuccess) {
    cudaGraphDestroy(g);
    checkCuda(e, "cudaGraphInstantiate", w);
  }
  return {g, exec};
}

// ------------------------------------------------------------------------------------------------
// Public operations.

void Runtime::run(const float* input, float* output, bool eager) {
  const View& in = prog_.input;
  const View& out = prog_.output;
  const size_t inRow = static_cast<size_t>(in.chw()) * sizeof(float);
  const size_t outRow = static_cast<size_t>(out.chw()) * sizeof(float);
  CUSNN_CUDA(cudaMemcpy2DAsync(ptr(in), in.bs * sizeof(float), input, inRow, inRow, prog_.batch, cudaMemcpyHostToDevice,
                               stream_), "run: input copy");
  if (eager) enqueueForward(stream_, Ctx::Eager);
  else CUSNN_CUDA(cudaGraphLaunch(exec_, stream_), "run: graph replay");
  CUSNN_CUDA(cudaMemcpy2DAsync(output, outRow, ptr(out), out.bs * sizeof(float), outRow, prog_.batch,
                               cudaMemcpyDeviceToHost, stream_), "run: output copy");
  CUSNN_CUDA(cudaStreamSynchronize(stream_), eager ? "run (eager forward)" : "run (graph replay)");
  hasInput_ = true;
}

std::vector<float> Runtime::readView(const std::string& layer) {
  const View* v = nullptr;
  if (layer == "@input") v = &prog_.input;
  else if (layer == "@output") v = &prog_.output;
  for (const auto& [name, view] : prog_.views) {
    if (name == layer) v = &view;
  }
  if (!v) {
    std::string known;
    for (const auto& [name, view] : prog_.views) known += (known.empty() ? "" : ", ") + name;
    throw Error("readView: no view named '" + layer + "' (views: " + known + "; also @input, @output)");
  }
  std::vector<float> host(static_cast<size_t>(prog_.batch) * v->chw());
  const size_t row = static_cast<size_t>(v->chw()) * sizeof(float);
  CUSNN_CUDA(cudaMemcpy2DAsync(host.data(), row, ptr(*v), v->bs * sizeof(float), row, prog_.batch,
                               cudaMemcpyDeviceToHost, stream_), "readView " + layer);
  CUSNN_CUDA(cudaStreamSynchronize(stream_), "readView " + layer);
  return host;
}

std::vector<float> Runtime::readBuffer(int buf) {
  if (buf < 0 || buf >= static_cast<int>(bufs_.size())) throw Error("readBuffer: no buffer " + std::to_string(buf));
  std::vector<float> host(static_cast<size_t>(prog_.buffers[buf]));
  CUSNN_CUDA(cudaMemcpyAsync(host.data(), bufs_[buf], host.size() * sizeof(float), cudaMemcpyDeviceToHost, stream_),
             "readBuffer");
  CUSNN_CUDA(cudaStreamSynchronize(stream_), "readBuffer");
  return host;
}

void Runtime::fillBuffers(float value) {
  for (size_t i = 0; i < bufs_.size(); ++i) {
    CUSNN_CUDA(launchFill(bufs_[i], static_cast<size_t>(prog_.buffers[i]), value, stream_), "fillBuffers");
  }
  CUSNN_CUDA(cudaStreamSynchronize(stream_), "fillBuffers");
}

std::vector<unsigned long long> Runtime::zeroCounts() {
  std::vector<unsigned long long> host(static_cast<size_t>(prog_.zeroCounters));
  if (!host.empty()) {
    CUSNN_CUDA(cudaMemcpyAsync(host.data(), counters_, host.size() * sizeof(unsigned long long), cudaMemcpyDeviceToHost,
                               stream_), "zeroCounts");
    CUSNN_CUDA(cudaStreamSynchronize(stream_), "zeroCounts");
  }
  return host;
}

std::vector<int> Runtime::branches() {
  std::vector<unsigned char> trace(prog_.steps.size());
  if (!trace.empty()) {
    CUSNN_CUDA(cudaMemcpyAsync(trace.data(), trace_, trace.size(), cudaMemcpyDeviceToHost, stream_), "branches");
    CUSNN_CUDA(cudaStreamSynchronize(stream_), "branches");
  }
  std::vector<int> out(prog_.steps.size(), -1);
  for (size_t i = 0; i < out.size(); ++i) {
    if (prog_.steps[i].op != Op::Conv) continue;
    const ConvExec& c = convs_[i];
    if (!c.dynamic) out[i] = c.sparse ? 1 : 0;
    else if (opt_.traceBranches) out[i] = trace[i] == 1 ? 1 : trace[i] == 2 ? 0 : -1;
  }
  return out;
}


}  // namespace cusnn
