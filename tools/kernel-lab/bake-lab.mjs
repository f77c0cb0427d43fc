// Baked weights against the wsparse family on the GPU (issue 10, item 2: "weights baked into the code only
// where the measured code size and instruction-cache behaviour pay"). Run here, after `npm run build`:
//
//   mkdir -p .data/bake && node tools/kernel-lab/bake-lab.mjs > .data/bake/bake-lab.cu
//
// then on the GPU host (carry .data/bake; no Node, no cuDNN needed):
//
//   nvcc -O3 -std=c++17 -arch=sm_90 -I tools/kernel-lab .data/bake/bake-lab.cu -o /tmp/bake-lab && /tmp/bake-lab
//
// For a few 1x1 convs pruned 90% (the small ones where the code might fit an SM's instruction caches,
// and larger ones past them: tools/kernel-lab/bake-size.py measured 32-35 bytes of code per nonzero),
// the emitted file holds:
// - the production wsparse kernel, rendered by the generator from the same weights (its tables and
//   its launcher: dependent launch on sm_90), fed the packed values in the registry's kernelWeightOrder;
// - a baked kernel: one block per (output channel, 128-pixel tile), a lane per pixel, the channel's
//   nonzeros unrolled as fmaf(load at a fixed offset, immediate weight), launched the same way;
// - a table kernel: the baked kernel's blocking with the nonzeros read from tables instead of immediates
//   (run 52 found baking 12-24% faster on three shapes; this tells the blocking's share from the immediates');
// - the weights as (index, value) lists, a float64 CPU reference, a random post-ReLU input (50% zeros).
// main() checks the three kernels against the reference (rel. L2, NaN-poisoned outputs, a bitwise rerun) and
// times them as the runtime does (8 launches in one graph, median of 200 replays). One JSON line each.
import { gpuProfile } from '../../dist/arch/profiles.js';
import { kernelNameOf, kernelWeightOrder, renderKernel } from '../../dist/families/registry.js';
import { chooseWsparseTiles } from '../../dist/families/wsparse/tiles.js';
import { weightStructure } from '../../dist/families/wsparse/structure.js';

const SHAPES = [
  // name, C, HW, K: ResNet-50's conv2 1x1s (the smallest baked code), then larger ones.
  ['r50_c2_1x1_64_64', 64, 56, 64],
  ['r50_c2_1x1_64_256', 64, 56, 256],
  ['r50_c2_1x1_256_64', 256, 56, 64],
  ['r50_c3_1x1_512_128', 512, 28, 128],
  ['r50_c4_1x1_1024_256', 1024, 14, 256],
];
const SPARSITY = 0.9;

let seed = 0x2545f491;
const rnd = () => {
  seed = (seed + 0x6d2b79f5) | 0;
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
};
const f32 = (v) => Math.fround(v);
// 9 significant digits round-trip a float32 exactly.
const lit = (v) => `${v === 0 ? '0.0' : Number(v).toPrecision(9)}f`;
const list = (xs) => {
  const out = [];
  for (let i = 0; i < xs.length; i += 16) out.push(`  ${Array.from(xs.slice(i, i + 16)).join(', ')},`);
  return out.join('\n') || '  0';
};

// A kernel of the lab's blocking: blockIdx.x = output channel, blockIdx.y = 128-pixel tile, a lane per
// pixel; `sum` adds the channel's nonzeros into a (xp: the lane's pixel of input channel 0), then bias and ReLU.
const channelKernel = (kname, pix, sum) => `__global__ void __launch_bounds__(128) ${kname}(const float* __restrict__ x, const float* __restrict__ bias, float* __restrict__ y) {
  cusnnWaitForPriorGrid();
  cusnnAllowDependentLaunch();
  const int p = blockIdx.y * 128 + threadIdx.x;
  if (p >= ${pix}) return;
  const float* xp = x + p;
  float a = 0.0f;
${sum}
  a += __ldg(bias + blockIdx.x);
  y[blockIdx.x * ${pix} + p] = fmaxf(a, 0.0f);
}`;

const p = gpuProfile('sm_90');
const parts = [];
const cases = [];
for (const [name, c, hw, k] of SHAPES) {
  const w = new Float32Array(k * c).map(() => (rnd() < SPARSITY ? 0 : f32((rnd() * 2 - 1) / Math.sqrt(c))));
  const bias = new Float32Array(k).map(() => f32(rnd() - 0.5));
  const st = weightStructure(w, { k, c, r: 1, s: 1 });
  const problem = { arch: 'sm_90', c, h: hw, w: hw, k, r: 1, s: 1, strideH: 1, strideW: 1, padTop: 0, padLeft: 0, ho: hw, wo: hw, bias: true, relu: true };
  const choice = chooseWsparseTiles(p, problem, 1, st);
  if (!choice) throw new Error(`${name}: no wsparse tile`);
  const spec = choice.spec;
  const ws = renderKernel(spec, [{ model: 'bake-lab', layer: name }], { structure: st });
  parts.push(ws.source);
  const order = kernelWeightOrder(spec, st);
  // The baked kernel's sum: a case per output channel, its nonzeros as immediates.
  const pix = hw * hw;
  const body = [];
  for (let o = 0; o < k; o++) {
    body.push(`    case ${o}:`);
    for (let e = st.start[o]; e < st.start[o + 1]; e++) body.push(`      a = fmaf(__ldg(xp + ${st.offsets[e] * pix}), ${lit(w[o * c + st.offsets[e]])}, a);`);
    body.push('      break;');
  }
  parts.push(`
// Baked ${name}: ${st.offsets.length} nonzeros of ${k * c} as immediates.
${channelKernel(`baked_${name}`, pix, `  switch (blockIdx.x) {\n${body.join('\n')}\n  }`)}
// The same blocking with the weights in tables (offsets premultiplied by the plane, values, per-channel
// starts) instead of immediates, summed in the same order: bitwise equal to the baked kernel. If it
// runs as fast as the baked one, the gain is the blocking, not the immediates.
static __device__ const unsigned tab_off_${name}[] = {
${list(Array.from(st.offsets, (off) => off * pix))}
};
static __device__ const float tab_val_${name}[] = {
${list(Array.from({ length: k }, (_, o) => Array.from(st.offsets.subarray(st.start[o], st.start[o + 1]), (off) => lit(w[o * c + off]))).flat())}
};
static __device__ const int tab_start_${name}[] = {
${list(Array.from(st.start))}
};
${channelKernel(`table_${name}`, pix, `  const int e1 = tab_start_${name}[blockIdx.x + 1];\n#pragma unroll 8\n  for (int e = tab_start_${name}[blockIdx.x]; e < e1; ++e) a = fmaf(__ldg(xp + tab_off_${name}[e]), tab_val_${name}[e], a);`)}
static const float nz_val_${name}[] = {
${list(Array.from(order, (i) => lit(w[i])))}
};
static const unsigned pack_${name}[] = {
${list(Array.from(order))}
};
static const float bias_${name}[] = {
${list(Array.from(bias, lit))}
};`);
  cases.push({ name, c, hw, k, nnz: st.offsets.length, wsName: kernelNameOf(spec) });
}

const main = `
#include <cmath>
#include <cstdio>
#include <cstring>
#include <vector>
#define CK(x) do { cudaError_t e_ = (x); if (e_ != cudaSuccess) { fprintf(stderr, "%s:%d %s: %s\\n", __FILE__, __LINE__, #x, cudaGetErrorString(e_)); exit(1); } } while (0)
#include "graph-timing.cuh"

static double relL2(const std::vector<float>& a, const std::vector<double>& b) {
  double num = 0, den = 0;
  for (size_t i = 0; i < a.size(); ++i) { double d = a[i] - b[i]; num += d * d; den += b[i] * b[i]; }
  return std::sqrt(num / (den > 0 ? den : 1e-30));
}

template <class F>
static void check(const char* shape, const char* engine, int nnz, size_t outN, float* dOut, const std::vector<double>& ref, cudaStream_t st, F launch) {
  std::vector<float> h(outN), h2(outN);
  for (int rep = 0; rep < 2; ++rep) {
    CK(cudaMemset(dOut, 0xff, outN * 4));
    CK(launch());
    CK(cudaStreamSynchronize(st));
    CK(cudaMemcpy(rep ? h2.data() : h.data(), dOut, outN * 4, cudaMemcpyDeviceToHost));
  }
  const double err = relL2(h, ref);
  const bool same = memcmp(h.data(), h2.data(), outN * 4) == 0;
  const std::vector<double> us = graphReplayUs(st, [&] { launch(); }, 200, 8);
  printf("{\\"shape\\":\\"%s\\",\\"engine\\":\\"%s\\",\\"nnz\\":%d,\\"err\\":%.2e,\\"bitwise\\":%s,\\"us\\":%.3f,\\"p10\\":%.3f,\\"p90\\":%.3f}\\n",
         shape, engine, nnz, err, same ? "true" : "false", us[100], us[20], us[180]);
  fflush(stdout);
}

#define CASE(NAME, C, HW, K, NNZ, WS)                                                                            \\
  {                                                                                                            \\
    const int pix = HW * HW;                                                                                   \\
    std::vector<float> x((size_t)C * pix), wk((size_t)K * C, 0.0f), packed(NNZ);                               \\
    for (auto& v : x) v = (rng() % 2) ? 0.0f : (rng() % 1000) / 1000.0f + 0.001f;                               \\
    for (int i = 0; i < NNZ; ++i) packed[i] = nz_val_##NAME[i];                                                \\
    for (int i = 0; i < NNZ; ++i) wk[pack_##NAME[i]] = nz_val_##NAME[i];                                       \\
    std::vector<double> ref((size_t)K * pix);                                                                  \\
    for (int o = 0; o < K; ++o)                                                                                \\
      for (int q = 0; q < pix; ++q) {                                                                          \\
        double a = bias_##NAME[o];                                                                             \\
        for (int ch = 0; ch < C; ++ch) a += (double)wk[(size_t)o * C + ch] * x[(size_t)ch * pix + q];          \\
        ref[(size_t)o * pix + q] = a > 0 ? a : 0;                                                              \\
      }                                                                                                        \\
    float *dx, *dp, *db, *dy;                                                                                  \\
    CK(cudaMalloc(&dx, x.size() * 4)); CK(cudaMalloc(&dp, (NNZ > 0 ? NNZ : 1) * 4));                           \\
    CK(cudaMalloc(&db, K * 4)); CK(cudaMalloc(&dy, (size_t)K * pix * 4));                                      \\
    CK(cudaMemcpy(dx, x.data(), x.size() * 4, cudaMemcpyHostToDevice));                                        \\
    CK(cudaMemcpy(dp, packed.data(), NNZ * 4, cudaMemcpyHostToDevice));                                        \\
    CK(cudaMemcpy(db, bias_##NAME, K * 4, cudaMemcpyHostToDevice));                                            \\
    check(#NAME, "wsparse", NNZ, (size_t)K * pix, dy, ref, st, [&] { return cusnn_launch_##WS(dx, 0, dp, db, dy, 0, 1, st); }); \\
    const dim3 grid(K, (pix + 127) / 128);                                                                     \\
    check(#NAME, "baked", NNZ, (size_t)K * pix, dy, ref, st, [&] { return cusnnLaunch(true, 0, baked_##NAME, grid, dim3(128), 0, st, (const float*)dx, (const float*)db, dy); }); \\
    check(#NAME, "table", NNZ, (size_t)K * pix, dy, ref, st, [&] { return cusnnLaunch(true, 0, table_##NAME, grid, dim3(128), 0, st, (const float*)dx, (const float*)db, dy); }); \\
    cudaFree(dx); cudaFree(dp); cudaFree(db); cudaFree(dy);                                                    \\
  }

int main() {
  cudaStream_t st;
  CK(cudaStreamCreateWithFlags(&st, cudaStreamNonBlocking));
  unsigned long long s = 88172645463325252ull;
  auto rng = [&]() { s ^= s << 13; s ^= s >> 7; s ^= s << 17; return s; };
  cudaDeviceProp prop;
  CK(cudaGetDeviceProperties(&prop, 0));
  printf("{\\"device\\":\\"%s\\",\\"sms\\":%d}\\n", prop.name, prop.multiProcessorCount);
${cases.map((k) => `  CASE(${k.name}, ${k.c}, ${k.hw}, ${k.k}, ${k.nnz}, ${k.wsName})`).join('\n')}
  return 0;
}
`;
process.stdout.write(`// Generated by tools/kernel-lab/bake-lab.mjs: ${cases.map((x) => `${x.name} (${x.nnz} nonzeros)`).join(', ')}.\n${parts.join('\n')}\n${main}`);
