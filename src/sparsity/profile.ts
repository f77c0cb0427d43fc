// Sparsity profile of a network: per conv, the weight pattern (from the weights) and the
// expected fraction of zeros in its input activations — measured (calibration.json) when the
// user has one, otherwise estimated and labelled as an estimate.
//
// The estimate trusts each batch norm's moving statistics: a BN output channel is then about
// N(beta, gamma^2), so the ReLU after it zeroes Phi(-beta/|gamma|) of it. `analyticStats`
// propagates such per-channel Gaussians through convs, adds and concats, which also covers
// networks without BN (VGG) and ReLUs after residual adds.
import { getLayer, type ConvLayer, type Graph, type Layer } from '../model/ir.js';
import { analyticStats, type ChannelStats } from '../weights/synthetic.js';
import { checkWeightValues, getTensor, type WeightSet } from '../weights/store.js';
import { reluZeroFraction } from './gaussian.js';
import { checkCalibrationLayers, type Calibration } from './calibration.js';
import type { ConvSparsity, SparsityProfile } from './types.js';
import { weightPattern } from './weights.js';

/** Per-channel zero fraction of every layer's output under the Gaussian model. */
function zeroFractions(graph: Graph, stats: ReadonlyMap<string, ChannelStats>): (layer: Layer) => Float64Array {
  const memo = new Map<string, Float64Array>();
  const of = (layer: Layer): Float64Array => {
    const hit = memo.get(layer.name);
    if (hit) return hit;
    const c = layer.shape[0];
    let z = new Float64Array(c);
    const input = (i = 0): Layer => getLayer(graph, layer.inputs[i]!);
    switch (layer.op) {
      case 'relu':
      case 'relu6': {
        // A ReLU6 zeroes what a ReLU zeroes (the clip at 6 makes no zeros).
        const st = stats.get(layer.inputs[0]!)!;
        for (let i = 0; i < c; i++) z[i] = reluZeroFraction(st.mean[i]!, st.variance[i]!);
        break;
      }
      case 'maxpool':
      case 'avgpool': {
        // A pooled value is zero only if its whole window is; neighbours are correlated, so
        // take half the window as independent draws (a heuristic, labelled as an estimate).
        const zin = of(input());
        const n = (layer.kernel[0] * layer.kernel[1]) / 2;
        z = zin.map((p) => Math.pow(p, Math.max(1, n)));
        break;
      }
      case 'concat': {
        let at = 0;
        layer.inputs.forEach((_, i) => {
          const part = of(input(i));
          z.set(part, at);
          at += part.length;
        });
        break;
      }
      default:
        break; // convs, BN, adds and the image carry no structural zeros
    }
    memo.set(layer.name, z);
    return z;
  };
  return of;
}

const mean = (a: Float64Array): number => a.reduce((s, x) => s + x, 0) / Math.max(1, a.length);

export interface ProfileOptions {
  readonly calibration?: { readonly path: string; readonly data: Calibration };
}

export function sparsityProfile(graph: Graph, ws: WeightSet, o: ProfileOptions = {}): SparsityProfile {
  const convs = graph.layers.filter((l): l is ConvLayer => l.op === 'conv');
  checkWeightValues(graph, ws);
  if (o.calibration) checkCalibrationLayers(o.calibration.data, o.calibration.path, convs.map((c) => c.name));
  let zerosOf: ((layer: Layer) => Float64Array) | null = null;
  const estimated: string[] = [];
  const out = new Map<string, ConvSparsity>();
  for (const conv of convs) {
    const kernel = getTensor(ws, conv.name, 'kernel');
    const [k] = conv.shape;
    const c = getLayer(graph, conv.inputs[0]!).shape[0] / conv.groups;
    const weights = weightPattern(kernel, [k, c, conv.kernel[0], conv.kernel[1]]);
    const producer = getLayer(graph, conv.inputs[0]!);
    const measured = o.calibration?.data.layers[conv.name];
    if (producer.op === 'input') {
      out.set(conv.name, { layer: conv.name, weights, inputSparsity: 0, inputSource: 'image' });
    } else if (measured) {
      out.set(conv.name, { layer: conv.name, weights, inputSparsity: measured.inputSparsity, inputSource: 'calibration' });
    } else {
      zerosOf ??= zeroFractions(graph, analyticStats(graph, ws));
      estimated.push(conv.name);
      const z = mean(zerosOf(producer));
      if (!(z >= 0 && z <= 1)) throw new Error(`${graph.name}: the input sparsity estimate of conv '${conv.name}' is ${z} (from the batch-norm statistics of ${ws.source}); expected a fraction in [0, 1]`);
      out.set(conv.name, { layer: conv.name, weights, inputSparsity: z, inputSource: 'estimate' });
    }
  }
  const cal = o.calibration;
  let activationSource: string;
  if (!cal) activationSource = 'ESTIMATE from batch-norm statistics (no --calibration file with measured figures was given)';
  else if (estimated.length === 0) activationSource = `measured: ${cal.path} (${cal.data.images} images)`;
  else activationSource = `measured: ${cal.path} (${cal.data.images} images); ESTIMATE for ${estimated.length} convs it lacks: ${estimated.slice(0, 5).join(', ')}${estimated.length > 5 ? ', ...' : ''}`;
  return { model: graph.name, activationSource, convs: out };
}
