#!/usr/bin/env bash
# Issue 14's speed targets, each measured now, in one run, on this machine:
# a Markdown table (the one in the README's "Speed at scale"). About three
# minutes on 2 cores, two of them pricing every provider of a 5000 x 500
# random market.
#   scripts/bench_targets.sh [BUILD_DIR]   (default build-bench, built here)
# Each row names what was run; the figures come from the same programs as
# docs/benchmarks.md (bench_exact_scale, bench_equilibrium,
# bench_abstraction, scripts/bench_sweep.sh) and from timed CLI calls.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build-bench}
bash scripts/deps.sh bench
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DPRILLM_TESTS=OFF -DPRILLM_BENCH=ON >/dev/null
cmake --build "$build" -j "$(nproc)" >/dev/null
prillm=$PWD/$build/prillm
export OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 PRILLM_SOURCE_DIR=$PWD
work=$(mktemp -d "${TMPDIR:-/tmp}/prillm-bench-targets.XXXXXX")
trap 'rm -rf "$work"' EXIT
echo "prillm bench_targets: $(grep -m1 "model name" /proc/cpuinfo | cut -d: -f2 | sed "s/^ *//"), $(getconf _NPROCESSORS_ONLN) cores, $(date -u +%F), commit $(git rev-parse --short HEAD 2>/dev/null || echo unknown)" >&2

# CPU and wall seconds of one command (its output to $1): "wall user+sys"
timed() {
  local out=$1
  shift
  /usr/bin/time -o "$work/time" -f "%e %U %S" "$@" > "$out" 2>/dev/null
  awk '{printf "%.2f %.2f\n", $1, $2 + $3}' "$work/time"
}
# yes when $1 <= $2 (numbers), else no
met() { awk -v a="$1" -v b="$2" 'BEGIN {print (a <= b) ? "yes" : "no"}'; }

"$prillm" generate --users 5000 --providers 500 --seed 7 > "$work/m5k.json"
"$prillm" convert "$work/m5k.json" "$work/m5k.bin" --quiet

# every provider, 2 threads
read -r all_wall all_cpu < <(timed "$work/all.json" "$prillm" price "$work/m5k.bin" --all --threads 2 --json)
all_solved=$({ grep -o '"status": "solved"' "$work/all.json" || true; } | wc -l)
all_count=$({ grep -o '"status": "' "$work/all.json" || true; } | wc -l)

# one target, the whole call (reading the market, today's equilibrium, the
# method, the scoring and certificate), ten targets one after another
: > "$work/one"
for t in 0 1 2 3 4 5 6 7 8 9; do
  read -r _ cpu < <(timed "$work/one.json" "$prillm" price "$work/m5k.bin" --target "model-$t" --json)
  echo "$cpu" >> "$work/one"
done
read -r one_min one_med one_max one_under < <(sort -n "$work/one" | awk '{v[NR] = $1; u += $1 < 0.5}
  END {printf "%.2f %.2f %.2f %d\n", v[1], (v[5] + v[6]) / 2, v[NR], u}')

# the 20 x 20 default market, every target 25 times
small=$("$build/bench/bench_exact_scale" --small-only --repeats 25 2>/dev/null | grep '^| default_market')
small_median=$(echo "$small" | awk -F'|' '{gsub(/ /, "", $5); print $5}')
small_ms=$(echo "$small_median" | awk '/us$/ {sub(/us/, ""); printf "%.3f", $1 / 1000; next} /ms$/ {sub(/ms/, ""); printf "%.3f", $1}')

# the cold 10000 x 500 equilibrium against one pass over its delay matrix
equilibrium=$("$build/bench/bench_equilibrium" --quick 2>/dev/null | grep '^| 10000 x 500 ')
eq_solve=$(echo "$equilibrium" | awk -F'|' '{gsub(/^ +| +$/, "", $4); print $4}')
eq_pass=$(echo "$equilibrium" | awk -F'|' '{gsub(/^ +| +$/, "", $5); print $5}')
eq_passes=$(echo "$equilibrium" | awk -F'|' '{gsub(/ /, "", $6); print $6}')

# prillm-sweep on 2 MPI ranks against one process
bash scripts/bench_sweep.sh "$build" > "$work/sweep.md" 2>/dev/null
mpi_rows=$(grep -c 'mpirun -np 2' "$work/sweep.md" || true)
mpi_same=$(grep 'mpirun -np 2' "$work/sweep.md" | grep -c '| identical |' || true)

# da (K = 2) on unseen random markets: accuracy at 1000 x 150, time at 5000 x 500
"$build/bench/bench_abstraction" --large-only --huge-markets 5 > "$work/da.md" 2>/dev/null
da_row() { awk -v size="$1" '/^### Unseen random markets/ {on = index($0, size) > 0} on && /^\| da \| 2 \|/ {print; exit}' "$work/da.md"; }
read -r da_mean da_worst < <(da_row "1000 x 150" | awk -F'|' '{gsub(/ /, ""); print $4, $5}')
da_ratio=$(da_row "5000 x 500" | awk -F'|' '{gsub(/ /, ""); printf "%.1f", 100 * $8}')
da_exact=$(awk '/^### Unseen random markets, 5000 x 500/ {on = 1} on && /Exact pricing of the full market/ {sub(/.*: /, ""); sub(/ median.*/, ""); print; exit}' "$work/da.md")

echo "| issue 14 target | goal | measured | met |"
echo "|---|---|---|---|"
echo "| every provider of a random 5000 x 500 market (\`price --all --threads 2\`) | under 60 s wall, every target \`solved\` | $all_wall s wall ($all_cpu CPU s), $all_solved of $all_count \`solved\` | $( [ "$all_count" = 500 ] && [ "$all_solved" = 500 ] && met "$all_wall" 60 || echo no) |"
echo "| one target of it, the whole \`price --target\` call (model-0 .. model-9) | under 0.5 CPU s | $one_min to $one_max s, median $one_med; $one_under of 10 under | $( [ "$one_under" = 10 ] && echo yes || echo no) |"
echo "| every target of the 20 x 20 default market, the whole \`prillm_price\` call | under 0.2 ms | $small_ms ms median | $(met "$small_ms" 0.2) |"
echo "| cold 10000 x 500 equilibrium against one pass over its delay matrix | within 20 passes | $eq_passes ($eq_solve against $eq_pass a pass) | $(met "$eq_passes" 20) |"
echo "| \`prillm-sweep\` on 2 MPI ranks against one process | identical output | $mpi_same of $mpi_rows runs identical | $( [ "$mpi_rows" -gt 0 ] && [ "$mpi_same" = "$mpi_rows" ] && echo yes || echo no) |"
echo "| \`da\` (K = 2), unseen random 1000 x 150 markets | mean >= 97%, worst >= 90% of exact's profit | mean $da_mean%, worst $da_worst% | $(awk -v a="$da_mean" -v b="$da_worst" 'BEGIN {print (a >= 97 && b >= 90) ? "yes" : "no"}') |"
echo "| \`da\` (K = 2), unseen random 5000 x 500 markets | under 5% of exact's time | $da_ratio% (median; exact $da_exact) | $(met "$da_ratio" 5) |"
