// The tune cache (src/plan/tune-cache.ts): written and read back unchanged, keys sorted; every
// malformed figure rejected with one line naming the file and the entry's key; buckets round
// down to 10%; lookups match only the same GPU model and arch; the heuristic summary counts what
// the layers say. Random entries per run (seed printed; CUSNN_TEST_SEED repeats it).
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  bucketOf, findTuned, heuristicSummary, keyOf, mergeTuneCache, readTuneCache, TUNE_FORMAT, writeTuneCache, type TuneCache, type TuneEntry, type TuneShape,
} from '../../src/plan/tune-cache.js';
import { mulberry32, testSeed } from '../helpers/random.js';

const SEED = testSeed();
const rnd = mulberry32(SEED);
const tmp = mkdtempSync(join(tmpdir(), 'cusnn-tune-cache-'));
const int = (a: number, b: number): number => a + Math.floor(rnd() * (b - a + 1));

function randomShape(): TuneShape {
  const r = [1, 3, 5][int(0, 2)]!;
  const h = int(5, 60);
  return { c: int(1, 64) * 4, h, w: h, k: int(1, 64) * 4, r, s: r, strideH: 1, strideW: 1, padTop: (r - 1) / 2, padLeft: (r - 1) / 2, ho: h, wo: h, bias: rnd() < 0.5, relu: rnd() < 0.5 };
}

function randomEntry(gpu = 'NVIDIA H200'): TuneEntry {
  const bestUs = 5 + 50 * rnd();
  const layers = Array.from({ length: int(1, 3) }, (_, i) => ({ model: 'resnet50', layer: `conv${i}`, zeros: 0.5 * rnd(), bestUs: bestUs * (0.9 + 0.2 * rnd()),
    heuristicUs: rnd() < 0.2 ? null : bestUs * (1 + 0.3 * rnd()), cudnnUs: 10 + 50 * rnd() }));
  return {
    gpu, arch: 'sm_90', shape: randomShape(), bucket: 10 * int(0, 10), batch: [1, 8, 32][int(0, 2)]!,
    best: { kernel: 'igemm_k', tiles: { family: 'igemm', bm: 32, bn: 16, bkc: 2, tm: 4, tn: 4, warpM: 8, split: 2, stages: 3 }, us: bestUs },
    heuristic: rnd() < 0.5 ? null : { kernel: 'act_k', tiles: { th: 2, tw: 7, tc: 8, kb: 32, cs: 1 }, us: rnd() < 0.3 ? null : bestUs * 1.05 },
    cudnnUs: 10 + 50 * rnd(), candidates: int(1, 100), discarded: int(0, 3), inputs: rnd() < 0.5 ? 'images' : 'random', iters: 100, layers,
  };
}

describe(`tune cache (seed ${SEED})`, () => {
  it('writes and reads back the same entries, keys sorted, merge replaces by key', () => {
    const entries = Array.from({ length: 20 }, () => randomEntry());
    const { cache } = mergeTuneCache({ format: TUNE_FORMAT, entries: {} }, entries);
    const file = join(tmp, 'rt.json');
    writeTuneCache(file, cache);
    const back = readTuneCache(file);
    expect(back).toEqual(JSON.parse(JSON.stringify(cache)));
    expect(Object.keys(back.entries)).toEqual(Object.keys(cache.entries).sort());
    const again = { ...entries[3]!, cudnnUs: 123.5 };
    const m = mergeTuneCache(back, [again]);
    expect(m.replaced).toEqual([keyOf(again)]);
    expect(m.cache.entries[keyOf(again)]!.cudnnUs).toBe(123.5);
    expect(Object.keys(m.cache.entries)).toHaveLength(Object.keys(back.entries).length);
  });

  it('rejects malformed entries with one line naming the file and the key', () => {
    const file = join(tmp, 'bad.json');
    const good = randomEntry();
    const key = keyOf(good);
    const cases: [string, unknown, RegExp][] = [
      ['format', { format: 'cusnn-tune/0', entries: {} }, /expected "format": "cusnn-tune\/1"/],
      ['entries', { format: TUNE_FORMAT, entries: [] }, /"entries" must be an object/],
      ['bucket', { format: TUNE_FORMAT, entries: { [key]: { ...good, bucket: 65 } } }, /entry '.*': bucket: expected a zeros bucket 0, 10, \.\.\., 100, found 65$/],
      ['key', { format: TUNE_FORMAT, entries: { [key]: { ...good, batch: good.batch + 1 } } }, /the key does not match/],
      ['tiles', { format: TUNE_FORMAT, entries: { [key]: { ...good, best: { ...good.best, tiles: { family: 'igemm', bm: 32 } } } } }, /entry '.*': best\.tiles\.bn: expected an integer >= 1, found nothing \(the field is absent\)$/],
      ['time', { format: TUNE_FORMAT, entries: { [key]: { ...good, best: { ...good.best, us: 0 } } } }, /entry '.*': best\.us: expected a finite number > 0, found 0$/],
      ['cudnn', { format: TUNE_FORMAT, entries: { [key]: { ...good, cudnnUs: -1 } } }, /entry '.*': cudnnUs: expected a finite number > 0, found -1$/],
      ['layers', { format: TUNE_FORMAT, entries: { [key]: { ...good, layers: [] } } }, /entry '.*': layers: expected a non-empty list of the layers it was measured on .*, found a list of 0$/],
      ['layer', { format: TUNE_FORMAT, entries: { [key]: { ...good, layers: [{ ...good.layers[0]!, zeros: 1.5 }] } } }, /entry '.*': layers\[0\]\.zeros: expected a finite number in \[0, 1\], found 1\.5$/],
      ['arch', { format: TUNE_FORMAT, entries: { [key]: { ...good, arch: 'sm_99' } } }, /entry '.*': arch: expected an architecture cusnn knows \(sm_70, .*\), found "sm_99"$/],
      ['shape', { format: TUNE_FORMAT, entries: { [key]: { ...good, shape: { ...good.shape, k: 0 } } } }, /entry '.*': shape\.k: expected an integer >= 1, found 0$/],
      // Either tile family of the registry: dconv tiles are checked field by field too; an unknown family is named.
      ['dconv', { format: TUNE_FORMAT, entries: { [key]: { ...good, best: { ...good.best, tiles: { family: 'dconv', bm: 64, tm: 4, tn: 2, rowsT: 2, bkc: 8, split: 0, stages: 2 } } } } },
        /entry '.*': best\.tiles\.split: expected an integer >= 1, found 0$/],
      ['igemm', { format: TUNE_FORMAT, entries: { [key]: { ...good, heuristic: { kernel: 'k', tiles: { ...good.best.tiles, warpM: 2.5 }, us: null } } } },
        /entry '.*': heuristic\.tiles\.warpM: expected an integer >= 1, found 2\.5$/],
      ['nan', { format: TUNE_FORMAT, entries: { [key]: { ...good, layers: [{ ...good.layers[0]!, bestUs: Number.NaN }] } } }, /entry '.*': layers\[0\]\.bestUs: expected a finite number > 0, found null$/],
    ];
    for (const [what, doc, re] of cases) {
      writeFileSync(file, JSON.stringify(doc));
      let msg = '';
      try {
        readTuneCache(file);
      } catch (e) {
        msg = (e as Error).message;
      }
      expect(msg, what).toMatch(re);
      expect(msg, what).toContain(`tune cache ${file}`);
      if (!['format', 'entries'].includes(what)) expect(msg, what).toContain(`entry '${key}'`);
      expect(msg.includes('\n'), what).toBe(false);
    }
    // A huge literal parses as Infinity: not a time.
    writeFileSync(file, JSON.stringify({ format: TUNE_FORMAT, entries: { [key]: { ...good, cudnnUs: 12345 } } }).replace('"cudnnUs":12345', '"cudnnUs":1e400'));
    expect(() => readTuneCache(file)).toThrow(/entry '.*': cudnnUs: expected a finite number > 0, found Infinity \(not a finite number\)$/);
    // dconv and igemm tiles (the registry's KernelTiles) are read as written.
    const dconv: TuneEntry = { ...good, best: { ...good.best, kernel: 'dconv_k', tiles: { family: 'dconv', bm: 64, tm: 4, tn: 2, rowsT: 2, bkc: 8, split: 2, stages: 2 } } };
    writeFileSync(file, JSON.stringify({ format: TUNE_FORMAT, entries: { [key]: dconv } }));
    expect(readTuneCache(file).entries[key]).toEqual(JSON.parse(JSON.stringify(dconv)));
    writeFileSync(file, '{ not json');
    expect(() => readTuneCache(file)).toThrow(/^tune cache .*bad\.json: cannot read \(/);
    expect(() => readTuneCache(join(tmp, 'absent.json'))).toThrow(/absent\.json: cannot read/);
  });

  it('buckets round down to 10%', () => {
    expect([0, 0.05, 0.1, 0.3, 0.6999, 0.7, 0.999, 1].map(bucketOf)).toEqual([0, 0, 10, 30, 60, 70, 90, 100]);
    for (let i = 0; i < 100; i++) {
      const z = rnd();
      const b = bucketOf(z);
      expect(b % 10).toBe(0);
      expect(b / 100).toBeLessThanOrEqual(z + 1e-9);
      expect(z).toBeLessThan(b / 100 + 0.1);
    }
  });

  it('looks up the same GPU model and arch only, and says why others were ignored', () => {
    const e = randomEntry('NVIDIA H200');
    const other = { ...e, gpu: 'NVIDIA H100 80GB HBM3' };
    const cache: TuneCache = mergeTuneCache({ format: TUNE_FORMAT, entries: {} }, [e, other]).cache;
    const zeros = e.bucket / 100 + 0.05 * rnd();
    expect(findTuned(cache, 'NVIDIA H200', 'sm_90', e.shape, Math.min(1, zeros), e.batch).entry).toEqual(e);
    const onA100 = findTuned(cache, 'NVIDIA A100', 'sm_90', e.shape, Math.min(1, zeros), e.batch);
    expect(onA100.entry).toBeNull();
    expect(onA100.ignored).toMatch(/tuned on NVIDIA H200, NVIDIA H100 80GB HBM3, not NVIDIA A100: ignored \(a measurement decides a layer only on the GPU model it was taken on\)/);
    const otherArch = findTuned(cache, 'NVIDIA H200', 'sm_80', e.shape, Math.min(1, zeros), e.batch);
    expect(otherArch.entry).toBeNull();
    expect(otherArch.ignored).toMatch(/for sm_90, not sm_80/);
    expect(findTuned(cache, 'NVIDIA H200', 'sm_90', e.shape, Math.min(1, zeros), e.batch + 1)).toMatchObject({ entry: null, ignored: null });
    expect(findTuned(cache, 'NVIDIA H200', 'sm_90', { ...e.shape, relu: !e.shape.relu }, Math.min(1, zeros), e.batch).entry).toBeNull();
  });

  it('a weight-sparse winner decides its pruned layer at any zeros bucket (the nearest); other winners and dense entries only at their own', () => {
    const digest = Array.from({ length: 10 }, () => '0123456789abcdef'[int(0, 15)]).join('');
    const base = randomEntry();
    const bucket = 10 * int(2, 8);
    const ws: TuneEntry = {
      ...base, bucket, weights: digest,
      best: { kernel: 'wstage_k', tiles: { family: 'wstage', rows: 2, warps: 4, groups: 8, patternDigest: digest, nnz: 100, rowMax: 9, kActive: 12, slotMax: 20 }, us: 10 + 10 * rnd() },
    };
    const far: TuneEntry = { ...ws, bucket: bucket - 20, best: { ...ws.best, kernel: 'wstage_far' } };
    const cache = mergeTuneCache({ format: TUNE_FORMAT, entries: {} }, [ws, far]).cache;
    const near = (bucket + 10) / 100 + 0.05 * rnd();
    const t = findTuned(cache, ws.gpu, 'sm_90', ws.shape, near, ws.batch, digest);
    expect(t.entry).toEqual(ws);
    expect(t.key).toBe(keyOf(ws));
    expect(t.note).toBe(`tuned at ${bucket}% zeros, this layer has ${bucket + 10}%: its winner is wstage, whose time (and cuDNN's) does not depend on the input zeros`);
    // Its own bucket: the exact entry, no note.
    const own = findTuned(cache, ws.gpu, 'sm_90', ws.shape, (bucket - 20) / 100 + 0.05 * rnd(), ws.batch, digest);
    expect(own.entry).toEqual(far);
    expect(own.note).toBeUndefined();
    // Another structure, another GPU, another arch: nothing.
    expect(findTuned(cache, ws.gpu, 'sm_90', ws.shape, near, ws.batch, digest === 'aaaaaaaaaa' ? 'bbbbbbbbbb' : 'aaaaaaaaaa').entry).toBeNull();
    expect(findTuned(cache, 'NVIDIA A100', 'sm_90', ws.shape, near, ws.batch, digest).entry).toBeNull();
    expect(findTuned(cache, ws.gpu, 'sm_80', ws.shape, near, ws.batch, digest).entry).toBeNull();
    // A winner whose time follows the zeros (dconv here), or a dense entry: only its own bucket.
    const ig: TuneEntry = { ...ws, best: { kernel: 'dconv_k', tiles: { family: 'dconv', split: 1 }, us: 10 + 10 * rnd() } };
    const igCache = mergeTuneCache({ format: TUNE_FORMAT, entries: {} }, [ig]).cache;
    expect(findTuned(igCache, ws.gpu, 'sm_90', ws.shape, near, ws.batch, digest).entry).toBeNull();
    const dense: TuneEntry = { ...ws, weights: undefined };
    const denseCache = mergeTuneCache({ format: TUNE_FORMAT, entries: {} }, [dense]).cache;
    expect(findTuned(denseCache, ws.gpu, 'sm_90', ws.shape, near, ws.batch).entry).toBeNull();
  });

  it('a dense layer takes a wino or igemm winner from the next zeros bucket only; a zero-skipping winner only at its own', () => {
    const base = randomEntry();
    const bucket = 10 * int(2, 8);
    const blind: TuneEntry = rnd() < 0.5 ? { ...base, bucket, weights: undefined } // randomEntry's winner is igemm
      : { ...base, bucket, weights: undefined, best: { kernel: 'wino_k', tiles: { family: 'wino', split: 2 }, us: 10 + 10 * rnd() } };
    const wino = blind;
    const family = blind.best.tiles.family;
    const cache = mergeTuneCache({ format: TUNE_FORMAT, entries: {} }, [wino]).cache;
    for (const d of [-10, 10]) {
      const t = findTuned(cache, wino.gpu, 'sm_90', wino.shape, (bucket + d) / 100 + 0.05 * rnd(), wino.batch);
      expect(t.entry, `${d}`).toEqual(wino);
      expect(t.note).toBe(`tuned at ${bucket}% zeros, this layer has ${bucket + d}%: its winner is ${family}, whose time (and cuDNN's) does not depend on the input zeros`);
    }
    // Two buckets away, on a pruned layer's key, on another GPU: nothing.
    for (const d of [-20, 20]) expect(findTuned(cache, wino.gpu, 'sm_90', wino.shape, (bucket + d) / 100 + 0.05 * rnd(), wino.batch).entry).toBeNull();
    expect(findTuned(cache, wino.gpu, 'sm_90', wino.shape, (bucket + 10) / 100, wino.batch, 'abcdef0123').entry).toBeNull();
    expect(findTuned(cache, 'NVIDIA A100', 'sm_90', wino.shape, (bucket + 10) / 100, wino.batch).entry).toBeNull();
    // A dense dconv winner (it skips zero inputs) stays in its own bucket.
    const ig: TuneEntry = { ...base, bucket, weights: undefined, best: { kernel: 'dconv_k', tiles: { family: 'dconv', split: 1 }, us: 10 + 10 * rnd() } };
    const igCache = mergeTuneCache({ format: TUNE_FORMAT, entries: {} }, [ig]).cache;
    expect(findTuned(igCache, ig.gpu, 'sm_90', ig.shape, (bucket + 10) / 100 + 0.05 * rnd(), ig.batch).entry).toBeNull();
  });

  it('keys pruned layers by their weight structure: an entry of one structure decides no layer of another, or a dense one, and says so', () => {
    const d1 = Array.from({ length: 10 }, () => '0123456789abcdef'[int(0, 15)]).join('');
    const d2 = d1 === 'aaaaaaaaaa' ? 'bbbbbbbbbb' : 'aaaaaaaaaa';
    const dense = randomEntry();
    const pruned: TuneEntry = { ...dense, weights: d1, cudnnUs: dense.cudnnUs + 1 };
    // The dense key reads as before (no weights part); the pruned one ends with the digest.
    expect(keyOf(dense)).not.toContain('weights');
    expect(keyOf(pruned)).toBe(`${keyOf(dense)} | weights ${d1}`);
    const file = join(tmp, 'weights.json');
    writeTuneCache(file, mergeTuneCache({ format: TUNE_FORMAT, entries: {} }, [dense, pruned]).cache);
    const cache = readTuneCache(file);
    expect(Object.keys(cache.entries)).toHaveLength(2);
    const zeros = Math.min(1, dense.bucket / 100 + 0.05 * rnd());
    expect(findTuned(cache, dense.gpu, 'sm_90', dense.shape, zeros, dense.batch, d1).entry).toEqual(pruned);
    expect(findTuned(cache, dense.gpu, 'sm_90', dense.shape, zeros, dense.batch).entry).toEqual(dense);
    const other = findTuned(cache, dense.gpu, 'sm_90', dense.shape, zeros, dense.batch, d2);
    expect(other.entry).toBeNull();
    expect(other.ignored).toBe(`tuned for dense weights, weight structure ${d1}, not weight structure ${d2}: ignored (a measurement on one pruned weight file does not decide a layer of another)`);
    const unknown = findTuned({ format: TUNE_FORMAT, entries: { [keyOf(pruned)]: pruned } }, dense.gpu, 'sm_90', dense.shape, zeros, dense.batch, 'unknown');
    expect(unknown.entry).toBeNull();
    // A key that leaves out the entry's digest, a malformed digest, and a candidate whose family is not its tiles' are refused.
    const cases: [string, unknown, RegExp][] = [
      ['key', { [keyOf(dense)]: pruned }, /the key does not match the entry's gpu, shape, bucket, batch and weights \(they give '.* \| weights [0-9a-f]{10}'\)$/],
      ['digest', { [`${keyOf(dense)} | weights XYZ`]: { ...pruned, weights: 'XYZ' } }, /weights: expected the digest of the layers' weight structure \(10 hex digits\), found "XYZ"$/],
      ['family', { [keyOf(pruned)]: { ...pruned, measured: { cudnn: { us: 10, p10Us: 9, p90Us: 11, algo: null }, candidates: [{ family: 'wsparse', kernel: 'k', tiles: dense.best.tiles, us: 5, p10Us: 4, p90Us: 6, discarded: null }] } } },
        /measured\.candidates\[0\]\.family: 'wsparse' but its tiles are of 'igemm'$/],
    ];
    for (const [what, entries, re] of cases) {
      writeFileSync(file, JSON.stringify({ format: TUNE_FORMAT, entries }));
      expect(() => readTuneCache(file), what).toThrow(re);
    }
  });

  it('counts the layers where the heuristic is within 10% of the searched best', () => {
    const entries = Array.from({ length: 30 }, () => randomEntry(rnd() < 0.5 ? 'NVIDIA H200' : 'NVIDIA H100'));
    const cache = mergeTuneCache({ format: TUNE_FORMAT, entries: {} }, entries).cache;
    let layers = 0;
    let within = 0;
    for (const e of Object.values(cache.entries)) {
      if (e.gpu !== 'NVIDIA H200') continue;
      for (const l of e.layers) {
        layers++;
        if (l.heuristicUs !== null && l.heuristicUs <= 1.1 * l.bestUs) within++;
      }
    }
    const s = heuristicSummary(cache.entries, { gpu: 'NVIDIA H200' });
    expect(s.layers).toBe(layers);
    expect(s.within).toBe(within);
    expect(s.worst).toHaveLength(layers - within);
    expect(layers).toBeGreaterThan(0);
  });
});
