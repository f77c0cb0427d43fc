// Which generated kernels are launched as dependents (programmatic dependent launch, sm_90+): dconv, pxg, wsparse,
// wstage and dual always where the arch has it; igemm, wino and act-sparse only under CUSNN_PDL_ALL=1 (an opt-in
// to time that policy again, templates/partials/dependent-launch.hbs). Every kernel waits for its predecessor
// before its first read of an activation either way, so the launch policy cannot change a result: checked here in
// the rendered source (the wait comes before the first use of `in`).
import { describe, expect, it } from 'vitest';
import { gpuProfile } from '../../src/arch/profiles.js';
import { chooseDconvTiles } from '../../src/families/dconv/tiles.js';
import { chooseIgemmTiles } from '../../src/families/igemm/tiles.js';
import { renderKernel } from '../../src/families/registry.js';
import { winoCandidates } from '../../src/families/wino/tiles.js';

const p = gpuProfile('sm_90');
const q = (c: number, hw: number, k: number, rs: number) => ({
  arch: 'sm_90' as const, c, h: hw, w: hw, k, r: rs, s: rs, strideH: 1, strideW: 1, padTop: (rs - 1) / 2, padLeft: (rs - 1) / 2,
  ho: hw, wo: hw, bias: true, relu: true,
});

describe('launch policy', () => {
  const igemm = renderKernel(chooseIgemmTiles(p, q(512, 28, 128, 1), 1)!.spec, []).source;
  const wino = renderKernel(winoCandidates(p, q(128, 28, 128, 3), 1)[0]!, []).source;
  const dconv = renderKernel(chooseDconvTiles(p, q(128, 14, 32, 3), 1, 0.15)!.spec, []).source;

  it('igemm and wino: dependent launch only under CUSNN_PDL_ALL=1; dconv always on sm_90', () => {
    for (const src of [igemm, wino]) {
      expect(src).toContain('return cusnnLaunch(cusnnDependentLaunchAll(),');
      expect(src).toContain('std::getenv("CUSNN_PDL_ALL")');
    }
    expect(dconv).toContain('return cusnnLaunch(90 >= 90,');
  });

  it('igemm and dconv: the weight prefetch (CUSNN_PREFETCH=1) comes before the wait and reads only the weights', () => {
    for (const src of [igemm, dconv]) {
      const body = src.slice(src.indexOf('__global__'));
      const pre = body.slice(0, body.indexOf('cusnnWaitForPriorGrid();'));
      expect(pre).toContain('if (prefetchL2) {');
      expect(pre).toMatch(/cusnnPrefetchRowsL2\(wt \+/);
      expect(pre).not.toMatch(/\bin\s*\+|\bin\[|\bout\s*\[|\bout\s*\+/);
      expect(src).toContain('cusnnWeightPrefetchOn() ? 1 : 0');
      expect(src).toContain('std::getenv("CUSNN_PREFETCH")');
    }
    expect(wino).not.toContain('if (prefetchL2)');
  });

  it('every kernel waits for its predecessor before it reads the input', () => {
    for (const src of [igemm, wino, dconv]) {
      const body = src.slice(src.indexOf('__global__'));
      const wait = body.indexOf('cusnnWaitForPriorGrid();');
      expect(wait).toBeGreaterThan(0);
      // The first read of the input tensor: `in +` or `in[` after the kernel's parameter list.
      const params = body.indexOf(') {');
      const firstRead = body.slice(params).search(/\bin\s*\+|\bin\[/);
      expect(firstRead).toBeGreaterThan(0);
      expect(wait).toBeLessThan(params + firstRead);
    }
  });
});
