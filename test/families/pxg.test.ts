// The pixel-gather family (src/families/pxg) on the CPU: the rendered kernel's constexprs are
// parsed back out of the .cu and the kernel is walked in JS exactly as it runs: grid (PIX, 1,
// batch), WARPS warps a block, warp w loading the contiguous slice [w * SLICE, min(PAIRS, (w + 1) *
// SLICE)) of the pixel's (channel, tap) pairs, a lane's NCH loads (pair lo + 32 j + lane, zero
// outside the input), the ballot compaction into one block-wide list in ascending pair order, warp
// w's even share [w * M / WARPS, (w + 1) * M / WARPS) of its M entries walked UNROLL at a time with
// fp32 FMAs, lanes along the output channels (KPL per lane), the warps' sums added in warp order,
// then bias and ReLU. The result is held against a float64 conv on odd shapes (stride 2, asymmetric
// padding, 'valid', 5x5, 1x1, K not a multiple of 32, K up to 128) at input zeros 0/50/90/100% and
// with all but 1-3 channels dead, batch 2; every output written exactly once. Also: the tiling rule
// (where it serves and where not), the candidates, the resources against the template's
// static_asserts, the cost model's shape against the lab, names and validation.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { gpuProfile } from '../../src/arch/profiles.js';
import { isCIdentifier } from '../../src/codegen/naming.js';
import { familiesFor, kernelNameOf, renderKernel, resourcesOf, specWithTiles, tilesOf } from '../../src/families/registry.js';
import { pxgUs } from '../../src/families/pxg/cost.js';
import { pxgLayout } from '../../src/families/pxg/resources.js';
import { validatePxgSpec, type PxgKernelSpec, type PxgProblem } from '../../src/families/pxg/spec.js';
import { choosePxgTiles, pxgCandidates, PXG_MIN_ZEROS, PXG_SPARSE_TILE_ZEROS } from '../../src/families/pxg/tiles.js';
import { compileCheck, findNvcc } from '../../src/toolchain/nvcc.js';
import { constexprOf, geometryOf, pixelList, storePixel } from '../helpers/pixel-walk.js';
import { mulberry32, testSeed } from '../helpers/random.js';

const seed = testSeed();
const rnd = mulberry32(seed);
const TOL = 1e-5;
const H200 = gpuProfile('sm_90');

const prob = (c: number, h: number, w: number, k: number, r: number, s: number, stride: number, padTop: number, padLeft: number, ho: number, wo: number, bias: boolean, relu: boolean): PxgProblem =>
  ({ arch: 'sm_90', c, h, w, k, r, s, strideH: stride, strideW: stride, padTop, padLeft, ho, wo, bias, relu });

const SHAPES: { why: string; q: PxgProblem; warps: number; unroll: number; ppb?: number }[] = [
  { why: '3x3 pad 1, C 37 (pairs not a multiple of the warps), 9x7, K 24', q: prob(37, 9, 7, 24, 3, 3, 1, 1, 1, 9, 7, true, true), warps: 16, unroll: 8 },
  { why: '3x3 stride 2 on odd 15x15, TF same (0, 0), K 40 (2 per lane, partial)', q: prob(20, 15, 15, 40, 3, 3, 2, 0, 0, 7, 7, true, false), warps: 8, unroll: 16 },
  { why: '3x3 valid on 9x9, C 8, K 33', q: prob(8, 9, 9, 33, 3, 3, 1, 0, 0, 7, 7, false, true), warps: 16, unroll: 8 },
  { why: '5x5 pad 2 on 11x13, C 12, K 17', q: prob(12, 11, 13, 17, 5, 5, 1, 2, 2, 11, 13, true, true), warps: 8, unroll: 8 },
  { why: '1x1 on 6x5, C 70, K 128 (4 per lane)', q: prob(70, 6, 5, 128, 1, 1, 1, 0, 0, 6, 5, true, false), warps: 4, unroll: 16 },
  { why: "DenseNet's 128x7x7 -> 32, the rule's tiles", q: prob(128, 7, 7, 32, 3, 3, 1, 1, 1, 7, 7, false, false), warps: 16, unroll: 8 },
  { why: 'two pixels a block on odd 9x7 (63 pixels: the last block has a spare group), C 37, K 24', q: prob(37, 9, 7, 24, 3, 3, 1, 1, 1, 9, 7, true, true), warps: 16, unroll: 8, ppb: 2 },
  { why: 'three pixels a block, stride 2, K 40', q: prob(20, 15, 15, 40, 3, 3, 2, 0, 0, 7, 7, true, false), warps: 12, unroll: 4, ppb: 3 },
];

/** The kernel walked in JS, fp32 as on the GPU (Math.fround after each FMA: a*b of two floats is exact in float64). */
function walk(spec: PxgKernelSpec, src: string, x: Float32Array, batch: number, wCrsk: Float32Array, bias: Float32Array | null, out: Float32Array, writes: Uint8Array): void {
  const g = geometryOf(src);
  const { K, HO, WO } = g;
  const WARPS = constexprOf(src, 'WARPS'), UNROLL = constexprOf(src, 'UNROLL'), PPB = constexprOf(src, 'PPB'), WPP = WARPS / PPB;
  const PIX = HO * WO, KPL = Math.ceil(K / 32);
  expect([WARPS, UNROLL, PPB], 'tiles in the source').toEqual([spec.warps, spec.unroll, spec.ppb ?? 1]);
  expect(src).toContain('constexpr int WPP = WARPS / PPB;');
  const f = Math.fround;
  for (let n = 0; n < batch; n++) {
    // Blocks of PPB pixels, pixel group gi of WPP warps on pixel blk * PPB + gi (a spare group of the last block writes nothing).
    for (let blk = 0; blk < Math.ceil(PIX / PPB); blk++) for (let gi = 0; gi < PPB; gi++) {
      const p = blk * PPB + gi;
      if (p >= PIX) continue;
      const red = new Float32Array(WPP * K);
      // The group's list: each warp's slice compacted in ascending pair order at the offset of the warps before it.
      const list = pixelList(g, x, n, p, WPP);
      // Each warp's even share [w * M / WPP, (w + 1) * M / WPP) of the group's M nonzeros (integer division).
      const M = list.length;
      for (let warp = 0; warp < WPP; warp++) {
        const b0 = Math.floor((warp * M) / WPP), b1 = Math.floor(((warp + 1) * M) / WPP);
        for (let lane = 0; lane < 32; lane++) {
          for (let t = 0; t < KPL; t++) {
            const k = lane + 32 * t;
            if (k >= K) continue;
            let acc = 0;
            for (let base = b0; base < b1; base += UNROLL) {
              for (let u = 0; u < UNROLL && base + u < b1; u++) {
                const e = list[base + u]!;
                acc = f(e.v * wCrsk[e.pair * K + k]! + acc);
              }
            }
            red[warp * K + k] = acc;
          }
        }
      }
      storePixel(g, red, WPP, bias, spec.relu, n, p, out, writes);
    }
  }
}

function reference(q: PxgProblem, x: Float32Array, batch: number, wKcrs: Float32Array, bias: Float32Array | null): Float64Array {
  const out = new Float64Array(batch * q.k * q.ho * q.wo);
  for (let n = 0; n < batch; n++) for (let k = 0; k < q.k; k++) for (let oy = 0; oy < q.ho; oy++) for (let ox = 0; ox < q.wo; ox++) {
    let s = bias ? bias[k]! : 0;
    for (let c = 0; c < q.c; c++) for (let r = 0; r < q.r; r++) for (let t = 0; t < q.s; t++) {
      const iy = oy * q.strideH - q.padTop + r, ix = ox * q.strideW - q.padLeft + t;
      if (iy < 0 || iy >= q.h || ix < 0 || ix >= q.w) continue;
      s += x[n * q.c * q.h * q.w + (c * q.h + iy) * q.w + ix]! * wKcrs[((k * q.c + c) * q.r + r) * q.s + t]!;
    }
    out[n * q.k * q.ho * q.wo + k * q.ho * q.wo + oy * q.wo + ox] = q.relu ? Math.max(s, 0) : s;
  }
  return out;
}

describe(`pxg family (seed ${seed})`, () => {
  for (const { why, q, warps, unroll, ppb } of SHAPES) {
    it(`matches a float64 conv at 0/50/90/100% zeros: ${why}`, () => {
      const spec: PxgKernelSpec = { family: 'pxg', ...q, warps, unroll, ...(ppb ? { ppb } : {}) };
      const src = renderKernel(spec, [{ model: 'test', layer: 'conv' }]).source;
      expect(resourcesOf(spec, 2).grid, 'grid: one block per PPB pixels and batch item').toEqual([Math.ceil((q.ho * q.wo) / (ppb ?? 1)), 1, 2]);
      const res = resourcesOf(spec, 1);
      expect(src).toContain(`static_assert(THREADS == ${res.threads}`);
      expect(src).toContain(`static_assert(SHARED_BYTES == ${res.sharedBytes}`);
      const crs = q.c * q.r * q.s;
      const wKcrs = new Float32Array(q.k * crs).map(() => (rnd() * 2 - 1) / Math.sqrt(crs));
      const wCrsk = new Float32Array(wKcrs.length);
      for (let k = 0; k < q.k; k++) for (let i = 0; i < crs; i++) wCrsk[i * q.k + k] = wKcrs[k * crs + i]!;
      const bias = q.bias ? new Float32Array(q.k).map(() => rnd() - 0.5) : null;
      const batch = 2;
      // -1: dead channels, as real ReLU maps leave them: only 1-3 random channels nonzero, so all the nonzeros lie in
      // one or two warps' slices and the even share moves them to the others.
      for (const zeros of [0, 0.5, 0.9, 1, -1]) {
        const live = new Set(Array.from({ length: 1 + Math.floor(rnd() * 3) }, () => Math.floor(rnd() * q.c)));
        const x = new Float32Array(batch * q.c * q.h * q.w).map((_, i) => {
          if (zeros < 0) return live.has(Math.floor(i / (q.h * q.w)) % q.c) ? 0.02 + 0.98 * rnd() : 0;
          return rnd() < zeros ? 0 : 0.02 + 0.98 * rnd();
        });
        const out = new Float32Array(batch * q.k * q.ho * q.wo).fill(Number.NaN);
        const writes = new Uint8Array(out.length);
        walk(spec, src, x, batch, wCrsk, bias, out, writes);
        expect(writes.every((v) => v === 1), 'every output written exactly once').toBe(true);
        const ref = reference(q, x, batch, wKcrs, bias);
        let num2 = 0, den = 0;
        for (let i = 0; i < out.length; i++) { num2 += (out[i]! - ref[i]!) ** 2; den += ref[i]! ** 2; }
        const rel = den > 0 ? Math.sqrt(num2 / den) : Math.sqrt(num2);
        expect(rel, zeros < 0 ? `dead channels but ${[...live].join(', ')}` : `${zeros * 100}% zeros`).toBeLessThanOrEqual(TOL);
        if (zeros === 1) {
          // No nonzero input: every output is act(bias) exactly.
          const act = (k: number): number => { const b = bias ? bias[k]! : 0; return q.relu ? Math.max(b, 0) : b; };
          expect(Array.from(out).every((v, i) => v === act(Math.floor(i / (q.ho * q.wo)) % q.k)), 'act(bias) at 100% zeros').toBe(true);
        }
      }
    });
  }

  it('the rule serves DenseNet-like 3x3 convs to <= 32 channels on maps of one wave at >= 60% zeros only', () => {
    const dn7 = prob(128, 7, 7, 32, 3, 3, 1, 1, 1, 7, 7, false, false);
    const dn14 = prob(128, 14, 14, 32, 3, 3, 1, 1, 1, 14, 14, false, false);
    expect(choosePxgTiles(H200, dn7, 1, 0.1)?.spec).toMatchObject({ family: 'pxg', warps: 16, unroll: 8 });
    // From 95% zeros 8 warps x 4 rows (run 48: 2.31 us against 16 x 8's 2.66 at 96-99% zeros); 16 x 8 just below.
    expect(choosePxgTiles(H200, dn7, 1, 0.03)?.spec).toMatchObject({ family: 'pxg', warps: 8, unroll: 4 });
    expect(choosePxgTiles(H200, dn7, 1, 1 - PXG_SPARSE_TILE_ZEROS)?.spec).toMatchObject({ warps: 8, unroll: 4 });
    expect(choosePxgTiles(H200, dn7, 1, 1 - PXG_SPARSE_TILE_ZEROS + 0.01)?.spec).toMatchObject({ warps: 16, unroll: 8 });
    expect(choosePxgTiles(H200, dn14, 1, 0.15), '196 blocks: more than one wave (slower than dconv in runs 38-39)').toBeNull();
    expect(pxgCandidates(H200, dn14, 1).length, 'but tune measures it there (32 warps x 32 rows would spill), two pixels a block too').toBe(16);
    expect(pxgCandidates(H200, dn14, 1).filter((c) => c.ppb === 2 && c.pdl === undefined).map((c) => [c.warps, c.unroll])).toEqual([[16, 8], [16, 16], [32, 8], [32, 16]]);
    expect(pxgCandidates(H200, dn7, 1).some((c) => c.ppb !== undefined), '7x7: one wave already').toBe(false);
    expect(choosePxgTiles(H200, dn7, 1, 1 - PXG_MIN_ZEROS + 0.01), 'below the zeros threshold').toBeNull();
    expect(choosePxgTiles(H200, prob(128, 28, 28, 32, 3, 3, 1, 1, 1, 28, 28, false, false), 1, 0.1), '784 blocks').toBeNull();
    // Large maps: no rule, a few tiles for tune (DenseNet's 128x56x56 -> 32 at 35-70% zeros ran dense igemm at 1.73x).
    const dn56 = prob(128, 56, 56, 32, 3, 3, 1, 1, 1, 56, 56, false, false);
    expect(choosePxgTiles(H200, dn56, 1, 0.5)).toBeNull();
    expect(pxgCandidates(H200, dn56, 1).map((c) => [c.warps, c.unroll, c.ppb ?? 1])).toEqual([[8, 8, 1], [8, 16, 1], [16, 8, 1], [16, 8, 2], [32, 8, 4]]);
    expect(pxgCandidates(H200, dn56, 2), 'batch 2: 6272 blocks, past the space').toEqual([]);
    expect(pxgCandidates(H200, prob(64, 56, 56, 64, 3, 3, 1, 1, 1, 56, 56, false, false), 1), 'K 64: outside the space').toEqual([]);
    expect(choosePxgTiles(H200, dn7, 8, 0.1), 'batch 8: 392 blocks').toBeNull();
    expect(choosePxgTiles(H200, prob(512, 7, 7, 512, 3, 3, 1, 1, 1, 7, 7, false, false), 1, 0.1), 'K 512').toBeNull();
    expect(choosePxgTiles(H200, prob(1600, 7, 7, 32, 1, 1, 1, 0, 0, 7, 7, false, false), 1, 0.1), '1x1').toBeNull();
    expect(pxgCandidates(H200, dn7, 1).filter((s) => s.pdl === undefined).map((s) => [s.warps, s.unroll])).toEqual([[8, 4], [8, 8], [8, 16], [8, 32], [16, 4], [16, 8], [16, 16], [16, 32], [32, 4], [32, 8], [32, 16]]);
    // Without dependent launch: three tiles, on sm_90 only (sm_80 has no dependent launch), within one wave only.
    expect(pxgCandidates(H200, dn7, 1).filter((s) => s.pdl === false).map((s) => [s.warps, s.unroll])).toEqual([[16, 8], [8, 16], [16, 4]]);
    expect(pxgCandidates(gpuProfile('sm_80'), { ...dn7, arch: 'sm_80' }, 1).some((s) => s.pdl === false)).toBe(false);
    expect(pxgCandidates(H200, dn14, 1).filter((s) => s.pdl === false).map((s) => [s.warps, s.unroll, s.ppb]), '196 pixels: only the two-pixel tile is one wave').toEqual([[16, 8, 2]]);
    expect(choosePxgTiles(H200, dn7, 1, 0.02)?.spec.pdl, 'the rule keeps dependent launch').toBeUndefined();
    expect(familiesFor('sm_90')[0]?.family, 'pxg is the planner\'s first rule family').toBe('pxg');
    expect(familiesFor('sm_90')[0]?.choose(dn7, H200, 1, 0.1)?.spec.family).toBe('pxg');
  });

  it('cost model: within 10% of the lab (run 37) on both shapes, rising with the nonzeros', () => {
    const lab: [PxgProblem, number, number][] = [
      [prob(128, 7, 7, 32, 3, 3, 1, 1, 1, 7, 7, false, false), 0.05, 2.43], [prob(128, 7, 7, 32, 3, 3, 1, 1, 1, 7, 7, false, false), 0.1, 2.61],
      [prob(128, 7, 7, 32, 3, 3, 1, 1, 1, 7, 7, false, false), 0.15, 2.94], [prob(128, 14, 14, 32, 3, 3, 1, 1, 1, 14, 14, false, false), 0.05, 2.99],
      [prob(128, 14, 14, 32, 3, 3, 1, 1, 1, 14, 14, false, false), 0.1, 3.28], [prob(128, 14, 14, 32, 3, 3, 1, 1, 1, 14, 14, false, false), 0.15, 3.66],
    ];
    for (const [q, d, us] of lab) {
      const e = pxgUs(H200, { family: 'pxg', ...q, warps: 16, unroll: 8 }, 1, d)!;
      expect(Math.abs(e.us - us) / us, `${q.h}x${q.w} at ${d}`).toBeLessThan(0.1);
    }
    const q = { family: 'pxg' as const, ...prob(128, 7, 7, 32, 3, 3, 1, 1, 1, 7, 7, false, false), warps: 16, unroll: 8 };
    expect(pxgUs(H200, q, 1, 0.5)!.us).toBeGreaterThan(pxgUs(H200, q, 1, 0.1)!.us);
  });

  it('nvcc compiles the rendered kernels without warnings, spills or stack (sm_90: dependent launch; sm_80)', async () => {
    if (!findNvcc()) {
      console.log('pxg: nvcc not found, the rendered kernels are not compiled here');
      return;
    }
    const dir = mkdtempSync(join(tmpdir(), 'cusnn-pxg-'));
    try {
      const specs: PxgKernelSpec[] = [SHAPES[1]!, SHAPES[4]!, SHAPES[5]!, SHAPES[6]!, SHAPES[7]!].map(({ q, warps, unroll, ppb }) => ({ family: 'pxg', ...q, warps, unroll, ...(ppb ? { ppb } : {}) }));
      // The space's corners on DenseNet's shape: 1024 threads with 16 rows in flight must fit 64 registers, 512 with 32 rows 128.
      specs.push({ ...specs[2]!, warps: 32, unroll: 16 }, { ...specs[2]!, warps: 8, unroll: 4 }, { ...specs[2]!, warps: 16, unroll: 32 });
      // The large-map tile with four pixels a block (tune's space on DenseNet's 56x56 convs).
      specs.push(...pxgCandidates(H200, prob(128, 56, 56, 32, 3, 3, 1, 1, 1, 56, 56, false, false), 1).filter((c) => (c.ppb ?? 1) > 1));
      const files = specs.map((s) => {
        const r = renderKernel(s, []);
        const f = join(dir, `${r.name}.cu`);
        writeFileSync(f, r.source);
        return f;
      });
      const results = await compileCheck(files, ['sm_80', 'sm_90'], { filesPerProcess: files.length });
      expect(results.length).toBeGreaterThanOrEqual(files.length);
      for (const r of results) {
        expect(r.ok, `${r.kernel}:\n${r.log}`).toBe(true);
        expect(r.warnings).toEqual([]);
        expect([r.spillStores, r.spillLoads, r.stackFrame], r.kernel).toEqual([0, 0, 0]);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 180_000);

  it('names, tiles round trip, layout and validation', () => {
    const spec: PxgKernelSpec = { family: 'pxg', ...prob(128, 7, 7, 32, 3, 3, 1, 1, 1, 7, 7, false, false), warps: 16, unroll: 8 };
    expect(kernelNameOf(spec)).toBe('pxg3x3_c128_h7_w7_k32_w16_u8_sm90');
    expect(isCIdentifier(kernelNameOf({ ...spec, bias: true, relu: true }))).toBe(true);
    expect(specWithTiles(prob(128, 7, 7, 32, 3, 3, 1, 1, 1, 7, 7, false, false), tilesOf(spec))).toEqual(spec);
    expect(pxgLayout(spec)).toMatchObject({ pairs: 1152, slice: 72, nch: 3, kpl: 1, threads: 512, sharedBytes: 16 * 96 * 8 + 16 * 32 * 4 + 16 * 4 });
    expect(() => validatePxgSpec({ ...spec, k: 129 })).toThrow(/k must be at most 128/);
    expect(() => validatePxgSpec({ ...spec, warps: 0 })).toThrow(/warps must be a positive integer/);
    expect(() => validatePxgSpec({ ...spec, family: 'dconv' as 'pxg' })).toThrow(/family must be 'pxg'/);
    // Two pixels a block: named, round-tripped, 8 warps a pixel; tiles without ppb stay as stored before it existed.
    const two: PxgKernelSpec = { ...spec, ppb: 2 };
    expect(kernelNameOf(two)).toBe('pxg3x3_c128_h7_w7_k32_w16_u8_p2_sm90');
    expect(tilesOf(spec)).toEqual({ family: 'pxg', warps: 16, unroll: 8 });
    expect(specWithTiles(prob(128, 7, 7, 32, 3, 3, 1, 1, 1, 7, 7, false, false), tilesOf(two))).toEqual(two);
    expect(pxgLayout(two)).toMatchObject({ ppb: 2, wpp: 8, slice: 144, nch: 5, threads: 512 });
    expect(resourcesOf(two, 1).grid).toEqual([25, 1, 1]);
    expect(() => validatePxgSpec({ ...spec, ppb: 3 })).toThrow(/warps \(16\) must be a multiple of ppb \(3\)/);
    expect(() => validatePxgSpec({ ...spec, ppb: 5 })).toThrow(/ppb must be 1..4/);
    // Without dependent launch: named, round-tripped, rendered with PDL off.
    const plain: PxgKernelSpec = { ...spec, pdl: false };
    expect(kernelNameOf(plain)).toBe('pxg3x3_c128_h7_w7_k32_w16_u8_nopdl_sm90');
    expect(tilesOf(plain)).toEqual({ family: 'pxg', warps: 16, unroll: 8, pdl: false });
    expect(specWithTiles(prob(128, 7, 7, 32, 3, 3, 1, 1, 1, 7, 7, false, false), tilesOf(plain))).toEqual(plain);
    expect(renderKernel(plain, []).source).toContain('constexpr bool PDL = 90 >= 90 && false;');
    expect(renderKernel(spec, []).source).toContain('constexpr bool PDL = 90 >= 90 && true;');
    expect(() => validatePxgSpec({ ...spec, pdl: true as unknown as false })).toThrow(/pdl must be false or absent/);
  });
});
