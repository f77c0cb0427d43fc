// Input images in the original cuSNN artifact's format and the Keras preprocessing that goes with
// each family's weights. An image file `<i>.bin` is 224x224x3 little-endian float32, HWC, BGR,
// raw pixel values 0..255 with no header; a batch handed to a network is NCHW float32.
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Preprocessing } from '../model/ir.js';
import { readFully } from '../weights/io.js';
import { assertLittleEndian } from '../weights/store.js';

/** One image as stored: [height, width, channels] (HWC, channels in BGR order). */
export const IMAGE_SHAPE = [224, 224, 3] as const;
/** Floats in one image. */
export const IMAGE_FLOATS = IMAGE_SHAPE[0] * IMAGE_SHAPE[1] * IMAGE_SHAPE[2];
/** Bytes of one image file. */
export const IMAGE_BYTES = IMAGE_FLOATS * 4;

const FORMAT = `${IMAGE_SHAPE.join('x')} float32 HWC BGR`;

/**
 * Reads one image file; a file of any other size is an error naming it and the expected size, and
 * a NaN or infinite pixel an error naming the file and the pixel (flat index, row, column, channel).
 */
export function readImage(file: string): Float32Array {
  assertLittleEndian();
  let bytes: number;
  try {
    bytes = fs.statSync(file).size;
  } catch (e) {
    const why = (e as NodeJS.ErrnoException).code === 'ENOENT' ? 'does not exist' : `cannot be read (${(e as Error).message})`;
    throw new Error(`image '${file}' ${why}; expected a ${IMAGE_BYTES}-byte ${FORMAT} file`);
  }
  if (bytes !== IMAGE_BYTES) throw new Error(`image '${file}' has ${bytes} bytes, expected ${IMAGE_BYTES} (${FORMAT})`);
  const img = new Float32Array(IMAGE_FLOATS);
  readFully(file, new Uint8Array(img.buffer));
  for (let i = 0; i < img.length; i++) {
    const v = img[i]!;
    if (!Number.isFinite(v)) {
      const [, w, c] = IMAGE_SHAPE;
      const ch = ['B', 'G', 'R'][i % c]!;
      throw new Error(`image '${file}': pixel value ${i} (row ${Math.floor(i / (w * c))}, column ${Math.floor(i / c) % w}, channel ${ch}) is ${v}, expected a finite number (${FORMAT})`);
    }
  }
  return img;
}

const IMAGE_NAME = /^(\d+)\.bin$/;

/**
 * The image files to read: a folder gives its `<i>.bin` files in numeric order (0, 1, ..., 10; a
 * plain string sort would put 10 before 2); a file or a list of files is taken as given, in order.
 */
export function listImages(dirOrFiles: string | readonly string[]): string[] {
  if (typeof dirOrFiles !== 'string') {
    for (const f of dirOrFiles) if (!fs.existsSync(f)) throw new Error(`image '${f}' does not exist`);
    return [...dirOrFiles];
  }
  let st: fs.Stats;
  try {
    st = fs.statSync(dirOrFiles);
  } catch {
    throw new Error(`image path '${dirOrFiles}' does not exist; expected a folder of <i>.bin images or an image file`);
  }
  if (!st.isDirectory()) return [dirOrFiles];
  const numbered = fs
    .readdirSync(dirOrFiles)
    .flatMap((name) => {
      const m = IMAGE_NAME.exec(name);
      return m ? [{ name, index: Number(m[1]) }] : [];
    })
    .sort((a, b) => a.index - b.index);
  if (numbered.length === 0) throw new Error(`image folder '${dirOrFiles}' holds no <i>.bin images (0.bin, 1.bin, ...)`);
  return numbered.map((f) => path.join(dirOrFiles, f.name));
}

/** Keras "caffe" means, in the images' BGR order. */
export const CAFFE_MEAN_BGR = [103.939, 116.779, 123.68] as const;
/** Keras "torch" mean and std of the 0..1 values, in RGB order. */
export const TORCH_MEAN_RGB = [0.485, 0.456, 0.406] as const;
export const TORCH_STD_RGB = [0.229, 0.224, 0.225] as const;

/**
 * A batch of raw images as one NCHW float32 tensor, preprocessed as Keras does for the family:
 * `caffe` keeps BGR and subtracts the BGR means; `torch` reorders to RGB (channel 0 = red), scales
 * to 0..1, subtracts the mean and divides by the std. Each value is computed in double and rounded
 * to float32 once (Keras rounds after each float32 step: a difference of at most an ulp or two).
 */
export function preprocess(images: readonly Float32Array[], p: Preprocessing): Float32Array {
  const [h, w, c] = IMAGE_SHAPE;
  const plane = h * w;
  const out = new Float32Array(images.length * c * plane);
  images.forEach((img, n) => {
    if (img.length !== IMAGE_FLOATS) throw new Error(`image ${n} of the batch has ${img.length} floats, expected ${IMAGE_FLOATS} (${FORMAT})`);
    for (let ch = 0; ch < c; ch++) {
      const dst = (n * c + ch) * plane;
      if (p === 'caffe') {
        const mean = CAFFE_MEAN_BGR[ch]!;
        for (let i = 0; i < plane; i++) out[dst + i] = img[i * c + ch]! - mean;
      } else {
        const src = c - 1 - ch; // RGB channel ch is BGR channel 2 - ch
        const mean = TORCH_MEAN_RGB[ch]!;
        const std = TORCH_STD_RGB[ch]!;
        for (let i = 0; i < plane; i++) out[dst + i] = (img[i * c + src]! / 255 - mean) / std;
      }
    }
  });
  return out;
}
