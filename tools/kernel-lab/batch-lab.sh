#!/usr/bin/env bash
# GPU host: compile the kernels rendered by batch-lab.mjs into <dir> with batch-lab.cu (16 parallel
# nvcc processes, one object per kernel) and run the lab; JSON lines on stdout. Args: <dir> [filter].
set -euo pipefail
dir=$(cd "$1" && pwd); shift
here=$(cd "$(dirname "$0")" && pwd)
inc=${CUDNN_INCLUDE:-/usr/include/x86_64-linux-gnu}
mkdir -p "$dir/obj"
xargs -P "${JOBS:-16}" -I{} sh -c 'nvcc -O3 -std=c++17 -arch=sm_90 -c "$0/{}" -o "$0/obj/{}.o"' "$dir" < "$dir/kernels.list"
nvcc -O3 -std=c++17 -arch=sm_90 -I"$inc" -I"$dir" "$here/batch-lab.cu" "$dir"/obj/*.o -lcudnn -o "$dir/lab"
"$dir/lab" "$@"
