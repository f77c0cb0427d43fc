#!/usr/bin/env bash
# The H200 bench runs of docs/PERFORMANCE.md, as run on the GPU host (no Node.js there: .gpu/ from
# ../shared/gpu/pack.sh --prod, dist/ built here). Carried beside them: WEIGHTS (a folder of
# <model>.safetensors made by `cusnn-gen weights import --fp16 --only-present`, filled again at load)
# and .data/common/images.npy + images.py (16 sample images packed as uint8 by ../shared/gpu/images.py).
#   WEIGHTS=.data/d169 MODELS=densenet169,densenet201 BATCH=1,8,32 ENERGY=2 bash tools/bench/gpu-host-bench.sh
# Writes results.json, summary.md and the bench log to $OUT (NAME prefixes them).
set -uo pipefail
source .gpu/setup.sh
python3 .data/common/images.py unpack .data/common/images.npy /tmp/images >/dev/null
mkdir -p /tmp/w && cp "${WEIGHTS:-.data/w}"/*.safetensors /tmp/w/ 2>/dev/null
n=${NAME:-bench}
node dist/cli.js bench --model "${MODELS:-densenet169,resnet50}" --arch sm_90 --batch "${BATCH:-1}" --weights /tmp/w \
  --images /tmp/images --out "/tmp/$n" --energy-seconds "${ENERGY:-2}" -v 2> "${OUT:-/tmp}/$n-log.txt" | tail -40
cp "/tmp/$n/results.json" "${OUT:-/tmp}/$n-results.json" 2>/dev/null
cp "/tmp/$n/summary.md" "${OUT:-/tmp}/$n-summary.md" 2>/dev/null
