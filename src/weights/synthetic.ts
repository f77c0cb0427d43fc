// Deterministic synthetic weights that behave like trained ones where it matters to cuSNN:
// He-uniform kernels, positive BN scales, BN moving statistics that are the real (analytic)
// statistics of the BN's input, and BN shifts / conv biases chosen so that each ReLU zeroes a
// depth-dependent fraction of its input, as in ImageNet-trained networks (shallow ReLUs ~45 %
// zeros, deep ones ~85 %). Activation sparsity is what the sparse kernels exploit, so random
// weights with ~50 % zeros everywhere would misrepresent every benchmark.
//
// The statistics come from propagating per-channel (mean, variance) of a Gaussian model through
// the graph, from the preprocessed image statistics, in the graph's topological order. The same
// walk, run over given weights, is `analyticStats`, which estimates ReLU sparsity of any weights.
import {
  consumers,
  size,
  tensorKey,
  type BatchNormLayer,
  type ConvLayer,
  type DenseLayer,
  type Graph,
  type Layer,
  type Preprocessing,
  type TensorRole,
} from '../model/ir.js';
import { clippedGaussianMoments, normalQuantile, rectifiedGaussianMoments } from '../sparsity/gaussian.js';
import { Rng } from './prng.js';
import { inParamOrder, type WeightSet } from './store.js';

/** Per-channel statistics of one layer's output under the Gaussian model. */
export interface ChannelStats {
  readonly mean: Float64Array;
  readonly variance: Float64Array;
}

/** Std of every channel of the preprocessed image (caffe: BGR minus mean, 0..255 scale). */
export const INPUT_STD: Readonly<Record<Preprocessing, number>> = { caffe: 60, torch: 1 };
/** Target ReLU zero fractions, linear in ReLU depth from the first controlled ReLU to the last. */
export const ZERO_FRACTION_FIRST = 0.45;
export const ZERO_FRACTION_LAST = 0.85;
const ZERO_JITTER = 0.05;
const ZERO_MIN = 0.4;
const ZERO_MAX = 0.9;
const GAMMA_MIN = 0.6;
const GAMMA_MAX = 1.4;
/** Half-width of the uniform biases (and BN shifts) that no ReLU target constrains. */
const SMALL_UNIFORM = 0.05;

/**
 * The target zero fraction of every ReLU whose input is a batch norm, a residual add, a conv or
 * a dense layer (all ReLUs of the zoo), linear in the ReLU's rank.
 */
export function targetZeroFractions(graph: Graph): Map<string, number> {
  const byName = new Map(graph.layers.map((l) => [l.name, l]));
  const relus = graph.layers.filter((l) => l.op === 'relu' && ['batchnorm', 'add', 'conv', 'dense'].includes(byName.get(l.inputs[0]!)!.op));
  const out = new Map<string, number>();
  relus.forEach((r, i) => {
    const t = relus.length > 1 ? i / (relus.length - 1) : 0;
    out.set(r.name, ZERO_FRACTION_FIRST + (ZERO_FRACTION_LAST - ZERO_FRACTION_FIRST) * t);
  });
  return out;
}

/** Checks a seed is usable as the PRNG's 32-bit seed word. */
export function checkSeed(seed: number): number {
  if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) throw new Error(`seed must be an integer in [0, 4294967295], got ${seed}`);
  return seed;
}

/** Synthetic weights for every parameter of `graph`; the same bytes for the same seed everywhere. */
export function syntheticWeights(graph: Graph, seed = 0): WeightSet {
  const walk = new Walk(graph, new Map(), checkSeed(seed), true);
  walk.run();
  return { model: graph.name, source: `synthetic (seed ${seed})`, tensors: inParamOrder(graph, walk.tensors), filled: [] };
}

/**
 * Completes a partial set of tensors: every parameter of `graph` missing from `given` is generated
 * as in `syntheticWeights` (kernels He-uniform, whose scale is close to trained kernels'; batch
 * norms against the statistics the given tensors produce). Filled kernels are NOT fitted to the
 * real batch norm after them: the Gaussian model ignores correlations and misjudges trained
 * activations' variance (by two orders of magnitude in ResNet-50's conv5), so a kernel rescaled
 * by it would be far off in magnitude, which pruning would then punish. Returns all tensors and
 * the generated keys, both in parameter order.
 */
export function fillMissingTensors(
  graph: Graph,
  given: ReadonlyMap<string, Float32Array>,
  seed = 0,
): { tensors: Map<string, Float32Array>; filled: string[] } {
  const walk = new Walk(graph, given, checkSeed(seed), true);
  walk.run();
  const tensors = inParamOrder(graph, walk.tensors);
  const generated = new Set(walk.filled);
  return { tensors, filled: [...tensors.keys()].filter((k) => generated.has(k)) };
}

/**
 * Per-channel mean and variance of every layer's output (softmax excepted) for the weights `ws`,
 * propagated from the preprocessed input: conv/dense sum w*mean and w^2*var, BN applies its affine
 * map with its moving statistics, ReLU takes rectified-Gaussian moments, adds add, concats
 * concatenate, max pools keep both moments, average pools halve the variance (neighbouring
 * activations are correlated, so 1/area would be too optimistic), global average pools quarter it.
 * The zero fraction of a ReLU channel is then `reluZeroFraction(mean, variance)` of its input.
 */
export function analyticStats(graph: Graph, ws: WeightSet): ReadonlyMap<string, ChannelStats> {
  const walk = new Walk(graph, ws.tensors, 0, false);
  walk.run();
  return walk.stats;
}

/** Per-channel conv/dense output moments (bias excluded) for a K x Cg x RS kernel. */
function kernelMoments(w: Float32Array, k: number, cg: number, rs: number, groups: number, inp: ChannelStats): ChannelStats {
  const mean = new Float64Array(k);
  const variance = new Float64Array(k);
  const kPerGroup = k / groups;
  const im = inp.mean;
  const iv = inp.variance;
  let idx = 0;
  for (let o = 0; o < k; o++) {
    const c0 = Math.floor(o / kPerGroup) * cg;
    let m = 0;
    let v = 0;
    if (rs === 1) {
      for (let c = 0; c < cg; c++) {
        const x = w[idx++]!;
        m += x * im[c0 + c]!;
        v += x * x * iv[c0 + c]!;
      }
    } else {
      for (let c = 0; c < cg; c++) {
        let s1 = 0;
        let s2 = 0;
        for (let j = 0; j < rs; j++) {
          const x = w[idx++]!;
          s1 += x;
          s2 += x * x;
        }
        m += s1 * im[c0 + c]!;
        v += s2 * iv[c0 + c]!;
      }
    }
    mean[o] = m;
    variance[o] = v;
  }
  return { mean, variance };
}

const clampZero = (p: number): number => Math.min(ZERO_MAX, Math.max(ZERO_MIN, p));

/** One pass over the graph that reads or generates each layer's tensors and propagates stats. */
class Walk {
  readonly stats = new Map<string, ChannelStats>();
  readonly tensors = new Map<string, Float32Array>();
  readonly filled: string[] = [];
  private readonly byName: Map<string, Layer>;
  private readonly users: Map<string, Layer[]>;
  private readonly targets: Map<string, number>;

  constructor(
    private readonly graph: Graph,
    private readonly given: ReadonlyMap<string, Float32Array>,
    private readonly seed: number,
    private readonly generate: boolean,
  ) {
    this.byName = new Map(graph.layers.map((l) => [l.name, l]));
    this.users = consumers(graph);
    this.targets = targetZeroFractions(graph);
  }

  run(): void {
    for (const l of this.graph.layers) this.layer(l);
  }

  private statsOf(name: string): ChannelStats {
    const s = this.stats.get(name);
    if (!s) throw new Error(`${this.graph.name}: no statistics for '${name}' (layer order broken?)`);
    return s;
  }

  /** The given tensor, or a generated one (recorded as filled) built by `make`. */
  private tensor(layer: string, role: TensorRole, n: number, make: (out: Float32Array, rng: Rng) => void): Float32Array {
    const key = tensorKey(layer, role);
    const g = this.given.get(key);
    if (g) {
      if (g.length !== n) throw new Error(`${this.graph.name}: layer '${layer}' ${role} has ${g.length} values, expected ${n}`);
      this.tensors.set(key, g);
      return g;
    }
    if (!this.generate) throw new Error(`${this.graph.name} weights: layer '${layer}' has no ${role} tensor`);
    const out = new Float32Array(n);
    make(out, Rng.forKey(this.seed, key));
    this.tensors.set(key, out);
    this.filled.push(key);
    return out;
  }

  /** The ReLU target zero fraction reached through `layer`'s only consumer, if it is a ReLU. */
  private directTarget(layer: string): number | undefined {
    const u = this.users.get(layer)!;
    return u.length === 1 && u[0]!.op === 'relu' ? this.targets.get(u[0]!.name) : undefined;
  }

  private layer(l: Layer): void {
    switch (l.op) {
      case 'input': {
        const c = l.shape[0];
        const sd = INPUT_STD[this.graph.preprocessing];
        this.stats.set(l.name, { mean: new Float64Array(c), variance: new Float64Array(c).fill(sd * sd) });
        return;
      }
      case 'conv':
        return this.linear(l);
      case 'dense':
        return this.linear(l);
      case 'batchnorm':
        return this.batchnorm(l);
      case 'relu':
      case 'relu6': {
        const inp = this.statsOf(l.inputs[0]!);
        const c = inp.mean.length;
        const mean = new Float64Array(c);
        const variance = new Float64Array(c);
        for (let i = 0; i < c; i++) {
          const m = l.op === 'relu' ? rectifiedGaussianMoments(inp.mean[i]!, inp.variance[i]!) : clippedGaussianMoments(inp.mean[i]!, inp.variance[i]!, 6);
          mean[i] = m.mean;
          variance[i] = m.variance;
        }
        this.stats.set(l.name, { mean, variance });
        return;
      }
      case 'add': {
        const c = l.shape[0];
        const mean = new Float64Array(c);
        const variance = new Float64Array(c);
        for (const i of l.inputs) {
          const s = this.statsOf(i);
          for (let j = 0; j < c; j++) {
            mean[j] += s.mean[j]!;
            variance[j] += s.variance[j]!;
          }
        }
        this.stats.set(l.name, { mean, variance });
        return;
      }
      case 'concat': {
        const mean = new Float64Array(l.shape[0]);
        const variance = new Float64Array(l.shape[0]);
        let at = 0;
        for (const i of l.inputs) {
          const s = this.statsOf(i);
          mean.set(s.mean, at);
          variance.set(s.variance, at);
          at += s.mean.length;
        }
        this.stats.set(l.name, { mean, variance });
        return;
      }
      case 'maxpool':
      case 'avgpool':
      case 'globalavgpool': {
        const s = this.statsOf(l.inputs[0]!);
        const div = l.op === 'maxpool' ? 1 : l.op === 'avgpool' ? 2 : 4;
        this.stats.set(l.name, { mean: s.mean.slice(), variance: s.variance.map((v) => v / div) });
        return;
      }
      case 'flatten': {
        // Keras flattens NHWC: feature (h*W + w)*C + c comes from channel c; ONNX's (c,h,w)
        // flatten puts channel c's values at c*H*W + (h*W + w).
        const s = this.statsOf(l.inputs[0]!);
        const [c, h, w] = this.byName.get(l.inputs[0]!)!.shape;
        const mean = new Float64Array(c * h * w);
        const variance = new Float64Array(c * h * w);
        if (l.order === 'chw') {
          for (let ch = 0; ch < c; ch++) {
            mean.fill(s.mean[ch]!, ch * h * w, (ch + 1) * h * w);
            variance.fill(s.variance[ch]!, ch * h * w, (ch + 1) * h * w);
          }
        } else {
          for (let p = 0; p < h * w; p++) {
            mean.set(s.mean, p * c);
            variance.set(s.variance, p * c);
          }
        }
        this.stats.set(l.name, { mean, variance });
        return;
      }
      case 'softmax':
        return;
    }
  }

  /** Conv and dense layers: kernel, moments, optional bias. */
  private linear(l: ConvLayer | DenseLayer): void {
    const inp = this.statsOf(l.inputs[0]!);
    const inShape = this.byName.get(l.inputs[0]!)!.shape;
    const k = l.op === 'conv' ? l.outChannels : l.units;
    const groups = l.op === 'conv' ? l.groups : 1;
    const rs = l.op === 'conv' ? l.kernel[0] * l.kernel[1] : 1;
    const cg = l.op === 'conv' ? inShape[0] / groups : size(inShape);
    const fanIn = cg * rs;
    const kernel = this.tensor(l.name, 'kernel', k * fanIn, (out, rng) => rng.fillSymmetric(out, Math.sqrt(6 / fanIn)));
    const moments = kernelMoments(kernel, k, cg, rs, groups, inp);
    const mean = moments.mean;
    if (l.bias) {
      const target = this.directTarget(l.name);
      const bias = this.tensor(l.name, 'bias', k, (out, rng) => {
        if (target !== undefined) {
          // No BN before the ReLU (VGG): place the bias so P(pre-activation < 0) = p per channel.
          for (let o = 0; o < k; o++) {
            const p = clampZero(target + rng.uniform(-ZERO_JITTER, ZERO_JITTER));
            out[o] = -mean[o]! - Math.sqrt(moments.variance[o]!) * normalQuantile(p);
          }
        } else {
          for (let o = 0; o < k; o++) out[o] = rng.uniform(-SMALL_UNIFORM, SMALL_UNIFORM);
        }
      });
      for (let o = 0; o < k; o++) mean[o] = mean[o]! + bias[o]!;
    }
    this.stats.set(l.name, { mean, variance: moments.variance });
  }

  private batchnorm(l: BatchNormLayer): void {
    const inp = this.statsOf(l.inputs[0]!);
    const c = l.shape[0];
    const gamma = this.tensor(l.name, 'gamma', c, (out, rng) => {
      for (let i = 0; i < c; i++) out[i] = rng.uniform(GAMMA_MIN, GAMMA_MAX);
    });
    // Trained-like moving statistics are the statistics of the input itself.
    const mm = this.tensor(l.name, 'moving_mean', c, (out) => out.set(inp.mean));
    const mv = this.tensor(l.name, 'moving_variance', c, (out) => out.set(inp.variance));
    // y = scale * (x - mm) + beta: mean shift + beta, variance scale^2 * var.
    const shift = new Float64Array(c);
    const variance = new Float64Array(c);
    for (let i = 0; i < c; i++) {
      const scale = gamma[i]! / Math.sqrt(mv[i]! + l.epsilon);
      shift[i] = scale * (inp.mean[i]! - mm[i]!);
      variance[i] = scale * scale * inp.variance[i]!;
    }
    const beta = this.tensor(l.name, 'beta', c, (out, rng) => this.chooseBeta(l, shift, variance, out, rng));
    const mean = new Float64Array(c);
    for (let i = 0; i < c; i++) mean[i] = shift[i]! + beta[i]!;
    this.stats.set(l.name, { mean, variance });
  }

  /**
   * BN shift so that the ReLU after the BN, or after the residual add the BN feeds, zeroes the
   * target fraction p of each channel: the pre-activation N(m, s^2) needs m = -s * PhiInv(p).
   * The add's other inputs must already be known; the first BN of a two-BN add (ResNet's
   * projection shortcut) gets a small random shift instead, and the second one compensates.
   */
  private chooseBeta(l: BatchNormLayer, shift: Float64Array, variance: Float64Array, out: Float32Array, rng: Rng): void {
    const c = shift.length;
    let target = this.directTarget(l.name);
    let otherMean: Float64Array | null = null;
    let otherVar: Float64Array | null = null;
    if (target === undefined) {
      const u = this.users.get(l.name)!;
      const add = u.length === 1 && u[0]!.op === 'add' ? u[0] : undefined;
      const others = add ? add.inputs.filter((i) => i !== l.name) : [];
      if (add && others.every((o) => this.stats.has(o))) {
        target = this.directTarget(add.name);
        otherMean = new Float64Array(c);
        otherVar = new Float64Array(c);
        for (const o of others) {
          const s = this.statsOf(o);
          for (let i = 0; i < c; i++) {
            otherMean[i] += s.mean[i]!;
            otherVar[i] += s.variance[i]!;
          }
        }
      }
    }
    for (let i = 0; i < c; i++) {
      if (target === undefined) {
        out[i] = rng.uniform(-SMALL_UNIFORM, SMALL_UNIFORM);
        continue;
      }
      const p = clampZero(target + rng.uniform(-ZERO_JITTER, ZERO_JITTER));
      const sd = Math.sqrt(variance[i]! + (otherVar ? otherVar[i]! : 0));
      const m = -sd * normalQuantile(p);
      out[i] = m - shift[i]! - (otherMean ? otherMean[i]! : 0);
    }
  }
}
