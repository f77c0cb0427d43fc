// `cusnn-gen report <results.json> [--out DIR] [--update DOC.md...] [--tables]`: CSV tables, SVG
// charts and a markdown summary of a bench's results, without a GPU; prints the summary table and
// the files written. --update re-renders the marked result tables of README.md /
// docs/PERFORMANCE.md that name this results file (src/bench/render.ts); --tables prints them.
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, isAbsolute, relative, resolve } from 'node:path';
import { Command } from 'commander';
import { renderTable, TABLE_KINDS, updateMarkedTables } from '../bench/render.js';
import { readResults, writeReport } from '../bench/report.js';
import { benchTable } from '../bench/table.js';

/** How a marker names the results file: relative to the current directory (the repository root), '/' separated. */
const markerName = (file: string): string => relative(process.cwd(), resolve(file)).split('\\').join('/');

export function reportCommand(print: (s: string) => void = console.log): Command {
  return new Command('report')
    .description('draw the charts and tables of a bench results.json (no GPU needed)')
    .argument('<results.json>', 'results written by cusnn-gen bench')
    .option('--out <dir>', 'output folder (default: the folder of results.json)')
    .option('--update <docs...>', 'only rewrite the result tables between <!-- results:begin <kind> <this results.json> --> and <!-- results:end --> in these markdown files')
    .option('--tables', 'print the markdown result tables (with their markers) instead of the summary')
    .action((file: string, o: { out?: string; update?: string[]; tables?: boolean }) => {
      const r = readResults(file);
      const name = markerName(file);
      if (o.tables) {
        for (const kind of TABLE_KINDS) print(`<!-- results:begin ${kind} ${name} -->\n${renderTable(kind, r)}\n<!-- results:end -->\n`);
        return;
      }
      for (const doc of o.update ?? []) {
        const { text, updated } = updateMarkedTables(readFileSync(doc, 'utf8'), name, r);
        if (updated === 0) throw new Error(`${doc}: no '<!-- results:begin <kind> ${name} -->' marker`);
        writeFileSync(doc, text);
        print(`${doc}: ${updated} table(s) rendered from ${name}`);
      }
      if (o.update) return;
      const written = writeReport(r, o.out ?? dirname(file));
      print(benchTable(r));
      print('');
      print(`wrote ${written.length} files:`);
      for (const f of written) {
        const rel = relative(process.cwd(), f);
        print(`  ${rel && !rel.startsWith('..') && !isAbsolute(rel) ? rel : resolve(f)}`);
      }
    });
}
