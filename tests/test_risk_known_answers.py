"""Known answers: every headline number against an independent numpy computation.

The reference builds the full asset covariance V = X F X' + diag(sigma^2) from the raw
inputs of the hand model (not from xlfactor's arrays) and takes quadratic forms of it.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy.stats import norm

import xlfactor as xf
from tests.handmodel import FACTORS, INDUSTRY, SECTOR, TICKERS
from xlfactor.conventions import factor_group

EXACT = 1e-10  # identities and closed forms
PORTFOLIO = pd.DataFrame({"ticker": ["AAA", "CCC", "DDD", "FFF"], "value": [400.0, -150.0, 250.0, 200.0]})


def reference(model, values=PORTFOLIO["value"].to_numpy(), names=PORTFOLIO["ticker"].tolist()):
    X, F = model.exposures, model.factor_covariance
    D = np.diag(model.idiosyncratic_risk**2)
    V = X @ F @ X.T + D
    w = np.zeros(len(TICKERS))
    for name, value in zip(names, values):
        w[TICKERS.index(name)] += value
    w /= np.abs(values).sum()
    b = model.market_cap / model.market_cap.sum()
    return X, F, D, V, w, b


def test_headline_numbers_match_numpy(model, hand_snapshot):
    X, F, D, V, w, b = reference(model)
    a = w - b
    summary = xf.portfolio_report(PORTFOLIO, hand_snapshot)["summary"]["value"]
    expected = {
        "total_risk": math.sqrt(w @ V @ w),
        "factor_risk": math.sqrt(w @ X @ F @ X.T @ w),
        "idiosyncratic_risk": math.sqrt(w @ D @ w),
        "tracking_error": math.sqrt(a @ V @ a),
        "active_factor_risk": math.sqrt(a @ X @ F @ X.T @ a),
        "active_idiosyncratic_risk": math.sqrt(a @ D @ a),
        "beta": (w @ V @ b) / (b @ V @ b),
        "var_95": norm.ppf(0.95) * math.sqrt(w @ V @ w) / math.sqrt(252),
        "var_99": norm.ppf(0.99) * math.sqrt(w @ V @ w) / math.sqrt(252),
        "active_var_95": norm.ppf(0.95) * math.sqrt(a @ V @ a) / math.sqrt(252),
        "active_var_99": norm.ppf(0.99) * math.sqrt(a @ V @ a) / math.sqrt(252),
        "idiosyncratic_share_of_te": (a @ D @ a) / (a @ V @ a),
        "net_exposure": w.sum(),
    }
    for metric, value in expected.items():
        assert summary[metric] == pytest.approx(value, rel=EXACT), metric


def test_model_data_methods_match_numpy(model, hand_snapshot):
    X, F, D, V, w, b = reference(model)
    data = xf.factor_model_data(hand_snapshot)
    assert list(data.tickers) == TICKERS
    weights = data.align_holdings(PORTFOLIO).weights
    np.testing.assert_allclose(weights, w, rtol=EXACT)
    np.testing.assert_allclose(data.benchmark_weights, b, rtol=EXACT)
    assert data.risk(w) == pytest.approx(math.sqrt(w @ V @ w), rel=EXACT)
    assert data.tracking_error(w) == pytest.approx(math.sqrt((w - b) @ V @ (w - b)), rel=EXACT)
    assert data.beta(w) == pytest.approx((w @ V @ b) / (b @ V @ b), rel=EXACT)
    assert data.beta(b) == pytest.approx(1.0, rel=EXACT)
    assert data.var(w, confidence=0.99, horizon_days=10) == pytest.approx(
        norm.ppf(0.99) * math.sqrt(w @ V @ w) / math.sqrt(252) * math.sqrt(10), rel=EXACT
    )
    assert data.var(w, active=True) == pytest.approx(norm.ppf(0.95) * data.tracking_error(w) / math.sqrt(252), rel=EXACT)
    order = [list(data.factor_names).index(f) for f in FACTORS]
    np.testing.assert_allclose(data.factor_exposure(w)[order], X.T @ w, rtol=EXACT, atol=EXACT)
    np.testing.assert_allclose(data.active_factor_exposure(w)[order], X.T @ (w - b), rtol=EXACT, atol=EXACT)
    custom = np.array([0.1, 0.1, 0.2, 0.2, 0.2, 0.2])
    assert data.beta(w, custom) == pytest.approx((w @ V @ custom) / (custom @ V @ custom), rel=EXACT)
    series = pd.Series(w, index=[t.lower() for t in TICKERS])
    assert data.risk(series) == pytest.approx(data.risk(w), rel=EXACT)


def test_contribution_tables_sum_to_their_totals(model, hand_snapshot):
    X, F, D, V, w, b = reference(model)
    report = xf.portfolio_report(PORTFOLIO, hand_snapshot)
    summary = report["summary"]["value"]
    total, te = summary["total_risk"], summary["tracking_error"]
    factor = report["factor_risk"]
    assert factor["variance_contribution"].sum() == pytest.approx(summary["factor_risk"] ** 2, rel=EXACT)
    assert factor["share"].sum() + summary["idiosyncratic_share_of_total"] == pytest.approx(1.0, rel=EXACT)
    np.testing.assert_allclose(
        factor["risk_contribution"], factor["exposure"] * factor["factor_volatility"] * factor["correlation"], rtol=EXACT
    )
    active = report["active_risk"]
    assert "market" in set(active["factor"]), "the market row must be shown in active risk"
    assert active["te_share"].sum() == pytest.approx(1.0, rel=EXACT)
    assert active["te_contribution"].sum() == pytest.approx(te, rel=EXACT)
    # Each block from the hand model's raw inputs: Euler contribution x_g' (F x)_g, stand-alone sqrt(x_g' F_gg x_g)
    decomposition = report["risk_decomposition"]
    groups = np.array([factor_group(f) for f in FACTORS])
    for side, weights in (("", w), ("active_", w - b)):
        x = X.T @ weights
        variance = weights @ V @ weights
        for group in ("market", "style", "sector", "industry"):
            g = groups == group
            row = decomposition.loc[group]
            assert row[f"{side}variance_contribution"] == pytest.approx(x[g] @ (F @ x)[g], rel=EXACT, abs=1e-15)
            assert row[f"{side}risk"] == pytest.approx(math.sqrt(x[g] @ F[np.ix_(g, g)] @ x[g]), rel=EXACT)
            assert row[f"{side}share"] == pytest.approx(x[g] @ (F @ x)[g] / variance, rel=EXACT, abs=1e-15)
        assert decomposition.loc["idiosyncratic", f"{side}variance_contribution"] == pytest.approx(weights @ D @ weights, rel=EXACT)
        assert decomposition.loc["total", f"{side}risk"] == pytest.approx(math.sqrt(variance), rel=EXACT)
        assert decomposition.loc["common_factor", f"{side}risk"] == pytest.approx(math.sqrt(x @ F @ x), rel=EXACT)
    idiosyncratic = report["idiosyncratic_by_name"]
    assert idiosyncratic["share"].sum() == pytest.approx(1.0, rel=EXACT)
    assert idiosyncratic["variance_contribution"].sum() == pytest.approx(summary["idiosyncratic_risk"] ** 2, rel=EXACT)
    assert summary["effective_names"] == pytest.approx(1 / (idiosyncratic["share"] ** 2).sum(), rel=EXACT)
    holdings = report["holdings"]
    assert holdings["risk_contribution"].sum() == pytest.approx(total, rel=EXACT)
    mctr = (V @ w) / math.sqrt(w @ V @ w)
    np.testing.assert_allclose(
        holdings.set_index("ticker")["marginal_contribution"], pd.Series(mctr, index=TICKERS)[holdings["ticker"]], rtol=EXACT
    )
    data = xf.factor_model_data(hand_snapshot)
    assets = data.asset_contributions(w)
    assert assets["risk_contribution"].sum() == pytest.approx(data.risk(w), rel=EXACT)
    frame = data.portfolio_frame(w)
    assert frame["risk_contribution"].sum() == pytest.approx(math.sqrt(w @ V @ w), rel=EXACT)
    assert list(frame["sector"]) == [SECTOR[TICKERS.index(t)] for t in frame["ticker"]]
    assert list(frame["industry"]) == [INDUSTRY[TICKERS.index(t)] for t in frame["ticker"]]
    idiosyncratic = data.idiosyncratic_contributions(w, b)
    assert idiosyncratic["variance_contribution"].sum() == pytest.approx(w @ D @ w, rel=EXACT)
    assert idiosyncratic["active_variance_contribution"].sum() == pytest.approx(((w - b) ** 2 * np.diag(D))[w != 0].sum(), rel=EXACT)
    factors = data.factor_contributions(w - b)
    idiosyncratic_te = (w - b) @ D @ (w - b)
    assert factors["share"].sum() + idiosyncratic_te / te**2 == pytest.approx(1.0, rel=EXACT)


def test_var_table_closed_forms(hand_snapshot):
    report = xf.portfolio_report(PORTFOLIO, hand_snapshot)
    total = report["summary"]["value"]["total_risk"]
    var = report["var"].set_index(["confidence", "horizon_days"])
    daily = total / math.sqrt(252)
    assert var.loc[(0.95, 1), "var"] == pytest.approx(1.6448536269514722 * daily, rel=EXACT)
    assert var.loc[(0.99, 10), "var"] == pytest.approx(2.3263478740408408 * daily * math.sqrt(10), rel=EXACT)
    assert var.loc[(0.95, 1), "expected_shortfall"] == pytest.approx(norm.pdf(norm.ppf(0.95)) / 0.05 * daily, rel=EXACT)
    assert var.loc[(0.99, 1), "expected_shortfall"] == pytest.approx(norm.expect(lambda x: x, lb=norm.ppf(0.99)) / 0.01 * daily, rel=1e-7)


def test_invariances(model, hand_snapshot):
    data = xf.factor_model_data(hand_snapshot)
    X, F, D, V, w, b = reference(model)
    assert data.risk(2 * w) == pytest.approx(2 * data.risk(w), rel=EXACT)
    assert data.tracking_error(w) == pytest.approx(data.risk(w - b), rel=EXACT)
    other = np.array([0.3, 0.0, 0.1, 0.3, 0.2, 0.1])
    assert data.tracking_error(w + other, b + other) == pytest.approx(data.tracking_error(w, b), rel=EXACT)
    allocation = pd.DataFrame({"ticker": TICKERS, "allocation": w})
    allocation = allocation[allocation["allocation"] != 0]
    by_value = xf.portfolio_report(PORTFOLIO, hand_snapshot)
    by_allocation = xf.portfolio_report(allocation, hand_snapshot)
    for key in ("summary", "factor_risk", "active_risk", "risk_decomposition", "attribution", "style", "sector"):
        pd.testing.assert_frame_equal(by_value[key], by_allocation[key], rtol=EXACT, check_exact=False)


def test_attribution_reconciles_with_lagged_exposures(model, hand_snapshot):
    """Latest day: portfolio return = sum_i w_i (X_lag,i f + e_i); benchmark + active = portfolio."""
    X, F, D, V, w, b = reference(model)
    long_short = pd.DataFrame({"ticker": ["AAA", "BBB", "EEE", "FFF"], "value": [500.0, -300.0, 400.0, -100.0]})
    report = xf.portfolio_report(long_short, hand_snapshot)
    attribution = report["attribution"]
    w = np.array([500.0, -300.0, 0, 0, 400.0, -100.0]) / 1300.0
    f, e = model.factor_returns[-1], model.residual_returns[-1]
    stock_returns = model.lagged_exposures @ f + e
    assert attribution.loc["total", "portfolio"] == pytest.approx(w @ stock_returns, rel=EXACT)
    assert attribution.loc["total", "benchmark"] == pytest.approx(b @ stock_returns, rel=EXACT)
    assert attribution.loc["total", "active"] == pytest.approx((w - b) @ stock_returns, rel=EXACT)
    # Each row from the raw inputs: sum over the group's factors of (lagged X' weights)_k f_k
    groups = np.array([factor_group(name) for name in FACTORS])
    for column, weights in (("portfolio", w), ("benchmark", b), ("active", w - b)):
        contributions = (model.lagged_exposures.T @ weights) * f
        for group in ("market", "style", "sector", "industry"):
            assert attribution.loc[group, column] == pytest.approx(contributions[groups == group].sum(), rel=EXACT, abs=1e-16)
        assert attribution.loc["idiosyncratic", column] == pytest.approx(weights @ e, rel=EXACT)
    assert attribution.loc["market", "active"] == pytest.approx((w.sum() - 1) * f[0], rel=EXACT)
    assert attribution.attrs["exposure_date"] < attribution.attrs["date"]
