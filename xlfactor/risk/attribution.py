"""Daily return attribution with lagged exposures.

For a return date ``t`` the exposures are those known at the close of the previous
trading date (the exposure panel's block for ``t-1``), so nothing is looked up after
the fact. For weights ``w``:

* factor contribution ``c_k = (X_{t-1}' w)_k f_{k,t}``,
* idiosyncratic contribution ``sum_i w_i e_{i,t}``,
* return = sum of factor contributions + idiosyncratic contribution.

Benchmark return uses the same formula with the benchmark weights, so
``benchmark + active = portfolio`` holds exactly, and the market, style, sector,
industry and idiosyncratic rows add up to each total, for long/short books too.
Returns are daily simple decimals.

Idiosyncratic return by name lists the portfolio's holdings only, yet the active
idiosyncratic return also contains the benchmark's own residual return
``sum_j b_j e_j`` (over every benchmark name, held or not). Each holding's row is
therefore adjusted by its share of gross exposure of that benchmark term:
``active_contribution_i = w_i e_i - (|w_i| / sum|w|) sum_j b_j e_j``, so the name rows add
up exactly to the benchmark-relative idiosyncratic return of the summary (long-only and
long/short books, any benchmark).
"""

from __future__ import annotations

import bisect

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from xlfactor._typing import FloatArray
from xlfactor.conventions import FACTOR_GROUPS
from xlfactor.errors import XlfactorError
from xlfactor.snapshot.snapshot import Snapshot

if TYPE_CHECKING:
    from xlfactor.risk.model_data import FactorModelData

ATTRIBUTION_ROWS = (*FACTOR_GROUPS, "idiosyncratic", "total")


@dataclass(frozen=True, eq=False)
class DailyAttribution:
    """Attribution of one return date (daily decimal returns)."""

    date: str
    exposure_date: str
    summary: pd.DataFrame  # index ATTRIBUTION_ROWS; columns portfolio, benchmark, active
    factors: pd.DataFrame  # one row per factor
    names: pd.DataFrame  # one row per name the portfolio holds (weight != 0); active_contribution sums to the active idiosyncratic row
    notes: list[str] = field(default_factory=list)


def attributable_dates(snapshot: Snapshot) -> list[str]:
    """Return dates whose previous trading date is in the exposure panel (ascending)."""
    panel = snapshot.exposure_panel
    if panel is None:
        return []
    dates = list(snapshot.factor_returns.index)
    panel_dates = set(panel.dates.tolist())
    return [t for prev, t in zip(dates[:-1], dates[1:]) if prev in panel_dates]


def attribution_date(snapshot: Snapshot, date: str | None = None) -> str:
    """The return date to attribute: ``date`` checked against :func:`attributable_dates`, or the latest.

    ``None``, ``""`` and ``"latest"`` mean the latest attributable date.

    Raises
    ------
    XlfactorError
        If the snapshot has no exposure panel or ``date`` cannot be attributed (the
        message gives the attributable range).
    """
    dates = attributable_dates(snapshot)
    if not dates:
        raise XlfactorError("the snapshot has no lagged exposure panel: return attribution is unavailable")
    chosen = dates[-1] if date in (None, "", "latest") else str(date)
    if chosen not in dates:
        position = bisect.bisect_left(dates, chosen)
        if 0 < position < len(dates):  # inside the range: not a trading date of the snapshot
            raise XlfactorError(
                f"no attribution for {chosen}: not a trading date of the snapshot; the nearest are "
                f"{dates[position - 1]} (before) and {dates[position]} (after)"
            )
        raise XlfactorError(f"no attribution for {chosen}: attributable dates run {dates[0]} to {dates[-1]}")
    return chosen


def daily_attribution(
    data: FactorModelData, weights: FloatArray, benchmark_weights: FloatArray, date: str | None = None
) -> DailyAttribution:
    """Attribute one day's return of ``weights`` and ``benchmark_weights``.

    Parameters
    ----------
    data : FactorModelData
        The aligned model (its snapshot provides the panel and the returns).
    weights, benchmark_weights : ndarray of shape (n_assets,)
        Held over the return date, in universe order.
    date : str, optional
        ISO return date; the latest attributable date by default.

    Returns
    -------
    DailyAttribution
        ``summary`` rows market, style, sector, industry, idiosyncratic, total (daily
        decimal returns; columns portfolio, benchmark, active = portfolio - benchmark),
        ``factors`` one row per factor, ``names`` one row per name the portfolio holds.

    Raises
    ------
    XlfactorError
        If the snapshot has no exposure panel or ``date`` cannot be attributed.
    """
    snapshot = data.snapshot
    date = attribution_date(snapshot, date)
    returns_index = snapshot.factor_returns.index
    exposure_date = returns_index[returns_index.get_loc(date) - 1]
    panel = snapshot.exposure_panel
    lagged = np.asarray(panel.values[int(np.searchsorted(panel.dates, exposure_date))])
    notes: list[str] = []
    factor_returns = snapshot.factor_returns.loc[date].to_numpy(dtype=float)
    if np.isnan(factor_returns).any():
        notes.append(f"{int(np.isnan(factor_returns).sum())} factor returns missing on {date}: counted as 0")
        factor_returns = np.nan_to_num(factor_returns)
    residual = snapshot.residual_returns.loc[date].to_numpy(dtype=float)
    held = (weights != 0) | (benchmark_weights != 0)
    absent = held & np.isnan(residual)
    if absent.any():
        notes.append(f"{int(absent.sum())} held names have no residual return on {date}: counted as 0")
    residual = np.nan_to_num(residual)

    x_p = lagged.T @ weights
    x_b = lagged.T @ benchmark_weights
    c_p, c_b = x_p * factor_returns, x_b * factor_returns
    idiosyncratic_p, idiosyncratic_b = float(weights @ residual), float(benchmark_weights @ residual)
    groups = data.factor_groups
    portfolio = [c_p[groups == g].sum() for g in FACTOR_GROUPS] + [idiosyncratic_p]
    benchmark = [c_b[groups == g].sum() for g in FACTOR_GROUPS] + [idiosyncratic_b]
    portfolio.append(sum(portfolio))
    benchmark.append(sum(benchmark))
    summary = pd.DataFrame({"portfolio": portfolio, "benchmark": benchmark}, index=list(ATTRIBUTION_ROWS))
    summary["active"] = summary["portfolio"] - summary["benchmark"]
    summary.index.name = "component"
    factors = pd.DataFrame(
        {
            "factor": data.factor_names,
            "group": groups,
            "factor_return": factor_returns,
            "portfolio_exposure": x_p,
            "benchmark_exposure": x_b,
            "active_exposure": x_p - x_b,
            "portfolio_contribution": c_p,
            "benchmark_contribution": c_b,
            "active_contribution": c_p - c_b,
        }
    )
    active_total = float(c_p.sum() - c_b.sum()) + idiosyncratic_p - idiosyncratic_b
    factors["pct_active"] = factors["active_contribution"] / active_total if active_total else np.nan
    rows = np.nonzero(weights)[0]
    raw = weights[rows] * residual[rows]
    gross = float(np.abs(weights).sum())
    adjustment = -np.abs(weights[rows]) / gross * idiosyncratic_b if gross > 0 else np.zeros(len(rows))
    names = pd.DataFrame(
        {
            "ticker": data.tickers[rows],
            "weight": weights[rows],
            "residual_return": residual[rows],
            "contribution": raw,
            "benchmark_adjustment": adjustment,
            "active_contribution": raw + adjustment,
        }
    )
    return DailyAttribution(
        date=date, exposure_date=str(exposure_date), summary=summary, factors=factors, names=names, notes=notes
    )
