#!/usr/bin/env bash
# The reliability suite at full length (bench/RESULTS.md, "Reliability"): the scenarios of
# tests/reliability/reliability_run.py with real chunkcached processes on loopback, 64 callers
# verifying every byte, then the table of their figures.
#
#   bench/reliability_soak.sh [SECONDS]   # soak length, default 300 (5 minutes)
#
# soak     SECONDS of mixed load, 3 archives (280 MiB distinct) over a 192 MiB cache
# crash    kill -9 mid-load (120 s), restart on the same address, persisted entries reused
# faults   the rack behind a node hangs, dies, corrupts, slows (180 s, 20 s phases)
# clients  16 stalled and 4 1-MB/s StreamRange clients beside cold reads, 64 MiB cache (60 s)
# hostile  200 sessions, 8 huge Prefetch, 5000 dropped connections under the load (60 s)
# BIN_DIR defaults to build/bin; WORK to a fresh dir in /var/tmp (the JSON summaries stay there).
# Shorter runs for a busy machine: SCALE=0.25 divides every duration by 4.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${BIN_DIR:-build/bin}
work=${WORK:-$(mktemp -d /var/tmp/reliability.XXXXXX)}
seconds=${1:-300}
scale=${SCALE:-1}
mkdir -p "$work"
run() {
  local scenario=$1 length=$2; shift 2
  length=$(awk -v s="$length" -v k="$scale" 'BEGIN { printf "%.0f", s * k }')
  echo "== $scenario ($length s): reliability_run.py $scenario --seconds $length $*" >&2
  /usr/bin/python3 tests/reliability/reliability_run.py "$scenario" --bin "$bin" \
    --scratch "$work/$scenario" --seconds "$length" --json "$work/$scenario.json" "$@" >/dev/null
}
shape=(--archives 3 --chunks 32 --callers 64)
run soak "$seconds" "${shape[@]}" --cache-bytes 192MiB --idle-timeout 30
run crash 120 "${shape[@]}" --cache-bytes 384MiB
run faults 180 "${shape[@]}" --cache-bytes 192MiB
run clients 60 --archives 2 --chunks 16 --callers 16 --cache-bytes 64MiB --idle-timeout 30
run hostile 60 "${shape[@]}" --cache-bytes 192MiB --idle-timeout 30 --sessions 200 --connections 5000 \
  --huge-prefetches 8
echo "summaries in $work" >&2
/usr/bin/python3 bench/reliability_table.py "$work"/{soak,crash,faults,clients,hostile}.json
