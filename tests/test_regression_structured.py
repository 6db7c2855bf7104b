"""Structured normal equations: the daily regressions against an independent constrained least-squares solve."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.linalg import null_space

from xlfactor.builder.regression import augmented_design, cell_index, cell_totals, group_sums, group_totals, regress


def _market(days=6, names=240, n_sec=4, per_sector=3, n_sty=3, seed=7):
    rng = np.random.default_rng(seed)
    n_ind = n_sec * per_sector
    industry_sector = np.arange(n_ind) // per_sector
    industry = np.tile(rng.permutation(np.arange(names) % n_ind), (days, 1))  # 20 names per industry, all live
    sector = industry_sector[industry]
    caps = np.exp(rng.normal(9, 1, (days, names)))
    styles = rng.normal(size=(days, names, n_sty))
    returns = rng.normal(0, 0.02, (days, names))
    return returns, caps, styles, sector, industry, industry_sector, n_sec, rng.normal(0, 0.01, days)


def _reference(returns, caps, styles, sector, industry, industry_sector, n_sec, market):
    """Day by day: dense design, constraints C f = 0, weighted least squares on C's null space."""
    days, names = returns.shape
    n_ind, n_sty = len(industry_sector), styles.shape[2]
    k = 1 + n_sec + n_ind + n_sty
    out = np.zeros((days, k))
    for d in range(days):
        X = np.zeros((names, k))
        X[:, 0] = 1.0
        X[np.arange(names), 1 + sector[d]] = 1.0
        X[np.arange(names), 1 + n_sec + industry[d]] = 1.0
        X[:, 1 + n_sec + n_ind :] = styles[d]
        C = np.zeros((1 + n_sec, k))
        C[0, 1 : 1 + n_sec] = np.bincount(sector[d], caps[d], n_sec)
        industry_caps = np.bincount(industry[d], caps[d], n_ind)
        for s in range(n_sec):
            C[1 + s, 1 + n_sec : 1 + n_sec + n_ind] = np.where(industry_sector == s, industry_caps, 0.0)
        y = returns[d].copy()
        if market is not None:
            y -= market[d]
            X[:, 0] = 0.0
            C = np.vstack([C, np.eye(k)[0]])  # the market factor is pinned (its column is empty)
        basis = null_space(C)
        root = np.sqrt(np.sqrt(caps[d]))[:, None]
        z = np.linalg.lstsq(root * (X @ basis), root[:, 0] * y, rcond=None)[0]
        out[d] = basis @ z
        if market is not None:
            out[d, 0] = market[d]
    return out


@pytest.mark.parametrize("pinned", [False, True])
def test_structured_regression_equals_an_independent_constrained_solve(pinned):
    returns, caps, styles, sector, industry, industry_sector, n_sec, market = _market()
    market = market if pinned else None
    result = regress(returns, caps, styles, sector, industry, industry_sector, n_sec, market)
    expected = _reference(returns, caps, styles, sector, industry, industry_sector, n_sec, market)
    np.testing.assert_allclose(result.factor_returns, expected, rtol=0, atol=1e-12)
    k = expected.shape[1]
    X = np.zeros(returns.shape + (k,))
    X[..., 0] = 1.0
    days, names = np.indices(returns.shape)
    X[days, names, 1 + sector] = 1.0
    X[days, names, 1 + n_sec + industry] = 1.0
    X[..., 1 + n_sec + len(industry_sector) :] = styles
    np.testing.assert_allclose(result.residuals, returns - np.einsum("dnk,dk->dn", X, expected), rtol=0, atol=1e-12)


def test_group_sums_equal_one_hot_products():
    rng = np.random.default_rng(0)
    codes = rng.integers(-1, 5, (3, 50))
    values = rng.normal(size=(3, 50))
    onehot = (codes[:, :, None] == np.arange(5)).astype(float)  # (days, names, groups)
    np.testing.assert_allclose(group_sums(codes, values, 5), np.einsum("dng,dn->dg", onehot, values), atol=1e-13)


def test_cell_and_group_totals_equal_one_hot_products_by_sector_and_industry():
    """Cells hold the sums of their names' values, group totals the w-weighted sums of V's rows; no sector = left out."""
    rng = np.random.default_rng(1)
    days, names, n_sec, n_ind = 4, 60, 3, 5
    sector = rng.integers(-1, n_sec, (days, names))
    industry = rng.integers(-1, n_ind, (days, names))
    w = rng.uniform(0.5, 2, (days, names))
    values = rng.normal(size=(days, names, 2))
    sector_hot = (sector[:, :, None] == np.arange(n_sec)).astype(float)
    industry_hot = (np.where(industry >= 0, industry, n_ind)[:, :, None] == np.arange(n_ind + 1)).astype(float)
    got = cell_totals(cell_index(sector, industry, n_sec, n_ind), np.where(sector >= 0, w, np.nan), n_sec, n_ind)
    np.testing.assert_allclose(got, np.einsum("dns,dni,dn->dsi", sector_hot, industry_hot, w), rtol=0, atol=1e-13)
    assert got[:, :, n_ind].sum() > 0  # the no-industry slot is used
    v = augmented_design(values, np.sqrt(w), values[:, :, 0])  # [sqrt(w) values | sqrt(w) y]
    by_sector, by_industry = group_totals(sector, industry, np.sqrt(w), v, n_sec, n_ind)
    design = np.concatenate([values, values[:, :, :1]], axis=2)
    np.testing.assert_allclose(by_sector, np.einsum("dns,dn,dnq->dsq", sector_hot, w, design), rtol=0, atol=1e-12)
    np.testing.assert_allclose(by_industry, np.einsum("dni,dn,dnq->diq", industry_hot[:, :, :n_ind], w, design), rtol=0, atol=1e-12)


def test_chunks_of_days_do_not_change_a_bit(monkeypatch):
    """Every day is solved on its own: chunks of 1, 5 or all days give identical results."""
    from xlfactor.builder import regression

    returns, caps, styles, sector, industry, industry_sector, n_sec, market = _market(days=30, names=120)
    styles[:, ::7, 1] = np.nan  # absent scores too
    runs, steps = [], []
    for cells in (1, 5 * 120 * styles.shape[2], 10**9):
        monkeypatch.setattr(regression, "CHUNK_ELEMENTS", cells)
        steps.append(regression.chunk_days(120, styles.shape[2]))
        runs.append(regress(returns, caps, styles, sector, industry, industry_sector, n_sec, None))
    assert steps == [1, 5, 42] and np.isfinite(runs[0].factor_returns[:, 0]).all()
    for other in runs[1:]:
        for name in ("factor_returns", "residuals", "t_stats", "r2_weighted", "r2_uncentred"):
            np.testing.assert_array_equal(getattr(other, name), getattr(runs[0], name))


def _awkward_market(seed=11, days=5, names=160):
    """Absent scores, a style absent all day, a sector with no usable name, a thin (folded) industry,
    names without an industry or a sector, missing returns: every branch of the structured solve."""
    rng = np.random.default_rng(seed)
    industry_sector = np.array([0, 0, 0, 1, 1, 2, 2, 3])  # industry 2 is thin (folded); sector 3 has one industry
    codes = np.r_[np.array([0, 1, 3, 4, 5, 6])[np.arange(names - 12) % 6], [2, 2], [-1] * 3, [7] * 7]
    industry = np.tile(rng.permutation(codes), (days, 1))
    sector = np.where(industry >= 0, industry_sector[np.clip(industry, 0, None)], rng.integers(0, 3, names))
    sector[:, :2] = -1  # no sector: never in the regression
    caps = np.exp(rng.normal(9, 1, (days, names)))
    styles = rng.normal(size=(days, names, 4))
    styles[rng.random(styles.shape) < 0.05] = np.nan
    styles[2, :, 3] = np.nan  # a style absent all day
    returns = rng.normal(0, 0.02, (days, names))
    returns[rng.random(returns.shape) < 0.04] = np.nan
    returns[3, sector[3] == 1] = np.nan  # sector 1 has no usable name on day 3
    returns[1, 5] = 0.4  # an outlier the winsorization clips
    return returns, caps, styles, sector, industry, industry_sector, 4


def _dense_reference(returns, caps, styles, sector, industry, industry_sector, n_sec, market, min_members):
    """Day by day, with explicit one-hot columns for the factors present that day, the constraint
    matrix C, and weighted least squares on C's null space N: f = N z, cov f = s^2 N (N'X'WXN)^-1 N'."""
    days, names = returns.shape
    n_ind, n_sty = len(industry_sector), styles.shape[2]
    k = 1 + n_sec + n_ind + n_sty
    f, t = np.full((days, k), np.nan), np.full((days, k), np.nan)
    r2_w, r2_u, resid = np.full(days, np.nan), np.full(days, np.nan), np.full((days, names), np.nan)
    for d in range(days):
        use = np.isfinite(returns[d]) & (caps[d] > 0) & (sector[d] >= 0)
        raw = returns[d, use]
        median = np.median(raw)
        spread = 1.4826 * np.median(np.abs(raw - median))
        y = np.clip(raw, median - 5 * spread, median + 5 * spread)
        cap, sec, ind = caps[d, use], sector[d, use], industry[d, use]
        members = np.array([(ind == i).sum() for i in range(n_ind)])
        enough = members >= min_members
        live = np.array([enough[i] and (enough & (industry_sector == industry_sector[i])).sum() >= 2 for i in range(n_ind)])
        columns = {}  # factor index -> column over the usable names
        if market is None:
            columns[0] = np.ones(use.sum())
        for s in range(n_sec):
            columns[1 + s] = (sec == s) * 1.0
        for i in range(n_ind):
            columns[1 + n_sec + i] = (ind == i) * 1.0 if live[i] else np.zeros(use.sum())
        for j in range(n_sty):
            columns[1 + n_sec + n_ind + j] = np.nan_to_num(styles[d, use, j])
        present = [c for c, x in columns.items() if np.abs(x).sum() > 0]
        X = np.column_stack([columns[c] for c in present])
        rows = [[cap[sec == s].sum() if c == 1 + s else 0.0 for c in present] for s in range(n_sec)]
        C = [np.sum(rows, axis=0)]  # sum over sectors of cap x sector return = 0
        for s in range(n_sec):
            C.append([cap[ind == c - 1 - n_sec].sum() if 1 + n_sec <= c < 1 + n_sec + n_ind and industry_sector[c - 1 - n_sec] == s else 0.0
                      for c in present])  # fmt: skip
        C = np.array([row for row in C if np.abs(row).sum() > 0])
        target = y - (market[d] if market is not None else 0.0)
        w = np.sqrt(cap)
        N = null_space(C)
        A = (X @ N) * np.sqrt(w)[:, None]
        z = np.linalg.lstsq(A, target * np.sqrt(w), rcond=None)[0]
        estimate = N @ z
        e = target - X @ estimate
        s2 = (w * e**2).sum() / (use.sum() - (len(present) - len(C)))
        cov = s2 * N @ np.linalg.pinv(A.T @ A) @ N.T  # pinv: also defined on a rank-deficient day (its t-statistics are not compared)
        f[d, present], t[d, present] = estimate, estimate / np.sqrt(np.diag(cov))
        if market is not None:
            f[d, 0] = market[d]
        mean = (w * y).sum() / w.sum()
        r2_w[d] = 1 - (w * e**2).sum() / (w * (y - mean) ** 2).sum()
        r2_u[d] = 1 - (w * e**2).sum() / (w * y**2).sum()
        resid[d, use] = raw - (y - e)  # raw minus the common return X f (+ the fixed market) = y - e
    return f, t, r2_w, r2_u, resid


@pytest.mark.parametrize("pinned", [False, True])
def test_structured_solve_equals_a_dense_null_space_solve_with_absent_and_folded_factors(pinned):
    """Factor returns, t-statistics, both R^2 and residuals against explicit one-hot designs, day by day."""
    returns, caps, styles, sector, industry, industry_sector, n_sec = _awkward_market()
    market = np.random.default_rng(5).normal(0, 0.01, returns.shape[0]) if pinned else None
    got = regress(returns, caps, styles, sector, industry, industry_sector, n_sec, market, min_industry_members=3)
    f, t, r2_w, r2_u, resid = _dense_reference(returns, caps, styles, sector, industry, industry_sector, n_sec, market, 3)
    assert np.isnan(got.factor_returns[:, 1 + n_sec + 2]).all()  # the thin industry is folded every day
    assert np.isnan(got.factor_returns[3, 2]) and np.isnan(got.factor_returns[2, -1])  # absent sector, absent style
    assert np.isnan(got.factor_returns[:, 1 + n_sec + 7]).all()  # the only industry of sector 3: folded
    np.testing.assert_array_equal(np.isnan(got.factor_returns), np.isnan(f))
    np.testing.assert_allclose(got.factor_returns, f, rtol=0, atol=1e-12)
    np.testing.assert_array_equal(np.isnan(got.t_stats), np.isnan(t) | (pinned & (np.arange(f.shape[1]) == 0)))
    estimated = slice(1, None) if pinned else slice(None)  # a pinned market has no t-statistic
    np.testing.assert_allclose(got.t_stats[:, estimated], t[:, estimated], rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(got.r2_weighted, r2_w, rtol=0, atol=1e-12)
    np.testing.assert_allclose(got.r2_uncentred, r2_u, rtol=0, atol=1e-12)
    np.testing.assert_allclose(got.residuals, resid, rtol=0, atol=1e-12)
    assert np.isfinite(got.residuals).sum() > 0.8 * returns.size  # most names are in the regression


@pytest.mark.parametrize("case", ["constant style", "style copies a sector", "duplicated style"])
def test_a_singular_day_gets_the_least_squares_fit(case):
    """A style collinear with the other factors on one day: the factor returns are not identified
    there, but the fitted returns are (a projection), so residuals and R^2 equal a dense
    minimum-norm least-squares solve; the other days are untouched and every number is finite."""
    returns, caps, styles, sector, industry, industry_sector, n_sec = _awkward_market()
    day = 1
    if case == "constant style":
        styles[day, :, 0] = 0.7  # collinear with the market
    elif case == "style copies a sector":
        styles[day, :, 0] = (sector[day] == 0) * 1.0
    else:
        styles[day, :, 1] = styles[day, :, 0]
    styles[day][np.isnan(styles[day])] = 0.0  # a complete day, so the collinearity is exact
    got = regress(returns, caps, styles, sector, industry, industry_sector, n_sec, None, min_industry_members=3)
    _, _, r2_w, r2_u, resid = _dense_reference(returns, caps, styles, sector, industry, industry_sector, n_sec, None, 3)
    np.testing.assert_allclose(got.residuals, resid, rtol=0, atol=1e-10)
    np.testing.assert_allclose(got.r2_weighted, r2_w, rtol=0, atol=1e-10)
    np.testing.assert_allclose(got.r2_uncentred, r2_u, rtol=0, atol=1e-10)
    assert np.nanmax(np.abs(got.factor_returns[day])) < 1.0  # no blow-up on the singular day
    clean = regress(*_awkward_market(), None, min_industry_members=3)  # the same market without the collinearity
    others = np.arange(returns.shape[0]) != day
    np.testing.assert_array_equal(got.factor_returns[others], clean.factor_returns[others])


def test_an_exactly_singular_day_that_inv_refuses_gets_the_minimum_norm_solution():
    """np.linalg.inv raises on day 0; that day alone goes to the pseudo-inverse, day 1 is solved as usual."""
    from xlfactor.builder.regression import solve_reduced

    rest = np.array([[[1.0, 1.0], [1.0, 1.0]], [[2.0, 0.0], [0.0, 3.0]]])
    rhs = np.array([[2.0, 2.0], [2.0, 3.0]])
    x, _, _, _ = solve_reduced(rest, np.zeros((2, 2, 1)), np.ones((2, 1)), rhs, np.ones((2, 1)))
    np.testing.assert_allclose(x[0], np.linalg.lstsq(rest[0], rhs[0], rcond=None)[0], atol=1e-12)
    np.testing.assert_array_equal(x[1], np.linalg.solve(rest[1], rhs[1]))
