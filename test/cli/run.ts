// Spawning the compiled CLI (and plain node) with a chosen cwd and environment, for the CLI tests.
import { spawnSync } from 'node:child_process';
import { resolve } from 'node:path';

export const CLI_ABS = resolve('dist/cli.js');

export interface Ran { code: number | null; out: string; err: string }
export interface RunOpts { cwd?: string; env?: NodeJS.ProcessEnv }

/** runCli('list') or runCli({ cwd }, 'list'). */
export function runCli(first?: RunOpts | string, ...rest: string[]): Ran {
  const o = typeof first === 'object' ? first : {};
  const args = typeof first === 'string' ? [first, ...rest] : rest;
  const r = spawnSync(process.execPath, [CLI_ABS, ...args], { encoding: 'utf8', cwd: o.cwd, env: o.env ?? { ...process.env, CUSNN_DEBUG: '' } });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

/** Runs an ES module snippet with node in `cwd`. */
export function runNode(cwd: string, code: string): Ran {
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', code], { cwd, encoding: 'utf8' });
  return { code: r.status, out: r.stdout, err: r.stderr };
}
