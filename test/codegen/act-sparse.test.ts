// Activation-sparse kernel family: window case table, naming, rendering, and a CPU emulation of
// the generated kernel that proves it computes the convolution (until the GPU tests run it).
import { describe, expect, it } from 'vitest';
import { renderActSparseKernel, windowContributions, type WindowTerm } from '../../src/families/act-sparse/render.js';
import { render, TEMPLATES_DIR } from '../../src/codegen/handlebars.js';
import { isCIdentifier } from '../../src/codegen/naming.js';
import { sharedLayout, windowOf } from '../../src/families/act-sparse/resources.js';
import { actSparseName as kernelName, validateActSparseSpec, type ActSparseKernelSpec } from '../../src/families/act-sparse/spec.js';
import { mulberry32 } from '../helpers/random.js';

type Spec = ActSparseKernelSpec;

const BASE: Spec = {
  family: 'act-sparse', arch: 'sm_90',
  c: 128, h: 14, w: 14, k: 32, r: 3, s: 3, strideH: 1, strideW: 1, padTop: 1, padLeft: 1, ho: 14, wo: 14,
  bias: false, relu: false,
  th: 2, tw: 7, tc: 16, kb: 32, cs: 2,
};

/** A conv spec with output size from the padding (symmetric unless ho/wo are given). */
function conv(p: Partial<Spec> & Pick<Spec, 'c' | 'h' | 'w' | 'k' | 'r' | 's'>): Spec {
  const strideH = p.strideH ?? 1;
  const strideW = p.strideW ?? 1;
  const padTop = p.padTop ?? Math.floor((p.r - 1) / 2);
  const padLeft = p.padLeft ?? Math.floor((p.s - 1) / 2);
  const ho = p.ho ?? Math.floor((p.h + 2 * padTop - p.r) / strideH) + 1;
  const wo = p.wo ?? Math.floor((p.w + 2 * padLeft - p.s) / strideW) + 1;
  return { ...BASE, ...p, strideH, strideW, padTop, padLeft, ho, wo };
}

// ---------------------------------------------------------------------------------------------
// (a) windowContributions against brute force

function bruteForce(spec: Spec): WindowTerm[][] {
  const [wh, ww] = windowOf(spec);
  const out: WindowTerm[][] = Array.from({ length: wh * ww }, () => []);
  for (let oy = 0; oy < spec.th; oy++) {
    for (let ox = 0; ox < spec.tw; ox++) {
      for (let rr = 0; rr < spec.r; rr++) {
        for (let ss = 0; ss < spec.s; ss++) {
          const row = oy * spec.strideH + rr;
          const col = ox * spec.strideW + ss;
          out[row * ww + col]!.push({ rr, ss, oy, ox });
        }
      }
    }
  }
  for (const terms of out) terms.sort((a, b) => a.oy - b.oy || a.ox - b.ox);
  return out;
}

const WINDOW_SPECS: [string, Spec][] = [
  ['3x3 s1 p1', conv({ c: 8, h: 14, w: 14, k: 32, r: 3, s: 3, th: 2, tw: 7 })],
  ['3x3 s2 p1', conv({ c: 8, h: 15, w: 15, k: 32, r: 3, s: 3, strideH: 2, strideW: 2, th: 4, tw: 3 })],
  ['1x1 s1', conv({ c: 8, h: 14, w: 14, k: 32, r: 1, s: 1, th: 2, tw: 7 })],
  ['1x1 s2', conv({ c: 8, h: 14, w: 14, k: 32, r: 1, s: 1, strideH: 2, strideW: 2, th: 3, tw: 4 })],
  ['5x5 s1 p2', conv({ c: 8, h: 13, w: 13, k: 32, r: 5, s: 5, th: 3, tw: 5 })],
  ['7x7 s2 p3', conv({ c: 3, h: 31, w: 31, k: 64, r: 7, s: 7, strideH: 2, strideW: 2, th: 4, tw: 6 })],
  ['tiles not dividing the output', conv({ c: 8, h: 9, w: 11, k: 32, r: 3, s: 3, th: 4, tw: 5 })],
  ['1x3 s2x1', conv({ c: 8, h: 9, w: 11, k: 32, r: 1, s: 3, strideH: 2, th: 2, tw: 4 })],
];

describe('windowContributions', () => {
  it.each(WINDOW_SPECS)('matches brute-force enumeration: %s', (_, spec) => {
    const got = windowContributions(spec);
    expect(got).toEqual(bruteForce(spec));
    // Every (output pixel, filter tap) pair appears exactly once.
    expect(got.flat().length).toBe(spec.th * spec.tw * spec.r * spec.s);
  });

  it('leaves the rows and columns between 1x1 stride-2 taps empty', () => {
    const spec = WINDOW_SPECS[3]![1];
    const [, ww] = windowOf(spec);
    windowContributions(spec).forEach((terms, p) => {
      const row = Math.floor(p / ww);
      const col = p % ww;
      expect(terms.length).toBe(row % 2 === 0 && col % 2 === 0 ? 1 : 0);
    });
  });
});

// ---------------------------------------------------------------------------------------------
// (c) names

describe('kernelName', () => {
  it('follows the documented pattern', () => {
    expect(kernelName(BASE)).toBe('act3x3_c128_h14_w14_k32_th2_tw7_tc16_kb32_cs2_sm90');
    expect(kernelName({ ...BASE, bias: true, relu: true })).toBe('act3x3_c128_h14_w14_k32_th2_tw7_tc16_kb32_cs2_bias_relu_sm90');
    expect(kernelName(conv({ c: 64, h: 56, w: 56, k: 64, r: 3, s: 3, strideH: 2, strideW: 2 }))).toBe(
      'act3x3_s2_c64_h56_w56_k64_th2_tw7_tc16_kb32_cs2_sm90');
    // TensorFlow 'same' with stride 2 on an even size pads (0, 1): pad and output both show.
    expect(kernelName(conv({ c: 64, h: 56, w: 56, k: 64, r: 3, s: 3, strideH: 2, strideW: 2, padTop: 0, padLeft: 0, ho: 28, wo: 28 }))).toBe(
      'act3x3_s2_p0_c64_h56_w56_k64_o28x28_th2_tw7_tc16_kb32_cs2_sm90');
    expect(kernelName(conv({ c: 3, h: 224, w: 224, k: 64, r: 7, s: 7, strideH: 2, strideW: 2, arch: 'sm_70' }))).toBe(
      'act7x7_s2_c3_h224_w224_k64_th2_tw7_tc16_kb32_cs2_sm70');
    expect(kernelName(conv({ c: 8, h: 9, w: 9, k: 32, r: 1, s: 3, strideH: 2, padLeft: 0 }))).toBe(
      'act1x3_s2x1_p0_c8_h9_w9_k32_th2_tw7_tc16_kb32_cs2_sm90');
  });

  it('is deterministic, a valid C identifier, and distinct for distinct specs', () => {
    let seed = 12345;
    const rnd = (n: number): number => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return seed % n;
    };
    const byName = new Map<string, string>();
    const archs = ['sm_70', 'sm_75', 'sm_80', 'sm_86', 'sm_89', 'sm_90'] as const;
    for (let i = 0; i < 20000; i++) {
      const spec: Spec = {
        family: 'act-sparse', arch: archs[rnd(6)]!,
        c: 1 + rnd(4), h: 1 + rnd(3), w: 1 + rnd(3), k: 1 + rnd(3), r: 1 + rnd(3), s: 1 + rnd(3),
        strideH: 1 + rnd(2), strideW: 1 + rnd(2), padTop: rnd(3), padLeft: rnd(3), ho: 1 + rnd(3), wo: 1 + rnd(3),
        bias: rnd(2) === 1, relu: rnd(2) === 1, th: 1 + rnd(2), tw: 1 + rnd(2), tc: 1 + rnd(2), kb: 32 * (1 + rnd(2)), cs: 1 + rnd(2),
      };
      const name = kernelName(spec);
      expect(kernelName({ ...spec })).toBe(name);
      expect(isCIdentifier(name)).toBe(true);
      const key = JSON.stringify(spec, Object.keys(spec).sort());
      const prev = byName.get(name);
      if (prev !== undefined) expect(prev).toBe(key);
      else byName.set(name, key);
    }
    expect(byName.size).toBeGreaterThan(5000);
  });

  it('changes when any field that changes the code changes', () => {
    const base = kernelName(BASE);
    const variants: Partial<Spec>[] = [
      { c: 64 }, { h: 15 }, { w: 15 }, { k: 64 }, { r: 5 }, { s: 5 }, { strideH: 2 }, { strideW: 2 },
      { padTop: 0 }, { padLeft: 0 }, { ho: 13 }, { wo: 13 }, { bias: true }, { relu: true },
      { th: 4 }, { tw: 4 }, { tc: 8 }, { kb: 64 }, { cs: 1 }, { arch: 'sm_80' },
    ];
    const names = new Set([base]);
    for (const v of variants) names.add(kernelName({ ...BASE, ...v }));
    expect(names.size).toBe(variants.length + 1);
  });

  it('rejects malformed specs', () => {
    expect(() => kernelName({ ...BASE, c: 0 })).toThrow(/c must be/);
    expect(() => kernelName({ ...BASE, th: 1.5 })).toThrow(/th must be/);
  });
});

// ---------------------------------------------------------------------------------------------
// Rendering

describe('renderActSparseKernel', () => {
  const served = [{ model: 'resnet50', layer: 'conv4_block1_2_conv' }, { model: 'resnet50', layer: 'conv4_block2_2_conv' }];

  it('is deterministic and self-describing', () => {
    const a = renderActSparseKernel({ ...BASE, bias: true, relu: true }, served);
    const b = renderActSparseKernel({ ...BASE, bias: true, relu: true }, served);
    expect(a.source).toBe(b.source);
    expect(a.name).toBe('act3x3_c128_h14_w14_k32_th2_tw7_tc16_kb32_cs2_bias_relu_sm90');
    const src = a.source;
    expect(src.startsWith('// ====')).toBe(true);
    expect(src).toContain('//   resnet50  conv4_block1_2_conv');
    expect(src).toContain('//   resnet50  conv4_block2_2_conv');
    expect(src).toContain(`// ${a.name}\n`);
    expect(src).toMatch(/grid +\(14, 1, batch\)/);
    expect(src).toMatch(/shared +3520 bytes dynamic/);
    // No template leftovers, no absolute paths, no dates.
    expect(src).not.toMatch(/\{\{|\}\}/);
    expect(src).not.toContain(process.cwd());
    expect(src).not.toMatch(/\b20\d\d-\d\d-\d\d\b/);
    // The ABI.
    expect(src).toContain(`extern "C" cudaError_t cusnn_launch_${a.name}(const float* in, long long inBatchStride,`);
    expect(src).toMatch(/int batch, cudaStream_t stream\) \{/);
    expect(src).toContain(`extern "C" const CusnnKernelInfo cusnn_info_${a.name} = {`);
    expect(src).toContain(`extern "C" __global__ void __launch_bounds__(THREADS, 1)\n${a.name}(`);
    // No opt-in below 48 KiB; no reduction code without slices.
    expect(src).not.toContain('cudaFuncSetAttribute');
    expect(renderActSparseKernel({ ...BASE, cs: 1 }, []).source).not.toContain('red[');
    expect(renderActSparseKernel({ ...BASE, cs: 1 }, []).source).toContain('(no layers listed)');
  });

  it('renders strictly from the package templates/ folder', () => {
    expect(TEMPLATES_DIR.replace(/\\/g, '/')).toMatch(/\/templates\/$/);
    // strict: a variable the renderer forgot is an error, not an empty string in the kernel.
    expect(() => render('act-sparse.cu.hbs', { name: 'x' })).toThrow(/not defined/);
  });

  it('opts in to more than 48 KiB of shared memory only when needed', () => {
    const big = conv({ c: 256, h: 7, w: 7, k: 32, r: 3, s: 3, th: 7, tw: 7, tc: 128 });
    expect(sharedLayout(big).totalBytes).toBeGreaterThan(48 * 1024);
    expect(renderActSparseKernel(big, []).source).toContain('cudaFuncSetAttribute');
  });

  it('rejects specs the kernel cannot run', () => {
    expect(() => validateActSparseSpec({ ...BASE, kb: 48 })).toThrow(/multiple of 32/);
    expect(() => validateActSparseSpec({ ...BASE, kb: 512, cs: 4 })).toThrow(/1024/);
    expect(() => validateActSparseSpec({ ...BASE, arch: 'sm_75', tc: 512, th: 14, tw: 14, ho: 14, wo: 14 })).toThrow(/shared memory/);
    expect(() => renderActSparseKernel({ ...BASE, kb: 16 }, [])).toThrow(/multiple of 32/);
  });
});

// ---------------------------------------------------------------------------------------------
// (b) CPU emulation of the generated kernel

/** What the emulator reads back from a generated source: its literals and its case table. */
interface ParsedKernel {
  readonly ints: ReadonlyMap<string, number>;
  readonly bools: ReadonlyMap<string, boolean>;
  readonly cases: ReadonlyMap<number, readonly { acc: number; w: number }[]>;
  readonly skipIdle: boolean;
  readonly rowGuard: boolean;
  readonly colGuard: boolean;
}

function parseKernel(source: string): ParsedKernel {
  const ints = new Map<string, number>();
  const bools = new Map<string, boolean>();
  for (const m of source.matchAll(/^constexpr int (\w+) = (\d+);$/gm)) ints.set(m[1]!, Number(m[2]));
  for (const m of source.matchAll(/^constexpr bool (\w+) = (true|false);$/gm)) bools.set(m[1]!, m[2] === 'true');
  const cases = new Map<number, { acc: number; w: number }[]>();
  let current: { acc: number; w: number }[] | null = null;
  for (const line of source.split('\n')) {
    const c = /^\s*case (\d+):/.exec(line);
    if (c) {
      expect(cases.has(Number(c[1]))).toBe(false);
      current = [];
      cases.set(Number(c[1]), current);
      continue;
    }
    const t = /^\s*acc\[(\d+)\] \+= v \* wr\[(\d+)\];/.exec(line);
    if (t) {
      expect(current).not.toBeNull();
      current!.push({ acc: Number(t[1]), w: Number(t[2]) });
      continue;
    }
    if (/^\s*(break;|default:)/.test(line)) current = null;
  }
  return {
    ints, bools, cases,
    skipIdle: /&& feedsOutput\(row, col\)\)/.test(source),
    rowGuard: /if \([^)]*oy0 \+ oy < HO/.test(source),
    colGuard: /if \([^)]*ox0 \+ ox < WO/.test(source),
  };
}

/**
 * Statements of the template whose logic emulate() mirrors line for line. If one changes, the
 * emulator must change with it; this list makes that impossible to miss.
 */
const MIRRORED_STATEMENTS = [
  'const int oy0 = (tile / TILES_W) * TH;',
  'const int ox0 = (tile % TILES_W) * TW;',
  'const int iy0 = oy0 * STRIDE_H - PAD_TOP;',
  'const int ix0 = ox0 * STRIDE_W - PAD_LEFT;',
  'const int k = blockIdx.y * KB + kx;',
  'const int tid = slice * KB + kx;',
  'const float* inItem = in + blockIdx.z * inBatchStride;',
  'for (int c0 = 0; c0 < C; c0 += TC) {',
  'const int nc = C - c0 < TC ? C - c0 : TC;',
  'for (int ci = warp; ci < nc; ci += WARPS) {',
  'const float* plane = inItem + (c0 + ci) * (H * W);',
  'const int row = e / WIN_W;',
  'if (e < WIN && iy >= 0 && iy < H && ix >= 0 && ix < W',
  'v = __ldg(plane + iy * W + ix);',
  'const int slot = n + __popc(nonzero & lowerLanes);',
  'for (int ci = slice; ci < nc; ci += CS) {',
  'const float* wc = weights + (c0 + ci) * (R * S * K) + k;',
  'wr[i] = kValid ? __ldg(wc + i * K) : 0.0f;',
  'switch (listPos[j]) {',
  'const float b = HAS_BIAS ? __ldg(bias + k) : 0.0f;',
  'float* outK = out + blockIdx.z * outBatchStride + k * (HO * WO);',
  'outK[(oy0 + oy) * WO + ox0 + ox] = y;',
];
const MIRRORED_REDUCTION = [
  'red[((slice - 1) * TH * TW + i) * KB + kx] = acc[i];',
  'for (int sl = 1; sl < CS; ++sl) {',
  'acc[i] += red[((sl - 1) * TH * TW + i) * KB + kx];',
];


const popc = (x: number): number => {
  let n = 0;
  for (let v = x >>> 0; v !== 0; v &= v - 1) n++;
  return n;
};

interface Buffers {
  /** Input buffer; the kernel's `in` points at inOffset, batch items inBatchStride apart. */
  input: Float32Array; inOffset: number; inBatchStride: number;
  weights: Float32Array; bias: Float32Array;
  output: Float32Array; outOffset: number; outBatchStride: number;
  batch: number;
}

/**
 * Runs the kernel's algorithm block by block, thread by thread, with the generated literals and
 * case table and a byte-exact shared memory (filled with garbage at block start, so reading
 * anything not written in the same block shows up as NaN or a wild position). Returns how often
 * each element of the output buffer was written.
 */
function emulate(src: ParsedKernel, buf: Buffers): Uint8Array {
  const I = (n: string): number => {
    const v = src.ints.get(n);
    if (v === undefined) throw new Error(`generated source lacks constexpr int ${n}`);
    return v;
  };
  const B = (n: string): boolean => {
    const v = src.bools.get(n);
    if (v === undefined) throw new Error(`generated source lacks constexpr bool ${n}`);
    return v;
  };
  const [C, H, W, K, R, S] = ['C', 'H', 'W', 'K', 'R', 'S'].map(I) as [number, number, number, number, number, number];
  const [SH, SW, PT, PL, HO, WO] = ['STRIDE_H', 'STRIDE_W', 'PAD_TOP', 'PAD_LEFT', 'HO', 'WO'].map(I) as [number, number, number, number, number, number];
  const [TH, TW, TC, KB, CS] = ['TH', 'TW', 'TC', 'KB', 'CS'].map(I) as [number, number, number, number, number];
  const HAS_BIAS = B('HAS_BIAS');
  const APPLY_RELU = B('APPLY_RELU');
  const THREADS = KB * CS;
  const WARPS = THREADS / 32;
  const WIN_W = (TW - 1) * SW + S;
  const WIN = ((TH - 1) * SH + R) * WIN_W;
  const TILES_H = Math.ceil(HO / TH);
  const TILES_W = Math.ceil(WO / TW);
  const SHARED = I('SHARED_BYTES');
  const VALS = I('VALS_OFFSET');
  const POS = I('POS_OFFSET');
  const COUNT = I('COUNT_OFFSET');
  expect(KB % 32).toBe(0);
  expect(POS).toBeGreaterThanOrEqual(VALS + TC * WIN * 4);
  expect(COUNT).toBeGreaterThanOrEqual(POS + TC * WIN * 2);
  expect(SHARED).toBeGreaterThanOrEqual(COUNT + TC * 4);
  expect(SHARED).toBeGreaterThanOrEqual((CS - 1) * TH * TW * KB * 4);

  const writes = new Uint8Array(buf.output.length);
  const smem = new ArrayBuffer(SHARED);
  const smemBytes = new Uint8Array(smem);
  const vals = new Float32Array(smem, VALS, TC * WIN);
  const pos = new Uint16Array(smem, POS, TC * WIN);
  const count = new Int32Array(smem, COUNT, TC);
  const red = new Float32Array(smem, 0, Math.floor(SHARED / 4));
  const PIX = TH * TW;
  const acc = new Float32Array(THREADS * PIX);
  const wr = new Float32Array(R * S);
  const vlane = new Float32Array(32);
  const elane = new Int32Array(32);

  for (let bz = 0; bz < buf.batch; bz++) {
    for (let by = 0; by < Math.ceil(K / KB); by++) {
      for (let bx = 0; bx < TILES_H * TILES_W; bx++) {
        smemBytes.fill(0xff); // garbage: NaN floats, position 65535, count -1
        acc.fill(0);
        const oy0 = Math.floor(bx / TILES_W) * TH;
        const ox0 = (bx % TILES_W) * TW;
        const iy0 = oy0 * SH - PT;
        const ix0 = ox0 * SW - PL;
        const inItem = buf.inOffset + bz * buf.inBatchStride;

        for (let c0 = 0; c0 < C; c0 += TC) {
          const nc = Math.min(TC, C - c0);
          // (1) compaction, warp by warp, lane by lane
          for (let warp = 0; warp < WARPS; warp++) {
            for (let ci = warp; ci < nc; ci += WARPS) {
              let n = 0;
              for (let e0 = 0; e0 < WIN; e0 += 32) {
                let ballot = 0;
                for (let lane = 0; lane < 32; lane++) {
                  const e = e0 + lane;
                  const row = Math.floor(e / WIN_W);
                  const col = e - row * WIN_W;
                  const iy = iy0 + row;
                  const ix = ix0 + col;
                  let v = 0;
                  const feeds = !src.skipIdle || (row % SH < R && col % SW < S);
                  if (e < WIN && iy >= 0 && iy < H && ix >= 0 && ix < W && feeds) {
                    v = buf.input[inItem + (c0 + ci) * H * W + iy * W + ix]!;
                  }
                  vlane[lane] = v;
                  elane[lane] = e;
                  if (v !== 0) ballot |= 1 << lane;
                }
                for (let lane = 0; lane < 32; lane++) {
                  if (vlane[lane] === 0) continue;
                  const slot = n + popc(ballot & (2 ** lane - 1));
                  if (slot >= WIN) throw new Error('list overflow');
                  vals[ci * WIN + slot] = vlane[lane]!;
                  pos[ci * WIN + slot] = elane[lane]!;
                }
                n += popc(ballot);
              }
              count[ci] = n;
            }
          }
          // __syncthreads
          // (2) scatter, thread by thread
          for (let slice = 0; slice < CS; slice++) {
            for (let kx = 0; kx < KB; kx++) {
              const k = by * KB + kx;
              const kValid = k < K;
              const a = (slice * KB + kx) * PIX;
              for (let ci = slice; ci < nc; ci += CS) {
                for (let i = 0; i < R * S; i++) wr[i] = kValid ? buf.weights[(c0 + ci) * R * S * K + i * K + k]! : 0;
                const n = count[ci]!;
                if (n < 0 || n > WIN) throw new Error(`bad count ${n}`);
                for (let j = 0; j < n; j++) {
                  const v = vals[ci * WIN + j]!;
                  const terms = src.cases.get(pos[ci * WIN + j]!) ?? [];
                  for (const t of terms) acc[a + t.acc] = Math.fround(acc[a + t.acc]! + v * wr[t.w]!);
                }
              }
            }
          }
          // __syncthreads
        }
        // (3) slice reduction through shared memory, fixed order
        if (CS > 1) {
          for (let slice = 1; slice < CS; slice++) {
            for (let kx = 0; kx < KB; kx++) {
              for (let i = 0; i < PIX; i++) {
                const idx = ((slice - 1) * PIX + i) * KB + kx;
                if (idx >= red.length) throw new Error('reduction overflows shared memory');
                red[idx] = acc[(slice * KB + kx) * PIX + i]!;
              }
            }
          }
          for (let kx = 0; kx < KB; kx++) {
            for (let sl = 1; sl < CS; sl++) {
              for (let i = 0; i < PIX; i++) acc[kx * PIX + i] = Math.fround(acc[kx * PIX + i]! + red[((sl - 1) * PIX + i) * KB + kx]!);
            }
          }
        }
        // (4) epilogue of slice 0
        for (let kx = 0; kx < KB; kx++) {
          const k = by * KB + kx;
          if (k >= K) continue;
          const b = HAS_BIAS ? buf.bias[k]! : 0;
          for (let oy = 0; oy < TH; oy++) {
            for (let ox = 0; ox < TW; ox++) {
              if (src.rowGuard && !(oy0 + oy < HO)) continue;
              if (src.colGuard && !(ox0 + ox < WO)) continue;
              let y = acc[kx * PIX + oy * TW + ox]!;
              if (HAS_BIAS) y = Math.fround(y + b);
              if (APPLY_RELU) y = Math.max(y, 0);
              const idx = buf.outOffset + bz * buf.outBatchStride + k * HO * WO + (oy0 + oy) * WO + ox0 + ox;
              if (idx < 0 || idx >= buf.output.length) throw new Error(`store out of the buffer at ${idx}`);
              buf.output[idx] = y;
              writes[idx]!++;
            }
          }
        }
      }
    }
  }
  return writes;
}

interface EmulationCase {
  readonly spec: Spec;
  readonly batch: number;
  readonly zeros: number;
  /** Extra channels around the layer's input / output in the batch buffers. */
  readonly inExtra?: number;
  readonly outBefore?: number;
  readonly outAfter?: number;
}

function runCase(ec: EmulationCase, seed: number): { relErr: number; refNorm: number } {
  const { spec, batch } = ec;
  const rnd = mulberry32(seed);
  const hw = spec.h * spec.w;
  const ohw = spec.ho * spec.wo;
  const inBatchStride = (spec.c + (ec.inExtra ?? 0)) * hw;
  const outBefore = ec.outBefore ?? 0;
  const outBatchStride = (outBefore + spec.k + (ec.outAfter ?? 0)) * ohw;
  const input = new Float32Array(batch * inBatchStride);
  // Every element random (the channels past C too: the kernel must not read them).
  for (let i = 0; i < input.length; i++) input[i] = rnd() < ec.zeros ? 0 : rnd() * 2 - 1;
  const weights = new Float32Array(spec.c * spec.r * spec.s * spec.k).map(() => rnd() * 2 - 1);
  const bias = new Float32Array(spec.k).map(() => rnd() * 2 - 1);
  const output = new Float32Array(batch * outBatchStride).fill(Number.NaN);
  const outOffset = outBefore * ohw;

  const { source } = renderActSparseKernel(spec, []);
  for (const stmt of [...MIRRORED_STATEMENTS, ...(spec.cs > 1 ? MIRRORED_REDUCTION : [])]) expect(source).toContain(stmt);
  const writes = emulate(parseKernel(source), {
    input, inOffset: 0, inBatchStride, weights, bias, output, outOffset, outBatchStride, batch,
  });

  let errSq = 0;
  let refSq = 0;
  for (let b = 0; b < batch; b++) {
    for (let k = 0; k < spec.k; k++) {
      for (let oy = 0; oy < spec.ho; oy++) {
        for (let ox = 0; ox < spec.wo; ox++) {
          let ref = 0;
          for (let c = 0; c < spec.c; c++) {
            for (let rr = 0; rr < spec.r; rr++) {
              const iy = oy * spec.strideH - spec.padTop + rr;
              if (iy < 0 || iy >= spec.h) continue;
              for (let ss = 0; ss < spec.s; ss++) {
                const ix = ox * spec.strideW - spec.padLeft + ss;
                if (ix < 0 || ix >= spec.w) continue;
                ref += input[b * inBatchStride + c * hw + iy * spec.w + ix]! * weights[((c * spec.r + rr) * spec.s + ss) * spec.k + k]!;
              }
            }
          }
          if (spec.bias) ref += bias[k]!;
          if (spec.relu) ref = Math.max(ref, 0);
          const idx = b * outBatchStride + outOffset + k * ohw + oy * spec.wo + ox;
          expect(writes[idx], `written once: b ${b} k ${k} (${oy}, ${ox})`).toBe(1);
          errSq += (output[idx]! - ref) ** 2;
          refSq += ref ** 2;
        }
      }
    }
  }
  // Nothing outside the layer's slice of the output buffer is touched.
  let written = 0;
  for (let i = 0; i < writes.length; i++) written += writes[i]!;
  expect(written).toBe(batch * spec.k * ohw);
  const refNorm = Math.sqrt(refSq);
  return { relErr: refNorm === 0 ? Math.sqrt(errSq) : Math.sqrt(errSq) / refNorm, refNorm };
}

const EMULATION_CASES: [string, EmulationCase][] = [
  ['3x3 s1 p1, C % tc, K % kb, odd H/W, cs 2, bias+relu, batch 3, concat buffers',
    { spec: conv({ c: 19, h: 9, w: 11, k: 40, r: 3, s: 3, th: 2, tw: 4, tc: 8, kb: 32, cs: 2, bias: true, relu: true }), batch: 3, zeros: 0.7, inExtra: 5, outBefore: 7, outAfter: 3 }],
  ['3x3 s1 p1, resnet-like tiles, cs 1', { spec: conv({ c: 24, h: 14, w: 14, k: 32, r: 3, s: 3, th: 2, tw: 7, tc: 16, kb: 32, cs: 1 }), batch: 1, zeros: 0.7 }],
  ['3x3 s2 p1 symmetric', { spec: conv({ c: 10, h: 11, w: 13, k: 33, r: 3, s: 3, strideH: 2, strideW: 2, th: 2, tw: 3, tc: 4, kb: 32, cs: 3, relu: true }), batch: 2, zeros: 0.7 }],
  ['3x3 s2 TF-same (pad 0, bottom 1)', { spec: conv({ c: 9, h: 12, w: 12, k: 32, r: 3, s: 3, strideH: 2, strideW: 2, padTop: 0, padLeft: 0, ho: 6, wo: 6, th: 4, tw: 4, tc: 4, kb: 32, cs: 2, bias: true }), batch: 2, zeros: 0.7, outAfter: 2 }],
  ['1x1 s1', { spec: conv({ c: 33, h: 7, w: 7, k: 70, r: 1, s: 1, th: 3, tw: 7, tc: 16, kb: 64, cs: 2, bias: true, relu: true }), batch: 2, zeros: 0.7 }],
  ['1x1 s2 (idle window rows/cols)', { spec: conv({ c: 12, h: 9, w: 10, k: 32, r: 1, s: 1, strideH: 2, strideW: 2, th: 2, tw: 3, tc: 5, kb: 32, cs: 2 }), batch: 3, zeros: 0.7, inExtra: 2 }],
  ['5x5 s1 p2', { spec: conv({ c: 7, h: 10, w: 9, k: 35, r: 5, s: 5, th: 3, tw: 4, tc: 3, kb: 32, cs: 2, relu: true }), batch: 2, zeros: 0.7 }],
  ['7x7 s2 p3 (stem)', { spec: conv({ c: 3, h: 19, w: 17, k: 64, r: 7, s: 7, strideH: 2, strideW: 2, th: 4, tw: 3, tc: 3, kb: 64, cs: 1, bias: true, relu: true }), batch: 1, zeros: 0.3 }],
  ['1x3 s2x1, pad 0x1, valid rows', { spec: conv({ c: 6, h: 9, w: 8, k: 32, r: 1, s: 3, strideH: 2, th: 2, tw: 5, tc: 4, kb: 32, cs: 2 }), batch: 2, zeros: 0.7 }],
  ['3x3 valid (pad 0), tc > C, tile > output', { spec: conv({ c: 5, h: 6, w: 6, k: 32, r: 3, s: 3, padTop: 0, padLeft: 0, th: 5, tw: 3, tc: 8, kb: 32, cs: 4 }), batch: 1, zeros: 0.7 }],
  ['0% zeros', { spec: conv({ c: 17, h: 8, w: 8, k: 32, r: 3, s: 3, th: 3, tw: 3, tc: 8, kb: 32, cs: 2, bias: true }), batch: 2, zeros: 0 }],
  ['window wider than a warp (3x3, tile 2x40)', { spec: conv({ c: 4, h: 5, w: 41, k: 32, r: 3, s: 3, th: 2, tw: 40, tc: 4, kb: 32, cs: 1 }), batch: 1, zeros: 0.5 }],
];

describe('generated kernel, CPU emulation', () => {
  it.each(EMULATION_CASES)('computes the convolution: %s', (_, ec) => {
    const { relErr, refNorm } = runCase(ec, 1234);
    expect(refNorm).toBeGreaterThan(0);
    expect(relErr).toBeLessThan(1e-5);
  });

  it('writes exact zeros (or relu(bias)) for an all-zero input', () => {
    const spec = conv({ c: 9, h: 7, w: 7, k: 40, r: 3, s: 3, th: 2, tw: 3, tc: 4, kb: 32, cs: 2 });
    expect(runCase({ spec, batch: 2, zeros: 1 }, 7).relErr).toBe(0);
    expect(runCase({ spec: { ...spec, bias: true, relu: true }, batch: 2, zeros: 1 }, 7).relErr).toBe(0);
  });
});
