// The launcher table (kernels/registry.cu) of a generated folder or a kernel folder: the runtime
// (src/native/runtime.cpp) looks kernels up in it by the names plan.json gives. Two launcher
// signatures: every family's cusnn_launcher, and cusnn_launcher_res for kernels whose epilogue adds
// a residual (igemm's `residual`), which take the residual's pointer and batch stride after the bias.
// An entry fills the field of its kernel's signature and leaves the other null, so the runtime can
// tell a step's kernel does (or does not) take the residual the step gives.
import { kernelNameOf, type KernelSpec } from '../families/registry.js';

const ARGS = 'const float*, long long, const float*, const float*, float*, long long, int, cudaStream_t';
const RES_ARGS = 'const float*, long long, const float*, const float*, const float*, long long, float*, long long, int, cudaStream_t';

/** Whether a kernel's launcher takes a residual (cusnn_launcher_res). */
export function takesResidual(spec: KernelSpec): boolean {
  return spec.family === 'igemm' && spec.residual === true;
}

export function renderLauncherTable(heading: readonly string[], specs: readonly KernelSpec[]): string {
  const kernels = specs.map((s) => ({ name: kernelNameOf(s), res: takesResidual(s) }));
  const lines = [
    ...heading.map((h) => `// ${h}`),
    '#include <cuda_runtime.h>',
    '',
    `typedef cudaError_t (*cusnn_launcher)(${ARGS});`,
    `typedef cudaError_t (*cusnn_launcher_res)(${RES_ARGS});`,
    '',
  ];
  for (const k of kernels) lines.push(`extern "C" cudaError_t cusnn_launch_${k.name}(${k.res ? RES_ARGS : ARGS});`);
  lines.push('', 'struct cusnn_kernel_entry { const char* name; cusnn_launcher launch; cusnn_launcher_res launchRes; };', '');
  lines.push(`extern "C" const int cusnn_kernel_count = ${kernels.length};`);
  lines.push(`extern "C" const cusnn_kernel_entry cusnn_kernels[${Math.max(1, kernels.length)}] = {`);
  for (const k of kernels) lines.push(k.res ? `  {"${k.name}", nullptr, cusnn_launch_${k.name}},` : `  {"${k.name}", cusnn_launch_${k.name}, nullptr},`);
  if (kernels.length === 0) lines.push('  {nullptr, nullptr, nullptr},');
  lines.push('};', '');
  return lines.join('\n');
}
