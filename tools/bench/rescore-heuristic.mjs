#!/usr/bin/env node
// Re-scores the current rule families (dconv, then igemm: the planner's order for a dense conv) against a
// tune cache's measurements (`cusnn-gen tune` keeps every candidate's time): per entry whose rule pick
// now differs from the heuristic pick the search ran, is the
// new pick among the measured candidates, is it within 10% of the searched best, is it faster than the
// old pick. A decision made on that data, not a new measurement: the next search and bench say whether
// it holds. Needs `npm run build` (reads dist/).
// Usage: node tools/bench/rescore-heuristic.mjs <tune-cache.json>...
import { readFileSync } from 'node:fs';
import { gpuProfile } from '../../dist/arch/profiles.js';
import { familiesFor, kernelNameOf } from '../../dist/families/registry.js';

const files = process.argv.slice(2);
if (files.length === 0) {
  console.error('usage: node tools/bench/rescore-heuristic.mjs <tune-cache.json>...');
  process.exit(2);
}
for (const file of files) {
  const cache = JSON.parse(readFileSync(file, 'utf8'));
  const n = { changed: 0, measured: 0, within: 0, faster: 0 };
  const unmeasured = [];
  for (const e of Object.values(cache.entries)) {
    if (e.heuristic?.tiles?.family !== 'igemm' && e.heuristic?.tiles?.family !== 'dconv') continue;
    const density = 1 - e.layers[0].zeros;
    const pick = familiesFor(e.arch).filter((f) => !f.needsWeights).map((f) => f.choose({ ...e.shape, arch: e.arch }, gpuProfile(e.arch), e.batch, density))
      .find((c) => c !== null);
    if (!pick) continue;
    const name = kernelNameOf(pick.spec);
    if (name === e.heuristic.kernel) continue;
    const layers = e.layers.length;
    n.changed += layers;
    const ok = e.measured.candidates.filter((c) => c.discarded === null);
    const best = Math.min(...ok.map((c) => c.us));
    const hit = ok.find((c) => c.kernel === name);
    if (!hit) {
      unmeasured.push(`${name} (${layers} layer${layers > 1 ? 's' : ''}; old pick ${(e.heuristic.us / best).toFixed(2)}x the best)`);
      continue;
    }
    n.measured += layers;
    if (hit.us <= 1.1 * best) n.within += layers;
    if (hit.us < e.heuristic.us) n.faster += layers;
  }
  console.log(`${file}: the rule's pick differs from the searched heuristic's on ${n.changed} layers; measured on ${n.measured}: ` +
    `within 10% of the best on ${n.within}, faster than the old pick on ${n.faster}; not measured on ${n.changed - n.measured}`);
  for (const u of unmeasured) console.log(`  not measured: ${u}`);
}
