// The measured choice's rule (src/plan/measured-choice.ts) on made-up figures: a generated kernel
// wins only faster outside both spreads and by the 1.03x margin (else cuDNN, with the reason
// saying tie / margin / slower); between kernels the fastest displaces another only by the same
// rule, else the family first in the registry's order is kept (and only one that also beats
// cuDNN); discarded candidates never win; an unknown (later) family ranks last; a tune entry
// written before spreads were recorded decides as it always did (best * 1.03 < cuDNN). Random
// figures per run (seed printed; CUSNN_TEST_SEED repeats it).
import { describe, expect, it } from 'vitest';
import { chooseMeasured, decisionRecord, familyOrder, measuredLines, MEASURED_MARGIN, type MeasuredCandidate } from '../../src/plan/measured-choice.js';
import { tunedMeasurements, type TuneEntry } from '../../src/plan/tune-cache.js';
import { mulberry32, testSeed } from '../helpers/random.js';

const SEED = testSeed();
const rnd = mulberry32(SEED);
const uni = (a: number, b: number): number => a + (b - a) * rnd();

const TILES = {
  'act-sparse': { family: 'act-sparse', th: 2, tw: 7, tc: 8, kb: 32, cs: 1 },
  igemm: { family: 'igemm', bm: 32, bn: 16, bkc: 2, tm: 4, tn: 4, warpM: 8, split: 2, stages: 3 },
  dconv: { family: 'dconv', bm: 32, tm: 1, tn: 3, rowsT: 2, bkc: 2, split: 2, stages: 3 },
  pxg: { family: 'pxg', warps: 16, unroll: 8 },
  wsparse: { family: 'wsparse', ppl: 1, split: 1, cpb: 1, patternDigest: '0123456789', nnz: 10, rowMax: 2, kActive: 5 },
} as const;

/** A candidate of `family` at median `us` with a relative half-spread `s`. */
function cand(family: keyof typeof TILES, us: number | null, s = 0.005, kernel = `${family}_k${Math.floor(rnd() * 1e6)}`): MeasuredCandidate {
  return { family, kernel, tiles: TILES[family], us, p10Us: us === null ? null : us * (1 - s), p90Us: us === null ? null : us * (1 + s), discarded: us === null ? 'rel. L2 error 1e-3 vs cuDNN > 1e-5' : null };
}
const cudnnAt = (us: number, s = 0.006) => ({ us, p10Us: us * (1 - s), p90Us: us * (1 + s), algo: 'IMPLICIT_PRECOMP_GEMM' });

describe(`the measured choice (seed ${SEED})`, () => {
  it('keeps a generated kernel only outside the spread and by the margin; a tie keeps cuDNN', () => {
    for (let i = 0; i < 50; i++) {
      const base = uni(5, 50);
      const ws = cand('wsparse', base);
      const others = [cand('igemm', base * uni(1.3, 2)), cand('act-sparse', base * uni(1.3, 3)), cand('dconv', null)];
      // Clear win.
      let c = chooseMeasured([ws, ...others], cudnnAt(base * uni(1.1, 3)), 'sm_90');
      expect([c.beatsCudnn, c.generated?.kernel, c.fastest?.kernel]).toEqual([true, ws.kernel, ws.kernel]);
      // Outside the spread, inside the margin.
      c = chooseMeasured([ws, ...others], cudnnAt(base * uni(1.012, MEASURED_MARGIN - 0.002)), 'sm_90');
      expect(c.beatsCudnn).toBe(false);
      expect(c.generated!.kernel).toBe(ws.kernel); // what runs when forced onto a generated kernel
      expect(c.why).toMatch(/faster by less than the 1\.03x margin: cuDNN kept$/);
      // Beyond the margin but inside a wide spread.
      c = chooseMeasured([cand('wsparse', base, 0.2), ...others], cudnnAt(base * uni(1.05, 1.15), 0.2), 'sm_90');
      expect(c.beatsCudnn).toBe(false);
      expect(c.why).toMatch(/a tie within the spread: cuDNN kept$/);
      // Slower.
      c = chooseMeasured([ws, ...others], cudnnAt(base / uni(1.1, 2)), 'sm_90');
      expect(c.why).toMatch(/slower: cuDNN kept$/);
      expect(c.beatsCudnn).toBe(false);
    }
  });

  it('breaks a tie between kernels by the registry order (pxg, dconv, igemm, wsparse, wstage, dual, wino, act-sparse on sm_90), only among kernels that beat cuDNN', () => {
    expect(familyOrder('sm_90')).toEqual(['pxg', 'dconv', 'igemm', 'wsparse', 'wstage', 'dual', 'wino', 'act-sparse']);
    expect(familyOrder('sm_70')).toEqual(['pxg', 'wsparse', 'wstage', 'dual', 'wino', 'act-sparse']);
    for (let i = 0; i < 50; i++) {
      const base = uni(5, 50);
      const ws = cand('wsparse', base);
      const dc = cand('dconv', base * uni(1.012, MEASURED_MARGIN - 0.002)); // behind, but not by the margin
      const ig = cand('igemm', base * uni(1.005, 1.02));
      const slow = cand('act-sparse', base * 1.5);
      let c = chooseMeasured([slow, ws, dc], cudnnAt(base * 2), 'sm_90');
      expect([c.generated!.kernel, c.fastest!.kernel, c.beatsCudnn]).toEqual([dc.kernel, ws.kernel, true]);
      expect(c.why).toContain(`dconv ${dc.kernel} `);
      expect(c.why).toMatch(/its family comes first in the order of preference \(pxg, dconv, igemm, wsparse, wstage, dual, wino, act-sparse\): it is kept$/);
      // Beaten by more than the margin: the fastest stays.
      const far = cand('dconv', base * uni(1.05, 1.2));
      c = chooseMeasured([ws, far, slow], cudnnAt(base * 2), 'sm_90');
      expect(c.generated!.kernel).toBe(ws.kernel);
      // The tied kernel must itself beat cuDNN: dconv 2% behind wsparse, cuDNN 4.5% behind: only wsparse beats it.
      c = chooseMeasured([ws, cand('dconv', base * 1.02)], cudnnAt(base * 1.045), 'sm_90');
      expect([c.generated!.kernel, c.beatsCudnn]).toEqual([ws.kernel, true]);
      // Of several tied, the first family wins; igemm before wsparse.
      c = chooseMeasured([ws, ig, dc], cudnnAt(base * 2), 'sm_90');
      expect(c.generated!.kernel).toBe(dc.kernel);
      c = chooseMeasured([ws, ig], cudnnAt(base * 2), 'sm_90');
      expect(c.generated!.kernel).toBe(ig.kernel);
      // pxg, first in the order, keeps a tie with dconv.
      const px = cand('pxg', base * uni(1.005, MEASURED_MARGIN - 0.002));
      c = chooseMeasured([cand('dconv', base), px], cudnnAt(base * 2), 'sm_90');
      expect(c.generated!.kernel).toBe(px.kernel);
      // On sm_70 (no dconv, no igemm) wsparse comes before act-sparse.
      c = chooseMeasured([cand('act-sparse', base), cand('wsparse', base * 1.01, 0.005, 'w')], cudnnAt(base * 2), 'sm_70');
      expect(c.generated!.kernel).toBe('w');
    }
  });

  it('never keeps a discarded candidate; none passed: cuDNN; an unknown family ranks last', () => {
    const c = chooseMeasured([cand('wsparse', null), cand('dconv', null)], cudnnAt(10), 'sm_90');
    expect([c.generated, c.fastest, c.beatsCudnn]).toEqual([null, null, false]);
    expect(c.why).toBe('none of the 2 candidates passed the check against cuDNN: cuDNN kept (cuDNN (IMPLICIT_PRECOMP_GEMM) 10.0 us (p10-p90 9.9-10.1))');
    const later: MeasuredCandidate = { ...cand('wsparse', 10), family: 'dsparse', kernel: 'ds' };
    const ws = cand('wsparse', 10.1);
    expect(chooseMeasured([later, ws], cudnnAt(30), 'sm_90').generated!.kernel).toBe(ws.kernel);
    // Clearly fastest, a later family wins like any other.
    expect(chooseMeasured([{ ...later, us: 5, p10Us: 4.9, p90Us: 5.1 }, ws], cudnnAt(30), 'sm_90').generated!.kernel).toBe('ds');
  });

  it('records every candidate, fastest first and discarded last, the winner and why; lines name each family\'s fastest', () => {
    const ws = cand('wsparse', 10, 0.01, 'ws_a');
    const list = [cand('igemm', 14, 0.01, 'ig_b'), cand('wsparse', null, 0.01, 'ws_bad'), ws, cand('igemm', 12, 0.01, 'ig_a'), cand('dconv', 11.5, 0.01, 'dc_a')];
    const cudnn = cudnnAt(20);
    const c = chooseMeasured(list, cudnn, 'sm_90');
    const rec = decisionRecord('tune', 'GPU X', list, cudnn, c, 'generated');
    expect(rec.candidates.map((x) => x.kernel)).toEqual(['ws_a', 'dc_a', 'ig_a', 'ig_b', 'ws_bad']);
    expect(rec.candidates[4]).toMatchObject({ us: null, discarded: 'rel. L2 error 1e-3 vs cuDNN > 1e-5' });
    expect(rec).toMatchObject({ source: 'tune', gpu: 'GPU X', winner: 'ws_a', cudnn: { us: 20, algo: 'IMPLICIT_PRECOMP_GEMM' } });
    expect(decisionRecord('tune', 'GPU X', list, cudnn, c, 'cudnn').winner).toBe('cudnn');
    const lines = measuredLines(rec);
    expect(lines[0]).toBe(`winner: ws_a (tune on GPU X): ${c.why}`);
    expect(lines.slice(1)).toEqual([
      'cuDNN IMPLICIT_PRECOMP_GEMM: 20.0 us (p10-p90 19.9-20.1)',
      'wsparse (fastest of 1): ws_a 10.0 us (p10-p90 9.9-10.1)',
      'dconv (fastest of 1): dc_a 11.5 us (p10-p90 11.4-11.6)',
      'igemm (fastest of 2): ig_a 12.0 us (p10-p90 11.9-12.1)',
      'discarded 1: ws_bad (rel. L2 error 1e-3 vs cuDNN > 1e-5)',
    ]);
  });

  it('decides a tune entry written before spreads as the planner always did: best x 1.03 < cuDNN', () => {
    for (let i = 0; i < 200; i++) {
      const best = uni(5, 50);
      const cudnnUs = best * uni(0.9, 1.1);
      const e = { best: { kernel: 'k', tiles: TILES.igemm, us: best }, cudnnUs } as unknown as TuneEntry;
      const m = tunedMeasurements(e);
      expect(m.candidates).toEqual([{ family: 'igemm', kernel: 'k', tiles: TILES.igemm, us: best, p10Us: best, p90Us: best, discarded: null }]);
      expect(chooseMeasured(m.candidates, m.cudnn, 'sm_90').beatsCudnn).toBe(best * MEASURED_MARGIN < cudnnUs);
    }
  });
});
