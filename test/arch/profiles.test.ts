import { describe, expect, it } from 'vitest';
import { ARCH_NAMES, gpuProfile, occupancy } from '../../src/arch/profiles.js';

describe('GPU profiles', () => {
  it('knows every architecture and rejects others by name', () => {
    for (const a of ARCH_NAMES) {
      const p = gpuProfile(a);
      expect(p.arch).toBe(a);
      // peak = SMs x lanes x 2 x clock, within rounding of the datasheet figure
      expect(p.smCount * p.fp32LanesPerSm * 2 * p.boostClockGhz / 1000).toBeCloseTo(p.fp32Tflops, 0);
    }
    expect(() => gpuProfile('sm_61')).toThrow(/unknown arch 'sm_61' \(known: sm_70/);
  });

  it('occupancy follows CUDA rules', () => {
    const h100 = gpuProfile('sm_90');
    expect(occupancy(h100, 256, 32, 0)).toMatchObject({ blocksPerSm: 8, fraction: 1 });
    // 128 regs/thread: 64K regs / (128*256) = 2 blocks of 256 threads
    expect(occupancy(h100, 256, 128, 0)).toMatchObject({ blocksPerSm: 2, limitedBy: 'registers' });
    // 100 KiB of shared memory per block: 228 KiB / (100 + 1 reserved) = 2
    expect(occupancy(h100, 64, 32, 100 * 1024)).toMatchObject({ blocksPerSm: 2, limitedBy: 'shared memory' });
    expect(occupancy(h100, 32, 16, 0)).toMatchObject({ blocksPerSm: 32, limitedBy: 'blocks' });
    // Turing: 1024 threads per SM, 64 KiB
    const t = gpuProfile('sm_75');
    expect(occupancy(t, 512, 32, 0)).toMatchObject({ blocksPerSm: 2, fraction: 1, limitedBy: 'threads' });
    expect(occupancy(t, 64, 32, 70 * 1024).blocksPerSm).toBe(0);
  });
});
