// A float64 interpreter of a Program: the native runtime's semantics, step by step, on the CPU.
// It exists to prove the lowering (folding, fusion, concat views, buffer sharing, zero counters)
// without a GPU, so it favours plain loops and strict checks over speed: every view is checked
// against its buffer, every tensor against the length the step needs, and an act-sparse conv's
// [C][R][S][K] copy against its [K][C][R][S] weights (the result itself comes from the latter,
// like cuDNN's).
import type { Clamp, ConvStep, DenseStep, PoolStep, Program, Step, View } from './program.js';

export type TensorData = Float32Array | Float64Array;

export interface CpuRun {
  /** The output view, packed [batch][c][h][w]. */
  readonly output: Float64Array;
  /** Every activation buffer after the pass. */
  readonly buffers: Float64Array[];
  /** Zeros counted into each of Program.zeroCounters over the pass (all batch items). */
  readonly zeroCounts: number[];
}

export interface CpuRunOptions {
  /** Called before each step (tests read the step's inputs here). */
  readonly beforeStep?: (index: number, step: Step, buffers: readonly Float64Array[]) => void;
}

export class ProgramError extends Error {}

/** Runs `program` on `input` (packed [batch][c][h][w] of Program.input's shape) in float64. */
export function runProgramCpu(program: Program, tensors: readonly TensorData[], input: TensorData, options: CpuRunOptions = {}): CpuRun {
  if (tensors.length !== program.tensors.length) throw new ProgramError(`program has ${program.tensors.length} tensors, got ${tensors.length}`);
  program.tensors.forEach((t, i) => {
    if (tensors[i]!.length !== t.floats) throw new ProgramError(`tensor ${i} (${t.name}): ${tensors[i]!.length} floats, the program says ${t.floats}`);
  });
  const run = new Interpreter(program, tensors);
  const inView = program.input;
  if (input.length !== program.batch * inView.c * inView.h * inView.w) {
    throw new ProgramError(`input has ${input.length} values, expected ${program.batch}x${inView.c}x${inView.h}x${inView.w}`);
  }
  run.write(inView, Float64Array.from(input));
  program.steps.forEach((s, i) => {
    options.beforeStep?.(i, s, run.buffers);
    run.step(s);
  });
  return { output: run.read(program.output), buffers: run.buffers, zeroCounts: run.zeroCounts };
}

const planeOf = (v: View): number => v.c * v.h * v.w;

/**
 * A step's activation: ReLU (NaN -> 0), then the clamp. `!(y >= lo)` sends NaN to lo, as the
 * device's fmaxf does, so the interpreter and the GPU agree even there.
 */
function activate(y: number, relu: boolean, clamp: Clamp | null | undefined): number {
  if (relu && !(y > 0)) y = 0;
  if (clamp) {
    if (!(y >= clamp[0])) y = clamp[0];
    if (y > clamp[1]) y = clamp[1];
  }
  return y;
}

function checkClamp(clamp: Clamp | null | undefined, what: string): void {
  if (clamp && !(Number.isFinite(clamp[0]) && Number.isFinite(clamp[1]) && clamp[0] <= clamp[1])) {
    throw new ProgramError(`${what}: clamp [${clamp.join(', ')}] must be two finite bounds, lo <= hi`);
  }
}

class Interpreter {
  readonly buffers: Float64Array[];
  readonly zeroCounts: number[];
  private readonly batch: number;
  /** CRSK tensors already checked against their KCRS source. */
  private readonly checkedCrsk = new Set<number>();

  constructor(
    private readonly program: Program,
    private readonly tensors: readonly TensorData[],
  ) {
    this.batch = program.batch;
    this.buffers = program.buffers.map((n) => new Float64Array(n));
    this.zeroCounts = new Array<number>(program.zeroCounters).fill(0);
  }

  private check(v: View, what: string): void {
    const size = this.program.buffers[v.buf];
    if (size === undefined) throw new ProgramError(`${what}: buffer ${v.buf} does not exist`);
    const plane = planeOf(v);
    if (v.offset < 0 || v.batchStride < plane || v.offset + (this.batch - 1) * v.batchStride + plane > size) {
      throw new ProgramError(`${what}: view (offset ${v.offset}, ${v.c}x${v.h}x${v.w}, stride ${v.batchStride}) exceeds buffer ${v.buf} of ${size} floats`);
    }
  }

  /** The view's data, packed [batch][c][h][w]. */
  read(v: View): Float64Array {
    this.check(v, 'read');
    const plane = planeOf(v);
    const out = new Float64Array(this.batch * plane);
    const buf = this.buffers[v.buf]!;
    for (let n = 0; n < this.batch; n++) out.set(buf.subarray(v.offset + n * v.batchStride, v.offset + n * v.batchStride + plane), n * plane);
    return out;
  }

  write(v: View, data: Float64Array): void {
    this.check(v, 'write');
    const plane = planeOf(v);
    if (data.length !== this.batch * plane) throw new ProgramError(`write of ${data.length} values into a view of ${this.batch}x${plane}`);
    const buf = this.buffers[v.buf]!;
    for (let n = 0; n < this.batch; n++) buf.set(data.subarray(n * plane, (n + 1) * plane), v.offset + n * v.batchStride);
  }

  /** Writes `data` to `out` and adds its zeros to `counter`. */
  private emit(out: View, data: Float64Array, counter: number | null): void {
    this.write(out, data);
    if (counter === null) return;
    if (counter < 0 || counter >= this.zeroCounts.length) throw new ProgramError(`zero counter ${counter} does not exist`);
    let z = 0;
    for (let i = 0; i < data.length; i++) if (data[i] === 0) z++;
    this.zeroCounts[counter]! += z;
  }

  private tensor(i: number | null, floats: number, what: string): TensorData {
    if (i === null) throw new ProgramError(`${what}: missing tensor`);
    const t = this.tensors[i];
    if (!t) throw new ProgramError(`${what}: tensor ${i} does not exist`);
    if (t.length !== floats) throw new ProgramError(`${what}: tensor ${i} has ${t.length} floats, the step needs ${floats}`);
    return t;
  }

  private tensorLength(i: number, what: string): number {
    const t = this.tensors[i];
    if (!t) throw new ProgramError(`${what}: tensor ${i} does not exist`);
    return t.length;
  }

  private shape(v: View, c: number, h: number, w: number, what: string): void {
    if (v.c !== c || v.h !== h || v.w !== w) throw new ProgramError(`${what}: view is ${v.c}x${v.h}x${v.w}, expected ${c}x${h}x${w}`);
  }

  step(s: Step): void {
    switch (s.op) {
      case 'conv':
        return this.conv(s);
      case 'scale_shift':
      case 'bias_relu': {
        const x = this.read(s.in);
        this.shape(s.out, s.in.c, s.in.h, s.in.w, s.layer);
        const c = s.in.c;
        const scale = s.op === 'scale_shift' ? this.tensor(s.scale, c, `${s.layer} scale`) : null;
        const shiftId = s.op === 'scale_shift' ? s.shift : s.bias;
        const shift = shiftId === null ? null : this.tensor(shiftId, c, `${s.layer} shift`);
        const hw = s.in.h * s.in.w;
        checkClamp(s.clamp, s.layer);
        for (let i = 0; i < x.length; i++) {
          const ch = Math.floor(i / hw) % c;
          x[i] = activate(x[i]! * (scale ? scale[ch]! : 1) + (shift ? shift[ch]! : 0), s.relu, s.clamp);
        }
        return this.emit(s.out, x, s.countZeros);
      }
      case 'add': {
        const a = this.read(s.a);
        const b = this.read(s.b);
        this.shape(s.b, s.a.c, s.a.h, s.a.w, s.layer);
        this.shape(s.out, s.a.c, s.a.h, s.a.w, s.layer);
        checkClamp(s.clamp, s.layer);
        for (let i = 0; i < a.length; i++) a[i] = activate(a[i]! + b[i]!, s.relu, s.clamp);
        return this.emit(s.out, a, s.countZeros);
      }
      case 'maxpool':
      case 'avgpool':
        return this.pool(s);
      case 'globalavgpool': {
        const x = this.read(s.in);
        this.shape(s.out, s.in.c, 1, 1, s.layer);
        const hw = s.in.h * s.in.w;
        const y = new Float64Array(this.batch * s.in.c);
        for (let j = 0; j < y.length; j++) {
          let sum = 0;
          for (let i = 0; i < hw; i++) sum += x[j * hw + i]!;
          y[j] = sum / hw;
        }
        return this.write(s.out, y);
      }
      case 'flatten_hwc': {
        const { c, h, w } = s.in;
        const x = this.read(s.in);
        this.shape(s.out, c * h * w, 1, 1, s.layer);
        const y = new Float64Array(x.length);
        for (let n = 0; n < this.batch; n++) {
          for (let ch = 0; ch < c; ch++) {
            for (let p = 0; p < h * w; p++) y[n * c * h * w + p * c + ch] = x[n * c * h * w + ch * h * w + p]!;
          }
        }
        return this.write(s.out, y);
      }
      case 'dense':
        return this.dense(s);
      case 'softmax': {
        // Over channels at each pixel (Keras' last axis).
        const { c, h, w } = s.in;
        const x = this.read(s.in);
        this.shape(s.out, c, h, w, s.layer);
        const hw = h * w;
        for (let n = 0; n < this.batch; n++) {
          for (let p = 0; p < hw; p++) {
            const at = (ch: number): number => n * c * hw + ch * hw + p;
            let max = -Infinity;
            for (let ch = 0; ch < c; ch++) max = Math.max(max, x[at(ch)]!);
            let sum = 0;
            for (let ch = 0; ch < c; ch++) sum += (x[at(ch)] = Math.exp(x[at(ch)]! - max));
            for (let ch = 0; ch < c; ch++) x[at(ch)] = x[at(ch)]! / sum;
          }
        }
        return this.write(s.out, x);
      }
    }
  }

  private conv(s: ConvStep): void {
    const { c: C, h: H, w: W } = s.in;
    const { k, r: R, s: S, strideH: sh, strideW: sw, padTop: pt, padLeft: pl } = s;
    const groups = s.groups ?? 1;
    if (!Number.isInteger(groups) || groups < 1 || C % groups !== 0 || k % groups !== 0) {
      throw new ProgramError(`${s.layer}: groups ${groups} must be a positive integer dividing in.c ${C} and k ${k}`);
    }
    // Per group: c input channels, kg output channels; weights [K][C/groups][R][S].
    const c = C / groups;
    const kg = k / groups;
    const ho = Math.floor((H + s.padTop + s.padBottom - R) / sh) + 1;
    const wo = Math.floor((W + s.padLeft + s.padRight - S) / sw) + 1;
    this.shape(s.out, k, ho, wo, s.layer);
    const wts = this.tensor(s.weightsKcrs, k * c * R * S, `${s.layer} weightsKcrs`);
    const bias = s.bias === null ? null : this.tensor(s.bias, k, `${s.layer} bias`);
    checkClamp(s.clamp, s.layer);
    let res: Float64Array | null = null;
    if (s.residual) {
      this.shape(s.residual, k, ho, wo, `${s.layer} residual`);
      if (s.residual.buf === s.out.buf) throw new ProgramError(`${s.layer}: residual and out share buffer ${s.out.buf}`);
      res = this.read(s.residual);
    }
    if (s.path === 'act-sparse' && groups !== 1) throw new ProgramError(`${s.layer}: act-sparse conv with groups ${groups}: the generated kernels take groups 1`);
    if (s.path === 'act-sparse') {
      if (s.kernel === null || s.threshold === null || s.weightsCrsk === null) throw new ProgramError(`${s.layer}: act-sparse conv without kernel, threshold or CRSK weights`);
      if (!(s.threshold >= 0 && s.threshold <= 1)) throw new ProgramError(`${s.layer}: threshold ${s.threshold} outside [0, 1]`);
      this.checkCrsk(s, wts, c);
    } else if (s.kernel !== null || s.weightsCrsk !== null || s.threshold !== null) {
      throw new ProgramError(`${s.layer}: cuDNN conv with act-sparse fields`);
    }
    if (s.inZeros !== null && (s.inZeros < 0 || s.inZeros >= this.zeroCounts.length)) throw new ProgramError(`${s.layer}: inZeros ${s.inZeros} does not exist`);

    const x = this.read(s.in);
    const y = new Float64Array(this.batch * k * ho * wo);
    const acc = new Float64Array(ho * wo);
    // Per filter row rr, the output rows [y0[rr], y1[rr]) whose input row oy*sh + rr - pt lies
    // inside the image (the others read zero padding); the same per filter column.
    const ranges = (taps: number, size: number, stride: number, pad: number, out: number): [Int32Array, Int32Array] => {
      const lo = new Int32Array(taps);
      const hi = new Int32Array(taps);
      for (let d = 0; d < taps; d++) {
        lo[d] = Math.max(0, Math.ceil((pad - d) / stride));
        hi[d] = Math.max(lo[d]!, Math.min(out, Math.floor((size - 1 + pad - d) / stride) + 1));
      }
      return [lo, hi];
    };
    const [y0, y1] = ranges(R, H, sh, pt, ho);
    const [x0, x1] = ranges(S, W, sw, pl, wo);
    for (let n = 0; n < this.batch; n++) {
      for (let o = 0; o < k; o++) {
        acc.fill(bias ? bias[o]! : 0);
        const c0 = Math.floor(o / kg) * c; // first input channel of o's group
        for (let ch = 0; ch < c; ch++) {
          const plane = (n * C + c0 + ch) * H * W;
          for (let rr = 0; rr < R; rr++) {
            for (let ss = 0; ss < S; ss++) {
              const wv = wts[((o * c + ch) * R + rr) * S + ss]!;
              if (wv === 0) continue;
              const xa = x0[ss]!;
              const xb = x1[ss]!;
              for (let oy = y0[rr]!; oy < y1[rr]!; oy++) {
                const row = plane + (oy * sh + rr - pt) * W - pl + ss;
                const arow = oy * wo;
                for (let ox = xa; ox < xb; ox++) acc[arow + ox]! += wv * x[row + ox * sw]!;
              }
            }
          }
        }
        const base = (n * k + o) * ho * wo;
        if (res) for (let i = 0; i < ho * wo; i++) acc[i]! += res[base + i]!;
        for (let i = 0; i < ho * wo; i++) y[base + i] = activate(acc[i]!, s.relu, s.clamp);
      }
    }
    this.emit(s.out, y, s.countZeros);
  }

  private checkCrsk(s: ConvStep, kcrs: TensorData, c: number): void {
    const id = s.weightsCrsk!;
    if (this.checkedCrsk.has(id)) return;
    const rs = s.r * s.s;
    if (s.weightsLayout === 'packed') {
      // A weight-sparse kernel's nonzero values in its tables' order: which weight each is, only the
      // kernel's tables say (codegen checked them against these weights); here only its size.
      const n = this.tensorLength(id, `${s.layer} weightsCrsk (packed)`);
      if (n < 1 || n > s.k * c * rs) throw new ProgramError(`${s.layer}: packed weightsCrsk has ${n} floats, 1 to ${s.k * c * rs} expected`);
      this.checkedCrsk.add(id);
      return;
    }
    const crsk = this.tensor(id, s.k * c * rs, `${s.layer} weightsCrsk`);
    for (let o = 0; o < s.k; o++) {
      for (let ch = 0; ch < c; ch++) {
        for (let j = 0; j < rs; j++) {
          if (crsk[(ch * rs + j) * s.k + o] !== kcrs[(o * c + ch) * rs + j]) {
            throw new ProgramError(`${s.layer}: weightsCrsk[c=${ch}][rs=${j}][k=${o}] differs from weightsKcrs`);
          }
        }
      }
    }
    this.checkedCrsk.add(id);
  }

  private pool(s: PoolStep): void {
    const { c, h: H, w: W } = s.in;
    const [kh, kw] = s.kernel;
    const [sh, sw] = s.stride;
    const [pt, pl, pb, pr] = s.pad;
    const ho = Math.floor((H + pt + pb - kh) / sh) + 1;
    const wo = Math.floor((W + pl + pr - kw) / sw) + 1;
    this.shape(s.out, c, ho, wo, s.layer);
    const exclude = s.excludePad === true;
    const x = this.read(s.in);
    const y = new Float64Array(this.batch * c * ho * wo);
    for (let p = 0; p < this.batch * c; p++) {
      for (let oy = 0; oy < ho; oy++) {
        for (let ox = 0; ox < wo; ox++) {
          // Padded cells are zeros that take part (Keras ZeroPadding2D before the pool), or, with
          // excludePad, no part: the max and the mean of the window's cells inside the input.
          let max = -Infinity;
          let sum = 0;
          let cells = 0;
          for (let i = 0; i < kh; i++) {
            for (let j = 0; j < kw; j++) {
              const iy = oy * sh + i - pt;
              const ix = ox * sw + j - pl;
              const inside = iy >= 0 && iy < H && ix >= 0 && ix < W;
              if (!inside && exclude) continue;
              const v = inside ? x[(p * H + iy) * W + ix]! : 0;
              max = Math.max(max, v);
              sum += v;
              cells++;
            }
          }
          // A window with no cell inside (the importer rejects such pools) is NaN, as on the device.
          y[(p * ho + oy) * wo + ox] = cells === 0 ? NaN : s.op === 'maxpool' ? max : sum / (exclude ? cells : kh * kw);
        }
      }
    }
    this.emit(s.out, y, s.countZeros);
  }

  private dense(s: DenseStep): void {
    const f = planeOf(s.in);
    this.shape(s.out, s.units, 1, 1, s.layer);
    const wts = this.tensor(s.weights, s.units * f, `${s.layer} weights`);
    const bias = s.bias === null ? null : this.tensor(s.bias, s.units, `${s.layer} bias`);
    checkClamp(s.clamp, s.layer);
    const x = this.read(s.in);
    const y = new Float64Array(this.batch * s.units);
    for (let n = 0; n < this.batch; n++) {
      for (let u = 0; u < s.units; u++) {
        let sum = bias ? bias[u]! : 0;
        const row = u * f;
        for (let i = 0; i < f; i++) sum += wts[row + i]! * x[n * f + i]!;
        y[n * s.units + u] = activate(sum, s.relu, s.clamp);
      }
    }
    this.write(s.out, y);
  }
}
