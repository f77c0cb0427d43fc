// GPU host: where does a generated conv's time in the network come from? (run 48: DenseNet-201's conv5 3x3 convs
// on pxg took 2.3-2.7 us in `cusnn-gen tune`'s one-conv runtime and 4.0-5.9 us in the bench's network runtime, the
// same kernel, the same GPU, the same 8-copy step graph). In one process, on one image's real activations, each
// conv of LAYERS is timed (timeStep, median of ITERS replays) with the folder's own addon, the network's runtime alive
// throughout:
//   net      the whole network's static runtime, the conv's step, 8 copies a graph (what the bench times)
//   one      a one-conv program, its input and output in buffers of their own (what tune times: the same program
//            as tune-search.ts's convProgram, here with the network's step and tensors)
//   mirror   a one-conv program whose buffers have the network's sizes and the step's offsets and strides
//   net x1, one x1   the first two with one copy a graph
// usage: node tools/bench/pxg-context.mjs <folder> <weights.safetensors> <image> [layer ...]
// (CUSNN_PDL=0 in the environment for the same without dependent launch)
import { loadAddon } from '../../dist/runtime/addon.js';
import { lowerNetwork } from '../../dist/runtime/lower.js';
import { planModel, readPlanFile } from '../../dist/runtime/network.js';
import { preprocess, readImage } from '../../dist/runtime/images.js';

const [dir, weightsFile, image, ...rest] = process.argv.slice(2);
if (!dir || !weightsFile || !image) {
  console.error('usage: node tools/bench/pxg-context.mjs <folder> <weights.safetensors> <image> [layer ...]');
  process.exit(2);
}
const ITERS = Number(process.env.ITERS ?? 200);
const plan = readPlanFile(dir);
const { graph, weights } = planModel(dir, plan, { weights: weightsFile, fillMissing: true });
const layers = rest.length ? rest : plan.convs.filter((c) => c.kernelName?.startsWith('pxg')).map((c) => c.layer);
const inputLayerOf = new Map();
for (const l of graph.layers) if (layers.includes(l.name)) inputLayerOf.set(l.name, l.inputs[0]);
const keep = [...new Set(inputLayerOf.values())];
const lowered = lowerNetwork(graph, plan, weights, { batch: 1, mode: 'plan', keep });
const addon = loadAddon(dir);
const x = preprocess([readImage(image)], graph.preprocessing);
const net = addon.createRuntime(JSON.stringify(lowered.program), lowered.tensors, { mode: 'static' });
net.run(x);
const inputs = new Map(keep.map((l) => [l, net.readView(l).slice()]));
const stepIndex = new Map(lowered.program.steps.map((s, i) => [s.layer, i]));

const fmt = (t) => `${t.medianUs.toFixed(2)} (${t.p10Us.toFixed(2)}-${t.p90Us.toFixed(2)})`;

/** A program of the one conv step; `mirror` keeps the network's buffer sizes, offsets and strides. */
function oneConv(step, mirror) {
  const P = lowered.program;
  const inFloats = mirror ? P.buffers[step.in.buf] : step.in.c * step.in.h * step.in.w;
  const outFloats = mirror ? P.buffers[step.out.buf] : step.out.c * step.out.h * step.out.w;
  const view = (v, buf) => (mirror ? { ...v, buf } : { buf, offset: 0, c: v.c, h: v.h, w: v.w, batchStride: v.c * v.h * v.w });
  const tensors = [lowered.tensors[step.weightsKcrs], lowered.tensors[step.weightsCrsk]];
  if (step.bias !== null) tensors.push(lowered.tensors[step.bias]);
  const input = view(step.in, 0);
  const out = view(step.out, 1);
  const program = {
    format: 'cusnn-program/1', model: `context:${step.layer}`, batch: 1, buffers: [inFloats, outFloats],
    tensors: tensors.map((t, i) => ({ name: `${step.layer}:${i}`, floats: t.length })), zeroCounters: 0,
    input, output: out, views: {},
    steps: [{ ...step, in: input, out, weightsKcrs: 0, weightsCrsk: 1, bias: step.bias !== null ? 2 : null, inZeros: null, countZeros: null, threshold: 0 }],
  };
  return { program, tensors };
}

/** The step in a one-conv runtime of its own, on the input the network left for it. */
function timeOne(step, mirror, copies) {
  const { program, tensors } = oneConv(step, mirror);
  const rt = addon.createRuntime(JSON.stringify(program), tensors, { mode: 'static' });
  try {
    rt.run(inputs.get(inputLayerOf.get(step.layer)));
    return rt.timeStep(0, ITERS, copies);
  } finally {
    rt.dispose();
  }
}

console.log(`${dir}: ${layers.length} convs, PDL ${process.env.CUSNN_PDL === '0' ? 'off' : 'on'}, ${ITERS} replays of 8 copies, us (p10-p90)`);
console.log(['layer', 'kernel', 'zeros', 'net', 'one', 'mirror', 'net x1', 'one x1'].join('\t'));
for (const layer of layers) {
  const i = stepIndex.get(layer);
  const step = lowered.program.steps[i];
  if (step.path !== 'act-sparse') {
    console.log(`${layer}\t(on cuDNN in this plan)`);
    continue;
  }
  const xin = inputs.get(inputLayerOf.get(layer));
  const zeros = xin.filter((v) => v === 0).length / xin.length;
  const tNet = net.timeStep(i, ITERS, 8);
  const tOne = timeOne(step, false, 8);
  const tMirror = timeOne(step, true, 8);
  const tNet1 = net.timeStep(i, ITERS, 1);
  const tOne1 = timeOne(step, false, 1);
  console.log([layer, step.kernel, `${(100 * zeros).toFixed(1)}%`, fmt(tNet), fmt(tOne), fmt(tMirror), fmt(tNet1), fmt(tOne1)].join('\t'));
}
net.dispose();
