"""Horizon-consistent forecasts: a one-day forecast beside the 21-day one, chosen by ``horizon_days``."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pandas as pd
import pytest

import xlfactor as xf
from xlfactor.risk.model_data import factor_model_data
from xlfactor.snapshot import clear_loaded

Z95 = 1.6448536269514722


def with_daily(snapshot, factor_scale=0.8, idiosyncratic_scale=0.9):
    """The same snapshot with a stated one-day forecast (a scaled copy of the main one)."""
    return dataclasses.replace(
        snapshot,
        factor_covariance_1d=np.asarray(snapshot.factor_covariance) * factor_scale,
        idiosyncratic_risk_1d=np.asarray(snapshot.idiosyncratic_risk) * idiosyncratic_scale,
        metadata={**snapshot.metadata, "forecast_horizon_days": 21},
    )


def by_hand(snapshot, w, F, sigma):
    X = np.nan_to_num(snapshot.exposures)
    return math.sqrt(w @ X @ F @ X.T @ w + w**2 @ sigma**2)


def test_old_snapshot_without_daily_forecast_uses_its_one_forecast(hand_snapshot):
    assert hand_snapshot.factor_covariance_1d is None and hand_snapshot.forecast_horizon_days == 21
    data = factor_model_data(hand_snapshot)
    w = np.full(len(data.tickers), 1 / len(data.tickers))
    for h in (1, 5, 21, 63):
        assert data.horizon_risk(w, h) == pytest.approx(data.risk(w), rel=1e-14)
    assert data.var(w, 0.95, 1) == pytest.approx(Z95 * data.risk(w) / math.sqrt(252), rel=1e-9)


def test_horizon_picks_the_daily_or_the_21_day_forecast(hand_snapshot):
    snapshot = with_daily(hand_snapshot)
    data = factor_model_data(snapshot)
    w = np.linspace(0.05, 0.3, len(data.tickers))
    one = by_hand(snapshot, w, snapshot.factor_covariance_1d, snapshot.idiosyncratic_risk_1d)
    main = by_hand(snapshot, w, snapshot.factor_covariance, snapshot.idiosyncratic_risk)
    assert data.horizon_risk(w, 1) == pytest.approx(one, rel=1e-12)
    assert data.horizon_risk(w, 21) == pytest.approx(main, rel=1e-12)
    assert data.horizon_risk(w, 63) == pytest.approx(main, rel=1e-12)
    assert data.horizon_risk(w, 11) == pytest.approx(math.sqrt(one**2 + 0.5 * (main**2 - one**2)), rel=1e-12)
    assert data.risk(w) == pytest.approx(main, rel=1e-12)  # the default annualized risk is the 21-day forecast
    assert data.var(w, 0.95, 1) == pytest.approx(Z95 * one / math.sqrt(252), rel=1e-9)
    assert data.var(w, 0.95, 21) == pytest.approx(Z95 * main * math.sqrt(21 / 252), rel=1e-9)
    b = data.benchmark_weights
    active_one = by_hand(snapshot, w - b, snapshot.factor_covariance_1d, snapshot.idiosyncratic_risk_1d)
    assert data.var(w, 0.95, 1, active=True) == pytest.approx(Z95 * active_one / math.sqrt(252), rel=1e-9)


def test_report_var_table_uses_the_horizon_forecast(hand_snapshot):
    snapshot = with_daily(hand_snapshot)
    report = xf.portfolio_report(pd.DataFrame({"ticker": list(snapshot.tickers[:4]), "value": 1.0}), snapshot)
    w = factor_model_data(snapshot).align_holdings(pd.DataFrame({"ticker": list(snapshot.tickers[:4]), "value": 1.0})).weights
    one = by_hand(snapshot, w, snapshot.factor_covariance_1d, snapshot.idiosyncratic_risk_1d)
    table = report["var"].set_index(["confidence", "horizon_days"])
    assert table.loc[(0.95, 1), "var"] == pytest.approx(Z95 * one / math.sqrt(252), rel=1e-9)
    assert report["summary"]["value"]["var_95"] == pytest.approx(Z95 * one / math.sqrt(252), rel=1e-9)


def test_builder_snapshot_states_both_horizons_and_round_trips(tmp_path, demo_history):
    from xlfactor.builder.builder import BuildOptions, snapshot_at
    from xlfactor.builder.covariance import factor_covariance

    row = 300
    snapshot = snapshot_at(demo_history, row, BuildOptions(quality=False))
    assert snapshot.metadata["forecast_horizon_days"] == 21
    index = [list(demo_history.factor_names).index(f) for f in snapshot.factor_names]
    expected, _ = factor_covariance(demo_history.regression.factor_returns[1 : row + 1][:, index], BuildOptions().covariance.one_day())
    np.testing.assert_allclose(snapshot.factor_covariance_1d, expected, rtol=1e-12)
    assert not np.allclose(snapshot.factor_covariance_1d, snapshot.factor_covariance)  # Newey-West changes it
    loaded = xf.load_snapshot(xf.write_snapshot(snapshot, tmp_path / "snap"))
    np.testing.assert_allclose(loaded.factor_covariance_1d, snapshot.factor_covariance_1d, rtol=1e-15)
    np.testing.assert_allclose(loaded.idiosyncratic_risk_1d, snapshot.idiosyncratic_risk_1d, rtol=1e-15)
    assert loaded.forecast_horizon_days == 21
    clear_loaded()  # the next load comes from the binary cache, which must carry them too
    again = xf.load_snapshot(tmp_path / "snap")
    np.testing.assert_allclose(again.factor_covariance_1d, snapshot.factor_covariance_1d, rtol=1e-15)
