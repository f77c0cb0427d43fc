#!/usr/bin/env bash
# GPU host, repository root, sourced by the gpu-host-*.sh steps: says in $OUT/setup.log what the carried dist was
# built from (tools/bench/pack-dist.sh) and stops the call if templates/ differ from the ones packed with it (the
# kernels would be rendered from other templates than the results claim). ALLOW_TEMPLATE_DRIFT=1 runs anyway, for
# a lab of an uncommitted variant, and says so. Once a call: run-set.sh checks before its first bench, and the
# gpu-host-pxg.sh steps it starts then skip the check.
[ "${CUSNN_PACK_CHECKED:-0}" = 1 ] && return 0
if [ -s .data/distx/source.txt ]; then
  sed 's/^/packed: /' .data/distx/source.txt >> "$OUT/setup.log"
  grep -q '^UNCOMMITTED' .data/distx/source.txt && echo "WARNING: dist was packed from uncommitted src/ or templates/" >> "$OUT/setup.log"
fi
if [ -s .data/distx/templates.sha256 ] && ! sha256sum --quiet -c .data/distx/templates.sha256 >> "$OUT/setup.log" 2>&1; then
  if [ "${ALLOW_TEMPLATE_DRIFT:-0}" = 1 ]; then
    echo "WARNING: templates/ differ from those packed with dist (ALLOW_TEMPLATE_DRIFT=1: running anyway)" >> "$OUT/setup.log"
  else
    echo "STOP: templates/ differ from those packed with dist; run tools/bench/pack-dist.sh here (or ALLOW_TEMPLATE_DRIFT=1)" | tee -a "$OUT/setup.log" >&2
    exit 3
  fi
fi
export CUSNN_PACK_CHECKED=1
