set -u
start=$SECONDS
run() { # tag model fuse
  tag=$1; m=$2; extra=$3
  MODEL=$m BATCH=8 STEPS=bench BENCH_S=260 TUNE_CACHE=.data/cache/run70-tune-cache.json BENCH_ARGS="$extra" bash tools/bench/gpu-host-pxg.sh
  mv $OUT/bench.log $OUT/$tag-bench.log 2>/dev/null; rm -f $OUT/bench-results.json
  (cd /tmp/b-bench && tar -czf $OUT/$tag.tgz results.json layers.csv results.csv summary.md time.svg energy.svg speedup-vs-sparsity.svg layers-$m.svg bench.log 2>/dev/null)
  rm -f /tmp/b-bench/*.json /tmp/b-bench/*.csv /tmp/b-bench/*.md /tmp/b-bench/*.svg /tmp/b-bench/bench.log
  echo "$tag done $((SECONDS-start)) s" >> $OUT/setup.log
}
run r152-fused resnet152 ""
run r152-unfused resnet152 "--no-residual-fusion"
run r50-fused resnet50 ""
run r50-unfused resnet50 "--no-residual-fusion"
grep -h "| resnet" /tmp/b-bench/summary.md > /dev/null 2>&1
