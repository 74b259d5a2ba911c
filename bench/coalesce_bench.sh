#!/usr/bin/env bash
# Miss coalescing at the service: CLIENTS concurrent ReadRange calls for one cold chunk must
# cause exactly one upstream fetch. throttled_server holds every upstream call for LATENCY_MS
# (default 2000), so all the calls arrive while the one fetch is running; `chunkcache bench`
# sends them (one thread each, 4 KiB at random offsets inside the archive's only chunk) and the
# counts come from the server's /metrics.
#
#   bench/coalesce_bench.sh [CLIENTS]     (default 64; BIN_DIR defaults to build/bin)
set -euo pipefail
cd "$(dirname "$0")/.."
clients=${1:-64}
bin=${BIN_DIR:-build/bin}
latency_ms=${LATENCY_MS:-2000}
work=$(mktemp -d /var/tmp/coalesce_bench.XXXXXX)
server_pid=
cleanup() { [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null; wait 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

snap=vm/400/2026-01-01T00:00:00Z
# One 4 MiB chunk: readahead has nothing else to fetch.
"$bin/bench_datastore" --path "$work/store" --snapshot $snap --archive drive-scsi0.img.fidx \
  --size $((4 << 20)) --chunk-size $((4 << 20)) --seed 400 >/dev/null
"$bin/throttled_server" --listen 127.0.0.1:0 --metrics-listen 127.0.0.1:0 \
  --datastore "bench=$work/store" --cache-dir "$work/cache" --cache-bytes 256MiB \
  --port-file "$work/ports" --log-level warn --upstream-latency-ms "$latency_ms" \
  2>"$work/server.log" &
server_pid=$!
for _ in $(seq 300); do [ -s "$work/ports" ] && break; sleep 0.1; done
grpc=127.0.0.1:$(sed -n 's/^grpc_port=//p' "$work/ports")
metrics=127.0.0.1:$(sed -n 's/^metrics_port=//p' "$work/ports")
scrape() { curl -s "http://$metrics/metrics" | grep -E "^chunkcache_($1)" || true; }

# Opens the session (manifest and index: two upstream calls, not chunk fetches).
"$bin/chunkcache" stat --server "$grpc" --datastore bench --snapshot $snap \
  --archive drive-scsi0.img.fidx >/dev/null
echo "before: $(scrape 'upstream_fetches_total|chunk_lookups_total' | tr '\n' ' ')"
"$bin/chunkcache" bench --server "$grpc" --datastore bench --snapshot $snap \
  --archive drive-scsi0.img.fidx --request-size 4KiB --concurrency "$clients" \
  --requests "$clients" --pattern random --duration 60s --json |
  /usr/bin/python3 -c 'import json, sys; r = json.load(sys.stdin)
print("client: requests_ok=%d requests_failed=%d p50_ms=%.0f max_ms=%.0f" % (r["requests_ok"],
      r["requests_failed"], r["latency_ms"]["p50"], r["latency_ms"].get("max", 0)))'
echo "after:"
scrape 'upstream_fetches_total|chunk_lookups_total'
