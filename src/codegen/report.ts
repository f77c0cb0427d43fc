// report.md: the plan as a person reads it — one row per conv with its shape, sparsity (the weights'
// pattern too), decision, kernel and tiles, the planner's reasons below the table, and for convs a
// measurement decided, every family measured (its fastest kernel, median and spread) against cuDNN
// and why the winner won. A folder planned for several batch sizes gets the convs whose decisions
// differ between batches first, then a section per batch.
import { describeTiles, isWeightSparse } from '../families/registry.js';
import { measuredLines } from '../plan/measured-choice.js';
import { batchPlans } from '../plan/planner.js';
import type { ConvPlan, NetworkPlan } from '../plan/types.js';

const pct = (x: number): string => `${(100 * x).toFixed(1)}%`;
const mflop = (macs: number): string => ((2 * macs) / 1e6).toFixed(1);

/** One plan's summary lines, conv table and reasons; `h` is the heading level of its Reasons. */
function planBody(plan: NetworkPlan, kernelCount: number, h: string): string[] {
  const sparse = plan.convs.filter((c) => c.decision === 'act-sparse');
  // Per family: decision 'act-sparse' means "a generated kernel"; the family says which.
  const byFamily = new Map<string, number>();
  for (const c of sparse) byFamily.set(c.spec?.family ?? 'act-sparse', (byFamily.get(c.spec?.family ?? 'act-sparse') ?? 0) + 1);
  const families = [...byFamily].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)).map(([f, n]) => `${f} ${n}`).join(', ');
  // The MACs a generated kernel does: wsparse and wstage skip zero weights, dual both kinds of zero (about
  // independent), igemm is dense, wino dense (its 2.25x fewer multiplies are not counted here), the others skip zero inputs.
  const useful = (c: ConvPlan): number => c.decision !== 'act-sparse' ? 1
    : c.spec?.family === 'dual' ? (1 - c.weightSparsity) * (1 - c.inputSparsity)
      : c.spec && isWeightSparse(c.spec) ? 1 - c.weightSparsity : c.spec?.family === 'igemm' || c.spec?.family === 'wino' ? 1 : 1 - c.inputSparsity;
  const totalMacs = plan.convs.reduce((n, c) => n + c.macs, 0);
  const usefulMacs = plan.convs.reduce((n, c) => n + c.macs * useful(c), 0);
  const estCudnn = plan.convs.reduce((n, c) => n + c.estimate.cudnnUs, 0);
  const estPlan = plan.convs.reduce((n, c) => n + (c.decision === 'act-sparse' ? c.estimate.actSparseUs! : c.estimate.cudnnUs), 0);
  const lines = [
    `- Convolutions: ${plan.convs.length}; on generated kernels: ${sparse.length}${families ? ` (${families})` : ''}, served by ${kernelCount} generated kernels; cuDNN: ${plan.convs.length - sparse.length}`,
    `- Conv FLOPs: ${mflop(totalMacs)} MFLOP dense; ${mflop(usefulMacs)} MFLOP after the zeros the generated kernels skip (inputs; weights for wsparse and wstage; both for dual)`,
    `- Cost-model estimate of conv time: ${estCudnn.toFixed(0)} us all-cuDNN, ${estPlan.toFixed(0)} us with this plan (estimates; \`cusnn-gen verify\` measures)`,
    '',
    '| # | layer | input CxHxW | filter | output KxHxW | input zeros | weight zeros | decision | kernel | tiles (th x tw, tc, kb, cs) | MFLOP | est. us (cuDNN / ours) |',
    '|---|---|---|---|---|---|---|---|---|---|---|---|',
  ];
  plan.convs.forEach((c, i) => {
    const filter = `${c.kernel[0]}x${c.kernel[1]}/s${c.stride[0]}`;
    const tiles = c.spec ? describeTiles(c.spec) : '';
    const ours = c.estimate.actSparseUs === null ? '-' : c.estimate.actSparseUs.toFixed(1);
    lines.push(
      `| ${i + 1} | ${c.layer} | ${c.input.join('x')} | ${filter} | ${c.output.join('x')} | ${pct(c.inputSparsity)} (${c.inputSparsitySource}) | ` +
        `${pct(c.weightSparsity)}${c.weightPattern && c.weightPattern.pattern !== 'dense' ? ` ${c.weightPattern.pattern}` : ''} | ${c.decision === 'cudnn' ? 'cudnn' : c.spec?.family ?? c.decision} | ${c.kernelName ? `\`${c.kernelName}\`` : ''} | ${tiles} | ${mflop(c.macs)} | ${c.estimate.cudnnUs.toFixed(1)} / ${ours} |`,
    );
  });
  lines.push('', `${h} Reasons`, '');
  for (const c of plan.convs) lines.push(`- **${c.layer}**: ${c.reason}`);
  const measured = plan.convs.filter((c) => c.measured);
  if (measured.length > 0) {
    lines.push('', `${h} Measured decisions`, '',
      `${measured.length} convs decided by measurement: per conv the winner and why, cuDNN's fastest algorithm and the fastest kernel of each family measured ` +
      '(median, p10-p90 of the replays); plan.json lists every candidate.', '');
    for (const c of measured) {
      const w = c.weightPattern;
      const facts = w && w.pattern !== 'dense' ? ` (weights ${w.pattern}, density ${pct(w.density)}, nonzeros per output channel ${w.nnzPerOutChannel.min}/${w.nnzPerOutChannel.mean.toFixed(1)}/${w.nnzPerOutChannel.max}${w.digest ? `, structure ${w.digest}` : ''})` : '';
      const [first, ...rest] = measuredLines(c.measured!);
      lines.push(`- **${c.layer}**${facts}: ${first}`, ...rest.map((l) => `  - ${l}`));
    }
  }
  return lines;
}

/** A conv's path at one batch, as the differences table shows it. */
const pathOf = (c: ConvPlan | undefined): string => (!c ? '-' : c.decision === 'cudnn' ? 'cuDNN' : `${c.spec?.family ?? c.decision} \`${c.kernelName ?? '?'}\``);

/** The convs whose path or kernel is not the same at every planned batch, one row each. */
function differences(plans: readonly NetworkPlan[]): string[] {
  const byBatch = plans.map((p) => new Map(p.convs.map((c) => [c.layer, c])));
  const rows: string[] = [];
  for (const c of plans[0]!.convs) {
    const at = byBatch.map((m) => m.get(c.layer));
    const same = at.every((x) => x !== undefined && x.decision === c.decision && x.kernelName === c.kernelName);
    if (!same) rows.push(`| ${c.layer} | ${at.map(pathOf).join(' | ')} |`);
  }
  const lines = ['## Decisions that differ between batches', ''];
  if (rows.length === 0) return [...lines, `Every conv has the same path and kernel at batch ${plans.map((p) => p.batch).join(', ')}.`];
  return [
    ...lines,
    `${rows.length} of ${plans[0]!.convs.length} convs change path or kernel with the batch (the reasons per batch are in its section):`,
    '',
    `| layer | ${plans.map((p) => `batch ${p.batch}`).join(' | ')} |`,
    `|---|${plans.map(() => '---|').join('')}`,
    ...rows,
  ];
}

export function renderReport(plan: NetworkPlan, kernelCount: number): string {
  const plans = batchPlans(plan);
  const head = [
    ...(plan.modelFile ? [`- Model: ONNX ${plan.modelFile.path} (sha256 ${plan.modelFile.sha256}); layer names are its node names`] : []),
    `- Weights: ${plan.weights}`, `- Input sparsity: ${plan.sparsitySource}`,
  ];
  if (plans.length === 1) {
    return [`# ${plan.model} on ${plan.arch} (${plan.board}), batch ${plan.batch}`, '', ...head, ...planBody(plan, kernelCount, '##'), ''].join('\n');
  }
  const batches = plans.map((p) => p.batch);
  const lines = [
    `# ${plan.model} on ${plan.arch} (${plan.board}), batches ${batches.join(', ')}`,
    '',
    ...head,
    `- Plans: one per batch size (${batches.join(', ')}), served by ${kernelCount} generated kernels in all (one addon); plan.json holds ` +
      `batch ${batches[0]} at the top level and the others under \`batches\``,
    `- At a batch with no plan, static mode takes the nearest planned batch (ties: the smaller) only where it measures that plan no slower ` +
      'than all-cuDNN at the batch it is given; else every conv runs on cuDNN (the runtime says which)',
    '',
    ...differences(plans),
  ];
  for (const p of plans) {
    const own = new Set(p.convs.flatMap((c) => (c.kernelName ? [c.kernelName] : []))).size;
    lines.push('', `## Batch ${p.batch}`, '', ...planBody(p, own, '###'));
  }
  lines.push('');
  return lines.join('\n');
}
