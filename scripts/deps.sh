#!/usr/bin/env bash
# Installs, from Debian's packages, whatever the build needs and is missing.
# Usage: scripts/deps.sh [build|test]   (test adds the sanitizer, fuzzing
# and valgrind tools). Needs root, or sudo, only when something is missing.
set -euo pipefail

packages=(gcc make cmake pkg-config libc6-dev
          libcjson-dev libopenblas-dev liblapacke-dev coinor-libipopt-dev
          libglpk-dev libxgboost-dev zlib1g-dev)
if [ "${1:-build}" = test ]; then
  packages+=(libcmocka-dev clang libclang-rt-14-dev valgrind)
fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "prillm: installing missing packages: ${missing[*]}" >&2
sudo=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then sudo=sudo
  else echo "prillm: need root (or sudo) to install: ${missing[*]}" >&2; exit 1; fi
fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
