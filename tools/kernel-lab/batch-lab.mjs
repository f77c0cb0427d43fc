#!/usr/bin/env node
// Batch kernel lab, step 1 (here, with Node): renders igemm kernels exactly as the generator does
// (the family's renderer from the built package) for 1x1 layer shapes of ResNet-50 and DenseNet-169
// at batch 8 and 32, the rule's tiles and neighbours of them, into <out>/ with kernels.inc, the
// table batch-lab.cu includes. Step 2 (on the GPU host, no Node): tools/kernel-lab/batch-lab.sh
// <out> compiles them with batch-lab.cu and times each against cuDNN's fastest exact-fp32 algorithm.
//
//   node tools/kernel-lab/batch-lab.mjs <out> [--batches 8,32] [--only resnet50|densenet169]
//   (CUSNN_DIST=<dir> to use a build other than dist/)
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

const args = process.argv.slice(2);
const out = args[0];
if (!out || out.startsWith('--')) { console.error('usage: batch-lab.mjs <out> [--batches 8,32] [--only model]'); process.exit(2); }
const opt = (n, d) => { const i = args.indexOf(n); return i >= 0 ? args[i + 1] : d; };
const batches = opt('--batches', '8,32').split(',').map(Number);
const only = opt('--only', null);
const dist = resolve(process.env.CUSNN_DIST ?? new URL('../../dist', import.meta.url).pathname);
const load = (m) => import(pathToFileURL(join(dist, m)).href);
const { renderIgemmKernel } = await load('families/igemm/render.js');
const { chooseIgemmTiles } = await load('families/igemm/tiles.js');
const { igemmName, igemmVecFits } = await load('families/igemm/spec.js');
const { igemmSharedBytes, igemmThreads } = await load('families/igemm/resources.js');
const { gpuProfile } = await load('arch/profiles.js');
const p = gpuProfile('sm_90');

// [model, C, H(=W), K, stride, R(=S)] of convs: ResNet-50's distinct 1x1 ones, DenseNet-169's bottlenecks and
// transitions, a few 3x3 ones, and odd shapes (tails of every tile dimension, batch 3) for correctness.
const SHAPES = [
  ['resnet50', 64, 56, 256, 1], ['resnet50', 64, 56, 64, 1], ['resnet50', 256, 56, 64, 1], ['resnet50', 256, 56, 512, 2],
  ['resnet50', 256, 56, 128, 2], ['resnet50', 128, 28, 512, 1], ['resnet50', 512, 28, 128, 1], ['resnet50', 512, 28, 1024, 2],
  ['resnet50', 256, 14, 1024, 1], ['resnet50', 1024, 14, 256, 1], ['resnet50', 1024, 14, 2048, 2], ['resnet50', 512, 7, 2048, 1],
  ['resnet50', 2048, 7, 512, 1],
  ['densenet169', 96, 56, 128, 1], ['densenet169', 224, 56, 128, 1], ['densenet169', 256, 56, 128, 1], ['densenet169', 256, 28, 128, 1],
  ['densenet169', 480, 28, 128, 1], ['densenet169', 512, 28, 256, 1], ['densenet169', 512, 14, 128, 1], ['densenet169', 1024, 14, 128, 1],
  ['densenet169', 1280, 14, 640, 1], ['densenet169', 896, 7, 128, 1], ['densenet169', 1600, 7, 128, 1],
  ['resnet50', 64, 56, 64, 1, 3], ['resnet50', 128, 28, 128, 1, 3], ['resnet50', 256, 14, 256, 1, 3], ['densenet169', 128, 28, 32, 1, 3],
  ['odd', 100, 10, 68, 1], ['odd', 37, 7, 72, 1], ['odd', 70, 9, 132, 2], ['odd', 20, 11, 76, 1, 3],
].filter((s) => !only || s[0] === only);

mkdirSync(out, { recursive: true });
const entries = [];
const seen = new Set();
const files = [];
for (const [model, c, hw, k, stride, rs = 1] of SHAPES) {
  const pad = (rs - 1) / 2;
  const ho = Math.floor((hw + 2 * pad - rs) / stride) + 1;
  const problem = { arch: 'sm_90', c, h: hw, w: hw, k, r: rs, s: rs, strideH: stride, strideW: stride, padTop: pad, padLeft: pad, ho, wo: ho, bias: true, relu: true };
  for (const batch of model === 'odd' ? [3] : batches) {
    const rule = chooseIgemmTiles(p, problem, batch);
    if (!rule) continue;
    // Odd shapes at batch 3 would get the batch-1 tiles: take the large-batch ones, vec where it fits.
    const base = model === 'odd'
      ? { ...problem, family: 'igemm', bm: 128, bn: 128, bkc: rs === 1 ? 8 : 1, tm: 8, tn: 8, warpM: 8, split: 2, stages: 4, ...(igemmVecFits(problem) ? { vec: 4 } : {}) }
      : rule.spec;
    const variants = [base,
      { ...base, split: Math.max(1, base.split / 2) }, { ...base, split: Math.min(16, base.split * 2) },
      { ...base, bn: base.bn === 128 ? 64 : 128 }, { ...base, tn: 4 }, { ...base, bkc: 16 }];
    for (const v of variants) {
      let name;
      try { name = igemmName(v); } catch { continue; }
      if (v.split > 1 && c / v.split < 4 * v.bkc && model !== 'odd') continue;
      if (igemmSharedBytes(v) > p.sharedPerBlockOptin || igemmThreads(v) > 1024) continue;
      const key = `${name}@${batch}`;
      if (seen.has(key)) continue;
      seen.add(key);
      if (!files.includes(name)) {
        writeFileSync(join(out, `${name}.cu`), renderIgemmKernel(v, [{ model, layer: `lab ${c}x${hw}x${hw}->${k}` }]).source);
        files.push(name);
      }
      entries.push({ name, model, batch, c, hw, k, stride, rs, pad, ho, rule: v === base });
    }
  }
}
const decl = files.map((n) => `extern "C" cudaError_t cusnn_launch_${n}(const float*, long long, const float*, const float*, float*, long long, int, cudaStream_t);`);
const rows = entries.map((e) => `  {"${e.name}", "${e.model}", cusnn_launch_${e.name}, ${e.c}, ${e.hw}, ${e.hw}, ${e.k}, ${e.rs}, ${e.rs}, ${e.stride}, ${e.pad}, ${e.ho}, ${e.ho}, ${e.batch}, ${e.rule ? 1 : 0}},`);
writeFileSync(join(out, 'kernels.inc'), [...decl, 'static const Entry kEntries[] = {', ...rows, '};', ''].join('\n'));
writeFileSync(join(out, 'kernels.list'), files.map((n) => `${n}.cu`).join('\n') + '\n');
console.log(`${files.length} kernels, ${entries.length} (kernel, batch) entries in ${out}`);
