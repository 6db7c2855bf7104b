"""``xlfactor batch``: serial, against a real Dask scheduler started with the dask CLI, failures, reports."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import xlfactor as xf
from xlfactor.cli import main


def _require_distributed():
    try:
        import distributed  # noqa: F401
    except ImportError:
        if os.environ.get("CI"):
            pytest.fail("CI must have dask.distributed installed (it is in the dev extra)")
        pytest.skip("dask.distributed is not installed (pip install 'xlfactor[distributed]')")


def _books(n_books: int, seed: int = 0) -> pd.DataFrame:
    tickers = xf.load_snapshot().tickers
    rng = np.random.default_rng(seed)
    sizes = rng.integers(1, 40, n_books)
    book = np.repeat([f"acct{p:04d}" for p in range(n_books)], sizes)
    frame = pd.DataFrame({"portfolio": book, "ticker": rng.choice(tickers, sizes.sum()), "value": rng.uniform(-1e5, 3e5, sizes.sum())})
    ghost = pd.DataFrame({"portfolio": "ghost", "ticker": ["NOPE1", "NOPE2"], "value": [1.0, 2.0]})
    return pd.concat([frame.iloc[:100], ghost, frame.iloc[100:]], ignore_index=True)


def _stop(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=60)


@pytest.fixture(scope="module")
def dask_scheduler(tmp_path_factory):
    """A `dask scheduler` and one `dask worker` on 127.0.0.1, started as a user would; stopped after."""
    _require_distributed()
    tmp_path = tmp_path_factory.mktemp("dask")
    dask = shutil.which("dask", path=str(Path(sys.executable).parent)) or shutil.which("dask")
    assert dask, "the dask command line is not installed"
    scheduler_file = tmp_path / "scheduler.json"
    common = {"cwd": tmp_path, "stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
    scheduler = subprocess.Popen([dask, "scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
                                  "--scheduler-file", str(scheduler_file)], **common)  # fmt: skip
    processes = [scheduler]
    try:
        deadline = time.monotonic() + 60
        while not scheduler_file.is_file() and time.monotonic() < deadline:
            assert scheduler.poll() is None, "dask scheduler exited"
            time.sleep(0.2)
        address = json.loads(scheduler_file.read_text())["address"]
        worker = subprocess.Popen([dask, "worker", address, "--nworkers", "1", "--nthreads", "1", "--no-dashboard",
                                   "--local-directory", str(tmp_path / "worker"), "--host", "127.0.0.1"], **common)  # fmt: skip
        processes.append(worker)
        from distributed import Client

        with Client(address, timeout=30) as client:
            client.wait_for_workers(1, timeout=90)
        yield address
    finally:
        for process in reversed(processes):
            _stop(process)


def test_batch_on_a_dask_scheduler_equals_the_serial_run(tmp_path, dask_scheduler, capsys):
    holdings = tmp_path / "books.csv"
    _books(300).to_csv(holdings, index=False)  # 301 books: two chunks of 256
    assert main(["batch", "--holdings", str(holdings), "--out", str(tmp_path / "serial")]) == 0
    shown = capsys.readouterr()
    assert shown.out == "" and "books: 100%" in shown.err and "2/2" in shown.err  # tqdm's bar, on stderr only
    assert main(["batch", "--holdings", str(holdings), "--out", str(tmp_path / "dask"), "--scheduler", dask_scheduler]) == 0
    shown = capsys.readouterr()
    assert shown.out == "" and "books: 100%" in shown.err and "2/2" in shown.err  # the same tqdm bar, on stderr only
    assert "Completed" not in shown.err  # not Dask's own bar (it blocks until every chunk is done)
    assert "priced 300 book(s), 1 failed" in shown.err
    serial = pd.read_parquet(tmp_path / "serial" / "summary.parquet")
    distributed = pd.read_parquet(tmp_path / "dask" / "summary.parquet")
    assert len(serial) == 300 and "ghost" not in serial.index
    pd.testing.assert_frame_equal(distributed, serial, check_exact=True)
    for out in ("serial", "dask"):
        failed = pd.read_csv(tmp_path / out / "failed.csv")
        assert failed["portfolio"].tolist() == ["ghost"]
        assert "no holding in the model universe (2 unknown: NOPE1, NOPE2)" in failed["error"][0]
    csv = pd.read_csv(tmp_path / "serial" / "summary.csv", index_col="portfolio")
    pd.testing.assert_frame_equal(csv, serial, check_exact=True, check_dtype=False)  # CSV keeps every digit
    from distributed import Client

    from xlfactor.snapshot.sources import loaded_sources

    with Client(dask_scheduler, timeout=30) as client:
        loaded = client.run(loaded_sources)  # the worker loaded the snapshot once, from its source
    assert list(loaded.values()) == [[("xlfactor-demo", "latest")]]


def _waiting_report_writer(prefix: str):
    """A report writer for books ``acct0000, acct0001, ...`` (one per chunk) that proves progress is live.

    Book ``k`` is written only after the client has been told ``k`` chunks are done (the
    progress callback sets the Dask event ``prefix-k``). A run that reported chunks only once
    all of them were done would leave book 1 waiting: after the guard's wait it fails, and the
    test sees it in ``failed``. Book ``acct0002``'s report raises, to show a failing book is
    reported by name while the others complete. (A closure, so Dask ships it by value to a
    worker that cannot import this test module.)
    """

    def write(path, holdings, snapshot, benchmark):
        from distributed import Event

        book = int(Path(path).stem[-4:])
        if book and not Event(f"{prefix}-{book}").wait(timeout=60):  # a deadlock guard, not a timing check
            raise RuntimeError(f"book {book} started before the client heard of {book} finished chunk(s)")
        if book == 2:
            raise ValueError("this report cannot be written")
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        Path(path).write_text(f"report of book {book}")

    return write


def test_dask_batch_progress_follows_each_chunk_as_it_finishes(tmp_path, dask_scheduler, capsys):
    from distributed import Event

    from xlfactor.reporting.batch_run import run_batch

    prefix = f"progress-{tmp_path.name}"
    seen = []

    def progress(label, done, total):
        seen.append((label, done, total))
        Event(f"{prefix}-{done}").set()  # lets the next waiting book go on

    books = _books(4, seed=3).query("portfolio != 'ghost'")
    result = run_batch(books, tmp_path / "out", report_writer=_waiting_report_writer(prefix), scheduler=dask_scheduler,
                       chunk_books=1, progress=progress, bar=True)  # fmt: skip
    assert seen == [("chunks", done, 4) for done in range(1, 5)]  # one call per chunk, counted 1..4
    assert set(result.failed) == {"acct0002"}, result.failed  # no book timed out waiting for progress
    assert result.failed["acct0002"] == "report: ValueError: this report cannot be written"
    assert sorted(result.summary.index) == ["acct0000", "acct0001", "acct0002", "acct0003"]  # the failing report does not stop the others
    assert [(tmp_path / "out" / "reports" / f"acct000{k}.xlsx").read_text() for k in (0, 1, 3)] == [
        "report of book 0", "report of book 1", "report of book 3"]  # fmt: skip
    shown = capsys.readouterr()
    assert shown.out == "" and "books: 100%" in shown.err and "4/4" in shown.err


def test_batch_reports_a_failed_book_and_writes_reports_and_track_days(tmp_path):
    tickers = xf.load_snapshot().tickers
    folder = tmp_path / "books"
    folder.mkdir()
    pd.DataFrame({"ticker": tickers[:30], "value": np.linspace(1, 3, 30)}).to_csv(folder / "alpha.csv", index=False)
    pd.DataFrame({"ticker": ["ZZZ9"], "value": [5.0]}).to_csv(folder / "ghost.csv", index=False)
    pd.DataFrame({"symbol": ["x"], "qty": [1]}).to_csv(folder / "broken.csv", index=False)
    beta = pd.DataFrame({"ticker": tickers[10:60], "allocation": np.full(50, 0.02)})
    beta.to_csv(folder / "beta.csv", index=False)
    out = tmp_path / "out"
    code = main(["batch", "--holdings", str(folder), "--out", str(out), "--reports"])
    assert code == 2  # mixed value/allocation files refused
    (folder / "beta.csv").unlink()
    assert main(["batch", "--holdings", str(folder), "--out", str(out), "--reports"]) == 0
    summary = pd.read_csv(out / "summary.csv", index_col="portfolio")
    assert summary.index.tolist() == ["alpha"]
    failed = dict(pd.read_csv(out / "failed.csv").itertuples(index=False))
    assert set(failed) == {"ghost", "broken"} and "columns ticker and value" in failed["broken"]
    expected = xf.portfolio_report(pd.read_csv(folder / "alpha.csv"))["summary"]["value"]
    for column in ("total_risk", "tracking_error", "beta", "var_99", "effective_names"):
        assert abs(summary.loc["alpha", column] - expected[column]) < 1e-12
    assert (out / "reports" / "alpha.xlsx").is_file() and not (out / "reports" / "ghost.xlsx").exists()
    assert any((out / "track" / "alpha").iterdir()) and not (out / "track" / "ghost").exists()


def test_scheduler_without_a_reachable_address_is_one_clear_error(tmp_path, capsys):
    _require_distributed()
    holdings = tmp_path / "b.csv"
    _books(3).to_csv(holdings, index=False)
    code = main(["batch", "--holdings", str(holdings), "--out", str(tmp_path / "o"), "--scheduler", "tcp://127.0.0.1:9"])
    assert code == 2 and "cannot connect" in capsys.readouterr().err


def _tree(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_distributed_history_builds_equal_the_serial_builds_bit_for_bit(tmp_path, dask_scheduler, small_market):
    """Monthly (the snapshots fanned out, the last one's quality report a task of its own) and single-snapshot builds."""
    from xlfactor.demo import write_demo_inputs

    write_demo_inputs(tmp_path / "in", market=small_market)
    monthly = ["build", "--data", str(tmp_path / "in"), "--every", "MONTH", "--start", small_market.data.dates[-70]]
    single = ["build", "--data", str(tmp_path / "in")]
    for name, build in (("monthly", monthly), ("single", single)):
        assert main(build + ["--out", str(tmp_path / name / "serial")]) == 0
        assert main(build + ["--out", str(tmp_path / name / "dask"), "--scheduler", dask_scheduler]) == 0
        serial, distributed = _tree(tmp_path / name / "serial"), _tree(tmp_path / name / "dask")
        assert sorted(distributed) == sorted(serial)
        different = [file for file in serial if serial[file] != distributed[file]]
        assert not different, f"{name}: files differ: {different[:5]}"
    monthly_files = _tree(tmp_path / "monthly" / "serial")
    assert len([file for file in monthly_files if file.endswith("metadata.json")]) >= 3
    assert [file for file in monthly_files if file.endswith("quality.json")] == [f"date={small_market.data.dates[-1]}/quality.json"]
    assert "quality.json" in _tree(tmp_path / "single" / "serial")


def test_regressions_fanned_out_to_dask_equal_the_in_process_ones(dask_scheduler, small_market):
    """build_model's mapper: the chunks of regression days solved on a Dask worker give the same numbers, bit for bit."""
    from distributed import Client

    from xlfactor.reporting.batch_run import dask_mapper
    from xlfactor.demo.package import demo_market_data
    from xlfactor.builder.builder import BuildOptions, build_model
    from xlfactor.builder.regression import RegressionResult

    data = demo_market_data(small_market)
    options = BuildOptions(market_series="SPY")
    here = build_model(data, options).regression
    with Client(dask_scheduler, timeout=30) as client:
        there = build_model(data, options, mapper=dask_mapper(client)).regression
    for name in RegressionResult.__dataclass_fields__:
        np.testing.assert_array_equal(getattr(there, name), getattr(here, name), err_msg=name)
    assert np.isfinite(here.factor_returns[1:]).any(axis=1).all()  # every regression day has estimated factor returns
