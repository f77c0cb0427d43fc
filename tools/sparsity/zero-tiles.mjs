// How a dual-sparse kernel could skip the inputs' zeros: per conv input of the float64 CPU reference on real images,
// the fraction of zero elements, of dead channels (zero over the whole image) and of zero (channel, 32-pixel) and
// (channel, 128-pixel) tiles, the units a warp can skip without diverging (a warp covers 32 x PPL pixels).
// usage (repository root, after npm run build): node tools/sparsity/zero-tiles.mjs <model> <weights> [images] [image dir]
const D = new URL('../../dist', import.meta.url).pathname;
const { resolveModel, resolvedWeights } = await import(`${D}/model/resolve.js`);
const { referenceForward } = await import(`${D}/runtime/reference.js`);
const { listImages, preprocess, readImage } = await import(`${D}/runtime/images.js`);
const [model, weights, nimg] = process.argv.slice(2);
const m = resolveModel(model);
const ws = resolvedWeights(m, { path: weights, fillMissing: true });
const files = listImages(process.argv[5] ?? '../shared/cusnn-artifact/sample_images').slice(0, Number(nimg ?? 1));
const convIn = new Map(); // tensor -> [conv names]
for (const l of m.graph.layers) if (l.op === 'conv') { const t = l.inputs[0]; if (!convIn.has(t)) convIn.set(t, []); convIn.get(t).push(l); }
const shape = new Map(m.graph.layers.map((l) => [l.name, l.shape]));
const acc = new Map();
for (const f of files) {
  const input = preprocess([readImage(f)], m.graph.preprocessing);
  referenceForward(m.graph, ws, input, 1, { onLayer: (name, out) => {
    if (!convIn.has(name)) return;
    const [c, h, w] = shape.get(name); const P = h * w;
    let z = 0, dead = 0; const tiles = { 32: [0, 0], 128: [0, 0] };
    for (let ch = 0; ch < c; ch++) {
      let nzc = 0;
      for (const T of [32, 128]) for (let p0 = 0; p0 < P; p0 += T) { let any = false; for (let p = p0; p < Math.min(P, p0 + T); p++) if (out[ch * P + p] !== 0) { any = true; break; } tiles[T][1]++; if (!any) tiles[T][0]++; }
      for (let p = 0; p < P; p++) if (out[ch * P + p] === 0) z++; else nzc++;
      if (nzc === 0) dead++;
    }
    const a = acc.get(name) ?? { n: 0, z: 0, dead: 0, t32: 0, t128: 0 };
    a.n++; a.z += z / (c * P); a.dead += dead / c; a.t32 += tiles[32][0] / tiles[32][1]; a.t128 += tiles[128][0] / tiles[128][1];
    acc.set(name, a);
  } });
}
for (const [t, convs] of convIn) { const a = acc.get(t); if (!a) continue; const [c, h, w] = shape.get(t);
  console.log(`${convs.map((l) => l.name).join(',').padEnd(48)} ${c}x${h}x${w} zeros ${(a.z / a.n).toFixed(2)} deadCh ${(a.dead / a.n).toFixed(2)} zeroTile32 ${(a.t32 / a.n).toFixed(2)} zeroTile128 ${(a.t128 / a.n).toFixed(2)}`); }
