// Program parsing and validation (program.hpp).
#include "program.hpp"

#include <cmath>
#include <sstream>

#include "common.hpp"

namespace cusnn {

const char* opName(Op op) {
  switch (op) {
    case Op::Conv: return "conv";
    case Op::ScaleShift: return "scale_shift";
    case Op::BiasRelu: return "bias_relu";
    case Op::Add: return "add";
    case Op::MaxPool: return "maxpool";
    case Op::AvgPool: return "avgpool";
    case Op::GlobalAvgPool: return "globalavgpool";
    case Op::FlattenHwc: return "flatten_hwc";
    case Op::Dense: return "dense";
    case Op::Softmax: return "softmax";
  }
  return "?";
}

std::string stepWhere(const Program& p, int index) {
  const Step& s = p.steps[index];
  std::ostringstream o;
  o << "layer " << s.layer << " (step " << index << ", " << opName(s.op) << ")";
  return o.str();
}

namespace {

[[noreturn]] void bad(const std::string& where, const std::string& what) {
  throw Error("bad program: " + where + ": " + what);
}

Napi::Value field(const Napi::Object& o, const char* name, const std::string& where) {
  if (!o.Has(name)) bad(where, std::string("missing field '") + name + "'");
  return o.Get(name);
}

bool isNull(const Napi::Object& o, const char* name) {
  if (!o.Has(name)) return true;  // absent counts as null for nullable fields
  const Napi::Value v = o.Get(name);
  return v.IsNull() || v.IsUndefined();
}

long long integer(const Napi::Value& v, const std::string& where, const char* name, long long min = 0) {
  if (!v.IsNumber()) bad(where, std::string(name) + " must be a number");
  const double d = v.As<Napi::Number>().DoubleValue();
  if (!std::isfinite(d) || std::floor(d) != d) bad(where, std::string(name) + " must be an integer");
  if (d < static_cast<double>(min)) bad(where, std::string(name) + " must be >= " + std::to_string(min));
  if (std::fabs(d) > 9007199254740992.0) bad(where, std::string(name) + " is too large");
  return static_cast<long long>(d);
}

long long intField(const Napi::Object& o, const char* name, const std::string& where, long long min = 0) {
  return integer(field(o, name, where), where, name, min);
}

int int32Field(const Napi::Object& o, const char* name, const std::string& where, long long min = 0) {
  const long long v = intField(o, name, where, min);
  if (v > 0x7fffffffLL) bad(where, std::string(name) + " exceeds 2^31-1");
  return static_cast<int>(v);
}

int nullableIndex(const Napi::Object& o, const char* name, const std::string& where) {
  if (isNull(o, name)) return -1;
  return int32Field(o, name, where, 0);
}

std::string stringField(const Napi::Object& o, const char* name, const std::string& where) {
  const Napi::Value v = field(o, name, where);
  if (!v.IsString()) bad(where, std::string(name) + " must be a string");
  return v.As<Napi::String>().Utf8Value();
}

bool boolField(const Napi::Object& o, const char* name, const std::string& where) {
  const Napi::Value v = field(o, name, where);
  if (!v.IsBoolean()) bad(where, std::string(name) + " must be a boolean");
  return v.As<Napi::Boolean>().Value();
}

Napi::Object objectField(const Napi::Object& o, const char* name, const std::string& where) {
  const Napi::Value v = field(o, name, where);
  if (!v.IsObject() || v.IsArray()) bad(where, std::string(name) + " must be an object");
  return v.As<Napi::Object>();
}

Napi::Array arrayField(const Napi::Object& o, const char* name, const std::string& where) {
  const Napi::Value v = field(o, name, where);
  if (!v.IsArray()) bad(where, std::string(name) + " must be an array");
  return v.As<Napi::Array>();
}

View parseView(const Napi::Object& o, const std::string& where) {
  View v;
  v.buf = int32Field(o, "buf", where);
  v.offset = intField(o, "offset", where);
  v.c = int32Field(o, "c", where, 1);
  v.h = int32Field(o, "h", where, 1);
  v.w = int32Field(o, "w", where, 1);
  v.bs = intField(o, "batchStride", where, 1);
  return v;
}

View viewField(const Napi::Object& o, const char* name, const std::string& where) {
  return parseView(objectField(o, name, where), where + "." + name);
}

// [a, b] pairs and [t, l, b, r] quads of integers.
std::vector<int> intArray(const Napi::Object& o, const char* name, size_t n, const std::string& where, long long min) {
  const Napi::Array a = arrayField(o, name, where);
  if (a.Length() != n) bad(where, std::string(name) + " must have " + std::to_string(n) + " entries");
  std::vector<int> out;
  for (uint32_t i = 0; i < n; ++i) {
    const long long v = integer(a.Get(i), where, name, min);
    out.push_back(static_cast<int>(v));
  }
  return out;
}

// The optional clamp [lo, hi] of an element-wise epilogue (absent or null: none).
void parseClamp(const Napi::Object& o, Step& s, const std::string& where) {
  if (isNull(o, "clamp")) return;
  const Napi::Value v = o.Get("clamp");
  if (!v.IsArray() || v.As<Napi::Array>().Length() != 2) bad(where, "clamp must be null or [lo, hi]");
  const Napi::Array a = v.As<Napi::Array>();
  double b[2];
  for (uint32_t i = 0; i < 2; ++i) {
    const Napi::Value x = a.Get(i);
    if (!x.IsNumber()) bad(where, "clamp bounds must be numbers");
    b[i] = x.As<Napi::Number>().DoubleValue();
    if (!std::isfinite(b[i]) || std::fabs(b[i]) > 3.0e38) bad(where, "clamp bounds must be finite floats");
  }
  if (!(b[0] <= b[1])) bad(where, "clamp [lo, hi] needs lo <= hi");
  s.clamp = true;
  s.clampLo = static_cast<float>(b[0]);
  s.clampHi = static_cast<float>(b[1]);
}

std::string dims(const View& v) {
  return std::to_string(v.c) + "x" + std::to_string(v.h) + "x" + std::to_string(v.w);
}

Step parseStep(const Napi::Object& o, int index) {
  std::string where = "steps[" + std::to_string(index) + "]";
  Step s;
  s.layer = stringField(o, "layer", where);
  const std::string op = stringField(o, "op", where);
  where += " (" + s.layer + ")";
  if (op == "conv") {
    s.op = Op::Conv;
    s.in = viewField(o, "in", where);
    s.out = viewField(o, "out", where);
    s.k = int32Field(o, "k", where, 1);
    s.r = int32Field(o, "r", where, 1);
    s.s = int32Field(o, "s", where, 1);
    s.strideH = int32Field(o, "strideH", where, 1);
    s.strideW = int32Field(o, "strideW", where, 1);
    s.padT = int32Field(o, "padTop", where);
    s.padL = int32Field(o, "padLeft", where);
    s.padB = int32Field(o, "padBottom", where);
    s.padR = int32Field(o, "padRight", where);
    if (!isNull(o, "groups")) s.groups = int32Field(o, "groups", where, 1);
    s.weightsKcrs = int32Field(o, "weightsKcrs", where);
    s.bias = nullableIndex(o, "bias", where);
    s.relu = boolField(o, "relu", where);
    parseClamp(o, s, where);
    const std::string path = stringField(o, "path", where);
    if (path == "act-sparse") s.sparsePath = true;
    else if (path != "cudnn") bad(where, "path must be 'cudnn' or 'act-sparse', got '" + path + "'");
    if (!isNull(o, "kernel")) s.kernel = stringField(o, "kernel", where);
    s.weightsCrsk = nullableIndex(o, "weightsCrsk", where);
    if (o.Has("weightsLayout") && !isNull(o, "weightsLayout")) {
      const std::string layout = stringField(o, "weightsLayout", where);
      if (layout == "packed") s.weightsPacked = true;
      else if (layout != "crsk") bad(where, "weightsLayout must be 'crsk' or 'packed', got '" + layout + "'");
    }
    if (!isNull(o, "threshold")) {
      const Napi::Value t = o.Get("threshold");
      if (!t.IsNumber()) bad(where, "threshold must be a number or null");
      s.threshold = t.As<Napi::Number>().DoubleValue();
      if (!(s.threshold >= 0.0 && s.threshold <= 1.0)) bad(where, "threshold must lie in [0, 1]");
      s.hasThreshold = true;
    }
    s.inZeros = nullableIndex(o, "inZeros", where);
    s.countZeros = nullableIndex(o, "countZeros", where);
    if (o.Has("residual") && !isNull(o, "residual")) {
      s.b = viewField(o, "residual", where);
      s.hasResidual = true;
    }
  } else if (op == "scale_shift") {
    s.op = Op::ScaleShift;
    s.in = viewField(o, "in", where);
    s.out = viewField(o, "out", where);
    s.scale = int32Field(o, "scale", where);
    s.shift = int32Field(o, "shift", where);
    s.relu = boolField(o, "relu", where);
    parseClamp(o, s, where);
    s.countZeros = nullableIndex(o, "countZeros", where);
  } else if (op == "bias_relu") {
    s.op = Op::BiasRelu;
    s.in = viewField(o, "in", where);
    s.out = viewField(o, "out", where);
    s.bias = nullableIndex(o, "bias", where);
    s.relu = boolField(o, "relu", where);
    parseClamp(o, s, where);
    s.countZeros = nullableIndex(o, "countZeros", where);
  } else if (op == "add") {
    s.op = Op::Add;
    s.in = viewField(o, "a", where);
    s.b = viewField(o, "b", where);
    s.out = viewField(o, "out", where);
    s.relu = boolField(o, "relu", where);
    parseClamp(o, s, where);
    s.countZeros = nullableIndex(o, "countZeros", where);
  } else if (op == "maxpool" || op == "avgpool") {
    s.op = op == "maxpool" ? Op::MaxPool : Op::AvgPool;
    s.in = viewField(o, "in", where);
    s.out = viewField(o, "out", where);
    const auto k = intArray(o, "kernel", 2, where, 1);
    const auto st = intArray(o, "stride", 2, where, 1);
    const auto p = intArray(o, "pad", 4, where, 0);
    s.kh = k[0], s.kw = k[1], s.strideH = st[0], s.strideW = st[1];
    s.padT = p[0], s.padL = p[1], s.padB = p[2], s.padR = p[3];
    if (!isNull(o, "excludePad")) s.excludePad = boolField(o, "excludePad", where);
    s.countZeros = nullableIndex(o, "countZeros", where);
  } else if (op == "globalavgpool" || op == "flatten_hwc" || op == "softmax") {
    s.op = op == "globalavgpool" ? Op::GlobalAvgPool : op == "flatten_hwc" ? Op::FlattenHwc : Op::Softmax;
    s.in = viewField(o, "in", where);
    s.out = viewField(o, "out", where);
  } else if (op == "dense") {
    s.op = Op::Dense;
    s.in = viewField(o, "in", where);
    s.out = viewField(o, "out", where);
    s.units = int32Field(o, "units", where, 1);
    s.weights = int32Field(o, "weights", where);
    s.bias = nullableIndex(o, "bias", where);
    s.relu = boolField(o, "relu", where);
    parseClamp(o, s, where);
  } else {
    bad(where, "unknown op '" + op + "'");
  }
  return s;
}

void checkView(const Program& p, const View& v, const std::string& where) {
  if (v.buf < 0 || v.buf >= static_cast<int>(p.buffers.size())) {
    bad(where, "buf " + std::to_string(v.buf) + " is not a buffer index (0.." + std::to_string(p.buffers.size()) + ")");
  }
  if (v.bs < v.chw()) {
    bad(where, "batchStride " + std::to_string(v.bs) + " < c*h*w = " + std::to_string(v.chw()));
  }
  const long long end = v.offset + 1LL * (p.batch - 1) * v.bs + v.chw();
  if (end > p.buffers[v.buf]) {
    bad(where, "view " + dims(v) + " at offset " + std::to_string(v.offset) + " (batch stride " +
                   std::to_string(v.bs) + ") ends at " + std::to_string(end) + ", past buffer " +
                   std::to_string(v.buf) + " (" + std::to_string(p.buffers[v.buf]) + " floats)");
  }
}

void checkTensor(const Program& p, int t, long long floats, const std::string& where, const char* what) {
  if (t < 0 || t >= static_cast<int>(p.tensors.size())) {
    bad(where, std::string(what) + " " + std::to_string(t) + " is not a tensor index");
  }
  if (p.tensors[t].floats != floats) {
    bad(where, std::string(what) + " tensor " + std::to_string(t) + " ('" + p.tensors[t].name + "') has " +
                   std::to_string(p.tensors[t].floats) + " floats, the step reads " + std::to_string(floats));
  }
}

void checkCounter(const Program& p, int c, const std::string& where, const char* what) {
  if (c >= p.zeroCounters) {
    bad(where, std::string(what) + " " + std::to_string(c) + " >= zeroCounters " + std::to_string(p.zeroCounters));
  }
}

void sameDims(const View& a, const View& b, const std::string& where, const char* an, const char* bn) {
  if (a.c != b.c || a.h != b.h || a.w != b.w) {
    bad(where, std::string(an) + " is " + dims(a) + " but " + bn + " is " + dims(b));
  }
}

int outExtent(int in, int padA, int padB, int k, int stride) { return (in + padA + padB - k) / stride + 1; }

void validate(const Program& p) {
  if (p.batch < 1 || p.batch > 65535) bad("batch", "must lie in 1..65535");
  for (size_t i = 0; i < p.buffers.size(); ++i) {
    if (p.buffers[i] < 1) bad("buffers[" + std::to_string(i) + "]", "size must be >= 1");
  }
  checkView(p, p.input, "input");
  checkView(p, p.output, "output");
  for (const auto& [name, v] : p.views) checkView(p, v, "views." + name);
  for (int i = 0; i < static_cast<int>(p.steps.size()); ++i) {
    const Step& s = p.steps[i];
    const std::string where = "steps[" + std::to_string(i) + "] (" + s.layer + ")";
    checkView(p, s.in, where + ".in");
    checkView(p, s.out, where + ".out");
    if (s.countZeros >= 0) checkCounter(p, s.countZeros, where, "countZeros");
    switch (s.op) {
      case Op::Conv: {
        if (s.out.c != s.k) bad(where, "out has " + std::to_string(s.out.c) + " channels, k is " + std::to_string(s.k));
        if (s.r > s.in.h + s.padT + s.padB || s.s > s.in.w + s.padL + s.padR) bad(where, "filter larger than padded input");
        const int ho = outExtent(s.in.h, s.padT, s.padB, s.r, s.strideH);
        const int wo = outExtent(s.in.w, s.padL, s.padR, s.s, s.strideW);
        if (s.out.h != ho || s.out.w != wo) {
          bad(where, "out is " + dims(s.out) + ", the convolution of " + dims(s.in) + " gives " + std::to_string(s.k) +
                         "x" + std::to_string(ho) + "x" + std::to_string(wo));
        }
        if (s.in.c % s.groups != 0 || s.k % s.groups != 0) {
          bad(where, "groups " + std::to_string(s.groups) + " does not divide in.c " + std::to_string(s.in.c) + " and k " +
                         std::to_string(s.k));
        }
        // The generated kernels compute groups = 1 only (checkKernelInfo compares no group count).
        if (s.groups != 1 && (s.sparsePath || !s.kernel.empty() || s.weightsCrsk >= 0)) {
          bad(where, "groups " + std::to_string(s.groups) + " on a generated kernel; grouped convs take the cuDNN path only");
        }
        const long long wf = 1LL * s.k * (s.in.c / s.groups) * s.r * s.s;
        checkTensor(p, s.weightsKcrs, wf, where, "weightsKcrs");
        if (s.bias >= 0) checkTensor(p, s.bias, s.k, where, "bias");
        if (s.weightsCrsk >= 0 && !s.weightsPacked) checkTensor(p, s.weightsCrsk, wf, where, "weightsCrsk");
        // Packed: the nonzeros of the kernel's weight structure, at least one and fewer than all (the
        // kernel's tables say which; the generator checked them against these weights).
        if (s.weightsCrsk >= 0 && s.weightsPacked) {
          if (s.weightsCrsk >= static_cast<int>(p.tensors.size())) bad(where, "weightsCrsk " + std::to_string(s.weightsCrsk) + " is not a tensor index");
          const long long n = p.tensors[s.weightsCrsk].floats;
          if (n < 1 || n > wf) bad(where, "packed weightsCrsk tensor has " + std::to_string(n) + " floats: 1 to " + std::to_string(wf) + " expected");
        }
        if (s.weightsPacked && s.weightsCrsk < 0) bad(where, "weightsLayout 'packed' without weightsCrsk");
        if (s.sparsePath && s.kernel.empty()) bad(where, "path is 'act-sparse' but kernel is null");
        if (!s.kernel.empty() && s.weightsCrsk < 0) bad(where, "kernel '" + s.kernel + "' needs weightsCrsk");
        if (s.inZeros >= 0) checkCounter(p, s.inZeros, where, "inZeros");
        if (s.hasResidual) {
          checkView(p, s.b, where + ".residual");
          sameDims(s.b, s.out, where, "residual", "out");
          if (s.b.buf == s.out.buf) bad(where, "residual and out share buffer " + std::to_string(s.b.buf) + " (the kernel reads one while writing the other)");
        }
        break;
      }
      case Op::ScaleShift:
        sameDims(s.in, s.out, where, "in", "out");
        checkTensor(p, s.scale, s.in.c, where, "scale");
        checkTensor(p, s.shift, s.in.c, where, "shift");
        break;
      case Op::BiasRelu:
        sameDims(s.in, s.out, where, "in", "out");
        if (s.bias >= 0) checkTensor(p, s.bias, s.in.c, where, "bias");
        break;
      case Op::Add:
        checkView(p, s.b, where + ".b");
        sameDims(s.in, s.out, where, "a", "out");
        sameDims(s.b, s.out, where, "b", "out");
        break;
      case Op::MaxPool:
      case Op::AvgPool: {
        if (s.out.c != s.in.c) bad(where, "pooling changes the channel count");
        const int ho = outExtent(s.in.h, s.padT, s.padB, s.kh, s.strideH);
        const int wo = outExtent(s.in.w, s.padL, s.padR, s.kw, s.strideW);
        if (s.out.h != ho || s.out.w != wo) {
          bad(where, "out is " + dims(s.out) + ", pooling " + dims(s.in) + " gives " + std::to_string(s.in.c) + "x" +
                         std::to_string(ho) + "x" + std::to_string(wo));
        }
        break;
      }
      case Op::GlobalAvgPool:
        if (s.out.c != s.in.c || s.out.h != 1 || s.out.w != 1) bad(where, "out must be " + std::to_string(s.in.c) + "x1x1");
        break;
      case Op::FlattenHwc:
        if (s.out.chw() != s.in.chw()) bad(where, "out has " + std::to_string(s.out.chw()) + " values, in has " + std::to_string(s.in.chw()));
        break;
      case Op::Softmax:
        // Over the channels at each pixel: the pixels must line up.
        sameDims(s.in, s.out, where, "in", "out");
        break;
      case Op::Dense:
        if (s.out.chw() != s.units) bad(where, "out has " + std::to_string(s.out.chw()) + " values, units is " + std::to_string(s.units));
        checkTensor(p, s.weights, 1LL * s.units * s.in.chw(), where, "weights");
        if (s.bias >= 0) checkTensor(p, s.bias, s.units, where, "bias");
        break;
    }
  }
}

}  // namespace

Program parseProgram(Napi::Env env, const std::string& json) {
  Napi::Object jsonObj = env.Global().Get("JSON").As<Napi::Object>();
  Napi::Function parse = jsonObj.Get("parse").As<Napi::Function>();
  Napi::Value parsed;
  try {
    parsed = parse.Call(jsonObj, {Napi::String::New(env, json)});
  } catch (const Napi::Error& e) {
    throw Error(std::string("bad program: not JSON: ") + e.Message());
  }
  if (!parsed.IsObject()) throw Error("bad program: the JSON is not an object");
  const Napi::Object o = parsed.As<Napi::Object>();
  const std::string where = "program";
  Program p;
  const std::string format = stringField(o, "format", where);
  if (format != "cusnn-program/1") bad("format", "expected 'cusnn-program/1', got '" + format + "'");
  p.model = stringField(o, "model", where);
  p.batch = int32Field(o, "batch", where, 1);
  const Napi::Array buffers = arrayField(o, "buffers", where);
  for (uint32_t i = 0; i < buffers.Length(); ++i) p.buffers.push_back(integer(buffers.Get(i), "buffers", "size", 1));
  const Napi::Array tensors = arrayField(o, "tensors", where);
  for (uint32_t i = 0; i < tensors.Length(); ++i) {
    const std::string w = "tensors[" + std::to_string(i) + "]";
    const Napi::Value v = tensors.Get(i);
    if (!v.IsObject()) bad(w, "must be an object");
    const Napi::Object t = v.As<Napi::Object>();
    p.tensors.push_back({stringField(t, "name", w), intField(t, "floats", w, 0)});
  }
  p.zeroCounters = int32Field(o, "zeroCounters", where);
  p.input = viewField(o, "input", where);
  p.output = viewField(o, "output", where);
  const Napi::Object views = objectField(o, "views", where);
  const Napi::Array names = views.GetPropertyNames();
  for (uint32_t i = 0; i < names.Length(); ++i) {
    const std::string name = names.Get(i).As<Napi::String>().Utf8Value();
    const Napi::Value v = views.Get(name);
    if (!v.IsObject()) bad("views." + name, "must be a view object");
    p.views.emplace_back(name, parseView(v.As<Napi::Object>(), "views." + name));
  }
  const Napi::Array steps = arrayField(o, "steps", where);
  for (uint32_t i = 0; i < steps.Length(); ++i) {
    const Napi::Value v = steps.Get(i);
    if (!v.IsObject()) bad("steps[" + std::to_string(i) + "]", "must be an object");
    p.steps.push_back(parseStep(v.As<Napi::Object>(), static_cast<int>(i)));
  }
  validate(p);
  return p;
}

}  // namespace cusnn
