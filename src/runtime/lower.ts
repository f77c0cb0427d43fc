// Lowering: graph + plan + weights -> Program (src/runtime/program.ts), the step list the native
// runtime executes. Four passes, each simple on its own:
//
//  1. fuse     walk the graph in order; every layer becomes a step, or is absorbed into the step
//              before it (BN folded into a conv, ReLU or ReLU6 fused into conv/BN/add/dense), or
//              is a view (concat). A step writes one value; absorbed layers name the same value.
//  2. place    concatenations become channel ranges of one group: the last concat of a DenseNet
//              block owns a [C_total, H, W] group and every input (block input, each `_2_conv`,
//              inner concats) sits at its channel offset, so no step copies.
//  3. allocate groups are live from their first write to their last read (or forever for `keep`
//              layers, the input and the output); a free buffer is reused best-fit, else the largest free one
//              grows, else a new one is made. Output never shares a buffer with its inputs.
//  4. emit     views, zero counters and the steps, with tensors in step order.
//
// Folding happens in float64 and is rounded once to the target precision: `lowerNetwork` gives
// the fp32 tensors the device uses, `lowerNetworkF64` the same program with float64 tensors, so
// the CPU interpreter can prove the lowering exact (to 1e-9) against a float64 graph evaluation.
import { gpuProfile, type GpuProfile } from '../arch/profiles.js';
import { estimateUs, isWeightSparse, kernelNameOf as nameOfSpec, kernelWeightOrder, type KernelSpec } from '../families/registry.js';
import { weightStructure } from '../families/wsparse/structure.js';
import { consumers, layerIndex, type BatchNormLayer, type ConvLayer, type Graph, type Layer, type Shape } from '../model/ir.js';
import { cudnnConvUs } from '../plan/cost.js';
import { SPEEDUP_MARGIN } from '../plan/planner.js';
import { residualChains, type ResidualChain } from '../plan/residual.js';
import type { ConvPlan, NetworkPlan } from '../plan/types.js';
import { getTensor, type WeightSet } from '../weights/store.js';
import { EXIT } from '../output/exit.js';
import type { Clamp, ConvStep, Program, Step, View } from './program.js';

/** The graph, plan or weights cannot be lowered (or disagree): the message names the layer. */
export class LoweringError extends Error {}

/**
 * The network has something the native runtime cannot run yet (several graph outputs): bad input
 * (exit 1), not a bug. The message names the layer (an imported model's ONNX node), its op and why.
 */
export class GpuUnsupportedError extends LoweringError {
  readonly exitCode = EXIT.badInput;
}

interface GpuProblem {
  /** The kind, for counting (e.g. `several outputs`). */
  readonly kind: string;
  /** The whole line: the layer (ONNX node), what its op is and why the GPU path cannot run it. */
  readonly text: string;
}

function gpuProblems(graph: Graph): GpuProblem[] {
  const onnx = graph.origin?.format === 'onnx';
  const what = (l: Layer, op: string): string => `${onnx ? 'ONNX node' : 'layer'} '${l.name}' (${op})`;
  const out: GpuProblem[] = [];
  const no = (l: Layer, kind: string, op: string, why: string): void =>
    void out.push({ kind, text: `${graph.name}: ${what(l, op)} is not supported on the GPU path yet: ${why}` });
  const readers = consumers(graph);
  const outputs = graph.layers.filter((l) => readers.get(l.name)!.length === 0);
  for (const l of graph.layers) {
    // The builder and the importer only make groups dividing both channel counts; a graph built
    // otherwise is named here rather than handed to cuDNN.
    if (l.op === 'conv' && l.groups !== 1) {
      const c = byNameShape(graph, l.inputs[0]!)[0];
      if (!Number.isInteger(l.groups) || l.groups < 1 || c % l.groups !== 0 || l.outChannels % l.groups !== 0) {
        no(l, 'grouped conv', `conv, group ${l.groups}`, `${c} input and ${l.outChannels} output channels are not both multiples of the group count`);
      }
    }
  }
  if (outputs.length > 1) {
    out.push({ kind: 'several outputs',
      text: `${graph.name}: ${outputs.length} graph outputs (${outputs.map((l) => `'${l.name}'`).join(', ')}) are not supported on the GPU path yet: a program has one output` });
  }
  return out;
}

/**
 * Why the GPU path cannot run `graph` yet, one line per problem (empty: it can). The native
 * runtime (src/native) has conv (cuDNN with any group count, depthwise included; generated kernels
 * for groups 1), scale_shift, bias_relu, add (each with ReLU and a clamp: ReLU6), max/avg pools
 * with zero or excluded padding, global average pool, both flattens, dense (cuBLAS) and a softmax
 * over the channels at each pixel; what is left is listed here, and lowering throws
 * (gpuPathSummary) rather than running something else: a program has one output.
 */
export function gpuPathProblems(graph: Graph): string[] {
  return gpuProblems(graph).map((p) => p.text);
}

/**
 * gpuPathProblems in one line (null when there is none): the first in full, then how many more of
 * each kind, e.g. `... (and 2 more: 2 grouped conv)`.
 */
export function gpuPathSummary(graph: Graph): string | null {
  const all = gpuProblems(graph);
  if (all.length === 0) return null;
  const counts = new Map<string, number>();
  for (const p of all.slice(1)) counts.set(p.kind, (counts.get(p.kind) ?? 0) + 1);
  const more = [...counts].map(([k, n]) => `${n} ${k}`).join(', ');
  return `${all[0]!.text}${all.length > 1 ? ` (and ${all.length - 1} more: ${more})` : ''}`;
}

const byNameShape = (graph: Graph, name: string): Shape => graph.layers.find((l) => l.name === name)!.shape;

export interface LowerOptions {
  readonly batch: number;
  /** 'plan' (default): each conv takes the planner's path; 'cudnn': every conv on cuDNN (the baseline). */
  readonly mode?: 'plan' | 'cudnn';
  /** Layers whose views must hold their values after the forward pass (the output always does). */
  readonly keep?: readonly string[];
  /** Give every step that produces a conv input a zero counter (and each conv its `inZeros`). */
  readonly countZeros?: boolean;
}

export interface Lowered<T extends Float32Array | Float64Array> {
  readonly program: Program;
  /** Program.tensors' data, same order. Unchanged weight tensors are shared with the WeightSet (fp32). */
  readonly tensors: T[];
  /** Activation floats if every storage group (a value, or a whole DenseNet block) had its own buffer. */
  readonly unsharedFloats: number;
}

/** Lowers `graph` for execution with fp32 weight tensors (what the device runs). */
export function lowerNetwork(graph: Graph, plan: NetworkPlan, ws: WeightSet, o: LowerOptions): Lowered<Float32Array> {
  const { program, sources, unsharedFloats } = lower(graph, plan, ws, o);
  return { program, tensors: materialize(sources, (n) => new Float32Array(n), (t) => t), unsharedFloats };
}

/** The same program as `lowerNetwork`, with the folded tensors kept in float64 (CPU proofs). */
export function lowerNetworkF64(graph: Graph, plan: NetworkPlan, ws: WeightSet, o: LowerOptions): Lowered<Float64Array> {
  const { program, sources, unsharedFloats } = lower(graph, plan, ws, o);
  return { program, tensors: materialize(sources, (n) => new Float64Array(n), (t) => Float64Array.from(t)), unsharedFloats };
}

/**
 * The fraction of input zeros from which the generated kernel `spec` (any family) beats cuDNN by the
 * planner's SPEEDUP_MARGIN under the cost models (its family's, src/families/<family>/cost.ts, and
 * cuDNN's, src/plan/cost.ts), at `batch`. Recomputed rather than
 * parsed from the plan's reason: the reason rounds to whole percents and is for people, and the
 * program's batch may differ from the plan's. The estimate only grows with density, so bisection
 * finds the crossing; it is rounded up to 1e-4 (still on the winning side). 0 when the kernel
 * always wins; 1 when it never does (only an all-zero input selects it, where both paths agree).
 */
export function breakEvenZeros(p: GpuProfile, spec: KernelSpec, batch: number): number {
  const cudnn = cudnnConvUs(p, { c: spec.c, k: spec.k, ho: spec.ho, wo: spec.wo, r: spec.r, s: spec.s, h: spec.h, w: spec.w, batch });
  // Dense families (igemm) do not depend on the zeros: 0 or 1 by the same rule.
  const wins = (zeros: number): boolean => {
    const us = estimateUs(p, spec, batch, 1 - zeros);
    return us !== null && us * SPEEDUP_MARGIN < cudnn;
  };
  if (wins(0)) return 0;
  if (!wins(1)) return 1;
  let lo = 0;
  let hi = 1;
  for (let i = 0; i < 50; i++) {
    const mid = (lo + hi) / 2;
    if (wins(mid)) hi = mid;
    else lo = mid;
  }
  return Math.min(1, Math.ceil(hi * 1e4) / 1e4);
}

// ---------------------------------------------------------------------------------------------
// Tensors: built in float64 where folded, materialized once in the target precision.

type TensorSource =
  | { readonly kind: 'given'; readonly data: Float32Array }
  | { readonly kind: 'computed'; readonly data: Float64Array }
  /** Computed in float64 element by element straight into the target array (folded conv weights: no float64 copy of the whole network). */
  | { readonly kind: 'fill'; readonly floats: number; readonly fill: (out: Float32Array | Float64Array) => void }
  /** [C][R][S][K] copy of the materialized tensor `of` ([K][C][R][S]), so both layouts agree bit for bit. */
  | { readonly kind: 'crsk'; readonly of: number; readonly k: number; readonly c: number; readonly rs: number }
  /** Elements order[0], order[1], ... of the materialized tensor `of` (a weight-sparse kernel's packed nonzeros). */
  | { readonly kind: 'gather'; readonly of: number; readonly order: Uint32Array };

function materialize<T extends Float32Array | Float64Array>(sources: readonly TensorSource[], make: (n: number) => T, fromGiven: (t: Float32Array) => T): T[] {
  const out: T[] = [];
  for (const s of sources) {
    if (s.kind === 'given') out.push(fromGiven(s.data));
    else if (s.kind === 'computed') {
      const t = make(s.data.length);
      t.set(s.data);
      out.push(t);
    } else if (s.kind === 'fill') {
      const t = make(s.floats);
      s.fill(t);
      out.push(t);
    } else if (s.kind === 'gather') {
      const src = out[s.of]!;
      const t = make(s.order.length);
      for (let e = 0; e < s.order.length; e++) t[e] = src[s.order[e]!]!;
      out.push(t);
    } else {
      const src = out[s.of]!;
      const t = make(src.length);
      for (let k = 0; k < s.k; k++) {
        for (let c = 0; c < s.c; c++) {
          for (let j = 0; j < s.rs; j++) t[(c * s.rs + j) * s.k + k] = src[(k * s.c + c) * s.rs + j]!;
        }
      }
      out.push(t);
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Pass 1 results.

/** One materialized activation: a step's output or the network input. */
interface Value {
  /** The last layer of the fused chain: the graph layer whose output this value is. */
  readonly tail: string;
  readonly shape: Shape;
  /** Index of the step that writes it; -1 for the network input. */
  readonly producer: number;
}

interface EmitContext {
  readonly view: (layer: string) => View;
  readonly out: View;
  readonly countZeros: number | null;
  readonly inZeros: (layer: string) => number | null;
}

/** A step before buffers exist: what it reads (layer names), which value it writes, how to build it. */
interface ProtoStep {
  readonly layer: string;
  readonly reads: readonly string[];
  readonly value: number;
  /** The op has a countZeros field (conv, scale_shift, bias_relu, add, pools). */
  readonly countable: boolean;
  /** Set for convs: the input layer whose zeros `inZeros` refers to. */
  readonly convInput: string | null;
  readonly build: (e: EmitContext) => Step;
}

interface Placement {
  readonly group: number;
  /** First channel inside the group. */
  readonly chan: number;
}

/** Storage of one or more values: [c, h, w] per batch item; a DenseNet block is one group. */
interface Group {
  readonly c: number;
  readonly h: number;
  readonly w: number;
}

function lower(graph: Graph, plan: NetworkPlan, ws: WeightSet, o: LowerOptions): { program: Program; sources: TensorSource[]; unsharedFloats: number } {
  if (!Number.isInteger(o.batch) || o.batch < 1) throw new LoweringError(`batch must be a positive integer, got ${o.batch}`);
  if (plan.model !== graph.name) throw new LoweringError(`plan is for '${plan.model}', graph is '${graph.name}'`);
  const mode = o.mode ?? 'plan';
  const byName = layerIndex(graph);
  const keep = o.keep ?? [];
  for (const k of keep) if (!byName.has(k)) throw new LoweringError(`${graph.name}: keep names no layer '${k}'`);
  const unsupported = gpuPathSummary(graph);
  if (unsupported !== null) throw new GpuUnsupportedError(`${unsupported}; run --cpu runs it on the CPU`);
  if (mode === 'plan' && keep.length > 0) {
    // A layer inside a fused residual chain has no tensor of its own: its step writes the add's output.
    const chains = residualChains(graph, consumers(graph));
    for (const cp of plan.convs) {
      if (!cp.residual || cp.decision !== 'act-sparse') continue;
      const bn = chains.get(cp.layer)?.bn;
      const kept = [cp.layer, ...(bn ? [bn] : [])].find((k) => keep.includes(k));
      if (kept !== undefined) {
        throw new LoweringError(`${graph.name}: keep names '${kept}', which the plan fuses with residual add ${cp.residual.add} into one kernel (its output is the add's); keep '${cp.residual.relu ?? cp.residual.add}', or plan without residual fusion`);
      }
    }
  }
  const fused = fuse(graph, plan, ws, mode, o.batch);
  const { groups, layerPlace } = place(graph, fused.values, fused.valueOfLayer);

  // Pass 3: lifetimes of groups in step indices, then buffers.
  const steps = fused.protos;
  const firstWrite = groups.map(() => Infinity);
  const lastUse = groups.map(() => -Infinity);
  fused.values.forEach((v) => {
    const g = layerPlace.get(v.tail)!.group;
    firstWrite[g] = Math.min(firstWrite[g]!, v.producer);
    lastUse[g] = Math.max(lastUse[g]!, v.producer);
  });
  steps.forEach((s, i) => {
    for (const r of s.reads) {
      const g = layerPlace.get(r)!.group;
      lastUse[g] = Math.max(lastUse[g]!, i);
    }
  });
  const outputLayer = graph.layers[graph.layers.length - 1]!;
  // The input stays intact too: a forward graph is replayed on it in place (timeForward, energy) and
  // a step timed alone replays the steps before it from it (Runtime::timeStep). Reused, it held a
  // later layer's values after one forward, and every replay ran on those instead of the image.
  const inputLayer = graph.layers.find((l) => l.op === 'input')!;
  for (const k of [...keep, inputLayer.name, outputLayer.name]) lastUse[layerPlace.get(k)!.group] = Infinity;
  const { bufferOf, sizes } = allocate(groups, firstWrite, lastUse, steps.length, o.batch);

  const view = (layer: string): View => {
    const p = layerPlace.get(layer);
    if (!p) throw new LoweringError(`${graph.name}: layer '${layer}' has no storage`);
    const g = groups[p.group]!;
    const [c, h, w] = byName.get(layer)!.shape;
    return { buf: bufferOf[p.group]!, offset: p.chan * h * w, c, h, w, batchStride: g.c * g.h * g.w };
  };

  // Zero counters: one per value that some conv reads, numbered in step order.
  const counterOfValue = new Map<number, number>();
  if (o.countZeros) {
    const counted = new Set<number>();
    for (const s of steps) {
      if (s.convInput === null) continue;
      const inLayer = byName.get(s.convInput)!;
      if (inLayer.op === 'concat') throw new LoweringError(`${graph.name}/${s.layer}: reads concat '${inLayer.name}' directly; its zeros have no single producer to count them`);
      const v = fused.valueOfLayer.get(s.convInput)!;
      if (fused.values[v]!.producer >= 0) counted.add(v);
    }
    steps.forEach((s) => {
      if (!counted.has(s.value)) return;
      if (!s.countable) throw new LoweringError(`${graph.name}/${s.layer}: feeds a conv but its op has no zero counter`);
      counterOfValue.set(s.value, counterOfValue.size);
    });
  }
  const inZeros = (layer: string): number | null => {
    const v = fused.valueOfLayer.get(layer);
    return v === undefined ? null : (counterOfValue.get(v) ?? null);
  };

  const built = steps.map((s) =>
    s.build({ view, out: view(fused.values[s.value]!.tail), countZeros: counterOfValue.get(s.value) ?? null, inZeros }),
  );
  const views: Record<string, View> = {};
  for (const l of graph.layers) views[l.name] = view(l.name);
  const program: Program = {
    format: 'cusnn-program/1',
    model: graph.name,
    batch: o.batch,
    buffers: sizes,
    tensors: fused.tensorInfo,
    zeroCounters: counterOfValue.size,
    input: view(inputLayer.name),
    output: view(outputLayer.name),
    views,
    steps: built,
  };
  const unsharedFloats = groups.reduce((n, g) => n + g.c * g.h * g.w * o.batch, 0);
  return { program, sources: fused.sources, unsharedFloats };
}

// ---------------------------------------------------------------------------------------------
// Pass 1: fusion. Mirrors the planner's epilogueOf (conv -> BN -> ReLU, conv -> ReLU, each only
// when the intermediate has one reader) and checks that every plan entry agrees.

interface Fused {
  readonly values: Value[];
  readonly valueOfLayer: Map<string, number>;
  readonly protos: ProtoStep[];
  readonly sources: TensorSource[];
  readonly tensorInfo: { name: string; floats: number }[];
}

function fuse(graph: Graph, plan: NetworkPlan, ws: WeightSet, mode: 'plan' | 'cudnn', batch: number): Fused {
  const readers = consumers(graph);
  const byName = layerIndex(graph);
  const planOf = new Map(plan.convs.map((c) => [c.layer, c]));
  for (const c of plan.convs) {
    if (byName.get(c.layer)?.op !== 'conv') throw new LoweringError(`${graph.name}: the plan has an entry for '${c.layer}', which is no conv of the graph`);
  }
  const only = (name: string): Layer | undefined => {
    const r = readers.get(name)!;
    return r.length === 1 ? r[0] : undefined;
  };
  const values: Value[] = [];
  const valueOfLayer = new Map<string, number>();
  const protos: ProtoStep[] = [];
  const sources: TensorSource[] = [];
  const tensorInfo: { name: string; floats: number }[] = [];
  const absorbed = new Set<string>();
  let profile: GpuProfile | null = null;
  let chains: Map<string, ResidualChain> | undefined;

  const tensor = (name: string, s: TensorSource, floats: number): number => {
    sources.push(s);
    tensorInfo.push({ name, floats });
    return sources.length - 1;
  };
  const given = (name: string, data: Float32Array): number => tensor(name, { kind: 'given', data }, data.length);
  const computed = (name: string, data: Float64Array): number => tensor(name, { kind: 'computed', data }, data.length);
  /** A value written by the next step, named by every layer of its chain. */
  const stepValue = (chain: readonly Layer[]): number => {
    const tail = chain[chain.length - 1]!;
    values.push({ tail: tail.name, shape: tail.shape, producer: protos.length });
    for (const l of chain) {
      valueOfLayer.set(l.name, values.length - 1);
      absorbed.add(l.name);
    }
    return values.length - 1;
  };
  /**
   * The ReLU or ReLU6 that is the only reader of `name`, if any (it is then fused): a ReLU6 is a
   * clamp to [0, 6] with `relu` false, so a generated kernel's epilogue (bias, ReLU) stays what the
   * planner gave it and the runtime clamps after it.
   */
  const fusedAct = (name: string): FusedAct | undefined => {
    const r = only(name);
    if (r?.op === 'relu') return { layer: r, relu: true, clamp: null };
    if (r?.op === 'relu6') return { layer: r, relu: false, clamp: RELU6 };
    return undefined;
  };
  const shapeOf = (name: string): Shape => byName.get(name)!.shape;
  const where = (l: Layer): string => `${graph.name}/${l.name}`;

  for (const l of graph.layers) {
    if (absorbed.has(l.name)) continue;
    switch (l.op) {
      case 'input': {
        if (values.some((v) => v.producer === -1)) throw new LoweringError(`${where(l)}: more than one input layer`);
        values.push({ tail: l.name, shape: l.shape, producer: -1 });
        valueOfLayer.set(l.name, values.length - 1);
        break;
      }
      case 'concat':
        break; // a view of its inputs' group (pass 2)
      case 'conv': {
        const next = only(l.name);
        const bn = next?.op === 'batchnorm' ? next : undefined;
        const cp = planOf.get(l.name);
        if (!cp) throw new LoweringError(`${where(l)}: the plan has no entry for this conv`);
        if (mode === 'plan' && cp.decision === 'act-sparse') profile ??= gpuProfile(plan.arch);
        // The residual add after it, fused where the plan's generated kernel takes it (src/plan/residual.ts).
        const res = cp.residual && mode === 'plan' && cp.decision === 'act-sparse' ? residualOfPlan(graph, l, cp, chains ??= residualChains(graph, readers)) : null;
        const add = res ? byName.get(res.add)! : undefined;
        const act = fusedAct(add ? add.name : bn ? bn.name : l.name);
        const value = stepValue([l, ...(bn ? [bn] : []), ...(add ? [add] : []), ...(act ? [act.layer] : [])]);
        protos.push(convProto(graph, l, bn, act, cp, ws, mode, batch, profile, value, { given, computed, tensor, shapeOf }, res?.shortcut ?? null));
        break;
      }
      case 'batchnorm': {
        // Not foldable (its input is no conv read only by it): DenseNet's pre-activation, final bn.
        const act = fusedAct(l.name);
        const value = stepValue([l, ...(act ? [act.layer] : [])]);
        const c = l.shape[0];
        const { scale, shift } = bnAffine(ws, l, c);
        const scaleT = computed(`${l.name}:scale`, scale);
        const shiftT = computed(`${l.name}:shift`, shift);
        protos.push({
          layer: l.name, reads: l.inputs, value, countable: true, convInput: null,
          build: (e) => ({ op: 'scale_shift', layer: l.name, in: e.view(l.inputs[0]!), out: e.out, scale: scaleT, shift: shiftT, ...actFields(act), countZeros: e.countZeros }),
        });
        break;
      }
      case 'relu':
      case 'relu6': {
        // An activation whose input has other readers (or no fusing producer): its own element-wise step.
        const value = stepValue([l]);
        const act: FusedAct = l.op === 'relu' ? { layer: l, relu: true, clamp: null } : { layer: l, relu: false, clamp: RELU6 };
        protos.push({
          layer: l.name, reads: l.inputs, value, countable: true, convInput: null,
          build: (e) => ({ op: 'bias_relu', layer: l.name, in: e.view(l.inputs[0]!), out: e.out, bias: null, ...actFields(act), countZeros: e.countZeros }),
        });
        break;
      }
      case 'add': {
        if (l.inputs.length !== 2) throw new LoweringError(`${where(l)}: add of ${l.inputs.length} inputs; the program's add takes 2`);
        const act = fusedAct(l.name);
        const value = stepValue([l, ...(act ? [act.layer] : [])]);
        protos.push({
          layer: l.name, reads: l.inputs, value, countable: true, convInput: null,
          build: (e) => ({ op: 'add', layer: l.name, a: e.view(l.inputs[0]!), b: e.view(l.inputs[1]!), out: e.out, ...actFields(act), countZeros: e.countZeros }),
        });
        break;
      }
      case 'maxpool':
      case 'avgpool': {
        const value = stepValue([l]);
        const pad = [l.pad.top, l.pad.left, l.pad.bottom, l.pad.right] as const;
        // Only an ONNX pool whose padding changes the result excludes it (the importer decides).
        const exclude = l.padMode === 'exclude' ? { excludePad: true } : {};
        protos.push({
          layer: l.name, reads: l.inputs, value, countable: true, convInput: null,
          build: (e) => ({ op: l.op, layer: l.name, in: e.view(l.inputs[0]!), out: e.out, kernel: l.kernel, stride: l.stride, pad, ...exclude, countZeros: e.countZeros }),
        });
        break;
      }
      case 'globalavgpool':
      case 'softmax': {
        const value = stepValue([l]);
        const op = l.op;
        protos.push({
          layer: l.name, reads: l.inputs, value, countable: false, convInput: null,
          build: (e) => ({ op, layer: l.name, in: e.view(l.inputs[0]!), out: e.out }),
        });
        break;
      }
      case 'flatten': {
        const value = stepValue([l]);
        if (l.order === 'chw') {
          // ONNX's flatten of NCHW data is the buffer as it is: a copy (bias_relu without bias or
          // ReLU) that reads the input's channel slice, contiguous per item, as one F x 1 x 1 view.
          protos.push({
            layer: l.name, reads: l.inputs, value, countable: false, convInput: null,
            build: (e) => {
              const v = e.view(l.inputs[0]!);
              return { op: 'bias_relu', layer: l.name, in: { ...v, c: v.c * v.h * v.w, h: 1, w: 1 }, out: e.out, bias: null, relu: false, countZeros: null };
            },
          });
          break;
        }
        protos.push({
          layer: l.name, reads: l.inputs, value, countable: false, convInput: null,
          build: (e) => ({ op: 'flatten_hwc', layer: l.name, in: e.view(l.inputs[0]!), out: e.out }),
        });
        break;
      }
      case 'dense': {
        const act = fusedAct(l.name);
        const value = stepValue([l, ...(act ? [act.layer] : [])]);
        const [f, h, w] = shapeOf(l.inputs[0]!);
        const kernel = getTensor(ws, l.name, 'kernel');
        if (kernel.length !== l.units * f * h * w) throw new LoweringError(`${where(l)}: kernel has ${kernel.length} values, expected ${l.units}x${f * h * w}`);
        const weights = given(`${l.name}:kernel`, kernel);
        const bias = l.bias ? given(`${l.name}:bias`, checkLength(getTensor(ws, l.name, 'bias'), l.units, where(l), 'bias')) : null;
        protos.push({
          layer: l.name, reads: l.inputs, value, countable: false, convInput: null,
          build: (e) => ({ op: 'dense', layer: l.name, in: e.view(l.inputs[0]!), out: e.out, units: l.units, weights, bias, ...actFields(act) }),
        });
        break;
      }
    }
  }
  if (!values.some((v) => v.producer === -1)) throw new LoweringError(`${graph.name}: no input layer`);
  const last = graph.layers[graph.layers.length - 1]!;
  if (readers.get(last.name)!.length > 0) throw new LoweringError(`${graph.name}: the last layer '${last.name}' is read by others; it must be the output`);
  return { values, valueOfLayer, protos, sources, tensorInfo };
}

/** ReLU6, min(max(x, 0), 6), as a step's clamp. */
const RELU6: Clamp = [0, 6];

/** An activation layer fused into the step before it. */
interface FusedAct {
  readonly layer: Layer;
  readonly relu: boolean;
  readonly clamp: Clamp | null;
}

/** A step's `relu` and, only when there is one, its `clamp` (so programs without one keep their bytes). */
function actFields(act: FusedAct | undefined): { relu: boolean; clamp?: Clamp } {
  return act?.clamp ? { relu: act.relu, clamp: act.clamp } : { relu: act?.relu ?? false };
}

function checkLength(t: Float32Array, n: number, where: string, role: string): Float32Array {
  if (t.length !== n) throw new LoweringError(`${where}: ${role} has ${t.length} values, expected ${n}`);
  return t;
}

/** Inference batch norm as y = x * scale + shift, in float64. */
function bnAffine(ws: WeightSet, bn: BatchNormLayer, c: number): { scale: Float64Array; shift: Float64Array } {
  const where = `${ws.model}/${bn.name}`;
  const gamma = checkLength(getTensor(ws, bn.name, 'gamma'), c, where, 'gamma');
  const beta = checkLength(getTensor(ws, bn.name, 'beta'), c, where, 'beta');
  const mean = checkLength(getTensor(ws, bn.name, 'moving_mean'), c, where, 'moving_mean');
  const variance = checkLength(getTensor(ws, bn.name, 'moving_variance'), c, where, 'moving_variance');
  const scale = new Float64Array(c);
  const shift = new Float64Array(c);
  for (let i = 0; i < c; i++) {
    scale[i] = gamma[i]! / Math.sqrt(variance[i]! + bn.epsilon);
    shift[i] = beta[i]! - mean[i]! * scale[i]!;
  }
  return { scale, shift };
}

interface TensorSink {
  readonly given: (name: string, data: Float32Array) => number;
  readonly computed: (name: string, data: Float64Array) => number;
  readonly tensor: (name: string, s: TensorSource, floats: number) => number;
  readonly shapeOf: (name: string) => Shape;
}

/** A conv step with `bn` folded into its weights and bias, after checking the plan entry agrees. */
function convProto(
  graph: Graph, conv: ConvLayer, bn: BatchNormLayer | undefined, act: FusedAct | undefined, cp: ConvPlan, ws: WeightSet,
  mode: 'plan' | 'cudnn', batch: number, profile: GpuProfile | null, value: number, t: TensorSink,
  residual: string | null,
): ProtoStep {
  const where = `${graph.name}/${conv.name}`;
  const [c, h, w] = t.shapeOf(conv.inputs[0]!);
  const k = conv.shape[0];
  const [r, s] = conv.kernel;
  const groups = conv.groups;
  if (!Number.isInteger(groups) || groups < 1 || c % groups !== 0 || k % groups !== 0) {
    throw new LoweringError(`${where}: groups ${groups} does not divide ${c} input and ${k} output channels`);
  }
  const cg = c / groups; // input channels each output channel reads
  const relu = act?.relu ?? false;
  const hasBias = bn !== undefined || conv.bias;
  // A plan entry with a residual describes the fused chain; on cuDNN (or the cuDNN-only path) the add stays a step.
  checkPlan(where, cp, conv, [c, h, w], hasBias, relu, cp.residual !== undefined && residual === null);

  const kernel = checkLength(getTensor(ws, conv.name, 'kernel'), k * cg * r * s, where, 'kernel');
  const convBias = conv.bias ? checkLength(getTensor(ws, conv.name, 'bias'), k, where, 'bias') : null;
  let weightsKcrs: number;
  let bias: number | null;
  if (bn) {
    // W' = W * scale[k]; b' = (b - mean) * scale + beta = b * scale + shift.
    const { scale, shift } = bnAffine(ws, bn, k);
    const crs = cg * r * s;
    const fill = (out: Float32Array | Float64Array): void => {
      for (let o = 0; o < k; o++) {
        const sc = scale[o]!;
        for (let i = o * crs; i < (o + 1) * crs; i++) out[i] = kernel[i]! * sc;
      }
    };
    const b = new Float64Array(k);
    for (let o = 0; o < k; o++) b[o] = (convBias ? convBias[o]! : 0) * scale[o]! + shift[o]!;
    weightsKcrs = t.tensor(`${conv.name}+${bn.name}:kcrs`, { kind: 'fill', floats: kernel.length, fill }, kernel.length);
    bias = t.computed(`${conv.name}+${bn.name}:bias`, b);
  } else {
    weightsKcrs = t.given(`${conv.name}:kcrs`, kernel);
    bias = convBias ? t.given(`${conv.name}:bias`, convBias) : null;
  }

  let path: ConvStep['path'] = 'cudnn';
  let kernelNameOf: string | null = null;
  let weightsCrsk: number | null = null;
  let weightsLayout: 'crsk' | 'packed' = 'crsk';
  let threshold: number | null = null;
  if (mode === 'plan') {
    if (cp.decision === 'weight-sparse') throw new LoweringError(`${where}: decision weight-sparse has no path in the program format`);
    if (cp.decision === 'act-sparse') {
      // The planner keeps grouped convs on cuDNN (no family takes groups != 1); a plan saying otherwise is not run.
      if (groups !== 1) throw new LoweringError(`${where}: the plan puts a grouped conv (groups ${groups}) on a generated kernel; no kernel family takes groups other than 1`);
      if (!cp.spec) throw new LoweringError(`${where}: act-sparse plan entry without a kernel spec`);
      const name = nameOfSpec(cp.spec);
      if (cp.kernelName !== null && cp.kernelName !== name) throw new LoweringError(`${where}: plan names kernel '${cp.kernelName}', its spec names '${name}'`);
      path = 'act-sparse';
      kernelNameOf = name;
      if (isWeightSparse(cp.spec)) {
        // The kernel reads its nonzeros' values packed in its tables' order; the structure comes from
        // the weights as given (before folding), as when it was planned.
        const st = weightStructure(kernel, { k, c: cg, r, s });
        if (st.digest !== cp.spec.patternDigest) {
          throw new LoweringError(`${where}: kernel ${name} was generated for weight structure ${cp.spec.patternDigest}, these weights have ${st.digest} (plan again with these weights)`);
        }
        const order = kernelWeightOrder(cp.spec, st)!;
        weightsCrsk = t.tensor(`${conv.name}:packed`, { kind: 'gather', of: weightsKcrs, order }, order.length);
        weightsLayout = 'packed';
      } else if (cp.spec.family === 'igemm' && cp.spec.kept) {
        // Whole-filter pruning: the kernel computes the kept filters only and writes act(bias) on the
        // other channels, which is right only if their filters are all zero in these weights.
        const kept = new Set(cp.spec.kept);
        const crs = cg * r * s;
        for (let o = 0; o < k; o++) {
          if (kept.has(o)) continue;
          for (let i = 0; i < crs; i++) {
            if (kernel[o * crs + i] !== 0) {
              throw new LoweringError(`${where}: kernel ${name} skips output channel ${o}, whose filter is not all zero in these weights (plan again with these weights)`);
            }
          }
        }
        const order = kernelWeightOrder(cp.spec, undefined)!;
        weightsCrsk = t.tensor(`${conv.name}:kept`, { kind: 'gather', of: weightsKcrs, order }, order.length);
        weightsLayout = 'packed';
      } else {
        weightsCrsk = t.tensor(`${conv.name}:crsk`, { kind: 'crsk', of: weightsKcrs, k, c, rs: r * s }, kernel.length);
      }
      threshold = breakEvenZeros(profile!, cp.spec, batch);
    }
  }
  const input = conv.inputs[0]!;
  const grouped = groups !== 1 ? { groups } : {};
  const clamp = act?.clamp ? { clamp: act.clamp } : {};
  return {
    layer: conv.name, reads: residual ? [...conv.inputs, residual] : conv.inputs, value, countable: true, convInput: input,
    build: (e) => ({
      op: 'conv', layer: conv.name, in: e.view(input), out: e.out, k, r, s,
      strideH: conv.stride[0], strideW: conv.stride[1],
      padTop: conv.pad.top, padLeft: conv.pad.left, padBottom: conv.pad.bottom, padRight: conv.pad.right,
      ...grouped, weightsKcrs, bias, relu, ...clamp, path, kernel: kernelNameOf, weightsCrsk, ...(weightsLayout === 'packed' ? { weightsLayout } : {}), threshold,
      inZeros: e.inZeros(input), countZeros: e.countZeros, ...(residual ? { residual: e.view(residual) } : {}),
    }),
  };
}

/** The residual chain of a conv whose plan entry fuses one: the graph's must be the plan's, else the plan is of another graph. */
function residualOfPlan(graph: Graph, conv: ConvLayer, cp: ConvPlan, chains: ReadonlyMap<string, ResidualChain>): ResidualChain {
  const chain = chains.get(conv.name);
  const r = cp.residual!;
  if (!chain || chain.add !== r.add || chain.shortcut !== r.shortcut || chain.relu !== r.relu) {
    throw new LoweringError(`${graph.name}/${conv.name}: planner and lowering disagree: the plan fuses residual add ${r.add} (+ ${r.shortcut}), the graph has ${chain ? `${chain.add} (+ ${chain.shortcut})` : 'no residual add this conv can take'}`);
  }
  return chain;
}

/** The plan entry must describe this conv and fuse what the lowering fuses; anything else is a bug. */
function checkPlan(where: string, cp: ConvPlan, conv: ConvLayer, input: Shape, bias: boolean, relu: boolean, residualNotRun = false): void {
  const fail = (what: string): never => {
    throw new LoweringError(`${where}: planner and lowering disagree: ${what}`);
  };
  const same = (a: readonly number[], b: readonly number[]): boolean => a.length === b.length && a.every((x, i) => x === b[i]);
  if (!same(cp.input, input) || !same(cp.output, conv.shape)) fail(`shape ${cp.input.join('x')}->${cp.output.join('x')} in the plan, ${input.join('x')}->${conv.shape.join('x')} in the graph`);
  if (!same(cp.kernel, conv.kernel) || !same(cp.stride, conv.stride)) fail('kernel or stride');
  if (!same(cp.pad, [conv.pad.top, conv.pad.left, conv.pad.bottom, conv.pad.right])) fail('padding');
  if (!residualNotRun && cp.fusedRelu !== relu) fail(`fusedRelu ${cp.fusedRelu} in the plan, ${relu} here`);
  const sp = cp.spec;
  if (!sp) return;
  if (sp.bias !== bias) fail(`spec.bias ${sp.bias} in the plan, ${bias} here`);
  if (!residualNotRun && sp.relu !== relu) fail(`spec.relu ${sp.relu} in the plan, ${relu} here`);
  const mine = [input[0], input[1], input[2], conv.outChannels, conv.kernel[0], conv.kernel[1], conv.stride[0], conv.stride[1], conv.pad.top, conv.pad.left, conv.shape[1], conv.shape[2]];
  const theirs = [sp.c, sp.h, sp.w, sp.k, sp.r, sp.s, sp.strideH, sp.strideW, sp.padTop, sp.padLeft, sp.ho, sp.wo];
  if (!same(mine, theirs)) fail(`kernel spec problem ${theirs.join(',')} vs ${mine.join(',')}`);
}

// ---------------------------------------------------------------------------------------------
// Pass 2: placement. Concats are handled outermost first (reverse graph order), so the last
// concat of a chain owns the group and each input, recursively, gets its channel range; a concat
// whose values already lie side by side in a group (a run of a larger concat's inputs) is a view
// of that range. A value can sit in one place only: feeding two concats otherwise would need a
// copy, which the program format does not have, so it is an error.

function place(graph: Graph, values: readonly Value[], valueOfLayer: ReadonlyMap<string, number>): { groups: Group[]; layerPlace: Map<string, Placement> } {
  const byName = layerIndex(graph);
  const groups: Group[] = [];
  const concatPlace = new Map<string, Placement>();
  const valuePlace = new Map<number, Placement>();

  const put = (name: string, at: Placement): void => {
    const l = byName.get(name)!;
    if (l.op === 'concat') {
      if (concatPlace.has(name)) throw new LoweringError(`${graph.name}/${name}: concatenated into two places; the program has no copy step`);
      concatPlace.set(name, at);
      let chan = at.chan;
      for (const i of l.inputs) {
        put(i, { group: at.group, chan });
        chan += byName.get(i)!.shape[0];
      }
      return;
    }
    const v = valueOfLayer.get(name)!;
    if (valuePlace.has(v)) throw new LoweringError(`${graph.name}/${name}: feeds two concatenations; the program has no copy step`);
    valuePlace.set(v, at);
  };
  /** The layers whose values a concat lays side by side, nested concats expanded. */
  const leaves = (name: string): string[] => {
    const l = byName.get(name)!;
    return l.op === 'concat' ? l.inputs.flatMap(leaves) : [name];
  };
  /**
   * Where a concat already lies when its values are all placed, in one group, side by side in its
   * order: a concat of the first inputs of a larger one (PyTorch's DenseNet concatenates the block
   * input and every new feature map again for each layer) is then a view of that group, no copy.
   */
  const placedRun = (name: string): Placement | null => {
    let at: Placement | null = null;
    let next = 0;
    for (const leaf of leaves(name)) {
      const v = valueOfLayer.get(leaf);
      const p = v === undefined ? undefined : valuePlace.get(v);
      if (!p) return null;
      if (at === null) {
        at = p;
        next = p.chan;
      }
      if (p.group !== at.group || p.chan !== next) return null;
      next += byName.get(leaf)!.shape[0];
    }
    return at;
  };
  for (let i = graph.layers.length - 1; i >= 0; i--) {
    const l = graph.layers[i]!;
    if (l.op !== 'concat' || concatPlace.has(l.name)) continue;
    const within = placedRun(l.name);
    if (within) {
      concatPlace.set(l.name, within);
      continue;
    }
    groups.push({ c: l.shape[0], h: l.shape[1], w: l.shape[2] });
    put(l.name, { group: groups.length - 1, chan: 0 });
  }
  values.forEach((v, i) => {
    if (valuePlace.has(i)) return;
    groups.push({ c: v.shape[0], h: v.shape[1], w: v.shape[2] });
    valuePlace.set(i, { group: groups.length - 1, chan: 0 });
  });
  const layerPlace = new Map<string, Placement>(concatPlace);
  for (const [name, v] of valueOfLayer) layerPlace.set(name, valuePlace.get(v)!);
  return { groups, layerPlace };
}

// ---------------------------------------------------------------------------------------------
// Pass 3: buffers. Events in step order: before step t the groups first written at t are
// allocated, after it the groups last used at t are freed (so a step's output never shares a
// buffer with its inputs: the native kernels need not support aliasing).

function allocate(groups: readonly Group[], firstWrite: readonly number[], lastUse: readonly number[], steps: number, batch: number): { bufferOf: number[]; sizes: number[] } {
  const sizes: number[] = [];
  const free: number[] = [];
  const bufferOf: number[] = new Array<number>(groups.length).fill(-1);
  const need = groups.map((g) => g.c * g.h * g.w * batch);
  const take = (n: number): number => {
    // Best fit among free buffers; else grow the largest free one (cheaper than a new buffer);
    // else a new buffer. Ties go to the lowest index, so the result is deterministic.
    let best = -1;
    for (const b of free) if (sizes[b]! >= n && (best < 0 || sizes[b]! < sizes[best]! || (sizes[b] === sizes[best] && b < best))) best = b;
    if (best < 0) {
      for (const b of free) if (best < 0 || sizes[b]! > sizes[best]! || (sizes[b] === sizes[best] && b < best)) best = b;
      if (best >= 0) sizes[best] = n;
    }
    if (best < 0) {
      sizes.push(n);
      return sizes.length - 1;
    }
    free.splice(free.indexOf(best), 1);
    return best;
  };
  for (let t = -1; t < steps; t++) {
    groups.forEach((_, g) => {
      if (firstWrite[g] === t) bufferOf[g] = take(need[g]!);
    });
    groups.forEach((_, g) => {
      if (lastUse[g] === t) free.push(bufferOf[g]!);
    });
  }
  if (bufferOf.some((b) => b < 0)) throw new LoweringError('internal: a storage group was never written');
  return { bufferOf, sizes };
}
