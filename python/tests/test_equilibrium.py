"""(a) The equilibrium of the default market matches the command line."""

import numpy as np
import pytest

import prillm
from conftest import nums


def close(a, b):
    np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)


def test_matches_cli(default_market_path, cli):
    ref = cli("equilibrium", default_market_path)
    with prillm.Market.from_file(default_market_path) as market:
        eq = prillm.equilibrium(market)
        assert market.user_ids == ref["users"]
        assert market.provider_ids == ref["providers"]
    assert eq.status == ref["status"] == "solved"
    assert eq.method == ref["method"]
    close(eq.flows, np.array(ref["flows"], dtype=float))
    close(eq.provider_flow, nums(ref["provider_flow"]))
    close(eq.lambda_, nums(ref["lambda"]))
    close(eq.kkt_violation, ref["kkt_violation"])
    close(eq.demand_residual, ref["demand_residual"])
    close(eq.potential, ref["potential"])
    assert eq.active_pairs == ref["active_pairs"]
    assert eq.iterations == ref["iterations"] and eq.sweeps == ref["sweeps"]


def test_certificate_and_demand(default_market_path):
    market = prillm.Market.from_file(default_market_path)
    eq = market.equilibrium(tolerance=1e-12)
    np.testing.assert_allclose(eq.flows.sum(axis=1), market.demands, rtol=1e-12)
    np.testing.assert_allclose(eq.flows.sum(axis=0), eq.provider_flow, rtol=1e-12)
    cert = prillm.certify(market, eq.flows)
    assert cert["kkt_violation"] == pytest.approx(eq.kkt_violation, abs=1e-15)
    assert cert["kkt_violation"] < 1e-12


def test_solver_update_price_warm_start(default_market_path):
    market = prillm.Market.from_file(default_market_path)
    target = market.provider_ids[3]
    new = market.prices[3] * 1.5
    with prillm.Solver(market) as solver:
        solver.solve()
        solver.update_price(target, new)
        warm = solver.solve()
    prices = market.prices
    prices[3] = new
    cold = market.replace(prices=prices).equilibrium()
    np.testing.assert_allclose(warm.flows, cold.flows, rtol=1e-10, atol=1e-9)
    assert warm.provider_flow[3] < market.equilibrium().provider_flow[3]


def test_methods_agree(default_market_path):
    market = prillm.Market.from_file(default_market_path)
    exact = market.equilibrium()
    gs = market.equilibrium(method="gauss-seidel", tolerance=1e-9, max_sweeps=200000)
    np.testing.assert_allclose(gs.flows, exact.flows, atol=1e-4 * market.demands.max())
