#!/usr/bin/env bash
# Regenerates the "Trace replay" tables of bench/RESULTS.md: miss ratios of every shipped
# eviction policy and of OPT on the cloudPhysicsIO block trace (chunk-level replay), next to
# the reference rows of shared/traces/REFERENCE.md, the live-restore mix, the exact qemu
# live-restore model and two concurrent restores of one archive.
#
#   bench/trace_replay.sh [SIM_BINARY] > /tmp/trace_replay.md
#
# SIM_BINARY is a program with the `sim` subcommand: build/bin/chunkcache, or the standalone
# chunkcache_sim (cmake --build <dir> --target chunkcache_sim). Default: the first of those
# found under build/. SHARED_DIR (default ../shared) holds traces/.
set -euo pipefail
cd "$(dirname "$0")/.."

sim="${1:-}"
if [[ -z "$sim" ]]; then
  for candidate in build/bin/chunkcache build/bin/chunkcache_sim build-*/bin/chunkcache_sim; do
    if [[ -x "$candidate" ]] && "$candidate" sim --help >/dev/null 2>&1; then
      sim="$candidate"
      break
    fi
  done
fi
if [[ -z "$sim" ]]; then
  echo "no binary with a 'sim' subcommand; build one: cmake --build build --target chunkcache_sim" >&2
  exit 2
fi
shared="${SHARED_DIR:-../shared}"
trace="$shared/traces/cloudPhysicsIO.vscsi"
reference="$shared/traces/REFERENCE.md"
policies=$("$sim" sim --help | sed -n 's/.*Eviction policy: \([^(]*\) (default.*/\1/p' | tr -d ',')
default_policy=$("$sim" sim --help | sed -n 's/.*(default \([^)]*\)).*/\1/p' | head -1)

miss_ratio_raw() {  # args for `sim`; prints the miss ratio as `sim` does (6 decimals)
  "$sim" sim --trace "$trace" "$@" | sed -n 's/^miss_ratio=\([0-9.]*\).*/\1/p'
}
miss_ratio() { printf '%.4f' "$(miss_ratio_raw "$@")"; }

# Reference rows of one REFERENCE.md table (its heading starts with $1).
reference_rows() {
  awk -v heading="$1" '
    index($0, heading) == 1 { inside = 1; next }
    inside && /^### / { inside = 0 }
    inside && /^\| (LRU|FIFO|CLOCK|ARC|S3-FIFO|SIEVE|2Q|OPT) / {
      sub(/^\| /, "| ref "); print }' "$reference"
}

table() {  # chunk_size label heading wss1 wss10 [--reads-only]
  local chunk_size=$1 label=$2 heading=$3 wss1=$4 wss10=$5
  shift 5
  echo "#### $label"
  echo
  echo '```'
  echo "for p in $policies; do for n in 16 32 64 80 128 256 $wss1 $wss10; do"
  echo "  chunkcache sim --trace traces/cloudPhysicsIO.vscsi --chunk-size $chunk_size --capacity-chunks \$n --policy \$p $*"
  echo "done; done"
  echo '```'
  echo
  echo "| policy | 16 | 32 | 64 | 80 | 128 | 256 | 1% WSS=$wss1 | 10% WSS=$wss10 |"
  echo "|---|---|---|---|---|---|---|---|---|"
  for p in $policies; do
    local row="| $p"
    [[ "$p" == "$default_policy" ]] && row="| **$p** (default)"
    for n in 16 32 64 80 128 256 "$wss1" "$wss10"; do
      row+=" | $(miss_ratio --chunk-size "$chunk_size" --capacity-chunks "$n" --policy "$p" "$@")"
    done
    echo "$row |"
  done
  reference_rows "$heading"
  echo
}

live_restore_table() {  # capacity_chunks
  local n=$1
  echo "#### Live-restore mix: 4 MiB chunks, guest reads only, $n chunks"
  echo
  echo '```'
  echo "chunkcache sim --trace traces/cloudPhysicsIO.vscsi --chunk-size 4MiB --capacity-chunks $n --reads-only --policy P                       # no copy"
  echo "chunkcache sim --trace traces/cloudPhysicsIO.vscsi --chunk-size 4MiB --capacity-chunks $n --reads-only --policy P --live-restore-k K   # copy as prefetch"
  echo "chunkcache sim ... --live-restore-k 4 --copy-as-demand                                                                       # copy seen as ordinary reads"
  echo '```'
  echo
  echo "| policy | no copy | K=1 | K=4 | K=16 | K=4 change | K=4, copy as demand | change |"
  echo "|---|---|---|---|---|---|---|---|"
  for p in $policies; do
    local base k1 k4 k16 demand
    base=$(miss_ratio_raw --capacity-chunks "$n" --reads-only --policy "$p")
    k1=$(miss_ratio_raw --capacity-chunks "$n" --reads-only --policy "$p" --live-restore-k 1)
    k4=$(miss_ratio_raw --capacity-chunks "$n" --reads-only --policy "$p" --live-restore-k 4)
    k16=$(miss_ratio_raw --capacity-chunks "$n" --reads-only --policy "$p" --live-restore-k 16)
    demand=$(miss_ratio_raw --capacity-chunks "$n" --reads-only --policy "$p" --live-restore-k 4 \
      --copy-as-demand)
    local name="$p"
    [[ "$p" == "$default_policy" ]] && name="**$p** (default)"
    printf '| %s | %.4f | %.4f | %.4f | %.4f | %+.1f%% | %.4f | %+.1f%% |\n' "$name" "$base" "$k1" "$k4" \
      "$k16" "$(echo "($k4 / $base - 1) * 100" | bc -l)" "$demand" \
      "$(echo "($demand / $base - 1) * 100" | bc -l)"
  done
  echo
}

qemu_table() {  # capacity_chunks
  local n=$1 rates="0.25 1 4"
  echo "#### qemu live-restore model: 4 MiB chunks, guest reads only, $n chunks"
  echo
  echo '```'
  echo "for p in $policies; do for r in $rates; do"
  echo "  chunkcache sim --trace traces/cloudPhysicsIO.vscsi --chunk-size 4MiB --capacity-chunks $n --reads-only --qemu-live-restore --copy-rate \$r --policy \$p"
  echo "done; done"
  echo '```'
  echo
  echo "Per copy rate (block-stream steps of 512 KiB per guest request): guest-visible misses / upstream fetches (guest + copy)."
  echo
  local header="| policy" rule="|---"
  for r in $rates; do header+=" | r=$r guest misses | r=$r fetches"; rule+="|---|---"; done
  echo "$header |"
  echo "$rule|"
  declare -A guest fetches
  for p in $policies; do
    for r in $rates; do
      local line
      line=$("$sim" sim --trace "$trace" --capacity-chunks "$n" --reads-only --qemu-live-restore \
        --copy-rate "$r" --policy "$p")
      guest[$p,$r]=$(sed -n 's/.* misses=\([0-9]*\) copy_requests.*/\1/p' <<<"$line")
      fetches[$p,$r]=$(sed -n 's/.*upstream_fetches=\([0-9]*\).*/\1/p' <<<"$line")
    done
  done
  for p in $policies; do
    local row="| $p"
    [[ "$p" == "$default_policy" ]] && row="| **$p** (default)"
    for r in $rates; do row+=" | ${guest[$p,$r]} | ${fetches[$p,$r]}"; done
    echo "$row |"
  done
  local row="| index: share of the gap best classic → OPT closed"
  for r in $rates; do
    local best=""
    for p in $policies; do
      [[ "$p" == index || "$p" == opt ]] && continue
      if [[ -z "$best" || ${fetches[$p,$r]} -lt $best ]]; then best=${fetches[$p,$r]}; fi
    done
    row+=" | | $(echo "scale=0; 100 * ($best - ${fetches[index,$r]}) / ($best - ${fetches[opt,$r]})" | bc) %"
  done
  echo "$row |"
  echo
}

restores_table() {
  local n=1000 c=500
  echo "#### Two restores of one $n-chunk archive, cache $c chunks"
  echo
  echo '```'
  echo "chunkcache sim --restores-of $n --capacity-chunks $c --second-start S --second-speed V --policy P"
  echo '```'
  echo
  echo "Chunks the second restore fetches upstream, as a share of the archive (the first always fetches all $n)."
  echo
  local cases="0.25,1 0.25,0.5 0.6,1 0.75,1"
  local header="| policy" rule="|---"
  for c_ in $cases; do header+=" | start ${c_%,*}, speed ${c_#*,}"; rule+="|---"; done
  echo "$header |"
  echo "$rule|"
  for p in $policies; do
    local row="| $p"
    [[ "$p" == "$default_policy" ]] && row="| **$p** (default)"
    for c_ in $cases; do
      row+=" | $("$sim" sim --restores-of $n --capacity-chunks $c --second-start "${c_%,*}" \
        --second-speed "${c_#*,}" --policy "$p" | sed -n 's/.*second_fetch_ratio=\([0-9.]*\).*/\1/p' |
        xargs printf '%.3f')"
    done
    echo "$row |"
  done
  echo
}

echo "Binary: \`$sim\`; trace: \`$trace\`; policies: $policies (default $default_policy)."
echo
table 4MiB "4 MiB chunks, all requests" "### cloudPhysicsIO.4M —" 13 131
table 4MiB "4 MiB chunks, reads only" "### cloudPhysicsIO.4M.rd —" 10 100 --reads-only
table 1MiB "1 MiB chunks, all requests" "### cloudPhysicsIO.1M —" 26 262
table 1MiB "1 MiB chunks, reads only" "### cloudPhysicsIO.1M.rd —" 19 198 --reads-only
live_restore_table 64
live_restore_table 16
qemu_table 16
qemu_table 64
restores_table
