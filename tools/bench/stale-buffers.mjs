// CPU, no GPU: what the timings before commit 7ec6d40 ran on (docs/PERFORMANCE.md, "Timings on stale buffers").
// On one real image, with the float64 interpreter of the lowered program (src/runtime/program-cpu.ts), per conv:
//   real     the zero fraction of the input it reads in a forward of the image
//   stale    of what its input view held after that whole forward (what timeStep timed it on before the fix)
//   replay   of its input in a second forward from what the program input held after the first (what every timed
//            forward replay after the first ran on, before the fix; with the fix, equal to real)
// usage: node tools/bench/stale-buffers.mjs <dist root: a built checkout> <generated folder> <weights> <image>
// e.g. a checkout of 7ec6d40~1 (git worktree add /tmp/old 7ec6d40~1; npx tsc there) against this one.
const [root, dir, wf, img] = process.argv.slice(2);
if (!root || !dir || !wf || !img) {
  console.error('usage: node tools/bench/stale-buffers.mjs <dist root> <generated folder> <weights.safetensors> <image>');
  process.exit(2);
}
const { lowerNetwork } = await import(`${root}/dist/runtime/lower.js`);
const { planModel, readPlanFile } = await import(`${root}/dist/runtime/network.js`);
const { preprocess, readImage } = await import(`${root}/dist/runtime/images.js`);
const { runProgramCpu } = await import(`${root}/dist/runtime/program-cpu.js`);
const plan = readPlanFile(dir);
const { graph, weights } = planModel(dir, plan, { weights: wf, fillMissing: true });
const { program: P, tensors } = lowerNetwork(graph, plan, weights, { batch: 1, mode: 'plan' });
const pack = (bufs, v) => bufs[v.buf].slice(v.offset, v.offset + v.c * v.h * v.w);
const zeros = (a) => a.reduce((n, v) => n + (v === 0), 0) / a.length;
const forward = (input) => {
  const seen = new Map();
  const r = runProgramCpu(P, tensors, input, { beforeStep: (i, s, bufs) => { if (s.op === 'conv') seen.set(i, zeros(pack(bufs, s.in))); } });
  return { seen, buffers: r.buffers };
};
const x = preprocess([readImage(img)], graph.preprocessing);
const first = forward(x);
const left = Float32Array.from(pack(first.buffers, P.input));
const same = left.every((v, i) => v === x[i]);
const second = forward(left);
const pct = (v) => (100 * v).toFixed(1);
console.log(`# ${plan.model}, ${img}: the program input after a forward is ${same ? 'the image (kept)' : `not the image (${pct(zeros(left))}% zeros, ${left.reduce((m, v) => Math.min(m, v), Infinity).toFixed(2)}..${left.reduce((m, v) => Math.max(m, v), -Infinity).toFixed(2)})`}`);
console.log(['layer', 'path', 'real %', 'stale %', 'replay %'].join('\t'));
let moved = 0, replayMoved = 0, dReplay = 0;
for (const [i, real] of first.seen) {
  const s = P.steps[i];
  const after = zeros(pack(first.buffers, s.in));
  const rep = second.seen.get(i);
  if (Math.abs(after - real) > 0.1) moved++;
  if (Math.abs(rep - real) > 0.05) replayMoved++;
  dReplay += rep - real;
  console.log([s.layer, s.path, pct(real), pct(after), pct(rep)].join('\t'));
}
const n = first.seen.size;
console.log(`# ${n} convs: stale zeros differ from real by > 10 points on ${moved}; the replay's by > 5 points on ${replayMoved}, by ${(100 * dReplay / n).toFixed(1)} points on average`);
