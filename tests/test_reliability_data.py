"""Issue 21/20 data cases: nothing lost, no wrong number, no traceback (one test per case).

Each test names the case it holds; tests/reliability/data.csv lists them.
"""

from __future__ import annotations

import errno
import os
import re
import sys
import threading
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from xlfactor.errors import XlfactorError


# ---------------------------------------------------------------- plumbing (issue 20)


def test_temp_files_take_their_mode_from_the_kernel_while_another_thread_reads_the_umask(tmp_path):
    from xlfactor._files import atomic_write, default_file_mode, make_temp_folder

    old, interval = os.umask(0o077), sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # hand the GIL over often, so a toggled umask would be seen
    try:
        stop = threading.Event()
        seen: list[int] = []

        def reader():
            while not stop.is_set():
                seen.append(default_file_mode())

        def writer(k: int):
            for i in range(40):
                atomic_write(tmp_path / f"f{k}-{i}.txt", lambda h: h.write(b"x"))
                atomic_write(tmp_path / "new" / f"{k}-{i}" / "a.txt", lambda h: h.write(b"x"))  # creates its folder
                make_temp_folder(tmp_path / "dirs", f"d{k}-{i}-")
                with open(tmp_path / f"plain{k}-{i}.txt", "w") as handle:  # any other library's open() in the process
                    handle.write("x")

        watcher = threading.Thread(target=reader)
        watcher.start()
        threads = [threading.Thread(target=writer, args=(k,)) for k in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        stop.set()
        watcher.join()
    finally:
        os.umask(old)
        sys.setswitchinterval(interval)
    files = [*tmp_path.glob("f*.txt"), *tmp_path.glob("plain*.txt"), *tmp_path.glob("new/*/a.txt")]
    folders = [*(tmp_path / "dirs").iterdir(), *(tmp_path / "new").iterdir()]
    assert len(files) == 3 * 320 and len(folders) == 2 * 320
    assert {oct(f.stat().st_mode & 0o777) for f in files} == {oct(0o600)}  # 0o666 minus umask 077
    assert {oct(d.stat().st_mode & 0o777) for d in folders} == {oct(0o700)}
    assert seen and set(seen) == {0o600}


# ---------------------------------------------------------------- track lock (issue 21 deliver 3)


def test_a_track_lock_held_by_a_killed_process_is_taken_over_at_once(tmp_path, monkeypatch):
    import signal
    import subprocess
    import time

    from xlfactor.reporting import track as track_module

    history = tmp_path / "history"
    holder = (
        "import sys, time, pathlib\n"
        "import xlfactor.reporting.track as t\n"
        "lock = getattr(t, 'history_lock', None) or t._locked\n"
        "with lock(pathlib.Path(sys.argv[1])):\n"
        "    print('held', flush=True)\n"
        "    time.sleep(120)\n"
    )
    process = subprocess.Popen([sys.executable, "-c", holder, str(history)], stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout.readline().strip() == "held"
    finally:
        os.kill(process.pid, signal.SIGKILL)  # kill -9: no cleanup runs
        process.wait(timeout=30)
    assert (history / ".lock").exists()
    monkeypatch.setattr(track_module, "LOCK_TIMEOUT_SECONDS", 3.0)  # a live holder would make this fail, a dead one must not
    started = time.monotonic()
    day = track_module.record_day(pd.DataFrame({"ticker": ["SIM0001", "SIM0002"], "value": [1.0, 2.0]}), history)
    assert time.monotonic() - started < 3.0
    assert (history / "days" / day.date / "track.csv").is_file()


# ---------------------------------------------------------------- no wrong number passes (issue 21 deliver 5)

BOOK = [["ticker", "value"], ["SIM0001", 100.0], ["SIM0002", 300.0], ["SIM0003", -50.0]]


def test_a_quoted_decimal_comma_in_a_comma_csv_is_a_decimal_not_a_thousands_separator(tmp_path):
    from xlfactor.risk import holdings_from_frame, read_holdings_csv

    path = tmp_path / "book.csv"
    path.write_text('ticker,value\nSIM0001,"1,5"\nSIM0002,3\nSIM0003,"1,000"\n')
    held = holdings_from_frame(read_holdings_csv(path).frame)
    np.testing.assert_allclose(held.amounts, [1.5, 3.0, 1000.0])  # "1,5" is 1.5 (not 15); "1,000" is a thousand
    path.write_text('ticker,value\nSIM0001,"1,5,0"\nSIM0002,3\n')
    with pytest.raises(XlfactorError, match="non-numeric"):
        holdings_from_frame(read_holdings_csv(path).frame)


def test_the_shock_text_minus_0_comma_1_is_minus_10_percent():
    from xlfactor.functions import OF_STRESS

    typed = OF_STRESS(BOOK, [["market", "-0,1"]], False)
    number = OF_STRESS(BOOK, [["market", -0.1]], False)
    assert isinstance(typed, list) and typed == number


def test_a_weight_header_is_an_allocation_never_renormalized_as_dollars():
    from xlfactor.functions import OF_TOTALRISK
    from xlfactor.risk import holdings_from_frame

    weights = [["ticker", "weight"], ["SIM0001", 0.2], ["SIM0002", 0.3]]  # 50% invested, 50% cash
    allocation = [["ticker", "allocation"], ["SIM0001", 0.2], ["SIM0002", 0.3]]
    dollars = [["ticker", "value"], ["SIM0001", 0.2], ["SIM0002", 0.3]]
    assert OF_TOTALRISK(weights) == OF_TOTALRISK(allocation)
    assert OF_TOTALRISK(weights) == pytest.approx(0.5 * OF_TOTALRISK(dollars), rel=1e-12)  # risk is linear in the weights
    held = holdings_from_frame(pd.DataFrame({"ticker": ["SIM0001", "SIM0002"], "weight": [0.2, 0.3]}))
    assert held.kind == "allocation" and held.weights.tolist() == [0.2, 0.3]


def test_an_unknown_header_is_refused_with_the_accepted_names():
    from xlfactor.functions import OF_TOTALRISK
    from xlfactor.risk import holdings_from_frame

    message = OF_TOTALRISK([["ticker", "pct"], ["SIM0001", 20], ["SIM0002", 30]])
    assert isinstance(message, str) and message.startswith("#XLFACTOR: holdings header 'pct' is unknown; accepted: ticker")
    assert "allocation, weight" in message and "\n" not in message
    with pytest.raises(XlfactorError, match="unknown column\\(s\\) 'pct'; accepted: ticker"):
        holdings_from_frame(pd.DataFrame({"ticker": ["SIM0001"], "value": [1.0], "pct": [1.0]}))


def test_a_zero_gross_allocation_book_is_refused_not_a_risk_of_zero(tmp_path):
    from xlfactor.functions import OF_TOTALRISK
    from xlfactor.reporting import run_batch

    message = OF_TOTALRISK([["ticker", "allocation"], ["SIM0001", 0.0], ["SIM0002", 0.0]])
    assert message == "#XLFACTOR: holdings has zero gross exposure (every allocation is 0)"
    frame = pd.DataFrame({"portfolio": ["zero", "zero", "ok"], "ticker": ["SIM0001", "SIM0002", "SIM0001"], "allocation": [0.0, 0.0, 0.5]})
    result = run_batch(frame)
    assert list(result.summary.index) == ["ok"] and result.failed == {"zero": "zero gross exposure"}


def test_a_var_horizon_over_a_year_is_refused_in_one_line():
    from xlfactor.functions import OF_VAR

    assert isinstance(OF_VAR(BOOK, 0.95, 252), float)
    message = OF_VAR(BOOK, 0.95, 1e9)
    assert message == "#XLFACTOR: `horizon_days` must be at most 252 trading days (one year), got 1e+09"
    from xlfactor.functions import OF_POSITIONSIZE

    assert OF_POSITIONSIZE(BOOK, 1000, "annual") > 0
    assert OF_POSITIONSIZE(BOOK, 1000, 1e9) == "#XLFACTOR: horizon_days must be at most 252 trading days (one year), got 1e+09"


def test_negative_newey_west_lags_are_refused_not_replaced_by_the_default():
    from xlfactor.functions import OF_REGRESS

    rng = np.random.default_rng(1)
    f = rng.normal(size=(60, 1))
    y = 0.5 * f[:, 0] + rng.normal(scale=0.1, size=60)
    returns, factors = [[v] for v in y], [["f"], *[[v] for v in f[:, 0]]]
    assert isinstance(OF_REGRESS([["y"], *returns], factors, 3), list)
    assert OF_REGRESS([["y"], *returns], factors, -3) == "#XLFACTOR: `newey_west_lags` must be a whole number of days, 0 or more, got -3"


@pytest.mark.parametrize(
    "as_of, message",
    [
        ("2026-10-30junk", "`as_of` must be a date (YYYY-MM-DD) or 'latest', got '2026-10-30junk'"),
        (1e10, "`as_of` 10000000000.0 is not a date: Excel date serials run from 1 to 2958465 (9999-12-31)"),
    ],
)
def test_junk_after_a_date_and_a_huge_excel_serial_are_refused_in_one_line(as_of, message):
    from xlfactor.functions import OF_TOTALRISK

    assert OF_TOTALRISK(BOOK, None, as_of) == f"#XLFACTOR: {message}"


# ---------------------------------------------------------------- semantic cache and client


SEMANTIC_BOOK = pd.DataFrame({"ticker": [f"SIM{i:04d}" for i in range(1, 31)], "value": np.linspace(1e5, 4e5, 30)})


def test_a_user_semantic_client_that_never_answers_fails_discovery_in_one_line(tmp_path):
    import time

    from xlfactor.semantic import SemanticError, discover_semantic_factors

    release = threading.Event()

    class Stuck:
        def complete_json(self, instructions, payload):
            release.wait(60)  # bounded: released at the end of the test
            return {"themes": []}

    started = time.monotonic()
    try:
        with pytest.raises(SemanticError) as caught:
            discover_semantic_factors(SEMANTIC_BOOK, threshold=0.0, client=Stuck(), semantic_cache=tmp_path / "c.csv",
                                      client_deadline=0.5)  # fmt: skip
    finally:
        release.set()
    assert time.monotonic() - started < 20
    assert str(caught.value) == "semantic client did not answer task propose within 0.5 s (XLFACTOR_SEMANTIC_DEADLINE)"


def test_discover_without_openai_names_the_extra_to_install(monkeypatch, tmp_path, capsys):
    from xlfactor.cli import main
    from xlfactor.semantic import SemanticError, discover_semantic_factors

    monkeypatch.setitem(sys.modules, "openai", None)  # import openai raises ImportError
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    with pytest.raises(SemanticError, match=r"needs the openai package: pip install 'xlfactor\[llm\]'"):
        discover_semantic_factors(SEMANTIC_BOOK, threshold=0.0, semantic_cache=tmp_path / "c.csv")
    book = tmp_path / "book.csv"
    SEMANTIC_BOOK.to_csv(book, index=False)
    assert main(["discover", "--portfolio", str(book), "--threshold", "0", "--cache", str(tmp_path / "c.csv")]) == 2
    err = [line for line in capsys.readouterr().err.splitlines() if line.startswith("xlfactor:")]
    assert len(err) == 1 and "xlfactor[llm]" in err[0]


def test_concurrent_runs_on_one_semantic_cache_keep_every_label(tmp_path):
    from xlfactor.semantic import read_cache

    path = tmp_path / "themes.csv"
    path.write_text("ticker,old_theme\nAAA,1\nBBB,0\n")
    both_read = threading.Barrier(2)
    notes: dict[str, str] = {}

    def run(theme: str, answers: dict[str, int]) -> None:
        cache = read_cache(path)
        both_read.wait(10)  # both runs hold the same old cache before either writes
        cache.update(theme, answers)
        notes[theme] = cache.save()

    runs = [threading.Thread(target=run, args=("ai", {"AAA": 1, "CCC": 0})),
            threading.Thread(target=run, args=("batteries", {"BBB": 1, "DDD": 1}))]  # fmt: skip
    for t in runs:
        t.start()
    for t in runs:
        t.join(30)
    assert set(notes.values()) == {f"semantic cache {path} updated"}
    stored = pd.read_csv(path, index_col="ticker")
    assert stored.loc[["AAA", "CCC"], "ai"].tolist() == [1, 0]
    assert stored.loc[["BBB", "DDD"], "batteries"].tolist() == [1, 1]
    assert stored.loc[["AAA", "BBB"], "old_theme"].tolist() == [1, 0]


def test_a_memory_semantic_cache_round_trips():
    import uuid

    import fsspec

    from xlfactor.semantic import read_cache, semantic_factor_members

    url = f"memory://xlfactor-tests/{uuid.uuid4().hex}/semantic_factors.csv"
    cache = read_cache(url)
    assert cache.writable and cache.labels.shape == (0, 0)
    cache.update("grid_storage", {"SIM0001": 1, "SIM0002": 0, "SIM0003": 1})
    assert cache.save() == f"semantic cache {url} updated"
    assert fsspec.open(url, "rb").open().read().decode().splitlines()[0] == "ticker,grid_storage"
    assert semantic_factor_members("Grid storage", url) == ["SIM0001", "SIM0003"]
    again = read_cache(url)
    assert again.labels["grid_storage"].to_dict() == {"SIM0001": 1.0, "SIM0002": 0.0, "SIM0003": 1.0}


def test_themes_from_an_absent_semantic_cache_are_refused_not_an_empty_table(tmp_path):
    from xlfactor.functions import OF_THEMES

    missing = tmp_path / "nowhere.csv"
    message = OF_THEMES(BOOK, str(missing))
    assert message == f"#XLFACTOR: semantic cache {missing} does not exist (run `xlfactor discover` to create it, or name another cache)"


@pytest.mark.parametrize("cut", ["SIM0003,1", "SIM0003,1,", "SIM"])
def test_a_semantic_cache_cut_mid_line_is_refused(tmp_path, cut):
    from xlfactor.functions import OF_THEMES
    from xlfactor.semantic import SemanticError, read_cache

    path = tmp_path / "themes.csv"
    path.write_text("ticker,ai,batteries\nSIM0001,1,0\nSIM0002,1,1\n" + cut)
    with pytest.raises(SemanticError, match="line 4 has a different number of cells than the header; the file looks cut off"):
        read_cache(path)
    assert OF_THEMES(BOOK, str(path)).startswith(f"#XLFACTOR: semantic cache {path}: line 4")
    path.write_text("ticker,ai,batteries\nSIM0001,1,0\nSIM0002,1,1\nSIM0003,1,0")  # complete, only its line end missing
    assert read_cache(path).labels.shape == (3, 2)


# ---------------------------------------------------------------- batch: every row accounted for (issue 21 deliver 4)


def _note_writer(path, holdings, snapshot, benchmark):
    """A stand-in report writer: the book's first ticker and its row count (no workbook needed)."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text(f"{holdings['ticker'].iloc[0]} {len(holdings)}")


def test_batch_rows_with_a_blank_or_na_portfolio_name_are_failures_with_a_reason(tmp_path):
    from xlfactor.reporting import run_batch

    path = tmp_path / "books.csv"
    path.write_text("portfolio,ticker,value\ngood,SIM0001,100\n,SIM0002,50\nNA,SIM0003,70\ngood,SIM0004,20\n  ,SIM0005,5\n")
    result = run_batch(path, tmp_path / "out")
    assert list(result.summary.index) == ["good"] and result.summary.loc["good", "holdings"] == 2
    assert result.failed == {
        "(blank) (no portfolio name)": "2 row(s) without a usable portfolio name (data rows 2, 5); name the book",
        "NA (no portfolio name)": "1 row(s) without a usable portfolio name (data rows 3); name the book",
    }
    failed = pd.read_csv(tmp_path / "out" / "failed.csv", keep_default_na=False)
    assert sorted(failed["portfolio"]) == sorted(result.failed)


def test_a_header_only_book_file_is_a_failure_with_a_reason(tmp_path):
    from xlfactor.reporting import run_batch

    folder = tmp_path / "books"
    folder.mkdir()
    (folder / "full.csv").write_text("ticker,value\nSIM0001,1\nSIM0002,2\n")
    (folder / "hollow.csv").write_text("ticker,value\n")
    (folder / "blank.csv").write_text("")
    result = run_batch(folder)
    assert list(result.summary.index) == ["full"]
    assert result.failed == {"hollow": "no holdings (the file has only a header)", "blank": "empty file (no header, no holdings)"}


def test_book_files_whose_names_differ_only_by_spaces_are_refused_never_merged(tmp_path):
    from xlfactor.reporting import run_batch

    folder = tmp_path / "books"
    folder.mkdir()
    (folder / "a.csv").write_text("ticker,value\nSIM0001,1\n")
    (folder / " a.csv").write_text("ticker,value\nSIM0002,1\n")
    (folder / "b.csv").write_text("ticker,value\nSIM0003,1\n")
    result = run_batch(folder)
    assert list(result.summary.index) == ["b"] and result.summary.loc["b", "holdings"] == 1
    assert result.failed == {
        " a": "file name differs from 'a.csv' only by spaces; rename one (the books are not merged)",
        "a": "file name differs from ' a.csv' only by spaces; rename one (the books are not merged)",
    }


def test_book_names_that_collide_after_sanitizing_get_distinct_report_and_track_files(tmp_path):
    from xlfactor.reporting import run_batch

    frame = pd.DataFrame({"portfolio": ["Fund A/B", "Fund A?B", "Fund A?B"], "ticker": ["SIM0001", "SIM0002", "SIM0003"],
                          "value": [1.0, 1.0, 2.0]})  # fmt: skip
    result = run_batch(frame, tmp_path / "out", report_writer=_note_writer)
    assert result.failed == {} and sorted(result.summary.index) == ["Fund A/B", "Fund A?B"]
    reports = {p.read_text() for p in (tmp_path / "out" / "reports").glob("*.xlsx")}
    assert reports == {"SIM0001 1", "SIM0002 2"}  # two reports, each of its own book
    tracks = sorted((tmp_path / "out" / "track").iterdir())
    assert len(tracks) == 2
    held = sorted(pd.read_csv(t / "holdings.csv")["ticker"].tolist() for t in tracks)
    assert held == [["SIM0001"], ["SIM0002", "SIM0003"]]


def test_summary_and_failed_are_one_unit_with_a_completion_marker(tmp_path, monkeypatch):
    from xlfactor.reporting import batch_run, read_batch_tables, run_batch

    out = tmp_path / "out"
    first = pd.DataFrame({"portfolio": ["one", "ghost"], "ticker": ["SIM0001", "ZZZZ"], "value": [1.0, 1.0]})
    run_batch(first, out)
    summary, failed = read_batch_tables(out)
    assert list(summary.index) == ["one"] and failed["portfolio"].tolist() == ["ghost"]

    real = batch_run.atomic_write

    def killed_before_failed(target, write):
        if Path(target).name == "failed.csv":
            raise KeyboardInterrupt("client killed between the two files")
        return real(target, write)

    monkeypatch.setattr(batch_run, "atomic_write", killed_before_failed)
    second = pd.DataFrame({"portfolio": ["two", "phantom"], "ticker": ["SIM0002", "YYYY"], "value": [1.0, 1.0]})
    with pytest.raises(KeyboardInterrupt):
        run_batch(second, out)
    assert "two" in (out / "summary.csv").read_text() and "ghost" in (out / "failed.csv").read_text()  # the mixed state on disk
    with pytest.raises(XlfactorError, match="is incomplete \\(no valid batch.json\\): the run did not finish"):
        read_batch_tables(out)  # ... which a reader never takes for a finished run
    monkeypatch.undo()
    run_batch(second, out)
    summary, failed = read_batch_tables(out)
    assert list(summary.index) == ["two"] and failed["portfolio"].tolist() == ["phantom"]
    (out / "failed.csv").write_text("portfolio,error\n")  # a file swapped after the run
    with pytest.raises(XlfactorError, match="failed.csv is not the file its run wrote"):
        read_batch_tables(out)


def test_book_names_that_look_like_formulas_are_escaped_in_summary_and_failed(tmp_path):
    from xlfactor.reporting import run_batch

    frame = pd.DataFrame({"portfolio": ["=cmd|' /C calc'!A0", "@SUM(A1)", "+1", "-2"],
                          "ticker": ["SIM0001", "ZZZZ", "SIM0002", "SIM0003"], "value": [1.0, 1.0, 1.0, 1.0]})  # fmt: skip
    run_batch(frame, tmp_path)
    summary = pd.read_csv(tmp_path / "summary.csv", keep_default_na=False)
    failed = pd.read_csv(tmp_path / "failed.csv", keep_default_na=False)
    assert summary["portfolio"].tolist() == ["'=cmd|' /C calc'!A0", "'+1", "'-2"]
    assert failed["portfolio"].tolist() == ["'@SUM(A1)"]
    assert summary["total_risk"].dtype == float and (summary["total_risk"] > 0).all()  # numbers stay numbers


# ---------------------------------------------------------------- build: nothing lost, no traceback


@pytest.fixture(scope="module")
def tiny_inputs(tmp_path_factory):
    """Builder inputs of a tiny simulated market (80 names, 140 days): a build of it takes a second or two."""
    from xlfactor.demo.package import write_demo_inputs
    from xlfactor.demo.simulate import simulate_market

    folder = tmp_path_factory.mktemp("tiny") / "in"
    write_demo_inputs(folder, 5, simulate_market(seed=5, n_assets=80, n_days=140))
    return folder


def _inputs_copy(tiny_inputs, tmp_path) -> Path:
    import shutil

    return Path(shutil.copytree(tiny_inputs, tmp_path / "in"))


def _good_out(tmp_path) -> tuple[Path, dict]:
    out = tmp_path / "out"
    out.mkdir()
    (out / "metadata.json").write_text('{"as_of_date": "2026-01-02"}\n')  # the good snapshot a bad build must not replace
    return out, {p.name: p.read_bytes() for p in out.iterdir()}


def _one_error_line(capsys) -> str:
    lines = [line for line in capsys.readouterr().err.splitlines() if line.startswith("xlfactor:")]
    assert len(lines) == 1, lines
    return lines[0]


@pytest.mark.slow
def test_build_with_all_market_caps_negative_is_refused_and_out_is_left_as_it_was(tiny_inputs, tmp_path, capsys):
    from xlfactor.cli import main

    inputs = _inputs_copy(tiny_inputs, tmp_path)
    prices = pd.read_csv(inputs / "prices.csv.gz")
    prices["market_cap"] = -prices["market_cap"].abs()
    prices.to_csv(inputs / "prices.csv.gz", index=False)
    out, before = _good_out(tmp_path)
    assert main(["build", "--data", str(inputs), "--out", str(out), "--no-quality"]) == 2
    line = _one_error_line(capsys)
    assert "build refused: on " in line and "only 0 names have a price, a positive market cap and a sector (at least 30" in line
    assert "80 priced names have no positive market cap" in line
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before


@pytest.mark.slow
def test_build_with_a_header_only_classification_is_refused_and_out_is_left_as_it_was(tiny_inputs, tmp_path, capsys):
    from xlfactor.cli import main

    inputs = _inputs_copy(tiny_inputs, tmp_path)
    (inputs / "classification.csv").write_text("ticker,sector,industry\n")
    out, before = _good_out(tmp_path)
    assert main(["build", "--data", str(inputs), "--out", str(out), "--no-quality"]) == 2
    assert _one_error_line(capsys).endswith("classification.csv: no rows (only a header): every name needs a sector and an industry")
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before


@pytest.mark.slow
def test_build_with_too_few_classified_names_is_refused(tiny_inputs, tmp_path, capsys):
    from xlfactor.cli import main

    inputs = _inputs_copy(tiny_inputs, tmp_path)
    classification = pd.read_csv(inputs / "classification.csv")
    classification.iloc[:10].to_csv(inputs / "classification.csv", index=False)
    out, before = _good_out(tmp_path)
    assert main(["build", "--data", str(inputs), "--out", str(out), "--no-quality"]) == 2
    line = _one_error_line(capsys)
    assert "only 10 names have a price, a positive market cap and a sector (at least 30 needed" in line and "70 no classification" in line
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before


@pytest.mark.slow
def test_names_dropped_for_missing_classification_are_counted_and_printed(tiny_inputs, tmp_path, capsys):
    import json

    from xlfactor.cli import main

    inputs = _inputs_copy(tiny_inputs, tmp_path)
    classification = pd.read_csv(inputs / "classification.csv")
    dropped = sorted(classification["ticker"].iloc[[3, 17, 41]])
    classification[~classification["ticker"].isin(dropped)].to_csv(inputs / "classification.csv", index=False)
    assert main(["build", "--data", str(inputs), "--out", str(tmp_path / "out"), "--no-quality"]) == 0
    err = capsys.readouterr().err
    assert "note: 3 names with a price and a market cap on " in err and f"have no classification and are left out: {', '.join(dropped)}" in err
    metadata = json.loads((tmp_path / "out" / "metadata.json").read_text())
    assert metadata["unclassified_names"] == 3 and metadata["tickers"] == 77


@pytest.mark.slow
def test_build_every_month_with_start_after_end_is_one_line(tiny_inputs, tmp_path, capsys):
    from xlfactor.cli import main

    code = main(["build", "--data", str(tiny_inputs), "--out", str(tmp_path / "out"), "--every", "MONTH",
                 "--start", "2026-09-01", "--end", "2026-06-30", "--no-quality"])  # fmt: skip
    assert code == 2
    assert _one_error_line(capsys) == "xlfactor: error: --start 2026-09-01 is after --end 2026-06-30: no date to write"
    assert not (tmp_path / "out").exists()


@pytest.mark.slow
def test_build_out_through_a_symlink_writes_the_target(tiny_inputs, tmp_path):
    from xlfactor.cli import main

    target = tmp_path / "real-snapshot"
    target.mkdir()
    link = tmp_path / "current"
    link.symlink_to(target, target_is_directory=True)
    assert main(["build", "--data", str(tiny_inputs), "--out", str(link), "--no-quality"]) == 0
    assert link.is_symlink() and link.resolve() == target.resolve()
    assert (target / "metadata.json").is_file() and (target / "factor_covariance.csv").is_file()


def test_report_out_through_a_symlink_writes_the_target(tmp_path):
    import openpyxl

    from xlfactor.cli import main

    example = Path(__file__).resolve().parent.parent / "examples" / "portfolio.csv"
    target = tmp_path / "reports" / "book.xlsx"
    target.parent.mkdir()
    target.write_text("old")
    link = tmp_path / "book.xlsx"
    link.symlink_to(target)
    assert main(["report", "--portfolio", str(example), "--out", str(link)]) == 0
    assert link.is_symlink() and link.resolve() == target.resolve()
    assert "Summary" in openpyxl.load_workbook(target).sheetnames


def test_a_full_disk_while_overwriting_a_report_keeps_the_old_file_and_prints_one_line(tmp_path, monkeypatch, capsys):
    import openpyxl

    from xlfactor.cli import main

    example = Path(__file__).resolve().parent.parent / "examples" / "portfolio.csv"
    target = tmp_path / "report.xlsx"
    target.write_bytes(b"the old report")

    def disk_full(self, handle):
        handle.write(b"PK half a workbook")
        raise OSError(errno.ENOSPC)  # as the brief has it: the code alone, no message

    monkeypatch.setattr(openpyxl.Workbook, "save", disk_full)
    assert main(["report", "--portfolio", str(example), "--out", str(target)]) == 2
    assert _one_error_line(capsys) == f"xlfactor: error: cannot write {target}: no space left on the device"
    assert target.read_bytes() == b"the old report" and [p.name for p in tmp_path.iterdir()] == ["report.xlsx"]


# ---------------------------------------------------------------- track CSVs: refused or rebuilt from days/


@pytest.fixture(scope="module")
def seven_days(tmp_path_factory):
    """A track history of 7 recorded days of one book (enough for the 1W window)."""
    import xlfactor as xf
    from xlfactor.reporting import record_day

    snapshot = xf.load_snapshot()
    history = tmp_path_factory.mktemp("track") / "book"
    book = pd.DataFrame({"ticker": [f"SIM{i:04d}" for i in range(1, 21)], "value": np.arange(1.0, 21.0)})
    for date in xf.risk.attributable_dates(snapshot)[-7:]:
        record_day(book, history, snapshot, date)
    return history


def _copy(folder: Path, tmp_path: Path) -> Path:
    import shutil

    return Path(shutil.copytree(folder, tmp_path / "book"))


def test_a_hand_edited_number_in_the_aggregate_track_csv_is_ignored_and_rebuilt_from_days(seven_days, tmp_path):
    from xlfactor.functions import OF_REALIZED

    history = _copy(seven_days, tmp_path)
    honest = OF_REALIZED(str(history), "realized_volatility", "1W")
    days = [pd.read_csv(d / "track.csv") for d in sorted((history / "days").iterdir())]
    p = np.array([d["portfolio_return"].iloc[0] for d in days])
    assert honest == pytest.approx(p.std(ddof=1) * np.sqrt(252), rel=1e-9)  # the stored daily returns, by hand
    aggregate = pd.read_csv(history / "track.csv")
    aggregate.loc[3, "portfolio_return"] = 0.5  # a +50% day typed into the aggregate
    aggregate.to_csv(history / "track.csv", index=False)
    assert OF_REALIZED(str(history), "realized_volatility", "1W") == honest


def test_a_text_cell_in_a_track_csv_is_refused_in_one_line(seven_days, tmp_path):
    from xlfactor.functions import OF_REALIZED
    from xlfactor.reporting import load_track

    history = _copy(seven_days, tmp_path)
    day = sorted((history / "days").iterdir())[2]
    frame = pd.read_csv(day / "track.csv")
    frame["portfolio_return"] = frame["portfolio_return"].astype(object)
    frame.loc[0, "portfolio_return"] = "n/a (feed down)"
    frame.to_csv(day / "track.csv", index=False)
    message = f"{day / 'track.csv'}: column portfolio_return has the text 'n/a (feed down)' on data row 1, not a number"
    with pytest.raises(XlfactorError, match="^" + re.escape(message)):
        load_track(history)
    assert OF_REALIZED(str(history)).startswith("#XLFACTOR: " + message)


def test_an_unquoted_decimal_comma_in_a_comma_csv_is_refused_naming_the_line(tmp_path):
    from xlfactor.risk import read_holdings_csv

    path = tmp_path / "book.csv"
    path.write_text("ticker,value\nSIM0001,2\nSIM0002,1,5\n")
    with pytest.raises(XlfactorError, match=r"book.csv: line 3 has 3 fields but the header has 2 -- a decimal comma in a comma-separated file"):
        read_holdings_csv(path)


def test_the_reliability_table_names_a_test_of_this_module_for_every_case():
    import csv

    rows = list(csv.DictReader((Path(__file__).parent / "reliability" / "data.csv").open()))
    assert len(rows) >= 30 and all(row["handled"] == "yes" for row in rows)
    for row in rows:
        path, _, name = row["test"].partition("::")
        assert path == "tests/test_reliability_data.py" and callable(globals().get(name.split("[")[0])), row


# ---------------------------------------------------------------- issue 21: nothing lost, one-line errors (fixb)


def _sha8(text: str) -> str:
    import hashlib

    return hashlib.sha256(text.encode()).hexdigest()[:8]


def test_book_names_equal_but_for_case_or_windows_device_names_get_their_own_files(tmp_path):
    from xlfactor.reporting import run_batch

    names = ["Growth", "growth", "CON", "nul.x", "COM1", "Value"]
    frame = pd.DataFrame({"portfolio": names, "ticker": [f"SIM000{i + 1}" for i in range(6)], "value": 1.0})
    result = run_batch(frame, tmp_path / "out", report_writer=_note_writer)
    assert result.failed == {} and list(result.summary.index) == names
    stems = {p.stem for p in (tmp_path / "out" / "reports").glob("*.xlsx")}
    hashed = {f"{n}-{_sha8(n)}" for n in names[:5]}  # the stable suffix, by hand
    assert stems == hashed | {"Value"}
    assert len({s.casefold() for s in stems}) == 6  # still six on a case-insensitive file system
    tracks = {p.name for p in (tmp_path / "out" / "track").iterdir()}
    assert tracks == stems


def test_snapshot_export_out_through_a_symlink_writes_the_target_and_leaves_nothing_behind(tmp_path):
    import xlfactor as xf
    from xlfactor.cli import main

    target = tmp_path / "store" / "2026-01-02"
    target.mkdir(parents=True)
    link = tmp_path / "current"
    link.symlink_to(target, target_is_directory=True)
    assert main(["snapshot", "export", "--out", str(link)]) == 0
    assert link.is_symlink() and link.resolve() == target.resolve()
    assert (target / "metadata.json").is_file() and xf.load_snapshot(link).as_of == xf.load_snapshot().as_of
    xf.write_snapshot(xf.load_snapshot(), link)  # and again, over the snapshot now there
    assert link.is_symlink() and (target / "manifest.json").is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["current", "store"]  # no .current.old-<pid> link
    assert sorted(p.name for p in target.parent.iterdir()) == ["2026-01-02"]  # no staged or set-aside folder


def test_replace_folder_sets_the_old_folder_aside_under_a_fresh_name_past_a_crash_leftover(tmp_path):
    from xlfactor._files import replace_folder

    folder = tmp_path / "snap"
    folder.mkdir()
    (folder / "a.txt").write_text("old")
    leftover = tmp_path / f".snap.old-{os.getpid()}"  # a crashed run's set-aside folder, same PID
    leftover.mkdir()
    (leftover / "x.txt").write_text("crash")
    staging = tmp_path / ".snap.staged"
    staging.mkdir()
    (staging / "a.txt").write_text("new")
    assert replace_folder(staging, folder) == folder
    assert (folder / "a.txt").read_text() == "new" and not staging.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == [leftover.name, "snap"]  # the old one deleted


def test_replace_folder_puts_the_old_folder_back_when_the_new_one_cannot_be_moved_in(tmp_path, monkeypatch):
    from xlfactor import _files

    folder = tmp_path / "snap"
    folder.mkdir()
    (folder / "a.txt").write_text("old")
    staging = tmp_path / ".snap.staged"
    staging.mkdir()
    (staging / "a.txt").write_text("new")
    real = os.replace

    def fail_moving_in(src, dst):
        if Path(src) == staging:
            raise OSError(errno.EIO, "I/O error")
        return real(src, dst)

    monkeypatch.setattr(_files.os, "replace", fail_moving_in)
    with pytest.raises(OSError, match="I/O error"):
        _files.replace_folder(staging, folder)
    assert (folder / "a.txt").read_text() == "old"  # never missing
    assert sorted(p.name for p in tmp_path.iterdir()) == [".snap.staged", "snap"]  # nothing set aside left over


def test_a_range_of_numpy_float64_cells_is_priced_like_python_floats():
    from xlfactor.functions import OF_TOTALRISK

    floats = [["ticker", "value"], ["SIM0001", 1000.0], ["SIM0002", "2,000"], [None, 0.0], ["SIM0003", 500]]
    numpy_cells = [["ticker", "value"], [np.str_("SIM0001"), np.float64(1000.0)], ["SIM0002", "2,000"],
                   [None, np.float64(0.0)], ["SIM0003", np.int64(500)]]  # fmt: skip
    got = OF_TOTALRISK(numpy_cells)  # first: equal ranges are served from the parse memo
    assert got == OF_TOTALRISK(floats)  # not "#XLFACTOR: internal error (TypeError ...)"
    assert isinstance(got, float) and 0 < got < 1


def test_columns_equal_but_for_case_or_spaces_are_refused_in_one_line_naming_them(tmp_path):
    from xlfactor.functions import OF_TOTALRISK
    from xlfactor.reporting import run_batch
    from xlfactor.risk import holdings_from_frame, read_holdings_csv

    batch = tmp_path / "books.csv"
    batch.write_text("portfolio,ticker,value,Portfolio\nA,SIM0001,1,x\nB,SIM0002,2,y\n")
    with pytest.raises(XlfactorError, match=r"^holdings .*books.csv has columns that are one name ignoring case and spaces: "
                                            r"'portfolio', 'Portfolio'; keep one of them"):  # fmt: skip
        run_batch(batch)  # was an AttributeError after renaming both to portfolio
    frame = pd.DataFrame([["A", "SIM0001", 1.0, "x"]], columns=["portfolio", "ticker", "value", " PORTFOLIO"])
    with pytest.raises(XlfactorError, match=r"'portfolio', ' PORTFOLIO'; keep one of them$"):
        run_batch(frame)
    book = tmp_path / "book.csv"
    book.write_text("ticker,Value,value \nSIM0001,1,2\n")
    with pytest.raises(XlfactorError, match=r"has columns that are one name ignoring case and spaces: 'Value', 'value '"):
        holdings_from_frame(read_holdings_csv(book).frame, "book.csv")
    got = OF_TOTALRISK([["ticker", "value", "VALUE"], ["SIM0001", 1.0, 5.0]])
    assert got == ("#XLFACTOR: holdings header has columns that are one name ignoring case and spaces: 'value', 'VALUE'; "
                   "keep one of them")  # fmt: skip


@pytest.mark.parametrize("typed", ["nan", "inf", " -Infinity", "1e999"])
def test_non_finite_number_arguments_are_refused_in_one_line(typed):
    from xlfactor.functions import OF_REGRESS, OF_ROLLINGBETA, OF_VAR

    rng = np.random.default_rng(2)
    f = rng.normal(size=(80, 1))
    y = 0.5 * f[:, 0] + rng.normal(scale=0.1, size=80)
    returns, factors = [["y"], *[[v] for v in y]], [["f"], *[[v] for v in f[:, 0]]]
    assert OF_REGRESS(returns, factors, typed) == f"#XLFACTOR: `newey_west_lags` must be a finite number, got {typed!r}"
    assert OF_ROLLINGBETA(returns, factors, typed) == f"#XLFACTOR: `window_days` must be a finite number, got {typed!r}"
    assert OF_VAR(BOOK, typed) == f"#XLFACTOR: `confidence` must be a finite number, got {typed!r}"
    assert isinstance(OF_ROLLINGBETA(returns, factors, "20"), list)  # a finite text number still reads


def test_without_pyarrow_an_older_runs_summary_parquet_is_deleted(tmp_path, monkeypatch):
    from xlfactor.reporting import read_batch_tables, run_batch

    out = tmp_path / "out"
    run_batch(pd.DataFrame({"portfolio": ["old"], "ticker": ["SIM0001"], "value": [1.0]}), out)
    assert pd.read_parquet(out / "summary.parquet").index.tolist() == ["old"]  # written with pyarrow
    with monkeypatch.context() as patch:
        patch.setitem(sys.modules, "pyarrow", None)  # import pyarrow now raises ImportError
        result = run_batch(pd.DataFrame({"portfolio": ["new"], "ticker": ["SIM0002"], "value": [1.0]}), out)
    assert not (out / "summary.parquet").exists() and "summary_parquet" not in result.files
    assert sorted(p.name for p in out.iterdir()) == ["batch.json", "failed.csv", "summary.csv"]
    assert read_batch_tables(out)[0].index.tolist() == ["new"]
