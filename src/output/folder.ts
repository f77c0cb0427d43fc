// Output folders are safe: cusnn writes only into a folder that is new, empty, or was written by
// cusnn (its plan.json says format 'cusnn-plan/1'); anything else is refused before any work
// unless forced. The new content is written into a sibling staging folder (`<dir>.tmp-<pid>`)
// and swapped in by rename only once complete, so a generation that fails half way leaves the
// old folder as it was. What the old folder held besides the generated files is carried over,
// except a build/ and a calibration.json that belong to another model or architecture.
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync } from 'node:fs';
import { basename, dirname, join, resolve, sep } from 'node:path';
import { packageRoot } from '../paths.js';

export const PLAN_FORMAT = 'cusnn-plan/1';

/** The entries a generation writes at the top of its folder (replaced as a whole). */
export const GENERATED_ENTRIES: readonly string[] = ['kernels', 'plan.json', 'report.md', 'CMakeLists.txt', 'index.d.ts'];

/** What an output folder holds now, decided before any work. */
export type OutState =
  | { readonly kind: 'new' }
  | { readonly kind: 'empty' }
  | { readonly kind: 'cusnn'; readonly model: string | null; readonly arch: string | null }
  | { readonly kind: 'foreign'; readonly forced: true };

/** A bad output folder: a bad-input error (exit code 1) naming the folder and what to do. */
export class OutFolderError extends Error {
  readonly exitCode = 1;
}

function planIdentity(file: string): { model: string | null; arch: string | null } | null {
  try {
    const p: unknown = JSON.parse(readFileSync(file, 'utf8'));
    if (typeof p !== 'object' || p === null) return null;
    const r = p as Record<string, unknown>;
    if (r.format !== PLAN_FORMAT) return null;
    return { model: typeof r.model === 'string' ? r.model : null, arch: typeof r.arch === 'string' ? r.arch : null };
  } catch {
    return null;
  }
}

/**
 * Checks `dir` as an output folder and says what it holds; throws an OutFolderError (one line)
 * for an empty name, a file, a folder below a file, or a folder cusnn did not write (unless
 * `forceOverwrite`).
 */
export function checkOutDir(dir: string, o: { forceOverwrite?: boolean } = {}): OutState {
  if (dir.trim() === '') throw new OutFolderError(`--out must name a folder, got an empty string`);
  const abs = resolve(dir);
  if (abs === dirname(abs)) throw new OutFolderError(`--out '${dir}' is the file system root: choose a folder of its own`);
  // The folder is replaced as a whole (renamed away, then removed): never the one we run in.
  const inside = (p: string): boolean => p === abs || p.startsWith(abs + sep);
  if (inside(process.cwd())) throw new OutFolderError(`--out '${dir}' is or contains the current directory: the folder is replaced as a whole, so run from outside it or name a subfolder`);
  if (inside(packageRoot())) throw new OutFolderError(`--out '${dir}' contains the cusnn package itself (${packageRoot()}): name a folder of its own`);
  let st;
  try {
    st = statSync(abs);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') {
      // A new folder: every existing ancestor must be a folder.
      for (let p = dirname(abs); p !== dirname(p); p = dirname(p)) {
        if (!existsSync(p)) continue;
        if (!statSync(p).isDirectory()) throw new OutFolderError(`--out '${dir}': ${p} is a file, not a folder`);
        break;
      }
      return { kind: 'new' };
    }
    if (code === 'ENOTDIR') throw new OutFolderError(`--out '${dir}': a part of the path is a file, not a folder`);
    throw new OutFolderError(`--out '${dir}' cannot be read (${(e as Error).message})`);
  }
  if (!st.isDirectory()) throw new OutFolderError(`--out '${dir}' is a file, not a folder`);
  const entries = readdirSync(abs);
  if (entries.length === 0) return { kind: 'empty' };
  const id = planIdentity(join(abs, 'plan.json'));
  if (id) return { kind: 'cusnn', ...id };
  if (o.forceOverwrite) return { kind: 'foreign', forced: true };
  throw new OutFolderError(
    `--out '${dir}' holds ${entries.length} file(s) that cusnn did not write (no plan.json with format '${PLAN_FORMAT}'): ` +
      `choose a new or empty folder, or pass --force-overwrite to replace its generated files`,
  );
}

/** The model a calibration.json was measured on; null when it cannot tell. */
function calibrationModel(file: string): string | null {
  try {
    const c: unknown = JSON.parse(readFileSync(file, 'utf8'));
    return typeof c === 'object' && c !== null && typeof (c as { model?: unknown }).model === 'string' ? (c as { model: string }).model : null;
  } catch {
    return null;
  }
}

export interface SwapResult<T> {
  readonly value: T;
  /** Entries of the old folder left out because they belong to another model/arch (build, calibration.json). */
  readonly dropped: readonly string[];
}

/**
 * Writes a folder safely: `write(staging)` fills a fresh sibling folder, then the old folder's
 * own extra entries are moved in and the staging folder is renamed into place. When `write`
 * throws, the staging folder is removed and `dir` is untouched. `state` is checkOutDir's answer
 * (taken before any work); `model`/`arch` say whose build/ and calibration.json may stay.
 */
export function writeFolderAtomically<T>(
  dir: string,
  state: OutState,
  identity: { readonly model: string; readonly arch: string },
  write: (staging: string) => T,
): SwapResult<T> {
  const abs = resolve(dir);
  const staging = join(dirname(abs), `${basename(abs)}.tmp-${process.pid}`);
  rmSync(staging, { recursive: true, force: true });
  mkdirSync(dirname(abs), { recursive: true });
  mkdirSync(staging);
  let value: T;
  try {
    value = write(staging);
  } catch (e) {
    rmSync(staging, { recursive: true, force: true });
    throw e;
  }
  const dropped: string[] = [];
  if (state.kind === 'new' || !existsSync(abs)) {
    renameSync(staging, abs);
    return { value, dropped };
  }
  // Carry over what the old folder holds besides the generated entries.
  const sameNetwork = state.kind === 'cusnn' && state.model === identity.model && state.arch === identity.arch;
  const moved: string[] = [];
  const restore = (): void => {
    for (const e of moved) if (existsSync(join(staging, e))) renameSync(join(staging, e), join(abs, e));
    rmSync(staging, { recursive: true, force: true });
  };
  const old = join(dirname(abs), `${basename(abs)}.old-${process.pid}`);
  try {
    for (const e of readdirSync(abs)) {
      if (GENERATED_ENTRIES.includes(e) || existsSync(join(staging, e))) continue;
      if (e === 'build' && !sameNetwork) {
        dropped.push(e);
        continue;
      }
      if (e === 'calibration.json' && calibrationModel(join(abs, e)) !== identity.model) {
        dropped.push(e);
        continue;
      }
      renameSync(join(abs, e), join(staging, e));
      moved.push(e);
    }
    rmSync(old, { recursive: true, force: true });
    renameSync(abs, old);
  } catch (err) {
    restore();
    throw err;
  }
  try {
    renameSync(staging, abs);
  } catch (err) {
    renameSync(old, abs);
    restore();
    throw err;
  }
  rmSync(old, { recursive: true, force: true });
  return { value, dropped };
}
