#!/usr/bin/env bash
# Build and run the benchmarks; prints Markdown tables (the figures in docs/benchmarks.md).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh bench
# its own build tree: the tests (and cmocka) are not needed here
cmake -S . -B build-bench -DCMAKE_BUILD_TYPE=Release -DPRILLM_TESTS=OFF -DPRILLM_BENCH=ON >/dev/null
cmake --build build-bench -j "$(nproc)" >/dev/null
echo "machine: $(grep -m1 "model name" /proc/cpuinfo | cut -d: -f2 | sed "s/^ *//"), $(nproc) cores, $(awk "/MemTotal/{printf \"%.0f\", \$2/1048576}" /proc/meminfo) GiB"
# one section per benchmark; BENCH=name runs one of them
for b in ${BENCH:-equilibrium pricing exact_scale call_overheads calibrate aggregator abstraction ttc lmaas delegate compete sweep service}; do
  echo; echo "## bench_$b"; echo
  if [ "$b" = sweep ]; then
    # prillm-sweep on 1 and 2 MPI ranks (a script: it runs mpirun)
    bash scripts/bench_sweep.sh build-bench
    continue
  fi
  if [ "$b" = service ]; then
    # prillm serve over HTTP (bench/service/bench_service.py: the load test, warm re-pricing)
    PRILLM_SOURCE_DIR=$PWD PRILLM_CLI=$PWD/build-bench/prillm OPENBLAS_NUM_THREADS=1 \
      /usr/bin/python3 bench/service/bench_service.py
    continue
  fi
  PRILLM_SOURCE_DIR=$PWD OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 ./build-bench/bench/bench_$b "$@"
done
