#!/usr/bin/env bash
# Here (repository root, after npm ci && npm run build): the small packs a GPU-host call carries (64 MiB a call),
# as used by runs 38-44 (docs/PERFORMANCE.md):
#   .gpumin/   node alone (no npm) + node_modules without onnxruntime-node and typescript (~38 MB): vitest runs
#   .gpuprod/  node alone + production node_modules without onnxruntime (~27 MB): bench, tune, build, run
#   .data/distx/dist.tar.xz  the built dist/ (~0.4 MB; unpack there with `tar -xJf`), with what it was built from
#                            (tools/bench/pack-dist.sh; checked on the host by tools/bench/check-packed.sh)
#   .data/common/            16 sample images as uint8 + images.py (~2.4 MB)
#   .data/<m>x/<model>.safetensors.xz  real weights, fp16, only the tensors present (for MODELS=..., default none)
# Each pack's setup.sh is ../shared/gpu/setup.sh (unpacks node to /tmp/gpu-node and node_modules, finds cuDNN).
# On the host: `source .gpuprod/setup.sh; rm -rf dist && tar -xJf .data/distx/dist.tar.xz`. Move docs/results/ out of
# the working tree for the call (34 MB of committed results travel otherwise) and back after it.
# usage: tools/bench/pack-gpu-host.sh [model ...]     e.g. densenet169 densenet201 resnet50
set -euo pipefail
root=$(git rev-parse --show-toplevel); cd "$root"
[ -d node_modules ] && [ -d dist ] || { echo "pack-gpu-host.sh: run 'npm ci && npm run build' first" >&2; exit 2; }
shared=../shared
for d in .gpumin .gpuprod; do grep -qx "/$d/" .git/info/exclude 2>/dev/null || echo "/$d/" >> .git/info/exclude; mkdir -p $d; cp $shared/gpu/setup.sh $d/; done
node_bin=$(readlink -f "$(command -v node)")
if [ ! -f .gpumin/node-runtime.tar.xz ] || [ "$node_bin" -nt .gpumin/node-runtime.tar.xz ]; then
  # The distro's node carries debug info: stripped and at xz -9e it packs to 21.9 MB instead of 24.2 (more room
  # for weights under the 64 MiB a call carries).
  stage=$(mktemp -d); mkdir -p "$stage/bin"; cp "$node_bin" "$stage/bin/node"; strip "$stage/bin/node" 2>/dev/null || true
  tar -C "$stage" -cf - bin | xz -T0 -9e > .gpumin/node-runtime.tar.xz; rm -rf "$stage"
fi
cp .gpumin/node-runtime.tar.xz .gpuprod/
tar -cf - --exclude='node_modules/.cache' --exclude='node_modules/onnxruntime-node' --exclude='node_modules/typescript' node_modules \
  | xz -T0 -6 > .gpumin/node_modules.tar.xz
tmp=$(mktemp -d); cp package.json package-lock.json "$tmp"/
(cd "$tmp" && npm ci --omit=dev --ignore-scripts --no-audit --no-fund >/dev/null)
tar -C "$tmp" -cf - --exclude='node_modules/onnxruntime-node' --exclude='node_modules/onnxruntime-common' node_modules | xz -T0 -6 > .gpuprod/node_modules.tar.xz
rm -rf "$tmp"
mkdir -p .data/common
bash tools/bench/pack-dist.sh
[ -s .data/common/images.npy ] || python3 $shared/gpu/images.py pack $shared/cusnn-artifact/sample_images .data/common/images.npy 16
cp $shared/gpu/images.py .data/common/
declare -A short=([densenet169]=d169x [densenet201]=d201x [resnet50]=r50x)
for m in "$@"; do
  d=.data/${short[$m]:-${m}x}; mkdir -p $d
  node dist/cli.js weights import --model $m --from $shared/cusnn-artifact/weights/$m --out /tmp/$m.safetensors --fp16 --only-present
  xz -T0 -6 -c /tmp/$m.safetensors > $d/$m.safetensors.xz; rm -f /tmp/$m.safetensors
done
du -sh .gpumin .gpuprod .data/* | sed 's/^/  /'
