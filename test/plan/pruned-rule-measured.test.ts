// The weight-sparse cost models (src/families/wsparse/cost.ts, src/families/wstage/cost.ts) against
// what the GPU measured: ResNet-50's real weights pruned to 90% and 95% exactly as on the GPU host
// (weights import --fp16 --only-present, then prune --fill-missing), planned by the rule, and each
// conv's pick looked up in the committed tune caches of runs 57 and 58 (H100, every conv's candidates
// timed on real activations). wstage's chain figures were fitted on run 57 (the 90% check fails with the
// old ones: 36/52, 595 us). At 95% the rule's misses are wsparse 3x3 tiles, whose model is not refitted
// (a refit on run 57 did not hold on DenseNet-201: docs/PERFORMANCE.md); that check guards against
// regressions only.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { needsBuiltCli, runCli } from '../helpers/cli.js';

const ARTIFACT = process.env.CUSNN_ARTIFACT ?? fileURLToPath(new URL('../../../shared/cusnn-artifact', import.meta.url));
const have = existsSync(join(ARTIFACT, 'weights', 'resnet50'));
if (!have) console.warn(`pruned-rule-measured: cuSNN artifact not found at ${ARTIFACT}: skipped`);
const RUNS = 'docs/results/bench-h100';

describe.skipIf(!have)('the rule on pruned ResNet-50 against runs 57-58 (H100 tune caches)', () => {
  needsBuiltCli();
  const dir = mkdtempSync(join(tmpdir(), 'cusnn-pruned-rule-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const rescore = (sparsity: string, run: string): { measured: number; within: number; convs: number; ruleUs: number; bestUs: number } => {
    const w = join(dir, 'r50.safetensors');
    if (!existsSync(w)) {
      const r = runCli('weights', 'import', '--model', 'resnet50', '--from', join(ARTIFACT, 'weights', 'resnet50'), '--out', w, '--fp16', '--only-present');
      expect(r.code, r.err).toBe(0);
    }
    const pruned = join(dir, `p${sparsity}.safetensors`);
    let r = runCli('prune', '--model', 'resnet50', '--weights', w, '--fill-missing', '--sparsity', sparsity, '--out', pruned);
    expect(r.code, r.err).toBe(0);
    const out = join(dir, `g${sparsity}`);
    r = runCli('--model', 'resnet50', '--arch', 'sm_90', '--weights', pruned, '--out', out, '-q');
    expect(r.code, r.err).toBe(0);
    const cache = join(dir, `${run}.json`);
    writeFileSync(cache, gunzipSync(readFileSync(join(RUNS, run, 'tune-cache.json.gz'))));
    const text = execFileSync(process.execPath, ['tools/bench/rescore-pruned.mjs', join(out, 'plan.json'), cache], { encoding: 'utf8' });
    const m = /(\d+) convs in the cache, the rule's pick measured on (\d+), within 10% of the best on (\d+)\/\d+; rule's picks ([\d.]+) us against the best ([\d.]+) us/.exec(text);
    expect(m, text).not.toBeNull();
    return { convs: Number(m![1]), measured: Number(m![2]), within: Number(m![3]), ruleUs: Number(m![4]), bestUs: Number(m![5]) };
  };

  // The same weights as on the GPU: every conv's weight digest matches the cache's, and every pick was timed.
  const CASES = [
    // Fitted on: the old figures gave 36/52 and 595 us against the best 463.
    { what: '90% (run 57, the data the figures were fitted on)', sparsity: '0.9', run: '2026-12-07-run57-resnet50-p90-tuned-52', within: 46, ratio: 1.06 },
    // Not used for the fit: no worse than before it (35/52, 389 us against the best 330).
    { what: '95% (run 58, not used for the fit)', sparsity: '0.95', run: '2026-12-07-run58-resnet50-p95-tuned-52', within: 35, ratio: 1.18 },
  ];
  for (const c of CASES) {
    it(`${c.what}: every conv matched, the pick within 10% on >= ${c.within}/52, the picks within ${c.ratio}x of the best`, () => {
      const s = rescore(c.sparsity, c.run);
      expect(s.convs).toBe(52);
      expect(s.measured).toBe(52);
      expect(s.within).toBeGreaterThanOrEqual(c.within);
      expect(s.ruleUs).toBeLessThan(c.ratio * s.bestUs);
    }, 60_000);
  }
});
