// Renderer of the wino family (templates/wino.cu.hbs): the numbers the template lays out and the
// header's account of the kernel.
import { render } from '../../codegen/handlebars.js';
import { fusedEpilogue, kernelContext, problemSection, table } from '../../codegen/header.js';
import type { RenderedKernel, ServedLayer } from '../../codegen/kernel.js';
import { winoLayout, winoResources } from './resources.js';
import { WINO_BK, WINO_BT, winoName, winoWarps, validateWinoSpec, type WinoKernelSpec } from './spec.js';

/**
 * Whether the cluster sums the blocks' outputs (after each block's A^T M A) rather than their M: where a
 * rank finishes fewer (output channel, tile) pairs than it has threads, i.e. split 8. Run 87 (H100) measured
 * it 1.03-1.59x faster there and up to 23% slower at split 2 and 4. With 16 warps (512 threads) that is split 4 and 8.
 */
export function winoOutputReduce(spec: WinoKernelSpec): boolean {
  return spec.split > 1 && (WINO_BK * WINO_BT) / spec.split < 32 * winoWarps(spec);
}

export function renderWinoKernel(spec: WinoKernelSpec, servedBy: readonly ServedLayer[]): RenderedKernel {
  validateWinoSpec(spec);
  const name = winoName(spec);
  const res = winoResources(spec, 1);
  const l = winoLayout(spec);
  const summary = [
    `Fused Winograd F(2x2,3x3) convolution, stride 1, pad 1${fusedEpilogue(spec)}: each 2x2 output tile`,
    `from a 4x4 input patch with 16 multiplies per (channel, output channel), 2.25x fewer than the direct conv.`,
    `Input patches (B^T d B) and filters (G g G^T, from the [C][3][3][K] weights) are transformed in the kernel,`,
    `${l.bc} channels a chunk, double-buffered in shared memory, and multiplied as 16 GEMMs; the input channels are split over`,
    spec.split > 1
      ? winoOutputReduce(spec)
        ? `${spec.split} blocks of one thread block cluster; each applies A^T M A to its own sums, and the 2x2 outputs meet in distributed shared memory in rank order.`
        : `${spec.split} blocks of one thread block cluster whose sums meet in distributed shared memory in rank order before A^T M A.`
      : `no cluster (one block owns each output tile) before A^T M A.`,
    `Deterministic (fixed order, no atomics); dense (zeros are not skipped); fp32 throughout.`,
  ];
  const sections = [
    problemSection(spec),
    {
      title: `Tiles (${spec.arch})`,
      rows: table([
        ['block tile', `${WINO_BK} output channels x ${WINO_BT} tiles of 2x2 pixels (${l.tilesH} x ${l.tilesW} tiles an image)`],
        ['thread tile', winoWarps(spec) === 16 ? `1 Winograd position x 4 output channels x 8 tiles (32 accumulators)` : `2 Winograd positions x 4 output channels x 8 tiles (64 accumulators)`],
        ['reduction', `${l.chunks} chunks of ${l.bc} input channels, ${l.chunksPerSplit} per block at most`],
        ['split', `${spec.split} block${spec.split > 1 ? 's per cluster' : ''}`],
        ['threads', `${res.threads}`],
        ['grid', `(${res.grid[0]}, ${res.grid[1]}, ${res.grid[2]}) = ${res.grid[0] * res.grid[1] * res.grid[2]} blocks at batch 1`],
        ['shared', `${res.sharedBytes} bytes dynamic`],
        ['registers', `at most ${res.regsEstimate} (${winoWarps(spec) === 16 ? 'one block' : 'two blocks'} a SM)`],
      ]),
    },
  ];
  const context = {
    ...kernelContext(name, spec, servedBy),
    summary,
    sections,
    split: spec.split,
    cluster: spec.split > 1,
    outputReduce: winoOutputReduce(spec),
    threads: res.threads,
    bc: l.bc,
    positionsPerWarp: 16 / winoWarps(spec),
    minBlocks: winoWarps(spec) === 16 ? 1 : 2,
    wide: winoWarps(spec) === 16,
    sharedBytes: res.sharedBytes,
    gridX: res.grid[0], gridY: res.grid[1],
  };
  return { name, source: render('wino.cu.hbs', context) };
}
