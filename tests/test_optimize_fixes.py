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
