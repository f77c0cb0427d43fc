// The correctness cell says when a run's check could not tell engines apart: every checked input
// gave the same cuDNN logits (a network whose activations die out, e.g. synthetic weights pruned
// hard: measured on the H200, 2026-12-02, ResNet-50 synthetic pruned 90% had 0.0 error on every engine).
import { describe, expect, it } from 'vitest';
import type { ModelResult } from '../../src/bench/results.js';
import { correctnessCell } from '../../src/bench/table.js';
import { mulberry32, testSeed } from '../helpers/random.js';

const rnd = mulberry32(testSeed());
const run = (inputSpread: number | undefined, inputs: number): ModelResult => ({
  correctness: { maxRelError: { cusnn: rnd() * 1e-6, cudnn: 0, 'cudnn-implicit-gemm': rnd() * 1e-6 }, tolerance: 1e-4, topAgree: inputs, inputs, passed: true, inputSpread },
} as unknown as ModelResult);

describe('correctness cell', () => {
  it('marks a check over inputs with identical logits as degenerate, and only then', () => {
    expect(correctnessCell(run(rnd() * 1e-7, 8))).toMatch(/^ok \d\.\de-\d+, top5 8\/8, DEGENERATE/);
    expect(correctnessCell(run(1e-3 + rnd(), 8))).not.toMatch(/DEGENERATE/);
    expect(correctnessCell(run(undefined, 8))).not.toMatch(/DEGENERATE/); // results from before the field
    expect(correctnessCell(run(0, 1))).not.toMatch(/DEGENERATE/); // one input: nothing to compare
  });
});
