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
    tile = 'bm' + name.split('_bm', 1)[1] if '_bm' in name else name.rsplit('_', 1)[1] if name.startswith('wino') else name
    print(f"| {model} {shape} | {batch} | {c['cudnnUs']:.1f} ({c['algo']}) | "
          f"{rule['us']:.1f} | {c['cudnnUs'] / rule['us']:.2f}x{tie(rule)} | " if rule else f"| {model} {shape} | {batch} | {c['cudnnUs']:.1f} ({c['algo']}) | - | - | ",
          end='')
    print(f"{best['us']:.1f} | {c['cudnnUs'] / best['us']:.2f}x{tie(best)} | {tile} |")
for r in bad[:20]:
    print(f"\nFAILED: {r['name']} batch {r['batch']}: {r.get('error') or r}")
