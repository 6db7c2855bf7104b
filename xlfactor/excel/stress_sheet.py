"""The report workbook's Stress sheet: standard shocks, library episodes, worst days, historical VaR.

Values only (computed by :mod:`xlfactor.risk.scenarios`); a bar chart shows the ten
scenarios with the largest portfolio loss.
"""

from __future__ import annotations

import pandas as pd
from openpyxl.chart import BarChart, Reference
from openpyxl.styles import Font
from openpyxl.workbook.workbook import Workbook

from xlfactor.excel.sheets import PERCENT, autosize, write_table
from xlfactor.risk.scenarios import historical_var, stress_table, worst_scenarios

CHART_SCENARIOS = 10
VAR_CONFIDENCES = (0.95, 0.99)


def stress_frames(data, weights, benchmark) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """(stress table, its ten worst rows, historical-vs-parametric VaR table) of the book."""
    stresses = stress_table(data, weights, benchmark)
    worst = worst_scenarios(stresses, CHART_SCENARIOS)[["scenario", "portfolio"]]
    rows = []
    for confidence in VAR_CONFIDENCES:
        h = historical_var(data, weights, confidence)
        rows.append([f"{confidence:.0%} 1-day", h.var, h.parametric_var, h.ratio, h.expected_shortfall,
                     h.parametric_expected_shortfall, h.es_ratio])  # fmt: skip
    var = pd.DataFrame(rows, columns=["measure", "historical_var", "parametric_var", "ratio", "historical_es",
                                      "parametric_es", "es_ratio"])  # fmt: skip
    return stresses, worst, var


def write_stress_sheet(wb: Workbook, data, weights, benchmark, simulated: bool = False) -> None:
    """Add the ``Stress`` sheet to ``wb`` for ``weights`` (universe order) against ``benchmark``."""
    ws = wb.create_sheet("Stress")
    stresses, worst, var = stress_frames(data, weights, benchmark)
    ws["A1"] = "Stress tests and historical scenarios: factor P&L on today's exposures (decimal of gross, loss negative)"
    ws["A1"].font = Font(bold=True)
    ws["A2"] = (
        "Standard shocks move the other factors by their conditional expectation; episodes replay the stored factor "
        "returns (summed over their days)." + (" SIMULATED MARKET." if simulated else "")
    )
    ws["A2"].font = Font(italic=True)
    last_row, _ = write_table(ws, var, start_row=4, formats={"ratio": "0.00", "es_ratio": "0.00"})
    table_row = last_row + 3
    last_row, last_col = write_table(ws, stresses, start_row=table_row)
    chart_col = last_col + 2
    ws.cell(row=table_row - 1, column=chart_col, value=f"The {CHART_SCENARIOS} worst scenarios").font = Font(bold=True)
    chart_last, _ = write_table(ws, worst, start_row=table_row, start_col=chart_col)
    chart = BarChart()
    chart.type = "bar"
    chart.title = f"{CHART_SCENARIOS} worst scenarios (portfolio P&L)"
    chart.y_axis.title = "P&L (decimal of gross)"
    chart.y_axis.numFmt = PERCENT
    chart.legend = None
    values = Reference(ws, min_col=chart_col + 1, min_row=table_row, max_row=chart_last)
    labels = Reference(ws, min_col=chart_col, min_row=table_row + 1, max_row=chart_last)
    chart.add_data(values, titles_from_data=True)
    chart.set_categories(labels)
    chart.height, chart.width = 9, 18
    ws.add_chart(chart, ws.cell(row=chart_last + 2, column=chart_col).coordinate)
    ws.freeze_panes = ws.cell(row=table_row + 1, column=2)
    autosize(ws)
