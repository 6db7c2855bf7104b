"""The optimizer's front ends: OF_CHECKLIMITS, OF_WHATIF, OF_OPTIMIZE, ``xlfactor optimize``, the Rebalance sheet,
``xlfactor batch --limits --optimize``; and the real-data rebalance (long-only 100 names to TE <= 3%).

Expected numbers come from the Python API's independent parts (numpy on the model arrays)
or from re-checking the trades the front end wrote.
"""

from __future__ import annotations

import json

import numpy as np
import openpyxl
import pandas as pd
import pytest

import xlfactor as xf
from xlfactor.cli import main
from xlfactor.functions import OF_CHECKLIMITS, OF_OPTIMIZE, OF_WHATIF

LIMITS = [["limit", "name", "min", "max"], ["weight", "*", 0.0, 0.05], ["turnover", None, None, 0.6],
          ["active_exposure", "style", -0.25, 0.25], ["weight", "SPY", -0.1, 0.0]]  # fmt: skip


@pytest.fixture(scope="module")
def demo():
    return xf.factor_model_data()


@pytest.fixture(scope="module")
def book(demo):
    rng = np.random.default_rng(0)
    picks = rng.choice(len(demo.tickers), 100, replace=False)
    return pd.DataFrame({"ticker": demo.tickers[picks], "value": rng.uniform(1e5, 1e6, 100)})


def rows_of(frame: pd.DataFrame) -> list[list[object]]:
    return [list(frame.columns)] + frame.to_numpy(dtype=object).tolist()


def limits_frame(rows) -> pd.DataFrame:
    return pd.DataFrame(rows[1:], columns=rows[0])


def test_of_checklimits_is_the_python_check(demo, book):
    trades = pd.DataFrame({"ticker": [book["ticker"][0], "SPY"], "value": [-1e5, -2e6]})
    cell = OF_CHECKLIMITS(rows_of(book), LIMITS, rows_of(trades))
    python = xf.check_limits(demo, book, limits_frame(LIMITS), trades)
    assert cell[0] == list(python.columns)
    for got, want in zip(cell[1:], python.itertuples(index=False, name=None)):
        assert got[:3] == list(want[:3])
        assert got[5] == pytest.approx(want[5]) and got[8] == pytest.approx(want[8])
        assert got[10] == want[10]
    # the SPY row prices the ETF hedge: -2m of a 100-name book's gross
    spy = next(r for r in cell[1:] if r[2] == "SPY")
    assert spy[8] == pytest.approx(-2e6 / book["value"].abs().sum())


def test_a_warm_cell_sees_an_edited_limit(book):
    first = OF_CHECKLIMITS(rows_of(book), LIMITS)
    edited = [list(r) for r in LIMITS]
    edited[1][3] = 0.001  # weight * max 0.1%: every holding breaches
    second = OF_CHECKLIMITS(rows_of(book), edited)
    assert first[1][-1] is False and second[1][-1] is True


def test_of_whatif_matches_numpy(demo, book):
    trades = pd.DataFrame({"ticker": [book["ticker"][0], book["ticker"][1]], "value": [2e5, -1e5]})
    table = OF_WHATIF(rows_of(book), rows_of(trades))
    found = {r[0]: r for r in table[1:] if r[1] == "headline"}  # the demo also has a style factor named beta
    factors = {r[0]: r for r in table[1:] if r[1] != "headline"}
    gross = book["value"].abs().sum()
    w1 = pd.Series(book["value"].to_numpy() / gross, index=book["ticker"])
    w1.iloc[0] += 2e5 / gross
    w1.iloc[1] -= 1e5 / gross
    vector = demo.weight_vector(w1)
    assert found["tracking_error"][3] == pytest.approx(demo.tracking_error(vector), abs=1e-12)
    assert found["total_risk"][3] == pytest.approx(demo.risk(vector), abs=1e-12)
    assert found["beta"][3] == pytest.approx(demo.beta(vector), abs=1e-12)
    momentum = factors["momentum"]
    assert momentum[3] == pytest.approx(float(demo.exposures[:, demo.factor_index("momentum")] @ vector), abs=1e-12)


def test_of_optimize_spills_the_trades_then_the_check(demo, book):
    table = OF_OPTIMIZE(rows_of(book), LIMITS)
    assert isinstance(table, list), table
    assert table[0][:5] == ["ticker", "current_weight", "target_weight", "trade_weight", "trade_value"]
    blank = next(i for i, r in enumerate(table) if all(c is None for c in r))
    trades = pd.DataFrame([r[:5] for r in table[1:blank]], columns=table[0][:5])
    assert len(trades) > 10
    status = table[blank + 1]
    assert status[0] == "status" and status[1] == "optimal"
    header = next(i for i, r in enumerate(table) if r[:3] == ["row", "limit", "name"])
    check = [r for r in table[header + 1 :] if isinstance(r[0], int) and r[1] in ("weight", "turnover", "active_exposure")][:4]
    assert [r[-1] for r in check] == [False] * 4  # every limit met after
    # re-check the spilled trades independently of the optimizer
    again = xf.check_limits(demo, book, limits_frame(LIMITS), trades[["ticker", "trade_value"]].rename(columns={"trade_value": "value"}))
    assert not again["breach"].any()


def test_of_optimize_infeasible_is_one_line(book):
    rows = LIMITS[:2] + [["turnover", None, None, 0.01], ["active_exposure", "size", 0.5, None]]
    result = OF_OPTIMIZE(rows_of(book), rows)
    assert isinstance(result, str) and result.startswith("#XLFACTOR: infeasible limits:")
    assert "row 2 (turnover)" in result and "row 3 (active_exposure size)" in result


def test_of_checklimits_refuses_an_unknown_kind_with_the_choices(book):
    result = OF_CHECKLIMITS(rows_of(book), [["limit", "name", "min", "max"], ["trackingerror", None, None, 0.1]])
    assert result.startswith("#XLFACTOR: limits row 1: unknown limit 'trackingerror'; did you mean 'tracking_error'?")


def test_cli_optimize_writes_trades_that_meet_the_limits(demo, book, tmp_path, capsys):
    book.to_csv(tmp_path / "book.csv", index=False)
    limits_frame(LIMITS).to_csv(tmp_path / "limits.csv", index=False)
    out = tmp_path / "trades.csv"
    code = main(["optimize", "--portfolio", str(tmp_path / "book.csv"), "--limits", str(tmp_path / "limits.csv"), "--out", str(out), "--json"])
    assert code == 0
    payload = json.loads(capsys.readouterr().out)
    assert payload["status"] == "optimal" and payload["tracking_error_after"] < payload["tracking_error_before"]
    trades = pd.read_csv(out)
    assert list(trades.columns) == ["ticker", "value"]
    check = xf.check_limits(demo, book, limits_frame(LIMITS), trades)
    assert not check["breach"].any()
    assert check["after"].iloc[1] <= 0.6 + 1e-8  # turnover


def test_cli_optimize_prints_a_table_people_read(demo, book, tmp_path, capsys):
    import re

    book.to_csv(tmp_path / "book.csv", index=False)
    limits_frame(LIMITS).to_csv(tmp_path / "limits.csv", index=False)
    assert main(["optimize", "--portfolio", str(tmp_path / "book.csv"), "--limits", str(tmp_path / "limits.csv")]) == 0
    out = capsys.readouterr().out
    result = xf.optimize(demo, book, limits_frame(LIMITS))
    first = out.splitlines()[0]
    assert first.startswith("Minimum tracking error: optimal; tracking error ")
    assert f"{100 * result.tracking_error_before:.2f}% -> {100 * result.tracking_error_after:.2f}%" in first
    biggest = result.trades.iloc[0]
    sign = "-" if biggest["trade_value"] < 0 else "+"
    assert f"{sign}${abs(round(biggest['trade_value'])):,.0f}" in out  # dollars with the sign first
    assert "Limits before and after" in out and "-0.00%" not in out and "$-" not in out
    assert not re.search(r"\d\.\d{5,}", out.split("Binding limits")[0])  # no raw floats in the tables


def test_cli_optimize_bad_limits_is_one_line(book, tmp_path, capsys):
    book.to_csv(tmp_path / "book.csv", index=False)
    pd.DataFrame({"limit": ["exposure"], "name": ["nosuchfactor"], "min": [0], "max": [1]}).to_csv(tmp_path / "l.csv", index=False)
    assert main(["optimize", "--portfolio", str(tmp_path / "book.csv"), "--limits", str(tmp_path / "l.csv")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("xlfactor: error: limits row 1 (exposure nosuchfactor): unknown factor")


def test_report_rebalance_sheet(book, tmp_path):
    book.to_csv(tmp_path / "book.csv", index=False)
    limits_frame(LIMITS).to_csv(tmp_path / "limits.csv", index=False)
    out = tmp_path / "report.xlsx"
    assert main(["report", "--portfolio", str(tmp_path / "book.csv"), "--limits", str(tmp_path / "limits.csv"), "--out", str(out)]) == 0
    ws = openpyxl.load_workbook(out)["Rebalance"]
    text = [c for row in ws.iter_rows(values_only=True) for c in row if isinstance(c, str)]
    for heading in ("Breaches before", "Trades", "Limits after", "Binding limits (shadow price: annualized TE saved"):
        assert any(t.startswith(heading) for t in text), heading
    assert any(t.startswith("Status optimal; tracking error") for t in text)


def test_report_rebalance_sheet_says_why_when_infeasible(book, tmp_path):
    book.to_csv(tmp_path / "book.csv", index=False)
    rows = LIMITS[:2] + [["turnover", None, None, 0.01], ["active_exposure", "size", 0.5, None]]
    limits_frame(rows).to_csv(tmp_path / "limits.csv", index=False)
    out = tmp_path / "report.xlsx"
    assert main(["report", "--portfolio", str(tmp_path / "book.csv"), "--limits", str(tmp_path / "limits.csv"), "--out", str(out)]) == 0
    ws = openpyxl.load_workbook(out)["Rebalance"]
    assert ws["A4"].value.startswith("No rebalance: infeasible limits: row 2 (turnover) and row 3 (active_exposure size)")
    assert ws["A6"].value == "Breaches before"


def _batch_books(demo) -> pd.DataFrame:
    """'index': the cap-weighted universe itself (inside the limits); 'tilted': three names (cannot reach them)."""
    b = demo.benchmark_weights
    index = pd.DataFrame({"portfolio": "index", "ticker": demo.tickers, "value": b * 1e8})
    small = np.argsort(b)[:3]
    tilted = pd.DataFrame({"portfolio": "tilted", "ticker": demo.tickers[small], "value": [1e6, 1e6, 1e6]})
    ghost = pd.DataFrame({"portfolio": "ghost", "ticker": ["NOPE"], "value": [1.0]})
    return pd.concat([index, tilted, ghost], ignore_index=True)


@pytest.mark.parametrize("scheduler", [None, pytest.param("local", marks=pytest.mark.slow)])
def test_batch_limits_optimize(demo, tmp_path, capsys, scheduler):
    _batch_books(demo).to_csv(tmp_path / "books.csv", index=False)
    rows = [["limit", "name", "min", "max"], ["weight", "*", 0.0, 0.2], ["turnover", None, None, 0.02],
            ["active_exposure", "size", -0.05, 0.05]]  # fmt: skip
    limits_frame(rows).to_csv(tmp_path / "limits.csv", index=False)
    args = ["batch", "--holdings", str(tmp_path / "books.csv"), "--out", str(tmp_path / "out"), "--limits", str(tmp_path / "limits.csv"), "--optimize"]
    if scheduler:
        args += ["--scheduler", scheduler, "--workers", "1"]
    assert main(args) == 0
    summary = pd.read_csv(tmp_path / "out" / "summary.csv", index_col="portfolio")
    failed = pd.read_csv(tmp_path / "out" / "failed.csv").set_index("portfolio")["error"]
    assert summary.loc["index", "breaches_before"] == 0 and summary.loc["index", "breaches_after"] == 0
    assert summary.loc["index", "tracking_error_after"] <= summary.loc["index", "tracking_error"] + 1e-12
    assert failed["tilted"].startswith("optimize: infeasible limits:") and "row 2 (turnover)" in failed["tilted"]
    assert failed["ghost"].startswith("no holding in the model universe")
    trades = pd.read_csv(tmp_path / "out" / "trades" / "index.csv")
    assert list(trades.columns) == ["ticker", "value"]
    assert not (tmp_path / "out" / "trades" / "tilted.csv").exists()


@pytest.mark.slow
def test_real_data_long_only_book_to_te_three_percent(real_reference_snapshot, capsys):
    """The issue's case on real data: 100 names long-only -> TE <= 3%, turnover <= 20%, style bands +-0.25."""
    data = xf.factor_model_data(real_reference_snapshot)
    b = data.benchmark_weights
    sectors = data.member_names("sector")
    # the 100 largest names outside Information Technology and Financials, cap-weighted: a sector bet
    picks = np.array([i for i in np.argsort(-b) if sectors[i] not in ("Information Technology", "Financials")][:100])
    book = pd.DataFrame({"ticker": data.tickers[picks], "value": b[picks] / b[picks].sum() * 1e8})
    rows = [["limit", "name", "min", "max"], ["weight", "*", 0.0, 0.05], ["tracking_error", None, None, 0.03],
            ["turnover", None, None, 0.20], ["active_exposure", "style", -0.25, 0.25]]  # fmt: skip
    limits = limits_frame(rows)
    result = xf.optimize(data, book, limits)
    with capsys.disabled():
        print(f"\nreal data ({real_reference_snapshot.as_of}): TE {result.tracking_error_before:.2%} -> {result.tracking_error_after:.2%}, "
              f"{len(result.trades)} trades, turnover {result.check.set_index('limit').loc['turnover', 'after']:.2%}, "
              f"{result.solve_seconds:.2f} s")  # fmt: skip
    w, w0, b = result.target, result.start, data.benchmark_weights
    n = len(data.tickers)
    V_active = w[:n] - b
    te = np.sqrt(data.exposures.T @ V_active @ data.factor_covariance @ (data.exposures.T @ V_active) + V_active @ (data.idiosyncratic_variance * V_active))
    assert te <= 0.03 + 1e-8
    assert np.abs(w - w0).sum() / 2 <= 0.20 + 1e-8
    styles = data.factor_groups == "style"
    assert np.abs((data.exposures.T @ V_active)[styles]).max() <= 0.25 + 1e-8
    assert w.min() >= -1e-8 and abs(w.sum() - w0.sum()) <= 1e-8
    assert result.tracking_error_before > 0.03  # the book started outside its TE limit
    assert result.check.set_index("limit").loc["tracking_error", "breach_before"]
    assert not result.check["breach"].any()
