// The planner and codegen with the wsparse family: ResNet-50 pruned to 90% (the project's pruner,
// fresh synthetic weights) plans wsparse kernels on pruned 3x3 and 1x1 convs, each reason stating
// the weight facts (nonzeros, pattern, busiest/mean nonzeros per output channel), the rule's tiles
// (channels per block, pixels, warps per channel) and the estimate vs cuDNN; every other pruned conv
// says why not; unpruned weights plan exactly as without the structure lookup (which is then never
// asked); codegen renders the kernels from the weights and refuses weights whose structure is not
// the plan's, naming the layer.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gpuProfile } from '../../src/arch/profiles.js';
import { emitNetwork, nameKernels } from '../../src/codegen/emit.js';
import { lowerNetwork } from '../../src/runtime/lower.js';
import { balanceOf, rowStats } from '../../src/families/wsparse/schedule.js';
import { structureLookup, type StructureLookup } from '../../src/families/wsparse/structure.js';
import type { ConvLayer } from '../../src/model/ir.js';
import { buildModel } from '../../src/model/zoo/index.js';
import { planNetwork, type MeasuredConv } from '../../src/plan/planner.js';
import { kernelNameOf, tilesOf } from '../../src/families/registry.js';
import type { NetworkPlan } from '../../src/plan/types.js';
import { sparsityProfile } from '../../src/sparsity/profile.js';
import { pruneWeights } from '../../src/weights/prune.js';
import { syntheticWeights } from '../../src/weights/synthetic.js';
import { testSeed } from '../helpers/random.js';

const seed = testSeed() % 100_000;
const tmp = mkdtempSync(join(tmpdir(), 'cusnn-wsparse-plan-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const graph = buildModel('resnet50');
const dense = syntheticWeights(graph, seed);
const pruned = pruneWeights(graph, dense, { sparsity: 0.9 }).weights;
const convs = new Map(graph.layers.filter((l): l is ConvLayer => l.op === 'conv').map((l) => [l.name, l]));

function counted(lookup: StructureLookup): { lookup: StructureLookup; asked: Set<string> } {
  const asked = new Set<string>();
  return { asked, lookup: (layer) => { asked.add(layer); return lookup(layer); } };
}

describe(`wsparse in the planner (resnet50 pruned 90%, weights seed ${seed})`, () => {
  // This file checks the wsparse family's part of the planner, so the other weight-sparse family
  // (wstage, which would take most pruned 3x3 convs by estimate) is left out through the ablation
  // knob; test/plan/wstage-planner.test.ts plans with both.
  const saved = process.env.CUSNN_FAMILIES;
  beforeAll(() => { process.env.CUSNN_FAMILIES = 'dconv,igemm,wsparse,act-sparse'; });
  afterAll(() => { if (saved === undefined) delete process.env.CUSNN_FAMILIES; else process.env.CUSNN_FAMILIES = saved; });
  const sp = sparsityProfile(graph, pruned);
  const structures = structureLookup(graph, pruned);
  const plans = new Map<string, NetworkPlan>();
  const planAt = (arch: 'sm_70' | 'sm_80' | 'sm_90'): NetworkPlan => {
    let p = plans.get(arch);
    if (!p) plans.set(arch, (p = planNetwork(graph, gpuProfile(arch), sp, { batch: 1, weightsSource: 'pruned', weightStructure: structures })));
    return p;
  };

  it('plans wsparse on pruned 3x3 and 1x1 convs, with the pattern, nonzeros, busiest/mean channel and tiles in the reason', () => {
    for (const arch of ['sm_90', 'sm_80'] as const) {
      const plan = planAt(arch);
      const ws = plan.convs.filter((c) => c.spec?.family === 'wsparse');
      const k3 = ws.filter((c) => c.kernel[0] === 3).length;
      const k1 = ws.filter((c) => c.kernel[0] === 1).length;
      expect(k3, `${arch}: 3x3 convs on wsparse`).toBeGreaterThanOrEqual(3);
      expect(k1, `${arch}: 1x1 convs on wsparse`).toBeGreaterThanOrEqual(10);
      for (const c of ws) {
        expect(c.decision).toBe('act-sparse'); // the plan's "generated kernel" decision (lowering runs any family through it)
        expect(c.weightSparsity).toBeGreaterThanOrEqual(0.5);
        expect(c.reason, c.layer).toMatch(/^wsparse: est\. [\d.]+ us vs cuDNN [\d.]+ us \([\d.]+x/);
        expect(c.reason, c.layer).toMatch(/\d+ nonzeros of \d+ weights \(90% zeros, pattern unstructured, \d+ all-zero output channels\)/);
        const spec = c.spec!;
        if (spec.family !== 'wsparse') throw new Error('unreachable');
        const st = structures(c.layer)!;
        expect(spec.patternDigest).toBe(st.digest);
        const a = rowStats(st);
        expect([spec.nnz, spec.kActive, spec.rowMax]).toEqual([st.offsets.length, a.kActive, a.rowMax]);
        expect(c.reason, c.layer).toContain(`${a.empty} all-zero output channels`);
        expect(c.reason, c.layer).toContain(`busiest/mean nonzeros per output channel ${a.rowMax}/${(a.nnz / spec.k).toFixed(1)} = ${balanceOf(a, spec.k).toFixed(2)}`);
        // The rule's words: channels per block, pixels, warps per channel for the busiest channel.
        expect(c.reason, c.layer).toMatch(new RegExp(`rule: ${spec.cpb} channels? per block x ${32 * spec.ppl} pixels .*${spec.split} warps? per channel \\(busiest channel ${spec.rowMax} nonzeros`));
        expect(spec.cpb * spec.split).toBeLessThanOrEqual(8);
        expect(c.kernelName).toBeNull(); // filled in by codegen
        expect(c.estimate.actSparseUs! * 1.1).toBeLessThan(c.estimate.cudnnUs);
      }
      // Every other pruned conv says what wsparse estimated and why it lost (or that cuDNN won).
      for (const c of plan.convs) {
        if (c.weightSparsity < 0.5 || c.spec?.family === 'wsparse') continue;
        expect(c.reason, `${arch} ${c.layer}`).toMatch(/wsparse (est\. [\d.]+ us \(.*pattern unstructured.*\) loses to|est\.)/);
      }
      // The first conv reads the image and is not pruned: no wsparse word in its reason.
      expect(plan.convs[0]!.weightSparsity).toBe(0);
      expect(plan.convs[0]!.reason).not.toMatch(/wsparse/);
    }
    // Nothing in the kernel needs sm_80: sm_70 plans it too.
    expect(planAt('sm_70').convs.some((c) => c.spec?.family === 'wsparse')).toBe(true);
  });

  it('unpruned weights plan exactly as before: no wsparse, and the structure is never computed', () => {
    const spDense = sparsityProfile(graph, dense);
    for (const arch of ['sm_90', 'sm_70'] as const) {
      const { lookup, asked } = counted(structureLookup(graph, dense));
      const withLookup = planNetwork(graph, gpuProfile(arch), spDense, { batch: 1, weightsSource: 'dense', weightStructure: lookup });
      const without = planNetwork(graph, gpuProfile(arch), spDense, { batch: 1, weightsSource: 'dense' });
      expect(withLookup).toEqual(without);
      expect(withLookup.convs.some((c) => c.spec?.family === 'wsparse' || /wsparse/.test(c.reason))).toBe(false);
      expect([...asked]).toEqual([]);
    }
    // Pruned weights without a lookup: no wsparse either (the structure is not known).
    const blind = planNetwork(graph, gpuProfile('sm_90'), sp, { batch: 1, weightsSource: 'pruned' });
    expect(blind.convs.some((c) => c.spec?.family === 'wsparse')).toBe(false);
  });

  it('codegen renders the kernels from the weights, and refuses weights with another structure, naming the layer', () => {
    const plan = planAt('sm_90');
    // A few wsparse convs (one folder of all 38 would only repeat this at 10 MB of tables).
    const picked = plan.convs.filter((c) => c.spec?.family === 'wsparse').filter((_, i) => i % 9 === 0);
    expect(picked.length).toBeGreaterThanOrEqual(3);
    const small: NetworkPlan = { ...plan, convs: picked };
    const dir = join(tmp, 'ok');
    const emitted = emitNetwork(graph, small, dir, { structures });
    expect(emitted.kernels.length).toBe(new Set(picked.map((c) => c.layer)).size);
    for (const k of emitted.kernels) {
      expect(k.spec.family).toBe('wsparse');
      const src = readFileSync(join(dir, k.file), 'utf8');
      expect(src).toContain(`cusnn_launch_${k.name}(`);
      for (const l of k.layers) expect(src).toContain(l);
      const st = structures(k.layers[0]!)!;
      expect(src).toContain(`// Nonzero structure ${st.digest}: ${st.offsets.length} nonzeros`);
      expect(k.name).toContain(`_d${st.digest}_`);
    }
    const registry = readFileSync(join(dir, 'kernels/registry.cu'), 'utf8');
    for (const k of emitted.kernels) expect(registry).toContain(`{"${k.name}", cusnn_launch_${k.name}, nullptr}`);
    // Deterministic: a second emission from a fresh lookup over the same weights gives the same bytes.
    const again = emitNetwork(graph, small, join(tmp, 'again'), { structures: structureLookup(graph, pruned) });
    for (const f of emitted.files) expect(readFileSync(join(tmp, 'again', f), 'utf8'), f).toBe(readFileSync(join(dir, f), 'utf8'));
    expect(again.files).toEqual(emitted.files);
    expect(() => emitNetwork(graph, small, join(tmp, 'none'))).toThrow(/is a wsparse kernel: codegen needs the weights/);
    const other = pruneWeights(graph, syntheticWeights(graph, seed + 1), { sparsity: 0.9 }).weights;
    const first = picked[0]!.layer;
    expect(() => emitNetwork(graph, small, join(tmp, 'other'), { structures: structureLookup(graph, other) }))
      .toThrow(new RegExp(`resnet50/${first}: wsparse kernel \\w+ was planned for weight structure [0-9a-f]{10}, the weights have [0-9a-f]{10}`));
    expect(convs.has(first)).toBe(true);
  });

  it('a measured wsparse kernel decides its layer only while the weights keep its structure', () => {
    const c = planAt('sm_90').convs.find((x) => x.spec?.family === 'wsparse')!;
    const digest = structures(c.layer)!.digest;
    const measuredWith = (tiles: MeasuredConv['tiles'], weights: string | null = digest): NetworkPlan => planNetwork(graph, gpuProfile('sm_90'), sp, {
      batch: 1, weightsSource: 'pruned', weightStructure: structures, gpu: 'GPU X',
      measured: new Map([[c.layer, { kernel: kernelNameOf(c.spec!), tiles, cudnnUs: 30, actSparseUs: 40, gpu: 'GPU X', arch: 'sm_90', ...(weights ? { weights } : {}) }]]),
    });
    const same = measuredWith(tilesOf(c.spec!)).convs.find((x) => x.layer === c.layer)!;
    expect(same.decision).toBe('cudnn'); // measured slower than cuDNN: the measurement decides
    expect(same.reason).toMatch(/^cuDNN: measured on GPU X: generated 40\.0 us vs cuDNN 30\.0 us/);
    expect(same.measured).toMatchObject({ source: 'calibration', gpu: 'GPU X', winner: 'cudnn', candidates: [{ family: 'wsparse', us: 40 }], cudnn: { us: 30 } });
    expect(same.weightPattern).toMatchObject({ pattern: 'unstructured', digest });
    // Times recorded without the weights' digest (or with another file's) decide no pruned layer: the model plans it.
    for (const weights of [null, digest === '0123456789' ? '9876543210' : '0123456789']) {
      const other = measuredWith(tilesOf(c.spec!), weights).convs.find((x) => x.layer === c.layer)!;
      expect(other.spec, String(weights)).toEqual(c.spec);
      expect(other.measured).toBeUndefined();
      expect(other.reason).toContain(`calibration times ignored: measured with ${weights ? `weight structure ${weights}` : 'dense weights'}, these weights have weight structure ${digest}`);
    }
    const t = tilesOf(c.spec!);
    if (t.family !== 'wsparse') throw new Error('unreachable');
    const stale = measuredWith({ ...t, patternDigest: t.patternDigest === '0123456789' ? '9876543210' : '0123456789' }).convs.find((x) => x.layer === c.layer)!;
    expect(stale.spec).toEqual(c.spec);
    expect(stale.reason).toMatch(/calibration times of a wsparse kernel ignored: it was for weight structure [0-9a-f]{10}, these weights have [0-9a-f]{10}/);
  });

  it('the plan lowers as any generated family: each wsparse conv runs its kernel on the CRSK weights, at any input zeros', () => {
    const { plan } = nameKernels(planAt('sm_90'));
    const { program } = lowerNetwork(graph, plan, pruned, { batch: 1 });
    const steps = new Map(program.steps.filter((st) => st.op === 'conv').map((st) => [st.layer, st]));
    let n = 0;
    for (const c of plan.convs) {
      if (c.spec?.family !== 'wsparse') continue;
      const st = steps.get(c.layer)!;
      if (st.op !== 'conv') throw new Error('unreachable');
      expect([st.path, st.kernel, st.threshold], c.layer).toEqual(['act-sparse', c.kernelName, 0]);
      expect(st.weightsCrsk).not.toBeNull();
      n++;
    }
    expect(n).toBeGreaterThan(10);
  });
});
