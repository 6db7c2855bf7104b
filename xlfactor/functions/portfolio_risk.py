"""Worksheet functions on one book: risk, TE, beta, VaR, exposures, contributions, attribution, model facts.

Each body is argument parsing plus one call into :mod:`xlfactor.risk` (no maths here).
Units: risk annualized decimals, VaR a positive daily loss fraction of gross, returns
daily decimals.
"""

from __future__ import annotations

import numpy as np

from xlfactor.errors import XlfactorError
from xlfactor.functions.catalog import book_context, snapshot_model_data, worksheet_function
from xlfactor.functions.ranges import (
    Cell,
    RangeValue,
    TableResult,
    optional_date,
    optional_flag,
    optional_number,
    optional_text,
    table,
    text_list,
)
from xlfactor.risk.attribution import daily_attribution
from xlfactor.hedging.instruments import HedgeObjective, hedge
from xlfactor.risk.model_data import FactorModelData

Snapshot = Cell  # the snapshot argument: a folder or URL cell, blank for the demo
Flag = Cell


@worksheet_function(returns="number")
def OF_TOTALRISK(holdings: RangeValue, snapshot: Snapshot = None, as_of: Cell = None, ignore_unknown: Flag = None) -> float:  # noqa: N802
    """Annualized total risk (volatility, decimal) of the holdings."""
    ctx = book_context(holdings, snapshot, as_of, ignore_unknown)
    return ctx.data.risk(ctx.weights)


@worksheet_function(returns="number")
def OF_FACTORRISK(  # noqa: N802
    holdings: RangeValue, group: Cell = None, snapshot: Snapshot = None, as_of: Cell = None, ignore_unknown: Flag = None
) -> float:
    """Annualized common-factor risk, of all factors or of one group (market, style, sector, industry)."""
    ctx = book_context(holdings, snapshot, as_of, ignore_unknown)
    return ctx.data.factor_risk(ctx.weights, optional_text(group))


@worksheet_function(returns="number")
def OF_IDIORISK(holdings: RangeValue, snapshot: Snapshot = None, as_of: Cell = None, ignore_unknown: Flag = None) -> float:  # noqa: N802
    """Annualized idiosyncratic risk of the holdings."""
    ctx = book_context(holdings, snapshot, as_of, ignore_unknown)
    return ctx.data.idiosyncratic_risk(ctx.weights)


@worksheet_function(returns="number")
def OF_TRACKINGERROR(  # noqa: N802
    holdings: RangeValue,
    benchmark: RangeValue = None,
    snapshot: Snapshot = None,
    as_of: Cell = None,
    ignore_unknown: Flag = None,
) -> float:
    """Annualized ex-ante tracking error of the holdings against the benchmark."""
    ctx = book_context(holdings, snapshot, as_of, ignore_unknown, benchmark)
    return ctx.data.tracking_error(ctx.weights, ctx.benchmark)


@worksheet_function(returns="number")
def OF_BETA(  # noqa: N802
    holdings: RangeValue,
    benchmark: RangeValue = None,
    snapshot: Snapshot = None,
    as_of: Cell = None,
    ignore_unknown: Flag = None,
) -> float:
    """Ex-ante beta of the holdings to the benchmark."""
    ctx = book_context(holdings, snapshot, as_of, ignore_unknown, benchmark)
    return ctx.data.beta(ctx.weights, ctx.benchmark)


@worksheet_function(returns="number")
def OF_VAR(  # noqa: N802
    holdings: RangeValue,
    confidence: Cell = None,
    horizon_days: Cell = None,
    active: Flag = None,
    benchmark: RangeValue = None,
    snapshot: Snapshot = None,
    as_of: Cell = None,
    ignore_unknown: Flag = None,
) -> float:
    """Parametric normal value at risk, a positive loss fraction of gross: z x sigma / sqrt(252) x sqrt(days)."""
    ctx = book_context(holdings, snapshot, as_of, ignore_unknown, benchmark)
    return ctx.data.var(
        ctx.weights,
        confidence=optional_number(confidence, "confidence", 0.95),
        horizon_days=optional_number(horizon_days, "horizon_days", 1.0),
        active=optional_flag(active, "active"),
        benchmark=ctx.benchmark,
    )


def _exposure_result(data: FactorModelData, exposure: np.ndarray, factor: Cell) -> float | TableResult:
    name = optional_text(factor)
    if name is not None:
        return float(exposure[data.factor_index(name)])
    rows = zip(data.factor_names.tolist(), data.factor_groups.tolist(), exposure.tolist())
    return table(["factor", "group", "exposure"], rows)


@worksheet_function(returns="number or table")
def OF_EXPOSURE(  # noqa: N802
    holdings: RangeValue, factor: Cell = None, snapshot: Snapshot = None, as_of: Cell = None, ignore_unknown: Flag = None
) -> float | TableResult:
    """Exposure to one factor, or the table of every factor's exposure (market = net weight)."""
    ctx = book_context(holdings, snapshot, as_of, ignore_unknown)
    return _exposure_result(ctx.data, ctx.data.factor_exposure(ctx.weights), factor)


@worksheet_function(returns="number or table")
def OF_ACTIVEEXPOSURE(  # noqa: N802
    holdings: RangeValue,
    factor: Cell = None,
    benchmark: RangeValue = None,
    snapshot: Snapshot = None,
    as_of: Cell = None,
    ignore_unknown: Flag = None,
) -> float | TableResult:
    """Benchmark-relative exposure to one factor, or the table of all of them."""
    ctx = book_context(holdings, snapshot, as_of, ignore_unknown, benchmark)
    return _exposure_result(ctx.data, ctx.data.active_factor_exposure(ctx.weights, ctx.benchmark), factor)


@worksheet_function(returns="table")
def OF_RISKCONTRIB(  # noqa: N802
    holdings: RangeValue,
    active: Flag = None,
    benchmark: RangeValue = None,
    snapshot: Snapshot = None,
    as_of: Cell = None,
    ignore_unknown: Flag = None,
) -> TableResult:
    """Risk contributions by factor plus an idiosyncratic row; shares sum to 100% of the variance (TE^2 if active)."""
    ctx = book_context(holdings, snapshot, as_of, ignore_unknown, benchmark)
    weights = ctx.weights - ctx.benchmark if optional_flag(active, "active") else ctx.weights
    frame = ctx.data.risk_contributions(weights)
    frame = frame[(frame["exposure"] != 0) | (frame["group"] == "idiosyncratic")]
    columns = ["factor", "exposure", "volatility", "risk_contribution", "share"]
    return table(["factor", "exposure", "volatility", "contribution", "share"], frame[columns].itertuples(index=False, name=None))


@worksheet_function(returns="table")
def OF_IDIOCONTRIB(holdings: RangeValue, snapshot: Snapshot = None, as_of: Cell = None, ignore_unknown: Flag = None) -> TableResult:  # noqa: N802
    """Idiosyncratic risk by holding: weight, stock idiosyncratic risk, variance contribution and share."""
    ctx = book_context(holdings, snapshot, as_of, ignore_unknown)
    frame = ctx.data.idiosyncratic_contributions(ctx.weights)
    columns = ["ticker", "weight", "idiosyncratic_risk", "variance_contribution", "share"]
    return table(columns, frame[columns].itertuples(index=False, name=None))


@worksheet_function(returns="number or table")
def OF_MCTR(  # noqa: N802
    holdings: RangeValue, ticker: Cell = None, snapshot: Snapshot = None, as_of: Cell = None, ignore_unknown: Flag = None
) -> float | TableResult:
    """Marginal contribution to total risk (d risk / d weight) of one ticker, or the table for every holding."""
    ctx = book_context(holdings, snapshot, as_of, ignore_unknown)
    name = optional_text(ticker)
    if name is not None:
        return ctx.data.marginal_contribution(ctx.weights, name)
    frame = ctx.data.asset_contributions(ctx.weights)
    columns = ["ticker", "weight", "marginal_contribution", "risk_contribution", "share"]
    return table(["ticker", "weight", "mctr", "contribution", "share"], frame[columns].itertuples(index=False, name=None))


@worksheet_function(returns="table")
def OF_ATTRIBUTION(  # noqa: N802
    holdings: RangeValue,
    date: Cell = None,
    benchmark: RangeValue = None,
    snapshot: Snapshot = None,
    as_of: Cell = None,
    ignore_unknown: Flag = None,
) -> TableResult:
    """One day's return attribution (lagged exposures x factor returns + idiosyncratic); benchmark + active = portfolio."""
    ctx = book_context(holdings, snapshot, as_of, ignore_unknown, benchmark)
    result = daily_attribution(ctx.data, ctx.weights, ctx.benchmark, optional_date(date, "date"))
    summary = result.summary
    rows = zip(summary.index.tolist(), summary["portfolio"].tolist(), summary["benchmark"].tolist(), summary["active"].tolist())
    return table([f"component ({result.date})", "portfolio", "benchmark", "active"], rows)


@worksheet_function(returns="table")
def OF_HEDGE(  # noqa: N802
    holdings: RangeValue,
    instruments: RangeValue,
    objective: Cell = None,
    snapshot: Snapshot = None,
    as_of: Cell = None,
    ignore_unknown: Flag = None,
) -> TableResult:
    """Hedge weights (decimals of gross, negative = short) of the instruments; the last row gives the hedged risk and beta."""
    ctx = book_context(holdings, snapshot, as_of, ignore_unknown)
    choice = HedgeObjective.parse(optional_text(objective) or HedgeObjective.RISK, "objective")
    result = hedge(ctx.data, ctx.weights, text_list(instruments), choice)
    rows = list(zip(result.instruments, result.hedge_weights.tolist(), result.instrument_betas.tolist()))
    rows.append(("hedged risk / beta", result.risk_after, result.beta_after))
    return table(["instrument", "hedge_weight", "beta"], rows)


@worksheet_function(returns="table")
def OF_FACTORS(snapshot: Snapshot = None, as_of: Cell = None) -> TableResult:  # noqa: N802
    """The model's factors: id, group and annualized volatility."""
    data = snapshot_model_data(snapshot, as_of)
    rows = zip(data.factor_names.tolist(), data.factor_groups.tolist(), data.factor_volatilities().tolist())
    return table(["factor", "group", "volatility"], rows)


@worksheet_function(returns="number")
def OF_FACTORVOL(factor: Cell, snapshot: Snapshot = None, as_of: Cell = None) -> float:  # noqa: N802
    """Annualized volatility of one factor."""
    return snapshot_model_data(snapshot, as_of).factor_volatility(optional_text(factor) or "")


@worksheet_function(returns="number")
def OF_FACTORCORR(factor1: Cell, factor2: Cell, snapshot: Snapshot = None, as_of: Cell = None) -> float:  # noqa: N802
    """Correlation of two factors' returns in the model covariance."""
    return snapshot_model_data(snapshot, as_of).factor_correlation(optional_text(factor1) or "", optional_text(factor2) or "")


@worksheet_function(returns="text or table")
def OF_SNAPSHOT(field: Cell = None, snapshot: Snapshot = None, as_of: Cell = None) -> str | float | TableResult:  # noqa: N802
    """Which snapshot is in use: as-of date, universe, model version, source and whether it is simulated."""
    facts = snapshot_model_data(snapshot, as_of).snapshot.describe()
    name = optional_text(field)
    if name is None:
        return table(["field", "value"], [(k, v if isinstance(v, (bool, int, float)) else str(v)) for k, v in facts.items()])
    if name not in facts:
        raise XlfactorError(f"field must be one of {', '.join(facts)}; got {name!r}")
    value = facts[name]
    return value if isinstance(value, (bool, int, float)) else str(value)  # TRUE/FALSE and numbers stay typed
