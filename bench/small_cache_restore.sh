#!/usr/bin/env bash
# A lone whole-archive StreamRange restore through a cache smaller than the archive: does every
# chunk cross the link once? A 1 GiB archive of 4 MiB chunks, a 256 MiB cache, 2 ms per
# upstream call (the backup datastore of bench/scan_resistance.sh, without the random readers).
# Prints the restore's SHA-256 prefix, the fetch, prefetch and lookup counters from /metrics
# and the restore's seconds.
#
#   bench/small_cache_restore.sh [POLICY]      # POLICY: a --policy name (default: the default)
#
# BIN_DIR defaults to build/bin; WORK to a fresh dir in /var/tmp (the datastore is reused).
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${BIN_DIR:-build/bin}
work=${WORK:-$(mktemp -d /var/tmp/small_cache_restore.XXXXXX)}
policy=${1:-}
mkdir -p "$work"
snap=vm/501/2026-01-01T00:00:00Z
if [ ! -e "$work/.made" ]; then
  "$bin/bench_datastore" --path "$work/backup" --snapshot $snap --archive drive-scsi0.img.fidx \
    --size $((1024 << 20)) --chunk-size $((4 << 20)) --seed 501 >&2
  touch "$work/.made"
fi
rm -rf "$work/cache" "$work/ports"
"$bin/throttled_server" --listen 127.0.0.1:0 --metrics-listen 127.0.0.1:0 \
  --datastore "backup=$work/backup" --cache-dir "$work/cache" --cache-bytes 256MiB \
  ${policy:+--policy "$policy"} --port-file "$work/ports" --log-level warn \
  --upstream-latency-ms 2 2>"$work/server.log" &
pid=$!
trap 'kill $pid 2>/dev/null; wait 2>/dev/null || true' EXIT
for _ in $(seq 300); do [ -s "$work/ports" ] && break; sleep 0.1; done
grpc=127.0.0.1:$(sed -n 's/^grpc_port=//p' "$work/ports")
metrics=127.0.0.1:$(sed -n 's/^metrics_port=//p' "$work/ports")
t0=$(date +%s.%N)
"$bin/chunkcache" restore --server "$grpc" --datastore backup --snapshot $snap \
  --archive drive-scsi0.img.fidx --stream --out - --no-progress | sha256sum | cut -c1-16
t1=$(date +%s.%N)
curl -s "http://$metrics/metrics" |
  grep -E '^chunkcache_(upstream_fetches_total|prefetch_chunks_total|chunk_lookups_total)'
awk -v a="$t0" -v b="$t1" 'BEGIN { printf "seconds %.2f\n", b - a }'
