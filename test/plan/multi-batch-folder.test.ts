// Plans per batch size in one folder (`cusnn-gen --batch 1,8,32`): each batch planned as if alone,
// the differences the cost model makes between batches kept, the union of kernels written once
// with the batches that use them, a report section per batch, the same bytes every time, the CLI's
// checks of the list, and single-batch folders (the committed example) still read as before.
import { readdirSync, readFileSync, mkdtempSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { gpuProfile } from '../../src/arch/profiles.js';
import { main } from '../../src/cli/main.js';
import { emitNetwork } from '../../src/codegen/emit.js';
import { kernelNameOf, tilesOf } from '../../src/families/registry.js';
import { batchPlans, planNetwork, withBatches } from '../../src/plan/planner.js';
import type { NetworkPlan } from '../../src/plan/types.js';
import { Network, readPlanFile } from '../../src/runtime/network.js';
import type { WeightSet } from '../../src/weights/store.js';
import { buildModel } from '../../src/model/zoo/index.js';
import { smallResnet } from '../helpers/small-graph.js';
import { uniformSparsity } from './helpers.js';

const tmp = mkdtempSync(join(tmpdir(), 'cusnn-multi-batch-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const BATCHES = [1, 8, 32];
const graph = smallResnet();
const profile = gpuProfile('sm_90');
const sparsity = uniformSparsity(graph, 0.7);
const alone = (batch: number): NetworkPlan => planNetwork(graph, profile, sparsity, { batch, weightsSource: 'test' });

/** Every file under `dir`, relative path -> bytes. */
function files(dir: string, at = ''): Map<string, string> {
  const out = new Map<string, string>();
  for (const e of readdirSync(join(dir, at), { withFileTypes: true })) {
    const rel = at ? `${at}/${e.name}` : e.name;
    if (e.isDirectory()) for (const [k, v] of files(dir, rel)) out.set(k, v);
    else out.set(rel, readFileSync(join(dir, rel), 'utf8'));
  }
  return out;
}

/** A conv's path as the folder's decision and kernel identity. */
const pathOf = (p: NetworkPlan, layer: string): string => {
  const c = p.convs.find((x) => x.layer === layer)!;
  return c.spec ? `${c.decision}:${kernelNameOf(c.spec)}` : c.decision;
};

describe('one folder of plans for batch 1, 8, 32 of a small graph', () => {
  const dirA = join(tmp, 'a');
  const dirB = join(tmp, 'b');
  const emitted = emitNetwork(graph, withBatches(BATCHES.map(alone)), dirA);
  emitNetwork(graph, withBatches(BATCHES.map(alone)), dirB);

  it('writes one plan.json: batch 1 at the top level, 8 and 32 under batches, each exactly what planning that batch alone gives', () => {
    const raw = JSON.parse(readFileSync(join(dirA, 'plan.json'), 'utf8')) as NetworkPlan;
    expect(raw.format).toBe('cusnn-plan/1');
    expect(raw.batch).toBe(1);
    expect(raw.batches!.map((b) => b.batch)).toEqual([8, 32]);
    expect(Object.keys(raw.batches![0]!)).toEqual(['batch', 'convs']);
    const read = readPlanFile(dirA);
    const plans = batchPlans(read);
    expect(plans.map((p) => p.batch)).toEqual(BATCHES);
    for (const p of plans) {
      const own = alone(p.batch);
      expect(p.convs, `batch ${p.batch}`).toEqual(own.convs.map((c) => ({ ...c, kernelName: c.spec ? kernelNameOf(c.spec) : null })));
      expect(p.model).toBe(own.model);
    }
    // Per-batch figures: the work and cuDNN's estimate grow with the batch, act-sparse grids carry it in z.
    const [p1, p8, p32] = plans as [NetworkPlan, NetworkPlan, NetworkPlan];
    p1.convs.forEach((c, i) => {
      expect(p8.convs[i]!.macs).toBe(8 * c.macs);
      expect(p32.convs[i]!.macs).toBe(32 * c.macs);
      expect(p32.convs[i]!.estimate.cudnnUs).toBeGreaterThan(c.estimate.cudnnUs);
    });
    for (const p of plans) for (const c of p.convs) if (c.spec?.family === 'act-sparse') expect(c.resources!.grid[2], `${c.layer} at batch ${p.batch}`).toBe(p.batch);
  });

  it('keeps the decisions the cost model makes differently per batch, and says so in the report', () => {
    const plans = batchPlans(readPlanFile(dirA));
    const differ = plans[0]!.convs.map((c) => c.layer).filter((l) => new Set(BATCHES.map((b) => pathOf(alone(b), l))).size > 1);
    // On sm_90 the cost model moves this graph's 3x3 convs to another family at batch 32.
    expect(differ.length, 'the cost model decides some conv differently between batch 1 and 32').toBeGreaterThan(0);
    for (const l of differ) expect(new Set(plans.map((p) => pathOf(p, l))).size, l).toBeGreaterThan(1);
    const report = readFileSync(join(dirA, 'report.md'), 'utf8');
    expect(report).toMatch(/^# small_resnet on sm_90 \(.*\), batches 1, 8, 32\n/);
    for (const b of BATCHES) expect(report).toContain(`\n## Batch ${b}\n`);
    const section = report.slice(report.indexOf('## Decisions that differ between batches'), report.indexOf('## Batch 1'));
    expect(section).toContain(`${differ.length} of ${plans[0]!.convs.length} convs change path or kernel`);
    const rows = section.split('\n').filter((s) => s.startsWith('| ') && !s.startsWith('| layer'));
    expect(rows.map((r) => r.split(' | ')[0]!.slice(2))).toEqual(differ);
    expect(report.match(/### Reasons/g)).toHaveLength(3);
  });

  it('writes the union of the kernels once, each header listing the layers and batches that run it', () => {
    const plans = batchPlans(readPlanFile(dirA));
    const uses = new Map<string, string[]>();
    for (const p of plans) for (const c of p.convs) if (c.kernelName) uses.set(c.kernelName, [...(uses.get(c.kernelName) ?? []), `${c.layer}@${p.batch}`]);
    const cu = readdirSync(join(dirA, 'kernels')).filter((f) => f !== 'registry.cu').map((f) => f.replace(/\.cu$/, '')).sort();
    expect(cu).toEqual([...uses.keys()].sort());
    expect(emitted.kernels.map((k) => k.name).sort()).toEqual(cu);
    const registry = readFileSync(join(dirA, 'kernels', 'registry.cu'), 'utf8');
    expect(registry).toContain(`cusnn_kernel_count = ${cu.length};`);
    const cmake = readFileSync(join(dirA, 'CMakeLists.txt'), 'utf8');
    for (const name of cu) {
      // A kernel that adds a residual fills the registry's second launcher field.
      expect(registry).toContain(name.includes('_res_') ? `{"${name}", nullptr, cusnn_launch_${name}},` : `{"${name}", cusnn_launch_${name}, nullptr},`);
      expect(cmake).toContain(`  kernels/${name}.cu\n`);
      const byLayer = new Map<string, number[]>();
      for (const u of uses.get(name)!) {
        const [layer, b] = u.split('@') as [string, string];
        byLayer.set(layer, [...(byLayer.get(layer) ?? []), Number(b)]);
      }
      const header = readFileSync(join(dirA, 'kernels', `${name}.cu`), 'utf8');
      const tail = header.slice(header.indexOf('// Serves\n') + 10);
      const served = tail.slice(0, tail.indexOf('// ===')).split('\n').filter((s) => s !== '').map((s) => s.replace(/^\/\/ {3}/, ''));
      expect(served, name).toEqual([...byLayer].map(([l, bs]) => `small_resnet  ${l}  at batch ${bs.join(', ')}`));
      const k = emitted.kernels.find((x) => x.name === name)!;
      expect(k.batches).toEqual([...new Set([...byLayer.values()].flat())].sort((a, b) => a - b));
    }
  });

  it('writes the same bytes every time', () => {
    const a = files(dirA);
    const b = files(dirB);
    expect([...b.keys()].sort()).toEqual([...a.keys()].sort());
    for (const [f, text] of a) expect(b.get(f), f).toBe(text);
  });

  it('refuses a plan.json whose batches are not ascending or not the same convs', () => {
    const bad = join(tmp, 'bad');
    mkdirSync(bad, { recursive: true });
    const raw = JSON.parse(readFileSync(join(dirA, 'plan.json'), 'utf8')) as { batches: { batch: number; convs: { layer: string }[] }[] };
    writeFileSync(join(bad, 'plan.json'), JSON.stringify({ ...raw, batches: [raw.batches[1], raw.batches[0]] }));
    expect(() => readPlanFile(bad)).toThrow(/plan\.json: batches\[1\]\.batch: expected a batch larger than 32 \(ascending, each batch once\), found 8$/);
    writeFileSync(join(bad, 'plan.json'), JSON.stringify({ ...raw, batches: [{ ...raw.batches[0], convs: raw.batches[0]!.convs.slice(1) }] }));
    expect(() => readPlanFile(bad)).toThrow(/batches\[0\]\.convs: expected the same convs in the same order/);
    writeFileSync(join(bad, 'plan.json'), JSON.stringify({ ...raw, batches: [{ ...raw.batches[0], convs: [{ ...raw.batches[0]!.convs[2], inputSparsity: 2 }] }] }));
    expect(() => readPlanFile(bad)).toThrow(new RegExp(`batches\\[0\\]\\.convs\\[0\\]\\.inputSparsity \\(conv '${raw.batches[0]!.convs[2]!.layer}'\\)`));
  });
});

describe('measured times at a batch', () => {
  it('decide only the plan of the batch they were taken at when measuredBatch is set; without it, any batch (single-batch folders)', () => {
    const c = alone(1).convs.find((x) => x.spec !== null)!;
    const measured = new Map([[c.layer, { kernel: kernelNameOf(c.spec!), tiles: tilesOf(c.spec!), cudnnUs: 1, actSparseUs: 50, gpu: 'NVIDIA H200', arch: 'sm_90' }]]);
    const at = (batch: number, measuredBatch?: number) => planNetwork(graph, profile, sparsity, { batch, weightsSource: 'test', measured, measuredBatch }).convs.find((x) => x.layer === c.layer)!;
    expect(at(1, 1).decision).toBe('cudnn');
    expect(at(1, 1).reason).toMatch(/^cuDNN: measured on NVIDIA H200: generated 50\.0 us vs cuDNN 1\.0 us/);
    const b8 = at(8, 1);
    expect(b8.reason).toMatch(/; calibration times taken at batch 1, not 8: ignored \(a measurement decides a layer only at the batch it was taken at\)$/);
    expect({ ...b8, reason: '' }).toEqual({ ...alone(8).convs.find((x) => x.layer === c.layer)!, reason: '' });
    expect(at(8).reason).toMatch(/^cuDNN: measured on NVIDIA H200/);
  });
});

describe('cusnn-gen --batch with a list', () => {
  const run = async (...argv: string[]): Promise<{ code: number; err: string }> => {
    let err = '';
    const out = process.stdout.write;
    process.stdout.write = (() => true) as typeof process.stdout.write;
    try {
      const code = await main(argv, { err: (s) => { err += s; } });
      return { code, err };
    } finally {
      process.stdout.write = out;
    }
  };

  it('plans each batch into one folder, the same bytes on a second run; one batch writes a plan without batches', async () => {
    const a = join(tmp, 'cli-a');
    const b = join(tmp, 'cli-b');
    expect(await run('--model', 'resnet50', '--arch', 'sm_90', '--batch', '1,8,32', '--out', a, '-q')).toEqual({ code: 0, err: '' });
    expect(await run('--model', 'resnet50', '--arch', 'sm_90', '--batch', '1, 8,32', '--out', b, '-q')).toEqual({ code: 0, err: '' });
    const plan = readPlanFile(a);
    expect([plan.batch, ...plan.batches!.map((x) => x.batch)]).toEqual([1, 8, 32]);
    const fa = files(a);
    for (const [f, text] of files(b)) expect(text, f).toBe(fa.get(f));
    // The cost model puts ResNet-50's batch-1 convs on generated kernels and most batch-32 convs on cuDNN.
    const sparse = batchPlans(plan).map((p) => p.convs.filter((c) => c.decision === 'act-sparse').length);
    expect(sparse[0]).toBeGreaterThan(sparse[2]!);
    const one = join(tmp, 'cli-one');
    expect((await run('--model', 'resnet50', '--arch', 'sm_90', '--batch', '8', '--out', one, '-q')).code).toBe(0);
    const single = JSON.parse(readFileSync(join(one, 'plan.json'), 'utf8')) as Record<string, unknown>;
    expect(single.batch).toBe(8);
    expect('batches' in single).toBe(false);
    expect(readFileSync(join(one, 'report.md'), 'utf8')).toMatch(/^# resnet50 on sm_90 \(.*\), batch 8\n/);
  });

  it('rejects a list with a batch out of range, a repeated batch, a non-number or a descending order (usage, exit 2)', async () => {
    const g = ['--model', 'resnet50', '--arch', 'sm_90', '--out', join(tmp, 'never')];
    expect(await run(...g, '--batch', '0,8')).toEqual({ code: 2, err: "cusnn-gen: --batch must be an integer in [1, 65535], got '0' (in '0,8')\n" });
    expect(await run(...g, '--batch', '8,8')).toEqual({ code: 2, err: "cusnn-gen: --batch lists 8 twice in '8,8': give each batch size once\n" });
    expect(await run(...g, '--batch', 'x')).toEqual({ code: 2, err: "cusnn-gen: --batch must be an integer in [1, 65535], got 'x'\n" });
    expect(await run(...g, '--batch', '8,1')).toEqual({ code: 2, err: "cusnn-gen: --batch must list batch sizes in ascending order, got '8,1' (8 before 1)\n" });
    expect(await run(...g, '--batch', '1,70000')).toEqual({ code: 2, err: "cusnn-gen: --batch must be an integer in [1, 65535], got '70000' (in '1,70000')\n" });
    expect(await run(...g, '--batch', '1,,8')).toEqual({ code: 2, err: "cusnn-gen: --batch must be an integer in [1, 65535], got '' (in '1,,8')\n" });
  });
});

describe('single-batch folders', () => {
  it('the committed example still loads: one plan, used at its batch', () => {
    const plan = readPlanFile('generated/resnet152-sm_70');
    expect(plan.batches).toBeUndefined();
    expect(batchPlans(plan)).toEqual([plan]);
    expect(withBatches([plan])).toEqual(plan);
    const net = new Network('generated/resnet152-sm_70', buildModel(plan.model), plan, { tensors: new Map() } as unknown as WeightSet, {});
    expect(net.plannedBatches()).toEqual([plan.batch]);
    expect(net.planFor(plan.batch).source).toBe('plan');
  });
});
