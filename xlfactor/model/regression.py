"""Daily cross-sectional factor regressions: constrained WLS, batched over days.

For each return day ``t`` with exposures ``X`` known at the previous close:

* rows: names with a return, a positive previous-close cap and a sector;
* returns winsorized at ``median +- 5 x 1.4826 x MAD`` for the fit;
* weights ``sqrt(cap)``;
* factors: market (1 for every name; fixed to a benchmark return when one is given),
  sectors, industries (an industry with fewer than ``min_industry_members`` names that
  day, or the only usable one in its sector, is folded into its sector: its members
  carry only the sector and its return is NaN), styles (absent scores neutral);
* constraints: cap-weighted sector returns sum to 0, and cap-weighted industry returns
  sum to 0 within each sector.

``X'WX`` is assembled by blocks (:func:`structured_normal_equations`): the one-hot
sector and industry blocks are sums over each day's (sector, industry) cells, one sparse
product, and only the style block is a matrix product (a syrk), so the cost per name is
O(n_styles^2) rather than O(n_factors^2).
The KKT system ``[[X'WX, C'], [C, 0]]`` is inverted for a whole chunk of days at once;
its top-left block gives the factor-return covariance for t-statistics. Residuals
(idiosyncratic returns) are raw returns minus the fitted common return.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from xlfactor.model.fanout import Mapper, serial_map
from xlfactor.model.standardize import MAD_SCALE, row_median

RETURN_WINSOR_LIMIT = 5.0
CHUNK_DAYS = 42
CHUNK_ELEMENTS = 1_000_000
"""A chunk holds at most CHUNK_DAYS days and about this many style cells (days x names x styles):
small enough that its (8 MB) style block stays in cache through the passes of one solve."""


def chunk_days(n_names: int, n_styles: int) -> int:
    """Days per regression chunk (one task) for this cross-section size: 42 up to ~900 names x 27 styles, fewer beyond.

    >>> chunk_days(1000, 27), chunk_days(3000, 27), chunk_days(10, 0)
    (37, 12, 42)
    """
    return max(1, min(CHUNK_DAYS, CHUNK_ELEMENTS // max(n_names * n_styles, 1)))


@dataclass(frozen=True, eq=False)
class RegressionResult:
    """Daily cross-sectional regressions: factor returns, residuals and fit statistics (daily decimals)."""

    factor_returns: np.ndarray  # (n_days, n_factors) daily; NaN where a factor was not estimable
    residuals: np.ndarray  # (n_days, n_tickers) raw return minus fitted; NaN outside the regression
    t_stats: np.ndarray  # (n_days, n_factors)
    r2_weighted: np.ndarray  # (n_days,) centred weighted R^2 of the winsorized returns
    r2_uncentred: np.ndarray  # (n_days,) 1 - sum w e^2 / sum w r^2 (market included)
    stocks: np.ndarray  # (n_days,) names in each regression
    weights: np.ndarray  # (n_days, n_tickers) regression weights (0 outside)


def winsorize_returns(returns: np.ndarray, usable: np.ndarray) -> np.ndarray:
    """Clip each day's returns at median +- 5 robust standard deviations (usable names only)."""
    x = np.where(usable, returns, np.nan)
    median = row_median(x)
    spread = MAD_SCALE * row_median(np.abs(x - median))
    spread = np.where(np.isfinite(spread) & (spread > 0), spread, np.inf)
    return np.clip(x, median - RETURN_WINSOR_LIMIT * spread, median + RETURN_WINSOR_LIMIT * spread)


def live_industries(
    usable: np.ndarray, industry: np.ndarray, industry_sector: np.ndarray, n_sectors: int, min_members: int
) -> np.ndarray:
    """(n_days, n_industries): industries with enough usable members and a usable sibling in their sector."""
    n_days = usable.shape[0]
    n_ind = len(industry_sector)
    rows = np.broadcast_to(np.arange(n_days)[:, None], industry.shape)
    members = np.zeros((n_days, n_ind + 1))
    np.add.at(members, (rows, np.where(usable & (industry >= 0), industry, n_ind)), 1.0)
    enough = members[:, :n_ind] >= min_members
    parent = np.where(industry_sector >= 0, industry_sector, n_sectors)
    siblings = np.zeros((n_days, n_sectors + 1))
    np.add.at(siblings, (np.broadcast_to(np.arange(n_days)[:, None], enough.shape), np.broadcast_to(parent, enough.shape)), enough)
    return enough & (siblings[:, parent] >= 2) & (industry_sector >= 0)


def industry_members(live: np.ndarray, industry: np.ndarray) -> np.ndarray:
    """(n_days, n_tickers): the name's industry is live that day (it carries the industry)."""
    if live.shape[1] == 0:
        return np.zeros(industry.shape, dtype=bool)
    rows = np.broadcast_to(np.arange(industry.shape[0])[:, None], industry.shape)
    return (industry >= 0) & live[rows, np.clip(industry, 0, live.shape[1] - 1)]


def group_sums(codes: np.ndarray, values: np.ndarray, n_groups: int) -> np.ndarray:
    """Per-day sums of ``values`` by group code (a one-hot product without the one-hot matrix).

    ``codes`` and ``values`` (n_days, n_names), codes -1 for none. Returns
    (n_days, n_groups), one ``bincount``.

    >>> group_sums(np.array([[0, 1, 0, -1]]), np.array([[1.0, 2.0, 3.0, 4.0]]), 2)
    array([[4., 2.]])
    """
    days = codes.shape[0]
    valid = codes >= 0
    base = (np.arange(days)[:, None] * n_groups + codes)[valid]
    return np.bincount(base, weights=values[valid], minlength=days * n_groups).reshape(days, n_groups)


def cell_sums(sector, industry, w, values, n_sectors, n_industries):
    """Per-day ``w``-weighted sums of ``values`` in each (sector, industry-or-none) cell, one sparse product.

    Each name adds ``w x values`` of its row to its cell: the one-hot blocks of ``X'WX``
    are sums over this small grid (sectors over its industry axis, industries over its
    sector axis, sector x industry counts the grid itself). The product is a sparse
    matrix with one weight per name (column) times the (n_days n_names, q) values, so the
    cost is O(n_names q), where a product with the one-hot membership is
    O(n_names n_groups q).

    Parameters
    ----------
    sector, industry : (n_days, n_names) codes, -1 for none.
    w : (n_days, n_names) weights.
    values : (n_days, n_names, q) C-contiguous.

    Returns
    -------
    (n_days, n_sectors, n_industries + 1, q) sums; the last industry slot holds names
    without an industry. Names without a sector are left out.
    """
    import scipy.sparse

    days, names, q = values.shape
    cells = n_sectors * (n_industries + 1)
    cell = np.where(sector >= 0, sector * (n_industries + 1) + np.where(industry >= 0, industry, n_industries), cells)
    rows = (np.arange(days)[:, None] * (cells + 1) + cell).ravel()
    weighted = scipy.sparse.csc_matrix(
        (np.ravel(w), rows, np.arange(days * names + 1)), shape=(days * (cells + 1), days * names)
    )
    sums = weighted @ values.reshape(days * names, q)
    return sums.reshape(days, cells + 1, q)[:, :cells].reshape(days, n_sectors, n_industries + 1, q)


def structured_normal_equations(w, y, market, sector, industry, styles, n_sectors, n_industries):
    """``X'WX`` and ``X'Wy`` of the design (market, sector and industry one-hots, styles) by blocks.

    The one-hot blocks are sums over the (sector, industry) cells of each day
    (:func:`cell_sums`: diagonal sector and industry blocks, sector x industry counts,
    sector and industry sums of the styles and returns); the style block ``S'WS`` is
    one symmetric product ``V'V`` with ``V = sqrt(w) S`` (BLAS syrk). The cost per
    name is O(n_styles^2) for that product plus O(n_styles), instead of
    O(n_factors^2) for the dense design or O(n_groups n_styles) for one-hot products.

    Parameters
    ----------
    w, y : (n_days, n_names) regression weights (0 outside the regression) and returns.
    market : (n_days, n_names) the market column (1, or 0 when the market is pinned).
    sector, industry : (n_days, n_names) codes, -1 for none (industry: -1 when folded).
    styles : (n_days, n_names, n_styles) C-contiguous exposures, absent = 0.

    Returns
    -------
    normal : (n_days, k, k) and rhs : (n_days, k), k = 1 + n_sectors + n_industries + n_styles.
    """
    days = w.shape[0]
    n_sty = styles.shape[2]
    n_ind = n_industries
    k = 1 + n_sectors + n_ind + n_sty
    sec = slice(1, 1 + n_sectors)
    ind = slice(1 + n_sectors, 1 + n_sectors + n_ind)
    sty = slice(1 + n_sectors + n_ind, k)
    normal = np.zeros((days, k, k))
    rhs = np.zeros((days, k))
    root = np.sqrt(w)
    v = styles * root[:, :, None]
    v_t = np.transpose(v, (0, 2, 1))  # v_t @ v is a syrk: numpy sees one operand and its transpose
    style_cells = cell_sums(sector, industry, w, styles, n_sectors, n_ind)
    scalar_cells = cell_sums(sector, industry, w, np.stack([np.ones_like(w), market, y], axis=2), n_sectors, n_ind)
    counts, market_cells, return_cells = (scalar_cells[..., j] for j in range(3))
    style_market, style_return = np.moveaxis(v_t @ np.stack([root * market, root * y], axis=2), 2, 0)  # one pass over V
    blocks = [
        (0, slice(0, 1), (w * market * market).sum(axis=1)[:, None, None]),
        (0, sec, market_cells.sum(axis=2)[:, None, :]),
        (0, ind, market_cells[:, :, :n_ind].sum(axis=1)[:, None, :]),
        (0, sty, style_market[:, None, :]),
        (sec, ind, counts[:, :, :n_ind]),
        (sec, sty, style_cells.sum(axis=2)),
        (ind, sty, style_cells[:, :, :n_ind].sum(axis=1)),
        (sty, sty, v_t @ v),
    ]
    for rows, cols, block in blocks:
        rows = slice(rows, rows + 1) if isinstance(rows, int) else rows
        normal[:, rows, cols] = block
        normal[:, cols, rows] = np.transpose(block, (0, 2, 1))
    diag = np.arange(n_sectors)
    normal[:, 1 + diag, 1 + diag] = counts.sum(axis=2)
    diag = np.arange(n_ind)
    normal[:, 1 + n_sectors + diag, 1 + n_sectors + diag] = counts[:, :, :n_ind].sum(axis=1)
    rhs[:, 0] = (w * market * y).sum(axis=1)
    rhs[:, sec] = return_cells.sum(axis=2)
    rhs[:, ind] = return_cells[:, :, :n_ind].sum(axis=1)
    rhs[:, sty] = style_return
    return normal, rhs


def regress(
    returns: np.ndarray,
    caps: np.ndarray,
    styles: np.ndarray,
    sector: np.ndarray,
    industry: np.ndarray,
    industry_sector: np.ndarray,
    n_sectors: int,
    market: np.ndarray | None = None,
    min_industry_members: int = 3,
    mapper: Mapper | None = None,
) -> RegressionResult:
    """Estimate factor returns for each row of ``returns`` from the previous row's exposures.

    Parameters
    ----------
    returns : (n_days, n_tickers) daily returns of the regression days.
    caps, styles, sector, industry : exposures known at the previous close of each day:
        caps (n_days, n_tickers), styles (n_days, n_tickers, n_styles) standardized,
        sector/industry codes (n_days, n_tickers), -1 for none.
    industry_sector : (n_industries,) sector code of each industry.
    market : (n_days,) optional benchmark returns; the market factor is then fixed to them.
    mapper : how the chunks of days are solved (default in order, in-process; see
        :mod:`xlfactor.model.fanout`). Every mapper gives the same numbers.
    """
    n_days, n_names = returns.shape
    n_ind = len(industry_sector)
    n_sty = styles.shape[2]
    k = 1 + n_sectors + n_ind + n_sty
    usable = np.isfinite(returns) & (caps > 0) & (sector >= 0)
    fit_returns = winsorize_returns(returns, usable)
    live_industry = live_industries(usable, industry, industry_sector, n_sectors, min_industry_members)
    usable_member = industry_members(live_industry, industry)

    factor_returns = np.full((n_days, k), np.nan)
    t_stats = np.full((n_days, k), np.nan)
    residuals = np.full((n_days, n_names), np.nan)
    r2_w, r2_u, stocks = np.full(n_days, np.nan), np.full(n_days, np.nan), usable.sum(axis=1)
    weights = np.where(usable, np.sqrt(np.where(usable, caps, 0.0)), 0.0)
    tasks = []
    step = chunk_days(n_names, n_sty)  # the same for every mapper, so serial and fanned-out runs chunk alike
    for start in range(0, n_days, step):  # chunks bound memory; each chunk is one batched solve (one task)
        block = slice(start, min(start + step, n_days))
        tasks.append((
            fit_returns[block], returns[block], usable[block], weights[block], caps[block], styles[block],
            sector[block], industry[block], usable_member[block], live_industry[block],
            None if market is None else market[block],
        ))  # fmt: skip
    solved = (mapper or serial_map)(_solve_chunk_task, (industry_sector, n_sectors), tasks, None)
    for start, fitted in zip(range(0, n_days, step), solved):
        block = slice(start, min(start + step, n_days))
        factor_returns[block], t_stats[block], residuals[block], r2_w[block], r2_u[block] = fitted
    return RegressionResult(factor_returns, residuals, t_stats, r2_w, r2_u, stocks, weights)


def _solve_chunk_task(industry_sector, n_sectors, y_fit, y_raw, usable, weights, caps, styles, sector, industry,
                      usable_member, live_industry, market):  # fmt: skip
    """One chunk of days (a fan-out task): the shared arguments first."""
    return _solve_chunk(y_fit, y_raw, usable, weights, caps, styles, sector, industry, usable_member, live_industry,
                        industry_sector, n_sectors, market)  # fmt: skip


def _solve_chunk(y_fit, y_raw, usable, weights, caps, styles, sector, industry, usable_member, live_industry,
                 industry_sector, n_sectors, market):  # fmt: skip
    days, names = y_fit.shape
    n_ind = len(industry_sector)
    n_sty = styles.shape[2]
    k = 1 + n_sectors + n_ind + n_sty
    w = weights
    y = np.where(usable, y_fit, 0.0)
    fixed_market = market is not None
    if fixed_market:
        y = np.where(usable, y - market[:, None], 0.0)
    market_column = np.full((days, names), 0.0 if fixed_market else 1.0)
    member_industry = np.where((industry >= 0) & usable_member, industry, -1)
    # absent scores are neutral; C order whatever layout the chunk arrived in (a pickled copy's may differ)
    style_block = np.ascontiguousarray(np.where(np.isnan(styles), 0.0, styles))
    normal, rhs = structured_normal_equations(w, y, market_column, sector, member_industry, style_block, n_sectors, n_ind)
    # Constraints with raw cap weights: sectors, then industries within each sector.
    cap_used = np.where(usable, caps, 0.0)
    sector_caps = group_sums(sector, cap_used, n_sectors)
    industry_caps = group_sums(member_industry, cap_used, n_ind)
    n_con = 1 + n_sectors
    constraints = np.zeros((days, n_con, k))
    constraints[:, 0, 1 : 1 + n_sectors] = sector_caps
    for s in range(n_sectors):  # one constraint row per sector (a handful), all days at once
        in_sector = industry_sector == s
        constraints[:, 1 + s, 1 + n_sectors : 1 + n_sectors + n_ind] = np.where(in_sector, industry_caps, 0.0)
    norms = np.abs(constraints).sum(axis=2, keepdims=True)
    empty_rows = norms[:, :, 0] == 0
    constraints = np.where(norms > 0, constraints / np.where(norms > 0, norms, 1.0), 0.0)
    # Factors with no usable member that day (or a fixed market) are pinned to 0.
    diagonal = np.einsum("dkk->dk", normal)
    absent = diagonal <= 1e-14
    idx = np.nonzero(absent)
    normal[idx[0], idx[1], :] = 0.0
    normal[idx[0], :, idx[1]] = 0.0
    normal[idx[0], idx[1], idx[1]] = 1.0
    rhs[absent] = 0.0
    constraints = np.where(absent[:, None, :], 0.0, constraints)
    size = k + n_con
    kkt = np.zeros((days, size, size))
    kkt[:, :k, :k] = normal
    kkt[:, :k, k:] = np.transpose(constraints, (0, 2, 1))
    kkt[:, k:, :k] = constraints
    di, ci = np.nonzero(empty_rows)
    kkt[di, k + ci, k + ci] = 1.0  # an unused constraint row pins its multiplier instead
    vector = np.concatenate([rhs, np.zeros((days, n_con))], axis=1)
    try:
        inverse = np.linalg.inv(kkt)
    except np.linalg.LinAlgError:
        inverse = np.linalg.pinv(kkt)
    solution = np.einsum("dij,dj->di", inverse, vector)
    f = solution[:, :k]
    explained = _common(f, sector, member_industry, style_block, n_sectors)  # sectors, industries, styles
    fitted = market_column * f[:, :1] + explained
    residual_fit = np.where(usable, y - fitted, 0.0)
    n = usable.sum(axis=1)
    dof = np.maximum(n - (k - absent.sum(axis=1) - (~empty_rows).sum(axis=1)), 1)
    sigma2 = (w * residual_fit**2).sum(axis=1) / dof
    variance = np.einsum("dkk->dk", inverse[:, :k, :k]) * sigma2[:, None]
    with np.errstate(invalid="ignore", divide="ignore"):
        t = f / np.sqrt(np.where(variance > 0, variance, np.nan))
    base = y + (market[:, None] if fixed_market else 0.0)
    base = np.where(usable, base, 0.0)
    total_w = w.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_w = (w * base).sum(axis=1) / total_w
        sse = (w * residual_fit**2).sum(axis=1)
        r2_w = 1 - sse / (w * (base - mean_w[:, None]) ** 2).sum(axis=1)
        r2_u = 1 - sse / (w * base**2).sum(axis=1)
    if fixed_market:
        f[:, 0] = market
        t[:, 0] = np.nan  # pinned, not estimated
    common = explained + f[:, :1]  # the pinned market, or the estimated one
    residuals = np.where(usable, y_raw - common, np.nan)
    f = np.where(absent & (np.arange(k) > 0), np.nan, f)
    ind_slice = slice(1 + n_sectors, 1 + n_sectors + n_ind)
    f[:, ind_slice] = np.where(live_industry, f[:, ind_slice], np.nan)
    t = np.where(np.isfinite(f), t, np.nan)
    none = n == 0
    f[none], t[none], r2_w[none], r2_u[none] = np.nan, np.nan, np.nan, np.nan
    return f, t, residuals, r2_w, r2_u


def _common(f, sector, member_industry, style_block, n_sectors):
    """(n_days, n_names) ``X f`` of the structured design without the market: sector + industry + styles."""
    days = f.shape[0]
    rows = np.arange(days)[:, None]
    n_ind = f.shape[1] - 1 - n_sectors - style_block.shape[2]
    sector_part = np.where(sector >= 0, f[rows, 1 + np.clip(sector, 0, None)], 0.0) if n_sectors else 0.0
    industry_part = np.where(member_industry >= 0, f[rows, 1 + n_sectors + np.clip(member_industry, 0, None)], 0.0) if n_ind else 0.0
    styles_part = (style_block @ f[:, 1 + n_sectors + n_ind :, None])[:, :, 0]
    return sector_part + industry_part + styles_part
