"""xlfactor demo-data / build / quality: a simulated market through files reproduces the in-memory build."""

from __future__ import annotations

import json

import numpy as np
import openpyxl
import pandas as pd
import pytest

import xlfactor as xf
from xlfactor.cli import main
from xlfactor.demo.package import demo_market_data
from xlfactor.builder.builder import BuildOptions, build_model, snapshot_at


@pytest.fixture(scope="module")
def small_build(tmp_path_factory, small_market):
    """A small simulated market through ``xlfactor demo-data`` and one ``xlfactor build --every MONTH``."""
    small = small_market
    root = tmp_path_factory.mktemp("small")
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("xlfactor.demo.simulate.simulate_market", lambda seed=None, progress=None: small)
        assert main(["demo-data", str(root / "in"), "--seed", "5"]) == 0
    out = root / "history"
    command = ["build", "--data", str(root / "in"), "--out", str(out), "--every", "MONTH", "--start", small.data.dates[-70]]
    assert main([*command, "--universe", "xlfactor-demo"]) == 0
    return small, root / "in", out


def test_demo_data_then_build_reproduces_the_in_memory_build(small_build):
    """Files written by demo-data and read by build give what the builder gives on the simulated market in memory."""
    small, inputs, out = small_build
    assert json.loads((inputs / "source.json").read_text())["simulated"] is True
    truth = pd.read_csv(inputs / "truth" / "factor_returns.csv", index_col=0)
    assert list(truth.columns) == list(small.factor_names)
    built = xf.load_snapshot(out)
    assert built.is_simulated and "SIMULATED" in built.metadata["description"]
    options = BuildOptions(universe="xlfactor-demo", market_series="SPY", quality=False)
    history = build_model(demo_market_data(small), options)
    expected = snapshot_at(history, len(history.data.dates) - 1, options)
    np.testing.assert_array_equal(built.factor_names, expected.factor_names)
    np.testing.assert_array_equal(built.tickers, expected.tickers)
    np.testing.assert_allclose(np.nan_to_num(built.exposures), np.nan_to_num(expected.exposures), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(built.factor_covariance, expected.factor_covariance, rtol=1e-8)
    np.testing.assert_allclose(built.idiosyncratic_risk, expected.idiosyncratic_risk, rtol=1e-8)


def test_demo_data_writes_the_hidden_themes_and_company_names(small_build):
    """truth/semantic_themes.csv is the simulator's theme stream; company names reach the built snapshot."""
    from xlfactor.demo.themes import hidden_theme_members

    small, inputs, out = small_build
    themes = pd.read_csv(inputs / "truth" / "semantic_themes.csv")
    assert list(themes.columns) == ["theme", "ticker"] and themes["theme"].nunique() == 2
    replayed = hidden_theme_members(5, small.data.tickers, len(small.data.dates))
    pd.testing.assert_frame_equal(themes, replayed[["theme", "ticker"]])
    position = pd.Index(small.data.tickers)
    outsiders = np.setdiff1d(np.arange(len(position)), position.get_indexer(themes["ticker"]))[:30]
    for _, group in themes.groupby("theme"):  # members' idiosyncratic returns share a shock; others do not
        inside = np.corrcoef(small.idiosyncratic_returns[1:, position.get_indexer(group["ticker"])].T)
        outside = np.corrcoef(small.idiosyncratic_returns[1:, outsiders].T)
        assert inside[np.triu_indices_from(inside, 1)].mean() > 0.1 > 5 * abs(outside[np.triu_indices_from(outside, 1)].mean())
    built = xf.load_snapshot(out)
    classification = pd.read_csv(inputs / "classification.csv").set_index("ticker")
    assert built.names is not None and list(built.names) == list(classification.loc[built.tickers, "name"])


def test_build_every_month_and_quality(tmp_path, small_build, capsys):
    small, _, out = small_build
    dated = sorted(p.name for p in out.glob("date=*"))
    assert len(dated) >= 3 and dated[-1] == f"date={small.data.dates[-1]}"
    latest = json.loads((out / "latest.json").read_text())["latest"]
    assert xf.load_snapshot(out).as_of == latest
    earlier = xf.load_snapshot(out, as_of=dated[0].split("=")[1])
    assert earlier.as_of < latest
    capsys.readouterr()
    assert main(["quality", str(out / dated[-1])]) == 0
    text = capsys.readouterr().out
    assert "r2_weighted_mean" in text and "out-of-sample bias statistics" in text
    report = tmp_path / "r.xlsx"
    portfolio = tmp_path / "p.csv"
    pd.DataFrame({"ticker": small.data.tickers[:20], "value": 1.0}).to_csv(portfolio, index=False)
    assert main(["report", "--portfolio", str(portfolio), "--snapshot", str(out), "--out", str(report)]) == 0
    assert {"Model", "DataQuality"} <= set(openpyxl.load_workbook(report).sheetnames)  # the fit on the Model page, every statistic on its data sheet


@pytest.fixture(scope="module")
def small_history(small_market):
    """The small market's model history as build_snapshot keeps it for the snapshots."""
    from xlfactor.builder.builder import _for_snapshots

    options = BuildOptions(universe="xlfactor-demo", market_series="SPY")
    return _for_snapshots(build_model(demo_market_data(small_market), options)), options


def _files(folder):
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_a_staged_snapshot_finished_with_its_report_is_what_write_snapshot_writes(tmp_path, small_history):
    """The fanned-out last snapshot: files staged without the report, the report added when it arrives."""
    from dataclasses import replace

    from xlfactor.errors import FileWriteError
    from xlfactor.snapshot.writer import finish_snapshot, stage_snapshot, write_snapshot

    history, options = small_history
    snapshot = snapshot_at(history, len(history.data.dates) - 1, options, quality=True)
    assert snapshot.quality and "bias" in snapshot.quality
    write_snapshot(snapshot, tmp_path / "written")
    (tmp_path / "target").mkdir()
    write_snapshot(snapshot_at(history, 200, options, quality=False), tmp_path / "target")  # an older snapshot, replaced
    staged = stage_snapshot(replace(snapshot, quality=None), tmp_path / "target")
    assert staged.parent == tmp_path and staged.name.startswith(".target.staged-")
    assert "quality.json" not in _files(staged)
    assert json.loads((tmp_path / "target" / "metadata.json").read_text())["as_of_date"] == str(history.data.dates[200])
    assert finish_snapshot(staged, tmp_path / "target", snapshot.quality) == tmp_path / "target"
    assert _files(tmp_path / "target") == _files(tmp_path / "written")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["target", "written"]  # nothing staged is left behind
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "todo.txt").write_text("mine")
    with pytest.raises(FileWriteError, match="not a snapshot"):
        stage_snapshot(replace(snapshot, quality=None), tmp_path / "notes")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes", "target", "written"]


def test_a_snapshot_task_carries_only_its_rows_and_gives_the_full_history_s_files(tmp_path, small_history):
    """snapshot_view (one fan-out task's input): cut after its row, styles and panels to the exposure-panel window.

    The snapshot estimated from the view is written to the same bytes as the one from the whole history.
    """
    import pickle

    from xlfactor.builder.builder import snapshot_view
    from xlfactor.snapshot.writer import write_snapshot

    history, options = small_history
    row = len(history.data.dates) - 40
    view = snapshot_view(history, row, options)
    write_snapshot(snapshot_at(history, row, options, quality=False), tmp_path / "history")
    write_snapshot(snapshot_at(view, row, options, quality=False), tmp_path / "view")
    files = sorted(p.relative_to(tmp_path / "history") for p in (tmp_path / "history").rglob("*") if p.is_file())
    assert len(files) > 10
    for file in files:
        assert (tmp_path / "view" / file).read_bytes() == (tmp_path / "history" / file).read_bytes(), file
    for panel in (view.styles, view.universe, view.data.market_cap, view.data.sector, view.data.industry):
        panel[row - options.panel_dates + 1]  # the first panel row is there
        for outside in (row - options.panel_dates, row + 1):
            with pytest.raises(KeyError):
                panel[outside]
    assert len(view.regression.residuals) == len(view.data.dates) == row + 1 and view.data.returns is None
    assert len(pickle.dumps(view)) < 0.25 * len(pickle.dumps(history))


def test_quality_of_a_snapshot_without_it(hand_folder, capsys):
    assert main(["quality", str(hand_folder)]) == 2
    assert "no quality.json" in capsys.readouterr().err


def test_bad_build_input_is_reported(tmp_path, capsys):
    (tmp_path / "in").mkdir()
    assert main(["build", "--data", str(tmp_path / "in"), "--out", str(tmp_path / "out")]) == 2
    assert "prices.csv: required file missing" in capsys.readouterr().err
