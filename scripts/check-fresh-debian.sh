#!/usr/bin/env bash
# Runs the README's two commands (the demo, then the tests) on a clean clone of HEAD in a fresh
# Debian 12 container, as a new user on a new machine would: nothing installed but what the
# project's scripts install. Catches a program the scripts call that install-deps.sh misses.
#
#   scripts/check-fresh-debian.sh                       # scripts/demo.sh, then scripts/test.sh
#   scripts/check-fresh-debian.sh 'scripts/demo.sh'     # any command lines, run in order
#
# Needs podman and a Debian 12 base image, which ../shared/tools/ provides (container-env.sh
# builds the image with debootstrap); the log goes to $FRESH_LOG (default
# /var/tmp/fresh-check.log).
set -euo pipefail
cd "$(dirname "$0")/.."
checker=../shared/tools/fresh-debian-check.sh
if [ ! -x "$checker" ]; then
  echo "check-fresh-debian: $checker not found (it comes with the shared tools beside the checkout)" >&2
  exit 2
fi
if [ $# -eq 0 ]; then
  set -- 'scripts/demo.sh' 'scripts/test.sh'
fi
exec "$checker" "$@"
