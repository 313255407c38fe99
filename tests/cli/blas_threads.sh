#!/usr/bin/env bash
# The same command prints the same figures whatever OpenBLAS's thread count
# (registered in tests/CMakeLists.txt as cli_blas_threads). OpenBLAS splits
# some sums between its threads, so without the command line's pin
# (PRILLM_BLAS_THREADS, default 1) a 3000 x 300 equilibrium differs in the
# last digits between OPENBLAS_NUM_THREADS=1 and 2 on this project's 2-core CI
# machine. With the shared OpenRouter data beside the source tree, the fit and
# predict are checked the same way (skipped without it).
#   blas_threads.sh PRILLM SOURCE_DIR
set -euo pipefail
prillm=$1 source_dir=$2
work=$(mktemp -d "${TMPDIR:-/tmp}/prillm-blas-test.XXXXXX")
trap 'rm -rf "$work"' EXIT
cd "$work"
fail() { echo "FAIL: $*" >&2; exit 1; }
# the one field two runs may differ in
mask() { sed -E 's/"(method_)?seconds": [^,}]*/"\1seconds": T/g' "$1"; }
same() { cmp -s <(mask "$1") <(mask "$2") || fail "$3: $1 and $2 differ"; }

"$prillm" generate --users 3000 --providers 300 --seed 3 > m.json
for t in 1 2; do
  OPENBLAS_NUM_THREADS=$t "$prillm" equilibrium m.json > eq$t.json
  OPENBLAS_NUM_THREADS=$t "$prillm" price m.json --target model-7 --json > price$t.json
done
same eq1.json eq2.json "equilibrium, OPENBLAS_NUM_THREADS 1 vs 2"
same price1.json price2.json "price, OPENBLAS_NUM_THREADS 1 vs 2"

# a bad PRILLM_BLAS_THREADS is a usage error naming the variable
set +e
PRILLM_BLAS_THREADS=zero "$prillm" equilibrium m.json > /dev/null 2> err.txt
rc=$?
set -e
[ "$rc" = 2 ] || fail "PRILLM_BLAS_THREADS=zero: exit $rc, want 2"
grep -q PRILLM_BLAS_THREADS err.txt || fail "PRILLM_BLAS_THREADS=zero: the message does not name the variable"

data="$source_dir/../shared/data/openrouter"
if [ -f "$data/models.csv" ]; then
  for t in 1 2; do
    OPENBLAS_NUM_THREADS=$t "$prillm" fit --data "$data" --max-models 40 --max-apps 60 --out fit$t.json --quiet > /dev/null
    OPENBLAS_NUM_THREADS=$t "$prillm" predict fit1.json --data "$data" --date 2026-08-01 --json --out predict$t.json --quiet
  done
  same fit1.json fit2.json "fit, OPENBLAS_NUM_THREADS 1 vs 2"
  same predict1.json predict2.json "predict, OPENBLAS_NUM_THREADS 1 vs 2"
else
  echo "shared OpenRouter data absent: fit and predict not checked"
fi
echo "same output with 1 and 2 OpenBLAS threads"
