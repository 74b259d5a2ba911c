#!/usr/bin/env bash
# The main job: installs what is missing, builds chunkcache, creates a demo PBS datastore
# from real data made on the spot, verifies it, starts chunkcached on it and restores the
# demo disk through the service twice (cold, then warm), then the next day's snapshot.
# Prints the throughput of each restore, the hit ratio from /metrics and whether the
# restored images' SHA-256 match the originals.
#
#   scripts/demo.sh [--workdir DIR] [--keep-running]
#
# The demo datastore (default: build/demo/datastore) holds
#   vm/100/2026-01-01T00:00:00Z/drive-scsi0.img.fidx   an ext4 image of Python's standard library
#   vm/100/2026-01-02T00:00:00Z/drive-scsi0.img.fidx   the same disk a day later (a few files changed)
#   host/demo/2026-01-01T00:00:00Z/python3.pxar.didx   a tar stream of the same library (dynamic index)
# (Debian's /usr/lib/python3.X: its size does not change with the Python packages installed.)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

workdir=build/demo
keep_running=0
while [ $# -gt 0 ]; do
  case "$1" in
    --workdir) workdir=$2; shift 2 ;;
    --keep-running) keep_running=1; shift ;;
    *) echo "usage: $0 [--workdir DIR] [--keep-running]" >&2; exit 2 ;;
  esac
done

scripts/install-deps.sh
cmake --preset default >/dev/null
cmake --build --preset default -j"$(nproc)" --target chunkcache chunkcached >/dev/null
cli=$root/build/bin/chunkcache
daemon=$root/build/bin/chunkcached

mkdir -p "$workdir"
workdir=$(cd "$workdir" && pwd)
store=$workdir/datastore
rm -rf "$store" "$workdir/staging" "$workdir/cache" "$workdir"/*.img "$workdir"/restored-*

echo "== making demo data in $workdir"
# A small ext4 disk image filled with files already on this machine, written without mounting.
stdlib=$(/usr/bin/python3 -c 'import sysconfig; print(sysconfig.get_paths()["stdlib"])')
mkdir -p "$workdir/staging"
cp -a "$stdlib/." "$workdir/staging/"
# Room for the files (as 4 KiB blocks) plus a quarter for ext4's own metadata, in whole 4 MiB
# chunks, and at least 96 MiB.
staged_mib=$(du -s --block-size=1M "$workdir/staging" | cut -f1)
image_mib=$(((staged_mib * 5 / 4 + 16 + 3) / 4 * 4))
[ "$image_mib" -ge 96 ] || image_mib=96
mke2fs -q -t ext4 -b 4096 -d "$workdir/staging" "$workdir/day1.img" "${image_mib}M"
# The next day: the same disk with one new file written into it (an incremental backup shares
# every chunk but the few that changed).
head -c 3000000 /dev/urandom >"$workdir/new-data.bin"
cp "$workdir/day1.img" "$workdir/day2.img"
debugfs -w -R "write $workdir/new-data.bin new-data.bin" "$workdir/day2.img" >/dev/null 2>&1
rm -rf "$workdir/staging" "$workdir/new-data.bin"

echo "== creating the demo datastore at $store"
"$cli" datastore create --path "$store" --snapshot vm/100/2026-01-01T00:00:00Z \
  --archive drive-scsi0.img.fidx --image "$workdir/day1.img"
"$cli" datastore create --path "$store" --snapshot vm/100/2026-01-02T00:00:00Z \
  --archive drive-scsi0.img.fidx --image "$workdir/day2.img"
tar -C "$(dirname "$stdlib")" -cf - "$(basename "$stdlib")" | "$cli" datastore create --path "$store" \
  --snapshot host/demo/2026-01-01T00:00:00Z --archive python3.pxar.didx --stream -

echo "== verifying every chunk and index"
"$cli" datastore verify --path "$store"

echo "== checking that the stored archives read back byte for byte"
for day in 1 2; do
  want=$(sha256sum <"$workdir/day$day.img" | cut -d' ' -f1)
  got=$("$cli" datastore cat --path "$store" --snapshot "vm/100/2026-01-0${day}T00:00:00Z" \
    --archive drive-scsi0.img.fidx | sha256sum | cut -d' ' -f1)
  [ "$want" = "$got" ] || { echo "day $day image differs: $want != $got" >&2; exit 1; }
  echo "day$day.img sha256 $got matches"
done
echo "== starting chunkcached on the demo datastore"
mkdir -p "$workdir/cache"
rm -f "$workdir/ports"
"$daemon" --listen 127.0.0.1:0 --metrics-listen 127.0.0.1:0 --datastore "demo=$store" \
  --cache-dir "$workdir/cache" --cache-bytes 512MiB --port-file "$workdir/ports" \
  >"$workdir/chunkcached.log" 2>&1 &
daemon_pid=$!
stop_daemon() { kill -TERM "$daemon_pid" 2>/dev/null && wait "$daemon_pid" 2>/dev/null || true; }
trap stop_daemon EXIT
for _ in $(seq 100); do [ -s "$workdir/ports" ] && break; sleep 0.1; done
[ -s "$workdir/ports" ] || { echo "chunkcached did not start; see $workdir/chunkcached.log" >&2; exit 1; }
grpc_port=$(sed -n 's/^grpc_port=//p' "$workdir/ports")
metrics_port=$(sed -n 's/^metrics_port=//p' "$workdir/ports")
server=127.0.0.1:$grpc_port
echo "chunkcached pid $daemon_pid: gRPC on $server, metrics on http://127.0.0.1:$metrics_port/metrics"

# restore LABEL SNAPSHOT ORIGINAL: restores through the service and checks the SHA-256.
restore() {
  local label=$1 snapshot=$2 original=$3 out="$workdir/restored-$1.img"
  local start end sum want mib
  start=$(date +%s.%N)
  sum=$("$cli" restore --server "$server" --datastore demo --snapshot "$snapshot" \
    --archive drive-scsi0.img.fidx --out "$out" --sha256 | cut -d' ' -f1)
  end=$(date +%s.%N)
  want=$(sha256sum <"$original" | cut -d' ' -f1)
  mib=$(( $(stat -c %s "$original") / 1048576 ))
  if [ "$sum" = "$want" ]; then verdict="matches the original"; else verdict="DIFFERS from $want"; fi
  awk -v l="$label" -v m="$mib" -v s="$start" -v e="$end" -v sum="$sum" -v v="$verdict" \
    'BEGIN { printf "%-22s %4d MiB in %6.3f s = %8.1f MiB/s  sha256 %s %s\n", l, m, e - s, m / (e - s), sum, v }'
  [ "$sum" = "$want" ]
}

echo "== restoring the demo disk through chunkcached"
restore "day 1 (cold cache)" vm/100/2026-01-01T00:00:00Z "$workdir/day1.img"
restore "day 1 (warm cache)" vm/100/2026-01-01T00:00:00Z "$workdir/day1.img"
restore "day 2 (incremental)" vm/100/2026-01-02T00:00:00Z "$workdir/day2.img"

echo "== cache metrics"
metrics=$(curl -fsS "http://127.0.0.1:$metrics_port/metrics")
echo "$metrics" | awk '
  /^chunkcache_chunk_lookups_total\{/ {
    split($0, a, "result=\""); split(a[2], b, "\""); n[b[1]] = $NF; total += $NF }
  /^chunkcache_upstream_fetches_total\{/ && /result="ok"/ { fetched += $NF }
  END {
    printf "chunk lookups: %d hit, %d hinted_hit, %d miss, %d coalesced; upstream fetches: %d\n",
      n["hit"], n["hinted_hit"], n["miss"], n["coalesced"], fetched
    if (total > 0) printf "hit ratio: %.1f%% (hits + hinted hits over all lookups)\n",
      100 * (n["hit"] + n["hinted_hit"]) / total }'

if [ "$keep_running" = 1 ]; then
  trap - EXIT
  echo "== chunkcached keeps running (pid $daemon_pid): try"
  echo "   $cli stat --server $server --datastore demo --snapshot vm/100/2026-01-01T00:00:00Z --archive drive-scsi0.img.fidx"
  echo "   kill $daemon_pid   # to stop it"
else
  stop_daemon
  trap - EXIT
  echo "== chunkcached stopped"
fi
echo "== done: the demo datastore is at $store"
