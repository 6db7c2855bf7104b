"""Worksheet functions that act on risk: time-series exposure, factor and tracking portfolios, risk budgets, ETF hedges."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from xlfactor.conventions import number_from_text
from xlfactor.errors import UnknownTickersError, XlfactorError
from xlfactor.functions.catalog import (
    book_context,
    snapshot_model_data,
    register_arguments,
    worksheet_function,
)
from xlfactor.functions.ranges import (
    as_rows,
    is_blank,
    optional_flag,
    optional_number,
    optional_text,
    table,
    text_list,
)

register_arguments(
    {
        "returns": "Daily returns: a column range of numbers, a ticker (model + residual return), or 'portfolio' with holdings.",
        "factors": "Factor ids / ETF tickers (e.g. market, momentum, SPY), or a block of daily factor returns with a header row.",
        "newey_west_lags": "Lags of the Newey-West standard errors; default floor(4 (n/100)^(2/9)).",
        "window_days": "Days per rolling regression (default 63).",
        "target": "Two-column range: factor id, target exposure.",
        "budget": "OF_POSITIONSIZE: dollars of one standard deviation over the horizon; OF_TRACKINGPORTFOLIO: sum of the weights (default 1, 'none' for no constraint).",
        "holdings_or_ticker": "A holdings range (ticker, value) or one ticker.",
        "hedged": "TRUE to size the factor-hedged position (idiosyncratic risk only).",
        "limit": "Largest factor share of variance allowed, e.g. 0.2.",
        "instrument": "Hedge instrument: an ETF or universe ticker, or a factor id (its factor portfolio); omit to scale every factor exposure.",
        "levels": "ETF cascade depth: 1 SPY, 2 + sector SPDR, 3 + subsector ETF (default 3).",
        "tickers": "Range of universe tickers.",
    },
    ranges=("returns", "factors", "target", "holdings_or_ticker", "tickers"),
)


# ---------------------------------------------------------------- argument parsing (no maths)


def _number_or_none(cell: object) -> float | None:
    if is_blank(cell):
        return math.nan
    if isinstance(cell, bool):
        return None
    if isinstance(cell, (int, float)):
        return float(cell)
    try:
        return number_from_text(str(cell))
    except ValueError:
        return None


def _numeric_block(value: object, name: str) -> pd.DataFrame | None:
    """A block of numbers with an optional header row; None when the range holds names instead."""
    rows = [list(r) for r in as_rows(value)]
    if not rows:
        raise XlfactorError(f"{name} range is empty")
    header = None
    if any(isinstance(c, str) and _number_or_none(c) is None for c in rows[0]):
        header, rows = [str(c).strip() for c in rows[0]], rows[1:]
    parsed = [[_number_or_none(c) for c in r] for r in rows]
    if not parsed or any(v is None for r in parsed for v in r):
        return None
    width = len(parsed[0])
    columns = header if header and len(header) == width else [f"{name}{j + 1}" for j in range(width)]
    return pd.DataFrame(parsed, columns=columns)


def _streams(returns, factors, holdings, snapshot, as_of, ignore_unknown) -> tuple[pd.Series, pd.DataFrame]:
    """The return stream and the factor returns a regression function was given."""
    from xlfactor.risk.timeseries import factor_series, portfolio_returns, stock_returns

    user = _numeric_block(returns, "returns")
    if user is not None:
        if user.shape[1] != 1:
            raise XlfactorError("returns must be a single column")
        block = _numeric_block(factors, "f")
        if block is None:
            raise XlfactorError("with a returns column, factors must be a block of returns of the same length")
        if len(block) != len(user):
            raise XlfactorError(f"returns has {len(user)} rows but factors has {len(block)}")
        return user.iloc[:, 0], block
    source = optional_text(returns)
    if source is None:
        raise XlfactorError("returns is empty")
    names = text_list(factors)
    if source.lower() == "portfolio":
        if holdings is None:
            raise XlfactorError("returns 'portfolio' needs a holdings range")
        ctx = book_context(holdings, snapshot, as_of, ignore_unknown)
        return portfolio_returns(ctx.data.snapshot, ctx.weights), factor_series(ctx.data.snapshot, names)
    data = snapshot_model_data(snapshot, as_of)
    ticker = source.upper()
    if ticker not in data.ticker_index:
        raise UnknownTickersError([ticker])
    return stock_returns(data.snapshot, [ticker])[ticker], factor_series(data.snapshot, names)


def _weights_or_ticker(holdings_or_ticker, snapshot, as_of, ignore_unknown):
    """(data, weights) of a holdings range or of one ticker (weight 1)."""
    cells = [c for r in as_rows(holdings_or_ticker) for c in r if not is_blank(c)]
    if len(cells) == 1 and isinstance(cells[0], str):
        data = snapshot_model_data(snapshot, as_of)
        ticker = cells[0].strip().upper()
        row = data.ticker_index.get_indexer([ticker])[0]
        if row < 0:
            raise UnknownTickersError([ticker])
        w = np.zeros(len(data.tickers))
        w[row] = 1.0
        return data, w
    ctx = book_context(holdings_or_ticker, snapshot, as_of, ignore_unknown)
    return ctx.data, ctx.weights


def _pad(rows: list[list[object]], width: int) -> list[list[object]]:
    return [list(r) + [None] * (width - len(r)) for r in rows]


# ---------------------------------------------------------------- time-series exposure


@worksheet_function(returns="table")
def OF_REGRESS(returns, factors, newey_west_lags=None, holdings=None, snapshot=None, as_of=None, ignore_unknown=None):
    """Time-series regression of returns on factors: coefficients, classical and Newey-West errors, t-stats, 95% intervals, R², residual risk."""
    from xlfactor.risk.timeseries import regress_returns

    y, f = _streams(returns, factors, holdings, snapshot, as_of, ignore_unknown)
    lags = optional_number(newey_west_lags, "newey_west_lags", math.nan)  # blank: the default rule
    if not math.isnan(lags) and not (lags >= 0 and float(lags).is_integer()):
        raise XlfactorError(f"`newey_west_lags` must be a whole number of days, 0 or more, got {lags:g}")
    fit = regress_returns(y, f, None if math.isnan(lags) else int(lags))
    columns = ["term", "coefficient", "std_error", "t_stat", "ci_low", "ci_high", "nw_std_error", "nw_t_stat", "nw_ci_low", "nw_ci_high"]
    t = fit.table
    rows = [[term, *t.loc[term, columns[1:]].tolist()] for term in t.index]
    rows += _pad([[name, float(value)] for name, value in fit.summary()["value"].items()], len(columns))
    return table(columns, rows)


@worksheet_function(returns="table")
def OF_FMCAR(returns, factors, holdings=None, snapshot=None, as_of=None, ignore_unknown=None):
    """Factor marginal contribution to (active) risk per factor, plus the idiosyncratic share; they sum to 1."""
    from xlfactor.risk.timeseries import regress_returns

    y, f = _streams(returns, factors, holdings, snapshot, as_of, ignore_unknown)
    fit = regress_returns(y, f)
    rows = [[name, float(fit.betas[name]), float(fit.fmcar[name])] for name in fit.betas.index]
    rows.append(["idiosyncratic", None, fit.idiosyncratic_share])
    rows.append(["total", None, float(fit.fmcar.sum()) + fit.idiosyncratic_share])
    return table(["factor", "beta", "fmcar"], rows)


@worksheet_function(returns="table")
def OF_ROLLINGBETA(returns, factors, window_days=None, holdings=None, snapshot=None, as_of=None, ignore_unknown=None):
    """Rolling betas (one row per window end); the last row is each factor's Jarque-Bera p-value of its rolling estimates."""
    from xlfactor.risk.timeseries import rolling_exposures

    y, f = _streams(returns, factors, holdings, snapshot, as_of, ignore_unknown)
    roll = rolling_exposures(y, f, int(optional_number(window_days, "window_days", 63)))
    names = list(roll.betas.columns)
    rows = [[str(d), *vals] for d, vals in zip(roll.betas.index, roll.betas.to_numpy().tolist())]
    rows.append(["jarque_bera_p", *roll.jarque_bera_pvalue.tolist()])
    return table(["date", *names], rows)


# ---------------------------------------------------------------- factor and tracking portfolios


@worksheet_function(returns="table")
def OF_FACTORPORTFOLIO(factor, snapshot=None, as_of=None):
    """Pure factor portfolio: unit exposure to the factor, zero to the others, least idiosyncratic risk (weights by name)."""
    from xlfactor.hedging.portfolios import factor_portfolio

    data = snapshot_model_data(snapshot, as_of)
    result = factor_portfolio(data, optional_text(factor) or "")
    rows = [[t, w] for t, w in zip(data.tickers.tolist(), result.weights.tolist()) if w != 0]
    rows.append(["idiosyncratic risk", result.idiosyncratic_risk])
    if result.free_factors:
        rows.append(["free factors", ", ".join(result.free_factors)])
    return table(["ticker", "weight"], rows)


@worksheet_function(returns="table")
def OF_TRACKINGPORTFOLIO(target, instruments, budget=None, snapshot=None, as_of=None):
    """Weights on the instruments that reproduce the target factor exposures (exact when square, else least idiosyncratic risk)."""
    from xlfactor.hedging.instruments import instrument_model
    from xlfactor.hedging.portfolios import tracking_portfolio

    data = snapshot_model_data(snapshot, as_of)
    pairs = [r for r in as_rows(target) if len(r) >= 2 and not is_blank(r[0])]
    pairs = [r for r in pairs if _number_or_none(r[1]) is not None and not is_blank(r[1])]
    if not pairs:
        raise XlfactorError("target must be a two-column range: factor id, exposure")
    lowered = {str(n).lower(): i for i, n in enumerate(data.factor_names)}
    unknown = [str(r[0]) for r in pairs if str(r[0]).strip().lower() not in lowered]
    if unknown:
        raise XlfactorError(f"target: unknown factor(s) {', '.join(unknown[:5])} (OF_FACTORS() lists them)")
    columns = [lowered[str(r[0]).strip().lower()] for r in pairs]
    goal = np.array([_number_or_none(r[1]) for r in pairs], dtype=float)
    Y, S, _, names = instrument_model(data, text_list(instruments))
    text = optional_text(budget)
    total = None if text is not None and text.lower() == "none" else optional_number(budget, "budget", 1.0)
    result = tracking_portfolio(goal, Y[:, columns], total, np.where(S > 0, S, 1e-12))
    rows = [[n, w] for n, w in zip(names, result.weights.tolist())]
    rows.append(["method", result.method])
    return table(["instrument", "weight"], rows)


# ---------------------------------------------------------------- risk budgets


@worksheet_function(returns="number")
def OF_POSITIONSIZE(holdings_or_ticker, budget, horizon_days=None, hedged=None, snapshot=None, as_of=None, ignore_unknown=None):
    """Dollar position whose standard deviation over the horizon equals the risk budget (hedged: idiosyncratic risk only)."""
    from xlfactor.hedging.budgets import position_size

    data, w = _weights_or_ticker(holdings_or_ticker, snapshot, as_of, ignore_unknown)
    days = optional_text(horizon_days) or "1"
    return position_size(
        optional_number(budget, "budget", math.nan),
        days,
        volatility=data.risk(w),
        idiosyncratic_volatility=data.idiosyncratic_risk(w),
        hedged=optional_flag(hedged, "hedged"),
    )


@worksheet_function(returns="table")
def OF_HEDGETOSHARE(holdings, limit, instrument=None, snapshot=None, as_of=None, ignore_unknown=None):
    """The hedge that brings the factor share of variance down to the limit: hedge rows, then share and risk before and after."""
    from xlfactor.hedging.budgets import hedge_book_to_share

    ctx = book_context(holdings, snapshot, as_of, ignore_unknown)
    result = hedge_book_to_share(ctx.data, ctx.weights, optional_number(limit, "limit", math.nan), optional_text(instrument))
    rows = [[n, h] for n, h in zip(result.instruments, result.hedge_weights.tolist())]
    rows += [["factor share before", result.share_before], ["factor share after", result.share_after],
             ["risk before", result.risk_before], ["risk after", result.risk_after]]  # fmt: skip
    return table(["hedge", "amount"], rows)


@worksheet_function(returns="table")
def OF_ETFHEDGE(holdings_or_ticker, levels=None, snapshot=None, as_of=None, ignore_unknown=None):
    """ETF cascade hedge (SPY, sector SPDR, subsector ETF): hedge ratios per level, explained risk per level and residual share."""
    from xlfactor.hedging.cascade import portfolio_cascade, universe_cascade

    data, w = _weights_or_ticker(holdings_or_ticker, snapshot, as_of, ignore_unknown)
    depth = optional_number(levels, "levels", 3.0)
    if depth not in (1.0, 2.0, 3.0):
        raise XlfactorError(f"levels must be 1, 2 or 3, got {levels!r}")
    result = portfolio_cascade(universe_cascade(data), w, int(depth))
    used = np.abs(result.hedge_ratios).max(axis=0) > 0
    rows = [[e, *result.hedge_ratios[:, j].tolist()] for j, e in enumerate(result.etfs) if used[j]]
    rows.append(["explained risk", *result.explained_risk.tolist()])
    rows.append(["residual share", *(1.0 - np.cumsum(result.explained_risk)).tolist()])
    rows.append(["hedged volatility", *result.hedged_volatility.tolist()])
    return table(["etf", *[f"level {k + 1}" for k in range(result.levels)]], rows)


@worksheet_function(returns="table")
def OF_IMPLIEDCOV(tickers, snapshot=None, as_of=None):
    """Factor-implied covariance B F B' + D of the tickers (annualized), with its parameter count next to a sample covariance's."""
    from xlfactor.hedging.budgets import implied_covariance

    data = snapshot_model_data(snapshot, as_of)
    result = implied_covariance(data, text_list(tickers))
    rows = [[t, *row] for t, row in zip(result.tickers, result.covariance.tolist())]
    width = len(result.tickers) + 1
    rows += _pad([["parameters", result.parameters], ["sample parameters", result.sample_parameters]], width)
    return table(["ticker", *result.tickers], rows)
