#!/usr/bin/env bash
# The open-ended libFuzzer search on the market reader, the equilibrium and
# exact pricing (fuzz/fuzz_market.c), for SECONDS (default 60). Unlike
# scripts/test.sh, which replays the seeds in fuzz/corpus/ as regression
# tests, this looks for new failures, so its verdict depends on what a random
# search finds. Everything it writes stays under build-fuzz/search/: the
# growing corpus (corpus/, seeded from fuzz/corpus/ and the default market),
# the failing inputs (artifacts/crash-*, leak-*, timeout-*, ...) and the log
# (fuzz.log). fuzz/README.md says how to turn a finding into a named seed.
# Usage: scripts/fuzz.sh [SECONDS]
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
case "$seconds" in
  ''|*[!0-9]*|0) echo "usage: scripts/fuzz.sh [SECONDS]   (a positive whole number; default 60)" >&2; exit 2 ;;
esac
bash scripts/deps.sh test
export OPENBLAS_NUM_THREADS=1

CC=clang cmake -S . -B build-fuzz -DPRILLM_FUZZ=ON -DPRILLM_TESTS=OFF -DPRILLM_BENCH=OFF >/dev/null
cmake --build build-fuzz --target fuzz_market -j "$(nproc)" >/dev/null

root=$PWD
work=$root/build-fuzz/search
mkdir -p "$work/corpus" "$work/artifacts"
# the seeds, without overwriting what earlier runs found (libFuzzer adds its
# new inputs to the first corpus directory, named by their sha1)
for seed in fuzz/corpus/* data/default_market.json; do
  [ -e "$work/corpus/$(basename "$seed")" ] || cp "$seed" "$work/corpus/"
done
list_artifacts() { (cd "$work/artifacts" && find . -type f | sed 's|^\./||' | sort); }
before=$(list_artifacts)

echo "== libFuzzer: market reader, equilibrium and exact pricing, $seconds s (log: build-fuzz/search/fuzz.log)"
set +e
(cd "$work" && "$root/build-fuzz/fuzz/fuzz_market" -max_total_time="$seconds" -max_len=65536 -timeout=60 \
   -dict="$root/fuzz/market.dict" -artifact_prefix="$work/artifacts/" corpus >fuzz.log 2>&1)
status=$?
set -e
grep -E '^#[0-9]+[[:space:]]+(DONE|pulse|NEW|REDUCE|INITED)' "$work/fuzz.log" | tail -1 || true
grep -E '^Done [0-9]+ runs' "$work/fuzz.log" || true
echo "corpus: $(find "$work/corpus" -type f | wc -l) inputs in build-fuzz/search/corpus/"
if [ $status -ne 0 ]; then
  grep -E 'ERROR|SUMMARY|fuzz_market.c:' "$work/fuzz.log" | head -10 >&2 || true
  echo "fuzz: the search found a failure (exit $status); the input is in build-fuzz/search/artifacts/:" >&2
  comm -13 <(echo "$before") <(list_artifacts) | sed 's|^|  build-fuzz/search/artifacts/|' >&2
  echo "fuzz: see fuzz/README.md to replay it and turn it into a named seed in fuzz/corpus/" >&2
  exit $status
fi
echo "fuzz: no failure in $seconds s"
