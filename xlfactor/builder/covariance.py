"""Factor covariance, USE4 style.

EWMA volatilities and correlations with Newey-West, eigenfactor risk adjustment and
volatility regime adjustment.

Inputs are daily factor returns (n_days, n_factors), oldest first; the result is
annualized (daily x 252). Parameters (half-lives in trading days) default to USE4S's
but for the volatility half-life: 42 (USE4S 84; chosen on the real-data study in the
docs, docs/methodology/quality.md) with 5 Newey-West lags, correlation half-life 504 with 2 lags,
regime half-life 42; the one-day forecast uses a volatility half-life of 21. Days on which a factor was not estimable (NaN) count as 0 return
for it; the builder reports how many there were.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
from scipy.signal import lfilter

from xlfactor.conventions import TRADING_DAYS_PER_YEAR


@dataclass(frozen=True)
class CovarianceOptions:
    """Estimator settings (half-lives and lags in trading days); USE4S's but the volatility half-life (USE4S 84)."""

    volatility_half_life: float = 42
    volatility_lags: int = 5
    correlation_half_life: float = 504
    correlation_lags: int = 2
    eigen_simulations: int = 300
    eigen_scale: float = 1.0  # 1 = USE4's unscaled adjustment; 1.4 = the scaled variant
    eigen_min_days_per_factor: float = 5.0  # skip the adjustment on shorter histories (it overshoots)
    eigen_spare_top: int = 0  # largest eigenfactors left unadjusted (1: spare the market-like one)
    regime_half_life: float = 42
    regime_min_days: int = 21
    seed: int = 7
    one_day_volatility_half_life: float | None = 21  # one-day forecast's volatility half-life (None: the same)

    def one_day(self) -> "CovarianceOptions":
        """The estimator for a one-day horizon (no Newey-West terms, the daily half-life)."""
        half_life = self.one_day_volatility_half_life or self.volatility_half_life
        return replace(self, volatility_lags=0, correlation_lags=0, volatility_half_life=half_life)


EIGEN_CHUNK = 25  # simulated histories per block in the eigenfactor adjustment


def ewma_weights(n_days: int, half_life: float) -> np.ndarray:
    """Weights (oldest first) that halve every ``half_life`` days back, summing to 1."""
    weights = 0.5 ** (np.arange(n_days)[::-1] / half_life)
    return weights / weights.sum()


def newey_west_covariance(returns: np.ndarray, half_life: float, lags: int) -> np.ndarray:
    """EWMA covariance (zero mean) plus Bartlett-weighted EWMA autocovariances, daily.

    ``returns`` may be (n_days, n_factors) or a stack (n_sims, n_days, n_factors).
    """
    n_days = returns.shape[-2]
    w = ewma_weights(n_days, half_life).astype(returns.dtype)
    weighted = returns * w[:, None]
    cov = np.einsum("...ti,...tj->...ij", weighted, returns, optimize=True)
    for lag in range(1, lags + 1):
        gamma = np.einsum("...ti,...tj->...ij", weighted[..., lag:, :], returns[..., :-lag, :], optimize=True)
        gamma /= w[lag:].sum()
        cov += (1 - lag / (lags + 1)) * (gamma + np.swapaxes(gamma, -1, -2))
    return cov


def newey_west_variance(returns: np.ndarray, half_life: float, lags: int) -> np.ndarray:
    """The diagonal of :func:`newey_west_covariance` (per-factor variances) at O(n_days n_factors) cost."""
    n_days = returns.shape[-2]
    w = ewma_weights(n_days, half_life).astype(returns.dtype)
    variance = np.einsum("t,...tk,...tk->...k", w, returns, returns)
    for lag in range(1, lags + 1):
        gamma = np.einsum("t,...tk,...tk->...k", w[lag:], returns[..., lag:, :], returns[..., :-lag, :]) / w[lag:].sum()
        variance += 2 * (1 - lag / (lags + 1)) * gamma
    return variance


def _use4_estimate(returns: np.ndarray, options: CovarianceOptions) -> np.ndarray:
    """Correlation from the long half-life, volatilities from the short one (daily).

    Only the diagonal of the volatility estimator is used, so only it is computed.
    """
    vol_var = newey_west_variance(returns, options.volatility_half_life, options.volatility_lags)
    corr_cov = newey_west_covariance(returns, options.correlation_half_life, options.correlation_lags)
    vol = np.sqrt(np.maximum(vol_var, 1e-20))
    corr_diag = np.sqrt(np.maximum(np.einsum("...kk->...k", corr_cov), 1e-20))
    correlation = corr_cov / (corr_diag[..., :, None] * corr_diag[..., None, :])
    return correlation * vol[..., :, None] * vol[..., None, :]


def eigen_adjustment(covariance: np.ndarray, n_days: int, options: CovarianceOptions) -> tuple[np.ndarray, np.ndarray]:
    """Menchero-Wang-Orr eigenfactor adjustment; returns the adjusted matrix and the bias v(k).

    Simulated histories drawn from the eigenfactor variances are passed through the same
    estimator; ``v(k) = sqrt(mean(true/estimated variance))`` of each simulated eigenfactor
    scales the k-th eigenvalue (optionally ``a (v - 1) + 1``); the ``eigen_spare_top``
    largest eigenfactors keep ``v = 1``.
    """
    values, vectors = np.linalg.eigh(covariance)
    values = np.maximum(values, values[-1] * 1e-12)
    if options.eigen_simulations <= 0:
        return covariance, np.ones(len(values))
    rng = np.random.default_rng(options.seed)
    ratios = np.zeros(len(values))
    scale = np.sqrt(values)
    for first in range(0, options.eigen_simulations, EIGEN_CHUNK):  # bounded memory; same draws as one block
        count = min(EIGEN_CHUNK, options.eigen_simulations - first)
        draws = rng.standard_normal((count, n_days, len(values))) * scale
        # single precision for the simulated histories (the bias is a mean over many draws)
        simulated = _use4_estimate((draws @ vectors.T).astype(np.float32), options).astype(np.float64)
        sim_values, sim_vectors = np.linalg.eigh(simulated)
        true_values = np.einsum("sik,ij,sjk->sk", sim_vectors, covariance, sim_vectors)
        ratios += (true_values / np.maximum(sim_values, 1e-30)).sum(axis=0)
    bias = np.sqrt(ratios / options.eigen_simulations)
    bias = options.eigen_scale * (bias - 1) + 1
    if options.eigen_spare_top > 0:
        bias[-options.eigen_spare_top :] = 1.0  # eigh sorts ascending: the last are the largest
    adjusted = (vectors * (bias**2 * values)) @ vectors.T
    return (adjusted + adjusted.T) / 2, bias


def ewma_variance_path(returns: np.ndarray, half_life: float, min_observations: int = 20) -> np.ndarray:
    """EWMA variance known at each close: row t uses returns up to and including t.

    Zero-mean, missing returns get no weight (the estimate carries over a gap); NaN until
    ``min_observations`` returns were seen. This is the incremental form of the EWMA:
    ``v_t = (lam s_{t-1} + (1 - lam) r_t^2) / mass_t`` for every row at once (``lfilter``),
    so a daily-refreshed forecast costs one pass over the history, not a refit per day.
    ``returns`` is (n_days, ...) daily; the result has the same shape, daily variance.
    """
    lam = 0.5 ** (1 / half_life)
    finite = np.isfinite(returns)
    squares = lfilter([1 - lam], [1, -lam], np.where(finite, returns, 0.0) ** 2, axis=0)
    mass = lfilter([1 - lam], [1, -lam], finite.astype(float), axis=0)
    seen = np.cumsum(finite, axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(seen >= min_observations, squares / mass, np.nan)


def ewma_variance_forecasts(returns: np.ndarray, half_life: float, min_observations: int = 20) -> np.ndarray:
    """One-day-ahead EWMA variance forecasts: row t uses only returns before t.

    Missing returns get no weight; NaN until ``min_observations`` returns were seen.
    """
    current = ewma_variance_path(returns, half_life, min_observations)
    forecast = np.full(returns.shape, np.nan)
    forecast[1:] = current[:-1]
    return forecast


def regime_multiplier_path(
    standardized: np.ndarray, half_life: float, min_days: int, weights: np.ndarray | None = None
) -> np.ndarray:
    """Volatility regime multiplier known at each close: ``sqrt(EWMA of B_t^2)`` up to row t.

    ``B_t^2`` is the (optionally ``weights``-weighted) cross-sectional mean of the squared
    standardized returns of day ``t`` (USE4's cross-sectional bias statistic, updated
    daily); days before ``min_days`` and days without any standardized return get no
    weight. Rows before the first usable day are 1. Shape (n_days,).
    """
    squares = standardized**2
    finite = np.isfinite(squares)
    if weights is None:
        weights = np.ones_like(squares)
    w = np.where(finite, weights, 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        b2 = (w * np.where(finite, squares, 0.0)).sum(axis=1) / w.sum(axis=1)
    usable = np.isfinite(b2)
    usable[:min_days] = False
    lam = 0.5 ** (1 / half_life)
    level = lfilter([1 - lam], [1, -lam], np.where(usable, b2, 0.0))
    mass = lfilter([1 - lam], [1, -lam], usable.astype(float))
    with np.errstate(invalid="ignore", divide="ignore"):
        path = np.sqrt(level / mass)
    return np.where(np.cumsum(usable) > 0, path, 1.0)


def regime_multiplier(standardized: np.ndarray, half_life: float, min_days: int, weights: np.ndarray | None = None) -> float:
    """Volatility regime multiplier at the last row of ``standardized`` (see :func:`regime_multiplier_path`)."""
    if len(standardized) == 0:
        return 1.0
    return float(regime_multiplier_path(standardized, half_life, min_days, weights)[-1])


def factor_covariance(
    returns: np.ndarray, options: CovarianceOptions = CovarianceOptions(), eigen_bias: np.ndarray | None = None
) -> tuple[np.ndarray, dict]:
    """Annualized factor covariance from daily factor returns, with diagnostics.

    Steps: USE4 EWMA/Newey-West estimate -> eigenfactor adjustment (only with at least
    ``eigen_min_days_per_factor`` days per factor: on shorter histories the simulated bias
    is extreme and over-inflates every portfolio's risk) -> volatility regime adjustment
    (multiplier from the factors' standardized returns). Positive definite, full precision.

    ``eigen_bias`` may pass the simulated eigenfactor bias v(k) of an earlier date (same
    number of factors) to reuse it instead of simulating again: it is very stable over
    time (Menchero, Wang & Orr 2011), and the simulation is the expensive step. The
    diagnostics carry the bias used under ``"eigen_bias"`` (an array).
    """
    clean = np.nan_to_num(returns)
    base = _use4_estimate(clean, options)
    if len(clean) >= options.eigen_min_days_per_factor * clean.shape[1]:
        if eigen_bias is not None and len(eigen_bias) == clean.shape[1]:
            values, vectors = np.linalg.eigh(base)
            values = np.maximum(values, values[-1] * 1e-12)
            adjusted = (vectors * (eigen_bias**2 * values)) @ vectors.T
            adjusted, bias = (adjusted + adjusted.T) / 2, eigen_bias
        else:
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
        "eigen_bias": bias,
    }
    return (final + final.T) / 2, diagnostics
