"""(f) The whole-market fit and predict on a slice of the OpenRouter data
(skipped when ../shared/data/openrouter is absent), against the command line."""

import json
import os

import numpy as np
import pytest

import prillm

SLICE = dict(max_models=30, max_apps=100)


@pytest.fixture(scope="module")
def fit(openrouter_dir):
    result = prillm.fit_openrouter(openrouter_dir, **SLICE)
    yield result
    result.close()


def test_fit_slice(fit):
    assert fit.status == "solved"
    m = fit.market.n_providers
    assert m == 30 and fit.n_apps <= 100
    assert fit.market.n_users == fit.n_apps + fit.segments + fit.class_users
    assert fit.service_class.shape == (fit.market.n_providers,) and set(fit.service_class) <= {0, 1, 2}
    # the inversion's certificate: observed totals and listed flows reproduced
    assert fit.max_total_error < 1e-6 and fit.kkt_violation < 1e-9
    eq = fit.market.equilibrium()
    paid = fit.observed_flow > 0
    np.testing.assert_allclose(eq.provider_flow[paid], fit.observed_flow[paid], rtol=1e-6)
    assert fit.forward.size > 2 and "persistence" in list(fit.forward["name"])
    assert fit.diversion_to.shape == (m, 3)
    assert set(json.loads(fit.calibrated_json)) >= {"weights", "providers", "users", "calibration"}
    assert json.loads(fit.report_json)["status"] == "solved"
    assert fit.settings["max_models"] == 30


def test_fit_matches_cli(fit, openrouter_dir, cli, tmp_path):
    out = tmp_path / "calibrated.json"
    report = cli("fit", "--data", openrouter_dir, "--max-models", "30", "--max-apps", "100", "--out", str(out))
    assert fit.calibrated_json == out.read_text()
    assert report["apps"] == fit.n_apps and report["elasticity_target"] == fit.elasticity
    # the calibrated market's own-price elasticities from the Jacobian match the fit's
    J = fit.market.price_jacobian()
    F = fit.market.equilibrium().provider_flow
    has = F > 0
    own = np.diag(J)[has] * fit.market.prices[has] / F[has]
    np.testing.assert_allclose(own, fit.own_elasticity[has], rtol=1e-8, atol=1e-10)


def test_predict_matches_cli(fit, openrouter_dir, cli, tmp_path):
    pred = prillm.predict(fit, openrouter_dir)
    assert pred.status == "solved"
    n, m = pred.market.shape
    assert pred.flows.shape == (n, m) and pred.provider_flow.shape == (m,)
    np.testing.assert_allclose(pred.flows.sum(axis=0), pred.provider_flow, rtol=1e-9)
    path = tmp_path / "calibrated.json"
    path.write_text(fit.calibrated_json)
    ref = cli("predict", str(path), "--data", openrouter_dir)
    assert "%04d-%02d-%02d" % (pred.date // 10000, pred.date // 100 % 100, pred.date % 100) == ref["date"]
    assert [x["id"] for x in ref["models"]] == pred.provider_ids
    np.testing.assert_allclose(pred.provider_flow * 1e6, [x["tokens"] for x in ref["models"]], rtol=1e-12)
    assert list(pred.entrant) == [x["entrant"] for x in ref["models"]]
    # the same from the file, and from a given date
    again = prillm.predict(str(path), openrouter_dir, date=ref["date"])
    np.testing.assert_array_equal(again.flows, pred.flows)


def test_price_a_fitted_model(fit):
    mk = fit.market
    j = int(np.argmax(np.where(mk.prices > 0, fit.observed_flow, -1)))
    r = mk.price(j)
    assert r.status in ("solved", "inaccurate") and r.segments.size > 0
    assert r.profit >= r.current_profit - 1e-9 * abs(r.current_profit)


def test_elasticity(openrouter_dir):
    raw = os.path.join(openrouter_dir, "raw", "sui414_openrouter-pricing-data")
    if not os.path.isdir(raw):
        pytest.skip("raw pricing tables not found at %s" % raw)
    e = prillm.elasticity_estimate(openrouter_dir, bootstrap=0)
    assert np.isfinite(e.across_providers["elasticity"]) and e.across_providers["n_obs"] > 0
    assert len(e.models) == e.model_estimates.size
    again = prillm.elasticity_estimate(openrouter_dir, bootstrap=0)
    np.testing.assert_equal(again.across_providers, e.across_providers)  # NaN == NaN here
    with pytest.raises(prillm.Error, match="level"):
        prillm.elasticity_estimate(openrouter_dir, level=2.0)
    with pytest.raises(prillm.Error, match='unknown option "boot"'):
        prillm.elasticity_estimate(openrouter_dir, boot=3)
