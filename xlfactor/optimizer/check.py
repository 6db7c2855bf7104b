"""The limits layer: check a book (and a trade list) against its limits, and what-if figures before and after trades.

The lecture's pre-trade check: take the trades the fund wants to make, compute the new
book's exposures and risk, and check each against a pre-defined range.

Conventions (see :mod:`xlfactor.optimizer.limits`): weights are decimals of the book's
gross before the trades (a ``value`` book: dollars over its gross; an ``allocation`` book:
weights as given). A trade list is ``ticker, value`` (dollars, negative sells; needs a
book in dollars) or ``ticker, allocation`` (decimals of the book's gross). Index/ETF
tickers of the snapshot (``SPY``, sector SPDRs...) in the book, the trades or the limits
are priced as instruments with their estimated exposures; any other ticker outside the
universe is cash, as in the report, and listed in ``missing``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from xlfactor._typing import FloatArray
from xlfactor.errors import PortfolioError
from xlfactor.optimizer.limits import (
    BookMeasures,
    Limit,
    PositionModel,
    beta_coefficients,
    element_labels,
    index_tickers,
    limit_instruments,
    measure,
    parse_limits,
    position_model,
    worst_element,
)
from xlfactor.risk.holdings import Holdings, align, holdings_from_frame
from xlfactor.risk.model_data import FactorModelData
from xlfactor.snapshot.memo import memo

CHECK_COLUMNS = ["row", "limit", "name", "min", "max", "before", "at_before", "breach_before", "after", "at_after", "breach"]


class _ByIdentity:
    """A :func:`~xlfactor.snapshot.memo.memo` keyed on object identities (the project's one cache policy).

    The objects are kept with the value, so their ids cannot be reused by new objects while
    the entry lives, and a hit is checked to be the very same objects.
    """

    def __init__(self, name: str, maxsize: int) -> None:
        self.memo = memo(name, maxsize)

    def get(self, refs: tuple, extra: object, compute):
        """The value for ``refs`` (by identity) and ``extra`` (by value), computed once."""
        key = (*map(id, refs), extra)
        held = self.memo.get_or_compute(key, lambda: (refs, compute()), lambda v: all(a is b for a, b in zip(v[0], refs)))
        return held[1]


_MODELS = _ByIdentity("optimize position models", 16)
_LIMITS = _ByIdentity("optimize parsed limits", 64)
_ALIGNED = _ByIdentity("optimize aligned books", 64)
_BENCHMARKS = _ByIdentity("optimize benchmarks", 32)
_ETFS = _ByIdentity("optimize ETF tickers", 16)
_INSTRUMENTS = _ByIdentity("optimize instruments", 64)


@dataclass(frozen=True, eq=False)
class BookSetup:
    """A book aligned to the positions' model, with its benchmark and capital base."""

    model: PositionModel
    start: FloatArray  # (n_positions,) current weights, decimals of the capital base
    benchmark: FloatArray  # (n_assets,) benchmark weights
    beta: FloatArray  # (n_positions,) beta coefficients V b / b'Vb
    benchmark_exposure: FloatArray  # (n_factors,) X'b
    capital: float | None  # the book's gross in dollars (None for an allocation book)
    missing: pd.DataFrame  # ticker, amount, weight of holdings treated as cash
    holdings: Holdings


def etf_tickers(data: FactorModelData) -> frozenset[str]:
    """The index/ETF tickers outside the universe that the snapshot can price as instruments (memoized)."""
    return _ETFS.get((data,), None, lambda: frozenset(t for t in index_tickers(data) if t not in data.ticker_index))


def instruments_named(data: FactorModelData, *frames: pd.DataFrame | Holdings | None, limits=None,
                      extra: list[str] | None = None) -> list[str]:  # fmt: skip
    """Index/ETF tickers (outside the universe) named by the holdings or frames, the limits' weight rows or ``extra``."""
    etfs = etf_tickers(data)
    if not etfs:
        return []
    named: list[str] = [str(n).strip().upper() for n in (extra or [])]
    for frame in frames:
        if isinstance(frame, Holdings):
            named += sorted(etfs.intersection(frame.tickers.tolist()))
        elif isinstance(frame, pd.DataFrame):
            columns = {str(c).strip().lower(): c for c in frame.columns}
            if "ticker" in columns:
                named += sorted(etfs.intersection(str(t).strip().upper() for t in frame[columns["ticker"]].dropna()))
    found = [t for t in named if t in etfs]
    return list(dict.fromkeys(found + limit_instruments(data, limits)))


def model_for(data: FactorModelData, instruments: list[str]) -> PositionModel:
    """:func:`position_model`, memoized on the model data and the instruments."""
    return _MODELS.get((data,), tuple(instruments), lambda: position_model(data, instruments))


def limits_for(model: PositionModel, limits) -> list[Limit]:
    """:func:`parse_limits` memoized on the rows' contents (a list of rows; a frame is parsed each time)."""
    if isinstance(limits, pd.DataFrame) or limits is None:
        return parse_limits(model, limits)
    key = limits if isinstance(limits, tuple) else tuple(tuple(r) for r in limits)
    return _LIMITS.get((model,), key, lambda: parse_limits(model, limits))


def _holdings(value: pd.DataFrame | Holdings, name: str) -> Holdings:
    return value if isinstance(value, Holdings) else holdings_from_frame(value, name)


def _universe_name(data: FactorModelData) -> str:
    return str(data.snapshot.metadata.get("universe", "")) if data.snapshot is not None else ""


def book_setup(data: FactorModelData, portfolio: pd.DataFrame | Holdings, instruments: list[str],
               benchmark: pd.DataFrame | Holdings | None = None) -> BookSetup:  # fmt: skip
    """Align ``portfolio`` (``ticker`` + ``value`` or ``allocation``, or parsed holdings) to the universe plus ``instruments``.

    Raises
    ------
    PortfolioError
        Unusable holdings (see :func:`xlfactor.risk.holdings.holdings_from_frame`), or no holding priced.
    """
    model = model_for(data, instruments)
    holdings = _holdings(portfolio, "portfolio")
    held = _ALIGNED.get((model, holdings), None, lambda: align(holdings, model.ticker_index, "portfolio", _universe_name(data)))

    def bench() -> tuple[FloatArray, FloatArray, FloatArray]:
        if benchmark is None:
            b = np.asarray(data.benchmark_weights, dtype=float)
        else:
            b = align(_holdings(benchmark, "benchmark"), data.ticker_index, "benchmark", _universe_name(data)).weights
        return b, beta_coefficients(model, b), data.exposures.T @ b

    b, beta, xb = _BENCHMARKS.get((model, benchmark), None, bench) if isinstance(benchmark, Holdings) or benchmark is None else bench()
    capital = float(np.abs(holdings.amounts).sum()) if holdings.kind == "value" else None
    return BookSetup(model, held.weights, b, beta, xb, capital, held.missing, holdings)


def trade_vector(setup: BookSetup, trades: pd.DataFrame | Holdings) -> tuple[FloatArray, pd.DataFrame]:
    """``(change of weights (n_positions,), trades outside the positions)`` of a trade list.

    Raises
    ------
    PortfolioError
        Dollar trades on an allocation book, or an unusable trade list.
    """
    parsed = _holdings(trades, "trades")
    if parsed.kind == "value":
        if setup.capital is None:
            raise PortfolioError("trades in dollars (value) need a book in dollars; give the trades as allocation")
        change = parsed.amounts / setup.capital
    else:
        change = parsed.amounts
    rows = setup.model.ticker_index.get_indexer(parsed.tickers)
    found = rows >= 0
    vector = np.zeros(len(setup.model.tickers))
    np.add.at(vector, rows[found], change[found])
    missing = _EMPTY_MISSING if found.all() else \
        pd.DataFrame({"ticker": parsed.tickers[~found], "amount": parsed.amounts[~found], "weight": change[~found]})  # fmt: skip
    return vector, missing


_EMPTY_MISSING = pd.DataFrame({"ticker": [], "amount": [], "weight": []})


def check_rows(setup: BookSetup, limits: list[Limit], before: BookMeasures, after: BookMeasures) -> list[list[object]]:
    """One row per limit (:data:`CHECK_COLUMNS`): value before and after (the worst element of a group row), bounds, breaches."""
    rows = []
    for limit in limits:
        labels = element_labels(setup.model, limit)
        value_before, at_before, breach_before = worst_element(limit, before, labels)
        value_after, at_after, breach_after = (value_before, at_before, breach_before) if after is before \
            else worst_element(limit, after, labels)  # fmt: skip
        rows.append([limit.row, limit.kind.value, limit.name,
                     limit.lower if math.isfinite(limit.lower) else math.nan,
                     limit.upper if math.isfinite(limit.upper) else math.nan,
                     value_before, at_before, breach_before, value_after, at_after, breach_after])  # fmt: skip
    return rows


def check_table(setup: BookSetup, limits: list[Limit], before: BookMeasures, after: BookMeasures) -> pd.DataFrame:
    """:func:`check_rows` as a frame."""
    return pd.DataFrame(check_rows(setup, limits, before, after), columns=CHECK_COLUMNS)


def check_holdings(
    data: FactorModelData,
    portfolio: pd.DataFrame | Holdings,
    limits,
    trades: pd.DataFrame | Holdings | None = None,
    benchmark: pd.DataFrame | Holdings | None = None,
) -> tuple[list[list[object]], pd.DataFrame]:
    """The rows of :func:`check_limits` and the tickers treated as cash (what the worksheet function calls)."""
    if isinstance(limits, (list, tuple)) and isinstance(portfolio, Holdings) and (trades is None or isinstance(trades, Holdings)):
        # parsed ranges are memoized objects: their identity is their content; the rows key themselves
        key = limits if isinstance(limits, tuple) else tuple(tuple(r) for r in limits)
        instruments = _INSTRUMENTS.get((data, portfolio, trades), key, lambda: instruments_named(data, portfolio, trades, limits=limits))
    else:
        instruments = instruments_named(data, portfolio, trades, limits=limits)
    setup = book_setup(data, portfolio, instruments, benchmark)
    parsed = limits_for(setup.model, limits)
    before = measure(setup.model, setup.start, setup.start, setup.benchmark, setup.beta, setup.benchmark_exposure)
    missing = setup.missing
    if trades is None:
        after = before
    else:
        change, outside = trade_vector(setup, trades)
        after = measure(setup.model, setup.start + change, setup.start, setup.benchmark, setup.beta, setup.benchmark_exposure)
        if len(outside):
            missing = pd.concat([missing, outside], ignore_index=True)
    return check_rows(setup, parsed, before, after), missing


def check_limits(
    data: FactorModelData,
    portfolio: pd.DataFrame,
    limits: pd.DataFrame | list,
    trades: pd.DataFrame | None = None,
    benchmark: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Check a book, before and after a trade list, against a limits table.

    Parameters
    ----------
    data : FactorModelData
        The model (``xf.factor_model_data(snapshot)``).
    portfolio : DataFrame
        ``ticker`` and ``value`` (dollars) or ``allocation`` (weights).
    limits : DataFrame or list of rows
        ``limit, name, min, max`` (see :mod:`xlfactor.optimizer.limits` for the kinds).
    trades : DataFrame, optional
        ``ticker, value`` (dollars, negative sells) or ``ticker, allocation``; without
        it the columns after equal those before.
    benchmark : DataFrame, optional
        Benchmark holdings; default the cap-weighted universe.

    Returns
    -------
    DataFrame
        Columns ``row, limit, name, min, max, before, at_before, breach_before, after,
        at_after, breach`` (``at_...``: the element of a group row nearest to or past its
        bounds; ``breach``: after the trades). ``attrs["missing"]`` lists the tickers
        treated as cash.

    Raises
    ------
    LimitsError
        A row with an unknown kind, factor or ticker, or a min above its max.

    Examples
    --------
    >>> import pandas as pd
    >>> import xlfactor as xf
    >>> data = xf.factor_model_data()
    >>> book = pd.DataFrame({"ticker": data.tickers[:20], "value": 1_000.0})   # 5% each
    >>> limits = pd.DataFrame({"limit": ["tracking_error", "weight"], "name": ["", "*"],
    ...                        "min": [None, 0.0], "max": [0.05, 0.06]})
    >>> table = xf.check_limits(data, book, limits)
    >>> table[["limit", "breach_before"]].values.tolist()
    [['tracking_error', True], ['weight', False]]
    """
    rows, missing = check_holdings(data, portfolio, limits, trades, benchmark)
    table = pd.DataFrame(rows, columns=CHECK_COLUMNS)
    table.attrs["missing"] = missing
    return table


@dataclass(frozen=True, eq=False)
class WhatIf:
    """Headline figures and factor exposures of a book before and after a trade list.

    Parameters
    ----------
    summary : DataFrame
        Index ``metric`` (``total_risk, tracking_error, factor_risk, idiosyncratic_risk``:
        annualized decimals; ``factor_share``; ``beta``; ``gross, net, long, short``: decimals of
        the book's gross before the trades; ``names, instruments``: counts; ``turnover``: one-way,
        a decimal of gross), columns ``before, after, change``.
    exposures : DataFrame
        One row per factor: ``factor, group, before, after, change, active_before, active_after``
        (exposures ``X'w``; ``active_...`` against the benchmark).
    missing : DataFrame
        ``ticker, amount, weight`` of holdings and trades outside the universe, treated as cash.

    Examples
    --------
    >>> import pandas as pd
    >>> import xlfactor as xf
    >>> data = xf.factor_model_data()
    >>> book = pd.DataFrame({"ticker": data.tickers[:20], "value": 1_000.0})
    >>> trades = pd.DataFrame({"ticker": [data.tickers[0], data.tickers[20]], "value": [-500.0, 500.0]})
    >>> xf.what_if(data, book, trades).summary.loc[["names", "turnover"], ["before", "after"]].values.tolist()
    [[20.0, 21.0], [0.0, 0.025]]
    """

    summary: pd.DataFrame  # index metric; columns before, after, change
    exposures: pd.DataFrame  # factor, group, before, after, change, active_before, active_after
    missing: pd.DataFrame  # ticker, amount, weight treated as cash (book and trades)


def headline(m: BookMeasures, n_assets: int) -> dict[str, float]:
    """The what-if headline figures of one measured book (annualized decimals; weights of the capital base)."""
    total = m.factor_variance + m.idiosyncratic_variance
    w = m.weights
    return {
        "total_risk": math.sqrt(total),
        "tracking_error": math.sqrt(m.active_variance),
        "factor_risk": math.sqrt(m.factor_variance),
        "idiosyncratic_risk": math.sqrt(m.idiosyncratic_variance),
        "factor_share": m.factor_variance / total if total > 0 else math.nan,
        "beta": m.beta,
        "gross": float(np.abs(w).sum()),
        "net": float(w.sum()),
        "long": float(w[w > 0].sum()),
        "short": float(w[w < 0].sum()),
        "names": float((np.abs(w) > 1e-9).sum()),
        "instruments": float((np.abs(w[n_assets:]) > 1e-9).sum()),
        "turnover": m.turnover,
    }


def what_if(data: FactorModelData, portfolio: pd.DataFrame, trades: pd.DataFrame, benchmark: pd.DataFrame | None = None) -> WhatIf:
    """Headline figures and factor exposures before and after ``trades`` (see the module docstring).

    Parameters
    ----------
    data : FactorModelData
        The model (``xf.factor_model_data(snapshot)``).
    portfolio : DataFrame
        ``ticker`` and ``value`` (dollars) or ``allocation`` (weights).
    trades : DataFrame
        ``ticker, value`` (dollars, negative sells) or ``ticker, allocation`` (decimals of the
        book's gross).
    benchmark : DataFrame, optional
        Benchmark holdings; default the cap-weighted universe.

    Returns
    -------
    WhatIf
        ``summary`` rows ``total_risk, tracking_error, factor_risk, idiosyncratic_risk,
        factor_share, beta, gross, net, long, short, names, instruments, turnover``;
        ``exposures`` one row per factor (``active_...`` against the benchmark).

    Raises
    ------
    PortfolioError
        The book or the trade list is unusable (no usable column, no holding in the universe).

    Examples
    --------
    >>> import pandas as pd
    >>> import xlfactor as xf
    >>> data = xf.factor_model_data()
    >>> book = pd.DataFrame({"ticker": data.tickers[:20], "value": 1_000.0})
    >>> sell_half = pd.DataFrame({"ticker": data.tickers[:20], "value": -500.0})
    >>> figures = xf.what_if(data, book, sell_half).summary
    >>> float(figures.loc["gross", "after"]), round(float(figures.loc["turnover", "after"]), 12)   # one-way: max(buys, sells)
    (0.5, 0.5)
    """
    setup = book_setup(data, portfolio, instruments_named(data, portfolio, trades), benchmark)
    change, outside = trade_vector(setup, trades)
    before = measure(setup.model, setup.start, setup.start, setup.benchmark, setup.beta, setup.benchmark_exposure)
    after = measure(setup.model, setup.start + change, setup.start, setup.benchmark, setup.beta, setup.benchmark_exposure)
    n = setup.model.n_assets
    summary = pd.DataFrame({"before": headline(before, n), "after": headline(after, n)})
    summary["change"] = summary["after"] - summary["before"]
    summary.index.name = "metric"
    exposures = pd.DataFrame(
        {
            "factor": data.factor_names,
            "group": data.factor_groups,
            "before": before.exposure,
            "after": after.exposure,
            "change": after.exposure - before.exposure,
            "active_before": before.active_exposure,
            "active_after": after.active_exposure,
        }
    )
    return WhatIf(summary, exposures, pd.concat([setup.missing, outside], ignore_index=True))
