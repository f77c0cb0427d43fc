#!/usr/bin/env bash
# GPU host, repository root: run 92 (tools/kernel-lab/PREDICTIONS.md). igemm's split epilogue with the swizzled park
# (5fb277d) against the template before it (352fb20), in the batch lab, alternately, twice each; odd shapes for
# correctness; ncu of one split-16 kernel with the stall reasons (run 91 had none); then ResNet-50 at batch 1 with the
# launch policy of today and with CUSNN_PDL_ALL=1 (tools/bench/run-set.sh; SET= to change).
# Render here first (the lab folders are carried, with .gpuprod .data/distx .data/common .data/r50x):
#   node tools/kernel-lab/batch-lab.mjs .data/igemm-b1-swz --batches 1 --only resnet50
#   node tools/kernel-lab/batch-lab.mjs .data/igemm-odd-swz --batches 1 --only odd
#   git worktree add /tmp/old 352fb20 && (cd /tmp/old && npm ci && npm run build && \
#     node tools/kernel-lab/batch-lab.mjs "$OLDPWD/.data/igemm-b1" --batches 1 --only resnet50)
# Writes $OUT/setup.log, labs.tgz (one JSON-lines file a lab run), ncu-swz.log and the benches' .tgz files.
set -u
s=$SECONDS
nvidia-smi --query-gpu=name,clocks.max.sm,memory.total --format=csv > $OUT/setup.log
source .gpuprod/setup.sh >> $OUT/setup.log 2>&1
mkdir -p /tmp/labs
for d in igemm-b1 igemm-b1-swz igemm-odd-swz; do
  [ -d .data/$d ] || { echo "no .data/$d carried" >> $OUT/setup.log; continue; }
  bash tools/kernel-lab/batch-lab.sh .data/$d no-entry-matches > /dev/null 2>> $OUT/setup.log; echo "built $d rc=$? $((SECONDS-s)) s" >> $OUT/setup.log
done
for r in 1 2; do for d in igemm-b1 igemm-b1-swz; do
  [ -x .data/$d/lab ] && { timeout 60 .data/$d/lab > /tmp/labs/$d-round$r.jsonl 2>> $OUT/setup.log; echo "lab $d round $r rc=$? $((SECONDS-s)) s" >> $OUT/setup.log; }
done; done
[ -x .data/igemm-odd-swz/lab ] && { timeout 60 .data/igemm-odd-swz/lab > /tmp/labs/igemm-odd-swz.jsonl 2>> $OUT/setup.log; echo "lab odd rc=$? $((SECONDS-s)) s" >> $OUT/setup.log; }
(cd /tmp/labs && tar czf $OUT/labs.tgz *.jsonl)
n=igemm1x1_c512_h28_w28_k128_bm64_bn64_bkc8_t8x4_wm8_z16_st4_v4_bias_relu
[ -x .data/igemm-b1-swz/lab ] && { timeout 60 ncu --set full --metrics "regex:smsp__average_warps_issue_stalled_.*_per_issue_active.ratio" --import-source no -k "regex:$n" --launch-count 1 .data/igemm-b1-swz/lab $n > $OUT/ncu-swz.log 2>&1; echo "ncu rc=$? $((SECONDS-s)) s" >> $OUT/setup.log; }
LIMIT_S=$((${LIMIT_S:-540}-(SECONDS-s))) SET="${SET:-resnet50:1 resnet50:1:bench-pdl-all}" bash tools/bench/run-set.sh
echo "all $((SECONDS-s)) s" >> $OUT/setup.log; tail -22 $OUT/setup.log
