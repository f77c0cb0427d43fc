// Renderer of the dconv family (templates/dconv.cu.hbs).
import type { RenderedKernel, ServedLayer } from '../../codegen/kernel.js';
import { render } from '../../codegen/handlebars.js';
import { fusedEpilogue, kernelContext, problemSection, table } from '../../codegen/header.js';
import { dconvResources, dconvStages } from './resources.js';
import { dconvName, validateDconvSpec, type DconvKernelSpec } from './spec.js';


export function renderDconvKernel(spec: DconvKernelSpec, servedBy: readonly ServedLayer[]): RenderedKernel {
  validateDconvSpec(spec);
  const name = dconvName(spec);
  const res = dconvResources(spec, 1);
  const summary = [
    `Direct activation-sparse ${spec.r}x${spec.s} convolution, stride ${spec.strideH}x${spec.strideW}, pad ${spec.padTop}x${spec.padLeft}${fusedEpilogue(spec)}.`,
    `Each input channel's halo window is staged once; a thread holds ${spec.tm} channel(s) x ${spec.tn} pixels of a row and`,
    `skips every zero input value with a warp-uniform branch. Input channels split over ${spec.split} block(s)${spec.split > 1 ? ' of one cluster,' : ','}`,
    `reduced in a fixed order: exact fp32, deterministic, no atomics.`,
  ];
  const sections = [
    problemSection(spec),
    {
      title: `Tiles (${spec.arch})`,
      rows: table([
        ['block tile', `bm ${spec.bm} channels x ${spec.rowsT} rows x ${spec.wo} pixels`],
        ['thread tile', `tm ${spec.tm} x tn ${spec.tn}`],
        ['window', `${res.windowH} x ${res.windowW} per channel`],
        ['reduction', `bkc ${spec.bkc} channels per stage, ${dconvStages(spec)} stages per block, ${spec.stages}-deep pipeline, split ${spec.split}`],
        ['threads', `${res.threads}`],
        ['grid', `(${res.grid[0]}, ${res.grid[1]}, ${res.grid[2]}) = ${res.grid[0] * res.grid[1] * res.grid[2]} blocks at batch 1`],
        ['shared', `${res.sharedBytes} bytes dynamic`],
      ]),
    },
  ];
  const context = {
    ...kernelContext(name, spec, servedBy), summary, sections,
    bm: spec.bm, tm: spec.tm, tn: spec.tn, rowsT: spec.rowsT, bkc: spec.bkc, split: spec.split, stages: spec.stages,
    cluster: spec.split > 1, nonPortable: spec.split > 8,
    threads: res.threads, sharedBytes: res.sharedBytes, windowH: res.windowH, windowW: res.windowW,
    gridX: res.grid[0], gridY: res.grid[1],
  };
  return { name, source: render('dconv.cu.hbs', context) };
}
