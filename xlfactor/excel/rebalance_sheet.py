"""The report workbook's Rebalance sheet (``--limits``): breaches before, the trades, breaches after, binding limits and shadow prices."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
from openpyxl.styles import Font
from openpyxl.worksheet.worksheet import Worksheet

from xlfactor.cells import set_cell
from xlfactor.errors import XlfactorError
from xlfactor.excel.sheets import COUNT, DECIMAL, MONEY, PERCENT, WARNING_FILL, autosize, write_table
from xlfactor.optimizer import value_style

CHECK_FORMATS = {"min": DECIMAL, "max": DECIMAL, "before": DECIMAL, "after": DECIMAL}
"""Column defaults only: :func:`format_by_kind` then sets each row's format from its limit kind."""
KIND_FORMATS = {"percent": PERCENT, "decimal": DECIMAL, "count": COUNT}
VALUE_COLUMNS = ("min", "max", "before", "after", "bound")
TRADE_FORMATS = {"current_weight": PERCENT, "target_weight": PERCENT, "trade_weight": PERCENT, "trade_value": MONEY,
                 "target_value": MONEY}  # fmt: skip


def format_by_kind(ws: Worksheet, frame: pd.DataFrame, start_row: int, start_col: int = 1) -> None:
    """Give each row's bound and value cells the number format of its limit kind (as ``xlfactor optimize`` prints them).

    Percent for risk, weights, shares, gross, net and turnover; two decimals for exposures and
    beta; a count for ``names``. ``frame`` is the table written at ``start_row`` (its header row).
    """
    if "limit" not in frame.columns:
        return
    columns = [j for j, name in enumerate(frame.columns) if name in VALUE_COLUMNS]
    for i, kind in enumerate(frame["limit"].tolist(), start=start_row + 1):
        number_format = KIND_FORMATS[value_style(str(kind))]
        for j in columns:
            ws.cell(row=i, column=start_col + j).number_format = number_format


def write_rebalance_sheet(ws: Worksheet, data, portfolio: pd.DataFrame, limits: pd.DataFrame, benchmark: pd.DataFrame | None = None,
                          objective: str = "tracking_error") -> None:  # fmt: skip
    """Fill ``ws`` with the optimizer's rebalance of ``portfolio`` to ``limits`` (values only; text never a formula).

    When the limits cannot be met (or a row is refused) the sheet says why in one line, and
    still shows the check of the current book when the rows themselves are valid.
    """
    from xlfactor.optimizer import check_limits, optimize

    set_cell(ws.cell(row=1, column=1), f"Rebalance to the limits (objective: {objective})").font = Font(bold=True)
    note = "Weights are decimals of the book's gross before the trades; risk annualized. Shadow price: objective saved per 1.0 of loosening."
    if data.snapshot is not None and data.snapshot.is_simulated:
        note += " SIMULATED MARKET: not real data."
    set_cell(ws.cell(row=2, column=1), note)
    try:
        result = optimize(data, portfolio, limits, objective=objective, benchmark=benchmark)
    except XlfactorError as exc:
        cell = set_cell(ws.cell(row=4, column=1), f"No rebalance: {exc}")
        cell.fill = WARNING_FILL
        try:
            check = check_limits(data, portfolio, limits, benchmark=benchmark)
        except XlfactorError:
            autosize(ws)
            return
        set_cell(ws.cell(row=6, column=1), "Breaches before").font = Font(bold=True)
        shown = check[["row", "limit", "name", "min", "max", "before", "at_before", "breach_before"]]
        write_table(ws, shown, start_row=7, formats=CHECK_FORMATS)
        format_by_kind(ws, shown, 7)
        autosize(ws)
        return
    check = result.check
    row = 4
    set_cell(ws.cell(row=row, column=1), f"Status {result.status}; tracking error {result.tracking_error_before:.2%} -> "
                                         f"{result.tracking_error_after:.2%}; {len(result.trades)} trades").font = Font(bold=True)  # fmt: skip
    row += 2
    set_cell(ws.cell(row=row, column=1), "Breaches before").font = Font(bold=True)
    before = check[check["breach_before"]][["row", "limit", "name", "min", "max", "before", "at_before"]]
    shown = before if len(before) else pd.DataFrame({"row": ["none"]})
    top = row + 1
    row, _ = write_table(ws, shown, start_row=top, formats=CHECK_FORMATS)
    format_by_kind(ws, shown, top)
    row += 2
    set_cell(ws.cell(row=row, column=1), "Trades").font = Font(bold=True)
    trades = result.trades if len(result.trades) else pd.DataFrame({"ticker": ["no trade"]})
    row, _ = write_table(ws, trades, start_row=row + 1, formats=TRADE_FORMATS)
    row += 2
    set_cell(ws.cell(row=row, column=1), "Limits after").font = Font(bold=True)
    shown, top = check[["row", "limit", "name", "min", "max", "after", "at_after", "breach"]], row + 1
    row, _ = write_table(ws, shown, start_row=top, formats=CHECK_FORMATS)
    format_by_kind(ws, shown, top)
    row += 2
    set_cell(ws.cell(row=row, column=1), f"Binding limits (shadow price: {result.shadow_price_unit})").font = Font(bold=True)
    binding = result.binding if len(result.binding) else pd.DataFrame({"row": ["none"]})
    top = row + 1
    row, _ = write_table(ws, binding, start_row=top, formats={"bound": DECIMAL, "shadow_price": DECIMAL, "largest_shadow_price": DECIMAL})
    format_by_kind(ws, binding, top)
    for note in result.notes:
        row += 1
        set_cell(ws.cell(row=row, column=1), note)
    ws.freeze_panes = "A3"
    autosize(ws)


@dataclass(frozen=True)
class RebalanceSheet:
    """An extra-sheet writer for :func:`xlfactor.excel.report_workbook.write_report_workbook` (picklable for Dask)."""

    limits: pd.DataFrame
    objective: str = "tracking_error"

    def __call__(self, wb, data, portfolio: pd.DataFrame, benchmark: pd.DataFrame | None = None) -> None:
        """Add the Rebalance sheet to ``wb``."""
        write_rebalance_sheet(wb.create_sheet("Rebalance"), data, portfolio, self.limits, benchmark, self.objective)
