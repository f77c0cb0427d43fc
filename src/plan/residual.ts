// Residual fusion: a ResNet block ends conv -> batch norm -> add(shortcut) -> ReLU. Run as steps, the
// add reads two tensors and writes a third after the conv wrote its output (about 0.5 ms of
// ResNet-152's 6.7 ms at batch 8 on an H100, run 71). A generated kernel whose epilogue adds the
// shortcut (igemm's `residual`) writes the block's output at once, reading the shortcut only: the
// add step and one tensor's write and two reads go away. The planner marks the conv here, after its
// decision (the decision's measurements are of the kernel without the add, which costs it a read);
// the lowering (src/runtime/lower.ts) finds the same chain and fails if the two disagree.
//
// Only where the conv runs a generated kernel that takes a residual: a conv on cuDNN keeps its add
// step, and the cuDNN-only path has no fusion at all (it stays the baseline it always was).
import { layerIndex, type Graph, type Layer } from '../model/ir.js';
import type { KernelSpec } from '../families/registry.js';
import type { ConvPlan } from './types.js';

/** The residual add a conv's epilogue can take (graph facts only). */
export interface ResidualChain {
  /** The add layer, and the batch norm between conv and add (null: none). */
  readonly add: string;
  readonly bn: string | null;
  /** The add's other input: the tensor the epilogue reads. */
  readonly shortcut: string;
  /** The ReLU after the add, fused too (null: none). */
  readonly relu: string | null;
}

/**
 * Every conv's residual chain, by conv name, in one pass over the graph: conv (-> batch norm) -> add,
 * each intermediate read by the next only, the add's other input computed before the conv in graph
 * order (so it is ready when the conv runs), of the conv's shape, and the add's only reader a ReLU or
 * something that is no activation (a ReLU6's clamp is not fused here). Convs without one are absent.
 */
export function residualChains(graph: Graph, readers: ReadonlyMap<string, readonly Layer[]>): Map<string, ResidualChain> {
  const only = (name: string): Layer | undefined => {
    const r = readers.get(name) ?? [];
    return r.length === 1 ? r[0] : undefined;
  };
  const byName = layerIndex(graph);
  const position = new Map(graph.layers.map((l, i) => [l.name, i]));
  const chains = new Map<string, ResidualChain>();
  for (const conv of graph.layers) {
    if (conv.op !== 'conv') continue;
    let next = only(conv.name);
    let bn: string | null = null;
    if (next?.op === 'batchnorm') {
      bn = next.name;
      next = only(next.name);
    }
    if (next?.op !== 'add' || next.inputs.length !== 2) continue;
    const others = next.inputs.filter((i) => i !== (bn ?? conv.name));
    if (others.length !== 1) continue;
    const shortcut = others[0]!;
    if (!(position.get(shortcut)! < position.get(conv.name)!)) continue;
    if (byName.get(shortcut)!.shape.some((d, i) => d !== conv.shape[i])) continue;
    const after = only(next.name);
    if (after?.op === 'relu6') continue;
    chains.set(conv.name, { add: next.name, bn, shortcut, relu: after?.op === 'relu' ? after.name : null });
  }
  return chains;
}

/**
 * The plan with every conv that can take its residual add marked: an igemm kernel without kept
 * filters gets `residual` and the add's ReLU, and the entry names the chain and says why.
 */
export function fuseResiduals(graph: Graph, convs: readonly ConvPlan[], readers: ReadonlyMap<string, readonly Layer[]>): ConvPlan[] {
  const chains = residualChains(graph, readers);
  return convs.map((cp) => {
    const sp = cp.spec;
    if (cp.decision !== 'act-sparse' || sp?.family !== 'igemm' || sp.kept) return cp;
    const chain = chains.get(cp.layer);
    if (!chain) return cp;
    const relu = chain.relu !== null;
    const spec = { ...sp, residual: true as const, relu };
    return {
      ...cp,
      spec,
      kernelName: null, // named again from the spec when the folder is emitted
      fusedRelu: relu,
      residual: { add: chain.add, shortcut: chain.shortcut, relu: chain.relu },
      reason: `${cp.reason}; residual add ${chain.add} (+ ${chain.shortcut}${relu ? `, then ${chain.relu}` : ''}) fused into the epilogue`,
    };
  });
}

/**
 * The spec as tune and calibrate time it (src/runtime/tune-search.ts): without the residual and the
 * ReLU after the add (a conv whose output goes to an add has no ReLU of its own). Measurements and
 * tune-cache entries name this kernel.
 */
export function unfusedSpec(spec: KernelSpec): KernelSpec {
  if (spec.family !== 'igemm' || !spec.residual) return spec;
  const { residual: _dropped, ...rest } = spec;
  return { ...rest, relu: false };
}
