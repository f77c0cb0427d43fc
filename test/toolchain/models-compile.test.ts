// Every kernel emitted for resnet50, densenet169 and vgg16 at sm_75 and sm_90 compiles with the
// local nvcc: no warnings (-Werror all-warnings), no spills, no stack frame. The plans are forced
// to act-sparse wherever the family applies: tiles are chosen per shape whatever the decision, so
// this covers the kernels of the default plan and of any calibration that makes more layers sparse.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { compileCheck, findNvcc } from '../../src/toolchain/nvcc.js';
import { generate } from '../../src/generate.js';

const nvcc = findNvcc();
const tmp = mkdtempSync(join(tmpdir(), 'cusnn-models-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

if (!nvcc) console.warn('models-compile: nvcc not found (CUDA_HOME, PATH): skipping the compile of emitted kernels');

describe.skipIf(!nvcc)('emitted kernels compile warning-free', () => {
  for (const model of ['resnet50', 'densenet169', 'vgg16']) {
    for (const arch of ['sm_75', 'sm_90']) {
      it(`${model} ${arch}`, { timeout: 900_000 }, async () => {
        const g = generate({ model, arch, force: 'act-sparse', out: join(tmp, `${model}-${arch}`) });
        expect(g.emitted.kernels.length).toBeGreaterThan(0);
        const files = [join(g.emitted.dir, 'kernels/registry.cu'), ...g.emitted.kernels.map((k) => join(g.emitted.dir, k.file))];
        const results = await compileCheck(files, arch, { filesPerProcess: 8 });
        const kernelResults = results.filter((r) => !r.file.endsWith('registry.cu'));
        expect(kernelResults.length).toBe(g.emitted.kernels.length);
        for (const r of results) {
          if (r.file.endsWith('registry.cu')) {
            expect(r.warnings, r.log).toEqual([]);
            continue;
          }
          expect(r.ok, r.log).toBe(true);
          expect(r.arch).toBe(arch);
          expect([r.spillStores, r.spillLoads, r.stackFrame], r.kernel).toEqual([0, 0, 0]);
        }
      });
    }
  }
});
