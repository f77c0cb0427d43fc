// Renderer of the igemm family (templates/igemm.cu.hbs): computes every number the template lays
// out, so the kernel's constants can be tested from TypeScript.
import { render } from '../../codegen/handlebars.js';
import { fusedEpilogue, kernelContext, problemSection, table } from '../../codegen/header.js';
import type { RenderedKernel, ServedLayer } from '../../codegen/kernel.js';
import { igemmMinBlocks, igemmResources, igemmStages } from './resources.js';
import { igemmName, igemmRows, igemmWriterTiles, validateIgemmSpec, type IgemmKernelSpec } from './spec.js';


export function renderIgemmKernel(spec: IgemmKernelSpec, servedBy: readonly ServedLayer[]): RenderedKernel {
  validateIgemmSpec(spec);
  const name = igemmName(spec);
  const res = igemmResources(spec, 1);
  const stages = igemmStages(spec);
  const kept = spec.kept ? new Set(spec.kept) : null;
  const summary = [
    `Implicit-GEMM ${spec.r}x${spec.s} convolution, stride ${spec.strideH}x${spec.strideW}, pad ${spec.padTop}x${spec.padLeft}${fusedEpilogue(spec)}.`,
    `${spec.tm * spec.tn >= 32 ? `Large-batch tiles (${spec.tm}x${spec.tn} accumulators a thread)` : 'Built for batch 1'}: output channels x pixels tiles, the input channels split over ${spec.split} block${spec.split > 1 ? 's of one thread block cluster' : ''}`,
    spec.split > 1
      ? `that reduce their partial tiles through distributed shared memory in a fixed order (deterministic, no atomics).`
      : `(no split: one block owns each output tile; deterministic).`,
    spec.vec === 4
      ? `Weights and input pixels arrive as 16-byte cp.async copies (4-byte copies if a pointer or batch stride is not 16-byte aligned); exact fp32 FMAs.`
      : `Weights arrive as 16-byte cp.async copies, the input as a zero-filled im2col tile; exact fp32 FMAs.`,
  ];
  const sections = [
    problemSection(spec),
    {
      title: `Tiles (${spec.arch})`,
      rows: table([
        ['block tile', `bm ${spec.bm} channels x bn ${spec.bn} pixels`],
        ['thread tile', `tm ${spec.tm} x tn ${spec.tn}, warp ${spec.warpM} x ${32 / spec.warpM} lanes`],
        ['reduction', `bkc ${spec.bkc} channels (${spec.bkc * spec.r * spec.s} rows) per stage, ${stages} stages per block, ${spec.stages}-deep pipeline`],
        ['split', `${spec.split} block${spec.split > 1 ? 's per cluster' : ''}`],
        ...(spec.kept ? [['filters', `${spec.kept.length} of ${spec.k} computed (the others are all zero: act(bias) written${igemmWriterTiles(spec) > 0 ? `, also by ${igemmWriterTiles(spec)} writer tile row(s) of the grid` : ''})`] as [string, string]] : []),
        ['threads', `${res.threads}`],
        ['grid', `(${res.grid[0]}, ${res.grid[1]}, ${res.grid[2]}) = ${res.grid[0] * res.grid[1] * res.grid[2]} blocks at batch 1`],
        ['shared', `${res.sharedBytes} bytes dynamic`],
        ['registers', `~${res.regsEstimate} estimated`],
      ]),
    },
  ];
  const context = {
    ...kernelContext(name, spec, servedBy),
    summary,
    sections,
    // The GEMM's rows: the kept filters only where whole filters are pruned; kOut the conv's output channels.
    k: igemmRows(spec), kOut: spec.k,
    kept: spec.kept !== undefined,
    residual: spec.residual === true,
    kOutIdx: spec.kept ? 'ko' : 'k',
    nPruned: spec.kept ? spec.k - spec.kept.length : 0,
    writerTiles: igemmWriterTiles(spec),
    keptList: spec.kept?.join(', ') ?? '',
    prunedList: kept ? Array.from({ length: spec.k }, (_, i) => i).filter((i) => !kept.has(i)).join(', ') : '',
    bm: spec.bm, bn: spec.bn, bkc: spec.bkc, tm: spec.tm, tn: spec.tn, warpM: spec.warpM, split: spec.split, stages: spec.stages,
    cluster: spec.split > 1,
    vec: spec.vec ?? 1,
    vecParam: spec.vec === 4,
    minBlocks: igemmMinBlocks(spec),
    nonPortable: spec.split > 8,
    threads: res.threads,
    sharedBytes: res.sharedBytes,
    gridX: res.grid[0], gridY: res.grid[1],
  };
  return { name, source: render('igemm.cu.hbs', context) };
}
