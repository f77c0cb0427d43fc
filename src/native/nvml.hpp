// NVML (the NVIDIA Management Library) through dlopen("libnvidia-ml.so.1"): clocks, temperature,
// board power and the total-energy counter of the GPU a runtime runs on. No link-time dependency:
// CI and build machines have no NVML; the library comes with the driver on a GPU host.
//
// The NVML device is found from the CUDA device's PCI bus id (cudaDeviceGetPCIBusId ->
// nvmlDeviceGetHandleByPciBusId_v2), so CUDA_VISIBLE_DEVICES renumbering cannot make us read
// another GPU. Every failure throws cusnn::Error("NVML: ...") naming the call and NVML's reason.
#pragma once

#include <string>

namespace cusnn {
namespace nvml {

// One reading of the GPU. A field NVML does not support on this GPU is NaN and its reason is in
// `notes` (the others are still read).
struct Sample {
  double smMHz = 0, memMHz = 0, temperatureC = 0, powerW = 0;
  std::string notes;
};

// The NVML side of one CUDA device (opaque handle, loaded and initialized on first use).
struct Device {
  void* handle = nullptr;  // nvmlDevice_t
  int cudaDevice = 0;
  std::string name;        // NVML's name of the GPU (for messages)
  std::string pciBusId;    // as CUDA reports it
};

// Loads NVML (once per process) and finds the NVML device of CUDA device `cudaDevice`.
// Throws "NVML: cannot load libnvidia-ml.so.1 (...)", "NVML: nvmlInit_v2 failed: ...",
// "NVML: no NVML device with PCI bus id ... (CUDA device N): ...".
Device deviceFor(int cudaDevice);

// "580.65.06": nvmlSystemGetDriverVersion.
std::string driverVersion();

Sample sample(const Device& d);

// Board power now (nvmlDeviceGetPowerUsage), watts. Throws when unsupported.
double powerW(const Device& d);

// The total-energy counter (nvmlDeviceGetTotalEnergyConsumption): millijoules since the driver
// was loaded. Throws "NVML: total energy counter not supported on <gpu>: <reason>".
unsigned long long totalEnergyMj(const Device& d);

}  // namespace nvml
}  // namespace cusnn
