// The batch-1 families as parts: names are deterministic C identifiers that change with every
// field, the tiling rules fit every conv of the zoo on the GPU they target (threads, shared
// memory, clusters only on sm_90), invalid specs are refused with their reasons, and the rendered
// kernels carry the planner's resource figures (the templates static_assert them; the nvcc tests
// compile every kernel of the zoo).
import { describe, expect, it } from 'vitest';
import { gpuProfile, type ArchName } from '../../src/arch/profiles.js';
import { isCIdentifier } from '../../src/codegen/naming.js';
import { chooseDconvTiles } from '../../src/families/dconv/tiles.js';
import { chooseIgemmTiles, igemmCandidates } from '../../src/families/igemm/tiles.js';
import { igemmVecFits, validateIgemmSpec, type IgemmKernelSpec } from '../../src/families/igemm/spec.js';
import { igemmMinBlocks } from '../../src/families/igemm/resources.js';
import { validateDconvSpec, type DconvKernelSpec } from '../../src/families/dconv/spec.js';
import { kernelNameOf, renderKernel, resourcesOf, specWithTiles, tilesOf } from '../../src/families/registry.js';
import { getLayer, type ConvLayer } from '../../src/model/ir.js';
import { buildModel, MODEL_NAMES } from '../../src/model/zoo/index.js';
import { mulberry32, testSeed } from '../helpers/random.js';

const seed = testSeed();
const rnd = mulberry32(seed);

function problems(model: string, arch: ArchName) {
  const g = buildModel(model);
  return g.layers.filter((l): l is ConvLayer => l.op === 'conv').map((conv) => {
    const [c, h, w] = getLayer(g, conv.inputs[0]!).shape;
    return {
      arch, c, h, w, k: conv.outChannels, r: conv.kernel[0], s: conv.kernel[1], strideH: conv.stride[0], strideW: conv.stride[1],
      padTop: conv.pad.top, padLeft: conv.pad.left, ho: conv.shape[1], wo: conv.shape[2], bias: rnd() < 0.5, relu: rnd() < 0.5,
    };
  });
}

describe(`igemm and dconv families (seed ${seed})`, () => {
  it('the rules fit every zoo conv they serve; clusters only on sm_90; specs round-trip through their tiles', () => {
    let served = 0;
    for (const arch of ['sm_80', 'sm_90'] as const) {
      const p = gpuProfile(arch);
      for (const model of MODEL_NAMES) {
        for (const q of problems(model, arch)) {
          const batch = 1 + Math.floor(rnd() * 8);
          for (const ch of [chooseIgemmTiles(p, q, batch), chooseDconvTiles(p, q, batch, rnd())]) {
            if (!ch) continue;
            served++;
            const r = resourcesOf(ch.spec, batch);
            expect(r.threads % 32, kernelNameOf(ch.spec)).toBe(0);
            expect(r.threads).toBeLessThanOrEqual(p.maxThreadsPerBlock);
            expect(r.sharedBytes).toBeLessThanOrEqual(p.sharedPerBlockOptin);
            expect(r.grid[2]).toBe(ch.spec.split);
            if (arch !== 'sm_90') expect(ch.spec.split).toBe(1);
            expect(ch.estimate.us).toBeGreaterThan(0);
            const { family: _f, ...rest } = ch.spec;
            const problem = Object.fromEntries(Object.entries(rest).filter(([k]) => k in q)) as typeof q;
            expect(specWithTiles(problem, tilesOf(ch.spec))).toEqual(ch.spec);
          }
        }
      }
    }
    expect(served).toBeGreaterThan(1000);
  });

  it('names are C identifiers, deterministic, and differ when any field differs', () => {
    const p = gpuProfile('sm_90');
    const specs = problems('resnet50', 'sm_90').flatMap((q) => igemmCandidates(p, q).slice(0, 5));
    expect(specs.length).toBeGreaterThan(100);
    const names = new Map<string, string>();
    for (const s of specs) {
      const n = kernelNameOf(s);
      expect(isCIdentifier(n)).toBe(true);
      expect(kernelNameOf({ ...s })).toBe(n);
      const key = JSON.stringify(s);
      if (names.has(n)) expect(names.get(n)).toBe(key);
      names.set(n, key);
    }
  });

  it('refuses invalid specs with every reason', () => {
    const good: IgemmKernelSpec = { family: 'igemm', arch: 'sm_90', c: 64, h: 14, w: 14, k: 64, r: 3, s: 3, strideH: 1, strideW: 1, padTop: 1, padLeft: 1,
      ho: 14, wo: 14, bias: true, relu: true, bm: 64, bn: 32, bkc: 4, tm: 4, tn: 4, warpM: 16, split: 4, stages: 3 };
    expect(validateIgemmSpec(good)).toBe(good);
    expect(() => validateIgemmSpec({ ...good, arch: 'sm_75' })).toThrow(/sm_75 has no cp.async/);
    expect(() => validateIgemmSpec({ ...good, arch: 'sm_80' })).toThrow(/split 4 needs thread block clusters/);
    expect(() => validateIgemmSpec({ ...good, bm: 48 })).toThrow(/bm \(48\) must be a multiple/);
    expect(() => validateIgemmSpec({ ...good, k: 30 })).toThrow(/multiples of 4/);
    const d: DconvKernelSpec = { family: 'dconv', arch: 'sm_90', c: 128, h: 7, w: 7, k: 32, r: 3, s: 3, strideH: 1, strideW: 1, padTop: 1, padLeft: 1,
      ho: 7, wo: 7, bias: false, relu: false, bm: 32, tm: 1, tn: 7, rowsT: 7, bkc: 2, split: 16, stages: 3 };
    expect(validateDconvSpec(d)).toBe(d);
    expect(() => validateDconvSpec({ ...d, tm: 3 })).toThrow(/tm must be 1, 2 or 4/);
    expect(() => validateDconvSpec({ ...d, split: 32 })).toThrow(/split 32 needs clusters/);
  });

  it('large batches take the 8x8 tiles (16-byte pixel copies where the shape allows); batch 1 keeps its tiles', () => {
    const p = gpuProfile('sm_90');
    let wide = 0;
    let vec = 0;
    for (const model of ['resnet50', 'densenet169'] as const) {
      for (const q of problems(model, 'sm_90')) {
        const one = chooseIgemmTiles(p, q, 1);
        if (one) {
          // Batch 1: 4x4 accumulators and 4-byte copies, except 64x64 blocks of 16-byte-copy 1x1 convs (run 25):
          // 8x4 accumulators, 16-byte copies, the split the 4x4 tiles of those blocks get; 64x64 blocks of
          // stride-1 3x3 convs: 8x4 accumulators, 4 stages (run 28); 1x1 convs to >= 2048 channels at 7x7: 64x64
          // blocks, 8x4 accumulators, the channels split in chunks of 64 (run 28).
          const eight = one.spec.tm === 8;
          const deep = q.r === 1 && q.k >= 2048 && q.ho * q.wo <= 64;
          const threeByThree = q.r === 3 && q.strideH === 1 && Number(q.arch.slice(3)) >= 90 && one.spec.bm === 64 && one.spec.bn === 64 && q.k >= 64;
          expect(eight, kernelNameOf(one.spec)).toBe(deep || threeByThree || (one.spec.bm === 64 && one.spec.bn === 64 && igemmVecFits(q) && q.k >= 64));
          if (deep) {
            expect([one.spec.bm, one.spec.bn, one.spec.tn, one.spec.warpM, one.spec.bkc, one.spec.stages]).toEqual([64, 64, 4, 8, 16, 4]);
            expect(one.spec.split).toBe(Math.min(16, q.c / 64));
          } else if (threeByThree) {
            expect([one.spec.tn, one.spec.warpM, one.spec.stages, one.spec.vec]).toEqual([4, 8, 4, undefined]);
            expect(one.why).toMatch(/a 3x3 conv on 64x64 blocks/);
          } else if (eight) {
            expect([one.spec.tn, one.spec.warpM, one.spec.bkc, one.spec.stages, one.spec.vec]).toEqual([4, 8, 8, 4, 4]);
            expect(one.why).toMatch(/8x4 accumulators/);
          } else {
            expect(one.spec.tm * one.spec.tn, kernelNameOf(one.spec)).toBeLessThanOrEqual(16);
            expect(one.spec.vec).toBeUndefined();
          }
        }
        for (const batch of [8, 32]) {
          const ch = chooseIgemmTiles(p, q, batch);
          if (!ch || ch.spec.tm !== 8) continue;
          wide++;
          const r = resourcesOf(ch.spec, batch);
          // 128 registers a thread for the blocks __launch_bounds__ asks for.
          expect(igemmMinBlocks(ch.spec) * r.threads * 128).toBeLessThanOrEqual(65536);
          // At least 6 blocks also fit the SM's shared memory (16-channel stages: 32 KB a block, 1 KB the driver's),
          // so the split's 7 blocks an SM leave at most one block's tail.
          expect((r.sharedBytes + 1024) * Math.min(6, igemmMinBlocks(ch.spec))).toBeLessThanOrEqual(p.sharedPerSm);
          // Only stride-1 unpadded 1x1 convs (the batch lab, run 21: 3x3 and stride-2 ones lost to cuDNN), with
          // 16-byte pixel copies exactly where the shape allows them.
          expect([q.r, q.s, q.strideH, q.strideW, q.padTop, q.padLeft], kernelNameOf(ch.spec)).toEqual([1, 1, 1, 1, 0, 0]);
          expect(ch.spec.vec === 4).toBe(igemmVecFits(q));
          if (ch.spec.vec === 4) vec++;
          // Run 70's tiles: 64-channel blocks (128 pixels for K <= 64), 16 channels a stage from 28x28 outputs up;
          // a split at most 16, only while the blocks stay within 7 per SM, each keeping >= 64 channels.
          expect([ch.spec.bm, ch.spec.bn, ch.spec.tn, ch.spec.bkc], kernelNameOf(ch.spec)).toEqual([64, q.k <= 64 ? 128 : 64, 8, q.ho * q.wo >= 784 ? 16 : 8]);
          const blocks = r.grid[0] * r.grid[1] * r.grid[2];
          const tiles = blocks / ch.spec.split;
          expect(ch.spec.split).toBeLessThanOrEqual(16);
          if (ch.spec.split > 1) {
            expect(blocks, kernelNameOf(ch.spec)).toBeLessThanOrEqual(7 * p.smCount);
            expect(q.c / ch.spec.split).toBeGreaterThanOrEqual(64);
          }
          // Splitting once more would pass 7 blocks an SM, or 64 channels a block, or the cluster limit.
          expect(tiles * ch.spec.split * 2 > 7 * p.smCount || q.c / (ch.spec.split * 2) < 64 || ch.spec.split === 16, kernelNameOf(ch.spec)).toBe(true);
          expect(ch.why).toMatch(/large batch/);
        }
      }
    }
    expect(wide).toBeGreaterThan(100);
    expect(vec).toBeGreaterThan(50);
    // The 7x7 convs (49 pixels an image) at batch 32 take them with 4-byte copies.
    expect(wide - vec).toBeGreaterThan(10);
    const q = problems('resnet50', 'sm_90').find((x) => x.r === 1 && x.strideH === 1 && x.h === 28)!;
    const cands = igemmCandidates(p, q);
    expect(cands.filter((c) => c.tm === 8 && c.vec === 4).length).toBeGreaterThan(10);
    const v = chooseIgemmTiles(p, q, 8)!.spec;
    const { name, source } = renderKernel(v, [{ model: 'resnet50', layer: 'x' }]);
    expect(name).toMatch(/_t8x8_wm8_z\d+_st4_v4_/);
    expect(source).toContain('int vecOk');
    expect(igemmMinBlocks(v)).toBeGreaterThan(1);
    expect(source).toContain(`constexpr int MIN_BLOCKS = ${igemmMinBlocks(v)};`);
    expect(source).toContain('constexpr int VEC = 4;');
    // At batch 1 the 28x28 conv takes 16-byte copies too (64x64 blocks); a 14x14 one keeps the 4-byte path.
    expect(renderKernel(chooseIgemmTiles(p, q, 1)!.spec, []).source).toContain('constexpr int VEC = 4;');
    const q14 = problems('resnet50', 'sm_90').find((x) => x.r === 1 && x.strideH === 1 && x.h === 14)!;
    const b1 = renderKernel(chooseIgemmTiles(p, q14, 1)!.spec, []).source;
    expect(b1).not.toContain('vecOk');
    expect(b1).toContain('constexpr int MIN_BLOCKS = 1;');
  });

  it('refuses 16-byte pixel copies where the shape has no 4 consecutive pixels, and odd thread tiles', () => {
    const wide: IgemmKernelSpec = { family: 'igemm', arch: 'sm_90', c: 256, h: 28, w: 28, k: 128, r: 1, s: 1, strideH: 1, strideW: 1, padTop: 0, padLeft: 0,
      ho: 28, wo: 28, bias: true, relu: true, bm: 128, bn: 128, bkc: 8, tm: 8, tn: 8, warpM: 8, split: 1, stages: 4, vec: 4 };
    expect(validateIgemmSpec(wide)).toBe(wide);
    expect(() => validateIgemmSpec({ ...wide, r: 3, s: 3, padTop: 1, padLeft: 1 })).toThrow(/vec 4 needs a 1x1, stride-1, unpadded conv/);
    expect(() => validateIgemmSpec({ ...wide, h: 7, w: 7, ho: 7, wo: 7 })).toThrow(/vec 4 needs/);
    expect(() => validateIgemmSpec({ ...wide, strideH: 2, strideW: 2, ho: 14, wo: 14 })).toThrow(/vec 4 needs/);
    expect(() => validateIgemmSpec({ ...wide, tn: 2, bn: 64 })).toThrow(/vec 4 needs tn a multiple of 4/);
    expect(() => validateIgemmSpec({ ...wide, tn: 3 })).toThrow(/tn must be 1, 2, 4 or 8/);
    expect(() => validateIgemmSpec({ ...wide, vec: 2 as unknown as 4 })).toThrow(/vec must be 4 or absent/);
    const { vec: _v, ...noVec } = wide;
    expect(kernelNameOf(noVec)).not.toContain('_v4');
    expect(kernelNameOf(wide)).toContain('_v4');
    expect(specWithTiles({ ...noVec, family: undefined } as never, tilesOf(wide))).toMatchObject({ vec: 4 });
    expect('vec' in tilesOf(noVec)).toBe(false);
  });

  it('rendered kernels state the planner figures the template asserts', () => {
    const p = gpuProfile('sm_90');
    for (const q of problems('densenet121', 'sm_90').slice(1, 40)) {
      for (const ch of [chooseIgemmTiles(p, q, 1), chooseDconvTiles(p, q, 1, 0.7)]) {
        if (!ch) continue;
        const { name, source } = renderKernel(ch.spec, [{ model: 'densenet121', layer: 'x' }]);
        const r = resourcesOf(ch.spec, 1);
        expect(name).toBe(kernelNameOf(ch.spec));
        expect(source).toContain(`static_assert(SHARED_BYTES == ${r.sharedBytes},`);
        expect(source).toContain(`static_assert(THREADS == ${r.threads},`);
        expect(source).toContain(`cusnn_launch_${name}(`);
        expect(source.includes('cudaLaunchKernelEx')).toBe(ch.spec.split > 1);
      }
    }
  });
});
