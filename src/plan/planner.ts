// The planner: one decision per conv (cuDNN or a generated kernel of one of the families in
// src/families/registry.ts), its tile parameters, and the reason in words, from the layer shape,
// the GPU profile and the sparsity. The act-sparse family's tile search is the baseline on every
// arch; the registry's rule families for the arch (familiesFor) are weighed against it, and the
// winner against the cuDNN model (./cost.ts). Measurements (calibration, tune cache) come first.
import type { GpuProfile } from '../arch/profiles.js';
import { consumers, convMacs, getLayer, type ConvLayer, type Graph, type Layer } from '../model/ir.js';
import type { SparsityProfile } from '../sparsity/types.js';
import { cudnnConvUs } from './cost.js';
import type { ActSparseKernelSpec, ActSparseProblem } from '../families/act-sparse/spec.js';
import { chooseActSparseTiles, type ActSparseChoice } from '../families/act-sparse/tiles.js';
import { describeTiles, estimateOf, estimateUs, familiesFor, isWeightSparse, resourcesOf, specWithTiles, WSPARSE_MIN_SPARSITY, type ConvWeights, type FamilyChoice, type KernelSpec, type KernelTiles, type WeightSparseSpec } from '../families/registry.js';
import { balanceOf, rowStats } from '../families/wsparse/schedule.js';
import type { StructureLookup } from '../families/wsparse/structure.js';
import type { ConvPlan, NetworkPlan, WeightsRef } from './types.js';
import { calibratedOutcome, measuredForWeights, tunedOutcome, weightFacts } from './measured-plan.js';
import { findTuned, weightsDigest, type TuneCache } from './tune-cache.js';
import { keptDigest, keptFromStructure } from '../families/igemm/spec.js';
import { fuseResiduals } from './residual.js';

/**
 * Where a rule family (dconv, igemm) serves a conv, act-sparse is chosen over it only when its
 * estimate is this many times lower. Act-sparse's cost model was fitted on H100 kernels timed in a
 * graph launch of their own; timed inside a graph on the H200 (`cusnn-gen tune`, 2026-12-02,
 * ResNet-50's 128x28x28->128 3x3 at 58-61% zeros) it measured 60-63 us where it estimated 28-30 us,
 * and igemm 19 us where it estimated 30 us: no layer timed on sm_90 ran faster on act-sparse than
 * on the rule families.
 */
export const RULE_FAMILY_PREFERENCE = 2;

/** The generated kernel must beat cuDNN's estimate by this factor: the models are coarse. */
export const SPEEDUP_MARGIN = 1.1;

export interface PlanOptions {
  readonly batch: number;
  readonly weightsSource: string;
  /** Recorded in the plan so the runtime loads the same weights by default. */
  readonly weightsRef?: WeightsRef;
  /** Force every eligible conv to one path (tests, ablations); default: the cost model decides. */
  readonly force?: 'cudnn' | 'act-sparse';
  /** Fuse residual adds into the generated kernels before them (src/plan/residual.ts); default true. */
  readonly fuseResidual?: boolean;
  /**
   * Per-conv timings of both paths measured on the GPU (calibration.json, `cusnn-gen calibrate`).
   * Where a layer has one, the plan emits exactly the kernel that was measured and decides by the
   * measurement, not by the cost model.
   */
  readonly measured?: ReadonlyMap<string, MeasuredConv>;
  /**
   * Winners of `cusnn-gen tune` (src/plan/tune-cache.ts). A conv whose (gpu, shape, zeros bucket,
   * batch) has an entry gets the entry's tiles and is decided by its measured times; needs `gpu`.
   */
  readonly tuned?: TuneCache;
  /**
   * The target GPU model as the device reports it (e.g. "NVIDIA H200"). When given, tune entries
   * and calibration times count only if taken on this model: the architecture alone is not
   * enough (an H200 is not an H100). Without it, calibration times need only the same arch.
   */
  readonly gpu?: string;
  /**
   * The batch `measured` was timed at (calibration times are batch-1 figures). When set, a plan for
   * another batch ignores them and says so: a time measured at one batch does not decide another.
   * Unset: they apply at any batch (a folder planned for one batch, as before plans per batch).
   */
  readonly measuredBatch?: number;
  /**
   * The nonzero structure of a conv's weights (src/families/wsparse/structure.ts; generate() passes
   * one from the loaded weights). Where given, convs with at least WSPARSE_MIN_SPARSITY zeros in
   * their weights and a known pattern are also weighed on the wsparse family. Absent: no wsparse.
   */
  readonly weightStructure?: StructureLookup;
}

export interface MeasuredConv {
  readonly kernel: string;
  /** The measured kernel's tiles (with `family: 'igemm'` for that family). */
  readonly tiles: KernelTiles;
  readonly cudnnUs: number;
  readonly actSparseUs: number;
  /** The GPU it was measured on, and its architecture (a measurement from another architecture is ignored). */
  readonly gpu: string;
  readonly arch: string;
  /** The replays' p10-p90 of both paths and cuDNN's algorithm, where calibrate recorded them (absent: no spread). */
  readonly actSparseP10Us?: number;
  readonly actSparseP90Us?: number;
  readonly cudnnP10Us?: number;
  readonly cudnnP90Us?: number;
  readonly cudnnAlgo?: string;
  /** The digest of the layer's weight structure where its weights were pruned (absent: dense); it decides only weights of that structure. */
  readonly weights?: string;
}

/** The measured generated kernel must beat the measured cuDNN time by this factor (src/plan/measured-choice.ts). */
export { MEASURED_MARGIN } from './measured-choice.js';

interface Epilogue {
  readonly bias: boolean;
  readonly relu: boolean;
  readonly why: string;
}

/**
 * What the conv's kernel can fuse: a following inference batch norm folds into weights and bias
 * (so the kernel adds a bias), and a ReLU right after it (or after the conv) is applied in the
 * epilogue — only when nothing else reads the intermediate tensors.
 */
function epilogueOf(conv: ConvLayer, readers: Map<string, Layer[]>): Epilogue {
  const only = (name: string): Layer | undefined => {
    const r = readers.get(name)!;
    return r.length === 1 ? r[0] : undefined;
  };
  const next = only(conv.name);
  if (next?.op === 'batchnorm') {
    const after = only(next.name);
    if (after?.op === 'relu') return { bias: true, relu: true, why: `${next.name} folded, ${after.name} fused` };
    return { bias: true, relu: false, why: `${next.name} folded` };
  }
  if (next?.op === 'relu') return { bias: conv.bias, relu: true, why: `${next.name} fused` };
  return { bias: conv.bias, relu: false, why: 'no epilogue to fuse' };
}

const pct = (x: number): string => `${(100 * x).toFixed(0)}%`;
const us = (x: number): string => `${x.toFixed(1)} us`;

/** Picks the tile shape of a problem; layers of one shape share it (and so share one kernel). */
type TilePicker = (problem: ActSparseProblem) => ActSparseChoice | null;

function problemOf(graph: Graph, conv: ConvLayer, p: GpuProfile, readers: Map<string, Layer[]>): ActSparseProblem {
  const [c, h, w] = getLayer(graph, conv.inputs[0]!).shape;
  const epi = epilogueOf(conv, readers);
  return {
    family: 'act-sparse', arch: p.arch, c, h, w, k: conv.outChannels, r: conv.kernel[0], s: conv.kernel[1],
    strideH: conv.stride[0], strideW: conv.stride[1], padTop: conv.pad.top, padLeft: conv.pad.left,
    ho: conv.shape[1], wo: conv.shape[2], bias: epi.bias, relu: epi.relu,
  };
}

/** A measurement decides a layer only on the GPU model it was taken on (when the target model is known) and its arch. */
function measurementApplies(o: PlanOptions, p: GpuProfile, m: MeasuredConv): boolean {
  return m.arch === p.arch && (o.gpu === undefined || m.gpu === o.gpu) && (o.measuredBatch === undefined || o.measuredBatch === o.batch);
}

/** planConvCore, with what it ignored (and why) appended to the reason. */
function planConv(graph: Graph, conv: ConvLayer, p: GpuProfile, sp: SparsityProfile, readers: Map<string, Layer[]>, o: PlanOptions, pick: TilePicker, note?: string): ConvPlan {
  const notes: string[] = note ? [note] : [];
  const plan = planConvCore(graph, conv, p, sp, readers, o, pick, notes);
  return notes.length > 0 ? { ...plan, reason: `${plan.reason}; ${notes.join('; ')}` } : plan;
}

function planConvCore(graph: Graph, conv: ConvLayer, p: GpuProfile, sp: SparsityProfile, readers: Map<string, Layer[]>, o: PlanOptions, pick: TilePicker, notes: string[]): ConvPlan {
  const inLayer = getLayer(graph, conv.inputs[0]!);
  const [c, h, w] = inLayer.shape;
  const [k, ho, wo] = conv.shape;
  const [r, s] = conv.kernel;
  const facts = sp.convs.get(conv.name);
  if (!facts) throw new Error(`${graph.name}: no sparsity profile for conv '${conv.name}'`);
  const epi = epilogueOf(conv, readers);
  const cudnnUs = cudnnConvUs(p, { c, k, ho, wo, r, s, h, w, batch: o.batch });
  const base = {
    layer: conv.name,
    input: [c, h, w] as const,
    output: [k, ho, wo] as const,
    kernel: conv.kernel,
    stride: conv.stride,
    pad: [conv.pad.top, conv.pad.left, conv.pad.bottom, conv.pad.right] as const,
    macs: convMacs(conv, inLayer.shape) * o.batch,
    inputSparsity: facts.inputSparsity,
    inputSparsitySource: facts.inputSource,
    weightSparsity: facts.weights.sparsity,
    fusedRelu: epi.relu,
    ...weightFacts(facts.weights, conv.name, o.weightStructure),
  };
  const toCudnn = (reason: string, actSparseEst: number | null = null): ConvPlan => ({
    ...base, decision: 'cudnn', reason, estimate: { cudnnUs, actSparseUs: actSparseEst },
    kernelName: null, spec: null, resources: null, occupancy: null, waves: null,
  });
  const generated = (spec: KernelSpec, estUs: number, reason: string, ig: FamilyChoice | null): ConvPlan => ({
    ...base, decision: 'act-sparse', reason, estimate: { cudnnUs, actSparseUs: estUs },
    kernelName: null, spec, resources: resourcesOf(spec, o.batch),
    occupancy: ig ? ig.estimate.occupancy : null, waves: ig ? ig.estimate.waves : null,
  });

  // Before every measurement and family: no family's problem has a group count, so none may see one.
  if (conv.groups !== 1) {
    const kind = conv.groups === c ? 'depthwise' : 'grouped';
    return toCudnn(`${kind} conv (groups ${conv.groups}): no generated kernel family handles groups other than 1; cuDNN runs it with its group count`);
  }
  if (facts.inputSource === 'image') return toCudnn('reads the network input (an image: no ReLU zeros)');
  if (o.force === 'cudnn') return toCudnn('forced to cuDNN');

  const problem = problemOf(graph, conv, p, readers);
  const { family: _family, ...problemFields } = problem;
  const mi = o.measured?.get(conv.name);
  // Same arch but another GPU model: said in the reason (another arch stays silent, as before).
  if (mi && mi.arch === p.arch && o.gpu !== undefined && mi.gpu !== o.gpu) {
    notes.push(`calibration times taken on ${mi.gpu}, not ${o.gpu}: ignored (a measurement decides a layer only on the GPU model it was taken on)`);
  } else if (mi && mi.arch === p.arch && o.measuredBatch !== undefined && o.measuredBatch !== o.batch) {
    notes.push(`calibration times taken at batch ${o.measuredBatch}, not ${o.batch}: ignored (a measurement decides a layer only at the batch it was taken at)`);
  }
  // The weights as the wsparse family sees them: only where they have enough zeros and a known pattern.
  let weightsMemo: ConvWeights | null | undefined;
  const convWeights = (): ConvWeights | null => {
    if (weightsMemo !== undefined) return weightsMemo;
    const wp = facts.weights;
    const st = o.weightStructure && wp.pattern !== undefined && wp.sparsity >= WSPARSE_MIN_SPARSITY ? o.weightStructure(conv.name) : null;
    weightsMemo = st ? { structure: st, sparsity: wp.sparsity, pattern: wp.pattern } : null;
    return weightsMemo;
  };
  // A measured weight-sparse kernel (wsparse, wstage, dual) holds one weight structure: it decides only a layer whose weights still have it.
  const otherStructure = (t: KernelTiles): string | null => {
    // An igemm kernel with kept filters computes those filters only: it holds for weights with the same zero filters.
    if (t.family === 'igemm') {
      if (!t.kept) return null;
      const now = keptFromStructure(convWeights()?.structure.start, conv.outChannels);
      return now && now.join(',') === t.kept.join(',') ? null
        : `computed kept filters ${keptDigest(t.kept)} (${t.kept.length} of ${conv.outChannels}), these weights keep ${now ? `${keptDigest(now)} (${now.length})` : 'every filter, or no structure is known'}`;
    }
    if (t.family !== 'wsparse' && t.family !== 'wstage' && t.family !== 'dual') return null;
    const st = convWeights()?.structure;
    return st && st.digest === t.patternDigest ? null : `was for weight structure ${t.patternDigest}, these weights have ${st ? st.digest : 'none known (fewer zeros, or no structure given)'}`;
  };
  const miOther = mi && measurementApplies(o, p, mi) ? otherStructure(mi.tiles) : null;
  if (miOther) notes.push(`calibration times of a ${mi?.tiles.family ?? 'weight-sparse'} kernel ignored: it ${miOther}`);
  // A measured kernel of a rule family (igemm, dconv, wsparse, ...) decides its layer, and the plan emits exactly that kernel.
  if (mi && measurementApplies(o, p, mi) && isGeneratedFamily(mi.tiles) && !miOther) {
    const spec = specWithTiles(problemFields, mi.tiles);
    const m = calibratedOutcome(mi, p.arch, facts.inputSparsity);
    const modelUs = estimateUs(p, spec, o.batch, 1 - facts.inputSparsity);
    if (!m.beatsCudnn && o.force !== 'act-sparse') return { ...toCudnn(`cuDNN: ${m.text}`, modelUs), measured: m.record('cudnn') };
    return { ...generated(spec, modelUs ?? mi.actSparseUs, `${spec.family}: ${m.text}; ${describeTiles(spec)}; epilogue: ${epi.why}`, null), measured: m.record('generated') };
  }
  // A tune entry (same GPU model, shape, zeros bucket, batch and weight structure) decides the layer
  // among every candidate measured and cuDNN (src/plan/measured-choice.ts), unless this very layer
  // was measured on this GPU (calibration times are per layer, not per shape).
  if (o.tuned && o.gpu && !(mi && measurementApplies(o, p, mi))) {
    const t = findTuned(o.tuned, o.gpu, p.arch, problemFields, facts.inputSparsity, o.batch, weightsDigest(facts.weights, conv.name, o.weightStructure));
    if (t.ignored) notes.push(`tune cache: ${t.ignored}`);
    if (t.note) notes.push(`tune cache: ${t.note}`);
    const m = t.entry ? tunedOutcome(t.entry, p.arch) : null;
    const tOther = m?.kept ? otherStructure(m.kept.tiles) : null;
    if (tOther) notes.push(`tune cache: its ${m?.kept?.tiles.family ?? 'weight-sparse'} winner ignored: it ${tOther}`);
    if (m && !tOther && (m.kept || o.force !== 'act-sparse')) {
      const spec = m.kept && specWithTiles(problemFields, m.kept.tiles);
      const modelUs = spec && estimateUs(p, spec, o.batch, 1 - facts.inputSparsity);
      if (!spec || (!m.beatsCudnn && o.force !== 'act-sparse')) return { ...toCudnn(`cuDNN: ${m.text}`, modelUs), measured: m.record('cudnn') };
      return { ...generated(spec, modelUs ?? m.kept!.us, `${spec.family}: ${m.text}; ${describeTiles(spec)}; epilogue: ${epi.why}`, null), measured: m.record('generated') };
    }
  }
  const choice = pick(problem);
  // The rule families' picks (the registry's order of preference for this arch, CUSNN_FAMILIES applied).
  // The weight-sparse families (wsparse, wstage) are weighed apart, by estimate, below: the order of
  // preference is the other families'. Of them, the lower estimate (ties: registry order) is weighed.
  const families = familiesFor(p.arch).filter((f) => allowed(f.family));
  // The layer's weights go to every family: igemm computes only the kept filters of a filter-pruned conv.
  const known = convWeights() ?? undefined;
  const ruled = families.filter((f) => !f.needsWeights)
    .map((f) => f.choose(problemFields, p, o.batch, 1 - facts.inputSparsity, known)).filter((x) => x !== null);
  // A family with no rule yet (measuredOnly: dual) reaches a plan only through a measurement, above.
  const wFamilies = families.filter((f) => f.needsWeights && !f.measuredOnly);
  const wts = wFamilies.length > 0 ? known ?? null : null;
  const wChoices = wts ? wFamilies.map((f) => f.choose(problemFields, p, o.batch, 1 - facts.inputSparsity, wts)).filter((x) => x !== null) : [];
  const ws = wChoices.reduce<FamilyChoice | null>((best, c) => (best === null || c.estimate.us < best.estimate.us ? c : best), null);
  const wsOthers = wChoices.filter((c) => c !== ws).map((c) => `${c.spec.family} est. ${us(c.estimate.us)}`);
  // Of the rule families, the first whose rule serves the shape (dconv, then igemm); their cost models
  // are not yet fitted well enough to rank two kernels within 10% of each other. Measurement
  // (calibrate, tune, bench) decides against cuDNN.
  // A smaller dense conv of the kept filters (whole-filter pruning) comes before the families that compute all.
  // wino's rule serves only the 3x3 shapes where runs 70 and 84 measured it ahead of every other family: first there.
  const ig: FamilyChoice | null = ruled.find((c) => c.spec.family === 'igemm' && c.spec.kept !== undefined) ??
    ruled.find((c) => c.spec.family === 'wino') ?? ruled[0] ?? null;
  const m = choice && measuredFor(o, p, conv.name, choice.spec);
  const actEst = choice && estimateOf(p, choice.spec, o.batch, 1 - facts.inputSparsity);
  // wsparse: chosen where its estimate beats the kernel the others would give (act-sparse's estimate
  // counted RULE_FAMILY_PREFERENCE times, as against every rule family), then weighed against cuDNN.
  // Whole zero filters and nothing else (pattern 'filter'): the smaller dense conv of the kept filters,
  // not a sparse kernel (the nonzeros of the kept filters are dense).
  const keptDense = wts?.pattern === 'filter' && ig?.spec.family === 'igemm' && ig.spec.kept !== undefined;
  if (ws && wts && isWeightSparse(ws.spec) && !m && !keptDense) {
    const fam = ws.spec.family;
    const rivals = [...ruled.map((c) => ({ what: c.spec.family, us: c.estimate.us, weighed: c.estimate.us })),
      ...(actEst ? [{ what: 'act-sparse', us: actEst.us, weighed: actEst.us * RULE_FAMILY_PREFERENCE }] : [])];
    const facts2 = wsparseFacts(ws.spec, wts);
    const rivalText = [...wsOthers, ...rivals.map((r) => `${r.what} est. ${us(r.us)}`)].join(', ') || 'no other generated kernel';
    if (rivals.every((r) => ws.estimate.us < r.weighed)) {
      const text = `est. ${us(ws.estimate.us)} vs cuDNN ${us(cudnnUs)} (${(cudnnUs / ws.estimate.us).toFixed(2)}x, the input zeros do not change it); ${facts2}; ${rivalText}`;
      if (!(ws.estimate.us * SPEEDUP_MARGIN < cudnnUs) && o.force !== 'act-sparse') return toCudnn(`cuDNN: ${fam} ${text}`, ws.estimate.us);
      return generated(ws.spec, ws.estimate.us, `${o.force === 'act-sparse' ? 'forced to a generated kernel; ' : ''}${fam}: ${text}; ${ws.why}; ` +
        `${ws.estimate.blocks} blocks, ${ws.estimate.blocksPerSm}/SM (limited by ${ws.estimate.limitedBy}), ${ws.estimate.bound}-bound; epilogue: ${epi.why}`, ws);
    }
    notes.push(`${fam} est. ${us(ws.estimate.us)} (${facts2}) loses to ${rivalText}`);
  } else if (wts && wFamilies.length > 0 && !m) {
    notes.push(`${wFamilies.map((f) => f.family).join(', ')}: no tiles fit ${p.arch} for these ${wts.structure.offsets.length} nonzeros`);
  }
  // Without a measurement the cost models pick the family: the rule family unless act-sparse's
  // estimate beats it by RULE_FAMILY_PREFERENCE (see there).
  if (ig && !m && (!actEst || ig.estimate.us < actEst.us * RULE_FAMILY_PREFERENCE)) {
    const fam = ig.spec.family;
    const others = [...ruled.filter((c) => c !== ig).map((c) => `${c.spec.family} est. ${us(c.estimate.us)}`),
      actEst ? `act-sparse est. ${us(actEst.us)}` : null].filter((x) => x !== null);
    const text = `est. ${us(ig.estimate.us)} vs cuDNN ${us(cudnnUs)} (${(cudnnUs / ig.estimate.us).toFixed(2)}x${fam === 'igemm' ? ', dense: the zeros do not change it' : ` at ${pct(facts.inputSparsity)} zeros`})` +
      (others.length ? `; ${others.join(', ')}` : '');
    if (!(ig.estimate.us * SPEEDUP_MARGIN < cudnnUs) && o.force !== 'act-sparse') return toCudnn(`cuDNN: ${fam} ${text}`, ig.estimate.us);
    return generated(ig.spec, ig.estimate.us, `${o.force === 'act-sparse' ? 'forced to a generated kernel; ' : ''}${fam}: ${text}; ${ig.why}; ` +
      `${ig.estimate.blocks} blocks, ${ig.estimate.blocksPerSm}/SM (limited by ${ig.estimate.limitedBy}), ${ig.estimate.bound}-bound; epilogue: ${epi.why}`, ig);
  }
  if (!choice) return toCudnn(`no act-sparse tile fits ${p.arch} (threads, shared memory, registers)`);
  const est = actEst!;
  const speedup = cudnnUs / est.us;
  // The sparsity at which this tile shape starts to win (after the margin), for the reader.
  let breakEven: number | null = null;
  for (let zeros = 0; zeros <= 100; zeros++) {
    const e = estimateOf(p, choice.spec, o.batch, 1 - zeros / 100);
    if (e && e.us * SPEEDUP_MARGIN < cudnnUs) { breakEven = zeros / 100; break; }
  }
  const tiles = `tile ${choice.spec.th}x${choice.spec.tw}, tc ${choice.spec.tc}, kb ${choice.spec.kb}, cs ${choice.spec.cs}`;
  const fit = `${est.blocks} blocks, ${est.blocksPerSm}/SM (occupancy ${pct(est.occupancy)}, limited by ${est.limitedBy}), ` +
    `${est.waves.toFixed(2)} waves on ${p.smCount} SMs, ${est.bound}-bound; best of ${choice.candidates} tile shapes at the median sparsity of the layers of this shape`;
  const compare = `est. ${us(est.us)} vs cuDNN ${us(cudnnUs)} (${speedup.toFixed(2)}x) at ${pct(facts.inputSparsity)} zeros (${facts.inputSource})` +
    (breakEven === null ? '; never wins on this GPU' : `; break-even ${pct(breakEven)} zeros`);
  const cal = m && calibratedOutcome(m, p.arch, facts.inputSparsity);
  const measuredText = cal && cal.text;
  const wins = cal ? cal.beatsCudnn : est.us * SPEEDUP_MARGIN < cudnnUs;
  if (!wins && o.force !== 'act-sparse') {
    const plan = toCudnn(cal ? `cuDNN: ${measuredText} (the model estimated ${us(est.us)} vs ${us(cudnnUs)})` : `cuDNN: ${compare}`, est.us);
    return cal ? { ...plan, measured: cal.record('cudnn') } : plan;
  }
  return {
    ...base,
    ...(cal ? { measured: cal.record('generated') } : {}),
    decision: 'act-sparse',
    reason: `${o.force === 'act-sparse' ? 'forced to act-sparse; ' : 'act-sparse: '}${m ? `${measuredText}; model: ` : ''}${compare}; ${tiles}: ${fit}; epilogue: ${epi.why}`,
    estimate: { cudnnUs, actSparseUs: est.us },
    kernelName: null,
    spec: choice.spec,
    resources: resourcesOf(choice.spec, o.batch),
    occupancy: est.occupancy,
    waves: est.waves,
  };
}

/** The weight facts a wsparse reason states: nonzeros, pattern, balance of nonzeros over the threads. */
function wsparseFacts(spec: WeightSparseSpec, w: ConvWeights): string {
  const a = rowStats(w.structure);
  const weights = spec.k * spec.c * spec.r * spec.s;
  return `${a.nnz} nonzeros of ${weights} weights (${pct(w.sparsity)} zeros, pattern ${w.pattern ?? 'unknown'}, ` +
    `${a.empty} all-zero output channels), busiest/mean nonzeros per output channel ${a.rowMax}/${(a.nnz / spec.k).toFixed(1)} = ${balanceOf(a, spec.k).toFixed(2)}`;
}

/**
 * Ablation knob: CUSNN_FAMILIES=igemm,act-sparse restricts the model's choice to the listed
 * families (measurements and tune entries still name their own). Unset: every family.
 */
function allowed(family: string): boolean {
  const list = process.env.CUSNN_FAMILIES;
  return !list || list.split(',').map((s) => s.trim()).includes(family);
}

/** Tiles of the rule families (igemm, dconv), as opposed to the act-sparse family's (no family field). */
function isGeneratedFamily(t: KernelTiles): t is Exclude<KernelTiles, { readonly th: number }> {
  return t.family !== undefined && t.family !== 'act-sparse';
}

/** The measurement of this layer when it was taken on this GPU with exactly these tiles. */
function measuredFor(o: PlanOptions, p: GpuProfile, layer: string, spec: ActSparseKernelSpec): MeasuredConv | null {
  const m = o.measured?.get(layer);
  if (!m || !measurementApplies(o, p, m)) return null;
  const t = m.tiles;
  if (isGeneratedFamily(t)) return null;
  return t.th === spec.th && t.tw === spec.tw && t.tc === spec.tc && t.kb === spec.kb && t.cs === spec.cs ? m : null;
}

export function planNetwork(graph: Graph, p: GpuProfile, sp: SparsityProfile, options: PlanOptions): NetworkPlan {
  if (!Number.isInteger(options.batch) || options.batch < 1) throw new Error(`batch must be a positive integer, got ${options.batch}`);
  if (options.tuned && !options.gpu) throw new Error('a tune cache needs the target GPU model (gpu, e.g. "NVIDIA H200"): its entries are per GPU model');
  const readers = consumers(graph);
  const layers = graph.layers.filter((l): l is ConvLayer => l.op === 'conv');
  // Calibration times of other weights are dropped before anything reads them (tiles, decisions).
  const { measured, notes: weightNotes } = measuredForWeights(graph, sp, options);
  const o: PlanOptions = { ...options, measured };
  // Tiles are chosen once per problem shape, at the median input density of the layers that
  // have it: ResNet-152's fifty 3x3 convs then need a handful of kernels, not one per layer.
  const densities = new Map<string, number[]>();
  for (const l of layers) {
    const key = JSON.stringify(problemOf(graph, l, p, readers));
    const d = densities.get(key) ?? [];
    d.push(1 - (sp.convs.get(l.name)?.inputSparsity ?? 0));
    densities.set(key, d);
  }
  // Measured tiles win over the model's pick: the plan must emit the kernel whose time decided it.
  const measuredTiles = new Map<string, MeasuredConv['tiles']>();
  for (const l of layers) {
    const m = o.measured?.get(l.name);
    if (m && measurementApplies(o, p, m) && !isGeneratedFamily(m.tiles)) measuredTiles.set(JSON.stringify(problemOf(graph, l, p, readers)), m.tiles);
  }
  const pick: TilePicker = (problem) => {
    const key = JSON.stringify(problem);
    const d = [...densities.get(key)!].sort((a, b) => a - b);
    const density = d[Math.floor((d.length - 1) / 2)]!;
    const t = measuredTiles.get(key);
    if (t && (t.family === undefined || t.family === 'act-sparse')) {
      const spec: ActSparseKernelSpec = { ...problem, th: t.th, tw: t.tw, tc: t.tc, kb: t.kb, cs: t.cs };
      const estimate = estimateOf(p, spec, o.batch, density);
      if (estimate) return { spec, estimate, candidates: 1 };
    }
    return chooseActSparseTiles(p, problem, o.batch, density);
  };
  const decided = layers.map((l) => planConv(graph, l, p, sp, readers, o, pick, weightNotes.get(l.name)));
  // Forced plans fuse too (bench and calibrate build their folder from one, then decide per layer);
  // tune's list of candidates (src/runtime/tune-search.ts) is timed without the add and asks for none.
  const convs = options.fuseResidual === false ? decided : fuseResiduals(graph, decided, readers);
  return {
    format: 'cusnn-plan/1',
    model: graph.name,
    arch: p.arch,
    board: p.board,
    batch: o.batch,
    weights: o.weightsSource,
    weightsRef: o.weightsRef ?? { path: null, seed: 0, fillMissing: false },
    sparsitySource: sp.activationSource,
    convs,
  };
}

/**
 * Why a list of batch sizes cannot be planned into one folder (null when it can): each an integer
 * in [1, max], given once, ascending.
 */
export function batchListProblem(batches: readonly number[], max: number): string | null {
  if (batches.length === 0) return 'no batch size given';
  for (let i = 0; i < batches.length; i++) {
    const b = batches[i]!;
    if (!Number.isInteger(b) || b < 1 || b > max) return `batch must be an integer in [1, ${max}], got ${b}`;
    if (batches.indexOf(b) !== i) return `batch ${b} is listed twice in ${batches.join(',')}: give each batch once`;
    if (i > 0 && b < batches[i - 1]!) return `batches must be ascending, got ${batches.join(',')} (${batches[i - 1]} before ${b})`;
  }
  return null;
}

/**
 * One folder's plans (one per batch, ascending) as the single plan.json document: the first is the
 * top level, the others go under `batches`. One plan gives a document without `batches`, byte for
 * byte what a folder planned for one batch has always held.
 */
export function withBatches(plans: readonly NetworkPlan[]): NetworkPlan {
  const [first, ...rest] = plans;
  if (!first) throw new Error('withBatches: no plan given');
  const problem = batchListProblem(plans.map((p) => p.batch), Number.MAX_SAFE_INTEGER);
  if (problem) throw new Error(`withBatches: ${problem}`);
  for (const p of rest) {
    if (p.model !== first.model || p.arch !== first.arch) throw new Error(`withBatches: plans of ${first.model}/${first.arch} and ${p.model}/${p.arch} cannot share a folder`);
  }
  const { batches: _ignored, ...top } = first;
  return rest.length === 0 ? top : { ...top, batches: rest.map((p) => ({ batch: p.batch, convs: p.convs })) };
}

/** The plans a plan.json document holds, one complete NetworkPlan per batch (ascending), none with `batches`. */
export function batchPlans(plan: NetworkPlan): NetworkPlan[] {
  const { batches, ...top } = plan;
  return [top, ...(batches ?? []).map((b) => ({ ...top, batch: b.batch, convs: b.convs }))];
}
