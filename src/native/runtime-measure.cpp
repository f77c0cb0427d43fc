// The executor's timings and energy (runtime.hpp): graph replays between CUDA events, a step timed
// on the input it reads in a forward, energy from NVML's counter over seconds of replays.
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "nvml.hpp"
#include "runtime-detail.hpp"

namespace cusnn {

void Runtime::ensureEvents(size_t n) {
  while (events_.size() < n) {
    cudaEvent_t e;
    CUSNN_CUDA(cudaEventCreate(&e), "timing");
    events_.push_back(e);
  }
}

// Replays `exec` (2 warm-ups, then `iters` replays each between two events); returns the median
// in microseconds and, when asked, every replay's time.
double Runtime::timeGraphUs(cudaGraphExec_t exec, int iters, std::vector<double>* all) {
  iters = std::max(1, iters);
  ensureEvents(2 * static_cast<size_t>(iters));
  for (int i = 0; i < 2; ++i) CUSNN_CUDA(cudaGraphLaunch(exec, stream_), "timing: warm-up replay");
  for (int i = 0; i < iters; ++i) {
    CUSNN_CUDA(cudaEventRecord(events_[2 * i], stream_), "timing");
    CUSNN_CUDA(cudaGraphLaunch(exec, stream_), "timing: replay");
    CUSNN_CUDA(cudaEventRecord(events_[2 * i + 1], stream_), "timing");
  }
  CUSNN_CUDA(cudaStreamSynchronize(stream_), "timing: replays");
  std::vector<double> us;
  for (int i = 0; i < iters; ++i) {
    float ms = 0;
    CUSNN_CUDA(cudaEventElapsedTime(&ms, events_[2 * i], events_[2 * i + 1]), "timing");
    us.push_back(ms * 1000.0);
  }
  if (all) *all = us;
  return percentile(us, 0.5);
}

Timing Runtime::timeForward(int iters) {
  if (!hasInput_) throw Error("timeForward: no input yet: call run(input) once first (timings on real data only)");
  std::vector<double> us;
  timeGraphUs(exec_, iters, &us);
  return timingOf(us);
}

// A step is timed on what it reads in a forward. Layers share activation buffers (lowering, pass 3),
// so after a whole forward a step's input view mostly holds a later layer's values (199 of
// DenseNet-201's 200 convs; a generated kernel's time follows its input's zeros). The steps before it
// run again first, eagerly, from the program input, which the lowering keeps intact. Counters are
// reset as a forward does; timeStep restores the last forward's afterwards. Every call replays from
// step 0 (at most one eager forward, milliseconds, against 100+ timed replays): resuming where the
// last call stopped would have to know which buffers the steps since overwrote and keep the zero
// counters (dynamic mode's branches) consistent.
void Runtime::replayPrefix(int step) {
  if (step == 0) return;
  resetCounters(stream_, "timeStep: reset counters for the steps before");
  for (int j = 0; j < step; ++j) enqueueStep(j, stream_, Ctx::Eager);
  CUSNN_CUDA(cudaStreamSynchronize(stream_), "timeStep: the steps before " + where(step));
}

Timing Runtime::timeStep(int step, int iters, int copies) {
  if (step < 0 || step >= static_cast<int>(prog_.steps.size())) {
    throw Error("timeStep: step " + std::to_string(step) + " is out of range (0.." +
                std::to_string(prog_.steps.size()) + ")");
  }
  if (!hasInput_) throw Error("timeStep: no input yet: call run(input) once first (timings on real data only)");
  if (copies < 1 || copies > 64) throw Error("timeStep: copies must be in [1, 64], got " + std::to_string(copies));
  const auto key = std::make_pair(step, copies);
  auto it = stepGraphs_.find(key);
  if (it == stepGraphs_.end()) it = stepGraphs_.emplace(key, capture(step, copies)).first;
  // The replays add to the step's zero counter: keep the counters of the last forward.
  const auto saved = zeroCounts();
  replayPrefix(step);
  std::vector<double> us;
  timeGraphUs(it->second.second, iters, &us);
  if (!saved.empty()) {
    CUSNN_CUDA(cudaMemcpyAsync(counters_, saved.data(), saved.size() * sizeof(unsigned long long),
                               cudaMemcpyHostToDevice, stream_), "timeStep: restore counters");
    CUSNN_CUDA(cudaStreamSynchronize(stream_), "timeStep: restore counters");
  }
  for (double& u : us) u /= copies;
  return timingOf(us);
}

EnergyResult Runtime::measureEnergy(double minSeconds, int idleMs) {
  using Clock = std::chrono::steady_clock;
  const auto seconds = [](Clock::time_point a, Clock::time_point b) { return std::chrono::duration<double>(b - a).count(); };
  if (!hasInput_) throw Error("measureEnergy: no input yet: call run(input) once first (energy on real data only)");
  if (!(minSeconds > 0) || minSeconds > 600) {
    throw Error("measureEnergy: minSeconds must be in (0, 600], got " + std::to_string(minSeconds));
  }
  if (idleMs < 0 || idleMs > 60000) throw Error("measureEnergy: idleMs must be in [0, 60000], got " + std::to_string(idleMs));
  const std::string w = "measureEnergy";
  // NVML first: no GPU work at all where the counter is missing.
  const nvml::Device dev = nvml::deviceFor(opt_.device);
  nvml::totalEnergyMj(dev);

  // Replay time, so that the host checks the clock about every 20 ms of GPU work.
  CUSNN_CUDA(cudaStreamSynchronize(stream_), w);
  const auto p0 = Clock::now();
  for (int i = 0; i < 3; ++i) CUSNN_CUDA(cudaGraphLaunch(exec_, stream_), w + ": probe replay");
  CUSNN_CUDA(cudaStreamSynchronize(stream_), w + ": probe replays");
  const double probe = std::max(1e-7, seconds(p0, Clock::now()) / 3);
  const long long chunk = std::max(1LL, std::min(1000LL, static_cast<long long>(std::ceil(0.02 / probe))));

  EnergyResult r;
  r.gpu = dev.name;
  if (idleMs > 0) std::this_thread::sleep_for(std::chrono::milliseconds(idleMs));
  r.idlePowerW = nvml::powerW(dev);

  cudaEvent_t ev[2] = {nullptr, nullptr};
  auto destroy = [&]() {
    for (auto& e : ev) {
      if (e) cudaEventDestroy(e);
      e = nullptr;
    }
  };
  try {
    for (auto& e : ev) CUSNN_CUDA(cudaEventCreateWithFlags(&e, cudaEventDisableTiming), w);
    auto launchChunk = [&](cudaEvent_t done) {
      for (long long i = 0; i < chunk; ++i) CUSNN_CUDA(cudaGraphLaunch(exec_, stream_), w + ": replay");
      CUSNN_CUDA(cudaEventRecord(done, stream_), w);
      r.inferences += chunk;
    };
    const unsigned long long e0 = nvml::totalEnergyMj(dev);
    const auto t0 = Clock::now();
    launchChunk(ev[0]);
    for (int k = 0;; ++k) {
      // One chunk stays queued behind the one waited for: the GPU never runs dry.
      launchChunk(ev[(k + 1) % 2]);
      CUSNN_CUDA(cudaEventSynchronize(ev[k % 2]), w + ": replays");
      if (seconds(t0, Clock::now()) >= minSeconds) break;
    }
    CUSNN_CUDA(cudaStreamSynchronize(stream_), w + ": replays");
    const unsigned long long e1 = nvml::totalEnergyMj(dev);
    const auto t1 = Clock::now();
    destroy();
    r.windowSeconds = seconds(t0, t1);
    if (e1 <= e0) {
      throw Error("NVML: the total energy counter of " + dev.name + " did not advance over " +
                  std::to_string(r.windowSeconds) + " s of replays (" + std::to_string(e0) + " -> " + std::to_string(e1) +
                  " mJ)");
    }
    r.energyMj = static_cast<double>(e1 - e0);
    r.mJPerInference = r.energyMj / static_cast<double>(r.inferences);
    r.avgPowerW = r.energyMj / 1000.0 / r.windowSeconds;
    r.replayUs = r.windowSeconds * 1e6 / static_cast<double>(r.inferences);
  } catch (...) {
    cudaStreamSynchronize(stream_);
    destroy();
    cudaGetLastError();
    throw;
  }
  return r;
}

}  // namespace cusnn
