#!/usr/bin/env bash
# The main job: install what is missing, build, and solve the equilibrium
# of the bundled default market (20 public models x 20 apps).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh build
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DPRILLM_TESTS=OFF >/dev/null
cmake --build build -j "$(nproc)" >/dev/null
echo "== prillm equilibrium data/default_market.json --table"
./build/prillm equilibrium data/default_market.json --table
