#!/usr/bin/env bash
# Builds the libFuzzer targets (preset "fuzz", clang) and runs each one briefly, seeded from
# the PBS test vectors. Any crash, sanitizer report or failed property stops the script.
#
# Usage: scripts/fuzz-smoke.sh [SECONDS_PER_TARGET]      (default 10)
# Environment: FUZZ_BUILD_DIR (default build/fuzz), CHUNKCACHE_SHARED_DIR (default ../shared)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

seconds=${1:-10}
build_dir=${FUZZ_BUILD_DIR:-build/fuzz}
shared=${CHUNKCACHE_SHARED_DIR:-$root/../shared}
vectors=$shared/spec/vectors
jobs=$(nproc)
# The fuzz preset builds UBSan in recovering mode: make any report fatal so the run fails.
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}

cmake --preset fuzz -B "$build_dir" >/dev/null
cmake --build "$build_dir" -j"$jobs" --target fuzzers

# Seed corpora: copies of the vectors (the vectors folder may be read-only).
corpus=$build_dir/fuzz-corpus
rm -rf "$corpus"
mkdir -p "$corpus"/{blob,index,manifest,key,name,nbd}
cp "$vectors"/blobs/*.blob "$vectors"/blobs/negative/*.blob "$corpus/blob/"
find "$vectors/datastore" -name '*.blob' -exec cp {} "$corpus/blob/" \;
for f in "$vectors"/datastore/.chunks/*/*; do cp "$f" "$corpus/blob/"; done
cp "$vectors"/upstream/*.didx "$corpus/index/"
find "$vectors/datastore" \( -name '*.fidx' -o -name '*.didx' \) -exec sh -c \
  'cp "$1" "$2/$(echo "$1" | sha256sum | cut -c1-16).idx"' _ {} "$corpus/index" \;
find "$vectors/datastore" -name index.json.blob -exec sh -c \
  'n=$(echo "$1" | sha256sum | cut -c1-16); cp "$1" "$2/$n.blob"
   tail -c +13 "$1" | zstd -d -q -c > "$2/$n.json" 2>/dev/null || rm -f "$2/$n.json"' \
  _ {} "$corpus/manifest" \;
cp "$vectors"/keys/*.json "$corpus/key/"
printf '%s' 'vm/100/2026-01-01T00:00:00Z' > "$corpus/name/plain"
printf '%s' 'ns/enc/vm/100/2026-01-02T00:00:00Z' > "$corpus/name/namespaced"
printf '%s' 'drive-scsi0.img.fidx' > "$corpus/name/archive"
printf '%s' 'store/ns/a/vm/100/2026-01-01T00:00:00Z/drive-scsi0.img.fidx' > "$corpus/nbd/export"
printf '\x25\x60\x95\x13\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x10\x00' \
  > "$corpus/nbd/request"
printf '\x00\x00\x00\x03a/b\x00\x01\x00\x03' > "$corpus/nbd/go"

run() {
  local fuzzer=$1 seeds=$2
  shift 2
  local artifacts=$build_dir/fuzz-artifacts/$fuzzer log=$build_dir/fuzz-artifacts/$fuzzer.log
  echo "=== $fuzzer (${seconds}s)"
  mkdir -p "$artifacts"
  local status=0
  "$build_dir/fuzz/$fuzzer" -max_total_time="$seconds" -print_final_stats=1 \
    -artifact_prefix="$artifacts/" "$@" "$corpus/$seeds" >"$log" 2>&1 || status=$?
  grep -E '^(#[0-9]+ +DONE|stat::number_of_executed_units|INFO: seed corpus)' "$log" || true
  if [ "$status" -ne 0 ]; then
    tail -n 60 "$log"
    echo "$fuzzer failed (exit $status); reproducer in $artifacts/" >&2
    return "$status"
  fi
}

run blob_decode_fuzzer blob -max_len=65536
run blob_decode_key_fuzzer blob -max_len=65536
run index_parse_fuzzer index -max_len=16384
run manifest_parse_fuzzer manifest -max_len=8192
run key_file_fuzzer key -max_len=4096
run snapshot_name_fuzzer name -max_len=512
run nbd_parser_fuzzer nbd -max_len=8192
echo "fuzz smoke run passed"
