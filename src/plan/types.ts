// The plan: what the planner decided for every conv and why. Written as plan.json, read by
// codegen now and by the native runtime later, so it holds plain data only.
import type { ArchName } from '../arch/profiles.js';
import type { KernelSpec } from '../families/registry.js';
import type { WeightPatternKind } from '../sparsity/types.js';

/**
 * The problem of one conv as every kernel family sees it (per batch item; groups are 1). Each
 * family's spec is this plus `family`, `arch` and its own tile fields.
 */
export interface ConvProblem {
  /** Input channels, height, width. */
  readonly c: number;
  readonly h: number;
  readonly w: number;
  /** Output channels and filter extent. */
  readonly k: number;
  readonly r: number;
  readonly s: number;
  readonly strideH: number;
  readonly strideW: number;
  /** Leading padding; the trailing padding is implied by ho/wo. */
  readonly padTop: number;
  readonly padLeft: number;
  readonly ho: number;
  readonly wo: number;
  /** Add a per-output-channel bias (folded batch norm) in the epilogue. */
  readonly bias: boolean;
  /** Apply ReLU in the epilogue. */
  readonly relu: boolean;
}

export interface KernelResources {
  readonly threads: number;
  /** Halo window of one output tile: (th-1)*strideH + r by (tw-1)*strideW + s. */
  readonly windowH: number;
  readonly windowW: number;
  readonly sharedBytes: number;
  /** Planner's register estimate (ptxas reports the real figure under --check). */
  readonly regsEstimate: number;
  readonly grid: readonly [x: number, y: number, z: number];
}

/** A family's cost-model estimate of one kernel, with its launch figures (src/families/<name>/cost.ts). */
export interface KernelEstimate {
  readonly us: number;
  readonly blocks: number;
  readonly blocksPerSm: number;
  readonly occupancy: number;
  readonly limitedBy: string;
  readonly waves: number;
  /** What bounds the estimate: issue slots, the per-warp latency chain, or DRAM. */
  readonly bound: 'issue' | 'latency' | 'memory';
}

export type Decision = 'cudnn' | 'act-sparse' | 'weight-sparse';

/** A conv's weights as the sparsity profile found them (what inspect and report.md show). */
export interface ConvWeightFacts {
  /** The detected pattern of the zeros (src/sparsity/weights.ts). */
  readonly pattern: WeightPatternKind;
  /** Fraction of nonzero weights. */
  readonly density: number;
  /** Nonzeros per output channel (of C*R*S). */
  readonly nnzPerOutChannel: { readonly min: number; readonly mean: number; readonly max: number };
  /**
   * The digest of the nonzero structure (src/families/wsparse/structure.ts) where the weights are
   * pruned (their pattern not dense): measurements of the layer are keyed by it. Null: dense.
   */
  readonly digest: string | null;
}

/** One kernel as measured for a conv's decision: median and spread (p10-p90), null when discarded. */
export interface MeasuredKernelTime {
  readonly family: string;
  readonly kernel: string;
  readonly us: number | null;
  readonly p10Us: number | null;
  readonly p90Us: number | null;
  readonly discarded?: string;
}

/** How a measurement decided a conv (src/plan/measured-choice.ts): every candidate timed, cuDNN, the winner and why. */
export interface MeasuredDecision {
  /** 'tune': the tune cache's candidates of every family; 'calibration': the folder's kernel, timed by `calibrate`. */
  readonly source: 'tune' | 'calibration';
  readonly gpu: string;
  readonly cudnn: { readonly us: number; readonly p10Us: number; readonly p90Us: number; readonly algo: string | null };
  /** Fastest first, discarded last. */
  readonly candidates: readonly MeasuredKernelTime[];
  /** 'cudnn' or the winning kernel's name. */
  readonly winner: string;
  readonly why: string;
}

export interface ConvPlan {
  readonly layer: string;
  /** Input [C, H, W] and output [K, Ho, Wo] per batch item. */
  readonly input: readonly [number, number, number];
  readonly output: readonly [number, number, number];
  readonly kernel: readonly [number, number];
  readonly stride: readonly [number, number];
  readonly pad: readonly [top: number, left: number, bottom: number, right: number];
  readonly macs: number;
  /** Expected fraction of zeros in the input activations and where the figure comes from. */
  readonly inputSparsity: number;
  readonly inputSparsitySource: 'calibration' | 'estimate' | 'image';
  readonly weightSparsity: number;
  readonly decision: Decision;
  /** Why: the cost-model figures and the rule that decided. */
  readonly reason: string;
  /** Estimated times in microseconds on the target (cost model). */
  readonly estimate: { readonly cudnnUs: number; readonly actSparseUs: number | null };
  /** Name of the generated kernel when decision is act-sparse (any generated family). */
  readonly kernelName: string | null;
  readonly spec: KernelSpec | null;
  readonly resources: KernelResources | null;
  /** Estimated occupancy (fraction of max warps) and waves of the generated kernel. */
  readonly occupancy: number | null;
  readonly waves: number | null;
  /** Fuses bias + ReLU of the following batch norm / activation. */
  readonly fusedRelu: boolean;
  /** The weights' pattern, density and nonzeros per output channel where they are pruned; absent for dense weights (or a pattern not known). */
  readonly weightPattern?: ConvWeightFacts;
  /** Present when a measurement decided the conv: what was measured and why the winner won. */
  readonly measured?: MeasuredDecision;
  /**
   * The residual add fused into the kernel's epilogue (src/plan/residual.ts): the add layer, the
   * shortcut it reads and the ReLU after it (null: none). Absent: the add, if any, is its own step.
   */
  readonly residual?: { readonly add: string; readonly shortcut: string; readonly relu: string | null };
}

/**
 * plan.json's `modelFile`, for a network imported from ONNX (absent for zoo models): where the file
 * is and its digest, so commands on the folder read the same model again (src/model/resolve.ts).
 */
export interface ModelFileRef {
  readonly format: 'onnx';
  /** Absolute path of the .onnx file. */
  readonly path: string;
  /** SHA-256 (hex) of the .onnx file's bytes. */
  readonly sha256: string;
  readonly bytes: number;
  /** External data files, relative to the model's folder, with their SHA-256; empty when the initializers are inside the file. */
  readonly externalData: readonly { readonly file: string; readonly sha256: string }[];
  /** C,H,W given with --input-shape for the file's symbolic input dimensions; null when the file fixes them. */
  readonly inputShape: readonly [number, number, number] | null;
}

export interface WeightsRef {
  readonly path: string | null;
  readonly seed: number;
  readonly fillMissing: boolean;
}

/**
 * The plan of one more batch size in a folder planned for several (`NetworkPlan.batches`): only
 * what the batch changes. Model, arch, weights and sparsity are the top-level plan's.
 */
export interface BatchPlan {
  readonly batch: number;
  readonly convs: readonly ConvPlan[];
}

export interface NetworkPlan {
  readonly format: 'cusnn-plan/1';
  readonly model: string;
  readonly arch: ArchName;
  readonly board: string;
  /** The batch this plan was made for; in a folder planned for several, the smallest. */
  readonly batch: number;
  /** An ONNX model's file (absent for zoo models: `model` names them). */
  readonly modelFile?: ModelFileRef;
  /** The weights, in words. */
  readonly weights: string;
  /** How to load the same weights again (the runtime's default): the path as given, or synthetic with this seed. */
  readonly weightsRef: WeightsRef;
  readonly sparsitySource: string;
  readonly convs: readonly ConvPlan[];
  /**
   * The plans of the other batch sizes (`cusnn-gen --batch 1,8,32`), ascending, each larger than
   * `batch`. Absent when the folder was planned for one batch. The top level stays a complete
   * plan of the smallest batch, so a reader that knows one plan per folder still reads a valid one.
   */
  readonly batches?: readonly BatchPlan[];
}
