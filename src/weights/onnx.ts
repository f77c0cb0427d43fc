// Weights from an ONNX file: its initializers, imported with the graph (src/model/onnx/import.ts)
// and keyed as every WeightSet is (`<layer>:<role>`). `--weights other.onnx` for an ONNX model reads
// the tensors of another export of the same network (e.g. a fine-tuned or pruned one): its graph
// must have the same layers, with the same parameter shapes.
import { paramSpecs, tensorKey, type Graph, type Shape } from '../model/ir.js';
import { importOnnxFile } from '../model/onnx/import.js';
import { OnnxError } from '../model/onnx/read.js';
import { formatShape, type WeightSet } from './store.js';

export interface OnnxWeightsOptions {
  /** C,H,W for the file's symbolic input dimensions (default: the graph's own input shape). */
  readonly inputShape?: Shape | undefined;
}

/** The initializers of `file` as the weights of `graph`; an error names the first layer that differs. */
export function readOnnxWeights(file: string, graph: Graph, o: OnnxWeightsOptions = {}): WeightSet {
  const inputShape = o.inputShape ?? graph.layers.find((l) => l.op === 'input')?.shape;
  const imported = importOnnxFile(file, { defaultInputShape: inputShape, name: graph.name });
  const mine = paramSpecs(graph);
  const theirs = new Map(paramSpecs(imported.graph).map((s) => [tensorKey(s.layer, s.role), s]));
  for (const s of mine) {
    const t = theirs.get(tensorKey(s.layer, s.role));
    if (!t) throw new OnnxError(`weights ${file}: no tensor for layer '${s.layer}' ${s.role} of ${graph.name} (expected shape ${formatShape(s.shape)}); is it an export of the same network?`);
    if (t.shape.join('x') !== s.shape.join('x')) {
      throw new OnnxError(`weights ${file}: layer '${s.layer}' ${s.role} has shape ${formatShape(t.shape)}, ${graph.name} expects ${formatShape(s.shape)}`);
    }
  }
  if (theirs.size !== mine.length) {
    const known = new Set(mine.map((s) => tensorKey(s.layer, s.role)));
    const extra = [...theirs.keys()].filter((k) => !known.has(k));
    throw new OnnxError(`weights ${file}: ${extra.length} tensor(s) not in ${graph.name}, e.g. '${extra[0]}'; is it an export of the same network?`);
  }
  return { ...imported.weights, model: graph.name };
}
