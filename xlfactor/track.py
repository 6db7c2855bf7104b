"""Daily track history: one run records one day's risk and return of a portfolio.

The history lives in a folder in OpenFactor's ``--track`` layout (``days/<date>/`` with
that day's CSVs, plus aggregate CSVs at the root). This module returns data: the front
ends render it (``xlfactor track`` writes the workbook with
:func:`xlfactor.excel.track_workbook.write_track_workbook`, the Refresh button writes
the sheets of the open book). Recording a date that is already there replaces that day and
leaves every other row unchanged. Each write takes a lock, writes temp files and renames
them into place, so a crash or a concurrent run never corrupts or loses recorded days.

Realized statistics are computed from the stored daily returns, each recorded with
that day's holdings -- never from today's weights run backwards. Returns are daily
decimals; risk annualized decimals.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from xlfactor._files import atomic_write, replace_folder
from xlfactor.conventions import SQRT_TRADING_DAYS, TRADING_DAYS_PER_YEAR
from xlfactor.errors import XlfactorError
from xlfactor.report import portfolio_report
from xlfactor.risk.attribution import attribution_date
from xlfactor.risk.model_data import factor_model_data
from xlfactor.snapshot.model import Snapshot

TRACK_VERSION = 2
TABLES = {
    "track": "track.csv",
    "holdings": "holdings.csv",
    "factor_contrib": "factor_contrib.csv",
    "idiosyncratic_returns": "idiosyncratic_returns.csv",
    "idiosyncratic_risk": "idiosyncratic_risk.csv",
    "active_risk": "active_risk.csv",
    "risk_rows": "risk_rows.csv",
}
WINDOWS = (("1W", 5), ("1M", 21), ("1Q", 63), ("1Y", TRADING_DAYS_PER_YEAR), ("All", None))
LOCK_TIMEOUT_SECONDS = 60.0
STALE_LOCK_SECONDS = 600.0


@dataclass(frozen=True, eq=False)
class DayRecord:
    """One recorded day: a frame per track table, each with a leading ``date`` column."""

    date: str
    tables: dict[str, pd.DataFrame]


def record_day(
    portfolio: pd.DataFrame,
    history: str | Path,
    snapshot: Snapshot | None = None,
    date: str | None = None,
    benchmark: pd.DataFrame | None = None,
) -> DayRecord:
    """Record one day in the history folder and rebuild its aggregate tables.

    The one refresh used by the CLI (``xlfactor track``) and by the workbook's button;
    they render the history (:func:`read_history`) themselves.

    Parameters
    ----------
    portfolio, benchmark : DataFrame
        Holdings (``ticker`` + ``value`` or ``allocation``) held over that day.
    history : path
        The track folder (OpenFactor ``--track`` layout); created if absent.
    snapshot : Snapshot, optional
        Risk model; the embedded demo by default.
    date : str, optional
        Return date to record: any date the snapshot's exposure panel covers; latest by default.

    Returns
    -------
    DayRecord
        The rows written for that day.

    Raises
    ------
    XlfactorError
        If the date cannot be recorded or the history folder stays locked.
    """
    day = day_record(portfolio, snapshot, date, benchmark)
    history = Path(history)
    with _locked(history):
        _write_day(history, day)
        _rebuild_aggregates(history)
    return day


def day_record(
    portfolio: pd.DataFrame,
    snapshot: Snapshot | None = None,
    date: str | None = None,
    benchmark: pd.DataFrame | None = None,
) -> DayRecord:
    """The track rows of one day (no file is touched); arguments as in :func:`record_day`."""
    snapshot = factor_model_data(snapshot).snapshot
    date = attribution_date(snapshot, date)
    report = portfolio_report(portfolio, snapshot, benchmark, date=date)
    summary = report["summary"]["value"]
    attribution = report["attribution"]
    holdings = report["holdings"]
    bench_label = report["snapshot"].loc["benchmark", "value"]
    track = pd.DataFrame(
        [
            {
                "date": date,
                "schema_version": TRACK_VERSION,
                "universe": snapshot.metadata.get("universe", ""),
                "benchmark": bench_label,
                "benchmark_kind": "model" if benchmark is None else "holdings",
                "benchmark_ticker": "",
                "holdings": ";".join(f"{t}:{w:.6f}" for t, w in zip(holdings["ticker"], holdings["weight"])),
                "portfolio_return": attribution.loc["total", "portfolio"],
                "benchmark_return": attribution.loc["total", "benchmark"],
                "active_return": attribution.loc["total", "active"],
                "tracking_error": summary["tracking_error"],
                "beta": summary["beta"],
                "predicted_beta": summary["beta"],
                "total_risk": summary["total_risk"],
                "var_95": summary["var_95"],
                "idiosyncratic_share_of_tracking_error": summary["idiosyncratic_share_of_te"],
                "idiosyncratic_contribution": attribution.loc["idiosyncratic", "active"],
                "snapshot_as_of": snapshot.as_of,
                "simulated": snapshot.is_simulated,
            }
        ]
    )
    factors = report["attribution_factors"]
    active = report["active_risk"].set_index("factor")
    factor_contrib = pd.DataFrame(
        {
            "date": date,
            "factor": factors["factor"],
            "label": factors["factor"].map(_label),
            "family": factors["group"],
            "contribution": factors["active_contribution"],
            "te_share": factors["factor"].map(active["te_share"]).fillna(0.0),
        }
    )
    idio_returns = report["idiosyncratic_returns"]
    idio_total = idio_returns["contribution"].sum()
    by_name = report["idiosyncratic_by_name"]
    decomposition = report["risk_decomposition"].reset_index()
    return_by_factor = factors.set_index("factor")["active_contribution"]
    active_rows = report["active_risk"]
    tables = {
        "track": track,
        "holdings": pd.DataFrame({"date": date, "ticker": holdings["ticker"], "weight": holdings["weight"]}),
        "factor_contrib": factor_contrib,
        "idiosyncratic_returns": pd.DataFrame(
            {
                "date": date,
                "ticker": idio_returns["ticker"],
                "weight": idio_returns["weight"],
                "raw_contribution": idio_returns["contribution"],
                "contribution": idio_returns["active_contribution"],
                "share": idio_returns["contribution"] / idio_total if idio_total else 0.0,
            }
        ),
        "idiosyncratic_risk": pd.DataFrame(
            {
                "date": date,
                "ticker": by_name["ticker"],
                "weight": by_name["weight"],
                "idiosyncratic_vol": by_name["idiosyncratic_risk"],
                "idiosyncratic_variance_share": by_name["share"],
            }
        ),
        "active_risk": pd.DataFrame(
            {
                "date": date,
                "factor": active_rows["factor"],
                "label": active_rows["factor"].map(_label),
                "family": active_rows["group"],
                "active_exposure": active_rows["active_exposure"],
                "factor_volatility": active_rows["factor_volatility"],
                "te_contribution": active_rows["te_contribution"],
                "te_share": active_rows["te_share"],
                "return_contribution": active_rows["factor"].map(return_by_factor).fillna(
                    attribution.loc["idiosyncratic", "active"]
                ),
            }
        ),
        "risk_rows": pd.DataFrame(
            {
                "date": date,
                "label": decomposition["component"].map(_label),
                "kind": np.where(decomposition["component"].isin(["total", "common_factor"]), "section", "family"),
                "volatility": decomposition["risk"],
                "pct": decomposition["share"],
                "active": decomposition["active_risk"],
                "active_pct": decomposition["active_share"],
                "key": decomposition["component"],
            }
        ),
    }
    return DayRecord(date=date, tables=tables)


def realized_statistics(track: pd.DataFrame) -> pd.DataFrame:
    """Realized statistics over the last 1W/1M/1Q/1Y/All stored days (windows with enough days).

    Columns: ``days, portfolio_return, benchmark_return, cumulative_active`` (compounded
    portfolio minus compounded benchmark), ``mean_daily_active, information_ratio``
    (mean/std of daily active x sqrt(252), ddof 1), ``hit_rate`` (share of days with
    positive active return) and ``realized_beta`` (cov(p, b)/var(b), ddof 1).
    """
    ordered = track.sort_values("date")
    rows = {}
    for label, size in WINDOWS:
        if size is not None and len(ordered) < size:
            continue
        window = ordered if size is None else ordered.tail(size)
        if len(window) < 2:
            continue
        p = window["portfolio_return"].to_numpy(float)
        b = window["benchmark_return"].to_numpy(float)
        a = window["active_return"].to_numpy(float)
        active_std = a.std(ddof=1)
        benchmark_var = b.var(ddof=1)
        rows[label] = {
            "days": len(window),
            "start": window["date"].iloc[0],
            "end": window["date"].iloc[-1],
            "portfolio_return": float(np.prod(1 + p) - 1),
            "benchmark_return": float(np.prod(1 + b) - 1),
            "cumulative_active": float(np.prod(1 + p) - np.prod(1 + b)),
            "mean_daily_active": float(a.mean()),
            "information_ratio": float(a.mean() / active_std * SQRT_TRADING_DAYS) if active_std > 0 else np.nan,
            "hit_rate": float((a > 0).mean()),
            "realized_beta": float(np.cov(p, b, ddof=1)[0, 1] / benchmark_var) if benchmark_var > 0 else np.nan,
        }
    frame = pd.DataFrame.from_dict(rows, orient="index")
    frame.index.name = "window"
    return frame


def read_history(history: str | Path) -> dict[str, pd.DataFrame]:
    """The aggregate tables of a track folder (empty frames when nothing is recorded)."""
    return _rebuild_aggregates(Path(history), write=False)


# ---------------------------------------------------------------- storage


def _label(factor: str) -> str:
    if ":" in factor:
        group, name = factor.split(":", 1)
        return f"{group.title()}: {name}"
    return factor.replace("_", " ").title()


def _write_day(history: Path, day: DayRecord) -> None:
    days = history / "days"
    days.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{day.date}.", dir=days))
    try:
        for key, name in TABLES.items():
            day.tables[key].to_csv(staging / name, index=False)
        summary = day.tables["track"].iloc[0].to_dict()
        (staging / "summary.json").write_text(json.dumps(summary, default=str, indent=2) + "\n")
        replace_folder(staging, days / day.date)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def _rebuild_aggregates(history: Path, write: bool = True) -> dict[str, pd.DataFrame]:
    day_dirs = sorted(p for p in (history / "days").glob("*") if p.is_dir() and not p.name.startswith("."))
    tables = {}
    for key, name in TABLES.items():
        frames = [pd.read_csv(d / name) for d in day_dirs if (d / name).is_file()]
        frame = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=["date"])
        frame["date"] = frame["date"].astype(str)
        tables[key] = frame
        if write:
            atomic_write(history / name, lambda handle, f=frame: handle.write(f.to_csv(index=False).encode()))
    return tables


@contextlib.contextmanager
def _locked(history: Path) -> Iterator[None]:
    """An exclusive lock file in the history folder (other runs wait; stale locks expire)."""
    history.mkdir(parents=True, exist_ok=True)
    lock = history / ".lock"
    deadline = time.monotonic() + LOCK_TIMEOUT_SECONDS
    while True:
        try:
            descriptor = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
            break
        except FileExistsError:
            try:
                if time.time() - lock.stat().st_mtime > STALE_LOCK_SECONDS:
                    lock.unlink(missing_ok=True)
                    continue
            except FileNotFoundError:
                continue
            if time.monotonic() > deadline:
                raise XlfactorError(f"{history} is locked by another run (remove {lock} if none is running)") from None
            time.sleep(0.05)
    try:
        os.write(descriptor, str(os.getpid()).encode())
        os.close(descriptor)
        yield
    finally:
        lock.unlink(missing_ok=True)
