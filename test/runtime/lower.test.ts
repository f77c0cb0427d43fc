// Lowering proofs on the CPU: the program a graph lowers to, run by the float64 interpreter, must
// compute what the graph computes (src/runtime/reference.ts, no folding or fusion), read only
// buffer regions that still hold what it expects (lifetimes simulated with owner tags), lay
// DenseNet concatenations out without copies, count zeros exactly and agree with the plan.
// Weights and inputs are fresh random draws each run; the seed is printed and can be pinned
// with CUSNN_TEST_SEED to reproduce a failure.
import { beforeAll, describe, expect, it } from 'vitest';
import { gpuProfile } from '../../src/arch/profiles.js';
import { estimateUs, kernelNameOf as kernelName, type KernelSpec } from '../../src/families/registry.js';
import { GraphBuilder } from '../../src/model/builder.js';
import { consumers, layerIndex, uniformPad, type Graph, type Layer } from '../../src/model/ir.js';
import { buildModel, MODEL_NAMES } from '../../src/model/zoo/index.js';
import { cudnnConvUs } from '../../src/plan/cost.js';
import { residualChains, type ResidualChain } from '../../src/plan/residual.js';
import { planNetwork, SPEEDUP_MARGIN } from '../../src/plan/planner.js';
import type { NetworkPlan } from '../../src/plan/types.js';
import { lowerNetwork, lowerNetworkF64, type LowerOptions } from '../../src/runtime/lower.js';
import { runProgramCpu, type TensorData } from '../../src/runtime/program-cpu.js';
import type { ConvStep, Program, Step, View } from '../../src/runtime/program.js';
import { referenceForward } from '../../src/runtime/reference.js';
import { Rng } from '../../src/weights/prng.js';
import { INPUT_STD, syntheticWeights } from '../../src/weights/synthetic.js';
import type { WeightSet } from '../../src/weights/store.js';
import { uniformSparsity } from '../plan/helpers.js';

const SEED = Number(process.env.CUSNN_TEST_SEED ?? Math.floor(Math.random() * 2 ** 32));
beforeAll(() => console.info(`lower.test seed ${SEED} (CUSNN_TEST_SEED=${SEED} reproduces)`));

const ARCH = 'sm_90';
const EXACT = 1e-9;

// ---------------------------------------------------------------------------------------------
// Graphs: tiny ones in the three families' shapes, and the zoo re-inferred at a small input.

function tinyResnet(): Graph {
  const b = new GraphBuilder('tiny_resnet', 'resnet', 'caffe');
  let x = b.input('input', [3, 17, 17]);
  x = b.conv('conv1_conv', x, 8, { kernel: 3, stride: 2, pad: uniformPad(1), bias: true });
  x = b.batchnorm('conv1_bn', x, 1.001e-5);
  x = b.relu('conv1_relu', x);
  x = b.pool('maxpool', 'pool1_pool', x, { kernel: 3, stride: 2, pad: uniformPad(1) });
  const block = (x: string, filters: number, stride: number, shortcutConv: boolean, name: string): string => {
    let sc = x;
    if (shortcutConv) sc = b.batchnorm(`${name}_0_bn`, b.conv(`${name}_0_conv`, x, 2 * filters, { kernel: 1, stride, bias: true }), 1e-3);
    let y = b.relu(`${name}_1_relu`, b.batchnorm(`${name}_1_bn`, b.conv(`${name}_1_conv`, x, filters, { kernel: 1, stride, bias: true }), 1e-3));
    y = b.relu(`${name}_2_relu`, b.batchnorm(`${name}_2_bn`, b.conv(`${name}_2_conv`, y, filters, { kernel: 3, pad: uniformPad(1), bias: true }), 1e-3));
    y = b.batchnorm(`${name}_3_bn`, b.conv(`${name}_3_conv`, y, 2 * filters, { kernel: 1, bias: true }), 1e-3);
    return b.relu(`${name}_out`, b.addLayers(`${name}_add`, [sc, y]));
  };
  x = block(x, 8, 1, true, 'conv2_block1');
  x = block(x, 8, 1, false, 'conv2_block2');
  x = block(x, 12, 2, true, 'conv3_block1');
  x = b.globalAvgPool('avg_pool', x);
  b.softmax('predictions_softmax', b.dense('predictions', x, 10));
  return b.build();
}

function tinyDensenet(): Graph {
  const eps = 1.001e-5;
  const growth = 6;
  const b = new GraphBuilder('tiny_densenet', 'densenet', 'torch');
  let x = b.input('input', [3, 20, 20]);
  x = b.relu('conv1/relu', b.batchnorm('conv1/bn', b.conv('conv1/conv', x, 10, { kernel: 5, stride: 2, pad: uniformPad(2), bias: false }), eps));
  x = b.pool('maxpool', 'pool1', x, { kernel: 3, stride: 2, pad: uniformPad(1) });
  const layer = (x: string, name: string): string => {
    let y = b.relu(`${name}_0_relu`, b.batchnorm(`${name}_0_bn`, x, eps));
    y = b.relu(`${name}_1_relu`, b.batchnorm(`${name}_1_bn`, b.conv(`${name}_1_conv`, y, 4 * growth, { kernel: 1, bias: false }), eps));
    y = b.conv(`${name}_2_conv`, y, growth, { kernel: 3, pad: uniformPad(1), bias: false });
    return b.concat(`${name}_concat`, [x, y]);
  };
  for (let j = 1; j <= 3; j++) x = layer(x, `conv2_block${j}`);
  x = b.relu('pool2_relu', b.batchnorm('pool2_bn', x, eps));
  x = b.conv('pool2_conv', x, Math.floor(b.shape(x)[0] / 2), { kernel: 1, bias: false });
  x = b.pool('avgpool', 'pool2_pool', x, { kernel: 2, stride: 2 });
  for (let j = 1; j <= 2; j++) x = layer(x, `conv3_block${j}`);
  x = b.relu('relu', b.batchnorm('bn', x, eps));
  x = b.globalAvgPool('avg_pool', x);
  b.softmax('predictions_softmax', b.dense('predictions', x, 7));
  return b.build();
}

function tinyVgg(): Graph {
  const b = new GraphBuilder('tiny_vgg', 'vgg', 'caffe');
  let x = b.input('input', [3, 12, 12]);
  x = b.relu('block1_conv1_relu', b.conv('block1_conv1', x, 8, { kernel: 3, pad: uniformPad(1), bias: true }));
  x = b.relu('block1_conv2_relu', b.conv('block1_conv2', x, 8, { kernel: 3, pad: uniformPad(1), bias: true }));
  x = b.pool('maxpool', 'block1_pool', x, { kernel: 2, stride: 2 });
  x = b.relu('block2_conv1_relu', b.conv('block2_conv1', x, 16, { kernel: 3, pad: uniformPad(1), bias: true }));
  x = b.pool('maxpool', 'block2_pool', x, { kernel: 2, stride: 2 });
  x = b.flatten('flatten', x);
  x = b.relu('fc1_relu', b.dense('fc1', x, 40));
  x = b.relu('fc2_relu', b.dense('fc2', x, 24));
  b.softmax('predictions_softmax', b.dense('predictions', x, 10));
  return b.build();
}

/** The same layers re-inferred for a size x size input (the zoo is fixed at 224x224). */
function atResolution(graph: Graph, size: number): Graph {
  const b = new GraphBuilder(graph.name, graph.family, graph.preprocessing);
  for (const l of graph.layers) {
    const x = l.inputs[0]!;
    switch (l.op) {
      case 'input': b.input(l.name, [l.shape[0], size, size]); break;
      case 'conv': b.conv(l.name, x, l.outChannels, { kernel: l.kernel, stride: l.stride[0], pad: l.pad, groups: l.groups, bias: l.bias }); break;
      case 'batchnorm': b.batchnorm(l.name, x, l.epsilon); break;
      case 'relu': b.relu(l.name, x); break;
      case 'add': b.addLayers(l.name, l.inputs); break;
      case 'concat': b.concat(l.name, l.inputs); break;
      case 'maxpool': case 'avgpool': b.pool(l.op, l.name, x, { kernel: l.kernel[0], stride: l.stride[0], pad: l.pad }); break;
      case 'globalavgpool': b.globalAvgPool(l.name, x); break;
      case 'flatten': b.flatten(l.name, x); break;
      case 'dense': b.dense(l.name, x, l.units, l.bias); break;
      case 'softmax': b.softmax(l.name, x); break;
    }
  }
  return b.build();
}

// ---------------------------------------------------------------------------------------------
// Plans, weights, inputs.

const seedFor = (key: string): number => Rng.forKey(SEED, key).nextU32();

function planFor(graph: Graph, batch: number, force: 'act-sparse' | undefined = 'act-sparse', fuseResidual = true): NetworkPlan {
  return planNetwork(graph, gpuProfile(ARCH), uniformSparsity(graph, 0.8), { batch, weightsSource: 'test', force, fuseResidual });
}

function randomInput(graph: Graph, batch: number): Float32Array {
  const [c, h, w] = graph.layers[0]!.shape;
  const a = INPUT_STD[graph.preprocessing] * Math.sqrt(3); // uniform with the preprocessed images' std
  const out = new Float32Array(batch * c * h * w);
  Rng.forKey(SEED, `input:${graph.name}:${batch}`).fillSymmetric(out, a);
  return out;
}

// ---------------------------------------------------------------------------------------------
// Checks on the program alone.

const indexes = new WeakMap<Graph, Map<string, Layer>>();
const indexOf = (graph: Graph): Map<string, Layer> => {
  let m = indexes.get(graph);
  if (!m) indexes.set(graph, (m = layerIndex(graph)));
  return m;
};

const chainMaps = new WeakMap<Graph, Map<string, ResidualChain>>();
/** The residual chains of a graph (src/plan/residual.ts), once per graph. */
const chainsOf = (graph: Graph): Map<string, ResidualChain> => {
  let m = chainMaps.get(graph);
  if (!m) chainMaps.set(graph, (m = residualChains(graph, consumers(graph))));
  return m;
};

/** The layers a step reads (its graph layer's inputs) with the views it reads them through. */
const readsOf = (graph: Graph, s: Step): { name: string; view: View }[] => {
  const inputs = indexOf(graph).get(s.layer)!.inputs;
  const views = s.op === 'add' ? [s.a, s.b] : [s.in];
  if (views.length !== inputs.length) throw new Error(`${s.layer}: ${views.length} input views for ${inputs.length} inputs`);
  const reads = inputs.map((name, i) => ({ name, view: views[i]! }));
  // A conv that took its residual add also reads the add's other input (the shortcut).
  if (s.op === 'conv' && s.residual) {
    const chain = chainsOf(graph).get(s.layer);
    if (!chain) throw new Error(`${s.layer}: a residual view but no residual add after the conv`);
    reads.push({ name: chain.shortcut, view: s.residual });
  }
  return reads;
};

/** The conv whose step took residual add `add` into its epilogue, if one did. */
const fusedConvOf = (graph: Graph, program: Program, add: string): string | undefined =>
  program.steps.find((s) => s.op === 'conv' && s.residual !== undefined &&
    chainsOf(graph).get(s.layer)?.add === add)?.layer;

const sameView = (a: View, b: View | undefined): boolean =>
  b !== undefined && a.buf === b.buf && a.offset === b.offset && a.c === b.c && a.h === b.h && a.w === b.w && a.batchStride === b.batchStride;

/**
 * Simulates the pass with owners: every step marks its output region as its own. A read of layer
 * L must find every float of L's view owned by a step that produced that part of L (found from
 * the graph: the step of L's nearest ancestor along its first input, or for a concat its inputs'
 * producers). A buffer handed to another value too early shows up as a foreign owner. Kept layers,
 * the input and the output must still have their owners after the last step.
 */
function checkLifetimes(graph: Graph, program: Program, keep: readonly string[]): void {
  const byName = indexOf(graph);
  const stepOf = new Map(program.steps.map((s, i) => [s.layer, i]));
  expect(stepOf.size, 'one step per layer name').toBe(program.steps.length);
  const producers = (name: string): Set<number> => {
    const l = byName.get(name)!;
    if (l.op === 'concat') return new Set(l.inputs.flatMap((i) => [...producers(i)]));
    let a: Layer = l;
    for (;;) {
      if (a.op === 'input') return new Set([-1]);
      const i = stepOf.get(a.name);
      if (i !== undefined) return new Set([i]);
      if (a.op === 'add') {
        // An add without a step of its own was fused into the conv before it: that conv's step writes it.
        const add = a.name;
        const fusedInto = a.inputs.map((x) => [...producers(x)][0]!).find((j) => j >= 0 && program.steps[j]!.op === 'conv' && (program.steps[j] as ConvStep).residual !== undefined &&
          chainsOf(graph).get(program.steps[j]!.layer)?.add === add);
        if (fusedInto !== undefined) return new Set([fusedInto]);
      }
      a = byName.get(a.inputs[0]!)!;
    }
  };
  // Per buffer, the owner of every float as sorted disjoint segments [start, end) -> step index
  // (-1: the program input, -9: never written).
  type Segment = [start: number, end: number, tag: number];
  const owners: Segment[][] = program.buffers.map((n) => [[0, n, -9]]);
  const items = (v: View, f: (segs: Segment[], at: number, end: number) => void): void => {
    for (let n = 0; n < program.batch; n++) f(owners[v.buf]!, v.offset + n * v.batchStride, v.offset + n * v.batchStride + v.c * v.h * v.w);
  };
  const paint = (v: View, tag: number): void =>
    items(v, (segs, at, end) => {
      const next: Segment[] = [];
      for (const [s0, s1, t] of segs) {
        if (s1 <= at || s0 >= end) next.push([s0, s1, t]);
        else {
          if (s0 < at) next.push([s0, at, t]);
          if (s1 > end) next.push([end, s1, t]);
        }
      }
      next.push([at, end, tag]);
      next.sort((x, y) => x[0] - y[0]);
      segs.splice(0, segs.length, ...next);
    });
  const memo = new Map<string, Set<number>>();
  const verify = (name: string, v: View, what: string): void => {
    let ok = memo.get(name);
    if (!ok) memo.set(name, (ok = producers(name)));
    items(v, (segs, at, end) => {
      for (const [s0, s1, t] of segs) {
        if (s1 > at && s0 < end && !ok.has(t)) throw new Error(`${graph.name}: ${what} finds '${name}' overwritten (owner ${t}, expected one of ${[...ok].join(',')})`);
      }
    });
  };
  paint(program.input, -1);
  program.steps.forEach((s, i) => {
    for (const { name, view } of readsOf(graph, s)) {
      if (!sameView(view, program.views[name])) throw new Error(`${graph.name}/${s.layer}: reads ${name} through another view than views['${name}']`);
      if (view.buf === s.out.buf) throw new Error(`${graph.name}/${s.layer}: output shares buffer ${view.buf} with input ${name}`);
      verify(name, view, `step ${i} (${s.layer})`);
    }
    paint(s.out, i);
  });
  for (const k of [...keep, graph.layers[graph.layers.length - 1]!.name]) verify(k, program.views[k]!, 'the end of the pass');
  // The input too: forward graphs are replayed on it in place, and timeStep replays the steps before
  // the one it times from it.
  verify(graph.layers.find((l) => l.op === 'input')!.name, program.input, 'the end of the pass');
}

/** Every view inside its buffer; every layer has a view. */
function checkViews(graph: Graph, program: Program): void {
  for (const l of graph.layers) {
    const v = program.views[l.name];
    expect(v, l.name).toBeDefined();
    expect([v!.c, v!.h, v!.w], l.name).toEqual([...l.shape]);
    expect(v!.batchStride).toBeGreaterThanOrEqual(v!.c * v!.h * v!.w);
    expect(v!.offset + (program.batch - 1) * v!.batchStride + v!.c * v!.h * v!.w, l.name).toBeLessThanOrEqual(program.buffers[v!.buf]!);
  }
}

/** DenseNet: no step for a concat, every `_2_conv` writes its channels into its block's buffer. */
function checkConcats(graph: Graph, program: Program): void {
  expect(program.steps.some((s) => s.layer.endsWith('_concat'))).toBe(false);
  const concats = graph.layers.filter((l) => l.op === 'concat');
  expect(concats.length).toBeGreaterThan(0);
  // Program step count: every layer that is not a concat, not the input and not absorbed.
  const stepLayers = new Set(program.steps.map((s) => s.layer));
  for (const l of graph.layers) if (l.op === 'concat') expect(stepLayers.has(l.name)).toBe(false);
  const blockOf = (name: string): string => name.replace(/_block\d+_.*$/, '');
  const lastConcat = new Map<string, View>();
  for (const c of concats) lastConcat.set(blockOf(c.name), program.views[c.name]!);
  for (const s of program.steps) {
    if (!s.layer.endsWith('_2_conv')) continue;
    const block = lastConcat.get(blockOf(s.layer))!;
    const concat = program.views[s.layer.replace('_2_conv', '_concat')]!;
    expect(s.out.batchStride, s.layer).toBe(block.batchStride);
    expect(block.batchStride, s.layer).toBe(block.c * block.h * block.w);
    expect(s.out.buf).toBe(block.buf);
    expect(s.out.offset, s.layer).toBe(block.offset + (concat.c - s.out.c) * s.out.h * s.out.w);
    expect(concat.offset).toBe(block.offset);
  }
}

const wins = (spec: KernelSpec, batch: number, zeros: number): boolean => {
  const p = gpuProfile(ARCH);
  const e = estimateUs(p, spec, batch, 1 - zeros);
  const cudnn = cudnnConvUs(p, { c: spec.c, k: spec.k, ho: spec.ho, wo: spec.wo, r: spec.r, s: spec.s, h: spec.h, w: spec.w, batch });
  return e !== null && e * SPEEDUP_MARGIN < cudnn;
};

/** Conv steps against the plan: path, kernel, fused epilogue, threshold, zero counters. */
function checkConvs(graph: Graph, plan: NetworkPlan, program: Program, o: LowerOptions): void {
  const byName = indexOf(graph);
  const planOf = new Map(plan.convs.map((c) => [c.layer, c]));
  const convs = program.steps.filter((s) => s.op === 'conv');
  expect(convs.length).toBe(plan.convs.length);
  const counterOf = new Map<string, number | null>();
  program.steps.forEach((s) => {
    if (s.op !== 'globalavgpool' && s.op !== 'flatten_hwc' && s.op !== 'dense' && s.op !== 'softmax') counterOf.set(s.layer, s.countZeros);
  });
  for (const s of convs) {
    const cp = planOf.get(s.layer)!;
    const sparse = (o.mode ?? 'plan') === 'plan' && cp.decision === 'act-sparse';
    // The plan's residual add is fused on the generated kernel only; elsewhere the add (and its ReLU) stay steps.
    expect(s.residual !== undefined, s.layer).toBe(sparse && cp.residual !== undefined);
    if (s.residual) expect(sameView(s.residual, program.views[cp.residual!.shortcut]), `${s.layer}: residual view`).toBe(true);
    const residualDropped = cp.residual !== undefined && !sparse;
    expect(s.relu, s.layer).toBe(residualDropped ? false : cp.fusedRelu);
    if (cp.spec && !residualDropped) expect([cp.spec.bias, cp.spec.relu], s.layer).toEqual([s.bias !== null, s.relu]);
    expect(s.path, s.layer).toBe(sparse ? 'act-sparse' : 'cudnn');
    if (sparse) {
      expect(s.kernel).toBe(kernelName(cp.spec!));
      expect(s.weightsCrsk).not.toBeNull();
      const t = s.threshold!;
      expect(wins(cp.spec!, o.batch, t) || t === 1, `${s.layer}: threshold ${t} wins`).toBe(true);
      if (t > 0 && t < 1) expect(wins(cp.spec!, o.batch, t - 1.01e-4), `${s.layer}: threshold ${t} is the first winner`).toBe(false);
      // The planner's reason rounds the same break-even up to whole percents.
      // (act-sparse reasons state the break-even; igemm and dconv reasons give their estimates instead.)
      if (o.batch === plan.batch && cp.spec!.family === 'act-sparse') {
        const m = /break-even (\d+)% zeros/.exec(cp.reason);
        if (m) expect(Math.abs(Number(m[1]) / 100 - t), `${s.layer}: ${cp.reason}`).toBeLessThan(0.01 + 1e-9);
        else expect(cp.reason).toMatch(/never wins/);
      }
    } else {
      expect([s.kernel, s.weightsCrsk, s.threshold]).toEqual([null, null, null]);
    }
    if (!o.countZeros) {
      expect([s.inZeros, s.countZeros]).toEqual([null, null]);
      continue;
    }
    // The counter of the conv's input is the one its producer step counts into.
    let producer: Layer = byName.get(byName.get(s.layer)!.inputs[0]!)!;
    while (producer.op !== 'input' && !counterOf.has(producer.name)) {
      // A fused residual add is counted by the conv step that took it.
      const fused = producer.op === 'add' ? fusedConvOf(graph, program, producer.name) : undefined;
      producer = byName.get(fused ?? producer.inputs[0]!)!;
    }
    if (producer.op === 'input') expect(s.inZeros, s.layer).toBeNull();
    else expect(s.inZeros, s.layer).toBe(counterOf.get(producer.name));
    if (producer.op !== 'input') expect(s.inZeros).not.toBeNull();
  }
  if (!o.countZeros) {
    expect(program.zeroCounters).toBe(0);
    for (const s of program.steps) if ('countZeros' in s) expect(s.countZeros).toBeNull();
  } else {
    // Counters are exactly the producers of conv inputs, each counted once.
    const used = new Set(convs.map((s) => s.inZeros).filter((z): z is number => z !== null));
    const counted = program.steps.map((s) => ('countZeros' in s ? s.countZeros : null)).filter((z): z is number => z !== null);
    expect(new Set(counted).size).toBe(counted.length);
    expect([...used].sort((a, b) => a - b)).toEqual([...counted].sort((a, b) => a - b));
    expect(program.zeroCounters).toBe(counted.length);
  }
}

function checkProgram(graph: Graph, plan: NetworkPlan, program: Program, o: LowerOptions): void {
  checkViews(graph, program);
  checkLifetimes(graph, program, o.keep ?? []);
  checkConvs(graph, plan, program, o);
  if (graph.family === 'densenet') checkConcats(graph, program);
  for (const k of o.keep ?? []) expect(program.views[k]).toBeDefined();
}

// ---------------------------------------------------------------------------------------------
// Numbers: the interpreter against the reference.

interface Print {
  readonly proj: number;
  readonly norm: number;
  readonly zeros: number;
  readonly n: number;
}

/** A random projection, the norm and the exact zeros of a tensor: enough to tell two apart. */
function print(d: ArrayLike<number>): Print {
  let proj = 0;
  let norm2 = 0;
  let zeros = 0;
  for (let i = 0; i < d.length; i++) {
    const x = d[i]!;
    proj += x * ((Math.imul(i + 1, 0x9e3779b1) >>> 0) / 4294967296 - 0.5);
    norm2 += x * x;
    if (x === 0) zeros++;
  }
  return { proj, norm: Math.sqrt(norm2), zeros, n: d.length };
}

function viewData(buffers: readonly Float64Array[], v: View, batch: number): Float64Array {
  const plane = v.c * v.h * v.w;
  const out = new Float64Array(batch * plane);
  for (let n = 0; n < batch; n++) out.set(buffers[v.buf]!.subarray(v.offset + n * v.batchStride, v.offset + n * v.batchStride + plane), n * plane);
  return out;
}

const relL2 = (a: Float64Array, b: Float64Array): number => {
  let d = 0;
  let n = 0;
  for (let i = 0; i < a.length; i++) {
    d += (a[i]! - b[i]!) ** 2;
    n += b[i]! ** 2;
  }
  return Math.sqrt(d / n);
};

interface Ref {
  readonly prints: Map<string, Print>;
  readonly output: Float64Array;
  /** The input of the output layer (the logits before the softmax, which often saturates). */
  readonly logits: Float64Array;
}

/** Layer output prints, the output and the logits of the reference pass. */
function referencePrints(graph: Graph, ws: WeightSet, input: Float32Array, batch: number): Ref {
  const prints = new Map<string, Print>();
  const last = graph.layers[graph.layers.length - 1]!;
  let logits: Float64Array | null = null;
  const ref = referenceForward(graph, ws, input, batch, {
    onLayer: (name, d) => {
      prints.set(name, print(d));
      if (name === last.inputs[0]) logits = d.slice();
    },
  });
  return { prints, output: ref.outputs.get(last.name)!, logits: logits! };
}

/**
 * Runs the program and compares, before every step, each input view with the reference value of
 * the layer it stands for (tolerance `tol` of the value's norm), the final output, kept layers
 * and every zero counter (with the zeros of the conv input it counts: exactly, when `exactZeros`).
 */
function checkRun(
  graph: Graph, program: Program, tensors: readonly TensorData[], input: Float32Array,
  ref: Ref, keep: readonly string[], tol: number, exactZeros: boolean,
): number {
  const byName = indexOf(graph);
  const tailOf = (name: string): string => {
    // A layer absorbed into a step shares the view of the chain's last layer.
    const same = graph.layers.filter((l) => sameView(program.views[name]!, program.views[l.name]) && l.op !== 'concat');
    return byName.get(name)!.op === 'concat' ? name : same[same.length - 1]!.name;
  };
  const close = (got: Print, want: Print, what: string): void => {
    const uNorm = Math.sqrt(want.n / 12);
    const scale = want.norm + 1e-300;
    expect(got.n, what).toBe(want.n);
    expect(Math.abs(got.norm - want.norm) / scale, `${what}: norm`).toBeLessThanOrEqual(tol);
    expect(Math.abs(got.proj - want.proj) / (scale * uNorm), `${what}: projection`).toBeLessThanOrEqual(tol);
    if (exactZeros) expect(got.zeros, `${what}: zeros`).toBe(want.zeros);
  };
  const zerosAtRead = new Map<number, number>();
  let logitsErr = NaN;
  const run = runProgramCpu(program, tensors, input, {
    beforeStep: (i, s, buffers) => {
      if (i === program.steps.length - 1) logitsErr = relL2(viewData(buffers, readsOf(graph, s)[0]!.view, program.batch), ref.logits);
      readsOf(graph, s).forEach(({ name, view }, j) => {
        const got = print(viewData(buffers, view, program.batch));
        close(got, ref.prints.get(name)!, `step ${i} (${s.layer}) reading ${name}`);
        // inZeros counts the conv's input (read 0), not a residual it also reads.
        if (s.op === 'conv' && s.inZeros !== null && j === 0) zerosAtRead.set(s.inZeros, got.zeros);
      });
    },
  });
  const err = Math.max(relL2(run.output, ref.output), logitsErr);
  expect(err, `${graph.name}: output and logits`).toBeLessThanOrEqual(tol);
  for (const k of keep) close(print(viewData(run.buffers, program.views[k]!, program.batch)), ref.prints.get(tailOf(k))!, `kept ${k}`);
  for (const s of program.steps) {
    if (s.op !== 'conv' || s.inZeros === null) continue;
    expect(run.zeroCounts[s.inZeros], `${s.layer}: counter vs its input view`).toBe(zerosAtRead.get(s.inZeros));
    if (exactZeros) expect(run.zeroCounts[s.inZeros], `${s.layer}: counter vs reference`).toBe(ref.prints.get(byName.get(s.layer)!.inputs[0]!)!.zeros);
  }
  return err;
}

interface Case {
  readonly graph: Graph;
  readonly batch: number;
  readonly keep: readonly string[];
  /** Modes whose programs are also run (default both; all modes are lowered and checked). */
  readonly run?: readonly ('plan' | 'cudnn')[];
  /** Also run the fp32 tensors of the plan mode (folding rounded to fp32): the error that rounding alone costs. */
  readonly f32?: boolean;
}

/**
 * Lowers in both modes and checks each program; runs the float64 lowering of the `run` modes (and
 * the fp32 one) against the reference. Returns the worst float64 error and the fp32 error.
 */
function prove(c: Case): { f64: number; f32: number | null } {
  const ws = syntheticWeights(c.graph, seedFor(`weights:${c.graph.name}`));
  const input = randomInput(c.graph, c.batch);
  const ref = referencePrints(c.graph, ws, input, c.batch);
  const plan = planFor(c.graph, c.batch);
  let f64 = 0;
  let f32: number | null = null;
  let buffers: readonly number[] | null = null;
  for (const mode of ['plan', 'cudnn'] as const) {
    const o: LowerOptions = { batch: c.batch, mode, keep: c.keep, countZeros: true };
    const lowered = lowerNetworkF64(c.graph, plan, ws, o);
    checkProgram(c.graph, plan, lowered.program, o);
    // 'cudnn' changes paths only: the same buffers and views (unless a residual add was fused in 'plan').
    if (buffers && !plan.convs.some((x) => x.residual && x.decision === 'act-sparse')) expect(lowered.program.buffers).toEqual(buffers);
    buffers = lowered.program.buffers;
    if ((c.run ?? ['plan', 'cudnn']).includes(mode)) {
      f64 = Math.max(f64, checkRun(c.graph, lowered.program, lowered.tensors, input, ref, c.keep, EXACT, true));
    }
    if (c.f32 && mode === 'plan') {
      const l32 = lowerNetwork(c.graph, plan, ws, o);
      expect(JSON.stringify(l32.program)).toBe(JSON.stringify(lowered.program));
      f32 = checkRun(c.graph, l32.program, l32.tensors, input, ref, c.keep, 1e-4, false);
    }
  }
  return { f64, f32 };
}

// ---------------------------------------------------------------------------------------------

describe('lowering tiny graphs', () => {
  it('ResNet-style: conv->BN->ReLU folded, conv shortcut, add->ReLU as one step', () => {
    const graph = tinyResnet();
    for (const batch of [1, 2]) prove({ graph, batch, keep: ['conv2_block1_out', 'conv1_conv'], f32: true });
    const ws = syntheticWeights(graph, seedFor('w'));
    const { program } = lowerNetwork(graph, planFor(graph, 1, 'act-sparse', false), ws, { batch: 1 });
    const ops = (layer: string) => program.steps.filter((s) => s.layer === layer).map((s) => s.op);
    expect(ops('conv2_block1_add')).toEqual(['add']);
    const add = program.steps.find((s) => s.layer === 'conv2_block1_add');
    expect(add?.op === 'add' && add.relu).toBe(true);
    for (const l of graph.layers) if (l.op === 'batchnorm' || l.op === 'relu') expect(ops(l.name), l.name).toEqual([]);
    expect(program.views['conv1_bn']).toEqual(program.views['conv1_relu']);
    expect(program.views['conv1_conv']).toEqual(program.views['conv1_relu']);
    // conv1_conv folds conv1_bn: bias (conv bias + BN shift) and ReLU.
    const c1 = program.steps.find((s) => s.layer === 'conv1_conv');
    expect(c1?.op === 'conv' && c1.bias !== null && c1.relu).toBe(true);
    const sc = program.steps.find((s) => s.layer === 'conv2_block1_0_conv');
    expect(sc?.op === 'conv' && sc.bias !== null && !sc.relu).toBe(true);
    // Liveness shares buffers: fewer buffers than values.
    expect(program.buffers.length).toBeLessThan(program.steps.length / 2);
  });

  it('ResNet-style, residual fused: the igemm conv before the add takes it, the ReLU after it and the shortcut; cuDNN mode keeps the add', () => {
    const graph = tinyResnet();
    const plan = planFor(graph, 2);
    const fusedPlan = plan.convs.filter((c) => c.residual);
    expect(fusedPlan.length, 'residual adds fused by the planner').toBeGreaterThan(0);
    for (const c of fusedPlan) expect(c.spec?.family === 'igemm' && c.spec.residual && !c.spec.kept, c.layer).toBe(true);
    const ws = syntheticWeights(graph, seedFor('w'));
    const { program } = lowerNetwork(graph, plan, ws, { batch: 2 });
    for (const c of fusedPlan) {
      const st = program.steps.find((s) => s.layer === c.layer);
      if (st?.op !== 'conv') throw new Error(`${c.layer}: no conv step`);
      expect(st.residual, c.layer).toEqual(program.views[c.residual!.shortcut]);
      expect(st.relu, c.layer).toBe(c.residual!.relu !== null);
      expect(st.kernel!, c.layer).toMatch(/_res(_relu)?_sm90$/);
      expect(program.steps.some((s) => s.layer === c.residual!.add), `${c.residual!.add} has no step`).toBe(false);
      // The step writes the add's output: the conv, its BN and the add name the same view.
      expect(program.views[c.layer]).toEqual(program.views[c.residual!.relu ?? c.residual!.add]);
      expect(st.residual!.buf, `${c.layer}: residual and out in other buffers`).not.toBe(st.out.buf);
    }
    // The cuDNN-only program of the same plan keeps every add as a step.
    const cudnn = lowerNetwork(graph, plan, ws, { batch: 2, mode: 'cudnn' }).program;
    for (const c of fusedPlan) expect(cudnn.steps.filter((s) => s.layer === c.residual!.add).map((s) => s.op)).toEqual(['add']);
    // A layer inside the fused chain cannot be kept: its tensor is the add's.
    expect(() => lowerNetwork(graph, plan, ws, { batch: 2, keep: [fusedPlan[0]!.layer] })).toThrow(/fuses with residual add .* into one kernel/);
  });

  it('DenseNet-style: block buffer with channel offsets, pre-activation BN as scale_shift, transition', () => {
    const graph = tinyDensenet();
    for (const batch of [1, 2]) prove({ graph, batch, keep: ['conv2_block2_concat', 'pool2_relu'], f32: true });
    const { program } = lowerNetwork(graph, planFor(graph, 2), syntheticWeights(graph, seedFor('w')), { batch: 2 });
    const block = program.views['conv2_block3_concat']!;
    expect(block.c).toBe(10 + 3 * 6);
    // pool1 writes channels [0, 10) of block 1; pool2_pool channels [0, 14) of block 2.
    expect(program.views['pool1']).toEqual({ ...block, c: 10 });
    const block2 = program.views['conv3_block2_concat']!;
    expect(program.views['pool2_pool']).toEqual({ ...block2, c: 14 });
    expect(program.buffers[block.buf]).toBeGreaterThanOrEqual(2 * block.batchStride);
    const ss = program.steps.find((s) => s.layer === 'conv2_block2_0_bn');
    expect(ss?.op).toBe('scale_shift');
    expect(ss?.op === 'scale_shift' && ss.relu && ss.in).toEqual(program.views['conv2_block1_concat']);
    const last = program.steps.find((s) => s.layer === 'bn');
    expect(last?.op === 'scale_shift' && last.relu).toBe(true);
    // Every op of the program is one the graph needs: no copies.
    expect(new Set(program.steps.map((s) => s.op))).toEqual(new Set(['conv', 'scale_shift', 'maxpool', 'avgpool', 'globalavgpool', 'dense', 'softmax']));
  });

  it('VGG-style tail: conv+ReLU fused, flatten in HWC order, dense with fused ReLU, softmax', () => {
    const graph = tinyVgg();
    for (const batch of [1, 2]) prove({ graph, batch, keep: ['flatten', 'block1_conv1_relu'], f32: true });
    const { program } = lowerNetwork(graph, planFor(graph, 1), syntheticWeights(graph, seedFor('w')), { batch: 1 });
    expect(program.steps.map((s) => s.op)).toEqual(['conv', 'conv', 'maxpool', 'conv', 'maxpool', 'flatten_hwc', 'dense', 'dense', 'dense', 'softmax']);
    const relus = program.steps.flatMap((s) => (s.op === 'dense' ? [s.relu] : []));
    expect(relus).toEqual([true, true, false]);
  });

  it('without countZeros every counter is null; the same inputs give the same program and tensors', () => {
    for (const graph of [tinyResnet(), tinyDensenet(), tinyVgg()]) {
      const ws = syntheticWeights(graph, seedFor('w'));
      const plan = planFor(graph, 1);
      const o: LowerOptions = { batch: 1 };
      const a = lowerNetwork(graph, plan, ws, o);
      checkProgram(graph, plan, a.program, o);
      const b = lowerNetwork(graph, plan, ws, o);
      expect(JSON.stringify(b.program)).toBe(JSON.stringify(a.program));
      expect(b.tensors).toEqual(a.tensors);
    }
  });

  it('rejects plans that disagree with the graph', () => {
    const graph = tinyResnet();
    const ws = syntheticWeights(graph, seedFor('w'));
    const plan = planFor(graph, 1);
    const flip = { ...plan, convs: plan.convs.map((c) => (c.layer === 'conv2_block1_2_conv' ? { ...c, fusedRelu: !c.fusedRelu } : c)) };
    expect(() => lowerNetwork(graph, flip, ws, { batch: 1 })).toThrow(/conv2_block1_2_conv: planner and lowering disagree: fusedRelu/);
    const noBias = { ...plan, convs: plan.convs.map((c) => (c.spec && c.layer === 'conv2_block1_3_conv' ? { ...c, spec: { ...c.spec, bias: false } } : c)) };
    expect(() => lowerNetwork(graph, noBias, ws, { batch: 1 })).toThrow(/conv2_block1_3_conv: planner and lowering disagree: spec.bias/);
    expect(() => lowerNetwork(graph, plan, ws, { batch: 1, keep: ['nope'] })).toThrow(/keep names no layer 'nope'/);
  });
});

// The whole zoo: programs of the real networks at 224x224 (structure, lifetimes, plan agreement,
// counters), numbers at a 32x32 input (the same layers, 1/49 of the work) and at 224x224. The
// float64 runs are the suite's heaviest: CI (2 cores, a 10-minute budget) runs one model of each
// kind at 32x32 and resnet50 at 224x224; CUSNN_FULL_CHECKS=1 (the GPU host) runs every model at
// 32x32 and resnet50 and densenet121 at 224x224.
// The programs at 224x224 (lowering and checkProgram of 7 lowerings per model, ~70 s for all
// eight on 2 cores): CI lowers one model of each family, drawn from the run's seed (fresh each run,
// CUSNN_TEST_SEED repeats it), CUSNN_FULL_CHECKS=1 all eight. The models of a family are the same
// blocks repeated (ResNet-101/152 add conv4 blocks, DenseNet-169/201 dense layers, VGG-19 three
// convs): what a program can get wrong (lifetimes, concat layout in place, fused relus, counters,
// the cost-model plan's mix of paths) is in each family's blocks, so one of each covers it, and
// over runs every model is drawn.
const FULL = process.env.CUSNN_FULL_CHECKS === '1';
const NUMERIC_MODELS = FULL ? MODEL_NAMES : (['resnet50', 'densenet121', 'vgg16'] as const);
const FULL_SIZE_MODELS = FULL ? ['resnet50', 'densenet121'] : ['resnet50'];
const PROGRAM_MODELS: readonly string[] = FULL ? MODEL_NAMES : (['resnet', 'densenet', 'vgg'] as const).map((family) => {
  const of = MODEL_NAMES.filter((m) => m.startsWith(family));
  return of[Rng.forKey(SEED, `programs:${family}`).nextU32() % of.length]!;
});
if (!FULL) console.info(`lowering the zoo: programs at 224x224 of ${PROGRAM_MODELS.join(', ')} (one per family, from the seed), float64 checks on resnet50, densenet121, vgg16 (CUSNN_FULL_CHECKS=1 runs all eight)`);
const KEEP: Readonly<Record<string, readonly string[]>> = {
  resnet: ['conv2_block1_out', 'conv3_block2_2_relu', 'conv1_conv'],
  densenet: ['conv2_block3_concat', 'pool2_relu', 'conv3_block1_1_relu'],
  vgg: ['block1_conv1_relu', 'flatten'],
};

describe('lowering the zoo', () => {
  it(`programs at 224x224 (${FULL ? 'every model' : PROGRAM_MODELS.join(', ')}): batch 1 and 2 in both modes, the cost-model plan, buffer totals`, () => {
    const totals: string[] = [];
    for (const name of PROGRAM_MODELS) {
      const graph = buildModel(name);
      const ws = syntheticWeights(graph, seedFor(`weights:${name}`));
      const keep = KEEP[graph.family]!;
      for (const batch of [1, 2]) {
        const plan = planFor(graph, batch);
        let buffers: readonly number[] | null = null;
        for (const mode of ['plan', 'cudnn'] as const) {
          const o: LowerOptions = { batch, mode, keep, countZeros: true };
          const { program } = lowerNetwork(graph, plan, ws, o);
          checkProgram(graph, plan, program, o);
          if (buffers && !plan.convs.some((x) => x.residual && x.decision === 'act-sparse')) expect(program.buffers).toEqual(buffers);
          buffers = program.buffers;
        }
        // Without keep: what the liveness pass reaches, against one buffer per value.
        const { program, unsharedFloats } = lowerNetwork(graph, plan, ws, { batch });
        checkLifetimes(graph, program, []);
        const total = program.buffers.reduce((a, b) => a + b, 0);
        expect(total).toBeLessThan(graph.family === 'vgg' ? unsharedFloats / 2 : unsharedFloats / 4);
        const mib = (f: number): string => `${(f * 4 / 2 ** 20).toFixed(1)} MiB`;
        totals.push(`${name} batch ${batch}: ${program.buffers.length} buffers, ${total.toLocaleString('en-US')} floats (${mib(total)}) vs ${unsharedFloats.toLocaleString('en-US')} unshared (${mib(unsharedFloats)})`);
      }
      // The cost model's own plan (not forced) mixes both paths; the lowering follows it.
      const plan = planFor(graph, 1, undefined);
      const o: LowerOptions = { batch: 1, keep, countZeros: true };
      const { program } = lowerNetwork(graph, plan, ws, o);
      checkProgram(graph, plan, program, o);
      const paths = new Set(program.steps.flatMap((s) => (s.op === 'conv' ? [s.path] : [])));
      if (graph.family !== 'vgg') expect(paths).toEqual(new Set(['cudnn', 'act-sparse']));
    }
    console.info(`activation buffers:\n  ${totals.join('\n  ')}`);
  });

  it.each(NUMERIC_MODELS)('%s at 32x32, batch 1 (both modes run, fp32 too) and 2 (plan run): equal to the reference', (name) => {
    const graph = atResolution(buildModel(name), 32);
    const keep = KEEP[graph.family]!;
    const one = prove({ graph, batch: 1, keep, f32: true });
    const two = prove({ graph, batch: 2, keep, run: ['plan'] });
    console.info(`${name} 32x32 relative L2 error (logits, output): float64 ${one.f64.toExponential(1)} (batch 1), ${two.f64.toExponential(1)} (batch 2); fp32 tensors ${one.f32!.toExponential(1)}`);
  });

  it.each(FULL_SIZE_MODELS)('%s at 224x224, batch 1, plan mode run: equal to the reference', (name) => {
    const graph = buildModel(name);
    const { f64 } = prove({ graph, batch: 1, keep: KEEP[graph.family]!, run: ['plan'] });
    console.info(`${name} 224x224 relative L2 error (logits, output): float64 ${f64.toExponential(1)}`);
  });
});
