import { describe, expect, it } from 'vitest';
import { TEST_SEED } from './helpers.js';
import { f16BitsToF32Bits, f16ToF32Array, f32ToF16Array, fromF16Bits, toF16Bits } from '../../src/weights/fp16.js';

const bitsOfF32 = (x: number): number => new Uint32Array(new Float32Array([x]).buffer)[0]!;
const f32OfBits = (b: number): number => new Float32Array(new Uint32Array([b]).buffer)[0]!;

describe('float16 known values', () => {
  it.each([
    [1, 0x3c00],
    [-2, 0xc000],
    [0.5, 0x3800],
    [65504, 0x7bff], // largest finite
    [65519.99, 0x7bff], // just below the rounding boundary
    [65520, 0x7c00], // halfway to the next (infinite) step: ties to even -> inf
    [1e6, 0x7c00],
    [-1e6, 0xfc00],
    [Infinity, 0x7c00],
    [-Infinity, 0xfc00],
    [0, 0x0000],
    [-0, 0x8000],
    [2 ** -14, 0x0400], // smallest normal
    [(1023 / 1024) * 2 ** -14, 0x03ff], // largest subnormal
    [2 ** -24, 0x0001], // smallest subnormal
    [2 ** -25, 0x0000], // tie between 0 and 2^-24: even is 0
    [3 * 2 ** -26, 0x0001], // 0.75 ulp rounds up
    [3 * 2 ** -25, 0x0002], // tie between 1 and 2 subnormal ulps: even is 2
    [5 * 2 ** -25, 0x0002], // tie between 2 and 3 ulps: even is 2
    [1e-8, 0x0000],
    [1 + 2 ** -11, 0x3c00], // tie: mantissa 0 is even
    [1 + 3 * 2 ** -11, 0x3c02], // tie between mantissa 1 and 2: 2
    [1 + 2 ** -11 + 2 ** -20, 0x3c01], // above the tie
    [0.1, 0x2e66],
    [1 / 3, 0x3555],
    [-1.5, 0xbe00],
    [2047 * 2 ** -1, 0x63ff], // 1023.5 is exact in fp16
  ])('%s -> %i', (x, h) => {
    expect(toF16Bits(x).toString(16)).toBe(h.toString(16));
  });

  it('maps NaN to a quiet NaN and back to NaN', () => {
    const h = toF16Bits(NaN);
    expect(h & 0x7c00).toBe(0x7c00);
    expect(h & 0x3ff).not.toBe(0);
    expect(fromF16Bits(h)).toBeNaN();
    expect(fromF16Bits(0x7c01)).toBeNaN(); // signalling NaN pattern
    expect(fromF16Bits(0xfe00)).toBeNaN();
  });

  it('decodes subnormals, normals and infinities exactly', () => {
    expect(fromF16Bits(0x0001)).toBe(2 ** -24);
    expect(fromF16Bits(0x03ff)).toBe((1023 / 1024) * 2 ** -14);
    expect(fromF16Bits(0x8200)).toBe(-(2 ** -15));
    expect(fromF16Bits(0x7bff)).toBe(65504);
    expect(fromF16Bits(0x7c00)).toBe(Infinity);
    expect(fromF16Bits(0xfc00)).toBe(-Infinity);
    expect(Object.is(fromF16Bits(0x8000), -0)).toBe(true);
  });
});

describe(`float16 round trips (CUSNN_TEST_SEED=${TEST_SEED})`, () => {
  it('every float16 bit pattern survives f16 -> f32 -> f16 (NaNs stay NaN)', () => {
    for (let h = 0; h < 65536; h++) {
      const back = toF16Bits(fromF16Bits(h));
      if ((h & 0x7c00) === 0x7c00 && (h & 0x3ff) !== 0) expect(Number.isNaN(fromF16Bits(back))).toBe(true);
      else if (back !== h) expect(back.toString(16)).toBe(h.toString(16));
    }
  });

  it('rounds random float32 values to the nearest float16, ties to even (checked by search)', () => {
    // Reference: all finite non-negative float16 values in order (decoding is exact, tested above).
    const values: number[] = [];
    for (let h = 0; h < 0x7c00; h++) values.push(f32OfBits(f16BitsToF32Bits(h)));
    const nearest = (x: number): number => {
      const a = Math.abs(x);
      if (a >= 65520) return x > 0 ? 0x7c00 : 0xfc00;
      let lo = 0;
      let hi = values.length - 1;
      while (hi - lo > 1) {
        const mid = (lo + hi) >> 1;
        if (values[mid]! <= a) lo = mid;
        else hi = mid;
      }
      const dLo = a - values[lo]!;
      const dHi = values[hi]! - a;
      const pick = dLo < dHi ? lo : dHi < dLo ? hi : lo % 2 === 0 ? lo : hi;
      return (x < 0 || Object.is(x, -0) ? 0x8000 : 0) | pick;
    };
    const seed = TEST_SEED;
    let s = seed || 1;
    const rnd = (): number => {
      s ^= s << 13;
      s ^= s >>> 17;
      s ^= s << 5;
      return s >>> 0;
    };
    const src = new Float32Array(100_000);
    for (let i = 0; i < src.length; i++) {
      // Exponents around the float16 range (2^-28 .. 2^17), random sign and mantissa.
      const exp = 127 - 28 + (rnd() % 46);
      src[i] = f32OfBits(((rnd() & 1) << 31) | (exp << 23) | (rnd() & 0x7fffff));
    }
    // Exact ties are rare among random mantissas: add midpoints of neighbouring float16 values.
    for (let i = 0; i < 2000; i++) {
      const j = rnd() % (values.length - 1);
      src[i] = ((values[j]! + values[j + 1]!) / 2) * (i % 2 ? -1 : 1);
    }
    const h = f32ToF16Array(src);
    for (let i = 0; i < src.length; i++) {
      const want = nearest(src[i]!);
      if (h[i] !== want) expect({ x: src[i], bits: bitsOfF32(src[i]!).toString(16), seed, got: h[i]!.toString(16) }).toEqual({ x: src[i], bits: bitsOfF32(src[i]!).toString(16), seed, got: want.toString(16) });
    }
    // The bulk decoder agrees with the scalar one, and the round trip is within half an fp16 ulp.
    const back = f16ToF32Array(h);
    for (let i = 0; i < src.length; i++) {
      expect(back[i]).toBe(fromF16Bits(h[i]!));
      const a = Math.abs(src[i]!);
      if (a >= 2 ** -14 && a < 65504) expect(Math.abs(back[i]! - src[i]!)).toBeLessThanOrEqual(a * 2 ** -11);
    }
  });

  it('preserves the bit pattern of every float16 in bulk decoding (NaN payloads included)', () => {
    const all = new Uint16Array(65536).map((_, i) => i);
    const f = f16ToF32Array(all);
    const bits = new Uint32Array(f.buffer);
    for (let h = 0; h < 65536; h += 1) if (bits[h] !== f16BitsToF32Bits(h)) expect(bits[h]).toBe(f16BitsToF32Bits(h));
  });
});
