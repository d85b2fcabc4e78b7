#!/usr/bin/env bash
# Installs every Debian package autoinfer needs to build and test on Debian 12.
# Idempotent: does nothing when everything is already there.
set -euo pipefail
PKGS=(build-essential cmake pkg-config git python3 python3-pip python3-venv unzip
      libpcre2-dev libcjson-dev libcmocka-dev clang libclang-rt-14-dev)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
echo "setup: installing ${missing[*]}"
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
