#!/usr/bin/env bash
# The container image, for real: builds the Dockerfile with podman, serves a datastore made
# on the host from a container and restores through it with the host's chunkcache CLI.
#
#   tests/deploy/container_test.sh --source DIR --cli PATH --container-env PATH [--workdir DIR]
#
# Checks: the image builds from the repository; its metadata (user 10001, ports, volume,
# health check, labels, no apt lists, every library found); the default command refuses to
# serve every interface without client authentication; a container with a read-only root
# file system, the datastore mounted read-only and the cache on a volume becomes healthy
# (HEALTHCHECK and grpc.health.v1), restores a fixed-index and a dynamic-index archive byte
# for byte, answers /metrics, runs as a non-root user, and stops on SIGTERM quickly with exit
# code 0. Exit 77 (skipped) only when podman cannot run a container on this machine.
set -euo pipefail

source_dir=""
cli=""
container_env=""
workdir=""
while [ $# -gt 0 ]; do
  case "$1" in
    --source) source_dir=$2; shift 2 ;;
    --cli) cli=$2; shift 2 ;;
    --container-env) container_env=$2; shift 2 ;;
    --workdir) workdir=$2; shift 2 ;;
    *) echo "usage: $0 --source DIR --cli PATH --container-env PATH [--workdir DIR]" >&2; exit 2 ;;
  esac
done
[ -n "$source_dir" ] && [ -n "$cli" ] && [ -n "$container_env" ] \
  || { echo "usage: $0 --source DIR --cli PATH --container-env PATH [--workdir DIR]" >&2; exit 2; }
[ -x "$cli" ] || { echo "FAIL: the chunkcache CLI is not built: $cli" >&2; exit 1; }

SKIP=77
image=localhost/chunkcache:test
tag=$$-$RANDOM
run_name=chunkcache-test-$tag
volume=chunkcache-test-cache-$tag
failures=0
step() { echo "== $*"; }
pass() { echo "ok: $*"; }
fail() { echo "FAIL: $*" >&2; failures=$((failures + 1)); }
die() { echo "FAIL: $*" >&2; exit 1; }
elapsed() { awk -v s="$1" -v e="$(date +%s.%N)" 'BEGIN { printf "%.1f", e - s }'; }

# ---- podman ----
step "podman (container-env.sh)"
[ -r "$container_env" ] || { echo "SKIP: $container_env not found: no way to set up podman here" >&2; exit $SKIP; }
t0=$(date +%s.%N)
# shellcheck source=/dev/null
if ! source "$container_env" || [ -z "${PODMAN:-}" ]; then
  echo "SKIP: sourcing $container_env failed (podman or the Debian base image cannot be set" \
       "up on this machine); see the messages above" >&2
  exit $SKIP
fi
echo "container-env.sh took $(elapsed "$t0") s"
probe_log=$(mktemp)
if ! $PODMAN run --rm --pull=never --network=host localhost/debian:bookworm true >"$probe_log" 2>&1; then
  echo "SKIP: podman cannot run a container on this machine:" >&2
  sed 's/^/  /' "$probe_log" >&2
  rm -f "$probe_log"
  exit $SKIP
fi
rm -f "$probe_log"
pass "podman runs containers ($($PODMAN --version))"

# ---- work dir and cleanup ----
if [ -z "$workdir" ]; then
  workdir=$(mktemp -d /var/tmp/chunkcache-container-test.XXXXXX)
  remove_workdir=1
else
  mkdir -p "$workdir"
  remove_workdir=0
fi
workdir=$(cd "$workdir" && pwd)
cleanup() {
  $PODMAN rm -f -v -t 0 "$run_name" "$run_name-refuse" >/dev/null 2>&1 || true
  $PODMAN volume rm -f "$volume" >/dev/null 2>&1 || true
  [ "$remove_workdir" = 1 ] && rm -rf "$workdir"
  return 0
}
trap cleanup EXIT

# ---- the image ----
step "building $image from $source_dir"
t0=$(date +%s.%N)
if ! $PODMAN build --pull=never --network=host --format docker \
     --build-arg REVISION="$(git -C "$source_dir" rev-parse HEAD 2>/dev/null || echo unknown)" \
     -t "$image" "$source_dir" >"$workdir/build.log" 2>&1; then
  tail -n 60 "$workdir/build.log" >&2
  die "the image did not build (log above)"
fi
echo "image build took $(elapsed "$t0") s"
# Earlier builds' compile layers and images (untagged, several hundred MB each) go; the
# dependency layers they share with this build stay cached.
for label in io.chunkcache.stage=build org.opencontainers.image.title=chunkcache; do
  $PODMAN image prune -f --filter "label=$label" >/dev/null 2>&1 || true
done
sed -n '/Hits:/,/Misses:/p' "$workdir/build.log" | sed 's/^/  ccache /' || true

step "image metadata"
inspect() { $PODMAN image inspect --format "$1" "$image"; }
user=$(inspect '{{.Config.User}}')
[ "$user" = "10001:10001" ] && pass "user $user" || fail "image user is '$user', want 10001:10001"
ports=$(inspect '{{range $p, $_ := .Config.ExposedPorts}}{{$p}} {{end}}')
case "$ports" in *7070/tcp*9470/tcp*) pass "exposes $ports" ;; *) fail "exposed ports are '$ports'" ;; esac
volumes=$(inspect '{{range $v, $_ := .Config.Volumes}}{{$v}} {{end}}')
[[ "$volumes" == *"/var/cache/chunkcache"* ]] && pass "volume $volumes" || fail "volumes are '$volumes'"
entrypoint=$(inspect '{{json .Config.Entrypoint}}')
[ "$entrypoint" = '["chunkcached"]' ] && pass "entrypoint $entrypoint" || fail "entrypoint is $entrypoint"
health=$(inspect '{{json .Config.Healthcheck}}' 2>/dev/null || true)
[[ "$health" == *"chunkcache health"* ]] && pass "health check $health" || fail "no HEALTHCHECK in the image ($health)"
title=$(inspect '{{index .Labels "org.opencontainers.image.title"}}')
[ "$title" = "chunkcache" ] && pass "label org.opencontainers.image.title=$title" || fail "labels missing"
echo "image size: $(inspect '{{.Size}}' | awk '{ printf "%.0f MB", $1 / 1e6 }')"

in_image() {
  $PODMAN run --rm --pull=never --network=host --no-healthcheck --entrypoint "$1" \
    "$image" "${@:2}"
}
if lists=$(in_image sh -c 'ls /var/lib/apt/lists | grep -v -x -e lock -e partial | wc -l'); then
  [ "$lists" = 0 ] && pass "no apt lists in the image" || fail "$lists apt list files in the image"
else
  fail "could not run a shell in the image"
fi
if libs=$(in_image ldd /usr/local/bin/chunkcached /usr/local/bin/chunkcache 2>&1); then
  if grep -q "not found" <<<"$libs"; then fail "missing libraries: $(grep 'not found' <<<"$libs")"
  else pass "every shared library of both binaries is in the image"; fi
else
  fail "ldd failed in the image: $libs"
fi
in_image chunkcache --help >/dev/null 2>&1 && pass "chunkcache --help runs in the image" \
  || fail "chunkcache --help fails in the image"

# ---- test data on the host ----
step "making a datastore in $workdir/datastore"
store=$workdir/datastore
rm -rf "$store"
# A 40 MiB disk image: random data, a run of zeros (restored as a hole), and a repeated block.
head -c 16777216 /dev/urandom >"$workdir/block"
{ cat "$workdir/block"; head -c 8388608 /dev/zero; cat "$workdir/block"; } >"$workdir/disk.img"
rm -f "$workdir/block"
tar -C "$source_dir" -cf "$workdir/stream.tar" service format client
"$cli" datastore create --path "$store" --snapshot vm/100/2026-01-01T00:00:00Z \
  --archive drive-scsi0.img.fidx --image "$workdir/disk.img" >/dev/null
"$cli" datastore create --path "$store" --snapshot host/src/2026-01-01T00:00:00Z \
  --archive src.pxar.didx --stream "$workdir/stream.tar" >/dev/null
"$cli" datastore verify --path "$store" >/dev/null
# The container's user (10001) reads the datastore through a read-only bind mount.
chmod -R a+rX "$store"
pass "datastore with a fixed and a dynamic index archive"

# Two free loopback ports for the service on the host network.
free_port() {
  local p
  for _ in $(seq 200); do
    p=$((20000 + RANDOM % 40000))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then echo "$p"; return 0; fi
  done
  return 1
}
grpc_port=$(free_port) || die "no free port"
metrics_port=$(free_port) || die "no free port"
while [ "$metrics_port" = "$grpc_port" ]; do metrics_port=$(free_port); done

# ---- the default command without authentication ----
step "default command with a config file that authenticates nobody"
mkdir -p "$workdir/etc"
cat >"$workdir/etc/config.json" <<'JSON'
{
  "datastores": [{"name": "demo", "path": "/datastores/demo"}],
  "cache": {"dir": "/var/cache/chunkcache", "capacity": "256MiB"},
  "shutdownGraceSeconds": 5
}
JSON
chmod -R a+rX "$workdir/etc"
set +e
refuse_out=$($PODMAN run --rm --name "$run_name-refuse" --pull=never --network=host --read-only \
  --no-healthcheck \
  -v "$store:/datastores/demo:ro" -v "$workdir/etc/config.json:/etc/chunkcache/config.json:ro" \
  "$image" 2>&1)
refuse_rc=$?
set -e
if [ "$refuse_rc" -ne 0 ] && grep -q "allow_unauthenticated_remote" <<<"$refuse_out"; then
  pass "refused to listen on 0.0.0.0 without client authentication (exit $refuse_rc)"
else
  fail "the default command did not refuse (exit $refuse_rc): $refuse_out"
fi

# ---- the service in a container ----
step "running chunkcached: read-only root, datastore read-only, cache on a volume"
$PODMAN volume create "$volume" >/dev/null
# Without systemd podman cannot schedule the health check (it says so on stderr; the check
# still runs with `podman healthcheck run`): those messages are left out.
quiet() { "$@" 2> >(grep -v "systemd connection" >&2); }
t0=$(date +%s.%N)
quiet $PODMAN run -d --name "$run_name" --pull=never --network=host \
  --read-only --read-only-tmpfs=false \
  -v "$store:/datastores/demo:ro" \
  -v "$workdir/etc/config.json:/etc/chunkcache/config.json:ro" \
  -v "$volume:/var/cache/chunkcache" \
  -e CHUNKCACHE_GRPC_PORT="$grpc_port" \
  "$image" --config /etc/chunkcache/config.json \
  --listen "127.0.0.1:$grpc_port" --metrics-listen "127.0.0.1:$metrics_port" >/dev/null \
  || die "podman run failed"
show_logs() { echo "--- container log:" >&2; $PODMAN logs "$run_name" 2>&1 | tail -n 40 >&2; }

healthy=0
for _ in $(seq 120); do
  state=$($PODMAN inspect --format '{{.State.Status}}' "$run_name" 2>/dev/null || echo gone)
  [ "$state" = running ] || { show_logs; die "the container is $state before becoming healthy"; }
  if $PODMAN healthcheck run "$run_name" >/dev/null 2>&1; then healthy=1; break; fi
  sleep 0.5
done
[ "$healthy" = 1 ] || { show_logs; die "the HEALTHCHECK did not pass within 60 s"; }
pass "HEALTHCHECK passes after $(elapsed "$t0") s"
status=$($PODMAN inspect --format '{{.State.Health.Status}}' "$run_name" 2>/dev/null || true)
echo "  podman reports health: ${status:-?}"

# grpc.health.v1.Health/Check from the host with the CLI: the whole server and the
# liveness service.
for service in "" liveness; do
  if health_out=$("$cli" health --server "127.0.0.1:$grpc_port" --service "$service" 2>&1); then
    pass "grpc.health.v1 service \"$service\": $health_out"
  else
    fail "gRPC health check of service \"$service\": $health_out"
  fi
done

# ---- restores through the container ----
restore() {
  local snapshot=$1 archive=$2 original=$3 out=$workdir/restored-$2
  local want got file_sum t
  want=$(sha256sum <"$original" | cut -d' ' -f1)
  t=$(date +%s.%N)
  got=$("$cli" restore --server "127.0.0.1:$grpc_port" --datastore demo --snapshot "$snapshot" \
    --archive "$archive" --out "$out" --sha256 | cut -d' ' -f1) \
    || { fail "restore of $archive failed"; return; }
  file_sum=$(sha256sum <"$out" | cut -d' ' -f1)
  if [ "$got" = "$want" ] && [ "$file_sum" = "$want" ]; then
    pass "restored $archive ($(stat -c %s "$out") bytes) in $(elapsed "$t") s, sha256 $want"
  else
    fail "$archive: restored sha256 $got, file $file_sum, want $want"
  fi
  rm -f "$out"
}
step "restoring through the container"
restore vm/100/2026-01-01T00:00:00Z drive-scsi0.img.fidx "$workdir/disk.img"
restore vm/100/2026-01-01T00:00:00Z drive-scsi0.img.fidx "$workdir/disk.img"
restore host/src/2026-01-01T00:00:00Z src.pxar.didx "$workdir/stream.tar"

step "/metrics"
http_get() {  # http_get PORT PATH: the response body
  exec 3<>"/dev/tcp/127.0.0.1/$1" || return 1
  printf 'GET %s HTTP/1.0\r\nHost: localhost\r\n\r\n' "$2" >&3
  sed '1,/^\r\{0,1\}$/d' <&3
  exec 3<&-
}
metrics=$(http_get "$metrics_port" /metrics || true)
read_bytes=$(awk '/^chunkcache_read_bytes_total /{ print $2 }' <<<"$metrics")
# The disk was restored twice: the second time from the cache (hinted or plain hits).
hits=$(awk '/^chunkcache_chunk_lookups_total\{.*result="(hit|hinted_hit)"/{ n += $NF } END { print n + 0 }' \
  <<<"$metrics")
misses=$(awk '/^chunkcache_chunk_lookups_total\{.*result="miss"/{ n += $NF } END { print n + 0 }' \
  <<<"$metrics")
if [ -n "$read_bytes" ] && awk -v b="$read_bytes" -v h="$hits" 'BEGIN { exit !(b > 0 && h > 0) }'; then
  pass "/metrics answers: chunkcache_read_bytes_total $read_bytes, chunk lookups $hits hits, $misses misses"
else
  fail "/metrics did not report the bytes read and cache hits (read_bytes '$read_bytes', hits '$hits')"
fi

step "user and file system inside the container"
uid=$($PODMAN exec "$run_name" id -u 2>/dev/null || true)
proc_uid=$($PODMAN exec "$run_name" awk '/^Uid:/{ print $2 }' /proc/1/status 2>/dev/null || true)
comm=$($PODMAN exec "$run_name" cat /proc/1/comm 2>/dev/null || true)
if [ -n "$proc_uid" ] && [ "$proc_uid" != 0 ] && [ "$uid" != 0 ]; then
  pass "$comm runs as uid $proc_uid (exec'd processes as $uid)"
else
  fail "the service runs as uid '${proc_uid}' (exec: '$uid'), must not be root"
fi
ro=$($PODMAN inspect --format '{{.HostConfig.ReadonlyRootfs}}' "$run_name")
if [ "$ro" = true ] && ! $PODMAN exec "$run_name" sh -c 'echo x >/usr/local/bin/probe' 2>/dev/null \
   && ! $PODMAN exec "$run_name" sh -c 'echo x >/tmp/probe' 2>/dev/null \
   && ! $PODMAN exec "$run_name" sh -c 'echo x >/datastores/demo/probe' 2>/dev/null; then
  pass "root file system and datastore are read-only; the service needs no other writable path"
else
  fail "the root file system or the datastore is writable (ReadonlyRootfs=$ro)"
fi
cache_files=$($PODMAN exec "$run_name" sh -c 'ls -A /var/cache/chunkcache | tr "\n" " "' || true)
echo "  cache volume holds: ${cache_files:-nothing visible (unlinked arena)}"

step "stopping with SIGTERM"
t0=$(date +%s.%N)
quiet $PODMAN stop -t 30 "$run_name" >/dev/null
stop_s=$(elapsed "$t0")
code=$($PODMAN inspect --format '{{.State.ExitCode}}' "$run_name")
if [ "$code" = 0 ] && awk -v s="$stop_s" 'BEGIN { exit !(s < 10) }'; then
  pass "stopped in $stop_s s with exit code 0"
else
  show_logs
  fail "stop took $stop_s s, exit code $code (want 0 within 10 s)"
fi
if $PODMAN logs "$run_name" 2>&1 | grep -q "event=shutdown_complete"; then
  pass "log says event=shutdown_complete"
else
  show_logs
  fail "no event=shutdown_complete in the log"
fi

echo
if [ "$failures" -gt 0 ]; then
  echo "container test: $failures check(s) failed"
  exit 1
fi
echo "container test: every check passed"
