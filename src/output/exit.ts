// The CLI's conventions shared by every command: exit codes, the error kinds that choose them,
// and the parsers of numeric options (each with its range, rejected as a usage error).
import { CommanderError, InvalidArgumentError } from 'commander';

/** Exit codes of cusnn-gen (documented in the README). */
export const EXIT = {
  ok: 0,
  /** A file or value the user gave is wrong: missing, malformed, of another model. */
  badInput: 1,
  /** The command line itself is wrong: unknown command or option, a missing or out-of-range option. */
  usage: 2,
  /** A tool or device the command needs is absent: no NVIDIA GPU, no nvcc, no CMake. */
  noTool: 3,
  /** A bug in cusnn-gen: an exception nobody meant to throw. */
  internal: 4,
} as const;

export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

/** A wrong command line (exit 2). */
export class UsageError extends Error {
  readonly exitCode = EXIT.usage;
}

/** A tool or device the command needs is absent (exit 3). */
export class ToolError extends Error {
  readonly exitCode = EXIT.noTool;
}

// Messages of other modules that mean "the GPU or a tool is absent" (they throw plain Errors).
const NO_TOOL = [/^no CUDA device/, /\bno CUDA device\b/, /^nvcc not found/, /needs nvcc/, /^cmake(-js)? not found/i, /spawn (cmake|nvcc|ninja) ENOENT/];

export interface Classified {
  readonly code: ExitCode;
  /** One line, without the `cusnn-gen: ` prefix. */
  readonly message: string;
  /** True when this is an unexpected exception (a bug): the stack is worth showing under CUSNN_DEBUG=1. */
  readonly internal: boolean;
}

const oneLine = (s: string): string => s.replace(/\s*\n\s*/g, ' ').trim();

/** Turns a commander message into ours: no `error: ` prefix, one line, "(did you mean X?)". */
function commanderMessage(e: CommanderError): string {
  let m = e.message.replace(/^error: /, '');
  m = m.replace(/\n\(Did you mean (.+?)\?\)/, ' (did you mean $1?)');
  // Our parsers' messages name the option and the value already: drop commander's preamble.
  const own = /^option '[^']*' argument '[^']*' is invalid\. (--?\S+ .*)$/s.exec(m);
  if (own) m = own[1]!;
  return oneLine(m);
}

/** Decides the exit code and the one-line message of anything thrown by a command. */
export function classify(e: unknown): Classified {
  if (e instanceof CommanderError) {
    const help = e.code === 'commander.helpDisplayed' || e.code === 'commander.version' || e.code === 'commander.help';
    return { code: help ? EXIT.ok : EXIT.usage, message: commanderMessage(e), internal: false };
  }
  if (!(e instanceof Error)) return { code: EXIT.internal, message: `internal error: ${String(e)}`, internal: true };
  const own = (e as { exitCode?: unknown }).exitCode;
  if (own === EXIT.badInput || own === EXIT.usage || own === EXIT.noTool) return { code: own, message: oneLine(e.message), internal: false };
  const errno = e as NodeJS.ErrnoException;
  if (typeof errno.code === 'string' && typeof errno.syscall === 'string') {
    // A file system error that escaped a reader: the file is named in the message.
    const tool = errno.code === 'ENOENT' && errno.syscall.startsWith('spawn');
    return { code: tool ? EXIT.noTool : EXIT.badInput, message: oneLine(e.message), internal: false };
  }
  // Our modules throw plain Errors with a message meant for the user; anything else
  // (TypeError, RangeError, SyntaxError, ...) is a bug.
  if (e.constructor !== Error) return { code: EXIT.internal, message: oneLine(`internal error: ${e.message}`), internal: true };
  const message = oneLine(e.message);
  return { code: NO_TOOL.some((r) => r.test(message)) ? EXIT.noTool : EXIT.badInput, message, internal: false };
}

/** An integer option in [min, max] (decimal digits only: no '1e3', '0x10', '' or '7.5'). */
export const intOption = (flag: string, min: number, max: number) => (v: string): number => {
  const n = /^-?\d+$/.test(v.trim()) ? Number(v) : NaN;
  if (!Number.isSafeInteger(n) || n < min || n > max) throw new InvalidArgumentError(`${flag} must be an integer in [${min}, ${max}], got '${v}'`);
  return n;
};

/** A finite number option in [min, max]. */
export const numberOption = (flag: string, min: number, max: number) => (v: string): number => {
  const n = v.trim() === '' ? NaN : Number(v);
  if (!Number.isFinite(n) || n < min || n > max) throw new InvalidArgumentError(`${flag} must be a number in [${min}, ${max}], got '${v}'`);
  return n;
};

/** Largest batch the generated launchers accept (gridDim.z). */
export const MAX_BATCH = 65535;
export const MAX_SEED = 0xffffffff;
