#!/usr/bin/env bash
# The one test command: installs what is missing, builds the sanitizer build, starts the real
# services (Kafka broker in KRaft mode, Samba AD DC), runs every CTest label except `bench` and
# `fresh`, and stops the services it started even when tests fail. Exit status is ctest's.
#
#   ./tests/run.sh                 everything but benchmarks and the fresh-root run
#   ./tests/run.sh -L unit         only one label (extra arguments go to ctest; with -L the
#                                  labels are the caller's choice: -L bench runs benchmarks)
#   WB_KEEP_SERVICES=1 ./tests/run.sh   leave the services running afterwards
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${WB_BUILD_DIR:-$root/build/test}
export WB_STATE_DIR=${WB_STATE_DIR:-$root/.wb}
mkdir -p "$WB_STATE_DIR"

step() { printf '[run.sh %s] %s\n' "$(date +%H:%M:%S)" "$*"; }

t0=$(date +%s)
step "installing Debian packages (if missing)"
"$root/deploy/install-deps.sh"

step "configuring and building the sanitizer build in $build"
cmake -S "$root" -B "$build" -DWB_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug >/dev/null
cmake --build "$build" -j"$(nproc)" -- --no-print-directory

services=()
stop_services() {
  local s
  if [ "${WB_KEEP_SERVICES:-0}" = 1 ]; then
    step "leaving services running (WB_KEEP_SERVICES=1)"
    return
  fi
  for s in "${services[@]+"${services[@]}"}"; do
    step "stopping $s"
    "$root/tests/services/$s.sh" down || true
  done
}
trap stop_services EXIT

envfile="$WB_STATE_DIR/test-env.sh"
: >"$envfile"
for s in kafka samba; do
  step "starting $s"
  services+=("$s")
  "$root/tests/services/$s.sh" up >>"$envfile"
done
# shellcheck disable=SC1090
. "$envfile"
step "services up after $(($(date +%s) - t0)) s"

# Benchmarks and the fresh-root run (tests/fresh: 30-60 min, builds a Debian root) only when
# asked for by label.
exclude=(-LE '^(bench|fresh)$')
for a in "$@"; do
  case $a in -L | --label-regex | -L?* | --label-regex=*) exclude=() ;; esac
done
set +e
ctest --test-dir "$build" --output-on-failure --no-tests=error "${exclude[@]+"${exclude[@]}"}" "$@"
rc=$?
set -e
step "done in $(($(date +%s) - t0)) s, ctest exit $rc"
exit $rc
