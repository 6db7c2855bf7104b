"""Daily track history: one run records one day's risk and return of a portfolio.

The history lives in a folder in OpenFactor's ``--track`` layout (``days/<date>/`` with
that day's CSVs, plus aggregate CSVs at the root). This module returns data: the front
ends render it (``xlfactor track`` writes the workbook with
:func:`xlfactor.excel.track_workbook.write_track_workbook`, the Refresh button writes
the sheets of the open book). Recording a date that is already there replaces that day and
leaves every other row unchanged. Each write takes a lock, writes temp files and renames
them into place, so a crash or a concurrent run never corrupts or loses recorded days.

Realized statistics and multi-day attribution are computed from the stored daily rows,
each recorded with that day's holdings -- never from today's weights run backwards.
Windows count stored days, not calendar dates, as OpenFactor's buttons do: ``1W`` is
the last 7 stored days (shown from 7 days), ``1M`` the last 22, ``1Q`` the last 63,
``1Y`` the last 252, and ``All`` every stored day (shown when more than 252 are stored).
Multi-day contributions are sums of the daily arithmetic contributions; the compounded
returns and the linking residual (compounded active minus summed active) are shown
next to them. Returns are daily decimals; risk annualized decimals.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from xlfactor._files import atomic_write, make_temp_folder, replace_folder, write_error
from xlfactor.cells import safe_frame
from xlfactor.conventions import SQRT_TRADING_DAYS, TRADING_DAYS_PER_YEAR, as_of_date
from xlfactor.errors import XlfactorError
from xlfactor.reporting.report import portfolio_report
from xlfactor.risk.attribution import attribution_date
from xlfactor.risk.model_data import factor_model_data
from xlfactor.snapshot.snapshot import Snapshot

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
OUTSIDE_NOTE = "outside the universe, treated as cash"
"""The ``note`` of a holdings.csv row whose ticker is not in the snapshot universe."""
PERIODS = (("1W", 7), ("1M", 22), ("1Q", 63), ("1Y", TRADING_DAYS_PER_YEAR), ("All", None))
"""(label, stored days) of each period; ``All`` is every stored day, shown when more than 252. A period is a label
(``1M``); a number of days is ``window_days`` elsewhere."""
ALL_MINIMUM = TRADING_DAYS_PER_YEAR + 1
PERIOD_RULE = "1W needs 7+ stored days, 1M 22+, 1Q 63+, 1Y 252+, All more than 252"
ATTRIBUTION_FAMILIES = ("market", "style", "sector", "industry")
NUMERIC_COLUMNS = {
    "track": ("missing_weight", "portfolio_return", "benchmark_return", "active_return", "tracking_error", "beta",
              "predicted_beta", "total_risk", "var_95", "idiosyncratic_share_of_tracking_error", "idiosyncratic_contribution"),
    "holdings": ("weight",),
    "factor_contrib": ("contribution", "te_share"),
    "idiosyncratic_returns": ("weight", "raw_contribution", "contribution", "share"),
    "idiosyncratic_risk": ("weight", "idiosyncratic_vol", "idiosyncratic_variance_share"),
    "active_risk": ("active_exposure", "factor_volatility", "te_contribution", "te_share", "return_contribution"),
    "risk_rows": ("volatility", "pct", "active", "active_pct"),
}  # fmt: skip
"""Columns read as numbers (blank allowed); a text cell in one is refused, never a wrong figure."""
AGGREGATES_MARKER = ".aggregates.json"
"""Written after the aggregate CSVs: the stored days and each file's SHA-256. Aggregates that do
not match it (a hand edit, a crash mid-rebuild) are ignored and rebuilt from ``days/``."""
LOCK_TIMEOUT_SECONDS = 60.0


@dataclass(frozen=True, eq=False)
class DayRecord:
    """One recorded day: a frame per track table, each with a leading ``date`` column."""

    date: str
    tables: dict[str, pd.DataFrame]
    missing: pd.DataFrame = field(default_factory=pd.DataFrame)  # side, ticker, amount, weight outside the universe
    report: dict[str, pd.DataFrame] | None = None  # the full report of that date (days/<date>/report.json)


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
    day = compute_day(portfolio, snapshot, date, benchmark)
    history = Path(history)
    with history_lock(history):
        _write_day(history, day)
        _rebuild_aggregates(history)
    return day


def compute_day(
    portfolio: pd.DataFrame,
    snapshot: Snapshot | None = None,
    date: str | None = None,
    benchmark: pd.DataFrame | None = None,
) -> DayRecord:
    """The track rows of one day (no file is touched); arguments as in :func:`record_day`."""
    snapshot = factor_model_data(snapshot).snapshot
    try:
        date = as_of_date(date, "date")
    except ValueError as exc:
        raise XlfactorError(str(exc)) from None
    date = attribution_date(snapshot, date)
    report = portfolio_report(portfolio, snapshot, benchmark, date=date)
    missing = report["missing_holdings"]
    outside = missing[missing["side"] == "portfolio"]
    tables = {"track": _track_row(report, snapshot, date, benchmark is None, outside), **_day_tables(report, date, outside)}
    return DayRecord(date=date, tables=tables, missing=missing.reset_index(drop=True), report=report)


def _track_row(report: dict[str, pd.DataFrame], snapshot: Snapshot, date: str, model_benchmark: bool, outside: pd.DataFrame) -> pd.DataFrame:
    """The day's one row of ``track.csv``: returns, risk, holdings and what was outside the universe."""
    summary = report["summary"]["value"]
    attribution = report["attribution"]
    holdings = report["holdings"]
    bench_label = report["snapshot"].loc["benchmark", "value"]
    return pd.DataFrame(
        [
            {
                "date": date,
                "schema_version": TRACK_VERSION,
                "universe": snapshot.metadata.get("universe", ""),
                "benchmark": bench_label,
                "benchmark_kind": "model" if model_benchmark else "holdings",
                "benchmark_ticker": "",
                "holdings": ";".join(f"{t}:{w:.6f}" for t, w in zip(holdings["ticker"], holdings["weight"])),
                "outside_universe": ";".join(f"{t}:{w:.6f}" for t, w in zip(outside["ticker"], outside["weight"])),
                "missing_weight": float(outside["weight"].abs().sum()),
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


def _day_tables(report: dict[str, pd.DataFrame], date: str, outside: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """The day's detail tables: holdings, factor contributions, idiosyncratic returns and risk, active risk, risk rows."""
    attribution = report["attribution"]
    holdings = report["holdings"]
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
    idiosyncratic_returns = report["idiosyncratic_returns"]
    idiosyncratic_total = idiosyncratic_returns["contribution"].sum()
    by_name = report["idiosyncratic_by_name"]
    decomposition = report["risk_decomposition"].reset_index()
    return_by_factor = factors.set_index("factor")["active_contribution"]
    active_rows = report["active_risk"]
    return {
        "holdings": pd.concat(
            [
                pd.DataFrame({"date": date, "ticker": holdings["ticker"], "weight": holdings["weight"], "note": ""}),
                pd.DataFrame(
                    {"date": date, "ticker": outside["ticker"], "weight": outside["weight"], "note": OUTSIDE_NOTE}
                ),
            ],
            ignore_index=True,
        ),
        "factor_contrib": factor_contrib,
        "idiosyncratic_returns": pd.DataFrame(
            {
                "date": date,
                "ticker": idiosyncratic_returns["ticker"],
                "weight": idiosyncratic_returns["weight"],
                "raw_contribution": idiosyncratic_returns["contribution"],
                "contribution": idiosyncratic_returns["active_contribution"],
                "share": idiosyncratic_returns["contribution"] / idiosyncratic_total if idiosyncratic_total else 0.0,
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


def available_periods(days: int) -> list[str]:
    """The periods (``1W, 1M, 1Q, 1Y, All``) a history of ``days`` stored days can show.

    >>> available_periods(6), available_periods(22), available_periods(253)
    ([], ['1W', '1M'], ['1W', '1M', '1Q', '1Y', 'All'])
    """
    return [label for label, size in PERIODS if days >= (ALL_MINIMUM if size is None else size)]


def period_dates(track: pd.DataFrame, period: str, folder: str | Path | None = None) -> list[str]:
    """The stored dates (ascending) of ``period`` in the ``track`` table.

    Raises
    ------
    XlfactorError
        If ``period`` is unknown or the history stores too few days for it; the message
        says how many days are stored and what each period needs.
    """
    sizes = dict(PERIODS)
    label = {k.lower(): k for k in sizes}.get(str(period).strip().lower())
    if label is None:
        raise XlfactorError(f"period must be one of {', '.join(sizes)}, got {period!r}")
    dates = sorted(track["date"].astype(str).unique())
    if label not in available_periods(len(dates)):
        where = f"track folder {folder}" if folder is not None else "the track history"
        raise XlfactorError(f"{where} stores {len(dates)} days, too few for {label} ({PERIOD_RULE})")
    size = sizes[label]
    return dates if size is None else dates[-size:]


def realized_statistics(track: pd.DataFrame) -> pd.DataFrame:
    """Realized statistics over each available period (``1W`` ... ``All``) of stored days.

    Parameters
    ----------
    track : DataFrame
        ``track.csv``: one row per stored day with ``date, portfolio_return,
        benchmark_return, active_return`` (daily decimals).

    Returns
    -------
    DataFrame
        Index ``period``; columns ``days, start, end, portfolio_return,
        benchmark_return`` (compounded over the period), ``cumulative_active``
        (compounded portfolio minus compounded benchmark), ``summed_active`` (sum of the
        daily active returns, OpenFactor's cumulative), ``mean_daily_active``,
        ``realized_volatility`` and ``tracking_error`` (ex post: std of daily portfolio /
        active returns, ddof 1, x sqrt(252), annualized), ``information_ratio``
        (mean / std of daily active x sqrt(252)), ``hit_rate`` (share of days with
        positive active return) and ``realized_beta`` (cov(p, b) / var(b), ddof 1).
        No rows when fewer than 7 days are stored.
    """
    ordered = track.sort_values("date")
    rows = {}
    for label in available_periods(len(ordered)):
        days = ordered[ordered["date"].astype(str).isin(period_dates(ordered, label))]
        p = days["portfolio_return"].to_numpy(float)
        b = days["benchmark_return"].to_numpy(float)
        a = days["active_return"].to_numpy(float)
        active_std = a.std(ddof=1)
        benchmark_var = b.var(ddof=1)
        rows[label] = {
            "days": len(days),
            "start": days["date"].iloc[0],
            "end": days["date"].iloc[-1],
            "portfolio_return": float(np.prod(1 + p) - 1),
            "benchmark_return": float(np.prod(1 + b) - 1),
            "cumulative_active": float(np.prod(1 + p) - np.prod(1 + b)),
            "summed_active": float(a.sum()),
            "mean_daily_active": float(a.mean()),
            "realized_volatility": float(p.std(ddof=1) * SQRT_TRADING_DAYS),
            "tracking_error": float(active_std * SQRT_TRADING_DAYS),
            "information_ratio": float(a.mean() / active_std * SQRT_TRADING_DAYS) if active_std > 0 else np.nan,
            "hit_rate": float((a > 0).mean()),
            "realized_beta": float(np.cov(p, b, ddof=1)[0, 1] / benchmark_var) if benchmark_var > 0 else np.nan,
        }
    columns = ["days", "start", "end", "portfolio_return", "benchmark_return", "cumulative_active", "summed_active",
               "mean_daily_active", "realized_volatility", "tracking_error", "information_ratio", "hit_rate", "realized_beta"]  # fmt: skip
    frame = pd.DataFrame.from_dict(rows, orient="index", columns=columns) if rows else pd.DataFrame(columns=columns)
    frame.index.name = "period"
    return frame


def load_track(track_folder: str | Path) -> dict[str, pd.DataFrame]:
    """The tables of a track folder written by ``xlfactor track`` or OpenFactor's ``--track``.

    Reads the aggregate CSVs at the root when they are exactly what the last rebuild wrote
    (their SHA-256 in ``.aggregates.json``), hold exactly the stored days and no day was
    rewritten after them (7 files instead of 7 per day); otherwise -- a hand-edited
    aggregate, a crash mid-rebuild, an OpenFactor folder -- the day folders
    ``days/<date>/*.csv``. Families are lower-cased (OpenFactor writes ``Style``).

    Raises
    ------
    XlfactorError
        If the folder does not exist or stores no day, or a stored CSV is unreadable or has
        text in a numeric column (named with its row).
    """
    folder = Path(track_folder)
    if not folder.is_dir():
        raise XlfactorError(f"track folder {folder} does not exist ({PERIOD_RULE})")
    day_names = {p.name for p in (folder / "days").glob("*") if p.is_dir() and not p.name.startswith(".")}
    if day_names and not _aggregates_current(folder, day_names):
        tables = _rebuild_aggregates(folder, write=False)
    else:
        tables = {}
        for key, name in TABLES.items():
            frame = _read_csv(folder / name, key) if (folder / name).is_file() else pd.DataFrame(columns=["date"])
            frame["date"] = frame["date"].astype(str)
            tables[key] = frame
    if not len(tables["track"]):
        raise XlfactorError(f"track folder {folder} stores 0 days (no days/<date>/track.csv); {PERIOD_RULE}")
    for key in ("factor_contrib", "active_risk"):
        if "family" in tables[key]:
            tables[key]["family"] = tables[key]["family"].astype(str).str.strip().str.lower()
    return tables


def _aggregates_current(folder: Path, day_names: set[str]) -> bool:
    """True when the root CSVs are what the last rebuild wrote and hold exactly the stored days."""
    if not all((folder / name).is_file() for name in TABLES.values()):
        return False
    try:
        marker = json.loads((folder / AGGREGATES_MARKER).read_text())
        digests = dict(marker["files"])
        if set(marker["days"]) != day_names:
            return False
    except (OSError, ValueError, KeyError, TypeError):
        return False  # no marker (OpenFactor, an older folder) or a damaged one: rebuild from days/
    if any(digests.get(name) != _digest(folder / name) for name in TABLES.values()):
        return False  # a hand edit: the days are the record
    try:
        dates = pd.read_csv(folder / TABLES["track"], usecols=["date"], dtype={"date": str})["date"]
    except (ValueError, pd.errors.ParserError, pd.errors.EmptyDataError):
        return False
    if set(dates) != day_names or not dates.is_unique:
        return False
    written = min((folder / name).stat().st_mtime_ns for name in TABLES.values())
    # no day folder replaced and no day file edited since (a stat per file, no read)
    return all(entry.stat().st_mtime_ns <= written for name in day_names
               for entry in (folder / "days" / name, *(folder / "days" / name).iterdir()))  # fmt: skip


def track_attribution(track_folder: str | Path | dict[str, pd.DataFrame], period: str = "1M") -> dict[str, pd.DataFrame]:
    """Multi-day return attribution over the stored holding path of one period.

    Sums the stored daily rows of ``factor_contrib.csv`` (active factor contributions,
    each from that day's holdings and lagged exposures) and ``idiosyncratic_returns.csv``
    (name rows that add up to the benchmark-relative idiosyncratic return) over the
    period's stored days. Nothing is recomputed from today's weights.

    Parameters
    ----------
    track_folder : path or dict of DataFrame
        The track folder (ours or OpenFactor's ``--track``), or its tables from :func:`load_track`.
    period : {"1W", "1M", "1Q", "1Y", "All"}
        The last 7, 22, 63, 252 or all stored days (All needs more than 252).

    Returns
    -------
    dict of str to DataFrame
        ``reconciliation``: rows ``portfolio, benchmark, market, style, sector, industry,
        idiosyncratic, unexplained, active`` as sums of daily arithmetic returns, then
        ``compounded_portfolio, compounded_benchmark, compounded_active`` (compounded
        portfolio minus compounded benchmark) and ``linking_residual`` (compounded active
        minus summed active); columns ``return`` (decimal over the period), ``pct_active``
        (return / summed active) and ``basis`` (the convention of that row).
        ``unexplained`` is the stored active return minus the rows (0 for our folders;
        OpenFactor's omit the market row).
        ``contributors``: one row per factor by |contribution|: ``group, factor, label,
        contribution, pct_active, te_share`` (mean of the stored daily ex-ante TE shares).
        ``names``: one row per name held on any stored day of the period by |contribution|:
        ``ticker, avg_weight`` (mean over the period's days, 0 on days not held),
        ``contribution, pct_idiosyncratic``.
        Each frame's ``attrs`` hold ``period, days, start, end``.

    Raises
    ------
    XlfactorError
        If the folder is missing or empty, or stores too few days for ``period``.

    Examples
    --------
    Record the last seven days of the demo for a two-name book, then attribute the week:

    >>> import tempfile
    >>> import pandas as pd
    >>> import xlfactor as xf
    >>> from xlfactor.reporting import record_day
    >>> snap = xf.load_snapshot()
    >>> book = pd.DataFrame({"ticker": ["SIM0001", "SIM0002"], "value": [6e5, 4e5]})
    >>> folder = tempfile.mkdtemp()
    >>> for day in snap.factor_returns.index[-7:]:
    ...     _ = record_day(book, folder, snap, str(day))
    >>> week = xf.track_attribution(folder, "1W")
    >>> week["reconciliation"].attrs["days"], "linking_residual" in set(week["reconciliation"].index)
    (7, True)
    """
    folder = None if isinstance(track_folder, dict) else track_folder
    tables = track_folder if isinstance(track_folder, dict) else load_track(track_folder)
    track = tables["track"]
    dates = period_dates(track, period, folder)
    label = {k.lower(): k for k, _ in PERIODS}[str(period).strip().lower()]
    days = len(dates)
    in_period = track[track["date"].isin(dates)]
    factors = tables["factor_contrib"]
    factors = factors[factors["date"].isin(dates)]
    names = tables["idiosyncratic_returns"]
    names = names[names["date"].isin(dates)]

    portfolio = float(in_period["portfolio_return"].sum())
    benchmark = float(in_period["benchmark_return"].sum())
    active = float(in_period["active_return"].sum())
    by_family = factors.groupby("family")["contribution"].sum()
    idiosyncratic = float(names["contribution"].sum())
    rows = {family: float(by_family.get(family, 0.0)) for family in ATTRIBUTION_FAMILIES}
    rows["idiosyncratic"] = idiosyncratic
    other = set(by_family.index) - set(ATTRIBUTION_FAMILIES)
    explained = sum(rows.values()) + float(by_family[list(other)].sum())
    compounded_p = float(np.prod(1 + in_period["portfolio_return"].to_numpy(float)) - 1)
    compounded_b = float(np.prod(1 + in_period["benchmark_return"].to_numpy(float)) - 1)
    summed = f"sum of {days} daily arithmetic returns"
    lines = [("portfolio", portfolio, summed), ("benchmark", benchmark, summed)]
    lines += [(name, value, summed) for name, value in rows.items()]
    lines += [(family, float(by_family[family]), summed) for family in sorted(other)]
    lines += [
        ("unexplained", active - explained, "stored active return minus the rows above"),
        ("active", active, summed + " (portfolio - benchmark)"),
        ("compounded_portfolio", compounded_p, f"compounded over {days} days"),
        ("compounded_benchmark", compounded_b, f"compounded over {days} days"),
        ("compounded_active", compounded_p - compounded_b, "compounded portfolio - compounded benchmark"),
        ("linking_residual", compounded_p - compounded_b - active, "compounded active - summed active"),
    ]
    reconciliation = pd.DataFrame(lines, columns=["component", "return", "basis"]).set_index("component")
    reconciliation.insert(1, "pct_active", reconciliation["return"] / active if active else np.nan)
    reconciliation.loc[["portfolio", "benchmark", "compounded_portfolio", "compounded_benchmark"], "pct_active"] = np.nan

    grouped = factors.groupby("factor", sort=False)
    contributors = pd.DataFrame(
        {
            "group": grouped["family"].first(),
            "label": grouped["label"].first() if "label" in factors else grouped["family"].first(),
            "contribution": grouped["contribution"].sum(),
            "te_share": grouped["te_share"].sum() / days if "te_share" in factors else np.nan,
        }
    ).reset_index()
    contributors.insert(4, "pct_active", contributors["contribution"] / active if active else np.nan)
    contributors = contributors[["group", "factor", "label", "contribution", "pct_active", "te_share"]]
    contributors = contributors.reindex(contributors["contribution"].abs().sort_values(ascending=False, kind="stable").index)

    by_name = names.groupby("ticker", sort=False).agg(weight=("weight", "sum"), contribution=("contribution", "sum"))
    by_name["weight"] = by_name["weight"] / days
    by_name = by_name.rename(columns={"weight": "avg_weight"}).reset_index()
    by_name["pct_idiosyncratic"] = by_name["contribution"] / idiosyncratic if idiosyncratic else np.nan
    by_name = by_name.reindex(by_name["contribution"].abs().sort_values(ascending=False, kind="stable").index)

    result = {
        "reconciliation": reconciliation,
        "contributors": contributors.reset_index(drop=True),
        "names": by_name.reset_index(drop=True),
    }
    for frame in result.values():
        frame.attrs.update(period=label, days=days, start=dates[0], end=dates[-1])
    return result


def period_attributions(tables: dict[str, pd.DataFrame]) -> dict[str, dict[str, pd.DataFrame]]:
    """:func:`track_attribution` of every available period of the tables (period -> tables)."""
    days = tables["track"]["date"].nunique() if len(tables["track"]) else 0
    return {label: track_attribution(tables, label) for label in available_periods(days)}


def report_json(date: str, report: dict[str, pd.DataFrame]) -> dict:
    """The complete report of one date as JSON-ready data (``days/<date>/report.json``).

    ``{"date", "schema_version", "tables": {key: {"index_name", "columns", "index", "data", "attrs"}}}``
    with NaN as null; :func:`read_day_report` reads it back.
    """
    tables = {}
    for key, frame in report.items():
        split = json.loads(frame.to_json(orient="split", double_precision=15, default_handler=str))
        tables[key] = {"index_name": frame.index.name, **split, "attrs": json.loads(json.dumps(frame.attrs, default=str))}
    return {"date": date, "schema_version": TRACK_VERSION, "tables": tables}


def read_day_report(track_folder: str | Path, date: str) -> dict[str, pd.DataFrame]:
    """The report tables stored in ``days/<date>/report.json`` of a track folder."""
    path = Path(track_folder) / "days" / str(date) / "report.json"
    if not path.is_file():
        raise XlfactorError(f"{path} does not exist: no report stored for {date}")
    try:
        content = json.loads(path.read_text())
        report = {}
        for key, table in content["tables"].items():
            frame = pd.DataFrame(table["data"], columns=table["columns"], index=table["index"])
            frame.index.name = table.get("index_name")
            report[key] = frame
    except (ValueError, KeyError, TypeError) as exc:
        raise XlfactorError(f"{path} is not a report.json ({exc})") from None
    return report


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
    staging = make_temp_folder(days, f".{day.date}.", days / day.date)
    try:
        for key, name in TABLES.items():
            safe_frame(day.tables[key]).to_csv(staging / name, index=False)  # user text never a formula
        summary = day.tables["track"].iloc[0].to_dict()
        (staging / "summary.json").write_text(json.dumps(summary, default=str, indent=2) + "\n")
        if day.report is not None:
            (staging / "report.json").write_text(json.dumps(report_json(day.date, day.report), indent=1) + "\n")
        replace_folder(staging, days / day.date)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def _rebuild_aggregates(history: Path, write: bool = True) -> dict[str, pd.DataFrame]:
    day_dirs = sorted(p for p in (history / "days").glob("*") if p.is_dir() and not p.name.startswith("."))
    tables = {}
    if write:
        (history / AGGREGATES_MARKER).unlink(missing_ok=True)  # until the new files are all in place
    for key, name in TABLES.items():
        frames = [_read_csv(d / name, key) for d in day_dirs if (d / name).is_file()]
        frame = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=["date"])
        frame["date"] = frame["date"].astype(str)
        tables[key] = frame
        if write:
            atomic_write(history / name, lambda handle, f=frame: handle.write(safe_frame(f).to_csv(index=False).encode()))
    if write:
        marker = {"days": [d.name for d in day_dirs], "files": {name: _digest(history / name) for name in TABLES.values()}}
        atomic_write(history / AGGREGATES_MARKER, lambda handle: handle.write((json.dumps(marker, indent=1) + "\n").encode()))
    return tables


def _digest(path: Path) -> str | None:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return None


def _read_csv(path: Path, key: str | None = None) -> pd.DataFrame:
    try:
        frame = pd.read_csv(path, keep_default_na=False, na_values=[""])  # a ticker NA stays a ticker
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        detail = " ".join(str(exc).split())
        raise XlfactorError(f"cannot read {path}: {detail}") from None
    if "date" not in frame:
        raise XlfactorError(f"{path} has no date column")
    for column in NUMERIC_COLUMNS.get(key, ()):
        if column in frame and not pd.api.types.is_numeric_dtype(frame[column]):
            values = pd.to_numeric(frame[column], errors="coerce")
            text = values.isna() & frame[column].notna()
            if text.any():
                row = int(np.argmax(text.to_numpy()))
                raise XlfactorError(
                    f"{path}: column {column} has the text {str(frame[column].iloc[row])[:40]!r} on data row {row + 1}, not a "
                    "number (fix it, or delete that day's folder and record it again)"
                )
            frame[column] = values
    return frame


@contextlib.contextmanager
def history_lock(history: str | Path, timeout: float | None = None) -> Iterator[None]:
    """Hold the exclusive lock of a track folder (other runs wait up to ``timeout`` seconds).

    An OS file lock (:class:`filelock.FileLock` on ``<history>/.lock``): the kernel releases
    it when its process ends, so a run killed with ``kill -9`` never blocks the next one.

    Raises
    ------
    XlfactorError
        If another live run still holds the lock after ``timeout`` (default
        :data:`LOCK_TIMEOUT_SECONDS`).
    """
    import filelock

    history = Path(history)
    try:
        history.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise write_error(history, exc) from None
    wait = LOCK_TIMEOUT_SECONDS if timeout is None else timeout
    lock = filelock.FileLock(history / ".lock", timeout=wait)
    try:
        lock.acquire()
    except filelock.Timeout:
        raise XlfactorError(f"{history} is locked by another run still working on it (waited {wait:g} s)") from None
    try:
        yield
    finally:
        lock.release()


