// How evenly the pxg family's warps share a pixel's nonzero inputs on real activations: per 3x3 conv
// input that pxg's shape rule serves (K <= 32, at most 264 pixels), from the float64 CPU reference on
// real images, per output pixel the nonzeros of each warp's contiguous slice of the C * 9 (channel,
// tap) pairs (16 warps) and of the whole window. A block's time follows its busiest warp's list
// (UNROLL 8 rows per step): `steps` counts steps of the busiest warp, `balanced` of an even share.
// usage (repository root, after npm run build): node tools/sparsity/pxg-balance.mjs <model> <weights> [images] [image dir]
const D = new URL('../../dist', import.meta.url).pathname;
const { resolveModel, resolvedWeights } = await import(`${D}/model/resolve.js`);
const { referenceForward } = await import(`${D}/runtime/reference.js`);
const { listImages, preprocess, readImage } = await import(`${D}/runtime/images.js`);
const [model, weights, nimg] = process.argv.slice(2);
const WARPS = 16, UNROLL = 8;
const m = resolveModel(model);
const ws = resolvedWeights(m, { path: weights, fillMissing: true });
const files = listImages(process.argv[5] ?? '../shared/cusnn-artifact/sample_images').slice(0, Number(nimg ?? 1));
const shape = new Map(m.graph.layers.map((l) => [l.name, l.shape]));
const convOf = new Map();
for (const l of m.graph.layers) {
  if (l.op !== 'conv' || l.kernel[0] !== 3 || l.stride[0] !== 1) continue;
  const [c, h, w] = shape.get(l.inputs[0]);
  if (l.shape[0] <= 32 && h * w <= 264) convOf.set(l.inputs[0], { conv: l.name, c, h, w });
}
const acc = new Map();
for (const f of files) {
  const input = preprocess([readImage(f)], m.graph.preprocessing);
  referenceForward(m.graph, ws, input, 1, { onLayer: (name, out) => {
    const q = convOf.get(name);
    if (!q) return;
    const { c, h, w } = q, pairs = c * 9, slice = Math.ceil(pairs / WARPS);
    let steps = 0, balanced = 0, zeros = 0, maxM = 0, sumM = 0;
    for (let oy = 0; oy < h; oy++) for (let ox = 0; ox < w; ox++) {
      const per = new Array(WARPS).fill(0);
      let M = 0;
      for (let pair = 0; pair < pairs; pair++) {
        const ch = Math.floor(pair / 9), tap = pair % 9, iy = oy - 1 + Math.floor(tap / 3), ix = ox - 1 + (tap % 3);
        if (iy < 0 || iy >= h || ix < 0 || ix >= w || out[(ch * h + iy) * w + ix] === 0) continue;
        per[Math.floor(pair / slice)]++; M++;
      }
      steps = Math.max(steps, Math.ceil(Math.max(...per) / UNROLL));
      balanced = Math.max(balanced, Math.ceil(Math.ceil(M / WARPS) / UNROLL));
      maxM = Math.max(maxM, M); sumM += M;
    }
    for (let i = 0; i < out.length; i++) if (out[i] === 0) zeros++;
    const a = acc.get(q.conv) ?? { n: 0, zeros: 0, steps: 0, balanced: 0, maxM: 0, meanM: 0 };
    a.n++; a.zeros += zeros / out.length; a.steps += steps; a.balanced += balanced; a.maxM += maxM; a.meanM += sumM / (h * w);
    acc.set(q.conv, a);
  } });
}
console.log(`${model}, ${files.length} image(s); ${WARPS} warps, ${UNROLL} rows a step; per conv the means over the images`);
console.log('conv | input | zeros | busiest warp: steps | even share: steps | max nonzeros a pixel | mean nonzeros a pixel');
console.log('--- | --- | ---: | ---: | ---: | ---: | ---:');
for (const [name, q] of convOf) {
  const a = acc.get(q.conv); if (!a) continue;
  console.log(`${q.conv} | ${q.c}x${q.h}x${q.w} | ${(100 * a.zeros / a.n).toFixed(1)}% | ${(a.steps / a.n).toFixed(1)} | ${(a.balanced / a.n).toFixed(1)} | ${(a.maxM / a.n).toFixed(0)} | ${(a.meanM / a.n).toFixed(0)}`);
}
