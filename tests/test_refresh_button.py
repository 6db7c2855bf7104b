"""The track workbook's Refresh button, run headlessly against an in-memory book."""

from __future__ import annotations

import importlib
import sys
import zipfile
from pathlib import Path

import openpyxl
import pytest

import xlfactor as xf
from xlfactor.excel import template
from xlfactor.excel.refresh import refresh_book
from xlfactor.functions import CATALOG
from xlfactor.reporting.track import read_history

ROOT = Path(__file__).resolve().parents[1]


class FakeRange:
    def __init__(self, sheet, address):
        self.sheet, self.address = sheet, address

    @property
    def value(self):
        return self.sheet.cells

    @value.setter
    def value(self, rows):
        assert self.address == "A1"
        self.sheet.cells = [list(r) for r in rows]


class FakeSheet:
    """The part of an xlwings Sheet the refresh uses."""

    def __init__(self, name, cells):
        self.name, self.cells = name, cells

    @property
    def used_range(self):
        return FakeRange(self, "used")

    def range(self, address):
        return FakeRange(self, address)

    def clear_contents(self):
        self.cells = []


class FakeSheets(list):
    def __getitem__(self, key):
        if isinstance(key, str):
            return next(s for s in self if s.name == key)
        return super().__getitem__(key)


class FakeBook:
    def __init__(self, path, sheets):
        self.fullname = str(path)
        self.sheets = FakeSheets(FakeSheet(n, c) for n, c in sheets.items())


def template_book(path, date=None):
    wb = openpyxl.load_workbook(template.TEMPLATE)
    holdings = [list(r[:2]) for r in wb["Holdings"].iter_rows(values_only=True)]
    settings = [list(r[:2]) for r in wb["Settings"].iter_rows(values_only=True)]
    if date:
        settings = [[k, date if k == "date" else v] for k, v in settings]
    return FakeBook(path, {"Holdings": holdings + [[None, None]], "Track": [], "TrackSummary": [], "Settings": settings})


def test_refresh_records_the_day_like_the_cli(tmp_path):
    dates = xf.risk.attributable_dates(xf.load_snapshot())
    book = template_book(tmp_path / "xlfactor_track.xlsm", date=dates[-2])
    day = refresh_book(book)
    assert day.date == dates[-2]
    refresh_book(template_book(tmp_path / "xlfactor_track.xlsm"))
    history = read_history(tmp_path / "xlfactor_track_history")
    assert list(history["track"]["date"]) == dates[-2:]
    track = book.sheets["Track"].cells
    assert track[0][0] == "date" and [r[0] for r in track[1:]] == [dates[-2]]
    # Same numbers as the CLI's record for the same holdings and date.
    from xlfactor.reporting.track import compute_day

    holdings = book.sheets["Holdings"].cells
    import pandas as pd

    frame = pd.DataFrame([r for r in holdings[1:] if r[0]], columns=["ticker", "value"])
    expected = compute_day(frame, date=dates[-2]).tables["track"].iloc[0]
    assert history["track"].iloc[0]["tracking_error"] == pytest.approx(expected["tracking_error"], rel=1e-12)
    assert history["track"].iloc[0]["portfolio_return"] == pytest.approx(expected["portfolio_return"], rel=1e-12)


def test_template_has_the_button_the_macro_and_the_udf_config():
    with zipfile.ZipFile(template.TEMPLATE) as archive:
        names = archive.namelist()
        assert "xl/vbaProject.bin" in names
        assert archive.read("xl/vbaProject.bin") == template.quickstart_vba()
        vml = b"".join(archive.read(n) for n in names if n.endswith(".vml"))
    assert f"[0]!{template.MACRO}".encode() in vml
    wb = openpyxl.load_workbook(template.TEMPLATE, keep_vba=True)
    assert [c.value for c in wb["Holdings"][1][:2]] == ["ticker", "value"]
    assert wb["xlwings.conf"]["A1"].value == "UDF Modules" and wb["xlwings.conf"]["B1"].value == template.UDF_MODULE
    formulas = [c.value for row in wb["Holdings"].iter_rows() for c in row if isinstance(c.value, str) and c.value.startswith("=OF_")]
    assert formulas and all(f.split("(")[0][1:] in CATALOG for f in formulas)
    module = importlib.import_module(template.UDF_MODULE)
    assert set(CATALOG) <= set(dir(module))


def test_button_module_calls_the_shared_refresh(monkeypatch):
    sys.path.insert(0, str(ROOT / "workbook"))
    try:
        module = importlib.import_module("xlfactor_track")
    finally:
        sys.path.remove(str(ROOT / "workbook"))
    calls = []
    monkeypatch.setattr(module, "refresh_book", calls.append)
    monkeypatch.setattr(module.xw.Book, "caller", staticmethod(lambda: "the calling book"), raising=False)
    module.main()
    assert calls == ["the calling book"]


def test_template_is_reproducible(tmp_path):
    pytest.importorskip("xlsxwriter")
    rebuilt = template.build_template(tmp_path / "xlfactor_track.xlsm")
    with zipfile.ZipFile(rebuilt) as new, zipfile.ZipFile(template.TEMPLATE) as shipped:
        assert sorted(new.namelist()) == sorted(shipped.namelist())
        for name in new.namelist():
            if name != "docProps/core.xml":
                assert new.read(name) == shipped.read(name), name
