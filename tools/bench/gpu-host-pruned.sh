#!/usr/bin/env bash
# GPU host: pruned ResNet-50 benches from a 90% pruned weights file (xz), the 95% file pruned from it on the host
# (magnitude pruning per layer: the 95% survivors of the 90% file are those of the dense weights), then ncu of the
# wsparse kernels (90%) and of the dense plan's dconv/igemm kernels. Carried: .gpu (pack.sh --prod), .data/wt (a
# package snapshot: src templates cmake CMakeLists.txt package.json dist), .data/common (images.npy + images.py),
# .data/p90/resnet50.safetensors.xz made by
#   node dist/cli.js prune --model resnet50 --weights .data/r50/resnet50.safetensors --fill-missing --sparsity 0.9 --fp16 --out r50.safetensors && xz r50.safetensors
# Writes logs and results to $OUT. SPARSITIES (default "90 95") picks the benches.
set -uo pipefail
rm -rf node_modules; source .gpu/setup.sh > $OUT/setup.log 2>&1
cd .data/wt && ln -sfn ../../node_modules node_modules
python3 ../common/images.py unpack ../common/images.npy /tmp/images >/dev/null
mkdir -p /tmp/w90 /tmp/w95 && xz -dc ../p90/resnet50.safetensors.xz > /tmp/w90/resnet50.safetensors
node dist/cli.js prune --model resnet50 --weights /tmp/w90/resnet50.safetensors --sparsity 0.95 --out /tmp/w95/resnet50.safetensors > $OUT/prune.log 2>&1
# PDLS: the CUSNN_PDL settings to bench (dependent launch off/on, templates/partials/dependent-launch.hbs); the
# dense bench (synthetic weights, DENSE=1) runs the dconv/igemm kernels of the dense plan.
for pdl in ${PDLS:-1}; do
  for s in ${SPARSITIES:-90 95}; do
    CUSNN_PDL=$pdl timeout 240 node dist/cli.js bench --model resnet50 --arch sm_90 --batch 1 --weights /tmp/w$s --images /tmp/images --out /tmp/b$s-$pdl --energy-seconds 2 -v > $OUT/bench$s-pdl$pdl.log 2>&1
    echo "bench$s pdl=$pdl rc=$? $(date +%T)" >> $OUT/setup.log
    cp /tmp/b$s-$pdl/results.json $OUT/p$s-pdl$pdl-results.json
  done
  if [ "${DENSE:-0}" = 1 ]; then
    CUSNN_PDL=$pdl timeout 240 node dist/cli.js bench --model resnet50 --arch sm_90 --batch 1 --images /tmp/images --out /tmp/bd-$pdl --energy-seconds 2 -v > $OUT/benchd-pdl$pdl.log 2>&1
    echo "bench dense pdl=$pdl rc=$? $(date +%T)" >> $OUT/setup.log
    cp /tmp/bd-$pdl/results.json $OUT/dense-pdl$pdl-results.json
  fi
done
[ "${NCU:-1}" = 1 ] || exit 0
CUSNN_FAMILIES=wsparse node dist/cli.js --model resnet50 --arch sm_90 --weights /tmp/w90/resnet50.safetensors --out /tmp/g90 > $OUT/gen.log 2>&1
node dist/cli.js --model resnet50 --arch sm_90 --out /tmp/gd >> $OUT/gen.log 2>&1
timeout 90 node dist/cli.js build /tmp/g90 -q >> $OUT/gen.log 2>&1
timeout 90 node dist/cli.js build /tmp/gd -q >> $OUT/gen.log 2>&1
echo "build rc=$? $(date +%T)" >> $OUT/setup.log
S="--section SpeedOfLight --section Occupancy --section WarpStateStats --section LaunchStats --section MemoryWorkloadAnalysis --section SourceCounters"
timeout 60 ncu --kernel-name regex:'^wsparse(3x3_c256_h14|3x3_c512_h7|3x3_c128|1x1_c64_h56_w56_k256|1x1_c1024_h14)' --launch-count 5 $S node dist/cli.js run /tmp/g90 --images /tmp/images/0.bin --iters 0 > $OUT/ncu-wsparse.txt 2>&1
echo "ncu1 rc=$? $(date +%T)" >> $OUT/setup.log
timeout 60 ncu --kernel-name regex:'^(dconv|igemm)' --launch-count 6 $S node dist/cli.js run /tmp/gd --images /tmp/images/0.bin --iters 0 > $OUT/ncu-dense.txt 2>&1
echo "ncu2 rc=$? $(date +%T)" >> $OUT/setup.log
true
