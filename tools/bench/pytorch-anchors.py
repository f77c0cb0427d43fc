#!/usr/bin/env python3
"""PyTorch + cuDNN anchors for docs/PERFORMANCE.md, measured on the GPU host in the same session
as `cusnn-gen bench` (the performance issue asks for them again beside every whole-network table).

torchvision's models (random weights: dense timing does not depend on the values; BN not folded,
eval mode) captured in a CUDA graph after cudnn.benchmark warm-up, timed with CUDA events around
each replay; median and p10/p90 of `--iters` replays. Precisions: fp32 (TF32 off: the exact-fp32
baseline cusnn is held to), tf32 (PyTorch's default for convs), fp16 (channels-last, autocast off,
the model cast to half). One JSON line per (model, batch, precision) on stdout.

  python3 tools/bench/pytorch-anchors.py --models resnet50,resnet152,densenet169,densenet201 --batch 1,8,32
"""
import argparse
import json
import statistics

import torch
import torchvision


def time_graph(fn, x, iters):
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
    ap = argparse.ArgumentParser()
    ap.add_argument("--models", default="resnet50,resnet152,densenet169,densenet201")
    ap.add_argument("--batch", default="1")
    ap.add_argument("--precisions", default="fp32,tf32,fp16")
    ap.add_argument("--iters", type=int, default=200)
    a = ap.parse_args()
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
