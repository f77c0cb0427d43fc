// What the CPU walks of the per-pixel gather kernels (pxg and dual, test/families) share: the constexprs read back
// from a rendered .cu, one output pixel's compacted list of nonzero inputs as the kernels' ballots build it, and
// the epilogue (the warps' sums added in warp order, bias, ReLU, one write per output).

/** A `constexpr int|bool NAME = value;` of a rendered kernel. */
export function constexprOf(src: string, name: string): number {
  const m = new RegExp(`constexpr (?:int|bool) ${name} = ([^;]+);`).exec(src);
  if (!m) throw new Error(`no constexpr ${name}`);
  return Number(m[1]);
}

/** The problem's constexprs of a rendered kernel (per batch item, NCHW). */
export interface PixelGeometry {
  readonly C: number; readonly H: number; readonly W: number; readonly K: number; readonly R: number; readonly S: number;
  readonly SH: number; readonly SW: number; readonly PT: number; readonly PL: number; readonly HO: number; readonly WO: number;
}

export function geometryOf(src: string): PixelGeometry {
  const n = (x: string): number => constexprOf(src, x);
  return { C: n('C'), H: n('H'), W: n('W'), K: n('K'), R: n('R'), S: n('S'), SH: n('SH'), SW: n('SW'), PT: n('PT'), PL: n('PL'), HO: n('HO'), WO: n('WO') };
}

/**
 * Output pixel p's list of batch item n: `warps` warps load the contiguous slices of ceil(pairs / warps) (channel,
 * tap) pairs, a lane 32 apart, and the nonzero values are compacted in ascending pair order, each warp after the
 * warps before it. `keep(pair)` false: the kernel does not load that pair (dual's empty weight rows).
 */
export function pixelList(g: PixelGeometry, x: Float32Array, n: number, p: number, warps: number, keep: (pair: number) => boolean = () => true): { pair: number; v: number }[] {
  const RS = g.R * g.S, PAIRS = g.C * RS, SLICE = Math.ceil(PAIRS / warps), NCH = Math.ceil(SLICE / 32);
  const oy = Math.floor(p / g.WO), ox = p % g.WO, iy0 = oy * g.SH - g.PT, ix0 = ox * g.SW - g.PL;
  const list: { pair: number; v: number }[] = [];
  for (let warp = 0; warp < warps; warp++) {
    const lo = warp * SLICE, hi = Math.min(PAIRS, lo + SLICE);
    for (let j = 0; j < NCH; j++) {
      for (let lane = 0; lane < 32; lane++) {
        const pair = lo + 32 * j + lane;
        const c = Math.floor(pair / RS), tap = pair % RS, iy = iy0 + Math.floor(tap / g.S), ix = ix0 + (tap % g.S);
        const ok = pair < hi && keep(pair) && iy >= 0 && iy < g.H && ix >= 0 && ix < g.W;
        const v = ok ? x[n * g.C * g.H * g.W + (c * g.H + iy) * g.W + ix]! : 0;
        if (v !== 0) list.push({ pair, v });
      }
    }
  }
  return list;
}

/** Pixel p's epilogue: the `warps` partial sums acc[w * K + k] added in warp order (fp32), bias, ReLU; one write each. */
export function storePixel(g: PixelGeometry, acc: Float32Array, warps: number, bias: Float32Array | null, relu: boolean, n: number, p: number, out: Float32Array, writes: Uint8Array): void {
  const f = Math.fround, PIX = g.HO * g.WO;
  for (let k = 0; k < g.K; k++) {
    let s = 0;
    for (let w = 0; w < warps; w++) s = f(s + acc[w * g.K + k]!);
    if (bias) s = f(s + bias[k]!);
    if (relu) s = Math.max(s, 0);
    const o = n * g.K * PIX + k * PIX + p;
    out[o] = s;
    writes[o]! += 1;
  }
}

/** A generated table `static __device__ const TYPE NAME[...] = {...}` (the device pass's values) and its C type. */
export function deviceTable(src: string, name: string): { type: string; values: number[] } {
  // The values are the device pass's (#ifdef __CUDA_ARCH__); the host pass sees one 0.
  const m = new RegExp(`static __device__ const (\\w+) ${name}\\[[^\\]]*\\] = \\{\\n#ifdef __CUDA_ARCH__\\n([^}]*)\\n#else\\n0\\n#endif\\n\\};`).exec(src);
  if (!m) throw new Error(`no table ${name}`);
  return { type: m[1]!, values: m[2]!.split(',').map((v) => v.trim()).filter((v) => v !== '').map(Number) };
}
