#!/usr/bin/env python3
"""Summary of an ncu text report (`ncu --section ...` output, no hand-typed figures): per kernel name, the launches
and the min / median / max of a few metrics. Usage: ncu-summary.py ncu.log [metric label ...]"""
import re, statistics, sys

DEFAULT = ['Duration', 'Elapsed Cycles', 'SM Active Cycles', 'Compute (SM) Throughput', 'Memory Throughput', 'L2 Hit Rate',
           'Achieved Active Warps Per SM', 'Warp Cycles Per Issued Instruction', 'Issued Warp Per Scheduler', 'Registers Per Thread']
text = open(sys.argv[1]).read()
labels = sys.argv[2:] or DEFAULT
head = re.compile(r'^  (?:\S+::)?(\w+)(?:\([^)]*\))? \((\d+), (\d+), (\d+)\)x\((\d+), (\d+), (\d+)\)', re.M)
marks = list(head.finditer(text))
per = {}
for i, m in enumerate(marks):
    body = text[m.end():marks[i + 1].start() if i + 1 < len(marks) else len(text)]
    vals = {}
    for lab in labels:
        v = re.search(r'\n\s+' + re.escape(lab) + r'\s+(?:\S+\s+)?([\d.,]+)\s*\n', body)
        if v: vals[lab] = float(v.group(1).replace(',', ''))
    per.setdefault(m.group(1), []).append(vals)
print('| kernel | launches | ' + ' | '.join(labels) + ' |')
print('| --- | ---: | ' + ' | '.join('---' for _ in labels) + ' |')
for name, ls in per.items():
    cells = []
    for lab in labels:
        xs = [v[lab] for v in ls if lab in v]
        cells.append('-' if not xs else f'{min(xs):g} / {statistics.median(xs):g} / {max(xs):g}')
    print(f'| {name} | {len(ls)} | ' + ' | '.join(cells) + ' |')
