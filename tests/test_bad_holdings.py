"""Holdings inputs that used to give a wrong answer: each is refused, warned about, or read right."""

from __future__ import annotations

import json
import os

import numpy as np
import openpyxl
import pandas as pd
import pytest

import xlfactor as xf
from xlfactor.cli import main
from xlfactor.functions import OF_TOTALRISK
from xlfactor.risk.holdings import holdings_from_pairs
from xlfactor.risk.holdings_file import read_holdings_csv


@pytest.fixture
def demo_tickers():
    return list(xf.load_snapshot().tickers[:4])


def _report_json(capsys, *args):
    code = main(["report", *args, "--json"])
    captured = capsys.readouterr()
    return code, captured


# ---------------------------------------------------------------- outside the universe


def test_every_holding_outside_the_universe_is_an_error(tmp_path, capsys):
    path = tmp_path / "p.csv"
    path.write_text("ticker,value\nAAPL,100\nMSFT,50\n")
    code, captured = _report_json(capsys, "--portfolio", str(path))
    assert code == 2 and captured.out == ""
    message = captured.err.strip()
    assert len(message.splitlines()) == 1
    assert "none of the 2 portfolio holdings is in the universe" in message
    assert xf.load_snapshot().metadata.get("universe", "xlfactor-demo") in message
    assert "AAPL, MSFT" in message
    with pytest.raises(xf.PortfolioError, match="none of the 2 portfolio holdings"):
        xf.portfolio_report(pd.DataFrame({"ticker": ["AAPL", "MSFT"], "value": [1.0, 1.0]}))
    # Also with ignore_unknown=TRUE in a cell: not a silent 0.
    assert OF_TOTALRISK([["AAPL", 1], ["MSFT", 1]], ignore_unknown=True).startswith("#XLFACTOR: none of the 2")


def test_most_of_the_gross_outside_the_universe_is_said_in_the_summary_sheet(tmp_path, demo_tickers):
    portfolio = pd.DataFrame({"ticker": [demo_tickers[0], "AAPL", "MSFT"], "value": [10.0, 60.0, 30.0]})
    out = tmp_path / "r.xlsx"
    from xlfactor.excel.report_workbook import write_report_workbook

    write_report_workbook(out, portfolio)
    texts = [str(c) for row in openpyxl.load_workbook(out)["Summary"].iter_rows(values_only=True) for c in row if c]
    warning = [t for t in texts if "outside the universe" in t]
    assert warning and "90.0% of the gross exposure" in warning[0] and "AAPL" in warning[0]


def test_track_records_holdings_outside_the_universe(tmp_path, capsys, demo_tickers):
    path = tmp_path / "p.csv"
    pd.DataFrame({"ticker": demo_tickers[:2] + ["AAPL"], "value": [50.0, 30.0, 20.0]}).to_csv(path, index=False)
    workbook = tmp_path / "t.xlsx"
    assert main(["track", "--portfolio", str(path), "--workbook", str(workbook)]) == 0
    err = capsys.readouterr().err
    assert "1 holdings outside the universe treated as cash: AAPL" in err
    history = tmp_path / "t_history"
    holdings = pd.read_csv(history / "holdings.csv")
    row = holdings[holdings["ticker"] == "AAPL"]
    assert len(row) == 1 and row["weight"].iloc[0] == pytest.approx(0.2)
    assert row["note"].iloc[0] == "outside the universe, treated as cash"
    assert holdings["weight"].sum() == pytest.approx(1.0)
    track = pd.read_csv(history / "track.csv")
    assert track["outside_universe"].iloc[0] == "AAPL:0.200000"
    assert track["missing_weight"].iloc[0] == pytest.approx(0.2)
    day = next((history / "days").iterdir())
    assert "AAPL" in set(pd.read_csv(day / "holdings.csv")["ticker"])


# ---------------------------------------------------------------- portfolio files


def test_truncated_portfolio_csv_is_refused_naming_the_line(tmp_path, demo_tickers):
    path = tmp_path / "p.csv"
    path.write_text(f"ticker,value\n{demo_tickers[0]},100\n{demo_tickers[1]}")  # cut mid-line
    with pytest.raises(xf.PortfolioError, match=r"p.csv: line 3 is incomplete"):
        read_holdings_csv(path)
    path.write_text(f'ticker,value\n{demo_tickers[0]},100\n"{demo_tickers[1]}')  # cut inside quotes
    with pytest.raises(xf.PortfolioError, match=r"p.csv: .*line 3"):
        read_holdings_csv(path)


def test_file_without_final_newline_loads_with_a_warning_naming_the_line(tmp_path, capsys, demo_tickers):
    path = tmp_path / "p.csv"
    path.write_text(f"ticker,value\n{demo_tickers[0]},100\n{demo_tickers[1]},12")
    read = read_holdings_csv(path)
    assert list(read.frame["value"].astype(float)) == [100.0, 12.0]
    assert any("line 3" in note and "no line end" in note for note in read.notes)
    assert main(["report", "--portfolio", str(path), "--json"]) == 0
    assert "line 3" in capsys.readouterr().err


def test_overflowing_values_are_refused():
    with pytest.raises(xf.PortfolioError, match="overflow"):
        holdings_from_pairs(["A", "B"], [1e308, 1e308])
    with pytest.raises(xf.PortfolioError, match="overflow"):
        holdings_from_pairs(["A", "A"], [1e308, 1e308])  # duplicates summed
    with pytest.raises(xf.PortfolioError, match="overflow"):
        holdings_from_pairs(["A", "B"], [1e200, 1e200], kind="allocation")
    assert OF_TOTALRISK([["SIM0001", 1e308], ["SIM0002", 1e308]]).startswith("#XLFACTOR: holdings values overflow")


def test_blank_rows_are_skipped_and_counted(tmp_path, capsys, demo_tickers):
    a, b = demo_tickers[:2]
    path = tmp_path / "p.csv"
    path.write_text(f"ticker,value\n{a},100\n,\n\n{b},50\n , \n")
    read = read_holdings_csv(path)
    assert read.blank_rows == 3 and list(read.frame["ticker"]) == [a, b]
    assert main(["report", "--portfolio", str(path), "--json"]) == 0
    captured = capsys.readouterr()
    assert "skipped 3 blank rows" in captured.err
    clean = xf.portfolio_report(pd.DataFrame({"ticker": [a, b], "value": [100.0, 50.0]}))
    assert json.loads(captured.out)["summary"]["total_risk"] == pytest.approx(clean["summary"]["value"]["total_risk"])
    # The worksheet path counts them too.
    from xlfactor.functions.ranges import parse_holdings_range

    assert parse_holdings_range([["ticker", "value"], [a, 100], [None, None], [b, 50]]).skipped_blank_rows == 1
    # and a DataFrame with an all-blank row (as pandas reads ",,") is the same portfolio
    frame = pd.DataFrame({"ticker": [a, None, b], "value": [100.0, np.nan, 50.0]})
    assert xf.portfolio_report(frame)["summary"]["value"]["total_risk"] == pytest.approx(
        clean["summary"]["value"]["total_risk"], rel=1e-12
    )


def test_semicolon_separated_file_is_detected(tmp_path, demo_tickers):
    a, b = demo_tickers[:2]
    path = tmp_path / "p.csv"
    path.write_text(f"ticker;value\n{a};1.234,5\n{b};-250,25\n")  # a European Excel export
    read = read_holdings_csv(path)
    assert list(read.frame["value"].astype(float)) == [1234.5, -250.25]
    assert any("semicolon" in note for note in read.notes)
    path.write_text(f"ticker;value\n{a};1234.5\n{b};-250.25\n")  # decimal points
    assert list(read_holdings_csv(path).frame["value"].astype(float)) == [1234.5, -250.25]
    with pytest.raises(xf.PortfolioError, match="is the file semicolon-separated"):
        xf.portfolio_report(pd.DataFrame({"ticker;value": [f"{a};1"]}))


def test_malformed_as_of_says_so(capsys, tmp_path):
    example = os.path.join(os.path.dirname(__file__), "..", "examples", "portfolio.csv")
    assert main(["report", "--portfolio", example, "--as-of", "garbage"]) == 2
    err = capsys.readouterr().err
    assert "malformed" in err and "garbage" in err and "YYYY-MM-DD" in err
    assert "snapshot is as of" not in err
    with pytest.raises(xf.XlfactorError, match="malformed"):
        xf.load_snapshot(as_of="2026-13-45")
    assert main(["track", "--portfolio", example, "--workbook", str(tmp_path / "t.xlsx"), "--as-of", "garbage"]) == 2
    assert "malformed" in capsys.readouterr().err


def test_out_errors_name_the_users_path(tmp_path, capsys, monkeypatch):
    example = os.path.join(os.path.dirname(__file__), "..", "examples", "portfolio.csv")
    locked = tmp_path / "locked"
    locked.mkdir()
    target = locked / "report.xlsx"
    if hasattr(os, "geteuid") and os.geteuid() == 0:  # root ignores folder permissions: the OS refusal, simulated
        real_open = os.open

        def refuse(path, *args, **kwargs):
            if str(path).endswith(".tmp"):
                raise PermissionError(13, "Permission denied", str(path))
            return real_open(path, *args, **kwargs)

        monkeypatch.setattr(os, "open", refuse)
    else:
        locked.chmod(0o555)
    try:
        assert main(["report", "--portfolio", example, "--out", str(target)]) == 2
        err = capsys.readouterr().err
        assert str(target) in err and ".tmp" not in err and "permission denied" in err.lower()
    finally:
        locked.chmod(0o755)
        monkeypatch.undo()
    folder = tmp_path / "afolder"
    folder.mkdir()
    assert main(["report", "--portfolio", example, "--out", str(folder)]) == 2
    err = capsys.readouterr().err
    assert str(folder) in err and "is a folder" in err and ".tmp" not in err


def test_snapshot_export_never_replaces_a_folder_that_is_not_a_snapshot(tmp_path, capsys):
    precious = tmp_path / "docs"
    precious.mkdir()
    (precious / "thesis.txt").write_text("years of work")
    assert main(["snapshot", "export", "--out", str(precious)]) == 2
    assert "not a snapshot" in capsys.readouterr().err
    assert (precious / "thesis.txt").read_text() == "years of work"
