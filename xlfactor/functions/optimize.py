"""Worksheet functions from risk to trades: the limits check, what-if figures and the optimizer.

Each body is argument parsing plus one call into :mod:`xlfactor.optimizer`. Limits are a
range with the header ``limit, name, min, max``; trades a range ``ticker, value`` (dollars)
or, with the header ``allocation``, decimals of the book's gross. Weights are decimals of
the book's gross before the trades.
"""

from __future__ import annotations

import math

import pandas as pd

from xlfactor.errors import UnknownTickersError, XlfactorError
from xlfactor.functions.catalog import register_arguments, snapshot_model_data, worksheet_function
from xlfactor.functions.ranges import as_rows, is_blank, optional_flag, optional_text, parse_holdings_range, table, text_list
from xlfactor.optimizer import optimize, what_if
from xlfactor.optimizer.check import CHECK_COLUMNS as CHECK_HEADER
from xlfactor.optimizer.check import check_holdings
from xlfactor.snapshot.memo import memo

register_arguments(
    {
        "limits": "Range with the header limit, name, min, max: one limit per row (weight, exposure, active_exposure, tracking_error, ...).",
        "trades": "Two-column range: ticker, value (dollars, negative sells); header 'allocation' means decimals of the book's gross.",
        "alpha": "Two-column range: ticker, expected annual return (decimal), for the alpha objective.",
        "candidates": "Range of tickers that may be traded; default every universe name (and instruments named in limits).",
    },
    ranges=("limits", "trades", "alpha", "candidates"),
)

_LIMITS = memo("limits ranges", 64)


def _limits(value: object) -> tuple[tuple[object, ...], ...]:
    """The rows of a limits range as a tuple of tuples, the same object for the same contents (memoized)."""
    key = tuple(tuple(r) for r in as_rows(value) if not all(is_blank(c) for c in r))
    if not key:
        raise XlfactorError("limits is empty: give a range with the header limit, name, min, max")
    return _LIMITS.get_or_compute(key, lambda: key)  # the same tuple object for the same contents


def _context(holdings, snapshot, as_of, ignore_unknown, benchmark=None):
    """(model data, parsed holdings, parsed benchmark or None, ignore flag): the parsed ranges are memoized."""
    data = snapshot_model_data(snapshot, as_of)
    portfolio = parse_holdings_range(holdings, "holdings")
    bench = None if benchmark is None or not text_list(benchmark) else parse_holdings_range(benchmark, "benchmark")
    return data, portfolio, bench, optional_flag(ignore_unknown, "ignore_unknown")


TICKER_HEADERS = ("ticker", "symbol", "candidates", "candidate")


def _cell_text(cell: object) -> str:
    """A ticker cell as text (a whole number Excel made of a ticker, such as 700, as ``700``)."""
    if isinstance(cell, float) and cell.is_integer():
        return str(int(cell))
    return str(cell).strip()


def _number(cell: object) -> float | None:
    """The cell as a finite number, or None."""
    if isinstance(cell, bool):
        return None
    try:
        value = float(str(cell).strip()) if isinstance(cell, str) else float(cell)
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) else None


def ticker_numbers(value: object, argument: str, column: str) -> pd.DataFrame:
    """A ``ticker, <number>`` range (with or without a header row) as a DataFrame ``ticker, <column>``.

    A first row whose second cell is text and not a number is a header (``ticker, alpha``...).
    Blank rows are skipped; a row without a number is refused in one line naming it.

    >>> ticker_numbers([["ticker", "alpha"], ["AAA", 0.05], ["BBB", "-0.01"]], "alpha", "alpha").to_dict("list")
    {'ticker': ['AAA', 'BBB'], 'alpha': [0.05, -0.01]}
    >>> ticker_numbers([["AAA", 0.05]], "alpha", "alpha").to_dict("list")
    {'ticker': ['AAA'], 'alpha': [0.05]}
    """
    rows = [list(r) for r in as_rows(value) if not all(is_blank(c) for c in r)]
    if rows and len(rows[0]) >= 2 and isinstance(rows[0][1], str) and _number(rows[0][1]) is None:
        rows = rows[1:]
    tickers, numbers = [], []
    for i, row in enumerate(rows, start=1):
        number = _number(row[1]) if len(row) >= 2 else None
        if is_blank(row[0]) or number is None:
            raise XlfactorError(f"{argument} row {i}: needs a ticker and a number (got {', '.join(map(str, row[:2]))})")
        tickers.append(_cell_text(row[0]))
        numbers.append(number)
    return pd.DataFrame({"ticker": tickers, column: numbers})


def candidate_list(value: object) -> list[str]:
    """Tickers from a candidates range: a row of tickers, or the first column (a ``ticker`` header skipped).

    >>> candidate_list([["ticker"], ["AAA"], [None], ["BBB"]]), candidate_list([["AAA", "BBB"]])
    (['AAA', 'BBB'], ['AAA', 'BBB'])
    """
    rows = [list(r) for r in as_rows(value) if not all(is_blank(c) for c in r)]
    cells = rows[0] if len(rows) == 1 else [r[0] for r in rows]
    names = [_cell_text(c) for c in cells if not is_blank(c)]
    return names[1:] if names and names[0].lower() in TICKER_HEADERS else names


def _refuse_missing(missing: pd.DataFrame, ignore: bool) -> None:
    if len(missing) and not ignore:
        raise UnknownTickersError(list(missing["ticker"]))


def _check_rows(check: pd.DataFrame) -> list[list[object]]:
    return [[*r] for r in check[CHECK_HEADER].itertuples(index=False, name=None)]


def is_blank_range(value: object) -> bool:
    """True when an optional range argument is omitted or all blank."""
    return not any(not is_blank(c) for r in as_rows(value) for c in r)


@worksheet_function(returns="table")
def OF_CHECKLIMITS(holdings, limits, trades=None, benchmark=None, snapshot=None, as_of=None, ignore_unknown=None):  # noqa: N802
    """Each limit's value before and after the trades, its min and max, and whether it is breached (TRUE = breach)."""
    data, portfolio, bench, ignore = _context(holdings, snapshot, as_of, ignore_unknown, benchmark)
    parsed_trades = None if trades is None or is_blank_range(trades) else parse_holdings_range(trades, "trades")
    rows, missing = check_holdings(data, portfolio, _limits(limits), parsed_trades, bench)
    _refuse_missing(missing, ignore)
    # the cells are Python numbers, text and booleans already: only NaN (no bound) becomes an empty cell
    return [list(CHECK_HEADER)] + [[None if v != v else v for v in row] for row in rows]


@worksheet_function(returns="table")
def OF_WHATIF(holdings, trades, benchmark=None, snapshot=None, as_of=None, ignore_unknown=None):  # noqa: N802
    """Headline risk figures and every factor exposure before and after the trades, with the change."""
    data, portfolio, bench, ignore = _context(holdings, snapshot, as_of, ignore_unknown, benchmark)
    result = what_if(data, portfolio, parse_holdings_range(trades, "trades"), bench)
    _refuse_missing(result.missing, ignore)
    rows = [[metric, "headline", *values] for metric, values in zip(result.summary.index, result.summary.to_numpy().tolist())]
    e = result.exposures
    rows += [[f, g, b, a, c] for f, g, b, a, c in zip(e["factor"], e["group"], e["before"], e["after"], e["change"])]
    return table(["metric", "group", "before", "after", "change"], rows)


@worksheet_function(returns="table")
def OF_OPTIMIZE(holdings, limits, objective=None, alpha=None, candidates=None, benchmark=None, snapshot=None, as_of=None,  # noqa: N802
                ignore_unknown=None):  # fmt: skip
    """Trades that bring the book inside its limits at the best objective: the trade list, then the check before and after."""
    data, portfolio, bench, ignore = _context(holdings, snapshot, as_of, ignore_unknown, benchmark)
    alpha_frame = None
    if alpha is not None and not is_blank_range(alpha):
        alpha_frame = ticker_numbers(alpha, "alpha", "alpha")
    names = candidate_list(candidates) if candidates is not None else []
    result = optimize(data, portfolio, _limits(limits), optional_text(objective) or "tracking_error", alpha_frame, bench,
                      names or None)  # fmt: skip
    _refuse_missing(result.missing, ignore)
    return table(*_optimize_layout(result))


def _optimize_layout(result) -> tuple[list[str], list[list[object]]]:
    """The spilled OF_OPTIMIZE table: trades; then the status; the check; the shadow prices; the notes (blank rows between)."""
    width = len(CHECK_HEADER)
    dollars = result.capital is not None
    header = ["ticker", "current_weight", "target_weight", "trade_weight"] + (["trade_value"] if dollars else [])
    rows: list[list[object]] = []
    for r in result.trades.itertuples(index=False):
        rows.append([r.ticker, r.current_weight, r.target_weight, r.trade_weight] + ([r.trade_value] if dollars else []))
    if not rows:
        rows.append(["(no trade)"])
    rows += [[], ["status", result.status, result.objective, result.objective_value],
             ["tracking_error", "before", result.tracking_error_before, "after", result.tracking_error_after], [], CHECK_HEADER]
    rows += _check_rows(result.check)
    rows += [[], ["binding row", "limit", "name", "side", "bound", "elements", "shadow_price", "largest", "its shadow_price",
                  result.shadow_price_unit]]
    rows += [[*r] for r in result.binding.itertuples(index=False, name=None)]
    rows += [["note", n] for n in result.notes]
    padded = [list(r) + [None] * (width - len(r)) for r in rows]
    return header + [None] * (width - len(header)), padded
