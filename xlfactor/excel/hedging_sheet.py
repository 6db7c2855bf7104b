"""The report workbook's Hedging sheet: ETF cascade hedge, minimum-TE hedge, risk and factor share before and after."""

from __future__ import annotations

import numpy as np
from openpyxl.styles import Font
from openpyxl.worksheet.worksheet import Worksheet

from xlfactor.errors import XlfactorError
from xlfactor.excel.sheets import DECIMAL, PERCENT, autosize, write_table

HEDGE_FORMATS = {"etf_cascade": PERCENT, "minimum_te": PERCENT, "beta": DECIMAL}


def write_hedging_sheet(ws: Worksheet, data, weights: np.ndarray, levels: int = 3) -> None:
    """Fill ``ws`` with the book's ETF hedges (values, not formulas; text is never a formula).

    When the snapshot cannot support an ETF hedge (no ETF returns, held names without
    a full return history) the sheet says why in one line instead.
    """
    from xlfactor.hedging.hedge_summary import hedge_comparison

    ws.cell(row=1, column=1, value="ETF hedges: cascade (SPY -> sector SPDR -> subsector ETF) and minimum-TE, same ETFs").font = Font(bold=True)
    note = "Hedge weights are decimals of the book's gross (negative = short). Risk is the model's, annualized."
    if data.snapshot.is_simulated:
        note += " SIMULATED MARKET: not real data."
    ws.cell(row=2, column=1, value=note)
    try:
        result = hedge_comparison(data, weights, levels)
    except XlfactorError as exc:
        ws.cell(row=4, column=1, value=f"No ETF hedge for this book: {exc}")
        autosize(ws)
        return
    row, _ = write_table(ws, result.hedges, start_row=4, index=True, formats=HEDGE_FORMATS)
    row, _ = write_table(ws, result.levels, start_row=row + 2, index=True,
                         formats={"explained_risk": PERCENT, "residual_share": PERCENT, "hedged_volatility": PERCENT})  # fmt: skip
    ws.cell(row=row + 1, column=1, value="Explained risk per level and residual share: of the book's own return variance over the cascade window.")
    write_table(ws, result.summary.rename_axis("book"), start_row=row + 3, index=True,
                formats={"risk": PERCENT, "factor_share": PERCENT, "beta": DECIMAL})  # fmt: skip
    ws.freeze_panes = "A5"
    autosize(ws)
