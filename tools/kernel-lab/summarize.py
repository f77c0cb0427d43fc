#!/usr/bin/env python3
"""Markdown table of a lab run (JSON lines from lab.cu): per shape and zero fraction, cuDNN's fastest
exact-fp32 algorithm and the best three igemm configs, with the worst error and whether every rerun
was bitwise identical. Usage: summarize.py lab.jsonl [more.jsonl ...]"""
import json, sys
from collections import OrderedDict

rows = OrderedDict()
for path in sys.argv[1:]:
    for line in open(path):
        if not line.startswith('{"shape"'):
            continue
        r = json.loads(line)
        key = (r['shape'], r['zeros'], path)
        rows.setdefault(key, {'cudnn': None, 'cfgs': []})
        if r['engine'] == 'cudnn':
            rows[key]['cudnn'] = r
        elif 'mode0' in r['cfg'] or 'mode' not in r['cfg']:
            rows[key]['cfgs'].append(r)
multi = len(sys.argv) > 2
print('| shape | zeros |' + (' zeros in |' if multi else '') + ' cuDNN best (algo) | igemm best | speedup | next best | worst rel. error | bitwise reruns |')
print('|---|---:|' + ('---|' if multi else '') + '---:|---|---:|---|---:|---|')
for (shape, z, path), v in rows.items():
    c = v['cudnn']
    cf = sorted(v['cfgs'], key=lambda r: r['us'])
    if not c or not cf:
        continue
    b = cf[0]
    nxt = '; '.join(f"{r['cfg'].replace(' st3', '')} {r['us']:.1f}" for r in cf[1:3])
    err = max(r['err'] for r in cf)
    bit = all(r['bitwise'] for r in cf)
    pat = (' ' + ('2x2 clusters' if 'cluster' in path else 'uniform') + ' |') if multi else ''
    print(f"| {shape} | {z:.2f} |{pat} {c['us']:.1f} us ({c['algo']}) | {b['cfg'].replace(' st3', '')}: {b['us']:.1f} us | "
          f"{c['us'] / b['us']:.2f}x | {nxt} | {err:.1e} | {'yes' if bit else 'NO'} |")
