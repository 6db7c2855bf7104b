"""Idiosyncratic risk (USE4's "specific risk"), USE4 style.

1. Time series: EWMA variance of each name's residuals (half-life 84) with Newey-West
   (5 lags, Bartlett), over the days the name has residuals.
2. Structural model for short or noisy histories: ``ln sigma_TS`` regressed on the
   exposures of names with full-quality histories (sqrt-cap WLS), ``sigma_STR = 1.05
   exp(X b)``; blend ``gamma sigma_TS + (1 - gamma) sigma_STR`` with the EUE3 gamma
   (history length over 60..180 days, and agreement of the robust and plain std).
3. Bayesian shrinkage toward the cap-weighted mean of the name's size decile
   (intensity q = 0.1).
4. Volatility regime adjustment with cap-weighted cross-sectional bias (half-life 42).

Input residuals are daily (n_days, n_tickers); the result is annualized volatility.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, replace

import numpy as np

from xlfactor.conventions import SQRT_TRADING_DAYS
from xlfactor.builder.covariance import ewma_variance_forecasts, ewma_weights, regime_multiplier


@dataclass(frozen=True)
class IdiosyncraticRiskOptions:
    """Estimator settings (half-lives in trading days, shrinkage intensity, structural scale)."""

    half_life: float = 84
    lags: int = 5
    shrinkage: float = 0.1
    structural_scale: float = 1.05
    regime_half_life: float = 42
    regime_min_days: int = 21
    deciles: int = 10

    one_day_half_life: float | None = 21  # one-day forecast's half-life (None: the same)

    def one_day(self) -> "IdiosyncraticRiskOptions":
        """The estimator for a one-day horizon: no Newey-West terms, ``daily_half_life`` when set."""
        return replace(self, lags=0, half_life=self.one_day_half_life or self.half_life)


def time_series_variance(residuals: np.ndarray, half_life: float, lags: int) -> np.ndarray:
    """EWMA (NaN-aware) Newey-West daily variance per name; NaN without residuals."""
    n_days = residuals.shape[0]
    base = ewma_weights(n_days, half_life)
    finite = np.isfinite(residuals)
    e = np.nan_to_num(residuals)
    w = base[:, None] * finite
    total = w.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        variance = (w * e * e).sum(axis=0) / total
        for lag in range(1, lags + 1):
            pair = base[lag:, None] * finite[lag:] * finite[:-lag]
            gamma = (pair * e[lag:] * e[:-lag]).sum(axis=0) / pair.sum(axis=0)
            variance = variance + 2 * (1 - lag / (lags + 1)) * np.nan_to_num(gamma)
        plain = (w * e * e).sum(axis=0) / total
    variance = np.maximum(variance, 0.25 * plain)  # Newey-West never cuts more than 75%
    return np.where(total > 0, variance, np.nan)


def column_quantiles(values: np.ndarray, probabilities: list[float]) -> np.ndarray:
    """Quantiles of each column ignoring NaN, ``np.nanpercentile``'s linear method, one sort.

    ``values`` (n_rows, n_columns); returns (len(probabilities), n_columns), NaN for an
    empty column. ``np.nanpercentile(..., axis=0)`` loops over the columns in Python.

    >>> column_quantiles(np.array([[1.0, np.nan], [2.0, 5.0], [4.0, np.nan]]), [0.25, 0.5])
    array([[1.5, 5. ],
           [2. , 5. ]])
    """
    ordered = np.sort(values, axis=0)  # NaN sort last
    count = (~np.isnan(values)).sum(axis=0)  # ±inf are values (sorted first and last), as for nanpercentile
    out = np.full((len(probabilities), values.shape[1]), np.nan)
    for i, p in enumerate(probabilities):  # a few probabilities, each over every column at once
        position = np.maximum(count - 1, 0) * p
        low = np.floor(position).astype(int)
        high = np.minimum(low + 1, np.maximum(count - 1, 0))
        t = position - low
        a = np.take_along_axis(ordered, low[None, :], axis=0)[0]
        b = np.take_along_axis(ordered, high[None, :], axis=0)[0]
        diff = b - a
        value = np.where(t >= 0.5, b - diff * (1 - t), a + diff * t)  # numpy's lerp, bit for bit
        out[i] = np.where(count > 0, value, np.nan)
    return out


def blending_weight(residuals: np.ndarray) -> np.ndarray:
    """EUE3 gamma in [0, 1]: enough history and a plain std close to the robust std."""
    history = np.isfinite(residuals).sum(axis=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        q1, q3 = column_quantiles(residuals, [0.25, 0.75])
        robust = (q3 - q1) / 1.35
        plain = np.nanstd(residuals, axis=0)
        z = np.abs((plain - robust) / robust)
    length = np.clip((history - 60) / 120, 0, 1)
    agreement = np.clip(np.exp(1 - np.nan_to_num(z, nan=np.inf)), 0, 1)
    return np.where(history > 0, length * agreement, 0.0)


def structural_risk(log_risk: np.ndarray, exposures: np.ndarray, caps: np.ndarray, fit: np.ndarray, scale: float) -> np.ndarray:
    """``scale exp(X b)`` with ``b`` from a sqrt-cap WLS of ``log_risk`` on ``exposures`` (rows ``fit``)."""
    usable = fit & np.isfinite(log_risk) & (caps > 0)
    if usable.sum() <= exposures.shape[1]:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            return np.full(len(log_risk), scale * np.exp(np.nanmedian(log_risk)))
    root = np.sqrt(np.sqrt(caps[usable]))
    coefficients = np.linalg.lstsq(exposures[usable] * root[:, None], log_risk[usable] * root, rcond=None)[0]
    return scale * np.exp(exposures @ coefficients)


def size_decile_shrinkage(risk: np.ndarray, caps: np.ndarray, q: float, deciles: int) -> np.ndarray:
    """Bayesian shrinkage toward the cap-weighted mean risk of the name's size decile."""
    valid = np.isfinite(risk) & (caps > 0)
    ranks = np.full(len(risk), -1)
    order = np.argsort(np.where(valid, caps, np.inf))
    ranks[order[: valid.sum()]] = np.arange(valid.sum()) * deciles // max(valid.sum(), 1)
    out = risk.copy()
    for decile in range(deciles):  # ten groups, not a loop over stocks
        members = ranks == decile
        if members.sum() < 2:
            continue
        mean = np.average(risk[members], weights=caps[members])
        spread = risk[members].std()
        distance = q * np.abs(risk[members] - mean)
        intensity = distance / (spread + distance) if spread > 0 else np.zeros(members.sum())
        out[members] = intensity * mean + (1 - intensity) * risk[members]
    return out


def idiosyncratic_risk(
    residuals: np.ndarray,
    exposures: np.ndarray,
    caps: np.ndarray,
    options: IdiosyncraticRiskOptions = IdiosyncraticRiskOptions(),
) -> tuple[np.ndarray, np.ndarray, dict]:
    """Annualized idiosyncratic risk of each name, its residual-day count, and diagnostics.

    Parameters
    ----------
    residuals : (n_days, n_tickers) daily idiosyncratic (residual) returns, NaN where absent.
    exposures : (n_tickers, n_factors) exposures at the forecast date (structural model).
    caps : (n_tickers,) market caps at the forecast date.
    """
    daily = time_series_variance(residuals, options.half_life, options.lags)
    series = np.sqrt(daily)
    gamma = blending_weight(residuals)
    structural = structural_risk(np.log(series), exposures, caps, gamma >= 1, options.structural_scale)
    blended = np.where(np.isfinite(series), gamma * np.nan_to_num(series) + (1 - gamma) * structural, structural)
    shrunk = size_decile_shrinkage(blended, caps, options.shrinkage, options.deciles)
    forecasts = ewma_variance_forecasts(residuals, options.half_life)
    with np.errstate(invalid="ignore", divide="ignore"):
        standardized = residuals / np.sqrt(forecasts)
    weights = np.broadcast_to(np.where(caps > 0, caps, 0.0), residuals.shape)
    multiplier = regime_multiplier(standardized, options.regime_half_life, options.regime_min_days, weights)
    final = shrunk * multiplier * SQRT_TRADING_DAYS
    diagnostics = {
        "structural_share": float(np.mean(gamma < 1)),
        "no_history": int((~np.isfinite(series)).sum()),
        "idiosyncratic_regime_multiplier": multiplier,
    }
    return final, np.isfinite(residuals).sum(axis=0).astype(float), diagnostics
