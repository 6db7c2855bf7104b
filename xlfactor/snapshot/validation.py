"""Checks applied once when a snapshot is read, and the covariance repair.

Everything here raises :class:`~xlfactor.errors.SnapshotError` naming the file and the
problem, or repairs (the covariance's rounding-level indefiniteness) with a line in the
snapshot's diagnostics. Not everything the reader accepts is complete, though: absent
style scores of the current exposures are kept as NaN and count as neutral (0) in risk,
with only their number in ``diagnostics["missing_style_exposures"]``; absent values of
the exposure panel are read as 0 without a diagnostic. Neither is checked here.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from xlfactor._typing import FloatArray
from xlfactor.errors import SnapshotError
from xlfactor.snapshot import layout

SYMMETRY_TOLERANCE = 1e-9
"""Largest |C - C'| allowed, relative to the largest |C| entry."""

REPAIRABLE_NEGATIVE_EIGENVALUE = 1e-3
"""Negative eigenvalues up to this fraction of the largest one are rounding and get repaired."""

EIGENVALUE_FLOOR = 1e-10
"""Repaired eigenvalues are at least this fraction of the largest one (positive definite)."""


def check_factor_covariance(
    covariance: FloatArray, factor_names: list[str], file: str = layout.FACTOR_COVARIANCE
) -> tuple[FloatArray, dict[str, Any]]:
    """Validate an annualized factor covariance and repair rounding-level indefiniteness.

    Parameters
    ----------
    covariance : ndarray of shape (n_factors, n_factors)
        Annualized factor covariance in decimal^2, as read from the file.
    factor_names : list of str
        Factor ids of the rows (for messages).
    file : str
        The file named in messages (the daily covariance has its own).

    Returns
    -------
    covariance : ndarray of shape (n_factors, n_factors)
        Symmetric positive definite matrix; the input itself when it already was.
    diagnostics : dict
        Empty, or a ``covariance_repair`` entry describing the repair.

    Raises
    ------
    SnapshotError
        If an entry is not finite, the matrix is not symmetric, a variance is not
        positive or implausibly large (a volatility over :data:`MAX_ANNUAL_VOLATILITY`),
        or it is indefinite beyond rounding.
    """
    bad = ~np.isfinite(covariance)
    if bad.any():
        rows = sorted({factor_names[i] for i in np.nonzero(bad)[0]})
        raise SnapshotError(file, f"{int(bad.sum())} non-finite entries (factors {', '.join(rows[:5])})")
    scale = float(np.abs(covariance).max()) or 1.0
    asymmetry = float(np.abs(covariance - covariance.T).max())
    if asymmetry > SYMMETRY_TOLERANCE * scale:
        i, j = np.unravel_index(np.argmax(np.abs(covariance - covariance.T)), covariance.shape)
        raise SnapshotError(
            file, f"not symmetric: [{factor_names[i]}, {factor_names[j]}] differs from its transpose by {asymmetry:.3g}"
        )
    diagonal = np.diag(covariance)
    if (diagonal <= 0).any():
        names = [factor_names[i] for i in np.nonzero(diagonal <= 0)[0]]
        raise SnapshotError(file, f"non-positive variance for {', '.join(names[:5])}")
    too_large = diagonal > MAX_ANNUAL_VOLATILITY**2
    if too_large.any():
        shown = ", ".join(f"{factor_names[i]} {np.sqrt(diagonal[i]):.4g}" for i in np.nonzero(too_large)[0][:5])
        raise SnapshotError(file, f"factor volatility above {MAX_ANNUAL_VOLATILITY:.0%} a year, not plausible ({shown})")
    covariance = (covariance + covariance.T) / 2
    eigenvalues, eigenvectors = np.linalg.eigh(covariance)
    largest = float(eigenvalues[-1])
    floor = EIGENVALUE_FLOOR * largest
    if eigenvalues[0] >= floor:
        return covariance, {}
    if eigenvalues[0] < -REPAIRABLE_NEGATIVE_EIGENVALUE * largest:
        raise SnapshotError(
            file,
            f"indefinite beyond rounding: smallest eigenvalue {eigenvalues[0]:.3g} vs largest {largest:.3g}",
        )
    repaired = nearest_positive_definite(eigenvalues, eigenvectors, floor, diagonal)
    note = {
        "covariance_repair": (
            f"{int((eigenvalues < floor).sum())} eigenvalues below {floor:.2g} (smallest {eigenvalues[0]:.3g}) "
            f"raised to the floor, variances kept; largest entry change {np.abs(repaired - covariance).max():.3g}"
        )
    }
    return repaired, note


def nearest_positive_definite(
    eigenvalues: FloatArray, eigenvectors: FloatArray, floor: float, diagonal: FloatArray
) -> FloatArray:
    """Clip eigenvalues at ``floor`` and rescale so the variances equal ``diagonal``.

    The clipped matrix is the Frobenius-nearest matrix with eigenvalues >= floor; the
    diagonal rescaling ``S C S`` keeps it positive definite and keeps each factor's
    published volatility.
    """
    clipped = (eigenvectors * np.maximum(eigenvalues, floor)) @ eigenvectors.T
    scale = np.sqrt(diagonal / np.diag(clipped))
    repaired = clipped * np.outer(scale, scale)
    return (repaired + repaired.T) / 2


def check_scenarios(frame: pd.DataFrame) -> pd.DataFrame:
    """Validate a scenario library (``scenarios.csv``) and return it with ISO text dates.

    Columns ``name, start`` are required, ``end`` (blank: the start day) and
    ``description`` optional. Names must be unique and not blank, dates valid and
    ``start <= end``.

    Raises
    ------
    SnapshotError
        Naming ``scenarios.csv`` and the first bad row.
    """
    file = layout.SCENARIOS
    names = frame["name"].astype("string").str.strip()
    if names.isna().any() or (names == "").any():
        raise SnapshotError(file, f"blank scenario name in row {int(np.argmax((names.isna() | (names == '')).to_numpy())) + 1}")
    duplicated = names.str.lower().duplicated()
    if duplicated.any():
        raise SnapshotError(file, f"duplicate scenario name {names[duplicated].iloc[0]!r}")
    start = pd.to_datetime(frame["start"], errors="coerce", format="mixed")
    end_text = frame["end"] if "end" in frame.columns else pd.Series(np.nan, index=frame.index)
    end = pd.to_datetime(end_text, errors="coerce", format="mixed").fillna(start)
    bad = start.isna() | (end_text.notna() & pd.to_datetime(end_text, errors="coerce", format="mixed").isna())
    if bad.any():
        raise SnapshotError(file, f"scenario {names[bad].iloc[0]!r} has an invalid date (use YYYY-MM-DD)")
    backwards = start > end
    if backwards.any():
        raise SnapshotError(file, f"scenario {names[backwards].iloc[0]!r} starts after it ends")
    description = frame["description"].fillna("").astype(str) if "description" in frame.columns else ""
    return pd.DataFrame(
        {
            "name": names.astype(str).to_numpy(),
            "start": start.dt.strftime("%Y-%m-%d").to_numpy(),
            "end": end.dt.strftime("%Y-%m-%d").to_numpy(),
            "description": description if isinstance(description, str) else description.to_numpy(),
        }
    )


def require_columns(frame_columns: Any, file: str) -> None:
    """Raise if ``file`` lacks one of its required columns."""
    missing = [c for c in layout.REQUIRED_COLUMNS.get(file, ()) if c not in frame_columns]
    if missing:
        raise SnapshotError(file, f"missing column(s) {', '.join(missing)}")


def require_finite(values: np.ndarray, file: str, what: str, labels: np.ndarray | None = None) -> None:
    """Raise if ``values`` has NaN or infinite entries (a truncated or corrupt file)."""
    bad = ~np.isfinite(values)
    if bad.any():
        where = ""
        if labels is not None:
            where = f" ({', '.join(map(str, np.asarray(labels)[bad][:5]))})"
        raise SnapshotError(file, f"{int(bad.sum())} missing or non-numeric {what}{where}")


def plain_name(value: Any, file: str, what: str) -> str:
    """``value`` if it is a plain file or folder name a source may supply, else raise.

    A plain name is a non-empty string without path separators (slash, backslash), drive
    letters or other colons, NUL, surrounding blanks or a leading ``~``, and is not
    ``.`` or ``..``: joined to a folder it stays inside that folder.

    Raises
    ------
    SnapshotError
        Naming ``file``, ``what`` and the bad value.
    """
    text = value if isinstance(value, str) else None
    if (
        text is None
        or text in ("", ".", "..")
        or text != text.strip()
        or text.startswith("~")
        or len(text) > 255
        or any(c in text for c in "/\\:\0")
    ):
        raise SnapshotError(file, f"{what} {value!r} is not a plain name (no folders, '..', drive letters or absolute paths)")
    return text


def plain_date(value: Any, file: str, what: str) -> str:
    """``value`` if it is an ISO date ``YYYY-MM-DD`` (which is also a plain name), else raise.

    Raises
    ------
    SnapshotError
        Naming ``file``, ``what`` and the bad value.
    """
    import datetime as _dt

    text = plain_name(value, file, what)
    try:
        ok = len(text) == 10 and _dt.date.fromisoformat(text).isoformat() == text
    except ValueError:
        ok = False
    if not ok:
        raise SnapshotError(file, f"{what} {value!r} is not a date YYYY-MM-DD")
    return text


def relative_name(value: Any, file: str, what: str) -> str:
    """``value`` if it is a relative path of plain names joined by ``/`` (``details/x.csv``), else raise."""
    if not isinstance(value, str) or not value:
        raise SnapshotError(file, f"{what} {value!r} is not a plain relative file name")
    for part in value.split("/"):
        plain_name(part, file, what if part == value else f"{what} {value!r}: part")
    return value


MAX_ANNUAL_VOLATILITY = 10.0
"""Largest plausible annualized volatility (1,000%) of a factor or an idiosyncratic return."""
MAX_DAILY_FACTOR_RETURN = 1.0
"""Largest plausible absolute daily factor return (100%)."""
MAX_DAILY_ASSET_RETURN = 10.0
"""Largest plausible absolute daily residual or index return (1,000%)."""
MAX_EXPOSURE = 1000.0
"""Largest plausible absolute exposure value (standardized scores are single digits)."""
CUT_FILE_MIN_MISSING = 3
"""A last date missing at least this many (and 2% of) the previous date's trailing names is a cut file."""


def check_volatility(values: FloatArray, file: str, what: str, labels: np.ndarray) -> None:
    """Refuse negative or implausibly large annualized volatilities (decimal; 10.0 = 1,000%).

    ``values`` must already be finite (see :func:`require_finite`).

    Raises
    ------
    SnapshotError
        Naming the file, what, and up to five labels with their values.
    """
    values = np.asarray(values, dtype=float)
    for bad, reason in ((values < 0, "negative"), (values > MAX_ANNUAL_VOLATILITY, f"above {MAX_ANNUAL_VOLATILITY:.0%}")):
        if bad.any():
            shown = ", ".join(f"{label} {value:.4g}" for label, value in list(zip(np.asarray(labels)[bad], values[bad]))[:5])
            raise SnapshotError(file, f"{int(bad.sum())} {what} {reason} ({shown})")


def numeric_frame(frame: pd.DataFrame, file: str) -> pd.DataFrame:
    """``frame``'s cells as floats; a blank (or ``nan``) cell is NaN, text or an infinite number is refused.

    Raises
    ------
    SnapshotError
        Naming the file and up to five ``row/column`` cells.
    """
    values = frame.apply(pd.to_numeric, errors="coerce").astype(float)
    text = frame.astype(str).apply(lambda column: column.str.strip().str.lower())
    blank = frame.isna().to_numpy() | text.isin(["", "nan"]).to_numpy()
    bad = ~blank & ~np.isfinite(values.to_numpy())
    if bad.any():
        rows, cols = np.nonzero(bad)
        cells = ", ".join(f"{frame.index[r]}/{frame.columns[c]}={frame.iat[r, c]!s:.20}" for r, c in list(zip(rows, cols))[:5])
        raise SnapshotError(file, f"{int(bad.sum())} non-numeric or infinite values ({cells})")
    return values.mask(blank)


def numeric_column(column: pd.Series, file: str, labels: Callable[[], np.ndarray]) -> FloatArray:
    """A long file's value column as floats (blank or ``nan`` = NaN); text or infinite values are refused.

    ``labels()`` gives each row's label for the message (called only on failure).
    """
    values = pd.to_numeric(column, errors="coerce").to_numpy(dtype=float, copy=True)
    blank = column.isna().to_numpy()
    if column.dtype == object:
        blank |= column.astype(str).str.strip().str.lower().isin(["", "nan"]).to_numpy()
    bad = ~blank & ~np.isfinite(values)
    if bad.any():
        cells = ", ".join(f"{label}={text!s:.20}" for label, text in list(zip(np.asarray(labels())[bad], column[bad]))[:5])
        raise SnapshotError(file, f"{int(bad.sum())} non-numeric or infinite values ({cells})")
    values[blank] = np.nan
    return values


def check_magnitude(
    values: np.ndarray, limit: float, file: str, what: str, labels: Callable[[], np.ndarray] | None = None
) -> None:
    """Refuse finite entries with ``|value| > limit`` (NaN entries are ignored).

    ``labels()`` gives each entry's label (same shape as ``values``), called only on failure.
    """
    values = np.asarray(values, dtype=float)
    with np.errstate(invalid="ignore"):
        bad = np.abs(values) > limit
    if bad.any():
        where = ""
        if labels is not None:
            shown = list(zip(np.asarray(labels())[bad], values[bad]))[:5]
            where = " (" + ", ".join(f"{label} {value:.4g}" for label, value in shown) + ")"
        raise SnapshotError(file, f"{int(bad.sum())} {what} beyond +/-{limit:g}, not plausible{where}")


def check_metadata(metadata: dict[str, Any], universe: pd.DataFrame) -> None:
    """Refuse metadata that disagrees with ``universe.csv`` or leaves the market's nature unsaid.

    * ``as_of_date`` (when present) is an ISO date, and equals the single date of
      ``universe.csv``'s ``as_of_date`` column (when present);
    * ``simulated`` (when present) is true or false, and a snapshot written by xlfactor
      (``model_version`` ``xlfactor...``) must carry it: a simulated market must never
      pass for real data. OpenFactor's publications do not carry it and are real.

    Raises
    ------
    SnapshotError
        Naming ``metadata.json`` (or ``universe.csv``) and the disagreement.
    """
    file = layout.METADATA
    stated = metadata.get("as_of_date")
    if stated is not None:
        plain_date(stated, file, '"as_of_date"')
    if "as_of_date" in universe.columns:
        dates = universe["as_of_date"].dropna().astype(str).str.strip().unique()
        if len(dates) != 1:
            raise SnapshotError(layout.UNIVERSE, f"as_of_date must be one date, found {len(dates)} ({', '.join(dates[:3])})")
        if stated is not None and str(stated) != dates[0]:
            raise SnapshotError(file, f"as_of_date {stated} disagrees with universe.csv ({dates[0]})")
    if "simulated" in metadata:
        if not isinstance(metadata["simulated"], bool):
            raise SnapshotError(file, f'"simulated" must be true or false, not {metadata["simulated"]!r}')
    elif str(metadata.get("model_version", "")).startswith("xlfactor"):
        raise SnapshotError(file, 'written by xlfactor but has no "simulated" flag: cannot tell simulated from real data')


def check_not_cut(dates: np.ndarray, tickers: np.ndarray, last_factor_date: str | None, file: str) -> None:
    """Refuse a long (date, ticker) return file that looks cut at a line boundary.

    Two signs, for a file written in (date, ticker) order as OpenFactor and xlfactor write it:
    its last date is before ``last_factor_date`` (whole days lost), or the last date's rows
    stop at a ticker while the previous date had at least :data:`CUT_FILE_MIN_MISSING`
    (and 2% of its) names after it that the last date lacks (the cut fell inside the day).

    Parameters
    ----------
    dates, tickers : ndarray of str, shape (n_rows,)
        The file's rows in file order (tickers normalized).
    last_factor_date : str or None
        The last date of ``factor_returns.csv``.
    """
    if len(dates) == 0:
        return
    last = str(dates[-1])
    if last_factor_date is not None and last < last_factor_date and last == max(dates):
        raise SnapshotError(file, f"ends on {last} but factor_returns.csv runs to {last_factor_date} (cut short?)")
    order_ok = bool(np.all(dates[:-1] <= dates[1:]))
    if not order_ok:
        return
    in_last = dates == last
    block = tickers[in_last]
    if len(block) > 1 and not np.all(block[:-1] <= block[1:]):
        return
    earlier = dates[~in_last]
    if len(earlier) == 0:
        return
    previous = set(tickers[dates == earlier[-1]].tolist())
    after = sorted(t for t in previous - set(block.tolist()) if t > block[-1])
    if len(after) >= max(CUT_FILE_MIN_MISSING, 0.02 * len(previous)):
        raise SnapshotError(
            file,
            f"looks cut at a line boundary: its last date {last} stops at {block[-1]} with {len(block)} rows, "
            f"while {earlier[-1]} had {len(after)} more names after it ({', '.join(after[:3])}, ...)",
        )
