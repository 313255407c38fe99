#!/usr/bin/env bash
# prillm-sweep end to end (registered in tests/CMakeLists.txt as sweep_single
# and sweep_mpi).
#   sweep.sh single SWEEP PRILLM WITH_MPI   one process: the same rows as
#       prillm price --all; scenarios checked against prillm equilibrium and
#       prillm price on markets edited independently (python3); --top against
#       the full flows; training-data the same bytes as prillm train-aggregator
#       --save-data, and a model trained on it (--data) the same model; bad
#       input; without MPI, mpirun's ranks refused
#   sweep.sh mpi SWEEP PRILLM WITH_MPI      mpirun -np 2 (dynamic and static
#       schedules) gives byte for byte the output of one process; exit 77
#       (skipped) when built without MPI or mpirun is missing
set -euo pipefail
mode=$1 sweep=$2 prillm=$3 with_mpi=$4
export OPENBLAS_NUM_THREADS=1
# The sanitizer build: LeakSanitizer would report Open MPI's start-up
# allocations, made in plugins it has unloaded by then (their stacks name no
# module, so they cannot be suppressed by library); AddressSanitizer and
# UBSan still check every run here, and scripts/test.sh checks prillm-sweep's
# own leaks under valgrind (tests/sweep/openmpi-leaks.supp).
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0"
work=$(mktemp -d "${TMPDIR:-/tmp}/prillm-sweep-test.XXXXXX")
trap 'rm -rf "$work"' EXIT
cd "$work"
fail() { echo "FAIL: $*" >&2; exit 1; }
# the optimal prices' timing is the one field two runs may differ in
mask() { sed -E 's/"seconds": [^,}]*/"seconds": T/' "$1"; }

"$prillm" generate --users 60 --providers 12 --seed 3 > m.json
"$prillm" convert m.json m.bin --quiet
cat > whatif.json <<'EOF'
{"scenarios": [
  {"id": "model-1 cut 20%", "changes": [{"provider": "model-1", "price_scale": 0.8}]},
  {"id": "demand up", "changes": [{"user": "*", "demand_scale": 1.2}]},
  {"id": "two changes", "changes": [{"provider": "model-3", "capacity_scale": 2}, {"provider": "model-0", "price": 0.5}]}
]}
EOF
scenario_args=(scenarios m.bin --whatif whatif.json --perturb 4 --seed 3 --target model-1)
# the aggregation network's training data: 24 scenarios, each its own target
training_args=(--scenarios 24 --prices 5 --seed 4 --drop-probability 0.3)

if [ "$mode" = single ]; then
  # providers: what prillm price --all prints, in every format
  for fmt in --json --csv --table; do
    "$prillm" price m.json --all $fmt > price_all.out || fail "prillm price --all $fmt"
    "$sweep" providers m.bin $fmt --quiet > sweep.out || fail "prillm-sweep providers $fmt"
    mask price_all.out > a; mask sweep.out > b
    cmp -s a b || { diff a b | head -20; fail "providers $fmt differs from prillm price --all"; }
  done
  "$prillm" price m.json --paid > paid.out
  "$sweep" providers m.json --paid --quiet > sweep_paid.out
  mask paid.out > a; mask sweep_paid.out > b
  cmp -s a b || fail "providers --paid differs from prillm price --paid"
  "$sweep" providers m.json --no-timing --quiet > nt.out
  grep -q '"seconds": null' nt.out || fail "--no-timing kept the seconds"
  "$sweep" providers m.json --targets model-3,model-0 --quiet --csv > two.csv
  [ "$(cut -d, -f1 two.csv | tr '\n' ' ')" = "id model-3 model-0 " ] || fail "--targets: $(cat two.csv)"

  # scenarios: each checked against the command on the market edited here
  "$sweep" "${scenario_args[@]}" --quiet > full.json || fail "scenarios"
  "$sweep" "${scenario_args[@]}" --top 3 --quiet > top.json || fail "scenarios --top"
  "$sweep" "${scenario_args[@]}" --no-flows --quiet > none.json || fail "scenarios --no-flows"
  grep -q '"flows"\|"top_flows"\|"users"' none.json && fail "--no-flows printed flows"
  /usr/bin/python3 - "$prillm" <<'EOF'
import json, math, subprocess, sys
prillm = sys.argv[1]
base = json.load(open("m.json"))
full = json.load(open("full.json"))
top = json.load(open("top.json"))
none = json.load(open("none.json"))
ids = [p["id"] for p in base["providers"]]
assert full["providers"] == ids
names = [s["id"] for s in full["scenarios"]]
assert names == ["base", "model-1 cut 20%", "demand up", "two changes",
                 "perturbed-1", "perturbed-2", "perturbed-3", "perturbed-4"], names
assert full["solved"] == 8 and full["errors"] == 0

def edited(changes):
    mk = json.loads(json.dumps(base))
    for kind, who, key, value in changes:
        items = mk["providers"] if kind == "p" else mk["users"]
        for it in items:
            if who == "*" or it["id"] == who:
                if key.endswith("_scale"):
                    it[key[:-6]] *= value
                else:
                    it[key] = value
    return mk

whatifs = {"base": [],
           "model-1 cut 20%": [("p", "model-1", "price_scale", 0.8)],
           "demand up": [("u", "*", "demand_scale", 1.2)],
           "two changes": [("p", "model-3", "capacity_scale", 2), ("p", "model-0", "price", 0.5)]}
def close(a, b, tol=1e-9):
    return abs(a - b) <= tol * max(1.0, abs(a), abs(b))
for sc in full["scenarios"][:4]:
    mk = edited(whatifs[sc["id"]])
    json.dump(mk, open("edited.json", "w"))
    eq = json.loads(subprocess.run([prillm, "equilibrium", "edited.json"], check=True,
                                   capture_output=True, text=True).stdout)
    assert sc["price"] == [p["price"] for p in mk["providers"]], sc["id"]
    for j in range(len(ids)):
        assert close(sc["provider_flow"][j], eq["provider_flow"][j]), (sc["id"], j)
        assert close(sc["profit"][j], mk["providers"][j]["price"] * eq["provider_flow"][j]), (sc["id"], j)
        for i in range(len(base["users"])):
            assert close(sc["flows"][i][j], eq["flows"][i][j]), (sc["id"], i, j)
    pr = json.loads(subprocess.run([prillm, "price", "edited.json", "--target", "model-1"],
                                   capture_output=True, text=True).stdout)
    assert sc["target"]["status"] == pr["status"], (sc["target"], pr["status"])
    assert close(sc["target"]["price"], pr["price"]) and close(sc["target"]["profit"], pr["profit"]), sc["id"]
# perturbations: each scenario a different market, every demand moved
p1, p2 = full["scenarios"][4], full["scenarios"][5]
assert p1["price"] != p2["price"] and p1["price"] != full["scenarios"][0]["price"]
# --top 3: each app's 3 largest positive flows of the full answer, largest first
for sc_full, sc_top in zip(full["scenarios"], top["scenarios"]):
    assert sc_full["provider_flow"] == sc_top["provider_flow"]
    for i, row in enumerate(sc_full["flows"]):
        want = sorted([(-f, j) for j, f in enumerate(row) if f > 0])[:3]
        got = [(-e["flow"], ids.index(e["provider"])) for e in sc_top["top_flows"][i]]
        assert got == want, (sc_full["id"], i, got, want)
for sc_full, sc_none in zip(full["scenarios"], none["scenarios"]):
    assert sc_none["profit"] == sc_full["profit"] and "flows" not in sc_none
print("scenarios: 4 checked against prillm equilibrium / price, --top and --no-flows against the full flows")
EOF
  "$sweep" "${scenario_args[@]}" --csv --quiet > sc.csv
  [ "$(wc -l < sc.csv)" -eq $((1 + 8 * 12)) ] || fail "scenarios --csv: $(wc -l < sc.csv) lines"

  # training-data: the bytes prillm train-aggregator builds itself, and the
  # model trained on them the model trained on its own scenarios
  "$sweep" training-data m.bin --out data.bin "${training_args[@]}" --quiet || fail "training-data"
  "$prillm" train-aggregator m.bin --out own.json --save-data saved.bin "${training_args[@]}" --epochs 3 \
    --quiet > own_report.json || fail "train-aggregator --save-data"
  cmp -s data.bin saved.bin || fail "training-data differs from train-aggregator --save-data"
  "$prillm" train-aggregator --data data.bin --out from_data.json --epochs 3 --quiet > data_report.json ||
    fail "train-aggregator --data"
  cmp -s own.json from_data.json || fail "the model trained on --data differs"
  grep -q '"scenarios": 24' data_report.json || fail "--data: $(cat data_report.json)"
  "$sweep" training-data m.bin --out target.bin --target model-2 --scenarios 6 --quiet || fail "training-data --target"
  "$prillm" train-aggregator m.bin --target model-2 --scenarios 6 --save-data target_saved.bin --out /dev/null \
    --epochs 1 --quiet >/dev/null || fail "train-aggregator --target --save-data"
  cmp -s target.bin target_saved.bin || fail "training-data --target differs"
  cmp -s target.bin data.bin && fail "--target made no difference"

  # bad input and usage: clear errors, the command's exit codes
  set +e
  "$sweep" training-data m.json --quiet 2> err.txt; [ $? -eq 2 ] || fail "training-data without --out"
  grep -q "give --out FILE" err.txt || fail "$(cat err.txt)"
  "$sweep" training-data m.json --out x.bin --perturb 2 2>/dev/null; [ $? -eq 2 ] || fail "training-data --perturb"
  "$sweep" training-data m.json --out x.bin --method min 2>/dev/null; [ $? -eq 2 ] || fail "training-data --method"
  "$sweep" scenarios m.json --scenarios 5 2>/dev/null; [ $? -eq 2 ] || fail "scenarios --scenarios"
  "$prillm" train-aggregator m.json --data data.bin --out x.json 2>/dev/null; [ $? -eq 2 ] || fail "MARKET and --data"
  "$prillm" train-aggregator --data data.bin --scenarios 5 --out x.json 2>/dev/null; [ $? -eq 2 ] ||
    fail "--data and a scenario option"
  head -c 2000 data.bin > short_data.bin
  "$prillm" train-aggregator --data short_data.bin --out x.json 2> err.txt; [ $? -eq 3 ] || fail "truncated --data"
  grep -q "scenario data: checksum mismatch" err.txt || fail "$(cat err.txt)"
  "$prillm" train-aggregator --data m.bin --out x.json 2> err.txt; [ $? -eq 3 ] || fail "a market as --data"
  grep -q "magic bytes of prillm's scenario data" err.txt || fail "$(cat err.txt)"
  echo '{"scenarios": [{"id": "x", "changes": [{"provider": "nope", "price": 1}]}]}' > bad.json
  "$sweep" scenarios m.json --whatif bad.json 2> err.txt; [ $? -eq 3 ] || fail "unknown provider: exit"
  grep -q 'scenarios\[0\].changes\[0\].provider "nope" is not in the market' err.txt || fail "$(cat err.txt)"
  echo '{"scenarios": [{"id": "x", "changes": [{"provider": "model-1", "capacity": -1}]}]}' > bad.json
  "$sweep" scenarios m.json --whatif bad.json 2> err.txt; [ $? -eq 3 ] || fail "invalid what-if: exit"
  grep -q 'what-if "x" makes the market invalid: providers\[1\].capacity must be > 0' err.txt || fail "$(cat err.txt)"
  # a key twice in a change (cJSON kept the first: price 1 applied, or
  # the change made to model-1 while its last "provider" named model-2)
  echo '{"scenarios": [{"id": "x", "changes": [{"provider": "model-1", "price": 1, "price": 2}]}]}' > bad.json
  "$sweep" scenarios m.json --whatif bad.json 2> err.txt; [ $? -eq 3 ] || fail "a key twice: exit"
  grep -q 'scenarios\[0\].changes\[0\]: duplicate key "price"' err.txt || fail "$(cat err.txt)"
  echo '{"scenarios": [{"id": "x", "changes": [{"provider": "model-1", "price": 1, "provider": "model-2"}]}]}' > bad.json
  "$sweep" scenarios m.json --whatif bad.json 2> err.txt; [ $? -eq 3 ] || fail "provider twice: exit"
  grep -q 'duplicate key "provider"' err.txt || fail "$(cat err.txt)"
  # a target that cannot be priced in any scenario (no rival, no pmax) is
  # counted and fails the run (it exited 0 with "errors": 0)
  printf '%s' '{"weights": {"price": 1, "congestion": 1, "delay": 0}, "providers": [{"id": "solo", "price": 1,
    "capacity": 10, "value": 2}], "users": [{"id": "u", "demand": 5}], "delay": [[0]]}' > solo.json
  "$sweep" scenarios solo.json --perturb 2 --target solo --no-flows > out.json 2> err.txt; [ $? -eq 5 ] || fail "target errors: exit"
  grep -q '"target_errors": 3' out.json || fail "$(cat out.json)"
  grep -q 'the target could not be priced in 3 of 3 scenarios' err.txt || fail "$(cat err.txt)"
  "$sweep" scenarios solo.json --perturb 2 --target solo --pmax 10 --no-flows > out.json 2> err.txt || fail "with --pmax: $(cat err.txt)"
  grep -q '"target_not_solved": 0, "target_errors": 0' out.json || fail "$(cat out.json)"
  # changes that leave the market as it was; an id --perturb also gives
  echo '{"scenarios": [{"id": "x", "changes": [{"provider": "model-1", "price_scale": 1}]}]}' > bad.json
  "$sweep" scenarios m.json --whatif bad.json 2> err.txt; [ $? -eq 3 ] || fail "a what-if that changes nothing: exit"
  grep -q 'what-if "x" changes nothing' err.txt || fail "$(cat err.txt)"
  echo '{"scenarios": [{"id": "perturbed-2", "changes": [{"provider": "model-1", "price_scale": 0.5}]}]}' > bad.json
  "$sweep" scenarios m.json --whatif bad.json --perturb 2 2> err.txt; [ $? -eq 3 ] || fail "a --perturb id: exit"
  grep -q 'scenarios\[0\].id "perturbed-2" is also the id of a --perturb scenario' err.txt || fail "$(cat err.txt)"
  "$sweep" scenarios m.json --whatif bad.json --perturb 1 > /dev/null 2>&1 || fail "perturbed-2 beside --perturb 1"
  head -c 300 m.bin > short.bin
  "$sweep" providers short.bin 2> err.txt; [ $? -eq 3 ] || fail "truncated market: exit"
  grep -q truncated err.txt || fail "$(cat err.txt)"
  "$sweep" providers m.json --top 2 2>/dev/null; [ $? -eq 2 ] || fail "providers --top: not a usage error"
  "$sweep" providers m.json --targets model-1,model-1 2> err.txt; [ $? -eq 2 ] || fail "--targets twice: exit"
  grep -q -- '--targets lists "model-1" twice' err.txt || fail "$(cat err.txt)"
  "$sweep" scenarios m.json --no-flows --top 2 2>/dev/null; [ $? -eq 2 ] || fail "--no-flows --top"
  "$sweep" providers m.json --method da 2>/dev/null; [ $? -eq 2 ] || fail "--method da"
  "$sweep" 2>/dev/null; [ $? -eq 2 ] || fail "no arguments"
  if [ "$with_mpi" = 0 ]; then
    "$sweep" --version | grep -q "built without MPI" || fail "--version"
    OMPI_COMM_WORLD_SIZE=2 "$sweep" providers m.json 2> err.txt; [ $? -eq 2 ] || fail "ranks without MPI"
    grep -q "built without MPI" err.txt || fail "$(cat err.txt)"
  else
    "$sweep" --version | grep -q "with MPI" || fail "--version"
  fi
  set -e
  echo "sweep_single: passed"
  exit 0
fi

# ---- mpi -------------------------------------------------------------------
if [ "$with_mpi" != 1 ]; then echo "built without MPI (PRILLM_WITH_MPI=OFF): skipped"; exit 77; fi
command -v mpirun >/dev/null || { echo "mpirun not found (Debian: openmpi-bin): skipped"; exit 77; }
# Open MPI refuses root without --allow-run-as-root; --oversubscribe lets 2
# ranks start whatever the machine's slot count
run=(mpirun --oversubscribe)
[ "$(id -u)" -eq 0 ] && run+=(--allow-run-as-root)
"$sweep" providers m.json --no-timing --quiet > one.json
"$sweep" "${scenario_args[@]}" --top 2 --quiet > one_sc.json
"$sweep" providers m.json --quiet > one_timed.json
"$sweep" training-data m.bin --out one_data.bin "${training_args[@]}" --quiet
"$prillm" price m.json --all > price_all.json
for schedule in dynamic static; do
  for np in 1 2; do
    "${run[@]}" -np $np "$sweep" providers m.json --no-timing --schedule $schedule --quiet > np.json ||
      fail "mpirun -np $np providers ($schedule)"
    cmp -s one.json np.json || { diff one.json np.json | head; fail "providers on $np ranks ($schedule) differ"; }
    "${run[@]}" -np $np "$sweep" "${scenario_args[@]}" --top 2 --schedule $schedule --quiet > np_sc.json ||
      fail "mpirun -np $np scenarios ($schedule)"
    cmp -s one_sc.json np_sc.json || { diff one_sc.json np_sc.json | head; fail "scenarios on $np ranks differ"; }
    "${run[@]}" -np $np "$sweep" training-data m.bin --out np_data.bin "${training_args[@]}" --schedule $schedule \
      --quiet || fail "mpirun -np $np training-data ($schedule)"
    cmp -s one_data.bin np_data.bin || fail "training-data on $np ranks ($schedule) differs"
  done
done
# with timing: the rows of prillm price --all, but for the seconds
"${run[@]}" -np 2 "$sweep" providers m.json --quiet > np_timed.json
mask np_timed.json > a; mask price_all.json > b
cmp -s a b || fail "providers on 2 ranks differ from prillm price --all"
# both ranks did work (dynamic), and a market rank 0 cannot read stops all
"${run[@]}" -np 2 "$sweep" providers m.json > /dev/null 2> notes.txt
grep -q "rank 1: [1-9]" notes.txt || fail "rank 1 did nothing: $(cat notes.txt)"
set +e
"${run[@]}" -np 2 "$sweep" providers no-such.json > /dev/null 2> err.txt; code=$?
set -e
[ $code -eq 3 ] || fail "missing market on 2 ranks: exit $code"
[ "$(grep -c 'cannot open' err.txt)" -eq 1 ] || fail "the error is printed once: $(cat err.txt)"
echo "sweep_mpi: 1 and 2 ranks, dynamic and static, byte-identical (providers, scenarios, training-data); equal to prillm price --all"
