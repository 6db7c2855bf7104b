"""Render the track history into a workbook (openpyxl), atomically.

Sheets: ``Summary`` (realized statistics per window), ``Attribution`` (one block per
available window: reconciliation, top contributors, idiosyncratic return by name), then
one sheet per stored table. Every sheet gets the shared print settings.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from openpyxl import Workbook
from openpyxl.chart import LineChart, Reference
from openpyxl.styles import Font

from xlfactor._files import atomic_write
from xlfactor.excel.sheets import PERCENT, WARNING_FILL, apply_print_settings, autosize, write_table
from xlfactor.reporting.track import PERIOD_RULE, realized_statistics, period_attributions

TOP_ROWS = 10
SHEET_ORDER = (
    ("track", "Track"),
    ("holdings", "Holdings"),
    ("factor_contrib", "FactorContrib"),
    ("idiosyncratic_returns", "IdioReturns"),
    ("idiosyncratic_risk", "IdioRisk"),
    ("active_risk", "ActiveRisk"),
    ("risk_rows", "RiskRows"),
)


def render_track_workbook(path: str | Path, tables: dict[str, pd.DataFrame], statistics: pd.DataFrame) -> Path:
    """Write ``Summary`` (realized statistics) and one sheet per history table to ``path``."""
    wb = Workbook()
    summary = wb.active
    summary.title = "Summary"
    track = tables["track"].sort_values("date")
    summary["A1"] = "xlfactor track history"
    summary["A1"].font = Font(name="Calibri", bold=True, size=14)
    days = len(track)
    summary["A2"] = f"{days} recorded day(s)" + (f", {track['date'].iloc[0]} to {track['date'].iloc[-1]}" if days else "")
    if days and "simulated" in track and track["simulated"].astype(str).eq("True").any():
        summary["A3"] = "SIMULATED MARKET: recorded on a snapshot built from simulated data, not real data"
        summary["A3"].font = Font(name="Calibri", bold=True, color="C00000")
        summary["A3"].fill = WARNING_FILL
    summary["A5"] = "Realized statistics (from the stored daily returns; windows shown when enough days exist)"
    summary["A5"].font = Font(name="Calibri", bold=True)
    if statistics.empty:
        summary["A6"] = f"No window yet: {PERIOD_RULE}."
    else:
        write_table(summary, realized_table(statistics), start_row=6, index=True, by_row=True)
    autosize(summary)
    _write_attribution(wb.create_sheet("Attribution"), tables, days)
    for key, title in SHEET_ORDER:
        ws = wb.create_sheet(title)
        frame = tables[key].sort_values("date", kind="stable") if len(tables[key]) else tables[key]
        write_table(ws, frame)
        ws.freeze_panes = "B2"
        autosize(ws)
    if days >= 2:
        ws = wb["Track"]
        columns = list(track.columns)
        chart = LineChart()
        chart.title = "Ex-ante tracking error"
        chart.y_axis.number_format = "0.0%"
        te = columns.index("tracking_error") + 1
        chart.add_data(Reference(ws, min_col=te, min_row=1, max_row=days + 1), titles_from_data=True)
        chart.set_categories(Reference(ws, min_col=1, min_row=2, max_row=days + 1))
        ws.add_chart(chart, "B" + str(days + 4))
    apply_print_settings(wb)
    return atomic_write(path, wb.save)


REALIZED_ROWS = ("days", "start", "end", "portfolio_return", "benchmark_return", "cumulative_active", "summed_active",
                 "realized_volatility", "tracking_error", "information_ratio", "hit_rate", "realized_beta")  # fmt: skip


def realized_table(statistics: pd.DataFrame) -> pd.DataFrame:
    """Realized statistics with one row per statistic and one column per window (prints narrow)."""
    frame = statistics[list(REALIZED_ROWS)].T
    frame.index.name = "statistic"
    frame.columns = [str(c) for c in frame.columns]
    return frame


def _write_attribution(ws, tables: dict[str, pd.DataFrame], days: int) -> None:
    """One block per available window (1W, 1M, 1Q, 1Y, All), each from :func:`xlfactor.reporting.track.track_attribution`."""
    ws["A1"] = "Multi-day active return attribution over the stored holding path"
    ws["A1"].font = Font(name="Calibri", bold=True, size=12)
    ws["A2"] = "Sums of the stored daily contributions (each day's own holdings); compounded returns and the linking residual below."
    ws["A2"].font = Font(name="Calibri", italic=True)
    windows = period_attributions(tables) if days else {}
    if not windows:
        ws["A4"] = f"{days} stored day(s): no window yet ({PERIOD_RULE})."
        return
    row = 4
    for label, result in windows.items():
        attrs = result["reconciliation"].attrs
        ws.cell(row=row, column=1, value=f"{label}: {attrs['days']} stored days, {attrs['start']} to {attrs['end']}").font = Font(name="Calibri", bold=True, size=12)
        last, _ = write_table(ws, result["reconciliation"], start_row=row + 1, index=True, formats={"return": PERCENT, "pct_active": PERCENT})
        top = result["contributors"].head(TOP_ROWS)
        ws.cell(row=last + 2, column=1, value=f"Top {len(top)} active return contributors ({label})").font = Font(name="Calibri", bold=True)
        last, _ = write_table(ws, top, start_row=last + 3, formats={"pct_active": PERCENT, "te_share": PERCENT})
        names = result["names"].head(TOP_ROWS)
        ws.cell(row=last + 2, column=1, value=f"Idiosyncratic return by name ({label}, average weight over the window)").font = Font(name="Calibri", bold=True)
        last, _ = write_table(ws, names, start_row=last + 3, formats={"pct_idiosyncratic": PERCENT})
        row = last + 3
    autosize(ws, maximum=40)


def write_track_workbook(path: str | Path, tables: dict[str, pd.DataFrame]) -> Path:
    """Render the history tables (:func:`xlfactor.reporting.track.read_history`) with their realized statistics."""
    return render_track_workbook(path, tables, realized_statistics(tables["track"]))
