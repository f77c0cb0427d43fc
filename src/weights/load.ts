// Where weights come from, decided by the path the user gives: nothing -> synthetic, a folder ->
// the cuSNN .bin layout, a `.safetensors` file -> cusnn's own format.
import * as fs from 'node:fs';
import type { Graph } from '../model/ir.js';
import { readCusnnBin } from './cusnn-bin.js';
import { readSafetensors, writeSafetensors, type Storage } from './safetensors.js';
import type { WeightSet } from './store.js';
import { syntheticWeights } from './synthetic.js';

export interface LoadOptions {
  /** A cuSNN .bin folder or a .safetensors file; absent -> synthetic weights. */
  readonly path?: string | undefined;
  /** Seed of synthetic weights (and of filled tensors); default 0. */
  readonly seed?: number | undefined;
  /** Fill layers missing from a .bin folder (tensors missing from a .safetensors file) synthetically instead of failing; they are labelled filled. */
  readonly fillMissing?: boolean | undefined;
}

const EXPECTED = 'a cuSNN weight folder (<layer>.bin files) or a .safetensors file';

export function loadWeights(graph: Graph, o: LoadOptions = {}): WeightSet {
  if (o.path === undefined || o.path === '') return syntheticWeights(graph, o.seed ?? 0);
  const p = o.path;
  let st: fs.Stats;
  try {
    st = fs.statSync(p);
  } catch (e) {
    const why = (e as NodeJS.ErrnoException).code === 'ENOENT' ? 'does not exist' : `cannot be read (${(e as Error).message})`;
    throw new Error(`weights path '${p}' ${why}; expected ${EXPECTED}`);
  }
  if (st.isDirectory()) return readCusnnBin(p, graph, { fillMissing: o.fillMissing ?? false, seed: o.seed ?? 0 });
  if (st.isFile() && p.endsWith('.safetensors')) return readSafetensors(p, graph, { fillMissing: o.fillMissing ?? false, seed: o.seed ?? 0 }).weights;
  throw new Error(`weights path '${p}' is neither a folder nor a .safetensors file; expected ${EXPECTED}`);
}

/** Saves `ws` as a cusnn safetensors file (the only single-file format written). */
export function saveWeights(path: string, graph: Graph, ws: WeightSet, storage: Storage = 'fp32', o: { readonly omitFilled?: boolean } = {}): void {
  if (!path.endsWith('.safetensors')) throw new Error(`weights output '${path}' must end in .safetensors`);
  writeSafetensors(path, graph, ws, storage, o);
}
