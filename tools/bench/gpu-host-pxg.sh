#!/usr/bin/env bash
# GPU host, repository root: the pxg measurements of runs 38-44 as steps of one call (docs/PERFORMANCE.md).
# Carry .gpuprod .data/distx .data/common and one model's weights (.data/d169x or .data/d201x: see
# tools/bench/pack-gpu-host.sh); docs/results/ moved out for the call.
#   bench        cusnn-gen bench --batch BATCH (default 1) on MODEL's real weights (TUNE_CACHE=<file> to plan with a tune cache;
#                BENCH_ARGS="--prune 0.9,0.95" and the like go to the bench as they are)
#   bench-nopdl  the same with CUSNN_PDL=0: the generated kernels launched without dependent launch (run 43's gap)
#   bench-pdl-all  the same with CUSNN_PDL_ALL=1 CUSNN_PREFETCH=1: igemm, wino, act-sparse and the runtime's element-wise kernels
#                (batch norm, add, pool) launched with dependent launch too, and igemm's and dconv's blocks prefetching
#                their weights into L2 before the wait (both opt-in until measured)
#   tune         cusnn-gen tune --images on MODEL's 3x3 convs at 7x7 (conv5_blockN_2_conv, N = 1..BLOCKS), or on
#                STAGE=4: the 14x14 ones (conv4_blockN_2_conv), where pxg's two-pixel blocks are in the space;
#                CONV=1: the blocks' 1x1 convs instead (conv<STAGE>_blockN_1_conv), CANDIDATES per conv
#   ncu          ncu of the pxg launches of one forward (NCU_K to change the kernel regex, NCU_METRICS adds metrics; PRUNE=0.9 profiles the pruned
#                weights' plan, TUNE_CACHE its tuned plan: e.g. NCU_K="wstage1x1|wsparse1x1" for the pruned 1x1 floor)
#   tune-dual    MODEL (e.g. resnet50, carry .data/r50x) pruned to PRUNE (default 0.9) as `cusnn-gen prune` does, then
#                cusnn-gen tune --images on its 3x3 convs (*_2_conv) of at most 28x28: the dual family's space
#                timed beside wsparse, wstage, dconv, igemm and cuDNN (issue 10, item 3; run 45's prediction)
#                DUAL_LAYERS="<layer> ..." tunes those instead (DenseNet-169 has 76 such convs: too many for one call)
#   bench-pruned cusnn-gen bench of tune-dual's pruned file (or --prune PRUNE without it); with TUNE_CACHE the
#                tune-dual cache decides those convs
#   context      tools/bench/pxg-context.mjs on CONTEXT_LAYERS of MODEL's folder, CUSNN_PDL on and off (run 49)
#   bake         run 47's baked-weights lab (.data/bake/bake-lab.cu, carry .data/bake)
#   tune-3x3     cusnn-gen tune --images at BATCH (default 8) on MODEL's 3x3 stride-1 convs (every *_2_conv of at least
#                14x14 in the plan: ResNet-50's 13 convs on cuDNN at batch 8), CANDIDATES per conv (the wino family's
#                splits among them), cache $OUT/tune-3x3.json; then `bench` with TUNE_CACHE=$OUT/tune-3x3.json BATCH=8
#                measures the network with those decisions (issue 8's batch-8 target)
#   wino-lab     run 63's Winograd lab: the wino family's kernels rendered by tools/kernel-lab/wino-lab.mjs into
#                .data/wino (carry it) against cuDNN in batch-lab.cu's harness; JSON lines in $OUT/wino.jsonl
#   ncu-lab      ncu --set full of the first launch of each lab kernel named by NCU_FILTERS ("<lab dir>:<name substring>"
#                words, e.g. ".data/wino:wino2x3_c256_h14_w14_k256_s2"): the lab folders are rendered here by batch-lab.mjs
#                or wino-lab.mjs and carried; batch-lab.sh compiles each once; report text in $OUT/ncu-lab.log
#                (NCU_METRICS adds metrics, e.g. "regex:smsp__average_warps_issue_stalled_.*_per_issue_active.ratio")
#   gputest      vitest on GPU_TESTS (default test/gpu/network.test.ts) with CUSNN_GPU_MODELS=GPU_MODELS (default
#                resnet50); needs PACK=.gpumin
#   suite        the GPU kernel suite (test/gpu/kernels.test.ts) on SUITE_MODELS' zoo kernels (default MODEL) plus the
#                odd shapes and pruned ResNet-50 cases; needs PACK=.gpumin (vitest is not in .gpuprod)
# PACK (default .gpuprod) names the node pack carried.
# e.g. STEPS="bench bench-nopdl" MODEL=densenet201 bash tools/bench/gpu-host-pxg.sh
#      STEPS="tune-dual bench-pruned" MODEL=resnet50 TUNE_CACHE=$OUT/tune-dual.json bash tools/bench/gpu-host-pxg.sh
set -uo pipefail
start=$SECONDS
m=${MODEL:-densenet169}
source ${PACK:-.gpuprod}/setup.sh >> $OUT/setup.log 2>&1
rm -rf dist && tar -xJf .data/distx/dist.tar.xz
source tools/bench/check-packed.sh
python3 .data/common/images.py unpack .data/common/images.npy /tmp/images > /dev/null
mkdir -p /tmp/w && for x in .data/*x/$m.safetensors.xz; do [ -s "$x" ] && xz -dc "$x" > /tmp/w/$m.safetensors; done
[ -s /tmp/w/$m.safetensors ] || echo "no weights carried for $m: synthetic" >> $OUT/setup.log
blocks=${BLOCKS:-32}
# The tune cache's entries are per GPU model: the bench reads those of the card it runs on (an H100 may come).
gpu=$(nvidia-smi --query-gpu=name --format=csv,noheader | head -1)
for step in ${STEPS:-bench}; do
  case $step in
    bench|bench-nopdl|bench-pdl-all)
      pdl=1; [ $step = bench-nopdl ] && pdl=0
      all=0; [ $step = bench-pdl-all ] && all=1
      CUSNN_PDL=$pdl CUSNN_PDL_ALL=$all CUSNN_PREFETCH=$all timeout ${BENCH_S:-240} node dist/cli.js bench --model $m --arch sm_90 --batch ${BATCH:-1} --weights /tmp/w --images /tmp/images \
        --out /tmp/b-$step --energy-seconds 2 -j 16 -v ${TUNE_CACHE:+--tune-cache $TUNE_CACHE --gpu "$gpu"} ${BENCH_ARGS:-} > $OUT/$step.log 2>&1
      echo "$step rc=$? $((SECONDS - start)) s" >> $OUT/setup.log
      cp /tmp/b-$step/results.json $OUT/$step-results.json 2>/dev/null ;;
    tune)
      L=$(for i in $(seq 1 $blocks); do echo -n "conv${STAGE:-5}_block${i}_${CONV:-2}_conv "; done)
      node dist/cli.js --model $m --arch sm_90 --weights /tmp/w/$m.safetensors --fill-missing --out /tmp/t -q > /dev/null 2>> $OUT/setup.log
      timeout ${TUNE_S:-200} node dist/cli.js tune /tmp/t --images /tmp/images --layer $L --max-candidates ${CANDIDATES:-40} \
        --cache $OUT/tune-cache${STAGE:-5}.json -j 16 -q > $OUT/tune.log 2>&1
      echo "tune rc=$? $((SECONDS - start)) s" >> $OUT/setup.log ;;
    ncu)
      # PRUNE=<sparsity>: profile the plan of the pruned weights (as tune-dual prunes them); TUNE_CACHE: with its winners.
      nw=/tmp/w/$m.safetensors
      if [ -n "${PRUNE:-}" ]; then
        mkdir -p /tmp/pn && nw=/tmp/pn/$m.safetensors
        node dist/cli.js prune --model $m --weights /tmp/w/$m.safetensors --fill-missing --sparsity $PRUNE --out $nw > /dev/null 2>> $OUT/setup.log
      fi
      node dist/cli.js --model $m --arch sm_90 --weights $nw --fill-missing --out /tmp/g -q ${TUNE_CACHE:+--tune-cache $TUNE_CACHE --gpu "$gpu"} > /dev/null 2>> $OUT/setup.log
      node dist/cli.js build /tmp/g -j 16 > $OUT/build.log 2>&1
      timeout ${NCU_S:-150} ncu --graph-profiling node -k "regex:${NCU_K:-pxg3x3}" --launch-count ${NCU_N:-32} --section SpeedOfLight \
        --section LaunchStats --section Occupancy --section WarpStateStats --section SchedulerStats --section MemoryWorkloadAnalysis ${NCU_METRICS:+--metrics "$NCU_METRICS"} \
        node dist/cli.js run /tmp/g --images /tmp/images/$(ls /tmp/images | sed -n 9p) --batch 1 > $OUT/ncu.log 2>&1
      echo "ncu rc=$? $((SECONDS - start)) s" >> $OUT/setup.log ;;
    ncu-lab)
      for f in ${NCU_FILTERS:-}; do
        lab=${f%%:*} name=${f#*:}
        [ -x $lab/lab ] || bash tools/kernel-lab/batch-lab.sh $lab no-entry-matches > /dev/null 2>> $OUT/ncu-lab.err
        echo "=== $name" >> $OUT/ncu-lab.log
        timeout ${NCU_S:-120} ncu --set full ${NCU_METRICS:+--metrics "$NCU_METRICS"} --import-source no -k "regex:$name" --launch-count 1 $lab/lab $name >> $OUT/ncu-lab.log 2>&1
      done
      echo "ncu-lab rc=$? $((SECONDS - start)) s" >> $OUT/setup.log ;;
    gputest)
      # GPU test files (GPU_TESTS, default the whole-network test) on CUSNN_GPU_MODELS' synthetic networks; PACK=.gpumin.
      CUSNN_GPU_MODELS=${GPU_MODELS:-resnet50} timeout ${GPUTEST_S:-200} node node_modules/vitest/vitest.mjs run --project gpu \
        ${GPU_TESTS:-test/gpu/network.test.ts} > $OUT/gputest.log 2>&1
      echo "gputest rc=$? $((SECONDS - start)) s" >> $OUT/setup.log ;;
    suite)
      CUSNN_KERNEL_MODELS=${SUITE_MODELS:-$m} CUSNN_GPU_LOG=$OUT/suite.json timeout ${SUITE_S:-300} \
        node node_modules/vitest/vitest.mjs run --project gpu test/gpu/kernels.test.ts > $OUT/suite.log 2>&1
      echo "suite rc=$? $((SECONDS - start)) s" >> $OUT/setup.log ;;
    tune-dual)
      mkdir -p /tmp/p
      node dist/cli.js prune --model $m --weights /tmp/w/$m.safetensors --fill-missing --sparsity ${PRUNE:-0.9} --out /tmp/p/$m.safetensors > /dev/null 2>> $OUT/setup.log
      node dist/cli.js --model $m --arch sm_90 --weights /tmp/p/$m.safetensors --out /tmp/tp -q > /dev/null 2>> $OUT/setup.log
      # The 3x3 convs of 7x7 to 28x28 outputs (dual's space: one block per output pixel, at most 6 per SM).
      L=${DUAL_LAYERS:-$(node -e 'const p = require("/tmp/tp/plan.json"); console.log(p.convs.filter((c) => /_2_conv$/.test(c.layer) && c.output[1] * c.output[2] <= 784).map((c) => c.layer).join(" "))')}
      timeout ${TUNE_S:-300} node dist/cli.js tune /tmp/tp --images /tmp/images --layer $L --max-candidates ${CANDIDATES:-24} \
        --cache $OUT/tune-dual.json -j 16 -q > $OUT/tune-dual.log 2>&1
      echo "tune-dual rc=$? $((SECONDS - start)) s" >> $OUT/setup.log ;;
    context)
      # Run 49: one conv timed in the network's runtime and in one-conv runtimes (tools/bench/pxg-context.mjs),
      # with and without dependent launch.
      node dist/cli.js --model $m --arch sm_90 --weights /tmp/w/$m.safetensors --fill-missing --out /tmp/c -q > /dev/null 2>> $OUT/setup.log
      node dist/cli.js build /tmp/c -j 16 > $OUT/build.log 2>&1
      L=${CONTEXT_LAYERS:-conv5_block1_2_conv conv5_block6_2_conv conv5_block12_2_conv conv5_block16_2_conv conv5_block24_2_conv conv5_block28_2_conv}
      img=/tmp/images/$(ls /tmp/images | sed -n 9p)
      timeout ${CONTEXT_S:-120} node tools/bench/pxg-context.mjs /tmp/c /tmp/w/$m.safetensors $img $L > $OUT/context.log 2>&1
      CUSNN_PDL=0 timeout ${CONTEXT_S:-120} node tools/bench/pxg-context.mjs /tmp/c /tmp/w/$m.safetensors $img $L >> $OUT/context.log 2>&1
      echo "context rc=$? $((SECONDS - start)) s" >> $OUT/setup.log ;;
    bake)
      # Run 47's lab (tools/kernel-lab/bake-lab.mjs): baked weights against wsparse; carry .data/bake.
      nvcc -O3 -std=c++17 -arch=sm_90 -I tools/kernel-lab .data/bake/bake-lab.cu -o /tmp/bake-lab > $OUT/bake.log 2>&1 && timeout ${BAKE_S:-120} /tmp/bake-lab >> $OUT/bake.log 2>&1
      echo "bake rc=$? $((SECONDS - start)) s" >> $OUT/setup.log ;;
    tune-3x3)
      # Synthetic weights where none were carried (ResNet-152); a fresh folder (the machine may be warm from a call before).
      wa=""; [ -s /tmp/w/$m.safetensors ] && wa="--weights /tmp/w/$m.safetensors --fill-missing"
      rm -rf /tmp/t3 && node dist/cli.js --model $m --arch sm_90 --batch ${BATCH:-8} $wa --out /tmp/t3 -q > /dev/null 2>> $OUT/setup.log || echo "tune-3x3: generate failed" >> $OUT/setup.log
      L=${TUNE_LAYERS:-$(node -e 'const p = require("/tmp/t3/plan.json"); console.log(p.convs.filter((c) => /_2_conv$/.test(c.layer) && c.kernel[0] === 3 && c.stride[0] === 1 && c.output[1] >= 14).map((c) => c.layer).join(" "))')}
      echo "tune-3x3 layers: $L" >> $OUT/setup.log
      timeout ${TUNE_S:-240} node dist/cli.js tune /tmp/t3 --images /tmp/images --layer $L --max-candidates ${CANDIDATES:-12} \
        --cache $OUT/tune-3x3.json -j 16 -q > $OUT/tune-3x3.log 2>&1
      echo "tune-3x3 rc=$? $((SECONDS - start)) s" >> $OUT/setup.log ;;
    wino-lab)
      timeout ${WINO_S:-200} bash tools/kernel-lab/batch-lab.sh .data/wino > $OUT/wino.jsonl 2> $OUT/wino.err
      echo "wino-lab rc=$? $((SECONDS - start)) s" >> $OUT/setup.log ;;
    bench-pruned)
      # The very file tune-dual pruned (the tune cache's entries hold its weight structures), else --prune here.
      if [ -s /tmp/p/$m.safetensors ]; then wsrc="--weights /tmp/p"; else wsrc="--weights /tmp/w --prune ${PRUNE:-0.9}"; fi
      timeout ${BENCH_S:-240} node dist/cli.js bench --model $m --arch sm_90 --batch 1 $wsrc --images /tmp/images \
        --out /tmp/b-pruned --energy-seconds 2 -j 16 -v ${TUNE_CACHE:+--tune-cache $TUNE_CACHE --gpu "$gpu"} > $OUT/bench-pruned.log 2>&1
      echo "bench-pruned rc=$? $((SECONDS - start)) s" >> $OUT/setup.log
      cp /tmp/b-pruned/results.json $OUT/bench-pruned-results.json 2>/dev/null ;;
  esac
done
