#!/usr/bin/env bash
# GPU host, repository root (run 15, 2026-12-03): chunked wstage (the input window streamed through two shared-memory
# buffers, `chunk` input channels at a time). First the GPU kernel suite on ResNet-50's kernels (every weight-sparse
# kernel against cuDNN, the chunked ones included), then one `cusnn-gen bench` per network:
#   vgg16  VGG-16, synthetic weights, `--prune 0.9` (dense and 90%): its 56x56-224x224 convs stayed on cuDNN in run 14;
#   d169   DenseNet-169, real weights pruned to 90% (.data/d169/p0.9.xz, as in run 14);
#   r50    ResNet-50, real weights pruned to 90% (.data/p90/resnet50.safetensors.xz, as in runs 13c/13d).
# Carried (64 MiB in all, with the tracked files): .gpumin (.gpuslim with node alone, no npm: 35 MB; vitest runs through node), dist, .data/common (images) and one of .data/d169
# or .data/p90 (.gpubench instead of .gpumin: no vitest, typescript, onnxruntime; GPU_PACK=.gpubench, no suite step);
# vggtuned reads the tune cache of run 17 from .data/t17. How the packs were made here (from pack.sh's .gpuslim):
#   .gpumin:   bin/node alone re-packed from .gpuslim/node-runtime.tar.xz (no npm), the same node_modules.tar.xz;
#   .gpubench: .gpumin's node, node_modules packed without onnxruntime-node, typescript, lightningcss*, @rolldown,
#              vite, vitest, @vitest, @types, esbuild (tar cf - --exclude=... node_modules | xz -6: 4 MB).
# STEPS picks the steps (default: suite vgg16 d169; vggtune after vgg16: ncu and tune of its pruned
# folder); none starts after DEADLINE seconds.
set -uo pipefail
start=$SECONDS
DEADLINE=${DEADLINE:-560}
source ${GPU_PACK:-.gpumin}/setup.sh > $OUT/setup.log 2>&1
python3 .data/common/images.py unpack .data/common/images.npy /tmp/images >/dev/null
[ -f .data/d169/p0.9.xz ] && mkdir -p /tmp/w-d0.9 && xz -dc .data/d169/p0.9.xz > /tmp/w-d0.9/densenet169.safetensors
[ -f .data/p90/resnet50.safetensors.xz ] && mkdir -p /tmp/w-p90 && xz -dc .data/p90/resnet50.safetensors.xz > /tmp/w-p90/resnet50.safetensors
left() { echo $((DEADLINE - (SECONDS - start))); }
b() {
  local tag=$1 limit=$2; shift 2
  local l=$(left)
  if [ $l -lt 60 ]; then echo "$tag skipped: ${l} s left" >> $OUT/setup.log; return; fi
  [ $limit -gt $l ] && limit=$l
  timeout $limit node dist/cli.js bench --arch sm_90 --batch 1 --images /tmp/images --out /tmp/b-$tag -j 16 --energy-seconds 2 "$@" > $OUT/bench-$tag.log 2>&1
  echo "bench $tag rc=$? $((SECONDS - start)) s" >> $OUT/setup.log
  [ -f /tmp/b-$tag/results.json ] && cp /tmp/b-$tag/results.json $OUT/$tag-results.json
}
for step in ${STEPS:-suite vgg16 d169}; do
  case $step in
    suite)
      CUSNN_KERNEL_MODELS=resnet50 CUSNN_GPU_LOG=$OUT/kernels.json timeout 200 node node_modules/vitest/vitest.mjs run --project gpu test/gpu/kernels.test.ts > $OUT/vitest.log 2>&1
      echo "kernel suite rc=$? $((SECONDS - start)) s" >> $OUT/setup.log ;;
    vgg16) b vgg16 170 --model vgg16 --synthetic --prune 0.9 ;;
    d169) b d169p90 150 --model densenet169 --weights /tmp/w-d0.9 ;;
    r50) b r50p90 150 --model resnet50 --weights /tmp/w-p90 ;;
    r50p95)
      mkdir -p /tmp/w-p95 && node dist/cli.js prune --model resnet50 --weights /tmp/w-p90/resnet50.safetensors --sparsity 0.95 --out /tmp/w-p95/resnet50.safetensors > $OUT/prune.log 2>&1
      b r50p95 150 --model resnet50 --weights /tmp/w-p95 ;;
    d169p95)
      mkdir -p /tmp/w-d0.95 && node dist/cli.js prune --model densenet169 --weights /tmp/w-d0.9/densenet169.safetensors --sparsity 0.95 --out /tmp/w-d0.95/densenet169.safetensors > $OUT/prune-d.log 2>&1
      b d169p95 150 --model densenet169 --weights /tmp/w-d0.95 ;;
    vggtuned) b vgg16tuned 150 --model vgg16 --synthetic --prune 0.9 --tune-cache .data/t17/tune-vgg16-p90.json --gpu "NVIDIA H200" ;;
    r50tune)
      node dist/cli.js --model resnet50 --arch sm_90 --weights /tmp/w-p90/resnet50.safetensors --out /tmp/g-r -q > $OUT/gen-r.log 2>&1
      l=$(left); [ $l -gt 100 ] && timeout $((l - 80)) node dist/cli.js tune /tmp/g-r --images /tmp/images --cache $OUT/tune-r50-p90.json --max-candidates ${CAND:-16} --iters 100 -j 16 > $OUT/tune-r.log 2>&1
      echo "tune r50 rc=$? $((SECONDS - start)) s" >> $OUT/setup.log
      b r50p90tuned 120 --model resnet50 --weights /tmp/w-p90 --tune-cache $OUT/tune-r50-p90.json --gpu "NVIDIA H200" ;;
    vggtune)
      # VGG-16 90% from the bench's pruned file: ncu of its chunked wstage kernels, then `tune` of every conv over
      # every family (the tune cache keeps each candidate's time: the data the chunked cost model is fitted to).
      w=/tmp/b-vgg16/build/vgg16-sm_90-p0.90/pruned-weights.safetensors
      node dist/cli.js --model vgg16 --arch sm_90 --weights $w --out /tmp/g-v -q > $OUT/gen-v.log 2>&1
      timeout 90 node dist/cli.js build /tmp/g-v -j 16 -q >> $OUT/gen-v.log 2>&1
      [ $(left) -gt 150 ] && timeout 80 ncu --graph-profiling node -k "regex:wstage3x3_c512_h14|wstage3x3_c256_h56|wstage3x3_c512_h28" --launch-count 3 \
        --section SpeedOfLight --section Occupancy --section WarpStateStats --section LaunchStats --section MemoryWorkloadAnalysis \
        --section SchedulerStats node dist/cli.js run /tmp/g-v --images /tmp/images/0.bin --iters 1 > $OUT/ncu.log 2>&1
      echo "ncu rc=$? $((SECONDS - start)) s" >> $OUT/setup.log
      l=$(left); [ $l -gt 40 ] && timeout $((l - 20)) node dist/cli.js tune /tmp/g-v --images /tmp/images --cache $OUT/tune-vgg16-p90.json --max-candidates ${CAND:-8} --iters 100 -j 16 > $OUT/tune-v.log 2>&1
      echo "tune rc=$? $((SECONDS - start)) s" >> $OUT/setup.log ;;
  esac
done
cd $OUT && tar czf logs.tgz *.log && rm -f *.log
