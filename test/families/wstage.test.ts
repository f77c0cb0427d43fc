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
import { validateWstageSpec, type WstageKernelSpec, type WstageProblem } from '../../src/families/wstage/spec.js';
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

/** The kernel walked in JS (see the header); every output written exactly once is checked by the caller. */
function walk(spec: WstageKernelSpec, src: string, x: Float32Array, batch: number, packed: Float32Array, bias: Float32Array | null, out: Float32Array, writes: Uint8Array): void {
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
    for (const sh of SHAPES) {
      const l = layerOf(sh);
      // The rule's pick and two more of the candidates (other rows, warps, groups).
      const cands = wstageCandidates(gpuProfile('sm_90'), l.problem, 2, l.st);
      expect(cands.length, sh.why).toBeGreaterThan(0);
      for (const { spec } of [cands[0]!, cands[Math.floor(cands.length / 2)]!, cands[cands.length - 1]!]) {
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
    expect(checks).toBe(SHAPES.length * 3 * INPUT_ZEROS.length);
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
    const { family: _f, rows: _r, warps: _w, groups: _g, patternDigest: _d, nnz: _n, rowMax: _m, kActive: _a, slotMax: _s, ...problem } = ch.spec;
    expect(specWithTiles(problem, tilesOf(ch.spec))).toEqual(ch.spec);
    expect(() => validateWstageSpec({ ...ch.spec, warps: 3 })).toThrow(/warps must be one of 2, 4, 8, 16, got 3/);
    expect(() => validateWstageSpec({ ...ch.spec, rows: ch.spec.ho + 1 })).toThrow(/rows \d+ exceeds the \d+ output rows/);
    expect(() => validateWstageSpec({ ...ch.spec, patternDigest: 'xyz' })).toThrow(/patternDigest must be 10 hex digits/);
    expect(wstageCandidates(gpuProfile('sm_90'), { ...l.problem, padLeft: 5 }, 1, l.st)).toEqual([]);
    // The window must fit one block's shared memory: a wide layer on sm_75 (64 KB) has no tile.
    const wide = layerOf({ ...SHAPES[1]!, c: 512, h: 56, w: 56 });
    expect(chooseWstageTiles(gpuProfile('sm_75'), { ...wide.problem, arch: 'sm_75' }, 1, wide.st)).toBeNull();
    expect(() => kernelWeightOrder(ch.spec, wide.st)).toThrow(/packed weights need the weight structure/);
  });
});
