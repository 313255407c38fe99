#!/usr/bin/env bash
# Install what is missing, build, and run the whole test suite: the release
# build, the same tests under AddressSanitizer + UndefinedBehaviorSanitizer,
# valgrind on the reader and the command line, and a short libFuzzer run on
# the market reader (when clang is available).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh test
jobs=$(nproc)
export OPENBLAS_NUM_THREADS=1

echo "== release build and tests"
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DPRILLM_TESTS=ON >/dev/null
cmake --build build -j "$jobs" >/dev/null
(cd build && ctest --no-tests=error --output-on-failure -j "$jobs")

echo "== AddressSanitizer + UndefinedBehaviorSanitizer"
cmake -S . -B build-sanitize -DCMAKE_BUILD_TYPE=Debug -DPRILLM_SANITIZE=ON -DPRILLM_BENCH=OFF >/dev/null
cmake --build build-sanitize -j "$jobs" >/dev/null
(cd build-sanitize && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
   ctest --no-tests=error --output-on-failure -j "$jobs")

echo "== valgrind"
vg="valgrind --quiet --leak-check=full --errors-for-leak-kinds=definite --error-exitcode=1"
$vg build/tests/test_market_io >/dev/null
$vg build/prillm equilibrium data/default_market.json >/dev/null
build/prillm generate --users 40 --providers 15 --seed 7 | $vg build/prillm equilibrium - --csv >/dev/null
$vg build/prillm price data/default_market.json --target anthropic/claude-3.5-haiku >/dev/null
build/prillm generate --users 4 --providers 3 --seed 7 > build/small_market.json
for method in bf grid spiter pmpec smooth odca spgce; do
  $vg build/prillm price build/small_market.json --target model-1 --method $method >/dev/null
done
PRILLM_SOURCE_DIR=$PWD PRILLM_CLI=$PWD/build/prillm $vg build/tests/test_ttc >/dev/null
$vg build/prillm auction data/ttc/golden.json >/dev/null
$vg build/prillm ttc-market data/ttc/gsm8k_majority.json >/dev/null
$vg build/tests/test_aggregation >/dev/null
$vg build/prillm train-aggregator data/default_market.json --out build/valgrind_model.json --scenarios 20 --epochs 2 --quiet >/dev/null
$vg build/prillm lmaas data/lmaas/example.json --compare >/dev/null
build/prillm lmaas --generate --customers 30 --models 3 --seed 7 | $vg build/prillm lmaas - --compare >/dev/null
$vg build/tests/test_calibration_gradient >/dev/null
$vg build/prillm calibrate --data data/calibration_synthetic --out /dev/null --folds 2 --iterations 50 >/dev/null
$vg build/prillm delegate data/delegation/example.json >/dev/null
$vg build/prillm delegate data/delegation/nlgraph_maxflow.json --horizon 30000 >/dev/null
$vg build/tests/test_delegation test_bad_input >/dev/null
echo "valgrind: clean"

if command -v clang >/dev/null 2>&1; then
  echo "== libFuzzer: market reader, ${PRILLM_FUZZ_SECONDS:-30} s"
  CC=clang cmake -S . -B build-fuzz -DPRILLM_FUZZ=ON -DPRILLM_TESTS=OFF -DPRILLM_BENCH=OFF >/dev/null
  cmake --build build-fuzz --target fuzz_market -j "$jobs" >/dev/null
  corpus=$(mktemp -d)
  cp fuzz/corpus/* data/default_market.json "$corpus"/
  build-fuzz/fuzz/fuzz_market -max_total_time="${PRILLM_FUZZ_SECONDS:-30}" -max_len=65536 "$corpus" 2>&1 | tail -3
  rm -rf "$corpus"
fi
echo "== all tests passed"
