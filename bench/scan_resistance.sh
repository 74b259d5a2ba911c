#!/usr/bin/env bash
# Scan resistance under load, at the service: 8 random readers (`chunkcache bench`, 64 KiB
# ReadRange calls at random offsets, so each touches one chunk) read a GUEST archive whose
# chunks fit in the cache, first alone and then while whole-image StreamRange restores of a
# BACKUP archive four times the cache size run next to them, back to back. The two archives are
# in two datastores, so the random readers' misses are the upstream fetches labelled
# datastore="guest" (chunkcache_upstream_fetches_total), and their hit ratio is
# 1 - those fetches / their requests. Both phases start from the same warm state.
#
#   bench/scan_resistance.sh [SECONDS]     (default 20 per phase; BIN_DIR defaults to build/bin)
#   CACHE=256MiB POLICY=switch bench/scan_resistance.sh
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-20}
bin=${BIN_DIR:-build/bin}
cache=${CACHE:-256MiB}
policy=${POLICY:-}
work=${WORK:-$(mktemp -d /var/tmp/scan_resistance.XXXXXX)}
mkdir -p "$work"
server_pid=
restorer=
cleanup() {
  [ -n "$restorer" ] && kill "$restorer" 2>/dev/null
  [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null
  wait 2>/dev/null || true
}
trap cleanup EXIT

guest_snap=vm/500/2026-01-01T00:00:00Z
backup_snap=vm/501/2026-01-01T00:00:00Z
if [ ! -e "$work/.made" ]; then
  # 160 chunks of 1 MiB: 62 % of a 256 MiB cache.
  "$bin/bench_datastore" --path "$work/guest" --snapshot $guest_snap --archive drive-scsi0.img.fidx \
    --size $((160 << 20)) --chunk-size $((1 << 20)) --seed 500 >&2
  "$bin/bench_datastore" --path "$work/backup" --snapshot $backup_snap \
    --archive drive-scsi0.img.fidx --size $((1024 << 20)) --chunk-size $((4 << 20)) --seed 501 >&2
  touch "$work/.made"
fi

rm -rf "$work/cache" "$work/ports"
"$bin/throttled_server" --listen 127.0.0.1:0 --metrics-listen 127.0.0.1:0 \
  --datastore "guest=$work/guest" --datastore "backup=$work/backup" --cache-dir "$work/cache" \
  --cache-bytes "$cache" ${policy:+--policy "$policy"} --port-file "$work/ports" --log-level warn \
  --upstream-latency-ms "${LATENCY_MS:-2}" 2>"$work/server.log" &
server_pid=$!
for _ in $(seq 300); do [ -s "$work/ports" ] && break; sleep 0.1; done
grpc=127.0.0.1:$(sed -n 's/^grpc_port=//p' "$work/ports")
metrics=127.0.0.1:$(sed -n 's/^metrics_port=//p' "$work/ports")

guest_fetches() {
  curl -s "http://$metrics/metrics" |
    awk '/^chunkcache_upstream_fetches_total\{/ && /datastore="guest"/ { s += $2 } END { print s + 0 }'
}
# random_readers SECONDS SEED -> requests_ok
random_readers() {
  "$bin/chunkcache" bench --server "$grpc" --datastore guest --snapshot $guest_snap \
    --archive drive-scsi0.img.fidx --request-size 64KiB --concurrency 8 --pattern random \
    --duration "${1}s" --seed "$2" --json |
    /usr/bin/python3 -c 'import json, sys; r = json.load(sys.stdin); print(r["requests_ok"], r["requests_failed"])'
}
restore_loop() {
  while true; do
    "$bin/chunkcache" restore --server "$grpc" --datastore backup --snapshot $backup_snap \
      --archive drive-scsi0.img.fidx --stream --out - --no-progress >/dev/null || true
    echo restored >>"$work/restores"
  done
}

# Warm: every guest chunk read once, then a random phase to let the policy see the pattern.
"$bin/chunkcache" restore --server "$grpc" --datastore guest --snapshot $guest_snap \
  --archive drive-scsi0.img.fidx --out - --no-progress >/dev/null
random_readers 5 1 >/dev/null

f0=$(guest_fetches)
read -r alone_requests alone_failed <<<"$(random_readers "$seconds" 2)"
f1=$(guest_fetches)

rm -f "$work/restores"
restore_loop &
restorer=$!
sleep 1
read -r loaded_requests loaded_failed <<<"$(random_readers "$seconds" 3)"
f2=$(guest_fetches)
kill "$restorer"; wait "$restorer" 2>/dev/null || true; restorer=
restores=$(wc -l <"$work/restores" 2>/dev/null || echo 0)
backup_bytes=$(curl -s "http://$metrics/metrics" |
  awk '/^chunkcache_upstream_bytes_total\{/ && /datastore="backup"/ { s += $2 } END { printf "%.0f", s / 1048576 }')

awk -v ra="$alone_requests" -v fa=$((f1 - f0)) -v rb="$loaded_requests" -v fb=$((f2 - f1)) \
  -v restores="$restores" -v mib="$backup_bytes" -v cache="$cache" -v policy="${policy:-default}" \
  -v ea="$alone_failed" -v eb="$loaded_failed" 'BEGIN {
  ha = 1 - fa / ra; hb = 1 - fb / rb;
  printf "| %s | %s | %d | %d | %.4f | %d | %d | %.4f | %d (%d MiB fetched) | %+.2f %% |%s\n",
    cache, policy, ra, fa, ha, rb, fb, hb, restores, mib, 100 * (hb - ha) / ha,
    (ea + eb > 0 ? " failed: " ea "/" eb : "") }'
