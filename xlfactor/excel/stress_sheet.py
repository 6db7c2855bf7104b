"""The report workbook's Stress sheet: standard shocks, library episodes, worst days, historical VaR.

Values only (computed by :mod:`xlfactor.risk.scenarios`): the printed sheet shows the
twenty scenarios with the largest portfolio loss and a bar chart of the ten worst; every
scenario, with its description, is on the ``DataStress`` data sheet.
"""

from __future__ import annotations

import pandas as pd
from openpyxl.workbook.workbook import Workbook

from xlfactor.excel.charts import add_series, bar_chart, value_labels
from xlfactor.excel.report_sheets import data_sheet
from xlfactor.excel.sheets import PERCENT, RATIO, autosize, section, title_rows, write_table
from xlfactor.risk.scenarios import historical_var, stress_table, worst_scenarios

CHART_SCENARIOS = 10
TOP_SCENARIOS = 20
PNL_LABELS = {"portfolio": "Portfolio P&L", "benchmark": "Benchmark P&L", "active": "Active P&L"}
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


def write_stress_sheet(wb: Workbook, data, weights, benchmark, simulated: bool = False, normal_var: pd.DataFrame | None = None) -> None:
    """Add the ``Stress`` sheet (VaR, the worst scenarios and their chart) and ``DataStress`` (every scenario) to ``wb``.

    ``weights`` in universe order, against ``benchmark``; ``normal_var`` (the report's ``var``
    table: confidence, horizon, VaR and expected shortfall) is shown under the historical VaR.
    """
    ws = wb.create_sheet("Stress")
    stresses, worst, var = stress_frames(data, weights, benchmark)
    row = title_rows(
        ws,
        "Stress tests: what today's book would lose",
        "Factor P&L on today's exposures, percent of gross (loss negative). Standard shocks move the other factors by "
        "their conditional expectation; episodes replay stored factor returns." + (" SIMULATED MARKET." if simulated else ""),
    )
    section(ws, row, 1, "Value at risk: historical (replayed days) against parametric (normal)")
    last_row, _ = write_table(ws, var, start_row=row + 1, formats={"ratio": RATIO, "es_ratio": RATIO, "historical_es": PERCENT,
                                                                    "parametric_es": PERCENT},
                              labels={"measure": "Confidence, horizon"})  # fmt: skip
    if normal_var is not None:
        section(ws, last_row + 2, 1, "Value at risk, normal model (share of gross; 10 days scales one day by the square root of time)")
        last_row, _ = write_table(ws, normal_var, start_row=last_row + 3, formats={"confidence": "0%"})
    shown = stresses.drop(columns=["description"]).copy()
    shown["kind"] = shown["kind"].str.capitalize()
    shown = shown.reindex(shown["portfolio"].sort_values(kind="stable").index).head(TOP_SCENARIOS)
    table_row = last_row + 3
    section(ws, table_row - 1, 1, f"The {len(shown)} worst of {len(stresses)} scenarios for the book (all: DataStress)")
    pnl = dict.fromkeys(("portfolio", "benchmark", "active"), PERCENT)
    last, _ = write_table(ws, shown, start_row=table_row, formats=pnl, labels=PNL_LABELS)
    bars = min(CHART_SCENARIOS, len(worst))
    chart = bar_chart(f"The {bars} worst scenarios (portfolio P&L, % of gross)", bars, "0%", width=12.5)
    add_series(chart, ws, 5, table_row, table_row + bars, 1)
    value_labels(chart, "0.0%", shown["portfolio"].head(bars))
    chart.height = 9.0
    ws.add_chart(chart, ws.cell(row=row, column=10).coordinate)
    autosize(ws, maximum=34)
    full = stresses.copy()
    data_sheet(wb, "Stress", "Every stress scenario, with its description", full, formats=pnl, labels=PNL_LABELS)
