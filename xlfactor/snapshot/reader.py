"""Read an OpenFactor-layout snapshot folder into a :class:`Snapshot`.

All parsing and validation happens here, once; the arrays that come out are clean.
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from xlfactor.conventions import MARKET_FACTOR, factor_group, normalize_tickers
from xlfactor.errors import SnapshotError
from xlfactor.snapshot import layout
from xlfactor.snapshot.manifest import verify_manifest
from xlfactor.snapshot.snapshot import ExposurePanel, Snapshot
from xlfactor.snapshot.limits import DecompressedTooLarge, SourceLimits, format_bytes, gunzip_within
from xlfactor.snapshot.validation import (
    MAX_DAILY_ASSET_RETURN,
    MAX_DAILY_FACTOR_RETURN,
    MAX_EXPOSURE,
    check_factor_covariance,
    check_magnitude,
    check_metadata,
    check_not_cut,
    check_scenarios,
    check_volatility,
    numeric_column,
    numeric_frame,
    require_columns,
    require_finite,
)


def read_snapshot_folder(folder: str | Path, source: str | None = None, limits: SourceLimits | None = None) -> Snapshot:
    """Read and validate the snapshot files in ``folder``.

    Parameters
    ----------
    folder : str or Path
        A folder in the OpenFactor snapshot layout (see :mod:`xlfactor.snapshot.layout`).
    source : str, optional
        Where the folder came from (URL or path), recorded in ``metadata["source"]``.
    limits : SourceLimits, optional
        Size caps per file, decompressed size included (default: :meth:`SourceLimits.from_env`).

    Raises
    ------
    SnapshotError
        Naming the file and the problem: a required file missing, a truncated CSV, an
        unknown factor in the covariance, a non-symmetric or non-finite covariance,
        tickers without idiosyncratic risk, text or infinite numbers, negative or
        implausible risks, metadata that disagrees with universe.csv, a file cut at a
        line boundary, a file over its size cap, ...
    """
    folder = Path(folder)
    limits = limits or SourceLimits.from_env()

    def read(name: str, index_col: int | None = None) -> pd.DataFrame:
        return read_csv_file(folder, name, index_col, limits)

    _check_folder(folder)
    diagnostics: dict[str, Any] = {}
    metadata = _read_metadata(folder / layout.METADATA)
    universe = read(layout.UNIVERSE)
    check_metadata(metadata, universe)
    tickers = _normalized(universe["ticker"])
    if len(set(tickers)) != len(tickers):
        raise SnapshotError(layout.UNIVERSE, "duplicate tickers")

    factor_names, covariance = _covariance(read(layout.FACTOR_COVARIANCE, index_col=0))
    covariance, note = check_factor_covariance(covariance, factor_names)
    diagnostics.update(note)
    exposures, raw = _exposure_matrix(read(layout.EXPOSURES_LONG), layout.EXPOSURES_LONG, tickers, factor_names, diagnostics)
    idiosyncratic_values, observations, idiosyncratic_1d = _idiosyncratic_columns(read(layout.IDIOSYNCRATIC_RISK), tickers)
    covariance_1d = _one_day_covariance(folder, read, factor_names)
    market_cap = _market_cap(universe, tickers, raw, factor_names)
    no_cap = ~(np.isfinite(market_cap) & (market_cap > 0))
    if no_cap.any():
        shown = ", ".join(np.asarray(tickers)[no_cap][:5])
        diagnostics["no_market_cap"] = f"{int(no_cap.sum())} names without a market cap have no benchmark weight ({shown})"

    factor_returns = _factor_returns(read(layout.FACTOR_RETURNS, index_col=0), factor_names, diagnostics)
    residual_returns = _wide_returns(
        read(layout.RESIDUAL_RETURNS), layout.RESIDUAL_RETURNS, "residual_return", tickers,
        last_factor_date=str(factor_returns.index[-1]) if len(factor_returns.index) else None,
    )  # fmt: skip
    optional = _optional_tables(folder, read, tickers, factor_names, diagnostics)

    metadata.setdefault("as_of_date", str(universe["as_of_date"].iloc[0]) if "as_of_date" in universe else "")
    metadata["source"] = source or str(folder)
    metadata.setdefault("simulated", False)
    return Snapshot(
        metadata=metadata,
        tickers=np.asarray(tickers),
        factor_names=np.asarray(factor_names),
        factor_groups=np.asarray([factor_group(f) for f in factor_names]),
        exposures=exposures,
        raw_exposures=raw,
        market_cap=market_cap,
        factor_covariance=covariance,
        idiosyncratic_risk=idiosyncratic_values,
        idiosyncratic_observations=observations,
        factor_returns=factor_returns,
        residual_returns=residual_returns,
        diagnostics=diagnostics,
        names=_company_names(universe),
        factor_covariance_1d=covariance_1d,
        idiosyncratic_risk_1d=idiosyncratic_1d,
        **optional,
    )


def _check_folder(folder: Path) -> None:
    """A folder holding every required file, and matching its manifest when it has one."""
    if not folder.is_dir():
        raise SnapshotError(str(folder), "is not a folder")
    for name in layout.REQUIRED_FILES:
        if not (folder / name).is_file():
            raise SnapshotError(name, f"required file missing in {folder}")
    if (folder / layout.MANIFEST).is_file():
        problem = verify_manifest(folder)
        if problem is not None:
            raise SnapshotError(layout.MANIFEST, f"{problem} (corrupt or partial snapshot)")


def _idiosyncratic_columns(idiosyncratic: pd.DataFrame, tickers: list[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """idiosyncratic_risk.csv in universe order: risk, observations and the one-day risk (None if absent), checked."""
    file_tickers = _normalized(idiosyncratic["ticker"])

    def column(name: str) -> pd.Series:
        return pd.Series(pd.to_numeric(idiosyncratic[name], errors="coerce").to_numpy(), index=file_tickers)

    risk = column("idiosyncratic_risk")
    if risk.index.duplicated().any():
        raise SnapshotError(layout.IDIOSYNCRATIC_RISK, "duplicate tickers")
    absent = [t for t in tickers if t not in risk.index]
    if absent:
        raise SnapshotError(
            layout.IDIOSYNCRATIC_RISK,
            f"{len(absent)} tickers in exposures have no idiosyncratic risk ({', '.join(absent[:5])})",
        )
    values = risk.reindex(tickers).to_numpy(dtype=float)
    require_finite(values, layout.IDIOSYNCRATIC_RISK, "idiosyncratic_risk values", tickers)
    check_volatility(values, layout.IDIOSYNCRATIC_RISK, "idiosyncratic_risk values", np.asarray(tickers))
    if "observations" in idiosyncratic.columns:
        observations = column("observations").reindex(tickers).to_numpy(dtype=float)
    else:
        observations = np.full(len(tickers), np.nan)
    one_day = None
    if "idiosyncratic_risk_daily" in idiosyncratic.columns:  # the one-day forecast's published column name
        one_day = column("idiosyncratic_risk_daily").reindex(tickers).to_numpy(dtype=float)
        require_finite(one_day, layout.IDIOSYNCRATIC_RISK, "idiosyncratic_risk_daily values", tickers)
        check_volatility(one_day, layout.IDIOSYNCRATIC_RISK, "idiosyncratic_risk_daily values", np.asarray(tickers))
    return values, observations, one_day


def _one_day_covariance(folder: Path, read, factor_names: list[str]) -> np.ndarray | None:
    """factor_covariance_daily.csv (the one-day forecast), in the main covariance's factor order; None if absent."""
    if not (folder / layout.FACTOR_COVARIANCE_DAILY).is_file():
        return None
    name = layout.FACTOR_COVARIANCE_DAILY
    one_day_names, covariance = _covariance(read(name, index_col=0), name)
    if list(one_day_names) != list(factor_names):
        raise SnapshotError(name, "factors differ from factor_covariance.csv")
    covariance, _ = check_factor_covariance(covariance, factor_names, name)
    return covariance


def _optional_tables(folder: Path, read, tickers: list[str], factor_names: list[str], diagnostics: dict[str, Any]) -> dict[str, Any]:
    """The optional files a snapshot may carry, as Snapshot fields (None when absent)."""

    def present(name: str) -> bool:
        return (folder / name).is_file()

    quality = None
    if present(layout.QUALITY):
        try:
            quality = json.loads((folder / layout.QUALITY).read_text(encoding="utf-8"))
        except ValueError as exc:
            raise SnapshotError(layout.QUALITY, f"not valid JSON ({exc})") from None
    return {
        "exposure_panel": _exposure_panel(read(layout.EXPOSURES_PANEL), tickers, factor_names, diagnostics) if present(layout.EXPOSURES_PANEL) else None,
        "indexes": read(layout.INDEXES) if present(layout.INDEXES) else None,
        "index_prices": read(layout.INDEX_PRICES) if present(layout.INDEX_PRICES) else None,
        "index_returns": _wide_returns(read(layout.INDEX_RETURNS), layout.INDEX_RETURNS, "return", None) if present(layout.INDEX_RETURNS) else None,
        "scenarios": check_scenarios(read(layout.SCENARIOS)) if present(layout.SCENARIOS) else None,
        "quality": quality,
    }


def _company_names(universe: pd.DataFrame) -> np.ndarray | None:
    """Company names from universe.csv's optional ``name`` column (blank cells become '')."""
    for column in ("name", "company_name"):
        if column in universe.columns:
            return universe[column].fillna("").astype(str).str.strip().to_numpy(dtype=str)
    return None


def _read_metadata(path: Path) -> dict[str, Any]:
    try:
        metadata = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise SnapshotError(layout.METADATA, f"not valid JSON ({exc})") from None
    if not isinstance(metadata, dict):
        raise SnapshotError(layout.METADATA, "must hold a JSON object")
    return metadata


def read_csv_file(folder: Path, name: str, index_col: int | None, limits: SourceLimits) -> pd.DataFrame:
    """Read one CSV, refusing empty, truncated (a last line without its newline) or oversized files.

    ``.gz`` files are decompressed up to ``limits.max_decompressed_bytes``: a gzip bomb
    is refused there, with memory bounded by that cap.
    """
    path = folder / name
    size = path.stat().st_size
    if size > limits.max_file_bytes:
        raise SnapshotError(name, f"{format_bytes(size)}, over the {format_bytes(limits.max_file_bytes)} size cap "
                            "(raise it with XLFACTOR_MAX_FILE_BYTES)")
    data = path.read_bytes()
    if name.endswith(".gz"):
        import zlib

        try:
            data = gunzip_within(data, limits.max_decompressed_bytes)
        except DecompressedTooLarge as exc:
            raise SnapshotError(name, f"{exc} (raise it with XLFACTOR_MAX_DECOMPRESSED_BYTES)") from None
        except (OSError, EOFError, zlib.error) as exc:
            raise SnapshotError(name, f"corrupt gzip ({exc})") from None
    if not data.strip():
        raise SnapshotError(name, "is empty")
    if not data.endswith(b"\n"):
        raise SnapshotError(name, "is truncated (the last line is incomplete)")
    try:
        # Only an empty cell is missing: "NA" is a ticker and "n/a" or "#N/A" is text, not a number.
        frame = pd.read_csv(io.BytesIO(data), index_col=index_col, keep_default_na=False, na_values=[""])
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError) as exc:
        raise SnapshotError(name, f"cannot be parsed ({str(exc).splitlines()[0]})") from None
    if frame.empty:
        raise SnapshotError(name, "has no rows")
    require_columns(frame.columns, name)
    return frame


def _normalized(column: pd.Series) -> list[str]:
    return normalize_tickers(column).tolist()


def _covariance(frame: pd.DataFrame, file: str = layout.FACTOR_COVARIANCE) -> tuple[list[str], np.ndarray]:
    rows = [str(r) for r in frame.index]
    columns = [str(c) for c in frame.columns]
    if sorted(rows) != sorted(columns) or len(set(rows)) != len(rows):
        raise SnapshotError(file, "row and column factors differ (not a square factor matrix)")
    values = frame.apply(pd.to_numeric, errors="coerce")[rows].to_numpy(dtype=float)
    return rows, values


def _exposure_matrix(
    long: pd.DataFrame, file: str, tickers: list[str], factor_names: list[str], diagnostics: dict[str, Any]
) -> tuple[np.ndarray, np.ndarray]:
    """Pivot long exposure rows into (n_assets, n_factors) value and raw-value matrices."""
    rows_tickers = np.asarray(_normalized(long["ticker"]))
    factors = long["factor"].astype(str).str.strip().to_numpy()
    values, blank = _numeric_cells(long["value"], file, "style exposure values", rows_tickers, factors)
    check_magnitude(values, MAX_EXPOSURE, file, "exposure values", lambda: _pairs(rows_tickers, factors))
    if "raw_value" in long.columns:
        raw_values, _ = _numeric_cells(long["raw_value"], file, "raw_value cells", rows_tickers, factors)
    else:
        raw_values = np.full(len(long), np.nan)
    ticker_index = pd.Index(tickers)
    factor_index = pd.Index(factor_names)
    t_pos = ticker_index.get_indexer(rows_tickers)
    if (t_pos < 0).any():
        extra = sorted(set(rows_tickers[t_pos < 0]))
        raise SnapshotError(file, f"{len(extra)} tickers not in {layout.UNIVERSE} ({', '.join(extra[:5])})")
    f_pos = factor_index.get_indexer(factors)
    exposed = set(factors)
    unknown = [f for f in factor_names if f != MARKET_FACTOR and f not in exposed]
    if unknown:
        raise SnapshotError(
            layout.FACTOR_COVARIANCE, f"unknown factor(s) with no exposure rows: {', '.join(unknown[:5])}"
        )
    if (f_pos < 0).any():
        dropped = sorted(set(factors[f_pos < 0]))
        diagnostics["factors_without_covariance"] = (
            f"{len(dropped)} exposure factors absent from the covariance carry no risk: {', '.join(dropped[:5])}"
        )
    keep = f_pos >= 0
    member = np.array([factor_group(f) in ("sector", "industry") for f in factor_names])
    style_rows = keep & ~member[np.where(keep, f_pos, 0)]
    blank_member = keep & blank & ~style_rows
    if blank_member.any():
        raise SnapshotError(file, f"{int(blank_member.sum())} blank sector/industry member values "
                            f"({_cells_text(rows_tickers[blank_member], factors[blank_member])})")
    seen = np.zeros((len(tickers), len(factor_names)), dtype=np.int64)
    np.add.at(seen, (t_pos[keep], f_pos[keep]), 1)
    if (seen > 1).any():
        raise SnapshotError(file, "duplicate (ticker, factor) rows")
    exposures = np.full((len(tickers), len(factor_names)), np.nan)
    exposures[:, member] = 0.0
    exposures[t_pos[keep], f_pos[keep]] = values[keep]
    raw = np.full_like(exposures, np.nan)
    raw[t_pos[keep], f_pos[keep]] = raw_values[keep]
    present = np.zeros(exposures.shape, dtype=bool)
    present[t_pos[keep], f_pos[keep]] = True
    if MARKET_FACTOR in factor_index:
        exposures[:, factor_index.get_loc(MARKET_FACTOR)] = 1.0
        present[:, factor_index.get_loc(MARKET_FACTOR)] = True
    no_rows = np.ones(len(tickers), dtype=bool)
    no_rows[t_pos] = False
    if no_rows.any():
        missing = np.asarray(tickers)[no_rows]
        raise SnapshotError(file, f"{len(missing)} universe tickers have no exposure rows ({', '.join(missing[:5])})")
    style = np.asarray([factor_group(f) == "style" for f in factor_names])
    blank_counts = _per_factor(factors[style_rows & blank])
    if blank_counts:
        diagnostics["blank_style_exposures"] = blank_counts
    absent = ~present & style
    if absent.any():
        names = np.asarray(factor_names)
        diagnostics["missing_style_exposures"] = {
            str(names[j]): int(absent[:, j].sum()) for j in np.nonzero(absent.any(axis=0))[0]
        }
    return exposures, raw


def _numeric_cells(
    column: pd.Series, file: str, what: str, tickers: np.ndarray, factors: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Numbers of a value column and its blank cells; text or infinite values are refused.

    Blank cells (empty, whitespace or ``nan``) come back as NaN with
    ``blank`` True; any other cell that is not a finite number raises, naming each
    ticker once with its factors.
    """
    values = pd.to_numeric(column, errors="coerce").to_numpy(dtype=float, copy=True)
    blank = column.isna().to_numpy()
    if column.dtype == object:
        blank |= column.astype(str).str.strip().str.lower().isin(["", "nan"]).to_numpy()
    bad = ~blank & ~np.isfinite(values)
    if bad.any():
        raise SnapshotError(file, f"{int(bad.sum())} non-numeric {what} ({_cells_text(tickers[bad], factors[bad])})")
    values[blank] = np.nan
    return values, blank


def _cells_text(tickers: np.ndarray, factors: np.ndarray, shown: int = 5) -> str:
    """``AAA: momentum, value; BBB: size`` -- each ticker once, at most ``shown`` tickers."""
    by_ticker: dict[str, list[str]] = {}
    for ticker, factor in zip(tickers.tolist(), factors.tolist()):
        names = by_ticker.setdefault(str(ticker), [])
        if factor not in names:
            names.append(str(factor))
    parts = [f"{t}: {', '.join(f)}" for t, f in list(by_ticker.items())[:shown]]
    more = len(by_ticker) - shown
    return "; ".join(parts) + (f"; and {more} more tickers" if more > 0 else "")


def _per_factor(factors: np.ndarray) -> dict[str, int]:
    """How many entries each factor has, by factor name (JSON-ready ints)."""
    names, counts = np.unique(factors.astype(str), return_counts=True)
    return {str(n): int(c) for n, c in zip(names, counts)}


def _market_cap(universe: pd.DataFrame, tickers: list[str], raw: np.ndarray, factor_names: list[str]) -> np.ndarray:
    """Market caps: universe ``market_cap`` if present, else exp(raw_value of ``size``)."""
    if "market_cap" in universe.columns:
        return pd.to_numeric(universe["market_cap"], errors="coerce").to_numpy(dtype=float)
    if "size" in factor_names:
        with np.errstate(over="ignore"):
            return np.exp(raw[:, factor_names.index("size")])
    raise SnapshotError(layout.EXPOSURES_LONG, "no market caps: neither universe market_cap nor a size raw_value")


def _pairs(first: np.ndarray, second: np.ndarray) -> np.ndarray:
    """``"AAA/momentum"`` labels for messages."""
    return np.char.add(np.char.add(np.asarray(first, dtype=str), "/"), np.asarray(second, dtype=str))


def _factor_returns(frame: pd.DataFrame, factor_names: list[str], diagnostics: dict[str, Any]) -> pd.DataFrame:
    frame = numeric_frame(frame, layout.FACTOR_RETURNS)
    check_magnitude(
        frame.to_numpy(), MAX_DAILY_FACTOR_RETURN, layout.FACTOR_RETURNS, "daily factor returns",
        lambda: _pairs(np.repeat(frame.index.astype(str), frame.shape[1]), np.tile(frame.columns.astype(str), len(frame))).reshape(frame.shape),
    )
    frame.index = frame.index.astype(str)
    frame.index.name = "date"
    if not frame.index.is_monotonic_increasing or frame.index.has_duplicates:
        raise SnapshotError(layout.FACTOR_RETURNS, "dates are not strictly increasing")
    absent = [f for f in factor_names if f not in frame.columns]
    if absent:
        diagnostics["factor_returns_missing"] = f"no return history for {', '.join(absent[:5])}"
    return frame.reindex(columns=factor_names)


def _wide_returns(
    long: pd.DataFrame, file: str, column: str, tickers: list[str] | None, last_factor_date: str | None = None
) -> pd.DataFrame:
    """Pivot long (date, ticker, return) rows to a date x ticker frame, refusing text, infinite or implausible returns."""
    dates = long["date"].astype(str).to_numpy()
    names = np.asarray(_normalized(long["ticker"]))
    def labels() -> np.ndarray:
        return _pairs(dates, names)

    values = numeric_column(long[column], file, labels)
    check_magnitude(values, MAX_DAILY_ASSET_RETURN, file, "daily returns", labels)
    if tickers is not None:
        check_not_cut(dates, names, last_factor_date, file)
    date_codes, date_labels = pd.factorize(dates, sort=True)
    if tickers is None:
        name_codes, name_labels = pd.factorize(names, sort=True)
        columns = list(name_labels)
    else:
        name_codes = pd.Index(tickers).get_indexer(names)
        columns = tickers
        keep = name_codes >= 0
        date_codes, name_codes, values = date_codes[keep], name_codes[keep], values[keep]
    wide = np.full((len(date_labels), len(columns)), np.nan)
    wide[date_codes, name_codes] = values
    frame = pd.DataFrame(wide, index=pd.Index(date_labels, name="date"), columns=columns)
    return frame


def _exposure_panel(
    long: pd.DataFrame, tickers: list[str], factor_names: list[str], diagnostics: dict[str, Any]
) -> ExposurePanel:
    dates = long["as_of_date"].astype(str).to_numpy()
    date_codes, date_labels = pd.factorize(dates, sort=True)
    names = np.asarray(_normalized(long["ticker"]))
    t_pos = pd.Index(tickers).get_indexer(names)
    f_pos = pd.Index(factor_names).get_indexer(long["factor"].astype(str).to_numpy())
    factors = long["factor"].astype(str).to_numpy()
    values, blank = _numeric_cells(long["value"], layout.EXPOSURES_PANEL, "exposure values", names, factors)
    check_magnitude(values, MAX_EXPOSURE, layout.EXPOSURES_PANEL, "exposure values", lambda: _pairs(names, factors))
    keep = (t_pos >= 0) & (f_pos >= 0)
    if (t_pos < 0).any():
        diagnostics["panel_tickers_outside_universe"] = f"{len(set(names[t_pos < 0]))} panel tickers ignored"
    blank_counts = _per_factor(factors[keep & blank])
    if blank_counts:
        diagnostics["blank_panel_exposures"] = blank_counts
    panel = np.zeros((len(date_labels), len(tickers), len(factor_names)))
    panel[date_codes[keep], t_pos[keep], f_pos[keep]] = np.nan_to_num(values[keep])
    if MARKET_FACTOR in factor_names:
        present = np.zeros((len(date_labels), len(tickers)), dtype=bool)
        present[date_codes[keep], t_pos[keep]] = True
        panel[:, :, factor_names.index(MARKET_FACTOR)] = present
    return ExposurePanel(dates=np.asarray(date_labels, dtype=str), values=panel)
