#!/usr/bin/env python3
"""torchvision models as ONNX files for cusnn-gen, with inputs and PyTorch's outputs (no internet).

  python3 tools/onnx/torchvision_export.py export --out DIR [--models resnet50,densenet121,mobilenet_v2] [--inputs 3] [--seed 0]
  python3 tools/onnx/torchvision_export.py compare --name NAME --ref DIR/NAME.torch.npy --got FILE.npy [--tol 1e-4]

export: for each model, torchvision's architecture with random weights (weights=None, torch seed
`seed + i`; no download), its batch norms given non-trivial statistics (gamma, beta drawn, then the
running mean and variance measured in train mode over random batches, as training would leave them:
activations stay O(1) and the ReLUs leave realistic zeros), in eval mode, exported to DIR/NAME.onnx
(opset 13, batch 1, the TorchScript exporter), K inputs drawn N(0, 1) in the preprocessed space to
DIR/NAME.inputs.npy (K, 3, 224, 224 float32) and PyTorch's outputs (logits, computed in float64 on the
CPU: the reference) to DIR/NAME.torch.npy (K, 1000 float64), with PyTorch's own fp32 CPU outputs to
DIR/NAME.torch32.npy (the fp32-vs-fp64 baseline).

compare: one line, the relative L2 error of GOT against REF over all inputs (and the max abs error);
exit status 1 when it exceeds TOL.
"""
import argparse
import inspect
import json
import sys
from pathlib import Path

import numpy as np


def rel_errors(got, ref):
    got = np.asarray(got, dtype=np.float64).reshape(ref.shape)
    ref = np.asarray(ref, dtype=np.float64)
    diff = got - ref
    l2 = float(np.linalg.norm(diff) / max(np.linalg.norm(ref), 1e-300))
    return l2, float(np.max(np.abs(diff))), float(np.max(np.abs(ref)))


def export(args):
    import torch
    import torchvision

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    torch.set_num_threads(max(1, torch.get_num_threads()))
    dev = "cuda" if torch.cuda.is_available() else "cpu"
    summary = {}
    for i, name in enumerate(m.strip() for m in args.models.split(",") if m.strip()):
        torch.manual_seed(args.seed + i)
        np.random.seed(args.seed + i)
        model = getattr(torchvision.models, name)(weights=None)
        bns = [m for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d)]
        with torch.no_grad():
            for bn in bns:
                bn.weight.uniform_(0.5, 1.5)
                bn.bias.uniform_(-0.25, 0.25)
                bn.reset_running_stats()
                bn.momentum = None  # cumulative average over the batches below
            # Batch-norm statistics as training leaves them: measured in train mode on random batches.
            model.to(dev).train()
            for _ in range(args.calibration_batches):
                model(torch.randn(8, 3, 224, 224, device=dev))
        model = model.cpu().eval()
        x = torch.randn(args.inputs, 3, 224, 224)
        with torch.no_grad():
            y32 = torch.cat([model(x[k : k + 1]) for k in range(args.inputs)]).numpy()
            m64 = model.double()
            y64 = torch.cat([m64(x[k : k + 1].double()) for k in range(args.inputs)]).numpy()
            model = model.float()
        onnx_file = out / f"{name}.onnx"
        # The TorchScript exporter (dynamo=False where torch has both): opset 13 as asked, node names
        # like /layer1/layer1.0/conv1/Conv. Options this torch no longer takes are left out.
        params = inspect.signature(torch.onnx.export).parameters
        optional = dict(do_constant_folding=True, training=torch.onnx.TrainingMode.EVAL, dynamo=False)
        kw = dict(opset_version=13, input_names=["input"], output_names=["logits"], **{k: v for k, v in optional.items() if k in params})
        torch.onnx.export(model, (x[:1],), str(onnx_file), **kw)
        np.save(out / f"{name}.inputs.npy", x.numpy().astype(np.float32))
        np.save(out / f"{name}.torch.npy", y64)
        np.save(out / f"{name}.torch32.npy", y32)
        ops = []
        try:
            import onnx

            m = onnx.load(str(onnx_file))
            onnx.checker.check_model(m)
            ops = sorted({n.op_type for n in m.graph.node})
        except Exception as e:  # the check is informative; cusnn-gen's importer has the last word
            ops = [f"(onnx check failed: {e})"]
        l2, _, _ = rel_errors(y32, y64)
        summary[name] = {"onnx": str(onnx_file), "ops": ops, "torch_fp32_vs_fp64_rel_l2": l2}
        print(f"{name}: {onnx_file} ({onnx_file.stat().st_size / 2**20:.1f} MiB, ops {', '.join(ops)}); "
              f"{args.inputs} inputs; PyTorch fp32 vs fp64 rel. L2 {l2:.2e}", flush=True)
    (out / "export.json").write_text(json.dumps(summary, indent=2) + "\n")


def compare(args):
    ref = np.load(args.ref)
    got = np.load(args.got)
    if got.size != ref.size:
        print(f"{args.name}: FAILED: {args.got} has {got.size} values ({got.shape}), PyTorch's {ref.size} ({ref.shape})")
        return 1
    l2, max_abs, max_ref = rel_errors(got, ref)
    ok = l2 <= args.tol
    top = (np.argmax(got.reshape(ref.shape), axis=1) == np.argmax(ref, axis=1)).mean()
    print(f"{args.name}: {'ok' if ok else 'FAILED'}: rel. L2 error {l2:.2e} vs PyTorch (fp64) over {ref.shape[0]} inputs "
          f"(<= {args.tol:g}: {'yes' if ok else 'no'}; max abs error {max_abs:.2e} of max |logit| {max_ref:.3g}; "
          f"top-1 same on {top * 100:.0f}%){args.what}")
    return 0 if ok else 1


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    e = sub.add_parser("export")
    e.add_argument("--out", required=True)
    e.add_argument("--models", default="resnet50,densenet121,mobilenet_v2")
    e.add_argument("--inputs", type=int, default=3)
    e.add_argument("--seed", type=int, default=0)
    e.add_argument("--calibration-batches", type=int, default=2)
    c = sub.add_parser("compare")
    c.add_argument("--name", required=True)
    c.add_argument("--ref", required=True)
    c.add_argument("--got", required=True)
    c.add_argument("--tol", type=float, default=1e-4)
    c.add_argument("--what", default="", help="text appended to the line (e.g. ' [GPU path]')")
    a = p.parse_args()
    if a.cmd == "export":
        export(a)
        return 0
    return compare(a)


if __name__ == "__main__":
    sys.exit(main())
