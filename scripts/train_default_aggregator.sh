#!/usr/bin/env bash
# Regenerates data/aggregator/default_model.json, the default model of
# `prillm price --method da` (docs/aggregator.md, "Default model"): the deep
# aggregation network trained across market families with fixed seeds.
#
#   bash scripts/train_default_aggregator.sh [PRILLM] [OUT] [REPORT]
#
# PRILLM defaults to build/prillm, OUT to data/aggregator/default_model.json,
# REPORT (the training summary, JSON) to OUT with .report.json. The result
# does not depend on the thread count (training is bit-for-bit the same for
# any OMP_NUM_THREADS); it does depend on the floating-point behaviour of the
# build (Release, x86-64, OpenBLAS with one thread).
#
# Scenarios (2400, seed 1): 40 % perturbations of the two bundled 20 x 20
# markets (the calibrated OpenRouter market and the default market, drawn
# uniformly), 60 % perturbations of fresh random markets of three families
# (prillm_aggregator_random_market: standard, varied with and without
# affinities, tiered) with 10..1000 apps and 3..150 models, drawn
# log-uniformly. K = 2, 8 prices per scenario, 45 epochs, learning rate 2e-3,
# every other option at its default. Run with nice: the machine is shared.
set -euo pipefail
cd "$(dirname "$0")/.."
PRILLM=${1:-build/prillm}
OUT=${2:-data/aggregator/default_model.json}
REPORT=${3:-${OUT%.json}.report.json}
export OPENBLAS_NUM_THREADS=1 OMP_WAIT_POLICY=passive OMP_NUM_THREADS=${OMP_NUM_THREADS:-2}
/usr/bin/time -f "train_default_aggregator: %U s user + %S s system CPU, %e s wall" \
  nice -n 10 "$PRILLM" train-aggregator \
    data/aggregator/calibrated_openrouter.json data/default_market.json \
    --random-share 0.6 --random-min-users 10 --random-max-users 1000 \
    --random-min-providers 3 --random-max-providers 150 \
    --scenarios 2400 --prices 8 --seed 1 \
    --k 2 --epochs 45 --learning-rate 2e-3 --train-seed 1 --init-seed 1 \
    --out "$OUT" --report "$REPORT"
