"""The command line: report workbook, JSON summary, snapshot info, clear errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import openpyxl
import pandas as pd
import pytest

import xlfactor as xf
from xlfactor.cli import main

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "portfolio.csv"


def test_report_writes_workbook_and_json(tmp_path, capsys):
    out = tmp_path / "report.xlsx"
    assert main(["report", "--portfolio", str(EXAMPLE), "--out", str(out), "--json"]) == 0
    captured = capsys.readouterr()
    printed = json.loads(captured.out)
    expected = xf.portfolio_report(pd.read_csv(EXAMPLE))["summary"]["value"]
    assert printed["summary"]["tracking_error"] == pytest.approx(expected["tracking_error"], rel=1e-12)
    assert printed["snapshot"]["simulated"] is True and printed["snapshot"]["tickers"] == 1000
    assert printed["summary"]["holdings"] == 40 and isinstance(printed["summary"]["holdings"], int)
    assert "SIMULATED" in captured.err
    wb = openpyxl.load_workbook(out)
    assert wb.sheetnames[0] == "Summary"
    assert "SIMULATED" in str(wb["Summary"]["A3"].value) and wb["Summary"]["A1"].value == "Risk report: portfolio"
    assert {"Exposures", "ActiveRisk", "Names", "Attribution", "Stress", "Hedging", "Model", "Holdings"} <= set(wb.sheetnames)


def test_report_with_folder_snapshot(tmp_path, hand_folder, capsys):
    portfolio = tmp_path / "p.csv"
    pd.DataFrame({"ticker": ["AAA", "ddd", "NOPE"], "value": [1, 2, 1]}).to_csv(portfolio, index=False)
    assert main(["report", "--portfolio", str(portfolio), "--snapshot", str(hand_folder), "--json"]) == 0
    captured = capsys.readouterr()
    assert "1 holdings outside the universe treated as cash: NOPE" in captured.err
    assert json.loads(captured.out)["summary"]["missing_holdings"] == 1


def test_bad_input_gives_message_and_exit_code(tmp_path, capsys):
    portfolio = tmp_path / "p.csv"
    portfolio.write_text("ticker,value\nSIM0001,abc\n")
    assert main(["report", "--portfolio", str(portfolio)]) == 2
    assert "xlfactor: error: portfolio has 1 non-numeric" in capsys.readouterr().err
    assert main(["report", "--portfolio", str(tmp_path / "none.csv")]) == 2
    assert main(["snapshot", "info", "--snapshot", str(tmp_path / "nowhere")]) == 2
    assert "snapshot folder not found" in capsys.readouterr().err


def test_snapshot_info_and_export(tmp_path, capsys):
    assert main(["snapshot", "info"]) == 0
    out = capsys.readouterr().out
    lines = [line.split() for line in out.splitlines()]
    assert ["simulated", "yes"] in lines and ["tickers", "1,000"] in lines and ["Diagnostics"] in lines
    assert main(["snapshot", "export", "--out", str(tmp_path / "demo")]) == 0
    exported = xf.load_snapshot(tmp_path / "demo")
    assert exported.is_simulated and exported.as_of == xf.load_snapshot().as_of


def test_console_script_runs():
    result = subprocess.run(
        [sys.executable, "-m", "xlfactor.cli", "report", "--portfolio", str(EXAMPLE), "--json"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "tracking_error" in result.stdout


def test_core_never_imports_excel_or_llm_libraries():
    code = (
        "import sys, xlfactor, xlfactor.risk, xlfactor.snapshot, xlfactor.reporting.report, xlfactor.demo;"
        "xlfactor.portfolio_report(__import__('pandas').DataFrame({'ticker':['SIM0001'],'value':[1]}));"
        "print(sorted({'openpyxl', 'xlwings', 'openai'} & set(sys.modules)))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
