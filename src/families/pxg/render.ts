// Renderer of the pxg family (templates/pxg.cu.hbs).
import type { RenderedKernel, ServedLayer } from '../../codegen/kernel.js';
import { render } from '../../codegen/handlebars.js';
import { fusedEpilogue, kernelContext, problemSection, table } from '../../codegen/header.js';
import { pxgLayout, pxgResources } from './resources.js';
import { pxgName, validatePxgSpec, type PxgKernelSpec } from './spec.js';

export function renderPxgKernel(spec: PxgKernelSpec, servedBy: readonly ServedLayer[]): RenderedKernel {
  validatePxgSpec(spec);
  const name = pxgName(spec);
  const res = pxgResources(spec, 1);
  const l = pxgLayout(spec);
  const summary = [
    `Pixel-gather ${spec.r}x${spec.s} convolution over the input's nonzeros, stride ${spec.strideH}x${spec.strideW}, pad ${spec.padTop}x${spec.padLeft}${fusedEpilogue(spec)}.`,
    l.ppb > 1
      ? `${l.ppb} output pixels per block, ${l.wpp} warps each: they load the pixel's ${l.pairs} (channel, tap) pairs, compact the nonzero inputs`
      : `One block per output pixel: ${spec.warps} warps load its ${l.pairs} (channel, tap) pairs, compact the nonzero inputs`,
    `with ballots into one list shared evenly over the warps and sum only those, lanes along the ${spec.k} output`,
    `channels. Warps' sums added in a fixed order:`,
    `exact fp32, deterministic, no atomics.`,
  ];
  const sections = [
    problemSection(spec),
    {
      title: `Tiles (${spec.arch})`,
      rows: table([
        ['block', `${l.ppb} output pixel(s) x ${spec.k} channels, ${l.wpp} warps a pixel x ${l.slice} pairs loaded each, the nonzeros shared evenly`],
        ['lane', `${l.nch} input loads, ${l.kpl} output channel(s)`],
        ['weight rows in flight', `${spec.unroll} per warp`],
        ['launch', spec.pdl === false ? 'plain (no dependent launch)' : 'dependent launch on sm_90+'],
        ['threads', `${res.threads}`],
        ['grid', `(${res.grid[0]}, 1, batch) = ${res.grid[0]} blocks at batch 1`],
        ['shared', `${res.sharedBytes} bytes dynamic`],
      ]),
    },
  ];
  const context = {
    ...kernelContext(name, spec, servedBy), summary, sections,
    warps: spec.warps, unroll: spec.unroll,
    threads: res.threads, sharedBytes: res.sharedBytes, gridX: res.grid[0], ppb: l.ppb, pdlLiteral: String(spec.pdl !== false),
  };
  return { name, source: render('pxg.cu.hbs', context) };
}
