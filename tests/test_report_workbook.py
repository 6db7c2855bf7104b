"""The report workbook: structure, and LibreOffice recalculating its live formulas."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import openpyxl
import pandas as pd
import pytest

import xlfactor as xf
from tests.libreoffice import pdf_pages, print_to_pdf, recalculate
from tests.test_track_attribution import synthetic_track
from xlfactor.excel.report_workbook import HEADLINES, MODEL_SHEETS, write_report_workbook
from xlfactor.reporting.track import realized_statistics

ROOT = Path(__file__).resolve().parents[1]
MAX_PAGES = 12
ERROR_TEXTS = ("###", "#VALUE!", "#NAME?", "#DIV/0!", "#REF!", "#N/A", "#NUM!", "Err:")

REL = 1e-9
PYTHON_KEYS = {
    "TotalRisk": "total_risk", "FactorRisk": "factor_risk", "IdiosyncraticRisk": "idiosyncratic_risk",
    "TrackingError": "tracking_error", "Beta": "beta", "VaR95": "var_95", "VaR99": "var_99",
    "IdiosyncraticShareOfTE": "idiosyncratic_share_of_te",
}  # fmt: skip


@pytest.fixture(scope="module")
def portfolio():
    snapshot = xf.load_snapshot()
    rng = np.random.default_rng(21)
    picks = rng.choice(snapshot.tickers, 40, replace=False).tolist()
    values = rng.uniform(-1e5, 5e5, 40).round(2).tolist()
    return pd.DataFrame({"ticker": picks + ["NOTREAL"], "value": values + [50000.0]})


def defined_values(path):
    wb = openpyxl.load_workbook(path, data_only=True)
    values = {}
    for headline in HEADLINES:
        sheet, cell = wb.defined_names[headline.name].attr_text.split("!")
        values[headline.name] = wb[sheet][cell.replace("$", "")].value
    return wb, values


def assert_no_error_cells(wb):
    for ws in wb.worksheets:
        for row in ws.iter_rows(values_only=True):
            for value in row:
                assert not (isinstance(value, str) and value.startswith(("#", "Err:"))), (ws.title, value)


def test_structure(tmp_path, portfolio):
    path = write_report_workbook(tmp_path / "r.xlsx", portfolio)
    wb = openpyxl.load_workbook(path)
    expected = {"Summary", "ActiveRisk", "Risk", "IdioRisk", "Attribution", "VaR", "Exposures", "Holdings",
                "ModelUniverse", "ModelExposures", "ModelCovariance", "Calc"}  # fmt: skip
    assert expected <= set(wb.sheetnames)
    assert wb.calculation.fullCalcOnLoad
    assert [c.value for c in wb["Holdings"][1][:2]] == ["ticker", "value"]
    assert {h.name for h in HEADLINES} <= set(wb.defined_names)
    assert len(wb["ActiveRisk"]._charts) == 1 and len(wb["Exposures"]._charts) == 1
    assert wb["ActiveRisk"].freeze_panes == "B2"
    assert "SIMULATED" in wb["Summary"]["A2"].value
    assert wb["Summary"]["B5"].number_format == "0.00%"
    missing_block = [c.value for row in wb["Holdings"].iter_rows(min_col=4) for c in row if c.value]
    assert "NOTREAL" in missing_block and "Missing holdings (outside the universe, treated as cash)" in missing_block
    for ws in wb.worksheets:
        for row in ws.iter_rows():
            for cell in row:
                if isinstance(cell.value, str) and cell.value.startswith("="):
                    assert not any(f in cell.value.upper() for f in ("LET(", "XLOOKUP", "FILTER(", "SEQUENCE("))


def test_libreoffice_recalculates_the_headline_formulas(tmp_path, portfolio):
    path = write_report_workbook(tmp_path / "r.xlsx", portfolio)
    wb, values = defined_values(recalculate(path))
    assert_no_error_cells(wb)
    summary = xf.portfolio_report(portfolio)["summary"]["value"]
    for name, value in values.items():
        assert value == pytest.approx(summary[PYTHON_KEYS[name]], rel=REL), name


def test_editing_a_weight_recomputes_without_python(tmp_path, portfolio):
    path = write_report_workbook(tmp_path / "r.xlsx", portfolio)
    wb = openpyxl.load_workbook(path)
    ws = wb["Holdings"]
    ws["B2"] = ws["B2"].value * 3 + 12345.0
    ws.append([portfolio["ticker"][5].lower(), 77777.0])  # lower case: SUMIF matches like Python does
    edited = tmp_path / "edited.xlsx"
    wb.save(edited)
    _, values = defined_values(recalculate(edited))
    changed = portfolio.copy()
    changed.loc[0, "value"] = portfolio["value"][0] * 3 + 12345.0
    changed = pd.concat([changed, pd.DataFrame({"ticker": [portfolio["ticker"][5]], "value": [77777.0]})])
    summary = xf.portfolio_report(changed)["summary"]["value"]
    for name, value in values.items():
        assert value == pytest.approx(summary[PYTHON_KEYS[name]], rel=REL), name


def test_allocation_header_and_user_benchmark(tmp_path, portfolio):
    data = xf.factor_model_data()
    weights = data.align_holdings(portfolio).weights
    held = np.nonzero(weights)[0]
    allocation = pd.DataFrame({"ticker": data.tickers[held], "allocation": weights[held] * 1.5})
    benchmark = pd.DataFrame({"ticker": data.tickers[:25], "value": np.arange(1, 26, dtype=float)})
    path = write_report_workbook(tmp_path / "a.xlsx", allocation, benchmark=benchmark)
    assert openpyxl.load_workbook(path)["Holdings"]["B1"].value == "allocation"
    _, values = defined_values(recalculate(path))
    summary = xf.portfolio_report(allocation, benchmark=benchmark)["summary"]["value"]
    for name, value in values.items():
        assert value == pytest.approx(summary[PYTHON_KEYS[name]], rel=REL), name


def summary_rows(ws) -> dict[str, openpyxl.cell.Cell]:
    """Summary cells of column B keyed by the metric in column A."""
    return {row[0].value: row[1] for row in ws.iter_rows(min_col=1, max_col=2) if isinstance(row[0].value, str)}


def test_print_settings_formats_and_hidden_model_sheets(tmp_path, portfolio):
    wb = openpyxl.load_workbook(write_report_workbook(tmp_path / "r.xlsx", portfolio))
    assert {ws.title for ws in wb.worksheets if ws.sheet_state == "hidden"} == set(MODEL_SHEETS)
    for ws in wb.worksheets:
        if ws.sheet_state == "visible":
            assert ws.page_setup.fitToWidth == 1 and ws.sheet_properties.pageSetUpPr.fitToPage, ws.title
            assert int(ws.page_setup.paperSize) == int(ws.PAPERSIZE_A4) and ws.page_setup.orientation in ("portrait", "landscape")
            assert ws.print_area, ws.title
    assert wb["ActiveRisk"].print_title_rows == "$1:$1"
    rows = summary_rows(wb["Summary"])
    assert rows["total_risk"].number_format == "0.00%" and rows["tracking_error"].number_format == "0.00%"
    assert rows["beta"].number_format == "0.00" and rows["Ex-ante beta"].number_format == "0.00"
    assert rows["holdings"].number_format == "0" and rows["missing_holdings"].number_format == "0"
    diagnostics = {row[0].value for row in wb["Summary"].iter_rows(min_col=8, max_col=8)}
    assert set(xf.load_snapshot().diagnostics) <= diagnostics  # one row per item


def test_demo_report_prints_in_at_most_12_pages(tmp_path):
    portfolio = pd.read_csv(ROOT / "examples" / "portfolio.csv")
    path = write_report_workbook(tmp_path / "report.xlsx", portfolio)
    pages, texts = pdf_pages(print_to_pdf(path))
    assert pages <= MAX_PAGES
    text = "\n".join(texts)
    for error in ERROR_TEXTS:
        assert error not in text, error
    summary = xf.portfolio_report(portfolio)["summary"]["value"]
    first = " ".join(texts[0].split())
    assert "SIMULATED MARKET: the demo snapshot is generated by xlfactor, not real data" in first  # banner whole
    # The live headline (recalculated by LibreOffice) and the risk summary show one format.
    assert first.count(f"{summary['total_risk']:.2%}") == 3 and first.count(f"{summary['beta']:.2f}") == 3
    assert f"holdings {int(summary['holdings'])} " in first and "40.0000" not in first
    # Every visible sheet is printed (its name is in the footer), the model data sheets are not.
    wb = openpyxl.load_workbook(path)
    printed = {line.split()[0] for page in texts for line in page.splitlines()[-3:] if "Page " in line}
    assert printed == {ws.title for ws in wb.worksheets if ws.sheet_state == "visible"}
    assert not printed & set(MODEL_SHEETS)


def test_realized_statistics_on_the_summary(tmp_path, portfolio):
    folder = synthetic_track(tmp_path / "track", 30, seed=2)
    path = write_report_workbook(tmp_path / "r.xlsx", portfolio, track=folder)
    ws = openpyxl.load_workbook(path)["Summary"]
    header = next(row for row in ws.iter_rows() if row[0].value == "statistic")
    assert [c.value for c in header[1:3]] == ["1W", "1M"]
    rows = summary_rows(ws)
    track = pd.read_csv(folder / "track.csv").tail(7)
    p, b = track["portfolio_return"].to_numpy(), track["benchmark_return"].to_numpy()
    assert rows["realized_beta"].value == pytest.approx(np.cov(p, b)[0, 1] / np.var(b, ddof=1), rel=1e-9)
    assert rows["realized_beta"].number_format == "0.00" and rows["hit_rate"].number_format == "0.00%"
    assert rows["days"].value == 7 and rows["days"].number_format == "0"
    assert len(realized_statistics(track)) == 1
