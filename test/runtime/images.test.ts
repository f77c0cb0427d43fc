import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IMAGE_BYTES, IMAGE_FLOATS, IMAGE_SHAPE, listImages, preprocess, readImage } from '../../src/runtime/images.js';
import { Rng } from '../../src/weights/prng.js';
import { seedFor, TEST_SEED } from '../weights/helpers.js';

const ARTIFACT = process.env.CUSNN_ARTIFACT ?? fileURLToPath(new URL('../../../shared/cusnn-artifact', import.meta.url));
const IMAGES = path.join(ARTIFACT, 'sample_images');
const haveImages = fs.existsSync(IMAGES);
if (!haveImages) console.warn(`cuSNN artifact images not found at ${IMAGES} (set CUSNN_ARTIFACT): real-image tests skipped`);

const H = 224;
const W = 224;
const PLANE = H * W;

let dir: string;
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cusnn-images-'));
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

/** Index of the first element where a and b differ (or lengths differ), -1 when equal; vitest's deep equality is slow on 10^5 floats. */
function firstDiff(a: Float32Array, b: Float32Array): number {
  if (a.length !== b.length) return Math.min(a.length, b.length);
  for (let i = 0; i < a.length; i++) if (!Object.is(a[i], b[i])) return i;
  return -1;
}

/** A raw image of integer pixel values 0..255, fresh each run. */
function randomImage(rng: Rng): Float32Array {
  const img = new Float32Array(IMAGE_FLOATS);
  for (let i = 0; i < img.length; i++) img[i] = Math.floor(rng.nextUnit() * 256);
  return img;
}

describe.skipIf(!haveImages)(`the 32 sample images (${IMAGES})`, () => {
  it('lists them in numeric order and reads each as 224x224x3 raw 0..255 pixels', () => {
    const files = listImages(IMAGES);
    expect(files.map((f) => path.basename(f))).toEqual(Array.from({ length: 32 }, (_, i) => `${i}.bin`));
    expect(IMAGE_SHAPE).toEqual([224, 224, 3]);
    for (const f of files) {
      const img = readImage(f);
      expect(img.length).toBe(224 * 224 * 3);
      let min = Infinity;
      let max = -Infinity;
      let fractional = 0;
      for (const v of img) {
        min = Math.min(min, v);
        max = Math.max(max, v);
        if (v !== Math.round(v)) fractional++;
      }
      expect(min, f).toBeGreaterThanOrEqual(0);
      expect(max, f).toBeLessThanOrEqual(255);
      expect(max - min, `${f} is not a flat image`).toBeGreaterThan(50);
      expect(fractional, `${f}: raw pixels are whole numbers`).toBe(0);
    }
  });

  it('preprocesses a real batch into NCHW with each image at its batch offset', () => {
    const files = listImages(IMAGES).slice(3, 5);
    const imgs = files.map(readImage);
    const x = preprocess(imgs, 'caffe');
    expect(x.length).toBe(2 * 3 * PLANE);
    const y = 17;
    const xx = 201;
    for (let n = 0; n < 2; n++) {
      expect(x[(n * 3 + 0) * PLANE + y * W + xx]).toBe(Math.fround(imgs[n]![(y * W + xx) * 3 + 0]! - 103.939));
    }
  });
});

describe(`preprocessing a hand-made image (seed ${TEST_SEED})`, () => {
  const rng = new Rng(seedFor(301), 0);
  const img = randomImage(rng);
  // Pixel (5, 7) gets known values so the expected numbers can be written out by hand.
  const at = (5 * W + 7) * 3;
  img[at] = 10; // B
  img[at + 1] = 20; // G
  img[at + 2] = 30; // R
  const p = 5 * W + 7;

  it('caffe keeps BGR order and subtracts the BGR means', () => {
    const x = preprocess([img], 'caffe');
    expect(x.length).toBe(3 * PLANE);
    expect(x[0 * PLANE + p]).toBeCloseTo(10 - 103.939, 5);
    expect(x[1 * PLANE + p]).toBeCloseTo(20 - 116.779, 5);
    expect(x[2 * PLANE + p]).toBeCloseTo(30 - 123.68, 5);
    const means = [103.939, 116.779, 123.68];
    for (let c = 0; c < 3; c++) {
      for (let i = 0; i < PLANE; i++) {
        const want = Math.fround(img[i * 3 + c]! - means[c]!);
        if (x[c * PLANE + i] !== want) expect.fail(`caffe channel ${c} pixel ${i}: ${x[c * PLANE + i]} != ${want}`);
      }
    }
  });

  it('torch converts to RGB (channel 0 = red), scales to 0..1 and normalises per channel', () => {
    const x = preprocess([img], 'torch');
    expect(x[0 * PLANE + p]).toBeCloseTo((30 / 255 - 0.485) / 0.229, 6); // red
    expect(x[1 * PLANE + p]).toBeCloseTo((20 / 255 - 0.456) / 0.224, 6); // green
    expect(x[2 * PLANE + p]).toBeCloseTo((10 / 255 - 0.406) / 0.225, 6); // blue
    const mean = [0.485, 0.456, 0.406];
    const std = [0.229, 0.224, 0.225];
    for (let c = 0; c < 3; c++) {
      const bgr = 2 - c;
      for (let i = 0; i < PLANE; i++) {
        // Keras rounds to float32 after each step; ours rounds once: at most a couple of ulps apart.
        const keras = Math.fround(Math.fround(Math.fround(img[i * 3 + bgr]! / 255) - Math.fround(mean[c]!)) / Math.fround(std[c]!));
        const got = x[c * PLANE + i]!;
        if (Math.abs(got - keras) > 1e-6) expect.fail(`torch channel ${c} pixel ${i}: ${got} vs Keras ${keras}`);
      }
    }
  });

  it('a pure blue image is blue in channel 0 for caffe and in channel 2 for torch', () => {
    const blue = new Float32Array(IMAGE_FLOATS);
    for (let i = 0; i < PLANE; i++) blue[i * 3] = 255;
    const caffe = preprocess([blue], 'caffe');
    const torch = preprocess([blue], 'torch');
    const i = Math.floor(rng.nextUnit() * PLANE);
    expect(caffe[i]).toBeCloseTo(255 - 103.939, 4);
    expect(caffe[2 * PLANE + i]).toBeCloseTo(-123.68, 4);
    expect(torch[i]).toBeCloseTo(-0.485 / 0.229, 6);
    expect(torch[2 * PLANE + i]).toBeCloseTo((1 - 0.406) / 0.225, 6);
  });

  it('a batch of three is the three images one after another', () => {
    const imgs = [randomImage(rng), img, randomImage(rng)];
    for (const mode of ['caffe', 'torch'] as const) {
      const batch = preprocess(imgs, mode);
      expect(batch.length).toBe(3 * 3 * PLANE);
      imgs.forEach((im, n) => expect(firstDiff(batch.subarray(n * 3 * PLANE, (n + 1) * 3 * PLANE), preprocess([im], mode)), `${mode} image ${n}`).toBe(-1));
    }
  });

  it('rejects an image of the wrong length', () => {
    expect(() => preprocess([new Float32Array(10)], 'caffe')).toThrow(/image 0 .* 10 floats, expected 150528/);
  });
});

describe('image files', () => {
  it('reads back a written image bit for bit', () => {
    const img = randomImage(new Rng(seedFor(302), 0));
    const f = path.join(dir, 'one.bin');
    fs.writeFileSync(f, new Uint8Array(img.buffer));
    expect(firstDiff(readImage(f), img)).toBe(-1);
  });

  it('a file of the wrong size is an error naming it and the expected bytes', () => {
    const f = path.join(dir, 'short.bin');
    fs.writeFileSync(f, new Uint8Array(IMAGE_BYTES - 4));
    expect(() => readImage(f)).toThrow(`image '${f}' has 602108 bytes, expected 602112 (224x224x3 float32 HWC BGR)`);
    expect(() => readImage(path.join(dir, 'absent.bin'))).toThrow(/absent\.bin' does not exist; expected a 602112-byte/);
  });

  it('a NaN or infinite pixel is an error naming the file and the pixel', () => {
    const rng = new Rng(seedFor(303), 0);
    for (const bad of [Number.NaN, Infinity, -Infinity]) {
      const img = randomImage(rng);
      const i = Math.floor(rng.nextUnit() * IMAGE_FLOATS);
      img[i] = bad;
      const f = path.join(dir, `bad-${String(bad)}.bin`);
      fs.writeFileSync(f, new Uint8Array(img.buffer));
      const [row, col, ch] = [Math.floor(i / (W * 3)), Math.floor(i / 3) % W, 'BGR'[i % 3]];
      expect(() => readImage(f)).toThrow(`image '${f}': pixel value ${i} (row ${row}, column ${col}, channel ${ch}) is ${bad}, expected a finite number (224x224x3 float32 HWC BGR)`);
    }
    // The largest finite float32 is a value, not an error.
    const img = new Float32Array(IMAGE_FLOATS).fill(3.4028234663852886e38);
    const f = path.join(dir, 'max.bin');
    fs.writeFileSync(f, new Uint8Array(img.buffer));
    expect(readImage(f)[IMAGE_FLOATS - 1]).toBe(3.4028234663852886e38);
  });

  it('lists a folder in numeric order, ignoring other files; explicit lists stay as given', () => {
    const d = path.join(dir, 'folder');
    fs.mkdirSync(d);
    for (const n of ['10', '2', '0', '1', '11']) fs.writeFileSync(path.join(d, `${n}.bin`), '');
    fs.writeFileSync(path.join(d, 'notes.txt'), '');
    fs.writeFileSync(path.join(d, 'x.bin'), '');
    expect(listImages(d).map((f) => path.basename(f))).toEqual(['0.bin', '1.bin', '2.bin', '10.bin', '11.bin']);
    const explicit = [path.join(d, '10.bin'), path.join(d, '0.bin')];
    expect(listImages(explicit)).toEqual(explicit);
    expect(listImages(path.join(d, '2.bin'))).toEqual([path.join(d, '2.bin')]);
    expect(() => listImages([path.join(d, '3.bin')])).toThrow(/3\.bin' does not exist/);
    const empty = path.join(dir, 'empty');
    fs.mkdirSync(empty);
    expect(() => listImages(empty)).toThrow(/holds no <i>\.bin images/);
  });
});
