// The weight-sparse family (src/families/wsparse, v2) on the CPU: for weights pruned by the
// project's own pruner (unstructured 50/80/90/95%, 2:4, block4x1, whole filters, plus output
// channels zeroed by hand) the tables the renderer writes into the .cu (kRowOrder, kRowStart, kCrs)
// and its literal constexprs are parsed back out of the source and evaluated in JS exactly as the
// kernel walks them: grid (ceil(K / CPB), PIX_TILES, batch), CPB * SPLIT warps a block, warp w on
// slot w / SPLIT and part w % SPLIT, the part's contiguous share of the channel's entries in
// batches of 32, the lanes' pixels (lane + 32 t, or 4 consecutive ones on the float4 path), the
// CRSK weights, fp32 FMAs in the kernel's order, the shared-memory sums added in part order, the
// epilogue, the short last channel tile and the all-zero channels. The result is held against the
// float64 reference conv (src/runtime/reference.ts) on odd shapes (3x3 stride 1 and 2, 1x1 stride 1
// and 2 and on the float4 path, 5x5, asymmetric padding, 'valid', a row wider than the pixel tile,
// C and K multiples of nothing, a channel over 256 nonzeros) at input zeros 0/50/90/100%. Every
// output must be written exactly once; the bits must not depend on PPL, CPB or the load path (only
// SPLIT regroups the sums). Also: the tables against the structure, the tiling rule, the
// static_asserts against the resources, the digest, the names, validation, and the errors when the
// structure is not the plan's.
import { describe, expect, it } from 'vitest';
import { gpuProfile, type ArchName } from '../../src/arch/profiles.js';
import { isCIdentifier } from '../../src/codegen/naming.js';
import { kernelNameOf, renderKernel, resourcesOf, specWithTiles, tilesOf } from '../../src/families/registry.js';
import { tableTypes } from '../../src/families/wsparse/render.js';
import { wsparseLayout } from '../../src/families/wsparse/resources.js';
import { balanceOf, rowOrder, rowStats, wsparseTables, wsparseWeightOrder } from '../../src/families/wsparse/schedule.js';
import {
  validateWsparseSpec, WSPARSE_CPBS, WSPARSE_PPLS, WSPARSE_SPLITS, wsparseVec4, type WsparseKernelSpec, type WsparseProblem, type WsparseTiles,
} from '../../src/families/wsparse/spec.js';
import { weightStructure, type WeightStructure } from '../../src/families/wsparse/structure.js';
import { chooseWsparseTiles, wsparseSpecFor } from '../../src/families/wsparse/tiles.js';
import { GraphBuilder } from '../../src/model/builder.js';
import { tensorKey, type ConvLayer, type Graph, type Padding } from '../../src/model/ir.js';
import { referenceForward } from '../../src/runtime/reference.js';
import { weightPattern } from '../../src/sparsity/weights.js';
import { pruneWeights, type PrunePattern } from '../../src/weights/prune.js';
import type { WeightSet } from '../../src/weights/store.js';
import { mulberry32, testSeed } from '../helpers/random.js';

const seed = testSeed();
const rnd = mulberry32(seed);
const TOL = 1e-5;
/**
 * Sums regrouped by another SPLIT: rel. L2 within SPLIT_TOL, max abs within SPLIT_MAX_ABS of the
 * output's scale (measured over 15 seeds x 11 shapes x splits 2/4/8: rel. L2 at most 2.5e-7, max
 * abs 5.2e-7 of the scale, a few ulps).
 */
const SPLIT_TOL = 1e-6;
const SPLIT_MAX_ABS = 4e-6;
const INPUT_ZEROS = [0, 0.5, 0.9, 1] as const;

interface Shape {
  readonly why: string;
  readonly c: number; readonly h: number; readonly w: number; readonly k: number;
  readonly r: number; readonly s: number; readonly stride: number; readonly pad: Padding;
  readonly pattern: PrunePattern; readonly sparsity: number;
  /** Output channels zeroed by hand after pruning. */
  readonly zeroChannels?: readonly number[];
}

const pad = (top: number, bottom: number, left: number, right: number): Padding => ({ top, bottom, left, right });
const SHAPES: Shape[] = [
  { why: '3x3/1 pad 1, C 37, 13x11, K 24, unstructured 90%', c: 37, h: 13, w: 11, k: 24, r: 3, s: 3, stride: 1, pad: pad(1, 1, 1, 1), pattern: 'unstructured', sparsity: 0.9 },
  { why: '3x3/2 asymmetric TF same (0, 1), C 20, 14x14, K 42, unstructured 80%', c: 20, h: 14, w: 14, k: 42, r: 3, s: 3, stride: 2, pad: pad(0, 1, 0, 1), pattern: 'unstructured', sparsity: 0.8 },
  { why: '3x3/2 pad 1 on odd 15x15, C 19, K 17, unstructured 95%', c: 19, h: 15, w: 15, k: 17, r: 3, s: 3, stride: 2, pad: pad(1, 1, 1, 1), pattern: 'unstructured', sparsity: 0.95 },
  { why: '1x1/1, C 50, 9x7 (63 pixels: no float4), K 72, unstructured 95%', c: 50, h: 9, w: 7, k: 72, r: 1, s: 1, stride: 1, pad: pad(0, 0, 0, 0), pattern: 'unstructured', sparsity: 0.95 },
  { why: '1x1/2 on odd 15x15, C 26, K 16, 2:4', c: 26, h: 15, w: 15, k: 16, r: 1, s: 1, stride: 2, pad: pad(0, 0, 0, 0), pattern: '2:4', sparsity: 0.5 },
  { why: '5x5 pad 2 on 11x13, C 12, K 24, block4x1 80%', c: 12, h: 11, w: 13, k: 24, r: 5, s: 5, stride: 1, pad: pad(2, 2, 2, 2), pattern: 'block4x1', sparsity: 0.8 },
  { why: '3x3 valid on 9x9, C 8, K 33, whole filters 75%', c: 8, h: 9, w: 9, k: 33, r: 3, s: 3, stride: 1, pad: pad(0, 0, 0, 0), pattern: 'filter', sparsity: 0.75 },
  { why: '3x3 pad (2, 0 | 1, 1) asymmetric, C 19, 10x12, K 20, 90% + channels 3 and 11 all-zero', c: 19, h: 10, w: 12, k: 20, r: 3, s: 3, stride: 1, pad: pad(2, 0, 1, 1), pattern: 'unstructured', sparsity: 0.9, zeroChannels: [3, 11] },
  { why: '3x3/1 pad 1 on 9x45 (rows wider than 32: a lane\'s pixels cross rows), C 6, K 10, unstructured 80%', c: 6, h: 9, w: 45, k: 10, r: 3, s: 3, stride: 1, pad: pad(1, 1, 1, 1), pattern: 'unstructured', sparsity: 0.8 },
  { why: '1x1/1 on 6x10 (float4 path, 60 pixels: a partial tile), C 40, K 36, unstructured 90% + channel 0 all-zero', c: 40, h: 6, w: 10, k: 36, r: 1, s: 1, stride: 1, pad: pad(0, 0, 0, 0), pattern: 'unstructured', sparsity: 0.9, zeroChannels: [0] },
  { why: '3x3/1 pad 1 on 7x7, C 64, K 12, unstructured 50% (channels of ~300 nonzeros: split capped at 8, > 32 per warp)', c: 64, h: 7, w: 7, k: 12, r: 3, s: 3, stride: 1, pad: pad(1, 1, 1, 1), pattern: 'unstructured', sparsity: 0.5 },
];

interface Layer {
  readonly graph: Graph;
  readonly conv: ConvLayer;
  readonly ws: WeightSet;
  readonly kernel: Float32Array;
  /** The kernel's nonzero values packed in its tables' order (what the runtime gives it). */
  readonly packed: Float32Array;
  readonly bias: Float32Array | null;
  readonly problem: WsparseProblem;
  readonly st: WeightStructure;
}

/** A one-conv graph with fresh random weights (per-channel scales spread 4x, so nonzero counts differ), pruned by the project's pruner. */
function prunedLayer(sh: Shape, arch: ArchName = 'sm_90'): Layer {
  const bias = rnd() < 0.7;
  const relu = rnd() < 0.5;
  const b = new GraphBuilder('one_conv', 'resnet', 'caffe');
  const x = b.input('input', [sh.c, sh.h, sh.w]);
  b.conv('conv', x, sh.k, { kernel: [sh.r, sh.s], stride: sh.stride, pad: sh.pad, bias });
  const graph = b.build();
  const conv = graph.layers.find((l): l is ConvLayer => l.op === 'conv')!;
  const crs = sh.c * sh.r * sh.s;
  const raw = new Float32Array(sh.k * crs);
  for (let o = 0; o < sh.k; o++) {
    const scale = 0.5 + 1.5 * rnd();
    for (let i = 0; i < crs; i++) raw[o * crs + i] = scale * (rnd() * 2 - 1) / Math.sqrt(crs);
  }
  const tensors = new Map<string, Float32Array>([[tensorKey('conv', 'kernel'), raw]]);
  if (bias) tensors.set(tensorKey('conv', 'bias'), new Float32Array(sh.k).map(() => rnd() - 0.5));
  const ws0: WeightSet = { model: 'one_conv', source: 'test', tensors, filled: [] };
  const pruned = pruneWeights(graph, ws0, { sparsity: sh.sparsity, pattern: sh.pattern, includeFirst: true }).weights;
  const kernel = pruned.tensors.get(tensorKey('conv', 'kernel'))!.slice();
  for (const o of sh.zeroChannels ?? []) kernel.fill(0, o * crs, (o + 1) * crs);
  const ws: WeightSet = { ...pruned, tensors: new Map([...pruned.tensors, [tensorKey('conv', 'kernel'), kernel]]) };
  const problem: WsparseProblem = {
    arch, c: sh.c, h: sh.h, w: sh.w, k: sh.k, r: sh.r, s: sh.s, strideH: sh.stride, strideW: sh.stride,
    padTop: sh.pad.top, padLeft: sh.pad.left, ho: conv.shape[1], wo: conv.shape[2], bias, relu,
  };
  const st = weightStructure(kernel, { k: sh.k, c: sh.c, r: sh.r, s: sh.s });
  return {
    graph, conv, ws, kernel, packed: Float32Array.from(wsparseWeightOrder(st), (i) => kernel[i]!), bias: bias ? ws.tensors.get(tensorKey('conv', 'bias'))! : null, problem, st,
  };
}

/** ReLU-like input with about `zeros` exact zeros (never all zero below 1); all zeros at 1. */
function reluInput(n: number, zeros: number): Float32Array {
  const x = new Float32Array(n);
  if (zeros >= 1) return x;
  for (let i = 0; i < n; i++) x[i] = rnd() < zeros ? 0 : 0.02 + 0.98 * rnd();
  x[Math.floor(rnd() * n)] = 0.5 + rnd();
  return x;
}

const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;

/** Fresh random valid tiles (cpb * split <= 8). */
function randomTiles(): Pick<WsparseTiles, 'ppl' | 'split' | 'cpb'> {
  const split = pick(WSPARSE_SPLITS);
  return { ppl: pick(WSPARSE_PPLS), split, cpb: pick(WSPARSE_CPBS.filter((c) => c * split <= 8)) };
}

// --------------------------------------------------------------------------------------------
// Reading the rendered source back: the literal constexprs, the static_asserts and the three tables.

interface Parsed {
  readonly int: (name: string) => number;
  readonly bool: (name: string) => boolean;
  readonly table: (name: string) => number[];
  /** The literal a static_assert holds `lhs` equal to. */
  readonly asserted: (lhs: string) => number;
  readonly tableType: (name: string) => string;
}

function parseSource(source: string): Parsed {
  const int = (name: string): number => {
    const m = new RegExp(`constexpr int ${name} = (-?\\d+);`).exec(source);
    if (!m) throw new Error(`no literal constexpr int ${name} in the source`);
    return Number(m[1]);
  };
  const bool = (name: string): boolean => {
    const m = new RegExp(`constexpr bool ${name} = (true|false);`).exec(source);
    if (!m) throw new Error(`no constexpr bool ${name}`);
    return m[1] === 'true';
  };
  const tableMatch = (name: string): RegExpExecArray => {
    // The values are the device pass's (#ifdef __CUDA_ARCH__); the host pass sees one 0.
    const m = new RegExp(`static __device__ const (\\w+) ${name}\\[[^\\]]*\\] = \\{\\n#ifdef __CUDA_ARCH__\\n([^}]*)\\n#else\\n0\\n#endif\\n\\};`).exec(source);
    if (!m) throw new Error(`no table ${name}`);
    return m;
  };
  const table = (name: string): number[] => tableMatch(name)[2]!.split(',').map((v) => v.trim()).filter((v) => v !== '').map(Number);
  const tableType = (name: string): string => tableMatch(name)[1]!;
  const asserted = (lhs: string): number => {
    const esc = lhs.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    const m = new RegExp(`static_assert\\(${esc} == (\\d+),`).exec(source);
    if (!m) throw new Error(`no static_assert(${lhs} == N, ...)`);
    return Number(m[1]);
  };
  return { int, bool, table, asserted, tableType };
}

/**
 * Lines of templates/wsparse.cu.hbs whose index math runKernel repeats: a change there must be
 * repeated here (the test fails until it is).
 */
const MIRRORED = [
  'constexpr int THREADS = 32 * SPLIT * CPB;', 'constexpr int CH_TILES = (K + CPB - 1) / CPB;', 'constexpr int PIX_T = 32 * PPL;',
  'constexpr int PIX_TILES = (PIX + PIX_T - 1) / PIX_T;', 'constexpr int RS = R * S, HW = H * W, PIX = HO * WO;',
  'constexpr bool INSIDE = R == 1 && S == 1 && PT == 0 && PL == 0 && (HO - 1) * SH < H && (WO - 1) * SW < W;',
  'constexpr int RED_FLOATS = SPLIT > 1 ? CPB * (SPLIT - 1) * PIX_T : 1;',
  'const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;', 'const int slot = warp / SPLIT, part = warp - (warp / SPLIT) * SPLIT;',
  'const int row = blockIdx.x * CPB + slot;', 'const bool have = row < K;', 'const int k = have ? kRowOrder[row] : 0;',
  'const int p0 = blockIdx.y * PIX_T;', 'const float* x = in + static_cast<long long>(blockIdx.z) * inBatchStride;',
  'float* y = out + static_cast<long long>(blockIdx.z) * outBatchStride;', 'const int e0 = static_cast<int>(kRowStart[k]);',
  'const int n = have ? static_cast<int>(kRowStart[k + 1]) - e0 : 0;', 'const int a = e0 + (n * part) / SPLIT, b = e0 + (n * (part + 1)) / SPLIT;',
  'for (int t = 0; t < PPL; ++t) acc[t] = 0.0f;',
  // float4 path
  'const int p = p0 + 4 * lane;', 'const bool ok = p < PIX;', 'for (int base = a; base < b; base += 32) {', 'const int m = min(32, b - base);',
  'myOff = crs * HW;  // 1x1: crs is the input channel', 'myW = __ldg(wt + base + lane);',
  'const float4 ld = loadAlways4(live ? x + off + p : x);', 'v[u] = live ? ld : make_float4(0.0f, 0.0f, 0.0f, 0.0f);', 'if (j0 + u < m) {',
  'acc[0] = fmaf(wv[u], v[u].x, acc[0]);', 'acc[1 % PPL] = fmaf(wv[u], v[u].y, acc[1 % PPL]);',
  'acc[2 % PPL] = fmaf(wv[u], v[u].z, acc[2 % PPL]);', 'acc[3 % PPL] = fmaf(wv[u], v[u].w, acc[3 % PPL]);',
  'for (int j0 = 0; j0 < m; j0 += WU) {', 'const int j = j0 + u;', 'const bool live = ok && j < m;',
  // scalar path
  'const int p = p0 + lane + 32 * t;', 'const int oy = ok ? p / WO : 0, ox = ok ? p - (p / WO) * WO : 0;',
  'const int iy0 = oy * SH - PT, ix0 = ox * SW - PL;', 'pos[t] = iy0 * W + ix0;', 'for (int r = 0; r < R; ++r) {', 'for (int s = 0; s < S; ++s) {',
  'const bool inside = INSIDE || (static_cast<unsigned>(iy0 + r) < static_cast<unsigned>(H) &&',
  'static_cast<unsigned>(ix0 + s) < static_cast<unsigned>(W));', 'if (ok && inside) m |= Taps(1) << (r * S + s);', 'taps[t] = m;',
  'const int c = crs / RS, rs = crs - (crs / RS) * RS;', 'const int r = rs / S, s = rs - (rs / S) * S;',
  'myOff = c * HW + r * W + s;', 'myBit = Taps(1) << rs;', 'Taps myBit = 0;', 'const Taps bit = RS == 1 ? Taps(j < m ? 1 : 0) : shflTaps(myBit, j & 31);',
  'const bool in_ = (taps[t] & bit) != 0;', 'const float ld = loadAlways(in_ ? x + off + pos[t] : x);', 'v[u][t] = in_ ? ld : 0.0f;',
  'for (int t = 0; t < PPL; ++t) acc[t] = fmaf(wv[u], v[u][t], acc[t]);',
  // reduction and epilogue
  'float* mine = red + slot * (SPLIT - 1) * PIX_T;', 'for (int t = 0; t < PPL; ++t) mine[((part - 1) * PPL + t) * 32 + lane] = acc[t];',
  'if (part > 0) return;', 'for (int v = 1; v < SPLIT; ++v) {', 'for (int t = 0; t < PPL; ++t) acc[t] += mine[((v - 1) * PPL + t) * 32 + lane];',
  'if (!have) return;', 'const float bk = HAS_BIAS ? __ldg(bias + k) : 0.0f;', 'if (HAS_BIAS) v += bk;', 'if (APPLY_RELU) v = fmaxf(v, 0.0f);',
  'float* yk = y + static_cast<long long>(k) * PIX;',
  'if (p < PIX) *reinterpret_cast<float4*>(yk + p) = make_float4(acc[0], acc[1 % PPL], acc[2 % PPL], acc[3 % PPL]);', 'if (p < PIX) yk[p] = acc[t];',
  // launcher
  'const dim3 grid(CH_TILES, PIX_TILES, static_cast<unsigned>(nb));',
  'grid, dim3(THREADS), 0, stream, inB, inBatchStride, weights', 'cusnnWaitForPriorGrid();',
  '::body<false>(in, inBatchStride, wt, bias, out, outBatchStride);',
];

interface RunOptions {
  /** The launcher's float4 choice (aligned pointers): the <name>_vec4 kernel (body<true>); false: <name> (body<false>). */
  readonly vec: boolean;
}

/**
 * The kernel, in JS: the template's loops and index math over the parsed tables, in fp32 with
 * fmaf's order (w * x is exact in float64, then one add, rounded to fp32: a double rounding that can
 * differ from a fused fmaf in the last bit on rare ties, far below any tolerance here). Input NCHW
 * with batch items C*H*W apart, output K*PIX apart. Writes `out` and counts the writes of every
 * element; any read outside a table, the input, the weights or the shared sums throws.
 */
function runKernel(source: string, x: Float32Array, batch: number, packed: Float32Array, bias: Float32Array | null, out: Float32Array, writes: Uint8Array, o: RunOptions): void {
  for (const line of MIRRORED) if (!source.includes(line)) throw new Error(`the template no longer has '${line}': update runKernel to match`);
  const P = parseSource(source);
  const C = P.int('C'), H = P.int('H'), W = P.int('W'), K = P.int('K'), R = P.int('R'), S = P.int('S');
  const SH = P.int('SH'), SW = P.int('SW'), PT = P.int('PT'), PL = P.int('PL'), HO = P.int('HO'), WO = P.int('WO');
  const HAS_BIAS = P.bool('HAS_BIAS'), APPLY_RELU = P.bool('APPLY_RELU'), VEC4_OK = P.bool('VEC4_OK');
  const PPL = P.int('PPL'), SPLIT = P.int('SPLIT'), CPB = P.int('CPB'), N_ENTRIES = P.int('N_ENTRIES');
  const kRowOrder = P.table('kRowOrder'), kRowStart = P.table('kRowStart'), kCrs = P.table('kCrs');
  const RS = R * S, HW = H * W, PIX = HO * WO;
  const THREADS = 32 * SPLIT * CPB, CH_TILES = Math.ceil(K / CPB), PIX_T = 32 * PPL, PIX_TILES = Math.ceil(PIX / PIX_T);
  const INSIDE = R === 1 && S === 1 && PT === 0 && PL === 0 && (HO - 1) * SH < H && (WO - 1) * SW < W;
  const RED_FLOATS = SPLIT > 1 ? CPB * (SPLIT - 1) * PIX_T : 1;
  expect(P.asserted('THREADS'), 'THREADS as the planner counted').toBe(THREADS);
  expect(P.asserted('PIX_TILES'), 'PIX_TILES as the planner counted').toBe(PIX_TILES);
  expect(kRowOrder.length).toBe(K);
  expect(kRowStart.length).toBe(K + 1);
  expect(kCrs.length).toBe(Math.max(1, N_ENTRIES));
  expect(x.length).toBe(batch * C * HW);
  expect(packed.length).toBe(N_ENTRIES);
  if (VEC4_OK) expect(PPL === 4 && PIX % 4 === 0 && HW === PIX, 'VEC4_OK: 4 whole pixels per lane').toBe(true);
  const VEC = o.vec && VEC4_OK;
  const f = Math.fround;
  const at = <T>(arr: ArrayLike<T>, i: number, what: string): T => {
    if (!(Number.isInteger(i) && i >= 0 && i < arr.length)) throw new Error(`${what}: index ${i} outside [0, ${arr.length})`);
    return arr[i]!;
  };
  const acc = new Float32Array(THREADS * PPL); // [warp][lane][t]
  const red = new Float32Array(RED_FLOATS);
  const redSet = new Uint8Array(RED_FLOATS);
  for (let bz = 0; bz < batch; bz++) {
    const xb = bz * C * HW, yb = bz * K * PIX;
    for (let by = 0; by < PIX_TILES; by++) {
      for (let bx = 0; bx < CH_TILES; bx++) {
        acc.fill(0);
        redSet.fill(0);
        red.fill(Number.NaN);
        const warps = THREADS / 32;
        const blockOf = (warp: number) => {
          const slot = Math.floor(warp / SPLIT), part = warp - slot * SPLIT;
          const row = bx * CPB + slot;
          const have = row < K;
          const k = have ? at(kRowOrder, row, 'kRowOrder') : 0;
          return { slot, part, row, have, k };
        };
        // Phase 1: every warp sums its share.
        for (let warp = 0; warp < warps; warp++) {
          const { part, have, k } = blockOf(warp);
          const p0 = by * PIX_T;
          const e0 = at(kRowStart, k, 'kRowStart');
          const n = have ? at(kRowStart, k + 1, 'kRowStart') - e0 : 0;
          const a = e0 + Math.floor((n * part) / SPLIT), b = e0 + Math.floor((n * (part + 1)) / SPLIT);
          for (let lane = 0; lane < 32; lane++) {
            const A = (warp * 32 + lane) * PPL;
            if (VEC) {
              const p = p0 + 4 * lane;
              const ok = p < PIX;
              for (let base = a; base < b; base += 32) {
                const m = Math.min(32, b - base);
                for (let j = 0; j < m; j++) {
                  const crs = at(kCrs, base + j, 'kCrs');
                  const off = crs * HW;
                  const w = at(packed, base + j, 'weights');
                  if (ok) {
                    if (p + 3 >= HW) throw new Error(`float4 read of pixels ${p}..${p + 3} past the plane's ${HW}`);
                    for (let q = 0; q < 4; q++) acc[A + (q % PPL)] = f(w * at(x, xb + off + p + q, 'input') + acc[A + (q % PPL)]!);
                  }
                }
              }
            } else {
              // Per pixel: its window's offset and the mask of taps inside the input (bit r * S + s).
              const pos: number[] = [], taps: bigint[] = [], iy0: number[] = [], ix0: number[] = [];
              for (let t = 0; t < PPL; t++) {
                const p = p0 + lane + 32 * t;
                const ok = p < PIX;
                const oy = ok ? Math.floor(p / WO) : 0, ox = ok ? p - Math.floor(p / WO) * WO : 0;
                iy0[t] = oy * SH - PT;
                ix0[t] = ox * SW - PL;
                pos[t] = iy0[t]! * W + ix0[t]!;
                let m = 0n;
                for (let r = 0; r < R; r++) {
                  for (let s = 0; s < S; s++) {
                    const inside = INSIDE || (iy0[t]! + r >= 0 && iy0[t]! + r < H && ix0[t]! + s >= 0 && ix0[t]! + s < W);
                    if (ok && inside) m |= 1n << BigInt(r * S + s);
                  }
                }
                taps[t] = m;
              }
              for (let base = a; base < b; base += 32) {
                const m = Math.min(32, b - base);
                for (let j = 0; j < m; j++) {
                  const crs = at(kCrs, base + j, 'kCrs');
                  const c = Math.floor(crs / RS), rs = crs - c * RS;
                  const r = Math.floor(rs / S), s = rs - r * S;
                  const off = c * HW + r * W + s;
                  const bit = 1n << BigInt(rs);
                  const w = at(packed, base + j, 'weights');
                  for (let t = 0; t < PPL; t++) {
                    const iy = iy0[t]! + r, ix = ix0[t]! + s;
                    const inside = iy >= 0 && iy < H && ix >= 0 && ix < W;
                    const in_ = (taps[t]! & bit) !== 0n;
                    if (in_ && !inside) throw new Error(`tap mask: pixel ${p0 + lane + 32 * t} reads (${iy}, ${ix}) outside ${H}x${W}`);
                    const v = in_ ? at(x, xb + off + pos[t]!, 'input') : 0;
                    acc[A + t] = f(w * v + acc[A + t]!);
                  }
                }
              }
            }
          }
        }
        // Parts 1..SPLIT-1 leave their sums in shared memory (each float once), __syncthreads().
        if (SPLIT > 1) {
          for (let warp = 0; warp < warps; warp++) {
            const { slot, part } = blockOf(warp);
            if (part === 0) continue;
            const mine = slot * (SPLIT - 1) * PIX_T;
            for (let lane = 0; lane < 32; lane++) {
              for (let t = 0; t < PPL; t++) {
                const i = mine + ((part - 1) * PPL + t) * 32 + lane;
                if (at(redSet, i, 'shared sums') !== 0) throw new Error(`shared float ${i} written twice in block (${bx}, ${by})`);
                redSet[i] = 1;
                red[i] = acc[(warp * 32 + lane) * PPL + t]!;
              }
            }
          }
        }
        // Part 0 adds them in part order, then the epilogue and the stores.
        for (let warp = 0; warp < warps; warp++) {
          const { slot, part, have, k } = blockOf(warp);
          if (SPLIT > 1 && part > 0) continue;
          const p0 = by * PIX_T;
          for (let lane = 0; lane < 32; lane++) {
            const A = (warp * 32 + lane) * PPL;
            if (SPLIT > 1) {
              const mine = slot * (SPLIT - 1) * PIX_T;
              for (let v = 1; v < SPLIT; v++) {
                for (let t = 0; t < PPL; t++) {
                  const i = mine + ((v - 1) * PPL + t) * 32 + lane;
                  if (at(redSet, i, 'shared sums') !== 1) throw new Error(`shared float ${i} read before it was written`);
                  acc[A + t] = f(acc[A + t]! + red[i]!);
                }
              }
            }
            if (!have) continue;
            const bk = HAS_BIAS ? at(bias!, k, 'bias') : 0;
            for (let t = 0; t < PPL; t++) {
              let v = acc[A + t]!;
              if (HAS_BIAS) v = f(v + bk);
              if (APPLY_RELU) v = Math.max(v, 0);
              acc[A + t] = v;
            }
            const store = (p: number, v: number): void => {
              if (p >= PIX) throw new Error(`store of pixel ${p} past ${PIX}`);
              const i = yb + k * PIX + p;
              out[i] = v;
              writes[i]!++;
            };
            if (VEC) {
              const p = p0 + 4 * lane;
              if (p < PIX) for (let q = 0; q < 4; q++) store(p + q, acc[A + (q % PPL)]!);
            } else {
              for (let t = 0; t < PPL; t++) {
                const p = p0 + lane + 32 * t;
                if (p < PIX) store(p, acc[A + t]!);
              }
            }
          }
        }
      }
    }
  }
}

/** Float64 reference (the project's CPU reference) with the fused ReLU. */
function reference(l: Layer, x: Float32Array, batch: number): Float64Array {
  const y = referenceForward(l.graph, l.ws, x, batch).outputs.get('conv')!;
  return l.problem.relu ? y.map((v) => Math.max(v, 0)) : y;
}

function compare(y: ArrayLike<number>, ref: ArrayLike<number>): { rel: number; maxAbs: number; scale: number } {
  let num = 0, den = 0, maxAbs = 0, scale = 0;
  for (let i = 0; i < y.length; i++) {
    const d = y[i]! - ref[i]!;
    num += d * d;
    den += ref[i]! * ref[i]!;
    maxAbs = Math.max(maxAbs, Math.abs(d));
    scale = Math.max(scale, Math.abs(ref[i]!));
  }
  return { rel: den === 0 ? (num === 0 ? 0 : Infinity) : Math.sqrt(num / den), maxAbs, scale };
}

const sameBits = (a: Float32Array, b: Float32Array): boolean => {
  const ua = new Uint32Array(a.buffer, a.byteOffset, a.length), ub = new Uint32Array(b.buffer, b.byteOffset, b.length);
  return ua.length === ub.length && ua.every((v, i) => v === ub[i]);
};

/** Render, run, check every output written once and the error against `ref`; returns the output. */
function runChecked(spec: WsparseKernelSpec, l: Layer, x: Float32Array, batch: number, ref: Float64Array, what: string, o: RunOptions, source?: string): Float32Array {
  const src = source ?? renderKernel(spec, [{ model: 'test', layer: what }], { structure: l.st }).source;
  const out = new Float32Array(ref.length).fill(Number.NaN);
  const writes = new Uint8Array(ref.length);
  runKernel(src, x, batch, l.packed, l.bias, out, writes, o);
  const tag = `${kernelNameOf(spec)}${wsparseVec4(spec) && !o.vec ? ' (scalar path)' : ''} (${what})`;
  expect(writes.every((n) => n === 1), `${tag}: every output written exactly once (${writes.filter((n) => n === 0).length} unwritten, ${writes.filter((n) => n > 1).length} more than once)`).toBe(true);
  const e = compare(out, ref);
  expect(e.rel, `${tag}: rel. L2 error ${e.rel.toExponential(2)}`).toBeLessThanOrEqual(TOL);
  expect(e.maxAbs, `${tag}: max abs error ${e.maxAbs.toExponential(2)} of scale ${e.scale.toExponential(2)}`).toBeLessThanOrEqual(TOL * e.scale);
  return out;
}

describe(`wsparse family v2 (seed ${seed})`, () => {
  const p90 = gpuProfile('sm_90');

  it('the rendered tables, evaluated as the kernel walks them, match the float64 reference conv on odd shapes and patterns at input zeros 0/50/90/100%', () => {
    let checked = 0;
    const splitsSeen = new Set<number>();
    let vecSeen = 0;
    for (const sh of SHAPES) {
      const l = prunedLayer(sh);
      const wp = weightPattern(l.kernel, [sh.k, sh.c, sh.r, sh.s]);
      expect(wp.sparsity, sh.why).toBeGreaterThanOrEqual(sh.sparsity - 0.05); // 2:4 on C 26: the last 2 channels keep both
      if (sh.pattern !== 'unstructured') expect(wp.pattern, sh.why).toBe(sh.pattern);
      const rule = chooseWsparseTiles(p90, l.problem, 2, l.st);
      expect(rule, sh.why).not.toBeNull();
      const specs: WsparseKernelSpec[] = [rule!.spec, ...[0, 1, 2].map(() => wsparseSpecFor(l.problem, l.st, randomTiles()))];
      const sources = specs.map((spec) => renderKernel(spec, [{ model: 'test', layer: sh.why }], { structure: l.st }));
      for (const { name } of sources) expect(isCIdentifier(name), name).toBe(true);
      const batch = 2;
      for (const zeros of INPUT_ZEROS) {
        const x = reluInput(batch * sh.c * sh.h * sh.w, zeros);
        const ref = reference(l, x, batch);
        const what = `${sh.why}, input ${100 * zeros}% zeros`;
        specs.forEach((spec, i) => {
          splitsSeen.add(spec.split);
          const out = runChecked(spec, l, x, batch, ref, what, { vec: true }, sources[i]!.source);
          if (wsparseVec4(spec)) {
            // Unaligned pointers take the scalar path: the same sums in the same order, the same bits.
            vecSeen++;
            const scalar = runChecked(spec, l, x, batch, ref, what, { vec: false }, sources[i]!.source);
            expect(sameBits(scalar, out), `${sources[i]!.name}: float4 and scalar paths bitwise equal`).toBe(true);
          }
          if (zeros === 1) {
            // All-zero input: every output is the epilogue of 0 exactly (+0 without bias, never -0).
            const PIX = l.problem.ho * l.problem.wo;
            for (let j = 0; j < out.length; j++) {
              const k = Math.floor(j / PIX) % sh.k;
              let want = l.bias ? l.bias[k]! : 0;
              if (l.problem.relu) want = Math.max(want, 0);
              if (!Object.is(out[j], want)) expect(out[j], `${sources[i]!.name}: output ${j} (channel ${k}) on an all-zero input`).toBe(want);
            }
          }
          checked++;
        });
      }
    }
    expect(checked).toBe(4 * INPUT_ZEROS.length * SHAPES.length);
    expect(vecSeen, 'the float4 path was evaluated').toBeGreaterThan(0);
    expect(splitsSeen.size, 'several splits were evaluated').toBeGreaterThan(1);
  });

  it('deterministic; the bits do not depend on PPL, CPB or the load path; another SPLIT regroups the sums (rel. L2 within 1e-6)', () => {
    for (const sh of SHAPES) {
      const l = prunedLayer(sh);
      const batch = 1;
      const x = reluInput(sh.c * sh.h * sh.w, 0.5);
      const ref = reference(l, x, batch);
      // Rendered twice: the same source, the same bits.
      const rule = chooseWsparseTiles(p90, l.problem, batch, l.st)!.spec;
      const r1 = renderKernel(rule, [{ model: 'test', layer: 'conv' }], { structure: l.st });
      const r2 = renderKernel({ ...rule }, [{ model: 'test', layer: 'conv' }], { structure: weightStructure(l.kernel.slice(), l.st) });
      expect(r2.source).toBe(r1.source);
      const o1 = runChecked(rule, l, x, batch, ref, sh.why, { vec: true }, r1.source);
      const o2 = runChecked(rule, l, x, batch, ref, sh.why, { vec: true }, r2.source);
      expect(sameBits(o1, o2), `${r1.name}: evaluated twice, bitwise equal`).toBe(true);
      // Every cpb of every split, at a fresh random ppl each (and the scalar path where float4 applies).
      const bySplit = new Map<number, Float32Array>();
      for (const split of WSPARSE_SPLITS) {
        let first: Float32Array | null = null;
        let firstName = '';
        for (const cpb of WSPARSE_CPBS.filter((c) => c * split <= 8)) {
          const spec = wsparseSpecFor(l.problem, l.st, { ppl: pick(WSPARSE_PPLS), split, cpb });
          const out = runChecked(spec, l, x, batch, ref, sh.why, { vec: rnd() < 0.5 });
          if (!first) {
            first = out;
            firstName = kernelNameOf(spec);
          } else {
            expect(sameBits(out, first), `${sh.why}: ${kernelNameOf(spec)} bitwise equal to ${firstName} (same split)`).toBe(true);
          }
        }
        bySplit.set(split, first!);
      }
      const one = bySplit.get(1)!;
      for (const split of [2, 4, 8]) {
        const e = compare(bySplit.get(split)!, one);
        expect(e.rel, `${sh.why}: split ${split} vs 1, rel. L2 ${e.rel.toExponential(2)}`).toBeLessThanOrEqual(SPLIT_TOL);
        expect(e.maxAbs, `${sh.why}: split ${split} vs 1, max abs ${e.maxAbs.toExponential(2)} of scale ${e.scale.toExponential(2)}`).toBeLessThanOrEqual(SPLIT_MAX_ABS * e.scale);
      }
    }
  });

  it('the check can fail: a wrong offset, a lost nonzero or a repeated channel in the tables is caught', () => {
    const sh = SHAPES[0]!;
    const l0 = prunedLayer(sh);
    const l: Layer = { ...l0, problem: { ...l0.problem, relu: false } }; // no ReLU: a dead channel would hide its sums
    const spec = wsparseSpecFor(l.problem, l.st, { ppl: 2, split: 2, cpb: 2 });
    const { source } = renderKernel(spec, [{ model: 'test', layer: 'conv' }], { structure: l.st });
    const x = reluInput(sh.c * sh.h * sh.w, 0.2);
    const ref = reference(l, x, 1);
    const run = (src: string) => {
      const out = new Float32Array(ref.length).fill(Number.NaN);
      const writes = new Uint8Array(ref.length);
      runKernel(src, x, 1, l.packed, l.bias, out, writes, { vec: true });
      return { once: writes.every((n) => n === 1), rel: compare(out, ref).rel };
    };
    expect(run(source)).toEqual({ once: true, rel: expect.any(Number) });
    expect(run(source).rel).toBeLessThanOrEqual(TOL);
    const retable = (name: string, edit: (t: number[]) => void): string => {
      const t = parseSource(source).table(name);
      edit(t);
      return source.replace(new RegExp(`(static __device__ const \\w+ ${name}\\[[^\\]]*\\] = \\{\\n#ifdef __CUDA_ARCH__\\n)[^}]*?(\\n#else)`), `$1    ${t.join(',')},$2`);
    };
    const crs = sh.c * sh.r * sh.s;
    // The busiest channel's first offset moved by one filter tap.
    const k0 = rowOrder(l.st)[0]!;
    const e = l.st.start[k0]!;
    expect(run(retable('kCrs', (t) => { t[e] = (t[e]! + 1) % crs; })).rel).toBeGreaterThan(TOL);
    // A nonzero dropped from the busiest channel (its end moved one back).
    expect(run(retable('kRowStart', (t) => { t[k0 + 1] = t[k0 + 1]! - 1; })).rel).toBeGreaterThan(TOL);
    // One channel dispatched twice, another never: not every output written once.
    expect(run(retable('kRowOrder', (t) => { t[t.length - 1] = t[0]!; })).once).toBe(false);
  });

  it('the tables follow the structure: every nonzero once, ascending per channel, channels longest first (ties by index), all-zero channels present', () => {
    for (const sh of SHAPES) {
      const l = prunedLayer(sh);
      const spec = wsparseSpecFor(l.problem, l.st, randomTiles());
      const { source } = renderKernel(spec, [{ model: 'test', layer: sh.why }], { structure: l.st });
      const P = parseSource(source);
      const order = P.table('kRowOrder'), start = P.table('kRowStart'), crsT = P.table('kCrs');
      const K = sh.k, CRS = sh.c * sh.r * sh.s;
      expect(P.int('N_ENTRIES')).toBe(spec.nnz);
      expect(start[0]).toBe(0);
      expect(start[K]).toBe(spec.nnz);
      // From the weights themselves: channel k's list is exactly the ascending offsets of its nonzero weights.
      let zeroChannels = 0;
      for (let k = 0; k < K; k++) {
        const want: number[] = [];
        for (let i = 0; i < CRS; i++) if (l.kernel[k * CRS + i] !== 0) want.push(i);
        expect(crsT.slice(start[k]!, start[k + 1]!), `${sh.why}: channel ${k}`).toEqual(want);
        if (want.length === 0) zeroChannels++;
        // The SPLIT shares of the kernel cover the list once, contiguous and in order, each within one of the mean.
        for (const split of WSPARSE_SPLITS) {
          const n = want.length;
          let end = 0;
          for (let part = 0; part < split; part++) {
            const a = Math.floor((n * part) / split), b = Math.floor((n * (part + 1)) / split);
            expect(a).toBe(end);
            expect(b - a).toBeLessThanOrEqual(Math.ceil(n / split));
            expect(b - a).toBeGreaterThanOrEqual(Math.floor(n / split));
            end = b;
          }
          expect(end).toBe(n);
        }
      }
      for (const o of sh.zeroChannels ?? []) expect(start[o + 1]! - start[o]!, `channel ${o} zeroed by hand`).toBe(0);
      expect(rowStats(l.st).empty).toBe(zeroChannels);
      expect(spec.kActive).toBe(K - zeroChannels);
      // kRowOrder: a permutation of the channels (all-zero ones included), counts non-increasing, ties by ascending index.
      expect([...order].sort((a, b) => a - b)).toEqual([...Array(K).keys()]);
      const cnt = (k: number): number => start[k + 1]! - start[k]!;
      for (let i = 1; i < K; i++) {
        const a = order[i - 1]!, b = order[i]!;
        expect(cnt(a) > cnt(b) || (cnt(a) === cnt(b) && a < b), `${sh.why}: kRowOrder[${i - 1}] = ${a} (${cnt(a)}) before ${b} (${cnt(b)})`).toBe(true);
      }
      expect(cnt(order[0]!)).toBe(spec.rowMax);
      for (let i = 0; i < zeroChannels; i++) expect(cnt(order[K - 1 - i]!)).toBe(0);
      // The schedule's own tables are the rendered ones; the types fit the values.
      const t = wsparseTables(l.st);
      expect([[...t.rowOrder], [...t.rowStart], [...t.entries]]).toEqual([order, start, crsT.slice(0, spec.nnz)]);
      const types = tableTypes(spec);
      expect([P.tableType('kRowStart'), P.tableType('kCrs')]).toEqual([types.startType, types.offsetType]);
      expect(P.tableType('kRowStart')).toBe(spec.nnz <= 65535 ? 'uint16_t' : 'uint32_t');
      expect(P.tableType('kCrs')).toBe(CRS <= 65536 ? 'uint16_t' : 'uint32_t');
      expect(balanceOf(rowStats(l.st), K)).toBeCloseTo(spec.nnz === 0 ? 1 : spec.rowMax / (spec.nnz / K), 12);
    }
    // Table types at their limits, and an all-zero kernel (one-element arrays, every channel all-zero).
    expect(tableTypes({ c: 65536, r: 1, s: 1, nnz: 65535 })).toEqual({ offsetType: 'uint16_t', startType: 'uint16_t' });
    expect(tableTypes({ c: 65537, r: 1, s: 1, nnz: 65536 })).toEqual({ offsetType: 'uint32_t', startType: 'uint32_t' });
    const zst = weightStructure(new Float32Array(5 * 3 * 9), { k: 5, c: 3, r: 3, s: 3 });
    const zproblem: WsparseProblem = { arch: 'sm_90', c: 3, h: 5, w: 5, k: 5, r: 3, s: 3, strideH: 1, strideW: 1, padTop: 1, padLeft: 1, ho: 5, wo: 5, bias: true, relu: false };
    const zspec = wsparseSpecFor(zproblem, zst, { ppl: 1, split: 1, cpb: 2 });
    const zsrc = parseSource(renderKernel(zspec, [{ model: 'test', layer: 'zero' }], { structure: zst }).source);
    expect([zsrc.table('kRowOrder'), zsrc.table('kRowStart'), zsrc.table('kCrs')]).toEqual([[0, 1, 2, 3, 4], [0, 0, 0, 0, 0, 0], [0]]);
  });

  it('the rule: smallest split leaving <= 32 nonzeros a warp, cpb fills 8 warps unless the grid would fall under 2 blocks per SM, ppl 4 on the float4 1x1', () => {
    /** A structure whose channels have these nonzero counts, at random offsets. */
    const withCounts = (k: number, c: number, r: number, s: number, counts: readonly number[]): WeightStructure => {
      const crs = c * r * s;
      const kernel = new Float32Array(k * crs);
      for (let o = 0; o < k; o++) {
        const idx = [...Array(crs).keys()];
        for (let i = 0; i < counts[o]!; i++) {
          const j = i + Math.floor(rnd() * (crs - i));
          [idx[i], idx[j]] = [idx[j]!, idx[i]!];
          kernel[o * crs + idx[i]!] = rnd() + 0.1;
        }
      }
      return weightStructure(kernel, { k, c, r, s });
    };
    const use = (pix: number, ppl: number): number => pix / (Math.ceil(pix / (32 * ppl)) * 32 * ppl);
    const splitsSeen = new Set<number>(), cpbsSeen = new Set<number>(), pplsSeen = new Set<number>();
    const sizes = [[7, 7], [14, 14], [28, 28], [56, 56], [9, 7], [3, 5], [15, 15]] as const;
    for (let trial = 0; trial < 60; trial++) {
      const arch = pick(['sm_70', 'sm_80', 'sm_90'] as const);
      const prof = gpuProfile(arch);
      const [h, w] = pick(sizes);
      const r = pick([1, 1, 3]);
      const stride = r === 1 ? pick([1, 1, 2]) : pick([1, 2]);
      const padding = r === 3 ? 1 : 0;
      const ho = Math.floor((h + 2 * padding - r) / stride) + 1, wo = Math.floor((w + 2 * padding - r) / stride) + 1;
      const c = pick([16, 40, 64]);
      const k = pick([8, 16, 64, 256, 1024]);
      const rowMax = Math.min(c * r * r, pick([0, 1, 32, 33, 64, 65, 128, 129, 256, 257, 400]));
      const counts = Array.from({ length: k }, () => Math.floor(rnd() * (rowMax + 1)));
      counts[Math.floor(rnd() * k)] = rowMax;
      const st = withCounts(k, c, r, r, counts);
      const batch = pick([1, 1, 2, 8]);
      const problem: WsparseProblem = { arch, c, h, w, k, r, s: r, strideH: stride, strideW: stride, padTop: padding, padLeft: padding, ho, wo, bias: rnd() < 0.5, relu: rnd() < 0.5 };
      const what = `${arch} ${r}x${r}/${stride} c${c} ${h}x${w} k${k} rowMax ${rowMax} batch ${batch}`;
      const ch = chooseWsparseTiles(prof, problem, batch, st);
      expect(ch, what).not.toBeNull();
      const sp = ch!.spec;
      expect(sp.rowMax, what).toBe(rowMax);
      // split: the smallest with ceil(rowMax / split) <= 32, capped at 8.
      const wantSplit = rowMax <= 32 ? 1 : rowMax <= 64 ? 2 : rowMax <= 128 ? 4 : 8;
      expect(sp.split, what).toBe(wantSplit);
      if (sp.split < 8) expect(Math.ceil(rowMax / sp.split), what).toBeLessThanOrEqual(32);
      if (sp.split > 1) expect(Math.ceil(rowMax / (sp.split / 2)), what).toBeGreaterThan(32);
      // ppl: 4 on the float4 1x1, else the largest with tiles >= 75% used (the best used when none is).
      const pix = ho * wo;
      const vecable = r === 1 && stride === 1 && pix % 4 === 0;
      expect(wsparseVec4(sp), what).toBe(vecable);
      if (vecable) expect(sp.ppl, what).toBe(4);
      else if (WSPARSE_PPLS.some((q) => use(pix, q) >= 0.75)) {
        expect(use(pix, sp.ppl), what).toBeGreaterThanOrEqual(0.75);
        for (const q of WSPARSE_PPLS) if (q > sp.ppl) expect(use(pix, q), `${what}: ppl ${q}`).toBeLessThan(0.75);
      } else {
        for (const q of WSPARSE_PPLS) expect(use(pix, q), `${what}: ppl ${q}`).toBeLessThanOrEqual(use(pix, sp.ppl));
      }
      // cpb: 8 / split, halved while the grid has fewer than 2 blocks per SM.
      expect(sp.cpb * sp.split, what).toBeLessThanOrEqual(8);
      const blocks = (cpb: number): number => Math.ceil(k / cpb) * Math.ceil(pix / (32 * sp.ppl)) * batch;
      if (sp.cpb > 1) expect(blocks(sp.cpb), `${what}: cpb ${sp.cpb}`).toBeGreaterThanOrEqual(2 * prof.smCount);
      if (sp.cpb < 8 / sp.split) expect(blocks(2 * sp.cpb), `${what}: cpb ${2 * sp.cpb} was possible`).toBeLessThan(2 * prof.smCount);
      const res = resourcesOf(sp, batch);
      expect(res.grid, what).toEqual([Math.ceil(k / sp.cpb), Math.ceil(pix / (32 * sp.ppl)), batch]);
      expect(res.threads, what).toBe(32 * sp.split * sp.cpb);
      expect(ch!.estimate.us, what).toBeGreaterThan(0);
      expect(ch!.balance, what).toBeCloseTo(balanceOf(rowStats(st), k), 12);
      expect(ch!.why, what).toContain(`${sp.split} warp${sp.split > 1 ? 's' : ''} per channel`);
      splitsSeen.add(sp.split);
      cpbsSeen.add(sp.cpb);
      pplsSeen.add(sp.ppl);
    }
    // The draws reach every corner of the rule (60 trials over these ranges: each value comes up with near certainty).
    expect(splitsSeen.size, `splits ${[...splitsSeen]}`).toBeGreaterThanOrEqual(3);
    expect(cpbsSeen.size, `cpbs ${[...cpbsSeen]}`).toBeGreaterThanOrEqual(3);
    expect(pplsSeen.size, `ppls ${[...pplsSeen]}`).toBeGreaterThanOrEqual(2);
    // Fixed corners: a large layer keeps 8 / split channels a block; a tiny one drops to 1.
    const big = withCounts(512, 64, 3, 3, Array.from({ length: 512 }, (_, i) => 40 + (i % 20)));
    const bigP: WsparseProblem = { arch: 'sm_90', c: 64, h: 28, w: 28, k: 512, r: 3, s: 3, strideH: 1, strideW: 1, padTop: 1, padLeft: 1, ho: 28, wo: 28, bias: false, relu: true };
    expect(chooseWsparseTiles(p90, bigP, 1, big)!.spec).toMatchObject({ split: 2, cpb: 4, ppl: 4, rowMax: 59 }); // 784 pixels: 7 tiles of 128, 87.5% used
    const tiny = withCounts(8, 16, 1, 1, [3, 1, 0, 2, 16, 0, 5, 9]);
    const tinyP: WsparseProblem = { arch: 'sm_90', c: 16, h: 7, w: 7, k: 8, r: 1, s: 1, strideH: 1, strideW: 1, padTop: 0, padLeft: 0, ho: 7, wo: 7, bias: true, relu: false };
    expect(chooseWsparseTiles(p90, tinyP, 1, tiny)!.spec).toMatchObject({ split: 1, cpb: 1, ppl: 2, kActive: 6, nnz: 36 }); // 49 pixels: 64 per tile is 77% used; not float4 (49 % 4)
  });

  it('the static_asserts in the source agree with the resources (threads, pixel tiles, shared bytes) at random tiles', () => {
    for (const sh of SHAPES) {
      const l = prunedLayer(sh, pick(['sm_70', 'sm_80', 'sm_90'] as const));
      for (let i = 0; i < 3; i++) {
        const spec = wsparseSpecFor(l.problem, l.st, randomTiles());
        const batch = 1 + Math.floor(rnd() * 4);
        const { source } = renderKernel(spec, [{ model: 'test', layer: sh.why }], { structure: l.st });
        const P = parseSource(source);
        const res = resourcesOf(spec, batch);
        const lay = wsparseLayout(spec);
        const name = kernelNameOf(spec);
        expect([P.int('PPL'), P.int('SPLIT'), P.int('CPB')], name).toEqual([spec.ppl, spec.split, spec.cpb]);
        expect(P.bool('VEC4_OK'), name).toBe(wsparseVec4(spec));
        const pix = spec.ho * spec.wo;
        expect(P.asserted('THREADS'), name).toBe(res.threads);
        expect(res.threads).toBe(32 * spec.split * spec.cpb);
        expect(P.asserted('PIX_TILES'), name).toBe(Math.ceil(pix / (32 * spec.ppl)));
        expect(P.asserted('PIX_TILES')).toBe(lay.pixTiles);
        const redFloats = spec.split > 1 ? spec.cpb * (spec.split - 1) * 32 * spec.ppl : 1;
        expect(P.asserted('(SPLIT > 1 ? 4 * RED_FLOATS : 0)'), name).toBe(res.sharedBytes);
        expect(res.sharedBytes).toBe(spec.split > 1 ? 4 * redFloats : 0);
        expect(res.sharedBytes).toBeLessThanOrEqual(48 * 1024);
        expect(res.grid).toEqual([Math.ceil(spec.k / spec.cpb), lay.pixTiles, batch]);
        expect(lay.chTiles).toBe(Math.ceil(spec.k / spec.cpb));
        // The kernel info repeats them: th = PIX_T, kb = CPB, cs = SPLIT, threads, shared, grid.
        expect(source).toContain(`    ${32 * spec.ppl}, 1, ${spec.c}, ${spec.cpb}, ${spec.split},\n    ${res.threads}, ${spec.r}, ${spec.s}, ${res.sharedBytes}, ${res.grid[0]}, ${res.grid[1]},\n};`);
      }
    }
  });

  it('the digest changes when a weight turns zero or nonzero, not when a nonzero value changes', () => {
    const l = prunedLayer(SHAPES[0]!);
    const d = { k: l.st.k, c: l.st.c, r: l.st.r, s: l.st.s };
    const again = weightStructure(l.kernel.slice(), d);
    expect(again.digest).toBe(l.st.digest);
    expect(l.st.digest).toMatch(/^[0-9a-f]{10}$/);
    const nz = [...l.kernel.keys()].filter((i) => l.kernel[i] !== 0);
    const zeros = [...l.kernel.keys()].filter((i) => l.kernel[i] === 0);
    for (let trial = 0; trial < 5; trial++) {
      const v = l.kernel.slice();
      const i = nz[Math.floor(rnd() * nz.length)]!;
      v[i] = v[i]! * (1.5 + rnd()) + 0.01;
      expect(weightStructure(v, d).digest, 'a nonzero value changed').toBe(l.st.digest);
      const z = l.kernel.slice();
      z[i] = 0;
      expect(weightStructure(z, d).digest, `weight ${i} turned zero`).not.toBe(l.st.digest);
      const o = l.kernel.slice();
      o[zeros[Math.floor(rnd() * zeros.length)]!] = rnd() + 0.1;
      expect(weightStructure(o, d).digest, 'a zero turned nonzero').not.toBe(l.st.digest);
    }
    // Same pattern, another shape: another digest.
    expect(weightStructure(new Float32Array(24).fill(1), { k: 2, c: 12, r: 1, s: 1 }).digest).not.toBe(weightStructure(new Float32Array(24).fill(1), { k: 3, c: 8, r: 1, s: 1 }).digest);
  });

  it('names carry tiles and digest; specs round-trip through their tiles; validation rejects bad tiles; a structure that is not the plan\'s is refused by name', () => {
    const l = prunedLayer(SHAPES[1]!, 'sm_80');
    const ch = chooseWsparseTiles(gpuProfile('sm_80'), l.problem, 1, l.st)!;
    const name = kernelNameOf(ch.spec);
    expect(isCIdentifier(name)).toBe(true);
    expect(name).toContain(`_p${ch.spec.ppl}_cpb${ch.spec.cpb}_z${ch.spec.split}_d${l.st.digest}`);
    expect(name).toMatch(/^wsparse3x3_s2_p0_c20_h14_w14_k42_o7x7_p[124]_cpb[1248]_z[1248]_d[0-9a-f]{10}(_bias)?(_relu)?_sm80$/);
    // Every valid tiling: its own name, a round trip through tilesOf / specWithTiles.
    const names = new Set<string>();
    const { family: _f, ppl: _a, split: _b, cpb: _c, patternDigest: _e, nnz: _g, rowMax: _m, kActive: _h, ...problem } = ch.spec;
    for (const ppl of WSPARSE_PPLS) {
      for (const split of WSPARSE_SPLITS) {
        for (const cpb of WSPARSE_CPBS) {
          const t = { ppl, split, cpb };
          if (cpb * split > 8) {
            expect(() => validateWsparseSpec({ ...ch.spec, ...t }), JSON.stringify(t)).toThrow(/cpb x split = \d+ warps: at most 8/);
            continue;
          }
          const spec = wsparseSpecFor(problem, l.st, t);
          expect(validateWsparseSpec(spec)).toBe(spec);
          expect(specWithTiles(problem, tilesOf(spec))).toEqual(spec);
          const n = kernelNameOf(spec);
          expect(isCIdentifier(n), n).toBe(true);
          names.add(n);
        }
      }
    }
    expect(names.size).toBe(3 * (4 + 3 + 2 + 1));
    expect(tilesOf(ch.spec)).toEqual({ family: 'wsparse', ppl: ch.spec.ppl, split: ch.spec.split, cpb: ch.spec.cpb, patternDigest: l.st.digest, nnz: ch.spec.nnz, rowMax: ch.spec.rowMax, kActive: ch.spec.kActive });
    // Validation: bad ppl / split / cpb, too many warps, bad digest, inconsistent figures.
    const bad: [Partial<WsparseKernelSpec>, RegExp][] = [
      [{ ppl: 3 }, /ppl must be one of 1, 2, 4, got 3/], [{ ppl: 8 }, /ppl must be one of/], [{ ppl: 0 }, /ppl must be a positive integer/],
      [{ split: 3, cpb: 1 }, /split must be one of 1, 2, 4, 8, got 3/], [{ split: 16, cpb: 1 }, /split must be one of/], [{ split: 1.5 }, /split must be a positive integer/],
      [{ cpb: 16, split: 1 }, /cpb must be one of 1, 2, 4, 8, got 16/], [{ cpb: 0 }, /cpb must be a positive integer/],
      [{ cpb: 4, split: 4 }, /cpb x split = 16 warps/], [{ cpb: 8, split: 8 }, /cpb x split = 64 warps/],
      [{ patternDigest: 'xyz' }, /patternDigest must be 10 hex digits/], [{ kActive: 43 }, /kActive 43 exceeds k 42/],
      [{ rowMax: 20 * 9 + 1 }, /rowMax 181 exceeds a channel's 180 weights/], [{ kActive: 0 }, /kActive 0 and nnz \d+ must both be 0 or both positive/],
    ];
    for (const [patch, re] of bad) {
      expect(() => validateWsparseSpec({ ...ch.spec, ...patch }), JSON.stringify(patch)).toThrow(re);
      expect(() => kernelNameOf({ ...ch.spec, ...patch }), JSON.stringify(patch)).toThrow(/invalid wsparse spec/);
    }
    expect(() => validateWsparseSpec({ ...ch.spec, nnz: 0, kActive: 0, rowMax: 0 })).not.toThrow(); // an all-zero kernel is a valid spec
    // Resources and the source agree.
    const r = resourcesOf(ch.spec, 3);
    expect(r.threads).toBe(32 * ch.spec.split * ch.spec.cpb);
    expect(r.grid).toEqual([Math.ceil(42 / ch.spec.cpb), wsparseLayout(ch.spec).pixTiles, 3]);
    const { source } = renderKernel(ch.spec, [{ model: 'm', layer: 'conv_x' }], { structure: l.st });
    expect(source).toContain(`static_assert(THREADS == ${r.threads},`);
    expect(source).toContain(`cusnn_launch_${name}(`);
    expect(source).toContain(`// Nonzero structure ${l.st.digest}: ${l.st.offsets.length} nonzeros`);
    expect(source).toContain(`const ${l.st.c * l.st.r * l.st.s <= 65536 ? 'uint16_t' : 'uint32_t'} kCrs[`);
    // Another structure (one weight more) is refused, naming the layer; no structure at all too; another shape too.
    const k2 = l.kernel.slice();
    k2[k2.findIndex((v) => v === 0)] = 0.5;
    const other = weightStructure(k2, { k: l.st.k, c: l.st.c, r: l.st.r, s: l.st.s });
    expect(() => renderKernel(ch.spec, [{ model: 'm', layer: 'conv_x' }], { structure: other })).toThrow(/conv_x.*digest [0-9a-f]{10}.*generated for [0-9a-f]{10}/);
    expect(() => renderKernel(ch.spec, [{ model: 'm', layer: 'conv_x' }])).toThrow(/conv_x.*needs the layer's weight structure/);
    const shape2 = weightStructure(new Float32Array(42 * 20 * 1).fill(1), { k: 42, c: 20, r: 1, s: 1 });
    expect(() => renderKernel({ ...ch.spec, patternDigest: shape2.digest }, [{ model: 'm', layer: 'conv_x' }], { structure: shape2 })).toThrow(/weight structure 42x20x1x1 is not the problem's kernel 42x20x3x3/);
    // Same digest, spec figures tampered with: refused, naming the figure and the layer.
    expect(() => renderKernel({ ...ch.spec, rowMax: ch.spec.rowMax - 1 }, [{ model: 'm', layer: 'conv_x' }], { structure: l.st })).toThrow(/conv_x.*rowMax/);
    expect(() => renderKernel({ ...ch.spec, nnz: ch.spec.nnz + 1 }, [{ model: 'm', layer: 'conv_x' }], { structure: l.st })).toThrow(/conv_x.*nnz/);
    expect(() => renderKernel({ ...ch.spec, kActive: ch.spec.kActive - 1 }, [{ model: 'm', layer: 'conv_x' }], { structure: l.st })).toThrow(/conv_x.*kActive/);
  });
});
