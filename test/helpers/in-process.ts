// The CLI's main() run in the test's own process, for tables of error cases: the same command tree
// the executable (dist/cli.js) runs, without its ~1 s of node start and imports per case. The tests
// that use it also spawn a random sample of their cases (sampleIndexes), which must print the same
// bytes and exit with the same code. Its own module: importing main() loads the whole CLI.
import { format } from 'node:util';
import { vi } from 'vitest';
import { main } from '../../src/cli/main.js';

export type Ran = { code: number | null; out: string; err: string };

/**
 * main(args) in this process, everything it writes to stdout and stderr captured: process.stdout
 * and process.stderr, and console.log/info and console.error/warn, which vitest routes to its own
 * streams in a test (the commands that print results through console.log: list, inspect, run, ...).
 */
export async function inProcess(args: readonly string[]): Promise<Ran> {
  let out = '';
  let err = '';
  const toOut = (...a: unknown[]): void => void (out += `${format(...a)}\n`);
  const toErr = (...a: unknown[]): void => void (err += `${format(...a)}\n`);
  const spies = [
    vi.spyOn(process.stdout, 'write').mockImplementation((s: string | Uint8Array) => ((out += String(s)), true)),
    vi.spyOn(process.stderr, 'write').mockImplementation((s: string | Uint8Array) => ((err += String(s)), true)),
    vi.spyOn(console, 'log').mockImplementation(toOut),
    vi.spyOn(console, 'info').mockImplementation(toOut),
    vi.spyOn(console, 'error').mockImplementation(toErr),
    vi.spyOn(console, 'warn').mockImplementation(toErr),
  ];
  try {
    const code = await main(args, { err: (s) => void (err += s), env: {} });
    return { code, out, err };
  } finally {
    for (const s of spies) s.mockRestore();
    process.exitCode = undefined;
  }
}

/** `n` distinct indexes below `count` (all of them when n >= count), drawn with `rnd`. */
export function sampleIndexes(count: number, n: number, rnd: () => number): number[] {
  const picked = new Set<number>();
  while (picked.size < Math.min(n, count)) picked.add(Math.floor(rnd() * count));
  return [...picked];
}
