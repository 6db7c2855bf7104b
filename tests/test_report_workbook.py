"""The report workbook: structure, readability, LibreOffice recalculating its live formulas, and the printed PDF."""

from __future__ import annotations

import re
import shutil
import statistics
import subprocess
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import openpyxl
import pandas as pd
import pytest

import xlfactor as xf
from tests.libreoffice import pdf_pages, print_to_pdf, recalculate
from tests.test_track_attribution import synthetic_track
from xlfactor.excel.report_workbook import BOOK_SIZE, HEADLINES, MODEL_SHEETS, write_report_workbook
from xlfactor.excel.sheets import HEADER_FILL, NOT_PRINTED
from xlfactor.reporting.track import realized_statistics

ROOT = Path(__file__).resolve().parents[1]
MAX_PAGES = 12
MIN_WORD_POINTS = 6.0
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


@pytest.fixture(scope="module")
def demo_workbook(tmp_path_factory):
    """The demo report (examples/portfolio.csv) with a 70-day track, written once for the module."""
    root = tmp_path_factory.mktemp("demo-report")
    track = synthetic_track(root / "track", 70, seed=3)
    portfolio = pd.read_csv(ROOT / "examples" / "portfolio.csv")
    path = write_report_workbook(root / "portfolio.xlsx", portfolio, track=track,
                                 written_at=datetime(2026, 12, 6, 9, 30, tzinfo=timezone.utc))  # fmt: skip
    return path, portfolio


@pytest.fixture(scope="session")
def demo_pdf(tmp_path_factory):
    """The demo report with a track printed by LibreOffice once per session: (pdf, workbook)."""
    root = tmp_path_factory.mktemp("demo-pdf")
    track = synthetic_track(root / "track", 70, seed=3)
    portfolio = pd.read_csv(ROOT / "examples" / "portfolio.csv")
    path = write_report_workbook(root / "portfolio.xlsx", portfolio, track=track)
    return print_to_pdf(path), path


def defined_values(path, names=HEADLINES):
    wb = openpyxl.load_workbook(path, data_only=True)
    values = {}
    for headline in names:
        sheet, cell = wb.defined_names[headline.name].attr_text.split("!")
        values[headline.name] = wb[sheet][cell.replace("$", "")].value
    return wb, values


def assert_no_error_cells(wb):
    for ws in wb.worksheets:
        for row in ws.iter_rows(values_only=True):
            for value in row:
                assert not (isinstance(value, str) and value.startswith(("#", "Err:"))), (ws.title, value)


def visible(wb):
    return [ws for ws in wb.worksheets if ws.sheet_state == "visible"]


def printed(wb):
    return [ws for ws in visible(wb) if NOT_PRINTED.replace("$", "") not in str(ws.print_area).replace("$", "")]


def test_structure(tmp_path, portfolio):
    path = write_report_workbook(tmp_path / "r.xlsx", portfolio)
    wb = openpyxl.load_workbook(path)
    expected = ["Summary", "Exposures", "ActiveRisk", "Names", "Attribution", "Stress", "Hedging", "Model", "Holdings"]
    assert [ws.title for ws in printed(wb)] == expected
    assert {"DataFactors", "DataNames", "DataStress", "DataAttribution", "DataIndustries"} <= set(wb.sheetnames)
    assert set(MODEL_SHEETS) <= set(wb.sheetnames)
    assert wb.calculation.fullCalcOnLoad
    assert [c.value for c in wb["Holdings"][1][:2]] == ["ticker", "value"]
    assert {h.name for h in (*HEADLINES, *BOOK_SIZE)} <= set(wb.defined_names)
    summary = wb["Summary"]
    assert summary["A1"].value == "Risk report: r"  # the book's name: the file's, unless given
    assert "SIMULATED" in summary["A3"].value
    assert any("outside the universe" in str(c.value) and "NOTREAL" in str(c.value) for c in summary["A"])
    missing_block = [c.value for row in wb["Holdings"].iter_rows(min_col=4) for c in row if c.value]
    assert "NOTREAL" in missing_block
    for ws in wb.worksheets:
        for row in ws.iter_rows():
            for cell in row:
                if isinstance(cell.value, str) and cell.value.startswith("="):
                    assert not any(f in cell.value.upper() for f in ("LET(", "XLOOKUP", "FILTER(", "SEQUENCE("))


def test_name_and_report_time_on_the_tear_sheet(tmp_path, portfolio):
    when = datetime(2026, 12, 6, 9, 30, tzinfo=timezone.utc)
    path = write_report_workbook(tmp_path / "r.xlsx", portfolio, name="Growth book", written_at=when)
    ws = openpyxl.load_workbook(path)["Summary"]
    assert ws["A1"].value == "Risk report: Growth book"
    facts = xf.load_snapshot().describe()
    assert f"as of {facts['as_of_date']}" in ws["A2"].value and "report written 2026-12-06 09:30 UTC" in ws["A2"].value


def test_every_sheet_is_readable(demo_workbook):
    """Titles, human headers, a number format on every number, Yes/No for flags, landscape pages, charts."""
    path, _ = demo_workbook
    wb = openpyxl.load_workbook(path)
    for ws in visible(wb):
        title = [c for c in ws[1] if isinstance(c.value, str) and c.font.b and (c.font.sz or 11) >= 14]
        assert title, f"{ws.title} has no title row"
        headers = [c.value for row in ws.iter_rows() for c in row if c.fill.fgColor.rgb == HEADER_FILL.fgColor.rgb and c.value]
        assert headers or ws.title == "Summary", ws.title
        if ws.title != "Holdings":  # its header row is the input format (ticker, value)
            for header in headers:
                assert isinstance(header, str) and "_" not in header and not header[0].islower(), (ws.title, header)
        for row in ws.iter_rows():
            for cell in row:
                assert not isinstance(cell.value, bool), (ws.title, cell.coordinate)
                number = isinstance(cell.value, (int, float)) or (isinstance(cell.value, str) and cell.value.startswith("="))
                if number:
                    assert cell.number_format != "General", (ws.title, cell.coordinate, cell.value)
    for ws in printed(wb):
        assert ws.page_setup.orientation == "landscape", ws.title
        assert int(ws.page_setup.paperSize) == int(ws.PAPERSIZE_A4) and ws.page_setup.fitToWidth == 1, ws.title
    charts = {ws.title: len(ws._charts) for ws in wb.worksheets}
    assert charts["Summary"] >= 2 and sum(charts.values()) >= 8, charts
    assert charts["Track"] == 1 and charts["Exposures"] == 2 and charts["Hedging"] == 1 and charts["Names"] == 1
    assert {ws.title for ws in wb.worksheets if ws.sheet_state == "hidden"} == set(MODEL_SHEETS)


def test_money_percent_and_flags_have_one_format_each(demo_workbook):
    path, portfolio = demo_workbook
    wb = openpyxl.load_workbook(path)
    summary = wb["Summary"]
    cards = {c.value: summary.cell(row=c.row, column=2) for c in summary["A"] if isinstance(c.value, str)}
    assert cards["Gross ($)"].number_format == "$#,##0;-$#,##0;$0"  # the sign before the symbol: -$1,077,000
    assert cards["Tracking error (annualized)"].number_format == "0.00%" and cards["Ex-ante beta"].number_format == "0.00"
    active = wb["ActiveRisk"]
    header = {c.value: c.column for row in active.iter_rows(max_row=8) for c in row if isinstance(c.value, str)}
    first = next(r for r in range(1, 10) if active.cell(row=r, column=1).value == "Factor") + 1
    assert active.cell(row=first, column=header["Active exposure"]).number_format == "0.00"
    assert active.cell(row=first, column=header["Share of TE²"]).number_format == "0.00%"
    assert active.cell(row=first, column=header["Diversifier"]).value in ("Yes", "No")
    factors = {c.value for c in active["A"]}
    assert "Information Technology" in factors or "Information Technology" in {c.value for c in wb["DataFactors"]["A"]}
    assert not any(isinstance(v, str) and v.startswith("sector:") for v in factors)


def test_the_chart_data_is_the_report(demo_workbook):
    """The tear sheet's chart tables hold the report's numbers (risk by group, the largest TE contributors)."""
    path, portfolio = demo_workbook
    ws = openpyxl.load_workbook(path)["Summary"]
    report = xf.portfolio_report(portfolio)
    rows = {c.value: c.row for c in ws["A"] if isinstance(c.value, str)}
    decomposition = report["risk_decomposition"]
    for key, label in (("market", "Market"), ("style", "Style"), ("idiosyncratic", "Idiosyncratic")):
        assert ws.cell(row=rows[label], column=2).value == pytest.approx(decomposition.loc[key, "share"], rel=1e-12)
        assert ws.cell(row=rows[label], column=3).value == pytest.approx(decomposition.loc[key, "active_share"], rel=1e-12)
    active = report["active_risk"]
    active = active[active["group"] != "idiosyncratic"]
    largest = active.loc[active["te_share"].idxmax()]
    first = next(c.row for c in ws["E"] if c.value == "Factor") + 1
    assert ws.cell(row=first, column=11).value == pytest.approx(largest["te_share"], rel=1e-12)


def test_libreoffice_recalculates_the_headline_formulas(tmp_path, portfolio):
    path = write_report_workbook(tmp_path / "r.xlsx", portfolio)
    wb, values = defined_values(recalculate(path), (*HEADLINES, *BOOK_SIZE))
    assert_no_error_cells(wb)
    summary = xf.portfolio_report(portfolio)["summary"]["value"]
    for name, key in PYTHON_KEYS.items():
        assert values[name] == pytest.approx(summary[key], rel=REL), name
    amounts = portfolio["value"].to_numpy()  # the book as given: every row, cash-like ones too
    assert values["GrossExposure"] == pytest.approx(np.abs(amounts).sum(), rel=1e-12)
    assert values["NetExposure"] == pytest.approx(amounts.sum(), rel=1e-12)
    assert values["LongExposure"] == pytest.approx(amounts[amounts > 0].sum(), rel=1e-12)
    assert values["ShortExposure"] == pytest.approx(amounts[amounts < 0].sum(), rel=1e-12)


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
    wb = openpyxl.load_workbook(path)
    assert wb["Holdings"]["B1"].value == "allocation"
    cards = {c.value: wb["Summary"].cell(row=c.row, column=2) for c in wb["Summary"]["A"] if isinstance(c.value, str)}
    assert cards["Gross (of capital)"].number_format == "0.00%"  # weights, not dollars
    _, values = defined_values(recalculate(path))
    summary = xf.portfolio_report(allocation, benchmark=benchmark)["summary"]["value"]
    for name, value in values.items():
        assert value == pytest.approx(summary[PYTHON_KEYS[name]], rel=REL), name


def test_realized_statistics_and_history_on_the_track_sheet(tmp_path, portfolio):
    folder = synthetic_track(tmp_path / "track", 30, seed=2)
    path = write_report_workbook(tmp_path / "r.xlsx", portfolio, track=folder)
    wb = openpyxl.load_workbook(path)
    ws = wb["Track"]
    header = next(row for row in ws.iter_rows() if row[0].value == "Statistic")
    assert [c.value for c in header[1:3]] == ["1W", "1M"]
    rows = {row[0].value: row[1] for row in ws.iter_rows(min_col=1, max_col=2) if isinstance(row[0].value, str)}
    track = pd.read_csv(folder / "track.csv")
    last = track.tail(7)
    p, b = last["portfolio_return"].to_numpy(), last["benchmark_return"].to_numpy()
    assert rows["Realized beta"].value == pytest.approx(np.cov(p, b)[0, 1] / np.var(b, ddof=1), rel=1e-9)
    assert rows["Realized beta"].number_format == "0.00" and rows["Hit rate"].number_format == "0.00%"
    assert rows["Days"].value == 7 and rows["Days"].number_format == "#,##0"
    assert len(realized_statistics(last)) == 1
    data = wb["DataTrack"]
    cumulative = [r[1] for r in data.iter_rows(min_row=5, values_only=True)]
    growth = np.cumprod(1 + track["portfolio_return"]) - np.cumprod(1 + track["benchmark_return"])
    np.testing.assert_allclose(cumulative, growth, rtol=1e-12)


def test_extra_sheets_are_added_before_the_holdings_and_printed_alike(tmp_path, portfolio):
    def rebalance(wb, data, book, benchmark):
        assert book is portfolio and benchmark is None and len(data.tickers) > 0
        ws = wb.create_sheet("Rebalance")
        ws["A1"] = "Rebalance"
        ws["A3"] = 1.5

    wb = openpyxl.load_workbook(write_report_workbook(tmp_path / "r.xlsx", portfolio, extra_sheets=[rebalance]))
    names = [ws.title for ws in printed(wb)]
    assert names.index("Model") < names.index("Rebalance") < names.index("Holdings")
    assert wb["Rebalance"].page_setup.orientation == "landscape" and wb["Rebalance"].print_area


# ---------------------------------------------------------------- the printed report (LibreOffice)


def _word_heights(pdf: Path) -> list[list[float]]:
    """Heights (pt) of every word on each page, from ``pdftotext -bbox``."""
    if not shutil.which("pdftotext"):
        pdf_pages(pdf)  # skips (or fails under CI) with the reason
    html = subprocess.run(["pdftotext", "-bbox", str(pdf), "-"], check=True, capture_output=True, text=True, timeout=60).stdout
    pages = []
    for page in html.split("<page ")[1:]:
        words = re.findall(r'<word xMin="([\d.]+)" yMin="([\d.]+)" xMax="([\d.]+)" yMax="([\d.]+)"', page)
        pages.append([float(y1) - float(y0) for _, y0, _, y1 in words])
    return pages


@pytest.mark.slow
def test_demo_report_prints_in_at_most_12_readable_pages(demo_pdf):
    pdf, path = demo_pdf
    pages, texts = pdf_pages(pdf)
    assert pages <= MAX_PAGES
    text = "\n".join(texts)
    for error in ERROR_TEXTS:
        assert error not in text, error
    assert not re.search(r"\d\.\d{7,}", text), re.search(r".{20}\d\.\d{7,}.{10}", text)
    assert not re.search(r"\d[eE]-0\d", text), re.search(r".{20}\d[eE]-0\d.{10}", text)  # no scientific notation
    heights = _word_heights(pdf)
    assert len(heights) == pages
    for number, page in enumerate(heights, start=1):
        assert page and statistics.median(page) >= MIN_WORD_POINTS, (number, statistics.median(page) if page else None)
        assert min(page) >= MIN_WORD_POINTS, (number, min(page))  # not one word under 6 pt, chart labels included
    # every printed sheet is in the PDF (its name in the footer), data and model sheets are not
    wb = openpyxl.load_workbook(path)
    footers = {line.split()[0] for page in texts for line in page.splitlines()[-3:] if "Page " in line}
    assert footers == {ws.title for ws in printed(wb)}
    assert not footers & {*MODEL_SHEETS, "DataFactors", "DataStress"}


@pytest.mark.slow
def test_tear_sheet_page_reads_alone(demo_pdf):
    pdf, path = demo_pdf
    _, texts = pdf_pages(pdf)
    first = " ".join(texts[0].split())
    portfolio = pd.read_csv(ROOT / "examples" / "portfolio.csv")
    report = xf.portfolio_report(portfolio)
    summary = report["summary"]["value"]
    assert "Risk report: portfolio" in first
    assert "SIMULATED MARKET: the demo snapshot is generated by xlfactor, not real data" in first  # banner whole
    # the live headline, recalculated by LibreOffice, shows the report's number once, in its format
    assert first.count(f"{summary['total_risk']:.2%}") >= 1 and f"{summary['beta']:.2f}" in first
    gross = portfolio["value"].abs().sum()
    short = portfolio["value"][portfolio["value"] < 0].sum()
    assert f"${gross:,.0f}" in first and f"-${-short:,.0f}" in first
    assert f"Tracking error is {summary['tracking_error']:.1%}" in first
    assert "What drives the risk" in first and "Top 8 factor contributions to TE" in first
