// Whole-filter pruning as a smaller dense conv (issue 10): igemm kernels that compute only the kept
// filters and write act(bias) on the others. Checked here on the CPU: which channels are kept (the
// nonzero filters, padded to a multiple of 4), the spec's checks and names, the rendered tables and
// constants, the grid; the planner's pick on filter-pruned weights (and not on other weights); and the
// lowering end to end: the packed weights and folded bias the kernel gets, run through the kernel's
// arithmetic here in float64, against the reference forward of the pruned network. The CUDA kernel
// itself is checked against cuDNN in the GPU suite (test/gpu/kernels.test.ts). Seed printed.
import { describe, expect, it } from 'vitest';
import { gpuProfile } from '../../src/arch/profiles.js';
import { chooseIgemmTilesForWeights, igemmCandidatesForWeights, KEPT_MAX_FRACTION } from '../../src/families/igemm/tiles.js';
import { convCandidates } from '../../src/runtime/tune-candidates.js';
import { igemmKeptOrder, igemmName, igemmWriterTiles, keptChannels, PRUNED_FLOATS_PER_BLOCK, validateIgemmSpec, type IgemmKernelSpec } from '../../src/families/igemm/spec.js';
import { compileCheck, findNvcc } from '../../src/toolchain/nvcc.js';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { igemmResources } from '../../src/families/igemm/resources.js';
import { structureLookup, weightStructure } from '../../src/families/wsparse/structure.js';
import { kernelNameOf, renderKernel, specWithTiles, tilesOf, type ConvWeights } from '../../src/families/registry.js';
import { Value } from '@sinclair/typebox/value';
import { KernelTilesSchema } from '../../src/schema/tiles.js';
import { GraphBuilder } from '../../src/model/builder.js';
import { uniformPad } from '../../src/model/ir.js';
import { planNetwork } from '../../src/plan/planner.js';
import { lowerNetwork } from '../../src/runtime/lower.js';
import type { ConvStep } from '../../src/runtime/program.js';
import { referenceForward } from '../../src/runtime/reference.js';
import { sparsityProfile } from '../../src/sparsity/profile.js';
import { pruneWeights } from '../../src/weights/prune.js';
import { getTensor } from '../../src/weights/store.js';
import { syntheticWeights } from '../../src/weights/synthetic.js';
import { mulberry32, testSeed } from '../helpers/random.js';

const SEED = testSeed();
console.log(`test/families/igemm-kept.test.ts: seed ${SEED} (CUSNN_TEST_SEED=${SEED} repeats this run)`);
const p = gpuProfile('sm_90');

const problem = { arch: 'sm_90' as const, c: 48, h: 14, w: 14, k: 40, r: 3, s: 3, strideH: 1, strideW: 1, padTop: 1, padLeft: 1, ho: 14, wo: 14, bias: true, relu: true };

/** KCRS weights of `problem` with the filters of `zero` all zero, the others random and nonzero. */
function weightsWith(zero: (k: number) => boolean, rnd: () => number): Float32Array {
  const crs = problem.c * problem.r * problem.s;
  const w = new Float32Array(problem.k * crs).map(() => 0.05 + rnd());
  for (let k = 0; k < problem.k; k++) if (zero(k)) w.fill(0, k * crs, (k + 1) * crs);
  return w;
}

describe(`igemm with kept filters (seed ${SEED})`, () => {
  it('keeps the nonzero filters, padded with the lowest zero ones to a multiple of 4; none when nothing is skipped', () => {
    expect(keptChannels([false, true, false, true, true, false, true, true])).toEqual([0, 1, 2, 5]);
    expect(keptChannels([true, true, true, true, false, false, false, false])).toEqual([4, 5, 6, 7]);
    expect(keptChannels([false, false, false, false])).toBeNull();
    expect(keptChannels([true, true, true, true])).toBeNull();
    // 3 nonzero of 5: padded to 4, fewer than 5.
    expect(keptChannels([false, true, false, false, true])).toEqual([0, 1, 2, 3]);
    // 7 nonzero of 8: padded to 8 = all: nothing to skip.
    expect(keptChannels([false, false, false, false, false, false, false, true])).toBeNull();
    const rnd = mulberry32(SEED);
    for (let t = 0; t < 20; t++) {
      const n = 8 + Math.floor(rnd() * 60);
      const z = Array.from({ length: n }, () => rnd() < 0.6);
      const kept = keptChannels(z);
      if (kept === null) continue;
      expect(kept.length % 4).toBe(0);
      expect(kept.length).toBeLessThan(n);
      for (let k = 0; k < n; k++) if (!z[k]) expect(kept, `nonzero filter ${k}`).toContain(k);
      expect([...kept].sort((a, b) => a - b)).toEqual(kept);
    }
  });

  it('the spec checks the list; names carry a digest of it; a spec without kept is named as before', () => {
    const rule = chooseIgemmTilesForWeights(p, problem, 1, undefined)!.spec;
    expect(rule.kept).toBeUndefined();
    expect(igemmName(rule)).not.toMatch(/kept/);
    const kept = [0, 3, 5, 9, 12, 13, 20, 21];
    const a = { ...rule, kept };
    expect(igemmName(a)).toMatch(/_kept8_d[0-9a-f]{10}_bias_relu_sm90$/);
    expect(igemmName({ ...rule, kept: [...kept.slice(0, 7), 22] })).not.toBe(igemmName(a));
    expect(igemmName({ ...rule, kept: [...kept] })).toBe(igemmName(a));
    for (const bad of [[0, 1, 2], [3, 2, 1, 0], [0, 1, 2, 40], [0, 0, 1, 2], Array.from({ length: 40 }, (_, i) => i)]) {
      expect(() => validateIgemmSpec({ ...rule, kept: bad }), JSON.stringify(bad)).toThrow(/kept must/);
    }
  });

  it('the rule takes the kept filters where at most 3/4 remain; the kernel renders their tables, the grid covers them only', () => {
    const rnd = mulberry32(SEED + 1);
    const zero = new Set<number>();
    while (zero.size < 22) zero.add(Math.floor(rnd() * problem.k));
    const w = weightsWith((k) => zero.has(k), rnd);
    const st = weightStructure(w, { k: problem.k, c: problem.c, r: problem.r, s: problem.s });
    const ch = chooseIgemmTilesForWeights(p, problem, 1, st.start)!;
    const spec = ch.spec as IgemmKernelSpec;
    const expected = keptChannels(Array.from({ length: problem.k }, (_, k) => zero.has(k)))!;
    expect(spec.kept).toEqual(expected);
    expect(ch.why).toMatch(new RegExp(`whole-filter pruning: ${expected.length} of 40 filters computed`));
    expect(igemmResources(spec, 1).grid[1]).toBe(Math.ceil(expected.length / spec.bm));
    const { source } = renderKernel(spec, []);
    expect(source).toContain(`constexpr int K = ${expected.length};`);
    expect(source).toContain('constexpr int K_OUT = 40;');
    expect(source).toContain(`__device__ const int KEPT[K] = { ${expected.join(', ')} };`);
    const pruned = Array.from({ length: 40 }, (_, i) => i).filter((i) => !expected.includes(i));
    expect(source).toContain(`constexpr int N_PRUNED = ${pruned.length};`);
    expect(source).toContain(`__device__ const int PRUNED[N_PRUNED] = { ${pruned.join(', ')} };`);
    expect(source).toContain('out[img * outBatchStride + static_cast<long long>(ko) * PIX + rem] = y;');
    // The kernel info the runtime checks names the layer's K, not the kept count.
    expect(source).toMatch(/"igemm", 90,\s+48, 14, 14, 40, 3, 3,/);
    const dense = renderKernel(chooseIgemmTilesForWeights(p, problem, 1, undefined)!.spec, []).source;
    expect(dense).not.toMatch(/KEPT|PRUNED|K_OUT|\bko\b/);
    // More than KEPT_MAX_FRACTION kept: the plain tiles.
    const few = weightsWith((k) => k < Math.floor((1 - KEPT_MAX_FRACTION) * problem.k) - 4, rnd);
    const st2 = weightStructure(few, { k: problem.k, c: problem.c, r: problem.r, s: problem.s });
    expect((chooseIgemmTilesForWeights(p, problem, 1, st2.start)!.spec as IgemmKernelSpec).kept).toBeUndefined();
  });

  it('tune searches the kept-filter tiles on filter-pruned weights (then the dense ones), and only there', () => {
    const rnd = mulberry32(SEED + 7);
    const zero = new Set<number>();
    while (zero.size < 24) zero.add(Math.floor(rnd() * problem.k));
    const w = weightsWith((k) => zero.has(k), rnd);
    const st = weightStructure(w, { k: problem.k, c: problem.c, r: problem.r, s: problem.s });
    const kept = keptChannels(Array.from({ length: problem.k }, (_, k) => zero.has(k)))!;
    const space = igemmCandidatesForWeights(p, problem, st.start);
    const dense = igemmCandidatesForWeights(p, problem, undefined);
    const keptSpace = space.filter((s) => s.kept !== undefined);
    expect(dense.every((s) => s.kept === undefined)).toBe(true);
    expect(keptSpace.length).toBeGreaterThan(10);
    expect(space.length).toBe(keptSpace.length + dense.length);
    // Each kept candidate is a valid, renderable kernel of the layer's K with this layer's kept list, and its
    // name differs from every dense tile's.
    const denseNames = new Set(dense.map((s) => igemmName(s)));
    for (const s of keptSpace) {
      expect(s.k).toBe(problem.k);
      expect(s.kept).toEqual(kept);
      validateIgemmSpec(s);
      expect(denseNames.has(igemmName(s))).toBe(false);
    }
    // The rule's pick is one of them, and tune's candidates for the conv (registry spaces) include kept tiles
    // beyond it; a layer with a structure but no zero filters gets the dense space only.
    const rule = chooseIgemmTilesForWeights(p, problem, 1, st.start)!.spec as IgemmKernelSpec;
    expect(keptSpace.map((s) => igemmName(s))).toContain(igemmName(rule));
    const { arch: _arch, ...shape } = problem;
    const weights: ConvWeights = { structure: st, sparsity: zero.size / problem.k, pattern: 'filter' };
    const cands = convCandidates(p, shape, 1, 0.5, rule, weights, 16);
    expect(cands.filter((c) => c.spec.family === 'igemm' && (c.spec as IgemmKernelSpec).kept !== undefined).length).toBeGreaterThan(1);
    const full = weightsWith(() => false, rnd);
    const stFull = weightStructure(full, { k: problem.k, c: problem.c, r: problem.r, s: problem.s });
    expect(igemmCandidatesForWeights(p, problem, stFull.start).map((s) => igemmName(s))).toEqual(dense.map((s) => igemmName(s)));
  });

  it('few kept filters: writer tiles past the GEMM rows share the act(bias) writes; nvcc compiles them without warnings', async () => {
    // A 1x1 to 256 channels at 28x28 with 90% of its filters zero: the GEMM has one channel tile, so the
    // rule's kernel adds grid rows whose blocks only write act(bias), at most PRUNED_FLOATS_PER_BLOCK each.
    const rnd = mulberry32(SEED + 5);
    const q = { ...problem, c: 64, h: 28, w: 28, k: 256, r: 1, s: 1, padTop: 0, padLeft: 0, ho: 28, wo: 28 };
    const crs = q.c;
    const w = new Float32Array(q.k * crs).map(() => 0.05 + rnd());
    for (let k = 0; k < q.k; k++) if (rnd() < 0.9) w.fill(0, k * crs, (k + 1) * crs);
    const st = weightStructure(w, { k: q.k, c: q.c, r: 1, s: 1 });
    const spec = chooseIgemmTilesForWeights(p, q, 1, st.start)!.spec as IgemmKernelSpec;
    const kept = spec.kept!;
    expect(kept.length).toBeLessThan(64);
    const writers = igemmWriterTiles(spec);
    const gemmRows = Math.ceil(kept.length / spec.bm);
    expect(writers).toBeGreaterThan(0);
    const grid = igemmResources(spec, 1).grid;
    expect(grid[1]).toBe(gemmRows + writers);
    // Every block of a pixel tile writes its share: at most PRUNED_FLOATS_PER_BLOCK floats (one channel of
    // rounding), and one writer row fewer would not do.
    const nPruned = q.k - kept.length;
    const per = (shares: number) => Math.ceil(nPruned / shares) * spec.bn;
    expect(per(grid[1] * grid[2])).toBeLessThanOrEqual(PRUNED_FLOATS_PER_BLOCK + spec.bn);
    expect(per((grid[1] - 1) * grid[2])).toBeGreaterThan(PRUNED_FLOATS_PER_BLOCK - spec.bn);
    expect(igemmName(spec)).toMatch(new RegExp(`_kept${kept.length}_d[0-9a-f]{10}_wt${writers}_`));
    const { source } = renderKernel(spec, []);
    expect(source).toContain(`constexpr int WRITER_TILES = ${writers};`);
    expect(source).toContain('const dim3 grid(static_cast<unsigned>(cols), GRID_Y + WRITER_TILES, SPLIT);');
    expect(source).toMatch(/if \(blockIdx\.y >= GRID_Y\) \{\s+writePruned\(\);\s+return;/);
    // Half as many pruned filters: no writer rows, the name as before the change.
    const half = new Float32Array(w.length).map(() => 0.05 + rnd());
    for (let k = 0; k < q.k; k += 2) half.fill(0, k * crs, (k + 1) * crs);
    const specHalf = chooseIgemmTilesForWeights(p, q, 1, weightStructure(half, { k: q.k, c: q.c, r: 1, s: 1 }).start)!.spec as IgemmKernelSpec;
    expect(igemmWriterTiles(specHalf)).toBe(0);
    expect(igemmName(specHalf)).not.toMatch(/_wt\d/);
    if (!findNvcc()) {
      console.log('igemm-kept: nvcc not found, the writer-tile kernels are not compiled here');
      return;
    }
    const dir = mkdtempSync(join(tmpdir(), 'cusnn-kept-'));
    try {
      const files = [spec, { ...spec, vec: 4 as const }].map((s) => {
        validateIgemmSpec(s);
        const r = renderKernel(s, []);
        const f = join(dir, `${r.name}.cu`);
        writeFileSync(f, r.source);
        return f;
      });
      const results = await compileCheck(files, ['sm_90'], { filesPerProcess: files.length });
      expect(results).toHaveLength(2);
      for (const r of results) {
        expect(r.ok, `${r.kernel}:\n${r.log}`).toBe(true);
        expect(r.warnings).toEqual([]);
        expect([r.spillStores, r.spillLoads, r.stackFrame], r.kernel).toEqual([0, 0, 0]);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);

  it('the kept filters travel with the tiles (calibration, tune cache) and back into the same kernel', () => {
    const rnd = mulberry32(SEED + 7);
    const zero = new Set<number>();
    while (zero.size < 18) zero.add(Math.floor(rnd() * problem.k));
    const st = weightStructure(weightsWith((k) => zero.has(k), rnd), { k: problem.k, c: problem.c, r: problem.r, s: problem.s });
    const spec = chooseIgemmTilesForWeights(p, problem, 1, st.start)!.spec as IgemmKernelSpec;
    expect(spec.kept).toBeDefined();
    const tiles = tilesOf(spec);
    expect(Value.Check(KernelTilesSchema, JSON.parse(JSON.stringify(tiles))), 'the tiles schema takes kept').toBe(true);
    const { family: _f, bm: _bm, bn: _bn, bkc: _bkc, tm: _tm, tn: _tn, warpM: _w, split: _sp, stages: _st, vec: _v, kept: _k, ...fields } = spec;
    const back = specWithTiles(fields, JSON.parse(JSON.stringify(tiles)));
    expect(kernelNameOf(back)).toBe(kernelNameOf(spec));
    expect((back as IgemmKernelSpec).kept).toEqual(spec.kept);
  });

  it('kept order: the [C][R][S][kept] columns of the KCRS weights', () => {
    const spec = { c: 3, r: 2, s: 2, kept: [1, 4, 6, 7] };
    const order = igemmKeptOrder(spec)!;
    expect(order.length).toBe(12 * 4);
    for (let i = 0; i < 12; i++) for (let j = 0; j < 4; j++) expect(order[i * 4 + j]).toBe(spec.kept[j]! * 12 + i);
    expect(igemmKeptOrder({ c: 3, r: 2, s: 2 })).toBeNull();
  });

  it('planned and lowered for a filter-pruned network: the kernel\'s arithmetic on its packed weights and folded bias matches the reference', () => {
    const b = new GraphBuilder('kept_net', 'resnet', 'caffe');
    let x = b.input('input', [6, 10, 10]);
    x = b.relu('r0', b.conv('conv0', x, 16, { kernel: 3, pad: uniformPad(1), bias: true }));
    x = b.relu('r1', b.batchnorm('bn1', b.conv('conv1', x, 24, { kernel: 3, pad: uniformPad(1), bias: true }), 1e-3));
    b.softmax('predictions_softmax', b.dense('predictions', b.globalAvgPool('pool', x), 5));
    const g = b.build();
    const ws = pruneWeights(g, syntheticWeights(g, SEED % 1000), { sparsity: 0.5, pattern: 'filter' }).weights;
    const plan = planNetwork(g, p, sparsityProfile(g, ws), { batch: 1, weightsSource: 'test', force: 'act-sparse', weightStructure: structureLookup(g, ws) });
    const c1 = plan.convs.find((c) => c.layer === 'conv1')!;
    const spec = c1.spec as IgemmKernelSpec;
    expect(spec.family).toBe('igemm');
    const zeroK = Array.from({ length: 24 }, (_, k) => getTensor(ws, 'conv1', 'kernel').subarray(k * 144, (k + 1) * 144).every((v) => v === 0));
    expect(zeroK.filter(Boolean).length).toBe(12);
    expect(spec.kept).toEqual(keptChannels(zeroK));
    expect(c1.reason).toMatch(/whole-filter pruning: 12 of 24 filters computed/);

    const batch = 2;
    const lowered = lowerNetwork(g, plan, ws, { batch, mode: 'plan', keep: ['r0', 'r1'] });
    const step = lowered.program.steps.find((s): s is ConvStep => s.op === 'conv' && s.layer === 'conv1')!;
    expect(step.kernel).toBe(igemmName(spec));
    expect(step.weightsLayout).toBe('packed');
    const packed = lowered.tensors[step.weightsCrsk!]!;
    const bias = lowered.tensors[step.bias!]!;
    const ka = spec.kept!.length;
    expect(packed.length).toBe(16 * 9 * ka);

    const rnd = mulberry32(SEED + 2);
    const input = Float32Array.from({ length: batch * 600 }, () => 100 * (rnd() - 0.5));
    const ref = referenceForward(g, ws, input, batch, { keep: (l) => l === 'r0' || l === 'r1' });
    const r0 = ref.outputs.get('r0')!;
    const r1 = ref.outputs.get('r1')!;
    const col = new Map(spec.kept!.map((k, j) => [k, j]));
    let num = 0;
    let den = 0;
    for (let n = 0; n < batch; n++) {
      for (let ko = 0; ko < 24; ko++) {
        for (let h = 0; h < 10; h++) {
          for (let w = 0; w < 10; w++) {
            let y = bias[ko]!;
            const j = col.get(ko);
            if (j !== undefined) {
              for (let c = 0; c < 16; c++) {
                for (let r = 0; r < 3; r++) {
                  for (let s = 0; s < 3; s++) {
                    const hi = h + r - 1;
                    const wi = w + s - 1;
                    if (hi < 0 || hi >= 10 || wi < 0 || wi >= 10) continue;
                    y += packed[((c * 3 + r) * 3 + s) * ka + j]! * r0[((n * 16 + c) * 10 + hi) * 10 + wi]!;
                  }
                }
              }
            }
            y = Math.max(0, y);
            const want = r1[((n * 24 + ko) * 10 + h) * 10 + w]!;
            num += (y - want) ** 2;
            den += want ** 2;
          }
        }
      }
    }
    expect(den).toBeGreaterThan(0);
    expect(Math.sqrt(num / den)).toBeLessThan(1e-6);

    // Weights whose skipped filters are not all zero: the lowering refuses the plan.
    const changed = { ...ws, tensors: new Map(ws.tensors) };
    const k1 = getTensor(ws, 'conv1', 'kernel').slice();
    const skipped = zeroK.findIndex((z, k) => z && !spec.kept!.includes(k));
    k1[skipped * 144 + 7] = 0.5;
    changed.tensors.set('conv1:kernel', k1);
    expect(() => lowerNetwork(g, plan, changed, { batch, mode: 'plan' })).toThrow(new RegExp(`skips output channel ${skipped}, whose filter is not all zero`));
  });

  it('unstructured pruning and dense weights keep the plain tiles', () => {
    const b = new GraphBuilder('plain_net', 'resnet', 'caffe');
    let x = b.input('input', [6, 10, 10]);
    x = b.relu('r0', b.conv('conv0', x, 16, { kernel: 3, pad: uniformPad(1), bias: true }));
    x = b.relu('r1', b.conv('conv1', x, 24, { kernel: 3, pad: uniformPad(1), bias: true }));
    b.softmax('predictions_softmax', b.dense('predictions', b.globalAvgPool('pool', x), 5));
    const g = b.build();
    for (const ws of [syntheticWeights(g, 3), pruneWeights(g, syntheticWeights(g, 3), { sparsity: 0.9, pattern: 'unstructured' }).weights]) {
      const plan = planNetwork(g, p, sparsityProfile(g, ws), { batch: 1, weightsSource: 'test', force: 'act-sparse', weightStructure: structureLookup(g, ws) });
      for (const c of plan.convs) if (c.spec?.family === 'igemm') expect(c.spec.kept, c.layer).toBeUndefined();
    }
  });
});
