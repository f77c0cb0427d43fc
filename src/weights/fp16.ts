// IEEE 754 binary16 <-> binary32 conversion on raw bits. Float32 -> float16 rounds to nearest,
// ties to even, produces subnormals, overflows to infinity and keeps NaNs quiet NaNs. Float16 ->
// float32 is exact. Bulk conversions work on Uint32Array views so NaN payloads are never
// canonicalised by passing through JS numbers.

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** Rounds the float32 whose bits are `x` (as an unsigned 32-bit integer) to float16 bits. */
export function f32BitsToF16Bits(x: number): number {
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  const mant = x & 0x7fffff;
  if (exp === 0xff) return mant === 0 ? sign | 0x7c00 : sign | 0x7e00 | (mant >>> 13);
  const e = exp - 112; // re-biased exponent (127 -> 15)
  if (e >= 31) return sign | 0x7c00;
  if (e <= 0) {
    // Subnormal half: value = m * 2^-24 with m = (1.mant * 2^23) >> (14 - e). Below e = -10 even
    // the largest float rounds to zero (it is less than half the smallest subnormal).
    if (e < -10) return sign;
    const m = mant | 0x800000;
    const shift = 14 - e;
    let q = m >>> shift;
    const rem = m & ((1 << shift) - 1);
    const half = 1 << (shift - 1);
    if (rem > half || (rem === half && (q & 1) !== 0)) q++; // a carry into 0x400 is the smallest normal
    return sign | q;
  }
  let h = sign | (e << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && (h & 1) !== 0)) h++; // carries into the exponent, up to inf
  return h;
}

/** float16 bits -> float32 bits (exact). */
export function f16BitsToF32Bits(h: number): number {
  const sign = (h & 0x8000) << 16;
  const exp = (h >>> 10) & 0x1f;
  const mant = h & 0x3ff;
  if (exp === 0x1f) return (sign | 0x7f800000 | (mant << 13)) >>> 0;
  if (exp !== 0) return (sign | ((exp + 112) << 23) | (mant << 13)) >>> 0;
  if (mant === 0) return sign >>> 0;
  // Subnormal half: normalise the mantissa into a float32 normal.
  let e = 113;
  let m = mant;
  while ((m & 0x400) === 0) {
    m <<= 1;
    e--;
  }
  return (sign | (e << 23) | ((m & 0x3ff) << 13)) >>> 0;
}

/** Rounds a number to the nearest float16 and returns its bits. */
export function toF16Bits(x: number): number {
  f32[0] = x; // JS number -> float32 first: double rounding is harmless for values already float32
  return f32BitsToF16Bits(u32[0]!);
}

/** The value of float16 bits as a number. */
export function fromF16Bits(h: number): number {
  u32[0] = f16BitsToF32Bits(h);
  return f32[0]!;
}

let table: Uint32Array | null = null;
/** All 65536 float16 values as float32 bits (256 KiB, built on first use). */
function f16Table(): Uint32Array {
  if (!table) {
    table = new Uint32Array(65536);
    for (let h = 0; h < 65536; h++) table[h] = f16BitsToF32Bits(h);
  }
  return table;
}

/** Converts a float32 array to float16 bits (round to nearest even). */
export function f32ToF16Array(src: Float32Array, dst: Uint16Array = new Uint16Array(src.length)): Uint16Array {
  if (dst.length !== src.length) throw new RangeError(`f32ToF16Array: length ${src.length} vs ${dst.length}`);
  const bits = new Uint32Array(src.buffer, src.byteOffset, src.length);
  for (let i = 0; i < bits.length; i++) dst[i] = f32BitsToF16Bits(bits[i]!);
  return dst;
}

/** Converts float16 bits to a float32 array (exact). */
export function f16ToF32Array(src: Uint16Array, dst: Float32Array = new Float32Array(src.length)): Float32Array {
  if (dst.length !== src.length) throw new RangeError(`f16ToF32Array: length ${src.length} vs ${dst.length}`);
  const t = f16Table();
  const out = new Uint32Array(dst.buffer, dst.byteOffset, dst.length);
  for (let i = 0; i < src.length; i++) out[i] = t[src[i]!]!;
  return dst;
}
