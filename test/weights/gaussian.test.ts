import { describe, expect, it } from 'vitest';
import { erf, erfc, normalCdf, normalPdf, normalQuantile, rectifiedGaussianMoments, reluZeroFraction } from '../../src/sparsity/gaussian.js';

// Reference values from mpmath at 30 digits.
const ERFC: readonly (readonly [number, number])[] = [
  [-3, 1.9999779095030014],
  [-1, 1.8427007929497149],
  [-0.5, 1.5204998778130465],
  [0, 1],
  [0.3, 0.67137324054087258],
  [1, 0.15729920705028513],
  [2, 0.0046777349810472658],
  [2.5, 0.00040695201744495894],
  [3, 2.2090496998585441e-5],
  [5, 1.5374597944280349e-12],
  [10, 2.0884875837625448e-45],
  [20, 5.3958656116079009e-176],
];
const QUANTILE: readonly (readonly [number, number])[] = [
  [0.001, -3.0902323061678135],
  [0.05, -1.6448536269514727],
  [0.3, -0.52440051270804082],
  [0.45, -0.12566134685507401],
  [0.5, 0],
  [0.85, 1.0364333894937895],
  [0.975, 1.9599639845400539],
  [0.999, 3.0902323061678133],
];

const rel = (a: number, b: number): number => Math.abs(a - b) / Math.max(Math.abs(b), 1e-300);

describe('erf / erfc', () => {
  it.each(ERFC)('erfc(%d) is accurate to 1e-9 relative', (x, want) => {
    expect(rel(erfc(x), want)).toBeLessThan(1e-9);
  });
  it('erf is odd and erf + erfc = 1', () => {
    for (let x = -6; x <= 6; x += 0.37) {
      expect(erf(-x)).toBeCloseTo(-erf(x), 14);
      expect(erf(x) + erfc(x)).toBeCloseTo(1, 14);
    }
  });
  it('is continuous where the series hands over to the continued fraction', () => {
    expect(rel(erfc(2.5 + 1e-12), erfc(2.5))).toBeLessThan(1e-9);
  });
});

describe('normal distribution', () => {
  it('pdf and cdf known values', () => {
    expect(normalPdf(0)).toBeCloseTo(0.3989422804014327, 15);
    expect(normalCdf(0)).toBe(0.5);
    expect(normalCdf(1.959963984540054)).toBeCloseTo(0.975, 12);
    expect(normalCdf(-40)).toBe(0);
    expect(normalCdf(40)).toBe(1);
  });
  it.each(QUANTILE)('quantile(%d) matches to 1e-9', (p, want) => {
    expect(Math.abs(normalQuantile(p) - want)).toBeLessThan(1e-9 * Math.max(1, Math.abs(want)));
  });
  it('quantile inverts the cdf across the range, tails included', () => {
    const seed = Math.random();
    for (let i = 0; i < 2000; i++) {
      const p = ((i + seed) / 2000) ** 3; // dense in the lower tail
      for (const q of [p, 1 - p]) {
        if (q <= 0 || q >= 1) continue;
        const x = normalQuantile(q);
        const back = q < 0.5 ? normalCdf(x) : 1 - normalCdf(-x);
        expect(rel(back, q), `p=${q}`).toBeLessThan(1e-8);
      }
    }
    expect(normalQuantile(0)).toBe(-Infinity);
    expect(normalQuantile(1)).toBe(Infinity);
    expect(normalQuantile(1.5)).toBeNaN();
  });
});

/** Moments of max(0, X) by Simpson integration over +-12 sd. */
function integrateRelu(m: number, s: number): { mean: number; variance: number } {
  const n = 20000;
  const lo = m - 12 * s;
  const hi = m + 12 * s;
  const h = (hi - lo) / n;
  let e1 = 0;
  let e2 = 0;
  for (let i = 0; i <= n; i++) {
    const x = lo + i * h;
    const w = i === 0 || i === n ? 1 : i % 2 ? 4 : 2;
    const d = normalPdf((x - m) / s) / s;
    const y = Math.max(0, x);
    e1 += w * y * d;
    e2 += w * y * y * d;
  }
  e1 *= h / 3;
  e2 *= h / 3;
  return { mean: e1, variance: e2 - e1 * e1 };
}

describe('rectified Gaussian', () => {
  it('matches numerical integration for random parameters', () => {
    for (let i = 0; i < 20; i++) {
      const m = (Math.random() - 0.5) * 10;
      const s = 0.1 + Math.random() * 4;
      const got = rectifiedGaussianMoments(m, s * s);
      const want = integrateRelu(m, s);
      expect(Math.abs(got.mean - want.mean), `m=${m} s=${s}`).toBeLessThan(1e-6 * (1 + Math.abs(want.mean)));
      expect(Math.abs(got.variance - want.variance), `m=${m} s=${s}`).toBeLessThan(1e-6 * (1 + want.variance));
    }
  });
  it('standard normal input: mean phi(0)/1, variance 1/2 - 1/(2 pi)', () => {
    const r = rectifiedGaussianMoments(0, 1);
    expect(r.mean).toBeCloseTo(1 / Math.sqrt(2 * Math.PI), 14);
    expect(r.variance).toBeCloseTo(0.5 - 1 / (2 * Math.PI), 14);
  });
  it('handles degenerate and extreme inputs', () => {
    expect(rectifiedGaussianMoments(2, 0)).toEqual({ mean: 2, variance: 0 });
    expect(rectifiedGaussianMoments(-2, 0)).toEqual({ mean: 0, variance: 0 });
    const far = rectifiedGaussianMoments(-50, 1);
    expect(far.mean).toBe(0);
    expect(far.variance).toBeGreaterThanOrEqual(0);
    const pos = rectifiedGaussianMoments(50, 4);
    expect(pos.mean).toBeCloseTo(50, 10);
    expect(pos.variance).toBeCloseTo(4, 8);
  });
  it('zero fraction is Phi(-mean/std)', () => {
    expect(reluZeroFraction(0, 3)).toBeCloseTo(0.5, 14);
    expect(reluZeroFraction(-1.959963984540054, 1)).toBeCloseTo(0.975, 12);
    expect(reluZeroFraction(1, 0)).toBe(0);
    expect(reluZeroFraction(-1, 0)).toBe(1);
  });
});
