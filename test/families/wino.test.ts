// The fused Winograd family (src/families/wino) on the CPU. The rendered kernel's constexprs are
// parsed back out of the .cu and the kernel is walked in JS as it runs: grid (tile blocks, k blocks,
// SPLIT); per block its chunks of BC channels (its share of the split), each thread's 4x4 input
// patch (zero outside the image) through B^T d B and each filter through G g G^T in fp32, the 16
// positions' products accumulated in fp32 in the kernel's order (chunk, then channel), the SPLIT
// blocks' sums added in rank order, then A^T M A (at split 8: A^T M A per block, then the outputs added in rank
// order), bias and ReLU. The result is held against a float64
// conv on odd shapes (C not a multiple of 8, K not of 32, odd H and W, a part-filled last tile
// block, one channel, no bias, no ReLU) and ResNet-50's 256x14x14, with every output written exactly
// once. Also: the space (3x3 stride-1 'same' only, splits up to the chunks and the arch's clusters),
// validation, names and the tiles' round trip, its rule (batch 8 to 16 and the large batch-1 outputs, the split), tune's
// candidates, and the nvcc build (no spills, at most the estimated registers).
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { gpuProfile, type ArchName } from '../../src/arch/profiles.js';
import { relL2Error } from '../../src/bench/metrics.js';
import { estimateUs, familiesFor, kernelNameOf, renderKernel, resourcesOf, specWithTiles, tilesOf } from '../../src/families/registry.js';
import { winoLayout } from '../../src/families/wino/resources.js';
import { validateWinoSpec, winoName, type WinoKernelSpec } from '../../src/families/wino/spec.js';
import { winoCandidates } from '../../src/families/wino/tiles.js';
import type { ConvProblem } from '../../src/plan/types.js';
import { convCandidates } from '../../src/runtime/tune-candidates.js';
import { compileCheck, findNvcc } from '../../src/toolchain/nvcc.js';
import { convRef } from '../gpu/programs.js';
import { constexprOf } from '../helpers/pixel-walk.js';
import { mulberry32, testSeed } from '../helpers/random.js';

const seed = testSeed();
const rnd = mulberry32(seed);
const f = Math.fround;
const H200 = gpuProfile('sm_90');
const tmp = mkdtempSync(join(tmpdir(), 'cusnn-wino-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function prob(c: number, h: number, w: number, k: number, bias = true, relu = true, arch: ArchName = 'sm_90'): ConvProblem & { arch: ArchName } {
  return { arch, c, h, w, k, r: 3, s: 3, strideH: 1, strideW: 1, padTop: 1, padLeft: 1, ho: h, wo: w, bias, relu };
}

/** The kernel as rendered, walked in JS; out is NaN where nothing was written, and counts each output's writes. */
function walk(src: string, batch: number, x: Float32Array, wCrsk: Float32Array, bias: Float32Array | null): { out: Float32Array; writes: Uint8Array } {
  const n = (name: string) => constexprOf(src, name);
  const C = n('C'), H = n('H'), W = n('W'), K = n('K'), BK = n('BK'), BT = n('BT'), BC = n('BC'), SPLIT = n('SPLIT'), THREADS = n('THREADS');
  // The template's derived constants, as it writes them.
  expect(src).toContain('constexpr int TILES_W = (W + 1) / 2;');
  expect(src).toContain('constexpr int TILES = TILES_H * TILES_W;');
  expect(src).toContain('constexpr int CHUNKS = (C + BC - 1) / BC;');
  const TW = Math.floor((W + 1) / 2), TILES = Math.floor((H + 1) / 2) * TW, CHUNKS = Math.ceil(C / BC);
  const hasBias = /constexpr bool HAS_BIAS = true;/.test(src), relu = /constexpr bool APPLY_RELU = true;/.test(src);
  // Where a rank has fewer pairs than threads (split 8; with 512 threads split 4 too) the blocks' outputs are summed,
  // after each block's A^T M A (runs 86-87); elsewhere their M.
  const outputReduce = src.includes('constexpr int NQ = PAIRS / SPLIT;');
  expect(outputReduce).toBe(SPLIT > 1 && (BK * BT) / SPLIT < THREADS);
  expect(THREADS).toBe(32 * BC);
  const out = new Float32Array(batch * K * H * W).fill(NaN);
  const writes = new Uint8Array(out.length);
  const nTiles = batch * TILES;
  const gridX = Math.ceil(nTiles / BT), gridY = Math.ceil(K / BK);
  for (let bx = 0; bx < gridX; bx++) {
    for (let by = 0; by < gridY; by++) {
      // M[split][pos][kk][tl], each split block's fp32 sums.
      const M = Array.from({ length: SPLIT }, () => new Float32Array(16 * BK * BT));
      for (let part = 0; part < SPLIT; part++) {
        const c0 = Math.floor((part * CHUNKS) / SPLIT), c1 = Math.floor(((part + 1) * CHUNKS) / SPLIT);
        const m = M[part]!;
        for (let ch = c0; ch < c1; ch++) {
          for (let cl = 0; cl < BC; cl++) {
            const c = ch * BC + cl;
            // V[pos][tl] and U[pos][kk] of this channel (zeros past C, past the tiles, past K).
            const V = new Float32Array(16 * BT), U = new Float32Array(16 * BK);
            for (let tl = 0; tl < BT; tl++) {
              const gt = bx * BT + tl;
              if (gt >= nTiles || c >= C) continue;
              const item = Math.floor(gt / TILES), r = gt % TILES, y0 = 2 * Math.floor(r / TW) - 1, x0 = 2 * (r % TW) - 1;
              const d = (i: number, j: number) => {
                const y = y0 + i, xx = x0 + j;
                return y >= 0 && y < H && xx >= 0 && xx < W ? x[((item * C + c) * H + y) * W + xx]! : 0;
              };
              const t: number[] = [];
              for (let j = 0; j < 4; j++) {
                t[j] = f(d(0, j) - d(2, j)); t[4 + j] = f(d(1, j) + d(2, j)); t[8 + j] = f(d(2, j) - d(1, j)); t[12 + j] = f(d(1, j) - d(3, j));
              }
              for (let i = 0; i < 4; i++) {
                V[(i * 4 + 0) * BT + tl] = f(t[i * 4]! - t[i * 4 + 2]!); V[(i * 4 + 1) * BT + tl] = f(t[i * 4 + 1]! + t[i * 4 + 2]!);
                V[(i * 4 + 2) * BT + tl] = f(t[i * 4 + 2]! - t[i * 4 + 1]!); V[(i * 4 + 3) * BT + tl] = f(t[i * 4 + 1]! - t[i * 4 + 3]!);
              }
            }
            for (let kk = 0; kk < BK; kk++) {
              const k = by * BK + kk;
              if (k >= K || c >= C) continue;
              const g = (i: number) => wCrsk[(c * 9 + i) * K + k]!;
              const a: number[] = [];
              for (let j = 0; j < 3; j++) {
                a[j] = g(j); a[3 + j] = f(0.5 * f(f(g(j) + g(3 + j)) + g(6 + j))); a[6 + j] = f(0.5 * f(f(g(j) - g(3 + j)) + g(6 + j))); a[9 + j] = g(6 + j);
              }
              for (let i = 0; i < 4; i++) {
                U[(i * 4 + 0) * BK + kk] = a[i * 3]!; U[(i * 4 + 1) * BK + kk] = f(0.5 * f(f(a[i * 3]! + a[i * 3 + 1]!) + a[i * 3 + 2]!));
                U[(i * 4 + 2) * BK + kk] = f(0.5 * f(f(a[i * 3]! - a[i * 3 + 1]!) + a[i * 3 + 2]!)); U[(i * 4 + 3) * BK + kk] = a[i * 3 + 2]!;
              }
            }
            for (let pos = 0; pos < 16; pos++) {
              for (let kk = 0; kk < BK; kk++) {
                const u = U[pos * BK + kk]!;
                for (let tl = 0; tl < BT; tl++) { const at = (pos * BK + kk) * BT + tl; m[at] = f(m[at]! + f(u * V[pos * BT + tl]!)); }
              }
            }
          }
        }
      }
      for (let kk = 0; kk < BK; kk++) {
        for (let tl = 0; tl < BT; tl++) {
          const t = bx * BT + tl, k = by * BK + kk;
          if (t >= nTiles || k >= K) continue;
          // A^T M A in the kernel's order: y[e] is pixel (e / 2, e % 2) of the tile.
          const transform = (mm: number[]): number[] => {
            const s: number[] = [], y: number[] = [];
            for (let j = 0; j < 4; j++) { s[j] = f(f(mm[j]! + mm[4 + j]!) + mm[8 + j]!); s[4 + j] = f(f(mm[4 + j]! - mm[8 + j]!) - mm[12 + j]!); }
            for (let i = 0; i < 2; i++) { y[2 * i] = f(f(s[i * 4]! + s[i * 4 + 1]!) + s[i * 4 + 2]!); y[2 * i + 1] = f(f(s[i * 4 + 1]! - s[i * 4 + 2]!) - s[i * 4 + 3]!); }
            return y;
          };
          const mOf = (r: number) => Array.from({ length: 16 }, (_, pos) => M[r]![(pos * BK + kk) * BT + tl]!);
          let yv: number[];
          if (outputReduce) {
            // Each block transforms its own sums; the blocks' outputs are added in rank order.
            const ys = Array.from({ length: SPLIT }, (_, r) => transform(mOf(r)));
            yv = ys[0]!.map((v, e) => { let acc = v; for (let r = 1; r < SPLIT; r++) acc = f(acc + ys[r]![e]!); return acc; });
          } else {
            // The blocks' M added in rank order, then transformed.
            const mm = mOf(0);
            for (let r = 1; r < SPLIT; r++) for (let pos = 0; pos < 16; pos++) mm[pos] = f(mm[pos]! + M[r]![(pos * BK + kk) * BT + tl]!);
            yv = transform(mm);
          }
          const b = hasBias ? bias![k]! : 0;
          const item = Math.floor(t / TILES), r = t % TILES, y = 2 * Math.floor(r / TW), xx = 2 * (r % TW);
          for (let i = 0; i < 2 && y + i < H; i++) {
            let e0 = f(yv[2 * i]! + b), e1 = f(yv[2 * i + 1]! + b);
            if (relu) { e0 = Math.max(e0, 0); e1 = Math.max(e1, 0); }
            const at = ((item * K + k) * H + y + i) * W + xx;
            out[at] = e0; writes[at]!++;
            if (xx + 1 < W) { out[at + 1] = e1; writes[at + 1]!++; }
          }
        }
      }
    }
  }
  return { out, writes };
}

describe('wino family (F(2x2,3x3))', () => {
  // Odd shapes (tails of every dimension) and one real shape; batch and split per case.
  const CASES: { q: ConvProblem & { arch: ArchName }; batch: number; split: number; warps?: 16 }[] = [
    { q: prob(20, 11, 11, 76), batch: 3, split: 2 },
    { q: prob(37, 7, 9, 40, false, true), batch: 2, split: 4 },
    { q: prob(1, 5, 6, 3, true, false), batch: 3, split: 1 },
    { q: prob(64, 9, 9, 33), batch: 1, split: 8 },
    { q: prob(256, 14, 14, 256), batch: 1, split: 4 },
    { q: prob(37, 7, 9, 40, true, false), batch: 2, split: 4 },
    { q: prob(128, 7, 7, 32), batch: 3, split: 8 },
    // 16 warps: chunks of 16 channels (C = 37: a part-filled last chunk), the output reduction at split 4 and 8.
    { q: prob(37, 7, 9, 40, false, true), batch: 2, split: 2, warps: 16 },
    { q: prob(64, 9, 9, 33), batch: 1, split: 4, warps: 16 },
    { q: prob(128, 7, 7, 32, true, false), batch: 3, split: 8, warps: 16 },
    { q: prob(20, 11, 11, 76), batch: 3, split: 1, warps: 16 },
  ];
  for (const { q, batch, split, warps } of CASES) {
    it(`matches a float64 conv: ${q.c}x${q.h}x${q.w} -> ${q.k}, batch ${batch}, split ${split}${warps ? `, ${warps} warps` : ''}${q.bias ? '' : ', no bias'}${q.relu ? '' : ', no ReLU'} (seed ${seed})`, () => {
      const spec: WinoKernelSpec = { ...q, family: 'wino', split, ...(warps ? { warps } : {}) };
      const src = renderKernel(spec, [{ model: 'test', layer: 'wino' }]).source;
      // Post-ReLU-like input: half zeros, fresh per check.
      const x = Float32Array.from({ length: batch * q.c * q.h * q.w }, () => (rnd() < 0.5 ? 0 : rnd() * 2));
      const scale = 1 / Math.sqrt(q.c * 9);
      const wCrsk = Float32Array.from({ length: q.c * 9 * q.k }, () => (2 * rnd() - 1) * scale);
      const wKcrs = new Float32Array(wCrsk.length);
      for (let k = 0; k < q.k; k++) for (let i = 0; i < q.c * 9; i++) wKcrs[k * q.c * 9 + i] = wCrsk[i * q.k + k]!;
      const bias = Float32Array.from({ length: q.k }, () => (2 * rnd() - 1) * 0.2);
      const { out, writes } = walk(src, batch, x, wCrsk, bias);
      expect(writes.every((n) => n === 1), 'every output written exactly once').toBe(true);
      const ref = convRef(x, batch, q, wKcrs, q.bias ? bias : null, q.relu);
      expect(relL2Error(out, ref)).toBeLessThan(1e-5);
      if (!q.relu) expect(out.some((v) => v < 0)).toBe(true);
    }, 60_000);
  }

  it('space: 3x3 stride-1 same convs only, splits up to the chunks and the arch clusters', () => {
    const q = prob(256, 14, 14, 256);
    const space = (p: typeof H200, x: ConvProblem & { arch: ArchName }) => winoCandidates(p, x, 8).map((s) => `${s.warps ?? 8}/${s.split}`);
    expect(space(H200, q)).toEqual(['8/1', '8/2', '8/4', '8/8', '16/1', '16/2', '16/4', '16/8']);
    // 12 channels: two chunks of 8, one of 16.
    expect(space(H200, prob(12, 14, 14, 64))).toEqual(['8/1', '8/2', '16/1']);
    // sm_80 (163 KB opt-in) has no clusters; sm_86 (99 KB) cannot hold the 16-warp kernel's 128 KB.
    expect(space(gpuProfile('sm_80'), prob(256, 14, 14, 256, true, true, 'sm_80'))).toEqual(['8/1', '16/1']);
    expect(space(gpuProfile('sm_86'), prob(256, 14, 14, 256, true, true, 'sm_86'))).toEqual(['8/1']);
    expect(winoCandidates(H200, { ...q, strideH: 2, strideW: 2, ho: 7, wo: 7 }, 8)).toEqual([]);
    expect(winoCandidates(H200, { ...q, r: 1, s: 1, padTop: 0, padLeft: 0 }, 8)).toEqual([]);
    expect(winoCandidates(H200, { ...q, padTop: 0, padLeft: 0, ho: 12, wo: 12 }, 8)).toEqual([]);
    const fam = familiesFor('sm_90').find((x) => x.family === 'wino')!;
    expect(fam.measuredOnly).toBeFalsy();
    // tune's candidates for such a conv include every split, and none for a 1x1 conv.
    const { arch: _a, ...shape } = q;
    const heuristic = specWithTiles(q, { family: 'igemm', bm: 128, bn: 128, bkc: 1, tm: 8, tn: 8, warpM: 8, split: 1, stages: 4 });
    const cands = convCandidates(H200, shape, 8, 0.5, heuristic);
    // The rule's pick (split 2 here) comes first, then the rest of the space.
    expect(cands.filter((c) => c.spec.family === 'wino').map((c) => c.kernel).sort()).toEqual(winoCandidates(H200, q, 8).map((s) => winoName(s)).sort());
    for (const s of winoCandidates(H200, q, 8)) expect(estimateUs(H200, s, 8, 0.5)).toBeGreaterThan(0);
  });

  it('rule: batch 8 to 16 (>= 64 output channels or a 28x28 output) and batch 1 from 28x28x128 outputs; the split fills the GPU (runs 70 and 84)', () => {
    const fam = familiesFor('sm_90').find((x) => x.family === 'wino')!;
    const split = (q: ConvProblem & { arch: ArchName }, batch: number): number | null => {
      const c = fam.choose(q, H200, batch, 0.5);
      return c && c.spec.family === 'wino' ? c.spec.split : null;
    };
    // Run 70's and run 84's best splits at batch 8 (ResNet-50's 3x3 shapes): 2 on 104-208 blocks, 1 on 392.
    expect(split(prob(256, 14, 14, 256), 8)).toBe(2);
    expect(split(prob(128, 28, 28, 128), 8)).toBe(2);
    expect(split(prob(512, 7, 7, 512), 8)).toBe(2);
    expect(split(prob(64, 56, 56, 64), 8)).toBe(1);
    expect(split(prob(256, 14, 14, 256), 16)).toBe(2);
    expect(split(prob(64, 56, 56, 64), 16)).toBe(1);
    // DenseNet-169's 128 -> 32 at batch 8 (run 84): 56x56 (196 blocks) and 28x28 (49 blocks: within one wave) split 2;
    // 14x14 and 7x7 stay with dconv, which ran them faster.
    expect(split(prob(128, 56, 56, 32), 8)).toBe(2);
    expect(split(prob(128, 28, 28, 32), 8)).toBe(2);
    expect(split(prob(128, 14, 14, 32), 8)).toBeNull();
    expect(split(prob(128, 7, 7, 32), 8)).toBeNull();
    // Batch 1 (run 84's best splits): 50 blocks -> 2, 28 and 25 -> 4 (one wave); the smaller outputs stay with act-sparse.
    expect(split(prob(64, 56, 56, 64), 1)).toBe(2);
    expect(split(prob(128, 28, 28, 128), 1)).toBe(4);
    expect(split(prob(128, 56, 56, 32), 1)).toBe(4);
    expect(split(prob(256, 14, 14, 256), 1)).toBeNull();
    expect(split(prob(128, 28, 28, 32), 1)).toBeNull();
    expect(split(prob(512, 7, 7, 512), 1)).toBeNull();
    // The fill branch on a grid under half a wave, reached through a wider batch-8 problem: 13 blocks -> split 8.
    expect(split(prob(512, 7, 7, 64), 8)).toBe(8);
    // Slower than cuDNN at batch 32 (run 63); not measured: batches 2-7, fewer than 64 input channels; what the kernel cannot do.
    expect(split(prob(256, 14, 14, 256), 32)).toBeNull();
    expect(split(prob(64, 56, 56, 64), 4)).toBeNull();
    expect(split(prob(32, 56, 56, 128), 8)).toBeNull();
    const q = prob(256, 14, 14, 256);
    expect(split({ ...q, strideH: 2, strideW: 2, ho: 7, wo: 7 }, 8)).toBeNull();
    expect(split(prob(256, 14, 14, 256, true, true, 'sm_80'), 8)).toBe(1);
    expect(split(prob(128, 28, 28, 128, true, true, 'sm_80'), 1)).toBeNull();
    expect(fam.choose(q, H200, 8, 0.5)!.why).toMatch(/wino rule: batch 8 in 8\.\.16, 256 -> 256 channels \(>= 64\), 104 blocks unsplit: split 2/);
    expect(fam.choose(prob(128, 56, 56, 32), H200, 1, 0.5)!.why).toMatch(/wino rule: batch 1, 56x56x32 output \(>= 28x28x128\), 128 input channels \(>= 64\), 25 blocks unsplit: split 4, 16 warps \(run 91\)/);
  });

  it('rule: 16 warps a block at batch 1 where 128 KB of shared memory a block launch, 8 warps at batch 8 to 16 (run 91)', () => {
    const warpsOf = (q: ConvProblem & { arch: ArchName }, batch: number): number | null => {
      const fam = familiesFor(q.arch).find((x) => x.family === 'wino');
      const c = fam?.choose(q, H200, batch, 0.5);
      return c && c.spec.family === 'wino' ? (c.spec.warps ?? 8) : null;
    };
    for (const q of [prob(64, 56, 56, 64), prob(128, 28, 28, 128), prob(128, 56, 56, 32)]) {
      expect(warpsOf(q, 1), `${q.c}x${q.h}x${q.w} -> ${q.k}`).toBe(16);
      expect(warpsOf(q, 8), `${q.c}x${q.h}x${q.w} -> ${q.k}`).toBe(8);
    }
    expect(warpsOf(prob(256, 14, 14, 256), 16)).toBe(8);
    // The same split as at 8 warps (the split is the grid's, and the 16-channel chunks still cover it).
    const fam = familiesFor('sm_90').find((x) => x.family === 'wino')!;
    const c = fam.choose(prob(128, 28, 28, 128), H200, 1, 0.5)!;
    expect(c.spec).toMatchObject({ family: 'wino', split: 4, warps: 16 });
    expect(kernelNameOf(c.spec)).toMatch(/_s4_w16_/);
  });

  it('names, tiles round trip, resources and validation', () => {
    const q = prob(256, 14, 14, 256);
    const spec: WinoKernelSpec = { ...q, family: 'wino', split: 2 };
    expect(kernelNameOf(spec)).toBe('wino2x3_c256_h14_w14_k256_s2_bias_relu_sm90');
    expect(kernelNameOf({ ...prob(20, 11, 13, 76, false, false), family: 'wino', split: 1 })).toBe('wino2x3_c20_h11_w13_k76_s1_sm90');
    expect(tilesOf(spec)).toEqual({ family: 'wino', split: 2 });
    expect(specWithTiles(q, tilesOf(spec))).toEqual(spec);
    expect(resourcesOf(spec, 8)).toEqual({ threads: 256, windowH: 4, windowW: 4, sharedBytes: 65536, regsEstimate: 128, grid: [13, 8, 2] });
    const wide: WinoKernelSpec = { ...spec, warps: 16 };
    expect(kernelNameOf(wide)).toBe('wino2x3_c256_h14_w14_k256_s2_w16_bias_relu_sm90');
    expect(tilesOf(wide)).toEqual({ family: 'wino', split: 2, warps: 16 });
    expect(Object.keys(tilesOf(spec))).toEqual(['family', 'split']);
    expect(specWithTiles(q, tilesOf(wide))).toEqual(wide);
    expect(resourcesOf(wide, 8)).toEqual({ threads: 512, windowH: 4, windowW: 4, sharedBytes: 131072, regsEstimate: 128, grid: [13, 8, 2] });
    expect(winoLayout({ c: 20, k: 76, ho: 11, wo: 13, split: 2, warps: 16 })).toMatchObject({ chunks: 2, chunksPerSplit: 1, bc: 16 });
    expect(() => validateWinoSpec({ ...spec, warps: 12 as 16 })).toThrow(/warps must be 16 or absent \(8\), got 12/);
    expect(() => validateWinoSpec({ ...wide, c: 16, split: 2 })).toThrow(/exceeds the 1 chunks of 16/);
    expect(renderKernel(wide, [{ model: 'resnet50', layer: 'conv4_block1_2_conv' }]).source).toContain('static_assert(SHARED_BYTES == 131072');
    expect(winoLayout({ c: 20, k: 76, ho: 11, wo: 13, split: 2 })).toMatchObject({ tilesH: 6, tilesW: 7, tiles: 42, chunks: 3, chunksPerSplit: 2 });
    expect(() => validateWinoSpec({ ...spec, r: 5, s: 5, padTop: 2, padLeft: 2 })).toThrow(/a 5x5 filter/);
    expect(() => validateWinoSpec({ ...spec, strideH: 2, ho: 7 })).toThrow(/stride 2x1/);
    expect(() => validateWinoSpec({ ...spec, split: 3 })).toThrow(/split must be one of 1, 2, 4, 8/);
    expect(() => validateWinoSpec({ ...spec, arch: 'sm_80', split: 2 })).toThrow(/needs thread block clusters \(at most 1 on sm_80\)/);
    expect(() => validateWinoSpec({ ...spec, c: 8, split: 2 })).toThrow(/exceeds the 1 chunks/);
    const src = renderKernel(spec, [{ model: 'resnet50', layer: 'conv4_block1_2_conv' }]).source;
    expect(src).toContain('conv4_block1_2_conv');
    expect(src).toContain('static_assert(SHARED_BYTES == 65536');
    expect(src).toContain('cusnn_launch_wino2x3_c256_h14_w14_k256_s2_bias_relu_sm90');
  });

  it('nvcc compiles the rendered kernels without warnings or spills (sm_90 with clusters; sm_80 split 1: at most 8 bytes)', async () => {
    if (!findNvcc()) {
      console.log('wino: nvcc not found, the rendered kernels are not compiled here');
      return;
    }
    const dir = join(tmp, 'nvcc');
    mkdirSync(dir, { recursive: true });
    const specs: WinoKernelSpec[] = [
      { ...prob(20, 11, 11, 76), family: 'wino', split: 2 }, { ...prob(256, 14, 14, 256), family: 'wino', split: 8 },
      { ...prob(64, 56, 56, 64, false, false), family: 'wino', split: 1 }, { ...prob(128, 28, 28, 128), family: 'wino', split: 4, warps: 16 },
      { ...prob(37, 7, 9, 40), family: 'wino', split: 2, warps: 16 }, { ...prob(512, 7, 7, 512, true, true, 'sm_80'), family: 'wino', split: 1 },
    ];
    const files = specs.map((s) => {
      const file = join(dir, `${kernelNameOf(s)}.cu`);
      writeFileSync(file, renderKernel(s, [{ model: 'test', layer: 'wino' }]).source);
      return file;
    });
    const sm90 = await compileCheck(files.slice(0, 5), 'sm_90', { filesPerProcess: 5 });
    const sm80 = await compileCheck(files.slice(5), 'sm_80', { filesPerProcess: 1 });
    const results = [...sm90, ...sm80];
    expect(results.length).toBe(files.length);
    for (const r of results) {
      expect(r.ok, `${r.kernel}:\n${r.log}`).toBe(true);
      expect(r.warnings).toEqual([]);
      // sm_90: none. sm_80 (nvcc 13): ptxas spills one 8-byte value at the 128-register cap of two blocks a SM.
      const spillMax = r.arch === 'sm_80' ? 8 : 0;
      expect(Math.max(r.spillStores!, r.spillLoads!, r.stackFrame!), `${r.kernel} ${r.arch}`).toBeLessThanOrEqual(spillMax);
      expect(r.registers!).toBeLessThanOrEqual(resourcesOf(specs[0]!, 1).regsEstimate);
    }
  }, 300_000);
});
