"""Render the track history into a workbook (openpyxl), atomically."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from openpyxl import Workbook
from openpyxl.chart import LineChart, Reference
from openpyxl.styles import Font

from xlfactor._files import atomic_write
from xlfactor.excel.sheets import PERCENT, WARNING_FILL, autosize, write_table
from xlfactor.track import realized_statistics

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
    summary["A1"].font = Font(bold=True, size=14)
    days = len(track)
    summary["A2"] = f"{days} recorded day(s)" + (f", {track['date'].iloc[0]} to {track['date'].iloc[-1]}" if days else "")
    if days and track["simulated"].astype(str).eq("True").any():
        summary["A3"] = "SIMULATED MARKET: recorded on the embedded demo snapshot, not real data"
        summary["A3"].font = Font(bold=True, color="C00000")
        summary["A3"].fill = WARNING_FILL
    summary["A5"] = "Realized statistics (from the stored daily returns; windows shown when enough days exist)"
    summary["A5"].font = Font(bold=True)
    formats = {"hit_rate": PERCENT, "information_ratio": "0.00", "realized_beta": "0.000", "days": "0"}
    write_table(summary, statistics, start_row=6, index=True, formats=formats)
    autosize(summary)
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
    return atomic_write(path, wb.save)


def write_track_workbook(path: str | Path, tables: dict[str, pd.DataFrame]) -> Path:
    """Render the history tables (:func:`xlfactor.track.read_history`) with their realized statistics."""
    return render_track_workbook(path, tables, realized_statistics(tables["track"]))
