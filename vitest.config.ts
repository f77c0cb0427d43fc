import { availableParallelism } from 'node:os';
import { relative } from 'node:path';
import { defineConfig } from 'vitest/config';
import { BaseSequencer, type TestSpecification } from 'vitest/node';

/**
 * The cpu project's longest files (2-core CI, heaviest first). vitest orders files it has no
 * timings for (a clean clone: CI) largest first, which starts small but slow files such as
 * calibration-match last, where the other worker runs out of files long before they end. These
 * start first, then the rest in vitest's order; a file missing here just runs in vitest's order.
 */
const LONGEST_FIRST = [
  'test/toolchain/models-compile.test.ts',
  'test/runtime/lower.test.ts',
  'test/runtime/calibration-match.test.ts',
  'test/bench/bench.test.ts',
  'test/toolchain/addon.test.ts',
  'test/onnx/export.test.ts',
  'test/fuzz/readers.test.ts',
  'test/runtime/reference.test.ts',
  'test/cli/conventions.test.ts',
  'test/cli/cli.test.ts',
  'test/weights/prune-patterns.test.ts',
  'test/bench/bench-flow.test.ts',
  'test/families/wsparse.test.ts',
  'test/cli/folder.test.ts',
];

class LongestFirst extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const sorted = await super.sort(files);
    const rank = (s: TestSpecification): number => {
      const i = LONGEST_FIRST.indexOf(relative(s.project.config.root, s.moduleId).replace(/\\/g, '/'));
      return i < 0 ? LONGEST_FIRST.length : i;
    };
    // Stable: only the listed files move, each to the front of its own project's run.
    return sorted
      .map((s, i) => ({ s, i }))
      .sort((a, b) => {
        const pa = sorted.findIndex((x) => x.project === a.s.project);
        const pb = sorted.findIndex((x) => x.project === b.s.project);
        return pa - pb || rank(a.s) - rank(b.s) || a.i - b.i;
      })
      .map(({ s }) => s);
  }
}

// Two projects: `cpu` runs everywhere (CI included); `gpu` needs the GPU host and the built addon.
export default defineConfig({
  test: {
    sequence: { sequencer: LongestFirst },
    projects: [
      {
        test: {
          name: 'cpu',
          include: ['test/**/*.test.ts'],
          exclude: ['test/gpu/**'],
          testTimeout: 120_000,
          hookTimeout: 600_000,
          // vitest's default is one worker less than the cores: a single worker on CI's 2 cores,
          // the second core idle but for the nvcc and CLI processes the tests start. Two workers
          // there (the files are independent: each writes only under its own mkdtemp folder), the
          // default (cores - 1) on larger machines.
          maxWorkers: Math.max(2, availableParallelism() - 1),
          // Projects with different maxWorkers need their own group when run together (`vitest run`).
          sequence: { groupOrder: 0 },
        },
      },
      {
        test: {
          name: 'gpu',
          include: ['test/gpu/**/*.test.ts'],
          testTimeout: 600_000,
          hookTimeout: 600_000,
          sequence: { groupOrder: 1 },
        },
      },
    ],
  },
});
