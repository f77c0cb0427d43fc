// Every kernel emitted for resnet50, densenet169 and vgg16 at sm_75 and sm_90 compiles with the
// local nvcc: no warnings (-Werror all-warnings), no spills, no stack frame. The plans are forced
// to act-sparse wherever the family applies: tiles are chosen per shape whatever the decision, so
// this covers the kernels of the default plan and of any calibration that makes more layers sparse.
//
// How it is compiled: every kernel of an arch (the three models' and the weight-sparse ones below)
// goes through one shared set of nvcc processes, several files per translation unit that
// #includes them (each kernel lives in its own namespace), in at most GROUP files per process.
// A process pays about 5 s of host-side work (CUDA runtime headers through cudafe++ and the host
// compiler) before its first kernel and about 0.5 s per kernel after it, so seven processes (three
// per arch and one for sm_80) instead of one or two per model and arch and one per weight-sparse
// arch save about a third of the nvcc time; the verdicts are the same, each read per kernel from
// ptxas' report. A group that fails is re-run file by file (compileCheck), so a failing kernel
// still gets its own verdict and log. Each group holds at most one model's registry.cu (the
// registries of two folders define the same launcher table).
//
// What CI (2 cores, a 10-minute budget) leaves out: of kernels whose source differs in nothing but
// the input channel count C (the rest of the text identical: every tile, the spatial sizes, K, the
// epilogue, every template branch), it compiles the one with the smallest C, the one with the
// largest C (the fewest and the most reduction stages per block, the two ends of what C changes in
// the code) and one more of them picked at random each run (seed printed). Those are DenseNet-169's
// dense-block 1x1 convs (C grows by 32 per layer, 20 of them can share one text): about half of
// the 232 kernels. ResNet-50's and VGG-16's kernels, every other DenseNet-169 kernel and the
// weight-sparse ones all compile in CI. CUSNN_FULL_CHECKS=1 (the GPU host) compiles every kernel.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compileCheck, findNvcc, type CompileResult } from '../../src/toolchain/nvcc.js';
import { generate } from '../../src/generate.js';
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

const FULL = process.env.CUSNN_FULL_CHECKS === '1';
const MODELS = ['resnet50', 'densenet169', 'vgg16'] as const;
const MODEL_ARCHS = ['sm_75', 'sm_90'] as const;
const WS_ARCHS = ['sm_90', 'sm_80', 'sm_75'] as const;
/**
 * Files per nvcc process at most: a group that fails is re-run file by file all at once
 * (compileCheck), about 300 MB per nvcc, so the groups stay as large as the largest ones before
 * (half of densenet169's 89 kernels).
 */
const GROUP = 45;

// The weight-sparse families (wsparse and wstage: their kernels carry the layer's nonzero lists as tables) on
// fresh randomly pruned weights: zoo-like shapes at 90% (3x3 256 at 14x14, 1x1 1024->256, 3x3 64 at
// 56x56 with all-zero output channels), an odd 5x5 stride 2 at 95%, and one with C*R*S > 65535 and
// more than 65535 nonzeros (32-bit tables), each with the rule's tiles for sm_90 and sm_80, and the
// two small ones for sm_75 (plain loads instead of cp.async): no warnings, no spills, no stack
// frame; ptxas' figures printed.
const SEED = testSeed();
const SHAPES = [
  { c: 256, h: 14, w: 14, k: 256, r: 3, s: 3, stride: 1, pad: 1, zeros: 0.9, emptyK: 0 },
  { c: 1024, h: 14, w: 14, k: 256, r: 1, s: 1, stride: 1, pad: 0, zeros: 0.9, emptyK: 0 },
  { c: 64, h: 56, w: 56, k: 64, r: 3, s: 3, stride: 1, pad: 1, zeros: 0.9, emptyK: 5 },
  { c: 21, h: 17, w: 19, k: 30, r: 5, s: 5, stride: 2, pad: 2, zeros: 0.95, emptyK: 1 },
  { c: 16500, h: 3, w: 3, k: 16, r: 2, s: 2, stride: 1, pad: 0, zeros: 0.9, emptyK: 0 },
];

interface ModelFolder {
  /** Kernels the folder has, and the files of those compiled (all, or CI's subset). */
  readonly kernels: number;
  readonly registry: string;
  readonly files: readonly string[];
}

interface WsShape {
  readonly index: number;
  /** Whether the wsparse rule and the wstage rule found tiles. */
  readonly wsparse: boolean;
  readonly wstage: boolean;
  readonly names: readonly string[];
}

interface WsArch {
  readonly shapes: readonly WsShape[];
  readonly files: readonly string[];
}

/** Renders the weight-sparse kernels of `arch` into tmp. */
function renderWeightSparse(arch: (typeof WS_ARCHS)[number], structures: ReturnType<typeof weightStructure>[]): WsArch {
  const shapes: WsShape[] = [];
  const files: string[] = [];
  SHAPES.forEach((q, i) => {
    if (arch === 'sm_75' && i !== 2 && i !== 3) return;
    const ho = Math.floor((q.h + 2 * q.pad - q.r) / q.stride) + 1, wo = Math.floor((q.w + 2 * q.pad - q.s) / q.stride) + 1;
    const problem = { arch, c: q.c, h: q.h, w: q.w, k: q.k, r: q.r, s: q.s, strideH: q.stride, strideW: q.stride, padTop: q.pad, padLeft: q.pad, ho, wo, bias: i % 2 === 0, relu: i !== 1 };
    const choice = chooseWsparseTiles(gpuProfile(arch), problem, 1, structures[i]!);
    // wstage too, where its window fits the arch's shared memory (not the 16500-channel shape).
    const staged = chooseWstageTiles(gpuProfile(arch), problem, 1, structures[i]!);
    const names = [...(choice ? [choice.spec] : []), ...(staged ? [staged.spec] : [])].map((spec) => {
      const { name, source } = renderKernel(spec, [{ model: 'random', layer: `shape ${i}` }], { structure: structures[i]! });
      expect(name).toBe(kernelNameOf(spec));
      const file = join(tmp, `${name}.cu`);
      writeFileSync(file, source);
      files.push(resolve(file));
      return name;
    });
    shapes.push({ index: i, wsparse: choice !== null, wstage: staged !== null, names });
  });
  return { shapes, files };
}

/** A kernel's source with its name, its comments, its C value and its description table's values left out. */
function textBesidesC(file: string, name: string): string {
  return readFileSync(file, 'utf8').split(name).join('NAME')
    .replace(/\/\*[\s\S]*?\*\//g, '').replace(/\/\/.*$/gm, '')
    .replace(/^(\s*constexpr int C = )\d+;/m, '$1?;')
    .replace(/(cusnn_info_NAME = \{)[^}]*\}/, '$1}');
}

/**
 * The kernels of one arch that CI compiles (all of them under CUSNN_FULL_CHECKS=1): of each set
 * whose text differs only in C, the smallest C, the largest and one more drawn with `rnd`.
 */
function ciSubset(kernels: readonly { file: string; name: string; c: number }[], rnd: () => number): { picked: Set<string>; classes: number } {
  const byText = new Map<string, { file: string; c: number }[]>();
  for (const k of kernels) {
    const key = textBesidesC(k.file, k.name);
    const same = byText.get(key) ?? [];
    same.push(k);
    byText.set(key, same);
  }
  const picked = new Set<string>();
  for (const same of byText.values()) {
    if (FULL) {
      for (const k of same) picked.add(k.file);
      continue;
    }
    const byC = [...same].sort((a, b) => a.c - b.c);
    picked.add(byC[0]!.file);
    picked.add(byC[byC.length - 1]!.file);
    if (byC.length > 2) picked.add(byC[1 + Math.floor(rnd() * (byC.length - 2))]!.file);
  }
  return { picked, classes: byText.size };
}

/**
 * `kernels` of one arch and the folders' registries in groups of at most GROUP files, each group
 * led by one registry, in the order compileCheck slices them (filesPerProcess).
 */
function groupFiles(registries: readonly string[], kernels: readonly string[]): { files: string[]; perProcess: number } {
  const groups = Math.max(registries.length, Math.ceil((registries.length + kernels.length) / GROUP));
  const perProcess = Math.ceil((registries.length + kernels.length) / groups);
  const files: string[] = [];
  let k = 0;
  for (let g = 0; g < groups; g++) {
    const group = g < registries.length ? [registries[g]!] : [];
    while (group.length < perProcess && k < kernels.length) group.push(kernels[k++]!);
    files.push(...group);
  }
  expect(k).toBe(kernels.length);
  return { files, perProcess };
}

describe.skipIf(!nvcc)('nvcc on every kernel', () => {
  const folders = new Map<string, ModelFolder>();
  const ws = new Map<string, WsArch>();
  const results = new Map<string, CompileResult[]>(); // by file
  const seconds: string[] = [];
  const subsets: string[] = [];

  beforeAll(async () => {
    const rnd = mulberry32(SEED);
    const structures = SHAPES.map((q) => {
      const crs = q.c * q.r * q.s;
      const kernel = new Float32Array(q.k * crs);
      for (let i = 0; i < kernel.length; i++) if (rnd() >= q.zeros) kernel[i] = rnd() - 0.5 || 0.5;
      for (let e = 0; e < q.emptyK; e++) kernel.fill(0, e * 7 % q.k * crs, (e * 7 % q.k + 1) * crs);
      return weightStructure(kernel, { k: q.k, c: q.c, r: q.r, s: q.s });
    });
    // The nvcc processes: one group of files each, two at a time (two CI cores), sm_90's first (the
    // longest); each lane takes the next group when its process ends.
    const queue: { arch: string; files: string[] }[] = [];
    const lane = async (): Promise<void> => {
      for (let job = queue.shift(); job; job = queue.shift()) {
        const t0 = performance.now();
        for (const r of await compileCheck(job.files, job.arch, { filesPerProcess: job.files.length, jobs: 1 })) {
          const list = results.get(r.file) ?? [];
          list.push(r);
          results.set(r.file, list);
        }
        seconds.push(`${job.arch} ${job.files.length} files ${((performance.now() - t0) / 1000).toFixed(1)} s`);
      }
    };
    const enqueue = (a: string, g: { files: string[]; perProcess: number }): void => {
      for (let i = 0; i < g.files.length; i += g.perProcess) queue.push({ arch: a, files: g.files.slice(i, i + g.perProcess) });
    };
    // Generates and renders an arch's kernels and groups their files.
    const arch = (a: 'sm_75' | 'sm_80' | 'sm_90'): { files: string[]; perProcess: number } => {
      const registries: string[] = [];
      const kernels: string[] = [];
      if ((MODEL_ARCHS as readonly string[]).includes(a)) {
        const emitted = MODELS.map((model) => generate({ model, arch: a, force: 'act-sparse', out: join(tmp, `${model}-${a}`) }).emitted);
        const all = emitted.flatMap((e) => e.kernels.map((k) => ({ file: resolve(e.dir, k.file), name: k.name, c: k.spec.c })));
        const { picked, classes } = ciSubset(all, rnd);
        subsets.push(`${a}: ${picked.size} of ${all.length} kernels (${classes} texts besides C)`);
        MODELS.forEach((model, i) => {
          const e = emitted[i]!;
          const files = e.kernels.map((k) => resolve(e.dir, k.file)).filter((f) => picked.has(f));
          const registry = resolve(e.dir, 'kernels/registry.cu');
          folders.set(`${model} ${a}`, { kernels: e.kernels.length, registry, files });
          registries.push(registry);
          kernels.push(...files);
        });
      }
      const w = renderWeightSparse(a, structures);
      ws.set(a, w);
      kernels.push(...w.files);
      return groupFiles(registries, kernels);
    };
    enqueue('sm_90', arch('sm_90'));
    const lanes = [lane(), lane()];
    // Generated while the first two groups compile; the lanes find these groups when they are done.
    enqueue('sm_75', arch('sm_75'));
    enqueue('sm_80', arch('sm_80'));
    await Promise.all(lanes);
    console.log(`models-compile (seed ${SEED}): ${subsets.join('; ')}${FULL ? '' : ' (CI: of kernels that differ only in C, the smallest C, the largest and one at random; CUSNN_FULL_CHECKS=1 compiles all)'}`);
    console.log(`models-compile: nvcc processes: ${seconds.join(', ')}`);
  }, 900_000);

  describe('emitted kernels compile warning-free', () => {
    for (const model of MODELS) {
      for (const arch of MODEL_ARCHS) {
        it(`${model} ${arch}`, () => {
          const f = folders.get(`${model} ${arch}`)!;
          expect(f.kernels).toBeGreaterThan(0);
          const registry = results.get(f.registry) ?? [];
          expect(registry.length, 'registry.cu compiled').toBeGreaterThan(0);
          for (const r of registry) expect(r.warnings, r.log).toEqual([]);
          if (FULL) expect(f.files.length).toBe(f.kernels);
          else expect(f.files.length).toBeGreaterThan(0);
          const kernelResults = f.files.flatMap((file) => results.get(file) ?? []);
          expect(kernelResults.length).toBe(f.files.length);
          for (const r of kernelResults) {
            expect(r.ok, r.log).toBe(true);
            expect(r.arch).toBe(arch);
            expect([r.spillStores, r.spillLoads, r.stackFrame], r.kernel).toEqual([0, 0, 0]);
          }
        });
      }
    }
  });

  describe(`wsparse and wstage kernels compile warning-free, without spills (seed ${SEED})`, () => {
    for (const arch of WS_ARCHS) {
      it(arch, () => {
        const w = ws.get(arch)!;
        for (const s of w.shapes) {
          expect(s.wsparse, `${arch} shape ${s.index}`).toBe(true);
          if (s.index < 4 && arch !== 'sm_75') expect(s.wstage, `${arch} shape ${s.index}: wstage`).toBe(true);
        }
        expect(w.files.some((f) => f.includes('wstage')), `${arch}: wstage kernels compiled`).toBe(true);
        const got = w.files.flatMap((file) => results.get(file) ?? []);
        // A kernel with a float4 path (wsparse) or a 16-byte window copy (wstage) has two entry points, <name> and <name>_vec4: ptxas reports both.
        const names = w.shapes.flatMap((s) => s.names);
        expect([...new Set(got.map((r) => r.kernel.replace(/_vec4$/, '')))].sort()).toEqual([...new Set(names)].sort());
        for (const r of got) {
          console.log(`${r.kernel.startsWith('wstage') ? 'wstage' : 'wsparse'} ${r.arch}: ${r.kernel}: ${r.registers} registers, spills ${r.spillStores}/${r.spillLoads} bytes, stack ${r.stackFrame}`);
          expect(r.ok, r.log).toBe(true);
          expect(r.arch).toBe(arch);
          expect([r.spillStores, r.spillLoads, r.stackFrame], r.kernel).toEqual([0, 0, 0]);
        }
      });
    }
  });
});
