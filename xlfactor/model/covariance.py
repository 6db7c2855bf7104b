"""Factor covariance, USE4 style.

EWMA volatilities and correlations with Newey-West, eigenfactor risk adjustment and
volatility regime adjustment.

Inputs are daily factor returns (n_days, n_factors), oldest first; the result is
annualized (daily x 252). Parameters (half-lives in trading days) default to USE4S:
volatility half-life 84 with 5 Newey-West lags, correlation half-life 504 with 2 lags,
regime half-life 42. Days on which a factor was not estimable (NaN) count as 0 return
for it; the builder reports how many there were.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.signal import lfilter

from xlfactor.conventions import TRADING_DAYS_PER_YEAR


@dataclass(frozen=True)
class CovarianceOptions:
    """Estimator settings (half-lives and lags in trading days); the defaults are USE4S's."""

    volatility_half_life: float = 84
    volatility_lags: int = 5
    correlation_half_life: float = 504
    correlation_lags: int = 2
    eigen_simulations: int = 300
    eigen_scale: float = 1.0  # 1 = USE4's unscaled adjustment; 1.4 = the scaled variant
    eigen_min_days_per_factor: float = 5.0  # skip the adjustment on shorter histories (it overshoots)
    regime_half_life: float = 42
    regime_min_days: int = 21
    seed: int = 7


def ewma_weights(n_days: int, half_life: float) -> np.ndarray:
    """Weights (oldest first) that halve every ``half_life`` days back, summing to 1."""
    weights = 0.5 ** (np.arange(n_days)[::-1] / half_life)
    return weights / weights.sum()


def newey_west_covariance(returns: np.ndarray, half_life: float, lags: int) -> np.ndarray:
    """EWMA covariance (zero mean) plus Bartlett-weighted EWMA autocovariances, daily.

    ``returns`` may be (n_days, n_factors) or a stack (n_sims, n_days, n_factors).
    """
    n_days = returns.shape[-2]
    w = ewma_weights(n_days, half_life)
    weighted = returns * w[:, None]
    cov = np.swapaxes(weighted, -1, -2) @ returns
    for lag in range(1, lags + 1):
        gamma = np.swapaxes(weighted[..., lag:, :], -1, -2) @ returns[..., :-lag, :]
        gamma /= w[lag:].sum()
        cov += (1 - lag / (lags + 1)) * (gamma + np.swapaxes(gamma, -1, -2))
    return cov


def _use4_estimate(returns: np.ndarray, options: CovarianceOptions) -> np.ndarray:
    """Correlation from the long half-life, volatilities from the short one (daily)."""
    vol_cov = newey_west_covariance(returns, options.volatility_half_life, options.volatility_lags)
    corr_cov = newey_west_covariance(returns, options.correlation_half_life, options.correlation_lags)
    vol = np.sqrt(np.maximum(np.einsum("...kk->...k", vol_cov), 1e-20))
    corr_diag = np.sqrt(np.maximum(np.einsum("...kk->...k", corr_cov), 1e-20))
    correlation = corr_cov / (corr_diag[..., :, None] * corr_diag[..., None, :])
    return correlation * vol[..., :, None] * vol[..., None, :]


def eigen_adjustment(covariance: np.ndarray, n_days: int, options: CovarianceOptions) -> tuple[np.ndarray, np.ndarray]:
    """Menchero-Wang-Orr eigenfactor adjustment; returns the adjusted matrix and the bias v(k).

    Simulated histories drawn from the eigenfactor variances are passed through the same
    estimator; ``v(k) = sqrt(mean(true/estimated variance))`` of each simulated eigenfactor
    scales the k-th eigenvalue (optionally ``a (v - 1) + 1``).
    """
    values, vectors = np.linalg.eigh(covariance)
    values = np.maximum(values, values[-1] * 1e-12)
    if options.eigen_simulations <= 0:
        return covariance, np.ones(len(values))
    rng = np.random.default_rng(options.seed)
    draws = rng.standard_normal((options.eigen_simulations, n_days, len(values))) * np.sqrt(values)
    simulated = _use4_estimate(draws @ vectors.T, options)
    sim_values, sim_vectors = np.linalg.eigh(simulated)
    true_values = np.einsum("sik,ij,sjk->sk", sim_vectors, covariance, sim_vectors)
    bias = np.sqrt(np.mean(true_values / np.maximum(sim_values, 1e-30), axis=0))
    bias = options.eigen_scale * (bias - 1) + 1
    adjusted = (vectors * (bias**2 * values)) @ vectors.T
    return (adjusted + adjusted.T) / 2, bias


def ewma_variance_forecasts(returns: np.ndarray, half_life: float, min_observations: int = 20) -> np.ndarray:
    """One-day-ahead EWMA variance forecasts: row t uses only returns before t.

    Missing returns get no weight; NaN until ``min_observations`` returns were seen.
    """
    lam = 0.5 ** (1 / half_life)
    finite = np.isfinite(returns)
    squares = lfilter([1 - lam], [1, -lam], np.where(finite, returns, 0.0) ** 2, axis=0)
    mass = lfilter([1 - lam], [1, -lam], finite.astype(float), axis=0)
    seen = np.cumsum(finite, axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        current = np.where(seen >= min_observations, squares / mass, np.nan)
    forecast = np.full(returns.shape, np.nan)
    forecast[1:] = current[:-1]
    return forecast


def regime_multiplier(standardized: np.ndarray, half_life: float, min_days: int, weights: np.ndarray | None = None) -> float:
    """Volatility regime multiplier ``sqrt(EWMA of B_t^2)`` from daily standardized returns.

    ``B_t^2`` is the (optionally ``weights``-weighted) cross-sectional mean of the squared
    standardized returns of day ``t``; the first ``min_days`` days are skipped.
    """
    squares = standardized**2
    finite = np.isfinite(squares)
    if weights is None:
        weights = np.ones_like(squares)
    w = np.where(finite, weights, 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        b2 = (w * np.nan_to_num(squares)).sum(axis=1) / w.sum(axis=1)
    b2 = b2[min_days:]
    b2 = b2[np.isfinite(b2)]
    if len(b2) == 0:
        return 1.0
    return float(np.sqrt(ewma_weights(len(b2), half_life) @ b2))


def factor_covariance(returns: np.ndarray, options: CovarianceOptions = CovarianceOptions()) -> tuple[np.ndarray, dict]:
    """Annualized factor covariance from daily factor returns, with diagnostics.

    Steps: USE4 EWMA/Newey-West estimate -> eigenfactor adjustment (only with at least
    ``eigen_min_days_per_factor`` days per factor: on shorter histories the simulated bias
    is extreme and over-inflates every portfolio's risk) -> volatility regime adjustment
    (multiplier from the factors' standardized returns). Positive definite, full precision.
    """
    clean = np.nan_to_num(returns)
    base = _use4_estimate(clean, options)
    if len(clean) >= options.eigen_min_days_per_factor * clean.shape[1]:
        adjusted, bias = eigen_adjustment(base, len(clean), options)
    else:
        adjusted, bias = base, np.ones(clean.shape[1])
    forecasts = ewma_variance_forecasts(returns, options.volatility_half_life)
    with np.errstate(invalid="ignore", divide="ignore"):
        standardized = returns / np.sqrt(forecasts)
    multiplier = regime_multiplier(standardized, options.regime_half_life, options.regime_min_days)
    final = adjusted * multiplier**2 * TRADING_DAYS_PER_YEAR
    diagnostics = {
        "missing_factor_return_days": int(np.isnan(returns).sum()),
        "eigen_adjusted": bool(len(clean) >= options.eigen_min_days_per_factor * clean.shape[1]),
        "eigen_bias_min": float(bias.min()),
        "eigen_bias_max": float(bias.max()),
        "volatility_regime_multiplier": multiplier,
        "min_eigenvalue": float(np.linalg.eigvalsh(final)[0]),
    }
    return (final + final.T) / 2, diagnostics
