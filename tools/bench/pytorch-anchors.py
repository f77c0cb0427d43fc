#!/usr/bin/env python3
"""PyTorch + cuDNN anchors for docs/PERFORMANCE.md, measured on the GPU host in the same session
as `cusnn-gen bench` (the performance issue asks for them again beside every whole-network table).

torchvision's models (random weights: dense timing does not depend on the values; BN not folded,
eval mode) captured in a CUDA graph after cudnn.benchmark warm-up, timed with CUDA events around
each replay; median and p10/p90 of `--iters` replays. Precisions: fp32 (TF32 off: the exact-fp32
baseline cusnn is held to), tf32 (PyTorch's default for convs), fp16 (channels-last, autocast off,
the model cast to half). One JSON line per (model, batch, precision) on stdout.

  python3 tools/bench/pytorch-anchors.py --models resnet50,resnet152,densenet169,densenet201 --batch 1,8,32

`--table ANCHORS.jsonl RESULTS.json...` (no GPU, no torch) prints the markdown table the docs hold
between `<!-- anchors:begin ANCHORS.jsonl RESULTS.json... -->` and `<!-- anchors:end -->`, with
cusnn's median from the bench results beside PyTorch's (test/bench/anchors.test.ts checks them).
"""
import argparse
import json
import statistics
import sys

NAMES = {"resnet50": "ResNet-50", "resnet101": "ResNet-101", "resnet152": "ResNet-152", "densenet121": "DenseNet-121",
         "densenet169": "DenseNet-169", "densenet201": "DenseNet-201", "vgg16": "VGG-16", "vgg19": "VGG-19"}


def table(anchors_file, results_files):
    rows = [json.loads(l) for l in open(anchors_file) if l.strip()]
    dev = rows[0]
    pt = {(r["model"], r["batch"], r["precision"]): r["medianUs"] for r in rows[1:]}
    ours = {}
    for f in results_files:
        for run in json.load(open(f))["runs"]:
            # PyTorch's models are dense: a pruned run (bench --prune, or a pruned weights file) is not their peer.
            if run.get("prune") or (run.get("weightSparsity") or 0) >= 0.05:
                continue
            for e in run["engines"]:
                if e["engine"] == "cusnn":
                    ours[(run["model"], run["batch"])] = e["time"]["medianUs"]
    keys = sorted({(m, b) for (m, b, _) in pt if (m, b) in ours}, key=lambda k: (k[1], list(NAMES).index(k[0])))
    out = [f"PyTorch {dev['torch']}, cuDNN {dev['cudnn']}, {dev['device']}; ms per batch (median)", "",
           "| model | batch | fp32 (TF32 off) | TF32 | fp16 channels-last | cusnn exact fp32 | cusnn vs fp16 |",
           "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for m, b in keys:
        f16 = pt.get((m, b, "fp16"))
        c = ours[(m, b)]
        cell = lambda p: f"{pt[(m, b, p)] / 1000:.2f}" if (m, b, p) in pt else "-"
        win = f"{f16 / c:.2f}x" if f16 else "-"
        cusnn = f"**{c / 1000:.2f}**" if f16 and c < f16 else f"{c / 1000:.2f}"
        out.append(f"| {NAMES.get(m, m)} | {b} | {cell('fp32')} | {cell('tf32')} | {cell('fp16')} | {cusnn} | {win} |")
    return "\n".join(out)


def time_graph(fn, x, iters):
    import torch
    s = torch.cuda.Stream()
    s.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(s):
        for _ in range(5):  # cudnn.benchmark picks its algorithms here, before capture
            fn(x)
    torch.cuda.current_stream().wait_stream(s)
    g = torch.cuda.CUDAGraph()
    with torch.cuda.graph(g):
        y = fn(x)
    for _ in range(20):
        g.replay()
    torch.cuda.synchronize()
    ev = [(torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)) for _ in range(iters)]
    for a, b in ev:
        a.record()
        g.replay()
        b.record()
    torch.cuda.synchronize()
    us = sorted(a.elapsed_time(b) * 1000.0 for a, b in ev)
    q = lambda p: us[min(len(us) - 1, int(p * (len(us) - 1) + 0.5))]
    return {"medianUs": statistics.median(us), "p10Us": q(0.1), "p90Us": q(0.9)}, y


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "--table":
        print(table(sys.argv[2], sys.argv[3:]))
        return
    import torch  # noqa: F401  (the GPU host only)
    import torchvision  # noqa: F401
    ap = argparse.ArgumentParser()
    ap.add_argument("--models", default="resnet50,resnet152,densenet169,densenet201")
    ap.add_argument("--batch", default="1")
    ap.add_argument("--precisions", default="fp32,tf32,fp16")
    ap.add_argument("--iters", type=int, default=200)
    a = ap.parse_args()
    import torch
    import torchvision
    torch.backends.cudnn.benchmark = True
    dev = torch.device("cuda")
    print(json.dumps({"device": torch.cuda.get_device_name(0), "torch": torch.__version__,
                      "cudnn": torch.backends.cudnn.version(), "torchvision": torchvision.__version__}), flush=True)
    gen = torch.Generator().manual_seed(1)
    for name in a.models.split(","):
        base = getattr(torchvision.models, name)(weights=None).eval()
        for batch in [int(b) for b in a.batch.split(",")]:
            x32 = torch.randn(batch, 3, 224, 224, generator=gen).to(dev)
            for prec in a.precisions.split(","):
                torch.backends.cudnn.allow_tf32 = prec == "tf32"
                torch.backends.cuda.matmul.allow_tf32 = prec == "tf32"
                m = base.to(dev)
                x = x32
                if prec == "fp16":
                    m = m.half().to(memory_format=torch.channels_last)
                    x = x32.half().to(memory_format=torch.channels_last)
                else:
                    m = m.float().to(memory_format=torch.contiguous_format)
                with torch.inference_mode():
                    t, _ = time_graph(m, x, a.iters)
                print(json.dumps({"model": name, "batch": batch, "precision": prec, **t}), flush=True)
                base = base.float()


if __name__ == "__main__":
    main()
