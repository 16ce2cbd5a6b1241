#!/usr/bin/env bash
# The long fuzz run (CTest 0089-fuzz-long, label bench): every target for SECONDS seconds
# (default 600) from the committed seed corpus; new corpus entries go to
# BUILD/fuzz-corpus/<target>/ so they can be reviewed and committed. Exit status: the first
# target's failure (a finding), else 0.
set -euo pipefail
bin=${1:?usage: long.sh FUZZ_BUILD_DIR [SECONDS]}
secs=${2:-600}
src=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
rc=0
for t in event graph-page ckpt scope range; do
  out=$bin/fuzz-corpus/$t
  mkdir -p "$out"
  "$bin/wb-fuzz-$t" -t "$secs" -o "$out" "$src/corpus/$t" || { rc=$?; echo "FINDING in $t"; }
done
exit $rc
