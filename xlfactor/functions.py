"""The worksheet-function catalog: every ``OF_`` function, defined once.

Each function is a plain Python callable importable by its worksheet name
(``from xlfactor.functions import OF_TRACKINGERROR``) taking arguments shaped the way
Excel sends them (lists of lists, ``None`` for empty cells, floats for numbers, text
with stray spaces). Scalars come back as numbers, tables as a list of rows with a
header row (they spill in dynamic-array Excel), and any problem as a one-line text
starting with ``#XLFACTOR`` -- never an exception.

The catalog (:data:`CATALOG`: name, arguments with help, return shape, description)
is what every front end is generated from: the xlwings classic UDF module, the
xlwings Server custom functions, ``xlfactor functions`` and the README reference.
Units: risk annualized decimals, VaR a positive daily loss fraction, returns daily.
"""

from __future__ import annotations

import functools
import inspect
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from xlfactor.conventions import FACTOR_GROUPS
from xlfactor.errors import UnknownTickersError, XlfactorError
from xlfactor.ranges import (
    optional_date,
    optional_flag,
    optional_number,
    optional_text,
    parse_holdings_range,
    table,
    text_list,
)
from xlfactor.risk import decomposition as dec
from xlfactor.risk.holdings import align

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
    "horizon_days": "VaR horizon in trading days (default 1).",
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
class _Context:
    data: Any
    weights: np.ndarray
    benchmark: np.ndarray


def _context(holdings, snapshot=None, as_of=None, ignore_unknown=None, benchmark=None) -> _Context:
    from xlfactor.risk.model_data import factor_model_data
    from xlfactor.snapshot.sources import load_snapshot

    snap = load_snapshot(optional_text(snapshot), optional_date(as_of) or "latest")
    data = factor_model_data(snap)
    ignore = optional_flag(ignore_unknown, "ignore_unknown")
    held = align(parse_holdings_range(holdings), data.ticker_index)
    if len(held.missing) and not ignore:
        raise UnknownTickersError(list(held.missing["ticker"]))
    bench = data.benchmark_weights
    if benchmark is not None and not _blank_range(benchmark):
        aligned = align(parse_holdings_range(benchmark, "benchmark"), data.ticker_index)
        if len(aligned.missing) and not ignore:
            raise UnknownTickersError(list(aligned.missing["ticker"]))
        bench = aligned.weights
    return _Context(data, held.weights, bench)


def _blank_range(value: object) -> bool:
    return not text_list(value)


def _factor_index(data, factor: str) -> int:
    names = list(data.factor_names)
    if factor in names:
        return names.index(factor)
    lowered = {n.lower(): i for i, n in enumerate(names)}
    if factor.lower() in lowered:
        return lowered[factor.lower()]
    raise XlfactorError(f"unknown factor {factor!r} (OF_FACTORS() lists them)")


# ---------------------------------------------------------------- the functions


@worksheet_function(returns="number")
def OF_TOTALRISK(holdings, snapshot=None, as_of=None, ignore_unknown=None):  # noqa: N802
    """Annualized total risk (volatility, decimal) of the holdings."""
    ctx = _context(holdings, snapshot, as_of, ignore_unknown)
    return ctx.data.risk(ctx.weights)


@worksheet_function(returns="number")
def OF_FACTORRISK(holdings, group=None, snapshot=None, as_of=None, ignore_unknown=None):  # noqa: N802
    """Annualized common-factor risk, of all factors or of one group (market, style, sector, industry)."""
    ctx = _context(holdings, snapshot, as_of, ignore_unknown)
    x = ctx.data.factor_exposure(ctx.weights)
    F = ctx.data.factor_covariance
    name = optional_text(group)
    if name is None:
        return math.sqrt(dec.factor_variance(x, F))
    if name.lower() not in FACTOR_GROUPS:
        raise XlfactorError(f"group must be one of {', '.join(FACTOR_GROUPS)}, got {name!r}")
    mask = ctx.data.factor_groups == name.lower()
    return math.sqrt(dec.factor_variance(x[mask], F[np.ix_(mask, mask)]))


@worksheet_function(returns="number")
def OF_IDIORISK(holdings, snapshot=None, as_of=None, ignore_unknown=None):  # noqa: N802
    """Annualized idiosyncratic (stock-specific) risk of the holdings."""
    ctx = _context(holdings, snapshot, as_of, ignore_unknown)
    return ctx.data.idiosyncratic_risk(ctx.weights)


@worksheet_function(returns="number")
def OF_TRACKINGERROR(holdings, benchmark=None, snapshot=None, as_of=None, ignore_unknown=None):  # noqa: N802
    """Annualized ex-ante tracking error of the holdings against the benchmark."""
    ctx = _context(holdings, snapshot, as_of, ignore_unknown, benchmark)
    return ctx.data.tracking_error(ctx.weights, ctx.benchmark)


@worksheet_function(returns="number")
def OF_BETA(holdings, benchmark=None, snapshot=None, as_of=None, ignore_unknown=None):  # noqa: N802
    """Ex-ante beta of the holdings to the benchmark."""
    ctx = _context(holdings, snapshot, as_of, ignore_unknown, benchmark)
    return ctx.data.beta(ctx.weights, ctx.benchmark)


@worksheet_function(returns="number")
def OF_VAR(  # noqa: N802
    holdings, confidence=None, horizon_days=None, active=None, benchmark=None, snapshot=None, as_of=None, ignore_unknown=None
):
    """Parametric normal value at risk, a positive loss fraction of gross: z x sigma / sqrt(252) x sqrt(days)."""
    ctx = _context(holdings, snapshot, as_of, ignore_unknown, benchmark)
    return ctx.data.var(
        ctx.weights,
        confidence=optional_number(confidence, "confidence", 0.95),
        horizon_days=optional_number(horizon_days, "horizon_days", 1.0),
        active=optional_flag(active, "active"),
        benchmark=ctx.benchmark,
    )


def _exposure_result(data, exposure: np.ndarray, factor) -> Any:
    name = optional_text(factor)
    if name is not None:
        return float(exposure[_factor_index(data, name)])
    rows = zip(data.factor_names.tolist(), data.factor_groups.tolist(), exposure.tolist())
    return table(["factor", "group", "exposure"], rows)


@worksheet_function(returns="number or table")
def OF_EXPOSURE(holdings, factor=None, snapshot=None, as_of=None, ignore_unknown=None):  # noqa: N802
    """Exposure to one factor, or the table of every factor's exposure (market = net weight)."""
    ctx = _context(holdings, snapshot, as_of, ignore_unknown)
    return _exposure_result(ctx.data, ctx.data.factor_exposure(ctx.weights), factor)


@worksheet_function(returns="number or table")
def OF_ACTIVEEXPOSURE(holdings, factor=None, benchmark=None, snapshot=None, as_of=None, ignore_unknown=None):  # noqa: N802
    """Benchmark-relative exposure to one factor, or the table of all of them."""
    ctx = _context(holdings, snapshot, as_of, ignore_unknown, benchmark)
    return _exposure_result(ctx.data, ctx.data.active_factor_exposure(ctx.weights, ctx.benchmark), factor)


@worksheet_function(returns="table")
def OF_RISKCONTRIB(holdings, active=None, benchmark=None, snapshot=None, as_of=None, ignore_unknown=None):  # noqa: N802
    """Risk contributions by factor plus an idiosyncratic row; shares sum to 100% of the variance (TE^2 if active)."""
    ctx = _context(holdings, snapshot, as_of, ignore_unknown, benchmark)
    weights = ctx.weights - ctx.benchmark if optional_flag(active, "active") else ctx.weights
    frame = ctx.data.factor_contributions(weights)
    frame = frame[frame["exposure"] != 0]
    risk = ctx.data.risk(weights)
    idio_var = dec.idiosyncratic_variance(weights, ctx.data.idiosyncratic_variance)
    rows = list(
        zip(
            frame["factor"].tolist(),
            frame["exposure"].tolist(),
            frame["volatility"].tolist(),
            frame["risk_contribution"].tolist(),
            frame["share"].tolist(),
        )
    )
    rows.append(("idiosyncratic", None, None, idio_var / risk if risk else 0.0, idio_var / risk**2 if risk else 0.0))
    return table(["factor", "exposure", "volatility", "contribution", "share"], rows)


@worksheet_function(returns="table")
def OF_IDIOCONTRIB(holdings, snapshot=None, as_of=None, ignore_unknown=None):  # noqa: N802
    """Idiosyncratic risk by holding: weight, stock idiosyncratic risk, variance contribution and share."""
    ctx = _context(holdings, snapshot, as_of, ignore_unknown)
    frame = ctx.data.idiosyncratic_contributions(ctx.weights)
    columns = ["ticker", "weight", "idiosyncratic_risk", "variance_contribution", "share"]
    return table(columns, frame[columns].itertuples(index=False, name=None))


@worksheet_function(returns="number or table")
def OF_MCTR(holdings, ticker=None, snapshot=None, as_of=None, ignore_unknown=None):  # noqa: N802
    """Marginal contribution to total risk (d risk / d weight) of one ticker, or the table for every holding."""
    ctx = _context(holdings, snapshot, as_of, ignore_unknown)
    data = ctx.data
    name = optional_text(ticker)
    marginal = dec.asset_marginal_contributions(ctx.weights, data.exposures, data.factor_covariance, data.idiosyncratic_variance)
    if name is not None:
        row = data.ticker_index.get_indexer([name.upper()])[0]
        if row < 0:
            raise UnknownTickersError([name.upper()])
        return float(marginal[row])
    frame = data.asset_contributions(ctx.weights)
    rows = zip(frame["ticker"].tolist(), frame["weight"].tolist(), frame["marginal_contribution"].tolist(),
               frame["risk_contribution"].tolist(), frame["share"].tolist())
    return table(["ticker", "weight", "mctr", "contribution", "share"], rows)


@worksheet_function(returns="table")
def OF_ATTRIBUTION(holdings, date=None, benchmark=None, snapshot=None, as_of=None, ignore_unknown=None):  # noqa: N802
    """One day's return attribution (lagged exposures x factor returns + idiosyncratic); benchmark + active = portfolio."""
    from xlfactor.risk.attribution import daily_attribution

    ctx = _context(holdings, snapshot, as_of, ignore_unknown, benchmark)
    result = daily_attribution(ctx.data, ctx.weights, ctx.benchmark, optional_date(date, "date"))
    summary = result.summary
    rows = zip(summary.index.tolist(), summary["portfolio"].tolist(), summary["benchmark"].tolist(), summary["active"].tolist())
    return table([f"component ({result.date})", "portfolio", "benchmark", "active"], rows)


@worksheet_function(returns="table")
def OF_HEDGE(holdings, instruments, objective=None, snapshot=None, as_of=None, ignore_unknown=None):  # noqa: N802
    """Hedge weights (decimals of gross, negative = short) of the instruments; the last row gives the hedged risk and beta."""
    from xlfactor.risk.hedge import hedge

    ctx = _context(holdings, snapshot, as_of, ignore_unknown)
    result = hedge(ctx.data, ctx.weights, text_list(instruments), optional_text(objective) or "risk")
    rows = list(zip(result.instruments, result.hedge_weights.tolist(), result.instrument_betas.tolist()))
    rows.append(("hedged risk / beta", result.risk_after, result.beta_after))
    return table(["instrument", "hedge_weight", "beta"], rows)


@worksheet_function(returns="table")
def OF_FACTORS(snapshot=None, as_of=None):  # noqa: N802
    """The model's factors: id, group and annualized volatility."""
    data = _model(snapshot, as_of)
    vols = np.sqrt(np.diag(data.factor_covariance))
    return table(["factor", "group", "volatility"], zip(data.factor_names.tolist(), data.factor_groups.tolist(), vols.tolist()))


@worksheet_function(returns="number")
def OF_FACTORVOL(factor, snapshot=None, as_of=None):  # noqa: N802
    """Annualized volatility of one factor."""
    data = _model(snapshot, as_of)
    i = _factor_index(data, optional_text(factor) or "")
    return math.sqrt(data.factor_covariance[i, i])


@worksheet_function(returns="number")
def OF_FACTORCORR(factor1, factor2, snapshot=None, as_of=None):  # noqa: N802
    """Correlation of two factors' returns in the model covariance."""
    data = _model(snapshot, as_of)
    i = _factor_index(data, optional_text(factor1) or "")
    j = _factor_index(data, optional_text(factor2) or "")
    F = data.factor_covariance
    return F[i, j] / math.sqrt(F[i, i] * F[j, j])


@worksheet_function(returns="text or table")
def OF_SNAPSHOT(field=None, snapshot=None, as_of=None):  # noqa: N802
    """Which snapshot is in use: as-of date, universe, model version, source and whether it is simulated."""
    data = _model(snapshot, as_of)
    facts = data.snapshot.describe()
    name = optional_text(field)
    if name is None:
        return table(["field", "value"], [(k, str(v)) for k, v in facts.items()])
    if name not in facts:
        raise XlfactorError(f"field must be one of {', '.join(facts)}, got {name!r}")
    value = facts[name]
    return value if isinstance(value, (int, float)) and not isinstance(value, bool) else str(value)


def _model(snapshot, as_of):
    from xlfactor.risk.model_data import factor_model_data
    from xlfactor.snapshot.sources import load_snapshot

    return factor_model_data(load_snapshot(optional_text(snapshot), optional_date(as_of) or "latest"))


def reference_markdown() -> str:
    """The function reference (one table) generated from the catalog, as in the README."""
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


__all__ = ["ARGUMENT_HELP", "reference_markdown", "reference_text", "CATALOG", "ERROR_PREFIX", "Argument", "WorksheetFunction", *CATALOG]
