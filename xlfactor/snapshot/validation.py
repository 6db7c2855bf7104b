"""Checks applied once when a snapshot is read, and the covariance repair.

Everything here raises :class:`~xlfactor.errors.SnapshotError` naming the file and the
problem, or repairs (the covariance's rounding-level indefiniteness) with a line in the
snapshot's diagnostics. Not everything the reader accepts is complete, though: absent
style scores of the current exposures are kept as NaN and count as neutral (0) in risk,
with only their number in ``diagnostics["missing_style_exposures"]``; absent values of
the exposure panel are read as 0 without a diagnostic. Neither is checked here.
"""

from __future__ import annotations

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
        positive, or it is indefinite beyond rounding.
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
