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


def winsorize(values: np.ndarray, limit: float = WINSOR_LIMIT) -> np.ndarray:
    """Clip each row at its median +- limit robust standard deviations (NaN kept)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        median = np.nanmedian(values, axis=1, keepdims=True)
        spread = MAD_SCALE * np.nanmedian(np.abs(values - median), axis=1, keepdims=True)
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
