"""Multi-day attribution, windows, realized statistics and report.json over track folders.

Expected numbers are recomputed here with pandas/numpy straight from the stored CSV files
(or from the snapshot's returns), never taken from the code under test.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import openpyxl
import pandas as pd
import pytest

import xlfactor as xf
from xlfactor.excel.track_workbook import render_track_workbook
from xlfactor.functions import OF_REALIZED, OF_TRACKATTRIBUTION
from xlfactor.reporting.track import load_track, read_day_report, realized_statistics, record_day, track_attribution

TOL = 1e-12
FACTORS = (("market", "market"), ("size", "style"), ("momentum", "style"), ("sector:Energy", "sector"), ("industry:Banks", "industry"))
NAMES = ("AAA", "BBB", "CCC", "DDD")
WINDOW_SIZES = {"1W": 7, "1M": 22, "1Q": 63, "1Y": 252}


def synthetic_track(folder: Path, days: int, seed: int = 0, openfactor: bool = False, root_only: bool = False) -> Path:
    """A track folder with random daily rows; OpenFactor's flavour capitalizes families and omits market."""
    rng = np.random.default_rng(seed)
    dates = [d.strftime("%Y-%m-%d") for d in pd.bdate_range("2024-01-02", periods=days)]
    tables: dict[str, list[pd.DataFrame]] = {"track": [], "factor_contrib": [], "idiosyncratic_returns": [], "holdings": []}
    for date in dates:
        contrib = rng.normal(0, 1e-3, len(FACTORS))
        weights = rng.uniform(0.1, 0.4, len(NAMES)) * rng.choice([1, -1], len(NAMES))
        held = rng.random(len(NAMES)) > 0.2  # names come and go
        idiosyncratic = np.where(held, rng.normal(0, 5e-4, len(NAMES)), 0.0)
        active = contrib.sum() + idiosyncratic.sum()
        benchmark = rng.normal(0, 1e-2)
        factors = pd.DataFrame({"date": date, "factor": [f for f, _ in FACTORS], "label": [f.title() for f, _ in FACTORS],
                                "family": [g.title() if openfactor else g for _, g in FACTORS], "contribution": contrib,
                                "te_share": rng.uniform(0, 0.3, len(FACTORS))})  # fmt: skip
        if openfactor:
            factors = factors[factors["factor"] != "market"]
        tables["factor_contrib"].append(factors)
        names = pd.DataFrame({"date": date, "ticker": NAMES, "weight": weights, "raw_contribution": idiosyncratic, "contribution": idiosyncratic,
                              "share": 0.25})[held]  # fmt: skip
        tables["idiosyncratic_returns"].append(names)
        tables["holdings"].append(names[["date", "ticker", "weight"]])
        tables["track"].append(pd.DataFrame({"date": [date], "portfolio_return": [benchmark + active], "benchmark_return": [benchmark],
                                             "active_return": [active], "tracking_error": [0.05], "idiosyncratic_contribution": [idiosyncratic.sum()]}))  # fmt: skip
    folder.mkdir(parents=True)
    for key, frames in tables.items():
        if not root_only:
            for date, frame in zip(dates, frames):
                (folder / "days" / date).mkdir(parents=True, exist_ok=True)
                frame.to_csv(folder / "days" / date / f"{key}.csv", index=False)
    for key, frames in tables.items():  # the root aggregates last, as a track run writes them
        pd.concat(frames).to_csv(folder / f"{key}.csv", index=False)
    return folder


def stored(folder: Path, name: str) -> pd.DataFrame:
    """Every stored daily row of one table, read straight from the files."""
    files = sorted(folder.glob(f"days/*/{name}")) or [folder / name]
    return pd.concat([pd.read_csv(f, dtype={"date": str}) for f in files], ignore_index=True)


def expected_attribution(folder: Path, size: int | None) -> dict:
    track = stored(folder, "track.csv").sort_values("date")
    dates = track["date"].tolist()[-size:] if size else track["date"].tolist()
    factors = stored(folder, "factor_contrib.csv")
    factors = factors[factors["date"].isin(dates)]
    names = stored(folder, "idiosyncratic_returns.csv")
    names = names[names["date"].isin(dates)]
    window = track[track["date"].isin(dates)]
    families = factors.assign(family=factors["family"].str.lower()).groupby("family")["contribution"].sum()
    return {"dates": dates, "families": families, "idio": names["contribution"].sum(),
            "active": window["active_return"].sum(), "portfolio": window["portfolio_return"].to_numpy(),
            "benchmark": window["benchmark_return"].to_numpy(), "factors": factors, "names": names}  # fmt: skip


@pytest.mark.parametrize("openfactor", [False, True])
def test_multi_day_attribution_equals_sums_of_the_stored_rows(tmp_path, openfactor):
    folder = synthetic_track(tmp_path / "t", 70, seed=3, openfactor=openfactor)
    for window, size in (("1W", 7), ("1M", 22), ("1Q", 63)):
        result = track_attribution(folder, window)
        want = expected_attribution(folder, size)
        rec = result["reconciliation"]["return"]
        assert result["reconciliation"].attrs["days"] == size and result["reconciliation"].attrs["end"] == want["dates"][-1]
        for family in ("style", "sector", "industry"):
            assert rec[family] == pytest.approx(want["families"][family], abs=TOL)
        assert rec["market"] == pytest.approx(0.0 if openfactor else want["families"]["market"], abs=TOL)
        assert rec["idiosyncratic"] == pytest.approx(want["idio"], abs=TOL)
        assert rec["active"] == pytest.approx(want["active"], abs=TOL)
        # OpenFactor omits the market row: it shows up as unexplained, never silently dropped.
        explained = want["families"].sum() + want["idio"]
        assert rec["unexplained"] == pytest.approx(want["active"] - explained, abs=TOL)
        assert (abs(rec["unexplained"]) > 1e-6) == openfactor
        p, b = want["portfolio"], want["benchmark"]
        assert rec["compounded_active"] == pytest.approx(np.prod(1 + p) - np.prod(1 + b), abs=TOL)
        assert rec["linking_residual"] == pytest.approx(np.prod(1 + p) - np.prod(1 + b) - want["active"], abs=TOL)
        assert "sum of" in result["reconciliation"].loc["active", "basis"]
        # Top contributors: per-factor sums, % Active, mean stored TE share.
        contributors = result["contributors"].set_index("factor")
        by_factor = want["factors"].groupby("factor")
        for factor, value in by_factor["contribution"].sum().items():
            assert contributors.loc[factor, "contribution"] == pytest.approx(value, abs=TOL)
            assert contributors.loc[factor, "pct_active"] == pytest.approx(value / want["active"], rel=1e-9)
            assert contributors.loc[factor, "te_share"] == pytest.approx(by_factor["te_share"].sum()[factor] / size, rel=1e-9)
        assert list(contributors["contribution"].abs()) == sorted(contributors["contribution"].abs(), reverse=True)
        # Names: summed contribution, average weight over the window's days (0 when not held).
        names = result["names"].set_index("ticker")
        grouped = want["names"].groupby("ticker")
        for ticker in grouped.groups:
            assert names.loc[ticker, "contribution"] == pytest.approx(grouped["contribution"].sum()[ticker], abs=TOL)
            assert names.loc[ticker, "avg_weight"] == pytest.approx(grouped["weight"].sum()[ticker] / size, abs=TOL)
        assert names["pct_idiosyncratic"].sum() == pytest.approx(1.0)


def test_day_folders_are_read_when_the_root_files_are_stale(tmp_path):
    folder = synthetic_track(tmp_path / "t", 25, seed=5)
    fast = track_attribution(folder, "1M")["reconciliation"]
    (folder / "factor_contrib.csv").write_text("date,factor,label,family,contribution,te_share\n")  # stale root file
    (folder / "idiosyncratic_returns.csv").unlink()
    slow = track_attribution(folder, "1M")["reconciliation"]
    assert slow["return"].to_numpy() == pytest.approx(fast["return"].to_numpy(), abs=TOL)
    assert slow.loc["style", "return"] != 0


def test_openfactor_folder_with_only_the_root_files(tmp_path):
    folder = synthetic_track(tmp_path / "t", 30, seed=4, openfactor=True, root_only=True)
    assert not (folder / "days").exists()
    result = track_attribution(folder, "1M")
    want = expected_attribution(folder, 22)
    assert result["reconciliation"].loc["style", "return"] == pytest.approx(want["families"]["style"], abs=TOL)


@pytest.mark.parametrize(
    ("days", "windows"),
    [(6, []), (7, ["1W"]), (22, ["1W", "1M"]), (63, ["1W", "1M", "1Q"]), (252, ["1W", "1M", "1Q", "1Y"]),
     (253, ["1W", "1M", "1Q", "1Y", "All"])],
)  # fmt: skip
def test_window_thresholds(tmp_path, days, windows):
    folder = synthetic_track(tmp_path / "t", days, seed=days, root_only=True)
    tables = load_track(folder)
    stats = realized_statistics(tables["track"])
    assert list(stats.index) == windows
    for window in ("1W", "1M", "1Q", "1Y", "All"):
        result = OF_TRACKATTRIBUTION(str(folder), window)
        if window in windows:
            assert result[0][0].startswith(f"component ({window}: {WINDOW_SIZES.get(window, days)} days")
        else:
            assert result == (
                f"#XLFACTOR: track folder {folder} stores {days} days, too few for {window} "
                "(1W needs 7+ stored days, 1M 22+, 1Q 63+, 1Y 252+, All more than 252)"
            )
    path = render_track_workbook(tmp_path / "track.xlsx", tables, stats)
    ws = openpyxl.load_workbook(path)["Attribution"]
    blocks = [c.value.split(":")[0] for c in ws["A"] if isinstance(c.value, str) and c.font.b and c.font.sz == 12 and ":" in c.value]
    assert blocks == windows


def test_realized_statistics_equal_numpy_from_track_csv(tmp_path):
    folder = synthetic_track(tmp_path / "t", 260, seed=9, root_only=True)
    track = pd.read_csv(folder / "track.csv").sort_values("date")
    stats = realized_statistics(load_track(folder)["track"])
    for window, size in (*WINDOW_SIZES.items(), ("All", 260)):
        rows = track.tail(size)
        p, b, a = (rows[c].to_numpy() for c in ("portfolio_return", "benchmark_return", "active_return"))
        got = stats.loc[window]
        assert got["days"] == size
        assert got["realized_beta"] == pytest.approx(np.cov(p, b)[0, 1] / np.var(b, ddof=1), rel=1e-9)
        assert got["information_ratio"] == pytest.approx(a.mean() / a.std(ddof=1) * np.sqrt(252), rel=1e-9)
        assert got["hit_rate"] == pytest.approx((a > 0).mean())
        assert got["realized_volatility"] == pytest.approx(p.std(ddof=1) * np.sqrt(252), rel=1e-9)
        assert got["tracking_error"] == pytest.approx(a.std(ddof=1) * np.sqrt(252), rel=1e-9)
        assert got["cumulative_active"] == pytest.approx(np.prod(1 + p) - np.prod(1 + b), rel=1e-9)
        assert OF_REALIZED(str(folder), "realized_beta", window) == pytest.approx(got["realized_beta"], rel=1e-12)
    rows = track.tail(260)
    assert OF_REALIZED(str(folder), "hit_rate") == pytest.approx((rows["active_return"] > 0).mean())  # longest window
    table = OF_REALIZED(str(folder))
    assert [r[0] for r in table[1:]] == ["1W", "1M", "1Q", "1Y", "All"]
    assert OF_REALIZED(str(folder), "sharpe").startswith("#XLFACTOR: statistic must be one of realized_beta")


def test_bad_track_folders(tmp_path):
    with pytest.raises(xf.XlfactorError, match=r"track folder .*nowhere does not exist \(1W needs 7\+ stored days"):
        track_attribution(tmp_path / "nowhere")
    (tmp_path / "empty").mkdir()
    with pytest.raises(xf.XlfactorError, match=r"stores 0 days .*1M 22\+"):
        track_attribution(tmp_path / "empty")
    folder = synthetic_track(tmp_path / "short", 10)
    with pytest.raises(xf.XlfactorError, match=r"stores 10 days, too few for 1M \(1W needs 7\+ stored days, 1M 22\+"):
        track_attribution(folder, "1M")
    with pytest.raises(xf.XlfactorError, match="period must be one of 1W, 1M, 1Q, 1Y, All"):
        track_attribution(folder, "2W")
    assert OF_REALIZED(str(tmp_path / "empty")).startswith("#XLFACTOR: track folder")
    assert OF_TRACKATTRIBUTION(None).startswith("#XLFACTOR: track_folder is required")


# ---------------------------------------------------------------- our own folders on the demo snapshot


def book(seed: int, long_short: bool) -> pd.DataFrame:
    snapshot = xf.load_snapshot()
    rng = np.random.default_rng(seed)
    low = -1.0 if long_short else 0.2
    return pd.DataFrame({"ticker": rng.choice(snapshot.tickers, 30, replace=False), "value": rng.uniform(low, 4, 30)})


@pytest.fixture(scope="module")
def recorded(tmp_path_factory):
    """Nine recorded demo days, the books changing every day, against a user benchmark."""
    folder = tmp_path_factory.mktemp("track") / "history"
    dates = xf.risk.attributable_dates(xf.load_snapshot())[-9:]
    bench = book(99, long_short=False)
    books = {date: book(i, long_short=i % 2 == 1) for i, date in enumerate(dates)}
    for date, holdings in books.items():
        record_day(holdings, folder, date=date, benchmark=bench)
    return folder, dates, books, bench


def test_recorded_days_reconcile_and_sum(recorded):
    folder, dates, _, _ = recorded
    result = track_attribution(folder, "1W")
    want = expected_attribution(folder, 7)
    rec = result["reconciliation"]["return"]
    for family in ("market", "style", "sector", "industry"):
        assert rec[family] == pytest.approx(want["families"][family], abs=TOL)
    assert rec["idiosyncratic"] == pytest.approx(want["idio"], abs=TOL)
    assert abs(rec["unexplained"]) < 1e-15  # our name rows add up to the active idiosyncratic return
    track = stored(folder, "track.csv")
    track = track[track["date"].isin(dates[-7:])]
    assert rec["idiosyncratic"] == pytest.approx(track["idiosyncratic_contribution"].sum(), abs=TOL)
    assert OF_TRACKATTRIBUTION(str(folder), "1w")[7][1] == pytest.approx(rec["idiosyncratic"], abs=TOL)


@pytest.mark.parametrize("long_short", [False, True])
def test_idiosyncratic_name_rows_add_up_to_the_active_idiosyncratic_return(long_short):
    snapshot = xf.load_snapshot()
    data = xf.factor_model_data(snapshot)
    portfolio, bench = book(5, long_short), book(6, long_short=False)
    report = xf.portfolio_report(portfolio, snapshot, bench)
    date = report["attribution"].attrs["date"]
    w, b = data.align_holdings(portfolio).weights, data.align_holdings(bench, "benchmark").weights
    residual = np.nan_to_num(snapshot.residual_returns.loc[date].to_numpy(float))
    expected = (w - b) @ residual  # independent: benchmark-relative idiosyncratic return
    names = report["idiosyncratic_returns"]
    assert names["active_contribution"].sum() == pytest.approx(expected, rel=1e-10)
    assert report["attribution"].loc["idiosyncratic", "active"] == pytest.approx(expected, rel=1e-10)
    assert set(names["ticker"]) == set(data.tickers[w != 0])  # holdings only
    assert (w < 0).any() == long_short
    contributors = report["attribution_contributors"]
    active = report["attribution"].loc["total", "active"]
    assert (contributors["pct_active"] * active).to_numpy() == pytest.approx(contributors["contribution"].to_numpy(), abs=1e-15)
    te_share = report["active_risk"].set_index("factor")["te_share"]
    top = contributors.iloc[0]
    assert top["te_share"] == pytest.approx(te_share[top["factor"]])


def test_report_json_per_day_and_rerun_replaces_it(recorded, tmp_path):
    folder, dates, books, bench = recorded
    stored_report = read_day_report(folder, dates[-2])
    fresh = xf.portfolio_report(books[dates[-2]], None, bench, date=dates[-2])
    assert set(fresh) <= set(stored_report)
    assert stored_report["summary"]["value"].to_dict() == pytest.approx(fresh["summary"]["value"].to_dict(), rel=1e-12, nan_ok=True)
    assert stored_report["attribution"].loc["total", "active"] == pytest.approx(fresh["attribution"].loc["total", "active"], rel=1e-12)
    assert all((folder / "days" / d / "report.json").is_file() for d in dates)
    other = tmp_path / "h"
    record_day(books[dates[0]], other, date=dates[0])
    first = read_day_report(other, dates[0])["summary"]["value"]["tracking_error"]
    record_day(book(42, True), other, date=dates[0])
    second = read_day_report(other, dates[0])["summary"]["value"]["tracking_error"]
    assert second != first
    assert second == pytest.approx(xf.portfolio_report(book(42, True), date=dates[0])["summary"]["value"]["tracking_error"], rel=1e-12)
    with pytest.raises(xf.XlfactorError, match="no report stored for 1999-01-01"):
        read_day_report(other, "1999-01-01")
