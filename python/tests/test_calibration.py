"""Calibration on the bundled synthetic observations, against the command line."""

import os

import numpy as np
import pytest

import prillm
from conftest import nums


@pytest.fixture(scope="module")
def synthetic_dir(repo):
    path = os.path.join(repo, "data", "calibration_synthetic")
    if not os.path.isdir(path):
        pytest.skip("data/calibration_synthetic not found")
    return path


def test_read_and_calibrate_matches_cli(synthetic_dir, cli):
    ref = cli("calibrate", "--data", synthetic_dir, "--iterations", "50", "--folds", "3")
    with prillm.read_observations(synthetic_dir) as obs:
        assert (obs.n_periods, obs.n_providers, obs.n_users) == (ref["periods"], ref["models"], ref["apps"])
        assert obs.layout == "generic" and obs.provider_ids == ref["providers"]
        assert obs.observed.shape == (obs.n_periods, obs.n_users, obs.n_providers)
        assert np.isfinite(obs.observed).sum() == ref["observed_cells"]
        with prillm.calibrate(obs, iterations=50, folds=3) as res:
            assert res.status == ref["status"] == "solved" and res.method == "prillm"
            for name in ("r2", "mae", "r2_heldout", "mae_heldout", "loss_initial", "loss_final"):
                np.testing.assert_allclose(getattr(res, name), ref[name], rtol=1e-12, err_msg=name)
            np.testing.assert_allclose(res.values, ref["values"], rtol=1e-12)
            np.testing.assert_allclose(res.w_congestion, ref["weights"]["congestion"], rtol=1e-12)
            np.testing.assert_allclose(res.w_delay, ref["weights"]["delay"], rtol=1e-12)
            assert res.iterations == ref["iterations"] and res.evaluations == ref["evaluations"]
            d = res.diagnose()
            np.testing.assert_allclose(d["own_elasticity"], nums(ref["own_elasticity"]), rtol=1e-9)
            np.testing.assert_allclose(d["implied_cost"], nums(ref["implied_cost"]), rtol=1e-9)
            assert d["paid"] == ref["paid_models"]
            # the calibrated market of the last period reproduces the in-sample prediction
            with res.market() as mk:
                assert mk.w_price == 1.0 and mk.w_congestion == pytest.approx(res.w_congestion)
                np.testing.assert_allclose(mk.values, res.values)
                np.testing.assert_allclose(mk.equilibrium().flows, res.predicted[-1], rtol=1e-8, atol=1e-8)


def test_progress_and_lifetime(synthetic_dir):
    with prillm.read_observations(synthetic_dir) as obs:
        assert obs.labels[0] and obs.warnings
        with prillm.calibrate(obs, iterations=20, folds=0, verbose=1) as res:
            assert any("iterations" in line for line in res.progress)
        with pytest.raises(ValueError, match="closed"):
            res.market()
        res = prillm.calibrate(obs, iterations=5, folds=0)
    with pytest.raises(ValueError, match="closed"):
        res.diagnose()  # its observations are closed
    res.close()


def test_synthetic_recovery():
    truth = np.array([1.0, 0.5, 1.5, 0.8, 1.2])
    with prillm.synthetic_observations(10, 5, 4, w_congestion=0.8, w_delay=0.5, values=truth, seed=5) as obs:
        with prillm.calibrate(obs, iterations=300, folds=0) as res:
            assert res.r2 > 0.999
            assert np.isnan(res.r2_heldout)


def test_calibration_option_errors(synthetic_dir):
    with pytest.raises(prillm.Error, match='unknown option "iteration"'):
        prillm.read_observations(synthetic_dir, iteration=3)
    with prillm.read_observations(synthetic_dir) as obs:
        with pytest.raises(prillm.Error, match="method"):
            prillm.calibrate(obs, method="magic")
    with pytest.raises(prillm.Error) as e:
        prillm.read_observations("/nonexistent-dir")
    assert e.value.code_name in ("IO", "INVALID_ARGUMENT", "INVALID_DATA")
