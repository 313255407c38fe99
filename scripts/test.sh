#!/usr/bin/env bash
# Install what is missing, build, and run the whole test suite: the release
# build, the installed package (tests/install/check_install.sh), the minimal
# configuration (every optional component off), the same tests under
# AddressSanitizer + UndefinedBehaviorSanitizer,
# valgrind on the reader and the command line, and a replay of the fuzzer's
# seed corpus (fuzz/corpus/) through the libFuzzer target, each seed once.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh test
jobs=$(nproc)
export OPENBLAS_NUM_THREADS=1

echo "== release build and tests"
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DPRILLM_TESTS=ON >/dev/null
cmake --build build -j "$jobs" >/dev/null
(cd build && ctest --no-tests=error --output-on-failure -j "$jobs")

echo "== install"
bash tests/install/check_install.sh build

echo "== python: the package over build/libprillm.so (pytest)"
PRILLM_LIBRARY="$PWD/build/libprillm.so" PRILLM_CLI="$PWD/build/prillm" bash scripts/python_test.sh

echo "== minimal configuration: GLPK, XGBoost, Ipopt, OpenMP, MPI and libmicrohttpd off"
# the core needs only cJSON, LAPACK/BLAS and zlib; the tests that need a
# missing component skip, test_components checks its error
cmake -S . -B build-minimal -DCMAKE_BUILD_TYPE=Release -DPRILLM_TESTS=ON -DPRILLM_BENCH=OFF \
  -DPRILLM_WITH_GLPK=OFF -DPRILLM_WITH_XGBOOST=OFF -DPRILLM_WITH_IPOPT=OFF -DPRILLM_WITH_OPENMP=OFF \
  -DPRILLM_WITH_MPI=OFF -DPRILLM_WITH_MICROHTTPD=OFF >/dev/null
cmake --build build-minimal -j "$jobs" >/dev/null
(cd build-minimal && ctest --no-tests=error --output-on-failure -j "$jobs")
bash tests/install/check_install.sh build-minimal

echo "== AddressSanitizer + UndefinedBehaviorSanitizer"
cmake -S . -B build-sanitize -DCMAKE_BUILD_TYPE=Debug -DPRILLM_SANITIZE=ON -DPRILLM_BENCH=OFF >/dev/null
cmake --build build-sanitize -j "$jobs" >/dev/null
(cd build-sanitize && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
   ctest --no-tests=error --output-on-failure -j "$jobs")

echo "== valgrind"
vg="valgrind --quiet --leak-check=full --errors-for-leak-kinds=definite --error-exitcode=1"
$vg build/tests/test_market_io >/dev/null
PRILLM_CLI=$PWD/build/prillm $vg build/tests/test_market_binary >/dev/null
$vg build/prillm convert data/default_market.json build/valgrind_market.bin --quiet
$vg build/prillm validate build/valgrind_market.bin >/dev/null
$vg build/prillm equilibrium data/default_market.json >/dev/null
build/prillm generate --users 40 --providers 15 --seed 7 | $vg build/prillm equilibrium - --csv >/dev/null
$vg build/prillm price data/default_market.json --target anthropic/claude-3.5-haiku >/dev/null
$vg build/tests/test_explain >/dev/null
$vg build/tests/test_result_json >/dev/null
$vg build/prillm explain data/default_market.json --target anthropic/claude-3.5-haiku --sensitivities 2 >/dev/null
build/prillm generate --users 4 --providers 3 --seed 7 > build/small_market.json
$vg build/prillm equilibrium build/small_market.json --top 2 >/dev/null
$vg build/prillm equilibrium build/small_market.json --no-flows >/dev/null
$vg build/prillm equilibrium build/small_market.json --csv --top 1 >/dev/null
$vg build/prillm explain build/small_market.json --target model-1 --method min --k 1 --compare --format md --quiet >/dev/null
for method in bf grid spiter pmpec smooth odca spgce; do
  $vg build/prillm price build/small_market.json --target model-1 --method $method >/dev/null
done
PRILLM_SOURCE_DIR=$PWD PRILLM_CLI=$PWD/build/prillm $vg build/tests/test_ttc >/dev/null
$vg build/prillm auction data/ttc/golden.json >/dev/null
$vg build/prillm ttc-market data/ttc/gsm8k_majority.json >/dev/null
PRILLM_SOURCE_DIR=$PWD PRILLM_CLI=$PWD/build/prillm $vg build/tests/test_ttc_auction >/dev/null
$vg build/prillm auction --curves data/ttc/example_results.csv --scale 0.008 --method majority >/dev/null
$vg build/prillm ttc-market --curves data/ttc/example_results.csv --scale 0.008 --method best-of-n --beta 200 >/dev/null
$vg build/prillm auction data/ttc/golden.json --bids data/ttc/golden_bids.json >/dev/null
$vg build/prillm auction data/ttc/golden.json --bids data/ttc/golden_bids.json --population data/ttc/example_population.csv --realised >/dev/null
$vg build/prillm auction data/ttc/gsm8k_majority.json --users 200 --requests 20 --csv >/dev/null
$vg build/tests/test_aggregation >/dev/null
$vg build/prillm train-aggregator data/default_market.json --out build/valgrind_model.json --scenarios 20 --epochs 2 --quiet >/dev/null
OMP_NUM_THREADS=1 $vg build/prillm train-aggregator data/default_market.json data/aggregator/calibrated_openrouter.json --random-share 0.5 --random-max-users 30 --random-max-providers 12 --out build/valgrind_model.json --scenarios 20 --epochs 2 --quiet >/dev/null
$vg build/prillm price data/aggregator/calibrated_openrouter.json --target google/gemini-2.5-flash-lite --method da --table >/dev/null
$vg build/prillm price data/aggregator/calibrated_openrouter.json --target z-ai/glm-5.2 --method da --da-check-tolerance 0 >/dev/null
PRILLM_SOURCE_DIR=$PWD OMP_NUM_THREADS=1 $vg build/tests/test_market_families >/dev/null
$vg build/prillm lmaas data/lmaas/example.json --compare >/dev/null
build/prillm lmaas --generate --customers 30 --models 3 --seed 7 | $vg build/prillm lmaas - --compare >/dev/null
$vg build/prillm lmaas data/lmaas/example.json --method fixed --evaluate --draws 200 --outside 1.5 >/dev/null
build/prillm lmaas --generate --customers 30 --models 3 --seed 7 | $vg build/prillm lmaas - --evaluate --draws 50 --outside 2 --table >/dev/null
$vg build/prillm lmaas data/lmaas/example.json --catalogue exact --compare --grid-points 11 --verbose >/dev/null 2>&1
build/prillm lmaas --generate --customers 20 --models 5 --seed 3 | $vg build/prillm lmaas - --catalogue greedy --on-demand-points 4 --evaluate --draws 20 >/dev/null
$vg build/tests/test_calibration_gradient >/dev/null
# the whole-market fit and predict: service classes on a synthetic directory,
# and a 40-model slice of the shared OpenRouter data when it is there
OPENBLAS_NUM_THREADS=1 PRILLM_SOURCE_DIR=$PWD $vg build/tests/test_market_model >/dev/null
$vg build/prillm calibrate --data data/calibration_synthetic --out /dev/null --folds 2 --iterations 50 >/dev/null
$vg build/prillm delegate data/delegation/example.json >/dev/null
$vg build/prillm delegate data/delegation/nlgraph_maxflow.json --horizon 30000 >/dev/null
$vg build/tests/test_delegation test_bad_input >/dev/null
printf 'A 0.9 100 0.1\nA,0.9,100,0.1\n# comment\n\nA 0.75 200 0.2\n' | $vg build/prillm delegate --online data/delegation/example.json >/dev/null
build/prillm delegate --online data/delegation/example.json </dev/null >/dev/null
PRILLM_SOURCE_DIR=$PWD PRILLM_CLI=$PWD/build/prillm $vg build/tests/test_delegation_online test_online_misuse >/dev/null
PRILLM_SOURCE_DIR=$PWD PRILLM_CLI=$PWD/build/prillm $vg build/tests/test_delegation_online "*_cli" >/dev/null
$vg build/prillm delegate data/delegation/example.json --play A:exploit:extract --play B:all:0.5:1.5:0.3 --reassign on >/dev/null
PRILLM_SOURCE_DIR=$PWD PRILLM_CLI=$PWD/build/prillm $vg build/tests/test_compete --skip test_openrouter_slice >/dev/null
$vg build/prillm compete data/examples/compete_symmetric.json --out build/valgrind_compete.json --quiet >/dev/null
$vg build/prillm price fuzz/corpus/competition_fields.json --owner acme >/dev/null
# prillm-sweep, one process (MPI_Init's own never-freed runtime suppressed)
vg_mpi="$vg --num-callers=40 --suppressions=tests/sweep/openmpi-leaks.supp"
$vg_mpi build/prillm-sweep providers build/small_market.json --quiet >/dev/null
$vg_mpi build/prillm-sweep scenarios build/small_market.json --perturb 3 --top 2 --target model-1 --quiet >/dev/null
$vg_mpi build/prillm-sweep training-data build/small_market.json --out build/valgrind_data.bin --scenarios 6 --prices 3 --quiet
$vg build/prillm train-aggregator --data build/valgrind_data.bin --out /dev/null --epochs 2 --quiet >/dev/null
# prillm serve under valgrind, driven over HTTP: bad requests, limits, token,
# metrics, SIGTERM (its exit code carries valgrind's verdict; the answers are
# compared with the native command elsewhere, where round-off agrees).
# --fair-sched=yes: valgrind runs one thread at a time, and by default a
# thread busy pricing could keep the one answering /metrics waiting until it
# finished; the SIGTERM test then sometimes never saw its slow request
# running (one CI run in several) and failed
PRILLM_SERVE_WRAPPER="$vg --fair-sched=yes" PRILLM_SOURCE_DIR=$PWD PRILLM_CLI=$PWD/build/prillm /usr/bin/python3 tests/service/test_serve.py \
  ServeTest.test_bad_requests ServeTest.test_limits ServeTest.test_token_and_loopback ServeTest.test_metrics_and_log \
  ServeTest.test_graceful_sigterm ServeTest.test_state_recovery ServeTest.test_predict_bad_requests \
  ServeTest.test_predict_state_orphan >build/valgrind_serve.log 2>&1 || { tail -60 build/valgrind_serve.log >&2; exit 1; }
echo "valgrind: clean"

echo "== fuzz corpus replay: every seed in fuzz/corpus/ and the default market, once each"
# A replay, not a search: each seed is a regression test with a fixed verdict
# (the open-ended search is scripts/fuzz.sh). The fuzzer runs in a scratch
# directory with its artifacts sent there, so nothing lands in the repository.
CC=clang cmake -S . -B build-fuzz -DPRILLM_FUZZ=ON -DPRILLM_TESTS=OFF -DPRILLM_BENCH=OFF >/dev/null
cmake --build build-fuzz --target fuzz_market -j "$jobs" >/dev/null
fuzzer=$PWD/build-fuzz/fuzz/fuzz_market
scratch=$(mktemp -d "${TMPDIR:-/tmp}/prillm-replay.XXXXXX")
trap 'rm -rf "$scratch"' EXIT
seeds=0
failures=0
for seed in "$PWD"/fuzz/corpus/* "$PWD"/data/default_market.json; do
  seeds=$((seeds + 1))
  # given files, libFuzzer runs each once and exits non-zero on a crash, a
  # trap, a sanitizer report or a leak
  if ! (cd "$scratch" && "$fuzzer" -artifact_prefix="$scratch/" -timeout=300 "$seed" >"$scratch/log" 2>&1); then
    failures=$((failures + 1))
    echo "FAILED: ${seed#"$PWD"/}" >&2
    grep -v '^INFO:' "$scratch/log" | tail -40 >&2
  fi
done
echo "fuzz corpus replay: $seeds seeds, $failures failures"
[ "$failures" -eq 0 ]
echo "== all tests passed"
