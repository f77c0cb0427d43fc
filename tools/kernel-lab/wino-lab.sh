#!/usr/bin/env bash
# GPU host: the Winograd lab (tools/kernel-lab/wino.cuh, entries in tools/kernel-lab/wino/kernels.inc)
# in batch-lab.cu's harness: each entry against cuDNN's fastest exact-fp32 algorithm on the same random
# post-ReLU input, relative L2 against IMPLICIT_GEMM + bias + ReLU, bitwise rerun, graph-replay median
# and p10/p90. JSON lines on stdout. Args: [filter].
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
inc=${CUDNN_INCLUDE:-/usr/include/x86_64-linux-gnu}
nvcc -O3 -std=c++17 -arch=sm_90 -I"$inc" -I"$here/wino" -I"$here" "$here/batch-lab.cu" -lcudnn -o /tmp/wino-lab -Xptxas -v 2> /tmp/wino-ptxas.txt
grep -E 'registers|spill' /tmp/wino-ptxas.txt | sort | uniq -c | sort -rn | head -8 >&2
/tmp/wino-lab "$@"
