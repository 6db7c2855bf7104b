"""Worksheet functions on one book: risk, TE, beta, VaR, exposures, contributions, attribution, model facts."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from xlfactor.conventions import FACTOR_GROUPS
from xlfactor.errors import UnknownTickersError, XlfactorError
from xlfactor.functions.catalog import _context, _factor_index, _model, worksheet_function
from xlfactor.ranges import optional_date, optional_flag, optional_number, optional_text, table, text_list
from xlfactor.risk import decomposition as dec

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
        return table(["field", "value"], [(k, v if isinstance(v, (bool, int, float)) else str(v)) for k, v in facts.items()])
    if name not in facts:
        raise XlfactorError(f"field must be one of {', '.join(facts)}, got {name!r}")
    value = facts[name]
    return value if isinstance(value, (bool, int, float)) else str(value)  # TRUE/FALSE and numbers stay typed
