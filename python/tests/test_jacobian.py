"""(e) The price Jacobian: columns sum to ~0, agrees with finite differences."""

import numpy as np

import prillm


def test_columns_sum_to_zero(default_market_path):
    market = prillm.Market.from_file(default_market_path)
    J = prillm.price_jacobian(market)
    m = market.n_providers
    assert J.shape == (m, m)
    scale = np.abs(J).max()
    np.testing.assert_allclose(J.sum(axis=0), 0, atol=1e-10 * scale)
    assert np.all(np.diag(J) <= 0)


def test_columns_subset_and_finite_differences(default_market_path):
    market = prillm.Market.from_file(default_market_path)
    J = market.price_jacobian()
    cols = [3, market.provider_ids[11]]
    sub = market.price_jacobian(columns=cols)
    np.testing.assert_array_equal(sub, J[:, [3, 11]])
    # the equilibrium is piecewise affine in prices: a small central difference is exact off breakpoints
    h = 1e-6
    for j in (0, 3, 11):
        up, down = market.prices.copy(), market.prices.copy()
        up[j] += h
        down[j] -= h
        fd = (market.replace(prices=up).equilibrium().provider_flow
              - market.replace(prices=down).equilibrium().provider_flow) / (2 * h)
        np.testing.assert_allclose(J[:, j], fd, atol=1e-5 * np.abs(J).max())


def test_jacobian_bad_column(default_market_path):
    market = prillm.Market.from_file(default_market_path)
    try:
        market.price_jacobian(columns=[99])
    except prillm.Error as e:
        assert "out of range" in e.message or "not a provider" in e.message
    else:
        raise AssertionError("expected prillm.Error")
