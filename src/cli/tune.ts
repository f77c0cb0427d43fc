// `cusnn-gen tune <dir>`: the measured tile search on the GPU (src/runtime/tune-search.ts) for every
// conv of a generated folder's plan; the winners go into a tune cache that `cusnn-gen --tune-cache
// FILE --gpu MODEL` reads. Prints per conv the searched best, the heuristic's pick, cuDNN and the
// measured choice (src/plan/measured-choice.ts: a kernel of any family only where it beats cuDNN
// outside the spread and by the margin), and how often the heuristic lands within 10% of the best.
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Command } from 'commander';
import { findNvcc } from '../toolchain/nvcc.js';
import { intOption, MAX_SEED, ToolError, UsageError } from '../output/exit.js';
import { isArchName } from '../arch/profiles.js';
import { chooseMeasured } from '../plan/measured-choice.js';
import { emptyTuneCache, heuristicSummary, HEURISTIC_TOLERANCE, mergeTuneCache, readTuneCache, tunedMeasurements, writeTuneCache, type TuneEntry } from '../plan/tune-cache.js';
import { listImages, preprocess, readImage } from '../runtime/images.js';
import { planModel, readPlanFile } from '../runtime/network.js';
import { tuneSearch, type TuneInputs, type TuneReport } from '../runtime/tune-search.js';
import { table } from './table.js';

interface TuneOptions {
  images?: string;
  randomInputs?: boolean;
  cache: string;
  maxCandidates: number;
  iters: number;
  seed: number;
  layer?: string[];
  work?: string;
  jobs?: number;
  quiet?: boolean;
}

const pct = (x: number): string => `${(100 * x).toFixed(0)}%`;

/** What the planner will run for an entry's layers, and why. */
function entryChoice(e: TuneEntry | undefined): { what: string; why: string } {
  if (!e || !isArchName(e.arch)) return { what: '-', why: 'no entry' };
  const m = tunedMeasurements(e);
  const c = chooseMeasured(m.candidates, m.cudnn, e.arch);
  return { what: c.beatsCudnn && c.generated ? `${c.generated.family}` : 'cuDNN', why: c.why };
}

/** The per-conv table and the summary lines of a tune run. */
export function tuneSummary(r: TuneReport): string[] {
  const entryOf = new Map(r.entries.flatMap((e) => e.layers.map((l) => [l.layer, e] as const)));
  const rows = r.layers.map((l) => {
    const ok = l.candidates.filter((c) => c.us !== null).sort((a, b) => a.us! - b.us!);
    const h = l.candidates.find((c) => c.heuristic);
    const best = ok[0];
    return [l.layer, pct(l.zeros), String(l.candidates.length), String(l.candidates.length - ok.length),
      best ? best.us!.toFixed(1) : '-', h?.us != null ? h.us.toFixed(1) : 'discarded', best && h?.us != null ? `${(h.us / best.us!).toFixed(2)}x` : '-',
      l.cudnnUs.toFixed(1), best ? `${(l.cudnnUs / best.us!).toFixed(2)}x` : '-', best?.kernel ?? '-', entryChoice(entryOf.get(l.layer)).what];
  });
  const out = [table(['conv', 'zeros', 'candidates', 'discarded', 'best us', 'heuristic us', 'heur/best', 'cuDNN us', 'cuDNN/best', 'best kernel', 'choice'], rows)];
  for (const l of r.layers) out.push(`${l.layer}: ${entryChoice(entryOf.get(l.layer)).why}`);
  const discarded = r.layers.flatMap((l) => l.candidates.filter((c) => c.discarded !== null).map((c) => `${l.layer}: ${c.kernel}: ${c.discarded}`));
  if (discarded.length > 0) out.push(`discarded ${discarded.length} candidates:`, ...discarded.map((d) => `  ${d}`));
  for (const s of r.skipped) out.push(`skipped ${s.layer}: ${s.why}`);
  for (const k of r.noEntry) out.push(`no entry for '${k}': no candidate passed the check against cuDNN`);
  const entries = Object.fromEntries(r.entries.map((e, i) => [String(i), e]));
  const s = heuristicSummary(entries);
  out.push(`heuristic within ${Math.round((HEURISTIC_TOLERANCE - 1) * 100)}% of the searched best on ${s.within}/${s.layers} layers (${pct(s.fraction)}) of ${r.model} on ${r.gpu}, batch ${r.batch}, ${r.inputs === 'images' ? 'real activations' : 'random inputs at each layer\'s zero fraction'}`);
  return out;
}

export function tuneCommand(print: (s: string) => void = console.log): Command {
  return new Command('tune')
    .description('measured search on the GPU over every registered family\'s candidates and cuDNN for every conv of a generated folder; writes their times per (GPU model, shape, zeros bucket, batch, weight structure of a pruned layer) to a tune cache for --tune-cache')
    .argument('<dir>', 'a folder written by cusnn-gen (its plan.json gives shapes, batch, arch and input sparsity)')
    .option('--images <dir>', 'time on the real activations of these images (the first <batch> of them)')
    .option('--random-inputs', 'time on seeded random post-ReLU-like inputs at each layer\'s zero fraction (the default without --images)')
    .option('--cache <file>', 'tune cache to update', 'tune-cache.json')
    .option('--max-candidates <n>', 'candidates per conv, 1..100000: the heuristic\'s pick, the act-sparse rule\'s, every registered family\'s rule pick (wsparse on pruned weights), then the families\' tile spaces in turn, each by its cost model\'s rank (a large N searches the whole space: 4799 kernels for resnet50, 23167 for densenet169 on sm_90, dense weights)', intOption('--max-candidates', 1, 100_000), 32)
    .option('--iters <n>', 'timed CUDA-graph replays per candidate, 1..100000 (median kept)', intOption('--iters', 1, 100_000), 100)
    .option('--seed <n>', `seed of the random inputs, 0..${MAX_SEED}`, intOption('--seed', 0, MAX_SEED), 0)
    .option('--layer <names...>', 'only these convs')
    .option('--work <dir>', 'kernel folder to write and build (default: <dir>/tune)')
    .option('-j, --jobs <n>', 'parallel compile jobs, 1..1024 (default: all cores)', intOption('--jobs', 1, 1024))
    .option('-q, --quiet', 'no progress on stderr')
    .action(async (dir: string, o: TuneOptions) => {
      if (o.images && o.randomInputs) throw new UsageError('--images and --random-inputs exclude each other');
      const log = o.quiet ? () => {} : (s: string) => void process.stderr.write(`${s}\n`);
      const plan = readPlanFile(dir);
      // Read the cache first: a malformed one fails before minutes of building.
      const cache = existsSync(o.cache) ? readTuneCache(o.cache) : emptyTuneCache();
      // Thousands of kernels are written before the build: fail on a missing compiler first.
      if (!findNvcc()) throw new ToolError('tune needs nvcc (CUDA toolkit) on PATH or in CUDA_HOME/bin to build its candidates, and an NVIDIA GPU to time them');
      const { graph, weights } = planModel(dir, plan);
      let inputs: TuneInputs;
      if (o.images) {
        const files = listImages(o.images);
        // A batch > images repeats them: the activations stay real, the batch is the plan's.
        const batchFiles = Array.from({ length: plan.batch }, (_, i) => files[i % files.length]!);
        inputs = { kind: 'network', x: preprocess(batchFiles.map((f) => readImage(f)), graph.preprocessing), what: `${batchFiles.length} images of ${o.images}` };
      } else {
        log(`inputs: seeded random (seed ${o.seed}) at each conv's zero fraction from plan.json (${plan.sparsitySource})`);
        inputs = { kind: 'random', seed: o.seed };
      }
      const r = await tuneSearch(graph, plan, weights, {
        inputs, maxCandidates: o.maxCandidates, iters: o.iters, workDir: resolve(o.work ?? join(dir, 'tune')), layers: o.layer, jobs: o.jobs, log,
      });
      const merged = mergeTuneCache(cache, r.entries);
      writeTuneCache(o.cache, merged.cache);
      for (const line of tuneSummary(r)) print(line);
      const all = heuristicSummary(merged.cache.entries, { gpu: r.gpu });
      print(`wrote ${o.cache}: ${r.entries.length} entries (${merged.replaced.length} replaced); the whole cache on ${r.gpu}: heuristic within 10% on ${all.within}/${all.layers} layers (${pct(all.fraction)})`);
    });
}
