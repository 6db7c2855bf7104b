"""Hedging and time-series analytics: known answers and independent computations.

Expected numbers come from the source texts (lecture, wiki), closed forms computed here
in numpy, scipy's root finder and statsmodels -- never from the code under test.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import linalg, optimize, stats

import xlfactor as xf
from xlfactor.errors import XlfactorError
from xlfactor.hedging import budgets, cascade as etf_cascade
from xlfactor.risk import timeseries

TIGHT = 1e-10


# ---------------------------------------------------------------- tracking and factor portfolios


def test_lecture_tracking_portfolio_is_one_third_one_sixth_one_half():
    X = np.array([[0.7, 1.1], [0.1, 0.5], [1.5, 1.3]])
    result = xf.tracking_portfolio(np.array([1.0, 1.1]), X, budget=1.0)
    assert result.method == "exact"
    np.testing.assert_allclose(result.weights, [1 / 3, 1 / 6, 1 / 2], atol=TIGHT)


def _null_space_minimum(A: np.ndarray, b: np.ndarray, d: np.ndarray) -> np.ndarray:
    """min w'Dw s.t. A w = b, by parametrizing the solutions w0 + N z (independent of the code's KKT)."""
    w0 = np.linalg.lstsq(A, b, rcond=None)[0]
    N = linalg.null_space(A)
    z = -np.linalg.solve(N.T @ (d[:, None] * N), N.T @ (d * w0))
    return w0 + N @ z


def test_tracking_portfolio_with_more_assets_minimizes_idiosyncratic_variance():
    rng = np.random.default_rng(7)
    X = rng.normal(1.0, 0.4, (8, 3))
    d = rng.uniform(0.01, 0.09, 8)
    target = np.array([1.0, 0.9, 1.2])
    result = xf.tracking_portfolio(target, X, budget=1.0, idiosyncratic_variance=d)
    A = np.vstack([X.T, np.ones(8)])
    expected = _null_space_minimum(A, np.append(target, 1.0), d)
    np.testing.assert_allclose(result.weights, expected, atol=1e-12)
    np.testing.assert_allclose(X.T @ result.weights, target, atol=TIGHT)
    least_norm = xf.tracking_portfolio(target, X, budget=1.0)
    np.testing.assert_allclose(least_norm.weights, np.linalg.pinv(A) @ np.append(target, 1.0), atol=1e-12)


def test_tracking_portfolio_refuses_unsolvable_systems():
    X = np.array([[0.7, 1.1], [0.1, 0.5]])
    with pytest.raises(XlfactorError, match="2 instruments for 3 equations"):
        xf.tracking_portfolio(np.array([1.0, 1.1]), X)
    dependent = np.array([[1.0, 2.0], [2.0, 4.0], [3.0, 6.0]])  # second factor = 2 x first
    with pytest.raises(XlfactorError, match="inconsistent"):
        xf.tracking_portfolio(np.array([1.0, 1.0]), dependent)


def _small_model(n=60, seed=4):
    """Market, three sectors (nested), two styles: every name in one sector."""
    from types import SimpleNamespace

    rng = np.random.default_rng(seed)
    sector = np.arange(n) % 3
    X = np.column_stack([np.ones(n), np.eye(3)[sector], rng.normal(0, 1, (n, 2))])
    return SimpleNamespace(
        exposures=X,
        idiosyncratic_variance=rng.uniform(0.02, 0.1, n),
        factor_names=np.array(["market", "sector:A", "sector:B", "sector:C", "value", "size"]),
        factor_groups=np.array(["market", "sector", "sector", "sector", "style", "style"]),
    )


def test_factor_portfolio_has_unit_exposure_to_every_factor_of_a_small_model():
    data = _small_model()
    for k, factor in enumerate(data.factor_names):
        result = xf.factor_portfolio(data, str(factor))
        keep = np.array([n not in result.free_factors for n in data.factor_names])
        np.testing.assert_allclose(result.exposures[keep], np.eye(6)[k][keep], atol=TIGHT)
        expected = _null_space_minimum(data.exposures[:, keep].T, np.eye(6)[k][keep], data.idiosyncratic_variance)
        np.testing.assert_allclose(result.weights, expected, atol=1e-10)
    assert xf.factor_portfolio(data, "value").free_factors == ()
    assert xf.factor_portfolio(data, "sector:B").free_factors == ("market",)
    assert set(xf.factor_portfolio(data, "market").free_factors) == {"sector:A", "sector:B", "sector:C"}
    with pytest.raises(XlfactorError, match="unknown factor"):
        xf.factor_portfolio(data, "quality")


def test_factor_portfolio_on_the_demo_is_pure_and_least_idiosyncratic():
    data = xf.factor_model_data()
    names = list(data.factor_names)
    k = names.index("momentum")
    result = xf.factor_portfolio(data, "momentum")
    assert result.free_factors == ()
    np.testing.assert_allclose(data.exposures.T @ result.weights, np.eye(len(names))[k], atol=TIGHT)
    # optimality certificate (KKT): D w lies in the span of the exposure columns
    d = data.idiosyncratic_variance
    X = data.exposures
    multipliers = np.linalg.lstsq(X, d * result.weights, rcond=None)[0]
    np.testing.assert_allclose(X @ multipliers, d * result.weights, atol=1e-12)


def test_sector_factor_portfolio_frees_only_what_nesting_fixes():
    data = xf.factor_model_data()
    names = list(data.factor_names)
    result = xf.factor_portfolio(data, "sector:Energy")
    assert "market" in result.free_factors
    assert all(f.startswith("industry:") or f == "market" for f in result.free_factors)
    exposures = data.exposures.T @ result.weights
    # every constrained factor is exactly 0 except the sector; market and its industries add up to 1
    for j, name in enumerate(names):
        if name not in result.free_factors:
            assert abs(exposures[j] - (name == "sector:Energy")) < TIGHT
    assert abs(exposures[names.index("market")] - 1) < 1e-10
    assert abs(sum(exposures[names.index(f)] for f in result.free_factors if f != "market") - 1) < 1e-10


# ---------------------------------------------------------------- risk budgets and risk share


def test_hedge_to_factor_share_single_factor_matches_brentq():
    b, var_f, var_e, limit = 1.3, 0.18**2, 0.25**2, 0.20
    result = xf.hedge_to_factor_share(b, var_f, var_e, limit)

    def excess(h):
        return (b - h) ** 2 * var_f / ((b - h) ** 2 * var_f + var_e) - limit

    root = optimize.brentq(excess, 0.0, b, xtol=1e-14)
    assert result.hedge[0] == pytest.approx(root, abs=1e-10)
    assert result.share_before == pytest.approx(b * b * var_f / (b * b * var_f + var_e))
    assert result.share_after == pytest.approx(limit, abs=1e-12)
    short = xf.hedge_to_factor_share(-0.9, var_f, var_e * 0.1, limit)  # a negative beta: hedge is a purchase
    root = optimize.brentq(lambda h: (-0.9 - h) ** 2 * var_f / ((-0.9 - h) ** 2 * var_f + var_e * 0.1) - limit, -0.9, 0.0, xtol=1e-14)
    assert short.hedge[0] == pytest.approx(root, abs=1e-10)


def test_hedge_to_factor_share_multi_factor_scales_the_exposure_vector():
    rng = np.random.default_rng(2)
    L = rng.normal(0, 0.1, (4, 4))
    F = L @ L.T + np.eye(4) * 0.01
    b = np.array([1.1, -0.4, 0.3, 0.8])
    var_e = 0.02
    result = xf.hedge_to_factor_share(b, F, var_e, 0.3)

    def excess(c):
        q = c * c * b @ F @ b
        return q / (q + var_e) - 0.3

    c = optimize.brentq(excess, 0.0, 1.0, xtol=1e-15)
    np.testing.assert_allclose(result.hedge, (1 - c) * b, atol=1e-10)
    assert result.scale == pytest.approx(c, abs=1e-12)
    assert not xf.hedge_to_factor_share(b, F, 100.0, 0.3).hedge.any()  # already below the limit


def test_instrument_hedge_to_share_matches_brentq_on_the_demo():
    data = xf.factor_model_data()
    w = np.zeros(len(data.tickers))
    w[:40] = 1 / 40
    from xlfactor.hedging.instruments import instrument_model, variance_with_hedge

    Y, S, rows, _ = instrument_model(data, ["SPY"])

    def share(h):
        x = data.exposures.T @ w + Y[0] * h
        factor = x @ data.factor_covariance @ x
        return factor / variance_with_hedge(data, w, Y, S, rows, np.array([h]))

    lowest = optimize.minimize_scalar(share, bounds=(-3.0, 1.0), method="bounded")
    limit = 0.5 * (lowest.fun + share(0.0))  # reachable: between the least share SPY can reach and today's
    result = budgets.hedge_book_to_share(data, w, limit, "SPY")
    root = optimize.brentq(lambda h: share(h) - limit, lowest.x, 0.0, xtol=1e-14)
    assert result.hedge_weights[0] == pytest.approx(root, abs=1e-9)
    assert result.share_after == pytest.approx(limit, abs=1e-9)
    with pytest.raises(XlfactorError, match="cannot bring"):
        budgets.hedge_book_to_share(data, w, lowest.fun * 0.9, "SPY")
    assert result.share_before == pytest.approx(share(0.0), rel=1e-12)


def test_position_size_hedged_and_unhedged():
    sigma, sigma_e, budget = 0.32, 0.21, 250_000.0
    for horizon, days in [("daily", 1), ("monthly", 21), ("annual", 252), (10, 10)]:
        unhedged = xf.position_size(budget, horizon, volatility=sigma)
        hedged = xf.position_size(budget, horizon, volatility=sigma, idiosyncratic_volatility=sigma_e, hedged=True)
        assert unhedged == pytest.approx(budget / (sigma / math.sqrt(252) * math.sqrt(days)))
        assert hedged == pytest.approx(budget / (sigma_e / math.sqrt(252) * math.sqrt(days)))
    with pytest.raises(XlfactorError, match="horizon_days"):
        xf.position_size(budget, "fortnightly", volatility=sigma)


def test_implied_covariance_and_parameter_counts():
    data = xf.factor_model_data()
    tickers = list(data.tickers[[3, 10, 500]])
    result = xf.implied_covariance(data, tickers)
    rows = [list(data.tickers).index(t) for t in tickers]
    B = data.exposures[rows]
    expected = B @ data.factor_covariance @ B.T + np.diag(data.idiosyncratic_variance[rows])
    np.testing.assert_allclose(result.covariance, expected, rtol=1e-12)
    k = len(data.factor_names)
    assert result.parameters == 3 * k + k * (k + 1) // 2 + 3 and result.sample_parameters == 6
    w = np.zeros(len(data.tickers))
    w[rows] = [0.5, 0.3, 0.2]
    assert math.sqrt(np.array([0.5, 0.3, 0.2]) @ result.covariance @ np.array([0.5, 0.3, 0.2])) == pytest.approx(data.risk(w))


# ---------------------------------------------------------------- time-series regressions


@pytest.fixture(scope="module")
def stream():
    rng = np.random.default_rng(11)
    n = 400
    dates = pd.bdate_range("2020-01-01", periods=n).strftime("%Y-%m-%d")
    f = pd.DataFrame(rng.normal(0, 0.01, (n, 3)), index=dates, columns=["market", "value", "momentum"])
    f["value"] += 0.3 * f["market"]
    e = np.zeros(n)
    shocks = rng.standard_t(5, n) * 0.006
    for t in range(1, n):  # autocorrelated residuals, so HAC differs from classical
        e[t] = 0.4 * e[t - 1] + shocks[t]
    r = pd.Series(0.0003 + f @ np.array([1.1, -0.5, 0.2]) + e, index=dates)
    r.iloc[5] = np.nan  # a missing day is dropped
    return r, f


def test_regress_returns_matches_statsmodels_and_hand_formulas(stream):
    import statsmodels.api as sm

    r, f = stream
    fit = xf.regress_returns(r, f, newey_west_lags=5)
    keep = r.notna()
    y, X = r[keep].to_numpy(), sm.add_constant(f[keep].to_numpy())
    ols = sm.OLS(y, X).fit()
    hac = sm.OLS(y, X).fit(cov_type="HAC", cov_kwds={"maxlags": 5, "use_correction": True}, use_t=True)
    np.testing.assert_allclose(fit.table["coefficient"], ols.params, rtol=1e-10)
    np.testing.assert_allclose(fit.table["std_error"], ols.bse, rtol=1e-10)
    np.testing.assert_allclose(fit.table["t_stat"], ols.tvalues, rtol=1e-10)
    np.testing.assert_allclose(fit.table[["ci_low", "ci_high"]], ols.conf_int(0.05), rtol=1e-10)
    np.testing.assert_allclose(fit.table["nw_std_error"], hac.bse, rtol=1e-10)
    assert fit.r_squared == pytest.approx(ols.rsquared, rel=1e-12)
    assert fit.adj_r_squared == pytest.approx(ols.rsquared_adj, rel=1e-12)

    # the same numbers by hand: OLS normal equations and the Bartlett sandwich
    n, k = X.shape
    beta = np.linalg.solve(X.T @ X, X.T @ y)
    u = y - X @ beta
    s2 = u @ u / (n - k)
    inv = np.linalg.inv(X.T @ X)
    np.testing.assert_allclose(fit.table["std_error"], np.sqrt(np.diag(inv) * s2), rtol=1e-10)
    scores = X * u[:, None]
    S = scores.T @ scores
    for lag in range(1, 6):
        G = scores[lag:].T @ scores[:-lag]
        S += (1 - lag / 6) * (G + G.T)
    hac_cov = inv @ S @ inv * n / (n - k)  # statsmodels' small-sample correction
    np.testing.assert_allclose(fit.table["nw_std_error"], np.sqrt(np.diag(hac_cov)), rtol=1e-10)
    t_crit = stats.t.ppf(0.975, n - k)
    np.testing.assert_allclose(fit.table["nw_ci_high"], beta + t_crit * np.sqrt(np.diag(hac_cov)), rtol=1e-10)
    assert fit.alpha_daily == pytest.approx(beta[0]) and fit.alpha_annualized == pytest.approx(252 * beta[0])
    assert fit.residual_volatility == pytest.approx(math.sqrt(s2 * 252), rel=1e-12)

    # FMCAR: b_j (Cov_f b)_j / Var(r); with the specific part, adds up to 1
    C = np.cov(X[:, 1:], rowvar=False)
    fmcar = beta[1:] * (C @ beta[1:]) / np.var(y, ddof=1)
    np.testing.assert_allclose(fit.fmcar, fmcar, rtol=1e-10)
    assert fit.fmcar.sum() + fit.idiosyncratic_share == pytest.approx(1.0, abs=1e-12)
    assert fit.idiosyncratic_share == pytest.approx(np.var(u, ddof=1) / np.var(y, ddof=1))


def test_regress_returns_default_lags_and_errors(stream):
    r, f = stream
    assert xf.regress_returns(r, f).newey_west_lags == math.floor(4 * (399 / 100) ** (2 / 9))
    with pytest.raises(XlfactorError, match="only 3 dates"):
        xf.regress_returns(r.iloc[:3], f)
    with pytest.raises(XlfactorError, match="newey_west_lags"):
        xf.regress_returns(r, f, newey_west_lags=-1)


def test_rolling_exposures_match_statsmodels_rolling_ols(stream):
    import statsmodels.api as sm
    from statsmodels.regression.rolling import RollingOLS

    r, f = stream
    roll = xf.rolling_exposures(r, f, window=63)
    keep = r.notna()
    y, X = r[keep], sm.add_constant(f[keep])
    reference = RollingOLS(y, X, window=63).fit().params.dropna()
    np.testing.assert_allclose(roll.betas.to_numpy(), reference[["market", "value", "momentum"]].to_numpy(), rtol=1e-8, atol=1e-12)
    np.testing.assert_allclose(roll.alpha_daily.to_numpy(), reference["const"].to_numpy(), rtol=1e-7, atol=1e-12)
    assert list(roll.betas.index) == list(reference.index)
    # one window by hand: FMCAR with its specific part adds to 1
    last = slice(len(y) - 63, len(y))
    yy, FF = y.to_numpy()[last], f[keep].to_numpy()[last]
    b = np.linalg.lstsq(np.column_stack([np.ones(63), FF]), yy, rcond=None)[0][1:]
    fmcar = b * (np.cov(FF, rowvar=False) @ b) / np.var(yy, ddof=1)
    np.testing.assert_allclose(roll.fmcar.iloc[-1], fmcar, rtol=1e-9)
    np.testing.assert_allclose(roll.fmcar.sum(axis=1) + roll.idiosyncratic_share, 1.0, atol=1e-12)
    for name in roll.betas:
        assert roll.jarque_bera_pvalue[name] == pytest.approx(stats.jarque_bera(reference[name].to_numpy()).pvalue, rel=1e-6)


def test_stock_returns_are_model_plus_residual_with_lagged_exposures():
    snap = xf.load_snapshot()
    R = timeseries.stock_returns(snap)
    factors = snap.factor_returns.loc[snap.residual_returns.index]  # the factor history may be longer
    dates = list(factors.index)
    panel = snap.exposure_panel
    t = dates.index(panel.dates[-1])  # last date: exposures at the previous close
    prev = list(panel.dates).index(dates[t - 1])
    expected = np.nan_to_num(panel.values[prev]) @ factors.iloc[t].to_numpy() + snap.residual_returns.iloc[t].to_numpy()
    np.testing.assert_allclose(R.iloc[t].to_numpy(), expected, rtol=1e-12, atol=1e-15)
    early = 0  # before the panel: today's exposures
    expected = np.nan_to_num(snap.exposures) @ factors.iloc[early].to_numpy() + snap.residual_returns.iloc[early].to_numpy()
    np.testing.assert_allclose(R.iloc[early].to_numpy(), expected, rtol=1e-12, atol=1e-15)


# ---------------------------------------------------------------- the ETF cascade


def test_walmart_hedge_ratios_and_hedged_day():
    hr = xf.cascade_hedge_ratios((0.50, 0.30, 0.20), (0.60, 0.40, 0.70))
    np.testing.assert_allclose(hr, [-0.324, -0.16, -0.20], atol=1e-12)
    spy, xlp, pbj, wmt = 0.0100, 0.0080, 0.0120, 0.0110
    hedged = wmt + hr @ np.array([spy, xlp, pbj])
    assert hedged == pytest.approx(0.00408, abs=1e-12)


def test_cascade_equals_the_raw_etf_regression_and_decomposes_variance():
    rng = np.random.default_rng(5)
    n = 500
    spy = pd.Series(rng.normal(0.0003, 0.01, n), name="SPY")
    sec = (0.9 * spy + rng.normal(0, 0.006, n)).rename("XLK")
    sub = (0.5 * spy + 0.8 * sec + rng.normal(0, 0.008, n)).rename("SOXX")
    stocks = pd.DataFrame({f"S{i}": 0.0002 * i + rng.uniform(0.5, 1.2) * spy + rng.uniform(-0.5, 0.8) * sec
                           + rng.uniform(0, 1) * sub + rng.normal(0, 0.012, n) for i in range(6)})  # fmt: skip
    result = xf.etf_cascade(stocks, spy, sec, sub, window=None)
    design = np.column_stack([np.ones(n), spy, sec, sub])
    coef = np.linalg.lstsq(design, stocks.to_numpy(), rcond=None)[0]
    # the full hedge is minus the joint regression on raw ETFs (same span)
    np.testing.assert_allclose(result.hedge_ratios[-1], -coef[1:].T, atol=1e-10)
    np.testing.assert_allclose(result.alpha, coef[0], atol=1e-12)
    # level 1 is the regression on SPY alone, level 2 on SPY and the sector ETF
    c1 = np.linalg.lstsq(design[:, :2], stocks.to_numpy(), rcond=None)[0]
    c2 = np.linalg.lstsq(design[:, :3], stocks.to_numpy(), rcond=None)[0]
    np.testing.assert_allclose(result.hedge_ratios[0][:, 0], -c1[1], atol=1e-10)
    np.testing.assert_allclose(result.hedge_ratios[1][:, :2], -c2[1:].T, atol=1e-10)
    assert not result.hedge_ratios[0][:, 1:].any() and not result.hedge_ratios[1][:, 2].any()
    np.testing.assert_allclose(result.explained_risk.sum(axis=1) + result.residual_share, 1.0, atol=1e-12)
    assert result.replication_error.max() < 1e-12
    resid = stocks.to_numpy() - design @ coef
    np.testing.assert_allclose(result.residuals.to_numpy(), resid, atol=1e-12)
    # explained by level 1 = R² of the SPY regression
    r2 = 1 - (stocks.to_numpy() - design[:, :2] @ c1).var(axis=0) / stocks.to_numpy().var(axis=0)
    np.testing.assert_allclose(result.explained_risk[:, 0], r2, atol=1e-12)
    assert result.link_betas[0] == pytest.approx(np.polyfit(spy, sec, 1)[0], rel=1e-10)


def test_etf_cascade_window_and_errors():
    rng = np.random.default_rng(6)
    spy = pd.Series(rng.normal(0, 0.01, 300))
    stock = pd.Series(spy * 1.1 + rng.normal(0, 0.01, 300), name="X")
    assert len(xf.etf_cascade(stock, spy, window=100).dates) == 100
    with pytest.raises(XlfactorError, match="only 50 dates"):
        xf.etf_cascade(stock.iloc[:50], spy)
    gappy = stock.copy()
    gappy.iloc[-3] = np.nan
    with pytest.raises(XlfactorError, match="missing inside the window for: X"):
        xf.etf_cascade(gappy, spy)
    with pytest.raises(XlfactorError, match="subsector needs a sector"):
        xf.etf_cascade(stock, spy, None, spy)


def test_demo_has_subsector_etfs_and_the_portfolio_cascade_is_the_weighted_sum():
    data = xf.factor_model_data()
    snap = data.snapshot
    assert {"SOXX", "XBI", "KBE", "XOP"} <= set(snap.index_returns.columns)
    cascade = etf_cascade.universe_cascade(data)
    assert cascade.replication_error < 1e-10
    rng = np.random.default_rng(9)
    held = rng.choice(len(data.tickers), 200, replace=False)
    w = np.zeros(len(data.tickers))
    w[held] = rng.uniform(-0.5, 1.0, 200)
    w /= np.abs(w).sum()
    book = etf_cascade.portfolio_cascade(cascade, w, levels=3)

    # independent: one public etf_cascade per held name on its mapped ETFs, weight-summed by ETF
    from xlfactor.snapshot.etf_map import etf_for_sector, etf_for_sub_industry

    R = timeseries.stock_returns(snap).loc[cascade.dates]
    ETF = snap.index_returns.loc[cascade.dates]
    sectors, industries = data.member_names("sector"), data.member_names("industry")
    expected = {}
    hedged = R.iloc[:, held].to_numpy() @ w[held]
    for i in held:
        sec = etf_for_sector()[sectors[i]]
        sub = etf_for_sub_industry().get(industries[i])
        sub = sub if sub in ETF else None
        one = xf.etf_cascade(R.iloc[:, i], ETF["SPY"], ETF[sec], ETF[sub] if sub else None, window=None)
        for etf, ratio in zip(["SPY", sec, sub], one.hedge_ratios[-1][0]):
            if etf is not None:
                expected[etf] = expected.get(etf, 0.0) + w[i] * ratio
                hedged = hedged + w[i] * ratio * ETF[etf].to_numpy()
    got = dict(zip(book.etfs, book.hedge_ratios[-1]))
    for etf, value in expected.items():
        assert got[etf] == pytest.approx(value, abs=1e-12)
    assert all(abs(v) < 1e-15 for e, v in got.items() if e not in expected)
    # the hedged book has zero beta to SPY over the window, and its variance is the RR
    spy = ETF["SPY"].to_numpy()
    beta = np.cov(hedged, spy)[0, 1] / spy.var(ddof=1)
    assert abs(beta) < 1e-8
    book_returns = R.iloc[:, held].to_numpy() @ w[held]
    assert book.residual_share == pytest.approx(hedged.var() / book_returns.var(), rel=1e-9)
    assert book.explained_risk.sum() + book.residual_share == pytest.approx(1.0, abs=1e-12)
    assert (book.explained_risk[:2] > 0).all()


def test_etf_hedge_levels_and_unhedgeable_names():
    data = xf.factor_model_data()
    cascade = etf_cascade.universe_cascade(data)
    w = np.zeros(len(data.tickers))
    w[:10] = 0.1
    one = etf_cascade.portfolio_cascade(cascade, w, levels=1)
    assert one.hedge_ratios.shape == (1, len(cascade.etfs)) and np.count_nonzero(one.hedge_ratios) == 1
    with pytest.raises(XlfactorError, match="levels"):
        etf_cascade.portfolio_cascade(cascade, w, levels=4)


def test_etf_exposures_include_the_industries_of_their_sector():
    data = xf.factor_model_data()
    from xlfactor.hedging.instruments import instrument_model

    names = list(data.factor_names)
    Y, _, _, _ = instrument_model(data, ["SOXX", "XLK", "SPY"])
    semis = names.index("industry:Semiconductors")
    software = names.index("industry:Software")
    assert Y[0, semis] > 0.5 and abs(Y[0, software]) < 0.3  # SOXX tracks its industry
    assert Y[0, names.index("sector:Information Technology")] > 0.5
    assert not Y[2, [i for i, n in enumerate(names) if n.startswith("industry:")]].any()  # SPY: no sector of its own
    assert Y[0, semis] > 0.8 and Y[2, 0] == pytest.approx(1.0, abs=0.05)
    # sectors sum to the market exposure, the sector's industries to the sector's (as for a stock)
    sectors = [i for i, n in enumerate(names) if n.startswith("sector:")]
    it_industries = [i for i, n in enumerate(names) if n.startswith("industry:") and abs(Y[0, i]) > 0]
    assert Y[0, sectors].sum() == pytest.approx(Y[0, 0], abs=1e-10)
    assert Y[0, it_industries].sum() == pytest.approx(Y[0, names.index("sector:Information Technology")], abs=1e-10)
    # they are the constrained least-squares coefficients, solved here from the KKT system
    use = [0, *sectors, *it_industries]
    frame = pd.concat([data.snapshot.index_returns["SOXX"], data.snapshot.factor_returns.iloc[:, use]], axis=1).dropna()
    D = np.column_stack([np.ones(len(frame)), frame.iloc[:, 1:].to_numpy()])
    C = np.zeros((2, D.shape[1]))
    C[0, 1] = -1.0
    C[0, 2 : 2 + len(sectors)] = 1.0
    C[1, 1 + 1 + sectors.index(names.index("sector:Information Technology"))] = -1.0
    C[1, 2 + len(sectors) :] = 1.0
    kkt = np.block([[D.T @ D, C.T], [C, np.zeros((2, 2))]])
    solution = np.linalg.solve(kkt, np.concatenate([D.T @ frame.iloc[:, 0].to_numpy(), np.zeros(2)]))
    np.testing.assert_allclose(Y[0, use], solution[1 : D.shape[1]], atol=1e-8)


def test_hedged_book_removes_the_tracked_exposures():
    data = xf.factor_model_data()
    w = np.zeros(len(data.tickers))
    w[100:160] = 1 / 60
    from xlfactor.hedging.instruments import instrument_model

    book = xf.hedged_book(data, w, ["SPY", "XLK", "XLF"], factors=["market", "sector:Information Technology", "sector:Financials"])
    Y, _, _, _ = instrument_model(data, ["SPY", "XLK", "XLF"])
    names = list(data.factor_names)
    cols = [names.index(f) for f in book.factors]
    after = data.exposures.T @ w + Y.T @ book.hedge_weights
    np.testing.assert_allclose(after[cols], 0.0, atol=1e-12)
    np.testing.assert_allclose(book.hedge_weights, -np.linalg.solve(Y[:, cols].T, (data.exposures.T @ w)[cols]), atol=1e-12)
    assert book.method == "exact" and book.risk_after < book.risk_before


def test_portable_alpha_in_sample_mean_is_alpha_and_volatility_is_residual(stream):
    r, f = stream
    fit = xf.regress_returns(r, f)
    keep = r.notna()
    hedged = r[keep] - f[keep] @ fit.betas.to_numpy()  # the stream minus its tracking position
    assert hedged.mean() == pytest.approx(fit.alpha_daily, abs=1e-15)
    k = f.shape[1] + 1  # residual degrees of freedom: n - k
    assert hedged.std(ddof=k) * math.sqrt(252) == pytest.approx(fit.residual_volatility, rel=1e-12)
    share = budgets.factor_share(fit.betas.to_numpy(), np.cov(f[keep].to_numpy(), rowvar=False), np.var(fit.residuals, ddof=1))
    assert share == pytest.approx(fit.fmcar.sum(), rel=1e-10)
