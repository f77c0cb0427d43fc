#!/usr/bin/env bash
# ONNX models in, checked against PyTorch on the GPU host (issue 11). For each torchvision model
# (random weights under a fixed torch seed: the host has no internet): export to ONNX with inputs and
# PyTorch's float64 outputs (tools/onnx/torchvision_export.py), then
#   cusnn-gen --model X.onnx --arch sm_90 --out ...; cusnn-gen build ...; cusnn-gen run ... --input
# and compare with PyTorch (rel. L2 <= 1e-4), one line per model. All three are expected to run on
# the GPU path (mobilenet_v2's depthwise convs on cuDNN with a group count, its ReLU6 as a clamp fused
# into the conv before it); a model the GPU path cannot run (e.g. one with several outputs) is reported
# as "unsupported on the GPU path: <reason>" (and checked on the CPU path, run --cpu, instead); then a
# short bench of the models that ran.
#
#   bash tools/onnx/torchvision-check.sh                    # resnet50, densenet121, mobilenet_v2
#   MODELS=resnet50 INPUTS=2 BENCH=0 OUT=/tmp/onnx-check bash tools/onnx/torchvision-check.sh
#   EXPORT=0 ...                                            # reuse the files of an earlier export in $OUT
#
# Needs python3 with torch, torchvision, numpy (onnx optional), and Node.js (.gpu/setup.sh is sourced
# when node is not on PATH), nvcc and cuDNN. About 5 minutes on an H200 host (16 cores). Exit status 0
# when every model either matched PyTorch or was reported unsupported with its reason; 1 otherwise.
set -uo pipefail
cd "$(dirname "$0")/../.."
if ! command -v node >/dev/null 2>&1 && [ -f .gpu/setup.sh ]; then source .gpu/setup.sh >/dev/null; fi
OUT=${OUT:-out/onnx-check}
ARCH=${ARCH:-sm_90}
MODELS=${MODELS:-resnet50,densenet121,mobilenet_v2}
INPUTS=${INPUTS:-3}
SEED=${SEED:-0}
TOL=${TOL:-1e-4}
JOBS=${JOBS:-$(nproc)}
CLI="node dist/cli.js"
mkdir -p "$OUT"
[ -f dist/cli.js ] || npx tsc -p tsconfig.json || { echo "torchvision-check: FAILED: cannot build dist/"; exit 1; }
t0=$(date +%s)
say() { echo "[$(( $(date +%s) - t0 ))s] $*" >&2; }

if [ "${EXPORT:-1}" != "0" ]; then
  say "exporting $MODELS (seed $SEED, $INPUTS inputs each) to $OUT"
  if ! python3 tools/onnx/torchvision_export.py export --out "$OUT" --models "$MODELS" --inputs "$INPUTS" --seed "$SEED" > "$OUT/export.log" 2>&1; then
    tail -20 "$OUT/export.log" >&2
    echo "torchvision-check: FAILED: the PyTorch export (see $OUT/export.log)"
    exit 1
  fi
  grep -E '^[a-z0-9_]+: ' "$OUT/export.log" >&2
else
  say "EXPORT=0: reusing $OUT/<model>.onnx, .inputs.npy and .torch.npy of an earlier export"
fi

status=0
lines=()
ran=()
unsupported_reason() { sed -n 's/.*\(is not supported on the GPU path yet: .*\)$/\1/p; s/.*note: the GPU path (build, run) cannot run this network yet: \(.*\); run --cpu can$/\1/p' "$1" | head -1; }

for m in ${MODELS//,/ }; do
  onnx="$OUT/$m.onnx"
  dir="$OUT/$m-$ARCH"
  log="$OUT/$m.log"
  : > "$log"
  say "$m: generate"
  if ! $CLI --model "$onnx" --arch "$ARCH" --out "$dir" --force-overwrite >> "$log" 2>&1; then
    lines+=("$m: FAILED: generate: $(grep '^cusnn-gen: ' "$log" | tail -1)"); status=1; continue
  fi
  reason=$(grep -o 'note: the GPU path (build, run) cannot run this network yet: .*; run --cpu can' "$log" | sed 's/^note: the GPU path (build, run) cannot run this network yet: //; s/; run --cpu can$//' | head -1)
  if [ -n "$reason" ]; then
    # The CPU path runs it: the importer and the float64 reference against PyTorch.
    say "$m: unsupported on the GPU path; run --cpu instead"
    cpu=""
    if $CLI run --cpu "$dir" --input "$OUT/$m.inputs.npy" --save "$OUT/$m.cpu.npy" >> "$log" 2>&1; then
      cpu=$(python3 tools/onnx/torchvision_export.py compare --name "$m" --ref "$OUT/$m.torch.npy" --got "$OUT/$m.cpu.npy" --tol "$TOL" | sed "s/^$m: //")
    else
      cpu="FAILED ($(grep '^cusnn-gen: ' "$log" | tail -1))"
    fi
    lines+=("$m: unsupported on the GPU path: $reason [CPU path, run --cpu: $cpu]")
    continue
  fi
  say "$m: build"
  if ! $CLI build "$dir" -j "$JOBS" >> "$log" 2>&1; then
    r=$(unsupported_reason "$log")
    if [ -n "$r" ]; then lines+=("$m: unsupported on the GPU path: $r"); else lines+=("$m: FAILED: build: $(grep '^cusnn-gen: ' "$log" | tail -1) (see $log)"); status=1; fi
    continue
  fi
  say "$m: run on $INPUTS inputs"
  if ! $CLI run "$dir" --input "$OUT/$m.inputs.npy" --batch 1 --iters 100 --save "$OUT/$m.cusnn.npy" >> "$log" 2>&1; then
    r=$(unsupported_reason "$log")
    if [ -n "$r" ]; then lines+=("$m: unsupported on the GPU path: $r"); else lines+=("$m: FAILED: run: $(grep '^cusnn-gen: ' "$log" | tail -1) (see $log)"); status=1; fi
    continue
  fi
  timing=$(grep -o 'median [0-9.]* us per forward' "$log" | tail -1)
  line=$(python3 tools/onnx/torchvision_export.py compare --name "$m" --ref "$OUT/$m.torch.npy" --got "$OUT/$m.cusnn.npy" --tol "$TOL" --what " [GPU path, $ARCH${timing:+, $timing}]") || status=1
  lines+=("$line")
  [[ "$line" == "$m: ok:"* ]] && ran+=("$onnx")
done

echo "== ONNX models vs PyTorch (random torchvision weights, seed $SEED; $INPUTS inputs each; tolerance $TOL)"
printf '%s\n' "${lines[@]}"

if [ "${BENCH:-1}" != "0" ] && [ ${#ran[@]} -gt 0 ]; then
  models=$(IFS=,; echo "${ran[*]}")
  say "bench: $models"
  if $CLI bench --model "$models" --arch "$ARCH" --batch 1 --random-inputs --out "$OUT/bench" --rounds 3 --iters 100 \
      --layer-iters 10 --energy-seconds 0 --check-inputs 2 -j "$JOBS" > "$OUT/bench.txt" 2> "$OUT/bench.err"; then
    echo "== bench (batch 1, $ARCH): $OUT/bench/summary.md"
  else
    echo "== bench FAILED (exit $?): $(tail -1 "$OUT/bench.err")"
    status=1
  fi
  cat "$OUT/bench.txt"
fi
say "done (exit $status)"
exit $status
