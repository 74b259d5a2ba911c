#!/usr/bin/env bash
# Compares DecodeBlobInto on one 4 MiB zstd chunk (CRC + zstd + length + SHA-256 digest check)
# with the shell pipeline `zstd -d -c | sha256sum` on the same zstd frame.
#
# Usage: bench/decode_vs_zstd_cli.sh [ITERATIONS]      (default 200)
# Environment: BIN_DIR (default build/bin), where decode_bench is.
#
# Two pipeline figures are printed:
#   per-chunk: one `zstd | sha256sum` pipeline per chunk (what a script fetching chunks pays),
#   streamed:  ITERATIONS concatenated frames through one pipeline (no process start-up; the
#              two processes run on two cores in parallel).
set -euo pipefail
cd "$(dirname "$0")/.."

iterations=${1:-200}
bench=${BIN_DIR:-build/bin}/decode_bench
[ -x "$bench" ] || { echo "no $bench: build the decode_bench target first" >&2; exit 1; }
command -v zstd >/dev/null || { echo "the zstd CLI is needed" >&2; exit 1; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$bench" --write_chunk_files="$tmp"
chunk_bytes=$(stat -c %s "$tmp/chunk.bin")
expected=$(sha256sum "$tmp/chunk.bin" | cut -d' ' -f1)
actual=$(zstd -d -c -q "$tmp/chunk.zst" | sha256sum | cut -d' ' -f1)
[ "$expected" = "$actual" ] || { echo "zstd CLI decodes the frame differently" >&2; exit 1; }

now() { date +%s.%N; }
mbps() { awk -v b="$1" -v s="$2" 'BEGIN { printf "%.0f", b / s / 1e6 }'; }

start=$(now)
for _ in $(seq "$iterations"); do
  zstd -d -c -q "$tmp/chunk.zst" | sha256sum >/dev/null
done
per_chunk_s=$(awk -v a="$start" -v b="$(now)" 'BEGIN { print b - a }')

for _ in $(seq "$iterations"); do cat "$tmp/chunk.zst"; done >"$tmp/many.zst"
start=$(now)
zstd -d -c -q "$tmp/many.zst" | sha256sum >/dev/null
streamed_s=$(awk -v a="$start" -v b="$(now)" 'BEGIN { print b - a }')

total=$((chunk_bytes * iterations))
per_chunk=$(mbps "$total" "$per_chunk_s")
streamed=$(mbps "$total" "$streamed_s")

ours=$("$bench" --benchmark_filter='^BM_DecodeZstdChunk$' --benchmark_repetitions=5 \
  --benchmark_report_aggregates_only=true --benchmark_format=csv 2>/dev/null |
  awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == "bytes_per_second") col = i }
           /_median"?,/ { printf "%.0f", $col / 1e6 }')

echo "chunk: $chunk_bytes bytes, zstd frame $(stat -c %s "$tmp/chunk.zst") bytes, $iterations iterations"
echo "zstd -d | sha256sum, one pipeline per chunk: $per_chunk MB/s"
echo "zstd -d | sha256sum, streamed:               $streamed MB/s"
echo "DecodeBlobInto (CRC+zstd+SHA-256), 1 thread: $ours MB/s (median of 5)"
awk -v o="$ours" -v p="$per_chunk" -v s="$streamed" \
  'BEGIN { printf "ratio ours/per-chunk pipeline: %.2f, ours/streamed pipeline: %.2f\n", o / p, o / s }'
