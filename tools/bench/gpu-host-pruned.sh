#!/usr/bin/env bash
# GPU host: pruned ResNet-50 bench from a pruned weights file (xz), then ncu of the wsparse kernels (90%) and of the dense
# plan's dconv/igemm kernels. Carried: .gpu (pack.sh --prod), .data/wt (a package snapshot: src templates cmake
# CMakeLists.txt package.json dist), .data/common (images.npy + images.py), .data/p90/resnet50.safetensors.xz made by
#   node dist/cli.js prune --model resnet50 --weights .data/r50/resnet50.safetensors --fill-missing --sparsity 0.9 --fp16 --out r50.safetensors && xz r50.safetensors
# Prepared 2026-12-02; not run (the session's GPU time ran out). Writes logs and results to $OUT.
set -uo pipefail
rm -rf node_modules; source .gpu/setup.sh > $OUT/setup.log 2>&1
cd .data/wt && ln -sfn ../../node_modules node_modules
python3 ../common/images.py unpack ../common/images.npy /tmp/images >/dev/null
for s in 90; do
  mkdir -p /tmp/w$s && xz -dc ../p$s/resnet50.safetensors.xz > /tmp/w$s/resnet50.safetensors
  timeout 120 node dist/cli.js bench --model resnet50 --arch sm_90 --batch 1 --weights /tmp/w$s --images /tmp/images --out /tmp/b$s --energy-seconds 2 -v > $OUT/bench$s.log 2>&1
  echo "bench$s rc=$? $(date +%T)" >> $OUT/setup.log
  cp /tmp/b$s/results.json $OUT/p$s-results.json; cp /tmp/b$s/summary.md $OUT/p$s-summary.md
done
CUSNN_FAMILIES=wsparse node dist/cli.js --model resnet50 --arch sm_90 --weights /tmp/w90/resnet50.safetensors --out /tmp/g90 > $OUT/gen.log 2>&1
node dist/cli.js --model resnet50 --arch sm_90 --out /tmp/gd > $OUT/gen.log 2>&1
timeout 60 node dist/cli.js build /tmp/g90 -q >> $OUT/gen.log 2>&1
timeout 60 node dist/cli.js build /tmp/gd -q >> $OUT/gen.log 2>&1
echo "build rc=$? $(date +%T)" >> $OUT/setup.log
S="--section SpeedOfLight --section Occupancy --section WarpStateStats --section LaunchStats --section MemoryWorkloadAnalysis"
timeout 45 ncu --kernel-name regex:'^wsparse(3x3_c256_h14|3x3_c512_h7|3x3_c128|1x1_c64_h56_w56_k256|1x1_c1024_h14)' --launch-count 4 $S node dist/cli.js run /tmp/g90 --images /tmp/images/0.bin --iters 0 > $OUT/ncu-wsparse.txt 2>&1
echo "ncu1 rc=$? $(date +%T)" >> $OUT/setup.log
timeout 45 ncu --kernel-name regex:'^(dconv|igemm)' --launch-count 6 $S node dist/cli.js run /tmp/gd --images /tmp/images/0.bin --iters 0 > $OUT/ncu-dense.txt 2>&1
echo "ncu2 rc=$? $(date +%T)" >> $OUT/setup.log
true
