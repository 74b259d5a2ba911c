#!/usr/bin/env bash
# Hit-path throughput of chunkcached next to noop_server (the same RPC shape answered from a
# static buffer), measured in one run with `chunkcache bench`: 4 MiB and 64 KiB random
# ReadRange hits at concurrency 1, 8 and 32. Prints a markdown table for bench/RESULTS.md.
#
#   bench/service_hits.sh [SECONDS_PER_CELL]     (default 5; BIN_DIR defaults to build/bin)
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-5}
bin=${BIN_DIR:-build/bin}
work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

# A 64 MiB archive of random bytes (16 chunks), fully cached before measuring.
head -c $((64 << 20)) /dev/urandom >"$work/image"
snap=vm/200/2026-01-01T00:00:00Z
"$bin/chunkcache" datastore create --path "$work/ds" --snapshot $snap \
  --archive drive-scsi0.img.fidx --image "$work/image" >/dev/null

wait_port() { for _ in $(seq 100); do [ -s "$1" ] && break; sleep 0.1; done; sed -n 's/^grpc_port=//p' "$1"; }

"$bin/chunkcached" --listen 127.0.0.1:0 --metrics-listen none --datastore "bench=$work/ds" \
  --cache-dir "$work/cache" --cache-bytes 256MiB --port-file "$work/cc.ports" \
  --log-level warn 2>"$work/chunkcached.log" &
pids+=($!)
"$bin/noop_server" --listen 127.0.0.1:0 --port-file "$work/noop.ports" --size $((64 << 20)) \
  2>/dev/null &
pids+=($!)
cc=127.0.0.1:$(wait_port "$work/cc.ports")
noop=127.0.0.1:$(wait_port "$work/noop.ports")
"$bin/chunkcache" restore --server "$cc" --datastore bench --snapshot $snap \
  --archive drive-scsi0.img.fidx --out "$work/warm" >/dev/null   # every chunk now cached
rm -f "$work/warm"

# run SERVER SIZE CONCURRENCY -> "rps p50_ms p99_ms failed"
run() {
  "$bin/chunkcache" bench --server "$1" --datastore bench --snapshot $snap \
    --archive drive-scsi0.img.fidx --request-size "$2" --concurrency "$3" --pattern random \
    --duration "${seconds}s" --json |
    /usr/bin/python3 -c 'import json, sys; r = json.load(sys.stdin); l = r["latency_ms"]
print(r["rps"], l["p50"], l["p99"], r["requests_failed"])'
}

echo "| request | concurrency | chunkcached req/s | noop req/s | ratio | chunkcached p50 / p99 ms | noop p50 / p99 ms |"
echo "|---|---|---|---|---|---|---|"
for size in 4MiB 64KiB; do
  for c in 1 8 32; do
    read -r crps cp50 cp99 cerr <<<"$(run "$cc" $size $c)"
    read -r nrps np50 np99 nerr <<<"$(run "$noop" $size $c)"
    awk -v s=$size -v c=$c -v a="$crps" -v b="$nrps" -v cp50="$cp50" -v cp99="$cp99" \
      -v np50="$np50" -v np99="$np99" -v ce="$cerr" -v ne="$nerr" 'BEGIN {
      printf "| %s | %d | %.0f | %.0f | %.2f | %.2f / %.2f | %.2f / %.2f |%s\n", s, c, a, b, a / b,
        cp50, cp99, np50, np99, (ce + ne > 0 ? " errors: " ce "/" ne : "") }'
  done
done
