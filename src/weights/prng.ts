// Deterministic random streams for synthetic weights. Everything is 32-bit integer arithmetic
// (Math.imul, shifts, xor) plus exact float scaling, so a given (seed, key) yields the same bits on
// every machine and JS engine. Each tensor draws from its own stream, seeded from the global seed
// and the FNV-1a hash of its key, so tensors do not depend on the order they are generated in.

/** 32-bit FNV-1a of the UTF-8 bytes of `s`. */
export function fnv1a32(s: string): number {
  let h = 0x811c9dc5;
  for (const b of Buffer.from(s, 'utf8')) h = Math.imul(h ^ b, 0x01000193);
  return h >>> 0;
}

/** Avalanching 32-bit integer finaliser (xor-shift / multiply rounds). */
function mix32(x: number): number {
  x ^= x >>> 16;
  x = Math.imul(x, 0x7feb352d);
  x ^= x >>> 15;
  x = Math.imul(x, 0x846ca68b);
  x ^= x >>> 16;
  return x >>> 0;
}

const TWO_POW_M24 = 2 ** -24;

/** xoshiro128** (Blackman & Vigna), 128-bit state, 32-bit outputs. */
export class Rng {
  private s0: number;
  private s1: number;
  private s2: number;
  private s3: number;

  /** The stream for tensor `key` under global `seed` (an unsigned 32-bit integer). */
  static forKey(seed: number, key: string): Rng {
    return new Rng(seed, fnv1a32(key));
  }

  /** A generator with the given raw state (for checking against the reference sequence). */
  static fromState(s0: number, s1: number, s2: number, s3: number): Rng {
    const r = new Rng(0, 0);
    r.s0 = s0 | 0;
    r.s1 = s1 | 0;
    r.s2 = s2 | 0;
    r.s3 = s3 | 0;
    return r;
  }

  /** Seeds the state from two 32-bit words (the global seed and a key hash). */
  constructor(a: number, b: number) {
    const ha = mix32((a ^ 0x3c6ef372) >>> 0);
    const hb = mix32((b ^ 0xa54ff53a) >>> 0);
    this.s0 = mix32((ha + 0x9e3779b9) ^ hb) | 0;
    this.s1 = mix32((ha + 0x3c6ef372) ^ mix32(hb + 1)) | 0;
    this.s2 = mix32((ha + 0xdaa66d2b) ^ mix32(hb + 2)) | 0;
    this.s3 = mix32((ha + 0x78dde6e4) ^ mix32(hb + 3)) | 0;
    if ((this.s0 | this.s1 | this.s2 | this.s3) === 0) this.s0 = 1; // the all-zero state is a fixed point
  }

  /** Next 32-bit output as an unsigned integer. */
  nextU32(): number {
    const s1 = this.s1;
    const r = Math.imul(rotl(Math.imul(s1, 5), 7), 9);
    const t = s1 << 9;
    this.s2 ^= this.s0;
    this.s3 ^= s1;
    this.s1 ^= this.s2;
    this.s0 ^= this.s3;
    this.s2 ^= t;
    this.s3 = rotl(this.s3, 11);
    return r >>> 0;
  }

  /** Uniform in [0, 1) on a 2^-24 grid: exact in float32 and double. */
  nextUnit(): number {
    return (this.nextU32() >>> 8) * TWO_POW_M24;
  }

  /** Uniform in [lo, hi). */
  uniform(lo: number, hi: number): number {
    return lo + (hi - lo) * this.nextUnit();
  }

  /**
   * Fills `out` with U(-a, a) in bulk: (n - 2^23) * (a / 2^23) for a 24-bit integer n, stored as
   * float32. The loop is the generator inlined on locals (the hot path of synthetic weights).
   */
  fillSymmetric(out: Float32Array, a: number): void {
    let s0 = this.s0;
    let s1 = this.s1;
    let s2 = this.s2;
    let s3 = this.s3;
    const scale = a / 8388608;
    for (let i = 0; i < out.length; i++) {
      const x = Math.imul(s1, 5);
      const r = Math.imul((x << 7) | (x >>> 25), 9);
      const t = s1 << 9;
      s2 ^= s0;
      s3 ^= s1;
      s1 ^= s2;
      s0 ^= s3;
      s2 ^= t;
      s3 = (s3 << 11) | (s3 >>> 21);
      out[i] = ((r >>> 8) - 8388608) * scale;
    }
    this.s0 = s0;
    this.s1 = s1;
    this.s2 = s2;
    this.s3 = s3;
  }
}

const rotl = (x: number, k: number): number => (x << k) | (x >>> (32 - k));
