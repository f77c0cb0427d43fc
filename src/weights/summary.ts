// Human-readable summaries of a weight set and the small text-table helper the weights and prune
// commands print with.
import { paramSpecs, size, tensorKey, type Graph } from '../model/ir.js';
import { countZeros, type WeightSet } from './store.js';

export interface KernelSummary {
  readonly layer: string;
  readonly op: 'conv' | 'dense';
  readonly shape: readonly number[];
  readonly params: number;
  readonly zeros: number;
}

export interface WeightsSummary {
  readonly model: string;
  readonly source: string;
  readonly tensors: number;
  readonly params: number;
  readonly kernelParams: number;
  readonly kernelZeros: number;
  readonly kernels: readonly KernelSummary[];
  /** Layers with at least one synthetically filled tensor, in graph order. */
  readonly filledLayers: readonly string[];
}

export function summarizeWeights(graph: Graph, ws: WeightSet): WeightsSummary {
  const specs = paramSpecs(graph);
  const ops = new Map(graph.layers.map((l) => [l.name, l.op]));
  const kernels: KernelSummary[] = specs
    .filter((s) => s.role === 'kernel')
    .map((s) => ({
      layer: s.layer,
      op: ops.get(s.layer) === 'dense' ? 'dense' : 'conv',
      shape: s.shape,
      params: size(s.shape),
      zeros: countZeros(ws.tensors.get(tensorKey(s.layer, s.role))!),
    }));
  const filled = new Set(ws.filled);
  const filledLayers = [...new Set(specs.filter((s) => filled.has(tensorKey(s.layer, s.role))).map((s) => s.layer))];
  return {
    model: ws.model,
    source: ws.source,
    tensors: ws.tensors.size,
    params: specs.reduce((n, s) => n + size(s.shape), 0),
    kernelParams: kernels.reduce((n, k) => n + k.params, 0),
    kernelZeros: kernels.reduce((n, k) => n + k.zeros, 0),
    kernels,
    filledLayers,
  };
}

export const formatCount = (n: number): string => n.toLocaleString('en-US');
export const formatPercent = (f: number): string => `${(100 * f).toFixed(2)}%`;
export const formatBytes = (n: number): string =>
  n >= 1 << 30 ? `${(n / 2 ** 30).toFixed(2)} GiB` : n >= 1 << 20 ? `${(n / 2 ** 20).toFixed(1)} MiB` : `${(n / 1024).toFixed(1)} KiB`;

/** Left-aligned first column, right-aligned others, two spaces between columns. */
export function formatTable(header: readonly string[], rows: readonly (readonly string[])[]): string[] {
  const all = [header, ...rows];
  const widths = header.map((_, i) => Math.max(...all.map((r) => (r[i] ?? '').length)));
  const line = (r: readonly string[]): string =>
    r.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!))).join('  ').trimEnd();
  return [line(header), ...rows.map(line)];
}
