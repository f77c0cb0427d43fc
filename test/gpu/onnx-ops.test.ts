// MobileNet's ops through the whole GPU path: small ONNX models (test/onnx/models.ts: depthwise convs
// with channel multipliers 1 and 2, stride 2 with asymmetric SAME_UPPER padding, ReLU6 fused after
// cuDNN and after a generated kernel and as a step of its own, AveragePool excluding and including
// its padding, a MaxPool excluding it over negative values, a softmax over the channels of a map;
// and the MobileNet-like classifier) generated for the local GPU with every eligible conv forced
// onto a generated kernel, built, loaded and run in static, dynamic and cuDNN-only modes, against
// the float64 reference `run --cpu` computes (relative L2 <= 1e-5 on fp32, outputs and logits);
// then the CLI itself: `run <dir> --input x.npy --save` against `run --cpu <dir> --input x.npy --save`.
// Fresh random weights and inputs (CUSNN_TEST_SEED repeats a run). Skips, with the reason, where
// there is no NVIDIA GPU or nvcc.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { npyBytes } from '../../src/cli/run.js';
import { readNpy } from '../../src/cli/run-cpu.js';
import { generate } from '../../src/generate.js';
import { loadNetwork } from '../../src/runtime/network.js';
import { referenceForward } from '../../src/runtime/reference.js';
import { buildAddon } from '../../src/toolchain/addon.js';
import { findNvcc } from '../../src/toolchain/nvcc.js';
import { needsBuiltCli, runCli } from '../helpers/cli.js';
import { Random, relL2 } from '../onnx/helpers.js';
import { mobileOpsLike, mobilenetLike, type TestModel } from '../onnx/models.js';

function gpuReason(): string | null {
  const smi = spawnSync('nvidia-smi', ['-L'], { encoding: 'utf8' });
  const hasDev = existsSync('/dev/nvidiactl') || (existsSync('/dev') && readdirSync('/dev').some((f) => /^nvidia\d+$/.test(f)));
  if (!(smi.status === 0 && /GPU \d+:/.test(smi.stdout)) && !hasDev) return 'no NVIDIA GPU here (nvidia-smi lists none, no /dev/nvidia*): run this project on the GPU host';
  if (!findNvcc()) return 'nvcc not found: the addon cannot be built here';
  return null;
}

/** The local GPU's arch when the generator has a profile for it, else sm_90. */
function localArch(): 'sm_75' | 'sm_80' | 'sm_86' | 'sm_89' | 'sm_90' {
  const probe = spawnSync('nvidia-smi', ['--query-gpu=compute_cap', '--format=csv,noheader'], { encoding: 'utf8' });
  const cc = /(\d+)\.(\d+)/.exec(probe.stdout ?? '');
  const arch = cc ? `sm_${cc[1]}${cc[2]}` : 'sm_90';
  return (['sm_75', 'sm_80', 'sm_86', 'sm_89', 'sm_90'].includes(arch) ? arch : 'sm_90') as 'sm_90';
}

const skipReason = gpuReason();
const SEED = Number(process.env.CUSNN_TEST_SEED ?? (Date.now() % 1_000_000_007));
const TOL = 1e-5;
needsBuiltCli();

const cases: [string, (seed: number) => TestModel, number][] = [
  // [what, model, input spread]: MobileNetV2's ops on a wide input, so the ReLU6s clamp at 6 too.
  ['MobileNetV2 ops (depthwise, ReLU6 everywhere, both pad modes, softmax over a map)', mobileOpsLike, 6],
  ['MobileNet-like classifier (depthwise x2 SAME_LOWER, exclude-pad AveragePool, hwc Flatten, MatMul + Add, Gemm, Softmax)', mobilenetLike, 2],
];

describe.skipIf(skipReason !== null)(`ONNX models with MobileNet's ops on the GPU (seed ${SEED})`, () => {
  cases.forEach(([what, make, spread], i) => {
    it(what, { timeout: 900_000 }, async () => {
      const work = mkdtempSync(join(tmpdir(), 'cusnn-onnx-gpu-'));
      const t = make(SEED + 101 * i);
      const file = t.builder.write(join(work, 'model'));
      const dir = join(work, `model-${localArch()}`);
      const [n, c, h, w] = t.inputDims;
      // Planned at the batch the test runs, so static mode runs the plan (not a fallback timed against cuDNN).
      const g = generate({ model: file, arch: localArch(), out: dir, force: 'act-sparse', batch: n, log: () => {}, ...(t.inputShape ? { inputShape: t.inputShape } : {}) });
      expect(g.gpuProblems).toEqual([]);
      const grouped = g.graph.layers.filter((l) => l.op === 'conv' && l.groups !== 1).map((l) => l.name);
      expect(grouped.length).toBeGreaterThan(0);
      for (const c of g.plan.convs) if (grouped.includes(c.layer)) expect(c.decision, c.layer).toBe('cudnn');
      await buildAddon(dir, { log: (l) => { if (/error/i.test(l)) console.log(l); } });

      const last = g.graph.layers[g.graph.layers.length - 1]!;
      const logits = last.op === 'softmax' ? last.inputs[0]! : last.name;
      const x = new Random(SEED + 101 * i + 1).floats(n * c * h * w, -spread, spread);
      const ref = referenceForward(g.graph, g.weights, x, n, { keep: (l) => l === logits });
      const wantOut = ref.outputs.get(last.name)!;
      const wantLogits = ref.outputs.get(logits)!;
      const net = loadNetwork(dir, { keep: [logits] });
      try {
        const errs: Record<string, number> = {};
        for (const mode of ['static', 'dynamic', 'cudnn'] as const) {
          const out = net.inferWith(x, mode).slice();
          errs[`${mode} output`] = relL2(out, wantOut);
          errs[`${mode} logits`] = relL2(net.output(logits, n, mode), wantLogits);
        }
        const onKernels = g.plan.convs.filter((cp) => cp.decision === 'act-sparse').map((cp) => `${cp.layer} (${cp.spec?.family ?? 'act-sparse'})`);
        console.log(`${what}: rel. L2 vs the float64 reference ${JSON.stringify(Object.fromEntries(Object.entries(errs).map(([k, e]) => [k, +e.toExponential(2)])))}; ` +
          `generated kernels: ${onKernels.join(', ') || 'none'}; grouped on cuDNN: ${grouped.join(', ')}`);
        for (const [k, e] of Object.entries(errs)) expect(e, k).toBeLessThanOrEqual(TOL);
        if (make === mobileOpsLike) expect(onKernels.some((k) => k.startsWith('expand.conv')), 'the 1x1 expansion (ReLU6 after a generated kernel) runs on one').toBe(true);
      } finally {
        net.dispose();
      }

      // The CLI as a user runs it: the GPU path against run --cpu, same folder, same input file.
      const npy = join(work, 'x.npy');
      writeFileSync(npy, npyBytes(x, [n, c, h, w]));
      const gpuOut = join(work, 'gpu.npy');
      const cpuOut = join(work, 'cpu.npy');
      const gpu = runCli('run', dir, '--input', npy, '--save', gpuOut, '--iters', '0', '--top', '1');
      expect(gpu.code, gpu.err).toBe(0);
      const cpu = runCli('run', '--cpu', dir, '--input', npy, '--save', cpuOut);
      expect(cpu.code, cpu.err).toBe(0);
      const e = relL2(readNpy(gpuOut).data, readNpy(cpuOut).data);
      console.log(`${what}: cusnn-gen run vs run --cpu: rel. L2 ${e.toExponential(2)}`);
      expect(e).toBeLessThanOrEqual(TOL);
    });
  });
});

describe.skipIf(skipReason === null)('ONNX models with MobileNet\'s ops on the GPU (skipped)', () => {
  it.skip(`skipped: ${skipReason}`, () => {});
});
