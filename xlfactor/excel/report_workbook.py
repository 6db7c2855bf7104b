"""Write a ``portfolio_report`` as an Excel workbook (openpyxl, no Excel needed)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from openpyxl import Workbook
from openpyxl.styles import Font

from xlfactor._files import atomic_write
from xlfactor.excel.sheets import PERCENT, WARNING_FILL, autosize, write_table

SHEETS = (
    ("Risk", "risk_decomposition", True),
    ("ActiveRisk", "active_risk", False),
    ("FactorRisk", "factor_risk", False),
    ("IdioRisk", "idiosyncratic_by_name", False),
    ("Attribution", "attribution", True),
    ("AttributionFactors", "attribution_factors", False),
    ("VaR", "var", False),
    ("Style", "style", False),
    ("Sector", "sector", False),
    ("Industry", "industry", False),
    ("Holdings", "holdings", False),
    ("Missing", "missing_holdings", False),
)


def write_report_workbook(report: dict[str, pd.DataFrame], path: str | Path) -> Path:
    """Write ``report`` (from :func:`xlfactor.portfolio_report`) to ``path`` atomically."""
    wb = Workbook()
    summary = wb.active
    summary.title = "Summary"
    snapshot = report["snapshot"]["value"]
    row = 1
    summary.cell(row=row, column=1, value="xlfactor portfolio risk report").font = Font(bold=True, size=14)
    if snapshot.get("simulated") == "True":
        row += 1
        cell = summary.cell(row=row, column=1, value=snapshot.get("note", "SIMULATED MARKET"))
        cell.font = Font(bold=True, color="C00000")
        cell.fill = WARNING_FILL
    row += 2
    last, _ = write_table(summary, report["summary"], start_row=row, index=True)
    for r in range(row + 1, last + 1):
        name = summary.cell(row=r, column=1).value
        if name in ("beta", "effective_names", "holdings", "missing_holdings"):
            summary.cell(row=r, column=2).number_format = "0.000"
        else:
            summary.cell(row=r, column=2).number_format = PERCENT
    write_table(summary, report["snapshot"], start_row=row, start_col=4, index=True)
    summary.freeze_panes = summary.cell(row=row + 1, column=1)
    autosize(summary)
    for title, key, with_index in SHEETS:
        ws = wb.create_sheet(title)
        write_table(ws, report[key], index=with_index)
        ws.freeze_panes = "A2"
        autosize(ws)
    return atomic_write(path, wb.save)
