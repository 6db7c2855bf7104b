"""Risk budgets and risk share: position sizes, factor share, hedging to a share limit, implied covariance.

* Position size under a volatility budget ``B`` (dollars of one standard deviation)
  over ``h`` trading days: unhedged ``B / (sigma_daily sqrt(h))``, factor-hedged
  ``B / (sigma_e_daily sqrt(h))`` (``sigma_e`` the idiosyncratic volatility).
* Factor share of variance ``s = b' F b / (b' F b + Var e)``.
* Hedge to a factor-share limit ``v``: single factor, short ``h = b - sign(b) sqrt(v/(1-v) Var e / Var f)``
  of the factor per unit held; several factors, scale the exposure vector along itself
  by ``c = sqrt(v/(1-v) Var e / b'Fb)`` (the hedge is ``(1 - c) b``). No hedge when the
  share is already at or below the limit.
* Factor-implied covariance ``V = B F B' + D``: ``N K + K(K+1)/2 + N`` parameters
  against ``N(N+1)/2`` for a sample covariance.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from xlfactor.conventions import TRADING_DAYS_PER_YEAR
from xlfactor.errors import XlfactorError

HORIZONS = {"daily": 1, "day": 1, "weekly": 5, "week": 5, "monthly": 21, "month": 21, "annual": TRADING_DAYS_PER_YEAR, "year": TRADING_DAYS_PER_YEAR}


def horizon_in_days(horizon: float | str) -> float:
    """Trading days of a horizon given as a number or as daily/weekly/monthly/annual.

    >>> horizon_in_days("monthly"), horizon_in_days(10)
    (21, 10.0)
    """
    if isinstance(horizon, str):
        key = horizon.strip().lower()
        if key in HORIZONS:
            return HORIZONS[key]
        try:
            horizon = float(key)
        except ValueError:
            raise XlfactorError(f"horizon_days must be a number of days or one of {', '.join(HORIZONS)}, got {horizon!r}") from None
    if isinstance(horizon, bool) or not isinstance(horizon, (int, float)) or not horizon > 0:
        raise XlfactorError(f"horizon_days must be a positive number of days, got {horizon!r}")
    if not horizon <= TRADING_DAYS_PER_YEAR:  # square-root-of-time scaling is no forecast beyond a year
        raise XlfactorError(f"horizon_days must be at most {TRADING_DAYS_PER_YEAR} trading days (one year), got {horizon:g}")
    return float(horizon)


def position_size(
    budget: float,
    horizon_days: float | str = 1,
    volatility: float | None = None,
    idiosyncratic_volatility: float | None = None,
    hedged: bool = False,
) -> float:
    """Dollar position whose ``horizon_days`` standard deviation equals ``budget``.

    Parameters
    ----------
    budget : float
        Risk budget in dollars of one standard deviation over the horizon.
    horizon_days : float or str
        Trading days (or ``daily``, ``monthly`` = 21, ``annual`` = 252).
    volatility : float
        Annualized total volatility of the position (decimal), used unhedged.
    idiosyncratic_volatility : float
        Annualized idiosyncratic volatility, used when ``hedged`` (factor risk hedged away).
    hedged : bool
        Size the factor-hedged position.

    Returns
    -------
    float
        Dollars of the position (positive): ``budget / (sigma / sqrt(252) * sqrt(days))``.

    Raises
    ------
    XlfactorError
        ``budget`` or the volatility used is not positive, or the horizon is not understood.

    Examples
    --------
    $1m of monthly risk in a 25%-volatility stock (20% idiosyncratic):

    >>> round(position_size(1e6, "monthly", volatility=0.25))
    13856406
    >>> round(position_size(1e6, "monthly", volatility=0.25, idiosyncratic_volatility=0.20, hedged=True))
    17320508
    """
    if isinstance(budget, bool) or not isinstance(budget, (int, float)) or not budget > 0:
        raise XlfactorError(f"budget must be a positive number of dollars, got {budget!r}")
    days = horizon_in_days(horizon_days)
    sigma = idiosyncratic_volatility if hedged else volatility
    label = "idiosyncratic_volatility" if hedged else "volatility"
    if sigma is None or not sigma > 0:
        raise XlfactorError(f"{label} must be positive to size a position, got {sigma!r}")
    daily = sigma / math.sqrt(TRADING_DAYS_PER_YEAR)
    return float(budget / (daily * math.sqrt(days)))


def factor_share(exposures: np.ndarray, factor_covariance: np.ndarray, idiosyncratic_variance: float) -> float:
    """Factor share of variance ``b'Fb / (b'Fb + Var e)`` (any consistent units).

    >>> factor_share(np.array([1.2]), np.array([[0.04]]), 0.03)
    0.6575342465753424
    """
    b = np.atleast_1d(np.asarray(exposures, dtype=float))
    F = np.atleast_2d(np.asarray(factor_covariance, dtype=float))
    q = float(b @ F @ b)
    total = q + float(idiosyncratic_variance)
    if not total > 0:
        raise XlfactorError("the position has no variance")
    return q / total


@dataclass(frozen=True, eq=False)
class ShareHedge:
    """The hedge that brings the factor share of variance down to a limit.

    Parameters
    ----------
    hedge : ndarray of shape (n_factors,)
        Exposure to short, per unit held (the hedged exposure is ``exposures - hedge``).
    scale : float
        ``c``: the hedged exposure is ``c x`` (1 when no hedge is needed).
    share_before, share_after : float
        Factor share of the variance before and after, decimals.
    limit : float
        The largest factor share allowed.

    Examples
    --------
    >>> import numpy as np
    >>> import xlfactor as xf
    >>> cut = xf.hedge_to_factor_share(np.array([1.0]), np.array([[0.04]]), 0.01, limit=0.2)
    >>> round(cut.share_before, 6), round(cut.share_after, 6), round(cut.scale, 6)
    (0.8, 0.2, 0.25)
    """

    hedge: np.ndarray  # (n_factors,) exposure to short, per unit held (hedged exposure = b - hedge)
    scale: float  # c: hedged exposure = c b (1 when no hedge is needed)
    share_before: float
    share_after: float
    limit: float


def hedge_to_factor_share(
    exposures, factor_covariance, idiosyncratic_variance: float, limit: float
) -> ShareHedge:
    """The hedge bringing the factor share of variance to ``limit``.

    Parameters
    ----------
    exposures : float or array (K,)
        Betas (exposures) of the position to the factors.
    factor_covariance : float or array (K, K)
        Factor (co)variance, same units as ``idiosyncratic_variance``.
    idiosyncratic_variance : float
        Residual variance ``Var e`` of the position.
    limit : float
        Largest factor share allowed, strictly between 0 and 1 (e.g. 0.20).

    Returns
    -------
    ShareHedge
        ``hedge`` units of each factor to short per unit held; with one factor
        ``hedge = b - sign(b) sqrt(v/(1-v) Var e / Var f)``.

    Examples
    --------
    >>> h = hedge_to_factor_share(1.2, 0.04, 0.03, 0.20)
    >>> round(float(h.hedge[0]), 6), round(h.share_after, 12)
    (0.766987, 0.2)
    """
    if isinstance(limit, bool) or not isinstance(limit, (int, float)) or not 0 < limit < 1:
        raise XlfactorError(f"limit must be a factor share strictly between 0 and 1, got {limit!r}")
    b = np.atleast_1d(np.asarray(exposures, dtype=float))
    F = np.atleast_2d(np.asarray(factor_covariance, dtype=float))
    if F.shape != (len(b), len(b)):
        raise XlfactorError(f"factor_covariance must be {len(b)}x{len(b)}, got {F.shape}")
    ve = float(idiosyncratic_variance)
    if not ve > 0:
        raise XlfactorError("idiosyncratic_variance must be positive to reach a factor-share limit")
    q = float(b @ F @ b)
    before = q / (q + ve)
    if before <= limit:
        return ShareHedge(np.zeros_like(b), 1.0, before, before, float(limit))
    scale = math.sqrt(limit / (1 - limit) * ve / q)
    kept = scale * b
    after = float(kept @ F @ kept) / (float(kept @ F @ kept) + ve)
    return ShareHedge(b - kept, scale, before, after, float(limit))


def instrument_hedge_to_share(
    factor_quadratic: tuple[float, float, float],
    idiosyncratic_quadratic: tuple[float, float, float],
    limit: float,
) -> float:
    """Smallest hedge ``h`` of one instrument bringing the factor share to ``limit``.

    The book's factor variance with ``h`` of the instrument is ``a0 + a1 h + a2 h^2``
    and its idiosyncratic variance ``e0 + e1 h + e2 h^2`` (the instrument's own factor
    exposures and residual variance); ``(1-v) A(h) = v E(h)`` is a quadratic in ``h``,
    solved in closed form; the root of least ``|h|`` is returned (0 if already below).
    """
    a0, a1, a2 = factor_quadratic
    e0, e1, e2 = idiosyncratic_quadratic
    v = float(limit)
    if not 0 < v < 1:
        raise XlfactorError(f"limit must be a factor share strictly between 0 and 1, got {limit!r}")
    if a0 / (a0 + e0) <= v:
        return 0.0
    c2, c1, c0 = (1 - v) * a2 - v * e2, (1 - v) * a1 - v * e1, (1 - v) * a0 - v * e0
    roots = np.roots([c2, c1, c0]) if abs(c2) > 1e-300 else np.array([-c0 / c1]) if c1 else np.array([])
    real = roots[np.abs(np.imag(roots)) < 1e-12].real
    if not len(real):
        raise XlfactorError(f"the instrument cannot bring the factor share down to {v:g}")
    return float(real[np.argmin(np.abs(real))])


@dataclass(frozen=True, eq=False)
class ImpliedCovariance:
    """Factor-implied covariance of a set of names and its parameter count.

    Parameters
    ----------
    tickers : list of str
        The names, normalized, in the order asked.
    covariance : ndarray of shape (N, N)
        ``B F B' + D``, annualized decimal squared.
    parameters : int
        Parameters the factor model spends: ``N K + K (K + 1) / 2 + N``.
    sample_parameters : int
        Parameters of a sample covariance: ``N (N + 1) / 2``.

    Examples
    --------
    >>> import xlfactor as xf
    >>> ic = xf.implied_covariance(xf.factor_model_data(), ["SIM0001", "SIM0002"])
    >>> ic.covariance.shape, ic.sample_parameters
    ((2, 2), 3)
    """

    tickers: list[str]
    covariance: np.ndarray  # (N, N) annualized decimal^2, B F B' + D
    parameters: int  # N K + K(K+1)/2 + N
    sample_parameters: int  # N (N+1)/2


def implied_covariance(data, tickers: list[str]) -> ImpliedCovariance:
    """``B F B' + D`` for ``tickers`` (annualized), with the parameter counts.

    Parameters
    ----------
    data : FactorModelData
        The model (:func:`~xlfactor.factor_model_data`).
    tickers : list of str
        Universe tickers, each listed once (so the result is at most universe x universe).

    Returns
    -------
    ImpliedCovariance
        The (N, N) covariance, annualized decimal squared, and the parameter counts.

    Raises
    ------
    XlfactorError
        ``tickers`` is empty or lists a ticker more than once.
    UnknownTickersError
        A ticker is not in the universe.

    Examples
    --------
    >>> import numpy as np
    >>> import xlfactor as xf
    >>> data = xf.factor_model_data()
    >>> ic = xf.implied_covariance(data, list(data.tickers[:3]))
    >>> ic.covariance.shape, ic.sample_parameters
    ((3, 3), 6)
    >>> w = np.zeros(len(data.tickers)); w[:3] = [0.5, 0.3, 0.2]
    >>> bool(np.isclose(np.sqrt(w[:3] @ ic.covariance @ w[:3]), data.risk(w)))
    True
    """
    from xlfactor.conventions import normalize_ticker
    from xlfactor.errors import UnknownTickersError

    names = [normalize_ticker(t) for t in tickers]
    if not names:
        raise XlfactorError("tickers range is empty")
    if len(set(names)) < len(names):
        seen: set[str] = set()
        twice = list(dict.fromkeys(n for n in names if n in seen or seen.add(n)))
        shown = ", ".join(twice[:5]) + (", ..." if len(twice) > 5 else "")
        raise XlfactorError(f"tickers range lists {len(twice)} tickers more than once ({shown}); list each once")
    rows = data.ticker_index.get_indexer(names)
    if (rows < 0).any():
        raise UnknownTickersError([n for n, r in zip(names, rows) if r < 0])
    B = data.exposures[rows]
    cov = B @ data.factor_covariance @ B.T + np.diag(data.idiosyncratic_variance[rows])
    n, k = len(names), len(data.factor_names)
    return ImpliedCovariance(names, cov, n * k + k * (k + 1) // 2 + n, n * (n + 1) // 2)


@dataclass(frozen=True, eq=False)
class BookShareHedge:
    """A book hedged so that the factor share of its variance is at most ``limit``."""

    instruments: list[str]  # the instrument, or the factors whose exposure is scaled down
    hedge_weights: np.ndarray  # (n_instruments,) decimals of gross (negative = short), or factor exposures to add
    share_before: float
    share_after: float
    risk_before: float  # annualized
    risk_after: float
    limit: float


def hedge_book_to_share(data, weights: np.ndarray, limit: float, instrument: str | None = None) -> BookShareHedge:
    """Hedge a book down to a factor share of variance ``limit`` (model covariances, annualized).

    Parameters
    ----------
    data : FactorModelData
    weights : array (n_assets,)
        The book, decimals of gross.
    limit : float
        Factor share allowed, strictly between 0 and 1.
    instrument : str, optional
        None: scale the book's whole factor exposure vector down (the hedge is the
        exposure to add to every factor, ``-(1 - c) x``). A universe ticker or an ETF:
        the smallest position in it reaching the limit (closed form of a quadratic).
        A factor id: the same with that factor's pure factor portfolio.
    """
    from xlfactor.hedging.instruments import (
        idiosyncratic_overlap,
        instrument_model,
        variance_with_hedge,
    )

    w = np.asarray(weights, dtype=float)
    x = data.exposures.T @ w
    F = data.factor_covariance
    idiosyncratic = float(w * w @ data.idiosyncratic_variance)
    q = float(x @ F @ x)
    if instrument is None:
        result = hedge_to_factor_share(x, F, idiosyncratic, limit)
        used = np.abs(x) > 0
        names = [str(n) for n in np.asarray(data.factor_names)[used]]
        kept = result.scale**2 * q
        return BookShareHedge(names, -result.hedge[used], result.share_before, result.share_after,
                              math.sqrt(q + idiosyncratic), math.sqrt(kept + idiosyncratic), float(limit))  # fmt: skip
    names = [str(n).lower() for n in data.factor_names]
    if instrument.strip().lower() in names:
        from xlfactor.hedging.portfolios import factor_portfolio

        fp = factor_portfolio(data, instrument.strip())
        y, s = fp.exposures, float(fp.weights**2 @ data.idiosyncratic_variance)
        c = float(w * fp.weights @ data.idiosyncratic_variance)
        label = [fp.factor]

        def variance(h: float) -> float:
            xx = x + h * y
            return float(xx @ F @ xx) + idiosyncratic + 2 * h * c + h * h * s
    else:
        Y, S, rows, label = instrument_model(data, [instrument])
        y = Y[0]
        c = float(idiosyncratic_overlap(data, rows, w)[0])  # non-zero when the instrument is a held stock
        s = float(S[0])

        def variance(h: float) -> float:
            return variance_with_hedge(data, w, Y, S, rows, np.array([h]))
    a = (q, 2 * float(x @ F @ y), float(y @ F @ y))
    e = (idiosyncratic, 2 * c, s)
    h = instrument_hedge_to_share(a, e, limit)
    xx = x + h * y
    after_total = variance(h)
    return BookShareHedge(label, np.array([h]), q / (q + idiosyncratic), float(xx @ F @ xx) / after_total,
                          math.sqrt(q + idiosyncratic), math.sqrt(after_total), float(limit))  # fmt: skip
