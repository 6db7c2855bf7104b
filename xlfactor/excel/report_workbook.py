"""The report workbook: Python's report tables plus live Excel formulas for the headline risk.

The headline numbers (defined names ``TotalRisk, FactorRisk, IdiosyncraticRisk,
TrackingError, Beta, VaR95, VaR99``) are formulas over the ``Holdings`` sheet (header
``ticker,value`` in A1:B1; a header ``allocation`` means weights as given) and the model
data sheets, so editing a weight recomputes the risk in Excel or LibreOffice without
Python. Only functions LibreOffice also computes are used (SUMIF, SUMPRODUCT, MMULT,
SQRT, ABS, LOWER, TRIM, ``_xlfn.NORM.S.INV``), and full calculation on load is set.
Every other table holds values computed by :func:`xlfactor.portfolio_report`.

The model-data sheets the formulas read (``ModelUniverse, ModelExposures,
ModelCovariance, ModelCovariance1d (the one-day forecast, for VaR), Calc``) are hidden: they recalculate but do not print. Every visible
sheet gets print settings from :func:`xlfactor.excel.sheets.apply_print_settings`.
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
from xlfactor.cells import append_row, set_cell
from xlfactor.conventions import TRADING_DAYS_PER_YEAR
from xlfactor.excel.stress_sheet import write_stress_sheet
from xlfactor.excel.hedging_sheet import write_hedging_sheet
from xlfactor.excel.sheets import (
    DECIMAL,
    DIVERSIFIER_FILL,
    HEADER_FILL,
    HEADER_FONT,
    PERCENT,
    RATIO,
    WARNING_FILL,
    apply_print_settings,
    autosize,
    hide_sheets,
    write_table,
)
from xlfactor.excel.themes_sheet import write_themes_sheet
from xlfactor.excel.track_workbook import realized_table
from xlfactor.reporting.report import portfolio_report
from xlfactor.reporting.track import WINDOW_RULE
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
    Headline("Beta", "Ex-ante beta", RATIO),
    Headline("VaR95", "1-day VaR 95% (of gross)", PERCENT),
    Headline("VaR99", "1-day VaR 99% (of gross)", PERCENT),
    Headline("IdiosyncraticShareOfTE", "Idiosyncratic share of TE²", PERCENT),
)

VALUE_SHEETS = (
    ("Risk", "risk_decomposition", True),
    ("IdioRisk", "idiosyncratic_by_name", False),
    ("AttributionFactors", "attribution_factors", False),
    ("VaR", "var", False),
)
MODEL_SHEETS = ("ModelUniverse", "ModelExposures", "ModelCovariance", "ModelCovariance1d", "Calc")
TOP_CONTRIBUTORS = 10


def write_report_workbook(
    path: str | Path,
    portfolio: pd.DataFrame,
    snapshot=None,
    benchmark: pd.DataFrame | None = None,
    report: dict[str, pd.DataFrame] | None = None,
    track: str | Path | None = None,
    discovery=None,
) -> Path:
    """Write the report workbook for ``portfolio`` to ``path`` (atomically).

    ``report`` may be passed when already computed with the same arguments. ``track``
    (a track folder) adds the realized statistics of each available window to the Summary;
    ``discovery`` (a :class:`xlfactor.semantic.SemanticDiscovery`) adds a Themes sheet.
    """
    data = factor_model_data(snapshot)
    report = report if report is not None else portfolio_report(portfolio, data.snapshot, benchmark)
    holdings = holdings_from_frame(portfolio)
    bench = data.benchmark_weights if benchmark is None else data.align_holdings(benchmark, "benchmark").weights

    wb = Workbook()  # sheets in display order; the Summary's formulas are filled in last
    summary = wb.active
    summary.title = "Summary"
    _write_active_risk(wb.create_sheet("ActiveRisk"), report["active_risk"])
    _write_attribution(wb.create_sheet("Attribution"), report)
    for title, key, with_index in VALUE_SHEETS:
        ws = wb.create_sheet(title)
        write_table(ws, report[key], index=with_index)
        if key == "var":
            _write_beta(ws, report)
        ws.freeze_panes = "A2"
        autosize(ws)
    _write_exposures(wb.create_sheet("Exposures"), report)
    if "model_quality" in report:
        ws = wb.create_sheet("Quality")
        write_table(ws, report["model_quality"], index=True, by_row=True)
        write_table(ws, report["factor_quality"], start_row=1, start_col=4, formats={"mean_abs_t": "0.00", "share_abs_t_over_2": PERCENT})
        ws.freeze_panes = "A2"
        autosize(ws)
    write_stress_sheet(wb, data, data.align_holdings(portfolio).weights, bench, data.snapshot.is_simulated)
    write_hedging_sheet(wb.create_sheet("Hedging"), data, data.align_holdings(portfolio).weights)
    if discovery is not None:
        write_themes_sheet(wb, discovery)
    last_holding_row = _write_holdings(wb.create_sheet("Holdings"), holdings, report["missing_holdings"])
    model = _write_model_sheets(wb, data, bench, last_holding_row)
    _write_summary(wb, summary, report, model, _realized(track))
    hide_sheets(wb, MODEL_SHEETS)
    apply_print_settings(wb)
    wb.calculation.fullCalcOnLoad = True
    return atomic_write(path, wb.save)


def _realized(track: str | Path | None) -> pd.DataFrame | None:
    if track is None:
        return None
    from xlfactor.reporting.track import load_track, realized_statistics  # excel -> track: the allowed direction

    return realized_statistics(load_track(track)["track"])


# ---------------------------------------------------------------- input and model data


def _write_holdings(ws, holdings, missing: pd.DataFrame) -> int:
    ws.append(["ticker", "allocation" if holdings.kind == "allocation" else "value"])
    for ticker, amount in zip(holdings.tickers.tolist(), holdings.amounts.tolist()):
        append_row(ws, [ticker, amount])
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
    universe.append(["ticker", "benchmark_weight", "idiosyncratic_variance", "weight", "active_weight",
                     "idiosyncratic_variance_1d"])  # fmt: skip
    holdings_tickers = f"Holdings!$A$2:$A${last_holding_row}"
    holdings_values = f"Holdings!$B$2:$B${last_holding_row}"
    daily_covariance, daily_idio = data.one_day_model()  # the one-day forecast (VaR), annualized
    rows = zip(data.tickers.tolist(), bench.tolist(), data.idiosyncratic_variance.tolist(), daily_idio.tolist())
    for i, (ticker, b, d, d1) in enumerate(rows, 2):
        universe.append(
            [None, b, d, f"=SUMIF({holdings_tickers},$A{i},{holdings_values})*WeightScale", f"=D{i}-B{i}", d1]
        )
        set_cell(universe.cell(row=i, column=1), ticker)
    exposures = wb.create_sheet("ModelExposures")
    append_row(exposures, ["ticker", *data.factor_names.tolist()])
    for ticker, row in zip(data.tickers.tolist(), data.exposures.tolist()):
        append_row(exposures, [ticker, *row])
    covariance = wb.create_sheet("ModelCovariance")
    append_row(covariance, ["factor", *data.factor_names.tolist()])
    for name, row in zip(data.factor_names.tolist(), data.factor_covariance.tolist()):
        append_row(covariance, [name, *row])
    covariance_1d = wb.create_sheet("ModelCovariance1d")
    append_row(covariance_1d, ["factor", *data.factor_names.tolist()])
    for name, row in zip(data.factor_names.tolist(), daily_covariance.tolist()):
        append_row(covariance_1d, [name, *row])
    for ws in (universe, exposures, covariance, covariance_1d):
        ws.freeze_panes = "B2"
        for cell in ws[1]:
            cell.font, cell.fill = HEADER_FONT, HEADER_FILL

    calc = wb.create_sheet("Calc")
    append_row(calc, ["factor", *data.factor_names.tolist()])
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
        ("portfolio_factor_variance_1d", f"=SUMPRODUCT(MMULT({x_p},ModelCovariance1d!$B$2:${end}${k + 1}),{x_p})", True),
        ("portfolio_idiosyncratic_variance_1d", f"=SUMPRODUCT({weights},{weights},ModelUniverse!$F$2:$F${last})", False),
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
    one_day = f"SQRT({c['portfolio_factor_variance_1d']}+{c['portfolio_idiosyncratic_variance_1d']})"  # one-day forecast
    return {
        "TotalRisk": f"={total}",
        "FactorRisk": f"=SQRT({c['portfolio_factor_variance']})",
        "IdiosyncraticRisk": f"=SQRT({c['portfolio_idiosyncratic_variance']})",
        "TrackingError": f"=SQRT{te_variance}",
        "Beta": (
            f"=({c['portfolio_benchmark_factor_covariance']}+{c['portfolio_benchmark_idiosyncratic_covariance']})"
            f"/({c['benchmark_factor_variance']}+{c['benchmark_idiosyncratic_variance']})"
        ),
        "VaR95": f"=_xlfn.NORM.S.INV(0.95)*{one_day}/SQRT({TRADING_DAYS_PER_YEAR})",
        "VaR99": f"=_xlfn.NORM.S.INV(0.99)*{one_day}/SQRT({TRADING_DAYS_PER_YEAR})",
        "IdiosyncraticShareOfTE": f"={c['active_idiosyncratic_variance']}/{te_variance}",
    }


def _write_summary(
    wb: Workbook, ws, report: dict[str, pd.DataFrame], model: _ModelCells, realized: pd.DataFrame | None = None
) -> None:
    """Write the Summary sheet: one printed page.

    Title, banner, live headlines, the risk summary and realized statistics (columns A:F);
    snapshot facts and diagnostics, one row per item (columns H:I).
    """
    facts = report["snapshot"]["value"]
    ws["A1"] = "xlfactor portfolio risk report"
    ws["A1"].font = Font(bold=True, size=14)
    simulated = facts.get("simulated") is True
    set_cell(ws["A2"], facts.get("note") if simulated else f"Snapshot {facts.get('source')} as of {facts.get('as_of_date')}")
    ws.merge_cells("A2:I2")
    ws["A2"].alignment = Alignment(wrap_text=True, vertical="top")
    ws.row_dimensions[2].height = 32
    if simulated:
        ws["A2"].font = Font(bold=True, color="C00000")
        ws["A2"].fill = WARNING_FILL
    missing = report["missing_holdings"]
    outside = missing[missing["side"] == "portfolio"]
    if len(outside):
        share = float(outside["weight"].abs().sum())
        shown = ", ".join(outside["ticker"].astype(str).head(5))
        text = (
            f"{len(outside)} holdings outside the universe ({shown}{', ...' if len(outside) > 5 else ''}), "
            f"{share:.1%} of the gross exposure, are treated as cash (see the Holdings sheet)"
        )
        if share > 0.5:
            text = "WARNING: most of the portfolio is not in the model: " + text
        set_cell(ws["A3"], text)
        ws["A3"].font = Font(bold=share > 0.5, color="C00000")
        ws["A3"].fill = WARNING_FILL
        ws.merge_cells("A3:I3")
        ws["A3"].alignment = Alignment(wrap_text=True, vertical="top")
        ws.row_dimensions[3].height = 32
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
    row = 5 + len(HEADLINES)
    ws.cell(row=row, column=1, value="Column C holds Python's numbers when the report was written.").font = Font(italic=True)
    row = _block(ws, row + 2, "Risk summary", report["summary"], by_row=True)
    if realized is None:
        ws.cell(row=row + 2, column=1, value="Realized statistics: pass a track folder (xlfactor report --track DIR).").font = Font(italic=True)
    if realized is not None:
        row = _block(ws, row + 2, "Realized (stored track days)", _realized_rows(realized), by_row=True)
    snapshot = report["snapshot"].drop(index=["diagnostics", "note"], errors="ignore")
    row = _block(ws, 4, "Snapshot", snapshot, column=8)
    if "diagnostics" in report and len(report["diagnostics"]):
        diagnostics = report["diagnostics"].set_index("item")
        diagnostics["value"] = [_number_or_text(v) for v in diagnostics["value"]]
        _block(ws, row + 2, "Snapshot diagnostics", diagnostics, column=8, formats={"value": "General"})
    for column, width in zip("ABCDEFGHI", (30, 13, 13, 11, 11, 11, 2, 28, 30)):
        ws.column_dimensions[column].width = width
    ws.freeze_panes = "A4"


def _number_or_text(value: object) -> object:
    if not isinstance(value, str):
        return value  # already typed (counts, flags)
    try:
        return float(value)
    except ValueError:
        return value


def _block(
    ws, row: int, title: str, frame: pd.DataFrame, by_row: bool = False, column: int = 1, formats: dict | None = None
) -> int:
    """A bold title then ``frame`` (index as first column) at (``row``, ``column``); return the last row."""
    ws.cell(row=row, column=column, value=title).font = Font(bold=True)
    last, _ = write_table(ws, frame, start_row=row + 1, start_col=column, index=True, by_row=by_row, formats=formats)
    return last


def _realized_rows(realized: pd.DataFrame) -> pd.DataFrame:
    """Realized statistics with one row per statistic and one column per window."""
    if realized.empty:
        return pd.DataFrame({"value": [f"no window yet ({WINDOW_RULE})"]}, index=pd.Index(["note"], name="statistic"))
    return realized_table(realized).drop(index=["start", "end", "summed_active"])


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
    chart = _bar_chart("Share of TE² (top 15 factors)", top, "0%")
    chart.add_data(Reference(ws, min_col=8, min_row=1, max_row=top + 1), titles_from_data=True)
    chart.set_categories(Reference(ws, min_col=1, min_row=2, max_row=top + 1))
    ws.add_chart(chart, f"A{last_row + 4}")
    ws.freeze_panes = "B2"
    autosize(ws)


def _bar_chart(title: str, bars: int, number_format: str) -> BarChart:
    """A horizontal bar chart sized to its bars (no legend, labels on the left axis)."""
    chart = BarChart()
    chart.type = "bar"
    chart.title = title
    chart.legend = None
    chart.y_axis.number_format = number_format
    chart.y_axis.majorGridlines = None
    chart.x_axis.delete = False
    chart.y_axis.delete = False
    chart.x_axis.tickLblPos = "low"  # labels left of the plot, clear of negative bars
    chart.x_axis.scaling.orientation = "maxMin"  # first table row on top
    chart.height, chart.width = max(7.0, 0.55 * bars + 2.5), 17.0
    return chart


def _write_exposures(ws, report: dict[str, pd.DataFrame]) -> None:
    """Style exposures with their chart below (A:D); sector and industry allocations (F:I)."""
    style = report["style"]
    last, _ = write_table(ws, style, formats={c: DECIMAL for c in ("portfolio", "benchmark", "active")})
    weights = {c: PERCENT for c in ("portfolio", "benchmark", "active")}
    sector_end, _ = write_table(ws, report["sector"], start_col=6, formats=weights)
    write_table(ws, report["industry"], start_row=sector_end + 3, start_col=6, formats=weights)
    chart = _bar_chart("Active style exposures", last - 1, "0.0")
    chart.add_data(Reference(ws, min_col=4, min_row=1, max_row=last), titles_from_data=True)
    chart.set_categories(Reference(ws, min_col=1, min_row=2, max_row=last))
    chart.width = 12.0
    ws.add_chart(chart, f"A{last + 3}")
    ws.freeze_panes = "A2"
    autosize(ws)


def _write_beta(ws, report: dict[str, pd.DataFrame]) -> None:
    summary = report["summary"]["value"]
    row = len(report["var"]) + 3
    ws.cell(row=row, column=1, value="Ex-ante beta").font = Font(bold=True)
    ws.cell(row=row, column=2, value=float(summary["beta"])).number_format = RATIO
    ws.cell(row=row + 1, column=1, value="against")
    set_cell(ws.cell(row=row + 1, column=2), report["snapshot"].loc["benchmark", "value"])
    ws.cell(row=row + 2, column=1, value="VaR: normal, mean ignored, positive loss fraction of gross: z x sigma / sqrt(252) x sqrt(days).")


def _write_attribution(ws, report: dict[str, pd.DataFrame]) -> None:
    """Active return reconciliation, top contributors (% Active next to TE share) and name rows."""
    attribution = report["attribution"]
    if "note" in attribution:
        write_table(ws, attribution)
        return
    attrs = attribution.attrs
    ws["A1"] = f"Active return attribution, {attrs['date']}"
    ws["A1"].font = Font(bold=True)
    ws["A2"] = f"Exposures known at the close of {attrs['exposure_date']}; daily decimal returns."
    ws["A2"].font = Font(italic=True)
    row = 3
    for note in attrs.get("notes", []):
        set_cell(ws.cell(row=row, column=1), note)
        row += 1
    last, _ = write_table(ws, attribution, start_row=row + 1, index=True, formats=dict.fromkeys(attribution.columns, PERCENT))
    top = report["attribution_contributors"].head(TOP_CONTRIBUTORS)
    ws.cell(row=last + 2, column=1, value=f"Top {len(top)} active return contributors").font = Font(bold=True)
    last, _ = write_table(ws, top, start_row=last + 3, formats={"pct_active": PERCENT, "te_share": PERCENT})
    ws.cell(row=last + 1, column=1, value="pct_active = contribution / active return (may exceed 100%); te_share = ex-ante share of TE².").font = Font(italic=True)
    names = report["idiosyncratic_returns"]
    names = names.reindex(names["active_contribution"].abs().sort_values(ascending=False).index)
    ws.cell(row=last + 3, column=1, value="Idiosyncratic return by name").font = Font(bold=True)
    ws.cell(row=last + 4, column=1, value="active_contribution = contribution less the name's gross share of the benchmark's "
            "idiosyncratic return: the rows add up to the active idiosyncratic row.").font = Font(italic=True)
    write_table(ws, names, start_row=last + 5, formats={"benchmark_adjustment": PERCENT})
    autosize(ws, maximum=22)
