"""Stress tests, historical replay and historical-simulation VaR against independent numpy."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pandas as pd
import pytest
from scipy.stats import norm

import xlfactor as xf
from tests.handmodel import FACTORS, TICKERS
from xlfactor.errors import ScenarioError
from xlfactor.snapshot.snapshot import Snapshot

LONG_ONLY = np.array([0.30, 0.10, 0.15, 0.20, 0.15, 0.10])
LONG_SHORT = np.array([0.40, -0.25, 0.10, -0.05, 0.30, -0.20])


def _conditional(F, shocked, shocks):
    """The conditional expectation written out: f_rest = F_rk F_kk^-1 f_k, shocks kept."""
    k = np.asarray(shocked)
    rest = np.setdiff1d(np.arange(len(F)), k)
    moves = np.zeros(len(F))
    moves[k] = shocks
    moves[rest] = F[np.ix_(rest, k)] @ np.linalg.inv(F[np.ix_(k, k)]) @ np.asarray(shocks)
    return moves


@pytest.mark.parametrize("weights", [LONG_ONLY, LONG_SHORT], ids=["long-only", "long-short"])
def test_stress_matches_numpy_conditional_expectation(model, hand_snapshot, weights):
    data = xf.factor_model_data(hand_snapshot)
    F, X = model.factor_covariance, model.exposures
    shocks = {"market": -0.10, "momentum": -0.05}
    k = [FACTORS.index("market"), FACTORS.index("momentum")]
    moves = _conditional(F, k, [-0.10, -0.05])
    benchmark = np.array([0.1, 0.2, 0.3, 0.1, 0.2, 0.1])
    result = xf.stress(data, weights, shocks, benchmark=benchmark)
    assert result.portfolio_pnl == pytest.approx((X.T @ weights) @ moves, abs=1e-12)
    assert result.benchmark_pnl == pytest.approx((X.T @ benchmark) @ moves, abs=1e-12)
    assert result.active_pnl == pytest.approx((X.T @ (weights - benchmark)) @ moves, abs=1e-12)
    np.testing.assert_allclose(result.factors["factor_move"], moves, atol=1e-14)
    groups = result.summary.drop(index="total").sum()
    np.testing.assert_allclose(groups.to_numpy(), result.summary.loc["total"].to_numpy(), atol=1e-14)
    sector = [j for j, f in enumerate(FACTORS) if f.startswith("sector:")]
    assert result.summary.loc["sector", "portfolio"] == pytest.approx(((X.T @ weights) * moves)[sector].sum(), abs=1e-14)
    implied = result.implied_moves
    assert "market" not in implied.index and len(implied) == len(FACTORS) - 2
    assert implied["value"] == pytest.approx(moves[FACTORS.index("value")], abs=1e-14)
    # the default benchmark is the cap-weighted universe
    caps = model.market_cap / model.market_cap.sum()
    assert xf.stress(data, weights, shocks).benchmark_pnl == pytest.approx((X.T @ caps) @ moves, abs=1e-12)


def test_stress_without_propagation_moves_nothing_else(model, hand_snapshot):
    data = xf.factor_model_data(hand_snapshot)
    result = xf.stress(data, LONG_SHORT, {"value": 0.03}, propagate=False)
    moves = result.factors.set_index("factor")["factor_move"]
    assert moves["value"] == 0.03
    assert (moves.drop("value") == 0).all()
    x = model.exposures.T @ LONG_SHORT
    assert result.portfolio_pnl == pytest.approx(x[FACTORS.index("value")] * 0.03, abs=1e-15)
    assert result.summary.loc["style", "portfolio"] == pytest.approx(result.portfolio_pnl, abs=1e-15)


def test_one_sd_shock_moves_every_factor_by_its_covariance_over_the_volatility(model, hand_snapshot):
    data = xf.factor_model_data(hand_snapshot)
    F = model.factor_covariance
    for j in (0, FACTORS.index("sector:Tech"), FACTORS.index("size")):
        sigma = math.sqrt(F[j, j])
        result = xf.stress(data, LONG_ONLY, {FACTORS[j]: sigma})
        np.testing.assert_allclose(result.factors["factor_move"], F[:, j] / sigma, rtol=1e-12)


def test_dollars_for_value_holdings(model, hand_snapshot):
    data = xf.factor_model_data(hand_snapshot)
    frame = pd.DataFrame({"ticker": TICKERS, "value": LONG_SHORT * 2e6})
    gross = np.abs(LONG_SHORT * 2e6).sum()
    result = xf.stress(data, frame, {"market": -0.10})
    weights = LONG_SHORT / np.abs(LONG_SHORT).sum()
    moves = _conditional(model.factor_covariance, [0], [-0.10])
    assert result.portfolio_pnl == pytest.approx((model.exposures.T @ weights) @ moves, abs=1e-12)
    assert result.dollars["portfolio"] == pytest.approx(gross * result.portfolio_pnl, rel=1e-12)
    allocation = pd.DataFrame({"ticker": TICKERS, "allocation": LONG_ONLY})
    assert xf.stress(data, allocation, {"market": -0.10}).dollars is None


def test_replay_day_window_and_worst_day_by_brute_force(model, hand_snapshot):
    data = xf.factor_model_data(hand_snapshot)
    dates = list(hand_snapshot.factor_returns.index)
    f, X = model.factor_returns, model.exposures
    x = X.T @ LONG_SHORT
    for t, date in enumerate(dates):
        day = xf.replay(data, LONG_SHORT, date)
        expected = sum(f[t, k] * x[k] for k in range(len(FACTORS)))
        assert day.portfolio_pnl == pytest.approx(expected, abs=1e-14) and day.days == 1
    window = xf.replay(data, LONG_SHORT, dates[2], dates[6])
    singles = [xf.replay(data, LONG_SHORT, d).portfolio_pnl for d in dates[2:7]]
    assert window.days == 5 and window.portfolio_pnl == pytest.approx(sum(singles), abs=1e-14)
    assert window.compounded["portfolio"] == pytest.approx(np.prod(1 + np.array(singles)) - 1, abs=1e-14)
    summed = window.factors.set_index("factor")["factor_return"]
    np.testing.assert_allclose(summed.to_numpy(), f[2:7].sum(axis=0), atol=1e-15)
    benchmark = window.summary.loc["total", "benchmark"]
    caps = model.market_cap / model.market_cap.sum()
    assert benchmark == pytest.approx((f[2:7] @ (X.T @ caps)).sum(), abs=1e-14)
    # a calendar range that includes a weekend covers the trading days inside it
    assert xf.replay(data, LONG_SHORT, "2026-01-09", "2026-01-12").days == 2

    brute = min((xf.replay(data, LONG_SHORT, d).portfolio_pnl, d) for d in dates)
    worst = xf.worst_days(data, LONG_SHORT, n=3)
    assert worst["date"].iloc[0] == brute[1] and worst["pnl"].iloc[0] == pytest.approx(brute[0], abs=1e-15)
    assert worst["pnl"].is_monotonic_increasing


def test_replay_and_stress_refuse_bad_input(hand_snapshot):
    data = xf.factor_model_data(hand_snapshot)
    with pytest.raises(ScenarioError, match=r"'momentm'.*OF_FACTORS\(\)"):
        xf.stress(data, LONG_ONLY, {"momentm": -0.05})
    with pytest.raises(ScenarioError, match=r"larger than 100%.*-0\.10 for -10%"):
        xf.stress(data, LONG_ONLY, {"market": -10})
    assert xf.stress(data, LONG_ONLY, {"MARKET": -1.0}).portfolio_pnl < 0  # -100% is allowed, ids case-insensitive
    with pytest.raises(ScenarioError, match="no shocks"):
        xf.stress(data, LONG_ONLY, {})
    with pytest.raises(ScenarioError, match=r"2025-12-01 is outside .*\(2026-01-05 to 2026-01-16\)"):
        xf.replay(data, LONG_ONLY, "2025-12-01")
    with pytest.raises(ScenarioError, match=r"end 2026-02-01 is outside .*2026-01-05 to 2026-01-16"):
        xf.replay(data, LONG_ONLY, "2026-01-05", "2026-02-01")
    with pytest.raises(ScenarioError, match="after its end"):
        xf.replay(data, LONG_ONLY, "2026-01-14", "2026-01-06")
    with pytest.raises(ScenarioError, match="must be a date"):
        xf.replay(data, LONG_ONLY, "yesterday")
    with pytest.raises(xf.UnknownTickersError):
        xf.stress(data, pd.DataFrame({"ticker": ["AAA", "ZZZ"], "value": [1.0, 1.0]}), {"market": -0.1})


def test_scenario_library_lookup_and_unknown_names(hand_snapshot):
    library = pd.DataFrame(
        {"name": ["Week two", "Tuesday"], "start": ["2026-01-12", "2026-01-13"], "end": ["2026-01-16", "2026-01-13"],
         "description": ["second week", "one day"]}
    )  # fmt: skip
    snapshot = dataclasses.replace(hand_snapshot, scenarios=library)
    data = xf.factor_model_data(snapshot)
    episode = xf.scenario(data, LONG_ONLY, "week two")
    direct = xf.replay(data, LONG_ONLY, "2026-01-12", "2026-01-16")
    assert episode.name == "Week two" and episode.portfolio_pnl == pytest.approx(direct.portfolio_pnl, abs=1e-15)
    assert xf.scenario(data, LONG_ONLY, "2026-01-13").portfolio_pnl == pytest.approx(
        xf.scenario(data, LONG_ONLY, "Tuesday").portfolio_pnl, abs=1e-15
    )
    with pytest.raises(ScenarioError, match="unknown scenario 'Lehman'.*Week two, Tuesday"):
        xf.scenario(data, LONG_ONLY, "Lehman")
    table = xf.scenario_table(data, LONG_ONLY)
    assert list(table["kind"]) == ["library", "library", "worst window"] + ["worst day"] * 5
    assert table["portfolio"].iloc[0] == pytest.approx(direct.portfolio_pnl, abs=1e-15)
    # without a library the table falls back to the worst-days scenarios
    bare = xf.scenario_table(xf.factor_model_data(hand_snapshot), LONG_ONLY)
    assert list(bare["kind"]) == ["worst window"] + ["worst day"] * 5
    assert bare["days"].iloc[0] == len(hand_snapshot.factor_returns)  # history shorter than 21 days


# ---------------------------------------------------------------- long synthetic histories


def synthetic_snapshot(seed: int, n_days: int, dof: float | None = None, residual_scale: float = 1.0) -> tuple[Snapshot, np.ndarray]:
    """A 40-name, 4-factor model whose daily factor returns are normal (dof None) or Student-t with covariance F."""
    rng = np.random.default_rng(seed)
    n, names = 40, np.array(["market", "sector:A", "momentum", "value"])
    vols = np.array([0.18, 0.10, 0.08, 0.06])
    corr = np.array([[1, 0.3, -0.2, 0.1], [0.3, 1, 0.0, 0.2], [-0.2, 0.0, 1, -0.3], [0.1, 0.2, -0.3, 1]])
    F = corr * np.outer(vols, vols)
    X = np.column_stack([np.ones(n), (np.arange(n) < 20).astype(float), rng.normal(0, 1, (n, 2))])
    idiosyncratic = rng.uniform(0.15, 0.35, n)
    z = rng.standard_normal((n_days, 4))
    if dof is not None:
        z = rng.standard_t(dof, (n_days, 4)) * math.sqrt((dof - 2) / dof)
    daily = z @ np.linalg.cholesky(F / 252).T
    residual = rng.standard_normal((n_days, n)) * idiosyncratic / math.sqrt(252) * residual_scale
    dates = pd.bdate_range("2000-01-03", periods=n_days).strftime("%Y-%m-%d")
    index = pd.Index(list(dates), name="date")
    tickers = np.array([f"N{i:02d}" for i in range(n)])
    snapshot = Snapshot(
        metadata={"as_of_date": dates[-1], "simulated": True},
        tickers=tickers, factor_names=names, factor_groups=np.array(["market", "sector", "style", "style"]),
        exposures=X, raw_exposures=np.full_like(X, np.nan), market_cap=rng.uniform(1e9, 1e11, n),
        factor_covariance=F, idiosyncratic_risk=idiosyncratic, idiosyncratic_observations=np.full(n, 252.0),
        factor_returns=pd.DataFrame(daily, index=index, columns=list(names)),
        residual_returns=pd.DataFrame(residual, index=index.copy(), columns=list(tickers)),
    )  # fmt: skip
    return snapshot, daily


def test_worst_window_by_brute_force():
    snapshot, daily = synthetic_snapshot(3, 300)
    data = xf.factor_model_data(snapshot)
    w = np.linspace(-1, 1.5, 40) / np.abs(np.linspace(-1, 1.5, 40)).sum()
    pnl = daily @ (data.exposures.T @ w)
    sums = [pnl[s : s + 21].sum() for s in range(300 - 20)]
    first = int(np.argmin(sums))
    window = xf.worst_window(data, w)
    assert window["start"] == snapshot.factor_returns.index[first] and window["days"] == 21
    assert window["pnl"] == pytest.approx(sums[first], abs=1e-14)
    assert window["compounded"] == pytest.approx(np.prod(1 + pnl[first : first + 21]) - 1, abs=1e-14)


def test_historical_var_without_residuals_is_the_empirical_quantile():
    snapshot, daily = synthetic_snapshot(5, 500, residual_scale=0.0)
    data = xf.factor_model_data(snapshot)
    w = np.full(40, 1 / 40)
    losses = -(daily @ (data.exposures.T @ w))
    for confidence, horizon in ((0.95, 1), (0.99, 10)):
        h = xf.historical_var(data, w, confidence, horizon)
        expected = np.quantile(losses, confidence) * math.sqrt(horizon)
        assert h.var == pytest.approx(expected, rel=1e-12)
        tail = losses * math.sqrt(horizon)
        assert h.expected_shortfall == pytest.approx(tail[tail >= expected].mean(), rel=1e-12)
        assert h.parametric_var == pytest.approx(xf.factor_model_data(snapshot).var(w, confidence, horizon), rel=1e-12)
        assert h.ratio == pytest.approx(h.var / h.parametric_var)


@pytest.mark.parametrize("confidence", [0.95, 0.99])
def test_historical_var_of_a_normal_market_is_within_sampling_error_of_the_parametric(confidence):
    n_days = 4000
    snapshot, _ = synthetic_snapshot(7, n_days)
    data = xf.factor_model_data(snapshot)
    w = np.where(np.arange(40) % 3 == 0, -1.0, 1.0) / 40
    h = xf.historical_var(data, w, confidence)
    sigma = data.risk(w) / math.sqrt(252)
    z = norm.ppf(confidence)
    # standard error of an empirical quantile: sqrt(c (1 - c) / n) / density, in sigma units
    standard_error = math.sqrt(confidence * (1 - confidence) / n_days) / norm.pdf(z) * sigma
    assert abs(h.var - h.parametric_var) < 4 * standard_error
    assert h.parametric_var == pytest.approx(z * sigma, rel=1e-12)


def test_historical_var_of_a_student_t_market_exceeds_the_parametric_at_99():
    snapshot, _ = synthetic_snapshot(9, 5000, dof=4)
    data = xf.factor_model_data(snapshot)
    w = np.full(40, 1 / 40)
    h = xf.historical_var(data, w, 0.99)
    assert h.ratio > 1.05 and h.es_ratio > 1.05


def test_historical_var_is_reproducible_and_validated(hand_snapshot):
    data = xf.factor_model_data(hand_snapshot)
    first, second = xf.historical_var(data, LONG_ONLY, 0.95), xf.historical_var(data, LONG_ONLY, 0.95)
    assert first.var == second.var and first.draws == len(hand_snapshot.factor_returns) * 50
    active = xf.historical_var(data, LONG_ONLY, 0.95, active=True)
    assert active.parametric_var == pytest.approx(data.var(LONG_ONLY, 0.95, active=True), rel=1e-12)
    with pytest.raises(xf.XlfactorError, match="confidence"):
        xf.historical_var(data, LONG_ONLY, 95)
