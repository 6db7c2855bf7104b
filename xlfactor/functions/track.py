"""Worksheet functions on a track folder: multi-day attribution and realized statistics.

Both read the stored daily rows of a track folder (``xlfactor track`` or OpenFactor's
``--track``); nothing is recomputed from today's weights. Returns are decimals over the
period; volatility and tracking error annualized decimals.
"""

from __future__ import annotations

from typing import Any

from xlfactor.errors import XlfactorError
from xlfactor.functions.catalog import register_arguments, track_folder_argument, worksheet_function
from xlfactor.functions.ranges import optional_text, table

register_arguments(
    {
        "track_folder": "Track folder (xlfactor track --history, or OpenFactor's --track folder).",
        "period": "1W, 1M, 1Q, 1Y or All (the last 7, 22, 63, 252 or all stored days).",
        "statistic": "realized_beta, information_ratio, hit_rate, realized_volatility, tracking_error, "
        "cumulative_active...; omit for the table.",
    }
)

STATISTICS = (
    "realized_beta", "information_ratio", "hit_rate", "realized_volatility", "tracking_error",
    "portfolio_return", "benchmark_return", "cumulative_active", "summed_active", "mean_daily_active", "days",
)  # fmt: skip


def _folder(track_folder) -> str:
    return track_folder_argument(track_folder)  # on the team server: inside the caller's own area


@worksheet_function(returns="table")
def OF_TRACKATTRIBUTION(track_folder, period=None):  # noqa: N802
    """Multi-day active-return reconciliation over the stored days of a period (sums of daily contributions)."""
    from xlfactor.reporting.track import track_attribution

    result = track_attribution(_folder(track_folder), optional_text(period) or "1M")
    frame = result["reconciliation"]
    attrs = frame.attrs
    header = [f"component ({attrs['period']}: {attrs['days']} days {attrs['start']} to {attrs['end']})", "return", "pct_active", "basis"]
    rows = zip(frame.index.tolist(), frame["return"].tolist(), frame["pct_active"].tolist(), frame["basis"].tolist())
    return table(header, rows)


@worksheet_function(returns="number or table")
def OF_REALIZED(track_folder, statistic=None, period=None) -> Any:  # noqa: N802
    """Realized statistics from the stored daily returns: beta, information ratio, hit rate, volatility, ex-post TE."""
    from xlfactor.reporting.track import load_track, realized_statistics, period_dates

    folder = _folder(track_folder)
    tables = load_track(folder)
    stats = realized_statistics(tables["track"])
    if stats.empty:
        period_dates(tables["track"], "1W", folder)  # raises: fewer than 7 stored days
    name = optional_text(statistic)
    label = optional_text(period)
    if label is not None:
        period_dates(tables["track"], label, folder)  # one-line message when too few days
        label = {k.lower(): k for k in stats.index}[label.lower()]
    if name is not None and name.lower() not in STATISTICS:
        raise XlfactorError(f"statistic must be one of {', '.join(STATISTICS)}, got {name!r}")
    if name is None:
        frame = stats if label is None else stats.loc[[label]]
        columns = ["period", *STATISTICS]
        rows = ([w, *(stats.loc[w, c] for c in STATISTICS)] for w in frame.index)
        return table(columns, rows)
    label = label or stats.index[-1]
    return float(stats.loc[label, name.lower()])
