// The CPU reference forward pass: every op of the IR computed in float64, exactly as Keras defines
// it, directly from the WeightSet (no folding, no fusion, no layout changes). It is the ground truth
// the GPU paths and the GPU sparsity calibration are checked against, so it is written to be read:
// one plain function per op, NCHW Float64Array tensors [batch][c][h][w], loops whose innermost index
// walks contiguous memory, and no allocation inside a loop. A layer's output is dropped as soon as
// its last reader has run (unless kept), so a whole network fits in a few tensors' memory.
import type {
  AddLayer,
  ConcatLayer,
  ConvLayer,
  DenseLayer,
  Graph,
  Layer,
  PoolLayer,
  Shape,
  TensorRole,
} from '../model/ir.js';
import { getTensor, type WeightSet } from '../weights/store.js';

export interface ReferenceOptions {
  /** Layers whose outputs are returned (besides the graph's outputs); the others are freed early. */
  readonly keep?: (layer: string) => boolean;
  /** Called with each layer's output (NCHW, whole batch) as soon as it is computed. */
  readonly onLayer?: (name: string, out: Float64Array) => void;
}

export interface ReferenceResult {
  /** The graph outputs (layers nobody reads) and every kept layer, NCHW over the batch. */
  readonly outputs: Map<string, Float64Array>;
  /** Per conv: the fraction of exact zeros in its input over the whole batch. */
  readonly inputSparsity: Map<string, number>;
}

/** A tensor of the pass: NCHW data with its per-item shape. */
interface Tensor {
  readonly data: Float64Array;
  readonly c: number;
  readonly h: number;
  readonly w: number;
}

export function referenceForward(
  graph: Graph,
  ws: WeightSet,
  input: Float32Array,
  batch: number,
  o: ReferenceOptions = {},
): ReferenceResult {
  if (!Number.isInteger(batch) || batch < 1) throw new Error(`reference ${graph.name}: batch must be a positive integer, got ${batch}`);
  const keep = o.keep ?? (() => false);

  // Readers left per layer output: an output is freed when its last reader has run.
  const readersLeft = new Map<string, number>(graph.layers.map((l) => [l.name, 0]));
  for (const l of graph.layers) for (const i of l.inputs) readersLeft.set(i, readersLeft.get(i)! + 1);
  const isOutput = (name: string): boolean => readersLeft.get(name) === 0 || keep(name);
  const returned = new Set(graph.layers.filter((l) => isOutput(l.name)).map((l) => l.name));

  const live = new Map<string, Tensor>();
  const outputs = new Map<string, Float64Array>();
  const inputSparsity = new Map<string, number>();
  const zeroFraction = new Map<string, number>(); // per tensor: a tensor read by two convs is counted once

  for (const layer of graph.layers) {
    const ins = layer.inputs.map((n) => {
      const t = live.get(n);
      if (!t) throw new Error(`reference ${graph.name}/${layer.name}: input '${n}' is not computed before it`);
      return t;
    });
    if (layer.op === 'conv') {
      const name = layer.inputs[0]!;
      let z = zeroFraction.get(name);
      if (z === undefined) {
        z = zeros(ins[0]!.data) / ins[0]!.data.length;
        zeroFraction.set(name, z);
      }
      inputSparsity.set(layer.name, z);
    }
    const out = computeLayer(graph, ws, layer, ins, input, batch);
    const [c, h, w] = layer.shape;
    if (out.c !== c || out.h !== h || out.w !== w || out.data.length !== batch * c * h * w) {
      throw new Error(`reference ${graph.name}/${layer.name}: computed ${out.c}x${out.h}x${out.w}, graph says ${c}x${h}x${w}`);
    }
    live.set(layer.name, out);
    o.onLayer?.(layer.name, out.data);
    if (returned.has(layer.name)) outputs.set(layer.name, out.data);
    for (const n of layer.inputs) {
      const left = readersLeft.get(n)! - 1;
      readersLeft.set(n, left);
      if (left === 0) live.delete(n); // kept and final outputs stay referenced by `outputs`
    }
  }
  return { outputs, inputSparsity };
}

function computeLayer(graph: Graph, ws: WeightSet, layer: Layer, ins: readonly Tensor[], input: Float32Array, batch: number): Tensor {
  const x = ins[0]!;
  switch (layer.op) {
    case 'input':
      return inputTensor(graph, layer.shape, input, batch);
    case 'conv':
      return conv(ws, layer, x, batch);
    case 'batchnorm':
      return batchnorm(ws, layer.name, layer.epsilon, x, batch);
    case 'relu':
      return map(x, (v) => Math.max(v, 0)); // NaN stays NaN, as in Keras
    case 'relu6':
      return map(x, (v) => Math.min(Math.max(v, 0), 6)); // NaN stays NaN
    case 'add':
      return add(layer, ins);
    case 'concat':
      return concat(layer, ins, batch);
    case 'maxpool':
    case 'avgpool':
      return pool(layer, x, batch);
    case 'globalavgpool':
      return globalAvgPool(x, batch);
    case 'flatten':
      return layer.order === 'chw' ? flattenChw(x) : flattenHwc(x, batch);
    case 'dense':
      return dense(ws, layer, x, batch);
    case 'softmax':
      return softmax(x, batch);
  }
}

function inputTensor(graph: Graph, shape: Shape, input: Float32Array, batch: number): Tensor {
  const [c, h, w] = shape;
  if (input.length !== batch * c * h * w) {
    throw new Error(`reference ${graph.name}: input has ${input.length} floats, expected batch ${batch} x ${c}x${h}x${w} = ${batch * c * h * w}`);
  }
  return { data: Float64Array.from(input), c, h, w };
}

/** A parameter tensor, checked against the size the layer needs. */
function param(ws: WeightSet, layer: string, role: TensorRole, n: number): Float32Array {
  const t = getTensor(ws, layer, role);
  if (t.length !== n) throw new Error(`${ws.model} weights (${ws.source}): layer '${layer}' ${role} has ${t.length} values, expected ${n}`);
  return t;
}

function zeros(d: Float64Array): number {
  let n = 0;
  for (let i = 0; i < d.length; i++) if (d[i] === 0) n++;
  return n;
}

function map(x: Tensor, f: (v: number) => number): Tensor {
  const d = new Float64Array(x.data.length);
  for (let i = 0; i < d.length; i++) d[i] = f(x.data[i]!);
  return { ...x, data: d };
}

/**
 * Per kernel tap d (0..k-1), the outputs o in [lo[d], hi[d]) whose input o*stride + d - padBefore
 * lies inside 0..inSize-1; the others read the zero padding and are skipped.
 */
function validRanges(k: number, padBefore: number, stride: number, inSize: number, outSize: number): { lo: Int32Array; hi: Int32Array } {
  const lo = new Int32Array(k);
  const hi = new Int32Array(k);
  for (let d = 0; d < k; d++) {
    const off = d - padBefore;
    lo[d] = off >= 0 ? 0 : Math.ceil(-off / stride);
    hi[d] = Math.max(lo[d]!, Math.min(outSize, Math.floor((inSize - 1 - off) / stride) + 1));
  }
  return { lo, hi };
}

/** How a conv walks one input plane into one output plane: row lengths, strides, padding and the valid output ranges per tap. */
interface ConvGeom {
  /** Row lengths of the input and output planes. */
  readonly iw: number;
  readonly ow: number;
  readonly r: number;
  readonly s: number;
  readonly sh: number;
  readonly sw: number;
  readonly padTop: number;
  readonly padLeft: number;
  readonly ys: { lo: Int32Array; hi: Int32Array };
  readonly xs: { lo: Int32Array; hi: Int32Array };
}

function convGeom(l: ConvLayer, x: Tensor): ConvGeom {
  const [, oh, ow] = l.shape;
  const [r, s] = l.kernel;
  const [sh, sw] = l.stride;
  const { top, bottom, left, right } = l.pad;
  if (r === 1 && s === 1 && sh === 1 && sw === 1 && top + bottom + left + right === 0) {
    // A 1x1/s1 unpadded conv maps plane to plane: treat the plane as one long row, so the
    // innermost loop runs over all h*w pixels instead of short rows (7 pixels at 7x7).
    const n = x.h * x.w;
    return { iw: n, ow: n, r, s, sh, sw, padTop: 0, padLeft: 0, ys: validRanges(1, 0, 1, 1, 1), xs: validRanges(1, 0, 1, n, n) };
  }
  return {
    iw: x.w, ow, r, s, sh, sw, padTop: top, padLeft: left,
    ys: validRanges(r, top, sh, x.h, oh),
    xs: validRanges(s, left, sw, x.w, ow),
  };
}

/**
 * Keras Conv2D on an explicitly zero-padded input: out[n,k,oy,ox] = bias[k] +
 * sum_{c in k's group, r, s} W[k, c, r, s] * in[n, c, oy*sh - padTop + r, ox*sw - padLeft + s],
 * taps that fall in the padding contributing 0. Loop order: per output channel, accumulate
 * w * (shifted input plane) over (c, r, s) into one output plane, so the innermost loop is a
 * contiguous axpy over output columns (stride 1: contiguous input too) with no bounds tests.
 * Input channels go four at a time (one pass over the accumulator per four channels: about 2x
 * in V8, as the accumulator's loads and stores dominate); a group's last 1-3 channels go singly.
 */
function conv(ws: WeightSet, l: ConvLayer, x: Tensor, batch: number): Tensor {
  const [k, ho, wo] = l.shape;
  const [r, s] = l.kernel;
  const cg = x.c / l.groups; // input channels per group
  const kg = k / l.groups; // output channels per group
  const wt = param(ws, l.name, 'kernel', k * cg * r * s);
  const bias = l.bias ? param(ws, l.name, 'bias', k) : null;
  const g = convGeom(l, x);
  const inPlane = x.h * x.w;
  const outPlane = ho * wo;
  const out = new Float64Array(batch * k * outPlane);
  for (let n = 0; n < batch; n++) {
    for (let kk = 0; kk < k; kk++) {
      const o0 = (n * k + kk) * outPlane;
      const c0 = Math.floor(kk / kg) * cg; // first input channel of kk's group
      let ci = 0;
      for (; ci + 4 <= cg; ci += 4) accumulate4(g, out, o0, x.data, (n * x.c + c0 + ci) * inPlane, inPlane, wt, (kk * cg + ci) * r * s);
      for (; ci < cg; ci++) accumulate1(g, out, o0, x.data, (n * x.c + c0 + ci) * inPlane, wt, (kk * cg + ci) * r * s);
      if (bias) {
        const b = bias[kk]!;
        for (let p = 0; p < outPlane; p++) out[o0 + p] += b;
      }
    }
  }
  return { data: out, c: k, h: ho, w: wo };
}

/** out plane at o0 += sum over taps of W[tap] * (input plane at i0, shifted by the tap). */
function accumulate1(g: ConvGeom, out: Float64Array, o0: number, src: Float64Array, i0: number, wt: Float32Array, w0: number): void {
  for (let dr = 0; dr < g.r; dr++) {
    const y0 = g.ys.lo[dr]!;
    const y1 = g.ys.hi[dr]!;
    for (let ds = 0; ds < g.s; ds++) {
      const x0 = g.xs.lo[ds]!;
      const x1 = g.xs.hi[ds]!;
      const wv = wt[w0 + dr * g.s + ds]!;
      for (let oy = y0; oy < y1; oy++) {
        const orow = o0 + oy * g.ow;
        const irow = i0 + (oy * g.sh + dr - g.padTop) * g.iw + ds - g.padLeft;
        if (g.sw === 1) for (let ox = x0; ox < x1; ox++) out[orow + ox] += wv * src[irow + ox]!;
        else for (let ox = x0; ox < x1; ox++) out[orow + ox] += wv * src[irow + ox * g.sw]!;
      }
    }
  }
}

/** accumulate1 for four consecutive input channels (planes i0 + j*inPlane, weights w0 + j*r*s). */
function accumulate4(g: ConvGeom, out: Float64Array, o0: number, src: Float64Array, i0: number, inPlane: number, wt: Float32Array, w0: number): void {
  const rs = g.r * g.s;
  for (let dr = 0; dr < g.r; dr++) {
    const y0 = g.ys.lo[dr]!;
    const y1 = g.ys.hi[dr]!;
    for (let ds = 0; ds < g.s; ds++) {
      const x0 = g.xs.lo[ds]!;
      const x1 = g.xs.hi[ds]!;
      const tap = w0 + dr * g.s + ds;
      const wa = wt[tap]!;
      const wb = wt[tap + rs]!;
      const wc = wt[tap + 2 * rs]!;
      const wd = wt[tap + 3 * rs]!;
      for (let oy = y0; oy < y1; oy++) {
        const orow = o0 + oy * g.ow;
        const ia = i0 + (oy * g.sh + dr - g.padTop) * g.iw + ds - g.padLeft;
        const ib = ia + inPlane;
        const ic = ib + inPlane;
        const id = ic + inPlane;
        if (g.sw === 1) {
          for (let ox = x0; ox < x1; ox++) out[orow + ox] += wa * src[ia + ox]! + wb * src[ib + ox]! + wc * src[ic + ox]! + wd * src[id + ox]!;
        } else {
          for (let ox = x0; ox < x1; ox++) {
            const at = ox * g.sw;
            out[orow + ox] += wa * src[ia + at]! + wb * src[ib + at]! + wc * src[ic + at]! + wd * src[id + at]!;
          }
        }
      }
    }
  }
}

/** Inference batch norm: (x - mean) / sqrt(var + eps) * gamma + beta, per channel. */
function batchnorm(ws: WeightSet, name: string, eps: number, x: Tensor, batch: number): Tensor {
  const gamma = param(ws, name, 'gamma', x.c);
  const beta = param(ws, name, 'beta', x.c);
  const mean = param(ws, name, 'moving_mean', x.c);
  const variance = param(ws, name, 'moving_variance', x.c);
  const plane = x.h * x.w;
  const out = new Float64Array(x.data.length);
  for (let n = 0; n < batch; n++) {
    for (let c = 0; c < x.c; c++) {
      const m = mean[c]!;
      const sd = Math.sqrt(variance[c]! + eps);
      const g = gamma[c]!;
      const b = beta[c]!;
      const base = (n * x.c + c) * plane;
      for (let p = base; p < base + plane; p++) out[p] = ((x.data[p]! - m) / sd) * g + b;
    }
  }
  return { ...x, data: out };
}

function add(l: AddLayer, ins: readonly Tensor[]): Tensor {
  const out = new Float64Array(ins[0]!.data.length);
  for (const t of ins) {
    if (t.data.length !== out.length) throw new Error(`reference add ${l.name}: inputs of different sizes`);
    for (let i = 0; i < out.length; i++) out[i] += t.data[i]!;
  }
  return { ...ins[0]!, data: out };
}

/** Channel concatenation, inputs in order, per batch item. */
function concat(l: ConcatLayer, ins: readonly Tensor[], batch: number): Tensor {
  const [c, h, w] = l.shape;
  const plane = h * w;
  const out = new Float64Array(batch * c * plane);
  for (let n = 0; n < batch; n++) {
    let at = n * c * plane;
    for (const t of ins) {
      const len = t.c * plane;
      out.set(t.data.subarray(n * len, (n + 1) * len), at);
      at += len;
    }
  }
  return { data: out, c, h, w };
}

/**
 * Keras ZeroPadding2D followed by a 'valid' pool: window cells in the padding hold 0, so they take
 * part in the max and the average always divides by the full window area. With `padMode: 'exclude'`
 * (ONNX, PyTorch) padded cells take no part: poolExclude.
 */
function pool(l: PoolLayer, x: Tensor, batch: number): Tensor {
  if (l.padMode === 'exclude') return poolExclude(l, x, batch);
  const [c, ho, wo] = l.shape;
  const [r, s] = l.kernel;
  const [sh, sw] = l.stride;
  const isMax = l.op === 'maxpool';
  const area = r * s;
  const out = new Float64Array(batch * c * ho * wo);
  for (let nc = 0; nc < batch * c; nc++) {
    const i0 = nc * x.h * x.w;
    const o0 = nc * ho * wo;
    for (let oy = 0; oy < ho; oy++) {
      for (let ox = 0; ox < wo; ox++) {
        let acc = isMax ? -Infinity : 0;
        for (let dr = 0; dr < r; dr++) {
          const iy = oy * sh - l.pad.top + dr;
          for (let ds = 0; ds < s; ds++) {
            const ix = ox * sw - l.pad.left + ds;
            const v = iy >= 0 && iy < x.h && ix >= 0 && ix < x.w ? x.data[i0 + iy * x.w + ix]! : 0;
            acc = isMax ? Math.max(acc, v) : acc + v;
          }
        }
        out[o0 + oy * wo + ox] = isMax ? acc : acc / area;
      }
    }
  }
  return { data: out, c, h: ho, w: wo };
}

/** A pool whose padded cells take no part: the max of the window's cells inside the input, or their mean. */
function poolExclude(l: PoolLayer, x: Tensor, batch: number): Tensor {
  const [c, ho, wo] = l.shape;
  const [r, s] = l.kernel;
  const [sh, sw] = l.stride;
  const isMax = l.op === 'maxpool';
  const out = new Float64Array(batch * c * ho * wo);
  for (let nc = 0; nc < batch * c; nc++) {
    const i0 = nc * x.h * x.w;
    const o0 = nc * ho * wo;
    for (let oy = 0; oy < ho; oy++) {
      const y0 = Math.max(0, oy * sh - l.pad.top);
      const y1 = Math.min(x.h, oy * sh - l.pad.top + r);
      for (let ox = 0; ox < wo; ox++) {
        const x0 = Math.max(0, ox * sw - l.pad.left);
        const x1 = Math.min(x.w, ox * sw - l.pad.left + s);
        let acc = isMax ? -Infinity : 0;
        for (let iy = y0; iy < y1; iy++) {
          for (let ix = x0; ix < x1; ix++) {
            const v = x.data[i0 + iy * x.w + ix]!;
            acc = isMax ? Math.max(acc, v) : acc + v;
          }
        }
        const n = Math.max(0, y1 - y0) * Math.max(0, x1 - x0);
        // A window wholly in the padding has no cell: NaN, never a made-up value (the importer rejects such pools).
        out[o0 + oy * wo + ox] = n === 0 ? NaN : isMax ? acc : acc / n;
      }
    }
  }
  return { data: out, c, h: ho, w: wo };
}

function globalAvgPool(x: Tensor, batch: number): Tensor {
  const plane = x.h * x.w;
  const out = new Float64Array(batch * x.c);
  for (let nc = 0; nc < batch * x.c; nc++) {
    let sum = 0;
    for (let p = nc * plane; p < (nc + 1) * plane; p++) sum += x.data[p]!;
    out[nc] = sum / plane;
  }
  return { data: out, c: x.c, h: 1, w: 1 };
}

/** Keras Flatten of NHWC data: feature (y*w + x)*c + ch holds in[ch, y, x]. */
function flattenHwc(x: Tensor, batch: number): Tensor {
  const f = x.c * x.h * x.w;
  const out = new Float64Array(batch * f);
  for (let n = 0; n < batch; n++) {
    for (let ch = 0; ch < x.c; ch++) {
      for (let p = 0; p < x.h * x.w; p++) out[n * f + p * x.c + ch] = x.data[n * f + ch * x.h * x.w + p]!;
    }
  }
  return { data: out, c: f, h: 1, w: 1 };
}

/** ONNX Flatten of NCHW data: feature (ch*h + y)*w + x holds in[ch, y, x], i.e. the buffer as it is. */
function flattenChw(x: Tensor): Tensor {
  return { data: x.data.slice(), c: x.c * x.h * x.w, h: 1, w: 1 };
}

/** out[n, u] = bias[u] + sum_i W[u, i] * in[n, i], with the kernel stored [units][in]. */
function dense(ws: WeightSet, l: DenseLayer, x: Tensor, batch: number): Tensor {
  const f = x.c * x.h * x.w;
  const units = l.units;
  const wt = param(ws, l.name, 'kernel', units * f);
  const bias = l.bias ? param(ws, l.name, 'bias', units) : null;
  const out = new Float64Array(batch * units);
  for (let n = 0; n < batch; n++) {
    for (let u = 0; u < units; u++) {
      let acc = 0;
      const w0 = u * f;
      const i0 = n * f;
      for (let i = 0; i < f; i++) acc += wt[w0 + i]! * x.data[i0 + i]!;
      out[n * units + u] = acc + (bias ? bias[u]! : 0);
    }
  }
  return { data: out, c: units, h: 1, w: 1 };
}

/** Softmax over the channels at each position (Keras' last axis in NHWC), max-shifted for range. */
function softmax(x: Tensor, batch: number): Tensor {
  const plane = x.h * x.w;
  const out = new Float64Array(x.data.length);
  for (let n = 0; n < batch; n++) {
    for (let p = 0; p < plane; p++) {
      const first = n * x.c * plane + p; // channel c of this position is at first + c * plane
      let max = -Infinity;
      for (let c = 0; c < x.c; c++) max = Math.max(max, x.data[first + c * plane]!);
      let sum = 0;
      for (let c = 0; c < x.c; c++) {
        const e = Math.exp(x.data[first + c * plane]! - max);
        out[first + c * plane] = e;
        sum += e;
      }
      for (let c = 0; c < x.c; c++) out[first + c * plane] /= sum;
    }
  }
  return { ...x, data: out };
}
