// The program: a network lowered for execution — batch norms folded, ReLUs fused, concatenations
// laid out as channel slices of one buffer, activation buffers shared by liveness, weights in the
// layout each path reads. TypeScript lowers (src/runtime/lower.ts); the native runtime
// (src/native) only executes the steps in order, so everything it does is visible here.
//
// All activations are fp32 NCHW. A View addresses a channel slice of a buffer: element (n, c, y, x)
// lives at offset + n * batchStride + c * h * w + y * w + x (floats). Channel slices of a
// DenseNet block buffer therefore need no copies: a layer writes at its channel offset.
//
// Fields added after the first programs (groups, clamp, excludePad) are optional and absent when
// they have their neutral value, so a network without them lowers to the bytes it always did.

export interface View {
  /** Index into Program.buffers. */
  readonly buf: number;
  /** Offset of (n=0, c=0, y=0, x=0) in floats. */
  readonly offset: number;
  readonly c: number;
  readonly h: number;
  readonly w: number;
  /** Floats between consecutive batch items (>= c*h*w; larger for a slice of a wider buffer). */
  readonly batchStride: number;
}

/**
 * A clamp after a step's bias and ReLU: y = min(max(y, lo), hi) (ReLU6, ONNX Clip(0, 6): [0, 6]).
 * Both bounds finite (JSON has no infinity), lo <= hi.
 */
export type Clamp = readonly [lo: number, hi: number];

export interface ConvStep {
  readonly op: 'conv';
  readonly layer: string;
  readonly in: View;
  readonly out: View;
  readonly k: number;
  readonly r: number;
  readonly s: number;
  readonly strideH: number;
  readonly strideW: number;
  readonly padTop: number;
  readonly padLeft: number;
  readonly padBottom: number;
  readonly padRight: number;
  /**
   * Channel groups (absent: 1); in.c and k are multiples of it, and output channel o reads the
   * input channels of its group, [o / (k / groups) * C/groups, +C/groups). A depthwise conv has
   * groups = in.c. Only the cuDNN path: no generated kernel family takes groups other than 1.
   */
  readonly groups?: number;
  /** Weights [K][C/groups][R][S] (cuDNN layout), batch norm folded in. Index into Program.tensors. */
  readonly weightsKcrs: number;
  /** Bias [K] (folded batch norm shift, or the conv's own bias), or null. */
  readonly bias: number | null;
  readonly relu: boolean;
  /**
   * Applied after bias and ReLU on either path (a fused ReLU6); absent: none. The generated kernels'
   * epilogue has no clamp, so `relu` stays what the kernel does and the runtime clamps after it.
   */
  readonly clamp?: Clamp | null;
  /** The planner's decision. */
  readonly path: 'cudnn' | 'act-sparse';
  /**
   * Generated kernel (cusnn_launch_<kernel>) and the weights it reads, when path is act-sparse:
   * [C][R][S][K], or with weightsLayout 'packed' a weight-sparse kernel's nonzero values in its
   * tables' order (src/families/registry.ts kernelWeightOrder).
   */
  readonly kernel: string | null;
  readonly weightsCrsk: number | null;
  /** Layout of weightsCrsk; absent: 'crsk'. */
  readonly weightsLayout?: 'crsk' | 'packed';
  /**
   * Dynamic mode: use the generated kernel only when the measured fraction of zeros of `in` is at
   * least this (from the planner's break-even); null when the layer has no generated kernel.
   */
  readonly threshold: number | null;
  /** Index into Program.zeroCounters of the counter that holds the zeros of `in`, or null. */
  readonly inZeros: number | null;
  /** When not null, count the zeros written to `out` (after bias/ReLU) into this counter. */
  readonly countZeros: number | null;
  /**
   * A residual of out's shape added after the bias and before the ReLU: y = act(conv + bias +
   * residual), the residual add after the conv fused into it (src/plan/residual.ts; only where the
   * plan's kernel takes it). In another buffer than out. Absent: none.
   */
  readonly residual?: View;
}

/** y = relu?(x * scale[c] + shift[c]) — an inference batch norm that cannot be folded (DenseNet's pre-activation). */
export interface ScaleShiftStep {
  readonly op: 'scale_shift';
  readonly layer: string;
  readonly in: View;
  readonly out: View;
  readonly scale: number;
  readonly shift: number;
  readonly relu: boolean;
  /** After the ReLU (absent: none). */
  readonly clamp?: Clamp | null;
  /** When not null, count the zeros written to `out` into Program.zeroCounters[countZeros]. */
  readonly countZeros: number | null;
}

/** Element-wise epilogue after a cuDNN conv or other producer: y = clamp?(relu?(x + bias[c])), counting zeros. */
export interface BiasReluStep {
  readonly op: 'bias_relu';
  readonly layer: string;
  readonly in: View;
  readonly out: View;
  readonly bias: number | null;
  readonly relu: boolean;
  /** After the ReLU (absent: none); a ReLU6 of its own is bias null, relu false, clamp [0, 6]. */
  readonly clamp?: Clamp | null;
  readonly countZeros: number | null;
}

export interface AddStep {
  readonly op: 'add';
  readonly layer: string;
  readonly a: View;
  readonly b: View;
  readonly out: View;
  readonly relu: boolean;
  /** After the ReLU (absent: none). */
  readonly clamp?: Clamp | null;
  readonly countZeros: number | null;
}

export interface PoolStep {
  readonly op: 'maxpool' | 'avgpool';
  readonly layer: string;
  readonly in: View;
  readonly out: View;
  readonly kernel: readonly [number, number];
  readonly stride: readonly [number, number];
  /** top, left, bottom, right. Padded cells hold 0 (Keras ZeroPadding2D), also for max pooling, unless excludePad. */
  readonly pad: readonly [number, number, number, number];
  /**
   * Padded cells take no part (ONNX MaxPool, AveragePool with count_include_pad 0): the max is over
   * the window's cells inside the input, the average divides by their count. Absent: false.
   */
  readonly excludePad?: boolean;
  readonly countZeros: number | null;
}

export interface GlobalAvgPoolStep {
  readonly op: 'globalavgpool';
  readonly layer: string;
  readonly in: View;
  readonly out: View;
}

/** Keras Flatten of NHWC data: out[n][(y*w + x)*c + ch] = in[n][ch][y][x]. */
export interface FlattenStep {
  readonly op: 'flatten_hwc';
  readonly layer: string;
  readonly in: View;
  readonly out: View;
}

/** y = clamp?(relu?(W x + b)), W [units][inFeatures] (cuBLAS). */
export interface DenseStep {
  readonly op: 'dense';
  readonly layer: string;
  readonly in: View;
  readonly out: View;
  readonly units: number;
  readonly weights: number;
  readonly bias: number | null;
  readonly relu: boolean;
  /** After the ReLU (absent: none). */
  readonly clamp?: Clamp | null;
}

/**
 * Softmax over the channels at each pixel of each batch item (ONNX Softmax on axis 1 of N,C,H,W or
 * N,C; a classifier's softmax is the h = w = 1 case).
 */
export interface SoftmaxStep {
  readonly op: 'softmax';
  readonly layer: string;
  readonly in: View;
  readonly out: View;
}

export type Step = ConvStep | ScaleShiftStep | BiasReluStep | AddStep | PoolStep | GlobalAvgPoolStep | FlattenStep | DenseStep | SoftmaxStep;

export interface Program {
  readonly format: 'cusnn-program/1';
  readonly model: string;
  readonly batch: number;
  /** Device activation buffers, sizes in floats (shared by layers whose lifetimes do not overlap). */
  readonly buffers: readonly number[];
  /** Weight tensors: name (for errors) and length in floats; the data travels beside the program. */
  readonly tensors: readonly { readonly name: string; readonly floats: number }[];
  /** Number of zero counters (one per counted activation, 64-bit on the device). */
  readonly zeroCounters: number;
  readonly input: View;
  readonly output: View;
  /**
   * Layer name -> the view holding its output. Only layers the lowering was asked to keep (and the
   * output) are guaranteed intact after a forward pass; other buffers are reused by later layers.
   */
  readonly views: Readonly<Record<string, View>>;
  readonly steps: readonly Step[];
}
