#!/usr/bin/env bash
# The main job: install what is missing, build, solve the equilibrium of the
# bundled default market (20 public models x 20 apps), then calibrate the
# apps' preferences on observed traffic — the real OpenRouter data in
# ../shared/data/openrouter when present, else the bundled synthetic
# observations in data/calibration_synthetic — print the fit of PriLLM and
# its baselines, the calibrated market's equilibrium, and the exact optimal
# price of one model in it (with the curve), against the abstraction method.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh build
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DPRILLM_TESTS=OFF >/dev/null
cmake --build build -j "$(nproc)" >/dev/null
echo "== prillm equilibrium data/default_market.json --table"
./build/prillm equilibrium data/default_market.json --table

data=../shared/data/openrouter
[ -d "$data" ] || data=data/calibration_synthetic
echo
echo "== prillm calibrate --data $data --out build/calibrated.json --plot build/calibration.svg --baselines --table"
./build/prillm calibrate --data "$data" --out build/calibrated.json --plot build/calibration.svg --baselines --table
echo
echo "== prillm equilibrium build/calibrated.json --table   (the calibrated market; plot: build/calibration.svg)"
./build/prillm equilibrium build/calibrated.json --table

# price the calibrated market's first model: the exact optimum and its curve,
# then the paper's deep-aggregation abstraction (k = 2) against it
target=$(grep -o '"id": "[^"]*"' build/calibrated.json | head -1 | sed 's/"id": "\(.*\)"/\1/')
echo
echo "== prillm price build/calibrated.json --target \"$target\" --table"
./build/prillm price build/calibrated.json --target "$target" --table
echo
echo "== prillm price build/calibrated.json --target \"$target\" --method da --compare --table"
./build/prillm price build/calibrated.json --target "$target" --method da --compare --table
