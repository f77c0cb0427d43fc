#!/usr/bin/env python3
"""Markdown table of a batch-lab run (tools/kernel-lab/batch-lab.sh JSON lines: igemm kernels from batch-lab.mjs
or wino kernels from wino-lab.mjs, where "rule" is the cost model's pick): per (shape, batch) the rule's tile and the fastest correct tile against cuDNN's fastest exact algorithm, and the failures.
Usage: batch-summary.py lab.jsonl"""
import json
import sys

rows = [json.loads(l) for l in open(sys.argv[1]) if l.startswith('{"name"')]
bad = [r for r in rows if 'error' in r or not (r['relL2'] <= 1e-5) or r['finite'] is not True or r['bitwise'] is not True]
ok = [r for r in rows if r not in bad]
dev = next((json.loads(l) for l in open(sys.argv[1]) if l.startswith('{"device"')), {})
print(f"{dev.get('device', '?')}, cuDNN {dev.get('cudnn', '?')}: {len(rows)} (kernel, batch) entries, {len(bad)} failed "
      f"(relL2 > 1e-5, non-finite, not bitwise on rerun, or launch error); worst relL2 {max((r['relL2'] for r in ok), default=0):.1e}\n")
print('| shape | batch | cuDNN us (algo) | rule tile us | rule vs cuDNN | best tile us | best vs cuDNN | best tile |')
print('| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |')


def wino_tile(name):
    """wino's tile part: the split and, with 16 warps, the width (s2, s4_w16)."""
    tail = name.rsplit('_bias', 1)[0].split('_sm', 1)[0]
    parts = tail.split('_')
    i = next(j for j, x in enumerate(parts) if x.startswith('s') and x[1:].isdigit())
    return '_'.join(parts[i:i + 2]) if i + 1 < len(parts) and parts[i + 1].startswith('w') else parts[i]


groups = {}
for r in ok:
    groups.setdefault((r['model'], r['shape'], r['batch']), []).append(r)
for (model, shape, batch), rs in groups.items():
    rule = next((r for r in rs if r['rule']), None)
    best = min(rs, key=lambda r: r['us'])
    c = rs[0]
    tie = lambda r: ' (tie)' if r['p10'] <= c['cudnnP90'] and r['p90'] >= c['cudnnP10'] else ''
    # The tile part of the name: igemm's from _bm on, wino's split (_s<N>), else the whole name.
    name = best['name'].rsplit('_bias', 1)[0]
    tile = 'bm' + name.split('_bm', 1)[1] if '_bm' in name else wino_tile(name) if name.startswith('wino') else name
    print(f"| {model} {shape} | {batch} | {c['cudnnUs']:.1f} ({c['algo']}) | "
          f"{rule['us']:.1f} | {c['cudnnUs'] / rule['us']:.2f}x{tie(rule)} | " if rule else f"| {model} {shape} | {batch} | {c['cudnnUs']:.1f} ({c['algo']}) | - | - | ",
          end='')
    print(f"{best['us']:.1f} | {c['cudnnUs'] / best['us']:.2f}x{tie(best)} | {tile} |")
for r in bad[:20]:
    print(f"\nFAILED: {r['name']} batch {r['batch']}: {r.get('error') or r}")

# wino at both widths (8 warps, and 16: `_w16` in the name): each width's fastest split per (shape, batch), the
# 16-warp one against the 8-warp one; a tie where their p10-p90 ranges overlap.
wide = [r for r in ok if r['name'].startswith('wino') and '_w16_' in r['name']]
if wide:
    print('\n| shape | batch | 8 warps best us (p10-p90) | split | 16 warps best us (p10-p90) | split | 16 vs 8 |')
    print('| --- | ---: | ---: | --- | ---: | --- | ---: |')
    for (model, shape, batch), rs in groups.items():
        n8 = [r for r in rs if '_w16_' not in r['name']]
        n16 = [r for r in rs if '_w16_' in r['name']]
        if not n8 or not n16:
            continue
        a, b = min(n8, key=lambda r: r['us']), min(n16, key=lambda r: r['us'])
        tie = ' (tie)' if b['p10'] <= a['p90'] and b['p90'] >= a['p10'] else ''
        print(f"| {model} {shape} | {batch} | {a['us']:.2f} ({a['p10']:.2f}-{a['p90']:.2f}) | {wino_tile(a['name'])} | "
              f"{b['us']:.2f} ({b['p10']:.2f}-{b['p90']:.2f}) | {wino_tile(b['name'])} | {a['us'] / b['us']:.2f}x{tie} |")
