// nvcc discovery, ptxas report parsing, and a compile check of a spread of generated kernels for
// sm_75 and sm_90 (skipped, with a message, where nvcc is absent).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { compileArchFor, compileCheck, findNvcc, kernelsInSource, nvccArchs, nvccVersion, parsePtxas } from '../../src/toolchain/nvcc.js';
import { renderActSparseKernel } from '../../src/families/act-sparse/render.js';
import { sharedLayout } from '../../src/families/act-sparse/resources.js';
import type { ActSparseKernelSpec } from '../../src/families/act-sparse/spec.js';

const PTXAS_SAMPLE = `ptxas info    : 0 bytes gmem
ptxas info    : Compiling entry function 'bar' for 'sm_75'
ptxas info    : Function properties for bar
    0 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads
ptxas info    : Used 4 registers, used 0 barriers, 360 bytes cmem[0]
ptxas info    : Compile time = 1.659 ms
ptxas info    : Compiling entry function '_Z3fooPf' for 'sm_90'
ptxas info    : Function properties for _Z3fooPf
    256 bytes stack frame, 8 bytes spill stores, 12 bytes spill loads
ptxas info    : Used 32 registers, used 1 barriers, 256 bytes cumulative stack size, 1024 bytes smem
ptxas info    : Compile time = 8.034 ms
`;

describe('ptxas report parsing', () => {
  it('reads registers, spills, stack and static shared memory per function and arch', () => {
    const e = parsePtxas(PTXAS_SAMPLE);
    expect(e.get('bar@sm_75')).toEqual({ registers: 4, spillStores: 0, spillLoads: 0, stackFrame: 0, sharedStatic: 0 });
    expect(e.get('_Z3fooPf@sm_90')).toEqual({ registers: 32, spillStores: 8, spillLoads: 12, stackFrame: 256, sharedStatic: 1024 });
  });

  it('finds the kernels a source defines', () => {
    expect(kernelsInSource('extern "C" __global__ void __launch_bounds__(THREADS)\nact3x3_x(const float* in) {}\n__global__ void foo (int) {}'))
      .toEqual(['act3x3_x', 'foo']);
  });
});

const nvcc = findNvcc();
if (!nvcc) console.warn('nvcc not found (CUDA_HOME/bin, PATH): skipping the nvcc compile checks');

function spec(p: Partial<ActSparseKernelSpec> & Pick<ActSparseKernelSpec, 'c' | 'h' | 'w' | 'k' | 'r' | 's' | 'th' | 'tw' | 'tc' | 'kb' | 'cs'>): ActSparseKernelSpec {
  const strideH = p.strideH ?? 1;
  const strideW = p.strideW ?? 1;
  const padTop = p.padTop ?? Math.floor((p.r - 1) / 2);
  const padLeft = p.padLeft ?? Math.floor((p.s - 1) / 2);
  return {
    family: 'act-sparse', arch: 'sm_90', bias: false, relu: false, ...p, strideH, strideW, padTop, padLeft,
    ho: p.ho ?? Math.floor((p.h + 2 * padTop - p.r) / strideH) + 1,
    wo: p.wo ?? Math.floor((p.w + 2 * padLeft - p.s) / strideW) + 1,
  };
}

/** A spread: cs 1 and > 1, bias/relu on and off, tc not dividing C, the largest windows, opt-in shared memory. */
const SPECS: ActSparseKernelSpec[] = [
  spec({ c: 128, h: 14, w: 14, k: 32, r: 3, s: 3, th: 2, tw: 7, tc: 16, kb: 32, cs: 2, bias: true, relu: true }),
  spec({ c: 64, h: 56, w: 56, k: 64, r: 3, s: 3, th: 4, tw: 7, tc: 8, kb: 64, cs: 1 }),
  spec({ c: 512, h: 7, w: 7, k: 512, r: 3, s: 3, th: 7, tw: 7, tc: 4, kb: 32, cs: 4, relu: true }),
  spec({ c: 128, h: 56, w: 56, k: 128, r: 3, s: 3, strideH: 2, strideW: 2, padTop: 0, padLeft: 0, ho: 28, wo: 28, th: 4, tw: 7, tc: 8, kb: 64, cs: 2, bias: true }),
  spec({ c: 256, h: 14, w: 14, k: 1024, r: 1, s: 1, th: 2, tw: 7, tc: 32, kb: 128, cs: 2, bias: true, relu: true }),
  spec({ c: 256, h: 56, w: 56, k: 512, r: 1, s: 1, strideH: 2, strideW: 2, padTop: 0, padLeft: 0, th: 2, tw: 7, tc: 16, kb: 64, cs: 1 }),
  spec({ c: 3, h: 224, w: 224, k: 64, r: 7, s: 7, strideH: 2, strideW: 2, th: 4, tw: 8, tc: 3, kb: 64, cs: 1, bias: true, relu: true }),
  spec({ c: 35, h: 17, w: 17, k: 40, r: 5, s: 5, th: 3, tw: 5, tc: 16, kb: 32, cs: 3 }),
  spec({ c: 100, h: 28, w: 28, k: 96, r: 3, s: 3, th: 8, tw: 8, tc: 12, kb: 96, cs: 1, relu: true }),
  spec({ c: 256, h: 7, w: 7, k: 32, r: 3, s: 3, th: 7, tw: 7, tc: 128, kb: 32, cs: 2, bias: true, relu: true }),
];

describe.skipIf(!nvcc)('nvcc', () => {
  it('lists the architectures it supports and maps the ones it does not', () => {
    const archs = nvccArchs();
    expect(archs).toContain('sm_90');
    expect(archs.every((a) => /^sm_\d+$/.test(a))).toBe(true);
    expect(compileArchFor('sm_90')).toEqual({ arch: 'sm_90', note: null });
    if (!archs.includes('sm_70')) {
      expect(compileArchFor('sm_70')).toEqual({
        arch: archs[0],
        note: `nvcc ${nvccVersion()} cannot target sm_70; compiled for ${archs[0]}, the oldest it supports`,
      });
    }
    if (Number(nvccVersion().split('.')[0]) >= 13) {
      expect(archs[0]).toBe('sm_75');
      expect(compileArchFor('sm_70').note).toBe('nvcc 13.0 cannot target sm_70; compiled for sm_75, the oldest it supports'.replace('13.0', nvccVersion()));
    }
  });

  const dir = mkdtempSync(join(tmpdir(), 'cusnn-nvcc-test-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('compiles a spread of generated kernels for sm_75 and sm_90 without warnings or spills', async () => {
    expect(SPECS.some((s) => sharedLayout(s).totalBytes > 48 * 1024)).toBe(true);
    const files = SPECS.map((s) => {
      const { name, source } = renderActSparseKernel(s, [{ model: 'test', layer: 'layer' }]);
      const file = join(dir, `${name}.cu`);
      writeFileSync(file, source);
      return file;
    });
    const t0 = performance.now();
    // Half the kernels per nvcc process: two processes keep two CI cores busy and pay the
    // host-side compile (CUDA runtime headers) twice instead of ten times.
    const results = await compileCheck(files, ['sm_75', 'sm_90'], { filesPerProcess: Math.ceil(files.length / 2) });
    const seconds = (performance.now() - t0) / 1000;
    const rows = results.map((r) => `${r.arch} ${String(r.registers).padStart(3)} regs  spill ${r.spillStores}/${r.spillLoads}  stack ${r.stackFrame}  ${r.kernel}`);
    console.log(`nvcc: ${files.length} kernels x 2 archs in ${seconds.toFixed(1)} s\n${rows.join('\n')}`);
    expect(results).toHaveLength(files.length * 2);
    for (const r of results) {
      expect(r.ok, `${r.kernel} ${r.arch}:\n${r.log}`).toBe(true);
      expect(r.warnings).toEqual([]);
      expect(r.spillStores, r.kernel).toBe(0);
      expect(r.spillLoads, r.kernel).toBe(0);
      // A stack frame would mean the register tile or the weights went to local memory.
      expect(r.stackFrame, r.kernel).toBe(0);
      expect(r.sharedStatic, r.kernel).toBe(0);
      expect(r.registers).toBeGreaterThan(0);
      expect(r.registers).toBeLessThanOrEqual(255);
    }
  });

  it('fails a file with a warning and keeps the other files of its group apart', async () => {
    const good = renderActSparseKernel(SPECS[0]!, []);
    const goodFile = join(dir, `${good.name}.cu`);
    writeFileSync(goodFile, good.source);
    const badFile = join(dir, 'warns.cu');
    writeFileSync(badFile, '__global__ void warns(float* x) { int unused; x[0] = 1.0f; }\n');
    const results = await compileCheck([goodFile, badFile], 'sm_90', { filesPerProcess: 2 });
    expect(results.map((r) => [r.kernel, r.ok])).toEqual([[good.name, true], ['warns', false]]);
    expect(results[1]!.log).toMatch(/declared but never referenced/);
    expect(results[0]!.log).not.toMatch(/never referenced/);
  });
});
