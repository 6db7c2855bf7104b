"""Regression tests for the optimizer, CLI and Rebalance-sheet fixes (issues 23 and 24 review)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

import xlfactor as xf
from xlfactor.cli import main


@pytest.fixture(scope="module")
def demo():
    return xf.factor_model_data()


@pytest.fixture(scope="module")
def book(demo):
    rng = np.random.default_rng(0)
    picks = rng.choice(len(demo.tickers), 60, replace=False)
    return pd.DataFrame({"ticker": demo.tickers[picks], "value": rng.uniform(1e5, 1e6, 60)})


def _refuse(constant: str):
    raise ValueError(f"bare {constant} in JSON output")


def test_cli_optimize_json_is_strict(book, tmp_path, capsys):
    book.to_csv(tmp_path / "book.csv", index=False)
    # blank min cells: NaN in the check table, which must print as null
    pd.DataFrame({"limit": ["turnover", "weight"], "name": ["", "*"], "min": [None, None], "max": [0.3, 0.05]}).to_csv(
        tmp_path / "limits.csv", index=False)  # fmt: skip
    assert main(["optimize", "--portfolio", str(tmp_path / "book.csv"), "--limits", str(tmp_path / "limits.csv"), "--json"]) == 0
    payload = json.loads(capsys.readouterr().out, parse_constant=_refuse)
    assert payload["check"][0]["min"] is None and payload["check"][0]["max"] == pytest.approx(0.3)


def test_cli_tables_keep_tickers_as_text(tmp_path):
    from xlfactor.cli import _read_table

    (tmp_path / "alpha.csv").write_text("ticker,alpha\n0700,0.05\nNA,\nTRUE,-0.01\n")
    alpha = _read_table(str(tmp_path / "alpha.csv"), "alpha")
    assert alpha["ticker"].tolist() == ["0700", "NA", "TRUE"]
    assert alpha["alpha"].iloc[0] == 0.05 and np.isnan(alpha["alpha"].iloc[1]) and alpha["alpha"].iloc[2] == -0.01
    (tmp_path / "limits.csv").write_text("limit,name,min,max\nweight,0700,0,0.05\nweight,NA,,0.02\n")
    limits = _read_table(str(tmp_path / "limits.csv"), "limits")
    assert limits["name"].tolist() == ["0700", "NA"]
    assert limits["min"].iloc[0] == 0.0 and np.isnan(limits["min"].iloc[1]) and limits["max"].tolist() == [0.05, 0.02]
    (tmp_path / "candidates.csv").write_text("ticker\n0700\nNA\n\n")
    assert _read_table(str(tmp_path / "candidates.csv"), "candidates")["ticker"].tolist() == ["0700", "NA"]


def test_cli_table_bad_number_is_one_line(book, tmp_path, capsys):
    book.to_csv(tmp_path / "book.csv", index=False)
    (tmp_path / "limits.csv").write_text("limit,name,min,max\nturnover,,,0.3\nweight,*,0,five percent\n")
    assert main(["optimize", "--portfolio", str(tmp_path / "book.csv"), "--limits", str(tmp_path / "limits.csv")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].endswith("row 2, column max: 'five percent' is not a number")
    assert not any("Traceback" in line for line in err)


def test_cli_trades_csv_is_escaped(demo, book, tmp_path, monkeypatch):
    import xlfactor.optimizer as optimizer_package

    real = optimizer_package.optimize

    def with_formula_ticker(*args, **kwargs):
        result = real(*args, **kwargs)
        result.trades.loc[0, "ticker"] = "=HYPERLINK(1)"  # as a hostile name would arrive
        return result

    monkeypatch.setattr(optimizer_package, "optimize", with_formula_ticker)
    book.to_csv(tmp_path / "book.csv", index=False)
    pd.DataFrame({"limit": ["turnover"], "name": [""], "min": [None], "max": [0.3]}).to_csv(tmp_path / "limits.csv", index=False)
    out = tmp_path / "trades.csv"
    assert main(["optimize", "--portfolio", str(tmp_path / "book.csv"), "--limits", str(tmp_path / "limits.csv"), "--out", str(out)]) == 0
    text = out.read_text()
    assert "'=HYPERLINK(1)" in text and "\n=HYPERLINK" not in text


def test_quiet_passes_no_download_progress(monkeypatch):
    import argparse

    import xlfactor.snapshot as snapshot_package
    from xlfactor import cli

    seen = []
    monkeypatch.setattr(snapshot_package, "load_snapshot", lambda *a, progress=None, **k: seen.append(progress))
    cli._load(argparse.Namespace(snapshot=None, as_of="latest", quiet=True))
    cli._load(argparse.Namespace(snapshot=None, as_of="latest", quiet=False))
    assert seen[0] is None and callable(seen[1])


def test_a_stage_bar_is_drawn_once_at_its_end(capsys):
    import time

    from xlfactor.cli import _Bar

    bar = _Bar()
    bar("starting", 0, 1)
    time.sleep(0.6)  # past tqdm's mininterval, so a naive update would draw
    bar("next stage", 0, 2)  # demo-data: the next stage ends "starting"
    bar("next stage", 1, 2)
    bar("next stage", 2, 2)
    err = capsys.readouterr().err
    assert err.count("starting: 100%") == 1 and err.count("next stage: 100%") == 1
    bar = _Bar()
    bar("starting", 0, 1)
    bar.finish()  # batch: "starting" ends before the books bar
    err = capsys.readouterr().err
    assert err.count("0/1") == 1 and err.count("starting: 100%") == 1


def test_turnover_of_an_outright_sale_is_the_sold_side(demo):
    tickers = demo.tickers[:10]
    book = pd.DataFrame({"ticker": tickers, "value": 1000.0})
    sell_half = pd.DataFrame({"ticker": tickers[:5], "value": -1000.0})  # 5,000 of a 10,000 book sold, nothing bought
    limits = pd.DataFrame({"limit": ["turnover"], "name": [""], "min": [None], "max": [0.3]})
    check = xf.check_limits(demo, book, limits, sell_half)
    assert check["after"].iloc[0] == pytest.approx(0.5, abs=1e-12)  # max(buys 0, sells 0.5), not (0 + 0.5) / 2
    assert bool(check["breach"].iloc[0])
    swap = pd.DataFrame({"ticker": [tickers[0], demo.tickers[20]], "value": [-1000.0, 1000.0]})  # self-financing: 10%
    assert xf.check_limits(demo, book, limits, swap)["after"].iloc[0] == pytest.approx(0.1, abs=1e-12)


def test_optimizer_turnover_counts_the_larger_side_when_money_leaves(demo):
    # a net row that forces money out: the book must sell 40% net; a turnover of 0.45 allows at most 5% of buys
    tickers = demo.tickers[:30]
    book = pd.DataFrame({"ticker": tickers, "value": 1000.0})
    limits = pd.DataFrame({"limit": ["net", "turnover", "weight"], "name": ["", "", "*"],
                           "min": [None, None, 0.0], "max": [0.6, 0.45, 0.2]})  # fmt: skip
    result = xf.optimize(demo, book, limits)
    trade = result.target - result.start
    buys, sells = trade[trade > 0].sum(), -trade[trade < 0].sum()
    assert result.target.sum() <= 0.6 + 1e-8
    assert max(buys, sells) <= 0.45 + 1e-7
    assert sells >= 0.4 - 1e-7 and buys <= 0.05 + 1e-7


def _limits(rows) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["limit", "name", "min", "max"])


@pytest.fixture(scope="module")
def book100(demo):
    rng = np.random.default_rng(0)
    picks = rng.choice(len(demo.tickers), 100, replace=False)
    return pd.DataFrame({"ticker": demo.tickers[picks], "value": rng.uniform(1e5, 1e6, 100)})


def _finite_difference(demo, book, rows, i, side, h=1e-3):
    """TE saved per unit of loosening one side of row ``i`` by ``h`` (two optimizer runs; a one-sided difference)."""
    moved = [list(r) for r in rows]
    column = 2 if side == "min" else 3
    moved[i][column] = moved[i][column] - h if side == "min" else moved[i][column] + h
    before = xf.optimize(demo, book, _limits(rows)).tracking_error_after
    return (before - xf.optimize(demo, book, _limits(moved)).tracking_error_after) / h


def test_a_turnover_limit_the_solver_stops_just_inside_is_binding(demo, book100):
    rows = [["weight", "*", 0.0, 0.05], ["turnover", None, None, 0.6], ["active_exposure", "style", -0.25, 0.25],
            ["weight", "SPY", -0.1, 0.0]]  # fmt: skip
    result = xf.optimize(demo, book100, _limits(rows))
    fd = _finite_difference(demo, book100, rows, 1, "max")
    assert fd > 0.005  # loosening the turnover is worth real TE: it binds
    binding = result.binding.set_index("limit")
    assert "turnover" in binding.index
    assert binding.loc["turnover", "shadow_price"] == pytest.approx(fd, rel=0.05)


def test_the_binding_test_takes_clarabel_stopping_just_inside_a_bound():
    import cvxpy as cp

    from xlfactor.optimizer import solver

    x = cp.Variable()
    x.value = 0.59999987  # where Clarabel left the reviewer's turnover (a limit worth 0.0197 TE per unit)
    row = solver._Row(1, None, "max", x <= 0.6, 0.6)
    assert solver._slack(row)[0] == pytest.approx(1.3e-7, rel=1e-3)
    assert solver._slack(row)[0] <= solver.BINDING_TOLERANCE * max(1.0, 0.6)


def test_group_row_shadow_price_is_the_row_sensitivity(demo, book100):
    # many names at 0 (degenerate, the turnover at its kink) and several at the 2% cap
    rows = [["weight", "*", 0.0, 0.02], ["turnover", None, None, 0.6]]
    result = xf.optimize(demo, book100, _limits(rows))
    binding = result.binding.set_index(["limit", "side"])
    for side in ("min", "max"):
        assert binding.loc[("weight", side), "binding_elements"] >= 2
        fd = _finite_difference(demo, book100, rows, 0, side)
        assert binding.loc[("weight", side), "shadow_price"] == pytest.approx(fd, rel=0.05, abs=2e-3), side


def test_factor_share_linearized_infeasible_but_truly_feasible(demo):
    """The reviewer's case: SLSQP finds books with factor share 0.7; the optimizer must not call the limits infeasible."""
    from scipy.optimize import minimize

    t = demo.tickers
    book = pd.DataFrame({"ticker": t[:30], "value": 1000.0})
    rows = [["weight", "*", -0.1, 0.1], ["factor_share", None, None, 0.7]]
    X, F, d = demo.exposures, demo.factor_covariance, demo.idiosyncratic_variance
    N = len(t)

    def share(w):
        x = X.T @ w
        return (x @ F @ x) / (x @ F @ x + w @ (d * w))

    def full(z):
        w = np.zeros(N)
        w[:60] = z
        return w

    # independent: SLSQP finds a book of the 60 candidates that meets both rows
    z0 = np.r_[np.full(30, 1 / 30), np.zeros(30)]
    found = minimize(lambda z: np.sum((z - z0) ** 2), z0, method="SLSQP", bounds=[(-0.1, 0.1)] * 60,
                     constraints=[{"type": "ineq", "fun": lambda z: 0.7 - share(full(z))},
                                  {"type": "eq", "fun": lambda z: z.sum() - 1}], options={"ftol": 1e-14, "maxiter": 500})  # fmt: skip
    assert found.success and share(full(found.x)) <= 0.7 + 1e-9 and share(full(z0)) > 0.7
    for objective in ("tracking_error", "trades"):
        result = xf.optimize(demo, book, _limits(rows), objective=objective, candidates=list(t[:60]))
        w = result.target[:N]
        assert share(w) <= 0.7 + 1e-7 and np.abs(w).max() <= 0.1 + 1e-8 and abs(w.sum() - 1) <= 1e-8
        assert not xf.check_limits(demo, book, _limits(rows), result.trade_list())["breach"].any()
        if objective == "trades":  # the nearest book: no further than SLSQP's
            assert np.linalg.norm(w[:60] - z0) <= np.linalg.norm(found.x - z0) * (1 + 1e-3)


def test_factor_share_truly_infeasible_still_names_the_rows(demo):
    book = pd.DataFrame({"ticker": demo.tickers[:30], "value": 1000.0})
    rows = [["weight", "*", 0.0, 0.05], ["factor_share", None, None, 0.01]]  # long-only: the market alone is > 1%
    with pytest.raises(xf.optimizer.InfeasibleLimitsError) as info:
        xf.optimize(demo, book, _limits(rows))
    assert "row 2 (factor_share)" in str(info.value)


def test_iteration_limit_is_not_called_infeasible(demo, monkeypatch):
    from xlfactor.optimizer import SolverLimitError, solver

    monkeypatch.setitem(solver.SOLVER_OPTIONS, "max_iter", 3)  # Clarabel stops early: cvxpy status user_limit
    book = pd.DataFrame({"ticker": demo.tickers[:20], "value": 1000.0})
    rows = [["tracking_error", None, None, 0.10], ["turnover", None, None, 0.5]]
    with pytest.raises(SolverLimitError, match="iteration limit"):
        xf.optimize(demo, book, _limits(rows))
    monkeypatch.setitem(solver.SOLVER_OPTIONS, "max_iter", 400)
    assert xf.optimize(demo, book, _limits(rows)).status == "optimal"  # the same limits are feasible


def test_duplicate_tickers_in_alpha_or_cost_are_refused(demo):
    t = demo.tickers
    book = pd.DataFrame({"ticker": t[:10], "value": 1000.0})
    rows = _limits([["weight", "*", 0.0, 0.2], ["gross", None, None, 1.0]])
    alpha = pd.DataFrame({"ticker": [t[0], t[1], t[0]], "alpha": [0.05, 0.02, 0.05]})
    with pytest.raises(xf.XlfactorError, match=f"alpha: ticker\\(s\\) given more than once: {t[0]}"):
        xf.optimize(demo, book, rows, objective="alpha", alpha=alpha, candidates=list(t[:10]))
    cost = pd.DataFrame({"ticker": list(t[:10]) + [t[3]], "cost": 0.001})
    with pytest.raises(xf.XlfactorError, match=f"transaction_cost: ticker\\(s\\) given more than once: {t[3]}"):
        xf.optimize(demo, book, rows, objective="alpha", alpha=alpha.iloc[:2], candidates=list(t[:10]), transaction_cost=cost)


def test_a_partial_cost_table_is_refused_naming_the_missing_names(demo):
    t = demo.tickers
    book = pd.DataFrame({"ticker": t[:10], "value": 1000.0})
    rows = _limits([["weight", "*", 0.0, 0.2], ["gross", None, None, 1.0]])
    alpha = pd.DataFrame({"ticker": t[:10], "alpha": np.linspace(0.0, 0.09, 10)})
    partial = pd.DataFrame({"ticker": t[:8], "cost": 0.002})
    with pytest.raises(xf.XlfactorError, match=f"no cost for 2 name\\(s\\) that may trade \\({t[8]}, {t[9]}\\)"):
        xf.optimize(demo, book, rows, objective="alpha", alpha=alpha, candidates=list(t[:10]), transaction_cost=partial)
    # a full table is the same as the one number
    full = pd.DataFrame({"ticker": t[:10], "cost": 0.002})
    a = xf.optimize(demo, book, rows, objective="alpha", alpha=alpha, candidates=list(t[:10]), transaction_cost=full)
    b = xf.optimize(demo, book, rows, objective="alpha", alpha=alpha, candidates=list(t[:10]), transaction_cost=0.002)
    assert a.objective_value == pytest.approx(b.objective_value, abs=1e-8)


def test_of_optimize_takes_alpha_and_candidates_ranges_with_or_without_header(demo):
    from xlfactor.functions import OF_OPTIMIZE

    t = [str(x) for x in demo.tickers[:12]]
    holdings = [["ticker", "value"]] + [[x, 1000.0] for x in t[:8]]
    limit_rows = [["limit", "name", "min", "max"], ["weight", "*", 0.0, 0.2], ["gross", None, None, 1.0]]
    alphas = [0.01 * i for i in range(12)]
    expected = xf.optimize(demo, pd.DataFrame(holdings[1:], columns=holdings[0]), _limits(limit_rows[1:]), objective="alpha",
                           alpha=pd.DataFrame({"ticker": t, "alpha": alphas}), candidates=t)  # fmt: skip
    want = {r.ticker: r.trade_weight for r in expected.trades.itertuples()}
    for alpha in ([["ticker", "alpha"]] + [[x, a] for x, a in zip(t, alphas)], [[x, a] for x, a in zip(t, alphas)]):
        for candidates in ([["ticker"]] + [[x] for x in t], [[x] for x in t], [t]):
            table = OF_OPTIMIZE(holdings, limit_rows, "alpha", alpha, candidates)
            assert isinstance(table, list), table
            got = {r[0]: r[3] for r in table[1:] if r[0] in want}
            assert got.keys() == want.keys()
            for name, w in want.items():
                assert got[name] == pytest.approx(w, abs=1e-7)
    bad = OF_OPTIMIZE(holdings, limit_rows, "alpha", [["ticker", "alpha"], [t[0], "high"]])
    assert bad.startswith("#XLFACTOR: alpha row 1: needs a ticker and a number")


def test_rebalance_sheet_formats_each_row_by_its_kind(demo, book100):
    import openpyxl

    from xlfactor.excel.rebalance_sheet import write_rebalance_sheet

    rows = [["tracking_error", None, None, 0.06], ["active_exposure", "style", -0.25, 0.25], ["names", None, None, 150],
            ["turnover", None, None, 0.6], ["beta", None, 0.9, 1.1], ["weight", "*", 0.0, 0.05]]  # fmt: skip
    wb = openpyxl.Workbook()
    ws = wb.active
    write_rebalance_sheet(ws, demo, book100, _limits(rows))
    header = next(r for r in range(1, ws.max_row + 1) if ws.cell(r, 1).value == "Limits after") + 1
    titles = [ws.cell(header, c).value for c in range(1, 9)]
    columns = {name: titles.index(label) + 1 for name, label in (("min", "Min"), ("max", "Max"), ("after", "After"))}
    want = {"tracking_error": "0.00%", "turnover": "0.00%", "weight": "0.00%", "active_exposure": "0.00", "beta": "0.00",
            "names": "#,##0"}  # fmt: skip
    seen = set()
    for r in range(header + 1, header + 1 + len(rows)):
        kind = ws.cell(r, 2).value
        for name, c in columns.items():
            if isinstance(ws.cell(r, c).value, (int, float)):
                assert ws.cell(r, c).number_format == want[kind], (kind, name)
        seen.add(kind)
    assert seen == set(want)
