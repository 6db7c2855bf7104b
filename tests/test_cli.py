"""The command line: report workbook, JSON summary, snapshot info, clear errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
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


# ---------------------------------------------------------------- a command line that talks like a product


def test_version(capsys):
    import tomllib

    version = tomllib.loads((EXAMPLE.parents[1] / "pyproject.toml").read_text())["project"]["version"]
    with pytest.raises(SystemExit) as exit_:
        main(["--version"])
    assert exit_.value.code == 0 and capsys.readouterr().out.strip() == f"xlfactor {version}"


def _model_te(data, weights):
    active = weights - data.benchmark_weights
    covariance = data.exposures @ data.factor_covariance @ data.exposures.T + np.diag(data.idiosyncratic_variance)
    return float(np.sqrt(active @ covariance @ active)), float(np.sqrt(weights @ covariance @ weights))


def test_report_without_out_prints_a_readable_summary(capsys):
    assert main(["report", "--portfolio", str(EXAMPLE)]) == 0
    captured = capsys.readouterr()
    with pytest.raises(json.JSONDecodeError):
        json.loads(captured.out)  # a table, JSON only with --json
    data = xf.factor_model_data()
    book = pd.read_csv(EXAMPLE)
    te, total = _model_te(data, data.align_holdings(book).weights)
    lines = {line[:34].strip(): line[34:].strip() for line in captured.out.splitlines() if line.startswith("  ")}
    assert lines["Tracking error"] == f"{te:.2%}" and lines["Total risk (annualized)"] == f"{total:.2%}"
    assert lines["Gross (dollars)"] == f"${book['value'].abs().sum():,.0f}" and lines["Holdings"] == "40"
    assert captured.out.splitlines()[0] == "Risk report: portfolio"
    assert f"Tracking error is {te:.1%}" in captured.out  # the tear sheet's sentences follow
    assert not any(len(word) > 12 and word.replace(".", "").replace("-", "").isdigit() for word in captured.out.split())


def test_factors_lists_ids_groups_and_volatility(capsys):
    assert main(["factors"]) == 0
    out = capsys.readouterr().out.splitlines()
    data = xf.factor_model_data()
    rows = [line.split() for line in out[2:]]
    assert len(rows) == len(data.factor_names)
    market = next(r for r in rows if r[0] == "market")
    assert market == ["market", "market", f"{np.sqrt(data.factor_covariance[0, 0]):.2%}"]
    energy = next(r for r in rows if r[0] == "sector:Energy")
    k = list(data.factor_names).index("sector:Energy")
    assert energy[1:] == ["sector", f"{np.sqrt(data.factor_covariance[k, k]):.2%}"]
    assert main(["factors", "--json"]) == 0
    assert {r["factor"] for r in json.loads(capsys.readouterr().out)} == set(data.factor_names)


def test_money_and_percent_have_the_sign_first_and_no_negative_zero(tmp_path, capsys):
    from xlfactor.cli import money, percent

    assert (percent(-0.0821477), percent(0.004), percent(-4e-7), percent(0.1261, sign=False)) == ("-8.21%", "+0.40%", "0.00%", "12.61%")
    assert (money(-445_660.2), money(12_000), money(-0.3)) == ("-$445,660", "+$12,000", "$0")
    assert main(["stress", "--portfolio", str(EXAMPLE), "--shock", "market=-0.10"]) == 0
    out = capsys.readouterr().out
    assert "-0.00" not in out and "$-" not in out and "-0.0000%" not in out
    dollars = out.splitlines()[-1]
    assert dollars.startswith("portfolio P&L -$") and ", active +$" in dollars
    assert main(["stress", "--portfolio", str(EXAMPLE)]) == 0
    out = capsys.readouterr().out
    assert "-0.00%" not in out and "-0.0000%" not in out and "%" in out


def test_messages_name_what_they_are_about(tmp_path, capsys):
    assert main(["stress", "--portfolio", str(EXAMPLE), "--shock", "nosuchfactor=-0.1"]) == 2
    err = capsys.readouterr().err
    assert "`xlfactor factors`" in err and "OF_FACTORS" not in err
    snapshot = xf.load_snapshot()
    assert main(["report", "--portfolio", str(EXAMPLE)]) == 0
    note = capsys.readouterr().err
    assert f"the snapshot {snapshot.describe()['source']} (as of {snapshot.as_of})" in note and "SIMULATED" in note
    dates = list(snapshot.factor_returns.index)
    weekend = next(d for d in pd.date_range(dates[-60], dates[-1]).strftime("%Y-%m-%d") if d not in dates)
    before = max(d for d in dates if d < weekend)
    after = min(d for d in dates if d > weekend)
    workbook = tmp_path / "t.xlsx"
    assert main(["track", "--portfolio", str(EXAMPLE), "--workbook", str(workbook), "--as-of", weekend]) == 2
    err = capsys.readouterr().err
    assert f"no attribution for {weekend}: not a trading date" in err and f"{before} (before) and {after} (after)" in err


def test_company_names_for_any_market_up_to_ten_thousand():
    from xlfactor.demo.themes import MAX_COMPANY_NAMES, company_names

    assert MAX_COMPANY_NAMES >= 10_000
    industries = np.array(["Software", "Banks", "Retail"] * 3_334)[:10_000]
    names = company_names(np.random.default_rng(1), industries)
    assert len(set(names)) == 10_000
    small = company_names(np.random.default_rng(1), industries[:1_000])
    assert all(len(name.split()) == 3 for name in small)  # up to 1,200 names: stem, industry, suffix, as before


# ---------------------------------------------------------------- progress on stderr, read as it comes


def _timed_stderr(command: list[str], timeout: float = 600) -> tuple[int, list[tuple[float, str]], str]:
    """Run ``command``; return (exit code, [(seconds since start, stderr chunk)], stdout)."""
    import os
    import time

    start = time.monotonic()
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    chunks = []
    while True:
        chunk = proc.stderr.read1(65536)
        if not chunk:
            break
        chunks.append((time.monotonic() - start, chunk.decode(errors="replace")))
    out = proc.stdout.read().decode()
    return proc.wait(timeout=timeout), chunks, out


def _stages(chunks: list[tuple[float, str]]) -> dict[str, float]:
    """The first time each progress stage (tqdm's description) showed up."""
    first = {}
    for at, text in chunks:
        for part in text.replace("\r", "\n").split("\n"):
            if ":" in part and "|" in part:
                first.setdefault(part.split(":")[0].strip(), at)
    return first


@pytest.mark.slow
def test_progress_shows_at_once_and_advances_with_the_work(tmp_path):
    """Real demo-data and build runs: the first progress line within 2 s, then one stage after the other."""
    market = tmp_path / "market"
    code, chunks, out = _timed_stderr([sys.executable, "-m", "xlfactor.cli", "demo-data", str(market), "--names", "80", "--years", "0.9"])
    assert code == 0 and out == ""  # stdout stays clean for pipes
    assert chunks[0][0] < 2.0, chunks[0]
    stages = _stages(chunks)
    order = ["starting", "simulate draws (days)", "exposure fixed point (iterations, at most 40)", "final exposures", "write files"]
    assert [s for s in stages if s in order] == order
    assert stages["write files"] - stages["starting"] > 0.5  # the bars advance as the work goes, not all at the end

    code, chunks, out = _timed_stderr([sys.executable, "-m", "xlfactor.cli", "build", "--data", str(market), "--out", str(tmp_path / "snap")])
    assert code == 0 and out == ""
    assert chunks[0][0] < 2.0, chunks[0]
    stages = _stages(chunks)
    order = ["starting", "read", "descriptors", "regressions (days)", "quality", "covariance and write (snapshots)", "write"]
    assert [s for s in stages if s in order] == order
    days = len(pd.read_csv(market / "truth" / "factor_returns.csv")) + 0  # return days: every date after the first
    text = "".join(c for _, c in chunks)
    assert f"{days}/{days}" in text  # the regressions count days
    assert stages["write"] - stages["read"] > 0.5

    code, chunks, _ = _timed_stderr([sys.executable, "-m", "xlfactor.cli", "--quiet", "build", "--data", str(market), "--out",
                                     str(tmp_path / "quiet")])  # fmt: skip
    assert code == 0 and "|" not in "".join(c for _, c in chunks)  # --quiet: no bars, the closing line only
