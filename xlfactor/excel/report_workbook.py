"""The report workbook: Python's report tables plus live Excel formulas for the headline risk.

The headline numbers (defined names ``TotalRisk, FactorRisk, IdiosyncraticRisk,
TrackingError, Beta, VaR95, VaR99``) are formulas over the ``Holdings`` sheet (header
``ticker,value`` in A1:B1; a header ``allocation`` means weights as given) and the model
data sheets, so editing a weight recomputes the risk in Excel or LibreOffice without
Python. Only functions LibreOffice also computes are used (SUMIF, SUMPRODUCT, MMULT,
SQRT, ABS, LOWER, TRIM, ``_xlfn.NORM.S.INV``), and full calculation on load is set.
Every other table holds values computed by :func:`xlfactor.portfolio_report`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from openpyxl import Workbook
from openpyxl.chart import BarChart, Reference
from openpyxl.styles import Alignment, Font
from openpyxl.utils import get_column_letter
from openpyxl.workbook.defined_name import DefinedName
from openpyxl.worksheet.formula import ArrayFormula

from xlfactor._files import atomic_write
from xlfactor.conventions import TRADING_DAYS_PER_YEAR
from xlfactor.excel.sheets import (
    DECIMAL,
    DIVERSIFIER_FILL,
    HEADER_FILL,
    HEADER_FONT,
    PERCENT,
    WARNING_FILL,
    autosize,
    write_table,
)
from xlfactor.report import portfolio_report
from xlfactor.risk.holdings import holdings_from_frame
from xlfactor.risk.model_data import factor_model_data

HOLDINGS_SPARE_ROWS = 500
"""Empty rows below the holdings that the formulas already cover (room to add names)."""


@dataclass(frozen=True)
class Headline:
    """A headline number of the Summary sheet: its defined name, label and number format."""

    name: str  # workbook-level defined name
    label: str
    number_format: str


HEADLINES = (
    Headline("TotalRisk", "Total risk (annualized)", PERCENT),
    Headline("FactorRisk", "Factor risk", PERCENT),
    Headline("IdiosyncraticRisk", "Idiosyncratic risk", PERCENT),
    Headline("TrackingError", "Tracking error (annualized)", PERCENT),
    Headline("Beta", "Ex-ante beta", DECIMAL),
    Headline("VaR95", "1-day VaR 95% (of gross)", PERCENT),
    Headline("VaR99", "1-day VaR 99% (of gross)", PERCENT),
    Headline("IdiosyncraticShareOfTE", "Idiosyncratic share of TE²", PERCENT),
)

VALUE_SHEETS = (
    ("Risk", "risk_decomposition", True),
    ("IdioRisk", "idiosyncratic_by_name", False),
    ("Attribution", "attribution", True),
    ("AttributionFactors", "attribution_factors", False),
    ("VaR", "var", False),
)


def write_report_workbook(
    path: str | Path,
    portfolio: pd.DataFrame,
    snapshot=None,
    benchmark: pd.DataFrame | None = None,
    report: dict[str, pd.DataFrame] | None = None,
) -> Path:
    """Write the report workbook for ``portfolio`` to ``path`` (atomically).

    ``report`` may be passed when already computed with the same arguments.
    """
    data = factor_model_data(snapshot)
    report = report if report is not None else portfolio_report(portfolio, data.snapshot, benchmark)
    holdings = holdings_from_frame(portfolio)
    bench = data.benchmark_weights if benchmark is None else data.weights(benchmark, "benchmark").weights

    wb = Workbook()  # sheets in display order; the Summary's formulas are filled in last
    summary = wb.active
    summary.title = "Summary"
    _write_active_risk(wb.create_sheet("ActiveRisk"), report["active_risk"])
    for title, key, with_index in VALUE_SHEETS:
        ws = wb.create_sheet(title)
        write_table(ws, report[key], index=with_index)
        if key == "attribution":
            _note_attribution(ws, report[key])
        if key == "var":
            _write_beta(ws, report)
        ws.freeze_panes = "A2"
        autosize(ws)
    _write_exposures(wb.create_sheet("Exposures"), report)
    if "model_quality" in report:
        ws = wb.create_sheet("Quality")
        write_table(ws, report["model_quality"], index=True, formats={"value": "0.0000"})
        write_table(ws, report["factor_quality"], start_row=1, start_col=4, formats={"mean_abs_t": "0.00", "share_abs_t_over_2": PERCENT})
        ws.freeze_panes = "A2"
        autosize(ws)
    last_holding_row = _write_holdings(wb.create_sheet("Holdings"), holdings, report["missing_holdings"])
    model = _write_model_sheets(wb, data, bench, last_holding_row)
    _write_summary(wb, summary, report, model)
    wb.calculation.fullCalcOnLoad = True
    return atomic_write(path, wb.save)


# ---------------------------------------------------------------- input and model data


def _write_holdings(ws, holdings, missing: pd.DataFrame) -> int:
    ws.append(["ticker", "allocation" if holdings.kind == "allocation" else "value"])
    for ticker, amount in zip(holdings.tickers.tolist(), holdings.amounts.tolist()):
        ws.append([ticker, amount])
    for cell in ws[1]:
        cell.font, cell.fill = HEADER_FONT, HEADER_FILL
    number_format = PERCENT if holdings.kind == "allocation" else "#,##0.00"
    for row in ws.iter_rows(min_row=2, min_col=2, max_col=2):
        row[0].number_format = number_format
    ws["D1"] = "Edit tickers and values in columns A:B; the Summary formulas recompute."
    ws["D1"].font = Font(italic=True)
    if len(missing):
        ws["D3"] = "Missing holdings (outside the universe, treated as cash)"
        ws["D3"].font = Font(bold=True)
        write_table(ws, missing, start_row=4, start_col=4)
    ws.freeze_panes = "A2"
    ws.column_dimensions["A"].width = 14
    ws.column_dimensions["B"].width = 16
    return len(holdings.tickers) + 1 + HOLDINGS_SPARE_ROWS


@dataclass(frozen=True)
class _ModelCells:
    """Addresses of the calculation cells the headline formulas use."""

    cells: dict[str, str]


def _write_model_sheets(wb: Workbook, data, bench: np.ndarray, last_holding_row: int) -> _ModelCells:
    n, k = len(data.tickers), len(data.factor_names)
    last = n + 1
    universe = wb.create_sheet("ModelUniverse")
    universe.append(["ticker", "benchmark_weight", "idiosyncratic_variance", "weight", "active_weight"])
    holdings_tickers = f"Holdings!$A$2:$A${last_holding_row}"
    holdings_values = f"Holdings!$B$2:$B${last_holding_row}"
    for i, (ticker, b, d) in enumerate(zip(data.tickers.tolist(), bench.tolist(), data.idiosyncratic_variance.tolist()), 2):
        universe.append(
            [ticker, b, d, f"=SUMIF({holdings_tickers},$A{i},{holdings_values})*WeightScale", f"=D{i}-B{i}"]
        )
    exposures = wb.create_sheet("ModelExposures")
    exposures.append(["ticker", *data.factor_names.tolist()])
    for ticker, row in zip(data.tickers.tolist(), data.exposures.tolist()):
        exposures.append([ticker, *row])
    covariance = wb.create_sheet("ModelCovariance")
    covariance.append(["factor", *data.factor_names.tolist()])
    for name, row in zip(data.factor_names.tolist(), data.factor_covariance.tolist()):
        covariance.append([name, *row])
    for ws in (universe, exposures, covariance):
        ws.freeze_panes = "B2"
        for cell in ws[1]:
            cell.font, cell.fill = HEADER_FONT, HEADER_FILL

    calc = wb.create_sheet("Calc")
    calc.append(["factor", *data.factor_names.tolist()])
    end = get_column_letter(k + 1)
    weights = f"ModelUniverse!$D$2:$D${last}"
    bench_col = f"ModelUniverse!$B$2:$B${last}"
    idio = f"ModelUniverse!$C$2:$C${last}"
    active = f"ModelUniverse!$E$2:$E${last}"
    rows = {2: "portfolio_exposure", 3: "benchmark_exposure", 4: "active_exposure"}
    for row, label in rows.items():
        calc.cell(row=row, column=1, value=label)
    for j in range(k):
        col = get_column_letter(j + 2)
        column = f"ModelExposures!{col}$2:{col}${last}"
        calc[f"{col}2"] = f"=SUMPRODUCT({weights},{column})"
        calc[f"{col}3"] = f"=SUMPRODUCT({bench_col},{column})"
        calc[f"{col}4"] = f"={col}2-{col}3"
    f = f"ModelCovariance!$B$2:${end}${k + 1}"
    x_p, x_b, x_a = (f"$B${r}:${end}${r}" for r in (2, 3, 4))
    scalars = [
        ("weight_scale", f'=IF(LOWER(TRIM(Holdings!$B$1))="allocation",1,1/SUMPRODUCT(ABS({holdings_values})))', False),
        ("portfolio_factor_variance", f"=SUMPRODUCT(MMULT({x_p},{f}),{x_p})", True),
        ("portfolio_idiosyncratic_variance", f"=SUMPRODUCT({weights},{weights},{idio})", False),
        ("active_factor_variance", f"=SUMPRODUCT(MMULT({x_a},{f}),{x_a})", True),
        ("active_idiosyncratic_variance", f"=SUMPRODUCT({active},{active},{idio})", False),
        ("portfolio_benchmark_factor_covariance", f"=SUMPRODUCT(MMULT({x_p},{f}),{x_b})", True),
        ("portfolio_benchmark_idiosyncratic_covariance", f"=SUMPRODUCT({weights},{bench_col},{idio})", False),
        ("benchmark_factor_variance", f"=SUMPRODUCT(MMULT({x_b},{f}),{x_b})", True),
        ("benchmark_idiosyncratic_variance", f"=SUMPRODUCT({bench_col},{bench_col},{idio})", False),
    ]
    cells = {}
    for offset, (label, formula, is_array) in enumerate(scalars):
        row = 6 + offset
        calc.cell(row=row, column=1, value=label)
        address = f"B{row}"
        calc[address] = ArrayFormula(address, formula) if is_array else formula
        cells[label] = f"Calc!$B${row}"
    wb.defined_names["WeightScale"] = DefinedName("WeightScale", attr_text=cells["weight_scale"])
    calc.freeze_panes = "B2"
    calc.column_dimensions["A"].width = 44
    return _ModelCells(cells)


# ---------------------------------------------------------------- summary and tables


def _headline_formulas(c: dict[str, str]) -> dict[str, str]:
    total = f"SQRT({c['portfolio_factor_variance']}+{c['portfolio_idiosyncratic_variance']})"
    te_variance = f"({c['active_factor_variance']}+{c['active_idiosyncratic_variance']})"
    return {
        "TotalRisk": f"={total}",
        "FactorRisk": f"=SQRT({c['portfolio_factor_variance']})",
        "IdiosyncraticRisk": f"=SQRT({c['portfolio_idiosyncratic_variance']})",
        "TrackingError": f"=SQRT{te_variance}",
        "Beta": (
            f"=({c['portfolio_benchmark_factor_covariance']}+{c['portfolio_benchmark_idiosyncratic_covariance']})"
            f"/({c['benchmark_factor_variance']}+{c['benchmark_idiosyncratic_variance']})"
        ),
        "VaR95": f"=_xlfn.NORM.S.INV(0.95)*{total}/SQRT({TRADING_DAYS_PER_YEAR})",
        "VaR99": f"=_xlfn.NORM.S.INV(0.99)*{total}/SQRT({TRADING_DAYS_PER_YEAR})",
        "IdiosyncraticShareOfTE": f"={c['active_idiosyncratic_variance']}/{te_variance}",
    }


def _write_summary(wb: Workbook, ws, report: dict[str, pd.DataFrame], model: _ModelCells) -> None:
    facts = report["snapshot"]["value"]
    ws["A1"] = "xlfactor portfolio risk report"
    ws["A1"].font = Font(bold=True, size=14)
    simulated = facts.get("simulated") == "True"
    ws["A2"] = facts.get("note") if simulated else f"Snapshot {facts.get('source')} as of {facts.get('as_of_date')}"
    if simulated:
        ws["A2"].font = Font(bold=True, color="C00000")
        ws["A2"].fill = WARNING_FILL
    ws["A4"], ws["B4"], ws["C4"] = "headline (live formula)", "value", "Python"
    for cell in ws[4][:3]:
        cell.font, cell.fill = HEADER_FONT, HEADER_FILL
    formulas = _headline_formulas(model.cells)
    python_values = report["summary"]["value"]
    python_keys = {
        "TotalRisk": "total_risk", "FactorRisk": "factor_risk", "IdiosyncraticRisk": "idiosyncratic_risk",
        "TrackingError": "tracking_error", "Beta": "beta", "VaR95": "var_95", "VaR99": "var_99",
        "IdiosyncraticShareOfTE": "idiosyncratic_share_of_te",
    }  # fmt: skip
    for row, headline in enumerate(HEADLINES, start=5):
        ws.cell(row=row, column=1, value=headline.label)
        cell = ws.cell(row=row, column=2, value=formulas[headline.name])
        cell.number_format = headline.number_format
        cell.font = Font(bold=True, size=12)
        check = ws.cell(row=row, column=3, value=float(python_values[python_keys[headline.name]]))
        check.number_format = headline.number_format
        wb.defined_names[headline.name] = DefinedName(headline.name, attr_text=f"Summary!$B${row}")
    note_row = 5 + len(HEADLINES) + 1
    ws.cell(row=note_row, column=1, value="Column C holds Python's numbers when the report was written.").font = Font(italic=True)
    write_table(ws, report["summary"], start_row=note_row + 2, index=True, formats={"value": "0.0000"})
    write_table(ws, report["snapshot"], start_row=4, start_col=5, index=True)
    ws.column_dimensions["A"].width = 32
    ws.column_dimensions["B"].width = 14
    ws.column_dimensions["C"].width = 14
    ws.column_dimensions["E"].width = 20
    ws.column_dimensions["F"].width = 60
    ws["F5"].alignment = Alignment(wrap_text=True)
    ws.freeze_panes = "A5"


def _write_active_risk(ws, table: pd.DataFrame) -> None:
    columns = ["factor", "group", "portfolio_exposure", "benchmark_exposure", "active_exposure",
               "factor_volatility", "te_contribution", "te_share", "diversifier"]  # fmt: skip
    frame = table[columns]
    last_row, _ = write_table(ws, frame)
    for i, diversifier in enumerate(frame["diversifier"].tolist(), start=2):
        if diversifier:
            for cell in ws[i]:
                cell.fill = DIVERSIFIER_FILL
    ws.cell(row=last_row + 2, column=1, value="Green rows are diversifiers (they reduce TE). te_share sums to 100% of TE².")
    top = min(len(frame), 15)
    chart = BarChart()
    chart.type = "bar"
    chart.title = "Share of tracking-error variance (top 15)"
    chart.y_axis.number_format = "0%"
    chart.add_data(Reference(ws, min_col=8, min_row=1, max_row=top + 1), titles_from_data=True)
    chart.set_categories(Reference(ws, min_col=1, min_row=2, max_row=top + 1))
    chart.height, chart.width = 10, 18
    ws.add_chart(chart, "K2")
    ws.freeze_panes = "B2"
    autosize(ws)


def _write_exposures(ws, report: dict[str, pd.DataFrame]) -> None:
    style = report["style"]
    last, _ = write_table(ws, style, formats={c: DECIMAL for c in ("portfolio", "benchmark", "active")})
    sector = report["sector"]
    sector_end, _ = write_table(ws, sector, start_row=last + 3, formats={c: PERCENT for c in ("portfolio", "benchmark", "active")})
    write_table(ws, report["industry"], start_row=sector_end + 3, formats={c: PERCENT for c in ("portfolio", "benchmark", "active")})
    chart = BarChart()
    chart.type = "bar"
    chart.title = "Active style exposures"
    chart.add_data(Reference(ws, min_col=4, min_row=1, max_row=last), titles_from_data=True)
    chart.set_categories(Reference(ws, min_col=1, min_row=2, max_row=last))
    chart.height, chart.width = 12, 16
    ws.add_chart(chart, "G2")
    ws.freeze_panes = "A2"
    autosize(ws)


def _write_beta(ws, report: dict[str, pd.DataFrame]) -> None:
    summary = report["summary"]["value"]
    row = len(report["var"]) + 3
    ws.cell(row=row, column=1, value="Ex-ante beta").font = Font(bold=True)
    ws.cell(row=row, column=2, value=float(summary["beta"])).number_format = DECIMAL
    ws.cell(row=row + 1, column=1, value="against")
    ws.cell(row=row + 1, column=2, value=report["snapshot"].loc["benchmark", "value"])
    ws.cell(row=row + 2, column=1, value="VaR: normal, mean ignored, positive loss fraction of gross: z x sigma / sqrt(252) x sqrt(days).")


def _note_attribution(ws, attribution: pd.DataFrame) -> None:
    attrs = attribution.attrs
    if not attrs:
        return
    row = len(attribution) + 3
    ws.cell(row=row, column=1, value=f"Return date {attrs['date']}; exposures known at the close of {attrs['exposure_date']}.")
    ws.cell(row=row + 1, column=1, value="Daily decimal returns; benchmark + active = portfolio.")
    for offset, note in enumerate(attrs.get("notes", []), start=2):
        ws.cell(row=row + offset, column=1, value=note)
