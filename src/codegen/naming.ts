// Kernel names. A name is the identity of a generated kernel: the emitter dedupes kernels by name
// (two layers with the same name share one .cu file), the runtime looks launchers up as
// cusnn_launch_<name>, and people read it in profiles. So a name must hold every field that
// changes the generated code, must be a valid C identifier, and must not depend on anything but
// the spec (no hashes of unrelated state, no counters).
//
// Activation-sparse grammar (fields in this order, optional ones only when they differ from the
// common case so everyday names stay short):
//
//   act<R>x<S>                      filter extent
//   _s<n> | _s<h>x<w>               stride, omitted when 1x1
//   _p<n> | _p<top>x<left>          leading padding, omitted when it is the 'same' default
//                                   (floor((R-1)/2), floor((S-1)/2))
//   _c<C>_h<H>_w<W>_k<K>            problem
//   _o<Ho>x<Wo>                     output extent, omitted when it follows from symmetric padding
//                                   (floor((H + 2*padTop - R) / strideH) + 1, same for W)
//   _th<th>_tw<tw>_tc<tc>_kb<kb>_cs<cs>   tiles
//   _bias _relu                     fused epilogue, when enabled
//   _sm<NN>                         target architecture
//
// e.g. act3x3_c128_h14_w14_k32_th2_tw7_tc16_kb32_cs2_sm90.
import type { ActSparseKernelSpec, ConvProblem } from '../plan/types.js';

const C_IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** True when `name` can be used as a C identifier (and therefore as a symbol suffix). */
export function isCIdentifier(name: string): boolean {
  return C_IDENTIFIER.test(name);
}

function pair(prefix: string, a: number, b: number): string {
  return a === b ? `_${prefix}${a}` : `_${prefix}${a}x${b}`;
}

function checkInt(spec: ActSparseKernelSpec, field: keyof ActSparseKernelSpec, min: number): void {
  const v = spec[field];
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min) {
    throw new Error(`act-sparse spec: ${String(field)} must be an integer >= ${min}, got ${String(v)}`);
  }
}

/**
 * The problem part of every family's kernel name: <prefix><R>x<S>[_s..][_p..]_c<C>_h<H>_w<W>_k<K>[_o..]
 * (the fields of the grammar above up to the tiles); each family appends its tiles, the epilogue and
 * the arch.
 */
export function problemName(prefix: string, spec: ConvProblem): string {
  let name = `${prefix}${spec.r}x${spec.s}`;
  if (spec.strideH !== 1 || spec.strideW !== 1) name += pair('s', spec.strideH, spec.strideW);
  const defTop = Math.floor((spec.r - 1) / 2);
  const defLeft = Math.floor((spec.s - 1) / 2);
  if (spec.padTop !== defTop || spec.padLeft !== defLeft) name += pair('p', spec.padTop, spec.padLeft);
  name += `_c${spec.c}_h${spec.h}_w${spec.w}_k${spec.k}`;
  const symHo = Math.floor((spec.h + 2 * spec.padTop - spec.r) / spec.strideH) + 1;
  const symWo = Math.floor((spec.w + 2 * spec.padLeft - spec.s) / spec.strideW) + 1;
  if (spec.ho !== symHo || spec.wo !== symWo) name += `_o${spec.ho}x${spec.wo}`;
  return name;
}

/** Deterministic, descriptive name of an activation-sparse kernel (see the grammar above). */
export function kernelName(spec: ActSparseKernelSpec): string {
  for (const f of ['c', 'h', 'w', 'k', 'r', 's', 'strideH', 'strideW', 'ho', 'wo', 'th', 'tw', 'tc', 'kb', 'cs'] as const) {
    checkInt(spec, f, 1);
  }
  checkInt(spec, 'padTop', 0);
  checkInt(spec, 'padLeft', 0);
  const arch = /^sm_(\d+)$/.exec(spec.arch);
  if (!arch) throw new Error(`act-sparse spec: arch must look like sm_NN, got '${spec.arch}'`);

  let name = problemName('act', spec);
  name += `_th${spec.th}_tw${spec.tw}_tc${spec.tc}_kb${spec.kb}_cs${spec.cs}`;
  if (spec.bias) name += '_bias';
  if (spec.relu) name += '_relu';
  name += `_sm${arch[1]}`;
  return name;
}
