// `cusnn-gen report <results.json> [--out DIR]`: CSV tables, SVG charts and a markdown summary of
// a bench's results, without a GPU; prints the summary table and the files written.
import { dirname, isAbsolute, relative, resolve } from 'node:path';
import { Command } from 'commander';
import { readResults, writeReport } from '../bench/report.js';
import { benchTable } from '../bench/table.js';

export function reportCommand(print: (s: string) => void = console.log): Command {
  return new Command('report')
    .description('draw the charts and tables of a bench results.json (no GPU needed)')
    .argument('<results.json>', 'results written by cusnn-gen bench')
    .option('--out <dir>', 'output folder (default: the folder of results.json)')
    .action((file: string, o: { out?: string }) => {
      const r = readResults(file);
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
