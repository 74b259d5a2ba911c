#!/usr/bin/env bash
# Hit throughput with the index-aware policy against the default policy, in one run (issue 14's
# target: >= 0.95). cache_bench's BM_SessionStreamRead64KiBHit reads a cached archive
# sequentially in 64 KiB pieces; with `index` every reader is a registered stream, moved on
# every read and reopened at every start-over, and the policy hears them in the drains.
# Two measures: instructions per SnapshotSession::Read from callgrind (one thread; stable on a
# loaded machine), and CPU time per read from ROUNDS alternating runs of each (one and two
# threads), as medians. The ratio is default / index (throughput of index relative to default).
#
#   bench/index_hit_bench.sh [ROUNDS]      (default 5; BIN_DIR defaults to build/bin)
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${BIN_DIR:-build/bin}
rounds=${1:-5}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
bench=BM_SessionStreamRead64KiBHit

echo "| measure | default policy | index policy | throughput ratio (index / default) |"
echo "|---|---|---|---|"
for arg in 0 1; do
  valgrind --tool=callgrind --callgrind-out-file="$work/$arg.cg" "$bin/cache_bench" \
    --benchmark_filter="$bench/index_policy:$arg/real_time/threads:1\$" \
    --benchmark_min_time=0.2 >/dev/null 2>&1
  python3 bench/callgrind_per_call.py "$work/$arg.cg" 'SnapshotSession::Read(' |
    grep -F ' calls  chunkcache::SnapshotSession::Read(' | awk '{print $1}' >"$work/$arg.ir"
done
awk -v d="$(cat "$work/0.ir")" -v i="$(cat "$work/1.ir")" \
  'BEGIN { printf "| instructions per read (callgrind, 1 thread) | %.0f | %.0f | %.3f |\n", d, i, d / i }'

for r in $(seq "$rounds"); do
  for arg in 0 1; do
    "$bin/cache_bench" --benchmark_filter="$bench/index_policy:$arg/" --benchmark_min_time=0.5 \
      --benchmark_format=csv 2>/dev/null |
      awk -F, -v a=$arg '/^"BM_/ { gsub(/"/, "", $1); sub(/\/index_policy:[01]/, "", $1); print a, $1, $4 }' >>"$work/times"
  done
done
python3 - "$work/times" <<'PY'
import collections, statistics, sys
t = collections.defaultdict(list)
for line in open(sys.argv[1]):
    arg, name, cpu = line.split()
    t[(arg, name)].append(float(cpu))
for name in sorted({n for _, n in t}):
    d, i = statistics.median(t[('0', name)]), statistics.median(t[('1', name)])
    threads = name.split('threads:')[1]
    print(f"| CPU ns per read, {threads} thread(s), median of {len(t[('0', name)])} | {d:.0f} | {i:.0f} | {d / i:.3f} |")
PY
