#!/usr/bin/env bash
# The NBD export against the restore tools, on an archive of SIZE bytes of
# distinct 4 MiB chunks, in one run:
#   warm   qemu-img convert and nbdcopy of the archive from chunkcached with every chunk cached,
#          against nbdkit's file plugin serving the raw image from the page cache; best of RUNS
#          each, output to a file in /dev/shm. Target: chunkcached >= 0.9 x nbdkit.
#   cold   the same tools through throttled_server (LATENCY_MS per upstream fetch, BANDWIDTH
#          cap), a fresh cache each: throughput as a share of the cap. Target: >= 90 %.
#   live   the live-restore shape (bench/nbd_live_restore.py), cold, a fresh cache each, on a
#          second archive of LIVE_SIZE bytes: LIVE_READS random 4 KiB reads of distinct chunks,
#          alone, then while a sequential 512 KiB copy runs on another connection. Target: the
#          random reader's p99 with the copy <= 2 x alone. Then the same with the readahead
#          yield configured otherwise, for comparison: the live-restore setting (no prefetch while
#          the guest waits, a window of one fetch time after its fetch), no prefetch but no window,
#          and readahead that does not yield (cache.max_readahead_fetches_under_demand = the
#          fetch workers, 16).
# Prints a markdown table.
#
#   bench/nbd_bench.sh     (needs qemu-img, nbdcopy, nbdkit, python3-libnbd; BIN_DIR defaults to build/bin; WORK to a fresh dir in /var/tmp)
#   SIZE=268435456 LIVE_SIZE=268435456 RUNS=1 LIVE_READS=50 bench/nbd_bench.sh
#   LIVE_ONLY=1 bench/nbd_bench.sh      (only the live-restore rows)
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${BIN_DIR:-build/bin}
size=${SIZE:-1073741824}
latency_ms=${LATENCY_MS:-20}
bandwidth=${BANDWIDTH:-128MiB}
runs=${RUNS:-3}
live_reads=${LIVE_READS:-300}
live_size=${LIVE_SIZE:-2147483648}
work=${WORK:-$(mktemp -d /var/tmp/nbd_bench.XXXXXX)}
out=/dev/shm/nbd_bench.$$.raw
mkdir -p "$work"
server_pid=
nbdkit_pid=
cleanup() {
  [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null
  [ -n "$nbdkit_pid" ] && kill "$nbdkit_pid" 2>/dev/null
  rm -f "$out"
  wait 2>/dev/null || true
}
trap cleanup EXIT

snap=vm/400/2026-01-01T00:00:00Z
live_snap=vm/401/2026-01-01T00:00:00Z
archive=drive-scsi0.img.fidx
if [ ! -e "$work/store/.made" ]; then
  "$bin/bench_datastore" --path "$work/store" --snapshot $snap --archive $archive \
    --size "$size" --chunk-size $((4 << 20)) --seed 400 >&2
  "$bin/bench_datastore" --path "$work/store" --snapshot $live_snap --archive $archive \
    --size "$live_size" --chunk-size $((4 << 20)) --seed 401 >&2
  "$bin/chunkcache" datastore cat --path "$work/store" --snapshot $snap --archive $archive \
    >"$work/image.raw"
  touch "$work/store/.made"
fi
bw_bytes=$(numfmt --from=iec-i "${bandwidth%B}")

wait_ports() { for _ in $(seq 300); do grep -q nbd_port "$1" 2>/dev/null && return 0; sleep 0.1; done; return 1; }

# start_server NAME THROTTLED_SERVER_FLAGS... ; sets server_pid and uri (the export)
start_server() {
  local name=$1; shift
  rm -rf "$work/cache-$name" "$work/$name.ports"
  "$bin/throttled_server" --listen 127.0.0.1:0 --metrics-listen 127.0.0.1:0 \
    --nbd-listen 127.0.0.1:0 --datastore "bench=$work/store" --cache-dir "$work/cache-$name" \
    --cache-bytes $((size + (512 << 20))) --port-file "$work/$name.ports" "$@" \
    2>"$work/$name.log" &
  server_pid=$!
  wait_ports "$work/$name.ports"
  uri=nbd://127.0.0.1:$(sed -n 's/^nbd_port=//p' "$work/$name.ports")/bench/$snap/$archive
  live_uri=${uri/$snap/$live_snap}
}
stop_server() { kill "$server_pid"; wait "$server_pid" 2>/dev/null || true; server_pid=; }

# seconds TOOL URI: one copy of URI to $out
seconds() {
  local tool=$1 source=$2 t0 t1
  rm -f "$out"
  t0=$(date +%s.%N)
  case $tool in
    qemu-img) qemu-img convert -O raw "$source" "$out" ;;
    nbdcopy) nbdcopy "$source" "$out" ;;
  esac
  t1=$(date +%s.%N)
  cmp -s "$out" "$work/image.raw" || { echo "$tool $source: wrong bytes" >&2; exit 1; }
  rm -f "$out"
  awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }'
}
min() { printf '%s\n' "$@" | sort -g | head -1; }
mibps() { awk -v s="$size" -v t="$1" 'BEGIN { printf "%.0f", s / t / 1048576 }'; }

echo "| case | chunkcached | reference | ratio | target |"
echo "|---|---|---|---|---|"

if [ -z "${LIVE_ONLY:-}" ]; then
  # Warm.
  start_server warm
  nbdcopy "$uri" null:  # every chunk into the cache
  cat "$work/image.raw" >/dev/null
  nbdkit_port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  nbdkit --foreground --readonly --ipaddr=127.0.0.1 --port="$nbdkit_port" file "$work/image.raw" &
  nbdkit_pid=$!
  for _ in $(seq 100); do nbdinfo --size "nbd://127.0.0.1:$nbdkit_port" >/dev/null 2>&1 && break; sleep 0.1; done
  for tool in qemu-img nbdcopy; do
    ours=() theirs=()
    for _ in $(seq "$runs"); do
      ours+=("$(seconds $tool "$uri")")
      theirs+=("$(seconds $tool "nbd://127.0.0.1:$nbdkit_port")")
    done
    o=$(min "${ours[@]}") t=$(min "${theirs[@]}")
    echo "| warm $tool, best of $runs | $(mibps "$o") MiB/s (${o} s) | nbdkit file: $(mibps "$t") MiB/s (${t} s) | $(awk -v o="$o" -v t="$t" 'BEGIN { printf "%.2f", t / o }') | >= 0.9 |"
  done
  kill "$nbdkit_pid"; wait "$nbdkit_pid" 2>/dev/null || true; nbdkit_pid=
  stop_server

  # Cold.
  for tool in qemu-img nbdcopy; do
    start_server "cold-$tool" --upstream-latency-ms "$latency_ms" --upstream-bandwidth "$bandwidth"
    s=$(seconds $tool "$uri")
    stop_server
    echo "| cold $tool, ${latency_ms} ms + ${bandwidth}/s link | $(mibps "$s") MiB/s (${s} s) | cap $(numfmt --to=iec-i "$bw_bytes")B/s | $(awk -v s="$size" -v t="$s" -v b="$bw_bytes" 'BEGIN { printf "%.0f %%", 100 * s / t / b }') of the cap | >= 90 % |"
  done
fi

# Live-restore shape.
# live NAME [--with-copy]: prints nbd_live_restore.py's JSON for a fresh server started with
# $live_config (a config file, or none).
live() {
  local name=$1; shift
  start_server "live-$name" --upstream-latency-ms "$latency_ms" --upstream-bandwidth "$bandwidth" \
    ${live_config:+--config "$live_config"}
  /usr/bin/python3 bench/nbd_live_restore.py --uri "$live_uri" --reads "$live_reads" "$@"
  stop_server
}
live_config= alone=$(live alone)
live_config= both=$(live copy --with-copy)
echo '{"cache": {"max_readahead_fetches_under_demand": 0, "readahead_yield_window_fetch_times": 1}}' \
  >"$work/live-setting.json"
live_config=$work/live-setting.json live_setting=$(live live-setting --with-copy)
echo '{"cache": {"max_readahead_fetches_under_demand": 0, "readahead_yield_window_fetch_times": 0}}' \
  >"$work/no-window.json"
live_config=$work/no-window.json no_window=$(live no-window --with-copy)
echo '{"cache": {"max_readahead_fetches_under_demand": 16}}' >"$work/no-yield.json"
live_config=$work/no-yield.json unyielding=$(live no-yield --with-copy)
field() { python3 -c 'import json, sys; print("%.1f" % json.loads(sys.argv[1])[sys.argv[2]])' "$1" "$2"; }
ratio() { python3 -c 'import json, sys; print("%.2f" % (json.loads(sys.argv[1])["p99_ms"] / json.loads(sys.argv[2])["p99_ms"]))' "$1" "$2"; }
lat() { echo "p99 $(field "$1" p99_ms) ms (p50 $(field "$1" p50_ms), max $(field "$1" max_ms))"; }
echo "| live restore: ${live_reads} random 4 KiB reads, cold; default (1 prefetch while the guest waits, no window) | with a 512 KiB copy ($(field "$both" copy_MiBps) MiB/s): $(lat "$both") | alone: $(lat "$alone") | $(ratio "$both" "$alone") x | <= 2 x |"
echo "| the same, the live-restore setting (no prefetch while the guest waits, window 1 fetch time) | with the copy ($(field "$live_setting" copy_MiBps) MiB/s): $(lat "$live_setting") | alone: as above | $(ratio "$live_setting" "$alone") x | <= 2 x |"
echo "| the same, no prefetch while the guest waits, no window | with the copy ($(field "$no_window" copy_MiBps) MiB/s): $(lat "$no_window") | alone: as above | $(ratio "$no_window" "$alone") x | — |"
echo "| the same, readahead not yielding (max_readahead_fetches_under_demand 16) | with the copy ($(field "$unyielding" copy_MiBps) MiB/s): $(lat "$unyielding") | alone: as above | $(ratio "$unyielding" "$alone") x | — |"
