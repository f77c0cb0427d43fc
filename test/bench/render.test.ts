// The result tables of README.md and docs/PERFORMANCE.md are rendered from the committed
// results.json (src/bench/render.ts), never typed: each marked block must be exactly what
// renderTable gives for the file its marker names. Until a document has markers, its check is
// skipped with a message saying how to add them (`cusnn-gen report <results.json> --tables`).
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { displayName, markedBlocks, renderResultsTable, renderTable, updateMarkedTables } from '../../src/bench/render.js';
import { readResults } from '../../src/bench/report.js';
import { timeVerdict } from '../../src/bench/table.js';
import { testSeed } from '../helpers/random.js';
import { makeBenchResults } from './fixture.js';

const H100 = 'docs/results/bench-h100/results.json';
const DOCS = ['README.md', 'docs/PERFORMANCE.md'];

describe('rendered result tables', () => {
  it('the README table of the committed H100 bench: one row per run, ties said so, no speedup claimed for them', () => {
    const r = readResults(H100);
    const t = renderResultsTable(r).split('\n');
    expect(t[0]).toBe("| model | weights | cusnn | cuDNN (fastest algorithm) | cuDNN IMPLICIT_GEMM (the original's baseline) | energy cusnn / cuDNN |");
    expect(t).toHaveLength(2 + r.runs.length);
    r.runs.forEach((m, i) => {
      const row = t[2 + i]!;
      expect(row.startsWith(`| ${displayName(m.model)} | ${m.weights} | `)).toBe(true);
      const v = timeVerdict(m, 'cudnn');
      expect(row.includes('(tie)'), `${m.model}: ${row}`).toBe(v === 'tie');
      expect(row.includes('**'), `${m.model}: bold only for a win`).toBe(v === 'faster');
    });
    expect(displayName('densenet169')).toBe('DenseNet-169');
    expect(displayName('vgg19')).toBe('VGG-19');
  });

  it('the PERFORMANCE table: spreads, geomean over generated-kernel layers only, n/a without any', () => {
    const r = makeBenchResults(testSeed());
    const t = renderTable('performance', r).split('\n');
    for (const m of r.runs.filter((x) => x.engines.length > 0)) {
      const row = t.find((x) => x.startsWith(`| ${displayName(m.model)}${m.batch > 1 || r.runs.some((y) => y.batch !== 1) ? ` b${m.batch}` : ''} |`))!;
      expect(row, m.model).toBeDefined();
      const gen = m.layers.filter((l) => l.path === 'act-sparse');
      const g = gen.length ? `${Math.exp(gen.reduce((a, l) => a + Math.log(l.speedup!), 0) / gen.length).toFixed(2)}x` : 'n/a';
      expect(row).toContain(` | ${m.sparseLayers}/${m.convLayers} | ${g} | `);
      const cus = m.engines.find((e) => e.engine === 'cusnn')!.time;
      expect(row).toContain(`(${(cus.p10Us / 1000).toFixed(3)}-${(cus.p90Us / 1000).toFixed(3)})`);
    }
    expect(t.some((x) => / \| failed: correctness/.test(x))).toBe(true);
  });

  it('markers: found, re-rendered in place, the rest of the document untouched', () => {
    const r = readResults(H100);
    const doc = ['# Title', '', 'Intro.', '', `<!-- results:begin readme ${H100} -->`, '| stale | table |', '<!-- results:end -->', '',
      `<!-- results:begin performance ${H100} -->`, '<!-- results:end -->', '', `<!-- results:begin readme other.json -->`, 'keep', '<!-- results:end -->', 'End.', ''].join('\n');
    const blocks = markedBlocks(doc);
    expect(blocks.map((b) => [b.kind, b.file, b.body])).toEqual([['readme', H100, '| stale | table |'], ['performance', H100, ''], ['readme', 'other.json', 'keep']]);
    const { text, updated } = updateMarkedTables(doc, H100, r);
    expect(updated).toBe(2);
    const again = markedBlocks(text);
    expect(again[0]!.body).toBe(renderTable('readme', r));
    expect(again[1]!.body).toBe(renderTable('performance', r));
    expect(again[2]!.body).toBe('keep');
    expect(text.startsWith('# Title\n\nIntro.\n\n')).toBe(true);
    expect(text.endsWith('<!-- results:end -->\nEnd.\n')).toBe(true);
    expect(updateMarkedTables(text, H100, r).text).toBe(text); // idempotent
    expect(() => markedBlocks(`<!-- results:begin chart ${H100} -->\n<!-- results:end -->`)).toThrow(/unknown table 'chart'/);
    expect(() => markedBlocks(`<!-- results:begin readme ${H100} -->\n| a |\n`)).toThrow(/has no '<!-- results:end -->'/);
  });

  it('cusnn-gen report --tables prints the marked blocks; --update rewrites a document in place (the compiled CLI)', () => {
    const r = readResults(H100);
    const run = (...args: string[]) => spawnSync(process.execPath, ['dist/cli.js', 'report', H100, ...args], { encoding: 'utf8' });
    const t = run('--tables');
    expect(t.status, t.stderr).toBe(0);
    expect(t.stdout).toBe(`<!-- results:begin readme ${H100} -->\n${renderTable('readme', r)}\n<!-- results:end -->\n\n` +
      `<!-- results:begin performance ${H100} -->\n${renderTable('performance', r)}\n<!-- results:end -->\n\n`);
    const doc = join(mkdtempSync(join(tmpdir(), 'cusnn-render-')), 'doc.md');
    writeFileSync(doc, `# Doc\n\n<!-- results:begin readme ${H100} -->\n| old |\n<!-- results:end -->\n\nText.\n`);
    const u = run('--update', doc);
    expect(u.status, u.stderr).toBe(0);
    expect(readFileSync(doc, 'utf8')).toBe(`# Doc\n\n<!-- results:begin readme ${H100} -->\n${renderTable('readme', r)}\n<!-- results:end -->\n\nText.\n`);
    writeFileSync(doc, '# no markers\n');
    const bad = run('--update', doc);
    expect(bad.status).not.toBe(0);
    expect(bad.stderr.trim()).toMatch(new RegExp(`doc\\.md: no '<!-- results:begin <kind> ${H100.replace(/[./]/g, '\\$&')} -->' marker$`));
  });

  for (const doc of DOCS) {
    const text = existsSync(doc) ? readFileSync(doc, 'utf8') : '';
    const blocks = markedBlocks(text);
    if (blocks.length === 0) {
      it.skip(`${doc} has no '<!-- results:begin <readme|performance> <results.json> -->' markers yet: paste the blocks that 'cusnn-gen report ${H100} --tables' prints`, () => {});
      continue;
    }
    it(`${doc}: every marked table is what cusnn-gen report renders from its results.json (cusnn-gen report <file> --update ${doc} rewrites them)`, () => {
      for (const b of blocks) {
        expect(existsSync(b.file), `${doc}: the marker names ${b.file}, which does not exist`).toBe(true);
        expect(b.body, `${doc}: the ${b.kind} table from ${b.file} is stale or hand-edited`).toBe(renderTable(b.kind, readResults(b.file)));
      }
    });
  }
});
