#!/usr/bin/env python3
"""Issue 10's dual target from a tune cache (cusnn-gen tune on a pruned model): per conv, the fastest dual tile against
the fastest weight-sparse one (wsparse, wstage) and the other families, with the input zeros; the target is 1.5x over
the weight-sparse kernel alone where the input has >= 60% zeros. A difference inside both spreads (p10-p90) is a tie.
usage: python3 tools/bench/dual-vs-wsparse.py <tune-cache.json> [gpu substring]"""
import json
import sys

WEIGHT_SPARSE = ('wsparse', 'wstage')


def best(cands, families):
    ok = [c for c in cands if c['family'] in families and c.get('us') is not None]
    return min(ok, key=lambda c: c['us']) if ok else None


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    cache = json.load(open(sys.argv[1]))
    gpu = sys.argv[2] if len(sys.argv) > 2 else ''
    rows = []
    for e in cache['entries'].values():
        if gpu not in e['gpu'] or 'measured' not in e:  # older caches kept only the winners
            continue
        cands = e['measured']['candidates']
        d, w = best(cands, ('dual',)), best(cands, WEIGHT_SPARSE)
        others = best(cands, tuple({c['family'] for c in cands} - {'dual', *WEIGHT_SPARSE}))
        for layer in e['layers']:
            rows.append((layer['layer'], layer['zeros'], e['shape'], d, w, others, e['measured']['cudnn']['us'], e['best']['kernel']))
    print('| conv | shape | input zeros | dual best us | weight-sparse best us | dual vs weight-sparse | other best us | cuDNN us | tune pick |')
    print('| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |')
    met = eligible = 0
    for layer, zeros, s, d, w, o, cudnn, pick in sorted(rows, key=lambda r: r[0]):
        shape = f"{s['c']}x{s['h']}x{s['w']}->{s['k']}"
        fmt = lambda c: '-' if c is None else f"{c['us']:.2f} ({c['p10Us']:.2f}-{c['p90Us']:.2f})"
        if d and w:
            x = w['us'] / d['us']
            tie = d['p90Us'] >= w['p10Us'] and w['p90Us'] >= d['p10Us']
            ratio = f"{x:.2f}x" + (' (tie)' if tie else '')
            if zeros >= 0.6:
                eligible += 1
                met += x >= 1.5 and not tie
        else:
            ratio = '-'
        print(f"| {layer} | {shape} | {100 * zeros:.1f}% | {fmt(d)} | {fmt(w)} | {ratio} | {fmt(o)} | {cudnn:.2f} | {pick} |")
    print(f"\ndual >= 1.5x over the weight-sparse kernel on convs with >= 60% input zeros: {met}/{eligible}")


if __name__ == '__main__':
    main()
