// The roofline's peaks: measured on the GPU the bench runs on (the addon's probeRoofline: the
// device's clocks, a device-to-device copy and an FFMA-chain kernel on every SM, once at bench
// start), else the arch profile's figures with a note saying why. A profile names one board per
// architecture (sm_90: H100 SXM); an H200 has the same SMs and 43% more bandwidth, so floors drawn
// from the profile there would be wrong by that much.
import { gpuProfile, isArchName, type GpuProfile } from '../arch/profiles.js';
import type { DeviceInfo, LoadedAddon } from '../runtime/addon.js';
import type { RooflineInfo, RooflineProbe } from './results.js';

export interface Peaks {
  readonly peakFp32Tflops: number;
  readonly bandwidthGBs: number;
  readonly roofline: RooflineInfo;
  /** The profile consulted (always: fp32 lanes per SM for the clock-derived peak, and the fallback). */
  readonly profile: GpuProfile;
}

const msg = (e: unknown): string => (e instanceof Error ? e.message : String(e));

/** The profile of the GPU's own architecture when we have one, else --arch's. */
export function profileFor(device: DeviceInfo | null, arch: string): GpuProfile {
  return device && isArchName(device.sm) ? gpuProfile(device.sm) : gpuProfile(arch);
}

/** Peaks from the profile alone, with the reason the probe did not give them. */
export function profilePeaks(profile: GpuProfile, why: string): Peaks {
  return {
    peakFp32Tflops: profile.fp32Tflops,
    bandwidthGBs: profile.memBandwidthGBs,
    roofline: { source: 'profile', note: `peaks of the ${profile.board} (${profile.arch}) profile: ${why}` },
    profile,
  };
}

const round3 = (v: number): number => Math.round(v * 1000) / 1000;

/**
 * Probes the GPU once; falls back to the profile when the addon has no probe (built before it:
 * the mock addon of the CPU tests too), the probe throws, or its figures are not positive.
 */
export function measurePeaks(addon: LoadedAddon, arch: string): Peaks {
  const profile = profileFor(addon.device, arch);
  if (typeof addon.probeRoofline !== 'function') return profilePeaks(profile, `the addon at ${addon.path} has no probeRoofline (built before it: rebuild it)`);
  let m;
  try {
    m = addon.probeRoofline();
  } catch (e) {
    if (/no CUDA device/.test(msg(e))) throw e;
    return profilePeaks(profile, `probeRoofline failed: ${msg(e)}`);
  }
  const ok = [m.copyGBs, m.ffmaTflops, m.smCount].every((v) => Number.isFinite(v) && v > 0);
  if (!ok) return profilePeaks(profile, `probeRoofline gave unusable figures (${JSON.stringify(m)})`);
  // What the clocks promise, beside what was measured: a large gap means throttling or a bad probe.
  const sameArch = addon.device !== null && addon.device.sm === profile.arch;
  const probe: RooflineProbe = {
    smCount: m.smCount, smClockMHz: m.smClockMHz, memClockMHz: m.memClockMHz, memBusWidthBits: m.memBusWidthBits,
    copyBytes: m.copyBytes, copyGBs: round3(m.copyGBs), ffmaTflops: round3(m.ffmaTflops),
    clockPeakFp32Tflops: sameArch ? round3((m.smCount * profile.fp32LanesPerSm * 2 * m.smClockMHz * 1e6) / 1e12) : null,
    clockBandwidthGBs: round3((m.memClockMHz * 1e6 * 2 * m.memBusWidthBits) / 8 / 1e9),
  };
  return {
    peakFp32Tflops: probe.ffmaTflops,
    bandwidthGBs: probe.copyGBs,
    roofline: { source: 'measured', probe },
    profile,
  };
}

/** Roofline floor of one conv: the larger of its useful FLOPs at the peak rate and its minimum bytes at the bandwidth, microseconds. */
export function floorUs(usefulFlops: number, minBytes: number, peaks: Pick<Peaks, 'peakFp32Tflops' | 'bandwidthGBs'>): number {
  return Math.max(usefulFlops / (peaks.peakFp32Tflops * 1e12), minBytes / (peaks.bandwidthGBs * 1e9)) * 1e6;
}
