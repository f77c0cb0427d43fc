// The CLI as users run it: the compiled bin, spawned (npm test builds first; built here when
// dist is missing), and the one-line-error check every CLI test uses.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { beforeAll, expect } from 'vitest';

export const CLI = 'dist/cli.js';

/** Registers a beforeAll that compiles dist/ when it is missing. */
export function needsBuiltCli(): void {
  beforeAll(() => {
    if (!existsSync(CLI)) execFileSync('npx', ['tsc', '-p', '.'], { stdio: 'inherit' });
  });
}

export const runCli = (...args: string[]): { code: number | null; out: string; err: string } => {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8' });
  return { code: r.status, out: r.stdout, err: r.stderr };
};

/** Non-zero exit and exactly one line on stderr, matching `pattern`. */
export const oneLineError = (r: { code: number | null; err: string }, pattern: RegExp): void => {
  expect(r.code).not.toBe(0);
  const lines = r.err.trim().split('\n');
  expect(lines.length, r.err).toBe(1);
  expect(lines[0]).toMatch(pattern);
};
