#!/usr/bin/env python3
"""Per-layer times of the convs whose kernel name starts with one of PREFIXES, read from bench results.json files (no
figure typed by hand), grouped by (family, input size): count, input zeros range, time min / median / max, cuDNN
median, speedup min / median / max. Usage: family-layers.py results.json [prefix,...] (default pxg,dconv)."""
import json, statistics, sys

path = sys.argv[1]
prefixes = (sys.argv[2] if len(sys.argv) > 2 else 'pxg,dconv').split(',')
r = json.load(open(path))
print('| model | family | input | convs | input zeros | us min / median / max | cuDNN us median | speedup min / median / max |')
print('| --- | --- | --- | ---: | --- | --- | ---: | --- |')
for run in r['runs']:
    groups = {}
    for l in run['layers']:
        k = l.get('kernel') or ''
        fam = next((p for p in prefixes if k.startswith(p)), None)
        if fam is None:
            continue
        groups.setdefault((fam, f"{l['c']}x{l['h']}x{l['w']}"), []).append(l)
    for (fam, shape), ls in sorted(groups.items()):
        us = [l['cusnnUs'] for l in ls]
        sp = [l['speedup'] for l in ls]
        z = [l['inputSparsity'] for l in ls]
        f = lambda xs, n=2: f"{min(xs):.{n}f} / {statistics.median(xs):.{n}f} / {max(xs):.{n}f}"
        print(f"| {run['model']} b{run['batch']} | {fam} | {shape} | {len(ls)} | {100 * min(z):.0f}-{100 * max(z):.0f}% | {f(us)} | "
              f"{statistics.median(l['cudnnUs'] for l in ls):.2f} | {f(sp)} |")
