// The package is usable as a library: `npm pack`, install the tarball into a fresh project and
// import it from there, with node (ESM) and with tsc (the types).
//
// The install is offline: the consumer gets a package-lock.json made of the tarball and this
// repository's own lock entries of the runtime dependencies, so `npm ci --offline` takes every
// dependency from the npm cache that `npm ci` of this repository filled. Only when a tarball is
// missing from that cache (ENOTCACHED) the test falls back to unpacking the tarball into the
// project's node_modules and symlinking the dependencies from this repository's node_modules,
// and says so; either way what is imported is the packed tarball.
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { needsBuiltCli } from '../helpers/cli.js';

interface PackageJson {
  name: string;
  version: string;
  license: string;
  main?: string;
  types?: string;
  exports?: Record<string, unknown>;
  bin: Record<string, string>;
  engines: Record<string, string>;
  dependencies: Record<string, string>;
}
interface LockEntry { dev?: boolean; link?: boolean; [k: string]: unknown }

const repo = resolve('.');
const pkg = JSON.parse(readFileSync(join(repo, 'package.json'), 'utf8')) as PackageJson;
const tmp = mkdtempSync(join(tmpdir(), 'cusnn-pkg-'));
const project = join(tmp, 'consumer');
let tarball = '';
let installedBy = '';

needsBuiltCli();
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const sh = (cmd: string, args: string[], cwd: string): { code: number | null; out: string; err: string } => {
  const r = spawnSync(cmd, args, { cwd, encoding: 'utf8', env: { ...process.env, npm_config_update_notifier: 'false' } });
  return { code: r.status, out: r.stdout, err: r.stderr };
};

beforeAll(() => {
  const packed = sh('npm', ['pack', '--json', '--pack-destination', tmp], repo);
  expect(packed.code, packed.err).toBe(0);
  const name = (JSON.parse(packed.out) as { filename: string }[])[0]!.filename;
  tarball = join(tmp, name);
  mkdirSync(project);
  const file = `file:../${name}`;
  writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'consumer', version: '1.0.0', private: true, type: 'module', dependencies: { [pkg.name]: file } }, null, 2));
  const lock = JSON.parse(readFileSync(join(repo, 'package-lock.json'), 'utf8')) as { packages: Record<string, LockEntry> };
  const packages: Record<string, unknown> = {
    '': { name: 'consumer', version: '1.0.0', dependencies: { [pkg.name]: file } },
    [`node_modules/${pkg.name}`]: {
      version: pkg.version, resolved: file, integrity: `sha512-${createHash('sha512').update(readFileSync(tarball)).digest('base64')}`,
      license: pkg.license, dependencies: pkg.dependencies, bin: pkg.bin, engines: pkg.engines,
    },
  };
  for (const [k, v] of Object.entries(lock.packages)) if (k !== '' && !v.dev && !v.link) packages[k] = v;
  writeFileSync(join(project, 'package-lock.json'), JSON.stringify({ name: 'consumer', version: '1.0.0', lockfileVersion: 3, requires: true, packages }, null, 2));
  const ci = sh('npm', ['ci', '--offline', '--no-audit', '--no-fund', '--ignore-scripts'], project);
  if (ci.code === 0) {
    installedBy = 'npm ci --offline';
    return;
  }
  expect(ci.err, 'npm ci --offline failed for another reason than a cache miss').toMatch(/ENOTCACHED/);
  console.warn(`npm ci --offline: a dependency is not in the npm cache (${ci.err.split('\n')[0]}); unpacking the tarball and linking the dependencies from ${repo}/node_modules instead`);
  rmSync(join(project, 'node_modules'), { recursive: true, force: true });
  mkdirSync(join(project, 'node_modules'));
  execFileSync('tar', ['xzf', tarball, '-C', project]);
  renameSync(join(project, 'package'), join(project, 'node_modules', pkg.name));
  for (const d of Object.keys(pkg.dependencies)) symlinkSync(join(repo, 'node_modules', d), join(project, 'node_modules', d), 'dir');
  installedBy = 'tarball unpacked, dependencies linked';
}, 180_000);

describe(`the packed package, installed into a fresh project`, () => {
  it('declares exports, types and main, and ships what they point at', () => {
    expect(pkg.exports).toBeDefined();
    expect(pkg.types).toBe('./dist/index.d.ts');
    const at = join(project, 'node_modules', pkg.name);
    for (const f of ['dist/index.js', 'dist/index.d.ts', 'dist/cli.js', 'templates', 'package.json']) expect(existsSync(join(at, f)), f).toBe(true);
    expect(installedBy).not.toBe('');
    console.info(`installed by: ${installedBy}`);
  });

  it("import { generate, loadNetwork } from 'cusnn' works with node, and generates a folder", () => {
    writeFileSync(join(project, 'use.mjs'), `
      import { generate, loadNetwork, MODEL_NAMES, ARCH_NAMES, EXIT } from '${pkg.name}';
      import { readFileSync } from 'node:fs';
      const g = generate({ model: 'vgg16', arch: 'sm_90', out: 'gen' });
      const plan = JSON.parse(readFileSync('gen/plan.json', 'utf8'));
      console.log(JSON.stringify({ generate: typeof generate, loadNetwork: typeof loadNetwork, models: MODEL_NAMES.length, archs: ARCH_NAMES.length,
        convs: g.plan.convs.length, format: plan.format, usage: EXIT.usage, weights: loadNetwork('gen').weights.source }));
    `);
    const r = sh(process.execPath, ['use.mjs'], project);
    expect(r.code, r.err).toBe(0);
    expect(JSON.parse(r.out)).toEqual({ generate: 'function', loadNetwork: 'function', models: 8, archs: 6, convs: 13, format: 'cusnn-plan/1', usage: 2, weights: 'synthetic (seed 0)' });
    // The CMake build of the folder points into the installed package (cmake/, src/native).
    const cmake = readFileSync(join(project, 'gen', 'CMakeLists.txt'), 'utf8');
    const root = /set\(CUSNN_ROOT \$\{CMAKE_CURRENT_LIST_DIR\}\/(\S+) CACHE/.exec(cmake)![1]!;
    expect(existsSync(join(project, 'gen', root, 'cmake', 'cusnn.cmake'))).toBe(true);
  });

  it('only the exports are reachable: deep imports are refused', () => {
    writeFileSync(join(project, 'deep.mjs'), `import '${pkg.name}/dist/generate.js';`);
    const r = sh(process.execPath, ['deep.mjs'], project);
    expect(r.code).not.toBe(0);
    expect(r.err).toMatch(/ERR_PACKAGE_PATH_NOT_EXPORTED/);
  });

  it('the types resolve from the package: tsc accepts correct use and rejects wrong use', () => {
    const tsc = join(repo, 'node_modules', 'typescript', 'bin', 'tsc');
    writeFileSync(join(project, 'tsconfig.json'), JSON.stringify({
      compilerOptions: { module: 'NodeNext', moduleResolution: 'NodeNext', target: 'ES2022', strict: true, noEmit: true, skipLibCheck: true, types: [] },
      files: ['ok.ts'],
    }));
    writeFileSync(join(project, 'ok.ts'), `
      import { generate, loadNetwork, type GenerateOptions, type NetworkPlan, type Network } from '${pkg.name}';
      const o: GenerateOptions = { model: 'vgg16', arch: 'sm_90', batch: 8, forceOverwrite: false };
      const plan: NetworkPlan = generate(o).plan;
      const convs: number = plan.convs.length;
      const net: Network = loadNetwork('gen', { mode: 'cudnn' });
      export { convs, net };
    `);
    const ok = sh(process.execPath, [tsc, '-p', '.'], project);
    expect(ok.code, ok.out + ok.err).toBe(0);
    writeFileSync(join(project, 'ok.ts'), `
      import { generate } from '${pkg.name}';
      const wrong: string = generate({ model: 'vgg16', arch: 'sm_90' }).plan.convs.length;
      generate({ model: 'vgg16' });
      export { wrong };
    `);
    const bad = sh(process.execPath, [tsc, '-p', '.'], project);
    expect(bad.code).not.toBe(0);
    expect(bad.out).toMatch(/ok\.ts\(3,\d+\): error TS2322: Type 'number' is not assignable to type 'string'/);
    expect(bad.out).toMatch(/ok\.ts\(4,\d+\): error TS2345: .*'arch' is missing/s);
  });

  it('the bin is installed: cusnn-gen --version', () => {
    const r = sh(join(project, 'node_modules', '.bin', 'cusnn-gen'), ['--version'], project);
    expect(r.code, r.err).toBe(0);
    expect(r.out).toBe(`${pkg.version}\n`);
  });
});
