#!/usr/bin/env bash
# GPU host, repository root: ResNet-50 from its real weights, dense and pruned by magnitude with every pattern
# `cusnn-gen prune` writes (unstructured 90% / 95%, 2:4, block4x1 at 90%, whole filters at 50%), each one
# `cusnn-gen bench` run, then (ONNX=1) tools/onnx/torchvision-check.sh. Carried: .gpu (pack.sh --prod), dist (built
# here from this tree), .data/common (images.npy + images.py), .data/r50/resnet50.safetensors made by
#   node dist/cli.js weights import --model resnet50 --from ../shared/cusnn-artifact/weights/resnet50 --out .data/r50/resnet50.safetensors --fp16 --only-present
# Writes one results JSON per run and logs.tgz to $OUT. RUNS picks the runs (default: all of them).
set -uo pipefail
# PKG: a package snapshot to run instead of this tree (e.g. .data/wt: src templates cmake CMakeLists.txt package.json
# dist tools); W_XZ: the weights as an xz file instead.
rm -rf node_modules; source .gpu/setup.sh > $OUT/setup.log 2>&1
python3 .data/common/images.py unpack .data/common/images.npy /tmp/images >/dev/null
W=$PWD/.data/r50/resnet50.safetensors
if [ -n "${W_XZ:-}" ]; then xz -dc "$W_XZ" > /tmp/resnet50.safetensors; W=/tmp/resnet50.safetensors; fi
if [ -n "${PKG:-}" ]; then cd "$PKG" && ln -sfn "$OLDPWD/node_modules" node_modules; fi
prune() { mkdir -p /tmp/w-$1; node dist/cli.js prune --model resnet50 --weights $W --fill-missing --out /tmp/w-$1/resnet50.safetensors "${@:2}" >> $OUT/prune.log 2>&1; }
mkdir -p /tmp/w-dense && cp $W /tmp/w-dense/  # the bench fills the missing conv5 tensors at load
prune p90 --sparsity 0.9; prune p95 --sparsity 0.95; prune s24 --pattern 2:4 --sparsity 0.5
prune b90 --pattern block4x1 --sparsity 0.9; prune f50 --pattern filter --sparsity 0.5
for r in ${RUNS:-dense p90 p95 s24 b90 f50}; do
  timeout 200 node dist/cli.js bench --model resnet50 --arch sm_90 --batch 1 --weights /tmp/w-$r --images /tmp/images --out /tmp/b-$r --energy-seconds 2 -v > $OUT/bench-$r.log 2>&1
  echo "bench $r rc=$? $(date +%T)" >> $OUT/setup.log
  cp /tmp/b-$r/results.json $OUT/$r-results.json
done
if [ "${ONNX:-1}" = 1 ]; then
  MODELS=${ONNX_MODELS:-mobilenet_v2,resnet50} INPUTS=2 BENCH=0 OUT=/tmp/onnx-check timeout 240 bash tools/onnx/torchvision-check.sh > $OUT/onnx-check.log 2>&1
  echo "onnx check rc=$? $(date +%T)" >> $OUT/setup.log
  cp /tmp/onnx-check/*.log $OUT/ 2>/dev/null
fi
cd $OUT && tar czf logs.tgz *.log && rm -f *.log
