// What `cusnn-gen bench` needs before the GPU: the model list, which weights each model gets (the
// shared real weights where they exist, synthetic ones elsewhere, named as such), the input
// images (the shared sample images, or seeded random image-like ones), a quick "is there a GPU at
// all" probe, and a generated folder with a built addon per model that is reused when nothing the
// build depends on changed. None of this needs a GPU.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { buildAddon } from '../toolchain/addon.js';
import { generate, type Generated } from '../generate.js';
import { isOnnxModelArg, modelLabel } from '../model/resolve.js';
import { isModelName, MODEL_NAMES } from '../model/zoo/index.js';
import { MAX_BATCH } from '../output/exit.js';
import { packageRoot } from '../paths.js';
import { addonPath, addonTarget } from '../runtime/addon.js';
import { gpuPathSummary } from '../runtime/lower.js';
import { IMAGE_FLOATS, listImages } from '../runtime/images.js';
import { ADDON_MANIFEST, type AddonManifest } from '../toolchain/addon.js';
import { Rng } from '../weights/prng.js';
import { PRUNE_PATTERNS, type PrunePattern } from '../weights/prune.js';

/** `--all`: the order the issue lists them in (the models with real weights first). */
export const ALL_MODELS = ['densenet169', 'densenet201', 'resnet50', 'resnet152', 'resnet101', 'densenet121', 'vgg16', 'vgg19'] as const;

/** The shared artifact's folders, relative to the current directory (used when present). */
export const DEFAULT_WEIGHTS_DIR = join('..', 'shared', 'cusnn-artifact', 'weights');
export const DEFAULT_IMAGES_DIR = join('..', 'shared', 'cusnn-artifact', 'sample_images');

/** `--model a,b` or `--all` to a list of zoo names and ONNX files (no duplicates, in the order given). */
export function expandModels(o: { model?: string; all?: boolean }): string[] {
  if (o.all && o.model) throw new Error('--model and --all exclude each other: give one');
  if (o.all) return [...ALL_MODELS];
  if (!o.model) throw new Error(`give --model <name>[,<name>...] or --all (models: ${MODEL_NAMES.join(', ')})`);
  const names = o.model.split(',').map((s) => s.trim()).filter((s) => s.length > 0);
  if (names.length === 0) throw new Error(`--model: no model named in '${o.model}'`);
  for (const n of names) {
    if (isOnnxModelArg(n)) {
      if (!existsSync(n) || !statSync(n).isFile()) throw new Error(`--model: ONNX model '${n}' does not exist`);
    } else if (!isModelName(n)) {
      throw new Error(`--model: unknown model '${n}' (known: ${MODEL_NAMES.join(', ')}, or an .onnx file)`);
    }
  }
  const labels = new Map<string, string>();
  for (const n of names) {
    const other = labels.get(modelLabel(n));
    if (other !== undefined && other !== n) throw new Error(`--model: '${other}' and '${n}' would share the build folder ${modelLabel(n)}-<arch>: rename one`);
    labels.set(modelLabel(n), n);
  }
  return [...new Set(names)];
}

/** `--batch 1,8,32` to integers in [1, 65535] (MAX_BATCH: the generated launchers' limit; no duplicates, in the order given). */
export function parseBatches(v: string): number[] {
  const parts = v.split(',').map((s) => s.trim());
  const out: number[] = [];
  for (const p of parts) {
    const n = Number(p);
    if (p === '' || !/^\d+$/.test(p) || !Number.isSafeInteger(n) || n < 1 || n > MAX_BATCH) {
      throw new Error(`--batch must be a comma-separated list of positive integers (each <= ${MAX_BATCH}, the launchers' gridDim.z), got '${v}'`);
    }
    if (!out.includes(n)) out.push(n);
  }
  return out;
}

const PRUNE_USAGE = 'a comma-separated list of fractions of zeros in (0, 1), ascending, each once (e.g. 0.8,0.9,0.95; the dense weights always run too)';

/**
 * `--prune 0.8,0.9,0.95`: the target sparsities of the pruned variants, each a decimal fraction in
 * (0, 1), given once, ascending. The error names the value at fault.
 */
export function parsePruneList(v: string): number[] {
  const parts = v.split(',').map((s) => s.trim());
  const inList = parts.length > 1 ? ` (in '${v}')` : '';
  const out: number[] = [];
  for (const p of parts) {
    const n = /^(\d+(\.\d*)?|\.\d+)$/.test(p) ? Number(p) : NaN;
    if (!(n > 0 && n < 1)) {
      const why = Number.isNaN(n) ? 'not a number' : n === 0 ? '0 is the dense run, which always runs' : n === 1 ? '1 leaves no weights' : 'not a fraction';
      throw new Error(`--prune must be ${PRUNE_USAGE}, got '${p}'${inList}: ${why}`);
    }
    if (out.includes(n)) throw new Error(`--prune lists ${p} twice in '${v}': give each sparsity once`);
    if (out.length > 0 && n < out[out.length - 1]!) throw new Error(`--prune must list sparsities in ascending order, got '${v}' (${out[out.length - 1]} before ${p})`);
    out.push(n);
  }
  return out;
}

/** Whether `list` (already numbers) is a valid --prune list for `pattern`; the problem in words, or null. */
export function pruneListProblem(list: readonly number[], pattern: string): string | null {
  if (!(PRUNE_PATTERNS as readonly string[]).includes(pattern)) return `prune pattern must be one of ${PRUNE_PATTERNS.join(', ')}, got '${pattern}'`;
  for (let i = 0; i < list.length; i++) {
    const s = list[i]!;
    if (!(s > 0 && s < 1)) return `prune sparsity must be a fraction in (0, 1), got ${s}`;
    if (i > 0 && !(s > list[i - 1]!)) return `prune sparsities must be distinct and ascending, got ${list.join(', ')}`;
  }
  if (pattern === '2:4' && list.some((s) => s !== 0.5)) {
    return `prune pattern 2:4 keeps 2 of every 4 weights, so its sparsity is 0.5: give 0.5, got ${list.join(', ')}`;
  }
  return null;
}

export const isPrunePattern = (p: string): p is PrunePattern => (PRUNE_PATTERNS as readonly string[]).includes(p);

export interface WeightsChoice {
  readonly kind: 'real' | 'synthetic';
  /** A .safetensors file or a cuSNN .bin folder; null for synthetic weights. */
  readonly path: string | null;
  /** The files may lack tensors (the public snapshot does; `weights import --only-present` leaves them out): those are filled synthetically, and the results notes list them. */
  readonly fillMissing: boolean;
  /** Why this choice, in words. */
  readonly why: string;
}

/**
 * The weights of an ONNX model: its own. The weights of a zoo `model` in `dir` (a folder holding `<model>.safetensors` or a cuSNN `<model>/`
 * folder of .bin files); synthetic (seeded) when `dir` is null or holds neither. The safetensors
 * file wins over the .bin folder. Only names are checked here; the loader validates the contents,
 * and a safetensors file whose metadata says it is synthetic is renamed so after loading.
 */
export function resolveWeights(model: string, dir: string | null): WeightsChoice {
  // An ONNX model brings its weights (its initializers), whatever the weights folder holds: a
  // `resnet50.safetensors` there is the zoo model's, not a torchvision export's of the same name.
  if (isOnnxModelArg(model)) return { kind: 'real', path: model, fillMissing: false, why: `the initializers of ${model}` };
  if (dir === null) return { kind: 'synthetic', path: null, fillMissing: false, why: 'no weights folder' };
  const st = join(dir, `${model}.safetensors`);
  if (existsSync(st) && statSync(st).isFile()) return { kind: 'real', path: st, fillMissing: true, why: `${st} (tensors it lacks filled synthetically)` };
  const bin = join(dir, model);
  if (existsSync(bin) && statSync(bin).isDirectory() && readdirSync(bin).some((f) => f.endsWith('.bin'))) {
    return { kind: 'real', path: bin, fillMissing: true, why: `${bin} (cuSNN .bin folder; missing tensors filled synthetically)` };
  }
  return { kind: 'synthetic', path: null, fillMissing: false, why: `neither ${model}.safetensors nor ${model}/*.bin in ${dir}` };
}

/** `--weights` / `--images` as given, else the shared artifact's folder when it exists, else null. */
export function defaultDir(given: string | undefined, fallback: string): string | null {
  if (given !== undefined) {
    if (!existsSync(given)) throw new Error(`'${given}' does not exist`);
    return given;
  }
  return existsSync(fallback) ? fallback : null;
}

/**
 * Whether this machine can have a CUDA device at all, checked before anything is generated or
 * built: null when it may (nvidia-smi lists a GPU, or /dev/nvidia* exists: the addon has the last
 * word), else why not.
 */
export function gpuAbsentReason(env: NodeJS.ProcessEnv = process.env): string | null {
  const vis = env.CUDA_VISIBLE_DEVICES;
  if (vis !== undefined && (vis.trim() === '' || vis.trim() === '-1' || vis.trim().toLowerCase() === 'none')) {
    return `CUDA_VISIBLE_DEVICES='${vis}' hides every GPU`;
  }
  const smi = spawnSync('nvidia-smi', ['-L'], { encoding: 'utf8', timeout: 20_000 });
  if (smi.status === 0 && /GPU \d+:/.test(smi.stdout ?? '')) return null;
  let dev = false;
  try {
    dev = readdirSync('/dev').some((f) => /^nvidia\d+$/.test(f));
  } catch {
    dev = false;
  }
  if (dev) return null;
  const smiWhy = smi.error ? 'nvidia-smi not found' : `nvidia-smi ${smi.status === 0 ? 'lists no GPU' : `failed (exit ${smi.status ?? 'signal'})`}`;
  return `${smiWhy} and there is no /dev/nvidia* device`;
}

// ------------------------------------------------------------------------------------------------
// Input images

/**
 * Seeded random image-like inputs in the artifact's format (224x224x3 float32 HWC, 0..255): a
 * colour per image, a smooth low-frequency pattern and pixel noise (a uniform image is far from
 * real statistics). Written once to `<dir>/<i>.bin` and reused; returns the files.
 */
export function randomImages(dir: string, count: number, seed: number): string[] {
  mkdirSync(dir, { recursive: true });
  const files: string[] = [];
  for (let i = 0; i < count; i++) {
    const f = join(dir, `${i}.bin`);
    files.push(f);
    if (existsSync(f) && statSync(f).size === IMAGE_FLOATS * 4) continue;
    const rng = Rng.forKey(seed >>> 0, `bench-image-${i}`);
    const base = [rng.uniform(40, 215), rng.uniform(40, 215), rng.uniform(40, 215)];
    const fx = rng.uniform(0.01, 0.08);
    const fy = rng.uniform(0.01, 0.08);
    const px = rng.uniform(0, 6.28);
    const py = rng.uniform(0, 6.28);
    const img = new Float32Array(IMAGE_FLOATS);
    for (let y = 0; y < 224; y++) {
      for (let x = 0; x < 224; x++) {
        const wave = 60 * Math.sin(x * fx + px) * Math.cos(y * fy + py);
        for (let c = 0; c < 3; c++) {
          const v = base[c]! + wave * (c === 1 ? -1 : 1) + rng.uniform(-40, 40);
          img[(y * 224 + x) * 3 + c] = Math.min(255, Math.max(0, v));
        }
      }
    }
    writeFileSync(f, Buffer.from(img.buffer));
  }
  return files;
}

export interface BenchImages {
  readonly files: readonly string[];
  /** For results.json: where the inputs came from. */
  readonly describe: string;
  readonly random: boolean;
}

/** The images of `dir` (at most `max`), or `count` seeded random ones written under `randomDir`. */
export function benchImages(dir: string | null, randomDir: string, seed: number, max = 32, count = 16): BenchImages {
  if (dir !== null) {
    const files = listImages(dir).slice(0, max);
    return { files, describe: `${files.length} images from ${dir}`, random: false };
  }
  const files = randomImages(join(randomDir, `random-images-seed${seed}`), count, seed);
  return { files, describe: `random image-like (seed ${seed}, ${files.length} images)`, random: true };
}

/** `batch` files starting at `offset`, cycling through `files` (repeated when the batch is larger). */
export function batchFiles(files: readonly string[], batch: number, offset = 0): string[] {
  if (files.length === 0) throw new Error('no input images');
  return Array.from({ length: batch }, (_, i) => files[(offset + i) % files.length]!);
}

// ------------------------------------------------------------------------------------------------
// Generated folder and addon, reused across runs

const STAMP = 'cusnn-bench-build.json';

function filesUnder(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir).filter((f) => statSync(join(dir, f)).isFile()).sort().map((f) => join(dir, f));
}

/**
 * What the addon is compiled from: the folder's kernels and CMakeLists.txt, the native runtime
 * sources, the shared CMake logic and the target arch. plan.json, report.md and the weights are
 * read at run time and do not count.
 */
export function buildFingerprint(dir: string, arch: string): string {
  const h = createHash('sha256');
  h.update(`arch ${arch}\n`);
  const root = packageRoot();
  const inputs = [
    ...filesUnder(join(dir, 'kernels')).filter((f) => f.endsWith('.cu')),
    join(dir, 'CMakeLists.txt'),
    ...filesUnder(join(root, 'src', 'native')),
    ...filesUnder(join(root, 'cmake')),
    join(root, 'CMakeLists.txt'),
  ];
  for (const f of inputs) {
    h.update(`${relative(root, resolve(f))}\n`);
    h.update(existsSync(f) ? readFileSync(f) : Buffer.from('(missing)'));
    h.update('\n');
  }
  return h.digest('hex');
}

/** Writes `text` to `file` only when it differs (mtimes of unchanged files stay, so Ninja rebuilds nothing). */
function writeIfChanged(file: string, text: Buffer): boolean {
  if (existsSync(file) && readFileSync(file).equals(text)) return false;
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, text);
  return true;
}

export interface PreparedFolder {
  readonly dir: string;
  readonly generated: Generated;
  /** True when the addon of an earlier run was reused (nothing it is built from changed), its own or another folder's. */
  readonly reused: boolean;
  /** Set when the addon is another folder's (the same kernels: a pruned variant of the same model): that folder. */
  readonly reusedFrom?: string;
  readonly buildSeconds: number;
  readonly kernels: number;
}

export interface PrepareOptions {
  readonly model: string;
  readonly arch: string;
  readonly weights: WeightsChoice;
  readonly seed: number;
  readonly buildDir: string;
  /** The folder's name under buildDir (default `<model>-<arch>`; a pruned variant's `<model>-<arch>-p0.90`). */
  readonly name?: string;
  /** Folders prepared before (the same model with other weights): one whose kernels are this folder's lends its addon instead of a build. */
  readonly reuse?: readonly PreparedFolder[];
  readonly jobs?: number;
  /**
   * The batch sizes to plan (any order; default [1]): the folder gets one plan per batch, each
   * with its own kernels (the rule picks other tiles at larger batches), all in one addon.
   */
  readonly batches?: readonly number[];
  /** A tune cache whose winners for `gpu` decide the kernels of matching convs (cusnn-gen tune). */
  readonly tune?: { readonly cache: string; readonly gpu: string };
  /** false: plan without residual fusion (src/plan/residual.ts); default true. */
  readonly fuseResidual?: boolean;
  readonly log: (s: string) => void;
}

/** The batches a folder is planned for: ascending, each once (generate's order), [1] when none are given. */
export function plannedBatches(batches: readonly number[] | undefined): number[] {
  return batches === undefined || batches.length === 0 ? [1] : [...new Set(batches)].sort((a, b) => a - b);
}

/**
 * What makes two folders' addons interchangeable: the arch, the folder's kernels (names and
 * bytes) and CMakeLists.txt. The native runtime and the shared CMake are the same package for
 * both. Unlike buildFingerprint, it does not depend on where the folder is.
 */
export function kernelsFingerprint(dir: string, arch: string): string {
  const h = createHash('sha256');
  h.update(`arch ${arch}\n`);
  for (const f of [...filesUnder(join(dir, 'kernels')).filter((x) => x.endsWith('.cu')), join(dir, 'CMakeLists.txt')]) {
    h.update(`${relative(dir, f)}\n`);
    h.update(existsSync(f) ? readFileSync(f) : Buffer.from('(missing)'));
    h.update('\n');
  }
  return h.digest('hex');
}

/**
 * Points `dir`'s addon manifest at `donor`'s built addon (its .node, by a path relative to
 * `<dir>/build`): the folder then loads that addon, the one module a process loads once.
 */
function lendAddon(dir: string, donor: string, node: string, arch: string, model: string): void {
  const build = join(dir, 'build');
  mkdirSync(build, { recursive: true });
  let base: Partial<AddonManifest> = {};
  try {
    base = JSON.parse(readFileSync(join(donor, 'build', ADDON_MANIFEST), 'utf8')) as Partial<AddonManifest>;
  } catch {
    base = {};
  }
  const manifest: AddonManifest = {
    format: 'cusnn-addon/1', target: base.target ?? addonTarget(model, arch), generatedArch: base.generatedArch ?? arch, arch: base.arch ?? arch,
    nvcc: base.nvcc ?? null, seconds: 0, node: relative(build, node),
  };
  writeFileSync(join(build, ADDON_MANIFEST), `${JSON.stringify(manifest)}\n`);
}

/**
 * Generates `<buildDir>/<model>-<arch>` (or `<buildDir>/<name>`) with every eligible conv on a
 * generated kernel (force act-sparse: the measured decisions pick per layer later) and builds its
 * addon. The folder is generated into a sibling staging folder first and copied over file by file
 * where the bytes differ, so an unchanged kernel keeps its mtime; the build is skipped altogether
 * when the fingerprint of everything it is compiled from matches the last build's, or when a
 * folder of `reuse` has the same kernels (kernelsFingerprint): its addon is lent (the manifest
 * points at it; the stamp says so, and a later call lends it again only if the kernels still match).
 */
export async function prepareFolder(o: PrepareOptions): Promise<PreparedFolder> {
  const name = o.name ?? `${modelLabel(o.model)}-${o.arch}`;
  const dir = join(o.buildDir, name);
  const stage = join(o.buildDir, `.stage-${name}`);
  rmSync(stage, { recursive: true, force: true });
  let generated: Generated;
  try {
    generated = generate({ model: o.model, arch: o.arch, weights: o.weights.path ?? undefined, fillMissing: o.weights.fillMissing,
      seed: o.seed, force: 'act-sparse', out: stage, log: (s) => o.log(`[generate] ${s}`), batch: plannedBatches(o.batches),
      ...(o.tune ? { tuneCache: o.tune.cache, gpu: o.tune.gpu } : {}), ...(o.fuseResidual === false ? { fuseResidual: false } : {}) });
    // A network the GPU path cannot run (an ONNX model with several outputs, a group count that does not divide its
    // channels, ...) is not built.
    const unsupported = gpuPathSummary(generated.graph);
    if (unsupported !== null) throw new Error(unsupported);
    const emitted = new Set(generated.emitted.files);
    for (const f of generated.emitted.files) writeIfChanged(join(dir, f), readFileSync(join(stage, f)));
    // Kernels of an earlier plan that this one no longer has.
    for (const f of filesUnder(join(dir, 'kernels'))) {
      if (f.endsWith('.cu') && !emitted.has(relative(dir, f))) rmSync(f);
    }
  } finally {
    rmSync(stage, { recursive: true, force: true });
  }
  const fingerprint = buildFingerprint(dir, o.arch);
  const stampFile = join(dir, 'build', STAMP);
  let stamp: { fingerprint?: string; reusedFrom?: string } = {};
  try {
    stamp = JSON.parse(readFileSync(stampFile, 'utf8')) as { fingerprint?: string; reusedFrom?: string };
  } catch {
    stamp = {};
  }
  const kernels = generated.emitted.kernels.length;
  const done = { dir, generated: { ...generated, emitted: { ...generated.emitted, dir } }, kernels };
  // A lent addon is another folder's, which may have been rebuilt since: it is lent again below or not at all.
  if (stamp.fingerprint === fingerprint && stamp.reusedFrom === undefined && addonPath(dir) !== null) {
    o.log(`[build] ${dir}: unchanged since the last build (fingerprint ${fingerprint.slice(0, 12)}): reused`);
    return { ...done, reused: true, buildSeconds: 0 };
  }
  const mine = (o.reuse ?? []).length > 0 ? kernelsFingerprint(dir, o.arch) : null;
  for (const donor of o.reuse ?? []) {
    if (kernelsFingerprint(donor.dir, o.arch) !== mine) continue;
    const node = addonPath(donor.dir);
    if (node === null) continue;
    lendAddon(dir, donor.dir, node, o.arch, generated.graph.name);
    writeFileSync(stampFile, `${JSON.stringify({ fingerprint, arch: o.arch, kernels, reusedFrom: resolve(donor.dir), node, at: new Date().toISOString() }, null, 2)}\n`);
    o.log(`[build] ${dir}: the same kernels as ${donor.dir}: its addon reused (${node})`);
    return { ...done, reused: true, reusedFrom: donor.dir, buildSeconds: 0 };
  }
  if (stamp.reusedFrom !== undefined) rmSync(join(dir, 'build', ADDON_MANIFEST), { force: true }); // no longer the donor's kernels: a build of its own
  const t0 = performance.now();
  await buildAddon(dir, { arch: o.arch, jobs: o.jobs, log: (s) => o.log(`[build] ${s}`) });
  const buildSeconds = (performance.now() - t0) / 1000;
  writeFileSync(stampFile, `${JSON.stringify({ fingerprint, arch: o.arch, kernels, builtAt: new Date().toISOString() }, null, 2)}\n`);
  return { ...done, reused: false, buildSeconds };
}
