// Kernel lab: the implicit-GEMM split-K core (igemm.cuh) against cuDNN's fastest exact-fp32
// algorithm, per layer shape of the zoo, at batch 1, on random post-ReLU inputs with a given zero
// fraction. Every timing is the runtime's method (src/native/runtime.cpp timeGraphUs): the launch
// captured alone in a CUDA graph, events around each replay, median of ITERS replays after warm-up.
// Correctness first: relative L2 error against cuDNN IMPLICIT_GEMM, and a rerun must be bitwise
// identical. Output: one JSON line per (shape, zeros, engine/config).
//
//   nvcc -O3 -std=c++17 -arch=sm_90 lab.cu -lcudnn -o lab && ./lab [filter]
#include <cudnn.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "igemm.cuh"
#include "dconv.cuh"
#include "dsmall.cuh"
#include "pxg.cuh"
#include "dual.cuh"

#define CK(x) do { cudaError_t e_ = (x); if (e_ != cudaSuccess) { fprintf(stderr, "%s:%d %s: %s\n", __FILE__, __LINE__, #x, cudaGetErrorString(e_)); exit(1); } } while (0)
#define CD(x) do { cudnnStatus_t s_ = (x); if (s_ != CUDNN_STATUS_SUCCESS) { fprintf(stderr, "%s:%d %s: %s\n", __FILE__, __LINE__, #x, cudnnGetErrorString(s_)); exit(1); } } while (0)
#include "graph-timing.cuh"

static const int ITERS = 200;
static cudaStream_t gStream;
static cudnnHandle_t gDnn;
static const char* gFilter = nullptr;

struct Shape {
  const char* name;
  int C, H, W, K, R, S, SH, SW, PT, PL, HO, WO;
};

struct Ctx {
  Shape sh;
  float zeros;
  float *in, *wCrsk, *wKcrs, *bias, *out, *ref, *ws;
  size_t wsBytes;
  size_t outN;
  std::vector<float> refHost;
  double cudnnBestUs;
};

static uint64_t gRng = 0x9E3779B97F4A7C15ull;
static float urand() {
  gRng ^= gRng << 13; gRng ^= gRng >> 7; gRng ^= gRng << 17;
  return (gRng >> 40) / 16777216.0f;
}

// LAB_COPIES=n: n launches in the graph, each replay's time divided by n (a layer's cost inside a
// network's graph, as the runtime's timeStep(step, iters, copies) measures it).
template <class F>
static double timeGraph(F launch) {
  static const int copies = getenv("LAB_COPIES") ? atoi(getenv("LAB_COPIES")) : 1;
  return graphReplayUs(gStream, launch, ITERS, copies)[ITERS / 2];
}

static double relL2(const std::vector<float>& a, const std::vector<float>& b) {
  double num = 0, den = 0;
  for (size_t i = 0; i < a.size(); ++i) { double d = (double)a[i] - b[i]; num += d * d; den += (double)b[i] * b[i]; }
  return std::sqrt(num / std::max(den, 1e-30));
}

static void setup(Ctx& c, const Shape& s, float zeros) {
  c.sh = s;
  c.zeros = zeros;
  const size_t inN = (size_t)s.C * s.H * s.W, wN = (size_t)s.K * s.C * s.R * s.S;
  c.outN = (size_t)s.K * s.HO * s.WO;
  std::vector<float> hin(inN), hw(wN), hwk(wN), hb(s.K);
  // Zeros uniform, or (LAB_CLUSTER=1) in 2x2 pixel blocks per channel, as ReLU maps of smooth features leave them.
  if (getenv("LAB_CLUSTER")) {
    for (int ch = 0; ch < s.C; ++ch)
      for (int y = 0; y < s.H; y += 2)
        for (int x = 0; x < s.W; x += 2) {
          const bool z = urand() < zeros;
          for (int dy = 0; dy < 2 && y + dy < s.H; ++dy)
            for (int dx = 0; dx < 2 && x + dx < s.W; ++dx) hin[((size_t)ch * s.H + y + dy) * s.W + x + dx] = z ? 0.0f : urand();
        }
  } else {
    for (auto& v : hin) v = urand() < zeros ? 0.0f : urand();
  }
  const float scale = 1.0f / std::sqrt((float)s.C * s.R * s.S);
  for (auto& v : hw) v = (2 * urand() - 1) * scale;  // [C][R][S][K]
  // LAB_WPRUNE=p: every weight zeroed with probability p (unstructured pruning; cuDNN gets the same weights).
  if (const char* wp = getenv("LAB_WPRUNE")) {
    const float p = static_cast<float>(atof(wp));
    for (auto& v : hw) if (urand() < p) v = 0.0f;
  }
  for (int k = 0; k < s.K; ++k)
    for (int ch = 0; ch < s.C; ++ch)
      for (int rs = 0; rs < s.R * s.S; ++rs) hwk[((size_t)k * s.C + ch) * s.R * s.S + rs] = hw[((size_t)ch * s.R * s.S + rs) * s.K + k];
  for (auto& v : hb) v = 2 * urand() - 1;
  CK(cudaMalloc(&c.in, inN * 4)); CK(cudaMalloc(&c.wCrsk, wN * 4)); CK(cudaMalloc(&c.wKcrs, wN * 4));
  CK(cudaMalloc(&c.bias, s.K * 4)); CK(cudaMalloc(&c.out, c.outN * 4)); CK(cudaMalloc(&c.ref, c.outN * 4));
  CK(cudaMemcpy(c.in, hin.data(), inN * 4, cudaMemcpyHostToDevice));
  CK(cudaMemcpy(c.wCrsk, hw.data(), wN * 4, cudaMemcpyHostToDevice));
  CK(cudaMemcpy(c.wKcrs, hwk.data(), wN * 4, cudaMemcpyHostToDevice));
  CK(cudaMemcpy(c.bias, hb.data(), s.K * 4, cudaMemcpyHostToDevice));

  // cuDNN: reference (IMPLICIT_GEMM), then every algorithm timed; the fastest within 2e-5 is the baseline.
  cudnnTensorDescriptor_t xd, yd;
  cudnnFilterDescriptor_t wd;
  cudnnConvolutionDescriptor_t cd;
  CD(cudnnCreateTensorDescriptor(&xd)); CD(cudnnCreateTensorDescriptor(&yd));
  CD(cudnnCreateFilterDescriptor(&wd)); CD(cudnnCreateConvolutionDescriptor(&cd));
  CD(cudnnSetTensor4dDescriptor(xd, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, 1, s.C, s.H, s.W));
  CD(cudnnSetTensor4dDescriptor(yd, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, 1, s.K, s.HO, s.WO));
  CD(cudnnSetFilter4dDescriptor(wd, CUDNN_DATA_FLOAT, CUDNN_TENSOR_NCHW, s.K, s.C, s.R, s.S));
  CD(cudnnSetConvolution2dDescriptor(cd, s.PT, s.PL, s.SH, s.SW, 1, 1, CUDNN_CROSS_CORRELATION, CUDNN_DATA_FLOAT));
  CD(cudnnSetConvolutionMathType(cd, CUDNN_FMA_MATH));
  int n, ho, wo, kk;
  CD(cudnnGetConvolution2dForwardOutputDim(cd, xd, wd, &n, &kk, &ho, &wo));
  if (ho != s.HO || wo != s.WO) { fprintf(stderr, "%s: output dims %dx%d, expected %dx%d\n", s.name, ho, wo, s.HO, s.WO); exit(1); }
  c.wsBytes = 256 << 20;
  CK(cudaMalloc(&c.ws, c.wsBytes));
  const float one = 1, zero = 0;
  CD(cudnnConvolutionForward(gDnn, &one, xd, c.in, wd, c.wKcrs, cd, CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_GEMM, c.ws, c.wsBytes, &zero, yd, c.ref));
  CK(cudaStreamSynchronize(gStream));
  c.refHost.resize(c.outN);
  CK(cudaMemcpy(c.refHost.data(), c.ref, c.outN * 4, cudaMemcpyDeviceToHost));
  c.cudnnBestUs = 1e30;
  std::string best = "?";
  for (int a = 0; a < CUDNN_CONVOLUTION_FWD_ALGO_COUNT; ++a) {
    size_t need = 0;
    if (cudnnGetConvolutionForwardWorkspaceSize(gDnn, xd, wd, cd, yd, (cudnnConvolutionFwdAlgo_t)a, &need) != CUDNN_STATUS_SUCCESS) continue;
    if (need > c.wsBytes) continue;
    CK(cudaMemset(c.out, 0xff, c.outN * 4));
    if (cudnnConvolutionForward(gDnn, &one, xd, c.in, wd, c.wKcrs, cd, (cudnnConvolutionFwdAlgo_t)a, c.ws, need, &zero, yd, c.out) != CUDNN_STATUS_SUCCESS) continue;
    CK(cudaStreamSynchronize(gStream));
    std::vector<float> h(c.outN);
    CK(cudaMemcpy(h.data(), c.out, c.outN * 4, cudaMemcpyDeviceToHost));
    const double err = relL2(h, c.refHost);
    if (!(err <= 2e-5)) continue;
    const double us = timeGraph([&] { cudnnConvolutionForward(gDnn, &one, xd, c.in, wd, c.wKcrs, cd, (cudnnConvolutionFwdAlgo_t)a, c.ws, need, &zero, yd, c.out); });
    if (us < c.cudnnBestUs) { c.cudnnBestUs = us; best = std::to_string(a); }
  }
  printf("{\"shape\":\"%s\",\"zeros\":%.2f,\"engine\":\"cudnn\",\"algo\":%s,\"us\":%.2f}\n", s.name, zeros, best.c_str(), c.cudnnBestUs);
  fflush(stdout);
}

static void teardown(Ctx& c) {
  cudaFree(c.in); cudaFree(c.wCrsk); cudaFree(c.wKcrs); cudaFree(c.bias); cudaFree(c.out); cudaFree(c.ref); cudaFree(c.ws);
}

template <class P>
static void runCfg(Ctx& c, const char* label) {
  CK(cudaMemset(c.out, 0xff, c.outN * 4));  // NaN poison: every output must be written
  CK(lab::launchIgemm<P>(c.in, 0, c.wCrsk, c.bias, c.out, 0, 1, gStream));
  CK(cudaStreamSynchronize(gStream));
  std::vector<float> h(c.outN), h2(c.outN);
  CK(cudaMemcpy(h.data(), c.out, c.outN * 4, cudaMemcpyDeviceToHost));
  CK(cudaMemset(c.out, 0xff, c.outN * 4));
  CK(lab::launchIgemm<P>(c.in, 0, c.wCrsk, c.bias, c.out, 0, 1, gStream));
  CK(cudaStreamSynchronize(gStream));
  CK(cudaMemcpy(h2.data(), c.out, c.outN * 4, cudaMemcpyDeviceToHost));
  const double err = relL2(h, c.refHost);
  const bool same = memcmp(h.data(), h2.data(), c.outN * 4) == 0;
  const double us = timeGraph([&] { lab::launchIgemm<P>(c.in, 0, c.wCrsk, c.bias, c.out, 0, 1, gStream); });
  const int blocks = ((c.sh.HO * c.sh.WO + P::BN - 1) / P::BN) * ((P::K + P::BM - 1) / P::BM) * P::SPLIT;
  printf("{\"shape\":\"%s\",\"zeros\":%.2f,\"engine\":\"igemm\",\"cfg\":\"%s\",\"threads\":%d,\"blocks\":%d,\"smem\":%d,"
         "\"err\":%.2e,\"bitwise\":%s,\"us\":%.2f,\"speedup\":%.2f}\n",
         c.sh.name, c.zeros, label, P::THREADS, blocks, P::SMEM_BYTES, err, same ? "true" : "false", us, c.cudnnBestUs / us);
  fflush(stdout);
}

// One engine's check and timing: run twice on NaN-poisoned output (error against cuDNN, bitwise rerun),
// then timed in the graph; one JSON line. Shared by the lab's direct-conv engines.
template <class F>
static void runChecked(Ctx& c, const char* engine, const char* label, int threads, int blocks, int smem, F launch) {
  std::vector<float> h(c.outN), h2(c.outN);
  for (int rep = 0; rep < 2; ++rep) {
    CK(cudaMemset(c.out, 0xff, c.outN * 4));
    CK(launch());
    CK(cudaStreamSynchronize(gStream));
    CK(cudaMemcpy(rep ? h2.data() : h.data(), c.out, c.outN * 4, cudaMemcpyDeviceToHost));
  }
  const double err = relL2(h, c.refHost);
  const bool same = memcmp(h.data(), h2.data(), c.outN * 4) == 0;
  const double us = timeGraph([&] { launch(); });
  printf("{\"shape\":\"%s\",\"zeros\":%.2f,\"engine\":\"%s\",\"cfg\":\"%s\",\"threads\":%d,\"blocks\":%d,\"smem\":%d,"
         "\"err\":%.2e,\"bitwise\":%s,\"us\":%.2f,\"speedup\":%.2f}\n",
         c.sh.name, c.zeros, engine, label, threads, blocks, smem, err, same ? "true" : "false", us, c.cudnnBestUs / us);
  fflush(stdout);
}

template <class P>
static void runDconv(Ctx& c, const char* label) {
  const int blocks = P::ROW_TILES * ((P::K + P::BM - 1) / P::BM) * P::SPLIT;
  runChecked(c, "dconv", label, P::THREADS, blocks, P::SMEM_BYTES, [&] { return lab::launchDconv<P>(c.in, 0, c.wCrsk, c.bias, c.out, 0, 1, gStream); });
}

template <class P>
static void runDsmall(Ctx& c, const char* label) {
  runChecked(c, "dsmall", label, P::THREADS, P::BLOCKS, P::SMEM_BYTES, [&] { return lab::launchDsmall<P>(c.in, c.wCrsk, c.out, gStream); });
}

template <class P>
static void runPxg(Ctx& c, const char* label) {
  runChecked(c, "pxg", label, P::THREADS, P::BLOCKS, P::SMEM_BYTES, [&] { return lab::launchPxg<P>(c.in, c.wCrsk, c.out, gStream); });
}

// dual (dual.cuh): the weights' rows compressed on the host from the CRSK weights the other engines read.
template <class P>
static void runDual(Ctx& c, const char* label) {
  std::vector<float> crsk((size_t)P::PAIRS * P::K);
  CK(cudaMemcpy(crsk.data(), c.wCrsk, crsk.size() * 4, cudaMemcpyDeviceToHost));
  lab::DualRows rows = lab::dualRowsFromCrsk(crsk, P::PAIRS, P::K);
  CK(cudaGetLastError());
  runChecked(c, "dual", label, P::THREADS, P::BLOCKS, P::SMEM_BYTES, [&] { return lab::launchDual<P>(c.in, rows, c.out, gStream); });
  lab::dualRowsFree(rows);
}

// dual config: WARPS (split of the window's pairs and of the nonzero list) UNROLL (entries' rows in flight)
#define DUAL(SH, WARPS, UNROLL)                                                                                      \
  runDual<lab::Dual<SH##_C, SH##_H, SH##_W, SH##_K, SH##_R, SH##_S, SH##_SH, SH##_SW, SH##_PT, SH##_PL, SH##_HO,   \
                    SH##_WO, WARPS, UNROLL>>(ctx, "dual warps" #WARPS " unroll" #UNROLL)

// pxg config: WARPS (split of the window's pairs) UNROLL (weight rows in flight) PPB (pixels per block)
#define PXG(SH, WARPS, UNROLL, PPB)                                                                                  \
  runPxg<lab::Pxg<SH##_C, SH##_H, SH##_W, SH##_K, SH##_R, SH##_S, SH##_SH, SH##_SW, SH##_PT, SH##_PL, SH##_HO,     \
                  SH##_WO, WARPS, UNROLL, PPB>>(ctx, "pxg warps" #WARPS " unroll" #UNROLL " ppb" #PPB)
#define PXGF(SH, WARPS, UNROLL, PPB, PF)                                                                             \
  runPxg<lab::Pxg<SH##_C, SH##_H, SH##_W, SH##_K, SH##_R, SH##_S, SH##_SH, SH##_SW, SH##_PT, SH##_PL, SH##_HO,     \
                  SH##_WO, WARPS, UNROLL, PPB, PF>>(ctx, "pxg warps" #WARPS " unroll" #UNROLL " ppb" #PPB " pf" #PF)

// dsmall config: KPB (output channels per block) CW (warps splitting the input channels)
#define DSCFG(SH, KPB, CW)                                                                                           \
  runDsmall<lab::Dsmall<SH##_C, SH##_H, SH##_W, SH##_K, SH##_R, SH##_S, SH##_SH, SH##_SW, SH##_PT, SH##_PL, SH##_HO, \
                        SH##_WO, KPB, CW>>(ctx, "dsmall kpb" #KPB " cw" #CW)

// Empty kernels, grid (1, 1, blocks), clusters of (1, 1, cs) (cs 0: no cluster attribute): the fixed
// cost of a launch in the graph (LAB_COPIES copies), with or without one cluster barrier.
template <bool SYNC>
static void runEmpty(int blocks, int cs) {
  if (cs > 8) CK(cudaFuncSetAttribute(lab::emptyKernel<SYNC>, cudaFuncAttributeNonPortableClusterSizeAllowed, 1));
  cudaLaunchConfig_t cfg = {};
  cfg.gridDim = dim3(1, 1, blocks);
  cfg.blockDim = dim3(128);
  cfg.stream = gStream;
  cudaLaunchAttribute at[1];
  at[0].id = cudaLaunchAttributeClusterDimension;
  at[0].val.clusterDim.x = 1;
  at[0].val.clusterDim.y = 1;
  at[0].val.clusterDim.z = cs > 0 ? cs : 1;
  cfg.attrs = at;
  cfg.numAttrs = cs > 0 ? 1 : 0;
  int* never = nullptr;
  CK(cudaLaunchKernelEx(&cfg, lab::emptyKernel<SYNC>, never));
  CK(cudaStreamSynchronize(gStream));
  const double us = timeGraph([&] { cudaLaunchKernelEx(&cfg, lab::emptyKernel<SYNC>, never); });
  printf("{\"engine\":\"empty\",\"blocks\":%d,\"cluster\":%d,\"sync\":%s,\"us\":%.2f}\n", blocks, cs, SYNC ? "true" : "false", us);
  fflush(stdout);
}

// Write floor (run 35): a kernel that only writes K x PIX outputs (a bias value, 16-byte stores, 128 threads a
// block): what a layer's output alone costs in the graph, whatever computes it.
__global__ void writeFloorKernel(float4* out, int n4, float v) {
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n4) out[i] = make_float4(v, v + 1, v + 2, v + 3);
}
static void runWriteFloor(const char* name, int K, int PIX) {
  const int n4 = K * PIX / 4;
  float4* out;
  CK(cudaMalloc(&out, (size_t)n4 * 16));
  const int blocks = (n4 + 127) / 128;
  const double us = timeGraph([&] { writeFloorKernel<<<blocks, 128, 0, gStream>>>(out, n4, 0.5f); });
  printf("{\"engine\":\"write-floor\",\"shape\":\"%s\",\"k\":%d,\"pix\":%d,\"mb\":%.2f,\"us\":%.2f}\n", name, K, PIX, n4 * 16 / 1e6, us);
  fflush(stdout);
  CK(cudaFree(out));
}

// dconv ablation: MODE (dconv.cuh) with the planner's tiles
#define DCFGM(SH, BM, TM, TN, RT, BKC, SPLIT, ST, SKIP, MODE)                                                      \
  runDconv<lab::Dconv<SH##_C, SH##_H, SH##_W, SH##_K, SH##_R, SH##_S, SH##_SH, SH##_SW, SH##_PT, SH##_PL, SH##_HO, \
                      SH##_WO, BM, TM, TN, RT, BKC, SPLIT, ST, SKIP, 0, MODE>>(                                 \
      ctx, "dconv bm" #BM " t" #TM "x" #TN " rows" #RT " bkc" #BKC " split" #SPLIT " st" #ST " mode" #MODE)

// dconv config: BM TM TN ROWS_T BKC SPLIT STAGES SKIP
#define DCFG(SH, BM, TM, TN, RT, BKC, SPLIT, ST, SKIP)                                                              \
  runDconv<lab::Dconv<SH##_C, SH##_H, SH##_W, SH##_K, SH##_R, SH##_S, SH##_SH, SH##_SW, SH##_PT, SH##_PL, SH##_HO, \
                      SH##_WO, BM, TM, TN, RT, BKC, SPLIT, ST, SKIP>>(                                          \
      ctx, "dconv bm" #BM " t" #TM "x" #TN " rows" #RT " bkc" #BKC " split" #SPLIT " st" #ST " skip" #SKIP)

// dconv config with the split-K reduction RED (gred.cuh): 0 cluster DSMEM, 1 last block, 2 spin
#define DCFGR(SH, BM, TM, TN, RT, BKC, SPLIT, ST, SKIP, RED)                                                       \
  runDconv<lab::Dconv<SH##_C, SH##_H, SH##_W, SH##_K, SH##_R, SH##_S, SH##_SH, SH##_SW, SH##_PT, SH##_PL, SH##_HO, \
                      SH##_WO, BM, TM, TN, RT, BKC, SPLIT, ST, SKIP, RED>>(                                     \
      ctx, "dconv bm" #BM " t" #TM "x" #TN " rows" #RT " bkc" #BKC " split" #SPLIT " st" #ST " skip" #SKIP " red" #RED)

// igemm config with the split-K reduction RED
#define CFGR(SH, BM, BN, BKC, TM, TN, WM, SPLIT, ST, RED)                                                        \
  runCfg<lab::Igemm<SH##_C, SH##_H, SH##_W, SH##_K, SH##_R, SH##_S, SH##_SH, SH##_SW, SH##_PT, SH##_PL, SH##_HO, \
                    SH##_WO, BM, BN, BKC, TM, TN, WM, SPLIT, ST, false, false, false, 0, RED>>(                  \
      ctx, #BM "x" #BN " bkc" #BKC " t" #TM "x" #TN " wm" #WM " split" #SPLIT " st" #ST " red" #RED)

// One config: BM BN BKC TM TN WARP_M SPLIT STAGES SKIP
#define CFG(SH, BM, BN, BKC, TM, TN, WM, SPLIT, ST, SKIP)                                                          \
  runCfg<lab::Igemm<SH##_C, SH##_H, SH##_W, SH##_K, SH##_R, SH##_S, SH##_SH, SH##_SW, SH##_PT, SH##_PL, SH##_HO, \
                    SH##_WO, BM, BN, BKC, TM, TN, WM, SPLIT, ST, SKIP, false, false>>(                           \
      ctx, #BM "x" #BN " bkc" #BKC " t" #TM "x" #TN " wm" #WM " split" #SPLIT " st" #ST " skip" #SKIP)

#define CFGM(SH, BM, BN, BKC, TM, TN, WM, SPLIT, ST, MODE)                                                       \
  runCfg<lab::Igemm<SH##_C, SH##_H, SH##_W, SH##_K, SH##_R, SH##_S, SH##_SH, SH##_SW, SH##_PT, SH##_PL, SH##_HO, \
                    SH##_WO, BM, BN, BKC, TM, TN, WM, SPLIT, ST, false, false, false, MODE>>(                    \
      ctx, #BM "x" #BN " bkc" #BKC " t" #TM "x" #TN " wm" #WM " split" #SPLIT " st" #ST " mode" #MODE)

#define SHAPE(ID, C, H, W, K, R, S, SH, SW, PT, PL, HO, WO)                                                         \
  enum { ID##_C = C, ID##_H = H, ID##_W = W, ID##_K = K, ID##_R = R, ID##_S = S, ID##_SH = SH, ID##_SW = SW,      \
         ID##_PT = PT, ID##_PL = PL, ID##_HO = HO, ID##_WO = WO };                                                \
  static const Shape ID##_shape = {#ID, C, H, W, K, R, S, SH, SW, PT, PL, HO, WO};

#include "lab-configs.inc"

int main(int argc, char** argv) {
  if (argc > 1) gFilter = argv[1];
  CK(cudaStreamCreateWithFlags(&gStream, cudaStreamNonBlocking));
  CD(cudnnCreate(&gDnn));
  CD(cudnnSetStream(gDnn, gStream));
  cudaDeviceProp prop;
  CK(cudaGetDeviceProperties(&prop, 0));
  printf("{\"device\":\"%s\",\"sms\":%d,\"cudnn\":%zu}\n", prop.name, prop.multiProcessorCount, cudnnGetVersion());
  runAll();
  return 0;
}
