// nvcc: find it, ask which GPU architectures it can target, and compile-check generated kernels.
//
// The check compiles every kernel the way a build would (C++17, -O3, one cubin per target arch)
// with every warning promoted to an error, and reads ptxas' resource report per kernel and arch:
// registers, static shared memory, stack frame, spill stores and loads. The compiled objects are
// thrown away; the point is the verdict and the numbers (a spilling or warning kernel is a
// planner or template bug to fix, not something to ship).
//
// Flags: nvcc -c -std=c++17 -O3 -gencode arch=compute_XX,code=sm_XX [...] -Xptxas -v
//        -Werror all-warnings
// `-Werror all-warnings` turns front-end (cudafe), host-compiler and ptxas warnings into errors;
// `-Xptxas -v` (same output as --resource-usage) prints the per-kernel resources. Any line that
// still reads as a warning or error fails the file too.
import { spawn, execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync, accessSync, constants } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { basename, delimiter, join, resolve } from 'node:path';

/** Absolute path of nvcc: $CUDA_HOME/bin, $CUDA_PATH/bin, PATH, /usr/local/cuda/bin; null if none. */
export function findNvcc(): string | null {
  const exe = process.platform === 'win32' ? 'nvcc.exe' : 'nvcc';
  const dirs: string[] = [];
  for (const v of ['CUDA_HOME', 'CUDA_PATH']) {
    const home = process.env[v];
    if (home) dirs.push(join(home, 'bin'));
  }
  dirs.push(...(process.env.PATH ?? '').split(delimiter).filter((d) => d !== ''));
  dirs.push('/usr/local/cuda/bin');
  for (const dir of dirs) {
    const candidate = resolve(dir, exe);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return null;
}

function requireNvcc(): string {
  const nvcc = findNvcc();
  if (!nvcc) throw new Error('nvcc not found (set CUDA_HOME or put the CUDA toolkit bin/ on PATH)');
  return nvcc;
}

const archCache = new Map<string, readonly string[]>();
const versionCache = new Map<string, string>();

/** nvcc's release, e.g. "13.0" (from `nvcc --version`). */
export function nvccVersion(nvcc: string = requireNvcc()): string {
  const hit = versionCache.get(nvcc);
  if (hit) return hit;
  const out = execFileSync(nvcc, ['--version'], { encoding: 'utf8' });
  const m = /release (\d+\.\d+)/.exec(out);
  if (!m) throw new Error(`cannot read the release from '${nvcc} --version':\n${out}`);
  versionCache.set(nvcc, m[1]!);
  return m[1]!;
}

const smNumber = (arch: string): number => {
  const m = /^sm_(\d+)a?$/.exec(arch);
  if (!m) throw new Error(`not an sm_NN architecture: '${arch}'`);
  return Number(m[1]);
};

/**
 * The real architectures nvcc can compile for, as sm_NN sorted by compute capability, from
 * `nvcc --list-gpu-arch` (compute_NN; CUDA 13 lists compute_75 and newer, so no sm_70).
 */
export function nvccArchs(nvcc: string = requireNvcc()): readonly string[] {
  const hit = archCache.get(nvcc);
  if (hit) return hit;
  const out = execFileSync(nvcc, ['--list-gpu-arch'], { encoding: 'utf8' });
  const archs = [...new Set([...out.matchAll(/^compute_(\d+)$/gm)].map((m) => Number(m[1])))]
    .sort((a, b) => a - b)
    .map((n) => `sm_${n}`);
  if (archs.length === 0) throw new Error(`'${nvcc} --list-gpu-arch' listed no architectures:\n${out}`);
  archCache.set(nvcc, archs);
  return archs;
}

export interface CompileArch {
  /** The arch to compile for. */
  readonly arch: string;
  /** Set when `arch` differs from the one asked for, saying why. */
  readonly note: string | null;
}

/**
 * The arch to compile `arch` kernels for with the local nvcc: the arch itself when nvcc supports
 * it, else the oldest (or newest) it supports, with a note. The kernels use nothing newer than
 * sm_70 features, so compiling for a neighbour checks the same code.
 */
export function compileArchFor(arch: string): CompileArch {
  const nvcc = requireNvcc();
  const archs = nvccArchs(nvcc);
  if (archs.includes(arch)) return { arch, note: null };
  const want = smNumber(arch);
  const oldest = archs[0]!;
  const newest = archs[archs.length - 1]!;
  const version = nvccVersion(nvcc);
  if (want < smNumber(oldest)) {
    return { arch: oldest, note: `nvcc ${version} cannot target ${arch}; compiled for ${oldest}, the oldest it supports` };
  }
  if (want > smNumber(newest)) {
    return { arch: newest, note: `nvcc ${version} cannot target ${arch}; compiled for ${newest}, the newest it supports` };
  }
  // Between two supported archs (an unusual minor version): the next older supported one.
  const below = archs.filter((a) => smNumber(a) < want).pop()!;
  return { arch: below, note: `nvcc ${version} cannot target ${arch}; compiled for ${below}` };
}

/** Flags of every check compile, before the -gencode options, input and output. */
export const NVCC_CHECK_FLAGS: readonly string[] = ['-c', '-std=c++17', '-O3', '-Xptxas', '-v', '-Werror', 'all-warnings'];

export interface CompileCheckOptions {
  /** Concurrent nvcc processes (default os.availableParallelism()). */
  readonly jobs?: number;
  /**
   * Files compiled together as one translation unit that #includes them (default 1). Saves the
   * per-process host-side cost when checking many small kernels; a group that fails is re-run
   * file by file so that every verdict and log belongs to one file.
   */
  readonly filesPerProcess?: number;
}

/** Verdict and ptxas resources of one kernel in one file for one arch. */
export interface CompileResult {
  readonly file: string;
  /** Kernel (entry function) name; the file's base name when no kernel could be identified. */
  readonly kernel: string;
  /** The arch compiled for (see compileArchFor) and the one asked for. */
  readonly arch: string;
  readonly requestedArch: string;
  readonly note: string | null;
  /** Compiled with no warning and ptxas reported the kernel. */
  readonly ok: boolean;
  readonly registers: number | null;
  readonly spillStores: number | null;
  readonly spillLoads: number | null;
  readonly stackFrame: number | null;
  /** Static shared memory (bytes); the kernels' dynamic shared memory is not included. */
  readonly sharedStatic: number | null;
  /** Warning and error lines of the compile. */
  readonly warnings: readonly string[];
  /** nvcc's command line and full output. */
  readonly log: string;
  /** Wall time of the nvcc process that compiled the file, seconds. */
  readonly seconds: number;
}

interface PtxasEntry {
  registers: number | null;
  spillStores: number | null;
  spillLoads: number | null;
  stackFrame: number | null;
  sharedStatic: number | null;
}

/** Parses `ptxas -v` output into resources per "function@arch". */
export function parsePtxas(output: string): Map<string, PtxasEntry> {
  const entries = new Map<string, PtxasEntry>();
  let fn: string | null = null;
  let arch: string | null = null;
  let current: PtxasEntry | null = null;
  for (const line of output.split('\n')) {
    let m = /Compiling entry function '([^']+)' for '(sm_\w+)'/.exec(line);
    if (m) {
      fn = m[1]!;
      arch = m[2]!;
      current = { registers: null, spillStores: null, spillLoads: null, stackFrame: null, sharedStatic: 0 };
      entries.set(`${fn}@${arch}`, current);
      continue;
    }
    m = /Function properties for (\S+)/.exec(line);
    if (m) {
      // Properties of a non-inlined callee would name another function; only keep the entry's.
      if (m[1] !== fn) current = null;
      else current = entries.get(`${fn}@${arch}`) ?? null;
      continue;
    }
    if (!current) continue;
    m = /(\d+) bytes stack frame, (\d+) bytes spill stores, (\d+) bytes spill loads/.exec(line);
    if (m) {
      current.stackFrame = Number(m[1]);
      current.spillStores = Number(m[2]);
      current.spillLoads = Number(m[3]);
      continue;
    }
    m = /Used (\d+) registers/.exec(line);
    if (m) {
      current.registers = Number(m[1]);
      const smem = /(\d+) bytes smem/.exec(line);
      current.sharedStatic = smem ? Number(smem[1]) : 0;
    }
  }
  return entries;
}

/** Names of the __global__ functions a source defines (extern "C" or not). */
export function kernelsInSource(source: string): string[] {
  const re = /__global__\s+void\s+(?:__launch_bounds__\s*\([^)]*\)\s*)?([A-Za-z_]\w*)\s*\(/g;
  return [...new Set([...source.matchAll(re)].map((m) => m[1]!))];
}

function entryFor(entries: Map<string, PtxasEntry>, kernel: string, arch: string): PtxasEntry | undefined {
  const exact = entries.get(`${kernel}@${arch}`);
  if (exact) return exact;
  // C++ linkage: ptxas names the mangled symbol, which contains <length><name>.
  const mangled = `${kernel.length}${kernel}`;
  for (const [key, e] of entries) {
    const [fn, a] = key.split('@');
    if (a === arch && fn!.startsWith('_Z') && fn!.includes(mangled)) return e;
  }
  return undefined;
}

const WARNING_LINE = /\b(warning|error)\b/i;

interface ProcessOutput {
  readonly code: number;
  readonly output: string;
  readonly seconds: number;
  readonly command: string;
}

function runNvcc(nvcc: string, args: readonly string[]): Promise<ProcessOutput> {
  return new Promise((resolvePromise) => {
    const t0 = performance.now();
    const child = spawn(nvcc, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const chunks: Buffer[] = [];
    child.stdout.on('data', (d: Buffer) => chunks.push(d));
    child.stderr.on('data', (d: Buffer) => chunks.push(d));
    const command = [nvcc, ...args].join(' ');
    child.on('error', (err) => resolvePromise({ code: -1, output: String(err), seconds: 0, command }));
    child.on('close', (code) => {
      resolvePromise({ code: code ?? -1, output: Buffer.concat(chunks).toString('utf8'), seconds: (performance.now() - t0) / 1000, command });
    });
  });
}

async function pool<T, R>(items: readonly T[], jobs: number, work: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      results[i] = await work(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(jobs, items.length)) }, worker));
  return results;
}

/**
 * Compiles each file for `arch` (one arch or several, each mapped through compileArchFor) and
 * returns one result per file, kernel and arch, in file order then arch order. Never throws for
 * a failed compile (the result says ok: false and carries the log); throws when nvcc is absent.
 */
export async function compileCheck(
  files: readonly string[],
  arch: string | readonly string[],
  options: CompileCheckOptions = {},
): Promise<CompileResult[]> {
  const nvcc = requireNvcc();
  const requested = typeof arch === 'string' ? [arch] : [...arch];
  const targets = requested.map((a) => ({ requested: a, ...compileArchFor(a) }));
  const gencode = [...new Set(targets.map((t) => t.arch))].flatMap((a) => ['-gencode', `arch=compute_${smNumber(a)},code=${a}`]);
  const jobs = options.jobs ?? availableParallelism();
  const perProcess = Math.max(1, options.filesPerProcess ?? 1);
  const absFiles = files.map((f) => resolve(f));
  const tmp = mkdtempSync(join(tmpdir(), 'cusnn-nvcc-'));
  try {
    const groups: string[][] = [];
    for (let i = 0; i < absFiles.length; i += perProcess) groups.push(absFiles.slice(i, i + perProcess));

    const compileGroup = async (group: readonly string[], index: number): Promise<CompileResult[]> => {
      let input: string;
      if (group.length === 1) {
        input = group[0]!;
      } else {
        input = join(tmp, `group${index}.cu`);
        writeFileSync(input, group.map((f) => `#include ${JSON.stringify(f)}\n`).join(''));
      }
      const args = [...NVCC_CHECK_FLAGS, ...gencode, input, '-o', join(tmp, `group${index}.o`)];
      const run = await runNvcc(nvcc, args);
      if (group.length > 1 && run.code !== 0) {
        // Re-run one by one so that each file gets its own verdict and log.
        const singles = await Promise.all(group.map((f, j) => compileGroup([f], index * 1000 + j + 1)));
        return singles.flat();
      }
      const entries = parsePtxas(run.output);
      const warnings = run.output.split('\n').filter((l) => WARNING_LINE.test(l) && !l.startsWith('ptxas info'));
      const log = `$ ${run.command}\n${run.output}`;
      const results: CompileResult[] = [];
      for (const file of group) {
        const source = existsSync(file) ? readFileSync(file, 'utf8') : '';
        const found = kernelsInSource(source);
        const kernels = found.length > 0 ? found : [basename(file).replace(/\.[^.]*$/, '')];
        for (const kernel of kernels) {
          for (const t of targets) {
            const e = entryFor(entries, kernel, t.arch);
            results.push({
              file,
              kernel,
              arch: t.arch,
              requestedArch: t.requested,
              note: t.note,
              ok: run.code === 0 && warnings.length === 0 && e !== undefined && e.registers !== null,
              registers: e?.registers ?? null,
              spillStores: e?.spillStores ?? null,
              spillLoads: e?.spillLoads ?? null,
              stackFrame: e?.stackFrame ?? null,
              sharedStatic: e?.sharedStatic ?? null,
              warnings,
              log,
              seconds: run.seconds,
            });
          }
        }
      }
      return results;
    };

    const perGroup = await pool(groups.map((g, i) => [g, i] as const), jobs, ([g, i]) => compileGroup(g, i + 1));
    return perGroup.flat();
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}
