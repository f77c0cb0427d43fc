// Every kernel emitted for resnet50, densenet169 and vgg16 at sm_75 and sm_90 compiles with the
// local nvcc: no warnings (-Werror all-warnings), no spills, no stack frame. The plans are forced
// to act-sparse wherever the family applies: tiles are chosen per shape whatever the decision, so
// this covers the kernels of the default plan and of any calibration that makes more layers sparse.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { compileCheck, findNvcc } from '../../src/toolchain/nvcc.js';
import { generate } from '../../src/generate.js';
import { writeFileSync } from 'node:fs';
import { gpuProfile } from '../../src/arch/profiles.js';
import { kernelNameOf, renderKernel } from '../../src/families/registry.js';
import { weightStructure } from '../../src/families/wsparse/structure.js';
import { chooseWsparseTiles } from '../../src/families/wsparse/tiles.js';
import { chooseWstageTiles } from '../../src/families/wstage/tiles.js';
import { mulberry32, testSeed } from '../helpers/random.js';

const nvcc = findNvcc();
const tmp = mkdtempSync(join(tmpdir(), 'cusnn-models-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

if (!nvcc) console.warn('models-compile: nvcc not found (CUDA_HOME, PATH): skipping the compile of emitted kernels');

describe.skipIf(!nvcc)('emitted kernels compile warning-free', () => {
  for (const model of ['resnet50', 'densenet169', 'vgg16']) {
    for (const arch of ['sm_75', 'sm_90']) {
      it(`${model} ${arch}`, { timeout: 900_000 }, async () => {
        const g = generate({ model, arch, force: 'act-sparse', out: join(tmp, `${model}-${arch}`) });
        expect(g.emitted.kernels.length).toBeGreaterThan(0);
        const files = [join(g.emitted.dir, 'kernels/registry.cu'), ...g.emitted.kernels.map((k) => join(g.emitted.dir, k.file))];
        // Half the files per nvcc process: two processes keep two CI cores busy and pay the
        // host-side compile (CUDA runtime headers, about as much as the kernels themselves) twice
        // instead of once per 8 files; a group that fails is re-run file by file (compileCheck),
        // so every verdict and log is still one file's.
        const results = await compileCheck(files, arch, { filesPerProcess: Math.ceil(files.length / 2) });
        const kernelResults = results.filter((r) => !r.file.endsWith('registry.cu'));
        expect(kernelResults.length).toBe(g.emitted.kernels.length);
        for (const r of results) {
          if (r.file.endsWith('registry.cu')) {
            expect(r.warnings, r.log).toEqual([]);
            continue;
          }
          expect(r.ok, r.log).toBe(true);
          expect(r.arch).toBe(arch);
          expect([r.spillStores, r.spillLoads, r.stackFrame], r.kernel).toEqual([0, 0, 0]);
        }
      });
    }
  }
});

// The weight-sparse families (wsparse and wstage: their kernels carry the layer's nonzero lists as tables) on
// fresh randomly pruned weights: zoo-like shapes at 90% (3x3 256 at 14x14, 1x1 1024->256, 3x3 64 at
// 56x56 with all-zero output channels), an odd 5x5 stride 2 at 95%, and one with C*R*S > 65535 and
// more than 65535 nonzeros (32-bit tables), each with the rule's tiles for sm_90 and sm_80, and the
// two small ones for sm_75 (plain loads instead of cp.async): no warnings, no spills, no stack
// frame; ptxas' figures printed.
const WS_SEED = testSeed();
describe.skipIf(!nvcc)(`wsparse and wstage kernels compile warning-free, without spills (seed ${WS_SEED})`, () => {
  const rnd = mulberry32(WS_SEED);
  const shapes = [
    { c: 256, h: 14, w: 14, k: 256, r: 3, s: 3, stride: 1, pad: 1, zeros: 0.9, emptyK: 0 },
    { c: 1024, h: 14, w: 14, k: 256, r: 1, s: 1, stride: 1, pad: 0, zeros: 0.9, emptyK: 0 },
    { c: 64, h: 56, w: 56, k: 64, r: 3, s: 3, stride: 1, pad: 1, zeros: 0.9, emptyK: 5 },
    { c: 21, h: 17, w: 19, k: 30, r: 5, s: 5, stride: 2, pad: 2, zeros: 0.95, emptyK: 1 },
    { c: 16500, h: 3, w: 3, k: 16, r: 2, s: 2, stride: 1, pad: 0, zeros: 0.9, emptyK: 0 },
  ];
  const structures = shapes.map((q) => {
    const crs = q.c * q.r * q.s;
    const kernel = new Float32Array(q.k * crs);
    for (let i = 0; i < kernel.length; i++) if (rnd() >= q.zeros) kernel[i] = rnd() - 0.5 || 0.5;
    for (let e = 0; e < q.emptyK; e++) kernel.fill(0, e * 7 % q.k * crs, (e * 7 % q.k + 1) * crs);
    return weightStructure(kernel, { k: q.k, c: q.c, r: q.r, s: q.s });
  });
  for (const arch of ['sm_90', 'sm_80', 'sm_75'] as const) {
    it(arch, { timeout: 600_000 }, async () => {
      const files = shapes.flatMap((q, i) => {
        if (arch === 'sm_75' && i !== 2 && i !== 3) return [];
        const ho = Math.floor((q.h + 2 * q.pad - q.r) / q.stride) + 1, wo = Math.floor((q.w + 2 * q.pad - q.s) / q.stride) + 1;
        const problem = { arch, c: q.c, h: q.h, w: q.w, k: q.k, r: q.r, s: q.s, strideH: q.stride, strideW: q.stride, padTop: q.pad, padLeft: q.pad, ho, wo, bias: i % 2 === 0, relu: i !== 1 };
        const choice = chooseWsparseTiles(gpuProfile(arch), problem, 1, structures[i]!);
        expect(choice, `${arch} shape ${i}`).not.toBeNull();
        // wstage too, where its window fits the arch's shared memory (not the 16500-channel shape).
        const staged = chooseWstageTiles(gpuProfile(arch), problem, 1, structures[i]!);
        if (i < 4 && arch !== 'sm_75') expect(staged, `${arch} shape ${i}: wstage`).not.toBeNull();
        return [choice!.spec, ...(staged ? [staged.spec] : [])].map((spec) => {
          const { name, source } = renderKernel(spec, [{ model: 'random', layer: `shape ${i}` }], { structure: structures[i]! });
          expect(name).toBe(kernelNameOf(spec));
          const file = join(tmp, `${name}.cu`);
          writeFileSync(file, source);
          return file;
        });
      });
      expect(files.some((f) => f.includes('wstage')), `${arch}: wstage kernels compiled`).toBe(true);
      const results = await compileCheck(files, arch, { filesPerProcess: files.length });
      // A kernel with a float4 path (wsparse) or a 16-byte window copy (wstage) has two entry points, <name> and <name>_vec4: ptxas reports both.
      const names = files.map((f) => f.replace(/^.*\//, '').replace(/\.cu$/, ''));
      expect([...new Set(results.map((r) => r.kernel.replace(/_vec4$/, '')))].sort()).toEqual([...new Set(names)].sort());
      for (const r of results) {
        console.log(`${r.kernel.startsWith('wstage') ? 'wstage' : 'wsparse'} ${r.arch}: ${r.kernel}: ${r.registers} registers, spills ${r.spillStores}/${r.spillLoads} bytes, stack ${r.stackFrame}`);
        expect(r.ok, r.log).toBe(true);
        expect(r.arch).toBe(arch);
        expect([r.spillStores, r.spillLoads, r.stackFrame], r.kernel).toEqual([0, 0, 0]);
      }
    });
  }
});
