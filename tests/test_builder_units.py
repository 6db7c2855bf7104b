"""Hand-sized known answers for the builder's maths: covariance, idiosyncratic risk, standardization, descriptors.

Every expected number is written out from the formula (hand arithmetic on a few values)
or computed by a different algorithm (pandas rolling windows, numpy least squares), never
by calling the function under test.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from xlfactor.conventions import TRADING_DAYS_PER_YEAR
from xlfactor.errors import XlfactorError
from xlfactor.builder import descriptors as desc
from xlfactor.builder.covariance import (
    CovarianceOptions,
    eigen_adjustment,
    ewma_variance_forecasts,
    ewma_weights,
    newey_west_covariance,
)
from xlfactor.builder.idiosyncratic_risk import column_quantiles, size_decile_shrinkage, time_series_variance
from xlfactor.builder.inputs import market_data
from xlfactor.builder.standardize import standardize, winsorize
from xlfactor.hedging.instruments import MIN_REGRESSION_DAYS, index_exposures

EXACT = 1e-12


# ---------------------------------------------------------------- covariance.py


def test_ewma_weights_on_five_days():
    """Half-life 2: each day back weighs 1/sqrt(2) of the next; they sum to 1, newest last."""
    raw = [0.25, 0.25 * math.sqrt(2), 0.5, 0.5 * math.sqrt(2), 1.0]
    total = sum(raw)
    np.testing.assert_allclose(ewma_weights(5, 2), [r / total for r in raw], rtol=EXACT)


def test_ewma_variance_of_five_days_without_lags():
    r = np.array([0.01, -0.02, 0.03, 0.0, 0.01])
    raw = [0.25, 0.25 * math.sqrt(2), 0.5, 0.5 * math.sqrt(2), 1.0]
    expected = (raw[0] * 1e-4 + raw[1] * 4e-4 + raw[2] * 9e-4 + raw[3] * 0 + raw[4] * 1e-4) / sum(raw)
    assert newey_west_covariance(r[:, None], 2, 0)[0, 0] == pytest.approx(expected, rel=EXACT)


def test_newey_west_on_three_days_by_hand():
    """Half-life 1 gives weights 1/7, 2/7, 4/7; one lag with Bartlett weight 1/2 on both cross terms.

    variance = (a^2 + 2 b^2 + 4 c^2)/7 + (2 b a + 4 c b)/6     (lag-1 weights 2/7, 4/7 renormalized)
    """
    a, b, c = 0.01, 0.02, -0.01
    x, y, z = 0.03, -0.01, 0.02
    returns = np.array([[a, x], [b, y], [c, z]])
    cov = newey_west_covariance(returns, half_life=1, lags=1)
    var_1 = (a * a + 2 * b * b + 4 * c * c) / 7 + (2 * b * a + 4 * c * b) / 6
    var_2 = (x * x + 2 * y * y + 4 * z * z) / 7 + (2 * y * x + 4 * z * y) / 6
    gamma_12 = (2 * b * x + 4 * c * y) / 6  # factor 1 today with factor 2 yesterday
    gamma_21 = (2 * y * a + 4 * z * b) / 6
    cross = (a * x + 2 * b * y + 4 * c * z) / 7 + 0.5 * (gamma_12 + gamma_21)
    np.testing.assert_allclose(cov, [[var_1, cross], [cross, var_2]], rtol=EXACT)
    assert cov[0, 0] == pytest.approx(13e-4 / 7 - 4e-4 / 6, rel=1e-12)  # the same variance, summed by hand


def test_eigen_adjustment_is_the_identity_with_zero_simulations():
    covariance = np.array([[4.0, 1.0, 0.5], [1.0, 3.0, 0.2], [0.5, 0.2, 2.0]]) * 1e-4
    adjusted, bias = eigen_adjustment(covariance, 100, CovarianceOptions(eigen_simulations=0))
    np.testing.assert_array_equal(adjusted, covariance)
    np.testing.assert_array_equal(bias, np.ones(3))


def test_eigen_adjustment_scales_eigenvalues_and_keeps_eigenvectors():
    covariance = np.array([[4.0, 1.0, 0.5], [1.0, 3.0, 0.2], [0.5, 0.2, 2.0]]) * 1e-4
    adjusted, bias = eigen_adjustment(covariance, 60, CovarianceOptions(eigen_simulations=50))
    values, vectors = np.linalg.eigh(covariance)
    for k in range(3):
        np.testing.assert_allclose(adjusted @ vectors[:, k], bias[k] ** 2 * values[k] * vectors[:, k], rtol=1e-9, atol=1e-18)
    assert (bias > 0.8).all() and (bias < 1.5).all()


def test_eigen_adjustment_can_spare_the_top_eigenfactor():
    """``eigen_spare_top=1``: the largest eigenvalue keeps its estimate, the others get the same bias (same draws)."""
    covariance = np.array([[4.0, 1.0, 0.5], [1.0, 3.0, 0.2], [0.5, 0.2, 2.0]]) * 1e-4
    _, bias = eigen_adjustment(covariance, 60, CovarianceOptions(eigen_simulations=50))
    adjusted, spared = eigen_adjustment(covariance, 60, CovarianceOptions(eigen_simulations=50, eigen_spare_top=1))
    values, vectors = np.linalg.eigh(covariance)
    assert spared[-1] == 1.0 and bias[-1] != 1.0
    np.testing.assert_array_equal(spared[:-1], bias[:-1])
    np.testing.assert_allclose(vectors[:, -1] @ adjusted @ vectors[:, -1], values[-1], rtol=1e-9)


def test_ewma_variance_forecasts_use_only_earlier_days():
    """Row t: EWMA mean of the squared returns before t (lambda = 0.5 at half-life 1), NaN-aware."""
    r = np.array([0.02, np.nan, -0.01, 0.03])
    forecast = ewma_variance_forecasts(r[:, None], half_life=1, min_observations=1)[:, 0]
    assert np.isnan(forecast[0])
    assert forecast[1] == pytest.approx(4e-4, rel=EXACT)
    assert forecast[2] == pytest.approx(4e-4, rel=EXACT)  # the missing day adds no information
    # weights decay per row, missing rows included: 0.25 (two rows older) and 1 on the observed squares
    assert forecast[3] == pytest.approx((0.25 * 4e-4 + 1e-4) / 1.25, rel=EXACT)


# ---------------------------------------------------------------- idiosyncratic_risk.py


def test_column_quantiles_equal_numpy_nanpercentile():
    """The one-sort quantiles equal np.nanpercentile (linear method) bit for bit, gaps and empty columns too."""
    rng = np.random.default_rng(3)
    x = rng.standard_t(4, (400, 60)) * 0.01
    x[rng.random(x.shape) < 0.3] = np.nan
    x[:, 5] = np.nan  # empty
    x[:399, 6] = np.nan  # one value
    x[:398, 7] = np.nan  # two values
    x[[0, 1], 8], x[2, 9] = np.inf, -np.inf  # infinities are values, as for nanpercentile
    with pytest.warns(RuntimeWarning):
        expected = np.nanpercentile(x, [25, 75], axis=0)
    np.testing.assert_array_equal(column_quantiles(x, [0.25, 0.75]), expected)


def test_time_series_variance_on_three_days_by_hand():
    """Same weights as above (1/7, 2/7, 4/7); the lag term is 2 x 1/2 x gamma; a missing day drops its pairs."""
    e = np.array([[0.01, 0.02, 0.02], [0.02, np.nan, -0.02], [-0.01, 0.01, 0.02]])
    variance = time_series_variance(e, half_life=1, lags=1)
    first = (1e-4 + 2 * 4e-4 + 4 * 1e-4) / 7 + (2 * 0.02 * 0.01 + 4 * -0.01 * 0.02) / 6
    second = (1 * 4e-4 + 4 * 1e-4) / 5  # weights 1 and 4 on the observed days; no complete lag-1 pair
    # an alternating series: plain 4e-4, lag term (2 x -4e-4 + 4 x -4e-4) / 6 = -4e-4, so the
    # Newey-West variance is 0 and the floor (a quarter of the plain variance) applies
    third = 0.25 * (4e-4 + 2 * 4e-4 + 4 * 4e-4) / 7
    np.testing.assert_allclose(variance, [max(first, 0.25 * (1e-4 + 8e-4 + 4e-4) / 7), second, third], rtol=EXACT)


def test_size_decile_shrinkage_pulls_toward_the_cap_weighted_decile_mean():
    risk = np.array([0.10, 0.20, 0.40])
    caps = np.array([1.0, 1.0, 2.0])
    out = size_decile_shrinkage(risk, caps, q=0.5, deciles=1)
    mean = (0.10 + 0.20 + 2 * 0.40) / 4  # 0.275
    spread = np.std([0.10, 0.20, 0.40])
    for got, sigma in zip(out, risk):
        distance = 0.5 * abs(sigma - mean)
        v = distance / (spread + distance)
        assert got == pytest.approx(v * mean + (1 - v) * sigma, rel=EXACT)


# ---------------------------------------------------------------- standardize.py


def test_mad_winsorization_of_seven_values():
    """Median 4, MAD 2, robust sigma 1.4826 x 2: 100 is clipped to 4 + 3 x 2.9652 = 12.8956."""
    values = np.array([[1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 100.0]])
    np.testing.assert_allclose(winsorize(values), [[1, 2, 3, 4, 5, 6, 12.8956]], rtol=EXACT)
    low = np.array([[-100.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0]])  # median 4, |deviations| 104,2,1,0,1,2,3: MAD 2
    np.testing.assert_allclose(winsorize(low), [[4 - 8.8956, 2, 3, 4, 5, 6, 7]], rtol=EXACT)


def test_winsorization_falls_back_to_the_standard_deviation_when_the_mad_is_zero():
    values = np.array([[1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 50.0, np.nan]])
    # mean 8, population variance (6 x 49 + 42^2)/7 = 294: limit 1 +- 3 sqrt(294) = 52.44 keeps 50
    np.testing.assert_array_equal(winsorize(values)[0, :7], values[0, :7])
    np.testing.assert_allclose(winsorize(values, limit=2.0)[0, 6], 1 + 2 * math.sqrt(294), rtol=EXACT)
    assert np.isnan(winsorize(values)[0, 7])


def test_standardize_centres_on_caps_and_scales_by_the_equal_weighted_std():
    values = np.array([[1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 100.0]])
    caps = np.array([[1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 4.0]])
    universe = np.ones_like(values, dtype=bool)
    clipped = np.array([1, 2, 3, 4, 5, 6, 12.8956])
    centre = (21 + 4 * 12.8956) / 10
    scale = math.sqrt(np.mean((clipped - clipped.mean()) ** 2))
    np.testing.assert_allclose(standardize(values, caps, universe), [(clipped - centre) / scale], rtol=1e-12)
    outside = universe.copy()
    outside[0, 0] = False
    assert np.isnan(standardize(values, caps, outside)[0, 0])


# ---------------------------------------------------------------- descriptors.py


def price_market(closes: dict[str, np.ndarray], caps: dict[str, float] | None = None):
    """A MarketData over business days from given close paths (constant caps, one sector)."""
    n = len(next(iter(closes.values())))
    dates = pd.bdate_range("2020-01-01", periods=n).strftime("%Y-%m-%d")
    caps = caps or {t: 1e9 for t in closes}
    prices = pd.concat(
        [pd.DataFrame({"date": dates, "ticker": t, "close": c, "volume": 1e6, "market_cap": caps[t]}) for t, c in closes.items()]
    )
    classification = pd.DataFrame({"ticker": list(closes), "sector": "Energy", "industry": "Oil"})
    return market_data(prices, classification)


def test_momentum_on_a_260_day_path():
    """Momentum at day d: price 21 days ago over the price 252 days ago (Fama-French prior 2-12 months)."""
    days = 260
    steady = 100 * 1.001 ** np.arange(days)
    jump = np.where(np.arange(days) < 100, 50.0, 55.0)  # +10% on day 100, flat otherwise
    late = np.where(np.arange(days) < 250, 50.0, 55.0)  # +10% on day 250: inside the skipped month
    data = price_market({"AAA": steady, "BBB": jump, "CCC": late})
    mom = desc.momentum(data)
    assert mom[259, 0] == pytest.approx(1.001**231 - 1, rel=1e-9)  # P[238] / P[7] - 1
    assert mom[259, 1] == pytest.approx(0.10, rel=1e-9)
    assert mom[259, 2] == pytest.approx(0.0, abs=1e-15)
    assert mom[201, 0] == pytest.approx(1.001**180 - 1, rel=1e-9)  # the first day with 180 returns
    assert np.isnan(mom[200]).all()
    reversal = desc.short_term_reversal(data)
    assert reversal[259, 0] == pytest.approx(-(1.001**21 - 1), rel=1e-9)
    assert reversal[259, 1] == pytest.approx(0.0, abs=1e-15)
    assert reversal[259, 2] == pytest.approx(-0.10, rel=1e-9)
    assert reversal[110, 1] == pytest.approx(-0.10, rel=1e-9)  # the jump is 10 days old


@pytest.fixture(scope="module")
def random_prices():
    """Simulated prices of 25 names over 300 days with different betas and caps."""
    rng = np.random.default_rng(42)
    days, names = 300, 25
    market = rng.normal(0.0004, 0.01, days)
    betas = np.linspace(0.5, 1.5, names)
    returns = market[:, None] * betas + rng.normal(0, 0.015, (days, names))
    closes = 50 * np.cumprod(1 + returns, axis=0)
    tickers = [f"T{i:02d}" for i in range(names)]
    caps = {t: float(c) for t, c in zip(tickers, np.exp(rng.normal(22, 1, names)))}
    data = price_market({t: closes[:, i] for i, t in enumerate(tickers)}, caps)
    return data, closes, np.array([caps[t] for t in tickers])


def test_beta_and_residual_volatility_equal_a_rolling_regression(random_prices):
    """Independent: pandas rolling covariance/variance on the simulated returns and a numpy regression."""
    data, closes, caps = random_prices
    stock = pd.DataFrame(closes).pct_change()
    market = (stock * caps).sum(axis=1, min_count=1) / caps.sum()  # constant caps: cap-weighted mean
    window = TRADING_DAYS_PER_YEAR
    expected_beta = stock.rolling(window, min_periods=63).cov(market).div(market.rolling(window, min_periods=63).var(), axis=0)
    np.testing.assert_allclose(desc.beta(data)[63:], expected_beta.to_numpy()[63:], rtol=1e-8)
    assert np.isnan(desc.beta(data)[:63]).all()
    last = stock.iloc[-window:]
    m = market.iloc[-window:].to_numpy()
    design = np.column_stack([np.ones(window), m])
    for i in (0, 12, 24):
        coefficients, *_ = np.linalg.lstsq(design, last[i].to_numpy(), rcond=None)
        residual = last[i].to_numpy() - design @ coefficients
        assert desc.beta(data)[-1, i] == pytest.approx(coefficients[1], rel=1e-9)
        expected_vol = math.sqrt(residual @ residual / (window - 1)) * math.sqrt(TRADING_DAYS_PER_YEAR)
        assert desc.residual_volatility(data)[-1, i] == pytest.approx(expected_vol, rel=1e-8)


def test_downside_risk_and_liquidity_equal_direct_formulas(random_prices):
    data, closes, caps = random_prices
    r = np.diff(closes, axis=0) / closes[:-1]
    last = r[-TRADING_DAYS_PER_YEAR:]
    for i in (3, 17):
        negative = last[last[:, i] < 0, i]
        expected = math.sqrt(np.mean(negative**2)) * math.sqrt(TRADING_DAYS_PER_YEAR)
        assert desc.downside_risk(data)[-1, i] == pytest.approx(expected, rel=1e-9)
        dollars = closes[-63:, i] * 1e6
        assert desc.liquidity(data)[-1, i] == pytest.approx(math.log1p(dollars.mean()), rel=1e-12)


def test_return_shape_styles_are_orthogonalized_to_momentum(random_prices):
    """Downside risk and prospect are the residuals of a cap-weighted regression on the
    primary styles (downside risk: beta, size, residual volatility, momentum; prospect:
    momentum), recomputed here day by day with lstsq; absent momentum counts as neutral."""
    from xlfactor.builder.builder import style_exposures

    data, _, caps = random_prices
    exposures = style_exposures(data)
    assert "industry_momentum" not in exposures.names  # redundant next to industry factors
    scores = {n: exposures.styles[..., exposures.names.index(n)] for n in exposures.names}
    raw = {n: standardize(v, data.market_cap, exposures.universe) for n, v in desc.raw_descriptors(data).items()}
    checks = {"downside_risk": ["beta", "size", "residual_volatility", "momentum"], "prospect": ["momentum"]}
    for day in (150, 299):  # momentum absent (needs 180 returns), then present
        assert np.isnan(scores["momentum"][day]).all() == (day == 150)
        for name, against in checks.items():
            y = raw[name][day]
            ok = np.isfinite(y)
            design = np.column_stack([np.ones(ok.sum())] + [np.nan_to_num(scores[a][day][ok]) for a in against])
            root = np.sqrt(caps[ok])
            coef = np.linalg.lstsq(design * root[:, None], y[ok] * root, rcond=None)[0]
            residual = np.full(len(y), np.nan)
            residual[ok] = y[ok] - design @ coef
            expected = standardize(residual[None, :], caps[None, :], exposures.universe[day : day + 1])[0]
            np.testing.assert_allclose(scores[name][day], expected, rtol=1e-7, atol=1e-9, err_msg=f"{name} day {day}")
    # the point of it: on the last day prospect carries no momentum (cap-weighted), the raw score did
    w = caps / caps.sum()
    def weighted_corr(a, b):
        a, b = a - w @ a, b - w @ b
        return (w @ (a * b)) / np.sqrt((w @ a**2) * (w @ b**2))
    assert abs(weighted_corr(scores["prospect"][-1], scores["momentum"][-1])) < 1e-8


# ---------------------------------------------------------------- hedge.index_exposures


def test_index_exposures_recover_a_known_linear_index():
    """An index that is exactly 1.2 x market + 0.5 x one sector (+ a constant) is recovered with no residual."""
    rng = np.random.default_rng(9)
    dates = pd.Index([f"d{i:03d}" for i in range(100)])
    groups = np.array(["market", "sector", "sector", "style"])
    factors = pd.DataFrame(rng.normal(0, 0.01, (100, 4)), index=dates, columns=["market", "sector:A", "sector:B", "momentum"])
    index = pd.Series(0.0001 + 1.2 * factors["market"] + 0.5 * factors["sector:A"], name="IDX")
    exposure, residual_variance = index_exposures(index, factors, groups)
    np.testing.assert_allclose(exposure, [1.2, 0.5, 0.0, 0.0], atol=1e-12)
    assert residual_variance == pytest.approx(0.0, abs=1e-20)


def test_index_exposures_equal_ols_and_annualize_the_residual_variance():
    rng = np.random.default_rng(10)
    n = 80
    dates = pd.Index([f"d{i:03d}" for i in range(n)])
    groups = np.array(["market", "sector", "style"])
    factors = pd.DataFrame(rng.normal(0, 0.01, (n, 3)), index=dates, columns=["market", "sector:A", "value"])
    noise = rng.normal(0, 0.004, n)
    index = pd.Series(0.9 * factors["market"] - 0.3 * factors["sector:A"] + 0.7 * factors["value"] + noise, index=dates, name="IDX")
    index.iloc[5] = np.nan  # a missing day is dropped
    exposure, residual_variance = index_exposures(index, factors, groups)
    keep = np.isfinite(index.to_numpy())
    # Independent: normal equations solved directly (intercept, market, sector; style left out)
    design = np.column_stack([np.ones(keep.sum()), factors.to_numpy()[keep, :2]])
    y = index.to_numpy()[keep]
    beta = np.linalg.solve(design.T @ design, design.T @ y)
    residual = y - design @ beta
    np.testing.assert_allclose(exposure, [beta[1], beta[2], 0.0], rtol=1e-9)
    assert residual_variance == pytest.approx(residual @ residual / (keep.sum() - 3) * TRADING_DAYS_PER_YEAR, rel=1e-9)
    with pytest.raises(XlfactorError, match=f"IDX: only {MIN_REGRESSION_DAYS - 1} days"):
        index_exposures(index.iloc[: MIN_REGRESSION_DAYS], factors, groups)  # one of them is NaN
