#!/usr/bin/env python3
"""The planner's decisions without a tune cache (plan.json of a folder generated now) against a bench's measured
decisions (its layers.csv: each conv's generated kernel and cuDNN timed on the calibration images). Per layer the
heuristic's choice (generated kernel or cuDNN) is scored with the measured time of that choice; it is "within 10%"
when that time is at most 1.1x the faster of the two. Issue 8, item 4 (the heuristic within 10% of the measured best
on >= 90% of layers). A re-scoring against committed measurements: the kernels must be the ones the bench timed
(the script counts the plan's generated kernels whose name differs from the bench's).

  node dist/cli.js --model resnet50 --arch sm_90 --batch 8 --weights <dir> --fill-missing --out /tmp/p -q
  python3 tools/bench/heuristic-decisions.py /tmp/p/plan.json docs/results/bench-h100/<run>/layers.csv [...pairs]
"""
import collections
import csv
import json
import sys


def score(plan_path, layers_path):
    plan = {c['layer']: c for c in json.load(open(plan_path))['convs']}
    n = collections.Counter()
    for r in csv.DictReader(open(layers_path)):
        if not r['decisionActSparseUs'] or not r['decisionCudnnUs'] or r['layer'] not in plan:
            continue
        g, cu = float(r['decisionActSparseUs']), float(r['decisionCudnnUs'])
        p = plan[r['layer']]
        gen = p['decision'] != 'cudnn'
        kind = '1x1' if r['r'] == '1' else 'KxK'
        n[kind] += 1
        n[kind + ' within'] += (g if gen else cu) <= 1.1 * min(g, cu)
        n['other kernel'] += gen and p.get('kernelName') != r['kernel']
    return n


def main():
    args = sys.argv[1:]
    if len(args) < 2 or len(args) % 2:
        sys.exit('usage: heuristic-decisions.py <plan.json> <layers.csv> [<plan.json> <layers.csv> ...]')
    print('| plan | bench | 1x1 within 10% | KxK within 10% | plan kernels the bench did not time |')
    print('| --- | --- | ---: | ---: | ---: |')
    for plan_path, layers_path in zip(args[::2], args[1::2]):
        n = score(plan_path, layers_path)
        print(f"| {plan_path} | {layers_path.split('/')[-2]} | {n['1x1 within']}/{n['1x1']} | {n['KxK within']}/{n['KxK']} | {n['other kernel']} |")


if __name__ == '__main__':
    main()
