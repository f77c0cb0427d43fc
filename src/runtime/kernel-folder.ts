// A buildable folder of arbitrary generated kernels (kernels/*.cu, registry.cu and a CMakeLists.txt
// like the ones cusnn-gen writes) without a network around them: the GPU tests and `cusnn-gen tune`
// use it to compile many kernels into one addon and run each through a one-conv program. The
// kernels are rendered by the real renderers, so what is built is exactly what a plan would emit.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ServedLayer } from '../codegen/kernel.js';
import { renderLauncherTable } from '../codegen/registry.js';
import { isWeightSparse, kernelNameOf, renderKernel, type KernelSpec, type RenderInputs } from '../families/registry.js';
import type { WeightStructure } from '../families/wsparse/structure.js';
import { packageRoot } from '../paths.js';

export interface KernelFolder {
  /** The CMake target (the addon's name). */
  readonly target: string;
  /** Each spec's kernel name, in the order given (duplicates share one file). */
  readonly names: string[];
  /** The distinct kernels written, in first-seen order. */
  readonly kernels: string[];
}

/**
 * Writes `specs` into `dir` for `arch`. `servedBy(i)` names the layers spec i serves (its file's
 * header lists them; default: the problem in words). Specs with one kernel name are written once,
 * with the union of their layers. `structures(i)` is the weight structure a wsparse spec i is
 * rendered from (the kernel's nonzero lists; its digest must be the spec's).
 */
export function writeKernelFolder(
  dir: string, arch: string, specs: readonly KernelSpec[], target: string,
  servedBy: (index: number) => readonly ServedLayer[] = (i) => [{ model: 'test', layer: problemWords(specs[i]!) }],
  structures: (index: number) => WeightStructure | undefined = () => undefined,
): KernelFolder {
  mkdirSync(join(dir, 'kernels'), { recursive: true });
  // Each distinct kernel is rendered once, with every layer it serves.
  const byName = new Map<string, { spec: KernelSpec; served: ServedLayer[]; inputs: RenderInputs }>();
  const names = specs.map((spec, i) => {
    const name = kernelNameOf(spec);
    const e = byName.get(name) ?? { spec, served: [], inputs: isWeightSparse(spec) ? { structure: structures(i) } : {} };
    for (const l of servedBy(i)) if (!e.served.some((s) => s.model === l.model && s.layer === l.layer)) e.served.push(l);
    byName.set(name, e);
    return name;
  });
  for (const [name, { spec, served, inputs }] of byName) writeIfChanged(join(dir, 'kernels', `${name}.cu`), renderKernel(spec, served, inputs).source);
  const list = [...byName.keys()];
  const registry = renderLauncherTable(['Launcher table of a kernel folder.'], list.map((n) => byName.get(n)!.spec));
  writeIfChanged(join(dir, 'kernels', 'registry.cu'), registry);
  const cmake = [
    `# Kernels for ${arch}.`,
    'cmake_minimum_required(VERSION 3.24)',
    `project(${target} LANGUAGES CXX CUDA)`,
    'set(CMAKE_CXX_STANDARD 17)',
    'set(CMAKE_CUDA_STANDARD 17)',
    `set(CUSNN_ROOT ${JSON.stringify(packageRoot())} CACHE PATH "cusnn package root")`,
    'include(${CUSNN_ROOT}/cmake/cusnn.cmake)',
    `cusnn_add_network(${target} ARCH ${arch.slice(3)} KERNELS`,
    '  kernels/registry.cu',
    ...list.map((n) => `  kernels/${n}.cu`),
    ')',
    '',
  ].join('\n');
  writeIfChanged(join(dir, 'CMakeLists.txt'), cmake);
  return { target, names, kernels: list };
}

/** Unchanged files keep their mtime, so a rebuild of the same folder compiles nothing again. */
function writeIfChanged(file: string, text: string): void {
  if (existsSync(file) && readFileSync(file, 'utf8') === text) return;
  writeFileSync(file, text);
}

const problemWords = (s: KernelSpec): string => `${s.r}x${s.s}/${s.strideH} c${s.c} ${s.h}x${s.w} k${s.k}`;
