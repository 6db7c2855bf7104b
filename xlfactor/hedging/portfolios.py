"""Factor portfolios, tracking portfolios and the hedged (portable-alpha) book.

* Factor portfolio of factor ``k``: exposure 1 to ``k``, 0 to every other factor, least
  idiosyncratic variance: ``w = D^-1 X (X' D^-1 X)^-1 e_k``. When the model's columns are
  collinear (market = sum of sectors = sum of industries for every name), no portfolio
  has unit exposure to a sector and zero to the market; the exposures that nesting
  implies are then left free (a sector's market and own industries, an industry's
  sector and market, the market's sectors and industries) and listed in ``free_factors``.
* Tracking portfolio: weights on chosen assets that match target exposures (and, with a
  budget, sum to it). Square system: exact solve. More assets than equations: least
  idiosyncratic variance (or least norm). Fewer, or inconsistent: an error.
* Hedged book: holdings minus their tracking portfolio in chosen instruments.

Weights are decimals of gross (shorts negative); exposures as in the snapshot.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from xlfactor.errors import XlfactorError

SOLVE_TOLERANCE = 1e-9


class UnsolvableError(XlfactorError):
    """A tracking system that cannot be solved (too few assets, dependent and inconsistent)."""


@dataclass(frozen=True, eq=False)
class FactorPortfolio:
    """Minimum-idiosyncratic-variance portfolio with unit exposure to one factor.

    Parameters
    ----------
    factor : str
        The factor id.
    weights : ndarray of shape (n_assets,)
        Weights in universe order (decimals; long and short, they need not sum to 1).
    exposures : ndarray of shape (n_factors,)
        ``X' w``: 1 on ``factor``, 0 on every other constrained factor.
    free_factors : tuple of str
        Factors left unconstrained because the nesting of sectors and industries fixes them.
    idiosyncratic_risk : float
        Annualized ``sqrt(w' D w)``, decimal.

    Examples
    --------
    >>> import xlfactor as xf
    >>> data = xf.factor_model_data()
    >>> fp = xf.factor_portfolio(data, "momentum")
    >>> round(float(fp.exposures[data.factor_index("momentum")]), 10), fp.idiosyncratic_risk > 0
    (1.0, True)
    """

    factor: str
    weights: np.ndarray  # (n_assets,) universe order
    exposures: np.ndarray  # (n_factors,) X' w
    free_factors: tuple[str, ...]  # factors left unconstrained because nesting fixes them
    idiosyncratic_risk: float  # annualized sqrt(w' D w)


@dataclass(frozen=True, eq=False)
class TrackingPortfolio:
    """Weights on the chosen assets that reproduce the target exposures.

    Parameters
    ----------
    weights : ndarray of shape (n_instruments,)
        Weights on the assets (rows of ``asset_exposures``), decimals.
    exposures : ndarray of shape (n_factors,)
        The exposures achieved.
    method : str
        ``exact``, ``least idiosyncratic variance`` or ``least norm``.
    max_error : float
        Largest ``|achieved - target|`` over the constraints.

    Examples
    --------
    >>> import numpy as np
    >>> import xlfactor as xf
    >>> X = np.array([[0.7, 1.1], [0.1, 0.5], [1.5, 1.3]])
    >>> tp = xf.tracking_portfolio(np.array([1.0, 1.1]), X)
    >>> tp.method, tp.max_error < 1e-12
    ('exact', True)
    """

    weights: np.ndarray  # (n_instruments,)
    exposures: np.ndarray  # (n_factors,) achieved
    method: str  # "exact", "least idiosyncratic variance" or "least norm"
    max_error: float  # largest |achieved - target| over the constraints


def tracking_portfolio(
    target_exposures: np.ndarray,
    asset_exposures: np.ndarray,
    budget: float | None = 1.0,
    idiosyncratic_variance: np.ndarray | None = None,
) -> TrackingPortfolio:
    """Weights on assets matching ``target_exposures`` (and summing to ``budget``).

    Parameters
    ----------
    target_exposures : array (n_factors,)
        Exposures to reproduce.
    asset_exposures : array (n_assets, n_factors)
        Each asset's exposures (rows).
    budget : float or None
        Sum of the weights (1.0 default); None for no budget constraint.
    idiosyncratic_variance : array (n_assets,), optional
        Idiosyncratic variances (annualized): with more assets than equations the
        solution minimizes ``sum w_i^2 d_i``; without them, the least-norm solution.

    Returns
    -------
    TrackingPortfolio
        ``weights`` (n_assets,) on the rows of ``asset_exposures``, the exposures achieved,
        the method used and the largest error.

    Raises
    ------
    XlfactorError
        When there are fewer assets than equations, or the equations are dependent
        and inconsistent.

    Examples
    --------
    The lecture's three assets and two factors, weights summing to 1:

    >>> X = np.array([[0.7, 1.1], [0.1, 0.5], [1.5, 1.3]])
    >>> tracking_portfolio(np.array([1.0, 1.1]), X).weights.round(6).tolist()
    [0.333333, 0.166667, 0.5]
    """
    X = np.atleast_2d(np.asarray(asset_exposures, dtype=float))
    target = np.atleast_1d(np.asarray(target_exposures, dtype=float))
    if X.shape[1] != target.shape[0]:
        raise UnsolvableError(f"asset_exposures have {X.shape[1]} factors, target_exposures {target.shape[0]}")
    if not (np.isfinite(X).all() and np.isfinite(target).all()):
        raise UnsolvableError("asset_exposures and target_exposures must be finite")
    A, b = X.T, target
    if budget is not None:
        A = np.vstack([A, np.ones(X.shape[0])])
        b = np.append(b, float(budget))
    equations, n = A.shape
    if n < equations:
        raise UnsolvableError(f"cannot track: {n} instruments for {equations} equations (exposures{' and budget' if budget is not None else ''})")
    rank = np.linalg.matrix_rank(A) if n == equations else -1
    if rank == n:
        w = np.linalg.solve(A, b)
        method = "exact"
    else:
        if idiosyncratic_variance is None:
            scale = np.ones(n)
            method = "least norm"
        else:
            scale = np.asarray(idiosyncratic_variance, dtype=float)
            if scale.shape != (n,) or not (scale > 0).all():
                raise UnsolvableError("idiosyncratic_variance must be positive, one per instrument")
            method = "least idiosyncratic variance"
        inv = 1.0 / scale
        gram = (A * inv) @ A.T  # (equations, equations): its rank is the rank of A, cheaply
        rank = int(np.linalg.matrix_rank(gram, hermitian=True))
        multipliers = np.linalg.lstsq(gram, b, rcond=None)[0] if rank < equations else np.linalg.solve(gram, b)
        w = inv * (A.T @ multipliers)
    error = float(np.max(np.abs(A @ w - b)))
    if error > SOLVE_TOLERANCE * max(1.0, float(np.max(np.abs(b)))):
        raise UnsolvableError(f"cannot track: the equations are dependent (rank {rank} of {equations}) and inconsistent (error {error:.3g})")
    return TrackingPortfolio(weights=w, exposures=X.T @ w, method=method, max_error=error)


def factor_portfolio(data, factor: str) -> FactorPortfolio:
    """The pure factor portfolio of ``factor`` over the universe of ``data``.

    Parameters
    ----------
    data : FactorModelData
        The model (:func:`~xlfactor.factor_model_data`); the result is memoized on its snapshot.
    factor : str
        A factor id of the model (case-insensitive), e.g. ``momentum``.

    Returns
    -------
    FactorPortfolio
        ``weights`` (n_assets,) with ``X' w = e_k`` on every constrained factor and the least
        idiosyncratic variance.

    Raises
    ------
    XlfactorError
        The factor is not in the model.

    Examples
    --------
    >>> import numpy as np
    >>> import xlfactor as xf
    >>> data = xf.factor_model_data()
    >>> fp = xf.factor_portfolio(data, "momentum")
    >>> bool(np.abs(fp.exposures - np.eye(len(data.factor_names))[data.factor_index("momentum")]).max() < 1e-10)
    True
    """
    names = [str(n) for n in data.factor_names]
    lowered = {n.lower(): i for i, n in enumerate(names)}
    if factor.lower() not in lowered:
        raise XlfactorError(f"unknown factor {factor!r} (OF_FACTORS() lists them)")
    k = lowered[factor.lower()]
    snapshot = getattr(data, "snapshot", None)
    if snapshot is None:  # bare model arrays (no snapshot to keep the result with)
        return _factor_portfolio(data, names, k)
    return snapshot.cached(f"factor_portfolio:{names[k]}", lambda: _factor_portfolio(data, names, k))


def _factor_portfolio(data, names: list[str], k: int) -> FactorPortfolio:
    X = np.asarray(data.exposures, dtype=float)
    d = np.asarray(data.idiosyncratic_variance, dtype=float)
    if not (d > 0).all():
        raise XlfactorError("the snapshot has names without a positive idiosyncratic variance")
    free = _implied_free(data, k)
    keep = np.array([i not in free for i in range(len(names))])
    constraints = X[:, keep]
    target = np.zeros(keep.sum())
    target[int(np.nonzero(np.nonzero(keep)[0] == k)[0][0])] = 1.0
    tracked = tracking_portfolio(target, constraints, budget=None, idiosyncratic_variance=d)
    w = tracked.weights
    w.flags.writeable = False
    return FactorPortfolio(
        factor=names[k],
        weights=w,
        exposures=X.T @ w,
        free_factors=tuple(names[i] for i in sorted(free)),
        idiosyncratic_risk=float(np.sqrt(w * w @ d)),
    )


def _implied_free(data, k: int) -> set[int]:
    """Factors whose exposure the nesting market > sector > industry fixes given factor ``k``.

    Only when the market, sector and industry columns are collinear (every name's
    sector memberships sum to its market exposure); empty for a style factor.
    """
    groups = np.asarray(data.factor_groups).astype(str)
    X = np.asarray(data.exposures, dtype=float)
    group = groups[k]
    if group == "style":
        return set()
    market = np.nonzero(groups == "market")[0]
    sectors = np.nonzero(groups == "sector")[0]
    industries = np.nonzero(groups == "industry")[0]

    def nested(block: np.ndarray) -> bool:
        return len(block) > 0 and len(market) == 1 and np.allclose(X[:, block].sum(axis=1), X[:, market[0]])

    sector_nested, industry_nested = nested(sectors), nested(industries)
    free: set[int] = set()
    if group == "market":
        free |= set(sectors) if sector_nested else set()
        free |= set(industries) if industry_nested else set()
    elif group == "sector" and sector_nested:
        free |= set(market)
        if industry_nested:
            members = X[:, k] > 0
            free |= {int(j) for j in industries if (X[members, j] > 0).any()}
    elif group == "industry" and industry_nested:
        free |= set(market)
        if sector_nested:
            members = X[:, k] > 0
            free |= {int(j) for j in sectors if (X[members, j] > 0).any()}
    return free


@dataclass(frozen=True, eq=False)
class HedgedBook:
    """Holdings minus their tracking portfolio in the chosen instruments.

    Parameters
    ----------
    instruments : list of str
        The hedge instruments (universe tickers or ETFs).
    tracking_weights : ndarray of shape (n_instruments,)
        The tracking portfolio, decimals of the book's gross.
    hedge_weights : ndarray of shape (n_instruments,)
        What the book holds: ``-tracking_weights`` (negative = short).
    factors : list of str
        The factors tracked.
    exposures_before, exposures_after : ndarray of shape (n_factors,)
        Exposures of the holdings, and of holdings plus hedge.
    risk_before, risk_after : float
        Annualized total risk before and after the hedge, decimals.
    method : str
        How the tracking portfolio was solved (see :class:`TrackingPortfolio`).

    Examples
    --------
    >>> import pandas as pd
    >>> import xlfactor as xf
    >>> data = xf.factor_model_data()        # the embedded simulated demo
    >>> w = data.align_holdings(pd.DataFrame({"ticker": ["SIM0001", "SIM0002", "SIM0003"], "value": [5e5, 3e5, 2e5]})).weights
    >>> book = xf.hedged_book(data, w, ["SPY"])
    >>> book.factors, round(float(book.exposures_after[data.factor_index("market")]), 10)
    (['market'], 0.0)
    """

    instruments: list[str]
    tracking_weights: np.ndarray  # (n_instruments,) the tracking portfolio
    hedge_weights: np.ndarray  # (n_instruments,) = -tracking_weights (what the book holds)
    factors: list[str]  # the factors tracked
    exposures_before: np.ndarray  # (n_factors,) of the holdings
    exposures_after: np.ndarray  # (n_factors,) of holdings + hedge
    risk_before: float  # annualized
    risk_after: float
    method: str


def hedged_book(data, weights: np.ndarray, instruments: list[str], factors: list[str] | None = None) -> HedgedBook:
    """The portable-alpha book: ``weights`` minus their tracking portfolio in ``instruments``.

    The tracking portfolio reproduces the holdings' exposures to ``factors`` (default: the
    market plus every sector and industry an instrument loads on, at most as many as
    instruments, largest loadings first) with no budget constraint, least idiosyncratic
    variance when there is freedom left. Instruments are universe names or ETFs of the
    snapshot (exposures as in ``OF_HEDGE``).

    Parameters
    ----------
    data : FactorModelData
        The model (:func:`~xlfactor.factor_model_data`).
    weights : ndarray of shape (n_assets,)
        The book, decimals of gross in universe order, shorts negative.
    instruments : list of str
        Hedge instruments: universe tickers or the snapshot's index/ETF tickers (e.g. SPY).
    factors : list of str, optional
        Factor ids to neutralize; default chosen from the instruments' loadings.

    Returns
    -------
    HedgedBook
        The hedge weights (decimals of the book's gross, negative = short), the exposures and
        annualized risk before and after.

    Raises
    ------
    XlfactorError
        An unknown factor or instrument, or fewer instruments than factors to track.

    Examples
    --------
    >>> import pandas as pd
    >>> import xlfactor as xf
    >>> data = xf.factor_model_data()        # the embedded simulated demo
    >>> w = data.align_holdings(pd.DataFrame({"ticker": ["SIM0001", "SIM0002", "SIM0003"], "value": [5e5, 3e5, 2e5]})).weights
    >>> book = xf.hedged_book(data, w, ["SPY", "XLK"])
    >>> bool(book.risk_after < book.risk_before), len(book.hedge_weights)
    (True, 2)
    """
    from xlfactor.hedging.instruments import instrument_model, variance_with_hedge

    Y, S, rows, names = instrument_model(data, instruments)
    factor_names = [str(n) for n in data.factor_names]
    if factors is None:
        load = np.abs(Y).max(axis=0)
        order = [i for i in np.argsort(-load, kind="stable") if load[i] > 1e-6]
        chosen = sorted(order[: len(names)])
    else:
        lowered = {n.lower(): i for i, n in enumerate(factor_names)}
        unknown = [f for f in factors if f.lower() not in lowered]
        if unknown:
            raise XlfactorError(f"unknown factor(s): {', '.join(unknown)}")
        chosen = [lowered[f.lower()] for f in factors]
    x = data.exposures.T @ weights
    tracked = tracking_portfolio(x[chosen], Y[:, chosen], budget=None, idiosyncratic_variance=np.where(S > 0, S, 1e-12))
    h = -tracked.weights
    return HedgedBook(
        instruments=names,
        tracking_weights=tracked.weights,
        hedge_weights=h,
        factors=[factor_names[i] for i in chosen],
        exposures_before=x,
        exposures_after=x + Y.T @ h,
        risk_before=float(np.sqrt(variance_with_hedge(data, weights, Y, S, rows, np.zeros_like(h)))),
        risk_after=float(np.sqrt(variance_with_hedge(data, weights, Y, S, rows, h))),
        method=tracked.method,
    )
