r"""The numerics of semantic discovery: residual PCA, the out-of-sample placebo test, the guardrail.

All functions are pure and work on arrays of the snapshot's residual window
(``(n_days, n_assets)`` daily decimal residual returns, NaN where a name has no residual).

**Out-of-sample test.** For a theme with member set :math:`S` (size :math:`k`), each
member's residual is standardized by its model idiosyncratic volatility,
:math:`z_{it} = e_{it} / \sigma_i`. The theme return that predicts member :math:`i` on
day :math:`t` is the *leave-one-out* mean of the other members,
:math:`f_{-i,t} = \frac{1}{n_t - 1}\sum_{j \in S, j \ne i} z_{jt}`, so no member
explains itself. The window is cut in two: the member's loading
:math:`b_i = \sum z f_{-i} / \sum f_{-i}^2` is fitted on the earlier days (the same days
the residual PCA that steered the proposal saw) and the last ``test_days`` residuals are
predicted with it; those days took no part in choosing or fitting the theme. The
statistic is the pooled out-of-sample variance reduction
:math:`1 - \sum (z - b f_{-i})^2 / \sum z^2` over the test days. A set of random names
scores about zero or below; a set sharing a common shock scores about the shock's share
of their residual variance.

**Placebos.** The same statistic for ``n`` random sets of the same size drawn from the
same sectors (as many names per sector as the theme has), computed for all sets at once
as ``(n_days, n_sets, k)`` array operations. The p-value is
:math:`(1 + \#\{\text{placebo} \ge \text{theme}\}) / (1 + n)`.

The in-sample figure is OpenFactor's kind of fit (each day's theme return includes the
member itself, loadings fitted on every day): it falls for any set of names.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from xlfactor._typing import FloatArray, StrArray
from xlfactor.conventions import TRADING_DAYS_PER_YEAR

MIN_OBSERVATIONS = 20
"""Residual days a name needs in the window to take part."""
MIN_PAIR_OBSERVATIONS = 10
"""Common days two names need for their pairwise covariance (else 0)."""


@dataclass(frozen=True)
class ResidualPCA:
    """Principal components of the holdings' residual covariance (pairwise-complete days)."""

    tickers: StrArray  # (n_names,) the holdings that took part
    explained_share: FloatArray  # (n_components,) share of the weighted residual variance
    loadings: FloatArray  # (n_components, n_names) unit eigenvectors


def residual_pca(
    residuals: FloatArray, tickers: StrArray, weights: FloatArray, n_components: int = 3,
    min_observations: int = MIN_OBSERVATIONS,
) -> ResidualPCA:  # fmt: skip
    r"""PCA of the residual covariance of holdings, missing days handled pairwise (not listwise).

    Each name is scaled by :math:`\sqrt{|w_i|}`; the covariance of names :math:`i, j` uses
    only the days both have, demeaned over those days (pandas' pairwise ``DataFrame.cov``),
    so one name with a gap does not remove that day for every other name. Negative eigenvalues of the pairwise matrix
    (it need not be positive semi-definite) count as zero in the shares.

    Parameters
    ----------
    residuals : ndarray, shape (n_days, n_names)
        Daily decimal residual returns of the holdings, NaN where absent.
    tickers : ndarray of str, shape (n_names,)
    weights : ndarray, shape (n_names,)
        Portfolio weights (only their absolute values matter).
    n_components : int
        Components kept.
    min_observations : int
        Residual days a name needs to take part.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> common = rng.normal(size=(60, 1))
    >>> r = np.hstack([common + 0.1 * rng.normal(size=(60, 3)), rng.normal(size=(60, 2))])
    >>> r[5, 0] = np.nan                       # a gap removes one cell, not the day
    >>> pca = residual_pca(r, np.array(list("ABCDE")), np.ones(5) / 5)
    >>> bool(pca.explained_share[0] > 0.5), sorted(np.argsort(-np.abs(pca.loadings[0]))[:3].tolist())
    (True, [0, 1, 2])
    """
    present = np.isfinite(residuals)
    keep = present.sum(axis=0) >= min_observations
    r, m = residuals[:, keep], present[:, keep].astype(float)
    if r.shape[1] < 2:
        return ResidualPCA(np.asarray(tickers)[keep], np.zeros(0), np.zeros((0, int(keep.sum()))))
    x = np.where(m > 0, r, 0.0) * np.sqrt(np.abs(weights[keep]))
    pairs = m.T @ m  # common days of each pair
    sums = x.T @ m  # sums[i, j]: sum of name i over the days name j has
    comoment = x.T @ x - sums * sums.T / np.maximum(pairs, 1.0)
    covariance = np.where(pairs >= MIN_PAIR_OBSERVATIONS, comoment / np.maximum(pairs - 1.0, 1.0), 0.0)
    values, vectors = np.linalg.eigh(covariance)
    order = np.argsort(values)[::-1][:n_components]
    positive = np.clip(values, 0.0, None)
    total = positive.sum()
    shares = positive[order] / total if total > 0 else np.zeros(len(order))
    return ResidualPCA(np.asarray(tickers)[keep], shares, vectors[:, order].T)


def theme_statistics(
    standardized: FloatArray, sets: np.ndarray, test_days: int | None = None, min_others: int = 3
) -> tuple[FloatArray, FloatArray]:
    """In-sample and out-of-sample residual-variance reduction of many member sets at once.

    Parameters
    ----------
    standardized : ndarray, shape (n_days, n_assets)
        Daily residuals divided by each name's daily idiosyncratic volatility (unitless),
        NaN where absent, oldest day first.
    sets : ndarray of int, shape (n_sets, k)
        Column indices of the members of each set (all sets the same size).
    test_days : int, optional
        The last ``test_days`` days are the test sample; loadings are fitted on the days
        before them. Default a third of the days.
    min_others : int
        A member's day counts only when at least this many other members have a residual.

    Returns
    -------
    in_sample, out_of_sample : ndarray, shape (n_sets,)
        Pooled variance reductions (fractions). The in-sample one fits every day with the
        member inside its own theme return; the out-of-sample one can be negative.

    Examples
    --------
    >>> rng = np.random.default_rng(1)
    >>> z = rng.normal(size=(63, 40))
    >>> z[:, :10] += rng.normal(size=(63, 1))           # names 0-9 share a shock
    >>> ins, oos = theme_statistics(z, np.array([np.arange(10), np.arange(20, 30)]), test_days=21)
    >>> bool(oos[0] > 0.3), bool(oos[1] < 0.05), bool(ins[1] > 0)
    (True, True, True)
    """
    n_days = len(standardized)
    test_days = n_days // 3 if test_days is None else int(test_days)
    if not 0 < test_days < n_days:
        raise ValueError(f"test_days must be between 1 and {n_days - 1}, got {test_days}")
    e = standardized[:, sets]  # (n_days, n_sets, k)
    w = np.isfinite(e)
    e0 = np.where(w, e, 0.0)
    total = e0.sum(axis=2, keepdims=True)
    count = w.sum(axis=2, keepdims=True)

    f_in = np.divide(total, count, out=np.zeros_like(total), where=count > 0)
    f_in = np.broadcast_to(f_in, e0.shape) * w
    beta_in = _ratio((f_in * e0).sum(axis=0), (f_in * f_in).sum(axis=0))
    sst = (e0 * e0).sum(axis=(0, 2))
    in_sample = 1.0 - ((e0 - beta_in * f_in) ** 2 * w).sum(axis=(0, 2)) / sst

    others = count - w
    valid = w & (others >= min_others)
    f_out = np.divide(total - e0, others, out=np.zeros_like(e0), where=valid)
    fit = slice(0, n_days - test_days)
    test = slice(n_days - test_days, n_days)
    beta = _ratio((f_out[fit] * e0[fit] * valid[fit]).sum(axis=0), (f_out[fit] ** 2 * valid[fit]).sum(axis=0))
    err = (e0[test] - beta * f_out[test]) * valid[test]
    sse = (err * err).sum(axis=(0, 2))
    sst_out = ((e0[test] * valid[test]) ** 2).sum(axis=(0, 2))
    out_of_sample = 1.0 - np.divide(sse, sst_out, out=np.ones_like(sse), where=sst_out > 0)
    return in_sample, out_of_sample


def _ratio(num: FloatArray, den: FloatArray) -> FloatArray:
    return np.divide(num, den, out=np.zeros_like(num), where=den > 0)


def placebo_sets(rng: np.random.Generator, strata: np.ndarray, members: np.ndarray, eligible: np.ndarray, n: int) -> np.ndarray:
    """``n`` random sets with as many names per stratum (sector) as ``members`` has.

    Parameters
    ----------
    rng : Generator
    strata : ndarray of int, shape (n_assets,)
        Sector code of each name (-1 = none, its own stratum).
    members : ndarray of int, shape (k,)
        Column indices of the theme's members.
    eligible : ndarray of bool, shape (n_assets,)
        Names that may be drawn.
    n : int
        Number of placebo sets.

    Returns
    -------
    ndarray of int, shape (n, k)
        Each row a set of distinct names; drawn from all eligible names of the stratum,
        the theme's own members included (a conservative test).

    Examples
    --------
    >>> sets = placebo_sets(np.random.default_rng(0), np.array([0, 0, 0, 1, 1, 1]), np.array([0, 3]), np.ones(6, bool), 5)
    >>> sets.shape, bool((sets[:, 0] < 3).all() and (sets[:, 1] >= 3).all())
    ((5, 2), True)
    """
    columns = []
    for stratum, needed in zip(*np.unique(strata[members], return_counts=True)):  # at most a dozen sectors
        pool = np.nonzero(eligible & (strata == stratum))[0]
        keys = rng.random((n, len(pool)))
        columns.append(pool[np.argsort(keys, axis=1)[:, :needed]])
    return np.concatenate(columns, axis=1)


def placebo_p_value(statistic: float, placebos: FloatArray) -> float:
    """``(1 + #placebos >= statistic) / (1 + n)``: the permutation p-value (never 0).

    >>> placebo_p_value(0.3, np.array([0.1, 0.2, 0.35, -0.1]))
    0.4
    """
    return float((1 + np.count_nonzero(placebos >= statistic)) / (1 + len(placebos)))


def gram_pseudo_inverse(exposures: FloatArray) -> FloatArray:
    """``(X'X)^+`` of the exposures (NaN as 0), from a symmetric eigendecomposition (computed once)."""
    x = np.nan_to_num(exposures)
    values, vectors = np.linalg.eigh(x.T @ x)
    keep = values > values.max() * 1e-10
    return (vectors[:, keep] / values[keep]) @ vectors[:, keep].T


def membership_r2(membership: FloatArray, exposures: FloatArray, gram_inverse: FloatArray | None = None) -> tuple[float, int]:
    """Cross-sectional R² of the 0/1 membership on the model's exposures, and the top regressor.

    1.0 when the theme is a sector, an industry or a union of them renamed; about
    ``n_factors / n_assets`` for names picked at random. ``gram_inverse`` is
    :func:`gram_pseudo_inverse` of the exposures (pass it when testing many themes).

    Examples
    --------
    >>> X = np.column_stack([np.ones(6), [1, 1, 1, 0, 0, 0.0]])
    >>> r2, top = membership_r2(np.array([1, 1, 1, 0, 0, 0.0]), X)
    >>> round(r2, 6), top
    (1.0, 1)
    """
    x = np.nan_to_num(exposures)
    y = membership - membership.mean()
    sst = float(y @ y)
    if sst <= 0:
        return 0.0, -1
    coef = (gram_inverse if gram_inverse is not None else gram_pseudo_inverse(x)) @ (x.T @ membership)
    fitted = x @ coef
    r2 = 1.0 - float(((membership - fitted) ** 2).sum()) / sst
    spread = x.std(axis=0)
    contribution = np.abs(coef) * spread
    return max(r2, 0.0), int(np.argmax(contribution))


def pairwise_correlations(series: FloatArray, others: FloatArray) -> FloatArray:
    """Correlation of ``series`` (n_days,) with each column of ``others`` (n_days, n), pairwise days."""
    both = np.isfinite(series)[:, None] & np.isfinite(others)
    n = both.sum(axis=0)
    x = np.where(both, series[:, None], 0.0)
    y = np.where(both, others, 0.0)
    mx, my = _ratio(x.sum(axis=0), n.astype(float)), _ratio(y.sum(axis=0), n.astype(float))
    dx, dy = np.where(both, x - mx, 0.0), np.where(both, y - my, 0.0)
    den = np.sqrt((dx * dx).sum(axis=0) * (dy * dy).sum(axis=0))
    return np.divide((dx * dy).sum(axis=0), den, out=np.zeros(others.shape[1]), where=(den > 0) & (n >= MIN_PAIR_OBSERVATIONS))


def pairwise_cross_covariance(a: FloatArray, b: FloatArray) -> FloatArray:
    """Sample covariance of every column of ``a`` with every column of ``b``, pairwise-complete days.

    Parameters
    ----------
    a : ndarray, shape (n_days, p)
    b : ndarray, shape (n_days, q)
        Daily series, NaN where absent.

    Returns
    -------
    ndarray, shape (p, q)
        Daily covariances (ddof 1) over the days both columns have; 0 where a pair has
        fewer than :data:`MIN_PAIR_OBSERVATIONS` common days.

    Examples
    --------
    >>> a = np.array([[1.0], [2.0], [np.nan], [4.0]]); b = np.array([[2.0, 1.0], [4.0, 1.0], [6.0, 0.0], [8.0, 1.0]])
    >>> bool(pairwise_cross_covariance(a, b).shape == (1, 2))
    True
    """
    ma, mb = np.isfinite(a).astype(float), np.isfinite(b).astype(float)
    a0, b0 = np.where(ma > 0, a, 0.0), np.where(mb > 0, b, 0.0)
    n = ma.T @ mb
    comoment = a0.T @ b0 - (a0.T @ mb) * (ma.T @ b0) / np.maximum(n, 1.0)
    return np.where(n >= MIN_PAIR_OBSERVATIONS, comoment / np.maximum(n - 1.0, 1.0), 0.0)


def theme_returns(residuals: FloatArray, membership: np.ndarray, min_members: int = 3) -> FloatArray:
    """Daily return of each theme: the mean residual of its members that have one that day.

    Parameters
    ----------
    residuals : ndarray, shape (n_days, n_assets)
        Daily decimal residual returns, NaN where absent.
    membership : ndarray of bool, shape (n_assets, m)
    min_members : int
        Members a day needs (else NaN).

    Returns
    -------
    ndarray, shape (n_days, m)
        Daily decimal theme returns.

    Examples
    --------
    >>> theme_returns(np.array([[0.01, 0.03, np.nan, 0.02]]), np.array([[1], [1], [1], [1]], bool))
    array([[0.02]])
    """
    present = np.isfinite(residuals)
    count = present.astype(float) @ membership
    total = np.where(present, residuals, 0.0) @ membership
    return np.divide(total, count, out=np.full(count.shape, np.nan), where=count >= min_members)


@dataclass(frozen=True)
class ThemeFactors:
    """Accepted themes as extra factors of the model (estimated from the residual window)."""

    names: StrArray  # (m,) theme ids
    returns: FloatArray  # (n_days, m) daily decimal theme returns
    covariance: FloatArray  # (m, m) annualized
    exposures: FloatArray  # (n_assets, m) loadings (0 for non-members)
    idiosyncratic_variance: FloatArray  # (n_assets,) annualized, after the themes


def theme_factors(
    residuals: FloatArray, membership: np.ndarray, idiosyncratic_variance: FloatArray, names: StrArray,
    min_observations: int = MIN_OBSERVATIONS, max_explained: float = 0.95,
) -> ThemeFactors:  # fmt: skip
    r"""Theme returns, member loadings and the idiosyncratic variance left after the themes.

    The return of theme :math:`j` on day :math:`t` is the mean residual of its members;
    a member's loadings are the least-squares fit of its residuals on the returns of its
    themes (pairwise-complete days), and its idiosyncratic variance is scaled by
    :math:`1 - R_i^2` (at most ``max_explained`` removed). Non-members keep theirs.

    Parameters
    ----------
    residuals : ndarray, shape (n_days, n_assets)
    membership : ndarray of bool, shape (n_assets, m)
    idiosyncratic_variance : ndarray, shape (n_assets,)
        The model's annualized idiosyncratic variances.
    names : ndarray of str, shape (m,)
    """
    present = np.isfinite(residuals)
    e0 = np.where(present, residuals, 0.0)
    returns = theme_returns(residuals, membership)
    m = membership.shape[1]
    ok = np.isfinite(returns).all(axis=1)
    covariance = np.cov(returns[ok].T, ddof=1).reshape(m, m) * TRADING_DAYS_PER_YEAR if ok.sum() > 2 else np.zeros((m, m))
    exposures = np.zeros(membership.shape)
    remaining = np.asarray(idiosyncratic_variance, dtype=float).copy()
    f = np.where(ok[:, None], returns, 0.0)  # (n_days, m)
    patterns, inverse = np.unique(membership, axis=0, return_inverse=True)
    for p, pattern in enumerate(patterns):  # distinct membership patterns (one per theme, plus overlaps)
        cols = np.nonzero(pattern)[0]
        names_p = np.nonzero(inverse.ravel() == p)[0]
        if len(cols) == 0:
            continue
        days = (present[:, names_p] & ok[:, None]).astype(float)  # (n_days, n)
        y = e0[:, names_p] * days
        x = f[:, cols]
        gram = np.einsum("tn,tc,td->ncd", days, x, x)  # per-name normal equations, pairwise days
        moment = np.einsum("tn,tc->nc", y, x)
        usable = days.sum(axis=0) >= min_observations
        coef = np.zeros((len(names_p), len(cols)))
        if usable.any():
            coef[usable] = np.linalg.solve(gram[usable], moment[usable][..., None])[..., 0]
        sse = ((y - (x @ coef.T) * days) ** 2).sum(axis=0)
        sst = (y * y).sum(axis=0)
        r2 = np.where(usable & (sst > 0), 1.0 - np.divide(sse, sst, out=np.ones_like(sse), where=sst > 0), 0.0)
        exposures[np.ix_(names_p, cols)] = coef
        remaining[names_p] *= 1.0 - np.clip(r2, 0.0, max_explained)
    return ThemeFactors(np.asarray(names), returns, covariance, exposures, remaining)
