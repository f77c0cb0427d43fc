// Roofline probe: what the GPU the bench runs on can do, measured once at bench start, so the
// per-layer roofline floors use this board's figures and not a profile's (an H200 is not an H100).
#pragma once

#include <cstddef>

namespace cusnn {

struct RooflineProbe {
  int smCount = 0;
  /** Maximum SM and memory clocks the device reports (MHz) and the memory bus width (bits). */
  double smClockMHz = 0;
  double memClockMHz = 0;
  int memBusWidthBits = 0;
  /** Bytes of one device-to-device copy and the best repetition's rate (read + write), GB/s. */
  double copyBytes = 0;
  double copyGBs = 0;
  /** Best repetition of the FFMA-chain kernel on every SM, TFLOP/s (2 FLOP per FFMA). */
  double ffmaTflops = 0;
};

/** Runs both measurements on `device` (a few hundred ms); throws cusnn::Error on a CUDA failure. */
RooflineProbe probeRoofline(int device, std::size_t copyBytes);

}  // namespace cusnn
