"""The report workbook: structure, and LibreOffice recalculating its live formulas."""

from __future__ import annotations

import numpy as np
import openpyxl
import pandas as pd
import pytest

import xlfactor as xf
from tests.libreoffice import recalculate
from xlfactor.excel.report_workbook import HEADLINES, write_report_workbook

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
    weights = data.weights(portfolio).weights
    held = np.nonzero(weights)[0]
    allocation = pd.DataFrame({"ticker": data.tickers[held], "allocation": weights[held] * 1.5})
    benchmark = pd.DataFrame({"ticker": data.tickers[:25], "value": np.arange(1, 26, dtype=float)})
    path = write_report_workbook(tmp_path / "a.xlsx", allocation, benchmark=benchmark)
    assert openpyxl.load_workbook(path)["Holdings"]["B1"].value == "allocation"
    _, values = defined_values(recalculate(path))
    summary = xf.portfolio_report(allocation, benchmark=benchmark)["summary"]["value"]
    for name, value in values.items():
        assert value == pytest.approx(summary[PYTHON_KEYS[name]], rel=REL), name
