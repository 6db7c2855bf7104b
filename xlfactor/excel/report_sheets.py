"""The report workbook's topic sheets: one printed page each, the full tables on data sheets.

Each sheet opens with a title and a one-line "how to read this", shows the top rows of
its table with human headers and one number format per quantity, and draws the chart a
reader would rather look at. The full tables go to data sheets (``Data...``, grey tabs):
on screen, not printed. Values only (computed by :func:`xlfactor.portfolio_report`);
text is written with :func:`xlfactor.cells.set_cell`, never as a formula.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from openpyxl import Workbook
from openpyxl.chart import Reference
from openpyxl.styles import Alignment, Font

from xlfactor.cells import set_cell
from xlfactor.excel.charts import SECOND_COLOR, add_series, bar_chart, date_axis, line_chart, value_labels
from xlfactor.snapshot.snapshot import DIAGNOSTIC_MEANINGS
from xlfactor.excel.sheets import (
    DECIMAL,
    DIVERSIFIER_FILL,
    PERCENT,
    RATIO,
    autosize,
    factor_label,
    section,
    set_not_printed,
    title_rows,
    write_table,
)

TOP_FACTORS = 20
TOP_NAMES = 20
TOP_CHART = 15
TOP_CONTRIBUTORS = 10
TOP_INDUSTRIES = 12
DATA_PREFIX = "Data"

FACT_LABELS = {
    "as_of_date": "As of", "universe": "Universe", "model_version": "Model version", "source": "Source",
    "simulated": "Simulated market", "tickers": "Stocks in the universe", "factors": "Factors",
    "factor_return_days": "Days of factor returns", "panel_dates": "Dates in the exposure panel",
    "scenarios": "Stored scenarios", "benchmark": "Benchmark",
}  # fmt: skip


def data_sheet(wb: Workbook, title: str, heading: str, frame: pd.DataFrame, **table) -> None:
    """A data sheet ``Data<title>``: the full ``frame`` under a title, on screen only (not printed)."""
    ws = wb.create_sheet(f"{DATA_PREFIX}{title}")
    row = title_rows(ws, heading, "The full table, for the screen and for copying: the printed report shows its top rows.")
    write_table(ws, frame, start_row=row, **table)
    ws.freeze_panes = ws.cell(row=row + 1, column=2)
    autosize(ws)
    set_not_printed(ws)


def order_data_sheets(wb: Workbook) -> None:
    """Move the data sheets after every printed sheet (in the order they were made)."""
    data = [ws for ws in wb.worksheets if ws.title.startswith(DATA_PREFIX)]
    for ws in data:
        wb.move_sheet(ws, offset=len(wb.worksheets) - 1 - wb.worksheets.index(ws))


def _labelled(frame: pd.DataFrame, column: str = "factor") -> pd.DataFrame:
    frame = frame.copy()
    frame[column] = [factor_label(f) for f in frame[column]]
    if "group" in frame:
        frame["group"] = frame["group"].astype(str).str.title()
    return frame


# ---------------------------------------------------------------- exposures


def write_exposures(wb: Workbook, report: dict[str, pd.DataFrame]) -> None:
    """Sector weights and style exposures (portfolio, benchmark, active) with a chart of each; the top industries."""
    ws = wb.create_sheet("Exposures")
    row = title_rows(ws, "Exposures: where the book leans",
                     "Sectors and industries are weights (percent of gross); styles are exposures in standard deviations "
                     "of the universe (0 = the average stock). Active = portfolio less benchmark.")  # fmt: skip
    weights = dict.fromkeys(("portfolio", "benchmark", "active"), PERCENT)
    sector_row = row
    section(ws, sector_row, 1, "Sector weights")
    last, _ = write_table(ws, report["sector"], start_row=sector_row + 1, formats=weights,
                          labels={"active": "Active weight"})  # fmt: skip
    chart = bar_chart("Sector active weights", len(report["sector"]), "0%", width=11.5)
    add_series(chart, ws, 4, sector_row + 1, last, 1)
    value_labels(chart, "0.0%", report["sector"]["active"])
    ws.add_chart(chart, ws.cell(row=sector_row, column=6).coordinate)
    industry = report["industry"]
    top = industry.reindex(industry["active"].abs().sort_values(ascending=False).index).head(TOP_INDUSTRIES)
    section(ws, sector_row, 13, f"Top {len(top)} industry bets (all: DataIndustries)")
    write_table(ws, top, start_row=sector_row + 1, start_col=13, formats=weights, labels={"active": "Active weight"})
    style_row = max(last, sector_row + 1 + len(top)) + 3
    style = _labelled(report["style"].rename(columns={"factor": "style"}), "style")
    section(ws, style_row, 1, "Style exposures (standard deviations)")
    last, _ = write_table(ws, style, start_row=style_row + 1, formats=dict.fromkeys(("portfolio", "benchmark", "active"), DECIMAL),
                          labels={"active": "Active exposure"})  # fmt: skip
    chart = bar_chart("Active style exposures (standard deviations)", len(style), "0.0", width=11.5)
    add_series(chart, ws, 4, style_row + 1, last, 1)
    chart.height = max(chart.height, 0.47 * (len(style) + 1))
    ws.add_chart(chart, ws.cell(row=style_row, column=6).coordinate)
    autosize(ws, maximum=30)
    data_sheet(wb, "Industries", "Industry weights (all)", industry, formats=weights)


# ---------------------------------------------------------------- active risk


def write_active_risk(wb: Workbook, report: dict[str, pd.DataFrame]) -> None:
    """The factors with the largest share of TE² (top 20) and their chart; the full table on DataFactors."""
    ws = wb.create_sheet("ActiveRisk")
    columns = ["factor", "group", "portfolio_exposure", "benchmark_exposure", "active_exposure",
               "factor_volatility", "te_contribution", "te_share", "diversifier"]  # fmt: skip
    table = report["active_risk"][columns]
    order = table["te_share"].abs().sort_values(ascending=False).index
    top = _labelled(table.reindex(order).head(TOP_FACTORS))
    row = title_rows(ws, f"Active risk: the {len(top)} factors that matter most",
                     "Share of TE² sums to 100% over all factors and idiosyncratic risk; a diversifier (green, negative "
                     f"share) lowers TE. Exposures: weights for sectors and industries, standard deviations for styles. "
                     f"All {len(table)} factors: DataFactors.")  # fmt: skip
    last, _ = write_table(ws, top, start_row=row)
    for i, diversifier in enumerate(top["diversifier"].tolist(), start=row + 1):
        if diversifier:
            for cell in ws[i][: len(columns)]:
                cell.fill = DIVERSIFIER_FILL
    bars = min(TOP_CHART, len(top))
    chart = bar_chart(f"Share of TE², top {bars} factors", bars, "0%", width=12.0)
    add_series(chart, ws, 8, row, row + bars, 1)
    value_labels(chart, "0%", top["te_share"].head(bars))
    chart.height = max(chart.height, 0.53 * (len(top) + 3))
    ws.add_chart(chart, ws.cell(row=row, column=len(columns) + 2).coordinate)
    section(ws, last + 2, 1, "Risk by group: total and active")
    decomposition = report["risk_decomposition"].rename(index=lambda s: str(s).replace("_", " ").capitalize())
    write_table(ws, decomposition.rename_axis("component"), start_row=last + 3, index=True,
                formats={"variance_contribution": "0.0000", "active_variance_contribution": "0.0000"},
                labels={"risk": "Total risk", "share": "Share of risk²", "active_risk": "Active risk (TE)",
                        "active_share": "Share of TE²"})  # fmt: skip
    ws.freeze_panes = ws.cell(row=row + 1, column=2)
    autosize(ws, maximum=30)
    data_sheet(wb, "Factors", "Active risk of every factor", _labelled(table))


# ---------------------------------------------------------------- names


def write_names(wb: Workbook, report: dict[str, pd.DataFrame]) -> None:
    """The names with the largest contribution to total risk (top 20) and their chart; all names on DataNames."""
    ws = wb.create_sheet("Names")
    holdings = report["holdings"]
    total = float(report["summary"].loc["total_risk", "value"])
    frame = holdings[["ticker", "sector", "industry", "weight", "benchmark_weight", "active_weight", "idiosyncratic_risk",
                      "risk_contribution"]].copy()  # fmt: skip
    frame["share_of_total_risk"] = frame["risk_contribution"] / total if total > 0 else float("nan")
    frame = frame.drop(columns="risk_contribution")
    frame = frame.reindex(frame["share_of_total_risk"].abs().sort_values(ascending=False).index)
    top = frame.head(TOP_NAMES)
    row = title_rows(ws, "Names: where the total risk sits",
                     "Share of total risk: each name's contribution (weight x marginal risk, factors and its own risk "
                     f"together); the shares of all names add up to 100%. Top {len(top)} of {len(frame)}; all: DataNames.")  # fmt: skip
    labels = {"share_of_total_risk": "Share of total risk"}
    last, _ = write_table(ws, top, start_row=row, labels=labels)
    bars = min(TOP_CHART, len(top))
    chart = bar_chart(f"Top {bars} names by share of total risk", bars, "0%", width=11.0)
    add_series(chart, ws, 8, row, row + bars, 1)
    value_labels(chart, "0.0%", top["share_of_total_risk"].head(bars))
    chart.height = max(chart.height, 0.53 * (len(top) + 2))
    ws.add_chart(chart, ws.cell(row=row, column=10).coordinate)
    ws.freeze_panes = ws.cell(row=row + 1, column=2)
    autosize(ws, maximum=24)
    data_sheet(wb, "Names", "Every holding: weights, idiosyncratic risk and contribution to total risk", frame, labels=labels)
    idiosyncratic = report["idiosyncratic_by_name"].rename(columns={"share": "share_of_idiosyncratic_variance"})
    data_sheet(wb, "IdiosyncraticRisk", "Idiosyncratic risk by name", idiosyncratic,
               formats={"variance_contribution": "0.000000", "active_variance_contribution": "0.000000"})  # fmt: skip


# ---------------------------------------------------------------- attribution


def write_attribution(wb: Workbook, report: dict[str, pd.DataFrame]) -> None:
    """Last day's active return: reconciliation with its chart, top factor contributors, top names."""
    ws = wb.create_sheet("Attribution")
    attribution = report["attribution"]
    if "note" in attribution:
        row = title_rows(ws, "Active return attribution", "No attribution for this snapshot (see the note).")
        write_table(ws, attribution, start_row=row)
        autosize(ws)
        return
    attrs = attribution.attrs
    notes = " ".join(attrs.get("notes", []))
    row = title_rows(ws, f"Active return attribution, {attrs['date']}",
                     f"Daily returns on the exposures known at the close of {attrs['exposure_date']}: what each group of "
                     f"factors and idiosyncratic returns added to the active return. {notes}".strip())  # fmt: skip
    section(ws, row, 1, "Reconciliation")
    frame = attribution.rename(index=str.capitalize)
    last, _ = write_table(ws, frame, start_row=row + 1, index=True, formats=dict.fromkeys(attribution.columns, PERCENT))
    chart = bar_chart("Active return by group", len(frame), "0.00%", width=11.0)
    add_series(chart, ws, 4, row + 1, last, 1)
    value_labels(chart, "0.00%", attribution["active"])
    chart.height = 6.5
    ws.add_chart(chart, ws.cell(row=row, column=7).coordinate)
    contributors = _labelled(report["attribution_contributors"].head(TOP_CONTRIBUTORS))
    top_row = max(last + 2, row + 14)
    section(ws, top_row, 1, f"Top {len(contributors)} factor contributors (all factors: DataAttribution)")
    last, _ = write_table(ws, contributors, start_row=top_row + 1, formats={"pct_active": PERCENT, "te_share": PERCENT})
    names = report["idiosyncratic_returns"]
    names = names.reindex(names["active_contribution"].abs().sort_values(ascending=False).index)
    section(ws, last + 2, 1, f"Top {min(TOP_CONTRIBUTORS, len(names))} names by idiosyncratic active contribution")
    write_table(ws, names.head(TOP_CONTRIBUTORS), start_row=last + 3, formats={"benchmark_adjustment": PERCENT})
    autosize(ws, maximum=26)
    data_sheet(wb, "Attribution", "Attribution of every factor", _labelled(report["attribution_factors"]))


# ---------------------------------------------------------------- track


def write_track(wb: Workbook, track: str | Path) -> None:
    """Realized statistics per window and the history: cumulative active return and ex-ante TE over time."""
    from xlfactor.excel.track_workbook import realized_table
    from xlfactor.reporting.track import PERIOD_RULE, load_track, realized_statistics

    history = load_track(track)["track"].sort_values("date").reset_index(drop=True)
    statistics = realized_statistics(history)
    ws = wb.create_sheet("Track")
    row = title_rows(ws, f"Track record: {len(history)} stored days",
                     "Realized statistics from the stored daily returns, per window (1W, 1M, ...); the chart compounds "
                     "the daily returns: cumulative active = portfolio growth less benchmark growth.")  # fmt: skip
    if statistics.empty:
        set_cell(ws.cell(row=row, column=1), f"No window yet: {PERIOD_RULE}.")
    else:
        table = realized_table(statistics).drop(index=["start", "end", "summed_active"], errors="ignore")
        write_table(ws, table, start_row=row, index=True, by_row=True)
    if len(history) >= 2:
        series = pd.DataFrame({
            "date": pd.to_datetime(history["date"]).dt.to_pydatetime(),
            "cumulative_active": (1 + history["portfolio_return"]).cumprod() - (1 + history["benchmark_return"]).cumprod(),
            "tracking_error": history["tracking_error"],
        })  # fmt: skip
        data_sheet(wb, "Track", "Daily track: cumulative active return and ex-ante tracking error", series, formats={"date": "yyyy-mm-dd"})
        data = wb[f"{DATA_PREFIX}Track"]
        first, last = 4, 4 + len(series)
        chart = line_chart("Cumulative active return and ex-ante TE", "0.0%", width=17.0, height=10.0)
        for column in (2, 3):
            chart.add_data(Reference(data, min_col=column, min_row=first, max_row=last), titles_from_data=True)
        chart.set_categories(Reference(data, min_col=1, min_row=first + 1, max_row=last))
        date_axis(chart, len(series))
        chart.series[1].graphicalProperties.line.solidFill = SECOND_COLOR
        for s in chart.series:
            s.smooth = False
            s.marker.symbol = "none"
        ws.add_chart(chart, ws.cell(row=row, column=6).coordinate)
    autosize(ws, maximum=30)


# ---------------------------------------------------------------- model


def write_model(wb: Workbook, report: dict[str, pd.DataFrame]) -> None:
    """Snapshot facts, diagnostics each with its meaning, the risk decomposition, VaR and the model's quality."""
    ws = wb.create_sheet("Model")
    row = title_rows(ws, "Model: the snapshot behind the numbers",
                     "What the risk was computed with and how well the model fits; each diagnostic with its meaning.")
    facts = report["snapshot"].drop(index=["diagnostics", "note"], errors="ignore")
    section(ws, row, 1, "Snapshot")
    rows = pd.DataFrame({"field": [FACT_LABELS.get(str(k), str(k)) for k in facts.index], "value": facts["value"].tolist()})
    last, _ = write_table(ws, rows, start_row=row + 1, formats={"value": "#,##0"})
    if "diagnostics" in report and len(report["diagnostics"]):
        diagnostics = report["diagnostics"]
        diagnostics = diagnostics[diagnostics["item"] != "simulated"]
        section(ws, last + 2, 1, "Diagnostics")
        frame = pd.DataFrame({
            "item": [str(i).replace("_", " ").capitalize() for i in diagnostics["item"]],
            "value": [_diagnostic_value(v) for v in diagnostics["value"]],
            "meaning": [DIAGNOSTIC_MEANINGS.get(str(i), "") for i in diagnostics["item"]],
        })  # fmt: skip
        start = last + 3
        last, _ = write_table(ws, frame, start_row=start)
        for i, item in enumerate(diagnostics["item"].tolist(), start=start + 1):
            cell = ws.cell(row=i, column=2)
            if isinstance(cell.value, float):
                cell.number_format = "#,##0" if "days" in str(item) else "0.0000" if "eigenvalue" in str(item) else RATIO
            elif isinstance(cell.value, int):
                cell.number_format = "#,##0"
            ws.cell(row=i, column=3).font = Font(name="Calibri", size=10)
            ws.cell(row=i, column=3).alignment = Alignment(wrap_text=True, vertical="top")
    right = 5
    last_right = row - 2
    if "model_quality" in report:
        quality = report["model_quality"]
        keep = [k for k in quality.index if str(k).startswith(("r2_", "regression_days", "stocks_per_regression", "bias_"))][:16]
        section(ws, last_right + 2, right, "Model quality (in-sample fit, out-of-sample bias)")
        formats = {k: PERCENT for k in keep if str(k).startswith("r2_")}
        formats.update({k: "#,##0" for k in keep if "days" in str(k) or "stocks" in str(k)})
        write_table(ws, quality.loc[keep], start_row=last_right + 3, start_col=right, index=True, by_row=True, formats=formats)
        data_sheet(wb, "Quality", "Model quality: every statistic, and each factor's mean |t|",
                   quality.reset_index(), by_row=True, formats=formats)  # fmt: skip
        factor = _labelled(report["factor_quality"])
        dq = wb[f"{DATA_PREFIX}Quality"]
        write_table(dq, factor, start_row=4, start_col=4, formats={"mean_abs_t": RATIO, "share_abs_t_over_2": PERCENT})
        autosize(dq)
    autosize(ws, maximum=40)
    ws.column_dimensions["C"].width = 66
    ws.column_dimensions["D"].width = 2


def _diagnostic_value(value: object) -> object:
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return value
    return value
