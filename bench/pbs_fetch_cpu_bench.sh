#!/usr/bin/env bash
# The CPU that fetching costs through the pbs upstream against the datastore directory, in one
# process (bench/pbs_fetch_cpu_bench.cc): makes a bench_datastore image, starts the test PBS
# server (tests/pbs/pbs_test_server.py: real TLS, real HTTP/2, no latency or caps) on it and
# runs pbs_fetch_cpu_bench against both. Prints a markdown table.
#
#   bench/pbs_fetch_cpu_bench.sh       (BIN_DIR defaults to build/bin; WORK to a fresh dir in /var/tmp)
#   SIZE=1073741824 IN_FLIGHT=16 ROUNDS=5 bench/pbs_fetch_cpu_bench.sh
#   PERF=1 ONLY=pbs ROUNDS=1 bench/pbs_fetch_cpu_bench.sh  # the run under perf record
#                                                  # $PERF_ARGS (default -g) into
#                                                  # $WORK/fetch.perf.data; ONLY=pbs|dir runs one
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${BIN_DIR:-build/bin}
size=${SIZE:-1073741824}
work=${WORK:-$(mktemp -d /var/tmp/pbs_fetch_cpu_bench.XXXXXX)}
mkdir -p "$work"
pbs_pid=
cleanup() { [ -n "$pbs_pid" ] && kill "$pbs_pid" 2>/dev/null; wait 2>/dev/null || true; }
trap cleanup EXIT

snap=vm/500/2026-01-01T00:00:00Z
if [ ! -e "$work/store/.made" ]; then
  "$bin/bench_datastore" --path "$work/store" --snapshot $snap --archive drive-scsi0.img.fidx \
    --size "$size" --chunk-size $((4 << 20)) --seed 500 >&2
  touch "$work/store/.made"
fi
wait_file() { for _ in $(seq 600); do [ -s "$1" ] && return 0; sleep 0.1; done; return 1; }

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
  -keyout "$work/key.pem" -out "$work/cert.pem" -subj /CN=localhost \
  -addext subjectAltName=DNS:localhost,IP:127.0.0.1 2>/dev/null
secret=bench-secret-0f1e2d3c
printf '%s\n' "$secret" >"$work/token"
rm -f "$work/pbs.port" "$work/pbs.control"
/usr/bin/python3 tests/pbs/pbs_test_server.py --listen 127.0.0.1:0 --port-file "$work/pbs.port" \
  --control-port-file "$work/pbs.control" --cert "$work/cert.pem" --key "$work/key.pem" \
  --datastore "store1=$work/store" --token "bench@pbs!restore:$secret" 2>"$work/pbs.log" &
pbs_pid=$!
wait_file "$work/pbs.port"
control=http://127.0.0.1:$(cat "$work/pbs.control")
fingerprint=$(curl -s "$control/stats" | python3 -c 'import json,sys; print(json.load(sys.stdin)["fingerprint"])')

run=("$bin/pbs_fetch_cpu_bench" --datastore "$work/store" --pbs-url "https://127.0.0.1:$(cat "$work/pbs.port")"
  --pbs-datastore store1 --auth-id 'bench@pbs!restore' --secret-file "$work/token"
  --fingerprint "$fingerprint" --snapshot $snap --archive drive-scsi0.img.fidx
  --in-flight "${IN_FLIGHT:-16}" --rounds "${ROUNDS:-5}" ${ONLY:+--only "$ONLY"})
if [ "${PERF:-0}" = 1 ]; then
  # shellcheck disable=SC2086
  perf record -q ${PERF_ARGS:--g} -o "$work/fetch.perf.data" -- "${run[@]}"
else
  "${run[@]}"
fi
