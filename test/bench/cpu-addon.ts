// A fake native addon backed by the CPU interpreter of a Program (src/runtime/program-cpu.ts):
// outputs are really computed (every engine agrees because the lowering is right, not because the
// fake says so), and times are drawn from a hidden "true" time per conv path with per-replay
// noise and a per-call drift, so the bench's decisions, margins, ties and cuDNN fallbacks meet
// noisy figures, as on a GPU. It records what was run and timed, in order, so tests can check
// which images decided and which were timed, and that the engines were interleaved.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type {
  ConvAlgorithm, CusnnAddon, DeviceInfo, EnergyMeasurement, NativeRuntime, RooflineMeasurement, RuntimeInfo, RuntimeOptions, Timing,
} from '../../src/runtime/addon.js';
import { runProgramCpu, type CpuRun } from '../../src/runtime/program-cpu.js';
import type { Program, View } from '../../src/runtime/program.js';

/** The "true" median time of a conv on each path, microseconds, and its replay noise. */
export interface ConvTruth {
  readonly generatedUs: number;
  readonly cudnnUs: number;
  /** Relative standard deviation of one replay (lognormal). */
  readonly sigma: number;
}

export type Engine3 = 'static' | 'cudnn' | 'implicit-gemm';

export interface CpuAddonEvent {
  readonly what: 'run' | 'timeForward' | 'timeStep' | 'measureEnergy';
  readonly engine: Engine3;
  readonly batch: number;
  /** For run: a key of the input (CpuAddon.keyOf); for the others: the key of the runtime's last input. */
  readonly input: string;
  readonly iters?: number;
  readonly layer?: string;
}

export interface CpuAddonConfig {
  readonly truth: ReadonlyMap<string, ConvTruth>;
  /** Other steps' time, microseconds. */
  readonly otherUs: number;
  /** Relative standard deviation of a whole call (a round): clocks drifting between calls. */
  readonly drift: number;
  /** Board power per engine while replaying, watts; energy windows get their own noise. */
  readonly powerW: Readonly<Record<Engine3, number>>;
  /** Relative error added to the outputs of this engine (a broken path). */
  readonly perturb?: Engine3;
  /** probeRoofline: figures to return, 'throw', or absent (an addon built before the probe). */
  readonly probe?: RooflineMeasurement | 'throw';
  /** Tune tests: the true time of a generated kernel on a layer (absent or undefined: the layer's generatedUs). */
  readonly kernelUs?: (kernel: string, layer: string) => number | undefined;
  /** Tune tests: generated kernels whose outputs come out wrong (relative error about 1e-3). */
  readonly wrongKernels?: ReadonlySet<string>;
  /** Uniform [0, 1) generator (seeded). */
  readonly random: () => number;
}

const DEVICE: DeviceInfo = {
  name: 'CPU fake GPU', computeCapability: '9.0', sm: 'sm_90', multiprocessors: 132, globalMemoryBytes: 80e9, l2Bytes: 50e6,
  driverVersion: 13000, runtimeVersion: 13000, cudnnVersion: 91400, cublasVersion: '13.0.0', buildArch: 'sm_90',
};

const quantile = (sorted: readonly number[], q: number): number => sorted[Math.min(sorted.length - 1, Math.max(0, Math.round(q * (sorted.length - 1))))]!;

export class CpuAddon implements CusnnAddon {
  readonly events: CpuAddonEvent[] = [];
  probeRoofline?: (device?: number, copyBytes?: number) => RooflineMeasurement;

  constructor(readonly config: CpuAddonConfig) {
    const p = config.probe;
    if (p !== undefined) {
      this.probeRoofline = () => {
        if (p === 'throw') throw new Error('probeRoofline: cudaMalloc failed: cudaErrorMemoryAllocation (out of memory)');
        return p;
      };
    }
  }

  /** A short key of an input batch (its first values), to tell which images it holds. */
  static keyOf(x: Float32Array | Float64Array): string {
    return Array.from(x.subarray(0, 4), (v) => v.toFixed(6)).join(',');
  }

  private normal(): number {
    const r = this.config.random;
    return Math.sqrt(-2 * Math.log(1 - r())) * Math.cos(2 * Math.PI * r());
  }

  /** `iters` noisy replays of a call whose true median is `us`: median, p10, p90. */
  private replays(us: number, sigma: number, iters: number): Timing {
    const drift = 1 + this.config.drift * this.normal();
    const xs = Array.from({ length: Math.max(1, iters) }, () => us * drift * Math.exp(sigma * this.normal())).sort((a, b) => a - b);
    return { medianUs: quantile(xs, 0.5), p10Us: quantile(xs, 0.1), p90Us: quantile(xs, 0.9), iters };
  }

  deviceInfo(): DeviceInfo {
    return DEVICE;
  }

  buildInfo() {
    return { buildArch: 'sm_90', generatedArch: 'sm_90', cudnnHeaderVersion: 91400, cudaRuntimeHeaderVersion: 13000, kernels: [] };
  }

  kernels(): string[] {
    return [];
  }

  gpuSample() {
    return { smMHz: 1980, memMHz: 2619, temperatureC: 40, powerW: 70, driver: '580.65.06', name: DEVICE.name, pciBusId: '00000000:00:00.0', notes: '' };
  }

  createRuntime(programJson: string, tensors: readonly Float32Array[], options: RuntimeOptions): NativeRuntime {
    const program = JSON.parse(programJson) as Program;
    const engine: Engine3 = options.mode === 'cudnn' ? (options.algo === 'implicit-gemm' ? 'implicit-gemm' : 'cudnn') : 'static';
    const cfg = this.config;
    const events = this.events;
    let last: CpuRun | null = null;
    let lastKey = '';
    let disposed = false;
    const live = (): CpuRun => {
      if (disposed) throw new Error('this runtime was disposed');
      if (!last) throw new Error('no input yet: call run(input) once first');
      return last;
    };
    const pack = (v: View): Float32Array => {
      const buf = live().buffers[v.buf]!;
      const plane = v.c * v.h * v.w;
      const out = new Float32Array(program.batch * plane);
      for (let n = 0; n < program.batch; n++) for (let i = 0; i < plane; i++) out[n * plane + i] = buf[v.offset + n * v.batchStride + i]!;
      return out;
    };
    // A conv's true time on the path this runtime runs it on; IMPLICIT_GEMM is cuDNN's slower algorithm.
    const stepUs = (i: number): { us: number; sigma: number } => {
      const s = program.steps[i]!;
      if (s.op !== 'conv') return { us: cfg.otherUs, sigma: 0.01 };
      const t = cfg.truth.get(s.layer);
      if (!t) throw new Error(`CpuAddon: no true time for conv ${s.layer}`);
      const generated = engine === 'static' && s.path === 'act-sparse';
      const us = generated ? (s.kernel !== null ? cfg.kernelUs?.(s.kernel, s.layer) : undefined) ?? t.generatedUs : engine === 'implicit-gemm' ? 1.6 * t.cudnnUs : t.cudnnUs;
      return { us: us * program.batch, sigma: t.sigma };
    };
    const forwardUs = (): number => program.steps.reduce((a, _, i) => a + stepUs(i).us, 0);
    const self = this;
    return {
      run(x: Float32Array): Float32Array {
        if (disposed) throw new Error('this runtime was disposed');
        last = runProgramCpu(program, tensors, x);
        lastKey = CpuAddon.keyOf(x);
        events.push({ what: 'run', engine, batch: program.batch, input: lastKey });
        if (cfg.perturb === engine) {
          for (const b of last.buffers) for (let i = 0; i < b.length; i++) b[i] = b[i]! * (1 + 1e-3 * Math.sin(i));
        }
        // A broken generated kernel: only its own output is off.
        for (const s of program.steps) {
          if (engine !== 'static' || s.op !== 'conv' || s.path !== 'act-sparse' || s.kernel === null || !cfg.wrongKernels?.has(s.kernel)) continue;
          const b = last.buffers[s.out.buf]!;
          for (let n = 0; n < program.batch; n++) {
            const at = s.out.offset + n * s.out.batchStride;
            for (let i = 0; i < s.out.c * s.out.h * s.out.w; i++) b[at + i] = b[at + i]! * (1 + 1e-3 * Math.sin(i + 1));
          }
        }
        return pack(program.output);
      },
      runEager(x: Float32Array): Float32Array {
        return this.run(x);
      },
      readView(name: string): Float32Array {
        const v = name === '@output' ? program.output : name === '@input' ? program.input : program.views[name];
        if (!v) throw new Error(`readView: no view '${name}'`);
        return pack(v);
      },
      readBuffer(index: number): Float32Array {
        return Float32Array.from(live().buffers[index]!);
      },
      fillBuffers(): void {},
      zeroCounts(): Float64Array {
        return Float64Array.from(live().zeroCounts);
      },
      branches(): Int32Array {
        return new Int32Array(program.steps.length).fill(-1);
      },
      timeForward(iters = 100): Timing {
        live();
        events.push({ what: 'timeForward', engine, batch: program.batch, input: lastKey, iters });
        return self.replays(forwardUs(), 0.01, iters);
      },
      timeStep(stepIndex: number, iters = 100): Timing {
        live();
        const s = program.steps[stepIndex];
        if (!s) throw new Error(`timeStep: step ${stepIndex} is out of range`);
        events.push({ what: 'timeStep', engine, batch: program.batch, input: lastKey, iters, layer: s.layer });
        const { us, sigma } = stepUs(stepIndex);
        return self.replays(us, sigma, iters);
      },
      measureEnergy(minSeconds = 2): EnergyMeasurement {
        live();
        events.push({ what: 'measureEnergy', engine, batch: program.batch, input: lastKey });
        const replayUs = forwardUs() * (1 + cfg.drift * self.normal());
        const inferences = Math.ceil((minSeconds * 1e6) / replayUs);
        const windowSeconds = (inferences * replayUs) / 1e6;
        const avgPowerW = cfg.powerW[engine] * (1 + 0.01 * self.normal());
        const energyMj = avgPowerW * windowSeconds * 1000;
        return { mJPerInference: energyMj / inferences, windowSeconds, inferences, avgPowerW, idlePowerW: 75, replayUs, energyMj, gpu: DEVICE.name };
      },
      algorithms(): ConvAlgorithm[] {
        return program.steps.flatMap((s, i): ConvAlgorithm[] => (s.op === 'conv' && (engine !== 'static' || s.path === 'cudnn')
          ? [{ step: i, layer: s.layer, algo: 1, algoName: engine === 'implicit-gemm' ? 'IMPLICIT_GEMM' : 'IMPLICIT_PRECOMP_GEMM', us: -1, workspaceBytes: 0, cached: false, candidates: [] }]
          : []));
      },
      info(): RuntimeInfo {
        return { model: program.model, batch: program.batch, steps: program.steps.length, mode: options.mode, math: 'fp32', algo: options.algo ?? 'search',
          conditional: 'none', bodyFallbacks: 0, bodyNote: '', deviceBytes: 0, inputFloats: 0, outputFloats: 0 };
      },
      dispose(): void {
        disposed = true;
      },
    };
  }
}

const SLOT = '__cusnnCpuAddon';

/**
 * Makes `dir` load `addon` as its built addon: a CommonJS file that forwards every export to the
 * object in globalThis[SLOT] (set again by each test; require() caches the file, not the object).
 */
export function installCpuAddon(dir: string, addon: CpuAddon): void {
  (globalThis as Record<string, unknown>)[SLOT] = addon;
  mkdirSync(join(dir, 'build'), { recursive: true });
  const names = ['deviceInfo', 'buildInfo', 'kernels', 'gpuSample', 'createRuntime', 'probeRoofline'];
  const js = [`'use strict';`, `const a = () => globalThis.${SLOT};`,
    ...names.map((n) => `Object.defineProperty(exports, '${n}', { enumerable: true, get: () => (typeof a()['${n}'] === 'function' ? a()['${n}'].bind(a()) : undefined) });`)].join('\n');
  writeFileSync(join(dir, 'build', 'cpu-addon.cjs'), `${js}\n`);
  // The target of the folder's plan, as `cusnn-gen build` names it (addonPath refuses another model's addon).
  const plan = existsSync(join(dir, 'plan.json')) ? (JSON.parse(readFileSync(join(dir, 'plan.json'), 'utf8')) as { model: string; arch: string }) : null;
  const target = plan ? `cusnn_${plan.model}_${plan.arch}` : 'cpu-fake';
  writeFileSync(join(dir, 'build', 'cusnn-addon.json'), JSON.stringify({ format: 'cusnn-addon/1', node: 'cpu-addon.cjs', target }));
}
