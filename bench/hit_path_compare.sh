#!/usr/bin/env bash
# The cache hit path before and after a change, in one run: instructions per call from
# callgrind (single thread; stable under load) and cache_bench times with one and two threads,
# the two binaries alternating so that both see the same machine load.
#
#   bench/hit_path_compare.sh OLD_CACHE_BENCH NEW_CACHE_BENCH [ROUNDS]   (default 3 rounds)
#
# OLD_CACHE_BENCH: cache_bench built from the commit before the change, e.g.
#   git worktree add /var/tmp/old <commit> && cmake --preset default -S /var/tmp/old -B /var/tmp/old/build \
#     && cmake --build /var/tmp/old/build --target cache_bench
set -euo pipefail
cd "$(dirname "$0")/.."
old=$1 new=$2 rounds=${3:-3}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
filter='(BM_HitLookupPinUnpin|BM_HitGet|BM_SessionRead64KiBHit)/real_time/threads:1'

echo "Instructions per call (callgrind, inclusive; 1 thread):"
echo
echo "| function | old Ir/call | new Ir/call | new / old |"
echo "|---|---|---|---|"
for which in old new; do
  valgrind --tool=callgrind --callgrind-out-file="$work/$which.cg" "${!which}" \
    --benchmark_filter="$filter" --benchmark_min_time=0.2 >/dev/null 2>&1
  python3 bench/callgrind_per_call.py "$work/$which.cg" 'ChunkCache::Lookup(' 'ChunkCache::Get(' \
    'SnapshotSession::Read(' 'ExpertSwitchPolicy::OnAccess' 'CacheCore::DrainAccessesLocked' |
    grep -v any_invocable >"$work/$which.ir"
done
for f in 'ChunkCache::Lookup(' 'ChunkCache::Get(' 'SnapshotSession::Read(' 'ExpertSwitchPolicy::OnAccess'; do
  o=$(grep -F "$f" "$work/old.ir" | head -1 | awk '{print $1}')
  n=$(grep -F "$f" "$work/new.ir" | head -1 | awk '{print $1}')
  awk -v f="$f" -v o="$o" -v n="$n" 'BEGIN { sub(/\($/, "", f); printf "| `%s` | %.0f | %.0f | %.3f |\n", f, o, n, n / o }'
done
# Policy work per hit: every drained hit reaches OnAccess once.
echo
echo "cache_bench, CPU ns per operation, medians of $rounds alternating rounds:"
echo
for r in $(seq "$rounds"); do
  for which in old new; do
    "${!which}" --benchmark_filter='(BM_HitLookupPinUnpin|BM_HitGet|BM_SessionRead64KiBHit)' \
      --benchmark_min_time=0.5 --benchmark_format=csv 2>/dev/null |
      awk -F, -v w=$which '/^"BM_/ { gsub(/"/, "", $1); print w, $1, $4 }' >>"$work/times"
  done
done
echo "| benchmark | old ns | new ns | new / old |"
echo "|---|---|---|---|"
python3 - "$work/times" <<'PY'
import statistics, sys, collections
t = collections.defaultdict(list)
for line in open(sys.argv[1]):
    w, name, cpu = line.split()
    t[(w, name)].append(float(cpu))
for name in sorted({n for _, n in t}, key=lambda n: (n.split('/')[0], n)):
    o, n = statistics.median(t[('old', name)]), statistics.median(t[('new', name)])
    print(f"| `{name}` | {o:.0f} | {n:.0f} | {n / o:.2f} |")
PY
