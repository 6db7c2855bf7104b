"""Small openpyxl helpers shared by the workbook writers: tables, formats, widths.

Every text cell goes through :func:`xlfactor.cells.set_cell` (user strings never become formulas).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from openpyxl.styles import Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from xlfactor.cells import set_cell

PERCENT = "0.00%"
DECIMAL = "0.000"
MONEY = "#,##0"
HEADER_FONT = Font(bold=True, color="FFFFFF")
HEADER_FILL = PatternFill("solid", fgColor="1F4E78")
WARNING_FILL = PatternFill("solid", fgColor="FCE4D6")
DIVERSIFIER_FILL = PatternFill("solid", fgColor="E2EFDA")

PERCENT_WORDS = (
    "risk",
    "weight",
    "share",
    "var",
    "tracking_error",
    "contribution",
    "return",
    "volatility",
    "expected_shortfall",
    "allocation",
)


def column_format(name: str) -> str | None:
    """Number format for a report column from its name (risk, weights, returns in percent)."""
    lowered = name.lower()
    if lowered in ("exposure", "portfolio_exposure", "benchmark_exposure", "active_exposure", "correlation", "beta"):
        return DECIMAL
    if lowered in ("amount", "value"):
        return MONEY
    if any(word in lowered for word in PERCENT_WORDS):
        return PERCENT
    return None


def cell_value(value: object) -> object:
    """A value openpyxl can store: numpy scalars to Python, NaN to empty."""
    if isinstance(value, (np.floating, float)):
        return None if math.isnan(value) else float(value)
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.bool_,)):
        return bool(value)
    return value


def write_table(
    ws: Worksheet,
    frame: pd.DataFrame,
    start_row: int = 1,
    start_col: int = 1,
    index: bool = False,
    formats: dict[str, str] | None = None,
) -> tuple[int, int]:
    """Write ``frame`` with a styled header row; return (last_row, last_col)."""
    if index:
        frame = frame.reset_index()
    formats = formats or {}
    for j, name in enumerate(frame.columns):
        cell = set_cell(ws.cell(row=start_row, column=start_col + j), str(name))
        cell.font = HEADER_FONT
        cell.fill = HEADER_FILL
    values = frame.to_numpy(dtype=object)
    for i, row in enumerate(values, start=start_row + 1):
        for j, value in enumerate(row):
            set_cell(ws.cell(row=i, column=start_col + j), cell_value(value))  # text stays text, never a formula
    for j, name in enumerate(frame.columns):
        fmt = formats.get(str(name), column_format(str(name)))
        if fmt:
            for i in range(start_row + 1, start_row + 1 + len(frame)):
                ws.cell(row=i, column=start_col + j).number_format = fmt
    return start_row + len(frame), start_col + len(frame.columns) - 1


def autosize(ws: Worksheet, minimum: int = 8, maximum: int = 48) -> None:
    """Set column widths from the longest text in each column."""
    widths: dict[int, int] = {}
    for row in ws.iter_rows():
        for cell in row:
            if cell.value is None:
                continue
            text = cell.value if isinstance(cell.value, str) else f"{cell.value:.4f}" if isinstance(cell.value, float) else str(cell.value)
            widths[cell.column] = max(widths.get(cell.column, 0), len(text))
    for column, width in widths.items():
        ws.column_dimensions[get_column_letter(column)].width = max(minimum, min(maximum, width + 2))
