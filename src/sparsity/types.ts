// Per-layer sparsity facts the planner decides on.

export type InputSparsitySource = 'calibration' | 'estimate' | 'image';

export interface WeightPattern {
  /** Fraction of zeros in the conv kernel. */
  readonly sparsity: number;
  /** Nonzeros per output channel (of C*R*S). */
  readonly nnzPerOutChannel: { readonly min: number; readonly mean: number; readonly max: number };
  /** RxS kernels (one per input/output channel pair) that are entirely zero, of `kernels`. */
  readonly zeroKernels: number;
  readonly kernels: number;
}

export interface ConvSparsity {
  readonly layer: string;
  readonly weights: WeightPattern;
  /** Expected fraction of zeros in the conv's input activations. */
  readonly inputSparsity: number;
  readonly inputSource: InputSparsitySource;
}

export interface SparsityProfile {
  readonly model: string;
  /** Where the activation figures come from, in words (printed by the CLI and the report). */
  readonly activationSource: string;
  readonly convs: ReadonlyMap<string, ConvSparsity>;
}
