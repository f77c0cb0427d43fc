// The program (src/runtime/program.ts, format cusnn-program/1) as C++ structs, parsed from its
// JSON through N-API (JSON.parse of the host) and validated before anything touches the GPU:
// every view inside its buffer, every shape consistent with its step, every tensor of the length
// its step reads, every counter index in range. Errors name the step, its layer and the field.
#pragma once

#include <napi.h>

#include <string>
#include <utility>
#include <vector>

namespace cusnn {

struct View {
  int buf = -1;
  long long offset = 0;
  int c = 0, h = 0, w = 0;
  long long bs = 0;  // batchStride
  long long chw() const { return 1LL * c * h * w; }
};

enum class Op { Conv, ScaleShift, BiasRelu, Add, MaxPool, AvgPool, GlobalAvgPool, FlattenHwc, Dense, Softmax };

const char* opName(Op op);

struct Step {
  Op op = Op::Conv;
  std::string layer;
  View in, b, out;  // b: second operand of add (in is a); a conv's residual (hasResidual)
  // conv: y = act(conv + bias + b), the residual add after it fused (src/plan/residual.ts)
  bool hasResidual = false;
  // conv
  int k = 0, r = 0, s = 0, strideH = 1, strideW = 1;
  int padT = 0, padL = 0, padB = 0, padR = 0;  // also pooling's pad
  int groups = 1;                              // channel groups (cuDNN only; absent in the JSON: 1)
  int weightsKcrs = -1, bias = -1;             // weights [K][C/groups][R][S]
  bool relu = false;
  // After bias and ReLU: y = min(max(y, clampLo), clampHi) (ReLU6); conv, scale_shift, bias_relu, add, dense.
  bool clamp = false;
  float clampLo = 0.0f, clampHi = 0.0f;
  bool sparsePath = false;  // path 'act-sparse'
  std::string kernel;       // generated kernel name, empty when null
  int weightsCrsk = -1;
  // The generated kernel's weights: [C][R][S][K] (false), or a weight-sparse kernel's nonzero values
  // in its tables' order (true: "weightsLayout": "packed").
  bool weightsPacked = false;
  bool hasThreshold = false;
  double threshold = 0.0;
  int inZeros = -1, countZeros = -1;
  // scale_shift
  int scale = -1, shift = -1;
  // pooling
  int kh = 0, kw = 0;
  bool excludePad = false;  // padded cells take no part (the max/mean of the cells inside the input)
  // dense
  int units = 0, weights = -1;
};

struct TensorInfo {
  std::string name;
  long long floats = 0;
};

struct Program {
  std::string model;
  int batch = 0;
  std::vector<long long> buffers;
  std::vector<TensorInfo> tensors;
  int zeroCounters = 0;
  View input, output;
  std::vector<std::pair<std::string, View>> views;
  std::vector<Step> steps;
};

// Parses and validates; throws cusnn::Error("bad program: ...") on any inconsistency.
Program parseProgram(Napi::Env env, const std::string& json);

// "layer conv2_block1_2_conv (step 12, conv)": the prefix of every error about a step.
std::string stepWhere(const Program& p, int index);

}  // namespace cusnn
