#!/usr/bin/env bash
# Here (repository root): build, pack dist/ into .data/distx/dist.tar.xz for a GPU-host call, and record what it was
# built from in .data/distx/source.txt (commit, uncommitted changes under src/ and templates/) and
# .data/distx/templates.sha256. The host's bench renders kernels from templates/ in the carried working tree, not
# from dist/: runs 85 and 87 carried uncommitted templates and timed them under committed names
# (docs/PERFORMANCE.md, "Runs 85-89"). tools/bench/check-packed.sh compares the two on the host.
#   bash tools/bench/pack-dist.sh
set -euo pipefail
root=$(git rev-parse --show-toplevel); cd "$root"
npm run build > /dev/null
mkdir -p .data/distx
rm -f .data/distx/dist.tar.xz
tar -cf - dist | xz -T0 -9 > .data/distx/dist.tar.xz
{
  echo "commit $(git rev-parse --short HEAD) $(git log -1 --format=%s | cut -c1-100)"
  changes=$(git status --porcelain -- src templates)
  if [ -n "$changes" ]; then echo "UNCOMMITTED changes under src/ and templates/:"; echo "$changes"; else echo "clean: src/ and templates/ as committed"; fi
} > .data/distx/source.txt
find templates -type f -name '*.hbs' | sort | xargs sha256sum > .data/distx/templates.sha256
cat .data/distx/source.txt
