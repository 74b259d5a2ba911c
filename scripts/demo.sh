#!/usr/bin/env bash
# The main job: installs what is missing, builds chunkcache, creates a demo PBS datastore
# from real data made on the spot, and verifies it.
#
#   scripts/demo.sh [--workdir DIR]
#
# The demo datastore (default: build/demo/datastore) holds
#   vm/100/2026-01-01T00:00:00Z/drive-scsi0.img.fidx   an ext4 image of /usr/lib/python3
#   vm/100/2026-01-02T00:00:00Z/drive-scsi0.img.fidx   the same disk a day later (a few files changed)
#   host/demo/2026-01-01T00:00:00Z/python3.pxar.didx   a tar stream of /usr/lib/python3 (dynamic index)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

workdir=build/demo
while [ $# -gt 0 ]; do
  case "$1" in
    --workdir) workdir=$2; shift 2 ;;
    *) echo "usage: $0 [--workdir DIR]" >&2; exit 2 ;;
  esac
done

scripts/install-deps.sh
cmake --preset default >/dev/null
cmake --build --preset default -j"$(nproc)" --target chunkcache >/dev/null
cli=$root/build/bin/chunkcache

mkdir -p "$workdir"
workdir=$(cd "$workdir" && pwd)
store=$workdir/datastore
rm -rf "$store" "$workdir/staging" "$workdir"/*.img

echo "== making demo data in $workdir"
# A small ext4 disk image filled with files already on this machine, written without mounting.
mkdir -p "$workdir/staging"
cp -a /usr/lib/python3/. "$workdir/staging/"
mke2fs -q -t ext4 -b 4096 -d "$workdir/staging" "$workdir/day1.img" 96M
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
tar -C /usr/lib -cf - python3 | "$cli" datastore create --path "$store" \
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
echo "== done: the demo datastore is at $store"
