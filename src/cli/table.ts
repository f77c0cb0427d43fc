// Plain-text tables for the terminal (columns padded to their widest cell), and the --json form
// of the commands that print tables.
export function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]): string => cells.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd();
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}

/** `--json`: one JSON document, pretty-printed, as the command's only output. */
export function printJson(print: (s: string) => void, value: unknown): void {
  print(JSON.stringify(value, null, 2));
}
