// Kernel names. A name is the identity of a generated kernel: the emitter dedupes kernels by name
// (two layers with the same name share one .cu file), the runtime looks launchers up as
// cusnn_launch_<name>, and people read it in profiles. So a name must hold every field that
// changes the generated code, must be a valid C identifier, and must not depend on anything but
// the spec (no hashes of unrelated state, no counters).
//
// The problem part every family's name starts with (fields in this order, optional ones only when
// they differ from the common case so everyday names stay short):
//
//   <prefix><R>x<S>                 family prefix (act, igemm, dconv) and filter extent
//   _s<n> | _s<h>x<w>               stride, omitted when 1x1
//   _p<n> | _p<top>x<left>          leading padding, omitted when it is the 'same' default
//                                   (floor((R-1)/2), floor((S-1)/2))
//   _c<C>_h<H>_w<W>_k<K>            problem
//   _o<Ho>x<Wo>                     output extent, omitted when it follows from symmetric padding
//                                   (floor((H + 2*padTop - R) / strideH) + 1, same for W)
//
// Each family appends its tiles, the fused epilogue (_bias, _relu) and the arch (_sm<NN>) in its
// spec.ts (src/families/<name>/spec.ts), e.g. act3x3_c128_h14_w14_k32_th2_tw7_tc16_kb32_cs2_sm90.
import type { ConvProblem } from '../plan/types.js';

const C_IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** True when `name` can be used as a C identifier (and therefore as a symbol suffix). */
export function isCIdentifier(name: string): boolean {
  return C_IDENTIFIER.test(name);
}

function pair(prefix: string, a: number, b: number): string {
  return a === b ? `_${prefix}${a}` : `_${prefix}${a}x${b}`;
}

/**
 * The problem part of every family's kernel name: <prefix><R>x<S>[_s..][_p..]_c<C>_h<H>_w<W>_k<K>[_o..]
 * (the grammar above); each family appends its tiles, the epilogue and the arch.
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
