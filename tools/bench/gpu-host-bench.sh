#!/usr/bin/env bash
# The H200 bench runs of docs/PERFORMANCE.md, as run on the GPU host (no Node.js there: .gpu/ from
# ../shared/gpu/pack.sh --prod, dist/ built here, .data/ carried with densenet169.safetensors
# (cusnn-gen weights import --fp16 --fill-missing) and images.npy + images.py (16 sample images
# packed as uint8 by ../shared/gpu/images.py)).
#   MODELS=densenet169,resnet50 BATCH=1 ENERGY=2 bash tools/bench/gpu-host-bench.sh
set -uo pipefail
source .gpu/setup.sh
python3 .data/images.py unpack .data/images.npy /tmp/images >/dev/null
mkdir -p /tmp/w && cp .data/densenet169.safetensors /tmp/w/
node dist/cli.js bench --model "${MODELS:-densenet169,resnet50}" --arch sm_90 --batch "${BATCH:-1}" --weights /tmp/w \
  --images /tmp/images --out /tmp/bench --energy-seconds "${ENERGY:-2}" -v 2> "${OUT:-/tmp}/bench-log.txt" | tail -60
cp /tmp/bench/results.json /tmp/bench/summary.md "${OUT:-/tmp}/" 2>/dev/null
