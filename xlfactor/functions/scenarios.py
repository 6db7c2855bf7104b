"""Worksheet functions for stress tests and historical scenarios: OF_STRESS, OF_SCENARIO, OF_HISTVAR, OF_HISTES.

Each is argument parsing plus one call into :mod:`xlfactor.risk.scenarios`. P&L is a
daily decimal of gross (loss negative); VaR and expected shortfall positive loss fractions.
"""

from __future__ import annotations

import numpy as np

from xlfactor.conventions import number_from_text
from xlfactor.errors import ScenarioError, XlfactorError
from xlfactor.functions.catalog import book_context, register_arguments, worksheet_function
from xlfactor.functions.ranges import as_rows, is_blank, optional_date, optional_flag, optional_number, optional_text, parse_holdings_range, table
from xlfactor.risk import scenarios as sc

register_arguments(
    {
        "shocks": "Two-column range: factor id (as OF_FACTORS() lists them), shock as a decimal (-0.10 = -10%).",
        "propagate": "TRUE (default) moves the other factors by their conditional expectation; FALSE only the named ones.",
        "name_or_start": "Scenario name from the library, or a start date; omit for the table of every scenario.",
        "end": "Last date of the replayed range (default: the start date alone).",
    },
    ranges=("shocks",),
)


def _shock_pairs(shocks) -> list[tuple[str, float]]:
    """(factor, shock) pairs of a two-column range; a header row (non-numeric shock) is skipped."""
    pairs = []
    rows = [row for row in as_rows(shocks) if not all(is_blank(cell) for cell in row)]
    for number, row in enumerate(rows, start=1):
        if len(row) < 2:
            raise ScenarioError("shocks must be a two-column range (factor, shock)")
        factor, value = row[0], row[1]
        if is_blank(factor) or is_blank(value):
            raise ScenarioError(f"shocks row {number} needs both a factor id and a shock")
        if isinstance(value, str):
            try:
                value = number_from_text(value)  # "-0,1" is -0.1
            except ValueError:
                if number == 1:
                    continue  # header row
                raise ScenarioError(f"shock for {str(factor).strip()!r} must be a number, got {value!r}") from None
        pairs.append((str(factor).strip(), value))
    if not pairs:
        raise ScenarioError("no shocks given: a range of factor ids and decimal shocks, e.g. market | -0.10")
    return pairs


def _gross(holdings) -> float | None:
    held = parse_holdings_range(holdings)
    return float(np.abs(held.amounts).sum()) if held.kind == "value" else None


def _summary_rows(summary, gross: float | None, compounded: dict | None = None) -> list[list[object]]:
    rows = [[name, *summary.loc[name, ["portfolio", "benchmark", "active"]].tolist()] for name in summary.index]
    if compounded is not None:
        rows.append(["total (compounded)", compounded["portfolio"], compounded["benchmark"], compounded["active"]])
    if gross is not None:
        total = summary.loc["total"]
        rows.append(["total ($)", total["portfolio"] * gross, total["benchmark"] * gross, total["active"] * gross])
    return rows


@worksheet_function(returns="table")
def OF_STRESS(holdings, shocks, propagate=None, benchmark=None, snapshot=None, as_of=None, ignore_unknown=None):  # noqa: N802
    """Factor-shock P&L (decimal of gross; dollars for value holdings) by factor group: portfolio, benchmark, active."""
    ctx = book_context(holdings, snapshot, as_of, ignore_unknown, benchmark)
    book = sc.Book(ctx.weights, _gross(holdings))
    result = sc.stress(ctx.data, book, _shock_pairs(shocks), optional_flag(propagate, "propagate", True), ctx.benchmark)
    return table(["component", "portfolio", "benchmark", "active"], _summary_rows(result.summary, book.gross))


@worksheet_function(returns="table")
def OF_SCENARIO(holdings, name_or_start=None, end=None, benchmark=None, snapshot=None, as_of=None, ignore_unknown=None):  # noqa: N802
    """Historical replay on today's exposures: one library episode or date range by group, or (no name) every scenario."""
    ctx = book_context(holdings, snapshot, as_of, ignore_unknown, benchmark)
    book = sc.Book(ctx.weights, _gross(holdings))
    start = _name_or_date(name_or_start)
    if start is None:
        frame = sc.scenario_table(ctx.data, book, ctx.benchmark)
        columns = ["scenario", "start", "end", "days", "portfolio", "portfolio_compounded", "benchmark", "active"]
        return table(columns, frame[columns].itertuples(index=False, name=None))
    result = sc.scenario(ctx.data, book, start, optional_date(end, "end"), ctx.benchmark)
    header = [f"component ({result.name}, {result.start} to {result.end})", "portfolio", "benchmark", "active"]
    return table(header, _summary_rows(result.summary, book.gross, result.compounded))


def _name_or_date(value) -> str | None:
    """A date (date cell, Excel serial number or ISO text) as ISO text, else the scenario name."""
    try:
        return optional_date(value, "name_or_start")
    except XlfactorError:
        return optional_text(value)


def _histvar(holdings, confidence, horizon_days, active, benchmark, snapshot, as_of, ignore_unknown) -> sc.HistoricalVaR:
    ctx = book_context(holdings, snapshot, as_of, ignore_unknown, benchmark)
    return sc.historical_var(
        ctx.data,
        ctx.weights,
        optional_number(confidence, "confidence", 0.95),
        optional_number(horizon_days, "horizon_days", 1.0),
        optional_flag(active, "active"),
        ctx.benchmark,
    )


@worksheet_function(returns="number")
def OF_HISTVAR(  # noqa: N802
    holdings, confidence=None, horizon_days=None, active=None, benchmark=None, snapshot=None, as_of=None, ignore_unknown=None
):
    """Historical-simulation VaR (stored factor returns on today's exposures plus a residual bootstrap), a positive loss fraction."""
    return _histvar(holdings, confidence, horizon_days, active, benchmark, snapshot, as_of, ignore_unknown).var


@worksheet_function(returns="number")
def OF_HISTES(  # noqa: N802
    holdings, confidence=None, horizon_days=None, active=None, benchmark=None, snapshot=None, as_of=None, ignore_unknown=None
):
    """Historical-simulation expected shortfall (mean loss at or beyond the historical VaR), a positive loss fraction."""
    return _histvar(holdings, confidence, horizon_days, active, benchmark, snapshot, as_of, ignore_unknown).expected_shortfall
