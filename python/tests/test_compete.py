"""prillm.compete: the closed-form symmetric duopoly, the same answer as the
command line, an independent check of the certificate with prillm.price,
options validated by the library."""

import math
import os

import pytest

import prillm


def read_market(path):
    with open(path) as f:
        return prillm.Market.from_json(f.read())


def test_symmetric_duopoly_closed_form(repo):
    path = os.path.join(repo, "data", "examples", "compete_symmetric.json")
    if not os.path.isfile(path):
        pytest.skip("data/examples/compete_symmetric.json not found")
    r = prillm.compete(read_market(path))
    # p* = k + 2 w_q D / (kappa w_p) with k = 0.5, D = 10, two models of
    # capacity 5: 4.5 each (docs/competition.md)
    assert r["status"] == "converged" and r["certified"]
    for model in ("left", "right"):
        assert abs(r["prices"][model] - 4.5) <= 1e-9
        assert abs(r["flows"][model] - 5.0) <= 1e-9
        assert abs(r["profits"][model] - 20.0) <= 1e-8
    assert r["cycle"] == []


def test_matches_cli_and_certificate_holds(default_market_path, cli):
    market = read_market(default_market_path)
    leaders = ["anthropic/claude-sonnet-4", "openai/gpt-5"]
    r = prillm.compete(market, leaders)
    c = cli("compete", default_market_path, "--providers", ",".join(leaders), "--json")
    assert r["status"] == c["status"] == "converged"
    assert r["rounds"] == c["rounds"]
    for row in c["leaders"]:
        assert r["prices"][row["id"]] == pytest.approx(row["price"], rel=1e-12, abs=1e-12)
    assert [x["id"] for x in r["leaders"]] == leaders
    # independently: at the final prices no leader gains by moving alone
    moved = market.replace(prices=[r["prices"][model] for model in market.provider_ids])
    for model in leaders:
        best = prillm.price(moved, model)
        now = r["profits"][model]
        assert best.profit - now <= 1e-6 * max(abs(now), 1.0)


def test_options_and_errors(default_market_path):
    market = read_market(default_market_path)
    r = prillm.compete(market, ["openai/gpt-5", "x-ai/grok-4"], order="jacobi", damping=0.5, max_rounds=2)
    assert r["status"] in ("converged", "round_limit", "cycle")
    assert r["rounds"] <= 2
    assert not math.isnan(r["max_gain_relative"])
    with pytest.raises(prillm.Error) as e:
        prillm.compete(market, damping=0)
    assert "damping" in str(e.value)
    with pytest.raises(prillm.Error):
        prillm.compete(market, ["no-such-model"])
    assert any(o["keyword"] == "max_rounds" for o in prillm.options("compete"))


def test_threads_change_nothing_but_time(default_market_path):
    """A Jacobi round's answers run side by side; the result is the same."""
    market = read_market(default_market_path)
    runs = [prillm.compete(market, order="jacobi", damping=0.5, max_rounds=15, threads=t) for t in (1, 2)]
    for key in ("status", "rounds", "best_responses", "equilibrium_solves", "max_gain_relative", "prices", "profits"):
        assert runs[0][key] == runs[1][key], key
    with pytest.raises(prillm.Error) as e:
        prillm.compete(market, threads=-1)
    assert "threads" in str(e.value)
