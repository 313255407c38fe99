"""(c) numpy round trips; market attributes."""

import json

import numpy as np
import pytest

import prillm


def small_market(affinity=True):
    rng = np.random.default_rng(7)
    n, m = 4, 3
    kw = dict(
        prices=[0.5, 1.25, 3.0],
        capacities=[100.0, 50.0, 80.0],
        values=[2.0, 2.5, 4.0],
        demands=[40.0, 10.0, 25.0, 5.0],
        delay=rng.uniform(0.2, 2.0, size=(n, m)),
        latency=[0.5, 1.0, np.nan],
        costs=[0.1, np.nan, 1.0],
        provider_ids=["a/x", "b/y", "c/z"],
        user_ids=["app one", "app two", "app \"three\"", "app-4"],
        w_price=1.0,
        w_congestion=0.8,
        w_delay=0.5,
    )
    if affinity:
        kw["affinity"] = rng.normal(0, 0.5, size=(n, m))
    return kw


def test_round_trip_with_affinity():
    kw = small_market()
    with prillm.Market.from_arrays(**kw) as market:
        assert market.shape == (4, 3)
        np.testing.assert_array_equal(market.prices, kw["prices"])
        np.testing.assert_array_equal(market.capacities, kw["capacities"])
        np.testing.assert_array_equal(market.values, kw["values"])
        np.testing.assert_array_equal(market.demands, kw["demands"])
        np.testing.assert_array_equal(market.delay, kw["delay"])
        np.testing.assert_array_equal(market.affinity, kw["affinity"])
        np.testing.assert_array_equal(market.latency, kw["latency"])
        np.testing.assert_array_equal(market.costs, kw["costs"])
        assert market.provider_ids == kw["provider_ids"] and market.user_ids == kw["user_ids"]
        assert market.weights == (1.0, 0.8, 0.5)
        text = market.to_json()
        doc = json.loads(text)
        assert "affinity" in doc and len(doc["affinity"]) == 4
        back = prillm.Market.from_json(text)
        # shortest exact decimal form: every double comes back bit for bit
        for name in ("prices", "capacities", "values", "demands", "delay", "affinity", "latency", "costs"):
            np.testing.assert_array_equal(getattr(back, name), getattr(market, name), err_msg=name)
        assert back.user_ids == market.user_ids and back.weights == market.weights
        np.testing.assert_array_equal(back.equilibrium().flows, market.equilibrium().flows)
        assert back.to_json() == text


def test_affinity_moves_traffic_only_by_differences():
    kw = small_market(affinity=False)
    base = prillm.Market.from_arrays(**kw).equilibrium().flows
    aff = np.zeros((4, 3))
    aff[0, 2] = 3.0
    tilted = prillm.Market.from_arrays(**kw, affinity=aff).equilibrium().flows
    assert tilted[0, 2] > base[0, 2]
    # a constant added to one app's whole row changes no flow
    shifted = prillm.Market.from_arrays(**kw, affinity=aff + np.array([[5.0], [0], [-2.0], [0]])).equilibrium().flows
    np.testing.assert_allclose(shifted, tilted, rtol=1e-9, atol=1e-9)
    # no affinity: the key is not written
    assert "affinity" not in json.loads(prillm.Market.from_arrays(**kw).to_json())


def test_delay_from_latency():
    kw = small_market()
    kw["latency"] = [0.5, 1.0, 2.0]
    delay = np.array(kw.pop("delay"))
    delay[1, 2] = np.nan
    market = prillm.Market.from_arrays(**kw, delay=delay)
    assert market.delay[1, 2] == 2.0
    market2 = prillm.Market.from_arrays(**kw)  # no delay at all: every row = latency
    np.testing.assert_array_equal(market2.delay, np.tile([0.5, 1.0, 2.0], (4, 1)))


def test_default_market_file_round_trip(default_market_path):
    market = prillm.Market.from_file(default_market_path)
    again = prillm.Market.from_arrays(
        market.prices, market.capacities, market.values, market.demands, market.delay,
        latency=market.latency, costs=market.costs, affinity=market.affinity,
        provider_ids=market.provider_ids, user_ids=market.user_ids,
        w_price=market.w_price, w_congestion=market.w_congestion, w_delay=market.w_delay,
    )
    assert again.to_json() == market.to_json()


def test_copy_subset_replace_random():
    market = prillm.Market.random(6, 5, seed=3)
    assert market.to_json() == prillm.Market.random(6, 5, seed=3).to_json()
    sub = market.subset(users=[0, 2], providers=[market.provider_ids[4], 1])
    assert sub.shape == (2, 2)
    assert sub.provider_ids == [market.provider_ids[4], market.provider_ids[1]]
    np.testing.assert_array_equal(sub.delay, market.delay[np.ix_([0, 2], [4, 1])])
    cheaper = market.replace(prices=market.prices * 0.5)
    np.testing.assert_array_equal(cheaper.prices, market.prices * 0.5)
    c = market.copy()
    market.close()
    assert market.closed and c.shape == (6, 5)
    with pytest.raises(ValueError, match="closed"):
        market.prices


def test_library_identity():
    assert prillm.library_version() == "0.1.0"
    assert prillm.library_path().endswith(".so") or ".so." in prillm.library_path()
    names = [o["keyword"] for o in prillm.options("equilibrium")]
    assert "tolerance" in names and "max_rounds" in names
