#!/usr/bin/env bash
# Cold sequential restores through chunkcached reading a PBS server over the reader protocol
# (the test server, tests/pbs/pbs_test_server.py: real TLS, real HTTP/2), in one run:
#
#   link      CHUNK_LATENCY_MS per /chunk answer and a server-wide cap of CAP bytes/s
#   disk      the same plus STREAM_CAP bytes/s per response (a server whose per-chunk read, from
#             its disks or the storage behind it, is slower than its link)
#
# each with two readers, every run against a fresh (cold) cache:
#   pipelined  chunkcached's defaults (readahead up to 16 chunks, 16 fetch workers, 64 streams
#              per connection) and the client's (8 ReadRange calls of 4 MiB in flight)
#   one        one chunk in flight, as `proxmox-backup-client restore` reads: readahead off,
#              one fetch worker, max_streams 1, one 4 MiB ReadRange at a time
# and, when UNYIELDING=1, the pipelined reader again with readahead that never yields to random
# readers (cache.max_readahead_fetches_under_demand = 16, the fetch workers): the same restore
# before that bound existed, for comparison in the same run
#
# then, without latency or caps, the CPU seconds chunkcached spends per GB fetched (TLS, HTTP/2,
# decode, verify: utime + stime from /proc/PID/stat before and after the restore) against the
# same restore from the datastore directory (--datastore), RUNS times each, alternating, and
# reports the medians. Prints markdown tables.
#
#   bench/pbs_restore_bench.sh    (BIN_DIR defaults to build/bin; WORK to a fresh dir in /var/tmp)
#   SIZE=1073741824 CHUNK_LATENCY_MS=20 CAP=125000000 STREAM_CAP=12500000 RUNS=3 UNYIELDING=0 bench/pbs_restore_bench.sh
#   PARTS=cpu RUNS=5 bench/pbs_restore_bench.sh       # only the CPU comparison (PARTS=restore: only
#                                                     # the capped restores)
#   PERF=1 PARTS=cpu RUNS=1 bench/pbs_restore_bench.sh  # also records each CPU restore with
#                                                     # perf record $PERF_ARGS (default -g) of
#                                                     # chunkcached and the test server into
#                                                     # $WORK/cpu-*.perf.data
#   CACHE_CAPACITY=256MiB PARTS=cpu RUNS=5 bench/pbs_restore_bench.sh  # a cache smaller than the
#                                                     # image: most fills reuse arena pages
#                                                     # that evicted chunks left (see RESULTS.md)
#   TIMELINE=1 PARTS=restore RUNS=1 bench/pbs_restore_bench.sh  # also samples chunkcached's
#                                                     # upstream bytes every 50 ms during each
#                                                     # timed restore into $WORK/NAME.timeline
#                                                     # and prints where its time went
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${BIN_DIR:-build/bin}
size=${SIZE:-1073741824}
latency_ms=${CHUNK_LATENCY_MS:-20}
cap=${CAP:-125000000}                # 1 Gbit/s
stream_cap=${STREAM_CAP:-12500000}   # 100 Mbit/s per chunk response
runs=${RUNS:-3}
settle=${SETTLE_SECONDS:-5}         # idle time before each timed restore (see restore())
parts=${PARTS:-restore,cpu}
capacity=${CACHE_CAPACITY:-2GiB}   # chunkcached's cache; below SIZE, fills reuse evicted extents
work=${WORK:-$(mktemp -d /var/tmp/pbs_restore_bench.XXXXXX)}
mkdir -p "$work"
pbs_pid=
cc_pid=
cleanup() {
  [ -n "$cc_pid" ] && kill "$cc_pid" 2>/dev/null
  [ -n "$pbs_pid" ] && kill "$pbs_pid" 2>/dev/null
  wait 2>/dev/null || true
}
trap cleanup EXIT

source bench/pbs_bench_server.sh
make_bench_store
start_test_pbs_server  # for the whole run
set_faults() { curl -s -X POST -H 'Content-Type: application/json' -d "$1" "$control/faults" >/dev/null; }
reset_faults() { curl -s -X POST -d '{}' "$control/reset" >/dev/null; }
pbs_stat() { curl -s "$control/stats" | python3 -c "import json,sys; print(json.load(sys.stdin)['$1'])"; }

# start_chunkcached NAME pbs|dir [one]: a fresh cache; sets cc_pid and grpc
start_chunkcached() {
  local name=$1 source=$2 mode=${3:-}
  local fetches=16 streams=64 readahead=true yield=
  if [ "$mode" = one ]; then fetches=1 streams=1 readahead=false; fi
  # The others run with the service's default yield (cache.max_readahead_fetches_under_demand).
  if [ "$mode" = unyielding ]; then yield=', "maxReadaheadFetchesUnderDemand": 16'; fi
  local datastore
  if [ "$source" = pbs ]; then
    datastore=$(printf '{"name": "bench", "pbs": {"url": "%s", "datastore": "store1", "authId": "bench@pbs!restore", "secretFile": "%s", "fingerprint": "%s", "maxStreams": %d, "timeoutSeconds": 120}}' \
      "$pbs_url" "$work/token" "$fingerprint" "$streams")
  else
    datastore=$(printf '{"name": "bench", "path": "%s"}' "$work/store")
  fi
  printf '{"listen": "127.0.0.1:0", "metricsListen": "127.0.0.1:0", "datastores": [%s],
    "cache": {"dir": "%s", "capacity": "%s", "maxConcurrentFetches": %d%s},
    "sessions": {"readahead": %s}}\n' \
    "$datastore" "$work/cache-$name" "$capacity" "$fetches" "$yield" "$readahead" >"$work/$name.json"
  rm -rf "$work/cache-$name" "$work/$name.ports"
  "$bin/chunkcached" --config "$work/$name.json" --port-file "$work/$name.ports" \
    2>"$work/$name.log" &
  cc_pid=$!
  wait_file "$work/$name.ports"
  grpc=127.0.0.1:$(sed -n 's/^grpc_port=//p' "$work/$name.ports")
  metrics=127.0.0.1:$(sed -n 's/^metrics_port=//p' "$work/$name.ports")
  cc_name=$name
}
stop_chunkcached() { kill "$cc_pid"; wait "$cc_pid" 2>/dev/null || true; cc_pid=; }

# CPU seconds (utime + stime) of a process so far.
cpu_seconds() {
  awk -v hz="$(getconf CLK_TCK)" '{ sub(/^.*\) /, ""); printf "%.2f", ($12 + $13) / hz }' "/proc/$1/stat"
}

# restore MODE [PERF_FILE] -> "seconds chunkcached_cpu_seconds server_cpu_seconds"; opens the
# archive first (manifest and index) untimed.
restore() {
  local flags=()
  [ "$1" = one ] && flags=(--in-flight 1 --request-size $((4 << 20)))
  "$bin/chunkcache" stat --server "$grpc" --datastore bench --snapshot $snap \
    --archive drive-scsi0.img.fidx >/dev/null
  local c0 t0 t1 c1 s0 s1
  # Lets the memory that the previous chunkcached freed (its 1 GiB arena) settle first: on this
  # VM freed memory goes back to the host after a few seconds, and a restore that starts
  # sooner fills its arena faster from still-mapped pages, which favours whichever restore
  # comes right after another.
  sleep "$settle"
  local perf_pid=
  if [ -n "${2:-}" ]; then
    # shellcheck disable=SC2086
    perf record -q ${PERF_ARGS:--g} -p "$cc_pid,$pbs_pid" -o "$2" 2>/dev/null &
    perf_pid=$!
    sleep 1
  fi
  local timeline_pid=
  if [ "${TIMELINE:-0}" = 1 ]; then
    sample_upstream_bytes >"$work/$cc_name.timeline" &
    timeline_pid=$!
  fi
  c0=$(cpu_seconds "$cc_pid")
  s0=$(cpu_seconds "$pbs_pid")
  t0=$(date +%s.%N)
  "$bin/chunkcache" restore --server "$grpc" --datastore bench --snapshot $snap \
    --archive drive-scsi0.img.fidx --out - --no-progress "${flags[@]}" >/dev/null
  t1=$(date +%s.%N)
  c1=$(cpu_seconds "$cc_pid")
  s1=$(cpu_seconds "$pbs_pid")
  if [ -n "$perf_pid" ]; then kill -INT "$perf_pid"; wait "$perf_pid" 2>/dev/null || true; fi
  if [ -n "$timeline_pid" ]; then
    kill "$timeline_pid"; wait "$timeline_pid" 2>/dev/null || true
    summarize_timeline "$work/$cc_name.timeline" "$t0" "$t1" >&2
  fi
  awk -v a="$t0" -v b="$t1" -v c="$c0" -v d="$c1" -v e="$s0" -v f="$s1" \
    'BEGIN { printf "%.3f %.2f %.2f\n", b - a, d - c, f - e }'
}

# "unix_time upstream_bytes streams" every 50 ms: chunkcached's chunkcache_upstream_bytes_total
# (raw blob bytes received from the upstream, counted as each fetch completes) and
# chunkcache_pbs_streams_in_flight (chunk requests open on the server).
sample_upstream_bytes() {
  while true; do
    printf '%s %s\n' "$(date +%s.%N)" "$(curl -s "http://$metrics/metrics" |
      awk '/^chunkcache_upstream_bytes_total/ { b += $NF }
           /^chunkcache_pbs_streams_in_flight/ { s += $NF }
           END { printf "%.0f %.0f", b, s }')"
    sleep 0.05
  done
}

# Where a restore's wall time went, from its timeline: until the first chunk arrived, the
# steady part (first to last chunk) against the bytes at the cap, and after the last chunk.
summarize_timeline() {
  awk -v t0="$2" -v t1="$3" -v cap="$cap" '
    $2 > 0 && first == "" { first = $1 }
    { if ($2 > last_bytes) { last_bytes = $2; last = $1 } }
    # Chunk requests open on the server while bytes were still to come (the steady part).
    first != "" && $2 < final { n++; streams += $3; if ($3 < 8) few++ }
    END {
      if (first == "") { print "  timeline: no upstream bytes seen"; exit }
      printf "  timeline: first chunk after %.2f s, last after %.2f s, done after %.2f s;", first - t0, last - t0, t1 - t0
      printf " %.0f MB in between at %.1f MB/s (%.0f %% of the cap; the bytes alone take %.2f s at the cap);", last_bytes / 1e6, last_bytes / 1e6 / (last - first), 100 * last_bytes / (last - first) / cap, last_bytes / cap
      if (n > 0) printf " chunk requests open on the server: %.1f on average, fewer than 8 in %.0f %% of the samples", streams / n, 100 * few / n
      printf "\n"
    }' final="$(tail -1 "$1" | cut -d' ' -f2)" "$1"
}

# The median of the numbers on stdin, one a line.
median() { sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

modes=(pipelined one)
[ "${UNYIELDING:-0}" = 1 ] && modes=(pipelined unyielding one)
# MODES="pipelined" runs only those readers (the ÷ one in flight column then needs "one"),
# SCENARIOS="link" only that server model.
if [ -n "${MODES:-}" ]; then read -r -a modes <<<"$MODES"; fi
declare -A seconds
declare -A cpu
declare -A samples
has_part() { case ",$parts," in *",$1,"*) return 0 ;; esac; return 1; }

if has_part restore; then
  for run in $(seq "$runs"); do
    for scenario in ${SCENARIOS:-link disk}; do
      for mode in "${modes[@]}"; do
        reset_faults
        if [ $scenario = link ]; then
          set_faults "{\"chunk_latency_ms\": $latency_ms, \"bandwidth_bytes_per_s\": $cap}"
        else
          set_faults "{\"chunk_latency_ms\": $latency_ms, \"bandwidth_bytes_per_s\": $cap, \"stream_bandwidth_bytes_per_s\": $stream_cap}"
        fi
        start_chunkcached "$scenario-$mode" pbs "$mode"
        read -r t _ < <(restore "$mode")
        samples[$scenario-$mode]+="$t "
        echo "run $run: $scenario $mode: $t s" >&2
        stop_chunkcached
      done
    done
  done
  for key in "${!samples[@]}"; do
    seconds[$key]=$(tr ' ' '\n' <<<"${samples[$key]}" | grep . | median)
  done
fi
reset_faults

if has_part cpu; then
  declare -A cpu_samples
  server_samples=
  for run in $(seq "$runs"); do
    for source in pbs dir; do
      start_chunkcached "cpu-$source" "$source"
      read -r t c sc < <(restore pipelined ${PERF:+"$work/cpu-$source.perf.data"})
      samples[cpu-$source]+="$t "
      cpu_samples[$source]+="$c "
      [ "$source" = pbs ] && server_samples+="$sc "
      echo "run $run: cpu $source: $t s, $c CPU s (test server: $sc CPU s)" >&2
      stop_chunkcached
    done
  done
  for source in pbs dir; do
    seconds[cpu-$source]=$(tr ' ' '\n' <<<"${samples[cpu-$source]}" | grep . | median)
    cpu[$source]=$(tr ' ' '\n' <<<"${cpu_samples[$source]}" | grep . | median)
  done
  server_cpu=$(tr ' ' '\n' <<<"$server_samples" | grep . | median)
fi
blob_bytes=$(du -sb "$work/store/.chunks" | cut -f1)

echo "Image: $((size >> 20)) MiB, $((size >> 22)) incompressible 4 MiB chunks; test PBS server on this machine;"
echo "cap $cap B/s server-wide; $latency_ms ms per /chunk answer; disk: also $stream_cap B/s per response;"
echo "chunkcached's cache: $capacity; medians of $runs runs."
if has_part restore; then
  echo
  echo "| scenario | reader | seconds | MB/s | % of cap | ÷ one in flight | runs (s) |"
  echo "|---|---|---|---|---|---|---|"
  for scenario in ${SCENARIOS:-link disk}; do
    for mode in "${modes[@]}"; do
      awk -v s="$size" -v t="${seconds[$scenario-$mode]}" -v base="${seconds[$scenario-one]:-}" \
        -v cap="$cap" -v sc=$scenario -v m=$mode -v all="${samples[$scenario-$mode]% }" 'BEGIN {
        ratio = base == "" ? "–" : sprintf("%.2f", base / t)
        printf "| %s | %s | %.2f | %.1f | %.0f %% | %s | %s |\n", sc, m, t, s / t / 1e6, 100 * s / t / cap, ratio, all }'
    done
  done
fi
if has_part cpu; then
  echo
  echo "| upstream | seconds | chunkcached CPU s | CPU s per GB fetched | ÷ datastore directory | runs (CPU s) |"
  echo "|---|---|---|---|---|---|"
  for source in pbs dir; do
    awk -v b="$blob_bytes" -v t="${seconds[cpu-$source]}" -v c="${cpu[$source]}" -v d="${cpu[dir]}" \
      -v src=$source -v all="${cpu_samples[$source]% }" 'BEGIN {
      printf "| %s | %.2f | %.2f | %.2f | %.2f | %s |\n", src, t, c, c / (b / 1e9), c / d, all }'
  done
  echo
  echo "The test server's own CPU during the pbs restore (median): $server_cpu s."
fi
