// The dual-sparse family (src/families/dual) on the CPU. The rendered kernel's constexprs and tables
// (kRowStart, kRowK) are parsed back out of the .cu, its packed weights gathered in the registry's
// kernelWeightOrder (as the runtime does at load), and the kernel is walked in JS exactly as it
// runs: grid (PIX, 1, batch); warp w loads the slice [w * SLICE, min(PAIRS, (w + 1) * SLICE)) of the
// pixel's (channel, tap) pairs, a pair whose row is empty in the table is not loaded; the ballot
// compaction into one block list in ascending pair order; warp w's even share of the M entries, UNROLL
// at a time, each entry's row 32 entries a step, fp32 FMAs into the warp's accumulators in the
// kernel's order (step, then entry); the warps' sums added in warp order; bias and ReLU. The result is
// held against a float64 conv on odd shapes (stride 2, 'valid', 5x5, 1x1, K not a multiple of 32, K
// 128 and 256, ResNet-50's 512x7x7 -> 512 at 90% pruned) and weight patterns (90% unstructured with an
// empty row and an all-zero output channel, 2:4, 99%, all zero), at input zeros 0/50/90/100% and with
// all but 1-3 channels dead, batch 2; every output written exactly once. Also: the tables against the
// structure, a corrupted table caught, the tile space and that no rule serves a conv, the nvcc build
// (no spills), names and the round trip of the tiles, and the measured flow (tune -> cache -> plan ->
// emitted kernels) through the CPU-backed fake addon.
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { gpuProfile } from '../../src/arch/profiles.js';
import { inspectCommand } from '../../src/cli/inspect.js';
import { emitNetwork } from '../../src/codegen/emit.js';
import { dualUs } from '../../src/families/dual/cost.js';
import { dualLayout, dualResources } from '../../src/families/dual/resources.js';
import { dualRows } from '../../src/families/dual/rows.js';
import { dualName, validateDualSpec, type DualKernelSpec, type DualProblem } from '../../src/families/dual/spec.js';
import { dualCandidates, dualSpecFor, DUAL_MAX_BLOCKS_PER_SM } from '../../src/families/dual/tiles.js';
import { familiesFor, kernelNameOf, kernelWeightOrder, renderKernel, resourcesOf, specWithTiles, tilesOf } from '../../src/families/registry.js';
import { structureLookup, weightStructure, type WeightStructure } from '../../src/families/wsparse/structure.js';
import { planNetwork } from '../../src/plan/planner.js';
import { emptyTuneCache, mergeTuneCache } from '../../src/plan/tune-cache.js';
import { readPlanFile } from '../../src/runtime/network.js';
import { tuneJobs, tuneSearch } from '../../src/runtime/tune-search.js';
import { sparsityProfile } from '../../src/sparsity/profile.js';
import { compileCheck, findNvcc } from '../../src/toolchain/nvcc.js';
import { pruneWeights } from '../../src/weights/prune.js';
import { syntheticWeights } from '../../src/weights/synthetic.js';
import { CpuAddon, installCpuAddon, type ConvTruth } from '../bench/cpu-addon.js';
import { convRef } from '../gpu/programs.js';
import { constexprOf, deviceTable, geometryOf, pixelList, storePixel, type PixelGeometry } from '../helpers/pixel-walk.js';
import { mulberry32, testSeed } from '../helpers/random.js';
import { smallResnet } from '../helpers/small-graph.js';

const seed = testSeed();
const rnd = mulberry32(seed);
const TOL = 1e-5;
const H200 = gpuProfile('sm_90');
const tmp = mkdtempSync(join(tmpdir(), 'cusnn-dual-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const prob = (c: number, h: number, w: number, k: number, r: number, s: number, stride: number, padTop: number, padLeft: number, ho: number, wo: number, bias: boolean, relu: boolean): DualProblem =>
  ({ arch: 'sm_90', c, h, w, k, r, s, strideH: stride, strideW: stride, padTop, padLeft, ho, wo, bias, relu });

type Pattern = 'unstructured-90' | '2:4' | 'unstructured-99' | 'all-zero';

/** KCRS weights with `pattern`'s zeros; the 90% case also gets one all-zero (channel, tap) row and one all-zero output channel. */
function prunedWeights(q: DualProblem, pattern: Pattern): Float32Array {
  const crs = q.c * q.r * q.s;
  const w = new Float32Array(q.k * crs).map(() => (rnd() * 2 - 1) / Math.sqrt(crs));
  if (pattern === 'all-zero') return w.fill(0);
  if (pattern === '2:4') {
    for (let i = 0; i < w.length; i += 4) {
      const keep = new Set([Math.floor(rnd() * 4), Math.floor(rnd() * 4)]);
      for (let j = 0; j < 4 && i + j < w.length; j++) if (!keep.has(j)) w[i + j] = 0;
    }
    return w;
  }
  const zeros = pattern === 'unstructured-90' ? 0.9 : 0.99;
  for (let i = 0; i < w.length; i++) if (rnd() < zeros) w[i] = 0;
  if (pattern === 'unstructured-90') {
    const row = Math.floor(rnd() * crs);
    for (let k = 0; k < q.k; k++) w[k * crs + row] = 0;
    const k0 = Math.floor(rnd() * q.k);
    w.fill(0, k0 * crs, (k0 + 1) * crs);
  }
  return w;
}

const SHAPES: { why: string; q: DualProblem; warps: number; unroll: number; pattern: Pattern; big?: true }[] = [
  { why: '3x3 pad 1, C 37 (pairs not a multiple of the warps), 9x7, K 24', q: prob(37, 9, 7, 24, 3, 3, 1, 1, 1, 9, 7, true, true), warps: 16, unroll: 8, pattern: 'unstructured-90' },
  { why: '3x3 stride 2 on odd 15x15, TF same (0, 0), K 40', q: prob(20, 15, 15, 40, 3, 3, 2, 0, 0, 7, 7, true, false), warps: 8, unroll: 4, pattern: '2:4' },
  { why: '3x3 valid on 9x9, C 8, K 33', q: prob(8, 9, 9, 33, 3, 3, 1, 0, 0, 7, 7, false, true), warps: 8, unroll: 8, pattern: 'unstructured-90' },
  { why: '5x5 pad 2 on 11x13, C 12, K 17, 99% zeros', q: prob(12, 11, 13, 17, 5, 5, 1, 2, 2, 11, 13, true, true), warps: 16, unroll: 4, pattern: 'unstructured-99' },
  { why: '1x1 on 6x5, C 70, K 128', q: prob(70, 6, 5, 128, 1, 1, 1, 0, 0, 6, 5, true, false), warps: 32, unroll: 8, pattern: 'unstructured-90' },
  { why: '3x3 on 5x5, C 16, K 256 (rows longer than 32: two steps)', q: prob(16, 5, 5, 256, 3, 3, 1, 1, 1, 5, 5, false, true), warps: 8, unroll: 8, pattern: '2:4' },
  { why: 'all weights zero: act(bias) everywhere, no entry', q: prob(9, 6, 6, 12, 3, 3, 1, 1, 1, 6, 6, true, true), warps: 8, unroll: 4, pattern: 'all-zero' },
  { why: "ResNet-50's 512x7x7 -> 512 pruned 90%", q: prob(512, 7, 7, 512, 3, 3, 1, 1, 1, 7, 7, true, true), warps: 16, unroll: 8, pattern: 'unstructured-90', big: true },
];

interface Source {
  readonly num: (name: string) => number;
  readonly table: (name: string) => number[];
  readonly tableType: (name: string) => string;
  readonly geometry: PixelGeometry;
}

function parse(src: string): Source {
  return { num: (name) => constexprOf(src, name), table: (name) => deviceTable(src, name).values, tableType: (name) => deviceTable(src, name).type, geometry: geometryOf(src) };
}

interface Tables { readonly rowStart: readonly number[]; readonly rowK: readonly number[] }

/** The kernel walked in JS, fp32 as on the GPU (Math.fround after each FMA: a*b of two floats is exact in float64). */
function walk(spec: DualKernelSpec, s: Source, t: Tables, x: Float32Array, batch: number, packed: Float32Array, bias: Float32Array | null, out: Float32Array, writes: Uint8Array): void {
  const g = s.geometry;
  const { K } = g;
  const WARPS = s.num('WARPS'), UNROLL = s.num('UNROLL');
  const PIX = g.HO * g.WO;
  expect([WARPS, UNROLL], 'tiles in the source').toEqual([spec.warps, spec.unroll]);
  const { rowStart, rowK } = t;
  const f = Math.fround;
  const stamp = new Int32Array(K);
  let stampNow = 0;
  for (let n = 0; n < batch; n++) {
    for (let p = 0; p < PIX; p++) {
      // A pair whose weight row is empty in the table is not loaded.
      const list = pixelList(g, x, n, p, WARPS, (pair) => rowStart[pair + 1]! > rowStart[pair]!);
      const M = list.length;
      const acc = new Float32Array(WARPS * K);
      for (let warp = 0; warp < WARPS; warp++) {
        const b0 = Math.floor((warp * M) / WARPS), b1 = Math.floor(((warp + 1) * M) / WARPS);
        for (let base = b0; base < b1; base += UNROLL) {
          const group = list.slice(base, Math.min(b1, base + UNROLL));
          const s0 = group.map((e) => rowStart[e.pair]!), len = group.map((e) => rowStart[e.pair + 1]! - rowStart[e.pair]!);
          const maxLen = Math.max(0, ...len);
          for (let j0 = 0; j0 < maxLen; j0 += 32) {
            for (let u = 0; u < group.length; u++) {
              stampNow++;
              for (let lane = 0; lane < 32; lane++) {
                if (j0 + lane >= len[u]!) continue;
                const at = s0[u]! + j0 + lane, k = rowK[at]!;
                // One update instruction: its lanes' output channels must be distinct (the kernel has no atomics).
                if (stamp[k] === stampNow) throw new Error(`row ${group[u]!.pair}: output channel ${k} twice in one update`);
                stamp[k] = stampNow;
                acc[warp * K + k] = f(group[u]!.v * packed[at]! + acc[warp * K + k]!);
              }
            }
          }
        }
      }
      storePixel(g, acc, WARPS, bias, spec.relu, n, p, out, writes);
    }
  }
}

const relErr = (a: ArrayLike<number>, ref: ArrayLike<number>): number => {
  let num2 = 0, den = 0;
  for (let i = 0; i < a.length; i++) { num2 += (a[i]! - ref[i]!) ** 2; den += ref[i]! ** 2; }
  return den > 0 ? Math.sqrt(num2 / den) : Math.sqrt(num2);
};

/** A spec with its weights, structure, rendered source and tables. */
function build(q: DualProblem, warps: number, unroll: number, wKcrs: Float32Array) {
  const structure = weightStructure(wKcrs, { k: q.k, c: q.c, r: q.r, s: q.s });
  const spec = dualSpecFor(q, structure, { warps, unroll });
  const src = renderKernel(spec, [{ model: 'test', layer: 'conv' }], { structure }).source;
  const s = parse(src);
  const order = kernelWeightOrder(spec, structure)!;
  const packed = Float32Array.from(order, (i) => wKcrs[i]!);
  const tables = { rowStart: s.table('kRowStart'), rowK: s.table('kRowK') };
  return { structure, spec, src, s, packed, tables };
}

function inputs(q: DualProblem, batch: number, zeros: number): Float32Array {
  const live = new Set(Array.from({ length: 1 + Math.floor(rnd() * 3) }, () => Math.floor(rnd() * q.c)));
  return new Float32Array(batch * q.c * q.h * q.w).map((_, i) => {
    if (zeros < 0) return live.has(Math.floor(i / (q.h * q.w)) % q.c) ? 0.02 + 0.98 * rnd() : 0;
    return rnd() < zeros ? 0 : 0.02 + 0.98 * rnd();
  });
}

describe(`dual family (seed ${seed})`, () => {
  for (const { why, q, warps, unroll, pattern, big } of SHAPES) {
    // The large shape at batch 1 and two input conditions (its float64 reference is 0.2 G MACs a run).
    const conditions = big ? [0.5, -1] : [0, 0.5, 0.9, 1, -1];
    it(`matches a float64 conv at ${big ? '50%' : '0/50/90/100%'} input zeros and dead channels: ${why} (${pattern} weights)`, () => {
      const wKcrs = prunedWeights(q, pattern);
      const { spec, src, s, packed, tables } = build(q, warps, unroll, wKcrs);
      expect(resourcesOf(spec, 2).grid, 'grid: one block per output pixel and batch item').toEqual([q.ho * q.wo, 1, 2]);
      const res = resourcesOf(spec, 1);
      expect(src).toContain(`static_assert(THREADS == ${res.threads}`);
      expect(src).toContain(`static_assert(SHARED_BYTES == ${res.sharedBytes}`);
      expect(s.num('N_ENTRIES')).toBe(spec.nnz);
      if (pattern === 'all-zero') expect([spec.nnz, spec.rowsLive]).toEqual([0, 0]);
      const bias = q.bias ? new Float32Array(q.k).map(() => rnd() - 0.5) : null;
      const batch = big ? 1 : 2;
      for (const zeros of conditions) {
        const x = inputs(q, batch, zeros);
        const out = new Float32Array(batch * q.k * q.ho * q.wo).fill(Number.NaN);
        const writes = new Uint8Array(out.length);
        walk(spec, s, tables, x, batch, packed, bias, out, writes);
        expect(writes.every((v) => v === 1), 'every output written exactly once').toBe(true);
        const ref = convRef(x, batch, q, wKcrs, bias, q.relu);
        expect(relErr(out, ref), zeros < 0 ? 'dead channels' : `${zeros * 100}% zeros`).toBeLessThanOrEqual(TOL);
        if (zeros === 1 || pattern === 'all-zero') {
          const act = (k: number): number => { const b = bias ? bias[k]! : 0; return q.relu ? Math.max(b, 0) : b; };
          expect(Array.from(out).every((v, i) => v === act(Math.floor(i / (q.ho * q.wo)) % q.k)), 'act(bias) exactly when nothing is summed').toBe(true);
        }
      }
    });
  }

  it('the tables follow the structure: every nonzero once, rows ascending in k, the packed order points at it; the row-start type fits', () => {
    const q = SHAPES[0]!.q;
    const wKcrs = prunedWeights(q, 'unstructured-90');
    const { structure, spec, s, tables } = build(q, 16, 8, wKcrs);
    const pairs = q.c * q.r * q.s;
    expect(tables.rowStart).toHaveLength(pairs + 1);
    expect(tables.rowK).toHaveLength(structure.offsets.length);
    expect(s.tableType('kRowStart')).toBe('uint16_t');
    const seen = new Set<number>();
    let live = 0, rowMax = 0;
    for (let qq = 0; qq < pairs; qq++) {
      const a = tables.rowStart[qq]!, b = tables.rowStart[qq + 1]!;
      if (b > a) live++;
      rowMax = Math.max(rowMax, b - a);
      for (let e = a; e < b; e++) {
        const k = tables.rowK[e]!;
        if (e > a) expect(k, `row ${qq} ascending`).toBeGreaterThan(tables.rowK[e - 1]!);
        expect(wKcrs[k * pairs + qq], `(${k}, ${qq}) is a nonzero`).not.toBe(0);
        seen.add(k * pairs + qq);
      }
    }
    expect(seen.size, 'every nonzero once').toBe(wKcrs.filter((v) => v !== 0).length);
    expect([spec.rowsLive, spec.rowMax]).toEqual([live, rowMax]);
    expect(live, 'the emptied row is not live').toBeLessThan(pairs);
    const order = dualRows(structure).order;
    for (let qq = 0; qq < pairs; qq++) {
      for (let e = tables.rowStart[qq]!; e < tables.rowStart[qq + 1]!; e++) expect(order[e], `entry ${e}`).toBe(tables.rowK[e]! * pairs + qq);
    }
    // More than 65535 nonzeros: 32-bit row starts.
    const big = prob(128, 7, 7, 640, 3, 3, 1, 1, 1, 7, 7, false, false);
    const dense = new Float32Array(big.k * big.c * 9).map(() => rnd() + 0.1);
    const bigSpec = dualSpecFor(big, weightStructure(dense, { k: big.k, c: big.c, r: 3, s: 3 }), { warps: 16, unroll: 8 });
    expect(bigSpec.nnz).toBeGreaterThan(65535);
    expect(renderKernel(bigSpec, [], { structure: weightStructure(dense, { k: big.k, c: big.c, r: 3, s: 3 }) }).source).toContain('static __device__ const uint32_t kRowStart[PAIRS + 1]');
  });

  it('the check can fail: a wrong output channel, a lost entry or a wrong packed value is caught', () => {
    // Without ReLU: a changed sum always shows.
    const q = { ...SHAPES[0]!.q, relu: false };
    const wKcrs = prunedWeights(q, 'unstructured-90');
    const { spec, s, packed, tables } = build(q, 16, 8, wKcrs);
    const bias = new Float32Array(q.k).map(() => rnd() - 0.5);
    const x = inputs(q, 1, 0.3);
    const ref = convRef(x, 1, q, wKcrs, bias, q.relu);
    const run = (t: Tables, p: Float32Array): number => {
      const out = new Float32Array(q.k * q.ho * q.wo);
      walk(spec, s, t, x, 1, p, bias, out, new Uint8Array(out.length));
      return relErr(out, ref);
    };
    expect(run(tables, packed)).toBeLessThanOrEqual(TOL);
    const e = Math.floor(rnd() * tables.rowK.length);
    const wrongK = [...tables.rowK];
    wrongK[e] = (wrongK[e]! + 1 + Math.floor(rnd() * (q.k - 1))) % q.k;
    // A channel moved onto one already in its row would be caught by the walk's distinctness check instead.
    let caught = false;
    try { caught = run({ ...tables, rowK: wrongK }, packed) > TOL; } catch { caught = true; }
    expect(caught, 'wrong output channel').toBe(true);
    // The first entry of the busiest centre-tap row dropped from both tables (the centre tap is inside the input
    // at every pixel, so the lost weight always counts; the last row's last entry, tried first, can be a border
    // tap whose inputs are zero or outside).
    const centre = Math.floor(q.r / 2) * q.s + Math.floor(q.s / 2);
    const len = (row: number): number => tables.rowStart[row + 1]! - tables.rowStart[row]!;
    const rowsC = Array.from({ length: q.c }, (_, ch) => ch * q.r * q.s + centre);
    const row = rowsC.reduce((a, b) => (len(b) > len(a) ? b : a));
    const at = tables.rowStart[row]!;
    const lostStart = tables.rowStart.map((v, i) => (i > row ? v - 1 : v));
    const lostK = tables.rowK.filter((_, i) => i !== at);
    const lostP = packed.filter((_, i) => i !== at);
    expect(run({ rowStart: lostStart, rowK: lostK }, lostP), 'lost entry').toBeGreaterThan(TOL);
    const badP = packed.slice();
    badP[e] = badP[e]! * 2;
    expect(run(tables, badP), 'wrong packed value').toBeGreaterThan(TOL);
  });

  it('the space: small maps with pruned weights, warps x entries in flight that fit; no rule serves a conv; the planner plans none without a measurement', () => {
    const q7 = prob(512, 7, 7, 512, 3, 3, 1, 1, 1, 7, 7, true, true);
    const st = weightStructure(prunedWeights(q7, 'unstructured-90'), { k: 512, c: 512, r: 3, s: 3 });
    expect(dualCandidates(H200, q7, 1, st).map((c) => [c.warps, c.unroll])).toEqual([[8, 4], [8, 8], [16, 4], [16, 8], [32, 4]]);
    // 32 warps x 8 entries would need ~74 registers where 1024 threads get 64: left out (it would spill).
    expect(dualCandidates(gpuProfile('sm_75'), q7, 1, st).length, 'sm_75: 64 KB of shared memory a block').toBeLessThan(5);
    const q28 = prob(128, 28, 28, 128, 3, 3, 1, 1, 1, 28, 28, true, true);
    expect(28 * 28).toBeLessThanOrEqual(DUAL_MAX_BLOCKS_PER_SM * H200.smCount);
    const st28 = weightStructure(prunedWeights(q28, 'unstructured-90'), { k: 128, c: 128, r: 3, s: 3 });
    expect(dualCandidates(H200, q28, 1, st28).length).toBe(5);
    expect(dualCandidates(H200, q28, 2, st28), 'batch 2: 1568 blocks').toEqual([]);
    const q56 = prob(64, 56, 56, 64, 3, 3, 1, 1, 1, 56, 56, true, true);
    expect(dualCandidates(H200, q56, 1, weightStructure(prunedWeights(q56, 'unstructured-90'), { k: 64, c: 64, r: 3, s: 3 }))).toEqual([]);
    const fam = familiesFor('sm_90').find((f) => f.family === 'dual')!;
    expect(fam.measuredOnly).toBe(true);
    const weights = { structure: st, sparsity: 0.9, pattern: 'unstructured' as const };
    expect(fam.choose(q7, H200, 1, 0.3, weights), 'no rule').toBeNull();
    expect(fam.space!(q7, H200, 1, weights).length).toBe(5);
    expect(fam.space!(q7, H200, 1, undefined), 'no weights: nothing').toEqual([]);
    expect(fam.space!(q7, H200, 1, { ...weights, sparsity: 0.3 }), 'fewer than 50% zeros: nothing').toEqual([]);
    // The cost model falls with the input's zeros and with more warps on the long chain of ResNet-50's 7x7.
    const c16 = dualCandidates(H200, q7, 1, st).find((c) => c.warps === 16 && c.unroll === 4)!;
    expect(dualUs(H200, c16, 1, 0.1)!.us).toBeLessThan(dualUs(H200, c16, 1, 0.5)!.us);
    expect(dualUs(H200, { ...c16, warps: 32 }, 1, 0.5)!.us).toBeLessThan(dualUs(H200, c16, 1, 0.5)!.us);
    // A pruned network planned without a tune cache has no dual kernel.
    const g = smallResnet();
    const pruned = pruneWeights(g, syntheticWeights(g, Math.floor(rnd() * 1e9)), { sparsity: 0.9 }).weights;
    const plan = planNetwork(g, H200, sparsityProfile(g, pruned), { batch: 1, weightsSource: 'pruned', weightStructure: structureLookup(g, pruned) });
    expect(plan.convs.some((c) => c.spec?.family === 'dual')).toBe(false);
    expect(plan.convs.some((c) => /dual: no tiles fit/.test(c.reason)), 'not listed among the rule families without tiles').toBe(false);
  });

  it('measured flow: tune times the dual space on pruned convs; a cache whose winner is dual puts it in the plan, and the folder holds its kernel with tables', async () => {
    const g = smallResnet();
    const pruned = pruneWeights(g, syntheticWeights(g, Math.floor(rnd() * 1e9)), { sparsity: 0.9 }).weights;
    const structures = structureLookup(g, pruned);
    const sp = sparsityProfile(g, pruned);
    const plan = planNetwork(g, H200, sp, { batch: 1, weightsSource: 'pruned 90%', weightStructure: structures });
    const { jobs } = tuneJobs(g, plan, { maxCandidates: 16, weights: pruned });
    expect(jobs.length).toBeGreaterThan(0);
    const truth = new Map<string, ConvTruth>();
    const winners = new Map<string, string>();
    const kernelUs = new Map<string, number>();
    for (const j of jobs) {
      const duals = j.candidates.filter((c) => c.spec.family === 'dual');
      expect(duals.length, `${j.layer}: dual candidates`).toBeGreaterThan(0);
      const base = 10 + 10 * rnd();
      for (const c of j.candidates) kernelUs.set(`${j.layer}/${c.kernel}`, base * (1.5 + rnd()));
      const win = duals[Math.floor(rnd() * duals.length)]!;
      kernelUs.set(`${j.layer}/${win.kernel}`, base);
      winners.set(j.layer, win.kernel);
      truth.set(j.layer, { generatedUs: base, cudnnUs: base * 3, sigma: 0.004 });
    }
    const addon = new CpuAddon({ truth, otherUs: 1, drift: 0.001, powerW: { static: 300, cudnn: 300, 'implicit-gemm': 300 }, random: rnd,
      kernelUs: (k, l) => kernelUs.get(`${l}/${k}`) });
    const r = await tuneSearch(g, plan, pruned, { inputs: { kind: 'random', seed }, maxCandidates: 16, iters: 51, workDir: join(tmp, 'work'),
      build: async (dir) => installCpuAddon(dir, addon) });
    const cache = mergeTuneCache(emptyTuneCache(), r.entries).cache;
    const tuned = planNetwork(g, H200, sp, { batch: 1, weightsSource: 'pruned 90%', weightStructure: structures, tuned: cache, gpu: 'CPU fake GPU' });
    const dir = join(tmp, 'folder');
    emitNetwork(g, tuned, dir, { structures });
    const back = readPlanFile(dir);
    for (const j of jobs) {
      const c = back.convs.find((x) => x.layer === j.layer)!;
      expect(c.spec?.family, `${j.layer}: ${c.reason}`).toBe('dual');
      expect(c.kernelName).toBe(winners.get(j.layer));
      expect(c.reason).toMatch(/^dual: .*fastest dual/);
    }
    const cu = readdirSync(join(dir, 'kernels')).filter((f) => f.startsWith('dual'));
    expect(cu.length).toBe(new Set(winners.values()).size);
    for (const f of cu) expect(readFileSync(join(dir, 'kernels', f), 'utf8')).toMatch(/static __device__ const uint16_t kRowK\[/);
    // report.md counts the family and names the tiles; inspect shows the layer's kernel and the measured decision.
    const report = readFileSync(join(dir, 'report.md'), 'utf8');
    expect(report).toMatch(/on generated kernels: \d+ \((.*, )?dual \d+/);
    expect(report).toContain('dual 1 pixel x');
    const out: string[] = [];
    const layer = jobs[0]!.layer;
    await inspectCommand((x) => void out.push(x), () => {}).parseAsync([dir, '--layer', layer, '--no-ptxas'], { from: 'user' });
    const text = out.join('\n');
    expect(text).toContain(winners.get(layer)!);
    expect(text).toMatch(/\nmeasured:\n {2}winner: dual/);
  }, 120_000);

  it('nvcc compiles the rendered kernels without warnings, spills or stack (sm_90: dependent launch; sm_80)', async () => {
    if (!findNvcc()) {
      console.log('dual: nvcc not found, the rendered kernels are not compiled here');
      return;
    }
    const dir = join(tmp, 'nvcc');
    mkdirSync(dir, { recursive: true });
    const files: string[] = [];
    const regs: number[] = [];
    // Every shape above at its tiles, plus the space's corners on ResNet-50's 7x7 (32 warps x 4 entries: 1024 threads, 64 registers).
    const specs = SHAPES.map(({ q, warps, unroll, pattern }) => [q, warps, unroll, pattern] as const);
    specs.push([SHAPES[7]!.q, 32, 4, 'unstructured-90'], [SHAPES[7]!.q, 8, 4, 'unstructured-90']);
    for (const [q, warps, unroll, pattern] of specs) {
      const { spec, src } = build(q, warps, unroll, prunedWeights(q, pattern));
      regs.push(dualResources(spec, 1).regsEstimate);
      const f = join(dir, `${kernelNameOf(spec)}.cu`);
      writeFileSync(f, src);
      files.push(f);
    }
    const results = await compileCheck(files, ['sm_80', 'sm_90'], { filesPerProcess: files.length });
    expect(results.length).toBeGreaterThanOrEqual(files.length);
    for (const r of results) {
      expect(r.ok, `${r.kernel}:\n${r.log}`).toBe(true);
      expect(r.warnings).toEqual([]);
      expect([r.spillStores, r.spillLoads, r.stackFrame], r.kernel).toEqual([0, 0, 0]);
      // The planner's register count (occupancy, the space's spill filter) is at or above ptxas's.
      const i = files.findIndex((f) => f.endsWith(`${r.kernel}.cu`));
      expect(r.registers!, `${r.kernel} ${r.arch}: ptxas ${r.registers} registers, estimate ${regs[i]}`).toBeLessThanOrEqual(regs[i]!);
    }
  }, 300_000);

  it('names, tiles round trip, layout and validation', () => {
    const q = prob(512, 7, 7, 512, 3, 3, 1, 1, 1, 7, 7, true, true);
    const st: WeightStructure = weightStructure(prunedWeights(q, 'unstructured-90'), { k: 512, c: 512, r: 3, s: 3 });
    const spec = dualSpecFor(q, st, { warps: 16, unroll: 8 });
    expect(kernelNameOf(spec)).toBe(`dual3x3_c512_h7_w7_k512_w16_u8_d${st.digest}_bias_relu_sm90`);
    expect(dualName(spec)).toBe(kernelNameOf(spec));
    expect(specWithTiles(q, tilesOf(spec))).toEqual(spec);
    expect(tilesOf(spec)).toEqual({ family: 'dual', warps: 16, unroll: 8, patternDigest: st.digest, nnz: spec.nnz, rowMax: spec.rowMax, rowsLive: spec.rowsLive });
    expect(dualLayout(spec)).toMatchObject({ pairs: 4608, slice: 288, nch: 9, list: 16 * 9 * 32, threads: 512, sharedBytes: 16 * 9 * 32 * 8 + 16 * 512 * 4 + 16 * 4 });
    expect(() => validateDualSpec({ ...spec, k: 70000 })).toThrow(/k must be at most 65536/);
    expect(() => validateDualSpec({ ...spec, warps: 0 })).toThrow(/warps must be a positive integer/);
    expect(() => validateDualSpec({ ...spec, unroll: 17 })).toThrow(/unroll must be at most 16/);
    expect(() => validateDualSpec({ ...spec, patternDigest: 'xyz' })).toThrow(/patternDigest must be 10 hex digits/);
    expect(() => validateDualSpec({ ...spec, rowsLive: 0 })).toThrow(/rowsLive 0 and nnz \d+ must both be 0 or both positive/);
    // Rendering needs the structure the spec was planned for.
    expect(() => renderKernel(spec, [{ model: 'm', layer: 'l' }])).toThrow(/dual kernel .* \(l\): rendering needs the layer's weight structure/);
    const other = weightStructure(prunedWeights(q, 'unstructured-90'), { k: 512, c: 512, r: 3, s: 3 });
    expect(() => renderKernel(spec, [{ model: 'm', layer: 'l' }], { structure: other })).toThrow(/digest .* generated for .*re-plan with these weights/);
    expect(() => renderKernel({ ...spec, rowMax: spec.rowMax + 1 }, [], { structure: st })).toThrow(/dual spec says rowMax/);
  });
});
