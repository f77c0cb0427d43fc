// Per-layer sparsity facts the planner decides on.

export type InputSparsitySource = 'calibration' | 'estimate' | 'image';

/**
 * The structure of a kernel's zeros (as `cusnn-gen prune --pattern` makes them): 'dense' (under 1%
 * zeros, none structured), 'unstructured', '2:4' (at most 2 nonzeros in every 4 consecutive input
 * channels at one (k, r, s)), 'block4x1' (all-zero blocks of 4 consecutive output channels at one
 * (c, r, s)), 'filter' (all-zero output filters; also an all-zero kernel). A structured pattern is
 * reported when fewer than 1% of the weights are zeros outside it (the one leaving fewest wins).
 */
export type WeightPatternKind = 'dense' | 'unstructured' | '2:4' | 'block4x1' | 'filter';

export interface WeightPattern {
  /** Fraction of zeros in the conv kernel. */
  readonly sparsity: number;
  /**
   * The detected pattern of the zeros. Absent only where a profile is rebuilt from a plan.json
   * (which does not record it); the profile read from the weights always has it.
   */
  readonly pattern?: WeightPatternKind;
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
