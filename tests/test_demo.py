"""The embedded demo: labelled simulated, small, and equal to a fresh generation."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.stats import kurtosis

import xlfactor as xf
from xlfactor.demo import DEMO_FILE, generate_demo_snapshot, load_packaged_demo
from xlfactor.demo.simulate import simulate_market


@pytest.fixture(scope="module")
def market():
    return simulate_market()


@pytest.fixture(scope="module")
def demo():
    return load_packaged_demo()


def test_shipped_snapshot_equals_fresh_generation(demo):
    fresh = generate_demo_snapshot()
    assert fresh.metadata == demo.metadata
    for name in ("tickers", "factor_names", "factor_groups"):
        np.testing.assert_array_equal(getattr(fresh, name), getattr(demo, name))
    for name in (
        "exposures",
        "raw_exposures",
        "market_cap",
        "factor_covariance",
        "idiosyncratic_risk",
        "idiosyncratic_observations",
    ):
        np.testing.assert_array_equal(getattr(fresh, name), getattr(demo, name), err_msg=name)
    np.testing.assert_array_equal(np.asarray(fresh.exposure_panel.values), np.asarray(demo.exposure_panel.values))
    np.testing.assert_array_equal(fresh.exposure_panel.dates, demo.exposure_panel.dates)
    for name in ("factor_returns", "residual_returns", "index_returns", "index_prices", "indexes"):
        pd.testing.assert_frame_equal(getattr(fresh, name), getattr(demo, name), check_exact=True, obj=name)


def test_demo_is_small_and_labelled_simulated(demo):
    assert DEMO_FILE.stat().st_size < 5e6
    assert demo.is_simulated and demo.metadata["simulated"] is True
    assert "SIMULATED" in demo.metadata["description"]
    assert all(t.startswith("SIM") for t in demo.tickers)
    report = xf.portfolio_report(pd.DataFrame({"ticker": ["SIM0001"], "value": [1.0]}), demo)
    assert "SIMULATED" in report["snapshot"].loc["note", "value"]
    assert xf.load_snapshot() is xf.load_snapshot()  # loaded once per process


def test_demo_shape(demo):
    groups = pd.Series(demo.factor_groups).value_counts()
    assert groups["sector"] == 11 and 35 <= groups["industry"] <= 45 and groups["market"] == 1
    assert groups["style"] == 27
    assert len(demo.tickers) == 1000
    assert len(demo.factor_returns) >= 252
    assert len(demo.exposure_panel.dates) == 64
    assert set(demo.index_returns.columns) >= {"SPY", "XLK", "XLE"}
    assert np.linalg.eigvalsh(demo.factor_covariance).min() > 0
    dates = xf.risk.attributable_dates(demo)
    assert len(dates) == 63 and dates[-1] == demo.as_of


def test_simulated_market_has_fat_tails_and_a_regime(market):
    residuals = market.specific_returns[1:] / market.specific_risk * np.sqrt(252)
    assert kurtosis(residuals[np.isfinite(residuals)]) > 1.0  # Student-t(5) has excess kurtosis 6
    market_returns = market.factor_returns[1:, 0]
    calm = market_returns[:100].std()
    stressed = market_returns[np.argmax(market.regime) - 10 : np.argmax(market.regime) + 10].std()
    assert stressed > 1.3 * calm


def test_truth_satisfies_the_identification_constraints(market):
    """Sector returns have cap-weighted sum zero (with the previous day's caps) every day."""
    sec = market.factor_groups == "sector"
    names = market.factor_names[sec]
    caps = market.market_cap[:-1]
    member = (market.sector_of[:, None] == np.array([n.split(":", 1)[1] for n in names])[None, :]).astype(float)
    sector_caps = caps @ member
    weighted = (sector_caps * market.factor_returns[1:, sec]).sum(axis=1)
    np.testing.assert_allclose(weighted / sector_caps.sum(axis=1), 0, atol=1e-15)


def test_stock_returns_decompose_with_lagged_exposures(market):
    t = len(market.dates) - 1
    model = market.exposures[t - 1] @ market.factor_returns[t] + market.specific_returns[t]
    np.testing.assert_allclose(model, market.stock_returns[t], rtol=1e-12)


def test_demo_attribution_matches_simulated_stock_returns(demo, market):
    """Attributed total = sum of weights times the simulated stock returns (float32 rounding)."""
    rng = np.random.default_rng(3)
    picks = rng.choice(1000, 50, replace=False)
    values = rng.normal(0, 1, 50)
    portfolio = pd.DataFrame({"ticker": demo.tickers[picks], "value": values})
    report = xf.portfolio_report(portfolio, demo)
    w = np.zeros(1000)
    w[picks] = values / np.abs(values).sum()
    assert report["attribution"].loc["total", "portfolio"] == pytest.approx(w @ market.stock_returns[-1], abs=1e-7)
