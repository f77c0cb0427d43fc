#!/usr/bin/env bash
# GPU host, repository root (run 14, 2026-12-03): pruned zoo models beyond ResNet-50 (issue 10 items 1 and 6), one
# `cusnn-gen bench` per model and weights:
#   DenseNet-169, real weights pruned per layer to 90% (and 80%, 95% when time is left; 95% is pruned on the host
#   from the 90% file, the same survivors as pruning the dense file);
#   ResNet-152 and VGG-16, synthetic weights (the shared folder has none), `bench --prune 0.9` (dense and 90%).
# Carried (64 MiB in all): .gpuslim (pack.sh output, node_modules packed without onnxruntime-node, typescript and
# lightningcss: 36 MB), dist (built here), .data/common (images.npy + images.py: 16 sample images as uint8),
# .data/d169 (p0.9.xz, p0.8.xz: made here by
#   node dist/cli.js prune --model densenet169 --weights ../shared/cusnn-artifact/weights/densenet169 --fill-missing \
#     --sparsity 0.9 --fp16 --out p0.9.safetensors && xz p0.9.safetensors).
# STEPS picks the benches (default: all, in priority order); each stops at its own timeout and none starts after
# DEADLINE seconds. Writes every results.json, summary.md and log to $OUT.
set -uo pipefail
start=$SECONDS
DEADLINE=${DEADLINE:-560}
source .gpuslim/setup.sh > $OUT/setup.log 2>&1
python3 .data/common/images.py unpack .data/common/images.npy /tmp/images >/dev/null
for s in 0.8 0.9; do
  [ -f .data/d169/p$s.xz ] && mkdir -p /tmp/w-d$s && xz -dc .data/d169/p$s.xz > /tmp/w-d$s/densenet169.safetensors
done
# b TAG TIMEOUT bench-args...: one bench run, its results and summary copied to $OUT.
b() {
  local tag=$1 limit=$2; shift 2
  local left=$((DEADLINE - (SECONDS - start)))
  if [ $left -lt 60 ]; then echo "$tag skipped: ${left} s left" >> $OUT/setup.log; return; fi
  [ $limit -gt $left ] && limit=$left
  timeout $limit node dist/cli.js bench --arch sm_90 --batch 1 --images /tmp/images --out /tmp/b-$tag -j 16 --energy-seconds 2 "$@" > $OUT/bench-$tag.log 2>&1
  echo "bench $tag rc=$? $((SECONDS - start)) s" >> $OUT/setup.log
  [ -f /tmp/b-$tag/results.json ] && cp /tmp/b-$tag/results.json $OUT/$tag-results.json && cp /tmp/b-$tag/summary.md $OUT/$tag-summary.md
}
for step in ${STEPS:-d169p90 r152 vgg16 d169p80 d169p95}; do
  case $step in
    d169p90) b d169p90 170 --model densenet169 --weights /tmp/w-d0.9 ;;
    d169p80) b d169p80 170 --model densenet169 --weights /tmp/w-d0.8 ;;
    d169p95)
      mkdir -p /tmp/w-d0.95
      node dist/cli.js prune --model densenet169 --weights /tmp/w-d0.9/densenet169.safetensors --sparsity 0.95 --out /tmp/w-d0.95/densenet169.safetensors > $OUT/prune.log 2>&1
      b d169p95 170 --model densenet169 --weights /tmp/w-d0.95 ;;
    r152) b r152 200 --model resnet152 --synthetic --prune 0.9 ;;
    vgg16) b vgg16 200 --model vgg16 --synthetic --prune 0.9 ;;
  esac
done
cd $OUT && tar czf logs.tgz *.log && rm -f *.log
