#!/usr/bin/env bash
# Fails when any C source or header is not formatted as .clang-format says.
set -euo pipefail
root=${WB_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
cd "$root"
dirs=()
for d in common producer worker ctl tests; do [ -d "$d" ] && dirs+=("$d"); done
mapfile -t files < <(find "${dirs[@]}" -name '*.[ch]' -not -path '*/build*' | sort)
if [ "${#files[@]}" -eq 0 ]; then
  echo "no C files found under $root" >&2
  exit 1
fi
if ! clang-format --dry-run -Werror "${files[@]}"; then
  echo "format check failed: run clang-format -i on the files above" >&2
  exit 1
fi
echo "format check: ${#files[@]} files formatted"
