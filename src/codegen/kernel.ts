// What every kernel family's renderer (src/families/<name>/render.ts) takes and returns.

/** A layer a kernel serves, listed in the generated file's header. */
export interface ServedLayer {
  readonly model: string;
  readonly layer: string;
}

/** One generated .cu file: the kernel's name (its identity, src/codegen/naming.ts) and its source. */
export interface RenderedKernel {
  readonly name: string;
  readonly source: string;
}
