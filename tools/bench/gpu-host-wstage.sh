#!/usr/bin/env bash
# GPU host, repository root (runs 13c/13d, 2026-12-02 night): the GPU kernel suite on ResNet-50's kernels (wsparse and
# wstage with packed weights, odd shapes), then ResNet-50 pruned 90% and 95% (real weights, conv5 filled
# synthetically): for each, one `cusnn-gen bench` of the rule plan, `cusnn-gen tune` of every conv over every family,
# and one `cusnn-gen bench --tune-cache` of the tuned plan; then ncu of the 90% rule plan's wstage, wsparse and dconv
# kernels. Carried (64 MiB in all): .gpuslim (pack.sh output with node_modules packed without onnxruntime-node,
# typescript and lightningcss: 36 MB), dist (built here), .data/common (images.npy + images.py), .data/p90
# (resnet50.safetensors.xz: real weights pruned to 90% with --fill-missing --fp16, 8.7 MB; 95% is pruned from it on
# the host, which magnitude pruning makes the same as pruning the dense file). Writes results JSON, tune caches, logs.
set -uo pipefail
source .gpuslim/setup.sh > $OUT/setup.log 2>&1
python3 .data/common/images.py unpack .data/common/images.npy /tmp/images >/dev/null
mkdir -p /tmp/w-p90 /tmp/w-p95; xz -dc .data/p90/resnet50.safetensors.xz > /tmp/w-p90/resnet50.safetensors
node dist/cli.js prune --model resnet50 --weights /tmp/w-p90/resnet50.safetensors --sparsity 0.95 --out /tmp/w-p95/resnet50.safetensors > $OUT/prune.log 2>&1
if [ "${SUITE:-1}" = 1 ]; then
  CUSNN_KERNEL_MODELS=resnet50 CUSNN_GPU_LOG=$OUT/kernels.json timeout 170 npx vitest run --project gpu test/gpu/kernels.test.ts > $OUT/vitest.log 2>&1
  echo "kernel suite rc=$? $(date +%T)" >> $OUT/setup.log
fi
b() { timeout 150 node dist/cli.js bench --model resnet50 --arch sm_90 --batch 1 --weights /tmp/w-$1 --images /tmp/images --out /tmp/b-$2 --energy-seconds 2 -v "${@:3}" > $OUT/bench-$2.log 2>&1
  echo "bench $2 rc=$? $(date +%T)" >> $OUT/setup.log; cp /tmp/b-$2/results.json $OUT/$2-results.json; }
for p in ${PRUNED:-p90 p95}; do
  b $p ${p}rule
  node dist/cli.js --model resnet50 --arch sm_90 --weights /tmp/w-$p/resnet50.safetensors --out /tmp/g-$p -q > $OUT/gen-$p.log 2>&1
  timeout 150 node dist/cli.js tune /tmp/g-$p --images /tmp/images --cache $OUT/tune-$p.json --max-candidates ${CAND:-8} --iters 100 -j 16 > $OUT/tune-$p.log 2>&1
  echo "tune $p rc=$? $(date +%T)" >> $OUT/setup.log
  b $p ${p}tuned --tune-cache $OUT/tune-$p.json --gpu "NVIDIA H200"
done
if [ "${NCU:-1}" = 1 ]; then
  node dist/cli.js --model resnet50 --arch sm_90 --weights /tmp/w-p90/resnet50.safetensors --out /tmp/g-p90r -q >> $OUT/gen-p90.log 2>&1
  timeout 60 node dist/cli.js build /tmp/g-p90r -j 16 -q >> $OUT/gen-p90.log 2>&1
  timeout 70 ncu --graph-profiling node -k "regex:wstage3x3_c256|wstage3x3_c64|wsparse1x1_c1024_h14|dconv3x3" --launch-count 4 --section SpeedOfLight \
    --section Occupancy --section WarpStateStats --section LaunchStats --section MemoryWorkloadAnalysis \
    node dist/cli.js run /tmp/g-p90r --images /tmp/images/0.bin --iters 1 > $OUT/ncu.log 2>&1
  echo "ncu rc=$? $(date +%T)" >> $OUT/setup.log
fi
cd $OUT && tar czf logs.tgz *.log && rm -f *.log
