#!/usr/bin/env bash
# Anonymous memory of the server process (not of a benchmark holding a cache in-process).
#
#   bench/server_rss.sh ratio           # RssAnon with an 8 GiB cache full ÷ with 256 MiB full
#   bench/server_rss.sh soak [SECONDS]  # RssAnon sampled every 5 s under a mixed load (default 600 s)
#
# ratio: for each cache size, a fresh throttled_server (no throttling) restores the same
# 8.5 GiB archive of distinct chunks (zero-filled 4 MiB chunks, tiny on disk) with the same
# client, so both do the same RPC work; the cache then holds as much as fits, and
# /proc/PID/status is read.
# soak: one server with a 1 GiB cache and an upstream of 2 ms per call and 32 MiB/s; random
# 64 KiB readers (hits and misses on a 512 MiB archive, in 2 s bursts every 5 s), whole-archive
# StreamRange restores of the 8.5 GiB archive back to back (misses and evictions) and ReadRange
# restores of the 512 MiB archive (hits once warm). Prints the samples and the least-squares
# slope of RssAnon after the first minute.
# SERVER_ARGS: extra throttled_server flags for the ratio runs (e.g. "--policy lru").
# BIN_DIR defaults to build/bin; WORK to a fresh dir in /var/tmp (the datastore is reused).
set -euo pipefail
cd "$(dirname "$0")/.."
mode=${1:-ratio}
bin=${BIN_DIR:-build/bin}
work=${WORK:-$(mktemp -d /var/tmp/server_rss.XXXXXX)}
mkdir -p "$work"
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT

big_snap=vm/600/2026-01-01T00:00:00Z
small_snap=vm/601/2026-01-01T00:00:00Z
if [ ! -e "$work/.made" ]; then
  "$bin/bench_datastore" --path "$work/store" --snapshot $big_snap --archive drive-scsi0.img.fidx \
    --size $((8704 << 20)) --chunk-size $((4 << 20)) --seed 600 --zero >&2
  "$bin/bench_datastore" --path "$work/store" --snapshot $small_snap \
    --archive drive-scsi0.img.fidx --size $((512 << 20)) --chunk-size $((1 << 20)) --seed 601 >&2
  touch "$work/.made"
fi

# start NAME CACHE_BYTES EXTRA... ; sets pid, grpc, metrics
start() {
  local name=$1 bytes=$2; shift 2
  rm -rf "$work/cache-$name" "$work/$name.ports"
  "$bin/throttled_server" --listen 127.0.0.1:0 --metrics-listen 127.0.0.1:0 \
    --datastore "bench=$work/store" --cache-dir "$work/cache-$name" --cache-bytes "$bytes" \
    --port-file "$work/$name.ports" --log-level warn "$@" 2>"$work/$name.log" &
  pid=$!
  pids+=($pid)
  for _ in $(seq 300); do [ -s "$work/$name.ports" ] && break; sleep 0.1; done
  grpc=127.0.0.1:$(sed -n 's/^grpc_port=//p' "$work/$name.ports")
  metrics=127.0.0.1:$(sed -n 's/^metrics_port=//p' "$work/$name.ports")
}
status_kib() { awk -v k="$2:" '$1 == k { print $2 }' "/proc/$1/status"; }
cache_bytes() {
  curl -s "http://$metrics/metrics" |
    awk '/^chunkcache_cache_bytes\{/ { s += $2 } END { printf "%.0f", s / 1048576 }'
}
restore() {
  "$bin/chunkcache" restore --server "$grpc" --datastore bench --snapshot "$1" \
    --archive drive-scsi0.img.fidx --out - --no-progress "${@:2}" >/dev/null
}

if [ "$mode" = ratio ]; then
  echo "| cache | cached MiB | VmRSS MiB | RssAnon MiB | RssFile MiB |"
  echo "|---|---|---|---|---|"
  declare -A anon
  for bytes in 256MiB 8GiB; do
    # shellcheck disable=SC2086  # SERVER_ARGS is a list of flags
    start "ratio-$bytes" "$bytes" ${SERVER_ARGS:-}
    restore $big_snap
    anon[$bytes]=$(status_kib "$pid" RssAnon)
    awk -v c="$bytes" -v m="$(cache_bytes)" -v r="$(status_kib "$pid" VmRSS)" -v a="${anon[$bytes]}" \
      -v f="$(status_kib "$pid" RssFile)" \
      'BEGIN { printf "| %s | %d | %.1f | %.1f | %.1f |\n", c, m, r / 1024, a / 1024, f / 1024 }'
    kill "$pid"; wait "$pid" 2>/dev/null || true
  done
  awk -v a="${anon[8GiB]}" -v b="${anon[256MiB]}" \
    'BEGIN { printf "\nRssAnon 8 GiB full / 256 MiB full: %.3f\n", a / b }'
  exit 0
fi

seconds=${2:-600}
start soak 1GiB --upstream-latency-ms 2 --upstream-bandwidth 32MiB
( while true; do restore $big_snap --stream || true; done ) &
pids+=($!)
( while true; do restore $small_snap || true; sleep 5; done ) &
pids+=($!)
( seed=1; while true; do
    "$bin/chunkcache" bench --server "$grpc" --datastore bench --snapshot $small_snap \
      --archive drive-scsi0.img.fidx --request-size 64KiB --concurrency 4 --pattern random \
      --duration 2s --seed $seed --json >/dev/null || true
    seed=$((seed + 1)); sleep 3
  done ) &
pids+=($!)
t0=$(date +%s)
echo "# seconds RssAnon_KiB VmRSS_KiB cached_MiB"
while [ $(($(date +%s) - t0)) -lt "$seconds" ]; do
  echo "$(($(date +%s) - t0)) $(status_kib "$pid" RssAnon) $(status_kib "$pid" VmRSS) $(cache_bytes)"
  sleep 5
done | tee "$work/soak.samples"
awk '!/^#/ && $1 >= 60 { n++; x += $1; y += $2; xx += $1 * $1; xy += $1 * $2; if (!min || $2 < min) min = $2; if ($2 > max) max = $2 }
  END { slope = (n * xy - x * y) / (n * xx - x * x);
        printf "\nRssAnon from 60 s on: %d samples, min %.1f MiB, max %.1f MiB, slope %.1f KiB/min\n",
          n, min / 1024, max / 1024, slope * 60 }' "$work/soak.samples"
curl -s "http://$metrics/metrics" | grep -E '^chunkcache_(chunk_lookups_total|upstream_fetches_total|evictions_total)' | grep -v ' 0$'
