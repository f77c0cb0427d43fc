// N-API binding of the native runtime (node-addon-api, NAPI_VERSION 8, C++ exceptions).
//
//   deviceInfo()  -> { name, computeCapability, sm, multiprocessors, globalMemoryBytes, l2Bytes,
//                      driverVersion, runtimeVersion, cudnnVersion, cublasVersion, buildArch }
//                    throws "no CUDA device: <CUDA error>" where there is none (or no driver)
//   buildInfo()   -> { buildArch, generatedArch, cudnnHeaderVersion, cudaRuntimeHeaderVersion, kernels }
//                    (no GPU needed)
//   kernels()     -> names in the generated kernel registry (no GPU needed)
//   gpuSample(device?) -> { smMHz, memMHz, temperatureC, powerW, driver, name, pciBusId, notes }
//                    through NVML (dlopen'ed); fields NVML does not support are null (notes says why);
//                    throws "no CUDA device: ..." or "NVML: ..." where either is missing
//   probeRoofline(device?, copyBytes?) -> { smCount, smClockMHz, memClockMHz, memBusWidthBits,
//                    copyBytes, copyGBs, ffmaTflops } (probe.cu: measured copy and FFMA rates)
//   createRuntime(programJson, tensors: Float32Array[], options) -> Runtime
//                    options: { mode, math, traceBranches, syncEachStep, device, selectIters,
//                    algo: 'search' | 'implicit-gemm' }
//
// Every failure (CUDA, cuDNN, cuBLAS, a kernel missing from the registry, a bad program) becomes
// a JS Error whose message names the layer and the call.
#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <cudnn.h>
#include <napi.h>

#include <cmath>
#include <memory>
#include <string>
#include <vector>

#include "common.hpp"
#include "nvml.hpp"
#include "probe.hpp"
#include "program.hpp"
#include "runtime.hpp"

namespace {

using cusnn::Error;

// Throws the "no CUDA device" error when the runtime finds no usable GPU (no device, no driver,
// a driver older than the runtime); returns the device count otherwise.
int requireDevice() {
  int count = 0;
  const cudaError_t e = cudaGetDeviceCount(&count);
  if (e != cudaSuccess) {
    cudaGetLastError();
    throw Error(std::string("no CUDA device: ") + cudaGetErrorString(e) + " (" + cudaGetErrorName(e) + ")");
  }
  if (count == 0) throw Error("no CUDA device: the CUDA runtime reports 0 devices");
  return count;
}

template <class F>
auto guard(const Napi::Env& env, F&& f) -> decltype(f()) {
  try {
    return f();
  } catch (const Napi::Error&) {
    throw;
  } catch (const std::exception& e) {
    throw Napi::Error::New(env, e.what());
  }
}

Napi::Object timingObject(Napi::Env env, const cusnn::Timing& t) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("medianUs", t.medianUs);
  o.Set("p10Us", t.p10Us);
  o.Set("p90Us", t.p90Us);
  o.Set("iters", t.iters);
  return o;
}

int intArg(const Napi::CallbackInfo& info, size_t i, const char* what, int min) {
  if (info.Length() <= i || !info[i].IsNumber()) throw Napi::TypeError::New(info.Env(), std::string(what) + " must be a number");
  const double d = info[i].As<Napi::Number>().DoubleValue();
  if (d != static_cast<double>(static_cast<long long>(d)) || d < min || d > 1e9) {
    throw Napi::RangeError::New(info.Env(), std::string(what) + " must be an integer >= " + std::to_string(min));
  }
  return static_cast<int>(d);
}

class RuntimeWrap : public Napi::ObjectWrap<RuntimeWrap> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "Runtime",
                       {
                           InstanceMethod<&RuntimeWrap::Run>("run"),
                           InstanceMethod<&RuntimeWrap::RunEager>("runEager"),
                           InstanceMethod<&RuntimeWrap::ReadView>("readView"),
                           InstanceMethod<&RuntimeWrap::ReadBuffer>("readBuffer"),
                           InstanceMethod<&RuntimeWrap::FillBuffers>("fillBuffers"),
                           InstanceMethod<&RuntimeWrap::ZeroCounts>("zeroCounts"),
                           InstanceMethod<&RuntimeWrap::Branches>("branches"),
                           InstanceMethod<&RuntimeWrap::TimeForward>("timeForward"),
                           InstanceMethod<&RuntimeWrap::TimeStep>("timeStep"),
                           InstanceMethod<&RuntimeWrap::MeasureEnergy>("measureEnergy"),
                           InstanceMethod<&RuntimeWrap::Algorithms>("algorithms"),
                           InstanceMethod<&RuntimeWrap::Info>("info"),
                           InstanceMethod<&RuntimeWrap::Dispose>("dispose"),
                       });
  }

  // new Runtime(programJson, tensors, options) — reached through createRuntime().
  explicit RuntimeWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<RuntimeWrap>(info) {
    Napi::Env env = info.Env();
    if (info.Length() < 2 || !info[0].IsString() || !info[1].IsArray()) {
      throw Napi::TypeError::New(env, "createRuntime(programJson: string, tensors: Float32Array[], options)");
    }
    guard(env, [&] {
      requireDevice();
      cusnn::Program program = cusnn::parseProgram(env, info[0].As<Napi::String>().Utf8Value());
      const Napi::Array arr = info[1].As<Napi::Array>();
      if (arr.Length() != program.tensors.size()) {
        throw Error("bad program: it lists " + std::to_string(program.tensors.size()) + " tensors, " +
                    std::to_string(arr.Length()) + " were passed");
      }
      std::vector<std::pair<const float*, size_t>> tensors;
      for (uint32_t i = 0; i < arr.Length(); ++i) {
        const Napi::Value v = arr.Get(i);
        if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_float32_array) {
          throw Error("bad program: tensor " + std::to_string(i) + " ('" + program.tensors[i].name +
                      "') must be a Float32Array");
        }
        const Napi::Float32Array a = v.As<Napi::Float32Array>();
        if (static_cast<long long>(a.ElementLength()) != program.tensors[i].floats) {
          throw Error("bad program: tensor " + std::to_string(i) + " ('" + program.tensors[i].name + "') has " +
                      std::to_string(a.ElementLength()) + " floats, the program says " +
                      std::to_string(program.tensors[i].floats));
        }
        tensors.emplace_back(a.Data(), a.ElementLength());
      }
      cusnn::Options opt;
      if (info.Length() > 2 && info[2].IsObject()) {
        const Napi::Object o = info[2].As<Napi::Object>();
        if (o.Has("mode") && !o.Get("mode").IsUndefined()) {
          const std::string m = o.Get("mode").ToString().Utf8Value();
          if (m == "static") opt.mode = cusnn::Mode::Static;
          else if (m == "dynamic") opt.mode = cusnn::Mode::Dynamic;
          else if (m == "cudnn") opt.mode = cusnn::Mode::Cudnn;
          else throw Error("options.mode must be 'static', 'dynamic' or 'cudnn', got '" + m + "'");
        }
        if (o.Has("math") && !o.Get("math").IsUndefined()) {
          const std::string m = o.Get("math").ToString().Utf8Value();
          if (m == "tf32") opt.tf32 = true;
          else if (m != "fp32") throw Error("options.math must be 'fp32' or 'tf32', got '" + m + "'");
        }
        if (o.Has("traceBranches")) opt.traceBranches = o.Get("traceBranches").ToBoolean().Value();
        if (o.Has("syncEachStep")) opt.syncEachStep = o.Get("syncEachStep").ToBoolean().Value();
        if (o.Has("device") && o.Get("device").IsNumber()) opt.device = o.Get("device").As<Napi::Number>().Int32Value();
        if (o.Has("selectIters") && o.Get("selectIters").IsNumber()) {
          opt.selectIters = std::max(1, o.Get("selectIters").As<Napi::Number>().Int32Value());
        }
        if (o.Has("algo") && !o.Get("algo").IsUndefined()) {
          const std::string a = o.Get("algo").ToString().Utf8Value();
          if (a == "search") opt.algo = cusnn::AlgoPolicy::Search;
          else if (a == "implicit-gemm") opt.algo = cusnn::AlgoPolicy::ImplicitGemm;
          else throw Error("options.algo must be 'search' or 'implicit-gemm', got '" + a + "'");
        }
      }
      rt_ = std::make_unique<cusnn::Runtime>(std::move(program), tensors, opt);
      return 0;
    });
  }

 private:
  cusnn::Runtime& rt(const Napi::Env& env) {
    if (!rt_) throw Napi::Error::New(env, "this runtime was disposed");
    return *rt_;
  }

  Napi::Value RunImpl(const Napi::CallbackInfo& info, bool eager) {
    Napi::Env env = info.Env();
    auto& r = rt(env);
    if (info.Length() < 1 || !info[0].IsTypedArray() ||
        info[0].As<Napi::TypedArray>().TypedArrayType() != napi_float32_array) {
      throw Napi::TypeError::New(env, "run(input: Float32Array)");
    }
    const Napi::Float32Array in = info[0].As<Napi::Float32Array>();
    if (in.ElementLength() != r.inputFloats()) {
      throw Napi::RangeError::New(env, "run: the input has " + std::to_string(in.ElementLength()) +
                                           " floats, the program's input view holds " +
                                           std::to_string(r.inputFloats()) + " (batch x c x h x w)");
    }
    Napi::Float32Array out = Napi::Float32Array::New(env, r.outputFloats());
    guard(env, [&] {
      r.run(in.Data(), out.Data(), eager);
      return 0;
    });
    return out;
  }

  Napi::Value Run(const Napi::CallbackInfo& info) { return RunImpl(info, false); }
  Napi::Value RunEager(const Napi::CallbackInfo& info) { return RunImpl(info, true); }

  Napi::Value ReadView(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (info.Length() < 1 || !info[0].IsString()) throw Napi::TypeError::New(env, "readView(layer: string)");
    const auto v = guard(env, [&] { return rt(env).readView(info[0].As<Napi::String>().Utf8Value()); });
    Napi::Float32Array a = Napi::Float32Array::New(env, v.size());
    std::copy(v.begin(), v.end(), a.Data());
    return a;
  }

  Napi::Value ReadBuffer(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    const int b = intArg(info, 0, "buffer index", 0);
    const auto v = guard(env, [&] { return rt(env).readBuffer(b); });
    Napi::Float32Array a = Napi::Float32Array::New(env, v.size());
    std::copy(v.begin(), v.end(), a.Data());
    return a;
  }

  Napi::Value FillBuffers(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (info.Length() < 1 || !info[0].IsNumber()) throw Napi::TypeError::New(env, "fillBuffers(value: number)");
    const float v = info[0].As<Napi::Number>().FloatValue();
    guard(env, [&] {
      rt(env).fillBuffers(v);
      return 0;
    });
    return env.Undefined();
  }

  Napi::Value ZeroCounts(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    const auto v = guard(env, [&] { return rt(env).zeroCounts(); });
    Napi::Float64Array a = Napi::Float64Array::New(env, v.size());
    for (size_t i = 0; i < v.size(); ++i) a[i] = static_cast<double>(v[i]);
    return a;
  }

  Napi::Value Branches(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    const auto v = guard(env, [&] { return rt(env).branches(); });
    Napi::Int32Array a = Napi::Int32Array::New(env, v.size());
    for (size_t i = 0; i < v.size(); ++i) a[i] = v[i];
    return a;
  }

  Napi::Value TimeForward(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    const int iters = info.Length() > 0 ? intArg(info, 0, "iters", 1) : 100;
    return timingObject(env, guard(env, [&] { return rt(env).timeForward(iters); }));
  }

  Napi::Value TimeStep(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    const int step = intArg(info, 0, "stepIndex", 0);
    const int iters = info.Length() > 1 ? intArg(info, 1, "iters", 1) : 100;
    const int copies = info.Length() > 2 ? intArg(info, 2, "copies", 1) : 1;
    return timingObject(env, guard(env, [&] { return rt(env).timeStep(step, iters, copies); }));
  }

  // measureEnergy(minSeconds = 2, idleMs = 200)
  Napi::Value MeasureEnergy(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    double minSeconds = 2.0;
    if (info.Length() > 0 && !info[0].IsUndefined()) {
      if (!info[0].IsNumber()) throw Napi::TypeError::New(env, "measureEnergy(minSeconds?: number, idleMs?: number)");
      minSeconds = info[0].As<Napi::Number>().DoubleValue();
    }
    int idleMs = 200;
    if (info.Length() > 1 && !info[1].IsUndefined()) idleMs = intArg(info, 1, "idleMs", 0);
    const auto r = guard(env, [&] { return rt(env).measureEnergy(minSeconds, idleMs); });
    Napi::Object o = Napi::Object::New(env);
    o.Set("mJPerInference", r.mJPerInference);
    o.Set("windowSeconds", r.windowSeconds);
    o.Set("inferences", static_cast<double>(r.inferences));
    o.Set("avgPowerW", r.avgPowerW);
    o.Set("idlePowerW", r.idlePowerW);
    o.Set("replayUs", r.replayUs);
    o.Set("energyMj", r.energyMj);
    o.Set("gpu", r.gpu);
    return o;
  }

  Napi::Value Algorithms(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    const auto& algos = rt(env).algorithms();
    Napi::Array arr = Napi::Array::New(env, algos.size());
    for (size_t i = 0; i < algos.size(); ++i) {
      const auto& a = algos[i];
      Napi::Object o = Napi::Object::New(env);
      o.Set("step", a.step);
      o.Set("layer", a.layer);
      o.Set("algo", a.algo);
      o.Set("algoName", cusnn::algoName(a.algo));
      o.Set("us", a.us);
      o.Set("workspaceBytes", static_cast<double>(a.workspace));
      o.Set("cached", a.cached);
      Napi::Array cands = Napi::Array::New(env, a.candidates.size());
      for (size_t k = 0; k < a.candidates.size(); ++k) {
        const auto& c = a.candidates[k];
        Napi::Object co = Napi::Object::New(env);
        co.Set("algo", c.algo);
        co.Set("algoName", cusnn::algoName(c.algo));
        co.Set("status", c.status);
        co.Set("us", c.us);
        co.Set("workspaceBytes", static_cast<double>(c.workspace));
        cands.Set(static_cast<uint32_t>(k), co);
      }
      o.Set("candidates", cands);
      arr.Set(static_cast<uint32_t>(i), o);
    }
    return arr;
  }

  Napi::Value Info(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    auto& r = rt(env);
    Napi::Object o = Napi::Object::New(env);
    const auto& p = r.program();
    o.Set("model", p.model);
    o.Set("batch", p.batch);
    o.Set("steps", static_cast<double>(p.steps.size()));
    o.Set("mode", r.options().mode == cusnn::Mode::Static    ? "static"
                  : r.options().mode == cusnn::Mode::Dynamic ? "dynamic"
                                                             : "cudnn");
    o.Set("math", r.options().tf32 ? "tf32" : "fp32");
    o.Set("algo", r.options().algo == cusnn::AlgoPolicy::ImplicitGemm ? "implicit-gemm" : "search");
    o.Set("conditional", r.conditionalKind());
    o.Set("bodyFallbacks", r.bodyFallbacks());
    o.Set("bodyNote", r.bodyNote());
    o.Set("deviceBytes", static_cast<double>(r.deviceBytes()));
    o.Set("inputFloats", static_cast<double>(r.inputFloats()));
    o.Set("outputFloats", static_cast<double>(r.outputFloats()));
    return o;
  }

  Napi::Value Dispose(const Napi::CallbackInfo& info) {
    rt_.reset();
    return info.Env().Undefined();
  }

  std::unique_ptr<cusnn::Runtime> rt_;
};

struct AddonData {
  Napi::FunctionReference runtimeCtor;
};

Napi::Value DeviceInfo(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guard(env, [&]() -> Napi::Value {
    requireDevice();
    int dev = 0;
    if (info.Length() > 0 && info[0].IsNumber()) dev = info[0].As<Napi::Number>().Int32Value();
    cudaDeviceProp p{};
    CUSNN_CUDA(cudaGetDeviceProperties(&p, dev), "deviceInfo");
    int driver = 0, runtime = 0;
    cudaDriverGetVersion(&driver);
    cudaRuntimeGetVersion(&runtime);
    Napi::Object o = Napi::Object::New(env);
    o.Set("name", p.name);
    o.Set("computeCapability", std::to_string(p.major) + "." + std::to_string(p.minor));
    o.Set("sm", "sm_" + std::to_string(p.major * 10 + p.minor));
    o.Set("multiprocessors", p.multiProcessorCount);
    o.Set("globalMemoryBytes", static_cast<double>(p.totalGlobalMem));
    o.Set("l2Bytes", p.l2CacheSize);
    o.Set("driverVersion", driver);
    o.Set("runtimeVersion", runtime);
    o.Set("cudnnVersion", static_cast<double>(cudnnGetVersion()));
    int cublasVer = 0;
    cublasGetProperty(MAJOR_VERSION, &cublasVer);
    int minor = 0, patch = 0;
    cublasGetProperty(MINOR_VERSION, &minor);
    cublasGetProperty(PATCH_LEVEL, &patch);
    o.Set("cublasVersion", std::to_string(cublasVer) + "." + std::to_string(minor) + "." + std::to_string(patch));
    o.Set("buildArch", "sm_" + std::to_string(CUSNN_BUILD_ARCH));
    return o;
  });
}

Napi::Value GpuSample(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guard(env, [&]() -> Napi::Value {
    requireDevice();
    int dev = 0;
    if (info.Length() > 0 && !info[0].IsUndefined()) dev = intArg(info, 0, "device", 0);
    const cusnn::nvml::Device d = cusnn::nvml::deviceFor(dev);
    const cusnn::nvml::Sample s = cusnn::nvml::sample(d);
    const std::string driver = cusnn::nvml::driverVersion();
    auto num = [&](double v) -> Napi::Value { return std::isnan(v) ? env.Null() : Napi::Number::New(env, v); };
    Napi::Object o = Napi::Object::New(env);
    o.Set("smMHz", num(s.smMHz));
    o.Set("memMHz", num(s.memMHz));
    o.Set("temperatureC", num(s.temperatureC));
    o.Set("powerW", num(s.powerW));
    o.Set("driver", driver);
    o.Set("name", d.name);
    o.Set("pciBusId", d.pciBusId);
    o.Set("notes", s.notes);
    return o;
  });
}

Napi::Value ProbeRoofline(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guard(env, [&]() -> Napi::Value {
    requireDevice();
    int dev = 0;
    if (info.Length() > 0 && !info[0].IsUndefined()) dev = intArg(info, 0, "device", 0);
    // 256 MB per buffer by default: far beyond any L2, small enough for every supported board.
    double bytes = 256.0 * (1 << 20);
    if (info.Length() > 1 && !info[1].IsUndefined()) bytes = intArg(info, 1, "copyBytes", 1 << 20);
    const cusnn::RooflineProbe r = cusnn::probeRoofline(dev, static_cast<std::size_t>(bytes));
    Napi::Object o = Napi::Object::New(env);
    o.Set("smCount", r.smCount);
    o.Set("smClockMHz", r.smClockMHz);
    o.Set("memClockMHz", r.memClockMHz);
    o.Set("memBusWidthBits", r.memBusWidthBits);
    o.Set("copyBytes", r.copyBytes);
    o.Set("copyGBs", r.copyGBs);
    o.Set("ffmaTflops", r.ffmaTflops);
    return o;
  });
}

Napi::Value Kernels(const Napi::CallbackInfo& info) {
  const auto names = cusnn::registryNames();
  Napi::Array a = Napi::Array::New(info.Env(), names.size());
  for (size_t i = 0; i < names.size(); ++i) a.Set(static_cast<uint32_t>(i), names[i]);
  return a;
}

Napi::Value BuildInfo(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object o = Napi::Object::New(env);
  o.Set("buildArch", "sm_" + std::to_string(CUSNN_BUILD_ARCH));
  o.Set("generatedArch", "sm_" + std::to_string(CUSNN_GENERATED_ARCH));
  o.Set("cudnnHeaderVersion", CUDNN_VERSION);
  o.Set("cudaRuntimeHeaderVersion", CUDART_VERSION);
  o.Set("kernels", Kernels(info));
  return o;
}

Napi::Value CreateRuntime(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::vector<napi_value> args;
  for (size_t i = 0; i < info.Length(); ++i) args.push_back(info[i]);
  return env.GetInstanceData<AddonData>()->runtimeCtor.New(args);
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  auto* data = new AddonData();
  data->runtimeCtor = Napi::Persistent(RuntimeWrap::Define(env));
  env.SetInstanceData<AddonData>(data);
  exports.Set("deviceInfo", Napi::Function::New(env, DeviceInfo, "deviceInfo"));
  exports.Set("buildInfo", Napi::Function::New(env, BuildInfo, "buildInfo"));
  exports.Set("kernels", Napi::Function::New(env, Kernels, "kernels"));
  exports.Set("gpuSample", Napi::Function::New(env, GpuSample, "gpuSample"));
  exports.Set("probeRoofline", Napi::Function::New(env, ProbeRoofline, "probeRoofline"));
  exports.Set("createRuntime", Napi::Function::New(env, CreateRuntime, "createRuntime"));
  return exports;
}

}  // namespace

NODE_API_MODULE(cusnn, Init)
