#!/usr/bin/env node
// The rule's picks on a pruned network against a tune cache's measurements (`cusnn-gen tune` keeps
// every candidate's time). For each conv of the plan that the cache measured: the kernel the plan
// names, its measured time if the search timed it, the searched best and the ratio. Summary: how many
// picks were measured, how many land within 10% of the best, and the per-layer sums (rule's picks
// against the best, over the convs whose pick was measured). A decision made on this data is checked on
// another cache (another sparsity, another model) and then by a bench: this is not a new measurement.
// Generate the plan with the same weights the cache was tuned on (the weight digests must match).
// Usage: node tools/bench/rescore-pruned.mjs <plan.json> <tune-cache.json> [-v]
import { readFileSync } from 'node:fs';

const [planFile, cacheFile, flag] = process.argv.slice(2);
if (!planFile || !cacheFile) {
  console.error('usage: node tools/bench/rescore-pruned.mjs <plan.json> <tune-cache.json> [-v]');
  process.exit(2);
}
const plan = JSON.parse(readFileSync(planFile, 'utf8'));
const cache = JSON.parse(readFileSync(cacheFile, 'utf8'));
const byLayer = new Map();
for (const e of Object.values(cache.entries)) for (const l of e.layers) byLayer.set(l.layer, e);

const rows = [];
let unmatched = 0;
for (const c of plan.convs) {
  const e = byLayer.get(c.layer);
  if (!e) continue;
  // The cache's entry must be of these weights: its weight digest is the pattern digest of the plan's spec.
  const digest = c.spec?.patternDigest;
  if (digest !== undefined && e.weights !== undefined && e.weights !== digest) {
    unmatched++;
    continue;
  }
  const name = c.decision === 'cudnn' ? 'cudnn' : c.kernelName;
  const cand = name === 'cudnn' ? { us: e.measured.cudnn.us } : e.measured.candidates.find((x) => x.kernel === name && x.us !== null && x.discarded === null);
  rows.push({ layer: c.layer, pick: name, family: c.spec?.family ?? 'cudnn', us: cand ? cand.us : null, best: e.best.us, bestKernel: e.best.kernel });
}
if (unmatched) console.log(`${unmatched} convs skipped: the cache's weight digest differs from the plan's (other weights)`);
const measured = rows.filter((r) => r.us !== null);
const within = measured.filter((r) => r.us <= 1.1 * r.best);
const sum = (xs, f) => xs.reduce((a, x) => a + f(x), 0);
if (flag === '-v') {
  for (const r of rows.sort((a, b) => (b.us ?? Infinity) / b.best - (a.us ?? Infinity) / a.best)) {
    console.log(`${r.layer.padEnd(22)} ${r.us === null ? 'unmeasured' : `${(r.us / r.best).toFixed(2)}x`.padStart(10)}  ${r.pick} ${r.us?.toFixed(2) ?? '-'} us; best ${r.bestKernel} ${r.best.toFixed(2)} us`);
  }
}
console.log(`${planFile} against ${cacheFile}: ${rows.length} convs in the cache, the rule's pick measured on ${measured.length}, ` +
  `within 10% of the best on ${within.length}/${measured.length}; rule's picks ${sum(measured, (r) => r.us).toFixed(1)} us against the best ${sum(measured, (r) => r.best).toFixed(1)} us ` +
  `(${rows.length - measured.length} picks unmeasured)`);
