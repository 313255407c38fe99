#!/usr/bin/env bash
# The installed package, as a user gets it: install the build into a
# temporary prefix, check the layout, the exported symbols and the man page,
# build tests/install/consumer.c against the installed library
#   (a) with pkg-config (shared library), (b) with pkg-config --static
#       (libprillm.a and the Requires.private/Libs.private it lists),
#   (c) with a CMake project calling find_package(prillm),
# run each from outside the source tree and compare its price with the
# in-tree command's, and run the installed command's --method da from the
# scratch directory (it must find its model under PREFIX/share/prillm, or
# where PRILLM_DATA_DIR says).
#
#   tests/install/check_install.sh [BUILD_DIR]    (default: build)
set -euo pipefail
src=$(cd "$(dirname "$0")/../.." && pwd)
build=$(cd "${1:-$src/build}" && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/prillm-install.XXXXXX")
trap '[ -n "${PRILLM_KEEP_INSTALL_CHECK:-}" ] || rm -rf "$work"' EXIT
prefix=$work/prefix
market=default_market.json
target=anthropic/claude-3.5-haiku
export OPENBLAS_NUM_THREADS=1

fail() { echo "check_install: FAILED: $*" >&2; exit 1; }
pass() { echo "check_install: ok: $*"; }
# 0 if the binary $1 loads a library matching $2 (ldd through a file: grep -q
# closing the pipe early would fail the pipeline under pipefail)
links_to() { ldd "$1" >"$work/ldd.txt" && grep -q "$2" "$work/ldd.txt"; }

cmake --install "$build" --prefix "$prefix" >"$work/install.log" || { cat "$work/install.log" >&2; fail "cmake --install"; }

# ---- layout
pc=$(find "$prefix" -name prillm.pc -path '*/pkgconfig/*' | head -1)
[ -n "$pc" ] || fail "no prillm.pc under $prefix"
libdir=$(cd "$(dirname "$pc")/.." && pwd)
for f in include/prillm/prillm.h include/prillm/export.h include/prillm/config.h bin/prillm \
         share/prillm/$market share/prillm/aggregator/default_model.json; do
  [ -e "$prefix/$f" ] || fail "missing $f"
done
for f in libprillm.a libprillm.so cmake/prillm/prillmConfig.cmake cmake/prillm/prillmConfigVersion.cmake \
         cmake/prillm/prillmTargets.cmake; do
  [ -e "$libdir/$f" ] || fail "missing ${libdir#"$prefix"/}/$f"
done
[ ! -e "$prefix/include/prillm/config.h.in" ] || fail "config.h.in installed"
version=$(sed -n 's/^#define PRILLM_VERSION_STRING "\(.*\)"/\1/p' "$prefix/include/prillm/config.h")
soname=$(readelf -d "$libdir/libprillm.so" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')
[ "$soname" = "libprillm.so.${version%%.*}" ] || fail "SONAME $soname for version $version"
[ -e "$libdir/libprillm.so.$version" ] || fail "no libprillm.so.$version"
if command -v help2man >/dev/null 2>&1; then
  man=$(find "$prefix" -name prillm.1 | head -1)
  [ -n "$man" ] && grep -q '^\.TH PRILLM' "$man" || fail "no man page prillm.1 (help2man is installed)"
  pass "man page ${man#"$prefix"/}"
else
  echo "check_install: help2man not installed: man page not checked"
fi
pass "layout (version $version, SONAME $soname, libdir ${libdir#"$prefix"/})"

# ---- symbols: the .so exports the public API, all of it and nothing else
nm -D --defined-only "$libdir/libprillm.so" | awk '{print $NF}' | sort >"$work/exported"
if grep -v '^prillm_' "$work/exported" >"$work/stray"; then fail "exported beyond the API: $(tr '\n' ' ' <"$work/stray")"; fi
grep -q '^prillm__' "$work/exported" && fail "internal prillm__ symbols exported"
# every function the installed headers declare (gcc -aux-info lists them)
for h in "$prefix"/include/prillm/*.h; do echo "#include <prillm/$(basename "$h")>"; done >"$work/all.c"
cc -std=c11 -I"$prefix/include" -aux-info "$work/aux.txt" -c "$work/all.c" -o "$work/all.o"
grep "$prefix/include/prillm/" "$work/aux.txt" | sed -n 's/.*[ *]\(prillm_[A-Za-z0-9_]*\) (.*/\1/p' | sort -u >"$work/declared"
[ -s "$work/declared" ] || fail "no declaration found in the installed headers"
missing=$(comm -23 "$work/declared" "$work/exported")
[ -z "$missing" ] || fail "declared in the headers but not exported (PRILLM_API missing?): $missing"
pass "libprillm.so exports exactly the $(wc -l <"$work/declared") public functions"

# ---- the reference: the in-tree command's price
expected=$("$build/prillm" price "$src/data/$market" --target "$target" |
           sed -n 's/^  "price": \([^,]*\),$/\1/p')
[ -n "$expected" ] || fail "no price from the in-tree command"

run_consumer() { # name binary
  local got
  got=$(cd "$work" && "$2" "$prefix/share/prillm/$market" "$target" 2>"$work/$1.err") ||
    { cat "$work/$1.err" >&2; fail "$1: consumer failed"; }
  [ "$got" = "price $expected" ] || fail "$1: printed '$got', the command prints price $expected"
}

# ---- (a) pkg-config, shared library
export PKG_CONFIG_PATH=$libdir/pkgconfig${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}
cflags=(-std=c11 -Wall -Wextra -Wpedantic -Werror)
# shellcheck disable=SC2046
cc "${cflags[@]}" "$src/tests/install/consumer.c" -o "$work/consumer_pc" \
   $(pkg-config --cflags --libs prillm) -Wl,-rpath,"$libdir"
links_to "$work/consumer_pc" "$libdir/libprillm.so" || fail "pkg-config: not linked to the installed libprillm.so"
run_consumer pkg-config "$work/consumer_pc"
pass "pkg-config (shared): price $expected"

# ---- (b) pkg-config --static: libprillm.a and what prillm.pc says it needs
static_libs=$(pkg-config --static --libs prillm | sed "s|-lprillm\\b|$libdir/libprillm.a|")
# shellcheck disable=SC2046,SC2086
cc "${cflags[@]}" "$src/tests/install/consumer.c" -o "$work/consumer_static" $(pkg-config --cflags prillm) $static_libs
links_to "$work/consumer_static" libprillm && fail "pkg-config --static: still linked to libprillm.so"
run_consumer pkg-config-static "$work/consumer_static"
pass "pkg-config --static (libprillm.a): price $expected"

# ---- (c) CMake, find_package(prillm), from a copy outside the tree
mkdir -p "$work/project"
cp "$src/tests/install/CMakeLists.txt" "$src/tests/install/consumer.c" "$work/project/"
cmake -S "$work/project" -B "$work/project/build" -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_BUILD_TYPE=Release \
      -DCMAKE_C_FLAGS="-Wall -Wextra -Wpedantic -Werror" >"$work/cmake.log" 2>&1 ||
  { cat "$work/cmake.log" >&2; fail "configuring the find_package project"; }
cmake --build "$work/project/build" >>"$work/cmake.log" 2>&1 || { cat "$work/cmake.log" >&2; fail "building it"; }
links_to "$work/project/build/consumer" "$libdir/libprillm.so" || fail "find_package: not linked to the installed libprillm.so"
run_consumer find_package "$work/project/build/consumer"
pass "find_package(prillm): price $expected"

# ---- the installed command, run from the scratch directory
cd "$work"
"$prefix/bin/prillm" price --help >"$work/help.txt"
grep -q "$prefix/share/prillm/aggregator/default_model.json" "$work/help.txt" ||
  fail "installed prillm price --help does not name the installed model"
"$prefix/bin/prillm" price "$prefix/share/prillm/$market" --target "$target" --method da >"$work/da.json" 2>"$work/da.err" ||
  { cat "$work/da.err" >&2; fail "installed prillm price --method da"; }
grep -q '"method": "da"' "$work/da.json" || fail "installed --method da printed no da result"
# PRILLM_DATA_DIR overrides: a copy of the data works, a wrong place fails clearly
cp -r "$prefix/share/prillm" "$work/data-copy"
cp "$prefix/share/prillm/$market" "$work/$market"
PRILLM_DATA_DIR=$work/data-copy "$prefix/bin/prillm" price "$market" --target "$target" --method da >/dev/null ||
  fail "PRILLM_DATA_DIR=<a copy of the data>: --method da failed"
status=0
PRILLM_DATA_DIR=$work/nowhere "$prefix/bin/prillm" price "$market" --target "$target" --method da \
  >/dev/null 2>"$work/da.err" || status=$?
[ "$status" -eq 5 ] && grep -q "$work/nowhere/aggregator/default_model.json" "$work/da.err" &&
  grep -q PRILLM_DATA_DIR "$work/da.err" || fail "PRILLM_DATA_DIR=<nowhere>: exit $status, $(cat "$work/da.err")"
pass "installed prillm price --method da finds its model (share/prillm, PRILLM_DATA_DIR)"
echo "check_install: all passed"
