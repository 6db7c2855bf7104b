"""Bias statistics on simulated markets with a known truth (no builder: the quality maths alone).

Returns are drawn from a known factor model, ``r = X f + u``; the regression is taken as
perfect (factor returns ``f`` and residuals ``u`` are the truth), so the only thing tested
is how forecasts are made and scored at both horizons.
"""

from __future__ import annotations

import numpy as np
import pytest

from xlfactor.builder.covariance import CovarianceOptions
from xlfactor.builder.quality import _held, bias_statistics

DAYS, NAMES = 1200, 300
OPTIONS = CovarianceOptions(eigen_simulations=50)


def simulated(level=None, seed=0, days=DAYS, names=NAMES):
    """Four factors (market-like first), constant correlation 0.3, idiosyncratic vol 1-2.5%/day.

    ``level`` (days,) multiplies every volatility on each day (a volatility regime).
    """
    rng = np.random.default_rng(seed)
    X = np.column_stack([np.ones(names), rng.normal(0, 1, (names, 3))])
    vols = np.array([0.010, 0.005, 0.004, 0.003])
    F = (0.3 + 0.7 * np.eye(4)) * np.outer(vols, vols)
    level = np.ones(days) if level is None else level
    f = rng.multivariate_normal(np.zeros(4), F, days) * level[:, None]
    u = rng.normal(0, 1, (days, names)) * rng.uniform(0.01, 0.025, names) * level[:, None]
    r = f @ X.T + u
    f[0], u[0], r[0] = np.nan, np.nan, np.nan
    caps = np.exp(rng.normal(22, 1, names)) * np.ones((days, 1))
    return {"factor_returns": f, "residuals": u, "stock_returns": r, "model_at": lambda row: (np.arange(4), X),
            "caps": caps, "universe": np.ones((days, names), bool), "X": X}  # fmt: skip


def run(market, **kwargs):
    args = {k: v for k, v in market.items() if k != "X"}
    return bias_statistics(**args, covariance_options=OPTIONS, **kwargs)


def inside(bias, key):
    low, high = bias["band"]
    return low <= bias[key] <= high


@pytest.fixture(scope="module")
def constant():
    return run(simulated())


def test_constant_covariance_is_unbiased_at_both_horizons(constant):
    daily, monthly = constant["bias"], constant["bias_21d"]
    assert daily["out_of_sample_days"] > 1000 and monthly["out_of_sample_periods"] >= 50
    for key in ("random_bias_mean", "cap_weighted_bias", "factor_bias_mean"):
        assert inside(daily, key), (key, daily[key], daily["band"])
    assert daily["random_bias_share_in_band"] >= 0.9
    assert inside(monthly, "random_bias_mean") and inside(monthly, "cap_weighted_bias")
    assert monthly["random_bias_share_in_band"] >= 0.8
    # normal returns: the robust bias agrees with the plain one, Q near its ideal 1 - E ln chi2_1 = 2.27
    assert abs(daily["random_robust_bias_mean"] - daily["random_bias_mean"]) < 0.03
    assert 2.15 < daily["random_q_statistic_mean"] < 2.4
    assert len(daily["factor_bias"]) == 4 and len(daily["random_rolling_12m"]) > 30
    # the extreme eigenfactors of each refit's forecast (market-like top, smallest bottom)
    for key in ("top_eigenfactor_bias", "bottom_eigenfactor_bias"):
        assert inside(daily, key) and inside(monthly, key), (key, daily[key], monthly[key])


def test_volatility_regime_daily_refresh_stays_in_band_monthly_held_does_not():
    """Volatility doubles and halves every 150 days: a daily-refreshed forecast tracks it."""
    t = np.arange(DAYS)
    result = run(simulated(level=np.where((t // 150) % 2 == 0, 1.0, 2.0), seed=1))
    refreshed, held = result["bias"], result["bias_monthly_held"]
    assert inside(refreshed, "random_bias_mean") and inside(refreshed, "cap_weighted_bias"), refreshed
    assert refreshed["random_bias_share_in_band"] >= 0.8
    assert held["random_bias_mean"] > held["band"][1] and held["cap_weighted_bias"] > held["band"][1], held
    assert held["random_bias_share_in_band"] < 0.5
    assert refreshed["random_q_statistic_mean"] < held["random_q_statistic_mean"]
    assert refreshed["random_mean_log_likelihood"] > held["random_mean_log_likelihood"]


def test_held_forecast_of_a_refit_day_is_the_refit_forecast():
    """Without refresh the monthly-held statistics equal a run with daily_refresh=False."""
    market = simulated(days=400, seed=3)
    both = run(market)
    held_only = run(market, daily_refresh=False)
    assert both["bias_monthly_held"]["random_bias_mean"] == pytest.approx(held_only["bias"]["random_bias_mean"], rel=1e-12)
    assert both["bias_21d"]["random_bias_mean"] == pytest.approx(held_only["bias_21d"]["random_bias_mean"], rel=1e-12)


def test_missing_returns_count_as_missing_not_zero():
    market = simulated(seed=2)
    rng = np.random.default_rng(5)
    holes = rng.random(market["stock_returns"].shape) < 0.2
    with_holes = dict(market, stock_returns=np.where(holes, np.nan, market["stock_returns"]))
    as_zero = dict(market, stock_returns=np.where(holes, 0.0, market["stock_returns"]))
    missing, zero = run(with_holes)["bias"], run(as_zero)["bias"]
    assert inside(missing, "random_bias_mean") and inside(missing, "cap_weighted_bias"), missing
    assert zero["random_bias_mean"] < zero["band"][0]  # zeros would understate the realized risk


def test_renormalized_weights_by_hand():
    weights = np.array([[0.5, 0.3, 0.2], [0.1, 0.1, 0.8]])
    available = np.array([[True, False, True], [True, True, True], [True, True, False]])
    held, scored = _held(weights, available)
    np.testing.assert_allclose(held[0, 0], [0.5 / 0.7, 0, 0.2 / 0.7])
    np.testing.assert_allclose(held[1], weights)
    np.testing.assert_allclose(held[2, 0], [0.5 / 0.8, 0.3 / 0.8, 0])
    np.testing.assert_allclose(held[0, 1], [0.1 / 0.9, 0, 0.8 / 0.9])
    np.testing.assert_array_equal(scored, [[True, True], [True, True], [True, False]])  # day 3: 80% of book 2 missing


def test_factor_set_is_chosen_per_refit():
    """A volatile factor dies on day 700: forecasts before that must still carry it."""
    market = simulated(seed=4)
    X = market["X"]
    n_dead = 700
    dead = np.where(np.arange(NAMES) < 150, 1.0, 0.0)  # a 150-name 'industry' with 1.5%/day volatility
    f_dead = np.random.default_rng(9).normal(0, 0.015, DAYS)
    f_dead[n_dead:] = np.nan
    f_dead[0] = np.nan
    market["stock_returns"] = market["stock_returns"] + np.where(np.arange(DAYS)[:, None] < n_dead, np.nan_to_num(f_dead)[:, None] * dead, 0)
    market["factor_returns"] = np.column_stack([market["factor_returns"], f_dead])
    full = np.column_stack([X, dead])

    def model_at(row):
        keep = np.arange(5) if row < n_dead - 1 else np.arange(4)
        return keep, full[:, keep] if row < n_dead - 1 else X

    market["model_at"] = model_at
    result = run(market)["bias"]
    assert np.isfinite(result["factor_bias"][4])
    assert inside(result, "random_bias_mean") and inside(result, "cap_weighted_bias"), result
    # with the last date's factor set applied to every refit (the old behaviour) the risk is too low
    market["model_at"] = lambda row: (np.arange(4), X)
    assert run(market)["bias"]["random_bias_mean"] > result["band"][1]
