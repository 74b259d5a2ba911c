# Sourced by the pbs benchmarks (pbs_restore_bench.sh, pbs_fetch_cpu_bench.sh): the bench image
# and the test PBS server on it, the same in both so that their figures compare.
#
#   bin=build/bin work=/var/tmp/x size=1073741824
#   source bench/pbs_bench_server.sh
#   make_bench_store; start_test_pbs_server   # sets pbs_pid, pbs_url, control, fingerprint
#
# The image: $snap's drive-scsi0.img.fidx, $size bytes of incompressible 4 MiB chunks in
# $work/store (made once per $work). The server: tests/pbs/pbs_test_server.py (real TLS, real
# HTTP/2) serving it as store1 to the API token bench@pbs!restore, whose secret is in
# $work/token; the caller kills $pbs_pid.

snap=vm/500/2026-01-01T00:00:00Z
pbs_auth_id='bench@pbs!restore'

wait_file() { for _ in $(seq 600); do [ -s "$1" ] && return 0; sleep 0.1; done; return 1; }

make_bench_store() {
  [ -e "$work/store/.made" ] && return 0
  "$bin/bench_datastore" --path "$work/store" --snapshot $snap --archive drive-scsi0.img.fidx \
    --size "$size" --chunk-size $((4 << 20)) --seed 500 >&2
  touch "$work/store/.made"
}

start_test_pbs_server() {
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
    -keyout "$work/key.pem" -out "$work/cert.pem" -subj /CN=localhost \
    -addext subjectAltName=DNS:localhost,IP:127.0.0.1 2>/dev/null
  local secret=bench-secret-0f1e2d3c
  printf '%s\n' "$secret" >"$work/token"
  rm -f "$work/pbs.port" "$work/pbs.control"
  /usr/bin/python3 tests/pbs/pbs_test_server.py --listen 127.0.0.1:0 --port-file "$work/pbs.port" \
    --control-port-file "$work/pbs.control" --cert "$work/cert.pem" --key "$work/key.pem" \
    --datastore "store1=$work/store" --token "$pbs_auth_id:$secret" 2>"$work/pbs.log" &
  pbs_pid=$!
  wait_file "$work/pbs.port"
  wait_file "$work/pbs.control"
  pbs_url=https://127.0.0.1:$(cat "$work/pbs.port")
  control=http://127.0.0.1:$(cat "$work/pbs.control")
  fingerprint=$(curl -s "$control/stats" |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["fingerprint"])')
}
