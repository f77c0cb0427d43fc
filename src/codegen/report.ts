// report.md: the plan as a person reads it — one row per conv with its shape, sparsity, decision,
// kernel and tiles, and the planner's reasons below the table.
import { describeTiles } from '../families/registry.js';
import type { NetworkPlan } from '../plan/types.js';

const pct = (x: number): string => `${(100 * x).toFixed(1)}%`;
const mflop = (macs: number): string => ((2 * macs) / 1e6).toFixed(1);

export function renderReport(plan: NetworkPlan, kernelCount: number): string {
  const sparse = plan.convs.filter((c) => c.decision === 'act-sparse');
  const totalMacs = plan.convs.reduce((n, c) => n + c.macs, 0);
  const usefulMacs = plan.convs.reduce((n, c) => n + c.macs * (c.decision === 'act-sparse' ? 1 - c.inputSparsity : 1), 0);
  const estCudnn = plan.convs.reduce((n, c) => n + c.estimate.cudnnUs, 0);
  const estPlan = plan.convs.reduce((n, c) => n + (c.decision === 'act-sparse' ? c.estimate.actSparseUs! : c.estimate.cudnnUs), 0);
  const lines = [
    `# ${plan.model} on ${plan.arch} (${plan.board}), batch ${plan.batch}`,
    '',
    `- Weights: ${plan.weights}`,
    `- Input sparsity: ${plan.sparsitySource}`,
    `- Convolutions: ${plan.convs.length}; act-sparse: ${sparse.length}, served by ${kernelCount} generated kernels; cuDNN: ${plan.convs.length - sparse.length}`,
    `- Conv FLOPs: ${mflop(totalMacs)} MFLOP dense; ${mflop(usefulMacs)} MFLOP after skipping zeros in act-sparse layers`,
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
        `${pct(c.weightSparsity)} | ${c.decision} | ${c.kernelName ? `\`${c.kernelName}\`` : ''} | ${tiles} | ${mflop(c.macs)} | ${c.estimate.cudnnUs.toFixed(1)} / ${ours} |`,
    );
  });
  lines.push('', '## Reasons', '');
  for (const c of plan.convs) lines.push(`- **${c.layer}**: ${c.reason}`);
  lines.push('');
  return lines.join('\n');
}
