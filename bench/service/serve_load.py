"""Drive prillm serve over HTTP: start it, send requests, and the bounded
load test shared by tests/service/test_serve.py (small, in the test suite)
and bench/service/bench_service.py (10,000 requests, docs/benchmarks.md).

Standard library only. The server runs as a child process on a free
loopback port (--listen 127.0.0.1:0 --port-file), so parallel runs never
collide.
"""
import http.client
import json
import os
import random
import shlex
import shutil
import signal
import subprocess
import tempfile
import threading
import time


def cli_path():
    return os.environ.get("PRILLM_CLI", "build/prillm")


def source_dir():
    return os.environ.get("PRILLM_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "..", ".."))


class Server:
    """prillm serve as a child process. args: extra command-line flags."""

    def __init__(self, args=(), state=None, env=None, cli=None):
        self.workdir = tempfile.mkdtemp(prefix="prillm-serve-")
        self.port_file = os.path.join(self.workdir, "port")
        self.log_path = os.path.join(self.workdir, "stderr.log")
        cmd = [cli or cli_path(), "serve", "--listen", "127.0.0.1:0", "--port-file", self.port_file]
        # PRILLM_SERVE_WRAPPER: a command the server runs under (scripts/test.sh: valgrind)
        cmd = shlex.split(os.environ.get("PRILLM_SERVE_WRAPPER", "")) + cmd
        if state:
            cmd += ["--state", state]
        cmd += list(args)
        full_env = dict(os.environ)
        full_env.setdefault("OPENBLAS_NUM_THREADS", "1")
        if env:
            full_env.update(env)
        self.log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=self.log, env=full_env)
        deadline = time.time() + 60
        while not os.path.exists(self.port_file):
            if self.proc.poll() is not None:
                raise RuntimeError("prillm serve exited with %d: %s" % (self.proc.returncode, self.stderr()))
            if time.time() > deadline:
                self.kill()
                raise RuntimeError("prillm serve did not start: " + self.stderr())
            time.sleep(0.01)
        with open(self.port_file) as f:
            self.port = int(f.read())

    def stderr(self):
        if not self.log.closed:
            self.log.flush()
        with open(self.log_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def connection(self, timeout=120):
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)

    def request(self, method, path, body=None, headers=None, conn=None, timeout=120):
        """(status, headers dict, parsed JSON or text)."""
        own = conn is None
        c = conn or self.connection(timeout)
        try:
            if isinstance(body, (dict, list)):
                body = json.dumps(body)
            if isinstance(body, str):
                body = body.encode()
            c.request(method, path, body=body, headers=headers or {})
            r = c.getresponse()
            data = r.read()
            hdrs = {k.lower(): v for k, v in r.getheaders()}
            if hdrs.get("content-type", "").startswith("application/json") and data:
                return r.status, hdrs, json.loads(data)
            return r.status, hdrs, data.decode("utf-8", "replace")
        finally:
            if own:
                c.close()

    def stop(self, sig=signal.SIGTERM, timeout=60):
        """Send sig and wait; returns the exit code."""
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            rc = self.proc.wait()
        self.log.close()
        return rc

    def kill(self):
        return self.stop(signal.SIGKILL)

    def cleanup(self):
        if self.proc.poll() is None:
            self.kill()
        if not self.log.closed:
            self.log.close()
        shutil.rmtree(self.workdir, ignore_errors=True)


def generate_market(users, providers, seed):
    out = subprocess.run([cli_path(), "generate", "--users", str(users), "--providers", str(providers),
                          "--seed", str(seed)], check=True, capture_output=True)
    return out.stdout.decode()


def without_seconds(text):
    """A JSON answer's lines without the wall-clock fields."""
    return [line for line in text.splitlines() if '"seconds"' not in line and '"method_seconds"' not in line]


def percentile(values, p):
    if not values:
        return float("nan")
    s = sorted(values)
    k = min(len(s) - 1, max(0, int(round(p / 100.0 * (len(s) - 1)))))
    return s[k]


# ---- the load test ------------------------------------------------------------

# malformed requests: (method, path template, body, headers, expected status)
MALFORMED = [
    ("PATCH", "/markets/{id}", '{"prices": {', None, 400),
    ("PATCH", "/markets/{id}", '{"prices": {"no-such-model": 1}}', None, 400),
    ("PATCH", "/markets/{id}", '{"capacities": {"{p}": -1}}', None, 400),
    ("PATCH", "/markets/{id}", '{"prices": {"{p}": "cheap"}}', None, 400),
    ("PATCH", "/markets/{id}", '{"colour": "blue"}', None, 400),
    ("PATCH", "/markets/{id}", '[1, 2]', None, 400),
    ("PATCH", "/markets/{id}", '{"prices": {"{p}": 1}}', {"If-Match": "yesterday"}, 400),
    ("PUT", "/markets/{id}", '{}', None, 405),
    ("GET", "/markets/00000000deadbeef", None, None, 404),
    ("GET", "/markets/not-an-id/equilibrium", None, None, 404),
    ("POST", "/markets/{id}/price", '{"target": "no-such-model"}', None, 400),
    ("POST", "/markets/{id}/price", '{"target": "{p}", "method": "magic"}', None, 400),
    ("POST", "/markets/{id}/price", '{"method": "exact"}', None, 400),
    ("GET", "/markets/{id}/equilibrium?tolerance=-1", None, None, 400),
    ("POST", "/markets", '{"providers": [{"id": "a", "price": 1}]', None, 400),
    ("POST", "/markets", '{"providers": [], "users": []}', None, 400),
    ("GET", "/nowhere", None, None, 404),
    ("DELETE", "/markets/{id}/equilibrium", None, None, 405),
]


def run_load(server, markets, n_requests, clients, malformed_share=0.1, seed=1):
    """Send n_requests from `clients` threads (keep-alive connections) to the
    markets {id: market dict}. Returns a report dict: counts, latencies,
    the acknowledged PATCHes (market, version, body) and the problems."""
    ids = sorted(markets)
    providers = {i: [p["id"] for p in markets[i]["providers"]] for i in ids}
    base_price = {i: {p["id"]: p["price"] for p in markets[i]["providers"]} for i in ids}
    users = {i: [u["id"] for u in markets[i]["users"]] for i in ids}
    base_demand = {i: {u["id"]: u["demand"] for u in markets[i]["users"]} for i in ids}
    lock = threading.Lock()
    acked = []          # (id, version, body)
    in_flight = {}      # thread -> (id, body) of a PATCH sent and not answered
    latencies = {}      # kind -> [seconds]
    statuses = {}       # status -> count
    problems = []
    last_version = {i: 1 for i in ids}
    per_client = [n_requests // clients + (1 if k < n_requests % clients else 0) for k in range(clients)]

    def client(k):
        rng = random.Random(seed * 1000 + k)
        conn = server.connection()
        for _ in range(per_client[k]):
            mid = rng.choice(ids)
            p = rng.choice(providers[mid])
            r = rng.random()
            headers = None
            patch = None
            if r < malformed_share:
                method, path, body, headers, expect = rng.choice(MALFORMED)
                path = path.replace("{id}", mid)
                if body:
                    body = body.replace("{p}", p)
                kind = "malformed"
            else:
                expect = None
                r = rng.random()
                if r < 0.45:
                    kind = "patch_price"
                    method, path = "PATCH", "/markets/" + mid
                    patch = {"prices": {p: round(base_price[mid][p] * rng.uniform(0.8, 1.25), 6)}}
                    if rng.random() < 0.5:
                        headers = {"If-Match": '"%d"' % last_version[mid]}
                    body = json.dumps(patch)
                elif r < 0.55:
                    kind = "patch_demand"
                    method, path = "PATCH", "/markets/" + mid
                    u = rng.choice(users[mid])
                    patch = {"demands": {u: round(base_demand[mid][u] * rng.uniform(0.9, 1.1), 6)}}
                    body = json.dumps(patch)
                elif r < 0.8:
                    kind = "equilibrium"
                    method, path, body = "GET", "/markets/%s/equilibrium" % mid, None
                elif r < 0.9:
                    kind = "price"
                    method, path = "POST", "/markets/%s/price" % mid
                    body = json.dumps({"target": p})
                else:
                    kind = "get"
                    method, path, body = "GET", "/markets/" + mid, None
            t0 = time.perf_counter()
            if patch is not None:
                with lock:
                    in_flight[k] = (mid, patch)
            try:
                status, hdrs, data = server.request(method, path, body, headers, conn=conn)
            except (ConnectionError, http.client.HTTPException, OSError) as e:
                with lock:
                    problems.append("%s %s: %s" % (method, path, e))
                conn.close()
                conn = server.connection()
                continue
            dt = time.perf_counter() - t0
            with lock:
                in_flight.pop(k, None)
                latencies.setdefault(kind, []).append(dt)
                statuses[status] = statuses.get(status, 0) + 1
                if status >= 500:
                    problems.append("%s %s -> %d %s" % (method, path, status, data))
                if expect is not None and status != expect:
                    problems.append("malformed %s %s %r -> %d (expected %d)" % (method, path, body, status, expect))
                if expect is not None and status < 500 and status >= 400 and not (
                        isinstance(data, dict) and data.get("error")):
                    problems.append("malformed %s %s: no error message" % (method, path))
                if patch is not None:
                    if status == 200:
                        acked.append((mid, data["version"], patch))
                        last_version[mid] = max(last_version[mid], data["version"])
                    elif status == 409:
                        last_version[mid] = max(last_version[mid], int(hdrs.get("etag", '"1"').strip('"')))
                    else:
                        problems.append("PATCH %s -> %d %s" % (path, status, data))
                elif expect is None and status != 200:
                    problems.append("%s %s -> %d %s" % (method, path, status, data))
        conn.close()

    threads = [threading.Thread(target=client, args=(k,)) for k in range(clients)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0
    return {"wall": wall, "requests": sum(len(v) for v in latencies.values()), "latencies": latencies,
            "statuses": statuses, "acked": acked, "problems": problems}


def apply_patch(market, patch):
    """The market dict after one PATCH body (what a sequential replay does)."""
    for p in market["providers"]:
        if p["id"] in patch.get("prices", {}):
            p["price"] = patch["prices"][p["id"]]
        if p["id"] in patch.get("capacities", {}):
            p["capacity"] = patch["capacities"][p["id"]]
    for u in market["users"]:
        if u["id"] in patch.get("demands", {}):
            u["demand"] = patch["demands"][u["id"]]


def check_replay(server, initial, acked, cli=None):
    """The final state of server equals a sequential replay of the
    acknowledged PATCHes, in version order, on a fresh in-memory server:
    the same versions (2..final, each once), byte-identical market JSON and
    the same equilibrium JSON (all but its wall-clock seconds). Returns a
    list of problems (empty: equal)."""
    problems = []
    by_market = {}
    for mid, version, patch in acked:
        by_market.setdefault(mid, []).append((version, patch))
    replay = Server(["--quiet"], cli=cli)
    try:
        for mid in sorted(initial):
            patches = sorted(by_market.get(mid, []), key=lambda vp: vp[0])
            versions = [v for v, _ in patches]
            if versions != list(range(2, 2 + len(versions))):
                problems.append("%s: acknowledged versions %s are not 2..%d, each once" % (mid, versions[:20],
                                                                                            1 + len(versions)))
            status, _, final = server.request("GET", "/markets/" + mid)
            if status != 200 or final["version"] != 1 + len(versions):
                problems.append("%s: final version %s, %d changes acknowledged" % (
                    mid, final.get("version") if isinstance(final, dict) else status, len(versions)))
            status, _, created = replay.request("POST", "/markets", json.dumps(initial[mid]))
            rid = created["id"]
            conn = replay.connection()
            for version, patch in patches:
                status, _, data = replay.request("PATCH", "/markets/" + rid, patch, conn=conn)
                if status != 200:
                    problems.append("replay %s v%d -> %d %s" % (mid, version, status, data))
            conn.close()
            _, _, mine = server.request("GET", "/markets/" + mid)
            _, _, theirs = replay.request("GET", "/markets/" + rid)
            if json.dumps(mine["market"], sort_keys=True) != json.dumps(theirs["market"], sort_keys=True):
                problems.append("%s: final market differs from the sequential replay" % mid)
            _, _, eq_mine = server.request("GET", "/markets/%s/equilibrium" % mid)
            _, _, eq_theirs = replay.request("GET", "/markets/%s/equilibrium" % rid)
            for key in ("status", "flows", "provider_flow", "lambda", "iterations", "sweeps", "active_pairs"):
                if eq_mine.get(key) != eq_theirs.get(key):
                    problems.append("%s: equilibrium %s differs from the sequential replay" % (mid, key))
    finally:
        replay.stop()
        replay.cleanup()
    return problems
