"""Benchmark of prillm serve (docs/benchmarks.md, docs/service.md):

1. the bounded load test: N requests (default 10,000) from 16 concurrent
   clients on 127.0.0.1, 10% malformed, on nine 20 x 20 markets; throughput,
   latency percentiles, status counts, and a check that the final state
   equals a sequential replay of the acknowledged changes; in memory and
   with --state (every change fsynced before its answer);
2. warm re-pricing: a 1% price change (PATCH, the equilibrium re-solved
   from the warm one) on data/default_market.json (20 x 20), p50 over R
   rounds, against the cold command-line path (a new process reading the
   market and solving: prillm equilibrium), as a ratio; likewise the
   optimal price after the change (POST /price) against prillm price.

Usage: PRILLM_CLI=build/prillm python3 bench/service/bench_service.py [--requests N] [--rounds R]
Prints Markdown tables. The client is Python (http.client, one keep-alive
connection per thread), on the same 2-core machine as the server: the
throughput is the pair's, a floor for the server's.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import serve_load  # noqa: E402
from serve_load import Server, percentile  # noqa: E402


def ms(x):
    return "%.3f" % (1e3 * x)


def load_section(n_requests, clients, state):
    with tempfile.TemporaryDirectory() as tmp:
        s = Server(["--quiet"], state=os.path.join(tmp, "state") if state else None)
        try:
            markets = {}
            for seed in range(8):
                _, _, c = s.request("POST", "/markets", serve_load.generate_market(20, 20, 1000 + seed))
                markets[c["id"]] = s.request("GET", "/markets/" + c["id"])[2]["market"]
            with open(os.path.join(serve_load.source_dir(), "data", "default_market.json")) as f:
                _, _, c = s.request("POST", "/markets", f.read())
            markets[c["id"]] = s.request("GET", "/markets/" + c["id"])[2]["market"]
            cpu0 = os.times()
            report = serve_load.run_load(s, markets, n_requests, clients, 0.1, seed=1)
            replay = serve_load.check_replay(s, markets, report["acked"])
            rc = s.stop()
        finally:
            s.cleanup()
    lat = report["latencies"]
    every = [x for v in lat.values() for x in v]
    five = sum(n for code, n in report["statuses"].items() if code >= 500)
    four = sum(n for code, n in report["statuses"].items() if 400 <= code < 500)
    print("### %s: %d requests, %d clients, 10%% malformed, 9 markets of 20 x 20%s\n" % (
        "with --state (fsync before every answer)" if state else "in memory", report["requests"], clients, ""))
    print("| requests | wall s | requests/s | p50 ms | p90 ms | p99 ms | max ms | 2xx | 409 | other 4xx | 5xx | "
          "problems | final state = sequential replay | exit |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|")
    ok = sum(n for code, n in report["statuses"].items() if code < 300)
    conflicts = report["statuses"].get(409, 0)
    print("| %d | %.2f | %.0f | %s | %s | %s | %s | %d | %d | %d | %d | %d | %s | %d |" % (
        report["requests"], report["wall"], report["requests"] / report["wall"], ms(percentile(every, 50)),
        ms(percentile(every, 90)), ms(percentile(every, 99)), ms(max(every)), ok, conflicts, four - conflicts, five,
        len(report["problems"]), "yes (%d changes)" % len(report["acked"]) if not replay else "NO: " + replay[0], rc))
    print()
    print("| kind | requests | p50 ms | p90 ms | p99 ms | max ms |")
    print("|---|---:|---:|---:|---:|---:|")
    for kind in sorted(lat):
        v = lat[kind]
        print("| %s | %d | %s | %s | %s | %s |" % (kind, len(v), ms(percentile(v, 50)), ms(percentile(v, 90)),
                                                   ms(percentile(v, 99)), ms(max(v))))
    print()
    for p in report["problems"][:10]:
        print("problem:", p)
    return not report["problems"] and not replay and five == 0


def cold(args, rounds):
    times = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        subprocess.run([serve_load.cli_path()] + args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                       check=False)
        times.append(time.perf_counter() - t0)
    return times


def warm_section(rounds, state):
    path = os.path.join(serve_load.source_dir(), "data", "default_market.json")
    with open(path) as f:
        text = f.read()
    market = json.loads(text)
    target = "anthropic/claude-3.5-haiku"
    with tempfile.TemporaryDirectory() as tmp:
        # the request log is on: it gives the server's own time per request
        s = Server([], state=os.path.join(tmp, "state") if state else None)
        try:
            _, _, c = s.request("POST", "/markets", text)
            mid = c["id"]
            conn = s.connection()
            base = {p["id"]: p["price"] for p in market["providers"]}
            ids = sorted(base)
            patch_rt, solve, eq_rt, price_rt, cached_rt, warm = [], [], [], [], [], 0
            for r in range(rounds):
                p = ids[r % len(ids)]
                # a 1% change, alternately up and down, so the market stays close to the file
                factor = 1.01 if (r // len(ids)) % 2 == 0 else 1 / 1.01
                body = json.dumps({"prices": {p: base[p] * factor}})
                base[p] *= factor
                t0 = time.perf_counter()
                status, _, data = s.request("PATCH", "/markets/" + mid, body, conn=conn)
                patch_rt.append(time.perf_counter() - t0)
                assert status == 200, data
                warm += data["equilibrium"]["warm"]
                solve.append(data["equilibrium"]["seconds"])
                t0 = time.perf_counter()
                status, _, data = s.request("GET", "/markets/%s/equilibrium" % mid, conn=conn)
                eq_rt.append(time.perf_counter() - t0)
                t0 = time.perf_counter()
                status, _, data = s.request("POST", "/markets/%s/price" % mid, json.dumps({"target": target}), conn=conn)
                price_rt.append(time.perf_counter() - t0)
                assert status == 200 and data["status"] == "solved", data
                t0 = time.perf_counter()
                status, hdrs, again = s.request("POST", "/markets/%s/price" % mid, json.dumps({"target": target}),
                                                conn=conn)
                cached_rt.append(time.perf_counter() - t0)
                assert status == 200 and hdrs.get("x-prillm-answer") == "cached" and again == data
            conn.close()
            s.stop()
            server_patch = [float(line.split()[-4]) / 1e3 for line in s.stderr().splitlines()
                            if " PATCH /markets/" in line and " 200 " in line]
        finally:
            s.cleanup()
    return patch_rt, solve, eq_rt, price_rt, cached_rt, warm, server_patch


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--requests", type=int, default=10000)
    ap.add_argument("--clients", type=int, default=16)
    ap.add_argument("--rounds", type=int, default=400)
    ap.add_argument("--cold-rounds", type=int, default=40)
    a = ap.parse_args()
    ok = True
    print("## the bounded load test\n")
    for state in (False, True):
        ok &= load_section(a.requests, a.clients, state)
    print("## warm re-pricing after a 1%% price change: data/default_market.json (20 x 20), %d rounds\n" % a.rounds)
    path = os.path.join(serve_load.source_dir(), "data", "default_market.json")
    cold_eq = cold(["equilibrium", path], a.cold_rounds)
    cold_price = cold(["price", path, "--target", "anthropic/claude-3.5-haiku"], a.cold_rounds)
    print("| path | p50 ms | p90 ms | p99 ms | cold CLI p50 ms | cold / warm (p50) |")
    print("|---|---:|---:|---:|---:|---:|")
    for state in (False, True):
        patch_rt, solve, eq_rt, price_rt, cached_rt, warm, server_patch = warm_section(a.rounds, state)
        tag = "--state" if state else "in memory"
        rows = [("equilibrium re-solve in the server (warm, %d/%d from the last solution), %s" % (warm, a.rounds, tag),
                 solve, cold_eq),
                ("PATCH 1%% price in the server (request read to answer queued: parse, check, %ssolve)" %
                 ("save, " if state else ""), server_patch, cold_eq),
                ("PATCH 1%% price, HTTP round trip (re-solved, %s)" % tag, patch_rt, cold_eq),
                ("PATCH + GET /equilibrium (the new traffic split), %s" % tag,
                 [x + y for x, y in zip(patch_rt, eq_rt)], cold_eq),
                ("POST /price exact after the change (optimal price, curve), %s" % tag, price_rt, cold_price),
                ("the same POST /price again, same version (answer held), %s" % tag, cached_rt, cold_price)]
        for name, v, c in rows:
            print("| %s | %s | %s | %s | %s | %.1f |" % (name, ms(percentile(v, 50)), ms(percentile(v, 90)),
                                                          ms(percentile(v, 99)), ms(percentile(c, 50)),
                                                          percentile(c, 50) / percentile(v, 50)))
    print()
    print("cold CLI: `prillm equilibrium data/default_market.json` and `prillm price ... --target "
          "anthropic/claude-3.5-haiku`, a new process each (start, read, validate, solve, print), %d runs" %
          a.cold_rounds)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
