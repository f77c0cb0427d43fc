// The bench's images in two disjoint halves: the first decides (input sparsity, the per-layer
// path measurements), the second checks and times. Timing on the images that chose the paths
// would let a choice that only fits those inputs pass as a speedup.
import type { ImageSplit } from './results.js';

export interface Halves<T> {
  readonly calibrate: readonly T[];
  readonly time: readonly T[];
  /** Set when the halves could not be disjoint (a single image). */
  readonly note?: string;
}

/** First floor(n/2) items decide, the rest are timed; one item serves both, said so. */
export function splitHalves<T>(items: readonly T[]): Halves<T> {
  if (items.length === 0) throw new Error('no input images');
  if (items.length === 1) {
    return { calibrate: items, time: items, note: 'only one image: decisions and timing use the same image' };
  }
  const k = Math.floor(items.length / 2);
  return { calibrate: items.slice(0, k), time: items.slice(k) };
}

/** For results.json: which images went where. */
export function imageSplit(h: Halves<string>): ImageSplit {
  return { calibrate: [...h.calibrate], time: [...h.time], ...(h.note ? { note: h.note } : {}) };
}

/** `batch` images (each one CHW tensor) starting at `offset`, cycling, as one NCHW batch. */
export function batchOf(images: readonly Float32Array[], batch: number, offset = 0): Float32Array {
  if (images.length === 0) throw new Error('no input images');
  const per = images[0]!.length;
  const out = new Float32Array(batch * per);
  for (let i = 0; i < batch; i++) {
    const img = images[(offset + i) % images.length]!;
    if (img.length !== per) throw new Error(`image ${(offset + i) % images.length} has ${img.length} floats, the first has ${per}`);
    out.set(img, i * per);
  }
  return out;
}
