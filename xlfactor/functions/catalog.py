"""The catalog machinery: registry, argument help, the never-raising wrapper, shared parsing.

:func:`worksheet_function` registers a function in :data:`CATALOG` (name, arguments with
help, return shape, description). Every front end is generated from that catalog: the
xlwings classic UDF module, the xlwings Server custom functions, ``xlfactor functions``
and the docs' reference page. The functions themselves live in the sibling modules of this
package, one module per area (``portfolio_risk`` ...); each registers its own argument help
with :func:`register_arguments`.
"""

from __future__ import annotations

import functools
import inspect
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from xlfactor.errors import UnknownTickersError, XlfactorError
from xlfactor.functions.ranges import (
    optional_date,
    optional_flag,
    optional_text,
    parse_holdings_range,
    text_list,
)
from xlfactor.risk.holdings import Holdings, PortfolioWeights, align
from xlfactor.risk.model_data import FactorModelData, factor_model_data
from xlfactor.snapshot.memo import memo
from xlfactor.snapshot.sources import load_snapshot

ERROR_PREFIX = "#XLFACTOR"
MAX_MESSAGE = 250  # Excel text results over 255 characters fail in older versions


@dataclass(frozen=True)
class Argument:
    """One worksheet-function argument."""

    name: str
    help: str
    optional: bool
    is_range: bool  # a multi-cell range (holdings, instruments) rather than one cell


@dataclass(frozen=True)
class WorksheetFunction:
    """A catalog entry: what Excel shows and what the adapters are generated from."""

    name: str
    description: str
    arguments: tuple[Argument, ...]
    returns: str  # "number", "table", "number or table", "text or table"
    function: Callable[..., Any]  # the safe callable (never raises)

    @property
    def signature(self) -> str:
        """``OF_VAR(holdings, [confidence], ...)`` as shown in the reference."""
        parts = [f"[{a.name}]" if a.optional else a.name for a in self.arguments]
        return f"{self.name}({', '.join(parts)})"


CATALOG: dict[str, WorksheetFunction] = {}

# Help texts shared by every function that takes the argument (written once).
ARGUMENT_HELP = {
    "holdings": "Two-column range: ticker, value (signed dollars); header 'allocation' means weights as given.",
    "benchmark": "Benchmark holdings range (ticker, value); default: the cap-weighted model universe.",
    "snapshot": "Snapshot folder or URL; default: the embedded simulated demo.",
    "as_of": "Snapshot date (YYYY-MM-DD or a date cell); default: latest.",
    "ignore_unknown": "TRUE to treat tickers outside the universe as cash instead of an error.",
    "group": "Factor group: market, style, sector or industry; default: all factors.",
    "confidence": "VaR confidence, e.g. 0.95 (default) or 0.99.",
    "horizon_days": "Horizon in trading days (default 1); OF_POSITIONSIZE also takes daily, monthly (21), annual (252).",
    "active": "TRUE for active (benchmark-relative) figures.",
    "factor": "Factor id, e.g. momentum or sector:Energy; omit for the whole table.",
    "ticker": "One ticker; omit for the table of all holdings.",
    "date": "Return date to attribute (YYYY-MM-DD); default: latest.",
    "instruments": "Range of hedge instruments: universe tickers or index/ETF tickers (e.g. SPY).",
    "objective": "risk (default), te, factor or beta.",
    "factor1": "First factor id.",
    "factor2": "Second factor id.",
    "field": "as_of_date, universe, model_version, source, simulated, tickers, factors; omit for all.",
}
_RANGE_ARGUMENTS = {"holdings", "benchmark", "instruments"}


def register_arguments(help_texts: dict[str, str], ranges: tuple[str, ...] = ()) -> None:
    """Add the help of a module's own arguments (written once) before it registers functions.

    Parameters
    ----------
    help_texts : dict of str to str
        Argument name to its one-line help. A name already registered must keep its text.
    ranges : tuple of str
        The names among them that take a multi-cell range rather than one cell.
    """
    for name, text in help_texts.items():
        if ARGUMENT_HELP.get(name, text) != text:
            raise ValueError(f"argument {name!r} already has another help text")
        ARGUMENT_HELP[name] = text
    _RANGE_ARGUMENTS.update(ranges)


def worksheet_function(returns: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register ``func`` in the catalog and return its never-raising version."""

    def register(func: Callable[..., Any]) -> Callable[..., Any]:
        parameters = inspect.signature(func).parameters.values()
        arguments = tuple(
            Argument(
                name=p.name,
                help=ARGUMENT_HELP[p.name],
                optional=p.default is not inspect.Parameter.empty,
                is_range=p.name in _RANGE_ARGUMENTS,
            )
            for p in parameters
        )

        @functools.wraps(func)
        def safe(*args: Any, **kwargs: Any) -> Any:
            try:
                result = func(*args, **kwargs)
            except UnknownTickersError as exc:
                shown = ", ".join(exc.tickers[:5]) + (", ..." if len(exc.tickers) > 5 else "")
                return _error(f"{len(exc.tickers)} unknown tickers: {shown} (ignore_unknown=TRUE treats them as cash)")
            except XlfactorError as exc:
                return _error(str(exc))
            except Exception as exc:  # noqa: BLE001 - a cell must never show a traceback
                return _error(f"internal error ({type(exc).__name__}: {exc})")
            if isinstance(result, float) and not math.isfinite(result):
                return _error("result is undefined (no risk in the benchmark or portfolio)")
            return result

        description = inspect.getdoc(func).split("\n\n")[0].replace("\n", " ")
        CATALOG[func.__name__] = WorksheetFunction(func.__name__, description, arguments, returns, safe)
        return safe

    return register


def _error(message: str) -> str:
    text = f"{ERROR_PREFIX}: {' '.join(str(message).split())}"
    return text if len(text) <= MAX_MESSAGE else text[: MAX_MESSAGE - 3] + "..."


# ---------------------------------------------------------------- shared argument handling


@dataclass(frozen=True, eq=False)
class BookContext:
    """The parsed common arguments of a worksheet function: model data, weights and benchmark weights (n_assets,)."""

    data: FactorModelData
    weights: np.ndarray
    benchmark: np.ndarray


def book_context(
    holdings: object,
    snapshot: object = None,
    as_of: object = None,
    ignore_unknown: object = None,
    benchmark: object = None,
) -> BookContext:
    """Parse the common arguments: the model data and the aligned portfolio and benchmark weights."""
    snap = load_snapshot(optional_text(snapshot), optional_date(as_of) or "latest")
    data = factor_model_data(snap)
    ignore = optional_flag(ignore_unknown, "ignore_unknown")
    universe = str(data.snapshot.metadata.get("universe", ""))
    held = _aligned(parse_holdings_range(holdings), data.ticker_index, "portfolio", universe)
    if len(held.missing) and not ignore:
        raise UnknownTickersError(list(held.missing["ticker"]))
    bench = data.benchmark_weights
    if benchmark is not None and not _blank_range(benchmark):
        aligned = _aligned(parse_holdings_range(benchmark, "benchmark"), data.ticker_index, "benchmark", universe)
        if len(aligned.missing) and not ignore:
            raise UnknownTickersError(list(aligned.missing["ticker"]))
        bench = aligned.weights
    return BookContext(data, held.weights, bench)


ALIGNED_HOLDINGS = 256
"""Aligned (parsed range, universe) pairs kept: a warm cell does no parsing and no alignment."""
_ALIGNED = memo("aligned holdings", ALIGNED_HOLDINGS)


def _aligned(holdings: Holdings, universe: pd.Index, name: str = "portfolio", universe_name: str = "") -> PortfolioWeights:
    """``align`` memoized on the (memoized) parsed range and the universe: a warm cell does no parsing."""
    def compute() -> tuple[Holdings, pd.Index, PortfolioWeights]:
        held = align(holdings, universe, name, universe_name)
        held.weights.flags.writeable = False
        return holdings, universe, held  # the references keep the ids from being reused

    key = (id(holdings), id(universe), name)
    return _ALIGNED.get_or_compute(key, compute, fresh=lambda hit: hit[0] is holdings and hit[1] is universe)[2]


def _blank_range(value: object) -> bool:
    return not text_list(value)


def _factor_index(data: FactorModelData, factor: str) -> int:
    """Column of ``factor`` in the model (see :meth:`FactorModelData.factor_index`)."""
    return data.factor_index(factor)


def snapshot_model_data(snapshot: object, as_of: object) -> FactorModelData:
    """The FactorModelData of a snapshot argument (loaded once per process)."""
    return factor_model_data(load_snapshot(optional_text(snapshot), optional_date(as_of) or "latest"))


def reference_markdown() -> str:
    """The function reference (one table) generated from the catalog, as on docs/reference/functions.md."""
    lines = ["| function | returns | description |", "|---|---|---|"]
    for entry in CATALOG.values():
        lines.append(f"| `{entry.signature}` | {entry.returns} | {entry.description} |")
    lines += ["", "| argument | meaning |", "|---|---|"]
    used = {a.name for entry in CATALOG.values() for a in entry.arguments}
    lines += [f"| `{name}` | {text} |" for name, text in ARGUMENT_HELP.items() if name in used]
    return "\n".join(lines) + "\n"


def reference_text() -> str:
    """The catalog as plain text for ``xlfactor functions``."""
    blocks = []
    for entry in CATALOG.values():
        lines = [f"{entry.signature} -> {entry.returns}", f"    {entry.description}"]
        lines += [f"    {a.name}{' (optional)' if a.optional else ''}: {a.help}" for a in entry.arguments]
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks) + "\n"

