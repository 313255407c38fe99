#!/usr/bin/env bash
# The Python package's tests: find (or build) libprillm.so, install python/
# into a throw-away virtual environment (or, failing that, pip --target a
# temporary folder), run pytest on python/tests against the installed copy.
# Offline: numpy and pytest come from Debian (python3-numpy, python3-pytest;
# the venv sees them through --system-site-packages), nothing is downloaded.
#
#   bash scripts/python_test.sh            # exit status: pytest's (0 = all passed)
#   PRILLM_LIBRARY=/path/libprillm.so bash scripts/python_test.sh
#
# The library, first found: $PRILLM_LIBRARY; build/libprillm.so (brought up
# to date with cmake --build first); else the build tree is configured and
# built (targets prillm and prillm_cli) and build/libprillm.so used if the
# project makes one; else (a project that only makes the static library) a
# position-independent build in build-python/ linked into
# build-python/libprillm.so by hand. The tests compare against the command
# built next to the library (or $PRILLM_CLI).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PY=/usr/bin/python3 # the system interpreter: pyenv shims may shadow python3
[ -x "$PY" ] || PY="$(command -v python3)"
JOBS="${JOBS:-$(nproc 2>/dev/null || echo 2)}"

say() { printf 'python_test: %s\n' "$*" >&2; }

missing=()
"$PY" -c 'import numpy' 2>/dev/null || missing+=(python3-numpy)
"$PY" -c 'import pytest' 2>/dev/null || missing+=(python3-pytest)
"$PY" -c 'import setuptools' 2>/dev/null || missing+=(python3-setuptools)
"$PY" -m pip --version >/dev/null 2>&1 || missing+=(python3-pip)
"$PY" -c 'import ensurepip, venv' 2>/dev/null || missing+=(python3-venv)
if [ "${#missing[@]}" -gt 0 ]; then
    say "installing ${missing[*]}"
    SUDO=""
    [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    $SUDO apt-get install -y "${missing[@]}" >&2 || {
        $SUDO apt-get update >&2 && $SUDO apt-get install -y "${missing[@]}" >&2
    }
fi

# ---- the shared library --------------------------------------------------
link_by_hand() {
    local dir="$ROOT/build-python"
    say "building a position-independent static library in $dir and linking it into libprillm.so"
    cmake -S "$ROOT" -B "$dir" -DCMAKE_BUILD_TYPE=Release -DPRILLM_TESTS=OFF -DPRILLM_BENCH=OFF \
        -DCMAKE_POSITION_INDEPENDENT_CODE=ON >/dev/null
    cmake --build "$dir" -j "$JOBS" >/dev/null
    if [ -f "$dir/libprillm.so" ] && [ "$dir/libprillm.so" -nt "$dir/libprillm.a" ]; then
        :
    else
        # shellcheck disable=SC2046
        gcc -shared -o "$dir/libprillm.so" -Wl,--whole-archive "$dir/libprillm.a" -Wl,--no-whole-archive \
            $(pkg-config --libs libcjson openblas lapacke ipopt xgboost) -lglpk -lz -lgomp -lm
    fi
    LIB="$dir/libprillm.so"
}

if [ -n "${PRILLM_LIBRARY:-}" ]; then
    LIB="$PRILLM_LIBRARY"
    [ -f "$LIB" ] || { say "PRILLM_LIBRARY=$LIB does not exist"; exit 2; }
elif [ -f "$ROOT/build/libprillm.so" ]; then
    LIB="$ROOT/build/libprillm.so"
    if [ -f "$ROOT/build/CMakeCache.txt" ]; then
        # up to date with the sources (a no-op when it is): the library and the command the tests compare with
        cmake --build "$ROOT/build" -j "$JOBS" --target prillm prillm_cli >/dev/null
    fi
else
    if grep -q 'SHARED' "$ROOT/CMakeLists.txt"; then
        say "building $ROOT/build (for libprillm.so)"
        cmake -S "$ROOT" -B "$ROOT/build" -DCMAKE_BUILD_TYPE=Release >/dev/null
        cmake --build "$ROOT/build" -j "$JOBS" --target prillm prillm_cli >/dev/null
    fi
    if [ -f "$ROOT/build/libprillm.so" ]; then
        LIB="$ROOT/build/libprillm.so"
    else
        link_by_hand
    fi
fi
export PRILLM_LIBRARY="$LIB"
say "library: $PRILLM_LIBRARY"

# ---- install into a temporary environment --------------------------------
TMP="$(mktemp -d "${TMPDIR:-/tmp}/prillm-python.XXXXXX")"
trap 'rm -rf "$TMP"' EXIT
# install from a copy: pip leaves build/ and *.egg-info in the source folder
cp -r "$ROOT/python" "$TMP/src"
rm -rf "$TMP/src/build" "$TMP/src/"*.egg-info "$TMP/src/prillm/libprillm.so"*
PYTEST_PY=""
if "$PY" -m venv --system-site-packages "$TMP/venv" >/dev/null 2>&1 &&
    "$TMP/venv/bin/python" -m pip install --quiet --no-build-isolation --no-deps --no-index "$TMP/src" >&2; then
    PYTEST_PY="$TMP/venv/bin/python"
    say "installed into a virtual environment ($TMP/venv)"
else
    say "venv install failed; installing with pip --target"
    "$PY" -m pip install --quiet --no-build-isolation --no-deps --no-index --target "$TMP/site" "$TMP/src" >&2
    export PYTHONPATH="$TMP/site${PYTHONPATH:+:$PYTHONPATH}"
    PYTEST_PY="$PY"
fi

# ---- run -----------------------------------------------------------------
# from a neutral folder, so `import prillm` is the installed copy
cd "$TMP"
"$PYTEST_PY" -c 'import prillm, sys; print("python_test: testing %s with %s" % (prillm.__file__, prillm.library_path()), file=sys.stderr)'
set +e
"$PYTEST_PY" -m pytest -q -rs -p no:cacheprovider "$ROOT/python/tests" 2>&1 | tee "$TMP/pytest.log" >&2
status=${PIPESTATUS[0]}
set -e
# pytest's summary line ("38 passed in 5.1s") on stdout
grep -E '^(=+ )?[0-9]+ (passed|failed|error|skipped)|no tests ran' "$TMP/pytest.log" | tail -1 | sed 's/^=* *//; s/ *=*$//'
exit "$status"
