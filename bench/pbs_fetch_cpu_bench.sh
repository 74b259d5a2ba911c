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

source bench/pbs_bench_server.sh
make_bench_store
start_test_pbs_server  # for the whole run

run=("$bin/pbs_fetch_cpu_bench" --datastore "$work/store" --pbs-url "$pbs_url"
  --pbs-datastore store1 --auth-id "$pbs_auth_id" --secret-file "$work/token"
  --fingerprint "$fingerprint" --snapshot $snap --archive drive-scsi0.img.fidx
  --in-flight "${IN_FLIGHT:-16}" --rounds "${ROUNDS:-5}" ${ONLY:+--only "$ONLY"})
if [ "${PERF:-0}" = 1 ]; then
  # shellcheck disable=SC2086
  perf record -q ${PERF_ARGS:--g} -o "$work/fetch.perf.data" -- "${run[@]}"
else
  "${run[@]}"
fi
