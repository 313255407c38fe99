"""(b) Exact pricing matches `prillm price --target ID`, curve included."""

import numpy as np
import pytest

import prillm
from conftest import nums

FIELDS = ["price", "profit", "flow", "current_price", "current_profit", "current_flow", "uplift", "uplift_relative",
          "cost", "kkt_violation", "curve_residual", "model_profit"]


@pytest.mark.parametrize("which", [0, 7, 19])
def test_exact_matches_cli(default_market_path, cli, which):
    market = prillm.Market.from_file(default_market_path)
    target = market.provider_ids[which]
    ref = cli("price", default_market_path, "--target", target)
    r = prillm.price(market, target, method="exact")
    assert r.status == ref["status"]
    assert r.method == ref["method"] == "exact"
    assert r.target == ref["target"] == target and r.target_index == which
    for name in FIELDS:
        np.testing.assert_allclose(getattr(r, name), nums([ref[name]])[0], rtol=1e-12, atol=1e-12, err_msg=name)
    np.testing.assert_allclose(r.p_max, ref["pmax"], rtol=1e-12)
    assert r.iterations == ref["iterations"] and r.equilibrium_solves == ref["equilibrium_solves"]
    assert r.warnings == ref["warnings"]
    segs = ref["segments"]
    assert len(r.segments) == len(segs) > 0
    for col in ("from", "to", "flow", "flow_slope", "best_price", "best_profit"):
        np.testing.assert_allclose(r.segments[col], nums([s[col] for s in segs]), rtol=1e-12, atol=1e-12, err_msg=col)
    bps = ref["breakpoints"]
    assert len(r.breakpoints) == len(bps)
    for b, rb in zip(r.breakpoints, bps):
        assert b["price"] == pytest.approx(rb["price"], rel=1e-12, abs=1e-12)
        assert r.user_ids[b["user"]] == rb["user"]
        assert r.provider_ids[b["provider"]] == rb["provider"]
        assert bool(b["enters"]) == (rb["event"] == "enters")


def test_curve_is_consistent(default_market_path):
    market = prillm.Market.from_file(default_market_path)
    r = market.price(2, prune=0)
    s = r.segments
    # walked whole: contiguous pieces from 0 to pmax, flows continuous and nonincreasing
    assert s["from"][0] == 0 and s["to"][-1] == pytest.approx(r.p_max)
    np.testing.assert_array_equal(s["to"][:-1], s["from"][1:])
    assert np.all(s["flow_slope"] <= 0)
    ends = s["flow"][:-1] + s["flow_slope"][:-1] * (s["to"][:-1] - s["from"][:-1])
    np.testing.assert_allclose(ends, s["flow"][1:], rtol=1e-9, atol=1e-9)
    # the optimum is the best piece, and the curve agrees with the true game
    assert r.profit == pytest.approx(s["best_profit"].max(), rel=1e-9)
    for p in (0.5 * r.price, r.price, 0.5 * (r.price + r.p_max)):
        truth = prillm.profit_at(market, 2, p)
        assert r.profit_curve(p) == pytest.approx(truth["profit"], rel=1e-8, abs=1e-8)
    assert r.uplift >= -1e-9


def test_pruned_curve_has_gaps(default_market_path):
    # 400 pairs: pruned by default, to the whole walk's optimum; the curve
    # is NaN where it was not walked, never an extended neighbour
    market = prillm.Market.from_file(default_market_path)
    whole, pruned = market.price(2, prune=0), market.price(2)
    assert pruned.profit == pytest.approx(whole.profit, rel=1e-12)
    assert pruned.price == pytest.approx(whole.price, rel=1e-9)
    s = pruned.segments
    assert s.size < whole.segments.size
    assert whole.walked_fraction == 1 and whole.bound_solves == 0
    assert 0 < pruned.walked_fraction < 1 and pruned.bound_solves > 0
    gaps = [(a, b) for a, b in zip(s["to"][:-1], s["from"][1:]) if b > a]
    if s["from"][0] > 0:
        gaps.append((0.0, s["from"][0]))
    assert gaps, "a pruned curve of the default market has a gap"
    a, b = gaps[0]
    assert np.isnan(pruned.profit_curve(0.5 * (a + b)))
    assert pruned.profit_curve(pruned.price) == pytest.approx(pruned.profit, rel=1e-9)
    assert np.isnan(pruned.profit_curve(2 * pruned.p_max))
    assert isinstance(pruned.profit_curve(pruned.price), float)  # a scalar for a scalar
    assert pruned.profit_curve([pruned.price, 2 * pruned.p_max]).shape == (2,)


def test_options_pass_through(default_market_path, cli):
    market = prillm.Market.from_file(default_market_path)
    target = market.provider_ids[5]
    r = market.price(target, method="grid", grid_points=51)
    ref = cli("price", default_market_path, "--target", target, "--method", "grid", "--grid-points", "51")
    assert r.method == "grid" and r.segments.size == 0
    assert r.price == pytest.approx(ref["price"], rel=1e-12)
    assert r.iterations == 51
    pm = market.price(target, pmax=1.0)
    assert pm.p_max == 1.0 and pm.price <= 1.0


def test_compare(default_market_path):
    market = prillm.Market.from_file(default_market_path)
    r = market.price(4, method="min", k=2, compare=True)
    exact = market.price(4)
    assert r.exact_profit == pytest.approx(exact.profit, rel=1e-9)
    assert 0 <= r.profit_ratio <= 1 + 1e-9
    assert r.profit_ratio == pytest.approx(r.profit / r.exact_profit, rel=1e-12)
