// Pieces of the header every generated kernel file starts with (templates/partials/header.hbs):
// aligned key/value rows and the problem section, shared by all kernel families.
import type { ConvProblem } from '../plan/types.js';
import type { ServedLayer } from './kernel.js';

const yesNo = (b: boolean): string => (b ? 'yes' : 'no');

/** Rows of `key  value` with the keys padded to one width. */
/** ", fused bias + ReLU" (the epilogue a kernel fuses, for its header's summary), or "" when it fuses neither. */
export function fusedEpilogue(spec: { readonly bias: boolean; readonly relu: boolean; readonly residual?: boolean }): string {
  const parts = [spec.bias ? 'bias' : null, spec.residual ? 'residual add' : null, spec.relu ? 'ReLU' : null].filter((x) => x !== null);
  return parts.length ? `, fused ${parts.join(' + ')}` : '';
}

export function table(rows: readonly (readonly [string, string])[]): string[] {
  const width = Math.max(...rows.map(([k]) => k.length));
  return rows.map(([k, v]) => `${k.padEnd(width)}  ${v}`);
}

/** The "Problem" section: input, filter, output, epilogue and the weight layout. */
export function problemSection(spec: ConvProblem & { readonly residual?: boolean }): { title: string; rows: string[] } {
  return {
    title: 'Problem (per batch item, NCHW fp32)',
    rows: table([
      ['input', `C ${spec.c}, H ${spec.h}, W ${spec.w}`],
      ['filter', `K ${spec.k}, R ${spec.r}, S ${spec.s}, stride ${spec.strideH}x${spec.strideW}, pad top ${spec.padTop} left ${spec.padLeft}`],
      ['output', `K ${spec.k}, Ho ${spec.ho}, Wo ${spec.wo}`],
      ['epilogue', `bias ${yesNo(spec.bias)}, ${spec.residual ? 'residual add yes (res [K][Ho][Wo] per item, before the ReLU), ' : ''}relu ${yesNo(spec.relu)}`],
      ['weights', `[C][R][S][K] fp32${spec.bias ? ', bias [K]' : ''}`],
    ]),
  };
}

/** One use of a kernel: a layer of the plan made for one batch size. */
export interface KernelUse {
  readonly layer: string;
  readonly batch: number;
}

/**
 * The "Serves" rows of a kernel in a folder planned for several batch sizes: each layer once (first
 * use order) with the batches whose plans run it on this kernel. With one batch planned, the bare
 * layer names, as single-batch folders have always listed them.
 */
export function servedAtBatches(model: string, uses: readonly KernelUse[], multiBatch: boolean): { model: string; layer: string }[] {
  const byLayer = new Map<string, number[]>();
  for (const u of uses) {
    const b = byLayer.get(u.layer) ?? [];
    if (!b.includes(u.batch)) b.push(u.batch);
    byLayer.set(u.layer, b);
  }
  return [...byLayer].map(([layer, batches]) => ({
    model,
    layer: multiBatch ? `${layer}  at batch ${[...batches].sort((a, b) => a - b).join(', ')}` : layer,
  }));
}

/**
 * The template fields every kernel family's context starts with: name, family, the layers served,
 * the problem's fields, the epilogue as literals and in words, the arch number and the launcher's
 * argument indents. A family spreads it and adds its tiles (and may override a field, as igemm's k).
 */
export function kernelContext(name: string, spec: ConvProblem & { readonly family: string; readonly arch: string; readonly residual?: boolean }, servedBy: readonly ServedLayer[]) {
  return {
    name, family: spec.family,
    servedBy: servedBy.map((l) => ({ model: l.model, layer: l.layer })),
    c: spec.c, h: spec.h, w: spec.w, k: spec.k, r: spec.r, s: spec.s,
    strideH: spec.strideH, strideW: spec.strideW, padTop: spec.padTop, padLeft: spec.padLeft, ho: spec.ho, wo: spec.wo,
    biasLiteral: String(spec.bias), reluLiteral: String(spec.relu), biasInt: spec.bias ? 1 : 0, reluInt: spec.relu ? 1 : 0,
    sm: Number(spec.arch.slice(3)),
    epilogueWhat: [spec.bias ? 'add bias[k]' : null, spec.residual ? 'add the residual' : null, spec.relu ? 'apply ReLU' : null].filter((x) => x !== null).join(', ') || 'no bias, no ReLU',
    nameIndent: ' '.repeat(name.length + 1),
    launchIndent: ' '.repeat('extern "C" cudaError_t cusnn_launch_'.length + name.length + 1),
  };
}
