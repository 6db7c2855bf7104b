"""Files we write: user strings never become formulas, permissions follow the umask, JSON keeps types."""

from __future__ import annotations

import json
import os
import re
import stat
import zipfile
from pathlib import Path

import numpy as np
import openpyxl
import pandas as pd
import pytest

import xlfactor as xf
from xlfactor.cells import FORMULA_PREFIXES, safe_text
from xlfactor.cli import main

NASTY = [
    '=HYPERLINK("http://x","y")',
    "+1+2",
    "-3+4",
    "@SUM(A1)",
    "\tTAB=1",
    "\rCR=1",
]
"""Tickers that a spreadsheet would evaluate if written as they are."""
CANONICAL = [t.strip().upper() for t in NASTY]
"""As xlfactor stores them (tickers are matched stripped and upper case)."""


def _universe_book(extra: list[str]) -> pd.DataFrame:
    tickers = list(xf.load_snapshot().tickers[:3])
    return pd.DataFrame({"ticker": tickers + extra, "value": [100.0, 80.0, 60.0] + [1.0] * len(extra)})


def sheet_cells(path: Path) -> dict[str, list[tuple[str, str | None, bool, str]]]:
    """Per sheet XML part: (cell ref, t attribute, has <f>, text) of every cell, read from the raw XML."""
    cells = {}
    with zipfile.ZipFile(path) as archive:
        shared = []
        if "xl/sharedStrings.xml" in archive.namelist():
            shared = re.findall(r"<si>(.*?)</si>", archive.read("xl/sharedStrings.xml").decode(), re.S)
        for name in archive.namelist():
            if not re.fullmatch(r"xl/worksheets/sheet\d+\.xml", name):
                continue
            xml = archive.read(name).decode()
            rows = []
            for ref, attrs, body in re.findall(r'<c r="([A-Z]+\d+)"([^>]*?)(?:/>|>(.*?)</c>)', xml, re.S):
                kind = re.search(r'\bt="(\w+)"', attrs)
                t = kind.group(1) if kind else None
                text = re.sub(r"<[^>]+>", "", body or "")
                if t == "s":
                    text = re.sub(r"<[^>]+>", "", shared[int(text)])
                rows.append((ref, t, "<f>" in (body or "") or "<f " in (body or ""), text))
            cells[name] = rows
    return cells


def _unescape(text: str) -> str:
    return text.replace("&amp;", "&").replace("&quot;", '"').replace("&lt;", "<").replace("&gt;", ">").replace("_x000D_", "\r")


def assert_text_cells(path: Path, strings: list[str], allow_prefix: bool = False) -> int:
    """Every cell holding one of ``strings`` is a string cell with no formula; returns how many were found."""
    found = 0
    for part, rows in sheet_cells(path).items():
        for ref, t, has_formula, text in rows:
            text = _unescape(text)
            for s in strings:
                if text == s or (allow_prefix and text == "'" + s):
                    assert t in ("s", "inlineStr", "str") and t != "str", (part, ref, t, text)
                    assert not has_formula, (part, ref, text)
                    found += 1
                elif s.strip() and s.strip() in text and has_formula:
                    raise AssertionError(f"{part}!{ref} is a formula holding user text {text!r}")
    return found


def test_report_workbook_stores_every_nasty_ticker_as_text(tmp_path):
    from xlfactor.excel.report_workbook import write_report_workbook

    out = tmp_path / "report.xlsx"
    write_report_workbook(out, _universe_book(NASTY))
    assert assert_text_cells(out, CANONICAL) >= 2 * len(NASTY)  # Holdings column A and the missing-holdings table
    wb = openpyxl.load_workbook(out)
    assert wb["Holdings"]["A5"].value == CANONICAL[0]  # the user's text, unchanged
    assert wb["Holdings"]["A5"].quotePrefix
    holdings_part = f"xl/worksheets/sheet{wb.sheetnames.index('Holdings') + 1}.xml"
    assert not any(has_formula for _, _, has_formula, _ in sheet_cells(out)[holdings_part])


def test_track_workbook_and_csvs_store_nasty_tickers_as_text(tmp_path):
    history, workbook = tmp_path / "hist", tmp_path / "track.xlsx"
    from xlfactor.excel.track_workbook import write_track_workbook
    from xlfactor.reporting.track import read_history, record_day

    record_day(_universe_book(NASTY), history)
    write_track_workbook(workbook, read_history(history))
    assert assert_text_cells(workbook, CANONICAL, allow_prefix=True) >= len(NASTY)
    for csv_path in [history / "holdings.csv", history / "track.csv", *sorted((history / "days").glob("*/holdings.csv"))]:
        text = csv_path.read_text()
        for cell in _csv_cells(csv_path):
            assert not (cell.startswith(FORMULA_PREFIXES) and not _is_number(cell)), (csv_path.name, cell)
        assert "'" + CANONICAL[0].replace('"', '""') in text


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _csv_cells(path: Path) -> list[str]:
    import csv

    with open(path, newline="") as handle:
        return [cell for row in csv.reader(handle) for cell in row]


class _OpenpyxlRange:
    """Types values into an openpyxl sheet the way Excel does with what xlwings sends it."""

    def __init__(self, sheet):
        self.sheet = sheet

    @property
    def value(self):
        return [list(r) for r in self.sheet.iter_rows(values_only=True)]

    @value.setter
    def value(self, rows):
        for i, row in enumerate(rows, start=1):
            for j, value in enumerate(row, start=1):
                cell = self.sheet.cell(row=i, column=j)
                if isinstance(value, str) and value.startswith("'"):  # Excel: quote prefix, the rest is text
                    cell.value = value[1:]
                    cell.data_type = "s"
                    cell.quotePrefix = True
                else:
                    cell.value = value  # Excel evaluates "=..." typed in, like openpyxl stores it as a formula


class _Sheet:
    def __init__(self, ws):
        self.ws, self.name = ws, ws.title

    @property
    def used_range(self):
        return _OpenpyxlRange(self.ws)

    def range(self, address):
        assert address == "A1"
        return _OpenpyxlRange(self.ws)

    def clear_contents(self):
        self.ws.delete_rows(1, self.ws.max_row)


class _Sheets(list):
    def __getitem__(self, key):
        return next(s for s in self if s.name == key) if isinstance(key, str) else super().__getitem__(key)


def test_refresh_button_writes_nasty_tickers_into_the_xlsm_as_text(tmp_path):
    from xlfactor.excel import template
    from xlfactor.excel.refresh import refresh_book

    wb = openpyxl.load_workbook(template.TEMPLATE, keep_vba=True)
    holdings = wb["Holdings"]
    book_frame = _universe_book(NASTY)
    for row in holdings.iter_rows(min_row=2, max_col=2):
        for cell in row:
            cell.value = None
    for i, (ticker, value) in enumerate(zip(book_frame["ticker"], book_frame["value"]), start=2):
        holdings.cell(row=i, column=1).value = ticker
        holdings.cell(row=i, column=1).data_type = "s"
        holdings.cell(row=i, column=2).value = value
    path = tmp_path / "xlfactor_track.xlsm"
    book = type("Book", (), {})()
    book.fullname = str(path)
    book.sheets = _Sheets(_Sheet(ws) for ws in wb.worksheets)
    refresh_book(book)
    wb.save(path)
    track_part = {ws.title: f"xl/worksheets/sheet{i}.xml" for i, ws in enumerate(wb.worksheets, start=1)}["Track"]
    cells = sheet_cells(path)[track_part]
    assert not any(has_formula for _, _, has_formula, _ in cells)
    assert any(CANONICAL[0] in _unescape(text) for _, _, _, text in cells)  # the holdings text is there, as text


def test_safe_text_rule():
    assert [safe_text(s)[0] for s in NASTY] == ["'"] * len(NASTY)
    assert safe_text("AAPL") == "AAPL" and safe_text(-1.0) == -1.0 and safe_text("'=x") == "'=x"


# ---------------------------------------------------------------- permissions


@pytest.fixture
def umask_022():
    old = os.umask(0o022)
    yield
    os.umask(old)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_written_files_and_folders_follow_the_umask(tmp_path, umask_022, capsys):
    example = Path(__file__).resolve().parents[1] / "examples" / "portfolio.csv"
    report = tmp_path / "report.xlsx"
    assert main(["report", "--portfolio", str(example), "--out", str(report)]) == 0
    assert _mode(report) == 0o644
    export = tmp_path / "export"
    assert main(["snapshot", "export", "--out", str(export)]) == 0
    assert _mode(export) == 0o755 and _mode(export / "details") == 0o755
    assert all(_mode(p) == 0o644 for p in export.rglob("*") if p.is_file())
    workbook = tmp_path / "track.xlsx"
    assert main(["track", "--portfolio", str(example), "--workbook", str(workbook)]) == 0
    history = tmp_path / "track_history"
    assert _mode(workbook) == 0o644 and _mode(history) == 0o755
    for p in history.rglob("*"):
        assert _mode(p) == (0o755 if p.is_dir() else 0o644), p
    os.umask(0o077)  # a private umask is honoured too
    private = tmp_path / "private.xlsx"
    assert main(["report", "--portfolio", str(example), "--out", str(private)]) == 0
    assert _mode(private) == 0o600


# ---------------------------------------------------------------- typed metadata


def test_json_output_keeps_booleans_and_counts(tmp_path, capsys, model):
    from tests.handmodel import write_openfactor_folder

    folder = write_openfactor_folder(tmp_path / "snap", model)
    blanked = pd.read_csv(folder / "details/exposures_long.csv")
    blanked.loc[(blanked["ticker"] == "AAA") & (blanked["factor"] == "value"), "value"] = None
    blanked.to_csv(folder / "details/exposures_long.csv", index=False)
    path = tmp_path / "p.csv"
    path.write_text("ticker,value\nAAA,1\nDDD,2\nZZZ,1\n")
    assert main(["report", "--portfolio", str(path), "--snapshot", str(folder), "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    facts, summary = printed["snapshot"], printed["summary"]
    assert facts["simulated"] is False and facts["tickers"] == 6 and isinstance(facts["factors"], int)
    assert facts["diagnostics"]["blank_style_exposures"] == {"value": 1}
    assert summary["holdings"] == 3 and summary["missing_holdings"] == 1
    assert isinstance(summary["holdings"], int) and isinstance(summary["total_risk"], float)


def test_summary_sheet_keeps_booleans_and_counts(tmp_path):
    from xlfactor.excel.report_workbook import write_report_workbook

    out = tmp_path / "r.xlsx"
    write_report_workbook(out, _universe_book([]))
    ws = openpyxl.load_workbook(out)["Model"]  # the snapshot's facts: flags read Yes/No, counts stay integers
    facts = {}
    for row in ws.iter_rows():
        for cell in row[:-1]:
            if isinstance(cell.value, str) and cell.value in ("Simulated market", "Stocks in the universe") and cell.value not in facts:
                facts[cell.value] = ws.cell(row=cell.row, column=cell.column + 1).value
    assert facts["Simulated market"] == "Yes" and facts["Stocks in the universe"] == 1000
    assert isinstance(facts["Stocks in the universe"], int)


@pytest.mark.parametrize("quoted", [False, True])
def test_exposure_panel_written_date_by_date_equals_the_whole_text_compressed_at_once(tmp_path, quoted):
    """Streaming the panel (bounded memory) gives the bytes of one gzip.compress of pandas' CSV text of the whole."""
    import dataclasses
    import gzip

    from xlfactor.snapshot.writer import exposures_long_frame, write_exposure_panel

    snapshot = xf.load_snapshot()
    if quoted:  # names that need CSV quoting: a comma, a double quote
        industry = int(np.flatnonzero(snapshot.factor_groups == "industry")[0])
        factor_names = snapshot.factor_names.astype(object).copy()
        factor_names[industry] = 'Hotels, "Resorts" & Leisure'
        tickers = snapshot.tickers.astype(object).copy()
        tickers[0] = 'BRK,"B"'
        snapshot = dataclasses.replace(snapshot, factor_names=factor_names, tickers=tickers)
    panel = snapshot.exposure_panel
    whole = pd.concat([exposures_long_frame(snapshot, panel.values[d], None, day) for d, day in enumerate(panel.dates)], ignore_index=True)
    expected = gzip.compress(whole.to_csv(index=False).encode(), compresslevel=6, mtime=0)
    write_exposure_panel(snapshot, tmp_path / "panel.csv.gz")
    assert (tmp_path / "panel.csv.gz").read_bytes() == expected
    back = pd.read_csv(tmp_path / "panel.csv.gz")
    assert len(back) == len(whole) > 1000 and back["as_of_date"].nunique() == len(panel.dates) > 1
