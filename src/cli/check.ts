// `--check`: compile every emitted kernel with the local nvcc for its arch and print the
// resources ptxas reports. CUDA 13 cannot target sm_70, so such plans compile for the oldest
// arch the local nvcc has, and the output says so. The table and the verdict are results
// (`print`, stdout); notes and progress go to `log` (stderr).
import { join } from 'node:path';
import type { ArchName } from '../arch/profiles.js';
import { compileArchFor, compileCheck, findNvcc } from '../toolchain/nvcc.js';
import type { Emitted } from '../codegen/emit.js';
import { ToolError } from '../output/exit.js';
import { table } from './table.js';

export async function checkKernels(emitted: Emitted, arch: ArchName, log: (s: string) => void,
  print: (s: string) => void = (s) => void process.stdout.write(`${s}\n`)): Promise<boolean> {
  if (!findNvcc()) throw new ToolError('--check needs nvcc (CUDA toolkit) on PATH or in CUDA_HOME/bin');
  const target = compileArchFor(arch);
  if (target.note) log(target.note);
  const files = emitted.kernels.map((k) => join(emitted.dir, k.file));
  log(`compiling ${files.length} kernels for ${target.arch}...`);
  const results = await compileCheck(files, arch);
  print(table(
    ['kernel', 'arch', 'ok', 'registers', 'spill st/ld', 'static smem'],
    results.map((r) => [r.kernel, r.arch, r.ok ? 'yes' : 'NO', String(r.registers ?? '?'), `${r.spillStores ?? '?'}/${r.spillLoads ?? '?'}`, String(r.sharedStatic ?? '?')]),
  ));
  const bad = results.filter((r) => !r.ok);
  for (const r of bad) log(`--- ${r.file}\n${r.log}`);
  print(bad.length ? `check FAILED: ${bad.length} of ${results.length} kernels` : `check passed: ${results.length} kernels compile warning-free for ${target.arch}`);
  return bad.length === 0;
}
