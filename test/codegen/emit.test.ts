import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { Project } from 'ts-morph';
import { afterAll, describe, expect, it } from 'vitest';
import { generate } from '../../src/generate.js';
import type { NetworkPlan } from '../../src/plan/types.js';

const COMMITTED = 'generated/resnet152-sm_70';
// Same depth as the committed folder, so the CMake path back to the package root is the same.
const regen = mkdtempSync('generated/test-regen-');
afterAll(() => rmSync(regen, { recursive: true, force: true }));

const listFiles = (dir: string): string[] =>
  readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    // build/ holds a locally built addon (git-ignored), not generated output
    .filter((e) => !join(e.parentPath, e.name).slice(dir.length + 1).startsWith('build/'))
    .map((e) => join(e.parentPath, e.name).slice(dir.length + 1))
    .sort();

describe('emitted folder', () => {
  const g = generate({ model: 'resnet152', arch: 'sm_70', out: regen });

  it('regenerating generated/resnet152-sm_70 gives the same bytes as the committed copy', () => {
    expect(existsSync(COMMITTED), 'committed example folder').toBe(true);
    const files = listFiles(COMMITTED);
    expect(listFiles(regen)).toEqual(files);
    for (const f of files) expect(readFileSync(join(regen, f), 'utf8'), f).toBe(readFileSync(join(COMMITTED, f), 'utf8'));
  });

  it('renders one kernel per unique (shape, tiles, arch) and names it in plan.json', () => {
    const plan = JSON.parse(readFileSync(join(regen, 'plan.json'), 'utf8')) as NetworkPlan;
    const sparse = plan.convs.filter((c) => c.decision === 'act-sparse');
    const names = new Set(sparse.map((c) => c.kernelName));
    expect(sparse.length).toBeGreaterThan(names.size); // ResNet-152 repeats shapes: dedupe must happen
    const cu = readdirSync(join(regen, 'kernels')).filter((f) => f !== 'registry.cu');
    expect(cu.sort()).toEqual([...names].map((n) => `${n}.cu`).sort());
    for (const k of g.emitted.kernels) {
      const src = readFileSync(join(regen, k.file), 'utf8');
      for (const layer of k.layers) expect(src, `${k.name} header lists ${layer}`).toContain(layer);
      expect(src).toContain(`cusnn_launch_${k.name}`);
    }
    const registry = readFileSync(join(regen, 'kernels/registry.cu'), 'utf8');
    for (const n of names) expect(registry).toContain(`{"${n}", cusnn_launch_${n}, nullptr}`);
    expect(readFileSync(join(regen, 'CMakeLists.txt'), 'utf8')).toMatch(/ARCH 70 KERNELS/);
  });

  it('report.md has a row per conv and the reasons', () => {
    const report = readFileSync(join(regen, 'report.md'), 'utf8');
    for (const c of g.plan.convs) expect(report).toContain(`| ${c.layer} |`);
    expect(report).toMatch(/## Reasons/);
    expect(report).toMatch(/ESTIMATE/); // no calibration: the source is labelled as an estimate
  });

  it('index.d.ts is valid TypeScript that names the layers and shapes', () => {
    const project = new Project({ useInMemoryFileSystem: true, compilerOptions: { strict: true } });
    const text = readFileSync(join(regen, 'index.d.ts'), 'utf8');
    project.createSourceFile('index.d.ts', text);
    project.createSourceFile('use.ts', [
      "import type { LayerName, LayerShapes } from './index';",
      "const a: LayerName = 'conv4_block36_2_conv';",
      "const s: LayerShapes['conv5_block3_out'] = [2048, 7, 7];",
      'export { a, s };',
    ].join('\n'));
    const diags = project.getPreEmitDiagnostics().map((d) => d.getMessageText());
    expect(diags).toEqual([]);
    project.createSourceFile('bad.ts', "import type { LayerName } from './index';\nexport const b: LayerName = 'conv4_block37_2_conv';\n");
    expect(project.getPreEmitDiagnostics().length).toBeGreaterThan(0);
  });
});
