// The planner's cost models against committed measurements (H100 benches; docs/PERFORMANCE.md, "The heuristic at
// batch 8 and 32"): cuDNN's 1x1 convs and igemm's rule tiles at batch 8 and 32, estimate against the bench's measured
// time on the calibration images, per distinct shape. Fitted on ResNet-50 (runs 83 and 81); ResNet-152 (runs 89, 81)
// and DenseNet-169 (runs 89, 78) were not used for the fit. Before the refit the cuDNN estimates were 0.52-0.76 of the
// measured times and the planner kept every such conv on cuDNN.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { gpuProfile } from '../../src/arch/profiles.js';
import { igemmUs } from '../../src/families/igemm/cost.js';
import { chooseIgemmTiles } from '../../src/families/igemm/tiles.js';
import { kernelNameOf } from '../../src/families/registry.js';
import { generate } from '../../src/generate.js';
import { cudnnConvUs } from '../../src/plan/cost.js';

interface Row { [k: string]: string }
function rows(run: string): Row[] {
  const [head, ...lines] = readFileSync(`docs/results/bench-h100/${run}/layers.csv`, 'utf8').trim().split('\n');
  const keys = head!.split(',');
  // layers.csv quotes the reason column (it holds commas); the fields used here come before it.
  return lines.map((l) => Object.fromEntries(l.split(',').slice(0, keys.indexOf('decisionReason')).map((v, i) => [keys[i], v])));
}
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

describe('cost models at batch 8 and 32 against the H100 benches', () => {
  const p = gpuProfile('sm_90');
  for (const [run, fitted, batch] of [['2026-12-07-run83-resnet50-b8-winorule', true, 8], ['2026-12-07-run89-resnet152-b8', false, 8],
    ['2026-12-07-run89-densenet169-b8', false, 8], ['2026-12-07-run81-resnet50-b32-fused', true, 32], ['2026-12-07-run81-resnet152-b32-fused', false, 32],
    ['2026-12-07-run78-densenet169-b32-wide64', false, 32]] as const) {
    it(`${run}${fitted ? ' (fitted on)' : ''}, batch ${batch}: 1x1 estimates of cuDNN and igemm within 25% of the measured (igemm at batch 32: 35%; median over shapes)`, () => {
      const seen = new Set<string>();
      const cud: number[] = [];
      const gen: number[] = [];
      for (const r of rows(run)) {
        if (r.r !== '1' || !r.decisionCudnnUs || !r.decisionActSparseUs) continue;
        const [c, h, k, stride] = [Number(r.c), Number(r.h), Number(r.k), Number(r.stride)];
        const key = `${c}x${h}->${k}/${stride}`;
        if (seen.has(key)) continue;
        seen.add(key);
        const ho = Math.floor((h - 1) / stride) + 1;
        const q = { arch: 'sm_90' as const, c, h, w: h, k, r: 1, s: 1, strideH: stride, strideW: stride, padTop: 0, padLeft: 0, ho, wo: ho, bias: true, relu: true };
        cud.push(cudnnConvUs(p, { ...q, batch }) / Number(r.decisionCudnnUs));
        const rule = chooseIgemmTiles(p, q, batch);
        // Only where the bench timed the rule's own kernel.
        if (rule && kernelNameOf(rule.spec) === r.kernel) gen.push(igemmUs(p, rule.spec, batch)!.us / Number(r.decisionActSparseUs));
      }
      expect(cud.length).toBeGreaterThanOrEqual(10);
      expect(gen.length).toBeGreaterThanOrEqual(5);
      expect(median(cud)).toBeGreaterThan(0.8);
      expect(median(cud)).toBeLessThan(1.25);
      expect(median(gen)).toBeGreaterThan(0.8);
      // igemm at batch 32 on ResNet's shapes is still 1.30x pessimistic (whole waves gave ~1.6): the bound says so.
      expect(median(gen)).toBeLessThan(batch === 32 ? 1.35 : 1.25);
    });
  }
});

describe("the planner's 1x1 decisions without a tune cache against the benches' measured ones", () => {
  // A generated plan's choice (generated kernel or cuDNN) scored with the time the bench measured for that choice:
  // within 10% of the faster of the two (tools/bench/heuristic-decisions.py). The 1x1 convs' decision is dense (the
  // zeros do not change it), so synthetic weights plan them as the real ones do.
  for (const [model, batch, run, atLeast] of [['resnet50', 8, '2026-12-07-run83-resnet50-b8-winorule', 0.9], ['resnet50', 32, '2026-12-07-run81-resnet50-b32-fused', 0.9],
    ['densenet169', 8, '2026-12-07-run89-densenet169-b8', 0.9]] as const) {
    it(`${model} at batch ${batch}: within 10% of the measured best on >= ${atLeast * 100}% of its 1x1 convs (run ${run.split('-run')[1]!.split('-')[0]})`, () => {
      const dir = mkdtempSync(join(tmpdir(), 'cusnn-costfit-'));
      try {
        const g = generate({ model, arch: 'sm_90', batch, out: dir });
        const plan = new Map(g.plan.convs.map((c) => [c.layer, c]));
        let n = 0, within = 0;
        for (const r of rows(run)) {
          if (r.r !== '1' || !r.decisionCudnnUs || !r.decisionActSparseUs) continue;
          const c = plan.get(r.layer!)!;
          const gUs = Number(r.decisionActSparseUs), cUs = Number(r.decisionCudnnUs);
          n++;
          if ((c.decision === 'cudnn' ? cUs : gUs) <= 1.1 * Math.min(gUs, cUs)) within++;
        }
        expect(n).toBeGreaterThan(30);
        expect(within / n).toBeGreaterThanOrEqual(atLeast);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    }, 60_000);
  }
});
