"""The report workbook's Hedging sheet: ETF cascade hedge, minimum-TE hedge, risk and factor share before and after."""

from __future__ import annotations

import numpy as np
from openpyxl.worksheet.worksheet import Worksheet

from xlfactor.cells import set_cell
from xlfactor.errors import XlfactorError
from xlfactor.excel.charts import add_series, bar_chart, value_labels
from xlfactor.excel.sheets import DECIMAL, PERCENT, autosize, section, title_rows, write_table

BOOK_LABELS = {"unhedged": "Unhedged", "etf_cascade": "Cascade hedge", "minimum_te": "Minimum-TE hedge"}
HEDGE_FORMATS = {"etf_cascade": PERCENT, "minimum_te": PERCENT, "beta": DECIMAL}


def write_hedging_sheet(ws: Worksheet, data, weights: np.ndarray, levels: int = 3) -> None:
    """Fill ``ws`` with the book's ETF hedges (values, not formulas; text is never a formula).

    When the snapshot cannot support an ETF hedge (no ETF returns, held names without
    a full return history) the sheet says why in one line instead.
    """
    from xlfactor.hedging.hedge_summary import hedge_comparison

    note = "Hedge ratios are shares of the book's gross (negative = sell). Risk is the model's, annualized."
    if data.snapshot.is_simulated:
        note += " SIMULATED MARKET: not real data."
    row = title_rows(ws, "ETF hedges: cascade (SPY, sector SPDR, subsector ETF) and minimum-TE in the same ETFs", note)
    try:
        result = hedge_comparison(data, weights, levels)
    except XlfactorError as exc:
        set_cell(ws.cell(row=row, column=1), f"No ETF hedge for this book: {exc}")
        autosize(ws)
        return
    first = row
    row, _ = write_table(ws, result.hedges, start_row=row, index=True, formats=HEDGE_FORMATS)
    chart = bar_chart("Cascade hedge ratios (share of gross)", len(result.hedges), "0%", width=11.0)
    add_series(chart, ws, 2, first, row, 1)
    value_labels(chart, "0.0%", result.hedges["etf_cascade"])
    ws.add_chart(chart, ws.cell(row=first, column=6).coordinate)
    section(ws, row + 2, 1, "The cascade, level by level (shares of the book's own variance over the window)")
    levels = result.levels.rename(index=lambda s: str(s).replace("_", " ").capitalize()).rename_axis("level")
    row, _ = write_table(ws, levels, start_row=row + 3,
                         index=True, formats={"explained_risk": PERCENT, "residual_share": PERCENT, "hedged_volatility": PERCENT})  # fmt: skip
    section(ws, row + 2, 1, "The book before and after each hedge")
    write_table(ws, result.summary.rename(index=BOOK_LABELS).rename_axis("book"), start_row=row + 3, index=True,
                formats={"risk": PERCENT, "factor_share": PERCENT, "beta": DECIMAL})  # fmt: skip
    ws.freeze_panes = ws.cell(row=first + 1, column=1)
    autosize(ws, maximum=30)
