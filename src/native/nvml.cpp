// NVML through dlopen (nvml.hpp). The few types and entry points are declared here, as NVML's
// nvml.h declares them (C ABI, stable since the _v2 entry points of driver 325+), so that the
// build needs neither the header nor the library.
#include "nvml.hpp"

#include <cuda_runtime.h>
#include <dlfcn.h>

#include <cmath>
#include <limits>
#include <mutex>
#include <string>

#include "common.hpp"

namespace cusnn {
namespace nvml {
namespace {

typedef int nvmlReturn_t;  // enum nvmlReturn_enum; NVML_SUCCESS = 0
typedef struct nvmlDevice_st* nvmlDevice_t;
constexpr nvmlReturn_t NVML_SUCCESS = 0;
constexpr int NVML_CLOCK_SM = 1;      // nvmlClockType_t
constexpr int NVML_CLOCK_MEM = 2;
constexpr int NVML_TEMPERATURE_GPU = 0;  // nvmlTemperatureSensors_t
constexpr unsigned kNameBuffer = 96;     // NVML_DEVICE_NAME_V2_BUFFER_SIZE
constexpr unsigned kDriverBuffer = 80;   // NVML_SYSTEM_DRIVER_VERSION_BUFFER_SIZE

struct Api {
  void* lib = nullptr;
  std::string loadError;  // why loading or nvmlInit failed (sticky: not retried)
  nvmlReturn_t (*init)() = nullptr;
  const char* (*errorString)(nvmlReturn_t) = nullptr;
  nvmlReturn_t (*byPciBusId)(const char*, nvmlDevice_t*) = nullptr;
  nvmlReturn_t (*byIndex)(unsigned, nvmlDevice_t*) = nullptr;
  nvmlReturn_t (*count)(unsigned*) = nullptr;
  nvmlReturn_t (*name)(nvmlDevice_t, char*, unsigned) = nullptr;
  nvmlReturn_t (*energy)(nvmlDevice_t, unsigned long long*) = nullptr;
  nvmlReturn_t (*power)(nvmlDevice_t, unsigned*) = nullptr;
  nvmlReturn_t (*clock)(nvmlDevice_t, int, unsigned*) = nullptr;
  nvmlReturn_t (*temperature)(nvmlDevice_t, int, unsigned*) = nullptr;
  nvmlReturn_t (*driver)(char*, unsigned) = nullptr;
};

std::mutex mu;
Api api;
bool tried = false;

template <class F>
bool sym(void* lib, const char* name, F& f) {
  f = reinterpret_cast<F>(dlsym(lib, name));
  return f != nullptr;
}

// Loads and initializes NVML once; throws the (remembered) reason on every call when it failed.
const Api& load() {
  std::lock_guard<std::mutex> lock(mu);
  if (!tried) {
    tried = true;
    void* lib = dlopen("libnvidia-ml.so.1", RTLD_NOW | RTLD_LOCAL);
    if (!lib) {
      const char* e = dlerror();
      api.loadError = std::string("NVML: cannot load libnvidia-ml.so.1 (") + (e ? e : "unknown dlopen error") +
                      "): energy, power and clock readings need the NVIDIA driver's NVML library";
    } else {
      std::string missing;
      auto need = [&](const char* n, auto& f) {
        if (!sym(lib, n, f)) missing += (missing.empty() ? "" : ", ") + std::string(n);
      };
      need("nvmlInit_v2", api.init);
      need("nvmlErrorString", api.errorString);
      need("nvmlDeviceGetTotalEnergyConsumption", api.energy);
      need("nvmlDeviceGetPowerUsage", api.power);
      need("nvmlDeviceGetClockInfo", api.clock);
      need("nvmlDeviceGetTemperature", api.temperature);
      need("nvmlSystemGetDriverVersion", api.driver);
      need("nvmlDeviceGetName", api.name);
      if (!sym(lib, "nvmlDeviceGetHandleByPciBusId_v2", api.byPciBusId)) sym(lib, "nvmlDeviceGetHandleByPciBusId", api.byPciBusId);
      if (!sym(lib, "nvmlDeviceGetHandleByIndex_v2", api.byIndex)) sym(lib, "nvmlDeviceGetHandleByIndex", api.byIndex);
      if (!sym(lib, "nvmlDeviceGetCount_v2", api.count)) sym(lib, "nvmlDeviceGetCount", api.count);
      if (!api.byPciBusId) missing += (missing.empty() ? "" : ", ") + std::string("nvmlDeviceGetHandleByPciBusId_v2");
      if (!missing.empty()) {
        api.loadError = "NVML: libnvidia-ml.so.1 lacks " + missing + " (a driver older than NVML's _v2 API?)";
      } else {
        const nvmlReturn_t r = api.init();
        if (r != NVML_SUCCESS) {
          api.loadError = std::string("NVML: nvmlInit_v2 failed: ") + api.errorString(r) + " (NVML error " +
                          std::to_string(r) + ")";
        }
      }
      if (!api.loadError.empty()) {
        dlclose(lib);
        const std::string err = api.loadError;
        api = Api{};
        api.loadError = err;
      } else {
        api.lib = lib;
      }
    }
  }
  if (!api.loadError.empty()) throw Error(api.loadError);
  return api;
}

std::string why(const Api& a, nvmlReturn_t r) {
  return std::string(a.errorString(r)) + " (NVML error " + std::to_string(r) + ")";
}

}  // namespace

Device deviceFor(int cudaDevice) {
  const Api& a = load();
  Device d;
  d.cudaDevice = cudaDevice;
  char bus[64] = {0};
  const cudaError_t ce = cudaDeviceGetPCIBusId(bus, sizeof(bus), cudaDevice);
  if (ce != cudaSuccess) {
    cudaGetLastError();
    throw Error("NVML: cannot find CUDA device " + std::to_string(cudaDevice) + "'s PCI bus id: cudaDeviceGetPCIBusId: " +
                cudaGetErrorName(ce) + " (" + cudaGetErrorString(ce) + ")");
  }
  d.pciBusId = bus;
  nvmlDevice_t h = nullptr;
  nvmlReturn_t r = a.byPciBusId(bus, &h);
  if (r != NVML_SUCCESS) {
    // Only where the answer is unambiguous: one GPU for CUDA and one for NVML.
    int cudaCount = 0;
    unsigned nvmlCount = 0;
    const bool single = cudaGetDeviceCount(&cudaCount) == cudaSuccess && cudaCount == 1 && a.count && a.byIndex &&
                        a.count(&nvmlCount) == NVML_SUCCESS && nvmlCount == 1 && a.byIndex(0, &h) == NVML_SUCCESS;
    cudaGetLastError();
    if (!single) {
      throw Error("NVML: no NVML device with PCI bus id " + d.pciBusId + " (CUDA device " + std::to_string(cudaDevice) +
                  "): nvmlDeviceGetHandleByPciBusId_v2: " + why(a, r));
    }
  }
  d.handle = h;
  char name[kNameBuffer] = {0};
  d.name = a.name(h, name, kNameBuffer) == NVML_SUCCESS ? std::string(name) : "GPU " + d.pciBusId;
  return d;
}

std::string driverVersion() {
  const Api& a = load();
  char v[kDriverBuffer] = {0};
  const nvmlReturn_t r = a.driver(v, kDriverBuffer);
  if (r != NVML_SUCCESS) throw Error("NVML: nvmlSystemGetDriverVersion: " + why(a, r));
  return v;
}

Sample sample(const Device& d) {
  const Api& a = load();
  auto h = static_cast<nvmlDevice_t>(d.handle);
  Sample s;
  const double nan = std::numeric_limits<double>::quiet_NaN();
  auto note = [&](const char* what, nvmlReturn_t r) {
    s.notes += (s.notes.empty() ? "" : "; ") + std::string(what) + ": " + why(a, r);
  };
  auto read = [&](double& field, nvmlReturn_t r, unsigned v, double scale, const char* what) {
    if (r == NVML_SUCCESS) {
      field = v * scale;
    } else {
      field = nan;
      note(what, r);
    }
  };
  unsigned v = 0;
  nvmlReturn_t r = a.clock(h, NVML_CLOCK_SM, &v);
  read(s.smMHz, r, v, 1.0, "nvmlDeviceGetClockInfo(SM)");
  r = a.clock(h, NVML_CLOCK_MEM, &v);
  read(s.memMHz, r, v, 1.0, "nvmlDeviceGetClockInfo(MEM)");
  r = a.temperature(h, NVML_TEMPERATURE_GPU, &v);
  read(s.temperatureC, r, v, 1.0, "nvmlDeviceGetTemperature");
  r = a.power(h, &v);
  read(s.powerW, r, v, 1e-3, "nvmlDeviceGetPowerUsage");
  return s;
}

double powerW(const Device& d) {
  const Api& a = load();
  unsigned mw = 0;
  const nvmlReturn_t r = a.power(static_cast<nvmlDevice_t>(d.handle), &mw);
  if (r != NVML_SUCCESS) throw Error("NVML: power reading not supported on " + d.name + ": nvmlDeviceGetPowerUsage: " + why(a, r));
  return mw / 1000.0;
}

unsigned long long totalEnergyMj(const Device& d) {
  const Api& a = load();
  unsigned long long mj = 0;
  const nvmlReturn_t r = a.energy(static_cast<nvmlDevice_t>(d.handle), &mj);
  if (r != NVML_SUCCESS) {
    throw Error("NVML: total energy counter not supported on " + d.name + ": nvmlDeviceGetTotalEnergyConsumption: " +
                why(a, r));
  }
  return mj;
}

}  // namespace nvml
}  // namespace cusnn
