#!/usr/bin/env node
// Winograd lab, step 1 (here, with Node): renders the wino family's kernels (src/families/wino, the
// family's own renderer from the built package) for ResNet-50's four 3x3 shapes and DenseNet-169's four
// (128 -> 32 channels at 56x56..7x7, the growth convs the rule leaves out) at batch 8 and 32 (--batches 1 for the
// batch-1 question: run 84),
// every split of its space, and for odd shapes (channel, output-channel and tile tails, odd H and W,
// no bias / no ReLU) at batch 3, into <out>/ with kernels.inc, the table batch-lab.cu includes.
// Step 2 (on the GPU host, no Node): tools/kernel-lab/batch-lab.sh <out> compiles them with
// batch-lab.cu and times each against cuDNN's fastest exact-fp32 algorithm (relative L2 against
// IMPLICIT_GEMM + bias + ReLU first). rule = 1 marks the cost model's pick of the splits.
//
//   node tools/kernel-lab/wino-lab.mjs <out> [--batches 8,32]   (CUSNN_DIST=<dir>: a build other than dist/)
// A variant of the template: edit a copy of the package, not templates/ in the tree (the host's benches render from
// the carried tree: runs 85 and 87 timed uncommitted templates that way). The renderer reads <dist>/../templates/:
//   mkdir -p /tmp/var && cp -r dist templates /tmp/var/ && ln -s "$PWD/node_modules" /tmp/var/   # then edit
//   /tmp/var/templates/wino.cu.hbs
//   CUSNN_DIST=/tmp/var/dist node tools/kernel-lab/wino-lab.mjs .data/wino-var --batches 1,8
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

const args = process.argv.slice(2);
const out = args[0];
if (!out || out.startsWith('--')) { console.error('usage: wino-lab.mjs <out> [--batches 8,32]'); process.exit(2); }
const opt = (n, d) => { const i = args.indexOf(n); return i >= 0 ? args[i + 1] : d; };
const batches = opt('--batches', '8,32').split(',').map(Number);
const dist = resolve(process.env.CUSNN_DIST ?? new URL('../../dist', import.meta.url).pathname);
const load = (m) => import(pathToFileURL(join(dist, m)).href);
const { winoCandidates } = await load('families/wino/tiles.js');
const { winoUs } = await load('families/wino/cost.js');
const { renderWinoKernel } = await load('families/wino/render.js');
const { winoName } = await load('families/wino/spec.js');
const { gpuProfile } = await load('arch/profiles.js');
const p = gpuProfile('sm_90');

// [model, C, H(=W), K, bias and ReLU]: batch-lab.cu's reference adds bias and ReLU, so every entry has both;
// the odd shapes cover the tails (C not a multiple of 8, K not of 32, odd H, a last tile block part-filled).
const SHAPES = [
  ['resnet50', 64, 56, 64], ['resnet50', 128, 28, 128], ['resnet50', 256, 14, 256], ['resnet50', 512, 7, 512],
  ['densenet169', 128, 56, 32], ['densenet169', 128, 28, 32], ['densenet169', 128, 14, 32], ['densenet169', 128, 7, 32],
  ['odd', 20, 11, 76], ['odd', 37, 7, 40], ['odd', 64, 9, 33], ['odd', 3, 5, 8],
];

mkdirSync(out, { recursive: true });
const entries = [];
const files = new Set();
for (const [model, c, hw, k] of SHAPES) {
  const problem = { arch: 'sm_90', c, h: hw, w: hw, k, r: 3, s: 3, strideH: 1, strideW: 1, padTop: 1, padLeft: 1, ho: hw, wo: hw, bias: true, relu: true };
  for (const batch of model === 'odd' ? [3] : batches) {
    const specs = winoCandidates(p, problem, batch);
    const best = specs.reduce((a, s) => (winoUs(p, s, batch).us < winoUs(p, a, batch).us ? s : a), specs[0]);
    for (const spec of specs) {
      const name = winoName(spec);
      if (!files.has(name)) {
        writeFileSync(join(out, `${name}.cu`), renderWinoKernel(spec, [{ model, layer: `lab ${c}x${hw}x${hw}->${k}` }]).source);
        files.add(name);
      }
      entries.push({ name, model, batch, c, hw, k, rule: spec === best });
    }
  }
}
const decl = [...files].map((n) => `extern "C" cudaError_t cusnn_launch_${n}(const float*, long long, const float*, const float*, float*, long long, int, cudaStream_t);`);
const rows = entries.map((e) => `  {"${e.name}", "${e.model}", cusnn_launch_${e.name}, ${e.c}, ${e.hw}, ${e.hw}, ${e.k}, 3, 3, 1, 1, ${e.hw}, ${e.hw}, ${e.batch}, ${e.rule ? 1 : 0}},`);
writeFileSync(join(out, 'kernels.inc'), [...decl, 'static const Entry kEntries[] = {', ...rows, '};', ''].join('\n'));
writeFileSync(join(out, 'kernels.list'), [...files].map((n) => `${n}.cu`).join('\n') + '\n');
console.log(`${files.size} kernels, ${entries.length} (kernel, batch) entries in ${out}`);
