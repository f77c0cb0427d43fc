// A sparsity profile with chosen input sparsity per conv (the first conv reads the image), so
// planner tests do not depend on weights.
import type { Graph } from '../../src/model/ir.js';
import type { ConvSparsity, SparsityProfile } from '../../src/sparsity/types.js';

export function uniformSparsity(graph: Graph, zeros: number | ((layer: string) => number)): SparsityProfile {
  const convs = new Map<string, ConvSparsity>();
  for (const l of graph.layers) {
    if (l.op !== 'conv') continue;
    const image = l.inputs[0] === 'input';
    const z = typeof zeros === 'number' ? zeros : zeros(l.name);
    convs.set(l.name, {
      layer: l.name,
      weights: { sparsity: 0, nnzPerOutChannel: { min: 1, mean: 1, max: 1 }, zeroKernels: 0, kernels: 1 },
      inputSparsity: image ? 0 : z,
      inputSource: image ? 'image' : 'estimate',
    });
  }
  return { model: graph.name, activationSource: 'test', convs };
}
