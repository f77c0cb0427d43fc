#!/usr/bin/env bash
# GPU host, repository root: run 93 (tools/kernel-lab/PREDICTIONS.md) as one call. DenseNet-169 at batch 1:
#   1. tune of its 32 conv4 3x3 convs (14x14, 128 -> 32) with dconv's tile space (33809d4) beside pxg's and igemm's;
#   2. the bench with that tune cache (results in $OUT/densenet169-b1-tuned4.tgz);
#   3. ncu of three pxg launches at 7x7 inside the network, with the stall reasons (pxg's body against the chain
#      floor's pxg-like kernel, for the 5x target at >= 85% zeros).
# Here first: npm ci && npm run build && bash tools/bench/pack-gpu-host.sh densenet169 (or only its weights step and
# bash tools/bench/pack-dist.sh); move docs/results/ out of the tree for the call and back after it.
# Carry .gpuprod .data/distx .data/common .data/d169x (about 50 MB). MODEL=densenet201 with .data/d201x also works.
set -u
s=$SECONDS
export MODEL=${MODEL:-densenet169}
nvidia-smi --query-gpu=name,clocks.max.sm,memory.total --format=csv > $OUT/setup.log
STAGE=4 CANDIDATES=${CANDIDATES:-16} TUNE_S=${TUNE_S:-200} STEPS=tune bash tools/bench/gpu-host-pxg.sh
echo "tune done $((SECONDS - s)) s" >> $OUT/setup.log
if [ -s $OUT/tune-cache4.json ]; then
  TUNE_CACHE=$OUT/tune-cache4.json STEPS=bench BENCH_S=200 bash tools/bench/gpu-host-pxg.sh
  (cd /tmp/b-bench && tar -czf $OUT/$MODEL-b1-tuned4.tgz results.json layers.csv results.csv summary.md bench.log 2>/dev/null)
  mv $OUT/bench.log /tmp/ 2>/dev/null; rm -f $OUT/bench-results.json
fi
echo "bench done $((SECONDS - s)) s" >> $OUT/setup.log
[ $((SECONDS - s)) -lt 430 ] && NCU_K=pxg3x3_c128_h7 NCU_N=3 NCU_S=100 \
  NCU_METRICS="regex:smsp__average_warps_issue_stalled_.*_per_issue_active.ratio" STEPS=ncu bash tools/bench/gpu-host-pxg.sh
gzip -f $OUT/tune.log $OUT/ncu.log 2>/dev/null
echo "all $((SECONDS - s)) s" >> $OUT/setup.log; tail -12 $OUT/setup.log
