#!/usr/bin/env bash
# GPU host, repository root: a set of whole-network benches in one call, each packed as $OUT/<tag>.tgz
# (results.json, CSVs, charts, summary.md, bench.log and the bench's stdout), so that one call stays under the
# 8 files $OUT may hold. SET lists model:batch words (tag <model>-b<batch>); ANCHORS=1 adds
# tools/bench/pytorch-anchors.py for those models and batches ($OUT/pytorch-anchors.jsonl).
# A bench starts only while LIMIT_S (default 540) seconds minus its expected time remain: a call is cut at 600 s.
#   SET="resnet50:8 resnet152:8 resnet50:1" ANCHORS=1 bash tools/bench/run-set.sh
#   SET="resnet50:1 resnet50:1:bench-pdl-all" bash tools/bench/run-set.sh     (a bench step other than bench)
# Carry .gpuprod .data/distx .data/common and the real weights of the set's models (.data/r50x, .data/d169x,
# .data/d201x); docs/results/ moved out for the call. TUNE_CACHE and BENCH_ARGS go to gpu-host-pxg.sh as they are.
set -u
start=$SECONDS
# A template mismatch stops the whole set here, not each bench after its setup (tools/bench/check-packed.sh).
source tools/bench/check-packed.sh
limit=${LIMIT_S:-540}
expect() { # model batch -> seconds a bench took on the H100 (runs 53-82), with margin
  case $1:$2 in
    resnet50:1) echo 45 ;; resnet50:8) echo 55 ;; resnet50:32) echo 85 ;;
    resnet152:1) echo 70 ;; resnet152:8) echo 95 ;; resnet152:32) echo 160 ;;
    densenet169:1|densenet201:1) echo 80 ;; densenet169:8|densenet201:8) echo 90 ;; *) echo 140 ;;
  esac
}
models=""; batches=""
for spec in ${SET:?SET="model:batch ..."}; do
  # model:batch, or model:batch:step with a bench step of gpu-host-pxg.sh (bench-nopdl, bench-pdl-all): tag <model>-b<batch>[-<step>]
  m=${spec%%:*} rest=${spec#*:} b=${rest%%:*} step=bench
  [ "$rest" != "$b" ] && step=${rest#*:}
  tag=$m-b$b; [ $step != bench ] && tag=$tag-$step
  case ",$models," in *",$m,"*) ;; *) models=${models:+$models,}$m ;; esac
  case ",$batches," in *",$b,"*) ;; *) batches=${batches:+$batches,}$b ;; esac
  need=$(expect $m $b)
  if [ $((SECONDS - start + need)) -gt $limit ]; then echo "$tag skipped: $((SECONDS - start)) s used, ~$need s needed" >> $OUT/setup.log; continue; fi
  MODEL=$m BATCH=$b STEPS=$step BENCH_S=$((need * 2)) bash tools/bench/gpu-host-pxg.sh
  mv $OUT/$step.log /tmp/b-$step/stdout.log 2>/dev/null; rm -f $OUT/$step-results.json
  (cd /tmp/b-$step && tar -czf $OUT/$tag.tgz results.json layers.csv results.csv summary.md time.svg energy.svg \
    speedup-vs-sparsity.svg layers-$m.svg bench.log stdout.log 2>/dev/null)
  rm -f /tmp/b-$step/*.json /tmp/b-$step/*.csv /tmp/b-$step/*.md /tmp/b-$step/*.svg /tmp/b-$step/*.log
  echo "$tag done $((SECONDS - start)) s" >> $OUT/setup.log
done
if [ "${ANCHORS:-0}" = 1 ]; then
  timeout $((limit + 50 - (SECONDS - start))) python3 tools/bench/pytorch-anchors.py --models ${ANCHOR_MODELS:-$models} \
    --batch ${ANCHOR_BATCHES:-$batches} --iters 100 > $OUT/pytorch-anchors.jsonl 2>> $OUT/setup.log
  echo "anchors rc=$? $((SECONDS - start)) s" >> $OUT/setup.log
fi
nvidia-smi --query-gpu=name,clocks.max.sm,memory.total --format=csv >> $OUT/setup.log
