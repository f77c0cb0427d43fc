// calibration.json: per-conv input sparsity measured on the GPU over real images (written by
// `cusnn-gen calibrate`, read by the planner). Checked strictly: a calibration of another model
// or a malformed figure is an error naming the file and the layer.
import { readFileSync } from 'node:fs';
import type { KernelTiles } from '../families/registry.js';

export interface Calibration {
  readonly format: 'cusnn-calibration/1';
  readonly model: string;
  /** Images the figures are averaged over. */
  readonly images: number;
  readonly weights?: string;
  /** Conv layer name -> fraction of zeros in its input, and (when timed) both paths' times. */
  readonly layers: Readonly<Record<string, CalibratedLayer>>;
  /** The GPU the times were measured on (present when any layer has `measured`). */
  readonly gpu?: string;
  readonly arch?: string;
}

export interface CalibratedLayer {
  readonly inputSparsity: number;
  /** Both paths timed alone on the GPU (median of CUDA-graph replays, batch 1, the last image's activations). */
  readonly measured?: {
    readonly kernel: string;
    /** The kernel's tiles; `family: 'igemm'` for that family, absent for act-sparse. */
    readonly tiles: KernelTiles;
    readonly cudnnUs: number;
    readonly cudnnAlgo: string;
    readonly actSparseUs: number;
  };
}

export function readCalibration(path: string, model: string): Calibration {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    throw new Error(`calibration ${path}: cannot read (${(e as Error).message})`);
  }
  const cal = raw as Partial<Calibration>;
  if (cal.format !== 'cusnn-calibration/1') throw new Error(`calibration ${path}: expected "format": "cusnn-calibration/1", got ${JSON.stringify(cal.format)}`);
  if (cal.model !== model) throw new Error(`calibration ${path}: measured on model '${cal.model}', not '${model}'`);
  if (typeof cal.images !== 'number' || cal.images < 1) throw new Error(`calibration ${path}: "images" must be a positive count`);
  if (typeof cal.layers !== 'object' || cal.layers === null) throw new Error(`calibration ${path}: "layers" missing`);
  for (const [layer, v] of Object.entries(cal.layers)) {
    const x = (v as { inputSparsity?: unknown }).inputSparsity;
    if (typeof x !== 'number' || !(x >= 0 && x <= 1)) {
      throw new Error(`calibration ${path}: layer '${layer}' inputSparsity must be a number in [0, 1], got ${JSON.stringify(x)}`);
    }
    const m = (v as CalibratedLayer).measured;
    if (m === undefined) continue;
    const t = m.tiles as Record<string, unknown> | undefined;
    const ok = typeof m.kernel === 'string' && typeof m.cudnnUs === 'number' && m.cudnnUs > 0 && typeof m.actSparseUs === 'number' && m.actSparseUs > 0 &&
      t !== undefined && (t.family === 'igemm' ? ['bm', 'bn', 'bkc', 'tm', 'tn', 'warpM', 'split', 'stages'] : ['th', 'tw', 'tc', 'kb', 'cs'])
        .every((k) => Number.isInteger(t[k]) && (t[k] as number) > 0);
    if (!ok) throw new Error(`calibration ${path}: layer '${layer}' "measured" must have kernel, tiles {th,tw,tc,kb,cs}, cudnnUs > 0 and actSparseUs > 0, got ${JSON.stringify(m)}`);
    if (typeof cal.arch !== 'string' || typeof cal.gpu !== 'string') throw new Error(`calibration ${path}: layer '${layer}' has "measured" times but the file names no "gpu" and "arch"`);
  }
  return cal as Calibration;
}
