#!/usr/bin/env python3
"""Per-layer targets read from bench results.json files (no figure typed by hand). Issue 8 (dense
weights): per model, the 3x3 convs by input-zero bucket (>= 85%: 5x, 70-85%: 3x, 40-70%: 2x) and the
1x1 convs (1.5x where they run generated kernels). Issue 10 (convs whose weights are >= 50% zero):
every pruned 3x3 and 1x1 conv 4x (a pruned conv kept on cuDNN counts as missed: "every"). Per group:
how many run generated kernels, how many meet the target, and the min / median speedup over cuDNN's
fastest algorithm of those that do. Usage: targets.py results.json ..."""
import json, statistics, sys

def bucket(l):
    z = l['inputSparsity']
    if l.get('weightSparsity', 0) >= 0.5 and l['r'] in (1, 3) and l['r'] == l['s']:
        return (f"pruned {l['r']}x{l['s']} ({round(100 * l['weightSparsity'])}% zero weights)", 4.0, 'every')
    if l['r'] == 1 and l['s'] == 1:
        return ('1x1', 1.5, 'generated')
    if l['r'] != 3:
        return None
    if z >= 0.85: return ('3x3 >= 85% zeros', 5.0, 'generated')
    if z >= 0.70: return ('3x3 70-85% zeros', 3.0, 'generated')
    if z >= 0.40: return ('3x3 40-70% zeros', 2.0, 'generated')
    return ('3x3 < 40% zeros', None, 'generated')

print('| model | batch | weights | layers | convs | on generated kernels | target | met | min speedup | median speedup |')
print('|---|---:|---|---|---:|---:|---:|---:|---:|---:|')
for path in sys.argv[1:]:
    r = json.load(open(path))
    for run in r['runs']:
        groups = {}
        for l in run['layers']:
            b = bucket(l)
            if b is None: continue
            groups.setdefault(b, []).append(l)
        for (name, target, over), ls in sorted(groups.items(), key=lambda kv: kv[0][0]):
            gen = [l for l in ls if l['path'] != 'cudnn' and l.get('speedup') is not None]
            sp = sorted(l['speedup'] for l in gen)
            met = sum(1 for s in sp if target is not None and s >= target)
            of = len(ls) if over == 'every' else len(gen)
            cell = lambda v: f'{v:.2f}x' if v is not None else '-'
            model = run['model'] + (f" p{run['prune']['sparsity']:.2f}" if run.get('prune') else '')
            print(f"| {model} | {run['batch']} | {run['weights']} | {name} | {len(ls)} | {len(gen)} | "
                  f"{f'{target}x' if target else 'none'} | {met if target else '-'}/{of if target else '-'} | "
                  f"{cell(sp[0] if sp else None)} | {cell(statistics.median(sp) if sp else None)} |")
