// cusnn-bench/1 files (the committed H100 results in docs/results/) read as cusnn-bench/2: what
// /1 did not measure is said so, never invented. One round (the engines were timed one after
// the other, not interleaved), the energy window's value as its own range, no layer spreads (so
// no verdicts), no decision records, no image split, the roofline peaks from the profile. What /1
// got wrong is corrected: a cuDNN-path layer's "speedup" (both engines ran cuDNN) becomes null.
import type {
  BenchResults, BenchSettings, EnergyStats, EngineResult, GpuInfo, LayerResult, ModelResult, TimingStats,
} from './results.js';
import { RESULTS_FORMAT } from './results.js';

type V1Timing = Omit<TimingStats, 'rounds' | 'roundMinUs' | 'roundMaxUs'>;
type V1Energy = Omit<EnergyStats, 'rounds' | 'minMJ' | 'maxMJ'>;
type V1Engine = Omit<EngineResult, 'time' | 'energy'> & { readonly time: V1Timing; readonly energy: V1Energy | null };
type V1Layer = Omit<LayerResult, 'speedup' | 'cusnnSpreadUs' | 'cudnnSpreadUs' | 'verdict' | 'decision'> & { readonly speedup: number };
type V1Run = Omit<ModelResult, 'engines' | 'layers' | 'images'> & { readonly engines: readonly V1Engine[]; readonly layers: readonly V1Layer[] };
type V1Gpu = Omit<GpuInfo, 'roofline'>;

/** A validated cusnn-bench/1 document. */
export interface V1Results extends Omit<BenchResults, 'format' | 'gpu' | 'runs' | 'settings'> {
  readonly format: 'cusnn-bench/1';
  readonly gpu: V1Gpu;
  readonly runs: readonly V1Run[];
  readonly settings?: Omit<BenchSettings, 'rounds'>;
}

const engine = (e: V1Engine): EngineResult => ({
  ...e,
  time: { ...e.time, rounds: 1, roundMinUs: e.time.medianUs, roundMaxUs: e.time.medianUs },
  energy: e.energy === null ? null : { ...e.energy, rounds: 1, minMJ: e.energy.mJPerInference, maxMJ: e.energy.mJPerInference },
});

const layer = (l: V1Layer): LayerResult => ({
  ...l,
  cusnnSpreadUs: null,
  cudnnSpreadUs: null,
  speedup: l.path === 'act-sparse' ? l.speedup : null,
  verdict: null,
  decision: null,
});

export function migrateV1(r: V1Results): BenchResults {
  const board = r.gpu.profileBoard ?? 'arch';
  const { settings, ...rest } = r;
  return {
    ...rest,
    format: RESULTS_FORMAT,
    gpu: { ...r.gpu, roofline: { source: 'profile', note: `peaks of the ${board} profile: a cusnn-bench/1 file, nothing was measured on the GPU` } },
    runs: r.runs.map((m) => ({ ...m, images: null, engines: m.engines.map(engine), layers: m.layers.map(layer) })),
    ...(settings ? { settings: { ...settings, rounds: 1 } } : {}),
  };
}
