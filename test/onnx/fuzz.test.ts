// Damaged files: random byte flips, truncations and insertions of small valid models either
// import or fail with one OnnxError naming the file (bad input, exit 1); never another exception
// (which the CLI would report as an internal error).
import { describe, expect, it } from 'vitest';
import { importOnnx } from '../../src/model/onnx/import.js';
import { OnnxError, parseOnnx } from '../../src/model/onnx/read.js';
import { testSeed } from '../helpers/random.js';
import { Random } from './helpers.js';
import { mobilenetLike, opset11 } from './models.js';

const SEED = testSeed();

describe('damaged ONNX files', () => {
  it('400 mutations: imported, or one OnnxError', () => {
    const r = new Random(SEED);
    const bases = [opset11(SEED).builder.encode(), mobilenetLike(SEED + 1).builder.encode()];
    let failed = 0;
    for (let i = 0; i < 400; i++) {
      const base = bases[i % bases.length]!;
      const b = Uint8Array.from(base);
      let bytes: Uint8Array = b;
      const kind = r.int(0, 2);
      if (kind === 0) for (let k = r.int(1, 4); k > 0; k--) b[r.int(0, b.length - 1)] = r.int(0, 255);
      else if (kind === 1) bytes = b.subarray(0, r.int(0, b.length - 1));
      else {
        const at = r.int(0, b.length);
        bytes = new Uint8Array([...b.subarray(0, at), ...Array.from({ length: r.int(1, 6) }, () => r.int(0, 255)), ...b.subarray(at)]);
      }
      try {
        importOnnx(parseOnnx(bytes, { source: `mutant-${i}.onnx`, dir: '/nonexistent' }), { inputShape: undefined });
      } catch (e) {
        failed++;
        if (!(e instanceof OnnxError)) throw new Error(`mutation ${i} (seed ${SEED}, kind ${kind}): ${(e as Error).constructor.name}: ${(e as Error).message}`);
        expect((e as Error).message.startsWith(`mutant-${i}.onnx`), (e as Error).message).toBe(true);
        expect((e as Error).message).not.toContain('\n');
      }
    }
    console.info(`damaged ONNX files: ${failed}/400 refused with an OnnxError, the others imported (seed ${SEED})`);
  });
});
