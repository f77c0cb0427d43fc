// A progress bar for long bench runs, without a dependency. On a terminal it redraws one line
// with \r (bar, count, percent, elapsed, estimated time left, current step); on anything else
// (a log file, CI) it prints one plain line per step, so logs stay readable.

export interface Progress {
  /** One step done; `what` names it (shown after the bar, or on the step's line). */
  tick(what?: string): void;
  /** Ends the bar: a final line with the count and the elapsed time. */
  done(): void;
}

/** What the bar writes to: process.stderr, or anything with write() and optionally isTTY/columns. */
export interface ProgressStream {
  write(s: string): unknown;
  readonly isTTY?: boolean;
  readonly columns?: number;
}

/** `75s`, `4m05s`, `1h02m`. */
export function formatDuration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

export function createProgress(total: number, label: string, stream: ProgressStream = process.stderr, now: () => number = Date.now): Progress {
  const start = now();
  const tty = stream.isTTY === true;
  const width = String(Math.max(total, 0)).length;
  let count = 0;
  let shown = 0; // characters on the current terminal line, to blank what a shorter redraw leaves
  let finished = false;

  const status = (what: string): string => {
    const elapsed = (now() - start) / 1000;
    const pct = total > 0 ? Math.min(count / total, 1) : 1;
    const eta = count > 0 && count < total ? `, ${formatDuration((elapsed / count) * (total - count))} left` : '';
    return `${String(count).padStart(width)}/${total} ${(100 * pct).toFixed(0).padStart(3)}% ${formatDuration(elapsed)}${eta}${what ? `  ${what}` : ''}`;
  };
  const draw = (what: string): void => {
    const cols = Math.max((stream.columns ?? 80) - 1, 20);
    const pct = total > 0 ? Math.min(count / total, 1) : 1;
    const barW = 24;
    const filled = Math.round(pct * barW);
    let s = `${label} [${'#'.repeat(filled)}${'.'.repeat(barW - filled)}] ${status(what)}`;
    if (s.length > cols) s = `${s.slice(0, cols - 3)}...`;
    stream.write(`\r${s.padEnd(shown)}`);
    shown = s.length;
  };

  if (tty) draw('');
  return {
    tick(what = '') {
      if (finished) return;
      count++;
      if (tty) draw(what);
      else stream.write(`${label} ${status(what)}\n`);
    },
    done() {
      if (finished) return;
      finished = true;
      const line = `${label}: ${count}/${total} done in ${formatDuration((now() - start) / 1000)}`;
      if (tty) stream.write(`\r${line.padEnd(shown)}\n`);
      else stream.write(`${line}\n`);
    },
  };
}
