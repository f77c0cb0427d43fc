// The committed H100 bench (docs/results/bench-h100/results.json, `cusnn-gen bench --all` on the
// GPU host) redrawn here without a GPU: the four charts the issue asks for, well-formed, and the
// summary byte for byte what the GPU host wrote, so the committed report is the data's.
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { readResults, writeReport } from '../../src/bench/report.js';

const DIR = fileURLToPath(new URL('../../docs/results/bench-h100/', import.meta.url));

/** Tags balance (no parser dependency): every <x ...> has its </x>, self-closing tags aside. */
function balanced(svg: string): boolean {
  const stack: string[] = [];
  for (const m of svg.matchAll(/<(\/?)([a-zA-Z][\w:-]*)[^>]*?(\/?)>/g)) {
    if (m[3] === '/') continue;
    if (m[1] === '/') {
      if (stack.pop() !== m[2]) return false;
    } else stack.push(m[2]!);
  }
  return stack.length === 0;
}

describe('the committed H100 bench redraws without a GPU', () => {
  it('writes the four charts and the same summary', () => {
    const r = readResults(join(DIR, 'results.json'));
    expect(r.gpu.name).toMatch(/H100/);
    // A cusnn-bench/1 file, read as /2: one round, peaks from the profile, no speedup on the cuDNN path.
    expect(JSON.parse(readFileSync(join(DIR, 'results.json'), 'utf8')).format).toBe('cusnn-bench/1');
    expect(r.format).toBe('cusnn-bench/2');
    expect(r.gpu.roofline).toEqual({ source: 'profile', note: 'peaks of the H100 SXM5 80GB (sm_90) profile: a cusnn-bench/1 file, nothing was measured on the GPU' });
    for (const m of r.runs) {
      for (const e of m.engines) expect(e.time).toMatchObject({ rounds: 1, roundMinUs: e.time.medianUs, roundMaxUs: e.time.medianUs });
      for (const l of m.layers) {
        expect(l.speedup === null, `${m.model} ${l.layer}`).toBe(l.path === 'cudnn');
        expect(l).toMatchObject({ verdict: null, decision: null, cusnnSpreadUs: null });
      }
    }
    expect(r.runs.find((m) => m.model === 'resnet50')!.layers.every((l) => l.speedup === null)).toBe(true);
    expect(r.runs.map((m) => m.model)).toEqual(['densenet169', 'densenet201', 'resnet50', 'resnet152', 'resnet101', 'densenet121', 'vgg16', 'vgg19']);
    for (const m of r.runs) {
      expect(m.correctness.passed, m.model).toBe(true);
      expect(m.engines.map((e) => e.engine)).toEqual(['cusnn', 'cudnn', 'cudnn-implicit-gemm']);
      for (const e of m.engines) {
        expect(e.time.iters).toBeGreaterThanOrEqual(100);
        expect(e.time.p10Us).toBeLessThanOrEqual(e.time.medianUs);
        expect(e.time.medianUs).toBeLessThanOrEqual(e.time.p90Us);
        expect(e.energy!.windowSeconds, `${m.model} ${e.engine}`).toBeGreaterThanOrEqual(2);
      }
    }
    const out = mkdtempSync(join(tmpdir(), 'cusnn-h100-report-'));
    const files = writeReport(r, out).map((f) => f.slice(out.length + 1));
    for (const f of ['energy.svg', 'time.svg', 'layers-densenet201.svg', 'layers-resnet152.svg', 'speedup-vs-sparsity.svg']) {
      expect(files).toContain(f);
      const svg = readFileSync(join(out, f), 'utf8');
      expect(svg.startsWith('<svg') || svg.startsWith('<?xml'), f).toBe(true);
      expect(balanced(svg), `${f} well-formed`).toBe(true);
      expect(svg, f).toBe(readFileSync(join(DIR, f), 'utf8'));
    }
    expect(readFileSync(join(out, 'summary.md'), 'utf8')).toBe(readFileSync(join(DIR, 'summary.md'), 'utf8'));
  });
});
