#!/usr/bin/env bash
# Installs the Debian packages writeback builds and tests with. Idempotent: apt is asked only
# for what is missing, so a second run costs a dpkg query. Installs without Recommends, so
# everything used must be named here or be a Depends of something named here:
# tests/unit/0061-deps.py checks that against what the scripts and tests run (iproute2: `ss`
# in tests/services/samba.sh; systemd: `systemd-analyze verify` in tests/unit/0060).
set -euo pipefail

pkgs=(
  build-essential cmake pkg-config
  librdkafka-dev libcurl4-openssl-dev libcjson-dev libldap-dev libmicrohttpd-dev libcmocka-dev
  clang-format
  samba samba-ad-dc samba-ad-provision ldap-utils
  openjdk-17-jre-headless maven
  python3 python3-yaml python3-confluent-kafka curl openssl git
  iproute2 systemd docker-compose prometheus
)

missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# A JDK 17 or newer and Maven found on PATH count as installed (the machine image ships them).
if command -v java >/dev/null && command -v mvn >/dev/null; then
  keep=()
  for p in "${missing[@]}"; do
    case "$p" in openjdk-17-jre-headless|maven) ;; *) keep+=("$p") ;; esac
  done
  missing=("${keep[@]+"${keep[@]}"}")
fi

if [ "${#missing[@]}" -eq 0 ]; then
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "install-deps: missing packages: ${missing[*]}; run as root or install them" >&2
  exit 1
fi
echo "install-deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
