#!/usr/bin/env python3
"""The planner's pick today against a tune cache's measurements (issue 8, item 4: the heuristic within 10% of the
searched best on >= 90% of layers). For each conv layer a cache entry measured, the kernel the plan names (plan.json
of a folder generated now, without a tune cache) is looked up among that entry's measured candidates; a plan that
keeps the conv on cuDNN is scored with the entry's measured cuDNN time, and the searched best is the fastest of the
candidates and cuDNN.
A re-scoring against old measurements, not a new one: a pick the search never ran counts as not measured.

  node dist/cli.js --model resnet50 --arch sm_90 --batch 1 --weights <dir> --fill-missing --out /tmp/r50p -q
  python3 tools/bench/heuristic-vs-cache.py /tmp/r50p/plan.json <tune-cache.json[.gz]>
"""
import gzip
import json
import sys


def load(path):
    with (gzip.open(path, 'rt') if path.endswith('.gz') else open(path)) as f:
        return json.load(f)


def main():
    if len(sys.argv) != 3:
        sys.exit('usage: heuristic-vs-cache.py <plan.json> <tune-cache.json[.gz]>')
    plan, cache = load(sys.argv[1]), load(sys.argv[2])
    kernel_of = {c['layer']: (c.get('kernelName') if c['decision'] != 'cudnn' else 'cuDNN') for c in plan['convs']}
    n = within = unmeasured = 0
    print('| layer | plan\'s kernel | its time us | searched best us | ratio |')
    print('| --- | --- | ---: | ---: | ---: |')
    for e in cache['entries'].values():
        ok = [c for c in e['measured']['candidates'] if c['discarded'] is None]
        if not ok:
            continue
        best = min([c['us'] for c in ok] + [e['cudnnUs']])
        for layer in e['layers']:
            if layer['layer'] not in kernel_of:
                continue
            n += 1
            k = kernel_of[layer['layer']]
            hit = {'us': e['cudnnUs']} if k == 'cuDNN' else next((c for c in ok if c['kernel'] == k), None)
            if hit is None:
                unmeasured += 1
                print(f"| {layer['layer']} | {k} | not measured | {best:.2f} | - |")
                continue
            r = hit['us'] / best
            within += r <= 1.1
            print(f"| {layer['layer']} | {k} | {hit['us']:.2f} | {best:.2f} | {r:.3f} |")
    print(f"\nwithin 10% of the searched best: {within}/{n} ({unmeasured} picks not among the measured candidates); "
          f"GPU {next(iter(cache['entries'].values()))['gpu']}")


if __name__ == '__main__':
    main()
