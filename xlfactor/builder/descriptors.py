"""Raw style descriptors, one (n_dates, n_tickers) array each, known at each close.

Row ``d`` of every descriptor uses prices through date ``d`` and fundamentals available
by ``d`` only, so the exposures built from it can explain returns of the next day.
Rolling windows are computed with cumulative sums (vectorized over dates and tickers);
a value needs a minimum number of observations, else it is NaN. A descriptor whose
inputs are absent is not computed (the builder reports it as skipped).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable

import numpy as np
import pandas as pd

from xlfactor.conventions import SQRT_TRADING_DAYS, TRADING_DAYS_PER_YEAR
from xlfactor.builder.inputs import MarketData

YEAR = TRADING_DAYS_PER_YEAR
MONTH = 21


def rolling_sum(values: np.ndarray, window: int, min_count: int, lag: int = 0) -> np.ndarray:
    """Sum of the ``window`` rows ending ``lag`` rows before each row (NaN ignored).

    NaN where fewer than ``min_count`` finite values are in the window.
    """
    finite = np.isfinite(values)
    total = np.vstack([np.zeros((1,) + values.shape[1:]), np.cumsum(np.where(finite, values, 0.0), axis=0)])
    count = np.vstack([np.zeros((1,) + values.shape[1:]), np.cumsum(finite, axis=0)])
    n = values.shape[0]
    end = np.arange(n) - lag + 1  # exclusive end index into the cumulative arrays
    start = np.maximum(end - window, 0)
    valid_end = np.clip(end, 0, n)
    sums = total[valid_end] - total[start]
    counts = count[valid_end] - count[start]
    out = np.where(counts >= min_count, sums, np.nan)
    out[end <= 0] = np.nan
    return out


def rolling_count(values: np.ndarray, window: int, lag: int = 0) -> np.ndarray:
    """Finite values in the same windows as :func:`rolling_sum`."""
    return rolling_sum(np.where(np.isfinite(values), 1.0, np.nan), window, 0, lag)


def market_return(data: MarketData) -> np.ndarray:
    """Cap-weighted universe return of each day (caps of the previous close), shape (n_dates,)."""
    caps = np.vstack([np.full((1, data.market_cap.shape[1]), np.nan), data.market_cap[:-1]])
    usable = np.isfinite(data.returns) & (caps > 0)
    weights = np.where(usable, caps, 0.0)
    total = weights.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        out = (weights * np.where(usable, data.returns, 0.0)).sum(axis=1) / total
    out[total <= 0] = np.nan
    return out


def _log_returns(data: MarketData) -> np.ndarray:
    return np.log1p(data.returns)


def size(data: MarketData) -> np.ndarray:
    """Log market cap (dollars); NaN where the cap is unknown or not positive."""
    return np.log(np.where(data.market_cap > 0, data.market_cap, np.nan))


def _beta_moments(data: MarketData):
    r = data.returns
    m = np.broadcast_to(market_return(data)[:, None], r.shape)
    paired = np.isfinite(r) & np.isfinite(m)
    r0, m0 = np.where(paired, r, np.nan), np.where(paired, m, np.nan)
    n = rolling_count(r0, YEAR)
    mins = 63
    s_r, s_m = rolling_sum(r0, YEAR, mins), rolling_sum(m0, YEAR, mins)
    s_rm, s_mm, s_rr = rolling_sum(r0 * m0, YEAR, mins), rolling_sum(m0 * m0, YEAR, mins), rolling_sum(r0 * r0, YEAR, mins)
    with np.errstate(invalid="ignore", divide="ignore"):
        cov = (s_rm - s_r * s_m / n) / (n - 1)
        var_m = (s_mm - s_m * s_m / n) / (n - 1)
        var_r = (s_rr - s_r * s_r / n) / (n - 1)
    return cov, var_m, var_r


def beta(data: MarketData) -> np.ndarray:
    """OLS slope of the stock's daily returns on the cap-weighted market over 252 days (>= 63)."""
    cov, var_m, _ = _beta_moments(data)
    with np.errstate(invalid="ignore", divide="ignore"):
        return cov / var_m


def residual_volatility(data: MarketData) -> np.ndarray:
    """Annualized volatility of the residual of that regression: sqrt(var(r) - beta^2 var(m))."""
    cov, var_m, var_r = _beta_moments(data)
    with np.errstate(invalid="ignore", divide="ignore"):
        residual = var_r - cov * cov / var_m
    return np.sqrt(np.maximum(residual, 0.0)) * SQRT_TRADING_DAYS


MOMENTUM_WINDOW = YEAR - MONTH
"""Days of the momentum window: months t-12 to t-2, the prior 2-12 return of Fama-French and Carhart."""


def momentum(data: MarketData) -> np.ndarray:
    """Return over the 231 days ending 21 days ago (months t-12..t-2, skipping the last month), >= 180 days.

    The Fama-French / Carhart definition ("prior 2-12" returns, the sort variable of Ken
    French's ``Mom``): the year before the latest month, whose own return is left to
    short-term reversal. OpenFactor uses 252 days ending 21 days ago (months t-13..t-2).
    """
    return np.expm1(rolling_sum(_log_returns(data), MOMENTUM_WINDOW, 180, lag=MONTH))


def short_term_reversal(data: MarketData) -> np.ndarray:
    """Minus the return of the last 21 days (>= 15 days)."""
    return -np.expm1(rolling_sum(_log_returns(data), MONTH, 15))


def long_term_reversal(data: MarketData) -> np.ndarray:
    """Minus the return over the year that ended one year ago (>= 200 days)."""
    return -np.expm1(rolling_sum(_log_returns(data), YEAR, 200, lag=YEAR))


def seasonality(data: MarketData) -> np.ndarray:
    """Mean daily return in the 21-day windows around the same date one and two years ago."""
    one = rolling_sum(data.returns, MONTH, 10, lag=YEAR - 10)
    two = rolling_sum(data.returns, MONTH, 10, lag=2 * YEAR - 10)
    n_one = rolling_count(data.returns, MONTH, lag=YEAR - 10)
    n_two = rolling_count(data.returns, MONTH, lag=2 * YEAR - 10)
    total = np.nan_to_num(one) + np.nan_to_num(two)
    count = np.where(np.isfinite(one), n_one, 0) + np.where(np.isfinite(two), n_two, 0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count > 0, total / count, np.nan)


def downside_risk(data: MarketData) -> np.ndarray:
    """Annualized root mean square of the negative daily returns over 252 days (>= 20 of them)."""
    negative = np.where(data.returns < 0, data.returns, np.nan)
    squares = rolling_sum(negative * negative, YEAR, 20)
    count = rolling_count(negative, YEAR)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.sqrt(squares / count) * SQRT_TRADING_DAYS


def prospect(data: MarketData) -> np.ndarray:
    """Skewness of daily returns over 252 days (>= 63): lottery-like payoff."""
    r = data.returns
    n = rolling_count(r, YEAR)
    s1, s2, s3 = (rolling_sum(r**p, YEAR, 63) for p in (1, 2, 3))
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = s1 / n
        variance = s2 / n - mean**2
        third = s3 / n - 3 * mean * s2 / n + 2 * mean**3
        return np.where(variance > 0, third / variance**1.5, np.nan)


def liquidity(data: MarketData) -> np.ndarray:
    """log(1 + mean daily dollar volume) over 63 days (>= 20)."""
    dollars = data.close * data.volume
    total = rolling_sum(dollars, 63, 20)
    count = rolling_count(dollars, 63)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.log1p(total / count)


# ---------------------------------------------------------------- fundamentals


def _ratio(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(denominator > 0, numerator / denominator, np.nan)


def _year_over_year(data: MarketData, column: str) -> np.ndarray | None:
    """Growth of a reported value against the report of about a year before, as of each date."""
    reports = data.reports
    if reports is None or column not in reports:
        return None
    frame = reports[["ticker", "available_date", column]].dropna().copy()
    if frame.empty:
        return None
    frame["when"] = pd.to_datetime(frame["available_date"])
    frame = frame.sort_values("when")
    earlier = frame.rename(columns={column: "before", "when": "when_before"})[["ticker", "when_before", "before"]]
    frame["lookup"] = frame["when"] - pd.Timedelta(days=300)
    joined = pd.merge_asof(
        frame.sort_values("lookup"), earlier.sort_values("when_before"),
        left_on="lookup", right_on="when_before", by="ticker", direction="backward",
        tolerance=pd.Timedelta(days=500),
    )  # fmt: skip
    joined["growth"] = np.where(joined["before"].abs() > 0, joined[column] / joined["before"].abs() - np.sign(joined["before"]), np.nan)
    return _asof_panel(data, joined, "growth")


def _asof_panel(data: MarketData, frame: pd.DataFrame, column: str) -> np.ndarray:
    frame = frame.dropna(subset=[column]).sort_values("available_date", kind="stable")
    row = np.searchsorted(data.dates, frame["available_date"].to_numpy(), side="left")
    col = np.searchsorted(data.tickers, frame["ticker"].to_numpy())
    keep = row < len(data.dates)
    grid = np.full(data.close.shape, np.nan)
    grid[row[keep], col[keep]] = frame[column].to_numpy(dtype=float)[keep]
    return pd.DataFrame(grid).ffill().to_numpy()


def _earnings_variability(data: MarketData) -> np.ndarray | None:
    reports = data.reports
    if reports is None or not {"net_income", "total_assets"} <= set(reports.columns):
        return None
    frame = reports[["ticker", "available_date", "net_income", "total_assets"]].dropna().copy()
    frame = frame[frame["total_assets"] > 0].sort_values(["ticker", "available_date"])
    frame["roa"] = frame["net_income"] / frame["total_assets"]
    frame["variability"] = frame.groupby("ticker")["roa"].transform(lambda s: s.rolling(8, min_periods=4).std())
    return _asof_panel(data, frame, "variability")


def report_descriptors(data: MarketData) -> dict[str, np.ndarray]:
    """Descriptors that depend on the reports only (not on prices): growth, investment, variability."""
    out = {}
    growth_parts = [g for g in (_year_over_year(data, "revenue"), _year_over_year(data, "net_income")) if g is not None]
    if growth_parts:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            out["growth"] = np.nanmean(np.stack(growth_parts), axis=0) if len(growth_parts) > 1 else growth_parts[0]
    investment = _year_over_year(data, "total_assets")
    if investment is not None:
        out["investment"] = investment
    variability = _earnings_variability(data)
    if variability is not None:
        out["earnings_variability"] = variability
    return out


Lazy = list[tuple[str, Callable[[], np.ndarray]]]
"""``[(name, compute), ...]``: descriptors whose inputs are present, each computed only when called."""


def fundamental_items(data: MarketData, from_reports: dict[str, np.ndarray] | None = None) -> Lazy:
    """The fundamental styles whose inputs are present, uncomputed (``from_reports`` reuses :func:`report_descriptors`)."""
    f = data.fundamentals
    reported = report_descriptors(data) if from_reports is None else from_reports
    cap, price = data.market_cap, data.close

    def have(*names: str) -> bool:
        return all(n in f for n in names)

    def forward_growth() -> np.ndarray:
        trailing = _ratio(f["net_income"], f["shares_outstanding"])
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(np.abs(trailing) > 0, f["eps_forward"] / np.abs(trailing) - np.sign(trailing), np.nan)

    def short_interest() -> np.ndarray:
        shares = f["shares_outstanding"] if "shares_outstanding" in f else _ratio(cap, price)
        return _ratio(f["short_interest"], shares)

    candidates = [
        ("value", have("book_equity"), lambda: _ratio(f["book_equity"], cap)),
        ("earnings_yield", have("net_income"), lambda: _ratio(f["net_income"], cap)),
        ("forward_earnings_yield", have("eps_forward"), lambda: _ratio(f["eps_forward"], price)),
        ("dividend_yield", have("dividends_per_share"), lambda: _ratio(f["dividends_per_share"], price)),
        ("growth", "growth" in reported, lambda: reported["growth"]),
        ("forward_growth", have("eps_forward", "net_income", "shares_outstanding"), forward_growth),
        ("profitability", have("net_income", "total_assets"), lambda: _ratio(f["net_income"], f["total_assets"])),
        ("gross_profitability", have("gross_profit", "total_assets"), lambda: _ratio(f["gross_profit"], f["total_assets"])),
        ("leverage", have("total_liabilities", "total_assets"), lambda: _ratio(f["total_liabilities"], f["total_assets"])),
        ("investment", "investment" in reported, lambda: reported["investment"]),
        ("investment_quality", have("capex", "total_assets"), lambda: -_ratio(f["capex"], f["total_assets"])),
        ("earnings_quality", have("operating_cash_flow", "net_income", "total_assets"),
         lambda: _ratio(f["operating_cash_flow"] - f["net_income"], f["total_assets"])),
        ("earnings_variability", "earnings_variability" in reported, lambda: reported["earnings_variability"]),
        ("short_interest", have("short_interest"), short_interest),
        ("sentiment", have("analyst_score"), lambda: f["analyst_score"]),
    ]  # fmt: skip
    return [(name, compute) for name, present, compute in candidates if present]


def fundamental_descriptors(data: MarketData, from_reports: dict[str, np.ndarray] | None = None) -> dict[str, np.ndarray]:
    """The fundamental styles whose inputs are present (``from_reports`` reuses :func:`report_descriptors`)."""
    return {name: compute() for name, compute in fundamental_items(data, from_reports)}


PRICE_DESCRIPTORS: dict[str, Callable[[MarketData], np.ndarray]] = {
    "beta": beta,
    "momentum": momentum,
    "prospect": prospect,
    "long_term_reversal": long_term_reversal,
    "short_term_reversal": short_term_reversal,
    "seasonality": seasonality,
    "residual_volatility": residual_volatility,
    "downside_risk": downside_risk,
    "liquidity": liquidity,
}
"""Price styles (OpenFactor group ``price``); ``size`` and ``mid_cap`` are added by the builder.

OpenFactor's ``industry_momentum`` (the leave-one-out momentum of a name's industry peers)
is not built: next to industry factors it is constant within an industry but for the
name's own weight, so all it can add is minus the name's own momentum scaled by its cap
share, which competes with momentum; the industry factor returns carry industry momentum.
"""


def descriptor_items(data: MarketData, from_reports: dict[str, np.ndarray] | None = None) -> Lazy:
    """Every descriptor computable from ``data``, uncomputed, in the order of :func:`raw_descriptors`.

    The names are known without computing anything, so a caller can lay out its arrays
    first and then compute, use and drop one descriptor at a time (the builder's memory
    holds one raw panel, not all of them).
    """
    items: Lazy = [("size", lambda: size(data))]
    for name, function in PRICE_DESCRIPTORS.items():
        if name == "liquidity" and not np.isfinite(data.volume).any():
            continue
        items.append((name, lambda function=function: function(data)))
    items.extend(fundamental_items(data, from_reports))
    return items


def raw_descriptors(data: MarketData, from_reports: dict[str, np.ndarray] | None = None) -> dict[str, np.ndarray]:
    """Every descriptor computable from ``data`` (mid_cap comes after standardization).

    ``from_reports`` may hold :func:`report_descriptors` of the same reports, to reuse them.
    """
    return {name: compute() for name, compute in descriptor_items(data, from_reports)}
