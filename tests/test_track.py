"""Track history: three dates, a re-run, a crash during a write, concurrency, statistics."""

from __future__ import annotations

import threading

import numpy as np
import openpyxl
import pandas as pd
import pytest

import xlfactor as xf
from xlfactor.reporting import track as track_module
from xlfactor.cli import main
from xlfactor.excel.track_workbook import write_track_workbook
from xlfactor.reporting.track import TABLES, read_history, realized_statistics, record_day

OPENFACTOR_COLUMNS = {
    "track.csv": ["date", "schema_version", "universe", "benchmark", "benchmark_kind", "benchmark_ticker", "holdings", "portfolio_return",
                  "benchmark_return", "active_return", "tracking_error", "beta", "predicted_beta", "total_risk",
                  "idiosyncratic_share_of_tracking_error", "idiosyncratic_contribution"],
    "holdings.csv": ["date", "ticker", "weight"],
    "factor_contrib.csv": ["date", "factor", "label", "family", "contribution", "te_share"],
    "idiosyncratic_returns.csv": ["date", "ticker", "weight", "raw_contribution", "contribution", "share"],
    "idiosyncratic_risk.csv": ["date", "ticker", "weight", "idiosyncratic_vol", "idiosyncratic_variance_share"],
    "active_risk.csv": ["date", "factor", "label", "family", "active_exposure", "factor_volatility",
                        "te_contribution", "te_share", "return_contribution"],
}  # fmt: skip


@pytest.fixture(scope="module")
def dates():
    return xf.risk.attributable_dates(xf.load_snapshot())


def book(seed: int) -> pd.DataFrame:
    snapshot = xf.load_snapshot()
    rng = np.random.default_rng(seed)
    return pd.DataFrame({"ticker": rng.choice(snapshot.tickers, 30, replace=False), "value": rng.uniform(-1, 4, 30)})


def record(portfolio, history, workbook, date):
    """What ``xlfactor track`` does: record the day, then render the workbook from the history."""
    day = record_day(portfolio, history, date=date)
    write_track_workbook(workbook, read_history(history))
    return day


def workbook_rows(path, sheet):
    ws = openpyxl.load_workbook(path)[sheet]
    rows = list(ws.iter_rows(values_only=True))
    return rows[0], rows[1:]


def test_three_dates_rerun_and_crash(tmp_path, dates, monkeypatch):
    history, workbook = tmp_path / "hist", tmp_path / "track.xlsx"
    first, middle, last = dates[-30], dates[-20], dates[-10]
    for date, seed in ((first, 1), (middle, 2), (last, 3)):
        record(book(seed), history, workbook, date=date)
    header, rows = workbook_rows(workbook, "Track")
    assert [r[0] for r in rows] == [first, middle, last]
    before = {r[0]: r for r in rows}

    record(book(4), history, workbook, date=middle)  # re-run the middle day with other holdings
    _, rows = workbook_rows(workbook, "Track")
    assert [r[0] for r in rows] == [first, middle, last]
    after = {r[0]: r for r in rows}
    assert after[first] == before[first] and after[last] == before[last]
    assert after[middle] != before[middle]
    holdings = read_history(history)["holdings"]
    expected = xf.factor_model_data().align_holdings(book(4)).weights
    stored = holdings[holdings["date"] == middle].set_index("ticker")["weight"]
    assert stored.sum() == pytest.approx(expected.sum())

    # A crash while the workbook is being written: the old workbook stays whole.
    def crash(*args, **kwargs):
        raise KeyboardInterrupt("simulated crash")

    monkeypatch.setattr(openpyxl.Workbook, "save", crash)
    with pytest.raises(KeyboardInterrupt):
        record(book(5), history, workbook, date=dates[-5])
    monkeypatch.undo()
    _, rows = workbook_rows(workbook, "Track")
    assert [r[0] for r in rows] == [first, middle, last]
    assert not list(tmp_path.glob("*.tmp")) and not (history / ".lock").exists()

    # A crash while a day folder is written: no half day appears.
    monkeypatch.setattr(track_module, "replace_folder", crash)
    with pytest.raises(KeyboardInterrupt):
        record(book(6), history, workbook, date=dates[-3])
    monkeypatch.undo()
    assert sorted(p.name for p in (history / "days").iterdir()) == sorted([first, middle, last, dates[-5]])
    record(book(7), history, workbook, date=dates[-3])  # the next run works and catches up
    _, rows = workbook_rows(workbook, "Track")
    assert [r[0] for r in rows] == sorted([first, middle, last, dates[-5], dates[-3]])


def test_summary_statistics_equal_an_independent_computation(tmp_path, dates):
    history, workbook = tmp_path / "hist", tmp_path / "track.xlsx"
    recorded = dates[-25:]
    for i, date in enumerate(recorded):
        record(book(10 + i % 3), history, workbook, date=date)
    # Independent: each day's return from its own holdings, lagged exposures and the snapshot returns.
    snapshot = xf.load_snapshot()
    data = xf.factor_model_data(snapshot)
    panel = snapshot.exposure_panel
    p, b = [], []
    for i, date in enumerate(recorded):
        w = data.align_holdings(book(10 + i % 3)).weights
        previous = snapshot.factor_returns.index[snapshot.factor_returns.index.get_loc(date) - 1]
        lagged = np.asarray(panel.values[list(panel.dates).index(previous)])
        stock = lagged @ snapshot.factor_returns.loc[date].to_numpy() + np.nan_to_num(snapshot.residual_returns.loc[date].to_numpy())
        p.append(w @ stock)
        b.append(data.benchmark_weights @ stock)
    p, b = np.array(p), np.array(b)
    a = p - b
    stats = realized_statistics(read_history(history)["track"])
    assert list(stats.index) == ["1W", "1M"]  # 25 days: no 1Q, 1Y or All window
    month = stats.loc["1M"]
    pm, bm, am = p[-22:], b[-22:], a[-22:]
    assert month["days"] == 22
    assert month["cumulative_active"] == pytest.approx(np.prod(1 + pm) - np.prod(1 + bm), rel=1e-9)
    assert month["information_ratio"] == pytest.approx(am.mean() / am.std(ddof=1) * np.sqrt(252), rel=1e-9)
    assert month["hit_rate"] == pytest.approx(np.mean(am > 0))
    assert month["realized_beta"] == pytest.approx(np.cov(pm, bm)[0, 1] / np.var(bm, ddof=1), rel=1e-9)
    assert month["tracking_error"] == pytest.approx(am.std(ddof=1) * np.sqrt(252), rel=1e-9)
    assert month["realized_volatility"] == pytest.approx(pm.std(ddof=1) * np.sqrt(252), rel=1e-9)
    summary = openpyxl.load_workbook(workbook)["Summary"]
    assert "SIMULATED" in summary["A3"].value
    assert [summary["B6"].value, summary["C6"].value] == ["1W", "1M"]


def test_concurrent_runs_keep_every_day(tmp_path, dates):
    history = tmp_path / "hist"
    errors = []

    def run(date, seed):
        try:
            record_day(book(seed), history, date=date)
        except Exception as exc:  # noqa: BLE001 - collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(d, i)) for i, d in enumerate(dates[-6:])]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert sorted(read_history(history)["track"]["date"]) == sorted(dates[-6:])


def test_openfactor_track_layout(tmp_path, dates):
    history = tmp_path / "hist"
    record_day(book(1), history, date=dates[-1])
    for name, columns in OPENFACTOR_COLUMNS.items():
        frame = pd.read_csv(history / name)
        assert columns == [c for c in frame.columns if c in columns], name
        assert (history / "days" / dates[-1] / name).is_file()
    assert set(TABLES.values()) <= {p.name for p in history.iterdir()}
    active = pd.read_csv(history / "active_risk.csv")
    assert active["te_share"].sum() == pytest.approx(1.0)
    assert "market" in set(active["factor"])


def test_bad_dates_are_refused(tmp_path):
    with pytest.raises(xf.XlfactorError, match="no attribution for 2020-01-01: attributable dates run"):
        record_day(book(1), tmp_path / "h", date="2020-01-01")


def test_cli_track(tmp_path, capsys, dates):
    portfolio = tmp_path / "p.csv"
    book(2).to_csv(portfolio, index=False)
    workbook = tmp_path / "t.xlsx"
    assert main(["track", "--portfolio", str(portfolio), "--workbook", str(workbook), "--as-of", dates[-2]]) == 0
    assert main(["track", "--portfolio", str(portfolio), "--workbook", str(workbook)]) == 0
    assert f"recorded {dates[-1]}" in capsys.readouterr().out
    _, rows = workbook_rows(workbook, "Track")
    assert [r[0] for r in rows] == dates[-2:]
    assert (tmp_path / "t_history" / "track.csv").is_file()
    assert {"Summary", "Track", "Holdings", "FactorContrib", "IdioReturns", "IdioRisk", "ActiveRisk", "RiskRows"} <= set(
        openpyxl.load_workbook(workbook).sheetnames
    )
