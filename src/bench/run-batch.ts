// One network at one batch size, from decisions to per-layer figures (src/bench/measure.ts has
// the measurements): decide on the calibration images, check on the timing images (a mismatch
// stops here: no timings of a wrong result), time and measure energy interleaved, time every
// conv. Works on any loaded Network, so the CPU test runs it on a small graph.
import type { Network } from '../runtime/network.js';
import type { Calibration } from '../sparsity/calibration.js';
import { checkEngines, decideLayers, energyEngines, layerResults, timeEngines, type SplitInputs } from './measure.js';
import { ENGINES, type CorrectnessResult, type EngineResult, type LayerResult } from './results.js';
import type { Peaks } from './roofline.js';

export const msg = (e: unknown): string => (e instanceof Error ? e.message : String(e));
/** Errors that no other model can avoid: stop the whole bench. */
export const isFatal = (e: unknown): boolean => /no CUDA device/.test(msg(e));

/** Rethrows with `what` in front, so every error says which stage of which run failed. */
export function stage<T>(what: string, f: () => T): T {
  try {
    return f();
  } catch (e) {
    if (isFatal(e)) throw e;
    throw new Error(`${what}: ${msg(e)}`);
  }
}

export interface BatchSettings {
  readonly batch: number;
  readonly rounds: number;
  readonly iters: number;
  readonly layerIters: number;
  /** 0: no energy. */
  readonly energySeconds: number;
  readonly checkInputs: number;
  readonly tolerance: number;
  /** Board power before any GPU work (NVML at bench start), for EnergyStats.idlePowerW. */
  readonly idlePowerW?: number;
}

export interface BatchHooks {
  readonly log?: (s: string) => void;
  /** Called after each of BATCH_STEPS stages. */
  readonly tick?: (what: string) => void;
}

/** Progress steps per batch: decided, checked, timed, energy, layers. */
export const BATCH_STEPS = 5;

export interface BatchOutcome {
  readonly correctness: CorrectnessResult;
  readonly engines: readonly EngineResult[];
  readonly layers: readonly LayerResult[];
  readonly sparseLayers: number;
  /** Set when the correctness check failed (engines and layers are empty then). */
  readonly error?: string;
}

/**
 * Decides, checks, times and measures `net` at `s.batch`. `timingSparsity` is the input sparsity
 * measured on the timing images (the per-layer roofline is drawn for what was timed).
 * Measurement errors are thrown with their stage named; a failed check is returned.
 */
export function benchBatch(net: Network, inputs: SplitInputs, timingSparsity: Calibration, peaks: Peaks, s: BatchSettings, hooks: BatchHooks = {}): BatchOutcome {
  const { batch } = s;
  const log = hooks.log ?? (() => {});
  const tick = hooks.tick ?? (() => {});
  const rounds = { batch, rounds: s.rounds };

  const decided = stage(`b${batch} decisions`, () => decideLayers(net, inputs.calibrate, s.layerIters, { ...rounds, log: (x) => log(`b${batch} decide ${x}`) }));
  net.setDecisions(decided.decisions);
  const sparseLayers = Object.values(decided.decisions).filter((d) => d === 'act-sparse').length;
  log(`b${batch}: ${sparseLayers}/${net.plan.convs.length} convs on generated kernels (measured faster on the calibration images)`);
  tick('decided');

  const check = stage(`b${batch} correctness check`, () => checkEngines(net, inputs.time, batch, s.checkInputs, s.tolerance));
  const { why, ...correctness } = check;
  log(`b${batch}: max rel. error ${ENGINES.map((e) => `${e} ${correctness.maxRelError[e].toExponential(2)}`).join(', ')}; top-5 same ${correctness.topAgree}/${correctness.inputs}`);
  tick('checked');
  if (why !== null) return { correctness, engines: [], layers: [], sparseLayers, error: `correctness: ${why}` };

  const times = stage(`b${batch} timing`, () => timeEngines(net, inputs.time, s.iters, rounds));
  for (const e of ENGINES) {
    const t = times[e];
    log(`b${batch} ${e}: median ${t.medianUs.toFixed(1)} us over ${t.rounds} rounds (rounds ${t.roundMinUs.toFixed(1)}-${t.roundMaxUs.toFixed(1)}, p10 ${t.p10Us.toFixed(1)}, p90 ${t.p90Us.toFixed(1)}, ${t.iters} replays)`);
  }
  tick('timed');

  const energy = s.energySeconds > 0
    ? stage(`b${batch} energy`, () => energyEngines(net, inputs.time, s.energySeconds, s.idlePowerW, rounds))
    : null;
  const engines: EngineResult[] = ENGINES.map((e) => {
    const en = energy?.[e];
    const note = energy === null ? 'not measured (energySeconds 0)' : en?.note;
    if (en?.energy) {
      const x = en.energy;
      log(`b${batch} ${e}: ${x.mJPerInference.toFixed(2)} mJ per inference (rounds ${x.minMJ.toFixed(2)}-${x.maxMJ.toFixed(2)}), ${x.avgPowerW.toFixed(0)} W (idle ${x.idlePowerW.toFixed(0)} W)`);
    } else log(`b${batch} ${e}: energy: ${note}`);
    return { engine: e, time: times[e], energy: en?.energy ?? null, ...(note !== undefined ? { energyNote: note } : {}) };
  });
  tick('energy');

  const layers = stage(`b${batch} per-layer timing`, () => layerResults(net, inputs.time, timingSparsity, decided, peaks, s.layerIters, rounds));
  tick('layers timed');
  return { correctness, engines, layers, sparseLayers };
}
