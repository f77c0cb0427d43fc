// The weight-sparse family (src/families/wsparse) on the CPU: for weights pruned by the project's
// own pruner (unstructured 80/90/95%, 2:4, block4x1, whole filters, plus output channels zeroed by
// hand) the tables the renderer writes into the .cu are parsed back out of the source and evaluated
// in JS exactly as the kernel walks them (blocks, chunks, the shared-memory window with its zero
// padding, the (value, offset) pairs read from the CRSK weights, fp32 FMAs in the kernel's order, the
// epilogue, the all-zero channels), and the result is held against the float64 reference conv
// (src/runtime/reference.ts) on odd shapes: 3x3 stride 1 and 2, 1x1 stride 1 and 2, 5x5, asymmetric
// padding, 'valid', a row wider than 32 pixels, C and K multiples of nothing. Every output element
// must be written exactly once. Tiles: the rule's pick and fresh random ones (several chunks, several
// channel tiles, TK/TP/WARPS combinations). Also: the balance bound, the digest, the name, and the
// errors when the structure does not match the plan.
import { describe, expect, it } from 'vitest';
import { gpuProfile } from '../../src/arch/profiles.js';
import { isCIdentifier } from '../../src/codegen/naming.js';
import { kernelNameOf, renderKernel, resourcesOf, specWithTiles, tilesOf } from '../../src/families/registry.js';
import { wsparseLanes, wsparseLayout } from '../../src/families/wsparse/resources.js';
import { assignChannels, balanceOf, chunkCounts, wsparseTables } from '../../src/families/wsparse/schedule.js';
import type { WsparseKernelSpec, WsparseProblem } from '../../src/families/wsparse/spec.js';
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
  { why: '1x1/1, C 50, 9x7, K 72, unstructured 95%', c: 50, h: 9, w: 7, k: 72, r: 1, s: 1, stride: 1, pad: pad(0, 0, 0, 0), pattern: 'unstructured', sparsity: 0.95 },
  { why: '1x1/2 on odd 15x15, C 26, K 16, 2:4', c: 26, h: 15, w: 15, k: 16, r: 1, s: 1, stride: 2, pad: pad(0, 0, 0, 0), pattern: '2:4', sparsity: 0.5 },
  { why: '5x5 pad 2 on 11x13, C 12, K 24, block4x1 80%', c: 12, h: 11, w: 13, k: 24, r: 5, s: 5, stride: 1, pad: pad(2, 2, 2, 2), pattern: 'block4x1', sparsity: 0.8 },
  { why: '3x3 valid on 9x9, C 8, K 33, whole filters 75%', c: 8, h: 9, w: 9, k: 33, r: 3, s: 3, stride: 1, pad: pad(0, 0, 0, 0), pattern: 'filter', sparsity: 0.75 },
  { why: '3x3 pad (2, 0 | 1, 1) asymmetric, C 19, 10x12, K 20, 90% + channels 3 and 11 all-zero', c: 19, h: 10, w: 12, k: 20, r: 3, s: 3, stride: 1, pad: pad(2, 0, 1, 1), pattern: 'unstructured', sparsity: 0.9, zeroChannels: [3, 11] },
  { why: '3x3/1 pad 1 on 9x45 (rows wider than 32: column tiles), C 6, K 10, unstructured 80%', c: 6, h: 9, w: 45, k: 10, r: 3, s: 3, stride: 1, pad: pad(1, 1, 1, 1), pattern: 'unstructured', sparsity: 0.8 },
];

interface Layer {
  readonly graph: Graph;
  readonly conv: ConvLayer;
  readonly ws: WeightSet;
  readonly kernel: Float32Array;
  readonly bias: Float32Array | null;
  readonly problem: WsparseProblem;
  readonly st: WeightStructure;
}

/** A one-conv graph with fresh random weights (per-channel scales spread 4x, so nonzero counts differ), pruned by the project's pruner. */
function prunedLayer(sh: Shape, arch: 'sm_80' | 'sm_90' = 'sm_90'): Layer {
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
  return { graph, conv, ws, kernel, bias: bias ? ws.tensors.get(tensorKey('conv', 'bias'))! : null, problem, st: weightStructure(kernel, { k: sh.k, c: sh.c, r: sh.r, s: sh.s }) };
}

function kcrsToCrsk(w: Float32Array, k: number, crs: number): Float32Array {
  const out = new Float32Array(w.length);
  for (let o = 0; o < k; o++) for (let i = 0; i < crs; i++) out[i * k + o] = w[o * crs + i]!;
  return out;
}

/** ReLU-like input with about `zeros` exact zeros; never all zero. */
function reluInput(n: number, zeros: number): Float32Array {
  const x = new Float32Array(n);
  for (let i = 0; i < n; i++) x[i] = rnd() < zeros ? 0 : 0.02 + 0.98 * rnd();
  x[Math.floor(rnd() * n)] = 0.5 + rnd();
  return x;
}

// --------------------------------------------------------------------------------------------
// Reading the rendered source back: the literal constexprs and the four tables.

interface Parsed {
  readonly int: (name: string) => number;
  readonly bool: (name: string) => boolean;
  readonly table: (name: string) => number[];
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
  const table = (name: string): number[] => {
    const m = new RegExp(`static __device__ const \\w+ ${name}\\[[^\\]]*\\] = \\{([^}]*)\\};`).exec(source);
    if (!m) throw new Error(`no table ${name}`);
    return m[1]!.split(',').map((v) => v.trim()).filter((v) => v !== '').map(Number);
  };
  return { int, bool, table };
}

/**
 * Lines of templates/wsparse.cu.hbs whose index math runKernel repeats: a change there must be
 * repeated here (the test fails until it is).
 */
const MIRRORED = [
  'constexpr int LR = 32 / LCOL;', 'constexpr int ROWS_T = LR * TP;', 'constexpr int COLS_T = LCOL;', 'constexpr int KB = WARPS * TK;',
  'constexpr int WIN_H = (ROWS_T - 1) * SH + R;', 'constexpr int WIN_W = (COLS_T - 1) * SW + S;', 'constexpr int ROW_STEP = LR * SH * WIN_W;',
  'constexpr int NCHUNK = (C + BKC - 1) / BKC;', 'const int oy0 = (pt / COL_TILES) * ROWS_T, ox0 = (pt % COL_TILES) * COLS_T;',
  'const int iy0 = oy0 * SH - PT, ix0 = ox0 * SW - PL;', 'const int laneBase = laneOk ? lrow * SH * WIN_W + lcol * SW : 0;',
  'const int iy = iy0 + pos / WIN_W, ix = ix0 + pos % WIN_W;', 'const bool ok = c0 + ch < C && iy >= 0 && iy < H && ix >= 0 && ix < W;',
  'copy4(pair, wt + static_cast<long long>(crs) * K + k, true);', 'pair[1] = __int_as_float((cc - c0) * WIN + r * WIN_W + s);',
  'for (int t = 0; t < TP; ++t) acc[kk][t] = fmaf(nz.x, x[t * ROW_STEP], acc[kk][t]);', 'const int oy = oy0 + lrow + LR * t;',
  'outImg[static_cast<long long>(k) * PIX + oy * WO + ox0 + lcol] = y;', 'for (int i = tile; i < N_EMPTY; i += CH_TILES) {',
  'while (q < NCHUNK && segAt((b * NCHUNK + q) * KB) == segAt((b * NCHUNK + q + 1) * KB)) ++q;',
];

/**
 * The kernel, in JS: the template's loops and index math over the parsed tables, in fp32 with
 * fmaf's order (w * x is exact in float64, then one add, rounded to fp32). Writes `out` (NCHW over
 * the batch) and counts the writes of every element.
 */
function runKernel(source: string, x: Float32Array, batch: number, crsk: Float32Array, bias: Float32Array | null, out: Float32Array, writes: Uint8Array): void {
  for (const line of MIRRORED) if (!source.includes(line)) throw new Error(`the template no longer has '${line}': update runKernel to match`);
  const P = parseSource(source);
  const C = P.int('C'), H = P.int('H'), W = P.int('W'), K = P.int('K'), R = P.int('R'), S = P.int('S');
  const SH = P.int('SH'), SW = P.int('SW'), PT = P.int('PT'), PL = P.int('PL'), HO = P.int('HO'), WO = P.int('WO');
  const HAS_BIAS = P.bool('HAS_BIAS'), APPLY_RELU = P.bool('APPLY_RELU');
  const TP = P.int('TP'), WARPS = P.int('WARPS'), TK = P.int('TK'), BKC = P.int('BKC'), LCOL = P.int('LCOL');
  const CH_TILES = P.int('CH_TILES'), NZ_CAP = P.int('NZ_CAP'), N_ENTRIES = P.int('N_ENTRIES'), N_EMPTY = P.int('N_EMPTY');
  const slotChannel = P.table('kSlotChannel'), seg = P.table('kSeg'), offset = P.table('kOffset'), empty = P.table('kEmpty');
  const RS = R * S, HW = H * W, PIX = HO * WO;
  const LR = Math.floor(32 / LCOL), ROWS_T = LR * TP, COLS_T = LCOL, KB = WARPS * TK;
  const ROW_TILES = Math.ceil(HO / ROWS_T), COL_TILES = Math.ceil(WO / COLS_T), PIX_TILES = ROW_TILES * COL_TILES;
  const WIN_H = (ROWS_T - 1) * SH + R, WIN_W = (COLS_T - 1) * SW + S, WIN = WIN_H * WIN_W, ROW_STEP = LR * SH * WIN_W;
  const NCHUNK = Math.ceil(C / BKC);
  expect(slotChannel.length).toBe(CH_TILES * KB);
  expect(seg.length).toBe(CH_TILES * NCHUNK * KB + 1);
  expect(offset.length).toBe(Math.max(1, N_ENTRIES));
  expect(empty.length).toBe(Math.max(1, N_EMPTY));
  const f = Math.fround;
  const nextChunk = (b: number, q: number): number => {
    while (q < NCHUNK && seg[(b * NCHUNK + q) * KB] === seg[(b * NCHUNK + q + 1) * KB]) ++q;
    return q;
  };
  const Xs = new Float32Array(BKC * WIN);
  const nzVal = new Float32Array(Math.max(1, NZ_CAP));
  const nzOff = new Int32Array(Math.max(1, NZ_CAP));
  const write = (i: number, y: number): void => {
    out[i] = y;
    writes[i]!++;
  };
  for (let img = 0; img < batch; img++) {
    for (let pt = 0; pt < PIX_TILES; pt++) {
      const oy0 = Math.floor(pt / COL_TILES) * ROWS_T, ox0 = (pt % COL_TILES) * COLS_T;
      const iy0 = oy0 * SH - PT, ix0 = ox0 * SW - PL;
      for (let tile = 0; tile < CH_TILES; tile++) {
        const acc = new Float32Array(WARPS * TK * 32 * TP); // [warp][kk][lane][t]
        for (let q = nextChunk(tile, 0); q < NCHUNK; q = nextChunk(tile, q + 1)) {
          const c0 = q * BKC;
          for (let e = 0; e < BKC * WIN; e++) {
            const ch = Math.floor(e / WIN), pos = e % WIN;
            const iy = iy0 + Math.floor(pos / WIN_W), ix = ix0 + (pos % WIN_W);
            const ok = c0 + ch < C && iy >= 0 && iy < H && ix >= 0 && ix < W;
            Xs[e] = ok ? x[img * C * HW + (c0 + ch) * HW + iy * W + ix]! : 0;
          }
          const base = (tile * NCHUNK + q) * KB;
          const e0 = seg[base]!;
          if (seg[base + KB]! - e0 > NZ_CAP) throw new Error(`tile ${tile} chunk ${q}: ${seg[base + KB]! - e0} nonzeros, NZ_CAP ${NZ_CAP}`);
          for (let j = 0; j < KB; j++) {
            const k = slotChannel[tile * KB + j]!;
            for (let e = seg[base + j]!; e < seg[base + j + 1]!; e++) {
              if (k < 0) throw new Error(`tile ${tile} slot ${j}: entries for an unused slot`);
              const crs = offset[e]!;
              const cc = Math.floor(crs / RS), rs = crs % RS, r = Math.floor(rs / S), s = rs % S;
              if (cc < c0 || cc >= c0 + BKC) throw new Error(`entry ${e} (channel ${cc}) outside chunk ${q}`);
              nzVal[e - e0] = crsk[crs * K + k]!;
              nzOff[e - e0] = (cc - c0) * WIN + r * WIN_W + s;
            }
          }
          for (let warp = 0; warp < WARPS; warp++) {
            for (let kk = 0; kk < TK; kk++) {
              const j = warp * TK + kk;
              for (let e = seg[base + j]! - e0; e < seg[base + j + 1]! - e0; e++) {
                const wv = nzVal[e]!, o = nzOff[e]!;
                for (let lane = 0; lane < 32; lane++) {
                  const lrow = Math.floor(lane / LCOL), lcol = lane % LCOL;
                  const laneBase = lrow < LR ? lrow * SH * WIN_W + lcol * SW : 0;
                  for (let t = 0; t < TP; t++) {
                    const a = ((warp * TK + kk) * 32 + lane) * TP + t;
                    const xi = o + laneBase + t * ROW_STEP;
                    if (!(xi >= 0 && xi < BKC * WIN)) throw new Error(`window read ${xi} outside [0, ${BKC * WIN})`);
                    acc[a] = f(wv * Xs[xi]! + acc[a]!);
                  }
                }
              }
            }
          }
        }
        for (let warp = 0; warp < WARPS; warp++) {
          for (let lane = 0; lane < 32; lane++) {
            const lrow = Math.floor(lane / LCOL), lcol = lane % LCOL;
            if (!(lrow < LR && ox0 + lcol < WO)) continue;
            for (let kk = 0; kk < TK; kk++) {
              const k = slotChannel[tile * KB + warp * TK + kk]!;
              if (k < 0) continue;
              for (let t = 0; t < TP; t++) {
                const oy = oy0 + lrow + LR * t;
                if (oy >= HO) continue;
                let y = acc[((warp * TK + kk) * 32 + lane) * TP + t]!;
                if (HAS_BIAS) y = f(y + bias![k]!);
                if (APPLY_RELU) y = Math.max(y, 0);
                write(img * K * PIX + k * PIX + oy * WO + ox0 + lcol, y);
              }
            }
          }
        }
        for (let i = tile; i < N_EMPTY; i += CH_TILES) {
          const k = empty[i]!;
          let y = 0;
          if (HAS_BIAS) y = f(y + bias![k]!);
          if (APPLY_RELU) y = Math.max(y, 0);
          for (let p = 0; p < ROWS_T * COLS_T; p++) {
            const oy = oy0 + Math.floor(p / COLS_T), ox = ox0 + (p % COLS_T);
            if (oy < HO && ox < WO) write(img * K * PIX + k * PIX + oy * WO + ox, y);
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

function compare(y: Float32Array, ref: Float64Array): { rel: number; maxAbs: number; scale: number } {
  let num = 0, den = 0, maxAbs = 0, scale = 0;
  for (let i = 0; i < y.length; i++) {
    const d = y[i]! - ref[i]!;
    num += d * d;
    den += ref[i]! * ref[i]!;
    maxAbs = Math.max(maxAbs, Math.abs(d));
    scale = Math.max(scale, Math.abs(ref[i]!));
  }
  return { rel: Math.sqrt(num / Math.max(den, 1e-300)), maxAbs, scale };
}

/** Fresh random tiles for a problem (bkc small enough for several chunks). */
function randomTiles(c: number, wo: number) {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
  const tk = pick([1, 2, 3, 4]);
  const tp = pick([1, 2, 3, 4, 8].filter((t) => t * tk <= 32));
  return { rowsT: tp * wsparseLanes(wo).lr, warps: pick([1, 2, 4, 8]), tk, bkc: 1 + Math.floor(rnd() * Math.min(c, 24)) };
}

describe(`wsparse family (seed ${seed})`, () => {
  const p90 = gpuProfile('sm_90');

  it('the rendered tables, evaluated as the kernel walks them, match the float64 reference conv on odd shapes and patterns', () => {
    let checked = 0;
    for (const sh of SHAPES) {
      const l = prunedLayer(sh);
      const wp = weightPattern(l.kernel, [sh.k, sh.c, sh.r, sh.s]);
      expect(wp.sparsity, sh.why).toBeGreaterThanOrEqual(sh.sparsity - 0.05); // 2:4 on C 26: the last 2 channels keep both
      if (sh.pattern !== 'unstructured') expect(wp.pattern, sh.why).toBe(sh.pattern);
      const rule = chooseWsparseTiles(p90, l.problem, 2, l.st);
      expect(rule, sh.why).not.toBeNull();
      const specs: WsparseKernelSpec[] = [rule!.spec, wsparseSpecFor(l.problem, l.st, randomTiles(sh.c, l.problem.wo)), wsparseSpecFor(l.problem, l.st, randomTiles(sh.c, l.problem.wo))];
      const crsk = kcrsToCrsk(l.kernel, sh.k, sh.c * sh.r * sh.s);
      const batch = 2;
      const x = reluInput(batch * sh.c * sh.h * sh.w, rnd() * 0.7);
      const ref = reference(l, x, batch);
      for (const spec of specs) {
        const { name, source } = renderKernel(spec, [{ model: 'test', layer: sh.why }], { structure: l.st });
        expect(isCIdentifier(name)).toBe(true);
        const out = new Float32Array(ref.length).fill(Number.NaN);
        const writes = new Uint8Array(ref.length);
        runKernel(source, x, batch, crsk, l.bias, out, writes);
        const once = writes.every((n) => n === 1);
        expect(once, `${name} (${sh.why}): every output written exactly once (${writes.filter((n) => n === 0).length} unwritten, ${writes.filter((n) => n > 1).length} twice)`).toBe(true);
        const e = compare(out, ref);
        expect(e.rel, `${name} (${sh.why}): rel. L2 error ${e.rel.toExponential(2)}`).toBeLessThanOrEqual(TOL);
        expect(e.maxAbs, `${name} (${sh.why}): max abs error ${e.maxAbs.toExponential(2)} of scale ${e.scale.toExponential(2)}`).toBeLessThanOrEqual(TOL * e.scale);
        checked++;
      }
    }
    expect(checked).toBe(3 * SHAPES.length);
  });

  it('the tables follow the structure: every nonzero once, channel by channel in ascending offset, all-zero channels listed', () => {
    for (const sh of SHAPES) {
      const l = prunedLayer(sh);
      const t = randomTiles(sh.c, l.problem.wo);
      const tb = wsparseTables(l.st, t);
      const seen = new Map<number, number[]>();
      for (let b = 0; b < tb.assignment.chTiles; b++) {
        for (let q = 0; q < tb.nChunks; q++) {
          for (let j = 0; j < tb.kb; j++) {
            const i = (b * tb.nChunks + q) * tb.kb + j;
            const k = tb.assignment.slotChannel[b * tb.kb + j]!;
            for (let e = tb.seg[i]!; e < tb.seg[i + 1]!; e++) {
              const list = seen.get(k) ?? [];
              list.push(tb.entries[e]!);
              seen.set(k, list);
            }
          }
        }
      }
      for (let k = 0; k < sh.k; k++) {
        const want = [...l.st.offsets.subarray(l.st.start[k]!, l.st.start[k + 1]!)];
        expect(seen.get(k) ?? [], `${sh.why}: channel ${k}`).toEqual(want);
        expect(tb.assignment.empty.includes(k), `channel ${k} listed as all-zero`).toBe(want.length === 0);
      }
      for (const o of sh.zeroChannels ?? []) expect(tb.assignment.empty).toContain(o);
    }
  });

  it('balance: every warp slot within one channel of the mean (LPT); max/mean <= 1.3 at 2 channels per warp, <= 1.15 at 3+; in-order dealing > 1.5', () => {
    // Channel densities rising with k (keep 3% .. 40%): in-order dealing piles the heavy channels together.
    const k = 96, c = 64, r = 3, s = 3, crs = c * r * s;
    const kernel = new Float32Array(k * crs);
    for (let o = 0; o < k; o++) {
      const keep = 0.03 + 0.37 * (o / (k - 1)) * (0.8 + 0.4 * rnd());
      for (let i = 0; i < crs; i++) if (rnd() < keep) kernel[o * crs + i] = rnd() - 0.5 || 0.25;
    }
    const st = weightStructure(kernel, { k, c, r, s });
    for (const [tk, warps] of [[1, 4], [2, 4], [4, 2], [4, 4], [3, 8]] as const) {
      const a = assignChannels(st, tk, warps);
      let maxChannel = 0;
      for (let o = 0; o < k; o++) maxChannel = Math.max(maxChannel, st.start[o + 1]! - st.start[o]!);
      const mean = a.nnz / a.slots;
      expect(a.slotMax, `tk ${tk}, warps ${warps}: max ${a.slotMax} <= mean ${mean.toFixed(1)} + largest channel ${maxChannel}`).toBeLessThanOrEqual(mean + maxChannel);
      // Slots of a block: the heaviest first, and loads only fall along the grid.
      for (let i = 1; i < a.slots; i++) expect(a.slotLoad[i]!).toBeLessThanOrEqual(a.slotLoad[i - 1]!);
      if (tk >= 2) {
        // Measured over 300 random draws of these densities: tk 2 at most 1.25, tk >= 3 at most 1.10.
        expect(balanceOf(a), `tk ${tk}, warps ${warps}: max/mean ${balanceOf(a).toFixed(3)}`).toBeLessThanOrEqual(tk === 2 ? 1.3 : 1.15);
        // The same slots filled in channel order (what balancing replaces) exceed the bound by far.
        let naiveMax = 0;
        for (let sl = 0; sl < a.slots; sl++) {
          let load = 0;
          for (let kk = 0; kk < tk; kk++) {
            const o = sl * tk + kk;
            if (o < k) load += st.start[o + 1]! - st.start[o]!;
          }
          naiveMax = Math.max(naiveMax, load);
        }
        expect(naiveMax / mean).toBeGreaterThan(1.5);
      }
    }
    // The pruned shapes too (the rule's tiles): the bound holds, and whole-filter pruning balances perfectly (all-zero filters take no slot).
    for (const sh of SHAPES) {
      const l = prunedLayer(sh);
      const ch = chooseWsparseTiles(p90, l.problem, 1, l.st)!;
      const a = assignChannels(l.st, ch.spec.tk, ch.spec.warps);
      let maxChannel = 0;
      for (let o = 0; o < sh.k; o++) maxChannel = Math.max(maxChannel, l.st.start[o + 1]! - l.st.start[o]!);
      expect(a.slotMax).toBe(ch.spec.slotMax);
      expect(a.slotMax, sh.why).toBeLessThanOrEqual(a.nnz / a.slots + maxChannel);
      expect(ch.balance).toBeCloseTo(balanceOf(a), 12);
      if (sh.pattern === 'filter' && a.kActive % (ch.spec.tk * ch.spec.warps) === 0) expect(ch.balance, sh.why).toBeCloseTo(1, 12);
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

  it('names carry the digest; specs round-trip through their tiles; resources fit; a structure that is not the plan\'s is refused by name', () => {
    const l = prunedLayer(SHAPES[1]!, 'sm_80');
    const ch = chooseWsparseTiles(gpuProfile('sm_80'), l.problem, 1, l.st)!;
    const name = kernelNameOf(ch.spec);
    expect(name).toContain(`_d${l.st.digest}_`);
    expect(name).toMatch(/^wsparse3x3_s2_p0_c20_h14_w14_k42_o7x7_rows\d+_wp\d+_tk\d+_bkc\d+_d[0-9a-f]{10}(_bias)?(_relu)?_sm80$/);
    const { family: _f, rowsT: _a, warps: _b, tk: _c, bkc: _d, split: _k, patternDigest: _e, nnz: _g, kActive: _h, slotMax: _i, nzCap: _j, ...problem } = ch.spec;
    expect(specWithTiles(problem, tilesOf(ch.spec))).toEqual(ch.spec);
    const r = resourcesOf(ch.spec, 3);
    expect(r.threads % 32).toBe(0);
    expect(r.sharedBytes).toBe(wsparseLayout(ch.spec).sharedBytes);
    expect(r.sharedBytes).toBeLessThanOrEqual(48 * 1024);
    expect(r.grid[0]).toBe(3 * wsparseLayout(ch.spec).rowTiles * wsparseLayout(ch.spec).colTiles);
    const { source } = renderKernel(ch.spec, [{ model: 'm', layer: 'conv_x' }], { structure: l.st });
    expect(source).toContain(`static_assert(SHARED_BYTES == ${r.sharedBytes},`);
    expect(source).toContain(`static_assert(THREADS == ${r.threads},`);
    expect(source).toContain(`cusnn_launch_${name}(`);
    expect(source).toContain(`const ${l.st.c * l.st.r * l.st.s <= 65536 ? 'uint16_t' : 'uint32_t'} kOffset[`);
    // Another structure (one weight more) is refused, naming the layer; no structure at all too.
    const k2 = l.kernel.slice();
    k2[k2.findIndex((v) => v === 0)] = 0.5;
    const other = weightStructure(k2, { k: l.st.k, c: l.st.c, r: l.st.r, s: l.st.s });
    expect(() => renderKernel(ch.spec, [{ model: 'm', layer: 'conv_x' }], { structure: other })).toThrow(/conv_x.*digest [0-9a-f]{10}.*generated for [0-9a-f]{10}/);
    expect(() => renderKernel(ch.spec, [{ model: 'm', layer: 'conv_x' }])).toThrow(/conv_x.*needs the layer's weight structure/);
    // Same digest, spec figures tampered with: refused.
    expect(() => renderKernel({ ...ch.spec, nzCap: ch.spec.nzCap + 1 }, [{ model: 'm', layer: 'conv_x' }], { structure: l.st })).toThrow(/nzCap/);
    // The chunk counts the rule sized shared memory with are the tables' own.
    expect(wsparseTables(l.st, ch.spec).nzCap).toBe(ch.spec.nzCap);
    expect(chunkCounts(l.st, ch.spec.bkc).reduce((a, b) => a + b, 0)).toBe(l.st.offsets.length);
  });
});
