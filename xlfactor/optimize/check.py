"""The limits layer: check a book (and a trade list) against its limits, and what-if figures before and after trades.

The lecture's pre-trade check: take the trades the fund wants to make, compute the new
book's exposures and risk, and check each against a pre-defined range.

Conventions (see :mod:`xlfactor.optimize.limits`): weights are decimals of the book's
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
from xlfactor.optimize.limits import (
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

CHECK_COLUMNS = ["row", "limit", "name", "min", "max", "before", "at_before", "breach_before", "after", "at_after", "breach"]


@dataclass(frozen=True, eq=False)
class BookSetup:
    """A book aligned to the positions' model, with its benchmark and capital base."""

    model: PositionModel
    start: FloatArray  # (n_positions,) current weights, decimals of the capital base
    benchmark: FloatArray  # (n_assets,) benchmark weights
    capital: float | None  # the book's gross in dollars (None for an allocation book)
    missing: pd.DataFrame  # ticker, amount, weight of holdings treated as cash
    holdings: Holdings


def _tickers_of(frame: pd.DataFrame | None) -> list[str]:
    if frame is None or not isinstance(frame, pd.DataFrame):
        return []
    columns = {str(c).strip().lower(): c for c in frame.columns}
    column = columns.get("ticker")
    return [] if column is None else [str(t).strip().upper() for t in frame[column].dropna()]


def instruments_named(data: FactorModelData, *frames: pd.DataFrame | None, limits=None, extra: list[str] | None = None) -> list[str]:
    """Index/ETF tickers (outside the universe) named by the frames, the limits' weight rows or ``extra``."""
    etfs = set(index_tickers(data))
    if not etfs:
        return []
    named = [t for f in frames for t in _tickers_of(f)] + list(extra or [])
    found = [t for t in dict.fromkeys(str(n).strip().upper() for n in named) if t in etfs and t not in data.ticker_index]
    return list(dict.fromkeys(found + limit_instruments(data, limits)))


def book_setup(data: FactorModelData, portfolio: pd.DataFrame, instruments: list[str], benchmark: pd.DataFrame | None = None) -> BookSetup:
    """Align ``portfolio`` (``ticker`` + ``value`` or ``allocation``) to the universe plus ``instruments``.

    Raises
    ------
    PortfolioError
        Unusable holdings (see :func:`xlfactor.risk.holdings.holdings_from_frame`), or no holding priced.
    """
    model = position_model(data, instruments)
    universe = str(getattr(data.snapshot, "metadata", {}).get("universe", "")) if data.snapshot is not None else ""
    holdings = holdings_from_frame(portfolio, "portfolio")
    held = align(holdings, model.ticker_index, "portfolio", universe)
    if benchmark is None:
        b = np.asarray(data.benchmark_weights, dtype=float)
    else:
        b = align(holdings_from_frame(benchmark, "benchmark"), data.ticker_index, "benchmark", universe).weights
    capital = float(np.abs(holdings.amounts).sum()) if holdings.kind == "value" else None
    return BookSetup(model, held.weights, b, capital, held.missing, holdings)


def trade_vector(setup: BookSetup, trades: pd.DataFrame) -> tuple[FloatArray, pd.DataFrame]:
    """``(change of weights (n_positions,), trades outside the positions)`` of a trade list.

    Raises
    ------
    PortfolioError
        Dollar trades on an allocation book, or an unusable trade list.
    """
    parsed = holdings_from_frame(trades, "trades")
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
    missing = pd.DataFrame({"ticker": parsed.tickers[~found], "amount": parsed.amounts[~found], "weight": change[~found]})
    return vector, missing


def check_table(setup: BookSetup, limits: list[Limit], before: BookMeasures, after: BookMeasures) -> pd.DataFrame:
    """One row per limit: value before and after (the worst element for a group row), bounds and breaches."""
    rows = []
    for limit in limits:
        labels = element_labels(setup.model, limit)
        value_before, at_before, breach_before = worst_element(limit, before, labels)
        value_after, at_after, breach_after = worst_element(limit, after, labels)
        rows.append([limit.row, limit.kind.value, limit.name,
                     limit.lower if math.isfinite(limit.lower) else math.nan,
                     limit.upper if math.isfinite(limit.upper) else math.nan,
                     value_before, at_before, breach_before, value_after, at_after, breach_after])  # fmt: skip
    return pd.DataFrame(rows, columns=CHECK_COLUMNS)


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
        ``limit, name, min, max`` (see :mod:`xlfactor.optimize.limits` for the kinds).
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
    """
    instruments = instruments_named(data, portfolio, trades, limits=limits)
    setup = book_setup(data, portfolio, instruments, benchmark)
    parsed = parse_limits(setup.model, limits)
    coefficients = beta_coefficients(setup.model, setup.benchmark)
    before = measure(setup.model, setup.start, setup.start, setup.benchmark, coefficients)
    missing = setup.missing
    if trades is None:
        after = before
    else:
        change, outside = trade_vector(setup, trades)
        after = measure(setup.model, setup.start + change, setup.start, setup.benchmark, coefficients)
        missing = pd.concat([missing, outside], ignore_index=True)
    table = check_table(setup, parsed, before, after)
    table.attrs["missing"] = missing
    return table


@dataclass(frozen=True, eq=False)
class WhatIf:
    """Headline figures and factor exposures of a book before and after a trade list."""

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

    Returns
    -------
    WhatIf
        ``summary`` rows ``total_risk, tracking_error, factor_risk, idiosyncratic_risk,
        factor_share, beta, gross, net, long, short, names, instruments, turnover``;
        ``exposures`` one row per factor (``active_...`` against the benchmark).
    """
    setup = book_setup(data, portfolio, instruments_named(data, portfolio, trades), benchmark)
    change, outside = trade_vector(setup, trades)
    coefficients = beta_coefficients(setup.model, setup.benchmark)
    before = measure(setup.model, setup.start, setup.start, setup.benchmark, coefficients)
    after = measure(setup.model, setup.start + change, setup.start, setup.benchmark, coefficients)
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
