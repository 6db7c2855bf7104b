r"""Stress tests and historical scenarios on today's exposures.

Every P&L here is a **factor P&L**: today's factor exposures ``x = X' w`` times factor
returns (a shock or stored history), a daily decimal of gross exposure (loss negative),
with dollars when the holdings are signed dollars (``value``). Idiosyncratic returns
have zero expectation and enter only the historical-simulation VaR (a bootstrap).

* :func:`stress`: factor shocks, optionally propagated to the other factors by their
  conditional expectation under the model covariance
  :math:`\Delta f_r = F_{rk} F_{kk}^{-1} \Delta f_k` (the ratio of covariances, so the
  annualization cancels).
* :func:`replay`: the snapshot's stored factor returns of a day or a date range applied
  to today's exposures, summed over the days and compounded.
* :func:`worst_days`, :func:`worst_window`: the worst days and the worst 21-day window
  of the stored history for this book; :func:`scenario_table` lists the snapshot's
  scenario library (``scenarios.csv``) with them.
* :func:`historical_var`: historical-simulation VaR and expected shortfall from the
  factor-return history plus a bootstrap of the names' residual returns, next to the
  parametric VaR with the ratio between them.

>>> import xlfactor as xf
>>> data = xf.factor_model_data()
>>> w = data.benchmark_weights
>>> round(xf.stress(data, w, {"market": -0.10}, propagate=False).portfolio_pnl, 6)
-0.1
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from xlfactor._typing import FloatArray, StrArray
from xlfactor.conventions import FACTOR_GROUPS, MARKET_FACTOR, TRADING_DAYS_PER_YEAR
from xlfactor.errors import ScenarioError, UnknownTickersError
from xlfactor.risk import decomposition as dec
from xlfactor.risk.holdings import PortfolioWeights, align, holdings_from_frame
from xlfactor.risk.model_data import FactorModelData, check_confidence, check_horizon, factor_model_data
from xlfactor.snapshot.snapshot import Snapshot

MAX_SHOCK = 1.0
"""Largest shock magnitude accepted (100%); larger ones are almost always percent typed as numbers."""

WINDOW_DAYS = 21
"""Length of the worst-window scenario (a trading month)."""

WORST_DAYS = 5
"""Worst single days listed with the scenario library."""

RESIDUAL_DRAWS = 50
"""Residual days drawn per factor day in the historical-simulation bootstrap."""

BOOTSTRAP_SEED = 12
"""Seed of the residual bootstrap: the same book and snapshot always give the same VaR."""

STYLE_SHOCK_SD = 2.0
"""Standard stress of a style: this many standard deviations of its daily return, scaled to 21 days."""

SUMMARY_ROWS = (*FACTOR_GROUPS, "total")


# ---------------------------------------------------------------- inputs


@dataclass(frozen=True, eq=False)
class Book:
    """A book aligned to the universe: weights (decimals of gross) and its gross in dollars, if known."""

    weights: FloatArray  # (n_assets,)
    gross: float | None  # dollars of gross exposure for ``value`` holdings, else None


def as_model(data: FactorModelData | Snapshot | None) -> FactorModelData:
    """The :class:`FactorModelData` of ``data`` (a snapshot is aligned once and memoized)."""
    if isinstance(data, FactorModelData):
        return data
    return factor_model_data(data)


def as_book(data: FactorModelData, weights: object, name: str = "portfolio") -> Book:
    """Weights in universe order from an array, a Series by ticker, a holdings frame or aligned weights.

    A holdings frame (``ticker`` + ``value`` or ``allocation``) also gives the gross in
    dollars (``value`` holdings). Tickers outside the universe raise
    :class:`~xlfactor.errors.UnknownTickersError`.
    """
    if isinstance(weights, Book):
        return weights
    if isinstance(weights, pd.DataFrame):
        weights = align(holdings_from_frame(weights, name), data.ticker_index)
    if isinstance(weights, PortfolioWeights):
        if len(weights.missing):
            raise UnknownTickersError(list(weights.missing["ticker"]))
        holdings = weights.holdings
        gross = float(np.abs(holdings.amounts).sum()) if holdings.kind == "value" else None
        return Book(weights.weights, gross)
    return Book(data.weight_vector(weights), None)


def _benchmark(data: FactorModelData, benchmark: object) -> FloatArray:
    return data.benchmark_weights if benchmark is None else as_book(data, benchmark, "benchmark").weights


def factor_position(data: FactorModelData, factor: object) -> int:
    """Column of a factor id (exact, else case-insensitive); unknown ids name OF_FACTORS()."""
    text = str(factor).strip()
    names = list(data.factor_names)
    if text in names:
        return names.index(text)
    lowered = {n.lower(): i for i, n in enumerate(names)}
    if text.lower() in lowered:
        return lowered[text.lower()]
    raise ScenarioError(f"unknown factor {text!r} in the shocks (OF_FACTORS() lists the factor ids)")


def resolve_shocks(
    data: FactorModelData, shocks: Mapping[str, float] | Iterable[tuple[str, float]]
) -> tuple[np.ndarray, FloatArray]:
    """Factor columns and shock values (decimals) of ``shocks``, validated.

    Raises
    ------
    ScenarioError
        No shocks, an unknown factor id, a factor given twice, a non-numeric shock, or a
        shock larger than 100% in magnitude (percent typed as a number: -10 for -10%).
    """
    pairs = list(shocks.items()) if isinstance(shocks, Mapping) else list(shocks)
    if not pairs:
        raise ScenarioError("no shocks given: pass factor ids and decimal shocks, e.g. {'market': -0.10}")
    positions, values = [], []
    for factor, value in pairs:
        column = factor_position(data, factor)
        label = str(data.factor_names[column])
        if column in positions:
            raise ScenarioError(f"factor {label!r} is shocked twice")
        if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)) or not math.isfinite(value):
            raise ScenarioError(f"shock for {label!r} must be a number, got {value!r}")
        if abs(value) > MAX_SHOCK:
            raise ScenarioError(
                f"shock for {label!r} is {value:g}, larger than 100% in magnitude: "
                f"shocks are decimals (-0.10 for -10%, not -10)"
            )
        positions.append(column)
        values.append(float(value))
    return np.asarray(positions, dtype=np.int64), np.asarray(values)


def conditional_moves(factor_covariance: FloatArray, shocked: np.ndarray, shocks: FloatArray) -> FloatArray:
    r"""All factor moves given shocks to some: :math:`\Delta f_r = F_{rk} F_{kk}^{-1} \Delta f_k`.

    Parameters
    ----------
    factor_covariance : ndarray of shape (n_factors, n_factors)
        Model covariance (any common scale: annual or daily give the same moves).
    shocked : ndarray of int, shape (n_shocked,)
        Columns of the shocked factors.
    shocks : ndarray of shape (n_shocked,)
        Their returns (decimals); the shocked factors move by exactly these.

    Returns
    -------
    ndarray of shape (n_factors,)
        The conditional expectation of every factor's return (the shocks themselves at ``shocked``).

    >>> F = np.array([[0.04, 0.01], [0.01, 0.09]])
    >>> conditional_moves(F, np.array([0]), np.array([-0.1]))
    array([-0.1  , -0.025])
    """
    moves = factor_covariance[:, shocked] @ np.linalg.solve(factor_covariance[np.ix_(shocked, shocked)], shocks)
    moves[shocked] = shocks
    return moves


# ---------------------------------------------------------------- factor shocks


class _PnlTotals:
    """Totals of a scenario's ``summary`` table (row ``total``), shared by stress and replay results.

    Subclasses are frozen dataclasses with ``summary`` (index market, style, sector,
    industry, total; columns portfolio, benchmark, active; decimals of gross) and
    ``gross`` (dollars of gross for ``value`` holdings, else None).
    """

    summary: pd.DataFrame
    gross: float | None

    @property
    def portfolio_pnl(self) -> float:
        """Portfolio factor P&L, decimal of gross."""
        return float(self.summary.loc["total", "portfolio"])

    @property
    def benchmark_pnl(self) -> float:
        """Benchmark factor P&L, decimal."""
        return float(self.summary.loc["total", "benchmark"])

    @property
    def active_pnl(self) -> float:
        """Portfolio minus benchmark P&L, decimal."""
        return float(self.summary.loc["total", "active"])

    @property
    def dollars(self) -> dict[str, float] | None:
        """Portfolio, benchmark (same gross) and active P&L in dollars for ``value`` holdings, else None."""
        if self.gross is None:
            return None
        return {k: float(self.summary.loc["total", k]) * self.gross for k in ("portfolio", "benchmark", "active")}


@dataclass(frozen=True, eq=False)
class StressResult(_PnlTotals):
    """P&L of a factor-shock scenario (decimals of gross; loss negative).

    Totals: ``portfolio_pnl``, ``benchmark_pnl``, ``active_pnl`` and ``dollars``.

    Parameters
    ----------
    summary : pandas.DataFrame
        Index ``market, style, sector, industry, total``; columns ``portfolio, benchmark,
        active``: factor P&L by group, decimals of gross.
    factors : pandas.DataFrame
        One row per factor: ``factor, group, factor_move`` (decimal return), ``shocked``,
        ``portfolio_exposure, benchmark_exposure, active_exposure`` and the P&L contributions.
    propagate : bool
        Whether the unshocked factors moved by their conditional expectation.
    gross : float or None
        Dollars of gross exposure (``value`` holdings), else None.

    Examples
    --------
    >>> import xlfactor as xf
    >>> data = xf.factor_model_data()        # the embedded simulated demo
    >>> w = data.benchmark_weights           # the cap-weighted universe
    >>> result = xf.stress(data, w, {"market": -0.10}, propagate=False)
    >>> round(result.portfolio_pnl, 12)          # market exposure 1 x -10%
    -0.1
    """

    summary: pd.DataFrame  # index market, style, sector, industry, total; columns portfolio, benchmark, active
    factors: pd.DataFrame  # one row per factor: move, shocked, exposures and P&L contributions
    propagate: bool
    gross: float | None  # dollars of gross (value holdings), else None

    @property
    def implied_moves(self) -> pd.Series:
        """Moves of the unshocked factors (zero without propagation), by factor id.

        Examples
        --------
        >>> import xlfactor as xf
        >>> data = xf.factor_model_data()        # the embedded simulated demo
        >>> w = data.benchmark_weights           # the cap-weighted universe
        >>> moves = xf.stress(data, w, {"market": -0.10}).implied_moves
        >>> "market" in moves.index, len(moves) == len(data.factor_names) - 1
        (False, True)
        """
        rest = self.factors[~self.factors["shocked"]]
        return pd.Series(rest["factor_move"].to_numpy(), index=rest["factor"].to_numpy(), name="factor_move")


def _pnl_tables(data: FactorModelData, moves: FloatArray, w: FloatArray, b: FloatArray) -> tuple[pd.DataFrame, pd.DataFrame]:
    x_p, x_b = data.exposures.T @ w, data.exposures.T @ b
    c_p, c_b = x_p * moves, x_b * moves
    groups = data.factor_groups
    portfolio = [c_p[groups == g].sum() for g in FACTOR_GROUPS] + [c_p.sum()]
    benchmark = [c_b[groups == g].sum() for g in FACTOR_GROUPS] + [c_b.sum()]
    summary = pd.DataFrame({"portfolio": portfolio, "benchmark": benchmark}, index=pd.Index(SUMMARY_ROWS, name="component"))
    summary["active"] = summary["portfolio"] - summary["benchmark"]
    factors = pd.DataFrame(
        {
            "factor": data.factor_names,
            "group": groups,
            "factor_move": moves,
            "portfolio_exposure": x_p,
            "benchmark_exposure": x_b,
            "active_exposure": x_p - x_b,
            "portfolio_pnl": c_p,
            "benchmark_pnl": c_b,
            "active_pnl": c_p - c_b,
        }
    )
    return summary, factors


def stress(
    data: FactorModelData | Snapshot | None,
    weights: object,
    shocks: Mapping[str, float] | Iterable[tuple[str, float]],
    propagate: bool = True,
    benchmark: object = None,
) -> StressResult:
    """P&L of the book if the named factors return ``shocks`` (decimals).

    The P&L is the factor P&L of today's exposures, ``x' Δf`` (idiosyncratic returns have
    zero expectation), a decimal of gross exposure, loss negative.

    Parameters
    ----------
    data : FactorModelData, Snapshot or None
        The model; a snapshot is aligned with :func:`~xlfactor.factor_model_data`, None is the
        embedded demo.
    weights : ndarray of shape (n_assets,), Series by ticker, or holdings DataFrame
        The book: decimals of gross in universe order, or a ``ticker, value|allocation``
        table (``value`` holdings also give dollars).
    shocks : mapping of factor id to float, or iterable of (factor id, float)
        Decimal returns of the shocked factors, e.g. ``{"market": -0.10, "momentum": -0.05}``.
    propagate : bool, default True
        True: the other factors move by their conditional expectation given the shocks,
        ``F_rk F_kk^-1 shock``. False: only the named factors move.
    benchmark : ndarray of shape (n_assets,), Series by ticker, or holdings DataFrame, optional
        Benchmark weights; default the cap-weighted universe.

    Returns
    -------
    StressResult
        Portfolio, benchmark and active P&L (decimals of gross; dollars for ``value``
        holdings), by factor group and by factor, and the implied factor moves.

    Raises
    ------
    ScenarioError
        An unknown factor id (the message points to ``OF_FACTORS()``), a shock that is not a
        finite number, or a shock above 100% in magnitude (-10 typed for -10%).
    PortfolioError
        The weights cannot be aligned (unknown tickers in a Series, wrong shape, no holding
        in the universe).

    Examples
    --------
    >>> import xlfactor as xf
    >>> data = xf.factor_model_data()        # the embedded simulated demo
    >>> w = data.benchmark_weights           # the cap-weighted universe
    >>> result = xf.stress(data, w, {"momentum": 0.01}, propagate=False)
    >>> int((result.implied_moves != 0).sum())
    0
    """
    data = as_model(data)
    book = as_book(data, weights)
    b = _benchmark(data, benchmark)
    positions, values = resolve_shocks(data, shocks)
    if propagate:
        moves = conditional_moves(data.factor_covariance, positions, values)
    else:
        moves = np.zeros(len(data.factor_names))
        moves[positions] = values
    summary, factors = _pnl_tables(data, moves, book.weights, b)
    shocked = np.zeros(len(moves), dtype=bool)
    shocked[positions] = True
    factors.insert(2, "shocked", shocked)
    return StressResult(summary=summary, factors=factors, propagate=bool(propagate), gross=book.gross)


# ---------------------------------------------------------------- stored history


def factor_return_history(data: FactorModelData) -> tuple[StrArray, FloatArray]:
    """(dates, returns) of the stored factor-return history in factor order; missing returns count as 0."""
    snapshot = data.snapshot

    def history() -> tuple[StrArray, FloatArray]:
        frame = snapshot.factor_returns.reindex(columns=list(data.factor_names))
        values = frame.to_numpy(dtype=float)
        keep = np.isfinite(values).any(axis=1)  # a day with no factor return at all (the first) is not history
        return frame.index.to_numpy(dtype=str)[keep], np.nan_to_num(values[keep])

    return snapshot.cached("scenario_history", history)


def covered_range(data: FactorModelData) -> tuple[str, str]:
    """First and last date of the stored factor-return history."""
    dates, _ = factor_return_history(data)
    if len(dates) == 0:
        raise ScenarioError("the snapshot stores no factor-return history")
    return str(dates[0]), str(dates[-1])


def iso_date(value: object, name: str = "start") -> str:
    """An ISO date from text, a date or a timestamp; anything else is refused naming ``name``."""
    if isinstance(value, (dt.date, pd.Timestamp)):
        return pd.Timestamp(value).strftime("%Y-%m-%d")
    try:
        return dt.date.fromisoformat(str(value).strip()[:10]).isoformat()
    except ValueError:
        raise ScenarioError(f"`{name}` must be a date (YYYY-MM-DD), got {value!r}") from None


@dataclass(frozen=True, eq=False)
class ReplayResult(_PnlTotals):
    """Today's book through the stored factor returns of a day or window (decimals of gross).

    Totals: ``portfolio_pnl``, ``benchmark_pnl``, ``active_pnl`` (sums of the daily P&L)
    and ``dollars``; ``compounded`` gives the compounded returns.

    Parameters
    ----------
    name : str
        The scenario's name, or ``start to end``.
    start, end : str
        First and last return date replayed (ISO dates, inclusive).
    daily : pandas.DataFrame
        Index ``date``; columns ``portfolio, benchmark, active``: each day's factor P&L.
    summary : pandas.DataFrame
        Index ``market, style, sector, industry, total``; sums over the days by group.
    factors : pandas.DataFrame
        One row per factor: summed factor return, exposures and summed P&L.
    compounded : dict of str to float
        ``portfolio``, ``benchmark``: ``prod(1 + daily) - 1``; ``active``: their difference.
    gross : float or None
        Dollars of gross exposure (``value`` holdings), else None.
    description : str, default ""
        The library's description of the episode.

    Examples
    --------
    >>> import xlfactor as xf
    >>> data = xf.factor_model_data()        # the embedded simulated demo
    >>> w = data.benchmark_weights           # the cap-weighted universe
    >>> day = data.snapshot.factor_returns.index[-1]
    >>> result = xf.replay(data, w, day)
    >>> result.days, result.start == result.end == day
    (1, True)
    """

    name: str
    start: str  # first return date replayed
    end: str  # last return date replayed
    daily: pd.DataFrame  # index date; columns portfolio, benchmark, active (factor P&L of each day)
    summary: pd.DataFrame  # index market, style, sector, industry, total; sums over the days
    factors: pd.DataFrame  # one row per factor: summed return, exposures, summed P&L
    compounded: dict[str, float]  # portfolio, benchmark, active: prod(1 + daily) - 1 (active: difference)
    gross: float | None
    description: str = ""

    @property
    def days(self) -> int:
        """Number of return days replayed.

        Examples
        --------
        >>> import xlfactor as xf
        >>> data = xf.factor_model_data()        # the embedded simulated demo
        >>> w = data.benchmark_weights           # the cap-weighted universe
        >>> dates = data.snapshot.factor_returns.index
        >>> xf.replay(data, w, dates[-5], dates[-1]).days
        5
        """
        return len(self.daily)


def replay(
    data: FactorModelData | Snapshot | None,
    weights: object,
    start: object,
    end: object = None,
    benchmark: object = None,
    name: str = "",
    description: str = "",
) -> ReplayResult:
    """Apply the stored factor returns of ``start`` to ``end`` to today's exposures.

    Each day's P&L is ``x' f_t`` with today's exposures ``x``; the result holds the daily
    rows, their sums by group and factor, and the compounded returns.

    Parameters
    ----------
    data : FactorModelData, Snapshot or None
        The model; a snapshot is aligned with :func:`~xlfactor.factor_model_data`, None is the
        embedded demo.
    weights : ndarray of shape (n_assets,), Series by ticker, or holdings DataFrame
        The book: decimals of gross in universe order, or a ``ticker, value|allocation``
        table (``value`` holdings also give dollars).
    start : str, date or Timestamp
        First return date to replay.
    end : str, date or Timestamp, optional
        Last return date (inclusive); default ``start`` alone.
    benchmark : ndarray of shape (n_assets,), Series by ticker, or holdings DataFrame, optional
        Benchmark weights; default the cap-weighted universe.
    name : str, default ""
        A name for the result (default ``start to end``).
    description : str, default ""
        A description carried into the result.

    Returns
    -------
    ReplayResult
        Daily, summed and compounded P&L, decimals of gross, loss negative.

    Raises
    ------
    ScenarioError
        A date is not a date, ``end`` is before ``start``, or the range holds no stored
        return day (the message gives the covered range).
    PortfolioError
        The weights cannot be aligned (unknown tickers in a Series, wrong shape, no holding
        in the universe).

    Examples
    --------
    >>> import xlfactor as xf
    >>> data = xf.factor_model_data()        # the embedded simulated demo
    >>> w = data.benchmark_weights           # the cap-weighted universe
    >>> dates = data.snapshot.factor_returns.index
    >>> result = xf.replay(data, w, dates[-21], dates[-1])
    >>> result.days, round(result.active_pnl, 12)          # the benchmark against itself
    (21, 0.0)
    """
    data = as_model(data)
    book = as_book(data, weights)
    b = _benchmark(data, benchmark)
    first, last = covered_range(data)
    start_date = iso_date(start, "start")
    end_date = start_date if end is None or (isinstance(end, str) and not end.strip()) else iso_date(end, "end")
    for label, value in (("start", start_date), ("end", end_date)):
        if not first <= value <= last:
            raise ScenarioError(f"replay {label} {value} is outside the stored factor-return history ({first} to {last})")
    if start_date > end_date:
        raise ScenarioError(f"replay start {start_date} is after its end {end_date}")
    dates, returns = factor_return_history(data)
    rows = np.nonzero((dates >= start_date) & (dates <= end_date))[0]
    if len(rows) == 0:
        raise ScenarioError(f"no stored return day between {start_date} and {end_date}")
    window = returns[rows]
    summary, factors = _pnl_tables(data, window.sum(axis=0), book.weights, b)
    factors = factors.rename(columns={"factor_move": "factor_return"})
    x_p, x_b = data.exposures.T @ book.weights, data.exposures.T @ b
    daily = pd.DataFrame({"portfolio": window @ x_p, "benchmark": window @ x_b}, index=pd.Index(dates[rows], name="date"))
    daily["active"] = daily["portfolio"] - daily["benchmark"]
    growth = {k: float(np.prod(1.0 + daily[k].to_numpy()) - 1.0) for k in ("portfolio", "benchmark")}
    growth["active"] = growth["portfolio"] - growth["benchmark"]
    label = name or (start_date if start_date == end_date else f"{start_date} to {end_date}")
    return ReplayResult(
        name=label, start=str(dates[rows[0]]), end=str(dates[rows[-1]]), daily=daily, summary=summary,
        factors=factors, compounded=growth, gross=book.gross, description=description,
    )  # fmt: skip


def daily_pnl(data: FactorModelData | Snapshot | None, weights: object, benchmark: object = None, active: bool = False) -> pd.Series:
    """Factor P&L ``x' f_t`` of today's book on every stored day (daily decimals), indexed by date."""
    data = as_model(data)
    w = as_book(data, weights).weights
    if active:
        w = w - _benchmark(data, benchmark)
    dates, returns = factor_return_history(data)
    return pd.Series(returns @ (data.exposures.T @ w), index=pd.Index(dates, name="date"), name="pnl")


def worst_days(
    data: FactorModelData | Snapshot | None, weights: object, n: int = WORST_DAYS, benchmark: object = None, active: bool = False
) -> pd.DataFrame:
    """The ``n`` stored days with the largest factor loss for this book, worst first.

    Parameters
    ----------
    data : FactorModelData, Snapshot or None
        The model; a snapshot is aligned with :func:`~xlfactor.factor_model_data`, None is the
        embedded demo.
    weights : ndarray of shape (n_assets,), Series by ticker, or holdings DataFrame
        The book: decimals of gross in universe order, or a ``ticker, value|allocation``
        table (``value`` holdings also give dollars).
    n : int, default 5
        How many days.
    benchmark : ndarray of shape (n_assets,), Series by ticker, or holdings DataFrame, optional
        Benchmark weights; default the cap-weighted universe.
    active : bool, default False
        Use the active book (portfolio minus benchmark) instead of the portfolio.

    Returns
    -------
    pandas.DataFrame
        Columns ``rank, date, pnl`` (factor P&L of today's exposures on that day, a decimal
        of gross, loss negative), worst first.

    Raises
    ------
    PortfolioError
        The weights cannot be aligned (unknown tickers in a Series, wrong shape, no holding
        in the universe).

    Examples
    --------
    >>> import xlfactor as xf
    >>> data = xf.factor_model_data()        # the embedded simulated demo
    >>> w = data.benchmark_weights           # the cap-weighted universe
    >>> days = xf.worst_days(data, w, 3)
    >>> days["rank"].tolist(), bool(days["pnl"].is_monotonic_increasing)
    ([1, 2, 3], True)
    """
    pnl = daily_pnl(data, weights, benchmark, active)
    order = np.argsort(pnl.to_numpy(), kind="stable")[: max(int(n), 0)]
    return pd.DataFrame({"rank": np.arange(1, len(order) + 1), "date": pnl.index[order], "pnl": pnl.to_numpy()[order]})


def worst_window(
    data: FactorModelData | Snapshot | None, weights: object, days: int = WINDOW_DAYS, benchmark: object = None, active: bool = False
) -> dict[str, object]:
    """The ``days``-day window of the stored history with the largest summed factor loss.

    Parameters
    ----------
    data : FactorModelData, Snapshot or None
        The model; a snapshot is aligned with :func:`~xlfactor.factor_model_data`, None is the
        embedded demo.
    weights : ndarray of shape (n_assets,), Series by ticker, or holdings DataFrame
        The book: decimals of gross in universe order, or a ``ticker, value|allocation``
        table (``value`` holdings also give dollars).
    days : int, default 21
        Window length in trading days.
    benchmark : ndarray of shape (n_assets,), Series by ticker, or holdings DataFrame, optional
        Benchmark weights; default the cap-weighted universe.
    active : bool, default False
        Use the active book (portfolio minus benchmark) instead of the portfolio.

    Returns
    -------
    dict
        ``start``, ``end`` (ISO dates), ``days``, ``pnl`` (summed daily factor P&L, decimal of
        gross, loss negative) and ``compounded`` (compounded return over the window).

    Raises
    ------
    ScenarioError
        The stored history is shorter than ``days``.
    PortfolioError
        The weights cannot be aligned (unknown tickers in a Series, wrong shape, no holding
        in the universe).

    Examples
    --------
    >>> import xlfactor as xf
    >>> data = xf.factor_model_data()        # the embedded simulated demo
    >>> w = data.benchmark_weights           # the cap-weighted universe
    >>> window = xf.worst_window(data, w, 21)
    >>> window["days"], bool(window["pnl"] < 0)
    (21, True)
    """
    series = daily_pnl(data, weights, benchmark, active)
    pnl, dates = series.to_numpy(), series.index
    length = min(int(days), len(pnl))
    if length < 1:
        raise ScenarioError("the snapshot stores no factor-return history")
    sums = np.convolve(pnl, np.ones(length), mode="valid")
    first = int(np.argmin(sums))
    chosen = pnl[first : first + length]
    return {
        "start": str(dates[first]),
        "end": str(dates[first + length - 1]),
        "days": length,
        "pnl": float(sums[first]),
        "compounded": float(np.prod(1.0 + chosen) - 1.0),
    }


# ---------------------------------------------------------------- scenario library


def scenario_library(data: FactorModelData | Snapshot | None) -> pd.DataFrame:
    """The snapshot's scenario library (``scenarios.csv``): ``name, start, end, description``; empty if none."""
    data = as_model(data)
    library = data.snapshot.scenarios
    if library is None:
        return pd.DataFrame(columns=["name", "start", "end", "description"])
    return library


def find_scenario(data: FactorModelData | Snapshot | None, name: str) -> pd.Series:
    """The library row named ``name`` (case-insensitive); an unknown name lists the names.

    Besides the library, ``worst day 1`` .. ``worst day 5`` and ``worst 21 days`` are
    not names (they depend on the book): use :func:`worst_days` and :func:`worst_window`.
    """
    library = scenario_library(data)
    lowered = library["name"].astype(str).str.strip().str.lower()
    match = library[lowered == str(name).strip().lower()]
    if len(match) == 0:
        names = ", ".join(library["name"].astype(str)) or "none (the snapshot has no scenario library)"
        raise ScenarioError(f"unknown scenario {str(name).strip()!r}; the library has: {names}")
    return match.iloc[0]


def scenario(
    data: FactorModelData | Snapshot | None, weights: object, name_or_start: object, end: object = None, benchmark: object = None
) -> ReplayResult:
    """Replay a library episode by name, or a date range.

    Parameters
    ----------
    data : FactorModelData, Snapshot or None
        The model; a snapshot is aligned with :func:`~xlfactor.factor_model_data`, None is the
        embedded demo.
    weights : ndarray of shape (n_assets,), Series by ticker, or holdings DataFrame
        The book: decimals of gross in universe order, or a ``ticker, value|allocation``
        table (``value`` holdings also give dollars).
    name_or_start : str, date or Timestamp
        A scenario name from the snapshot's library (case-insensitive), or a start date.
    end : str, date or Timestamp, optional
        Last date of a replayed range (default: the start day alone); ignored for a name.
    benchmark : ndarray of shape (n_assets,), Series by ticker, or holdings DataFrame, optional
        Benchmark weights; default the cap-weighted universe.

    Returns
    -------
    ReplayResult
        As :func:`replay`, named after the episode and carrying its description.

    Raises
    ------
    ScenarioError
        An unknown scenario name (the message lists the library) or a bad date range.
    PortfolioError
        The weights cannot be aligned (unknown tickers in a Series, wrong shape, no holding
        in the universe).

    Examples
    --------
    >>> import xlfactor as xf
    >>> data = xf.factor_model_data()        # the embedded simulated demo
    >>> w = data.benchmark_weights           # the cap-weighted universe
    >>> crash = xf.scenario(data, w, "Simulated crash (demo)")   # the demo's library is simulated
    >>> crash.days, crash.portfolio_pnl < 0
    (6, True)
    """
    data = as_model(data)
    if isinstance(name_or_start, (dt.date, pd.Timestamp)) or _looks_like_date(name_or_start):
        return replay(data, weights, name_or_start, end, benchmark)
    row = find_scenario(data, str(name_or_start))
    return replay(data, weights, row["start"], row["end"], benchmark, name=str(row["name"]), description=str(row["description"]))


def _looks_like_date(value: object) -> bool:
    try:
        dt.date.fromisoformat(str(value).strip()[:10])
    except ValueError:
        return False
    return True


SCENARIO_COLUMNS = ["scenario", "kind", "start", "end", "days", "portfolio", "portfolio_compounded", "benchmark", "active", "description"]


def scenario_table(data: FactorModelData | Snapshot | None, weights: object, benchmark: object = None) -> pd.DataFrame:
    """Every library episode replayed on this book, then its worst 21-day window and worst five days.

    Parameters
    ----------
    data : FactorModelData, Snapshot or None
        The model; a snapshot is aligned with :func:`~xlfactor.factor_model_data`, None is the
        embedded demo.
    weights : ndarray of shape (n_assets,), Series by ticker, or holdings DataFrame
        The book: decimals of gross in universe order, or a ``ticker, value|allocation``
        table (``value`` holdings also give dollars).
    benchmark : ndarray of shape (n_assets,), Series by ticker, or holdings DataFrame, optional
        Benchmark weights; default the cap-weighted universe.

    Returns
    -------
    pandas.DataFrame
        One row per scenario: ``scenario, kind`` (library, worst window, worst day),
        ``start, end, days``, summed and compounded portfolio P&L, benchmark and active P&L
        (decimals of gross, loss negative) and ``description``.

    Raises
    ------
    PortfolioError
        The weights cannot be aligned (unknown tickers in a Series, wrong shape, no holding
        in the universe).

    Examples
    --------
    >>> import xlfactor as xf
    >>> data = xf.factor_model_data()        # the embedded simulated demo
    >>> w = data.benchmark_weights           # the cap-weighted universe
    >>> table = xf.scenario_table(data, w)
    >>> table["kind"].value_counts().to_dict()
    {'worst day': 5, 'library': 2, 'worst window': 1}
    """
    data = as_model(data)
    book = as_book(data, weights)
    b = _benchmark(data, benchmark)
    rows = []
    for _, episode in scenario_library(data).iterrows():  # a dozen named episodes
        result = replay(data, book, episode["start"], episode["end"], b, str(episode["name"]), str(episode["description"]))
        rows.append(_scenario_row(result, "library"))
    window = worst_window(data, book, WINDOW_DAYS, b)
    result = replay(data, book, window["start"], window["end"], b, f"worst {window['days']} days",
                    "the worst window of the stored history for this book")  # fmt: skip
    rows.append(_scenario_row(result, "worst window"))
    for _, day in worst_days(data, book, WORST_DAYS, b).iterrows():
        result = replay(data, book, day["date"], None, b, f"worst day {day['rank']}", "one of the worst stored days for this book")
        rows.append(_scenario_row(result, "worst day"))
    return pd.DataFrame(rows, columns=SCENARIO_COLUMNS)


def _scenario_row(result: ReplayResult, kind: str) -> list[object]:
    summary = result.summary.loc["total"]
    return [
        result.name, kind, result.start, result.end, result.days, float(summary["portfolio"]),
        result.compounded["portfolio"], float(summary["benchmark"]), float(summary["active"]), result.description,
    ]  # fmt: skip


# ---------------------------------------------------------------- standard stresses and the Stress sheet


def standard_shocks(data: FactorModelData | Snapshot | None) -> list[tuple[str, dict[str, float]]]:
    """The standard stress set: market +-10%; each sector -10%; each style at -2 and +2 sd over 21 days.

    A style's shock is ``2 x daily volatility x sqrt(21)`` (its annual volatility from
    the model covariance divided by ``sqrt(252)``). All are applied with propagation.
    """
    data = as_model(data)
    out: list[tuple[str, dict[str, float]]] = []
    if MARKET_FACTOR in data.factor_names:
        out += [("market -10%", {MARKET_FACTOR: -0.10}), ("market +10%", {MARKET_FACTOR: 0.10})]
    volatility = np.sqrt(np.diag(data.factor_covariance) / TRADING_DAYS_PER_YEAR) * math.sqrt(WINDOW_DAYS)
    for factor, group, sd in zip(data.factor_names, data.factor_groups, volatility):
        if group == "sector":
            out.append((f"{factor} -10%", {str(factor): -0.10}))
    for factor, group, sd in zip(data.factor_names, data.factor_groups, volatility):
        if group == "style":
            shock = min(STYLE_SHOCK_SD * float(sd), MAX_SHOCK)
            out += [(f"{factor} -2 sd (21d)", {str(factor): -shock}), (f"{factor} +2 sd (21d)", {str(factor): shock})]
    return out


STRESS_COLUMNS = ["scenario", "kind", "start", "end", "portfolio", "benchmark", "active", "description"]


def stress_table(data: FactorModelData | Snapshot | None, weights: object, benchmark: object = None) -> pd.DataFrame:
    """The Stress sheet's table: the standard shocks, every library episode and the worst five days.

    Columns ``scenario, kind`` (standard / library / worst day), ``start, end`` (blank for
    shocks), ``portfolio, benchmark, active`` (factor P&L, decimal of gross; episodes
    summed over their days) and ``description``.
    """
    data = as_model(data)
    book = as_book(data, weights)
    b = _benchmark(data, benchmark)
    rows: list[list[object]] = []
    for name, shocks in standard_shocks(data):  # a few dozen shocks, each a small solve
        result = stress(data, book, shocks, True, b)
        move = ", ".join(f"{k} {v:+.2%}" for k, v in shocks.items())
        rows.append([name, "standard", "", "", result.portfolio_pnl, result.benchmark_pnl, result.active_pnl,
                     f"{move}, other factors by their conditional expectation"])  # fmt: skip
    table = scenario_table(data, book, b)
    keep = table[table["kind"].isin(["library", "worst day"])]
    for _, row in keep.iterrows():
        rows.append([row["scenario"], row["kind"], row["start"], row["end"], row["portfolio"], row["benchmark"], row["active"], row["description"]])
    return pd.DataFrame(rows, columns=STRESS_COLUMNS)


def worst_scenarios(table: pd.DataFrame, n: int = 10) -> pd.DataFrame:
    """The ``n`` rows of a stress table with the largest portfolio loss, worst first."""
    order = np.argsort(table["portfolio"].to_numpy(dtype=float), kind="stable")[:n]
    return table.iloc[order].reset_index(drop=True)


# ---------------------------------------------------------------- historical-simulation VaR


@dataclass(frozen=True, eq=False)
class HistoricalVaR:
    """Historical-simulation VaR and expected shortfall next to the parametric ones.

    All four figures are positive loss fractions of gross exposure at the horizon.

    Parameters
    ----------
    confidence : float
        Confidence level, e.g. 0.99.
    horizon_days : float
        Horizon in trading days.
    var : float
        Historical-simulation VaR.
    expected_shortfall : float
        Mean simulated loss at or beyond ``var``.
    parametric_var : float
        Normal VaR of the model's risk forecast for the horizon.
    parametric_expected_shortfall : float
        Normal expected shortfall of the same forecast.
    factor_days : int
        Stored factor-return days used.
    residual_days : int
        Stored residual days the bootstrap draws from.
    draws : int
        Simulated outcomes.
    active : bool
        Whether the figures are of the active book.
    losses : ndarray of shape (draws,)
        The simulated losses at the horizon (positive = loss).

    Examples
    --------
    >>> import xlfactor as xf
    >>> data = xf.factor_model_data()        # the embedded simulated demo
    >>> w = data.benchmark_weights           # the cap-weighted universe
    >>> h = xf.historical_var(data, w, 0.99, horizon_days=10)
    >>> h.draws == h.factor_days * 50, h.expected_shortfall >= h.var
    (True, True)
    """

    confidence: float
    horizon_days: float
    var: float  # historical-simulation VaR
    expected_shortfall: float  # mean loss at or beyond it
    parametric_var: float  # normal VaR of the model risk
    parametric_expected_shortfall: float
    factor_days: int  # stored factor-return days
    residual_days: int  # stored residual days the bootstrap draws from
    draws: int  # simulated outcomes
    active: bool
    losses: FloatArray = field(repr=False)  # (draws,) the simulated losses at the horizon

    @property
    def ratio(self) -> float:
        """Historical over parametric VaR (above 1: fatter tails than the normal model).

        Examples
        --------
        >>> import xlfactor as xf
        >>> data = xf.factor_model_data()        # the embedded simulated demo
        >>> w = data.benchmark_weights           # the cap-weighted universe
        >>> h = xf.historical_var(data, w, 0.99)
        >>> bool(h.ratio == h.var / h.parametric_var)
        True
        """
        return self.var / self.parametric_var if self.parametric_var > 0 else math.nan

    @property
    def es_ratio(self) -> float:
        """Historical over parametric expected shortfall.

        Examples
        --------
        >>> import xlfactor as xf
        >>> data = xf.factor_model_data()        # the embedded simulated demo
        >>> w = data.benchmark_weights           # the cap-weighted universe
        >>> h = xf.historical_var(data, w, 0.99)
        >>> bool(h.es_ratio == h.expected_shortfall / h.parametric_expected_shortfall)
        True
        """
        return self.expected_shortfall / self.parametric_expected_shortfall if self.parametric_expected_shortfall > 0 else math.nan


def residual_pnl_history(data: FactorModelData, weights: FloatArray) -> FloatArray:
    """Idiosyncratic P&L ``w' e_s`` of each stored residual day (names without a residual that day count 0)."""
    snapshot = data.snapshot

    def residuals() -> FloatArray:
        frame = snapshot.residual_returns.reindex(columns=list(data.tickers))
        values = frame.to_numpy(dtype=float)
        keep = np.isfinite(values).any(axis=1)
        return np.nan_to_num(values[keep])

    return snapshot.cached("scenario_residuals", residuals) @ weights


def historical_var(
    data: FactorModelData | Snapshot | None,
    weights: object,
    confidence: float = 0.95,
    horizon_days: float = 1,
    active: bool = False,
    benchmark: object = None,
    residual_draws: int = RESIDUAL_DRAWS,
    seed: int = BOOTSTRAP_SEED,
) -> HistoricalVaR:
    """Historical-simulation VaR and expected shortfall of today's book.

    Each stored factor-return day ``t`` gives the factor P&L ``x' f_t`` of today's
    exposures; to it are added ``residual_draws`` idiosyncratic P&Ls ``w' e_s`` of stored
    residual days ``s`` drawn with replacement (a bootstrap of the names' residuals,
    independent of the factor day). VaR is the ``confidence`` quantile of the loss
    (``numpy.quantile``, linear), expected shortfall the mean loss at or beyond it; both
    scale with ``sqrt(horizon_days)`` like the parametric VaR shown next to them.

    Parameters
    ----------
    data : FactorModelData, Snapshot or None
        The model; a snapshot is aligned with :func:`~xlfactor.factor_model_data`, None is the
        embedded demo.
    weights : ndarray of shape (n_assets,), Series by ticker, or holdings DataFrame
        The book: decimals of gross in universe order, or a ``ticker, value|allocation``
        table (``value`` holdings also give dollars).
    confidence : float, default 0.95
        Confidence level, strictly between 0 and 1.
    horizon_days : float, default 1
        Horizon in trading days, positive.
    active : bool, default False
        Use the active book (portfolio minus benchmark) instead of the portfolio.
    benchmark : ndarray of shape (n_assets,), Series by ticker, or holdings DataFrame, optional
        Benchmark weights; default the cap-weighted universe.
    residual_draws : int, default 50
        Idiosyncratic draws per factor day.
    seed : int, default 12
        Seed of the bootstrap: the same book and snapshot always give the same VaR.

    Returns
    -------
    HistoricalVaR
        Historical and parametric VaR and expected shortfall, positive loss fractions of
        gross (of the active book with ``active=True``).

    Raises
    ------
    ScenarioError
        The snapshot stores no factor-return history.
    PortfolioError
        ``confidence`` or ``horizon_days`` is out of range, or the weights cannot be aligned.

    Examples
    --------
    >>> import xlfactor as xf
    >>> data = xf.factor_model_data()        # the embedded simulated demo
    >>> w = data.benchmark_weights           # the cap-weighted universe
    >>> h = xf.historical_var(data, w, 0.99)
    >>> h.var > 0 and h.parametric_var > 0
    True
    """
    data = as_model(data)
    check_confidence(confidence)
    check_horizon(horizon_days)
    w = as_book(data, weights).weights
    if active:
        w = w - _benchmark(data, benchmark)
    _, returns = factor_return_history(data)
    if len(returns) == 0:
        raise ScenarioError("the snapshot stores no factor-return history: historical VaR is unavailable")
    factor = returns @ (data.exposures.T @ w)
    residual = residual_pnl_history(data, w)
    if len(residual) and residual_draws > 0:
        picks = np.random.default_rng(seed).integers(0, len(residual), size=(len(factor), int(residual_draws)))
        outcomes = (factor[:, None] + residual[picks]).ravel()
    else:
        outcomes = factor
    losses = -outcomes * math.sqrt(horizon_days)
    var = float(np.quantile(losses, confidence))
    tail = losses[losses >= var]
    risk = data.horizon_risk(w, horizon_days)  # the model forecast of this horizon (one-day at 1 day)
    return HistoricalVaR(
        confidence=float(confidence), horizon_days=float(horizon_days), var=var,
        expected_shortfall=float(tail.mean()) if len(tail) else var,
        parametric_var=dec.parametric_var(risk, confidence, horizon_days),
        parametric_expected_shortfall=dec.parametric_expected_shortfall(risk, confidence, horizon_days),
        factor_days=len(factor), residual_days=len(residual), draws=len(outcomes), active=bool(active), losses=losses,
    )  # fmt: skip
