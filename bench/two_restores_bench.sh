#!/usr/bin/env bash
# Two restores of one archive through a cache of half its size, the second started when the
# first is a quarter through (issue 14's live target): how many chunks does the second fetch
# upstream, with each policy? A real service (throttled_server: chunkcached with LATENCY_MS per
# upstream fetch and a BANDWIDTH cap) serves a SIZE_MIB archive of distinct 4 MiB chunks; each
# restore is `chunkcache restore --out -` into a sink that writes at RATE (a restore target
# disk), so both restores move at the same speed and the distance between them stays a quarter
# of the archive. The second restore starts once the service has returned a quarter of the
# archive (chunkcache_read_bytes_total). The first restore fetches every chunk once; the
# second's fetches are the total upstream fetches (chunkcache_upstream_fetches_total) minus the
# archive's distinct chunks. Both restores' SHA-256 must match.
#
#   bench/two_restores_bench.sh [POLICY...]        (default: index switch; BIN_DIR: build/bin)
#   SIZE_MIB=832 RATE_MIB=96 LATENCY_MS=20 BANDWIDTH=512MiB bench/two_restores_bench.sh index
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${BIN_DIR:-build/bin}
size_mib=${SIZE_MIB:-832}
rate_mib=${RATE_MIB:-96}
latency_ms=${LATENCY_MS:-20}
bandwidth=${BANDWIDTH:-512MiB}
policies=("$@")
[ ${#policies[@]} -eq 0 ] && policies=(index switch)
work=${WORK:-$(mktemp -d /var/tmp/two_restores.XXXXXX)}
mkdir -p "$work"
server_pid=
cleanup() {
  [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null
  wait 2>/dev/null || true
}
trap cleanup EXIT

snap=vm/700/2026-01-01T00:00:00Z
archive=drive-scsi0.img.fidx
if [ ! -e "$work/.made" ]; then
  "$bin/bench_datastore" --path "$work/store" --snapshot $snap --archive $archive \
    --size $((size_mib << 20)) --chunk-size $((4 << 20)) --seed 700 >&2
  touch "$work/.made"
fi
cache_mib=$((size_mib / 2))

# A restore target that takes RATE_MIB MiB/s; prints the SHA-256 of what it took.
sink() {
  /usr/bin/python3 -c '
import hashlib, sys, time
rate = float(sys.argv[1]) * 1048576
h = hashlib.sha256(); total = 0; start = time.monotonic()
while True:
    block = sys.stdin.buffer.read(1 << 20)
    if not block:
        break
    h.update(block); total += len(block)
    ahead = total / rate - (time.monotonic() - start)
    if ahead > 0:
        time.sleep(ahead)
print(h.hexdigest())' "$rate_mib"
}

metric() {  # metric NAME FILTER -> sum of the matching samples
  curl -s "http://$metrics/metrics" |
    awk -v name="$1" -v filter="$2" '$1 ~ "^" name "([{]|$)" && $1 ~ filter { s += $2 } END { printf "%.0f", s }'
}

echo "| policy | archive | cache | chunks (distinct) | upstream fetches, both restores | second restore's fetches | of the archive's chunks | target <= 10 % | restore times (s) |"
echo "|---|---|---|---|---|---|---|---|---|"
for policy in "${policies[@]}"; do
  rm -rf "$work/cache" "$work/ports"
  "$bin/throttled_server" --listen 127.0.0.1:0 --metrics-listen 127.0.0.1:0 \
    --datastore "store=$work/store" --cache-dir "$work/cache" --cache-bytes "${cache_mib}MiB" \
    --policy "$policy" --port-file "$work/ports" --log-level warn \
    --upstream-latency-ms "$latency_ms" --upstream-bandwidth "$bandwidth" 2>"$work/server-$policy.log" &
  server_pid=$!
  for _ in $(seq 300); do [ -s "$work/ports" ] && break; sleep 0.1; done
  grpc=127.0.0.1:$(sed -n 's/^grpc_port=//p' "$work/ports")
  metrics=127.0.0.1:$(sed -n 's/^metrics_port=//p' "$work/ports")
  distinct=$("$bin/chunkcache" stat --server "$grpc" --datastore store --snapshot $snap \
    --archive $archive --json | /usr/bin/python3 -c 'import json, sys; print(json.load(sys.stdin)["distinct_chunks"])')
  chunks=$((size_mib / 4))

  restore() {  # restore NAME: SHA-256 into $work/NAME.sha, seconds into $work/NAME.time
    local start=$SECONDS
    "$bin/chunkcache" restore --server "$grpc" --datastore store --snapshot $snap --archive $archive \
      --out - --no-progress | sink >"$work/$1.sha"
    echo $((SECONDS - start)) >"$work/$1.time"
  }
  restore first &
  first=$!
  quarter=$(((size_mib << 20) / 4))
  while [ "$(metric chunkcache_read_bytes_total '')" -lt "$quarter" ]; do sleep 0.05; done
  restore second &
  second=$!
  wait "$first" "$second"
  fetches=$(metric chunkcache_upstream_fetches_total 'result="ok"')
  second_fetches=$((fetches - distinct))
  if ! cmp -s "$work/first.sha" "$work/second.sha"; then
    echo "the two restores differ: $(cat "$work/first.sha") $(cat "$work/second.sha")" >&2
    exit 1
  fi
  awk -v p="$policy" -v size="$size_mib" -v cache="$cache_mib" -v chunks="$chunks" \
    -v distinct="$distinct" -v f="$fetches" -v s="$second_fetches" \
    -v t1="$(cat "$work/first.time")" -v t2="$(cat "$work/second.time")" 'BEGIN {
    pct = 100 * s / distinct;
    printf "| %s | %d MiB | %d MiB | %d (%d) | %d | %d | %.1f %% | %s | %d, %d |\n",
      p, size, cache, chunks, distinct, f, s, pct, (pct <= 10 ? "met" : "not met"), t1, t2 }'
  kill "$server_pid"; wait "$server_pid" 2>/dev/null || true; server_pid=
done
