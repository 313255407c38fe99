#!/usr/bin/env bash
# Issue 14's speed targets, each measured now, in one run, on this machine:
# a Markdown table (the one in the README's "Speed at scale"). About four
# minutes on 2 cores, two of them pricing every provider of a 5000 x 500
# random market. A target whose figure cannot be read is "no", never "yes".
#   scripts/bench_targets.sh [BUILD_DIR]   (default build-bench, built here)
# Each row names what was run; the figures come from the same programs as
# docs/benchmarks.md (bench_exact_scale, bench_equilibrium,
# bench_abstraction, scripts/bench_sweep.sh) and from timed CLI calls.
set -euo pipefail
trap 'echo "bench_targets: failed at line $LINENO" >&2' ERR
cd "$(dirname "$0")/.."
build=${1:-build-bench}
case "$build" in /*) ;; *) build=$PWD/$build ;; esac
bash scripts/deps.sh bench
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DPRILLM_TESTS=OFF -DPRILLM_BENCH=ON >/dev/null
cmake --build "$build" -j "$(nproc)" >/dev/null
prillm=$build/prillm
export OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 PRILLM_SOURCE_DIR=$PWD
work=$(mktemp -d "${TMPDIR:-/tmp}/prillm-bench-targets.XXXXXX")
trap 'rm -rf "$work"' EXIT
echo "prillm bench_targets: $(grep -m1 "model name" /proc/cpuinfo | cut -d: -f2 | sed "s/^ *//"), $(getconf _NPROCESSORS_ONLN) cores, $(date -u +%F), commit $(git rev-parse --short HEAD 2>/dev/null || echo unknown)" >&2

# CPU and wall seconds of one command (its output to $1): "wall user+sys".
# A command that fails (prillm price exits 4 when a target is not solved)
# is still timed: GNU time then writes a line before its own, so the last.
timed() {
  local out=$1
  shift
  /usr/bin/time -o "$work/time" -f "%e %U %S" "$@" > "$out" 2>/dev/null || true
  tail -1 "$work/time" | awk '{printf "%.2f %.2f\n", $1, $2 + $3}'
}
# yes when A and B are numbers and A OP B holds (OP: <= or >=), else no
holds() {
  awk -v a="$1" -v op="$2" -v b="$3" 'BEGIN {n = "^[0-9]+([.][0-9]+)?$"
    ok = a ~ n && b ~ n && (op == "<=" ? a + 0 <= b + 0 : a + 0 >= b + 0); print ok ? "yes" : "no"}'
}
# a duration as the benchmarks print it ("86.87 ms", "629.7 us", "1.2 s") in ms
to_ms() {
  echo "$1" | awk '{v = $1; u = $2} u == "us" {v /= 1000} u == "s" {v *= 1000}
    (u == "us" || u == "ms" || u == "s") && v ~ /^[0-9.]+$/ {printf "%.4f\n", v; next} {print "-"}'
}

"$prillm" generate --users 5000 --providers 500 --seed 7 > "$work/m5k.json"
"$prillm" convert "$work/m5k.json" "$work/m5k.bin" --quiet

# every provider, 2 threads
read -r all_wall all_cpu < <(timed "$work/all.json" "$prillm" price "$work/m5k.bin" --all --threads 2 --json)
# the run's own counts (the last line of its JSON): solved, not solved, errors
count_of() { { grep -o "\"$1\": [0-9][0-9]*" "$work/all.json" || echo "x: -"; } | tail -1 | awk '{print $2}'; }
all_solved=$(count_of solved)
all_not=$(count_of not_solved)
all_errors=$(count_of errors)

# one target, the whole call (reading the market, today's equilibrium, the
# method, the scoring and certificate), ten targets one after another
: > "$work/one"
one_count=0
for t in 0 1 2 3 4 5 6 7 8 9; do
  read -r _ cpu < <(timed "$work/one.json" "$prillm" price "$work/m5k.bin" --target "model-$t" --json)
  echo "$cpu" >> "$work/one"
  grep -q '"status": "solved"' "$work/one.json" && one_count=$((one_count + 1))
done
read -r one_min one_med one_max one_under < <(sort -n "$work/one" | awk '{v[NR] = $1; u += $1 < 0.5}
  END {printf "%.2f %.2f %.2f %d\n", v[1], (v[5] + v[6]) / 2, v[NR], u}')

# the 20 x 20 default market, every target 25 times
small=$("$build/bench/bench_exact_scale" --small-only --repeats 25 2>/dev/null | grep '^| default_market' || true)
small_ms=$(to_ms "$(echo "$small" | awk -F'|' '{gsub(/^ +| +$/, "", $5); print $5}')")
small_ms=$(echo "$small_ms" | awk '/^[0-9.]+$/ {printf "%.3f\n", $1; next} {print}')

# the cold 10000 x 500 equilibrium against one pass over its delay matrix
# (the ratio from the two times: the table rounds it to a whole number)
equilibrium=$("$build/bench/bench_equilibrium" --quick 2>/dev/null | grep '^| 10000 x 500 ' || true)
eq_solve=$(echo "$equilibrium" | awk -F'|' '{gsub(/^ +| +$/, "", $4); print $4}')
eq_pass=$(echo "$equilibrium" | awk -F'|' '{gsub(/^ +| +$/, "", $5); print $5}')
eq_passes=$(awk -v a="$(to_ms "$eq_solve")" -v b="$(to_ms "$eq_pass")" \
  'BEGIN {print (a ~ /^[0-9.]+$/ && b ~ /^[0-9.]+$/ && b > 0) ? sprintf("%.1f", a / b) : "-"}')

# prillm-sweep on 2 MPI ranks against one process
bash scripts/bench_sweep.sh "$build" > "$work/sweep.md" 2>/dev/null || true
mpi_rows=$(grep -c 'mpirun -np 2' "$work/sweep.md" || true)
mpi_same=$({ grep 'mpirun -np 2' "$work/sweep.md" || true; } | { grep -c '| identical |' || true; })

# da (K = 2) on unseen random markets: accuracy at 1000 x 150, time at 5000 x 500
"$build/bench/bench_abstraction" --large-only --huge-markets 5 > "$work/da.md" 2>/dev/null || true
da_row() { awk -v size="$1" '/^### Unseen random markets/ {on = index($0, size) > 0} on && /^\| da \| 2 \|/ {print; exit}' "$work/da.md"; }
da_mean=$(da_row "1000 x 150" | awk -F'|' '{gsub(/ /, ""); print $4}')
da_worst=$(da_row "1000 x 150" | awk -F'|' '{gsub(/ /, ""); print $5}')
da_ratio=$(da_row "5000 x 500" | awk -F'|' '{gsub(/ /, ""); if ($8 ~ /^[0-9.]+$/) printf "%.1f\n", 100 * $8; else print "-"}')
da_exact=$(awk '/^### Unseen random markets, 5000 x 500/ {on = 1} on && /Exact pricing of the full market/ {sub(/.*: /, ""); sub(/ median.*/, ""); print; exit}' "$work/da.md")

all_met=no
[ "$all_solved" = 500 ] && [ "$all_not" = 0 ] && [ "$all_errors" = 0 ] && all_met=$(holds "$all_wall" "<=" 60)
one_met=no
[ "$one_count" = 10 ] && [ "$one_under" = 10 ] && one_met=yes
mpi_met=no
[ "${mpi_rows:-0}" -gt 0 ] && [ "$mpi_same" = "$mpi_rows" ] && mpi_met=yes
da_met=no
[ "$(holds "$da_mean" ">=" 97)" = yes ] && [ "$(holds "$da_worst" ">=" 90)" = yes ] && da_met=yes

echo "| issue 14 target | goal | measured | met |"
echo "|---|---|---|---|"
echo "| every provider of a random 5000 x 500 market (\`price --all --threads 2\`) | under 60 s wall, every target \`solved\` | $all_wall s wall ($all_cpu CPU s); $all_solved \`solved\`, $all_not not, $all_errors errors | $all_met |"
echo "| one target of it, the whole \`price --target\` call (model-0 .. model-9) | under 0.5 CPU s | $one_min to $one_max s, median $one_med; $one_under of $one_count under | $one_met |"
echo "| every target of the 20 x 20 default market, the whole \`prillm_price\` call | under 0.2 ms | $small_ms ms median | $(holds "$small_ms" "<=" 0.2) |"
echo "| cold 10000 x 500 equilibrium against one pass over its delay matrix | within 20 passes | $eq_passes ($eq_solve against $eq_pass a pass) | $(holds "$eq_passes" "<=" 20) |"
echo "| \`prillm-sweep\` on 2 MPI ranks against one process | identical output | $mpi_same of $mpi_rows runs identical | $mpi_met |"
echo "| \`da\` (K = 2), unseen random 1000 x 150 markets | mean >= 97%, worst >= 90% of exact's profit | mean ${da_mean:--}%, worst ${da_worst:--}% | $da_met |"
echo "| \`da\` (K = 2), unseen random 5000 x 500 markets | under 5% of exact's time | ${da_ratio:--}% (median; exact ${da_exact:--}) | $(holds "$da_ratio" "<=" 5) |"
