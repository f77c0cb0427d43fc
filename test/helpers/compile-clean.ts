// Renders kernel specs into a temporary folder and asserts that nvcc compiles every one of them with no
// error, no warning and no spill (register spill stores or loads, or a stack frame): the check the family
// tests share. Returns false (after saying so) where no nvcc is installed, so the caller can skip.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'vitest';
import { renderKernel, type KernelSpec } from '../../src/families/registry.js';
import { compileCheck, findNvcc } from '../../src/toolchain/nvcc.js';

export async function expectCleanCompile(what: string, specs: readonly KernelSpec[], arch: string): Promise<boolean> {
  if (!findNvcc()) {
    console.log(`${what}: nvcc not found, the kernels are not compiled here`);
    return false;
  }
  const dir = mkdtempSync(join(tmpdir(), `cusnn-${what}-`));
  try {
    const files = specs.map((spec, i) => {
      const file = join(dir, `${what}${i}.cu`);
      writeFileSync(file, renderKernel(spec, [{ model: 'test', layer: what }]).source);
      return file;
    });
    const results = await compileCheck(files, arch, { filesPerProcess: files.length });
    expect(results.length).toBe(files.length);
    for (const r of results) {
      expect(r.ok, `${r.kernel}:\n${r.log}`).toBe(true);
      expect(r.warnings).toEqual([]);
      expect(Math.max(r.spillStores!, r.spillLoads!, r.stackFrame!), r.kernel).toBe(0);
    }
    return true;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
