#!/usr/bin/env bash
# prillm-sweep on 1 rank against 2 ranks, the same work (a Markdown table for
# docs/benchmarks.md): every provider of a random market priced exactly, and
# perturbed scenarios of it, each with the target's exact price. Wall and
# CPU seconds (/usr/bin/time over mpirun: every rank's CPU), the speedup in
# wall time against one process, and whether the output is byte-identical
# to the one-process run.
#   scripts/bench_sweep.sh [BUILD_DIR] [USERS] [PROVIDERS] [SCENARIOS]
# (defaults: build, 600, 60, 30). Ranks are not bound to cores
# (--bind-to none): on a machine shared with other work a rank pinned to a
# busy core waits while the other core idles.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build} users=${2:-600} providers=${3:-60} scenarios=${4:-30}
case "$build" in /*) ;; *) build=$PWD/$build ;; esac
sweep=$build/prillm-sweep prillm=$build/prillm
[ -x "$sweep" ] || { echo "no $sweep: build first" >&2; exit 1; }
"$sweep" --version | grep -q "with MPI" || { echo "prillm-sweep built without MPI: nothing to compare" >&2; exit 1; }
export OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1
work=$(mktemp -d "${TMPDIR:-/tmp}/prillm-bench-sweep.XXXXXX")
trap 'rm -rf "$work"' EXIT
mpi=(mpirun --oversubscribe --bind-to none)
[ "$(id -u)" -eq 0 ] && mpi+=(--allow-run-as-root)

"$prillm" generate --users "$users" --providers "$providers" --seed 11 > "$work/m.json"
"$prillm" convert "$work/m.json" "$work/m.bin" --quiet
echo "machine: $(nproc --all) cores, load average $(cut -d' ' -f1-3 /proc/loadavg) before the runs"
echo
echo "| work | run | wall s | CPU s | speedup (wall) | output |"
echo "|---|---|---|---|---|---|"

# run LABEL OUTFILE CMD...: one timed run, one table row
base_wall=
row() {
  local work_name=$1 label=$2 out=$3 reference=$4
  shift 4
  local t
  /usr/bin/time -o "$work/time" -f "%e %U %S" "$@" > "$out" 2>/dev/null
  t=$(tail -1 "$work/time")
  local wall cpu
  wall=$(echo "$t" | cut -d' ' -f1)
  cpu=$(echo "$t" | awk '{printf "%.2f", $2 + $3}')
  [ -z "$base_wall" ] && base_wall=$wall
  local same="reference"
  if [ -n "$reference" ]; then
    if cmp -s "$reference" "$out"; then same="identical"; else same="DIFFERS"; fi
  fi
  echo "| $work_name | $label | $wall | $cpu | $(awk -v a="$base_wall" -v b="$wall" 'BEGIN{printf "%.2f", a / b}') | $same |"
}

w="providers: ${providers} targets of ${users} x ${providers}"
base_wall=
row "$w" "1 process" "$work/p1.json" "" "$sweep" providers "$work/m.bin" --no-timing --quiet
row "$w" "mpirun -np 1" "$work/pm1.json" "$work/p1.json" "${mpi[@]}" -np 1 "$sweep" providers "$work/m.bin" --no-timing --quiet
row "$w" "mpirun -np 2, dynamic" "$work/pm2.json" "$work/p1.json" "${mpi[@]}" -np 2 "$sweep" providers "$work/m.bin" --no-timing --quiet
row "$w" "mpirun -np 2, static" "$work/pm2s.json" "$work/p1.json" "${mpi[@]}" -np 2 "$sweep" providers "$work/m.bin" --no-timing --schedule static --quiet
row "$w" "prillm price --all --threads 2 (OpenMP)" "$work/pa.json" "" "$prillm" price "$work/m.bin" --all --threads 2

w="scenarios: base + ${scenarios} perturbed, target priced in each"
base_wall=
args=(scenarios "$work/m.bin" --perturb "$scenarios" --target model-0 --no-flows --quiet)
row "$w" "1 process" "$work/s1.json" "" "$sweep" "${args[@]}"
row "$w" "mpirun -np 2, dynamic" "$work/sm2.json" "$work/s1.json" "${mpi[@]}" -np 2 "$sweep" "${args[@]}"
row "$w" "mpirun -np 2, static" "$work/sm2s.json" "$work/s1.json" "${mpi[@]}" -np 2 "$sweep" "${args[@]}" --schedule static
echo
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
