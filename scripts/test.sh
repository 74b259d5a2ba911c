#!/usr/bin/env bash
# Installs what is missing, builds, and runs every test of chunkcache:
#   1. the release build (build/) and all its tests,
#   2. the ASan+UBSan build (build/asan) and all its tests,
#   3. the ThreadSanitizer build (build/tsan) and the concurrency-heavy tests,
#   4. a short libFuzzer run of every fuzz target (build/fuzz).
# Usage: scripts/test.sh [--no-sanitizers] [--no-fuzz]
set -euo pipefail
cd "$(dirname "$0")/.."

run_sanitizers=1
run_fuzz=1
for arg in "$@"; do
  case "$arg" in
    --no-sanitizers) run_sanitizers=0 ;;
    --no-fuzz) run_fuzz=0 ;;
    *) echo "usage: $0 [--no-sanitizers] [--no-fuzz]" >&2; exit 2 ;;
  esac
done

scripts/install-deps.sh
export CCACHE_DIR=${CCACHE_DIR:-$HOME/.cache/ccache}
# Paths inside the checkout are hashed relative to it, so another clone's objects are hits.
export CCACHE_BASEDIR=${CCACHE_BASEDIR:-$PWD} CCACHE_NOHASHDIR=${CCACHE_NOHASHDIR:-1}
jobs=$(nproc)

step() { printf '\n=== %s ===\n' "$*"; }

step "release build and tests (build/)"
cmake --preset default >/dev/null
cmake --build --preset default -j"$jobs"
ctest --preset default

if [ "$run_sanitizers" = 1 ]; then
  step "ASan+UBSan build and tests (build/asan)"
  cmake --preset asan >/dev/null
  cmake --build --preset asan -j"$jobs"
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
    ctest --preset asan

  step "ThreadSanitizer build and concurrency tests (build/tsan)"
  cmake --preset tsan >/dev/null
  cmake --build --preset tsan -j"$jobs"
  TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1 ctest --preset tsan -L tsan
fi

if [ "$run_fuzz" = 1 ] && [ -x scripts/fuzz-smoke.sh ]; then
  step "fuzz smoke run (build/fuzz)"
  scripts/fuzz-smoke.sh
fi

step "all tests passed"
