#!/usr/bin/env bash
# GPU host: `cusnn-gen tune` over every family on ResNet-50 pruned 90% (real weights), the plan regenerated from the
# tune cache, both folders built and timed with `run --iters` (a check of the measured decisions, not a bench), then a
# bench of dense ResNet-50 with CUSNN_PDL=0 (against run 12's PDL-on bench). Carried as gpu-host-patterns.sh
# (PKG=.data/wt, W_XZ). LAYERS: the convs to tune (default: the 3x3 layers and two 1x1 of conv4/conv5). W90_XZ: the
# 90% file itself (xz) instead of pruning W_XZ on the host; DENSE=0 skips the dense bench (to carry less).
set -uo pipefail
rm -rf node_modules; source .gpu/setup.sh > $OUT/setup.log 2>&1
python3 .data/common/images.py unpack .data/common/images.npy /tmp/images >/dev/null
mkdir -p /tmp/w90 /tmp/wd
if [ -n "${W90_XZ:-}" ]; then xz -dc "$W90_XZ" > /tmp/w90/resnet50.safetensors; else xz -dc "$W_XZ" > /tmp/wd/resnet50.safetensors; fi
cd "$PKG" && ln -sfn "$OLDPWD/node_modules" node_modules
[ -n "${W90_XZ:-}" ] || node dist/cli.js prune --model resnet50 --weights /tmp/wd/resnet50.safetensors --fill-missing --sparsity 0.9 --out /tmp/w90/resnet50.safetensors > $OUT/prune.log 2>&1
C="--model resnet50 --arch sm_90 --weights /tmp/w90/resnet50.safetensors"
node dist/cli.js $C --out /tmp/g90 -q > $OUT/gen.log 2>&1
L=${LAYERS:-conv4_block1_2_conv conv4_block2_2_conv conv5_block1_2_conv conv5_block2_2_conv conv5_block3_2_conv conv2_block1_2_conv conv4_block1_0_conv conv5_block1_1_conv}
timeout ${TUNE_S:-200} node dist/cli.js tune /tmp/g90 --images /tmp/images --cache /tmp/tune-p90.json --max-candidates ${CAND:-8} --iters 100 --layer $L > $OUT/tune.log 2>&1
echo "tune rc=$? $(date +%T)" >> $OUT/setup.log
cp /tmp/tune-p90.json $OUT/
node dist/cli.js $C --tune-cache /tmp/tune-p90.json --gpu "NVIDIA H200" --out /tmp/g90t -q >> $OUT/gen.log 2>&1
sed -n '/Measured decisions/,$p' /tmp/g90t/report.md > $OUT/measured-decisions.md
(node dist/cli.js build /tmp/g90 -q > $OUT/build.log 2>&1 &); node dist/cli.js build /tmp/g90t -q >> $OUT/build.log 2>&1; wait; sleep 1
while pgrep -f "build /tmp/g90 " >/dev/null; do sleep 2; done
for g in g90 g90t g90 g90t; do node dist/cli.js run /tmp/$g --images /tmp/images/0.bin --iters 500 2>&1 | grep -o 'median [0-9.]* us per forward' | sed "s|^|$g |" >> $OUT/run-times.txt; done
echo "runs $(date +%T)" >> $OUT/setup.log
[ "${DENSE:-1}" = 1 ] || exit 0
CUSNN_PDL=0 timeout 150 node dist/cli.js bench --model resnet50 --arch sm_90 --batch 1 --weights /tmp/wd --images /tmp/images --out /tmp/bd0 --energy-seconds 2 > $OUT/bench-dense-pdl0.log 2>&1
echo "bench dense pdl0 rc=$? $(date +%T)" >> $OUT/setup.log
cp /tmp/bd0/results.json $OUT/dense-pdl0-results.json
