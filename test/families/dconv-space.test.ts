// The dconv family's tile space (src/families/dconv/tiles.ts dconvCandidates): what tune times beside the rule's
// pick on DenseNet's and ResNet's 3x3 shapes. Checked here: the rule's tile comes first, every tile is valid and
// fits the block, names are distinct, the one-stage tiles (all of a split's channels in one stage) are there for
// DenseNet's 14x14 convs, the registry hands the space to tune's candidate list, and nvcc compiles the new tile
// shapes without spills.
import { describe, expect, it } from 'vitest';
import { gpuProfile, type ArchName } from '../../src/arch/profiles.js';
import { dconvLayout } from '../../src/families/dconv/resources.js';
import { dconvName, validateDconvSpec, type DconvProblem } from '../../src/families/dconv/spec.js';
import { chooseDconvTiles, dconvCandidates, DCONV_SPACE_MAX } from '../../src/families/dconv/tiles.js';
import { convCandidates } from '../../src/runtime/tune-candidates.js';
import { expectCleanCompile } from '../helpers/compile-clean.js';

const problem = (arch: ArchName, c: number, hw: number, k: number): DconvProblem => ({
  arch, c, h: hw, w: hw, k, r: 3, s: 3, strideH: 1, strideW: 1, padTop: 1, padLeft: 1, ho: hw, wo: hw, bias: true, relu: true,
});
// DenseNet's 3x3 convs at 28x28, 14x14 and 7x7; ResNet-50's at 14x14 and 7x7.
const SHAPES: readonly [number, number, number][] = [[128, 28, 32], [128, 14, 32], [128, 7, 32], [256, 14, 256], [512, 7, 512]];

describe('dconv tile space', () => {
  for (const arch of ['sm_90', 'sm_80'] as const) {
    const p = gpuProfile(arch);
    for (const [c, hw, k] of SHAPES) {
      it(`${arch} ${c}x${hw}x${hw} -> ${k}: the rule's tile first, every tile valid, fitting and distinct`, () => {
        const q = problem(arch, c, hw, k);
        const space = dconvCandidates(p, q, 1);
        const rule = chooseDconvTiles(p, q, 1, 0.2);
        expect(rule).not.toBeNull();
        expect(space[0]).toEqual(rule!.spec);
        expect(space.length).toBeLessThanOrEqual(DCONV_SPACE_MAX);
        const names = space.map(dconvName);
        expect(new Set(names).size).toBe(names.length);
        for (const s of space) {
          expect(validateDconvSpec(s)).toBe(s);
          const l = dconvLayout(s);
          expect(l.threads).toBeLessThanOrEqual(p.maxThreadsPerBlock);
          expect(l.sharedBytes).toBeLessThanOrEqual(p.sharedPerBlockOptin);
          expect(s.bkc).toBeLessThanOrEqual(Math.ceil(c / s.split));
          expect(s.split === 1 || s.split <= 16).toBe(true);
        }
      });
    }
  }

  it("sm_90, DenseNet's 128x14x14 -> 32: one stage of the split's 8 channels, fewer and more rows, the other split", () => {
    const space = dconvCandidates(gpuProfile('sm_90'), problem('sm_90', 128, 14, 32), 1);
    const has = (t: Partial<Record<'bkc' | 'split' | 'rowsT' | 'stages', number>>): boolean =>
      space.some((s) => Object.entries(t).every(([f, v]) => s[f as keyof typeof t] === v));
    expect(space[0]).toMatchObject({ bkc: 2, split: 16, rowsT: 2, stages: 3 });
    expect(has({ bkc: 8, split: 16, stages: 2, rowsT: 2 })).toBe(true);
    expect(has({ bkc: 8, split: 16, rowsT: 1 })).toBe(true);
    expect(has({ bkc: 8, split: 16, rowsT: 4 })).toBe(true);
    expect(has({ split: 8, bkc: 16 })).toBe(true);
  });

  it("tune's candidate list holds the space's tiles (the registry's dconv family has a space now)", () => {
    const p = gpuProfile('sm_90');
    const q = problem('sm_90', 128, 14, 32);
    const heuristic = chooseDconvTiles(p, q, 1, 0.12)!.spec;
    const { arch: _arch, ...shape } = q;
    const names = convCandidates(p, shape, 1, 0.12, heuristic).map((c) => c.kernel);
    for (const s of dconvCandidates(p, q, 1)) expect(names).toContain(dconvName(s));
  });

  it('nvcc compiles the one-stage and the row-count tiles without warnings or spills', async () => {
    const p = gpuProfile('sm_90');
    const specs = [...dconvCandidates(p, problem('sm_90', 128, 14, 32), 1).slice(1, 5), ...dconvCandidates(p, problem('sm_90', 512, 7, 512), 1).slice(1, 3)];
    await expectCleanCompile('dconv-space', specs, 'sm_90');
  }, 240_000);
});
