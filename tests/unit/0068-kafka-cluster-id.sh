#!/usr/bin/env bash
# 0068-kafka-cluster-id: the test broker's cluster id (tests/services/kafka.sh cluster-id [N]) is
# 16 bytes in URL-safe base64 and never begins with '-', which StorageTool's format would read
# as an option and fail on ("expected one argument"): 1 fresh start in 64 before the fix. 1,000
# draws find such an id with probability 1 - (63/64)^1000, above 0.9999998, when it can happen.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
kafka_sh=$here/../services/kafka.sh
ids=$(bash "$kafka_sh" cluster-id 1000 2>/dev/null || true)
n=$(grep -c . <<<"$ids")
[[ $n -eq 1000 ]] || { echo "FAIL: $n ids printed, expected 1000"; exit 1; }
bad=$(grep -vE '^[A-Za-z0-9_][A-Za-z0-9_-]{21}$' <<<"$ids" || true)
if [[ -n $bad ]]; then
    echo "FAIL: ids StorageTool cannot take or not 22 URL-safe base64 characters:"
    head -5 <<<"$bad"
    exit 1
fi
dup=$(sort <<<"$ids" | uniq -d | head -1)
[[ -z $dup ]] || { echo "FAIL: the same id twice: $dup"; exit 1; }
echo "ok: 1000 ids, none begins with '-'"
