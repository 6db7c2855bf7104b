"""Cross-sectional standardization of descriptors, one day (row) at a time, all days at once.

Each day: winsorize at ``median +- limit x 1.4826 x MAD`` (the equal-weighted standard
deviation when the MAD is 0), remove the cap-weighted mean, divide by the
equal-weighted standard deviation (ddof 0). Only names in that day's universe count.
"""

from __future__ import annotations

import warnings

import numpy as np

MAD_SCALE = 1.4826
WINSOR_LIMIT = 3.0


def row_median(values: np.ndarray) -> np.ndarray:
    """Median of each row ignoring NaN, shape (n_rows, 1); NaN for an empty row (one sort, no row loop)."""
    ordered = np.sort(values, axis=1)  # NaN sort last
    count = np.isfinite(values).sum(axis=1)
    rows = np.arange(values.shape[0])
    low = ordered[rows, np.maximum((count - 1) // 2, 0)]
    high = ordered[rows, np.maximum(count // 2, 0)]
    return np.where(count > 0, (low + high) / 2, np.nan)[:, None]


def winsorize(values: np.ndarray, limit: float = WINSOR_LIMIT) -> np.ndarray:
    """Clip each row at its median +- limit robust standard deviations (NaN kept)."""
    median = row_median(values)
    spread = MAD_SCALE * row_median(np.abs(values - median))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        spread = np.where(spread > 0, spread, np.nanstd(values, axis=1, keepdims=True))
    spread = np.where(np.isfinite(spread), spread, 0.0)
    low, high = median - limit * spread, median + limit * spread
    return np.where(spread > 0, np.clip(values, low, high), values)


def standardize(values: np.ndarray, caps: np.ndarray, universe: np.ndarray, limit: float = WINSOR_LIMIT) -> np.ndarray:
    """Winsorized, cap-weighted-mean-centred, equal-weighted-std-scaled scores; NaN outside ``universe``.

    Parameters
    ----------
    values, caps : ndarray of shape (n_dates, n_tickers)
    universe : bool ndarray of the same shape
        Names that count in each day's cross-section.
    """
    x = winsorize(np.where(universe, values, np.nan), limit)
    finite = np.isfinite(x)
    weights = np.where(finite & (caps > 0), caps, 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        capped = (weights * np.nan_to_num(x)).sum(axis=1, keepdims=True) / weights.sum(axis=1, keepdims=True)
        equal = np.nansum(x, axis=1, keepdims=True) / finite.sum(axis=1, keepdims=True)
    enough_caps = (weights > 0).sum(axis=1, keepdims=True) >= 2
    centre = np.where(enough_caps, capped, equal)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        scale = np.nanstd(x, axis=1, keepdims=True)
        return np.where(scale > 0, (x - centre) / scale, np.nan)


def mid_cap(size_scores: np.ndarray, caps: np.ndarray, universe: np.ndarray) -> np.ndarray:
    """Minus squared size, orthogonalized to size each day (equal-weighted OLS), then standardized."""
    square = -(size_scores**2)
    finite = np.isfinite(size_scores)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        mean_z = np.nanmean(size_scores, axis=1, keepdims=True)
        mean_q = np.nanmean(square, axis=1, keepdims=True)
        slope = np.nanmean((size_scores - mean_z) * (square - mean_q), axis=1, keepdims=True) / np.nanvar(
            size_scores, axis=1, keepdims=True
        )
    residual = np.where(finite, square - mean_q - slope * (size_scores - mean_z), np.nan)
    return standardize(residual, caps, universe)


def orthogonalize(values: np.ndarray, against: list[np.ndarray], caps: np.ndarray, universe: np.ndarray) -> np.ndarray:
    """Residual of each day's cap-weighted regression of ``values`` on ``against`` (and a constant), standardized.

    USE4 orthogonalizes residual volatility to beta and size this way, so the styles do
    not double count one effect. An absent score in ``against`` counts as neutral (0),
    as it does in the factor regression; a style absent all day drops out of that day's
    fit (minimum-norm solution).
    """
    usable = universe & np.isfinite(values) & (caps > 0)
    w = np.where(usable, caps, 0.0)
    design = np.stack([np.ones_like(values)] + [np.nan_to_num(a) for a in against], axis=2)
    y = np.nan_to_num(values)
    normal = np.einsum("dn,dnk,dnl->dkl", w, design, design)
    rhs = np.einsum("dn,dnk,dn->dk", w, design, y)
    coefficients = np.einsum("dkl,dl->dk", np.linalg.pinv(normal, hermitian=True), rhs)
    residual = np.where(usable, y - np.einsum("dnk,dk->dn", design, coefficients), np.nan)
    return standardize(residual, caps, universe)
