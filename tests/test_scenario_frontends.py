"""OF_STRESS, OF_SCENARIO, OF_HISTVAR, OF_HISTES, ``xlfactor stress`` and the Stress sheet against the Python API."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from openpyxl import load_workbook

import xlfactor as xf
from xlfactor.functions import OF_HISTES, OF_HISTVAR, OF_SCENARIO, OF_STRESS
from xlfactor.risk.scenarios import stress_table

HOLDINGS = [["ticker", "value"], ["SIM0001", 3e6], ["SIM0002", 1e6], ["SIM0500", -1e6], ["SIM0900", 2e6]]


def _weights(data):
    frame = pd.DataFrame(HOLDINGS[1:], columns=HOLDINGS[0])
    return data.align_holdings(frame).weights, float(frame["value"].abs().sum())


def test_of_stress_matches_the_python_api():
    data = xf.factor_model_data()
    w, gross = _weights(data)
    shocks = [["factor", "shock"], ["market", -0.10], ["Momentum", "-0.05"]]
    result = OF_STRESS(HOLDINGS, shocks)
    expected = xf.stress(data, w, {"market": -0.10, "momentum": -0.05})
    assert result[0] == ["component", "portfolio", "benchmark", "active"]
    rows = {row[0]: row[1:] for row in result[1:]}
    assert rows["total"] == pytest.approx([expected.portfolio_pnl, expected.benchmark_pnl, expected.active_pnl], abs=1e-14)
    assert rows["total ($)"][0] == pytest.approx(expected.portfolio_pnl * gross, rel=1e-12)
    assert rows["style"][0] == pytest.approx(expected.summary.loc["style", "portfolio"], abs=1e-14)
    alone = OF_STRESS(HOLDINGS, [["momentum", -0.05]], False)
    x = data.exposures.T @ w
    assert alone[5][1] == pytest.approx(-0.05 * x[list(data.factor_names).index("momentum")], abs=1e-14)


def test_of_stress_bad_input_gets_one_line_messages():
    assert OF_STRESS(HOLDINGS, [["momentm", -0.05]]) == "#XLFACTOR: unknown factor 'momentm' in the shocks (OF_FACTORS() lists the factor ids)"
    message = OF_STRESS(HOLDINGS, [["market", -10]])
    assert message.startswith("#XLFACTOR: shock for 'market' is -10, larger than 100%") and "-0.10 for -10%" in message
    assert OF_STRESS(HOLDINGS, [["market", None]]).startswith("#XLFACTOR: shocks row 1 needs both")
    assert OF_STRESS(HOLDINGS, [["market", "-0.1"], ["value", "lots"]]).startswith("#XLFACTOR: shock for 'value' must be a number")


def test_of_scenario_table_named_and_dated_replays():
    data = xf.factor_model_data()
    w, _ = _weights(data)
    spilled = OF_SCENARIO(HOLDINGS)
    expected = xf.scenario_table(data, w)
    assert spilled[0][:2] == ["scenario", "start"] and len(spilled) == len(expected) + 1
    assert [row[0] for row in spilled[1:3]] == list(data.snapshot.scenarios["name"])
    assert spilled[1][4] == pytest.approx(expected["portfolio"].iloc[0], abs=1e-14)
    name = spilled[1][0]
    named = OF_SCENARIO(HOLDINGS, name)
    replay = xf.scenario(data, w, name)
    rows = {row[0]: row[1:] for row in named[1:]}
    assert rows["total"][0] == pytest.approx(replay.portfolio_pnl, abs=1e-14)
    assert rows["total (compounded)"][0] == pytest.approx(replay.compounded["portfolio"], abs=1e-14)
    dates = data.snapshot.factor_returns.index
    dated = OF_SCENARIO(HOLDINGS, dates[-3], dates[-1])
    direct = xf.replay(data, w, dates[-3], dates[-1])
    assert {r[0]: r[1] for r in dated[1:]}["total"] == pytest.approx(direct.portfolio_pnl, abs=1e-14)
    serial = (pd.Timestamp(dates[-1]) - pd.Timestamp("1899-12-30")).days  # an Excel date cell
    assert {r[0]: r[1] for r in OF_SCENARIO(HOLDINGS, float(serial))[1:]}["total"] == pytest.approx(
        xf.replay(data, w, dates[-1]).portfolio_pnl, abs=1e-14
    )
    assert OF_SCENARIO(HOLDINGS, "Lehman").startswith("#XLFACTOR: unknown scenario 'Lehman'; the library has: Simulated")
    outside = OF_SCENARIO(HOLDINGS, "1999-01-04")
    assert outside == f"#XLFACTOR: replay start 1999-01-04 is outside the stored factor-return history ({dates[0]} to {dates[-1]})"


def test_of_histvar_and_histes_match_the_python_api():
    data = xf.factor_model_data()
    w, _ = _weights(data)
    h = xf.historical_var(data, w, 0.99, 10)
    assert OF_HISTVAR(HOLDINGS, 0.99, 10) == pytest.approx(h.var, rel=1e-12)
    assert OF_HISTES(HOLDINGS, 0.99, 10) == pytest.approx(h.expected_shortfall, rel=1e-12)
    assert OF_HISTES(HOLDINGS, 0.99, 10) >= OF_HISTVAR(HOLDINGS, 0.99, 10)
    assert OF_HISTVAR(HOLDINGS, 95).startswith("#XLFACTOR: `confidence` must be a number strictly between 0 and 1")


def test_cli_stress(tmp_path, capsys):
    from xlfactor.cli import main

    portfolio = tmp_path / "book.csv"
    pd.DataFrame(HOLDINGS[1:], columns=HOLDINGS[0]).to_csv(portfolio, index=False)
    assert main(["stress", "--portfolio", str(portfolio), "--shock", "market=-0.1", "--shock", "value=0.02", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    data = xf.factor_model_data()
    w, gross = _weights(data)
    expected = xf.stress(data, w, {"market": -0.1, "value": 0.02})
    assert out["summary"]["total"]["portfolio"] == pytest.approx(expected.portfolio_pnl, abs=1e-14)
    assert out["dollars"]["portfolio"] == pytest.approx(expected.portfolio_pnl * gross, rel=1e-12)
    assert main(["stress", "--portfolio", str(portfolio)]) == 0
    text = capsys.readouterr().out
    assert "market -10%" in text and "Simulated crash (demo)" in text and "worst day 1" in text
    assert main(["stress", "--portfolio", str(portfolio), "--shock", "market=-10"]) == 2
    assert "larger than 100%" in capsys.readouterr().err
    assert main(["stress", "--portfolio", str(portfolio), "--shock", "market"]) == 2
    assert "FACTOR=SHOCK" in capsys.readouterr().err


def test_stress_sheet_in_the_report_workbook(tmp_path):
    from xlfactor.excel.report_workbook import write_report_workbook

    portfolio = pd.DataFrame(HOLDINGS[1:], columns=HOLDINGS[0])
    path = write_report_workbook(tmp_path / "report.xlsx", portfolio)
    ws = load_workbook(path)["Stress"]
    cells = {}
    for row in ws.iter_rows():
        for c in row:
            if isinstance(c.value, str):
                cells.setdefault(c.value, c)  # the first (leftmost) cell with that text
    data = xf.factor_model_data()
    w, _ = _weights(data)
    expected = stress_table(data, w)
    header = cells["scenario"]
    names, values = [], []
    for r in range(header.row + 1, header.row + 1 + len(expected)):
        names.append(ws.cell(row=r, column=header.column).value)
        values.append(ws.cell(row=r, column=header.column + 4).value)
    assert names == list(expected["scenario"])
    np.testing.assert_allclose(values, expected["portfolio"].to_numpy(), atol=1e-14)
    kinds = set(expected["kind"])
    assert kinds == {"standard", "library", "worst day"}
    sectors = [f for f, g in zip(data.factor_names, data.factor_groups) if g == "sector"]
    styles = [f for f, g in zip(data.factor_names, data.factor_groups) if g == "style"]
    assert (expected["kind"] == "standard").sum() == 2 + len(sectors) + 2 * len(styles)
    assert (expected["kind"] == "worst day").sum() == 5
    assert "historical_var" in cells and "ratio" in cells
    charts = ws._charts
    assert len(charts) == 1
    worst = cells["The 10 worst scenarios"]
    listed = [ws.cell(row=worst.row + 1 + i, column=worst.column).value for i in range(1, 11)]
    assert listed == list(expected.sort_values("portfolio", kind="stable")["scenario"].iloc[:10])
