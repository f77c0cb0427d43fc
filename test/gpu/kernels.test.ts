// Every generated kernel against cuDNN. The kernels: every act-sparse kernel the planner emits for
// the zoo at this GPU's architecture with every eligible conv forced onto the generated path
// (3x3, strided 1x1 and 1x1 shapes of ResNet, DenseNet and VGG), plus odd shapes the zoo lacks
// (channels not a multiple of the tile, odd H and W, tiles that do not divide the output, stride
// 2 with asymmetric padding, 1x1 stride 2, 5x5, 'valid' padding, K not a multiple of the block),
// run at batch 3. Each runs on fresh random ReLU-like inputs at 0, 50, 90, 99 and 100% zeros,
// uniform, clustered (4x4 blocks per channel) and in dead channels (whole channels of an image zero),
// with every buffer poisoned (NaN) before each run and its output written into a channel slice of
// a larger buffer: relative L2 error against cuDNN <= 1e-5, every output element written, nothing
// written outside the slice. The odd shapes
// are also checked against a float64 CPU conv (cuDNN is not trusted blindly either).
// The weight-sparse family (wsparse) runs the same checks on pruned weights, the ones its kernel
// was generated for (its nonzero lists are tables in the kernel; cuDNN gets the same weights): the
// kernels the planner picks for ResNet-50 pruned 90% unstructured and 2:4 on this arch (batch 1),
// and the odd shapes with weights pruned unstructured 80/90/95%, 2:4, block4x1 and whole filters,
// one output channel zeroed by hand in each (batch 3). The pixel-gather family (pxg) runs on every
// odd shape and on DenseNet-169's 128x7x7 and 128x14x14 -> 32 3x3 convs (batch 3). The dual-sparse
// family (dual, no rule: tune measures it) runs on pruned ResNet-50's 3x3 convs of 7x7 to 28x28 (its
// cost model's cheapest tile, batch 1) and on the odd shapes its space serves (batch 3), on the same
// pruned weights as wsparse. The fused Winograd family (wino, no rule either) runs on odd 3x3 stride-1 shapes and
// ResNet-50's four 3x3 shapes at every split of its space (odd shapes at batch 3, ResNet's at batch 1).
//
// CUSNN_TEST_SEED repeats a run; CUSNN_GPU_LOG=<file> writes the per-kernel errors as JSON;
// CUSNN_KERNEL_MODELS=resnet50,... narrows the zoo (default: all).
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildAddon } from '../../src/toolchain/addon.js';
import { findNvcc } from '../../src/toolchain/nvcc.js';
import type { WinoKernelSpec } from '../../src/families/wino/spec.js';
import { winoCandidates } from '../../src/families/wino/tiles.js';
import { generate } from '../../src/generate.js';
import { MODEL_NAMES } from '../../src/model/zoo/index.js';
import type { ActSparseKernelSpec } from '../../src/families/act-sparse/spec.js';
import { chooseIgemmTiles, chooseIgemmTilesForWeights } from '../../src/families/igemm/tiles.js';
import { igemmVecFits, igemmWriterTiles, keptFromStructure, validateIgemmSpec, type IgemmKernelSpec } from '../../src/families/igemm/spec.js';
import { igemmSharedBytes } from '../../src/families/igemm/resources.js';
import { gpuProfile } from '../../src/arch/profiles.js';
import { validatePxgSpec, type PxgKernelSpec } from '../../src/families/pxg/spec.js';
import type { KernelSpec } from '../../src/families/registry.js';
import { loadAddon, type LoadedAddon, type NativeRuntime } from '../../src/runtime/addon.js';
import { GraphBuilder } from '../../src/model/builder.js';
import { buildModel } from '../../src/model/zoo/index.js';
import { tensorKey, type ConvLayer } from '../../src/model/ir.js';
import { planNetwork } from '../../src/plan/planner.js';
import { sparsityProfile } from '../../src/sparsity/profile.js';
import { syntheticWeights } from '../../src/weights/synthetic.js';
import { pruneWeights, type PrunePattern } from '../../src/weights/prune.js';
import { getTensor } from '../../src/weights/store.js';
import { structureLookup, weightStructure, type WeightStructure } from '../../src/families/wsparse/structure.js';
import { chooseWsparseTiles } from '../../src/families/wsparse/tiles.js';
import { chooseWstageTiles, wstageCandidates } from '../../src/families/wstage/tiles.js';
import { dualCandidates } from '../../src/families/dual/tiles.js';
import { isWeightSparse, kernelNameOf, kernelWeightOrder } from '../../src/families/registry.js';
import type { View } from '../../src/runtime/program.js';
import { mulberry32, testSeed } from '../helpers/random.js';
import { chw, convRef, convStep, kcrsToCrsk, program, V, type ConvShape } from './programs.js';
import { writeKernelFolder } from './tiny-folder.js';

const hasGpu = spawnSync('nvidia-smi', ['-L'], { encoding: 'utf8' }).status === 0;
const skipReason = !hasGpu ? 'no NVIDIA GPU here (nvidia-smi failed): run on the GPU host' : !findNvcc() ? 'nvcc not found' : null;
if (skipReason) console.warn(`gpu/kernels: skipping: ${skipReason}`);

const SEED = testSeed();
const rnd = mulberry32(SEED);
const SPARSITIES = [0, 0.5, 0.9, 0.99, 1] as const;
const PATTERNS = ['uniform', 'clustered', 'dead-channels'] as const;
const TOL = 1e-5;

type Odd = Omit<ActSparseKernelSpec, 'family' | 'arch'> & { why: string };
const ODD: Odd[] = [
  { why: 'C 36 not a multiple of tc 16, odd 13x11, tiles 3x4 do not divide it, K 40 partial block',
    c: 36, h: 13, w: 11, k: 40, r: 3, s: 3, strideH: 1, strideW: 1, padTop: 1, padLeft: 1, ho: 13, wo: 11, bias: true, relu: true, th: 3, tw: 4, tc: 16, kb: 32, cs: 2 },
  { why: '3x3 stride 2 on odd 15x15, TF same padding, no bias',
    c: 20, h: 15, w: 15, k: 24, r: 3, s: 3, strideH: 2, strideW: 2, padTop: 1, padLeft: 1, ho: 8, wo: 8, bias: false, relu: true, th: 2, tw: 3, tc: 8, kb: 32, cs: 1 },
  { why: '3x3 stride 2 on even 14x14, asymmetric TF same padding (top/left 0)',
    c: 24, h: 14, w: 14, k: 32, r: 3, s: 3, strideH: 2, strideW: 2, padTop: 0, padLeft: 0, ho: 7, wo: 7, bias: true, relu: false, th: 2, tw: 7, tc: 8, kb: 32, cs: 2 },
  { why: '1x1 on odd 9x7, C 50, K 72 (kb 64: partial second block), no ReLU',
    c: 50, h: 9, w: 7, k: 72, r: 1, s: 1, strideH: 1, strideW: 1, padTop: 0, padLeft: 0, ho: 9, wo: 7, bias: true, relu: false, th: 1, tw: 7, tc: 16, kb: 64, cs: 2 },
  { why: '1x1 stride 2 on odd 15x15',
    c: 24, h: 15, w: 15, k: 16, r: 1, s: 1, strideH: 2, strideW: 2, padTop: 0, padLeft: 0, ho: 8, wo: 8, bias: false, relu: true, th: 2, tw: 4, tc: 8, kb: 32, cs: 1 },
  { why: '5x5 pad 2 on odd 11x13',
    c: 12, h: 11, w: 13, k: 24, r: 5, s: 5, strideH: 1, strideW: 1, padTop: 2, padLeft: 2, ho: 11, wo: 13, bias: true, relu: true, th: 2, tw: 4, tc: 4, kb: 32, cs: 1 },
  { why: '3x3 valid padding, K 33',
    c: 8, h: 9, w: 9, k: 33, r: 3, s: 3, strideH: 1, strideW: 1, padTop: 0, padLeft: 0, ho: 7, wo: 7, bias: true, relu: true, th: 4, tw: 4, tc: 8, kb: 32, cs: 1 },
];

/**
 * ReLU-like input: exact zeros at the given fraction (uniform, in 4x4 blocks per channel, or whole channels
 * of an image dead, as real ReLU maps leave them), else (0.02, 1).
 */
function reluInput(n: number, c: number, h: number, w: number, zeros: number, pattern: (typeof PATTERNS)[number]): Float32Array {
  const x = new Float32Array(n * c * h * w);
  for (let i = 0; i < x.length; i++) x[i] = 0.02 + 0.98 * rnd();
  if (pattern === 'dead-channels') {
    for (let p = 0; p < n * c; p++) if (rnd() < zeros) x.fill(0, p * h * w, (p + 1) * h * w);
  } else if (pattern === 'uniform') {
    for (let i = 0; i < x.length; i++) if (rnd() < zeros) x[i] = 0;
  } else {
    for (let p = 0; p < n * c; p++) {
      for (let by = 0; by < h; by += 4) for (let bx = 0; bx < w; bx += 4) {
        if (rnd() >= zeros) continue;
        for (let y = by; y < Math.min(by + 4, h); y++) x.fill(0, p * h * w + y * w + bx, p * h * w + y * w + Math.min(bx + 4, w));
      }
    }
  }
  return x;
}

function relL2(a: Float32Array, ref: ArrayLike<number>): { rel: number; maxAbs: number; nonFinite: number } {
  let num = 0, den = 0, maxAbs = 0, nonFinite = 0;
  for (let i = 0; i < a.length; i++) {
    if (!Number.isFinite(a[i]!)) { nonFinite++; continue; }
    const d = a[i]! - ref[i]!;
    num += d * d;
    den += ref[i]! * ref[i]!;
    maxAbs = Math.max(maxAbs, Math.abs(d));
  }
  return { rel: den > 0 ? Math.sqrt(num / den) : (num > 0 ? Infinity : 0), maxAbs, nonFinite };
}

interface Case {
  readonly name: string; readonly spec: KernelSpec; readonly batch: number; readonly odd: boolean;
  /** Weight-sparse kernels: the pruned KCRS weights the kernel was generated for and their structure (others: fresh random weights). */
  readonly weights?: Float32Array;
  readonly structure?: WeightStructure;
}

/** A wsparse kernel and the weights it was generated from. */
interface WsparseCase { readonly spec: KernelSpec; readonly weights: Float32Array; readonly structure: WeightStructure; readonly batch: number; readonly odd: boolean }

const WSPARSE_PRUNES: readonly { pattern: PrunePattern; sparsity: number }[] = [
  { pattern: 'unstructured', sparsity: 0.8 }, { pattern: 'unstructured', sparsity: 0.9 }, { pattern: 'unstructured', sparsity: 0.95 },
  { pattern: '2:4', sparsity: 0.5 }, { pattern: 'block4x1', sparsity: 0.8 }, { pattern: 'filter', sparsity: 0.75 },
];

/**
 * The weight-sparse kernels for ResNet-50 pruned by `pattern`, each with its layer's pruned weights:
 * per layer the planner's pick and the rule pick of the other weight-sparse family (wsparse, wstage),
 * so both are checked on every pruned layer.
 */
function zooWsparse(arch: string, pattern: PrunePattern, sparsity: number): WsparseCase[] {
  const g = buildModel('resnet50');
  const ws = pruneWeights(g, syntheticWeights(g, Math.floor(rnd() * 1000)), { sparsity, pattern }).weights;
  const structures = structureLookup(g, ws);
  const plan = planNetwork(g, gpuProfile(arch), sparsityProfile(g, ws), { batch: 1, weightsSource: 'pruned', weightStructure: structures });
  return plan.convs.filter((c) => c.spec && isWeightSparse(c.spec)).flatMap((c) => {
    const structure = structures(c.layer)!;
    const { family: _f, ...rest } = c.spec as Extract<KernelSpec, { family: 'wsparse' | 'wstage' | 'dual' }>;
    const problem = { arch: rest.arch, c: rest.c, h: rest.h, w: rest.w, k: rest.k, r: rest.r, s: rest.s, strideH: rest.strideH, strideW: rest.strideW,
      padTop: rest.padTop, padLeft: rest.padLeft, ho: rest.ho, wo: rest.wo, bias: rest.bias, relu: rest.relu };
    const other = c.spec!.family === 'wsparse' ? chooseWstageTiles(gpuProfile(arch), problem, 1, structure) : chooseWsparseTiles(gpuProfile(arch), problem, 1, structure);
    // The cheapest chunked wstage tile too, unless the planner's or the other pick is one.
    const picked = [c.spec!, ...(other ? [other.spec] : [])];
    const chunked = picked.some((s) => s.family === 'wstage' && s.chunk !== undefined) ? undefined
      : wstageCandidates(gpuProfile(arch), problem, 1, structure).find((x) => x.spec.chunk !== undefined)?.spec;
    const weights = getTensor(ws, c.layer, 'kernel');
    return [...picked, ...(chunked ? [chunked] : [])].map((spec) => ({ spec, weights, structure, batch: 1, odd: false }));
  }).concat(plan.convs.filter((c) => c.spec && c.spec.r === 3).flatMap((c) => {
    // The dual family's cheapest tile by its cost model on every pruned 3x3 conv its space serves (7x7 to 28x28,
    // whatever family the plan chose there: no rule picks dual, tune does).
    const structure = structures(c.layer)!;
    const q = c.spec!;
    const problem = { arch: q.arch, c: q.c, h: q.h, w: q.w, k: q.k, r: q.r, s: q.s, strideH: q.strideH, strideW: q.strideW,
      padTop: q.padTop, padLeft: q.padLeft, ho: q.ho, wo: q.wo, bias: q.bias, relu: q.relu };
    const dual = dualCandidates(gpuProfile(arch), problem, 1, structure)[0];
    return dual ? [{ spec: dual, weights: getTensor(ws, c.layer, 'kernel'), structure, batch: 1, odd: false }] : [];
  }));
}

/** An odd shape with fresh random weights pruned by the project's pruner (one output channel then zeroed), tiles from the wsparse and wstage rules at batch 3. */
function oddWsparse(arch: string, p: Omit<Odd, 'why'>, prune: { pattern: PrunePattern; sparsity: number }): WsparseCase[] {
  const b = new GraphBuilder('odd', 'resnet', 'caffe');
  const bottom = Math.max(0, (p.ho - 1) * p.strideH + p.r - p.h - p.padTop);
  const right = Math.max(0, (p.wo - 1) * p.strideW + p.s - p.w - p.padLeft);
  b.conv('conv', b.input('input', [p.c, p.h, p.w]), p.k, { kernel: [p.r, p.s], stride: p.strideH, pad: { top: p.padTop, left: p.padLeft, bottom, right }, bias: p.bias });
  const g = b.build();
  const conv = g.layers.find((l): l is ConvLayer => l.op === 'conv')!;
  expect([conv.shape[1], conv.shape[2]]).toEqual([p.ho, p.wo]);
  const crs = p.c * p.r * p.s;
  const raw = new Float32Array(p.k * crs).map(() => (rnd() * 2 - 1) / Math.sqrt(crs));
  const tensors = new Map([[tensorKey('conv', 'kernel'), raw]]);
  if (p.bias) tensors.set(tensorKey('conv', 'bias'), new Float32Array(p.k).map(() => rnd() - 0.5));
  const pruned = pruneWeights(g, { model: 'odd', source: 'test', tensors, filled: [] }, { ...prune, includeFirst: true }).weights;
  const weights = getTensor(pruned, 'conv', 'kernel').slice();
  const zeroK = Math.floor(rnd() * p.k);
  weights.fill(0, zeroK * crs, (zeroK + 1) * crs);
  const structure = weightStructure(weights, { k: p.k, c: p.c, r: p.r, s: p.s });
  const { th: _a, tw: _b, tc: _c, kb: _d, cs: _e, ...problem } = p;
  const q = { arch: arch as ActSparseKernelSpec['arch'], ...problem };
  // And the cheapest chunked wstage tile (the window streamed through two buffers) when the rule's pick is not one.
  const rule = chooseWstageTiles(gpuProfile(arch), q, 3, structure);
  const chunked = rule?.spec.chunk === undefined ? wstageCandidates(gpuProfile(arch), q, 3, structure).find((c) => c.spec.chunk !== undefined) ?? null : null;
  // And the dual family where its space serves the shape at batch 3 (alternately its first and its last tile).
  const duals = dualCandidates(gpuProfile(arch), q, 3, structure);
  const dual = duals.length > 0 ? duals[rnd() < 0.5 ? 0 : duals.length - 1]! : null;
  return [...[chooseWsparseTiles(gpuProfile(arch), q, 3, structure), rule, chunked]
    .filter((ch) => ch !== null).map((ch) => ({ spec: ch.spec, weights, structure, batch: 3, odd: true })),
  ...(dual ? [{ spec: dual, weights, structure, batch: 3, odd: true }] : [])];
}

describe.skipIf(skipReason !== null)(`every generated kernel against cuDNN (seed ${SEED})`, () => {
  let addon: LoadedAddon;
  let arch = 'sm_90';
  const cases: Case[] = [];
  const log: Record<string, unknown> = { seed: SEED };
  const worst: Record<string, number> = {};

  beforeAll(async () => {
    const probe = spawnSync('nvidia-smi', ['--query-gpu=compute_cap', '--format=csv,noheader'], { encoding: 'utf8' });
    const cc = /(\d+)\.(\d+)/.exec(probe.stdout ?? '');
    arch = cc ? `sm_${cc[1]}${cc[2]}` : 'sm_90';
    const specs = new Map<string, KernelSpec>();
    const models = (process.env.CUSNN_KERNEL_MODELS ?? MODEL_NAMES.join(',')).split(',');
    for (const model of models) {
      const g = generate({ model, arch, force: 'act-sparse', out: join(mkdtempSync(join(tmpdir(), 'cusnn-k-')), model) });
      for (const c of g.plan.convs) if (c.spec && c.kernelName) specs.set(c.kernelName, c.spec);
    }
    const oddAct: KernelSpec[] = ODD.map(({ why: _why, ...p }) => ({ family: 'act-sparse' as const, arch: arch as ActSparseKernelSpec['arch'], ...p }));
    // The same odd problems on the igemm family where it applies (K % 4 == 0), tiles from its rule at batch 3.
    const oddIgemm: KernelSpec[] = oddAct.flatMap((s) => {
      const { family: _f, th: _a, tw: _b, tc: _c, kb: _d, cs: _e, ...problem } = s as ActSparseKernelSpec;
      const ch = Number(arch.slice(3)) >= 80 ? chooseIgemmTiles(gpuProfile(arch), problem, 3) : null;
      return ch ? [ch.spec] : [];
    });
    // The large-batch igemm tiles (8 x 8 / 8 x 4 accumulators, split 1 and 2, 16-byte pixel copies where the
    // shape allows) on the odd problems and on a 1x1 with HO * WO % 4 == 0 and tails in C, K and pixels.
    const vecOdd = { c: 50, h: 10, w: 10, k: 68, r: 1, s: 1, strideH: 1, strideW: 1, padTop: 0, padLeft: 0, ho: 10, wo: 10, bias: true, relu: true };
    const oddWide: KernelSpec[] = Number(arch.slice(3)) >= 80 ? [...oddIgemm.map((s) => s as IgemmKernelSpec), { ...vecOdd, family: 'igemm' as const, arch: arch as IgemmKernelSpec['arch'] } as IgemmKernelSpec]
      .flatMap((q) => [[128, 128, 8, 1], [64, 128, 8, 2], [128, 64, 4, 2]].map(([bm, bn, tn, split]) => ({
        ...q, bm: bm!, bn: bn!, tm: 8, tn: tn!, warpM: 8, split: Number(arch.slice(3)) >= 90 ? split! : 1, stages: 4,
        bkc: q.r * q.s === 1 ? 8 : 1, ...(igemmVecFits(q) ? { vec: 4 as const } : {}),
      })))
      .filter((q) => { try { validateIgemmSpec(q); } catch { return false; } return igemmSharedBytes(q) <= gpuProfile(arch).sharedPerBlockOptin; }) : [];
    expect(oddWide.some((q) => q.family === 'igemm' && q.vec === 4), 'a large-batch case with 16-byte pixel copies').toBe(true);
    oddIgemm.push(...oddWide);
    // pxg on every odd problem (1x1 and K 72 included: the template takes any K <= 128 and any window, though the rule
    // serves only KxK to <= 32 channels), tiles across the space, plus DenseNet-169's two conv5/conv4 3x3 shapes
    // with the rule's tiles; all at batch 3.
    // Tiles across the space (32 warps x 32 rows would spill: not in it).
    const PXG_ODD_TILES = [[8, 8], [16, 16], [32, 16], [8, 4], [16, 8], [32, 4], [8, 32]].map(([warps, unroll]) => ({ warps: warps!, unroll: unroll! }));
    const dn = (hw: number) => ({ c: 128, h: hw, w: hw, k: 32, r: 3, s: 3, strideH: 1, strideW: 1, padTop: 1, padLeft: 1, ho: hw, wo: hw, bias: false, relu: false });
    const oddPxg: KernelSpec[] = [
      ...ODD.map(({ why: _w, th: _a, tw: _b, tc: _c, kb: _d, cs: _e, ...q }, i) => ({ family: 'pxg' as const, arch: arch as PxgKernelSpec['arch'], ...q, ...PXG_ODD_TILES[i % PXG_ODD_TILES.length]! })),
      ...[7, 14].map((hw) => ({ family: 'pxg' as const, arch: arch as PxgKernelSpec['arch'], ...dn(hw), warps: 16, unroll: 8 })),
      // Launched without dependent launch (a tile tune's space offers on sm_90 within one wave).
      { family: 'pxg' as const, arch: arch as PxgKernelSpec['arch'], ...dn(7), warps: 8, unroll: 16, pdl: false as const },
      // Two pixels a block (tune's space where one block a pixel takes more than a wave): DenseNet's 14x14, and the
      // first odd shape's 143 pixels (the last block's second group has no pixel).
      { family: 'pxg' as const, arch: arch as PxgKernelSpec['arch'], ...dn(14), warps: 16, unroll: 8, ppb: 2 },
      // The large-map tiles of tune's space (DenseNet's 56x56 conv2 3x3 convs): four pixels a block, 3136 pixels.
      { family: 'pxg' as const, arch: arch as PxgKernelSpec['arch'], ...dn(56), warps: 32, unroll: 8, ppb: 4 },
      (({ why: _w, th: _a, tw: _b, tc: _c, kb: _d, cs: _e, ...q }) => ({ family: 'pxg' as const, arch: arch as PxgKernelSpec['arch'], ...q, warps: 32, unroll: 16, ppb: 2 }))(ODD[0]!),
    ].map((q) => validatePxgSpec(q));
    oddIgemm.push(...oddPxg);
    log.pxgKernels = oddPxg.length;
    // wino (fused Winograd F(2x2,3x3), no rule: tune measures it), every split the arch allows: odd 3x3 stride-1
    // shapes (C not a multiple of 8, K not of 32, odd H and W, no bias / no ReLU) at batch 3 with the float64 check,
    // and ResNet-50's four 3x3 shapes with the zoo's kernels (batch 1, against cuDNN: their float64 convs would take
    // minutes on the CPU).
    const w3 = (c: number, h: number, w: number, k: number, bias: boolean, relu: boolean) => ({ c, h, w, k, r: 3, s: 3, strideH: 1, strideW: 1, padTop: 1, padLeft: 1, ho: h, wo: w, bias, relu });
    const winoOf = (q: ReturnType<typeof w3>) => winoCandidates(gpuProfile(arch), { arch: arch as WinoKernelSpec['arch'], ...q }, 3);
    const oddWino: KernelSpec[] = [w3(20, 11, 13, 76, true, true), w3(37, 7, 7, 40, false, false), w3(3, 5, 6, 8, true, false)].flatMap(winoOf);
    const zooWino: KernelSpec[] = [w3(64, 56, 56, 64, true, true), w3(128, 28, 28, 128, true, true), w3(256, 14, 14, 256, true, true), w3(512, 7, 7, 512, true, true)].flatMap(winoOf);
    expect(oddWino.length + zooWino.length, 'wino kernels').toBeGreaterThan(7);
    oddIgemm.push(...oddWino);
    for (const spec of zooWino) specs.set(kernelNameOf(spec), spec);
    log.winoKernels = oddWino.length + zooWino.length;
    // wsparse: the zoo's pruned layers (one case per kernel name) and the odd shapes, each with its pruned weights.
    const wsByName = new Map<string, WsparseCase>();
    for (const [pattern, sparsity] of [['unstructured', 0.9], ['2:4', 0.5]] as const) {
      for (const c of zooWsparse(arch, pattern, sparsity)) wsByName.set(`${c.structure.digest}:${JSON.stringify(c.spec)}`, c);
    }
    const wsZoo = [...wsByName.values()];
    const wsOdd = ODD.flatMap(({ why: _why, ...p }, i) => oddWsparse(arch, p, WSPARSE_PRUNES[i % WSPARSE_PRUNES.length]!));
    // igemm with kept filters (whole-filter pruning as a smaller dense conv): the odd shapes and the 16-byte-copy
    // 1x1, about 45% of the filters zeroed at random, tiles from the rule at batch 1, 3 and 16 (the large-batch
    // tiles); run at batch 3 on exactly those weights (the kernel writes act(bias) on the zero filters' channels).
    const keptByName = new Map<string, WsparseCase>();
    if (Number(arch.slice(3)) >= 80) {
      const problems = [...ODD.map(({ why: _w, th: _a, tw: _b, tc: _c, kb: _d, cs: _e, ...p }) => p), vecOdd];
      // At 90% zero filters the rule adds writer tiles (grid rows that only write act(bias)); the 1x1 to 260
      // channels at 30x30 has several of them.
      const wide1x1 = { c: 40, h: 30, w: 30, k: 260, r: 1, s: 1, strideH: 1, strideW: 1, padTop: 0, padLeft: 0, ho: 30, wo: 30, bias: true, relu: false };
      for (const [p, zeroFraction] of [...problems.map((q) => [q, 0.45] as const), ...problems.map((q) => [q, 0.9] as const), [wide1x1, 0.9] as const]) {
        if (p.k % 4 !== 0) continue;
        const crs = p.c * p.r * p.s;
        const weights = new Float32Array(p.k * crs).map(() => (rnd() * 2 - 1) / Math.sqrt(crs));
        for (let k = 0; k < p.k; k++) if (rnd() < zeroFraction) weights.fill(0, k * crs, (k + 1) * crs);
        const structure = weightStructure(weights, { k: p.k, c: p.c, r: p.r, s: p.s });
        const q = { arch: arch as IgemmKernelSpec['arch'], ...p };
        for (const b of [1, 3, 16]) {
          const ch = chooseIgemmTilesForWeights(gpuProfile(arch), q, b, structure.start);
          if (ch && ch.spec.kept) keptByName.set(kernelNameOf(ch.spec), { spec: ch.spec, weights, structure, batch: 3, odd: true });
          // The same tiles with 16-byte copies and stores where the shape allows them (the writers' float4 path).
          const v = ch && ch.spec.kept && igemmVecFits(q) ? { ...(ch.spec as IgemmKernelSpec), vec: 4 as const } : null;
          if (v) { try { validateIgemmSpec(v); keptByName.set(kernelNameOf(v), { spec: v, weights, structure, batch: 3, odd: true }); } catch { /* tn or bn unfit */ } }
        }
        // The rule gives these small shapes no 16-byte copies, so the large-batch tiles with them are forced here
        // on the same kept filters (the zoo's wide 1x1 kept kernels take them).
        const kept = keptFromStructure(structure.start, p.k);
        for (const w of kept ? oddWide.filter((o) => o.family === 'igemm' && (o as IgemmKernelSpec).vec === 4 && o.c === p.c && o.k === p.k && o.r === p.r) : []) {
          const spec = { ...(w as IgemmKernelSpec), kept: kept! };
          try { validateIgemmSpec(spec); } catch { continue; }
          keptByName.set(kernelNameOf(spec), { spec, weights, structure, batch: 3, odd: true });
        }
      }
      expect(keptByName.size, 'igemm kernels with kept filters').toBeGreaterThan(3);
      expect([...keptByName.values()].some((c) => (c.spec as IgemmKernelSpec).vec === 4), 'a kept-filter kernel with 16-byte copies').toBe(true);
      expect([...keptByName.values()].some((c) => igemmWriterTiles(c.spec as IgemmKernelSpec) > 0), 'a kept-filter kernel with writer tiles').toBe(true);
      expect([...keptByName.values()].some((c) => igemmWriterTiles(c.spec as IgemmKernelSpec) > 0 && (c.spec as IgemmKernelSpec).vec === 4), 'writer tiles with 16-byte stores').toBe(true);
    }
    log.keptFilterKernels = keptByName.size;
    log.keptWriterKernels = [...keptByName.values()].filter((c) => igemmWriterTiles(c.spec as IgemmKernelSpec) > 0).length;
    const wsAll = [...wsZoo, ...wsOdd, ...keptByName.values()];
    const all = [...specs.values(), ...oddAct, ...oddIgemm, ...wsAll.map((c) => c.spec)];
    const dense = specs.size + oddAct.length + oddIgemm.length;
    const dir = mkdtempSync(join(tmpdir(), 'cusnn-kernels-'));
    const { names } = writeKernelFolder(dir, arch, all, `cusnn_kernels_${arch}`, undefined, (i) => (i >= dense ? wsAll[i - dense]!.structure : undefined));
    all.forEach((spec, i) => {
      const w = i >= dense ? wsAll[i - dense]! : null;
      cases.push(w ? { name: names[i]!, spec, batch: w.batch, odd: w.odd, weights: w.weights, structure: w.structure } : { name: names[i]!, spec, batch: i < specs.size ? 1 : 3, odd: i >= specs.size });
    });
    log.wsparseKernels = wsAll.length;
    expect(wsZoo.length, 'ResNet-50 pruned 90% plans wsparse kernels').toBeGreaterThan(0);
    // Every odd shape on wsparse; on wstage where its window fits one block's shared memory.
    expect(wsOdd.filter((c) => c.spec.family === 'wsparse').length).toBe(ODD.length);
    expect(wsOdd.filter((c) => c.spec.family === 'wstage').length).toBeGreaterThan(0);
    expect(wsZoo.filter((c) => c.spec.family === 'wstage').length, 'ResNet-50 pruned: wstage kernels').toBeGreaterThan(0);
    log.wstageKernels = wsAll.filter((c) => c.spec.family === 'wstage').length;
    log.wstageChunkedKernels = wsAll.filter((c) => c.spec.family === 'wstage' && c.spec.chunk !== undefined).length;
    log.dualKernels = wsAll.filter((c) => c.spec.family === 'dual').length;
    expect(wsZoo.filter((c) => c.spec.family === 'dual').length, 'ResNet-50 pruned: dual kernels on its 3x3 convs of 7x7 to 28x28').toBeGreaterThan(0);
    expect(wsOdd.filter((c) => c.spec.family === 'dual').length, 'dual kernels on the odd shapes').toBeGreaterThan(0);
    expect(log.wstageChunkedKernels as number, 'chunked wstage kernels on the odd shapes and the pruned ResNet-50').toBeGreaterThan(0);
    const t0 = performance.now();
    await buildAddon(dir, { jobs: 16, log: (l) => { if (/error/i.test(l)) console.log(l); } });
    addon = loadAddon(dir);
    log.kernels = cases.length;
    log.buildSeconds = (performance.now() - t0) / 1000;
    console.log(`seed ${SEED}: ${specs.size} zoo kernels (${models.join(', ')}) + ${ODD.length} odd shapes + ${wsAll.length} weight-sparse (${wsZoo.length} ResNet-50 pruned, ${wsOdd.length} odd; ${log.wstageKernels as number} of them wstage, ${log.wstageChunkedKernels as number} chunked) for ${arch}, built in ${(log.buildSeconds as number).toFixed(1)} s`);
    expect(existsSync(addon.path)).toBe(true);
  });

  afterAll(() => {
    log.worstRelErrorPerKernel = worst;
    log.maxRelError = Math.max(0, ...Object.values(worst));
    if (process.env.CUSNN_GPU_LOG) writeFileSync(process.env.CUSNN_GPU_LOG, `${JSON.stringify(log, null, 2)}\n`);
  });

  it('matches cuDNN at 0/50/90/99/100% zeros, uniform and clustered, every output written, nothing outside its slice', () => {
    let checks = 0;
    for (const { name, spec: p, batch: n, odd, weights, structure } of cases) {
      const shape: ConvShape = { c: p.c, h: p.h, w: p.w, k: p.k, r: p.r, s: p.s, strideH: p.strideH, strideW: p.strideW, padTop: p.padTop, padLeft: p.padLeft, ho: p.ho, wo: p.wo };
      // Input: a prefix of a wider buffer's channels; output: a channel slice of a wider buffer.
      const Cw = p.c + 5, Kw = p.k + 7, off = 3;
      const input: View = V(0, p.c, p.h, p.w, 0, Cw * p.h * p.w);
      const out: View = V(1, p.k, p.ho, p.wo, off * p.ho * p.wo, Kw * p.ho * p.wo);
      const fanIn = p.c * p.r * p.s;
      // wsparse kernels hold their weights' nonzero structure: they run on exactly those weights.
      const wt = weights ?? new Float32Array(p.k * fanIn).map(() => (rnd() * 2 - 1) / Math.sqrt(fanIn));
      const bias = p.bias ? new Float32Array(p.k).map(() => rnd() - 0.5) : null;
      // Weight-sparse kernels read their nonzeros packed in their tables' order (as the runtime gathers them); cuDNN reads the KCRS weights.
      const order = kernelWeightOrder(p, structure);
      const tensors = [wt, order ? Float32Array.from(order, (i) => wt[i]!) : kcrsToCrsk(wt, p.k, p.c, p.r, p.s), ...(bias ? [bias] : [])];
      const step = { ...convStep({ layer: name, in: input, out, shape, weights: 0, crsk: 1, bias: bias ? 2 : null, relu: p.relu, path: 'act-sparse', kernel: name }),
        ...(order ? { weightsLayout: 'packed' as const } : {}) };
      const prog = program({ batch: n, buffers: [n * Cw * p.h * p.w, n * Kw * p.ho * p.wo], tensors, counters: 0, input, output: out, views: { y: out }, steps: [step] });
      const ours: NativeRuntime = addon.createRuntime(JSON.stringify(prog), tensors, { mode: 'static' });
      const cudnn: NativeRuntime = addon.createRuntime(JSON.stringify(prog), tensors, { mode: 'cudnn', selectIters: 3 });
      try {
        for (const zeros of SPARSITIES) {
          for (const pattern of PATTERNS) {
            const x = reluInput(n, p.c, p.h, p.w, zeros, pattern);
            const what = `${name} (batch ${n}) at ${100 * zeros}% zeros ${pattern}`;
            ours.fillBuffers(Number.NaN);
            const y = ours.run(x).slice();
            const buf = ours.readBuffer(1);
            cudnn.fillBuffers(Number.NaN);
            const ref = cudnn.run(x);
            const e = relL2(y, ref);
            expect(e.nonFinite, `${what}: ${e.nonFinite} outputs not written (still NaN) or not finite`).toBe(0);
            expect(relL2(ref, ref).nonFinite, `${what}: cuDNN left outputs unwritten`).toBe(0);
            expect(e.rel, `${what}: rel. L2 error ${e.rel.toExponential(2)} vs cuDNN (max abs ${e.maxAbs.toExponential(2)})`).toBeLessThanOrEqual(TOL);
            worst[name] = Math.max(worst[name] ?? 0, Number.isFinite(e.rel) ? e.rel : 1);
            // Nothing outside the output slice: those elements stay NaN.
            let outside = 0;
            for (let b = 0; b < n; b++) {
              const lo = out.offset + b * out.batchStride, hi = lo + chw(out);
              for (let i = b * out.batchStride; i < (b + 1) * out.batchStride; i++) if ((i < lo || i >= hi) && !Number.isNaN(buf[i]!)) outside++;
            }
            expect(outside, `${what}: ${outside} elements written outside the output slice`).toBe(0);
            if (odd && (zeros === 0.5 || zeros === 1)) {
              const cpu = convRef(x, n, shape, wt, bias, p.relu);
              const ec = relL2(y, cpu);
              expect(ec.rel, `${what}: rel. L2 error ${ec.rel.toExponential(2)} vs float64 CPU`).toBeLessThanOrEqual(TOL);
            }
            checks++;
          }
        }
      } finally {
        ours.dispose();
        cudnn.dispose();
      }
    }
    log.checks = checks;
    console.log(`${checks} checks over ${cases.length} kernels; worst rel. L2 error vs cuDNN ${Math.max(...Object.values(worst)).toExponential(2)}`);
    expect(checks).toBe(cases.length * SPARSITIES.length * PATTERNS.length);
  });
});

describe.skipIf(skipReason === null)('every generated kernel against cuDNN (skipped)', () => {
  it.skip(`skipped: ${skipReason}`, () => {});
});
