#!/usr/bin/env node
// The cost models against a tune cache's measurements (`cusnn-gen tune` keeps every candidate's time).
// Per family and kernel size, over every measured candidate: the median error of the estimate
// (estimate / measured - 1), the median of its magnitude, and on how many
// convs the family's cheapest tile by its model is within 10% of its fastest measured one (the ranking
// the rule relies on). For wsparse, also the L2 traffic of each conv's fastest tile (the cost model's
// byte count, src/families/wsparse/cost.ts) over its measured time less the profile's launch time.
// The estimates are the current dist/'s: build after changing a constant to see its effect.
// Usage: node tools/bench/model-error.mjs <tune-cache.json> [family ...]
import { readFileSync } from 'node:fs';
import { gpuProfile } from '../../dist/arch/profiles.js';
import { estimateOf, specWithTiles } from '../../dist/families/registry.js';
import { wsparseL2Bytes } from '../../dist/families/wsparse/cost.js';
import { median } from '../../dist/bench/stats.js';

const [file, ...only] = process.argv.slice(2);
if (!file) {
  console.error('usage: node tools/bench/model-error.mjs <tune-cache.json> [family ...]');
  process.exit(2);
}
const cache = JSON.parse(readFileSync(file, 'utf8'));
const pct = (logRatio) => `${logRatio >= 0 ? '+' : ''}${((Math.exp(logRatio) - 1) * 100).toFixed(0)}%`;

/** key `${family} ${r}x${s}` -> { logs: [], convs: [{ layer, tiles: [{ est, us, spec }] }] } */
const groups = new Map();
for (const e of Object.values(cache.entries)) {
  const p = gpuProfile(e.arch);
  const q = { ...e.shape, arch: e.arch };
  const density = 1 - e.layers[0].zeros;
  const byFamily = new Map();
  for (const c of e.measured.candidates) {
    if (c.us === null || c.discarded !== null || (only.length && !only.includes(c.family))) continue;
    const spec = specWithTiles(q, c.tiles);
    const est = estimateOf(p, spec, e.batch, density);
    if (!est) continue;
    const list = byFamily.get(c.family) ?? [];
    list.push({ est: est.us, us: c.us, spec, batch: e.batch, launchUs: p.launchUs });
    byFamily.set(c.family, list);
  }
  for (const [family, tiles] of byFamily) {
    const key = `${family} ${q.r}x${q.s}`;
    const g = groups.get(key) ?? { logs: [], convs: [] };
    for (const t of tiles) g.logs.push(Math.log(t.est / t.us));
    g.convs.push({ layer: e.layers[0].layer, tiles });
    groups.set(key, g);
  }
}

console.log(`${file}: ${cache.entries ? Object.keys(cache.entries).length : 0} entries`);
console.log('| family | tiles | convs | median error | median abs. error | cheapest by the model within 10% of the fastest | wsparse: L2 TB/s of the fastest tile of each conv (median, min-max), over its bytes |');
console.log('| --- | ---: | ---: | ---: | ---: | ---: | --- |');
for (const [key, g] of [...groups].sort(([a], [b]) => a.localeCompare(b))) {
  const ranked = g.convs.filter((c) => {
    const fastest = Math.min(...c.tiles.map((t) => t.us));
    const pick = c.tiles.reduce((a, b) => (b.est < a.est ? b : a));
    return pick.us <= 1.1 * fastest;
  }).length;
  let l2 = '-';
  if (key.startsWith('wsparse ')) {
    const fastest = g.convs.map((c) => c.tiles.reduce((a, b) => (b.us < a.us ? b : a)));
    const mb = fastest.map((t) => wsparseL2Bytes(t.spec, t.batch) / 1e6);
    const rates = fastest.map((t, i) => mb[i] / Math.max(0.1, t.us - t.launchUs));
    l2 = `${median(rates).toFixed(1)} (${Math.min(...rates).toFixed(1)}-${Math.max(...rates).toFixed(1)}) over ${Math.min(...mb).toFixed(0)}-${Math.max(...mb).toFixed(0)} MB`;
  }
  console.log(`| ${key} | ${g.logs.length} | ${g.convs.length} | ${pct(median(g.logs))} | ${(median(g.logs.map((x) => Math.abs(Math.exp(x) - 1))) * 100).toFixed(0)}% | ${ranked}/${g.convs.length} | ${l2} |`);
}
