#!/usr/bin/env bash
# Installs every Debian 12 package chunkcache needs to build, test and run its demo.
# Idempotent: prints nothing and touches nothing when all packages are already present.
#
#   scripts/install-deps.sh               # build, tests, benchmarks, fuzzers and the demo
#   scripts/install-deps.sh --build-only  # only what building chunkcached and chunkcache needs
#                                         # (the Dockerfile's build stage)
set -euo pipefail

build_only=0
case "${1:-}" in
  "") ;;
  --build-only) build_only=1 ;;
  *) echo "usage: $0 [--build-only]" >&2; exit 2 ;;
esac

# Enough for `cmake --preset default -DCHUNKCACHE_BUILD_TESTS=OFF -DCHUNKCACHE_BUILD_BENCH=OFF`
# and the chunkcached and chunkcache targets.
build_packages=(
  # toolchain
  g++ cmake ninja-build ccache pkg-config
  # libraries
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler libabsl-dev
  libssl-dev libzstd-dev zlib1g-dev prometheus-cpp-dev libspdlog-dev libfmt-dev
  nlohmann-json3-dev libcli11-dev libnghttp2-dev
)
packages=(
  "${build_packages[@]}"
  # the rest of the toolchain
  git clang libclang-rt-14-dev
  # tests and benchmarks
  libgtest-dev libgmock-dev libbenchmark-dev zstd e2fsprogs prometheus
  python3 python3-grpcio python3-grpc-tools python3-matplotlib python3-yaml openssl unzip
  # programs the scripts call (demo metrics), the test PBS server, and the NBD peers
  curl python3-h2 libnbd-bin python3-libnbd nbdkit qemu-utils
)
[ "$build_only" = 1 ] && packages=("${build_packages[@]}")

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "install-deps: installing ${missing[*]}" >&2
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q >/dev/null
$SUDO apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
