// Builds a generated folder's Node addon: the generated kernels plus the native runtime
// (src/native) through cmake-js, into <dir>/build/.
//
// cmake-js runs on the package root's CMakeLists.txt (which add_subdirectory()s the generated
// folder), because cmake-js decides from the package.json of the directory it configures whether
// the addon is a Node-API one: ours has binary.napi_versions, so it takes the headers from
// node-api-headers and node-addon-api (installed with the package) and downloads nothing. We ask
// cmake-js only for its configure command (include paths, output folder) and run CMake ourselves,
// so the log goes where the caller wants it and a failure quotes CMake's own last lines.
//
//   configure  cmake <package root> -G Ninja -DCMAKE_JS_INC=... -DCUSNN_GENERATED_DIR=<dir>
//              -DCUSNN_CUDA_ARCH=<nn> -DCMAKE_LIBRARY_OUTPUT_DIRECTORY=<dir>/build/Release ...
//   build      cmake --build <dir>/build --parallel <jobs>
//   result     <dir>/build/Release/<target>.node and <dir>/build/cusnn-addon.json (what was built)
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { availableParallelism } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { packageRoot } from '../paths.js';
import { findNvcc, nvccArchs, nvccVersion } from './nvcc.js';

export interface BuildAddonOptions {
  /** Target architecture (sm_NN); default the folder's own (its CMakeLists.txt ARCH). */
  readonly arch?: string;
  /** Parallel compile jobs; default the machine's cores. */
  readonly jobs?: number;
  /** Progress and the build log, line by line. */
  readonly log?: (line: string) => void;
}

/** What `buildAddon` wrote next to the addon (<dir>/build/cusnn-addon.json). */
export interface AddonManifest {
  readonly format: 'cusnn-addon/1';
  /** Path of the .node file, relative to the build folder. */
  readonly node: string;
  readonly target: string;
  /** Architecture the folder was generated for, and the one the addon was compiled for. */
  readonly generatedArch: string;
  readonly arch: string;
  readonly nvcc: string | null;
  readonly seconds: number;
}

export const ADDON_MANIFEST = 'cusnn-addon.json';

/** Target name and architecture from a generated folder's CMakeLists.txt. */
export function readGeneratedCmake(dir: string): { target: string; arch: string } {
  const file = join(dir, 'CMakeLists.txt');
  if (!existsSync(file)) throw new Error(`${dir}: no CMakeLists.txt (not a folder written by cusnn-gen)`);
  const m = /cusnn_add_network\(\s*(\w+)\s+ARCH\s+(\d+)/.exec(readFileSync(file, 'utf8'));
  if (!m) throw new Error(`${file}: no 'cusnn_add_network(<target> ARCH <nn> ...)' line`);
  return { target: m[1]!, arch: `sm_${m[2]!}` };
}

function runLogged(cmd: string, args: readonly string[], cwd: string, log: (line: string) => void): Promise<string[]> {
  return new Promise((resolvePromise, reject) => {
    const tail: string[] = [];
    const child = spawn(cmd, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'], env: process.env });
    let pending = '';
    const onData = (chunk: Buffer): void => {
      pending += chunk.toString('utf8');
      const lines = pending.split('\n');
      pending = lines.pop() ?? '';
      for (const line of lines) {
        log(line);
        tail.push(line);
        if (tail.length > 40) tail.shift();
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('error', (e) => reject(new Error(`cannot run ${cmd}: ${e.message}`)));
    child.on('close', (code) => {
      if (pending) {
        log(pending);
        tail.push(pending);
      }
      if (code === 0) resolvePromise(tail);
      else reject(new Error(`${cmd} ${args[0] === '--build' ? '--build' : '(configure)'} failed with exit code ${code}:\n${tail.join('\n')}`));
    });
  });
}

const hasNinja = (): boolean => spawnSync('ninja', ['--version'], { stdio: 'ignore' }).status === 0;

/**
 * Builds `<dir>`'s addon and returns the absolute path of the .node file (under <dir>/build/).
 * Rebuilds incrementally; a changed arch reconfigures.
 */
export async function buildAddon(dir: string, o: BuildAddonOptions = {}): Promise<string> {
  const log = o.log ?? (() => {});
  const t0 = performance.now();
  const abs = resolve(dir);
  const { target, arch: generatedArch } = readGeneratedCmake(abs);
  const arch = o.arch ?? generatedArch;
  const m = /^sm_(\d+)$/.exec(arch);
  if (!m) throw new Error(`--arch must look like sm_90, got '${arch}'`);
  const nvcc = findNvcc();
  if (!nvcc) throw new Error('nvcc not found (set CUDA_HOME or put the CUDA toolkit bin/ on PATH): the addon needs the CUDA compiler');
  const archs = nvccArchs(nvcc);
  if (!archs.includes(arch)) {
    throw new Error(`nvcc ${nvccVersion(nvcc)} cannot target ${arch} (it targets ${archs.join(', ')})` +
      (o.arch ? '' : `: ${dir} was generated for ${arch}; build it for a newer GPU with --arch, e.g. --arch sm_90`));
  }

  const root = packageRoot();
  const out = join(abs, 'build');
  const jobs = o.jobs ?? availableParallelism();
  const require = createRequire(import.meta.url);
  const { BuildSystem } = require('cmake-js') as { BuildSystem: new (options: object) => CmakeJsBuildSystem };
  const bs = new BuildSystem({
    directory: root,
    out,
    noLog: true,
    generator: hasNinja() ? 'Ninja' : undefined,
    // The kernel units follow the job count (cmake/cusnn.cmake cusnn_unity_sources).
    cMakeOptions: { CUSNN_GENERATED_DIR: abs, CUSNN_CUDA_ARCH: m[1]!, CMAKE_CUDA_COMPILER: nvcc, CUSNN_KERNEL_UNITS: String(jobs) },
  });
  if (!bs.options.isNodeApi) {
    throw new Error(`${join(root, 'package.json')} lacks binary.napi_versions: cmake-js would download Node headers`);
  }
  const configure = await bs.getConfigureCommand();
  log(`[build] ${relative(process.cwd(), abs) || '.'}: ${target} for ${arch}${arch !== generatedArch ? ` (generated for ${generatedArch})` : ''} in ${relative(process.cwd(), out)}`);
  mkdirSync(out, { recursive: true });
  await runLogged(configure[0]!, configure.slice(1), out, log); // CMake writes its build tree into the cwd
  await runLogged(configure[0]!, ['--build', out, '--parallel', String(jobs)], root, log);

  const node = join(out, 'Release', `${target}.node`);
  if (!existsSync(node)) throw new Error(`the build finished but ${node} is missing`);
  const seconds = (performance.now() - t0) / 1000;
  const manifest: AddonManifest = {
    format: 'cusnn-addon/1',
    node: relative(out, node),
    target,
    generatedArch,
    arch,
    nvcc: nvccVersion(nvcc),
    seconds: Math.round(seconds * 10) / 10,
  };
  writeFileSync(join(out, ADDON_MANIFEST), `${JSON.stringify(manifest, null, 2)}\n`);
  log(`[build] ${node} (${seconds.toFixed(1)} s)`);
  return node;
}

interface CmakeJsBuildSystem {
  readonly options: { readonly isNodeApi?: boolean };
  getConfigureCommand(): Promise<string[]>;
}
