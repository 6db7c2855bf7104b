"""The report workbook's Themes sheet: what semantic discovery found (only when it ran)."""

from __future__ import annotations

from openpyxl import Workbook
from openpyxl.styles import Font

from xlfactor.excel.sheets import DECIMAL, PERCENT, autosize, title_rows, write_table

_FORMATS = {
    "explained_share": PERCENT,
    "top_sector_share": PERCENT,
    "in_sample_reduction": PERCENT,
    "out_of_sample_reduction": PERCENT,
    "placebo_mean": PERCENT,
    "placebo_95th": PERCENT,
    "placebo_p_value": "0.000",
    "exposure": DECIMAL,
    "loading": DECIMAL,
    "factor_volatility": PERCENT,
    "variance_contribution": "0.000000",
    "risk_contribution": PERCENT,
    "share_of_total": PERCENT,
    "weight": PERCENT,
    "before": PERCENT,
    "after": PERCENT,
    "value": "0.000",
}


def write_themes_sheet(wb: Workbook, discovery) -> None:
    """Add a ``Themes`` sheet from a :class:`xlfactor.semantic.SemanticDiscovery`.

    Blocks, top to bottom: summary, accepted themes as factors (exposure, volatility,
    risk contribution), risk before/after, every candidate with its test statistics and
    reason, the members of accepted themes, notes. Values only: user strings (theme names
    from the LLM) are written as text, never as formulas.
    """
    ws = wb.create_sheet("Themes")
    tables = discovery.report_tables()
    row = 1
    row = title_rows(ws, "Themes: common risks the factors miss (semantic residual discovery)",
                     "Themes proposed by an LLM from the residual returns, kept only when they beat same-size, same-sector "
                     "placebos out of sample; accepted themes enter the risk as factors.")  # fmt: skip
    for title, key, index in (
        ("Summary", "semantic_summary", True),
        ("Accepted themes as factors", "semantic_themes", False),
        ("Risk with the accepted themes", "semantic_risk", True),
        ("Candidates (out-of-sample test against same-size, same-sector placebos)", "semantic_candidates", False),
        ("Members of accepted themes", "semantic_members", False),
        ("Notes", "semantic_notes", False),
    ):
        frame = tables[key]
        ws.cell(row=row, column=1, value=title).font = Font(name="Calibri", bold=True)
        if frame.empty:
            ws.cell(row=row + 1, column=1, value="none")
            row += 3
            continue
        last, _ = write_table(ws, frame, start_row=row + 1, index=index, formats=_FORMATS)
        row = last + 2
    for line in ws.iter_rows():
        for cell in line:
            if isinstance(cell.value, str) and cell.value.startswith("="):
                cell.data_type = "s"  # a theme name from an LLM is text, never a live formula
    autosize(ws)
