#!/usr/bin/env bash
# GPU host, repository root (run 22, 2026-12-03): the large-batch igemm tiles (e953418) checked and measured.
#   suite  the GPU kernel suite (every generated kernel against cuDNN, the forced large-batch tiles on odd shapes)
#   ncu    ncu of the batch lab's ResNet-50 batch-8 wide tiles (.lab/bl from batch-lab.mjs --only resnet50 --batches 8)
#   bench  `cusnn-gen bench --batch 1,8,32` of ResNet-50 and DenseNet-169, real weights (.data/r50x, .data/d169x:
#          `weights import --fp16 --only-present`, then xz; filled again at load)
# Run 22 took two calls on one warm machine (64 MiB a call): first STEPS="suite ncu" carrying .gpumin dist .lab (its
# suite failed: that pack lacked @ts-morph, which vitest's config needs); then STEPS="suite bench" with GPU_PACK=.data/tsm
# carrying .data/tsm (setup.sh, dist and node_modules/@ts-morph as tar.xz, unpacked first) .data/common .data/r50x
# .data/d169x. Carried paths do not stay between calls; what the first call unpacked (/tmp/gpu-node, node_modules) does.
# Runs 23-24 (plans per batch; the split rule): a first call carrying .gpumin .data/tsm unpacked node and node_modules
# (and ran test/gpu/bench.test.ts), then STEPS=bench GPU_PACK=.data/tsm MODELS=<one model> BATCH=... per call, carrying
# .data/tsm .data/common and that model's weights (DenseNet-201 and ResNet-152 synthetic: no weights carried). The
# weights files are now unpacked one by one (those runs chained them with &&, so a call's missing file could stop the
# next one's unpacking; every run's results.json records the weights file it loaded). MODELS and BATCH select the models and batches.
# Runs 26-27: PRUNE=0.5 PRUNE_PATTERN=filter adds the pruned bench; TAG prefixes the step's output files; STEPS=tune
# runs `cusnn-gen tune --random-inputs` on TUNE_MODELS at CANDIDATES per conv; TUNE_PRUNE prunes their weights first (run 32); TUNE_CACHE=<file> benches with that tune cache.
# .gpumin: node alone (no npm) + node_modules without onnxruntime-node and typescript (vitest runs via node).
set -uo pipefail
start=$SECONDS
source ${GPU_PACK:-.gpumin}/setup.sh >> $OUT/setup.log 2>&1
for step in ${STEPS:-suite ncu}; do
  case $step in
    suite)
      CUSNN_GPU_LOG=$OUT/kernels.json timeout 240 node node_modules/vitest/vitest.mjs run --project gpu test/gpu/kernels.test.ts > $OUT/vitest.log 2>&1
      echo "kernel suite rc=$? $((SECONDS - start)) s" >> $OUT/setup.log ;;
    ncu)
      JOBS=16 timeout 150 bash tools/kernel-lab/batch-lab.sh .lab/bl > $OUT/lab.jsonl 2>> $OUT/setup.log
      echo "lab rc=$? $((SECONDS - start)) s" >> $OUT/setup.log
      timeout 120 ncu --graph-profiling node -k "regex:${NCU_K:-igemm1x1_c(64_h56_w56_k256|256_h14_w14_k1024|1024_h14_w14_k256)_bm128_bn64_bkc8_t8x8_wm8_z1}" --launch-count 3 \
        --section SpeedOfLight --section Occupancy --section LaunchStats --section WarpStateStats --section MemoryWorkloadAnalysis \
        --section SchedulerStats --section ComputeWorkloadAnalysis .lab/bl/lab "${NCU_FILTER:-_t8x8_wm8_z1_}" > $OUT/ncu.log 2>&1
      echo "ncu rc=$? $((SECONDS - start)) s" >> $OUT/setup.log ;;
    bench)
      python3 .data/common/images.py unpack .data/common/images.npy /tmp/images >/dev/null
      # Each carried weights file on its own (a model whose file is not carried gets none: synthetic weights, said so).
      mkdir -p /tmp/w && rm -f /tmp/w/*.safetensors
      for x in .data/r50x/resnet50 .data/d169x/densenet169; do [ -s $x.safetensors.xz ] && xz -dc $x.safetensors.xz > /tmp/w/$(basename $x).safetensors; done
      timeout ${BENCH_S:-540} node dist/cli.js bench --model ${MODELS:-resnet50,densenet169} --arch sm_90 --batch ${BATCH:-1,8,32} --weights /tmp/w \
        --images /tmp/images --out /tmp/b --energy-seconds ${ENERGY:-2} -j 16 -v \
        ${PRUNE:+--prune $PRUNE --prune-pattern ${PRUNE_PATTERN:-unstructured}} ${TUNE_CACHE:+--tune-cache $TUNE_CACHE --gpu "NVIDIA H200"} > $OUT/bench${TAG:-}.log 2>&1
      echo "bench rc=$? $((SECONDS - start)) s" >> $OUT/setup.log
      for f in results.json summary.md; do [ -f /tmp/b/$f ] && cp /tmp/b/$f $OUT/${TAG:-}$f; done ;;
    tune)
      # The heuristic against the measured search (item 4): one folder per model, random inputs, batch 1.
      # TUNE_PRUNE=0.9 (TUNE_PRUNE_PATTERN, default filter): the model's carried weights pruned first, so that the
      # search covers the pruned-weight tiles (kept filters since run 32).
      for m in ${TUNE_MODELS:-resnet50}; do
        wflag=""
        if [ -n "${TUNE_PRUNE:-}" ]; then
          src=""; [ -s .data/r50x/$m.safetensors.xz ] && { xz -dc .data/r50x/$m.safetensors.xz > /tmp/$m-dense.safetensors; src="--weights /tmp/$m-dense.safetensors --fill-missing"; }
          node dist/cli.js prune --model $m $src --sparsity $TUNE_PRUNE --pattern ${TUNE_PRUNE_PATTERN:-filter} --out /tmp/$m-pruned.safetensors >> $OUT/setup.log 2>&1
          wflag="--weights /tmp/$m-pruned.safetensors"
        fi
        node dist/cli.js --model $m --arch sm_90 $wflag --out /tmp/t-$m -q > /dev/null 2>> $OUT/setup.log
        timeout ${TUNE_S:-200} node dist/cli.js tune /tmp/t-$m --random-inputs --max-candidates ${CANDIDATES:-12} \
          --cache $OUT/$m${TUNE_PRUNE:+-p$TUNE_PRUNE}-b1-c${CANDIDATES:-12}-tune-cache.json -j 16 -q > $OUT/tune-$m${TUNE_PRUNE:+-p$TUNE_PRUNE}.log 2>&1
        echo "tune $m rc=$? $((SECONDS - start)) s" >> $OUT/setup.log
      done ;;
  esac
done
