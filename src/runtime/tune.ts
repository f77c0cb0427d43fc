// Per-layer measurement of both paths: every conv's step captured alone in a CUDA graph and timed
// with CUDA events, once through its generated kernel and once through cuDNN (the algorithm the
// runtime chose by measurement), on the activations a real input leaves in the buffers. The cost
// models (src/families/<family>/cost.ts, cuDNN's in src/plan/cost.ts) are guesses; this is what decides where it guessed wrong (ResNet-50's
// 256x14x14 layer: 129 us generated vs 58 us cuDNN on the H100, docs/PERFORMANCE.md).
import { writeFileSync } from 'node:fs';
import type { KernelTiles } from '../families/registry.js';
import { structureLookup } from '../families/wsparse/structure.js';
import { getLayer, type ConvLayer } from '../model/ir.js';
import { MEASURED_MARGIN } from '../plan/measured-choice.js';
import { weightsDigest } from '../plan/tune-cache.js';
import type { CalibratedLayer, Calibration } from '../sparsity/calibration.js';
import { weightPattern } from '../sparsity/weights.js';
import { getTensor } from '../weights/store.js';
import { loadAddon } from './addon.js';
import type { Decisions, Network } from './network.js';
import { storedTiles } from './tune-candidates.js';

export interface ConvMeasurement {
  readonly layer: string;
  /** The generated kernel timed for this layer (null: the folder has none for it). */
  readonly kernel: string | null;
  /** Its tile parameters, so a later plan can emit exactly the kernel that was measured. */
  readonly tiles: KernelTiles | null;
  readonly cudnnUs: number;
  readonly cudnnAlgo: string;
  readonly actSparseUs: number | null;
  /** The replays' p10-p90 of both paths (the generated kernel's null where it has none). */
  readonly cudnnP10Us: number;
  readonly cudnnP90Us: number;
  readonly actSparseP10Us: number | null;
  readonly actSparseP90Us: number | null;
}

export interface MeasureOptions {
  readonly batch?: number;
  /** Timed replays per step (median kept). */
  readonly iters?: number;
  readonly log?: (s: string) => void;
}

/**
 * Per-layer times are taken with this many copies of the step in one CUDA graph, divided by the
 * copies: what a layer adds to a network's forward graph, where one graph launch is shared by
 * every node. A step in a graph of its own also pays the launch and event overhead (3.4 us for an
 * empty kernel on the H200, docs/PERFORMANCE.md), which no layer pays inside the network and which
 * pushed every ratio towards 1.
 */
export const STEP_COPIES = 8;

/** One step's time inside a graph of STEP_COPIES copies (see there), after a forward at this batch and mode. */
export function stepTime(net: Network, batch: number, mode: 'static' | 'cudnn', step: number, iters: number): { medianUs: number; p10Us: number; p90Us: number } {
  if (step < 0) throw new Error(`${net.plan.model}: no such step`);
  return net.runtimeFor(batch, mode).timeStep(step, iters, STEP_COPIES);
}

/** The generated kernel must win by this factor to be kept: below it, the two are a tie within noise and cuDNN stays (one definition: src/plan/measured-choice.ts). */
export { MEASURED_MARGIN };

function stepOf(net: Network, batch: number, mode: 'static' | 'cudnn', layer: string): number {
  const i = net.programFor(batch, mode).steps.findIndex((s) => s.op === 'conv' && s.layer === layer);
  if (i < 0) throw new Error(`${net.plan.model}: conv '${layer}' has no step in the ${mode} program`);
  return i;
}

/**
 * Times every conv both ways at `batch` on the activations of `x` (NCHW, `batch` images). Every
 * conv with a kernel in the folder is put on it for the measurement; the decisions set before are
 * restored afterwards.
 */
export function measureConvs(net: Network, x: Float32Array, o: MeasureOptions = {}): ConvMeasurement[] {
  const batch = o.batch ?? 1;
  const iters = o.iters ?? 100;
  const before = net.getDecisions();
  const all: Record<string, 'act-sparse' | 'cudnn'> = {};
  for (const c of net.plan.convs) all[c.layer] = c.spec ? 'act-sparse' : 'cudnn';
  net.setDecisions(all);
  try {
    net.inferWith(x, 'static');
    net.inferWith(x, 'cudnn');
    const algos = new Map(net.runtimeFor(batch, 'cudnn').algorithms().map((a) => [a.layer, a.algoName]));
    const out: ConvMeasurement[] = [];
    net.plan.convs.forEach((c, i) => {
      const d = stepTime(net, batch, 'cudnn', stepOf(net, batch, 'cudnn', c.layer), iters);
      const g = c.spec ? stepTime(net, batch, 'static', stepOf(net, batch, 'static', c.layer), iters) : null;
      const cudnnUs = d.medianUs;
      const actSparseUs = g?.medianUs ?? null;
      // The family goes with the tiles (act-sparse's too), so a later plan re-emits exactly this kernel.
      const tiles = c.spec ? storedTiles(c.spec) : null;
      out.push({ layer: c.layer, kernel: c.spec ? c.kernelName : null, tiles, cudnnUs, cudnnAlgo: algos.get(c.layer) ?? '?', actSparseUs,
        cudnnP10Us: d.p10Us, cudnnP90Us: d.p90Us, actSparseP10Us: g?.p10Us ?? null, actSparseP90Us: g?.p90Us ?? null });
      o.log?.(`[${i + 1}/${net.plan.convs.length}] ${c.layer}: cuDNN ${cudnnUs.toFixed(1)} us` +
        (actSparseUs === null ? '' : `, generated ${actSparseUs.toFixed(1)} us (${(cudnnUs / actSparseUs).toFixed(2)}x)`));
    });
    return out;
  } finally {
    net.setDecisions(before);
  }
}

/** The faster path per layer (the generated kernel only when it wins by MEASURED_MARGIN; the planner also asks for it outside the spread). */
export function measuredDecisions(ms: readonly ConvMeasurement[]): Decisions {
  return Object.fromEntries(ms.map((m) => [m.layer, m.actSparseUs !== null && m.actSparseUs * MEASURED_MARGIN < m.cudnnUs ? 'act-sparse' : 'cudnn']));
}

/**
 * The digest of each pruned conv's weight structure in the network's weights (src/plan/tune-cache.ts
 * weightsDigest): calibration times are recorded with it, so they decide only layers of that structure.
 */
function convDigests(net: Network): Map<string, string | null> {
  const structures = structureLookup(net.graph, net.weights);
  const out = new Map<string, string | null>();
  for (const l of net.graph.layers) {
    if (l.op !== 'conv') continue;
    const conv = l as ConvLayer;
    const c = getLayer(net.graph, conv.inputs[0]!).shape[0] / conv.groups;
    const w = weightPattern(getTensor(net.weights, conv.name, 'kernel'), [conv.outChannels, c, conv.kernel[0], conv.kernel[1]]);
    out.set(conv.name, weightsDigest(w, conv.name, structures));
  }
  return out;
}

/**
 * Adds both paths' measured times to a calibration (the conv timings on the activations of the
 * calibration's last image) and rewrites the file: the planner then decides those layers by
 * measurement (src/plan/planner.ts). Only convs the folder has a kernel for get times; each with
 * its spread, cuDNN's algorithm and, for pruned weights, the digest of the layer's weight structure.
 */
export function addMeasuredTimes(net: Network, cal: Calibration, lastImage: string, file: string, o: MeasureOptions = {}): Calibration {
  const out = withMeasuredTimes(net, cal, net.preprocessFiles([lastImage]), o);
  writeFileSync(file, `${JSON.stringify(out, null, 2)}\n`);
  return out;
}

/** addMeasuredTimes on one preprocessed input `x` (batch 1), without writing: the calibration with the times. */
export function withMeasuredTimes(net: Network, cal: Calibration, x: Float32Array, o: MeasureOptions = {}): Calibration {
  const ms = measureConvs(net, x, { ...o, batch: 1 });
  const device = loadAddon(net.dir).device;
  if (!device) throw new Error(`${net.dir}: no CUDA device to time on`);
  const digests = convDigests(net);
  const layers: Record<string, CalibratedLayer> = { ...cal.layers };
  for (const m of ms) {
    const l = layers[m.layer];
    if (!l || m.actSparseUs === null || m.kernel === null || m.tiles === null) continue;
    const digest = digests.get(m.layer) ?? null;
    layers[m.layer] = { ...l, measured: { kernel: m.kernel, tiles: m.tiles, cudnnUs: m.cudnnUs, cudnnAlgo: m.cudnnAlgo, actSparseUs: m.actSparseUs,
      cudnnP10Us: m.cudnnP10Us, cudnnP90Us: m.cudnnP90Us, ...(m.actSparseP10Us !== null && m.actSparseP90Us !== null ? { actSparseP10Us: m.actSparseP10Us, actSparseP90Us: m.actSparseP90Us } : {}),
      ...(digest !== null && digest !== 'unknown' ? { weights: digest } : {}) } };
  }
  return { ...cal, gpu: device.name, arch: device.sm, layers };
}
