// The PyTorch anchor tables in README.md and docs/PERFORMANCE.md are rendered from the committed
// anchors JSON lines and bench results by tools/bench/pytorch-anchors.py --table: re-render every
// block and compare, so no figure in them is typed by hand.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../..', import.meta.url));
const BLOCK = /<!-- anchors:begin ([^>]+?) -->\n([\s\S]*?)\n<!-- anchors:end -->/g;

describe('PyTorch anchor tables', () => {
  for (const doc of ['README.md', 'docs/PERFORMANCE.md']) {
    it(`${doc}: every anchors block is what the script renders from its files`, () => {
      const text = readFileSync(join(root, doc), 'utf8');
      const blocks = [...text.matchAll(BLOCK)];
      expect(blocks.length, `${doc} has anchor blocks`).toBeGreaterThan(0);
      for (const [, files, body] of blocks) {
        const want = execFileSync('python3', ['tools/bench/pytorch-anchors.py', '--table', ...files!.split(' ')], { cwd: root, encoding: 'utf8' }).trimEnd();
        expect(body, `${doc}: anchors block for ${files}`).toBe(want);
        // A table with rows, each with a measured PyTorch fp16 time and cusnn's.
        expect(body!.split('\n').filter((l) => /^\| (ResNet|DenseNet|VGG)/.test(l)).length).toBeGreaterThan(3);
      }
    });
  }
});
