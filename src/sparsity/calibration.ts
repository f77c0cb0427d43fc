// calibration.json: per-conv input sparsity measured on the GPU over real images (written by
// `cusnn-gen calibrate`, read by the planner). Checked strictly: a calibration of another model
// or a malformed figure is an error naming the file and the layer.
import { readFileSync } from 'node:fs';

export interface Calibration {
  readonly format: 'cusnn-calibration/1';
  readonly model: string;
  /** Images the figures are averaged over. */
  readonly images: number;
  readonly weights?: string;
  /** Conv layer name -> fraction of zeros in its input. */
  readonly layers: Readonly<Record<string, { readonly inputSparsity: number }>>;
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
  }
  return cal as Calibration;
}
