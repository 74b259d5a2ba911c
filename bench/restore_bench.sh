#!/usr/bin/env bash
# Cold sequential restore through a slow link: `chunkcache restore` of a whole archive from
# throttled_server (chunkcached with a FaultyUpstream adding LATENCY_MS per upstream call and a
# shared bandwidth cap BANDWIDTH), each run against a fresh (cold) cache, in one run:
#   serial     max_concurrent_fetches 1, readahead off, one ReadRange of one chunk in flight
#   readahead  the service's defaults; the client still keeps one chunk-sized ReadRange in flight,
#              so only the server's adaptive readahead overlaps the fetches
#   default    the service's and the client's defaults (8 ReadRange calls of 4 MiB in flight)
#   stream     the service's defaults, one StreamRange call
# for an archive of CHUNK-byte chunks and for one of 4 MiB chunks (what PBS writes for images).
# Prints a markdown table (throughput, ratio to serial, share of the cap, the model's serial
# rate C/(L + C/B) and ceiling min(B, 16 C/(L + C/B)), and the same restore again once everything
# is cached: what the client, gRPC and this machine's CPU allow without the link), then the
# readahead window over time (server log) and the upstream fetches sampled from /metrics during
# the "readahead" restore.
#
#   bench/restore_bench.sh     (BIN_DIR defaults to build/bin; WORK to a fresh dir in /var/tmp)
#   LATENCY_MS=20 BANDWIDTH=64MiB CHUNK=131072 SIZE=268435456 bench/restore_bench.sh
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${BIN_DIR:-build/bin}
latency_ms=${LATENCY_MS:-20}
bandwidth=${BANDWIDTH:-64MiB}
chunk=${CHUNK:-131072}
size=${SIZE:-268435456}
big_size=${BIG_SIZE:-$size}
work=${WORK:-$(mktemp -d /var/tmp/restore_bench.XXXXXX)}
mkdir -p "$work"
server_pid=
cleanup() { [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null; wait 2>/dev/null || true; }
trap cleanup EXIT

snap_small=vm/300/2026-01-01T00:00:00Z
snap_big=vm/301/2026-01-01T00:00:00Z
if [ ! -e "$work/store/.made" ]; then
  "$bin/bench_datastore" --path "$work/store" --snapshot $snap_small \
    --archive drive-scsi0.img.fidx --size "$size" --chunk-size "$chunk" --seed 300 >&2
  "$bin/bench_datastore" --path "$work/store" --snapshot $snap_big \
    --archive drive-scsi0.img.fidx --size "$big_size" --chunk-size $((4 << 20)) --seed 301 >&2
  touch "$work/store/.made"
fi
bw_bytes=$(numfmt --from=iec-i "${bandwidth%B}")

wait_ports() { for _ in $(seq 300); do [ -s "$1" ] && return 0; sleep 0.1; done; return 1; }

# start_server NAME EXTRA_FLAGS... ; sets server_pid, grpc, metrics
start_server() {
  local name=$1; shift
  rm -rf "$work/cache-$name" "$work/$name.ports"
  "$bin/throttled_server" --listen 127.0.0.1:0 --metrics-listen 127.0.0.1:0 \
    --datastore "bench=$work/store" --cache-dir "$work/cache-$name" --cache-bytes 2GiB \
    --port-file "$work/$name.ports" --log-level debug \
    --upstream-latency-ms "$latency_ms" --upstream-bandwidth "$bandwidth" "$@" \
    2>"$work/$name.log" &
  server_pid=$!
  wait_ports "$work/$name.ports"
  grpc=127.0.0.1:$(sed -n 's/^grpc_port=//p' "$work/$name.ports")
  metrics=127.0.0.1:$(sed -n 's/^metrics_port=//p' "$work/$name.ports")
}
stop_server() { kill "$server_pid"; wait "$server_pid" 2>/dev/null || true; server_pid=; }

fetches() {
  curl -s "http://$metrics/metrics" |
    awk '/^chunkcache_upstream_fetches_total\{/ && /result="ok"/ { s += $2 } END { print s + 0 }'
}

# restore NAME SNAP CLIENT_FLAGS... -> seconds
restore() {
  local name=$1 snap=$2; shift 2
  local t0 t1
  t0=$(date +%s.%N)
  "$bin/chunkcache" restore --server "$grpc" --datastore bench --snapshot "$snap" \
    --archive drive-scsi0.img.fidx --out - --no-progress "$@" >/dev/null
  t1=$(date +%s.%N)
  awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }'
}

# sample_fetches FILE: every 0.25 s, "seconds fetches" until killed
sample_fetches() {
  local t0; t0=$(date +%s.%N)
  while true; do
    echo "$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.2f", b - a }') $(fetches)"
    sleep 0.25
  done >"$1"
}

declare -A seconds warm
for case_name in small big; do
  if [ $case_name = small ]; then snap=$snap_small; c=$chunk; s=$size; else snap=$snap_big; c=$((4 << 20)); s=$big_size; fi
  # A tiny restore first opens the session (manifest and index), outside the timed part.
  for mode in serial readahead default stream; do
    case $mode in
      serial) start_server "$case_name-$mode" --max-concurrent-fetches 1 --no-readahead
              flags=(--in-flight 1 --request-size "$c") ;;
      readahead) start_server "$case_name-$mode"; flags=(--in-flight 1 --request-size "$c") ;;
      default) start_server "$case_name-$mode"; flags=() ;;
      stream) start_server "$case_name-$mode"; flags=(--stream) ;;
    esac
    "$bin/chunkcache" stat --server "$grpc" --datastore bench --snapshot "$snap" \
      --archive drive-scsi0.img.fidx >/dev/null
    before=$(fetches)
    if [ $mode = readahead ]; then
      sample_fetches "$work/$case_name-$mode.fetches" &
      sampler=$!
    fi
    seconds[$case_name-$mode]=$(restore "$case_name-$mode" "$snap" "${flags[@]}")
    if [ $mode = readahead ]; then kill $sampler; wait $sampler 2>/dev/null || true; fi
    after=$(fetches)
    warm[$case_name-$mode]=$(restore "$case_name-$mode" "$snap" "${flags[@]}")
    echo "$case_name $mode: ${seconds[$case_name-$mode]} s, $((after - before)) upstream fetches; warm ${warm[$case_name-$mode]} s" >&2
    stop_server
  done
done

echo "Upstream: ${latency_ms} ms per call, cap ${bandwidth}/s; chunkcached defaults: 16 fetch workers, readahead window 2 → 16 chunks."
echo
echo "| chunk size | archive | mode | seconds | MiB/s | ÷ serial | % of cap | model serial MiB/s | model ceiling MiB/s | warm MiB/s |"
echo "|---|---|---|---|---|---|---|---|---|---|"
for case_name in small big; do
  if [ $case_name = small ]; then c=$chunk; s=$size; else c=$((4 << 20)); s=$big_size; fi
  for mode in serial readahead default stream; do
    awk -v c="$c" -v s="$s" -v t="${seconds[$case_name-$mode]}" -v base="${seconds[$case_name-serial]}" \
      -v L="$latency_ms" -v B="$bw_bytes" -v mode=$mode -v w="${warm[$case_name-$mode]}" 'BEGIN {
      mib = 1048576; rate = s / t / mib; serial = c / (L / 1000 + c / B) / mib;
      ceiling = 16 * serial; if (ceiling > B / mib) ceiling = B / mib;
      printf "| %d KiB | %d MiB | %s | %.2f | %.1f | %.2f | %.0f %% | %.1f | %.1f | %.0f |\n",
        c / 1024, s / mib, mode, t, rate, base / t, 100 * rate / (B / mib), serial, ceiling, s / w / mib }'
  done
done
echo
echo "Readahead window of the \"readahead\" restore (${chunk}-byte chunks), from the server log:"
echo
echo '```'
grep 'event=readahead_window' "$work/small-readahead.log" | sed 's/ level=debug//' | head -20
echo '```'
echo
echo "Upstream fetches (ok) during that restore, sampled from /metrics (seconds, fetches; one row in four):"
echo
echo '```'
awk 'NR % 4 == 1' "$work/small-readahead.fetches" | head -40 | tr '\n' ';' | sed 's/;/; /g'
echo
echo '```'
