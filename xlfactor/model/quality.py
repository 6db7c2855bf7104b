"""Model quality: regression fit statistics and out-of-sample bias statistics.

Bias statistic of a test portfolio: ``B = std(R_t / sigma_t)`` (ddof 1) over the days
after each forecast, where ``sigma_t`` is the daily risk forecast made with data up to
the last monthly refit before ``t``. Well-calibrated forecasts give ``B`` inside
``1 +- sqrt(2/T)`` (95% for normal returns; fat tails lower that coverage). Test
portfolios: each factor's pure factor portfolio, 100 random long-only portfolios of 50
names, and the cap-weighted universe. Rolling 12-month (252-day) values are reported
monthly.
"""

from __future__ import annotations

import math
import warnings

import numpy as np

from xlfactor.conventions import SQRT_TRADING_DAYS, TRADING_DAYS_PER_YEAR
from xlfactor.model.covariance import CovarianceOptions, factor_covariance
from xlfactor.model.idiosyncratic_risk import IdiosyncraticRiskOptions, idiosyncratic_risk

REFIT_DAYS = 21
MIN_HISTORY_DAYS = 126
RANDOM_PORTFOLIOS = 100
RANDOM_NAMES = 50
ROLLING_DAYS = TRADING_DAYS_PER_YEAR


def fit_statistics(regression, factor_names) -> dict:
    """Cross-sectional R^2 (both definitions), stocks per regression, factor t-statistics."""
    days = regression.stocks > 0
    t = np.abs(regression.t_stats[days])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        share_significant = np.nanmean(np.where(np.isfinite(t), t > 2, np.nan), axis=0)
    return {
        "regression_days": int(days.sum()),
        "r2_weighted_mean": _nan_stat(np.nanmean, regression.r2_weighted[days]),
        "r2_weighted_median": _nan_stat(np.nanmedian, regression.r2_weighted[days]),
        "r2_uncentred_mean": _nan_stat(np.nanmean, regression.r2_uncentred[days]),
        "r2_uncentred_median": _nan_stat(np.nanmedian, regression.r2_uncentred[days]),
        "stocks_per_regression_mean": float(regression.stocks[days].mean()) if days.any() else math.nan,
        "stocks_per_regression_min": int(regression.stocks[days].min()) if days.any() else 0,
        "factor_t_stats": {
            name: {"mean_abs_t": _nan_stat(np.nanmean, t[:, k]), "share_abs_t_over_2": float(share_significant[k])}
            for k, name in enumerate(factor_names)
        },
    }


def _nan_stat(function, values) -> float:
    values = np.asarray(values, dtype=float)
    values = values[np.isfinite(values)]
    return float(function(values)) if len(values) else math.nan


def bias_statistics(
    factor_returns: np.ndarray,
    residuals: np.ndarray,
    stock_returns: np.ndarray,
    exposures,
    caps: np.ndarray,
    universe: np.ndarray,
    covariance_options: CovarianceOptions = CovarianceOptions(eigen_simulations=100),
    idiosyncratic_options: IdiosyncraticRiskOptions = IdiosyncraticRiskOptions(),
    seed: int = 11,
) -> dict:
    """Out-of-sample bias statistics with monthly refits (see the module docstring).

    Parameters
    ----------
    factor_returns : (n_days, n_factors) daily, row t explained by exposures of row t-1.
    residuals, stock_returns : (n_days, n_tickers) daily idiosyncratic (residual) and total returns.
    exposures : callable row -> (n_tickers, n_factors) exposures known at that close.
    caps, universe : (n_days, n_tickers) caps and membership at each close.
    """
    n_days, n_factors = factor_returns.shape
    rng = np.random.default_rng(seed)
    factor_scores: list[np.ndarray] = []
    random_scores: list[np.ndarray] = []
    cap_scores: list[float] = []
    start = MIN_HISTORY_DAYS
    for refit in range(start, n_days - 1, REFIT_DAYS):  # monthly refits (a few dozen), each vectorized
        history = factor_returns[1 : refit + 1]
        usable = np.isfinite(history).mean(axis=0) > 0.5
        if usable.sum() < 2:
            continue
        F_full = np.zeros((n_factors, n_factors))
        F, _ = factor_covariance(history[:, usable], covariance_options)
        F_full[np.ix_(usable, usable)] = F
        X = np.nan_to_num(exposures(refit))
        spec, _, _ = idiosyncratic_risk(residuals[1 : refit + 1], X, caps[refit], idiosyncratic_options)
        days = slice(refit + 1, min(refit + 1 + REFIT_DAYS, n_days))
        f_days = factor_returns[days]
        vol = np.sqrt(np.diag(F_full)) / SQRT_TRADING_DAYS
        with np.errstate(invalid="ignore", divide="ignore"):
            factor_scores.append(np.where(usable & (vol > 0), f_days / vol, np.nan))
        members = np.nonzero(universe[refit] & np.isfinite(spec))[0]
        if len(members) < RANDOM_NAMES:
            continue
        weights = np.zeros((RANDOM_PORTFOLIOS + 1, len(caps[refit])))
        for p in range(RANDOM_PORTFOLIOS):  # 100 portfolio draws
            names = rng.choice(members, RANDOM_NAMES, replace=False)
            weights[p, names] = rng.dirichlet(np.ones(RANDOM_NAMES))
        cap = np.where(universe[refit], np.nan_to_num(caps[refit]), 0.0)
        weights[-1] = cap / cap.sum()
        x = weights @ X
        variance = np.einsum("pk,kl,pl->p", x, F_full, x) + (weights**2) @ np.nan_to_num(spec**2)
        sigma = np.sqrt(variance) / SQRT_TRADING_DAYS
        realized = np.nan_to_num(stock_returns[days]) @ weights.T
        scores = realized / sigma
        random_scores.append(scores[:, :-1])
        cap_scores.extend(scores[:, -1].tolist())
    return _summarize(factor_scores, random_scores, np.array(cap_scores))


def _bias(scores: np.ndarray) -> np.ndarray:
    finite = np.isfinite(scores)
    with np.errstate(invalid="ignore", divide="ignore"):
        count = finite.sum(axis=0)
        mean = np.nansum(scores, axis=0) / count
        return np.sqrt(np.nansum((scores - mean) ** 2, axis=0) / (count - 1))


def _rolling(scores: np.ndarray) -> list[float]:
    """Mean over portfolios of the bias statistic in trailing 252-day windows, monthly."""
    values = []
    for end in range(ROLLING_DAYS, len(scores) + 1, REFIT_DAYS):
        values.append(float(np.nanmean(_bias(scores[end - ROLLING_DAYS : end]))))
    return values


def _summarize(factor_scores, random_scores, cap_scores) -> dict:
    if not random_scores:
        return {"out_of_sample_days": 0, "note": "not enough history for out-of-sample bias statistics"}
    factors = np.vstack(factor_scores)
    randoms = np.vstack(random_scores)
    days = len(randoms)
    band = math.sqrt(2 / days)
    factor_bias = _bias(factors)
    random_bias = _bias(randoms)
    cap_bias = float(_bias(cap_scores[:, None])[0])
    inside = lambda b: float(np.mean(np.abs(b[np.isfinite(b)] - 1) <= band))  # noqa: E731
    return {
        "out_of_sample_days": days,
        "band": [1 - band, 1 + band],
        "factor_bias_mean": float(np.nanmean(factor_bias)),
        "factor_bias_share_in_band": inside(factor_bias),
        "random_bias_mean": float(np.mean(random_bias)),
        "random_bias_median": float(np.median(random_bias)),
        "random_bias_share_in_band": inside(random_bias),
        "random_bias_pooled": float(_bias(randoms.reshape(-1, 1))[0]),
        "cap_weighted_bias": cap_bias,
        "cap_weighted_in_band": abs(cap_bias - 1) <= band,
        "random_rolling_12m": _rolling(randoms),
        "factor_bias": factor_bias.tolist(),
    }
