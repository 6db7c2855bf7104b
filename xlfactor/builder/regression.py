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

Per name, the work is a few passes over one array, ``V = sqrt(w) [S | y]``
(:func:`augmented_design`): its Gram matrix ``V'V`` (one syrk per day) holds the style
block ``S'WS`` with the right-hand side ``S'Wy`` and ``y'Wy``, and one sparse product gives
the w-weighted sector and industry sums (:func:`group_totals`) that fill the one-hot
blocks; the cost per name is O(n_styles^2), not O(n_factors^2).
Per day, the KKT system ``[[X'WX, C'], [C, 0]]`` is not inverted whole: its industry x
industry block is diagonal (a name is in at most one industry), so the industries are
eliminated exactly by a Schur complement (:func:`solve_reduced`) and only a system of
market, sectors, styles and multipliers (about 40 + 12 unknowns) is inverted, for a whole
chunk of days at once; the diagonal of the full inverse's factor block (the factor-return
variances for t-statistics) follows from it. Residuals (idiosyncratic returns) are raw
returns minus the fitted common return.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from xlfactor.builder.fanout import Mapper, serial_map
from xlfactor.builder.standardize import MAD_SCALE, row_median

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
    n_ind = len(industry_sector)
    # member and sibling counts: per-day group sums of ones (exact small integers), one bincount each
    members = group_sums(np.where(usable & (industry >= 0), industry, -1), np.ones(usable.shape), n_ind)
    enough = members >= min_members
    parent = np.where(industry_sector >= 0, industry_sector, n_sectors)
    siblings = group_sums(np.broadcast_to(parent, enough.shape), enough.astype(float), n_sectors + 1)
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


def augmented_design(styles: np.ndarray, root: np.ndarray, y: np.ndarray) -> np.ndarray:
    """``V = sqrt(w) [S | y]``: the one (days, names, q) array that every per-name product reads.

    Its Gram matrix ``V'V`` (one syrk per day) holds ``S'WS``, the right-hand side ``S'Wy``
    and ``y'Wy`` at once, and its weighted group sums (:func:`group_totals`) give the
    one-hot blocks and, summed over sectors, the market terms ``S'W1`` and ``1'Wy`` (every
    name in the regression has a sector); building it is the only pass over the input styles.

    Parameters
    ----------
    styles : (n_days, n_names, n_styles) exposures in any memory layout; NaN = absent,
        counted as 0 (neutral).
    root : (n_days, n_names) square roots of the regression weights, 0 outside the regression.
    y : (n_days, n_names) returns fitted (daily decimals), 0 outside the regression.

    Returns
    -------
    (n_days, n_names, n_styles + 1) C-contiguous: ``root * styles`` (absent 0), ``root * y``.

    >>> augmented_design(np.array([[[2.0, np.nan]]]), np.array([[3.0]]), np.array([[0.5]])).tolist()
    [[[6.0, 0.0, 1.5]]]
    """
    days, names, n_sty = styles.shape
    v = np.empty((days, names, n_sty + 1))
    scaled = v[:, :, :n_sty]
    np.multiply(styles, root[:, :, None], out=scaled)
    absent = np.isnan(scaled)
    if absent.any():  # absent scores are neutral; the masked write is skipped on complete chunks
        np.copyto(scaled, 0.0, where=absent)
    np.multiply(root, y, out=v[:, :, n_sty])
    return v


def group_totals(sector, industry, root, v, n_sectors, n_industries):
    """Per-day sums of ``root * v`` by sector and by industry: one sparse product, one pass over ``v``.

    Each name adds its row of ``v`` (scaled once more by ``root``, so the sums are
    ``w``-weighted) to two rows of the result, its sector's and its industry's: a sparse
    matrix with two entries per name times the (n_days n_names, q) ``v``, O(n_names q)
    where a product with the one-hot membership is O(n_names n_groups q). The sums of
    each output row run over the names in order, so a day's sums do not depend on the
    other days of the chunk.

    Parameters
    ----------
    sector, industry : (n_days, n_names) codes, -1 for none.
    root : (n_days, n_names) square roots of the weights.
    v : (n_days, n_names, q) C-contiguous.

    Returns
    -------
    by_sector : (n_days, n_sectors, q) and by_industry : (n_days, n_industries, q);
    names without a sector (industry) are left out of the sector (industry) sums.
    """
    import scipy.sparse

    days, names, q = v.shape
    groups = n_sectors + n_industries + 2  # a slot for "no sector" and one for "no industry"
    offset = np.arange(days)[:, None] * groups
    rows = np.empty((days, names, 2), dtype=np.int64)
    rows[:, :, 0] = offset + np.where(sector >= 0, sector, n_sectors)
    rows[:, :, 1] = offset + (n_sectors + 1) + np.where(industry >= 0, industry, n_industries)
    data = np.repeat(root.reshape(-1), 2)
    weighted = scipy.sparse.csc_matrix(
        (data, rows.reshape(-1), np.arange(0, 2 * days * names + 1, 2)), shape=(days * groups, days * names)
    )
    sums = (weighted @ v.reshape(days * names, q)).reshape(days, groups, q)
    return sums[:, :n_sectors], sums[:, n_sectors + 1 : n_sectors + 1 + n_industries]


def cell_index(sector, industry, n_sectors, n_industries):
    """Flat index of each name's (day, sector, industry-or-none) cell in per-day grids of ``cells + 1`` slots.

    ``cells = n_sectors (n_industries + 1)``; the last industry slot of a sector holds its
    names without an industry, and the grid's last slot (``cells``) names without a sector.

    Parameters
    ----------
    sector, industry : (n_days, n_names) codes, -1 for none.

    Returns
    -------
    (n_days, n_names) int: ``day (cells + 1) + cell``.

    >>> cell_index(np.array([[0, 0, 1, -1]]), np.array([[1, -1, 0, 0]]), 2, 2).tolist()
    [[1, 2, 3, 6]]
    """
    cells = n_sectors * (n_industries + 1)
    cell = np.where(sector >= 0, sector * (n_industries + 1) + np.where(industry >= 0, industry, n_industries), cells)
    return np.arange(sector.shape[0])[:, None] * (cells + 1) + cell


def cell_totals(index, values, n_sectors, n_industries):
    """Per-day sums of ``values`` in each (sector, industry-or-none) cell: one ``bincount``.

    The sector x industry block of ``X'WX`` is this grid for the weights; the sector and
    industry constraint coefficients are its row and column sums for the caps.

    Parameters
    ----------
    index : (n_days, n_names) from :func:`cell_index`.
    values : (n_days, n_names) weights (or caps); names without a sector are left out
        (their slot is dropped, so a NaN there is never added in).

    Returns
    -------
    (n_days, n_sectors, n_industries + 1).

    >>> index = cell_index(np.array([[0, 0, 1, -1]]), np.array([[1, -1, 0, 0]]), 2, 2)
    >>> cell_totals(index, np.array([[1.0, 2.0, 3.0, np.nan]]), 2, 2).tolist()
    [[[0.0, 1.0, 2.0], [3.0, 0.0, 0.0]]]
    """
    days = index.shape[0]
    cells = n_sectors * (n_industries + 1)
    sums = np.bincount(index.reshape(-1), weights=values.reshape(-1), minlength=days * (cells + 1))
    return sums.reshape(days, cells + 1)[:, :cells].reshape(days, n_sectors, n_industries + 1)


def constraint_rows(cap_cells, industry_sector):
    """Coefficients of the constraints on (sectors, industries), each row scaled to unit L1 norm.

    Row 0: cap-weighted sector returns sum to 0; row ``1 + s``: cap-weighted returns of the
    industries of sector ``s`` sum to 0. Caps are those of the names in the regression
    (industry caps: members of a live industry only).

    Parameters
    ----------
    cap_cells : (n_days, n_sectors, n_industries + 1) caps by cell (:func:`cell_totals`).
    industry_sector : (n_industries,) sector code of each industry.

    Returns
    -------
    constraints : (n_days, 1 + n_sectors, n_sectors + n_industries); empty : (n_days, 1 + n_sectors)
    rows with no coefficient (their multiplier is pinned).

    >>> c, empty = constraint_rows(np.array([[[1.0, 3.0, 0.0], [0.0, 0.0, 4.0]]]), np.array([0, 0]))
    >>> c[0].tolist(), empty[0].tolist()
    ([[0.5, 0.5, 0.0, 0.0], [0.0, 0.0, 0.25, 0.75], [0.0, 0.0, 0.0, 0.0]], [False, False, True])
    """
    days, n_sectors, slots = cap_cells.shape
    n_ind = slots - 1
    constraints = np.zeros((days, 1 + n_sectors, n_sectors + n_ind))
    constraints[:, 0, :n_sectors] = cap_cells.sum(axis=2)
    own = industry_sector[None, :] == np.arange(n_sectors)[:, None]  # (sectors, industries)
    constraints[:, 1:, n_sectors:] = np.where(own, cap_cells[:, :, :n_ind].sum(axis=1)[:, None, :], 0.0)
    norms = np.abs(constraints).sum(axis=2, keepdims=True)
    constraints = np.where(norms > 0, constraints / np.where(norms > 0, norms, 1.0), 0.0)
    return constraints, norms[:, :, 0] == 0


def reduced_system(gram, by_sector, by_industry, counts, constraints_sector, constraints_industry, market_on):
    """The KKT system with the industries eliminated: ``[D, B; B', G]`` as its pieces.

    Unknowns are ordered ``rest = (market, sectors, styles, multipliers)`` and
    ``industries``. The industry x industry block of ``X'WX`` is diagonal (a name is in
    at most one industry), so the industries are eliminated exactly by a Schur
    complement (:func:`solve_reduced`), leaving a system of
    ``1 + n_sectors + n_styles + n_constraints`` unknowns instead of adding ``n_industries``.

    Parameters
    ----------
    gram : (n_days, q, q) ``V'V`` of :func:`augmented_design` (the styles, then y).
    by_sector, by_industry : (n_days, n_sectors, q), (n_days, n_industries, q) ``w``-weighted sums of ``[S | y]``.
    counts : (n_days, n_sectors, n_industries + 1) weights by cell (:func:`cell_totals`).
    constraints_sector : (n_days, n_sectors) coefficients of the sector constraint (row 0).
    constraints_industry : (n_days, n_sectors, n_industries) coefficients of the industry
        constraints (rows 1..n_sectors).
    market_on : bool, the market is estimated (False: its column is empty, it is pinned).

    Returns
    -------
    rest : (n_days, r, r) the rest x rest block ``G``; coupling : (n_days, r, n_industries)
    ``B'``; industry : (n_days, n_industries) the diagonal ``D``; rhs_rest : (n_days, r);
    rhs_industry : (n_days, n_industries). ``r = 1 + n_sectors + n_styles + 1 + n_sectors``.
    """
    days, n_sec, q = by_sector.shape
    n_ind, n_sty = by_industry.shape[1], q - 1
    ret = n_sty
    sec, sty = slice(1, 1 + n_sec), slice(1 + n_sec, 1 + n_sec + n_sty)
    con = 1 + n_sec + n_sty  # first multiplier
    r = con + 1 + n_sec
    flag = 1.0 if market_on else 0.0
    sector_w = counts.sum(axis=2)
    industry_w = counts[:, :, :n_ind].sum(axis=1)
    rest = np.zeros((days, r, r))
    rest[:, 0, 0] = flag * sector_w.sum(axis=1)  # sum w m m: the market column is 1 (or 0) on every name with a sector
    rest[:, 0, sec] = rest[:, sec, 0] = flag * sector_w
    rest[:, 0, sty] = rest[:, sty, 0] = flag * by_sector[:, :, :n_sty].sum(axis=1)  # S'W1: every name has a sector
    rest[:, sec, sty] = by_sector[:, :, :n_sty]
    rest[:, sty, sec] = np.transpose(by_sector[:, :, :n_sty], (0, 2, 1))
    rest[:, sty, sty] = gram[:, :n_sty, :n_sty]
    diag = np.arange(1, 1 + n_sec)
    rest[:, diag, diag] = sector_w
    rest[:, con, sec] = rest[:, sec, con] = constraints_sector
    coupling = np.zeros((days, r, n_ind))
    coupling[:, 0] = flag * industry_w
    coupling[:, sec] = counts[:, :, :n_ind]
    coupling[:, sty] = np.transpose(by_industry[:, :, :n_sty], (0, 2, 1))
    coupling[:, con + 1 :] = constraints_industry
    rhs_rest = np.zeros((days, r))
    rhs_rest[:, 0] = flag * by_sector[:, :, ret].sum(axis=1)
    rhs_rest[:, sec] = by_sector[:, :, ret]
    rhs_rest[:, sty] = gram[:, :n_sty, ret]
    return rest, coupling, industry_w, rhs_rest, by_industry[:, :, ret].copy()


def solve_reduced(rest, coupling, industry, rhs_rest, rhs_industry):
    """Solve ``[D, B; B', G] [x_i; x_r] = [b_i; b_r]`` with ``D`` diagonal, and the diagonal of its inverse.

    Schur complement: ``M = G - B' D^-1 B``, ``x_r = M^-1 (b_r - B' D^-1 b_i)``,
    ``x_i = D^-1 (b_i - B x_r)``; the inverse's diagonal is ``diag(M^-1)`` for the rest
    and ``1/d + diag(U' M^-1 U)``, ``U = B' D^-1``, for the eliminated unknowns. Only
    ``M`` (small) is inverted, so the cost does not grow with the number of industries
    cubed. ``D`` must be positive (pinned unknowns carry 1).

    Parameters
    ----------
    rest : (n_days, r, r); coupling : (n_days, r, n) the block ``B'``; industry : (n_days, n) ``D``.
    rhs_rest : (n_days, r); rhs_industry : (n_days, n).

    Returns
    -------
    x_rest (n_days, r), x_industry (n_days, n), diag_rest (n_days, r), diag_industry (n_days, n).

    >>> k = np.array([[2.0, 0.0, 1.0], [0.0, 4.0, 1.0], [1.0, 1.0, 0.0]])  # D = diag(2, 4), rest = the last
    >>> x_r, x_i, d_r, d_i = solve_reduced(k[None, 2:, 2:], k[None, 2:, :2], np.array([[2.0, 4.0]]),
    ...                                    np.array([[1.0]]), np.array([[1.0, 2.0]]))
    >>> bool(np.allclose(np.r_[x_i[0], x_r[0]], np.linalg.solve(k, [1.0, 2.0, 1.0])))
    True
    >>> bool(np.allclose(np.r_[d_i[0], d_r[0]], np.diag(np.linalg.inv(k))))
    True
    """
    u = coupling / industry[:, None, :]
    coupling_t = np.transpose(coupling, (0, 2, 1))
    schur = rest - u @ coupling_t
    inverse = _inverse(schur)
    # An exactly singular day (a style collinear with the others: constant, or a copy of another)
    # is only nearly singular once eliminated (rounding), so inv succeeds with absurd entries;
    # M M^-1 then is far from I (about 1e-8 on ordinary days, O(1) or worse on singular ones).
    error = np.abs(schur @ inverse - np.eye(schur.shape[1])).max(axis=(1, 2))
    singular = ~(error <= SINGULAR_RESIDUAL)
    if singular.any():
        inverse[singular] = _scaled_pinv(schur[singular])
    x_rest = (inverse @ (rhs_rest - (u @ rhs_industry[:, :, None])[:, :, 0])[:, :, None])[:, :, 0]
    x_industry = (rhs_industry - (coupling_t @ x_rest[:, :, None])[:, :, 0]) / industry
    diag_industry = 1.0 / industry + np.einsum("dai,dai->di", u, inverse @ u)
    return x_rest, x_industry, np.einsum("daa->da", inverse).copy(), diag_industry


SINGULAR_RESIDUAL = 1e-4
"""Largest ``|M M^-1 - I|`` entry of a day solved by the inverse; beyond it the day is singular
and solved by :func:`_scaled_pinv` (a minimum-norm solution of the equilibrated system)."""


def _scaled_pinv(matrices):
    """Pseudo-inverses of symmetric systems after symmetric equilibration, ``S (S M S)^+ S``.

    The reduced KKT mixes weight sums (~1e5) with unit constraint rows, so its raw condition
    number is ~1e16 on ordinary days; scaling each row and column by ``1/sqrt(max |M_ij|)``
    leaves only the true rank deficiency below the cut-off (1e-10 of the largest singular
    value), so the dependent direction is dropped and the rest is solved exactly.

    >>> m = np.array([[[4.0, 2.0], [2.0, 1.0]]])  # rank 1
    >>> bool(np.allclose(m[0] @ _scaled_pinv(m)[0] @ m[0], m[0]))
    True
    """
    scale = 1.0 / np.sqrt(np.maximum(np.abs(matrices).max(axis=2), np.finfo(float).tiny))
    scaled = matrices * scale[:, :, None] * scale[:, None, :]
    return np.linalg.pinv(scaled, rtol=1e-10) * scale[:, :, None] * scale[:, None, :]


def _inverse(matrices):
    """Batched inverse; a day that is exactly singular comes back NaN (the others keep theirs, bit for bit)."""
    try:
        return np.linalg.inv(matrices)
    except np.linalg.LinAlgError:
        # rare: an exactly singular day. Day by day, so no day's result depends on its chunk's neighbours;
        # a day inv refuses is left NaN, and solve_reduced's singularity check sends it to _scaled_pinv
        out = np.full_like(matrices, np.nan)
        for d, matrix in enumerate(matrices):
            try:
                out[d] = np.linalg.inv(matrix)
            except np.linalg.LinAlgError:
                pass
        return out


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
        :mod:`xlfactor.builder.fanout`). Every mapper gives the same numbers.
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
        tasks.append((DayChunk(
            fit_returns=fit_returns[block], raw_returns=returns[block], usable=usable[block], weights=weights[block],
            caps=caps[block], styles=styles[block], sector=sector[block], industry=industry[block],
            usable_member=usable_member[block], live_industry=live_industry[block],
            market=None if market is None else market[block],
        ),))  # fmt: skip
    solved = (mapper or serial_map)(solve_chunk, (ChunkStructure(industry_sector, n_sectors),), tasks, None)
    for start, fitted in zip(range(0, n_days, step), solved):
        block = slice(start, min(start + step, n_days))
        factor_returns[block], t_stats[block], residuals[block], r2_w[block], r2_u[block] = fitted
    return RegressionResult(factor_returns, residuals, t_stats, r2_w, r2_u, stocks, weights)


@dataclass(frozen=True, eq=False)
class ChunkStructure:
    """What every chunk of days shares: the industry -> sector map and the number of sectors."""

    industry_sector: np.ndarray  # (n_industries,) sector code of each industry
    n_sectors: int


@dataclass(frozen=True, eq=False)
class DayChunk:
    """One chunk of regression days (a fan-out task): arrays of shape (n_days, n_names) unless noted."""

    fit_returns: np.ndarray  # winsorized daily returns, the regression's left-hand side
    raw_returns: np.ndarray  # the returns as given, for the residuals
    usable: np.ndarray  # bool: in the regression that day (finite return, positive cap, a sector)
    weights: np.ndarray  # regression weights sqrt(cap), 0 outside
    caps: np.ndarray  # market caps known at the previous close (the constraint weights)
    styles: np.ndarray  # (n_days, n_names, n_styles) standardized style exposures
    sector: np.ndarray  # sector code, -1 for none
    industry: np.ndarray  # industry code, -1 for none
    usable_member: np.ndarray  # bool: counts as a member of its (live) industry
    live_industry: np.ndarray  # (n_days, n_industries) bool: the industry is estimated that day
    market: np.ndarray | None  # (n_days,) fixed market returns, or None to estimate the market


def solve_chunk(structure: ChunkStructure, chunk: DayChunk):
    """Factor returns, t statistics, residuals and both R² of one chunk of days (one batched solve).

    Returns ``(factor_returns (n_days, k), t_stats (n_days, k), residuals (n_days, n_names),
    r2_weighted (n_days,), r2_uncentred (n_days,))``, factors in the order market, sectors,
    industries, styles.
    """
    industry_sector, n_sectors = structure.industry_sector, structure.n_sectors
    y_fit, y_raw, usable, weights, caps, styles = (
        chunk.fit_returns, chunk.raw_returns, chunk.usable, chunk.weights, chunk.caps, chunk.styles
    )
    sector, industry, usable_member, live_industry, market = (
        chunk.sector, chunk.industry, chunk.usable_member, chunk.live_industry, chunk.market
    )
    days, names = y_fit.shape
    n_ind = len(industry_sector)
    n_sty = styles.shape[2]
    k = 1 + n_sectors + n_ind + n_sty
    ind = slice(1 + n_sectors, 1 + n_sectors + n_ind)
    fixed_market = market is not None
    w = weights
    root = np.sqrt(w)
    y = np.where(usable, y_fit if market is None else y_fit - market[:, None], 0.0)
    member_industry = np.where(usable_member, industry, -1)
    # The per-name work: one pass builds V, one syrk, one sparse product, two bincounts.
    v = augmented_design(styles, root, y)
    gram = np.matmul(np.transpose(v, (0, 2, 1)), v)  # numpy sees one operand and its transpose: a syrk per day
    by_sector, by_industry = group_totals(sector, member_industry, root, v, n_sectors, n_ind)
    # names outside the regression get no cell: w is 0 there, but caps may not be
    cells = cell_index(np.where(usable, sector, -1), member_industry, n_sectors, n_ind)
    counts = cell_totals(cells, w, n_sectors, n_ind)
    cap_cells = cell_totals(cells, caps, n_sectors, n_ind)
    constraints, empty_rows = constraint_rows(cap_cells, industry_sector)
    n_con = 1 + n_sectors
    rest, coupling, industry_w, rhs_rest, rhs_industry = reduced_system(
        gram, by_sector, by_industry, counts, constraints[:, 0, :n_sectors], constraints[:, 1:, n_sectors:], not fixed_market
    )
    # Factors with no usable member that day (or a fixed market) are pinned to 0: row and column
    # (constraint coefficients included) zeroed, 1 on the diagonal, 0 on the right.
    n_rest_factors = 1 + n_sectors + n_sty
    absent_rest = np.einsum("dkk->dk", rest[:, :n_rest_factors, :n_rest_factors]) <= 1e-14
    absent_industry = industry_w <= 1e-14
    keep_rest = np.concatenate([~absent_rest, np.ones((days, n_con), dtype=bool)], axis=1)
    rest *= keep_rest[:, :, None] & keep_rest[:, None, :]
    coupling *= keep_rest[:, :, None] & ~absent_industry[:, None, :]
    pin_rest = np.concatenate([absent_rest, empty_rows], axis=1)  # an unused constraint row pins its multiplier
    rest[:, np.arange(rest.shape[1]), np.arange(rest.shape[1])] += pin_rest
    rhs_rest *= keep_rest
    industry_w = np.where(absent_industry, 1.0, industry_w)
    rhs_industry[absent_industry] = 0.0
    x_rest, x_industry, diag_rest, diag_industry = solve_reduced(rest, coupling, industry_w, rhs_rest, rhs_industry)
    # back to the factor order: market, sectors, industries, styles
    f = np.concatenate([x_rest[:, : 1 + n_sectors], x_industry, x_rest[:, 1 + n_sectors : n_rest_factors]], axis=1)
    inverse_diagonal = np.concatenate(
        [diag_rest[:, : 1 + n_sectors], diag_industry, diag_rest[:, 1 + n_sectors : n_rest_factors]], axis=1
    )
    absent = np.concatenate([absent_rest[:, : 1 + n_sectors], absent_industry, absent_rest[:, 1 + n_sectors :]], axis=1)
    # root-weighted residuals of the fit, sqrt(w) (y - X f), read from V (no second copy of the styles)
    e = weighted_residuals(v, root, f, cells, n_sectors, n_ind, not fixed_market)
    n = usable.sum(axis=1)
    dof = np.maximum(n - (k - absent.sum(axis=1) - (~empty_rows).sum(axis=1)), 1)
    sse = np.einsum("dn,dn->d", e, e)
    variance = inverse_diagonal * (sse / dof)[:, None]
    with np.errstate(invalid="ignore", divide="ignore"):
        t = f / np.sqrt(np.where(variance > 0, variance, np.nan))
    # R^2 denominators without another pass over the names: sum w (cells), sum w y (sector sums),
    # sum w y^2 (Gram), y net of a fixed market; the centred sum is shift-invariant, so the market drops out
    total_w, sum_y, sum_yy = counts.sum(axis=(1, 2)), by_sector[:, :, n_sty].sum(axis=1), gram[:, n_sty, n_sty]
    with np.errstate(invalid="ignore", divide="ignore"):
        centred = sum_yy - sum_y**2 / total_w
        uncentred = sum_yy if market is None else sum_yy + 2 * market * sum_y + market**2 * total_w
        r2_w = 1 - sse / centred
        r2_u = 1 - sse / uncentred
    if fixed_market:
        f[:, 0] = market
        t[:, 0] = np.nan  # pinned, not estimated
    # y - X f = y_fit - common (the fixed market is in y), so the raw residual is y_raw - y_fit + e / sqrt(w)
    with np.errstate(invalid="ignore", divide="ignore"):
        residuals = np.where(usable, (y_raw - y_fit) + e / root, np.nan)
    f = np.where(absent & (np.arange(k) > 0), np.nan, f)
    f[:, ind] = np.where(live_industry, f[:, ind], np.nan)
    t = np.where(np.isfinite(f), t, np.nan)
    none = n == 0
    f[none], t[none], r2_w[none], r2_u[none] = np.nan, np.nan, np.nan, np.nan
    return f, t, residuals, r2_w, r2_u


def weighted_residuals(v, root, f, cells, n_sectors, n_industries, market_on):
    """``sqrt(w) (y - X f)`` per name, from ``V = sqrt(w) [S | y]``: one product and one gather.

    ``V [-f_styles, 1]`` gives ``sqrt(w) (y - S f_styles)``; each name's market + sector +
    industry return is read from a per-day grid of the (sector, industry-or-none) cells
    (:func:`cell_index`) and subtracted, scaled by ``sqrt(w)``.

    Parameters
    ----------
    v : (n_days, n_names, n_styles + 1) from :func:`augmented_design`.
    root : (n_days, n_names) square roots of the weights.
    f : (n_days, k) factor returns in the order market, sectors, industries, styles.
    cells : (n_days, n_names) from :func:`cell_index`.
    market_on : bool, the market column is 1 (False: it is 0, the market is fixed).

    Returns
    -------
    (n_days, n_names); 0 outside the regression (where ``root`` is 0).
    """
    days, k = f.shape
    n_sty = k - 1 - n_sectors - n_industries
    grid = np.zeros((days, n_sectors * (n_industries + 1) + 1))  # the last slot: no cell, 0
    by_cell = grid[:, :-1].reshape(days, n_sectors, n_industries + 1)
    by_cell += f[:, 1 : 1 + n_sectors, None] + (f[:, :1, None] if market_on else 0.0)
    by_cell[:, :, :n_industries] += f[:, None, 1 + n_sectors : 1 + n_sectors + n_industries]
    coefficients = np.concatenate([-f[:, k - n_sty :], np.ones((days, 1))], axis=1)
    e = (v @ coefficients[:, :, None])[:, :, 0]
    e -= root * np.take(grid, cells)
    return e
