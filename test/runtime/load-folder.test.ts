// Loading a generated folder without a GPU: the plan's weights path (absolute in new plans; an
// older plan's relative path resolves against the plan's folder, not the current directory) and
// the addon lookup, which takes only the addon built for the folder's own model and arch.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { generate } from '../../src/generate.js';
import { addonPath, addonTarget } from '../../src/runtime/addon.js';
import { loadNetwork } from '../../src/runtime/network.js';

const tmp = mkdtempSync(join(tmpdir(), 'cusnn-load-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const dir = join(tmp, 'vgg16-sm_90');
generate({ model: 'vgg16', arch: 'sm_90', seed: 0, out: dir });
const planFile = join(dir, 'plan.json');
const original = readFileSync(planFile, 'utf8');
const withWeights = (path: string): void => {
  const plan = JSON.parse(original) as { weightsRef: { path: string | null } };
  plan.weightsRef.path = path;
  writeFileSync(planFile, JSON.stringify(plan));
};
const errorOf = (f: () => unknown): string => {
  try {
    f();
  } catch (e) {
    return (e as Error).message;
  }
  return '';
};

describe('loadNetwork: the plan weights path', () => {
  it('resolves a relative path against the plan folder, takes an absolute one as is', () => {
    withWeights('w/vgg16.safetensors');
    const rel = errorOf(() => loadNetwork(dir));
    expect(rel).toContain(join(dir, 'w', 'vgg16.safetensors'));
    withWeights(join(tmp, 'elsewhere.safetensors'));
    const abs = errorOf(() => loadNetwork(dir));
    expect(abs).toContain(join(tmp, 'elsewhere.safetensors'));
    expect(abs).not.toContain(join(dir, tmp));
    // The caller's weights win over the plan's, relative to the current directory as typed.
    expect(errorOf(() => loadNetwork(dir, { weights: 'nowhere.safetensors' }))).toMatch(/nowhere\.safetensors/);
    expect(errorOf(() => loadNetwork(dir, { weights: 'nowhere.safetensors' }))).not.toContain(join(dir, 'nowhere.safetensors'));
    writeFileSync(planFile, original);
  });
});

describe('addonPath: only the addon built for the folder', () => {
  const build = join(dir, 'build');
  const release = join(build, 'Release');
  const reset = (): void => {
    rmSync(build, { recursive: true, force: true });
    mkdirSync(release, { recursive: true });
  };

  it('takes the .node named for the plan\'s model and arch', () => {
    reset();
    expect(addonTarget('vgg16', 'sm_90')).toBe('cusnn_vgg16_sm_90');
    expect(addonPath(dir)).toBeNull();
    writeFileSync(join(release, 'cusnn_vgg16_sm_90.node'), 'x');
    writeFileSync(join(release, 'cusnn_vgg19_sm_90.node'), 'x');
    expect(addonPath(dir)).toBe(join(release, 'cusnn_vgg16_sm_90.node'));
  });

  it('refuses the only .node of another model or arch, naming both', () => {
    for (const other of ['cusnn_resnet50_sm_90', 'cusnn_vgg16_sm_80']) {
      reset();
      writeFileSync(join(release, `${other}.node`), 'x');
      const m = errorOf(() => addonPath(dir));
      expect(m).toContain(`${other}.node`);
      expect(m).toContain('vgg16 for sm_90 (target cusnn_vgg16_sm_90)');
      expect(m).toContain(`run 'cusnn-gen build ${dir}'`);
      expect(m).not.toContain('\n');
    }
  });

  it('refuses a manifest of another target or generated arch, and a corrupt one, in one line', () => {
    reset();
    writeFileSync(join(release, 'cusnn_resnet50_sm_90.node'), 'x');
    writeFileSync(join(build, 'cusnn-addon.json'), JSON.stringify({ format: 'cusnn-addon/1', node: 'Release/cusnn_resnet50_sm_90.node', target: 'cusnn_resnet50_sm_90', generatedArch: 'sm_90', arch: 'sm_90' }));
    expect(errorOf(() => addonPath(dir))).toMatch(/the built addon is target cusnn_resnet50_sm_90 \(.*cusnn-addon\.json\), but the folder's plan\.json is vgg16 for sm_90 \(target cusnn_vgg16_sm_90\)/);
    writeFileSync(join(release, 'cusnn_vgg16_sm_90.node'), 'x');
    writeFileSync(join(build, 'cusnn-addon.json'), JSON.stringify({ format: 'cusnn-addon/1', node: 'Release/cusnn_vgg16_sm_90.node', target: 'cusnn_vgg16_sm_90', generatedArch: 'sm_80', arch: 'sm_90' }));
    expect(errorOf(() => addonPath(dir))).toMatch(/the built addon is of a folder generated for sm_80 .*, but the folder's plan\.json is vgg16 for sm_90/);
    writeFileSync(join(build, 'cusnn-addon.json'), JSON.stringify({ format: 'cusnn-addon/1', node: 'Release/cusnn_vgg16_sm_90.node', target: 'cusnn_vgg16_sm_90', generatedArch: 'sm_90', arch: 'sm_90' }));
    expect(addonPath(dir)).toBe(join(release, 'cusnn_vgg16_sm_90.node'));
    writeFileSync(join(build, 'cusnn-addon.json'), '{ "node": ');
    expect(errorOf(() => addonPath(dir))).toMatch(/cusnn-addon\.json: not valid JSON \(.*\); run 'cusnn-gen build /);
  });

  it('a folder without a plan (a kernel folder) still takes its only .node', () => {
    const bare = join(tmp, 'bare');
    mkdirSync(join(bare, 'build', 'Release'), { recursive: true });
    writeFileSync(join(bare, 'build', 'Release', 'anything.node'), 'x');
    expect(addonPath(bare)).toBe(join(bare, 'build', 'Release', 'anything.node'));
  });
});
