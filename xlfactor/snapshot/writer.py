"""Write a :class:`Snapshot` as an OpenFactor-layout folder, atomically, with a manifest.

Floats are written at full precision (OpenFactor's 6-decimal rounding breaks the
covariance; see the study).
"""

from __future__ import annotations

import json
import shutil
import zlib
from itertools import repeat
from pathlib import Path

import numpy as np
import pandas as pd

from xlfactor._files import make_temp_folder, replace_folder, write_error, written_path
from xlfactor._json import to_plain
from xlfactor.conventions import MARKET_FACTOR
from xlfactor.errors import FileWriteError
from xlfactor.snapshot import layout
from xlfactor.snapshot.manifest import write_manifest
from xlfactor.snapshot.snapshot import Snapshot

_OPENFACTOR_GROUP = {"style": "style", "sector": "sector", "industry": "industry"}


def write_snapshot(snapshot: Snapshot, folder: str | Path) -> Path:
    """Write ``snapshot`` to ``folder`` in the OpenFactor layout plus ``manifest.json``.

    The files are written into a temporary sibling folder that is renamed into place only
    once complete, so a crash never leaves a half-written snapshot at ``folder``. An
    existing snapshot ``folder`` is replaced; any other non-empty folder is refused. Files
    and folders get normal permissions (the umask's).

    Parameters
    ----------
    snapshot : Snapshot
        The model to write.
    folder : str or Path
        Target folder (created, or an existing snapshot folder replaced).

    Returns
    -------
    Path
        The folder written; ``load_snapshot(folder)`` reads it back.

    Raises
    ------
    FileWriteError
        If ``folder`` is a file, a non-empty folder that is not a snapshot, or cannot be written.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> import xlfactor as xf
    >>> snap = xf.load_snapshot()
    >>> folder = xf.write_snapshot(snap, Path(tempfile.mkdtemp()) / "demo")
    >>> (folder / "metadata.json").is_file(), xf.load_snapshot(folder).as_of == snap.as_of
    (True, True)
    """
    return finish_snapshot(stage_snapshot(snapshot, folder), folder)


def stage_snapshot(snapshot: Snapshot, folder: str | Path) -> Path:
    """The first half of :func:`write_snapshot`: the files, without a manifest, in a new hidden folder beside ``folder``.

    Returns that folder; :func:`finish_snapshot` completes it (a quality report can be
    added then) and moves it into place. Nothing is visible at ``folder`` before. A
    ``folder`` that is a symbolic link stages beside its target (written; the link stays).
    """
    folder = written_path(folder)
    refuse_target(folder)  # before the work
    staging = make_temp_folder(folder.parent, f".{folder.name}.staged-", folder)
    try:
        write_files(snapshot, staging)
    except OSError as exc:
        shutil.rmtree(staging, ignore_errors=True)
        raise write_error(folder, exc) from None
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return staging


def finish_snapshot(staging: Path, folder: str | Path, quality: dict | None = None) -> Path:
    """The second half of :func:`write_snapshot`: add ``quality`` (if given) and the manifest to ``staging``, move it to ``folder``.

    ``staging`` is gone afterwards, moved or (on failure) removed. A ``folder`` that is a
    symbolic link is written through: its target is replaced, the link stays.
    """
    given = Path(folder)
    folder = written_path(given)
    try:
        refuse_target(folder)  # again: the folder may have changed while the files were written
        if quality is not None:
            write_quality(staging, quality)
        write_manifest(staging)
        replace_folder(staging, folder)
    except OSError as exc:
        raise write_error(folder, exc) from None
    finally:
        shutil.rmtree(staging, ignore_errors=True)  # already moved, or the leftovers of a failure
    return given


def write_files(snapshot: Snapshot, folder: Path) -> None:
    """Write every layout file of ``snapshot`` into an existing ``folder``."""
    (folder / "details").mkdir(exist_ok=True)
    as_of = snapshot.as_of
    metadata = {k: v for k, v in snapshot.metadata.items() if k != "source"}
    (folder / layout.METADATA).write_text(json.dumps(metadata, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    tickers = snapshot.tickers
    universe = pd.DataFrame({"as_of_date": as_of, "ticker": tickers, "market_cap": snapshot.market_cap})
    if snapshot.names is not None:
        universe["name"] = snapshot.names
    universe.to_csv(folder / layout.UNIVERSE, index=False)
    long = exposures_long_frame(snapshot, snapshot.exposures, snapshot.raw_exposures, as_of)
    long.to_csv(folder / layout.EXPOSURES_LONG, index=False)
    wide = pd.DataFrame(np.nan_to_num(snapshot.exposures), columns=snapshot.factor_names)
    wide = wide.drop(columns=[MARKET_FACTOR], errors="ignore")
    wide.insert(0, "ticker", tickers)
    wide.insert(0, "as_of_date", as_of)
    wide.to_csv(folder / layout.EXPOSURES_WIDE, index=False)
    covariance = pd.DataFrame(snapshot.factor_covariance, index=snapshot.factor_names, columns=snapshot.factor_names)
    covariance.index.name = "factor"
    covariance.to_csv(folder / layout.FACTOR_COVARIANCE)
    if snapshot.factor_covariance_1d is not None:
        daily = pd.DataFrame(snapshot.factor_covariance_1d, index=snapshot.factor_names, columns=snapshot.factor_names)
        daily.index.name = "factor"
        daily.to_csv(folder / layout.FACTOR_COVARIANCE_DAILY)
    idiosyncratic = {"ticker": tickers, "idiosyncratic_risk": snapshot.idiosyncratic_risk, "observations": snapshot.idiosyncratic_observations}
    if snapshot.idiosyncratic_risk_1d is not None:
        idiosyncratic["idiosyncratic_risk_daily"] = snapshot.idiosyncratic_risk_1d
    pd.DataFrame(idiosyncratic).to_csv(folder / layout.IDIOSYNCRATIC_RISK, index=False)
    snapshot.factor_returns.to_csv(folder / layout.FACTOR_RETURNS, index_label="date")
    _long_returns(snapshot.residual_returns, "residual_return").to_csv(folder / layout.RESIDUAL_RETURNS, index=False)
    if snapshot.exposure_panel is not None:
        write_exposure_panel(snapshot, folder / layout.EXPOSURES_PANEL)
    if snapshot.scenarios is not None and len(snapshot.scenarios):
        snapshot.scenarios.to_csv(folder / layout.SCENARIOS, index=False)
    if snapshot.quality is not None:
        write_quality(folder, snapshot.quality)
    if snapshot.indexes is not None:
        snapshot.indexes.to_csv(folder / layout.INDEXES, index=False)
    if snapshot.index_prices is not None:
        snapshot.index_prices.to_csv(folder / layout.INDEX_PRICES, index=False)
    if snapshot.index_returns is not None:
        _long_returns(snapshot.index_returns, "return").to_csv(folder / layout.INDEX_RETURNS, index=False)


def refuse_target(folder: Path) -> None:
    """Refuse to replace a file, or a non-empty folder that is not a snapshot (:class:`FileWriteError`)."""
    if folder.is_file():
        raise FileWriteError(str(folder), "is a file, not a folder")
    if folder.is_dir() and any(folder.iterdir()) and not (
        (folder / layout.METADATA).is_file() or (folder / layout.MANIFEST).is_file()
    ):
        raise FileWriteError(str(folder), "is a folder that is not a snapshot (not replaced); choose an empty or new folder")


def write_quality(folder: Path, report: dict) -> None:
    """``quality.json``: the report with sorted keys, indented, plain JSON types."""
    text = json.dumps(report, indent=2, sort_keys=True, default=to_plain)
    (folder / layout.QUALITY).write_text(text + "\n", encoding="utf-8")


def write_exposure_panel(snapshot: Snapshot, path: Path) -> None:
    """``details/exposures_panel.csv.gz``: the long rows of every panel date, compressed one date at a time.

    The text of the whole panel (64 dates x names x factors rows) is never held at once;
    the bytes are those of ``gzip.compress(whole_text, 6, mtime=0)`` (zlib's gzip framing,
    fed block by block), where ``whole_text`` is what ``DataFrame.to_csv`` writes for the
    :func:`exposures_long_frame` of each date. Each date's text is joined in C from cells
    formatted once per name and per factor, with the values in Python's shortest
    round-trip form (what pandas writes); the per-row formatting of ``to_csv`` was most of
    the time of writing a 3,000-name snapshot (0.21 s a date against 0.06 s now).
    """
    packer = zlib.compressobj(6, zlib.DEFLATED, 31)  # wbits 31: gzip header and trailer, no name or time
    names = np.array([_csv_cell(t) + "," for t in snapshot.tickers], dtype=object)
    group_of = {**_OPENFACTOR_GROUP, "market": ""}  # market rows are never written; an unknown group is a KeyError
    factors = np.array(
        [f"{_csv_cell(f)},{_csv_cell(group_of[g])}," for f, g in zip(snapshot.factor_names, snapshot.factor_groups)],
        dtype=object,
    )
    with open(path, "wb") as handle:
        for d, date in enumerate(snapshot.exposure_panel.dates):
            exposures = snapshot.exposure_panel.values[d]
            rows, cols = _long_cells(snapshot.factor_groups, exposures)
            lines = zip(repeat(_csv_cell(str(date)) + ","), names[rows], factors[cols], map(repr, exposures[rows, cols].tolist()), repeat(",\n"))
            text = ("" if d else ",".join(_LONG_COLUMNS) + "\n") + "".join(map("".join, lines))  # the raw value is empty
            handle.write(packer.compress(text.encode()))
        handle.write(packer.flush())


def _csv_cell(text: str) -> str:
    """``text`` as one CSV field with minimal quoting (as pandas and the csv module write it).

    >>> _csv_cell("Hotels, Restaurants & Leisure"), _csv_cell('5" disk'), _csv_cell("AAPL")
    ('"Hotels, Restaurants & Leisure"', '"5"" disk"', 'AAPL')
    """
    text = str(text)
    if any(c in text for c in ',"\n'):  # pandas' writer (line end "\n") leaves a lone "\r" unquoted
        return '"' + text.replace('"', '""') + '"'
    return text


_LONG_COLUMNS = ("as_of_date", "ticker", "factor", "group", "value", "raw_value")


def _long_cells(groups: np.ndarray, exposures: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(rows, columns) of the long rows: no market, sector and industry members only, styles where not NaN."""
    member = np.isin(groups, ("sector", "industry"))
    keep = ~np.isnan(exposures) & (groups != "market")
    keep &= ~member | (exposures != 0)
    return np.nonzero(keep)


def exposures_long_frame(
    snapshot: Snapshot, exposures: np.ndarray, raw_exposures: np.ndarray | None, as_of: str
) -> pd.DataFrame:
    """Long rows (as_of_date, ticker, factor, group, value, raw_value) without market rows.

    Sector and industry factors appear only as member rows (value 1), styles wherever
    the value is not NaN.
    """
    groups = snapshot.factor_groups
    rows, cols = _long_cells(groups, exposures)
    values = (as_of, snapshot.tickers[rows], snapshot.factor_names[cols], [_OPENFACTOR_GROUP[g] for g in groups[cols]],
              exposures[rows, cols], np.nan if raw_exposures is None else raw_exposures[rows, cols])  # fmt: skip
    return pd.DataFrame(dict(zip(_LONG_COLUMNS, values)))


def _long_returns(wide: pd.DataFrame, column: str) -> pd.DataFrame:
    stacked = wide.stack(future_stack=True).dropna()
    frame = stacked.rename(column).reset_index()
    frame.columns = ["date", "ticker", column]
    return frame
