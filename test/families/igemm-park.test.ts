// The igemm split epilogue's parked partial tile (templates/igemm.cu.hbs, redAt): the chunk swizzle must be a
// bijection within each row (the cluster's reduction reads every element exactly once, in 16-byte chunks), and a
// warp's 16-byte stores of one accumulator row must spread over the 8 bank groups in each 8-lane phase (run 91's
// ncu: 32 wavefronts a request before it). The mapping is read from the rendered kernel, so a template change that
// breaks either property fails here.
import { describe, expect, it } from 'vitest';
import { gpuProfile } from '../../src/arch/profiles.js';
import { renderKernel } from '../../src/families/registry.js';
import { igemmCandidates } from '../../src/families/igemm/tiles.js';
import type { IgemmKernelSpec } from '../../src/families/igemm/spec.js';
import { constexprOf } from '../helpers/pixel-walk.js';
import { expectCleanCompile } from '../helpers/compile-clean.js';

/** redAt as the template defines it, with the kernel's BN and RED_SWZ. */
function redAt(bn: number, swz: number, m: number, n: number): number {
  return m * bn + ((((n >> 2) ^ ((m >> 2) & swz)) << 2) | (n & 3));
}

const base: Omit<IgemmKernelSpec, 'bm' | 'bn' | 'tm' | 'tn' | 'warpM' | 'split'> = {
  family: 'igemm', arch: 'sm_90', c: 512, h: 28, w: 28, k: 128, r: 1, s: 1, strideH: 1, strideW: 1, padTop: 0, padLeft: 0,
  ho: 28, wo: 28, bias: true, relu: true, bkc: 8, stages: 4,
};

describe('igemm split epilogue: the parked tile', () => {
  const shapes = [
    { bm: 64, bn: 64, tm: 8, tn: 4, warpM: 8 },
    { bm: 64, bn: 32, tm: 4, tn: 4, warpM: 16 },
    { bm: 32, bn: 64, tm: 4, tn: 4, warpM: 8 },
    { bm: 64, bn: 128, tm: 8, tn: 8, warpM: 8 },
    { bm: 64, bn: 16, tm: 4, tn: 2, warpM: 16 },
  ];
  for (const t of shapes) {
    it(`bm ${t.bm} bn ${t.bn} t${t.tm}x${t.tn} wm${t.warpM}, split 4: a bijection in each row; stores spread over the bank groups`, () => {
      const spec: IgemmKernelSpec = { ...base, ...t, split: 4 };
      const src = renderKernel(spec, [{ model: 'test', layer: 'park' }]).source;
      expect(src).toContain('__device__ __forceinline__ int redAt(int m, int n) { return m * BN + ((((n >> 2) ^ ((m >> 2) & RED_SWZ)) << 2) | (n & 3)); }');
      expect(src).toContain('constexpr int RED_SWZ = BN % 4 == 0 && RED_CHUNKS > 0 && (RED_CHUNKS & (RED_CHUNKS - 1)) == 0 ? (RED_CHUNKS < 8 ? RED_CHUNKS - 1 : 7) : 0;');
      const bn = constexprOf(src, 'BN'), bm = constexprOf(src, 'BM');
      expect([bn, bm]).toEqual([t.bn, t.bm]);
      const swz = Math.min(8, bn / 4) - 1;  // RED_SWZ for these power-of-two widths
      for (let m = 0; m < bm; ++m) {
        const row = new Set<number>();
        for (let n = 0; n < bn; ++n) {
          const a = redAt(bn, swz, m, n);
          expect(Math.floor(a / bn)).toBe(m);
          if (n % 4 === 0) expect(a % 4).toBe(0);
          row.add(a);
        }
        expect(row.size).toBe(bn);
      }
      // The park's 16-byte stores (TN a multiple of 4): lane (lm, ln) of warp (wm, wn) writes row
      // wm*WTM + (i/4)*4*WARP_M + lm*4 + i%4, chunk (wn*WTN + (j/4)*4*WARP_N + ln*4) / 4. Each phase of 8 lanes.
      if (t.tn % 4 === 0) {
        const warpN = 32 / t.warpM, wtm = t.warpM * t.tm, wtn = warpN * t.tn;
        for (let wm = 0; wm < t.bm / wtm; ++wm)
          for (let wn = 0; wn < t.bn / wtn; ++wn)
            for (let i = 0; i < t.tm; ++i)
              for (let j = 0; j < t.tn; j += 4)
                for (let phase = 0; phase < 4; ++phase) {
                  const groups = new Set<number>();
                  for (let lane = phase * 8; lane < phase * 8 + 8; ++lane) {
                    const lm = lane % t.warpM, ln = Math.floor(lane / t.warpM);
                    const m = wm * wtm + Math.floor(i / 4) * 4 * t.warpM + lm * 4 + (i % 4);
                    const n = wn * wtn + Math.floor(j / 4) * 4 * warpN + ln * 4;
                    groups.add((redAt(t.bn, swz, m, n) / 4) % 8);
                  }
                  // 8 lanes along M (warpM >= 8): all 8 groups; fewer lanes along M share groups at most 2 ways.
                  expect(groups.size).toBeGreaterThanOrEqual(t.warpM >= 8 ? 8 : 4);
                }
      }
    });
  }

  it('unsplit kernels have no parked tile', () => {
    const p = gpuProfile('sm_90');
    const one = igemmCandidates(p, { ...base, arch: 'sm_90' }).find((s) => s.split === 1);
    expect(one).toBeDefined();
    expect(renderKernel(one!, [{ model: 'test', layer: 'park' }]).source).not.toContain('redAt');
  });

  it('nvcc compiles the split kernels without warnings or spills (sm_90 clusters of 2, 4 and 16)', async () => {
    const specs: IgemmKernelSpec[] = [
      { ...base, ...shapes[0], split: 16, vec: 4 }, { ...base, ...shapes[1], split: 4 }, { ...base, ...shapes[3], split: 2, vec: 4 },
      { ...base, ...shapes[4], split: 4 },
    ];
    await expectCleanCompile('igemm-park', specs, 'sm_90');
  }, 240_000);
});
