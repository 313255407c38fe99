#!/usr/bin/env bash
# Installs, from Debian's packages, whatever is needed and missing.
#   scripts/deps.sh build   what the default configure and build need (the
#                           tests are built only when cmocka is found, so
#                           this does not need it); Open MPI for prillm-sweep
#                           (PRILLM_WITH_MPI) and mpirun, which its test uses
#   scripts/deps.sh bench   also what the benchmark scripts run besides the
#                           build: /usr/bin/time (scripts/bench_sweep.sh,
#                           scripts/bench_targets.sh) and python3
#                           (bench/service/bench_service.py)
#   scripts/deps.sh test    also what scripts/test.sh needs: cmocka, clang
#                           with libFuzzer and OpenMP, valgrind, help2man
#                           (the installed man page), chromium (the
#                           explain report's headless rendering test), and a locale
#                           whose decimal separator is ',' (de_DE.UTF-8) for
#                           the reader's locale test
# Needs root, or sudo, only when something is missing. apt's output goes to a
# log file and is shown only when it fails.
set -euo pipefail

what=${1:-build}
case "$what" in
  build|bench|test) ;;
  *) echo "usage: scripts/deps.sh [build|bench|test]" >&2; exit 2 ;;
esac

packages=(gcc make cmake pkg-config libc6-dev
          libcjson-dev libopenblas-dev liblapacke-dev coinor-libipopt-dev
          libglpk-dev libxgboost-dev zlib1g-dev libmicrohttpd-dev
          libopenmpi-dev openmpi-bin)
# the comma-decimal locale test/io/test_market_io.c tries first
locale_name=de_DE.UTF-8
need_locale=0
[ "$what" = bench ] && packages+=(time python3)
if [ "$what" = test ]; then
  # clang's libFuzzer and sanitizer runtimes (libclang-rt), and its OpenMP
  # (the fuzz build configures the whole project with clang, which needs
  # omp.h and libomp)
  packages+=(libcmocka-dev clang libclang-rt-14-dev libomp-14-dev valgrind help2man locales
             python3 python3-numpy python3-pytest python3-setuptools python3-pip python3-venv
             chromium)
  locale -a 2>/dev/null | grep -qix 'de_DE\.utf-\?8' || need_locale=1
fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && [ $need_locale -eq 0 ] && exit 0

sudo=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then sudo=sudo
  else
    echo "prillm: need root (or sudo) to install: ${missing[*]:-}$([ $need_locale -eq 1 ] && echo " (and generate locale $locale_name)")" >&2
    exit 1
  fi
fi

log=$(mktemp "${TMPDIR:-/tmp}/prillm-deps.XXXXXX.log")
# run a step with its output in the log; on failure show the log and stop
quietly() {
  if ! "$@" >>"$log" 2>&1; then
    echo "prillm: failed: $*" >&2
    cat "$log" >&2
    echo "prillm: (this output is also in $log)" >&2
    exit 1
  fi
}

if [ ${#missing[@]} -gt 0 ]; then
  echo "prillm: installing missing packages: ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  quietly $sudo apt-get update
  quietly $sudo apt-get install -y --no-install-recommends "${missing[@]}"
fi

if [ "$what" = test ] && ! locale -a 2>/dev/null | grep -qix 'de_DE\.utf-\?8'; then
  echo "prillm: generating locale $locale_name" >&2
  if ! grep -q "^$locale_name UTF-8" /etc/locale.gen 2>/dev/null; then
    quietly $sudo sh -c "echo '$locale_name UTF-8' >> /etc/locale.gen"
  fi
  quietly $sudo locale-gen
fi
rm -f "$log"
