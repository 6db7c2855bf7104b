"""The report workbook: a one-page risk tear sheet with live formulas, then one printed page per topic.

The first sheet (``Summary``) stands alone: headline cards, each one live formula
(defined names ``TotalRisk, FactorRisk, IdiosyncraticRisk, TrackingError, Beta, VaR95,
VaR99, IdiosyncraticShareOfTE, GrossExposure, NetExposure, LongExposure, ShortExposure``)
over the ``Holdings`` sheet (header ``ticker,value`` in A1:B1; a header ``allocation``
means weights as given) and the model data sheets, so editing a weight recomputes the
risk in Excel or LibreOffice without Python; two charts (risk by group, the top factor
contributions to TE); three to five sentences written from the numbers
(:func:`xlfactor.reporting.narrative.tear_sheet_sentences`); the book's name, the
snapshot and its date, the time of the report and the simulated-data warning.

Only functions LibreOffice also computes are used (SUMIF, SUMPRODUCT, MMULT, SQRT, ABS,
LOWER, TRIM, ``_xlfn.NORM.S.INV``), and full calculation on load is set. Every other
table holds values computed by :func:`xlfactor.portfolio_report`: Exposures, ActiveRisk,
Names, Attribution, Stress, Hedging, Track (with a track folder), Model (snapshot facts
and diagnostics, each with its meaning), then extra sheets (``extra_sheets``, e.g. the
optimizer's Rebalance sheet), Holdings, and the full tables on data sheets (``Data...``:
on screen, not printed; each printed page shows their top rows).

The model-data sheets the formulas read (``ModelUniverse, ModelExposures,
ModelCovariance, ModelCovariance1d (the one-day forecast, for VaR), Calc``) are hidden:
they recalculate but do not print. Every visible sheet gets print settings from
:func:`xlfactor.excel.sheets.apply_print_settings` (A4 landscape, one page each in the demo).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pandas as pd
from openpyxl import Workbook
from openpyxl.chart import Reference
from openpyxl.chart.legend import Legend
from openpyxl.styles import Alignment, Font
from openpyxl.utils import get_column_letter
from openpyxl.workbook.defined_name import DefinedName
from openpyxl.worksheet.formula import ArrayFormula

from xlfactor._files import atomic_write
from xlfactor.cells import append_row, set_cell
from xlfactor.conventions import TRADING_DAYS_PER_YEAR
from xlfactor.excel import report_sheets
from xlfactor.excel.charts import LABEL_POINTS, add_series, axis_text, bar_chart, value_labels
from xlfactor.excel.hedging_sheet import write_hedging_sheet
from xlfactor.excel.sheets import (
    HEADER_FILL,
    HEADER_FONT,
    MONEY,
    NOTE_FONT,
    PERCENT,
    RATIO,
    TITLE_FONT,
    WARNING_FILL,
    apply_print_settings,
    factor_label,
    hide_sheets,
    section,
    write_table,
)
from xlfactor.excel.stress_sheet import write_stress_sheet
from xlfactor.excel.themes_sheet import write_themes_sheet
from xlfactor.reporting.narrative import tear_sheet_sentences
from xlfactor.reporting.report import portfolio_report
from xlfactor.risk.holdings import holdings_from_frame
from xlfactor.risk.model_data import factor_model_data

HOLDINGS_SPARE_ROWS = 500
"""Empty rows below the holdings that the formulas already cover (room to add names)."""


@dataclass(frozen=True)
class Headline:
    """A headline card of the tear sheet: its defined name, label and number format."""

    name: str  # workbook-level defined name
    label: str
    number_format: str


HEADLINES = (
    Headline("TotalRisk", "Total risk (annualized)", PERCENT),
    Headline("FactorRisk", "Factor risk", PERCENT),
    Headline("IdiosyncraticRisk", "Idiosyncratic risk", PERCENT),
    Headline("TrackingError", "Tracking error (annualized)", PERCENT),
    Headline("Beta", "Ex-ante beta", RATIO),
    Headline("VaR95", "One-day VaR 95% (of gross)", PERCENT),
    Headline("VaR99", "One-day VaR 99% (of gross)", PERCENT),
    Headline("IdiosyncraticShareOfTE", "Idiosyncratic share of TE²", PERCENT),
)
BOOK_SIZE = (
    Headline("GrossExposure", "Gross", MONEY),
    Headline("NetExposure", "Net", MONEY),
    Headline("LongExposure", "Long", MONEY),
    Headline("ShortExposure", "Short", MONEY),
)
"""The book's size in dollars (in weights when the holdings are an allocation)."""

MODEL_SHEETS = ("ModelUniverse", "ModelExposures", "ModelCovariance", "ModelCovariance1d", "Calc")
TOP_TE_FACTORS = 8
CHART_CM = 8.6  # height of the tear sheet's charts
CHART_ROWS = 17  # rows under them (15 pt rows), before the sentences
CARD_COLUMNS = {"A": 28, "B": 14, "C": 13, "D": 2}
CHART_COLUMNS = 10  # E:N, each CHART_COLUMN_WIDTH wide
CHART_COLUMN_WIDTH = 10.5
LAST_COLUMN = "N"

ExtraSheet = Callable[..., object]
"""A writer ``(workbook, data, portfolio, benchmark)`` that adds a sheet to the report workbook (e.g. the optimizer's Rebalance sheet)."""


def write_report_workbook(
    path: str | Path,
    portfolio: pd.DataFrame,
    snapshot=None,
    benchmark: pd.DataFrame | None = None,
    report: dict[str, pd.DataFrame] | None = None,
    track: str | Path | None = None,
    discovery=None,
    name: str | None = None,
    extra_sheets: Sequence[ExtraSheet] = (),
    written_at: datetime | None = None,
) -> Path:
    """Write the report workbook for ``portfolio`` to ``path`` (atomically).

    ``report`` may be passed when already computed with the same arguments. ``track``
    (a track folder) adds the Track sheet (realized statistics, cumulative active return
    and TE over time); ``discovery`` (a :class:`xlfactor.semantic.SemanticDiscovery`)
    adds a Themes sheet. ``name`` is the book's name on the tear sheet (default: the
    file name of ``path``). ``extra_sheets``: writers called as ``writer(workbook, data,
    portfolio, benchmark)`` after the Model sheet, each adding its sheet (e.g.
    :class:`xlfactor.excel.rebalance_sheet.RebalanceSheet`); print settings are applied to
    them like the others. ``written_at`` is the report time shown (default now, UTC).
    """
    data = factor_model_data(snapshot)
    report = report if report is not None else portfolio_report(portfolio, data.snapshot, benchmark)
    holdings = holdings_from_frame(portfolio)
    bench = data.benchmark_weights if benchmark is None else data.align_holdings(benchmark, "benchmark").weights
    weights = data.align_holdings(portfolio).weights
    name = name if name is not None else Path(path).stem
    written_at = written_at or datetime.now(timezone.utc)

    wb = Workbook()  # sheets in display order; the tear sheet's formulas are filled in last
    summary = wb.active
    summary.title = "Summary"
    report_sheets.write_exposures(wb, report)
    report_sheets.write_active_risk(wb, report)
    report_sheets.write_names(wb, report)
    report_sheets.write_attribution(wb, report)
    write_stress_sheet(wb, data, weights, bench, data.snapshot.is_simulated, report["var"])
    write_hedging_sheet(wb.create_sheet("Hedging"), data, weights)
    if track is not None:
        report_sheets.write_track(wb, track)
    if discovery is not None:
        write_themes_sheet(wb, discovery)
    report_sheets.write_model(wb, report)
    for writer in extra_sheets:
        writer(wb, data, portfolio, benchmark)
    last_holding_row = _write_holdings(wb.create_sheet("Holdings"), holdings, report["missing_holdings"])
    model = _write_model_sheets(wb, data, bench, last_holding_row)
    _write_tear_sheet(wb, summary, report, model, name, written_at, holdings)
    report_sheets.order_data_sheets(wb)
    hide_sheets(wb, MODEL_SHEETS)
    apply_print_settings(wb)
    wb.calculation.fullCalcOnLoad = True
    return atomic_write(path, wb.save)


# ---------------------------------------------------------------- input and model data


def _write_holdings(ws, holdings, missing: pd.DataFrame) -> int:
    ws.append(["ticker", "allocation" if holdings.kind == "allocation" else "value"])
    for ticker, amount in zip(holdings.tickers.tolist(), holdings.amounts.tolist()):
        append_row(ws, [ticker, amount])
    for cell in ws[1]:
        cell.font, cell.fill = HEADER_FONT, HEADER_FILL
    number_format = PERCENT if holdings.kind == "allocation" else MONEY
    for row in ws.iter_rows(min_row=2, min_col=2, max_col=2):
        row[0].number_format = number_format
    ws["D1"] = "Holdings: the book as given"
    ws["D1"].font = TITLE_FONT
    ws["D2"] = "Edit tickers and values in columns A:B, or add rows below:"
    ws["D3"] = "the Summary's headline formulas recompute."
    ws["D2"].font = ws["D3"].font = NOTE_FONT
    if len(missing):
        section(ws, 5, 4, "Missing holdings (outside the universe, treated as cash)")
        write_table(ws, missing, start_row=6, start_col=4)
    ws.freeze_panes = "A2"
    ws.column_dimensions["A"].width = 14
    ws.column_dimensions["B"].width = 16
    ws.column_dimensions["C"].width = 3
    for column in "DEFGH":
        ws.column_dimensions[column].width = 14
    return len(holdings.tickers) + 1 + HOLDINGS_SPARE_ROWS


@dataclass(frozen=True)
class _ModelCells:
    """Addresses of the calculation cells the headline formulas use."""

    cells: dict[str, str]
    holdings_values: str  # the Holdings value column the formulas cover


def _write_model_sheets(wb: Workbook, data, bench: np.ndarray, last_holding_row: int) -> _ModelCells:
    n, k = len(data.tickers), len(data.factor_names)
    last = n + 1
    universe = wb.create_sheet("ModelUniverse")
    universe.append(["ticker", "benchmark_weight", "idiosyncratic_variance", "weight", "active_weight",
                     "idiosyncratic_variance_1d"])  # fmt: skip
    holdings_tickers = f"Holdings!$A$2:$A${last_holding_row}"
    holdings_values = f"Holdings!$B$2:$B${last_holding_row}"
    one_day_covariance, one_day_idiosyncratic = data.one_day_model()  # the one-day forecast (VaR), annualized
    rows = zip(data.tickers.tolist(), bench.tolist(), data.idiosyncratic_variance.tolist(), one_day_idiosyncratic.tolist())
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
    for name, row in zip(data.factor_names.tolist(), one_day_covariance.tolist()):
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
    idiosyncratic = f"ModelUniverse!$C$2:$C${last}"
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
        ("portfolio_idiosyncratic_variance", f"=SUMPRODUCT({weights},{weights},{idiosyncratic})", False),
        ("active_factor_variance", f"=SUMPRODUCT(MMULT({x_a},{f}),{x_a})", True),
        ("active_idiosyncratic_variance", f"=SUMPRODUCT({active},{active},{idiosyncratic})", False),
        ("portfolio_benchmark_factor_covariance", f"=SUMPRODUCT(MMULT({x_p},{f}),{x_b})", True),
        ("portfolio_benchmark_idiosyncratic_covariance", f"=SUMPRODUCT({weights},{bench_col},{idiosyncratic})", False),
        ("benchmark_factor_variance", f"=SUMPRODUCT(MMULT({x_b},{f}),{x_b})", True),
        ("benchmark_idiosyncratic_variance", f"=SUMPRODUCT({bench_col},{bench_col},{idiosyncratic})", False),
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
    return _ModelCells(cells, holdings_values)


# ---------------------------------------------------------------- summary and tables




# ---------------------------------------------------------------- the tear sheet


def _headline_formulas(c: dict[str, str], values: str) -> dict[str, str]:
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
        "GrossExposure": f"=SUMPRODUCT(ABS({values}))",
        "NetExposure": f"=SUM({values})",
        "LongExposure": f'=SUMIF({values},">0")',
        "ShortExposure": f'=SUMIF({values},"<0")',
    }


def _write_tear_sheet(wb: Workbook, ws, report, model: _ModelCells, name: str, written_at: datetime, holdings) -> None:
    """The first page: who and when, headline cards (live formulas), two charts, the sentences, the chart data."""
    facts = report["snapshot"]["value"]
    set_cell(ws["A1"], f"Risk report: {name}").font = Font(name="Calibri", bold=True, size=16, color="1F4E78")
    ws.row_dimensions[1].height = 24
    line = (
        f"Snapshot {facts.get('source')} ({facts.get('model_version')}) as of {facts.get('as_of_date')}; "
        f"benchmark: {facts.get('benchmark')}; report written {written_at.astimezone(timezone.utc):%Y-%m-%d %H:%M} UTC"
    )
    set_cell(ws["A2"], line).font = NOTE_FONT
    row = 3
    if facts.get("simulated") is True:
        set_cell(ws[f"A{row}"], facts.get("note") or "SIMULATED MARKET: not real data")
        _banner(ws, row, bold=True)
        row += 1
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
        set_cell(ws[f"A{row}"], text)
        _banner(ws, row, bold=share > 0.5)
        row += 1
    top = row + 1
    section(ws, top, 1, "Headline risk (live formulas over the Holdings sheet)")
    formulas = _headline_formulas(model.cells, model.holdings_values)
    allocation = holdings.kind == "allocation"
    cards = [*HEADLINES, *BOOK_SIZE]
    for i, headline in enumerate(cards, start=top + 1):
        label = headline.label
        if headline in BOOK_SIZE:
            label += " (of capital)" if allocation else " ($)"
        ws.cell(row=i, column=1, value=label)
        cell = ws.cell(row=i, column=2, value=formulas[headline.name])
        cell.number_format = PERCENT if headline in BOOK_SIZE and allocation else headline.number_format
        cell.font = Font(name="Calibri", bold=True, size=12)
        cell.alignment = Alignment(horizontal="right")
        wb.defined_names[headline.name] = DefinedName(headline.name, attr_text=f"Summary!$B${i}")
    after_cards = max(top + len(cards) + 1, top + CHART_ROWS)
    # the sentences, under the cards and charts
    gross = None if allocation else float(np.abs(holdings.amounts).sum())
    sentences = tear_sheet_sentences(report, gross)
    words_row = after_cards + 1
    section(ws, words_row, 1, "What drives the risk")
    for i, sentence in enumerate(sentences, start=words_row + 1):
        set_cell(ws.cell(row=i, column=1), sentence)
        ws.merge_cells(f"A{i}:{LAST_COLUMN}{i}")
        ws.cell(row=i, column=1).alignment = Alignment(wrap_text=True, vertical="top")
        ws.row_dimensions[i].height = 16
    tables_row = words_row + len(sentences) + 2
    _tear_sheet_tables(ws, report, top, tables_row)
    for column, width in CARD_COLUMNS.items():
        ws.column_dimensions[column].width = width
    for j in range(CHART_COLUMNS):
        ws.column_dimensions[get_column_letter(5 + j)].width = CHART_COLUMN_WIDTH


def _banner(ws, row: int, bold: bool) -> None:
    cell = ws[f"A{row}"]
    cell.font = Font(name="Calibri", bold=bold, color="C00000")
    cell.fill = WARNING_FILL
    ws.merge_cells(f"A{row}:{LAST_COLUMN}{row}")
    cell.alignment = Alignment(wrap_text=True, vertical="center")
    ws.row_dimensions[row].height = 18


GROUP_COLORS = ("1F4E78", "5B9BD5", "ED7D31", "FFC000", "A5A5A5")  # market, style, sector, industry, idiosyncratic
GROUP_ROWS = (("market", "Market"), ("style", "Style"), ("sector", "Sector"), ("industry", "Industry"),
              ("idiosyncratic", "Idiosyncratic"))  # fmt: skip


def _tear_sheet_tables(ws, report, chart_row: int, row: int) -> None:
    """Risk by group (A:C) and the top factor contributions to TE (E:N), each the data of its chart above."""
    decomposition = report["risk_decomposition"]
    groups = pd.DataFrame(
        {"group": [label for key, label in GROUP_ROWS if key in decomposition.index],
         "share": [float(decomposition.loc[key, "share"]) for key, _ in GROUP_ROWS if key in decomposition.index],
         "active_share": [float(decomposition.loc[key, "active_share"]) for key, _ in GROUP_ROWS if key in decomposition.index]}
    )  # fmt: skip
    section(ws, row, 1, "Risk by group")
    last, _ = write_table(ws, groups, start_row=row + 1, formats={"share": PERCENT, "active_share": PERCENT},
                          labels={"share": "Share of risk²", "active_share": "Share of TE²"})  # fmt: skip
    chart = bar_chart("Risk by group (share of variance)", 2, "0%", width=10.2)
    chart.grouping, chart.overlap, chart.gapWidth = "percentStacked", 100, 40  # one bar per risk, split by group
    header = row + 1
    chart.add_data(Reference(ws, min_col=1, max_col=3, min_row=header + 1, max_row=last), from_rows=True, titles_from_data=True)
    chart.set_categories(Reference(ws, min_col=2, max_col=3, min_row=header, max_row=header))
    for series, color in zip(chart.series, GROUP_COLORS):
        series.graphicalProperties.solidFill = color
        series.graphicalProperties.line.solidFill = color
    chart.y_axis.majorUnit = 0.25
    chart.legend = Legend()
    chart.legend.position = "b"
    chart.legend.txPr = axis_text(LABEL_POINTS)
    chart.height = CHART_CM
    ws.add_chart(chart, f"E{chart_row}")

    active = report["active_risk"]
    active = active[active["group"] != "idiosyncratic"]  # factors only: idiosyncratic risk is in the table on the left
    top = active.reindex(active["te_share"].sort_values(ascending=False).index).head(TOP_TE_FACTORS)
    frame = pd.DataFrame({"factor": [factor_label(f) for f in top["factor"]], "group": top["group"].str.title().tolist(),
                          "active_exposure": top["active_exposure"].to_numpy(), "te_share": top["te_share"].to_numpy()})  # fmt: skip
    section(ws, row, 5, f"Top {len(frame)} factor contributions to TE")
    header = row + 1
    for j, text in enumerate(("Factor", "", "", "Group", "Active exposure", "", "Share of TE²", "")):
        cell = ws.cell(row=header, column=5 + j, value=text or None)
        cell.font, cell.fill = HEADER_FONT, HEADER_FILL
    for j in (9, 11):  # the numbers span two columns each (room for their headers)
        ws.merge_cells(start_row=header, start_column=j, end_row=header, end_column=j + 1)
        ws.cell(row=header, column=j).alignment = Alignment(horizontal="right")
    for i, values in enumerate(frame.itertuples(index=False), start=header + 1):
        set_cell(ws.cell(row=i, column=5), values.factor)
        ws.merge_cells(start_row=i, start_column=5, end_row=i, end_column=7)
        set_cell(ws.cell(row=i, column=8), values.group)
        ws.cell(row=i, column=9, value=float(values.active_exposure)).number_format = RATIO
        ws.cell(row=i, column=11, value=float(values.te_share)).number_format = PERCENT
        for j in (9, 11):
            ws.merge_cells(start_row=i, start_column=j, end_row=i, end_column=j + 1)
    ws.cell(row=header + len(frame) + 1, column=5,
            value="Active exposure: weight for sectors and industries, standard deviations for styles.").font = NOTE_FONT
    last = header + len(frame)
    chart = bar_chart(f"Top {len(frame)} factors: share of TE²", len(frame), "0%", width=10.4)
    add_series(chart, ws, 11, header, last, 5)
    value_labels(chart, "0%", frame["te_share"])
    chart.height = CHART_CM
    ws.add_chart(chart, f"J{chart_row}")
