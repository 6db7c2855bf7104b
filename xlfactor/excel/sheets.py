"""Small openpyxl helpers shared by the workbook writers: tables, formats, widths, printing.

Number formats are chosen by quantity (:func:`quantity_format`): percent for risk,
returns, weights and shares; ``0.00`` for betas, ratios and exposures; dollars with the
sign before the symbol; integers for counts; booleans are written ``Yes``/``No``.
:func:`write_table` applies them by column name (or by row label for a two-column
``metric, value`` table) and writes human headers (:func:`header_label`);
:func:`title_rows` gives a sheet its title and its one-line "how to read this";
:func:`apply_print_settings` gives every visible sheet of a workbook its print settings
(A4 landscape, fit to one page wide, the header rows repeated, a print area covering the
cells and the charts). A data sheet (:func:`set_not_printed`) is for the screen only.

Every text cell goes through :func:`xlfactor.cells.set_cell` (user strings never become formulas).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import column_index_from_string, get_column_letter
from openpyxl.utils.cell import coordinate_from_string
from openpyxl.worksheet.worksheet import Worksheet

from xlfactor.cells import set_cell

PERCENT = "0.00%"
DECIMAL = "0.00"  # exposures (standard deviations; 1.00 for the market)
RATIO = "0.00"  # betas, information ratios, t statistics, correlations
COUNT = "#,##0"
MONEY = '$#,##0;-$#,##0;$0'  # the sign before the symbol: -$445,660
SMALL = "0.0000"  # eigenvalues and other small model diagnostics
TITLE_FONT = Font(name="Calibri", bold=True, size=14, color="1F4E78")
NOTE_FONT = Font(name="Calibri", italic=True, color="595959")
SECTION_FONT = Font(name="Calibri", bold=True, size=12, color="1F4E78")
NOT_PRINTED = "$XFD$1048576"  # a data sheet's print area: one empty cell, so LibreOffice prints no page of it
HEADER_FONT = Font(name="Calibri", bold=True, color="FFFFFF")
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
    "active",
    "pct",
    "hit_rate",
    "confidence",
    "shortfall",
)
COUNT_NAMES = ("days", "holdings", "missing_holdings", "tickers", "factors", "observations", "panel_dates", "count", "names")
VARIANCE = "0.000000"  # variances (decimal squared), too small for a percent

HEADER_LABELS = {
    "factor": "Factor", "group": "Group", "ticker": "Ticker", "name": "Name", "sector": "Sector", "industry": "Industry",
    "portfolio": "Portfolio", "benchmark": "Benchmark", "active": "Active", "weight": "Weight",
    "benchmark_weight": "Benchmark weight", "active_weight": "Active weight",
    "portfolio_exposure": "Portfolio exposure", "benchmark_exposure": "Benchmark exposure", "active_exposure": "Active exposure",
    "exposure": "Exposure", "factor_volatility": "Factor volatility", "correlation": "Correlation",
    "te_contribution": "Contribution to TE", "te_share": "Share of TE²", "diversifier": "Diversifier",
    "variance_contribution": "Variance contribution", "risk_contribution": "Contribution to risk", "share": "Share",
    "idiosyncratic_risk": "Idiosyncratic risk", "observations": "Days of history",
    "active_variance_contribution": "Active variance contribution", "marginal_contribution": "Marginal contribution",
    "scenario": "Scenario", "kind": "Kind", "start": "Start", "end": "End", "description": "Description",
    "measure": "Measure", "historical_var": "Historical VaR", "parametric_var": "Parametric VaR", "ratio": "Historical / parametric",
    "historical_es": "Historical ES", "parametric_es": "Parametric ES", "es_ratio": "ES historical / parametric",
    "confidence": "Confidence", "horizon_days": "Horizon (days)", "var": "VaR", "active_var": "Active VaR",
    "expected_shortfall": "Expected shortfall", "active_expected_shortfall": "Active expected shortfall",
    "factor_return": "Factor return", "portfolio_contribution": "Portfolio contribution",
    "benchmark_contribution": "Benchmark contribution", "active_contribution": "Active contribution",
    "pct_active": "Share of active return", "contribution": "Contribution", "residual_return": "Idiosyncratic return",
    "benchmark_adjustment": "Benchmark adjustment", "component": "Component", "return": "Return",
    "mean_abs_t": "Mean |t|", "share_abs_t_over_2": "Days with |t| > 2", "etf": "ETF", "etf_cascade": "Cascade hedge",
    "minimum_te": "Minimum-TE hedge", "level": "Level", "explained_risk": "Explained risk", "residual_share": "Residual share",
    "hedged_volatility": "Hedged volatility", "book": "Book", "risk": "Risk", "factor_share": "Factor share", "beta": "Beta",
    "statistic": "Statistic", "metric": "Metric", "value": "Value", "field": "Field", "item": "Item", "meaning": "Meaning",
    "side": "Side", "amount": "Amount", "date": "Date", "label": "Label", "family": "Family",
    "pct_idiosyncratic": "Share of idiosyncratic return", "average_weight": "Average weight",
    "portfolio_return": "Portfolio return", "benchmark_return": "Benchmark return", "active_return": "Active return",
    "tracking_error": "Tracking error", "cumulative_active": "Cumulative active return",
}  # fmt: skip
"""Human column headers of the report tables (:func:`header_label` falls back to words)."""
_WORDS = {"te": "TE", "var": "VaR", "es": "ES", "pct": "%", "etf": "ETF", "r2": "R²", "1d": "one-day", "21d": "21-day"}


def header_label(name: object) -> str:
    """The human header of a column: ``'te_share'`` -> ``'Share of TE²'``, else words (``'a_b'`` -> ``'A b'``).

    >>> header_label("active_idiosyncratic_risk"), header_label("realized_beta")
    ('Active idiosyncratic risk', 'Realized beta')
    """
    text = str(name)
    if text in HEADER_LABELS:
        return HEADER_LABELS[text]
    words = [_WORDS.get(w.lower(), w) for w in text.replace("_", " ").split()]
    if not words:
        return text
    first = words[0]
    return " ".join([first[:1].upper() + first[1:], *words[1:]])


def factor_label(factor: object) -> str:
    """A factor id as a reader says it: ``'sector:Energy'`` -> ``'Energy'``, ``'long_term_reversal'`` -> ``'Long term reversal'``."""
    text = str(factor)
    if ":" in text:
        return text.split(":", 1)[1]
    return header_label(text) if text.islower() else text


def yes_no(value: object) -> object:
    """Booleans as ``Yes``/``No`` (anything else unchanged)."""
    if isinstance(value, (bool, np.bool_)):
        return "Yes" if value else "No"
    return value


def title_rows(ws: Worksheet, title: str, how_to_read: str, row: int = 1, column: int = 1) -> int:
    """Write the sheet's title and its one-line "how to read this" below it; return the next free row (one blank)."""
    set_cell(ws.cell(row=row, column=column), title).font = TITLE_FONT
    set_cell(ws.cell(row=row + 1, column=column), how_to_read).font = NOTE_FONT
    ws.row_dimensions[row].height = 22
    return row + 3


def section(ws: Worksheet, row: int, column: int, text: str) -> None:
    """A bold section heading at (row, column)."""
    set_cell(ws.cell(row=row, column=column), text).font = SECTION_FONT


def set_not_printed(ws: Worksheet, note: str | None = None) -> None:
    """Mark ``ws`` as a data sheet: on screen only (its print area is one empty cell, so no page is printed)."""
    ws.print_area = NOT_PRINTED
    ws.sheet_properties.tabColor = "A6A6A6"
RATIO_WORDS = ("beta", "information_ratio", "correlation", "mean_abs_t", "t_stat", "bias", "effective_names", "ratio")


def quantity_format(name: str) -> str | None:
    """Number format of a quantity from its name: percent, ``0.00``, dollars or an integer.

    >>> quantity_format("tracking_error"), quantity_format("realized_beta"), quantity_format("holdings")
    ('0.00%', '0.00', '#,##0')
    >>> quantity_format("active_exposure"), quantity_format("ticker"), quantity_format("value")
    ('0.00', None, '$#,##0;-$#,##0;$0')
    """
    lowered = name.lower().strip()
    if lowered in COUNT_NAMES or lowered.endswith(("_days", "_count")) or lowered.startswith("n_"):
        return COUNT
    if any(word in lowered for word in RATIO_WORDS):
        return RATIO
    if "variance" in lowered and "share" not in lowered:
        return VARIANCE
    if "exposure" in lowered and "net_exposure" != lowered and "gross_exposure" != lowered:
        return DECIMAL
    if lowered in ("amount", "value", "dollars") or lowered.endswith("_dollars"):
        return MONEY
    if lowered == "observations" or lowered.startswith("observations"):
        return COUNT
    if lowered in ("net_exposure", "gross_exposure") or any(word in lowered for word in PERCENT_WORDS):
        return PERCENT
    return None


def column_format(name: str) -> str | None:
    """Number format for a report column from its name (see :func:`quantity_format`)."""
    return quantity_format(name)


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
    by_row: bool = False,
    labels: dict[str, str] | None = None,
) -> tuple[int, int]:
    """Write ``frame`` with a styled header row; return (last_row, last_col).

    Headers are :func:`header_label` of the column names (``labels`` overrides them);
    booleans are written ``Yes``/``No``. Numbers get :func:`quantity_format` of their
    column name (``formats`` overrides it), or of their row's first-column label when
    ``by_row`` (``metric, value`` tables; the labels then are made human too).
    """
    if index:
        frame = frame.reset_index()
    formats = formats or {}
    labels = labels or {}
    numeric = [pd.api.types.is_numeric_dtype(frame[c]) and not pd.api.types.is_bool_dtype(frame[c]) for c in frame.columns]
    for j, name in enumerate(frame.columns):
        cell = set_cell(ws.cell(row=start_row, column=start_col + j), labels.get(str(name), header_label(name)))
        cell.font = HEADER_FONT
        cell.fill = HEADER_FILL
        if numeric[j] and not by_row:
            cell.alignment = Alignment(horizontal="right")  # over its numbers
    values = frame.to_numpy(dtype=object)
    for i, row in enumerate(values, start=start_row + 1):
        for j, value in enumerate(row):
            shown = yes_no(cell_value(value))
            if by_row and j == 0:
                shown = labels.get(str(value), header_label(value))
            cell = set_cell(ws.cell(row=i, column=start_col + j), shown)  # text stays text, never a formula
            if shown in ("Yes", "No") and shown is not value:
                cell.alignment = Alignment(horizontal="center")
    if by_row:
        for i, row in enumerate(values, start=start_row + 1):
            fmt = formats.get(str(row[0]), quantity_format(str(row[0]))) or RATIO
            for j in range(1, len(frame.columns)):
                cell = ws.cell(row=i, column=start_col + j)
                if isinstance(cell.value, (int, float)) and not isinstance(cell.value, bool):
                    cell.number_format = fmt
        return start_row + len(frame), start_col + len(frame.columns) - 1
    for j, name in enumerate(frame.columns):
        fmt = formats.get(str(name), column_format(str(name))) or RATIO
        for i in range(start_row + 1, start_row + 1 + len(frame)):
            cell = ws.cell(row=i, column=start_col + j)
            if isinstance(cell.value, (int, float)) and not isinstance(cell.value, bool):
                cell.number_format = fmt
    return start_row + len(frame), start_col + len(frame.columns) - 1


def autosize(ws: Worksheet, minimum: int = 8, maximum: int = 48) -> None:
    """Set column widths from the longest value in each column (notes longer than ``maximum`` overflow)."""
    widths: dict[int, int] = {}
    headers = []
    for row in ws.iter_rows():
        for cell in row:
            if cell.value is None or (isinstance(cell.value, str) and len(cell.value) > maximum):
                continue  # long text is a note that overflows to the right
            if cell.coordinate in ws.merged_cells:
                continue  # a merged note wraps over its range
            text = cell.value if isinstance(cell.value, str) else f"{cell.value:,.2f}" if isinstance(cell.value, float) else str(cell.value)
            size = cell.font.sz if cell.font is not None and cell.font.sz else 11
            bold = 1.1 if cell.font is not None and cell.font.b else 1.0
            if _is_header(cell):
                headers.append(cell)
                text = max(text.split(), key=len, default=text)  # headers wrap: the longest word sets the width
            widths[cell.column] = max(widths.get(cell.column, 0), math.ceil(len(text) * size / 11 * bold))
    for column, width in widths.items():
        ws.column_dimensions[get_column_letter(column)].width = max(minimum, min(maximum, width + 1))
    for cell in headers:
        width = _column_width(ws, cell.column)
        if len(str(cell.value)) * 1.1 > width:
            cell.alignment = Alignment(wrap_text=True, vertical="bottom", horizontal=cell.alignment.horizontal)
            lines = _wrapped_lines(str(cell.value), width / 1.1)
            ws.row_dimensions[cell.row].height = max(15 * lines, ws.row_dimensions[cell.row].height or 0)


def _wrapped_lines(text: str, width: float) -> int:
    """Lines ``text`` takes when wrapped at word breaks to ``width`` characters."""
    lines, length = 1, 0
    for word in text.split():
        if length and length + 1 + len(word) > width:
            lines, length = lines + 1, len(word)
        else:
            length += (1 if length else 0) + len(word)
    return lines


def _is_header(cell) -> bool:
    return cell.fill is not None and cell.fill.fgColor is not None and cell.fill.fgColor.rgb == HEADER_FILL.fgColor.rgb


# ---------------------------------------------------------------- printing

CM_PER_CHARACTER = 0.2  # one unit of openpyxl column width, approximately, in print
CM_PER_ROW = 0.53  # a default 15 pt row
PAGE_CM = {"portrait": (19.9, 27.0), "landscape": (28.6, 18.3)}  # A4 less margins and footer
ONE_PAGE_MIN_SCALE = 0.62  # shrink a sheet to one page tall if it stays at least this large (11 pt prints >= 6.8 pt)


def hide_sheets(wb: Workbook, names: tuple[str, ...]) -> None:
    """Hide the sheets ``names`` (model data the formulas read: kept and recalculated, not printed)."""
    for name in names:
        if name in wb.sheetnames:
            wb[name].sheet_state = "hidden"


def apply_print_settings(wb: Workbook) -> None:
    """Give every visible sheet of ``wb`` its print settings (call once, after all sheets are written).

    A4 landscape paper, narrow margins, fit to one page wide, one page tall when that keeps the print at least 60% of
    its size, the rows above the frozen pane (or a styled header in row 1) repeated on
    each page, a print area from A1 to the last used cell, overflowing text or chart,
    and a footer with the sheet name and the page number. Hidden sheets are not printed.
    Every workbook writer calls it last, so a new sheet gets the same settings.
    """
    for ws in wb.worksheets:
        if ws.sheet_state == "visible" and not _not_printed(ws):
            set_print_layout(ws)


def _not_printed(ws: Worksheet) -> bool:
    area = ws.print_area
    return bool(area) and NOT_PRINTED.replace("$", "") in str(area).replace("$", "")


def set_print_layout(ws: Worksheet) -> None:
    """Print settings of one sheet (see :func:`apply_print_settings`)."""
    last_row, last_col = used_extent(ws)
    width_cm = sum(_column_width(ws, c) for c in range(1, last_col + 1)) * CM_PER_CHARACTER
    height_cm = sum(_row_height(ws, r) for r in range(1, last_row + 1))
    _fit_notes(ws, last_col)
    orientation = "landscape"  # throughout: a printed report does not turn from page to page
    page_w, page_h = PAGE_CM[orientation]
    scale = min(1.0, page_w / width_cm)
    pages = math.ceil(height_cm * scale / page_h - 1e-9)
    one_page = pages > 1 and min(scale, page_h / height_cm) >= ONE_PAGE_MIN_SCALE
    ws.page_setup.paperSize = ws.PAPERSIZE_A4
    ws.page_setup.orientation = orientation
    ws.sheet_properties.pageSetUpPr.fitToPage = True
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = 1 if one_page else 0
    ws.page_margins.left = ws.page_margins.right = 0.4
    ws.page_margins.top, ws.page_margins.bottom = 0.5, 0.75
    ws.page_margins.header, ws.page_margins.footer = 0.25, 0.3
    ws.print_area = f"A1:{get_column_letter(last_col)}{last_row}"
    header_rows = _header_rows(ws)
    if header_rows:
        ws.print_title_rows = f"1:{header_rows}"
    ws.oddFooter.left.text = "&A"
    ws.oddFooter.right.text = "Page &P of &N"


def _fit_notes(ws: Worksheet, last_col: int) -> None:
    """Wrap each long note (italic text in column A, alone on its row) over the printed width."""
    width = sum(_column_width(ws, c) for c in range(1, last_col + 1))
    for (cell,) in ws.iter_rows(max_col=1):
        if not (isinstance(cell.value, str) and cell.font is not None and cell.font.i) or cell.coordinate in ws.merged_cells:
            continue
        if len(cell.value) <= width or any(ws.cell(row=cell.row, column=c).value is not None for c in range(2, last_col + 1)):
            continue
        ws.merge_cells(start_row=cell.row, start_column=1, end_row=cell.row, end_column=last_col)
        cell.alignment = Alignment(wrap_text=True, vertical="top")
        ws.row_dimensions[cell.row].height = 15 * math.ceil(len(cell.value) * 1.1 / width)


def used_extent(ws: Worksheet) -> tuple[int, int]:
    """(last row, last column) holding a value, covered by overflowing text, a merged range or a chart."""
    last_row = last_col = 1
    for row in ws.iter_rows():
        for cell in row:
            if cell.value is None:
                continue
            last_row, last_col = max(last_row, cell.row), max(last_col, cell.column)
            italic = cell.font is not None and cell.font.i  # a note: wrapped to the page by _fit_notes, never widens it
            if isinstance(cell.value, str) and not italic and not (cell.alignment is not None and cell.alignment.wrap_text):
                size = cell.font.sz if cell.font is not None and cell.font.sz else 11
                chars, col = len(cell.value) * size / 11, cell.column
                while chars > _column_width(ws, col) + 0.5:
                    chars -= _column_width(ws, col)
                    col += 1
                last_col = max(last_col, col)
    for merged in ws.merged_cells.ranges:
        last_row, last_col = max(last_row, merged.max_row), max(last_col, merged.max_col)
    for chart in ws._charts:
        row, col = _anchor_cell(chart)
        width_chars = chart.width / CM_PER_CHARACTER
        while width_chars > 0:
            width_chars -= _column_width(ws, col)
            col += 1
        last_col = max(last_col, col - 1)
        last_row = max(last_row, row + math.ceil(chart.height / CM_PER_ROW))
    return last_row, last_col


def _anchor_cell(chart) -> tuple[int, int]:
    anchor = chart.anchor
    if isinstance(anchor, str):
        column, row = coordinate_from_string(anchor)
        return row, column_index_from_string(column)
    marker = anchor._from
    return marker.row + 1, marker.col + 1


def _column_width(ws: Worksheet, column: int) -> float:
    dimension = ws.column_dimensions.get(get_column_letter(column))
    return float(dimension.width) if dimension is not None and dimension.width else 9.14


def _row_height(ws: Worksheet, row: int) -> float:
    dimension = ws.row_dimensions.get(row)
    return float(dimension.height) / 28.35 if dimension is not None and dimension.height else CM_PER_ROW


def _header_rows(ws: Worksheet) -> int:
    frozen = ws.freeze_panes
    if frozen:
        row = coordinate_from_string(frozen)[1]
        if row > 1:
            return row - 1
    first = ws.cell(row=1, column=1)
    return 1 if first.fill is not None and first.fill.fgColor.rgb == HEADER_FILL.fgColor.rgb else 0
