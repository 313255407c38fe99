#!/usr/bin/env bash
# The main job: install what is missing, build, solve the equilibrium of the
# bundled default market (20 public models x 20 apps); with the real
# OpenRouter data in ../shared/data/openrouter, fit the whole-market model
# (every app and model, validated forward), price every paid model of its
# 30 largest exactly against today's price, and the largest model of the
# whole market; run the paper's calibration and
# its baselines on a 20 x 20 slice (else on the bundled synthetic
# observations in data/calibration_synthetic) for comparison; then show one
# market's equilibrium and its largest model's exact optimal price (with the
# curve) against the deep-aggregation abstraction, and the analyst's report
# on that price (build/explain.html).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh build
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DPRILLM_TESTS=OFF >/dev/null
cmake --build build -j "$(nproc)" >/dev/null
echo "== prillm equilibrium data/default_market.json --table"
./build/prillm equilibrium data/default_market.json --table

data=../shared/data/openrouter
rm -f build/market30.json
if [ -f "$data/models.csv" ]; then
  # the whole-market model: every app and model, tastes and price
  # sensitivity, validated forward against persistence and market share
  echo
  echo "== prillm fit --data $data --out build/market.json --table"
  ./build/prillm fit --data "$data" --out build/market.json --table 2>/dev/null
  # price every paid model of the 30 largest (with the 100 largest apps and
  # the rest of the market) exactly: optimum against today's price
  ./build/prillm fit --data "$data" --max-models 30 --max-apps 100 --out build/market30.json >/dev/null 2>&1
  echo
  echo "== prillm price build/market30.json --paid --table   (every paid model, each with its rivals' prices fixed: exact optimum against today's price)"
  ./build/prillm price build/market30.json --paid --table || echo "(prillm price --paid: exit $?, see the status column)"
  # the whole market too (593 users x 398 models): its largest model,
  # exactly, walking only the price ranges that can hold the optimum (about
  # 15 CPU seconds; every model of it would take hours: docs/pricing.md)
  t=$(grep -o '"id": "[^"]*"' build/market.json | awk 'NR == 1' | sed 's/"id": "\(.*\)"/\1/')
  echo
  echo "== prillm price build/market.json --target \"$t\" --table   (the whole market's largest model; first lines)"
  ./build/prillm price build/market.json --target "$t" --table 2>/dev/null | awk 'NR <= 6' || true
fi

[ -d "$data" ] || data=data/calibration_synthetic
echo
echo "== prillm calibrate --data $data --out build/calibrated.json --plot build/calibration.svg --baselines --table   (the paper's method on a 20 x 20 slice, for comparison: see its stranded models and implied costs)"
./build/prillm calibrate --data "$data" --out build/calibrated.json --plot build/calibration.svg --baselines --table

# the market to price in detail: the whole-market model's 30-model slice
# when the real data is there, else the paper's calibration of the bundled
# synthetic observations
market=build/calibrated.json
[ -f build/market30.json ] && market=build/market30.json
echo
echo "== prillm equilibrium $market --table"
./build/prillm equilibrium "$market" --table

# its largest model: the exact optimum and its curve, then the paper's
# deep-aggregation abstraction (k = 2) against it
target=$(grep -o '"id": "[^"]*"' "$market" | awk 'NR == 1' | sed 's/"id": "\(.*\)"/\1/')
echo
echo "== prillm price $market --target \"$target\" --table"
./build/prillm price "$market" --target "$target" --table
echo
echo "== prillm price $market --target \"$target\" --method da --compare --table"
./build/prillm price "$market" --target "$target" --method da --compare --table
# the same price as a report for people: curve, uplift, apps won and lost,
# diversion to rivals, sensitivities, breakpoints in words
echo
echo "== prillm explain $market --target \"$target\" --out build/explain.html   (the analyst's report: open build/explain.html in a browser)"
./build/prillm explain "$market" --target "$target" --out build/explain.html
