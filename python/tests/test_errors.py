"""(d) Errors carry the library's text and code."""

import json

import numpy as np
import pytest

import prillm


def arrays(**over):
    kw = dict(prices=[1.0, 2.0], capacities=[10.0, 20.0], values=[3.0, 3.0], demands=[5.0], delay=[[1.0, 1.0]])
    kw.update(over)
    return kw


def test_bad_capacity_names_the_field():
    with pytest.raises(prillm.Error) as e:
        prillm.Market.from_arrays(**arrays(capacities=[-1.0, 20.0]))
    assert "providers[0].capacity" in str(e.value)
    assert e.value.message == "providers[0].capacity must be > 0, got -1"
    assert e.value.code == 3 and e.value.code_name == "INVALID_DATA"


def test_bad_market_json_names_the_field(default_market_path):
    doc = json.load(open(default_market_path))
    doc["providers"][3]["capacity"] = 0
    with pytest.raises(prillm.Error, match=r"providers\[3\]\.capacity must be > 0") as e:
        prillm.Market.from_json(json.dumps(doc))
    assert e.value.code_name == "INVALID_DATA"
    doc = json.load(open(default_market_path))
    doc["affinity"] = [[0.0] * 20 for _ in range(20)]
    doc["affinity"][2][3] = "x"
    with pytest.raises(prillm.Error, match=r"affinity\[2\]\[3\]"):
        prillm.Market.from_json(json.dumps(doc))


def test_malformed_json_has_line_and_column():
    with pytest.raises(prillm.Error) as e:
        prillm.Market.from_json('{"weights": {"price": 1,\n  "congestion": }')
    assert e.value.code_name == "PARSE"
    assert "line 2" in e.value.message


def test_missing_file():
    with pytest.raises(prillm.Error) as e:
        prillm.Market.from_file("/nonexistent/market.json")
    assert e.value.code_name == "IO"


def test_nan_and_shape_errors():
    with pytest.raises(prillm.Error, match=r"providers\[1\]\.price"):
        prillm.Market.from_arrays(**arrays(prices=[1.0, np.nan]))
    with pytest.raises(prillm.Error, match=r"affinity\[0\]\[1\]"):
        prillm.Market.from_arrays(**arrays(affinity=[[0.0, np.inf]]))
    with pytest.raises(prillm.Error, match="capacities has shape"):
        prillm.Market.from_arrays(**arrays(capacities=[1.0]))
    with pytest.raises(prillm.Error, match="duplicate|unique"):
        prillm.Market.from_arrays(**arrays(provider_ids=["a", "a"]))


def test_bad_option_names_and_values(default_market_path):
    market = prillm.Market.from_file(default_market_path)
    with pytest.raises(prillm.Error) as e:
        market.equilibrium(tolerence=1e-9)
    assert e.value.message == 'unknown option "tolerence"' and e.value.code_name == "INVALID_ARGUMENT"
    with pytest.raises(prillm.Error, match="tolerance"):
        market.equilibrium(tolerance=-1.0)
    with pytest.raises(prillm.Error, match="method"):
        market.price(0, method="newton")
    with pytest.raises(prillm.Error, match='unknown option "grid_pts"|unknown option "grid-pts"'):
        market.price(0, grid_pts=3)
    with pytest.raises(prillm.Error, match="no provider"):
        market.price("no/such-model")
    with pytest.raises(prillm.Error, match='unknown option "max-model"'):
        prillm.fit_openrouter("/nonexistent", max_model=3)


def test_errors_leave_nothing_open(default_market_path):
    # a failing call after a successful parse: the market is still usable
    market = prillm.Market.from_file(default_market_path)
    for _ in range(3):
        with pytest.raises(prillm.Error):
            market.price(0, pmax=-1)
    assert market.equilibrium().status == "solved"
