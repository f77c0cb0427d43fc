// The staged weight-sparse family (src/families/wstage) on the CPU. The tables the renderer writes
// into the .cu (kSlotStart, kSlotCh, kChN, kEntStart, kEntCrs) are parsed back out of the source and
// walked in JS exactly as the kernel does: grid (GROUPS, PIX_TILES, batch), warp w of block g on slot
// g * WARPS + w, the window of the tile (IN_ROWS rows of ROWP floats per input channel, input column
// 0 at column LEFT, padding and rows past the input as zeros), each entry's window offset c *
// CH_FLOATS + r * ROWP + s + LEFT - PL and its packed value (the runtime's gather through
// kernelWeightOrder), lane pixels lane + 32 t at window offset ly * SH * ROWP + lx * SW, fp32 FMAs in
// entry order, the epilogue, rows past the output. The template lines this walk mirrors must be in
// the rendered source (the test fails when the template changes and this walk does not). The result
// is held against the float64 reference conv on odd shapes (3x3 stride 1 and 2 with asymmetric
// padding, 1x1 stride 1 and 2, 5x5, 7x7 stride 2 pad 3, widths with and without whole 16-byte rows,
// tiles that do not divide the output, all-zero channels) at input zeros 0/50/90/100%: every output
// written exactly once, every window read inside the window. Also: the schedule deals every channel
// once and balances the slots, the static_asserts match the resources, names and validation.
import { describe, expect, it } from 'vitest';
import { gpuProfile } from '../../src/arch/profiles.js';
import { kernelNameOf, kernelWeightOrder, renderKernel, resourcesOf, specWithTiles, tilesOf } from '../../src/families/registry.js';
import { weightStructure, type WeightStructure } from '../../src/families/wsparse/structure.js';
import { wstageLayout } from '../../src/families/wstage/resources.js';
import { CHANNEL_OVERHEAD, flatTables, wstageSchedule } from '../../src/families/wstage/schedule.js';
import { validateWstageSpec, WSTAGE_CHUNKS, type WstageKernelSpec, type WstageProblem } from '../../src/families/wstage/spec.js';
import { chooseWstageTiles, wstageCandidates } from '../../src/families/wstage/tiles.js';
import { GraphBuilder } from '../../src/model/builder.js';
import { tensorKey, type ConvLayer, type Graph, type Padding } from '../../src/model/ir.js';
import { referenceForward } from '../../src/runtime/reference.js';
import { pruneWeights, type PrunePattern } from '../../src/weights/prune.js';
import type { WeightSet } from '../../src/weights/store.js';
import { mulberry32, testSeed } from '../helpers/random.js';

const seed = testSeed();
const rnd = mulberry32(seed);
const TOL = 1e-5;
const INPUT_ZEROS = [0, 0.5, 0.9, 1] as const;
const pad = (top: number, bottom: number, left: number, right: number): Padding => ({ top, bottom, left, right });

interface Shape {
  readonly why: string;
  readonly c: number; readonly h: number; readonly w: number; readonly k: number;
  readonly r: number; readonly s: number; readonly stride: number; readonly pad: Padding;
  readonly pattern: PrunePattern; readonly sparsity: number; readonly bias: boolean; readonly relu: boolean;
}

const SHAPES: Shape[] = [
  { why: '3x3/1 pad 1, C 37, 13x11 (no whole 16-byte rows), K 24, 90%', c: 37, h: 13, w: 11, k: 24, r: 3, s: 3, stride: 1, pad: pad(1, 1, 1, 1), pattern: 'unstructured', sparsity: 0.9, bias: true, relu: true },
  { why: '3x3/1 pad 1, C 16, 12x16 (whole 16-byte rows), K 40, 80%', c: 16, h: 12, w: 16, k: 40, r: 3, s: 3, stride: 1, pad: pad(1, 1, 1, 1), pattern: 'unstructured', sparsity: 0.8, bias: false, relu: true },
  { why: '3x3/2 asymmetric pad (0 top/left, 1 bottom/right), C 19, 15x14, K 12, 2:4', c: 19, h: 15, w: 14, k: 12, r: 3, s: 3, stride: 2, pad: pad(0, 1, 0, 1), pattern: '2:4', sparsity: 0.5, bias: true, relu: false },
  { why: '1x1/1, C 33, 9x20, K 17, 95%', c: 33, h: 9, w: 20, k: 17, r: 1, s: 1, stride: 1, pad: pad(0, 0, 0, 0), pattern: 'unstructured', sparsity: 0.95, bias: true, relu: true },
  { why: '1x1/2, C 24, 14x14, K 30, block4x1 80%', c: 24, h: 14, w: 14, k: 30, r: 1, s: 1, stride: 2, pad: pad(0, 0, 0, 0), pattern: 'block4x1', sparsity: 0.8, bias: false, relu: false },
  { why: '5x5/1 pad 2, C 8, 10x12, K 9, whole filters 50%', c: 8, h: 10, w: 12, k: 9, r: 5, s: 5, stride: 1, pad: pad(2, 2, 2, 2), pattern: 'filter', sparsity: 0.5, bias: true, relu: true },
  { why: '3x3/1 pad 1, C 12, 5x40 (rows wider than 32 lanes: two column passes), K 10, 90%', c: 12, h: 5, w: 40, k: 10, r: 3, s: 3, stride: 1, pad: pad(1, 1, 1, 1), pattern: 'unstructured', sparsity: 0.9, bias: true, relu: true },
  { why: '3x3/2 pad (1 top/left, 0 bottom/right), C 10, 9x71 (output 36 wide), K 6, 80%', c: 10, h: 9, w: 71, k: 6, r: 3, s: 3, stride: 2, pad: pad(1, 0, 1, 0), pattern: 'unstructured', sparsity: 0.8, bias: false, relu: true },
  { why: '7x7/2 pad 3, C 3, 23x23, K 8, 80% (a row wider than 32 lanes)', c: 3, h: 23, w: 23, k: 8, r: 7, s: 7, stride: 2, pad: pad(3, 3, 3, 3), pattern: 'unstructured', sparsity: 0.8, bias: true, relu: true },
];

interface Layer { readonly graph: Graph; readonly ws: WeightSet; readonly kernel: Float32Array; readonly st: WeightStructure; readonly problem: WstageProblem }

function layerOf(sh: Shape): Layer {
  const b = new GraphBuilder('one_conv', 'resnet', 'caffe');
  b.conv('conv', b.input('input', [sh.c, sh.h, sh.w]), sh.k, { kernel: [sh.r, sh.s], stride: sh.stride, pad: sh.pad, bias: sh.bias });
  const graph = b.build();
  const conv = graph.layers.find((l): l is ConvLayer => l.op === 'conv')!;
  const crs = sh.c * sh.r * sh.s;
  const tensors = new Map([[tensorKey('conv', 'kernel'), new Float32Array(sh.k * crs).map(() => (rnd() * 2 - 1) / Math.sqrt(crs))]]);
  if (sh.bias) tensors.set(tensorKey('conv', 'bias'), new Float32Array(sh.k).map(() => rnd() - 0.5));
  const pruned = pruneWeights(graph, { model: 'one_conv', source: 'test', tensors, filled: [] }, { sparsity: sh.sparsity, pattern: sh.pattern, includeFirst: true }).weights;
  const kernel = pruned.tensors.get(tensorKey('conv', 'kernel'))!.slice();
  // One output channel all zero (its warp writes only the epilogue).
  const zeroK = Math.floor(rnd() * sh.k);
  kernel.fill(0, zeroK * crs, (zeroK + 1) * crs);
  const ws: WeightSet = { ...pruned, tensors: new Map([...pruned.tensors, [tensorKey('conv', 'kernel'), kernel]]) };
  const problem: WstageProblem = {
    arch: 'sm_90', c: sh.c, h: sh.h, w: sh.w, k: sh.k, r: sh.r, s: sh.s, strideH: sh.stride, strideW: sh.stride,
    padTop: sh.pad.top, padLeft: sh.pad.left, ho: conv.shape[1], wo: conv.shape[2], bias: sh.bias, relu: sh.relu,
  };
  return { graph, ws, kernel, st: weightStructure(kernel, { k: sh.k, c: sh.c, r: sh.r, s: sh.s }), problem };
}

/** The template lines the walk below mirrors. */
const MIRRORED = [
  'constexpr int IN_ROWS = (ROWS - 1) * SH + R;', 'constexpr int LEFT = 4;',
  'constexpr int PR = (WO - 1) * SW + S - PL - W > 0 ? (WO - 1) * SW + S - PL - W : 0;',
  'constexpr int ROWP = (LEFT + W + PR + 3) / 4 * 4;', 'constexpr int CH_FLOATS = IN_ROWS * ROWP;',
  'const int slot = blockIdx.x * WARPS + warp;', 'const int oy0 = blockIdx.y * ROWS;',
  'mine[j] = make_uint2(static_cast<unsigned>(c * CH_FLOATS + r * ROWP + s + LEFT - PL),', '__float_as_uint(__ldg(wt + e0 + j)));',
  'const int iy0 = oy0 * SH - PT;', 'const int iy = iy0 + ir, ix = col - LEFT;', 'const int iy = iy0 + ir, ix = 4 * q - LEFT;',
  'live[t] = p < PIX_T && oy0 + ly < HO;', 'base[t] = p < PIX_T ? ly * SH * ROWP + lx * SW : 0;',
  'for (int t = 0; t < PPL; ++t) acc[t] = fmaf(wv, sIn[base[t] + static_cast<int>(q.x)], acc[t]);',
  'if (HAS_BIAS) v += bk;', 'if (APPLY_RELU) v = fmaxf(v, 0.0f);', 'if (live[t]) yk[lane + 32 * t] = v;',
  'float* y = out + static_cast<long long>(blockIdx.z) * outBatchStride + oy0 * WO;',
];

/** A C table `name[...] = { ... };` of the rendered source. */
function table(src: string, name: string): number[] {
  // The values are the device pass's (#ifdef __CUDA_ARCH__); the host pass sees one 0.
  const m = new RegExp(`${name}\\[[^\\]]*\\] = \\{\\n#ifdef __CUDA_ARCH__\\n([\\s\\S]*?)\\n#else\\n0\\n#endif\\n\\};`).exec(src);
  if (!m) throw new Error(`table ${name} not in the source`);
  return m[1]!.split(/[\s,]+/).filter((x) => x !== '').map(Number);
}

/** The chunked template's lines the chunked walk mirrors (the window's layout lines are MIRRORED's). */
const MIRRORED_CHUNKED = [
  'constexpr int BUF_FLOATS = CHUNK_FLOATS + 2 * WARPS * ENT_MAX;',
  'const int cq = q * CHUNK;', 'const int n = C - cq < CHUNK ? C - cq : CHUNK;',
  'for (int row = warp; row < n * IN_ROWS; row += WARPS) {', 'const int c = row / IN_ROWS, ir = row - (row / IN_ROWS) * IN_ROWS;',
  'const float* src = x + (cq + c) * HW + (rowOk ? iy : 0) * W - LEFT;', 'float* d = dst + row * ROWP;',
  'const bool ok = rowOk && static_cast<unsigned>(col - LEFT) < static_cast<unsigned>(W);', 'copyAsync4(d + col, ok ? src + col : x, ok);',
  'copyAsync16(dst + 4 * i, ok ? x + (cq + c) * HW + iy * W + ix : x, ok);',
  'return lane <= CHM ? static_cast<int>(kRunStart[(slot * NCHUNK + q) * CHM + lane]) : 0;',
  'float* sEnt = buf + CHUNK_FLOATS + warp * 2 * ENT_MAX;', 'for (int j = lane; j < e1 - e0; j += 32) {',
  'copyAsync4(sEnt + 2 * j, reinterpret_cast<const float*>(kEntOff + e0 + j), true);', 'copyAsync4(sEnt + 2 * j + 1, wt + e0 + j, true);',
  'stageEntries(wt, __shfl_sync(0xffffffffu, runNext, 0), __shfl_sync(0xffffffffu, runNext, CHM), next, warp, lane);',
  'if (q + 2 < NCHUNK) runAfter = runBounds(slot, q + 2, lane);', 'runCur = runNext;', 'runNext = runAfter;',
  'float* next = smem + ((q + 1) & 1) * BUF_FLOATS;', 'const float* buf = smem + (q & 1) * BUF_FLOATS;',
  'const int e0 = __shfl_sync(0xffffffffu, runCur, 0);',
  'const int a = __shfl_sync(0xffffffffu, runCur, j) - e0, b = __shfl_sync(0xffffffffu, runCur, j + 1) - e0;',
  'const float* lanePix = buf + base0;', 'const uint2* sEnt = reinterpret_cast<const uint2*>(buf + CHUNK_FLOATS + warp * 2 * ENT_MAX);',
  'const uint2 en = sEnt[i];', 'const float wv = __uint_as_float(en.y);', 'const float* px = lanePix + en.x;',
  'for (int t = 0; t < PPL; ++t) acc[j][t] = fmaf(wv, px[tWin(t)], acc[j][t]);',
  'const int k = static_cast<int>(kSlotCh[c0 + j]);', 'float v = acc[j][t];',
  'constexpr bool WIDE = WO > 32;', 'constexpr int CP = WIDE ? (WO + 31) / 32 : 1;', 'constexpr int LR = WIDE ? 1 : 32 / WO;',
  'constexpr int PPL = WIDE ? ROWS * CP : (ROWS + LR - 1) / LR;',
  '__host__ __device__ constexpr int tWin(int t) { return WIDE ? (t / CP) * SH * ROWP + (t % CP) * 32 * SW : t * LR * SH * ROWP; }',
  '__host__ __device__ constexpr int tOut(int t) { return WIDE ? (t / CP) * WO + (t % CP) * 32 : t * LR * WO; }',
  '__host__ __device__ constexpr int tRow(int t) { return WIDE ? t / CP : t * LR; }',
  '__host__ __device__ constexpr int tCol(int t) { return WIDE ? (t % CP) * 32 : 0; }',
  'constexpr int CHUNK_FLOATS = CHUNK * CH_FLOATS + TAIL;',
  'const int ly0 = WIDE ? 0 : lane / WO, lx0 = WIDE ? lane : lane - (lane / WO) * WO;', 'const bool laneOk = WIDE || lane < LR * WO;',
  'const int base0 = laneOk ? ly0 * SH * ROWP + lx0 * SW : 0;',
  'for (int t = 0; t < PPL; ++t) live[t] = laneOk && ly0 + tRow(t) < ROWS && oy0 + ly0 + tRow(t) < HO && lx0 + tCol(t) < WO;',
  'if (HAS_BIAS) v += bk;', 'if (APPLY_RELU) v = fmaxf(v, 0.0f);', 'if (live[t]) yk[ly0 * WO + lx0 + tOut(t)] = v;',
];

/**
 * The chunked kernel walked in JS: per tile, the two buffers start as NaN and chunk q overwrites
 * buffer q & 1 with its channels only (the last chunk may leave an older chunk's channels there),
 * so a run that reads a channel outside its chunk, or past the chunk's channels, turns up as a
 * wrong or NaN output.
 */
function walkChunked(spec: WstageKernelSpec, src: string, x: Float32Array, batch: number, packed: Float32Array, bias: Float32Array | null, out: Float32Array, writes: Uint8Array): void {
  for (const line of [...MIRRORED.slice(0, 5), ...MIRRORED_CHUNKED]) if (!src.includes(line)) throw new Error(`the template no longer has '${line}': update this walk to match`);
  const { c: C, h: H, w: W, k: K, strideH: SH, strideW: SW, padTop: PT, ho: HO, wo: WO } = spec;
  const lay = wstageLayout(spec);
  const ROWP = lay.inCols, IN_ROWS = lay.inRows, CH = IN_ROWS * ROWP, LEFT = 4, HW = H * W, PIX = HO * WO;
  const CHUNK = spec.chunk!, NCHUNK = Math.ceil(C / CHUNK), CHM = spec.slotChMax!, WIN = CHUNK * CH, CF = WIN + lay.tail;
  // The lane -> pixel mapping of the chunked template (WIDE / CP / LR).
  const WIDE = WO > 32, CP = WIDE ? Math.ceil(WO / 32) : 1, LR = WIDE ? 1 : Math.floor(32 / WO);
  const PPL = WIDE ? spec.rows * CP : Math.ceil(spec.rows / LR);
  expect(PPL, 'pixels per lane').toBe(lay.ppl);
  const tWin = (t: number): number => (WIDE ? Math.floor(t / CP) * SH * ROWP + (t % CP) * 32 * SW : t * LR * SH * ROWP);
  const tOut = (t: number): number => (WIDE ? Math.floor(t / CP) * WO + (t % CP) * 32 : t * LR * WO);
  const tRow = (t: number): number => (WIDE ? Math.floor(t / CP) : t * LR);
  const tCol = (t: number): number => (WIDE ? (t % CP) * 32 : 0);
  const slotStart = table(src, 'kSlotStart'), slotCh = table(src, 'kSlotCh'), runStart = table(src, 'kRunStart'), entOff = table(src, 'kEntOff');
  const slots = spec.groups * spec.warps;
  expect(runStart.length).toBe(slots * NCHUNK * CHM + 1);
  expect(entOff.length).toBe(Math.max(1, spec.nnz));
  const f = Math.fround;
  for (let n = 0; n < batch; n++) {
    for (let tile = 0; tile < lay.pixTiles; tile++) {
      const oy0 = tile * spec.rows;
      // NaN until written: the tail and any channel a chunk does not copy read as NaN.
      const bufs = [new Float32Array(CF).fill(Number.NaN), new Float32Array(CF).fill(Number.NaN)];
      const acc = Array.from({ length: slots }, () => Array.from({ length: CHM }, () => new Float32Array(32 * PPL)));
      for (let q = 0; q < NCHUNK; q++) {
        const cq = q * CHUNK, m = Math.min(CHUNK, C - cq), buf = bufs[q & 1]!;
        for (let i = 0; i < m * CH; i++) {
          const row = Math.floor(i / ROWP), col = i % ROWP, ch = Math.floor(row / IN_ROWS), ir = row % IN_ROWS;
          const iy = oy0 * SH - PT + ir, ix = col - LEFT;
          buf[i] = iy >= 0 && iy < H && ix >= 0 && ix < W ? x[n * C * HW + (cq + ch) * HW + iy * W + ix]! : 0;
        }
        for (let slot = 0; slot < slots; slot++) {
          const rb = (slot * NCHUNK + q) * CHM;
          // The warp's staged entries of chunk q: at most ENT_MAX of them.
          const e0 = runStart[rb]!, cnt = runStart[rb + CHM]! - e0;
          expect(cnt, `slot ${slot} chunk ${q}: entries within the staged list`).toBeLessThanOrEqual(Math.max(1, spec.chunkMax!));
          const sOff = entOff.slice(e0, e0 + cnt), sW = packed.slice(e0, e0 + cnt);
          for (let j = 0; j < CHM; j++) {
            for (let i = runStart[rb + j]! - e0; i < runStart[rb + j + 1]! - e0; i++) {
              const off = sOff[i]!;
              for (let lane = 0; lane < 32; lane++) {
                const ly0 = WIDE ? 0 : Math.floor(lane / WO), lx0 = WIDE ? lane : lane % WO;
                const laneOk = WIDE || lane < LR * WO;
                const base0 = laneOk ? ly0 * SH * ROWP + lx0 * SW : 0;
                for (let t = 0; t < PPL; t++) {
                  const live = laneOk && ly0 + tRow(t) < spec.rows && oy0 + ly0 + tRow(t) < HO && lx0 + tCol(t) < WO;
                  const at = base0 + off + tWin(t);
                  if (at >= CF) throw new Error(`buffer read ${at} past its ${CF} floats (window ${WIN} + tail ${lay.tail})`);
                  if (live && at >= WIN) throw new Error(`a live pixel reads the tail (${at} >= ${WIN})`);
                  const a = acc[slot]![j]!;
                  a[lane * PPL + t] = f(f(sW[i]! * buf[at]!) + a[lane * PPL + t]!);
                }
              }
            }
          }
        }
      }
      for (let slot = 0; slot < slots; slot++) {
        const c0 = slotStart[slot]!, nch = slotStart[slot + 1]! - c0;
        expect(nch, `slot ${slot}: at most CHM channels`).toBeLessThanOrEqual(CHM);
        for (let j = 0; j < nch; j++) {
          const k = slotCh[c0 + j]!;
          for (let lane = 0; lane < 32; lane++) {
            const ly0 = WIDE ? 0 : Math.floor(lane / WO), lx0 = WIDE ? lane : lane % WO;
            const laneOk = WIDE || lane < LR * WO;
            for (let t = 0; t < PPL; t++) {
              const live = laneOk && ly0 + tRow(t) < spec.rows && oy0 + ly0 + tRow(t) < HO && lx0 + tCol(t) < WO;
              let v = acc[slot]![j]![lane * PPL + t]!;
              if (bias) v = f(v + bias[k]!);
              if (spec.relu) v = Math.max(v, 0);
              if (live) {
                const i = n * K * PIX + k * PIX + oy0 * WO + ly0 * WO + lx0 + tOut(t);
                out[i] = v;
                writes[i]!++;
              }
            }
          }
        }
      }
    }
  }
}

/** The kernel walked in JS (see the header); every output written exactly once is checked by the caller. */
function walk(spec: WstageKernelSpec, src: string, x: Float32Array, batch: number, packed: Float32Array, bias: Float32Array | null, out: Float32Array, writes: Uint8Array): void {
  if (spec.chunk !== undefined) return walkChunked(spec, src, x, batch, packed, bias, out, writes);
  for (const line of MIRRORED) if (!src.includes(line)) throw new Error(`the template no longer has '${line}': update this walk to match`);
  const { c: C, h: H, w: W, k: K, r: R, s: S, strideH: SH, strideW: SW, padTop: PT, padLeft: PL, ho: HO, wo: WO } = spec;
  const lay = wstageLayout(spec);
  const ROWP = lay.inCols, IN_ROWS = lay.inRows, CH = IN_ROWS * ROWP, LEFT = 4, RS = R * S, HW = H * W, PIX = HO * WO;
  const slotStart = table(src, 'kSlotStart'), slotCh = table(src, 'kSlotCh'), chN = table(src, 'kChN'), entStart = table(src, 'kEntStart'), entCrs = table(src, 'kEntCrs');
  expect(slotStart.length).toBe(spec.groups * spec.warps + 1);
  const f = Math.fround;
  for (let n = 0; n < batch; n++) {
    for (let tile = 0; tile < lay.pixTiles; tile++) {
      const oy0 = tile * spec.rows;
      // The window (what the copy leaves in shared memory).
      const win = new Float32Array(C * CH);
      for (let ch = 0; ch < C; ch++) {
        for (let ir = 0; ir < IN_ROWS; ir++) {
          for (let col = 0; col < ROWP; col++) {
            const iy = oy0 * SH - PT + ir, ix = col - LEFT;
            win[ch * CH + ir * ROWP + col] = iy >= 0 && iy < H && ix >= 0 && ix < W ? x[n * C * HW + ch * HW + iy * W + ix]! : 0;
          }
        }
      }
      for (let slot = 0; slot < spec.groups * spec.warps; slot++) {
        let e = entStart[slot]!;
        for (let ci = slotStart[slot]!; ci < slotStart[slot + 1]!; ci++) {
          const k = slotCh[ci]!, m = chN[ci]!;
          for (let lane = 0; lane < 32; lane++) {
            for (let t = 0; t < lay.ppl; t++) {
              const p = lane + 32 * t;
              const ly = Math.floor(p / WO), lx = p % WO;
              const live = p < lay.pixT && oy0 + ly < HO;
              const base = p < lay.pixT ? ly * SH * ROWP + lx * SW : 0;
              let acc = 0;
              for (let j = 0; j < m; j++) {
                const crs = entCrs[e + j]!;
                const ch = Math.floor(crs / RS), rs = crs % RS, r = Math.floor(rs / S), s = rs % S;
                const off = ch * CH + r * ROWP + s + LEFT - PL;
                if (base + off >= win.length) throw new Error(`window read ${base + off} past its ${win.length} floats`);
                acc = f(f(packed[e + j]! * win[base + off]!) + acc);
              }
              let v = acc;
              if (bias) v = f(v + bias[k]!);
              if (spec.relu) v = Math.max(v, 0);
              if (live) {
                const i = n * K * PIX + k * PIX + oy0 * WO + p;
                out[i] = v;
                writes[i]!++;
              }
            }
          }
          e += m;
        }
        expect(e, `slot ${slot}: its entries end where the next slot's begin`).toBe(entStart[slot + 1]);
      }
    }
  }
}

describe(`wstage kernels walked on the CPU (seed ${seed})`, () => {
  it('the rendered tables, walked as the kernel walks them, match the float64 reference conv on odd shapes at input zeros 0/50/90/100%', () => {
    let checks = 0;
    let pickCount = 0;
    for (const sh of SHAPES) {
      const l = layerOf(sh);
      // The rule's pick and two more of the candidates (other rows, warps, groups), and the cheapest
      // whole-window and chunked ones (a chunk only where C exceeds the smallest chunk).
      const cands = wstageCandidates(gpuProfile('sm_90'), l.problem, 2, l.st);
      expect(cands.length, sh.why).toBeGreaterThan(0);
      const whole = cands.find((c) => c.spec.chunk === undefined)!;
      const chunked = cands.filter((c) => c.spec.chunk !== undefined);
      expect(chunked.length > 0, `${sh.why}: chunked candidates`).toBe(sh.c > Math.min(...WSTAGE_CHUNKS));
      const picks = [cands[0]!, cands[Math.floor(cands.length / 2)]!, cands[cands.length - 1]!, whole, ...(chunked.length ? [chunked[0]!, chunked[chunked.length - 1]!] : [])];
      for (const { spec } of picks) {
        pickCount++;
        const src = renderKernel(spec, [{ model: 'test', layer: sh.why }], { structure: l.st }).source;
        const res = resourcesOf(spec, 1);
        expect(src, 'static_asserts carry the planner\'s counts').toContain(`static_assert(SHARED_BYTES == ${res.sharedBytes},`);
        expect(src).toContain(`static_assert(THREADS == ${res.threads},`);
        const order = kernelWeightOrder(spec, l.st)!;
        expect(order.length).toBe(spec.nnz);
        const packed = Float32Array.from(order, (i) => l.kernel[i]!);
        const bias = sh.bias ? l.ws.tensors.get(tensorKey('conv', 'bias'))! : null;
        for (const zeros of INPUT_ZEROS) {
          const batch = 2;
          const x = new Float32Array(batch * sh.c * sh.h * sh.w).map(() => (rnd() < zeros ? 0 : 0.02 + rnd()));
          if (zeros < 1 && !x.some((v) => v !== 0)) x[0] = 0.5;
          const ref = referenceForward(l.graph, l.ws, x, batch).outputs.get('conv')!.map((v) => (sh.relu ? Math.max(v, 0) : v));
          const out = new Float32Array(ref.length).fill(Number.NaN);
          const writes = new Uint8Array(ref.length);
          walk(spec, src, x, batch, packed, bias, out, writes);
          const what = `${kernelNameOf(spec)} (${sh.why}) at ${100 * zeros}% zeros`;
          expect(writes.every((w) => w === 1), `${what}: every output written exactly once`).toBe(true);
          let num = 0, den = 0;
          for (let i = 0; i < ref.length; i++) { num += (out[i]! - ref[i]!) ** 2; den += ref[i]! ** 2; }
          const rel = den === 0 ? Math.sqrt(num) : Math.sqrt(num / den);
          expect(rel, what).toBeLessThanOrEqual(TOL);
          checks++;
        }
      }
    }
    expect(checks).toBe(pickCount * INPUT_ZEROS.length);
    expect(pickCount).toBe(SHAPES.length * 4 + 2 * SHAPES.filter((sh) => sh.c > Math.min(...WSTAGE_CHUNKS)).length);
  });

  it('the schedule deals every channel once, longest first to the least-loaded slot; the flat tables follow it', () => {
    const l = layerOf(SHAPES[0]!);
    for (const slots of [1, 3, 8, l.st.k]) {
      const sch = wstageSchedule(l.st, slots);
      expect([...sch.slotCh].sort((a, b) => a - b)).toEqual(Array.from({ length: l.st.k }, (_, i) => i));
      const nnz = (k: number): number => l.st.start[k + 1]! - l.st.start[k]!;
      // LPT: the busiest slot is at most the mean plus the largest channel.
      const biggest = Math.max(...Array.from({ length: l.st.k }, (_, k) => nnz(k))) + CHANNEL_OVERHEAD;
      expect(sch.loadMax).toBeLessThanOrEqual(sch.loadMean + biggest + 1e-9);
      const flat = flatTables(l.st, sch);
      expect(flat.entStart[slots]).toBe(l.st.offsets.length);
      for (let s = 0; s < slots; s++) {
        let e = flat.entStart[s]!;
        for (let ci = sch.slotStart[s]!; ci < sch.slotStart[s + 1]!; ci++) {
          const k = sch.slotCh[ci]!;
          expect(flat.chN[ci]).toBe(nnz(k));
          for (let j = 0; j < nnz(k); j++) expect([flat.entK[e + j], flat.entCrs[e + j]]).toEqual([k, l.st.offsets[l.st.start[k]! + j]]);
          e += nnz(k);
        }
      }
    }
    expect(() => wstageSchedule(l.st, l.st.k + 1)).toThrow(/slots for 24 output channels/);
  });

  it('specs round-trip through their tiles; validation names the bad field; padding past the window margin is refused', () => {
    const l = layerOf(SHAPES[1]!);
    const ch = chooseWstageTiles(gpuProfile('sm_90'), l.problem, 1, l.st)!;
    expect(ch.spec.chunk, 'a 16-channel layer: the whole window').toBeUndefined();
    const { family: _f, rows: _r, warps: _w, groups: _g, patternDigest: _d, nnz: _n, rowMax: _m, kActive: _a, slotMax: _s, ...problem } = ch.spec;
    expect(specWithTiles(problem, tilesOf(ch.spec))).toEqual(ch.spec);
    expect(() => validateWstageSpec({ ...ch.spec, warps: 3 })).toThrow(/warps must be one of 2, 4, 8, 16, got 3/);
    expect(() => validateWstageSpec({ ...ch.spec, rows: ch.spec.ho + 1 })).toThrow(/rows \d+ exceeds the \d+ output rows/);
    expect(() => validateWstageSpec({ ...ch.spec, patternDigest: 'xyz' })).toThrow(/patternDigest must be 10 hex digits/);
    expect(wstageCandidates(gpuProfile('sm_90'), { ...l.problem, padLeft: 5 }, 1, l.st)).toEqual([]);
    // The whole window must fit one block's shared memory: a wide layer on sm_75 (64 KB) has only
    // chunked tiles, whose two buffers fit.
    const wide = layerOf({ ...SHAPES[1]!, c: 512, h: 56, w: 56 });
    const wideCands = wstageCandidates(gpuProfile('sm_75'), { ...wide.problem, arch: 'sm_75' }, 1, wide.st);
    expect(wideCands.length).toBeGreaterThan(0);
    for (const c of wideCands) {
      expect(c.spec.chunk, kernelNameOf(c.spec)).toBeDefined();
      expect(resourcesOf(c.spec, 1).sharedBytes).toBeLessThanOrEqual(gpuProfile('sm_75').sharedPerBlockOptin);
    }
    // A chunked spec round-trips too; its validation names the bad fields.
    const l0 = layerOf(SHAPES[0]!);
    const cc = wstageCandidates(gpuProfile('sm_90'), l0.problem, 1, l0.st).find((c) => c.spec.chunk !== undefined)!.spec;
    expect(kernelNameOf(cc)).toMatch(new RegExp(`_g${cc.groups}_cc${cc.chunk}_d`));
    const { family: _f2, rows: _r2, warps: _w2, groups: _g2, patternDigest: _d2, nnz: _n2, rowMax: _m2, kActive: _a2, slotMax: _s2, chunk: _c2, slotChMax: _h2, chunkMax: _x2, ...problem2 } = cc;
    expect(specWithTiles(problem2, tilesOf(cc))).toEqual(cc);
    expect(() => validateWstageSpec({ ...cc, chunk: cc.c })).toThrow(/chunk must be an integer in \[1, c - 1\]/);
    expect(() => validateWstageSpec({ ...cc, slotChMax: undefined })).toThrow(/a chunked spec needs slotChMax/);
    expect(() => validateWstageSpec({ ...ch.spec, slotChMax: 2 })).toThrow(/slotChMax and chunkMax are only for a chunked spec/);
    expect(() => validateWstageSpec({ ...cc, chunkMax: cc.slotMax + 1 })).toThrow(/a chunked spec needs chunkMax in \[0, slotMax/);
    expect(() => kernelWeightOrder(ch.spec, wide.st)).toThrow(/packed weights need the weight structure/);
  });
});
