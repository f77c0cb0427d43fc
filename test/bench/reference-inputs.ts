// The bench's `inputs` hook for CPU flows (src/bench/bench.ts BenchHooks): each image file becomes
// `imageOf(file)`, and the input sparsity of the timing images comes from the float64 reference
// forward of the network (what the bench would measure on the GPU).
import type { NetworkInputs } from '../../src/bench/bench.js';
import { batchOf, type Halves } from '../../src/bench/split.js';
import type { Network } from '../../src/runtime/network.js';
import { referenceForward } from '../../src/runtime/reference.js';
import type { Calibration } from '../../src/sparsity/calibration.js';

export function referenceInputs(imageOf: (file: string) => Float32Array): (net: Network, halves: Halves<string>) => NetworkInputs {
  return (net, halves) => {
    const split = { calibrate: halves.calibrate.map(imageOf), time: halves.time.map(imageOf) };
    const ref = referenceForward(net.graph, net.weights, batchOf(split.time, split.time.length), split.time.length);
    const timingSparsity: Calibration = { format: 'cusnn-calibration/1', model: net.graph.name, images: split.time.length,
      layers: Object.fromEntries([...ref.inputSparsity].map(([l, s]) => [l, { inputSparsity: s }])) };
    return { split, timingSparsity };
  };
}
