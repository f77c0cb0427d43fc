// `cusnn-gen verify`: the cuSNN path (the plan's generated kernels) against the cuDNN-only path
// of the same network, same weights, same images, in one process: logits agreement, top-k
// agreement, and per-conv times of both paths for the layers whose measured input sparsity is
// high. Correct first, then timed (CUDA events over graph replays, median).
import { listImages } from '../runtime/images.js';
import { loadNetwork, type Network } from '../runtime/network.js';
import { relL2Error, topClasses } from './metrics.js';

export interface VerifyOptions {
  readonly images: string | readonly string[];
  readonly weights?: string;
  readonly fillMissing?: boolean;
  readonly top?: number;
  /** Time convs whose measured input sparsity is at least this (fraction of zeros). */
  readonly minSparsity?: number;
  readonly iters?: number;
  readonly log?: (s: string) => void;
}

export interface LayerTiming {
  readonly layer: string;
  readonly inputSparsity: number;
  readonly kernel: string | null;
  readonly cudnnUs: number;
  readonly cusnnUs: number;
}

export interface VerifyResult {
  readonly model: string;
  readonly images: number;
  /** max over images of ||a - b|| / ||b|| at the logits (the input of the final softmax; cuSNN vs cuDNN-only). */
  readonly maxRelError: number;
  readonly topAgree: number;
  readonly top: number;
  readonly forwardUs: { readonly cusnn: number; readonly cudnn: number };
  readonly layers: readonly LayerTiming[];
}

const topK = topClasses;

function stepIndex(net: Network, mode: 'static' | 'cudnn', layer: string): number {
  return net.programFor(1, mode).steps.findIndex((s) => s.op === 'conv' && s.layer === layer);
}

export function verifyNetwork(dir: string, o: VerifyOptions): VerifyResult {
  const log = o.log ?? (() => {});
  const files = listImages(o.images);
  const top = o.top ?? 5;
  const net = loadNetwork(dir, { weights: o.weights, fillMissing: o.fillMissing });
  try {
    const classes = net.graph.layers[net.graph.layers.length - 1]!.shape[0];
    let maxRelError = 0;
    let topAgree = 0;
    files.forEach((f, i) => {
      const x = net.preprocessFiles([f]);
      // Logits, not the softmax: a saturated softmax hides differences (ResNet-50's synthetic
      // classifier gave one-hot outputs, bitwise equal on both paths).
      const ours = net.logitsWith(x, 'static');
      const ref = net.logitsWith(x, 'cudnn');
      const e = relL2Error(ours, ref);
      maxRelError = Math.max(maxRelError, e);
      const same = topK(ours, top).join() === topK(ref, top).join();
      if (same) topAgree++;
      log(`[${i + 1}/${files.length}] ${f}: rel. error ${e.toExponential(2)}, top-${top} ${same ? 'same' : 'DIFFERENT'}`);
      void classes;
    });
    const cal = net.calibrate(files, `${dir}/calibration.verify.json`);
    const iters = o.iters ?? 200;
    const forwardUs = { cusnn: net.time(1, iters, 'static').medianUs, cudnn: net.time(1, iters, 'cudnn').medianUs };
    log(`forward at batch 1: cuSNN ${forwardUs.cusnn.toFixed(1)} us, cuDNN-only ${forwardUs.cudnn.toFixed(1)} us`);
    const layers: LayerTiming[] = [];
    for (const c of net.plan.convs) {
      const z = cal.layers[c.layer]?.inputSparsity;
      if (z === undefined || z < (o.minSparsity ?? 0.8) || !c.kernelName) continue;
      const cudnnUs = net.timeStep(1, 'cudnn', stepIndex(net, 'cudnn', c.layer), iters).medianUs;
      const cusnnUs = net.timeStep(1, 'static', stepIndex(net, 'static', c.layer), iters).medianUs;
      layers.push({ layer: c.layer, inputSparsity: z, kernel: c.kernelName, cudnnUs, cusnnUs });
      log(`${c.layer}: ${(100 * z).toFixed(1)}% zeros, cuDNN ${cudnnUs.toFixed(1)} us, generated ${cusnnUs.toFixed(1)} us (${(cudnnUs / cusnnUs).toFixed(2)}x)`);
    }
    return { model: net.plan.model, images: files.length, maxRelError, topAgree, top, forwardUs, layers };
  } finally {
    net.dispose();
  }
}
