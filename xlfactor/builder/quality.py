"""Model quality: regression fit statistics and out-of-sample bias statistics.

Bias statistic of a test portfolio: ``B = std(R_t / sigma_t)`` (ddof 1), where
``sigma_t`` is the risk forecast made at the close before the return period. Well
calibrated forecasts give ``B`` inside ``1 +- sqrt(2/T)`` (95% for normal returns; fat
tails lower that coverage). Two horizons, each scored against its own forecast:

* ``bias`` (one day): daily returns against the **daily** forecast (no Newey-West terms)
  **refreshed every day**. The model is refit monthly (covariance structure, eigenfactor
  adjustment, idiosyncratic structural model and shrinkage, exposures, portfolios); in
  between, every factor's and every name's volatility follows its EWMA to the previous
  close and the factor and idiosyncratic volatility regime multipliers follow their
  daily cross-sectional bias statistics (USE4 VRA), all as incremental array updates.
* ``bias_21d``: non-overlapping 21-day compounded returns against the 21-day forecast
  (the model's Newey-West estimator, scaled to 21 days) made at the start of the window.

Test portfolios: each factor's pure factor portfolio, 100 random long-only portfolios of
50 names (Dirichlet weights, redrawn at every refit from the universe), the
cap-weighted universe, and the top (market-like) and bottom eigenfactor portfolios of each
refit's forecast (factor space: the eigenvectors of the forecast covariance of that horizon;
the eigenfactor adjustment rescales their variances, never the vectors). The factor set is the model's own at each refit date. A name
without a return on a day (or in a 21-day window) is left out of that period's
portfolio: the remaining weights are renormalized and the forecast is for those same
weights; a missing return never counts as zero. Also reported: the tail-robust bias
(``1.4826 MAD`` of the standardized returns instead of their standard deviation), the
Q-statistic ``mean(b^2 - ln b^2)`` (its expected value is 2.27 for correct normal
forecasts; lower is better for the same returns), the mean Gaussian log-likelihood per
observation, and rolling 12-month bias statistics with their MRAD.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable

import numpy as np

from xlfactor.conventions import FORECAST_HORIZON_DAYS, SQRT_TRADING_DAYS, TRADING_DAYS_PER_YEAR
from xlfactor.builder.covariance import CovarianceOptions, ewma_variance_path, factor_covariance
from xlfactor.builder.idiosyncratic_risk import IdiosyncraticRiskOptions, idiosyncratic_risk

REFIT_DAYS = 21
HORIZON_DAYS = FORECAST_HORIZON_DAYS
MIN_HISTORY_DAYS = 126
RANDOM_PORTFOLIOS = 100
RANDOM_NAMES = 50
ROLLING_DAYS = TRADING_DAYS_PER_YEAR
ROLLING_PERIODS_21D = 12
EIGEN_REFRESH_REFITS = 12  # simulate the eigenfactor bias once a year of refits, reuse it in between
MAX_MISSING_WEIGHT = 0.5  # a portfolio period with more of its weight missing is not scored
MAD_SCALE = 1.4826
LOG_2PI = math.log(2 * math.pi)


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


ModelAt = Callable[[int], tuple[np.ndarray, np.ndarray]]


def bias_statistics(
    factor_returns: np.ndarray,
    residuals: np.ndarray,
    stock_returns: np.ndarray,
    model_at: ModelAt,
    caps: np.ndarray,
    universe: np.ndarray,
    covariance_options: CovarianceOptions = CovarianceOptions(),
    idiosyncratic_options: IdiosyncraticRiskOptions = IdiosyncraticRiskOptions(),
    seed: int = 11,
    daily_refresh: bool = True,
    report_factors: np.ndarray | None = None,
    first_row: int = 0,
) -> dict:
    """Out-of-sample bias statistics at both horizons (see the module docstring).

    Parameters
    ----------
    factor_returns : (n_days, n_factors) daily, row t explained by exposures of row t-1
        (all factors of the model history, NaN where not estimated).
    residuals, stock_returns : (n_days, n_tickers) daily idiosyncratic and total returns, NaN if absent.
    model_at : callable ``row -> (factor_index, X)``: the model's factor set at that close
        (positions into the columns of ``factor_returns``) and the (n_tickers, len(factor_index))
        exposures of every ticker to it (NaN counts as 0).
    caps, universe : (n_days, n_tickers) caps and membership at each close.
    covariance_options, idiosyncratic_options : the build's estimators (the 21-day forecast uses
        them as given, the daily one without Newey-West terms).
    daily_refresh : False holds each refit's daily forecast for the whole month (the
        pre-USE4 shortcut; kept for comparison).
    report_factors : factor positions whose bias is listed under ``factor_bias`` (default all).
    first_row : the first refit date (row); never earlier than ``MIN_HISTORY_DAYS``.

    Returns
    -------
    dict with ``bias`` (one day) and ``bias_21d`` (21 days), each with ``band``,
    ``random_bias_mean``, ``random_bias_share_in_band``, ``cap_weighted_bias``,
    ``random_rolling_12m``, ``factor_bias`` and the robust and likelihood statistics.
    """
    n_days, n_factors = factor_returns.shape
    rng = np.random.default_rng(seed)
    one_day_covariance, one_day_idiosyncratic = covariance_options.one_day(), idiosyncratic_options.one_day()
    # incremental EWMA state of every factor and name, known at each close (one pass)
    factor_var = ewma_variance_path(factor_returns, one_day_covariance.volatility_half_life)
    name_var = ewma_variance_path(residuals, one_day_idiosyncratic.half_life)
    factor_regime = _regime_path(factor_returns, one_day_covariance.volatility_half_life,
                                 one_day_covariance.regime_half_life, one_day_covariance.regime_min_days)
    name_regime = _regime_path(residuals, one_day_idiosyncratic.half_life, one_day_idiosyncratic.regime_half_life,
                               one_day_idiosyncratic.regime_min_days, caps)  # fmt: skip
    daily = _Scores(n_factors)
    monthly = _Scores(n_factors)
    eigen: dict[str, np.ndarray | None] = {"daily": None, "horizon": None}
    for count, refit in enumerate(range(max(MIN_HISTORY_DAYS, first_row), n_days - 1, REFIT_DAYS)):  # monthly refits, each vectorized
        factor_index, X = model_at(refit)
        X = np.nan_to_num(X)
        history = factor_returns[1 : refit + 1][:, factor_index]
        if count % EIGEN_REFRESH_REFITS == 0:
            eigen = {"daily": None, "horizon": None}
        F1, notes1 = factor_covariance(history, one_day_covariance, eigen["daily"])
        F21, notes21 = factor_covariance(history, covariance_options, eigen["horizon"])
        eigen = {"daily": notes1["eigen_bias"], "horizon": notes21["eigen_bias"]}
        spec1, _, _ = idiosyncratic_risk(residuals[1 : refit + 1], X, caps[refit], one_day_idiosyncratic)
        spec21, _, _ = idiosyncratic_risk(residuals[1 : refit + 1], X, caps[refit], idiosyncratic_options)
        members = np.nonzero(universe[refit] & np.isfinite(spec1) & np.isfinite(spec21))[0]
        if len(members) < RANDOM_NAMES:
            continue
        weights = _portfolios(rng, members, caps[refit], universe[refit])
        days = np.arange(refit + 1, min(refit + 1 + REFIT_DAYS, n_days))
        base = F1 / TRADING_DAYS_PER_YEAR  # the refit's daily forecast (what its snapshot states)
        top_bottom = _extreme_eigenvectors(F1)
        base_spec = (np.nan_to_num(spec1) / SQRT_TRADING_DAYS) ** 2
        for scores, refresh in ((daily, daily_refresh), (monthly, False)):
            if scores is monthly and not daily_refresh:
                break
            prior = days - 1 if refresh else np.full(len(days), refit)  # forecast made at this close
            with np.errstate(invalid="ignore", divide="ignore"):
                f_scale = np.nan_to_num(np.sqrt(factor_var[prior][:, factor_index] / factor_var[refit, factor_index]), nan=1.0)
                n_scale = np.nan_to_num(name_var[prior] / name_var[refit], nan=1.0)
            f_scale = f_scale * (factor_regime[prior] / factor_regime[refit])[:, None]
            n_scale = n_scale * (name_regime[prior] / name_regime[refit])[:, None] ** 2
            factor_vol = np.sqrt(np.diag(base))[None, :] * f_scale
            scores.add_factors(factor_returns[days][:, factor_index], factor_vol, factor_index)
            scores.add_eigen(factor_returns[days][:, factor_index], top_bottom, base, f_scale)
            scores.add_portfolios(weights, stock_returns[days], X, base, f_scale, base_spec[None, :] * n_scale)
        if refit + HORIZON_DAYS < n_days:  # one non-overlapping 21-day window per refit
            window = slice(refit + 1, refit + 1 + HORIZON_DAYS)
            growth = np.prod(1 + stock_returns[window], axis=0)  # NaN if any day is missing
            horizon = HORIZON_DAYS / TRADING_DAYS_PER_YEAR
            daily.add_horizon(weights, growth - 1, X, F21 * horizon, np.nan_to_num(spec21) ** 2 * horizon,
                              factor_returns[window][:, factor_index].sum(axis=0), factor_index)  # fmt: skip
            daily.add_eigen_horizon(factor_returns[window][:, factor_index].sum(axis=0), F21 * horizon)
    result = {"bias": daily.summary(report_factors), "bias_21d": daily.summary_horizon(report_factors)}
    if daily_refresh and monthly.random:
        held = monthly.summary(report_factors)
        result["bias_monthly_held"] = {k: held[k] for k in _HEADLINE if k in held}
    return result


_HEADLINE = ("out_of_sample_days", "band", "random_bias_mean", "random_bias_share_in_band", "cap_weighted_bias",
             "random_robust_bias_mean", "random_q_statistic_mean", "random_mean_log_likelihood",
             "random_rolling_12m_mrad")  # fmt: skip


def _regime_path(returns: np.ndarray, vol_half_life: float, regime_half_life: float, min_days: int,
                 weights: np.ndarray | None = None) -> np.ndarray:  # fmt: skip
    """Daily regime multiplier known at each close from one-day-ahead EWMA standardized returns."""
    from xlfactor.builder.covariance import ewma_variance_forecasts, regime_multiplier_path

    with np.errstate(invalid="ignore", divide="ignore"):
        standardized = returns / np.sqrt(ewma_variance_forecasts(returns, vol_half_life))
    w = None if weights is None else np.where(np.nan_to_num(weights) > 0, np.nan_to_num(weights), 0.0)
    return regime_multiplier_path(standardized, regime_half_life, min_days, w)


def _extreme_eigenvectors(covariance: np.ndarray) -> np.ndarray:
    """(n_factors, 2): the top and the bottom eigenvector of ``covariance``, the top one net long."""
    vectors = np.linalg.eigh(covariance)[1][:, [-1, 0]]
    return vectors * np.where(vectors.sum(axis=0) < 0, -1.0, 1.0)


def _portfolios(rng: np.random.Generator, members: np.ndarray, caps: np.ndarray, universe: np.ndarray) -> np.ndarray:
    """(101, n_tickers) weights: 100 random 50-name Dirichlet portfolios, then the cap-weighted universe."""
    weights = np.zeros((RANDOM_PORTFOLIOS + 1, len(caps)))
    picks = np.argsort(rng.random((RANDOM_PORTFOLIOS, len(members))), axis=1)[:, :RANDOM_NAMES]
    rows = np.repeat(np.arange(RANDOM_PORTFOLIOS), RANDOM_NAMES)
    weights[rows, members[picks].ravel()] = rng.dirichlet(np.ones(RANDOM_NAMES), RANDOM_PORTFOLIOS).ravel()
    cap = np.where(universe, np.nan_to_num(caps), 0.0)
    weights[-1] = cap / cap.sum()
    return weights


def _held(weights: np.ndarray, available: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Weights renormalized over the names with a return; scored only when enough weight remains.

    ``weights`` (P, N), ``available`` (..., N) bool -> ((..., P, N) weights, (..., P) scored).
    """
    held = weights * available[..., None, :]
    kept = held.sum(axis=-1)
    scored = kept >= 1 - MAX_MISSING_WEIGHT
    with np.errstate(invalid="ignore", divide="ignore"):
        held = held / np.where(kept > 0, kept, 1.0)[..., None]
    return held, scored


class _Scores:
    """Standardized returns collected over the refits."""

    def __init__(self, n_factors: int) -> None:
        self.n_factors = n_factors
        self.factor: list[np.ndarray] = []
        self.random: list[np.ndarray] = []
        self.cap: list[np.ndarray] = []
        self.factor_21d: list[np.ndarray] = []
        self.random_21d: list[np.ndarray] = []
        self.cap_21d: list[np.ndarray] = []
        self.loglik: list[np.ndarray] = []
        self.loglik_21d: list[np.ndarray] = []
        self.eigen: list[np.ndarray] = []
        self.eigen_21d: list[np.ndarray] = []

    def add_eigen(self, returns: np.ndarray, vectors: np.ndarray, base: np.ndarray, f_scale: np.ndarray) -> None:
        """Daily scores of eigenfactor portfolios ``vectors`` (K, E) under ``S_t base S_t`` (missing returns: 0)."""
        x = vectors.T[None, :, :] * f_scale[:, None, :]  # (T, E, K)
        variance = ((x @ base) * x).sum(axis=-1)
        realized = np.nan_to_num(returns) @ vectors
        with np.errstate(invalid="ignore", divide="ignore"):
            self.eigen.append(np.where(variance > 0, realized / np.sqrt(variance), np.nan))

    def add_eigen_horizon(self, factor_sums: np.ndarray, covariance: np.ndarray) -> None:
        """One 21-day window: the extreme eigenfactors of ``covariance`` (the 21-day forecast)."""
        vectors = _extreme_eigenvectors(covariance)
        variance = np.einsum("ke,kl,le->e", vectors, covariance, vectors)
        with np.errstate(invalid="ignore", divide="ignore"):
            self.eigen_21d.append((np.nan_to_num(factor_sums) @ vectors / np.sqrt(variance))[None, :])

    def add_factors(self, returns: np.ndarray, vol: np.ndarray, factor_index: np.ndarray) -> None:
        full = np.full((len(returns), self.n_factors), np.nan)
        with np.errstate(invalid="ignore", divide="ignore"):
            full[:, factor_index] = np.where(vol > 0, returns / vol, np.nan)
        self.factor.append(full)

    def add_portfolios(self, weights, returns, X, base, f_scale, spec_var) -> None:
        """Daily scores: ``returns`` (T, N); factor covariance ``S_t base S_t`` with S_t = diag(f_scale[t])."""
        held, scored = _held(weights, np.isfinite(returns))
        x = (held @ X) * f_scale[:, None, :]
        variance = ((x @ base) * x).sum(axis=-1) + (held**2 @ spec_var[:, :, None])[..., 0]
        realized = (held @ np.nan_to_num(returns)[:, :, None])[..., 0]
        self._append(realized, variance, scored, self.random, self.cap, self.loglik)

    def add_horizon(self, weights, returns, X, covariance, spec_var, factor_sums, factor_index) -> None:
        """One 21-day window: ``returns`` (N,) compounded, ``covariance`` (K, K) and ``spec_var`` (N,) for the horizon."""
        held, scored = _held(weights, np.isfinite(returns))
        x = held @ X
        variance = np.einsum("pk,kl,pl->p", x, covariance, x) + held**2 @ spec_var
        realized = held @ np.nan_to_num(returns)
        self._append(realized[None], variance[None], scored[None], self.random_21d, self.cap_21d, self.loglik_21d)
        full = np.full((1, self.n_factors), np.nan)
        vol = np.sqrt(np.diag(covariance))
        with np.errstate(invalid="ignore", divide="ignore"):
            full[0, factor_index] = np.where(vol > 0, factor_sums / vol, np.nan)
        self.factor_21d.append(full)

    @staticmethod
    def _append(realized, variance, scored, random, cap, loglik) -> None:
        with np.errstate(invalid="ignore", divide="ignore"):
            score = np.where(scored & (variance > 0), realized / np.sqrt(variance), np.nan)
            ll = -0.5 * (LOG_2PI + np.log(variance) + score**2)
        random.append(score[:, :-1])
        cap.append(score[:, -1])
        loglik.append(np.where(np.isfinite(score), ll, np.nan))

    def summary(self, report_factors) -> dict:
        if not self.random:
            return {"out_of_sample_days": 0, "note": "not enough history for out-of-sample bias statistics"}
        return _summarize(np.vstack(self.factor), np.vstack(self.random), np.concatenate(self.cap),
                          np.vstack(self.loglik), ROLLING_DAYS, report_factors, "days", _stack(self.eigen))  # fmt: skip

    def summary_horizon(self, report_factors) -> dict:
        if not self.random_21d:
            return {"out_of_sample_periods": 0, "note": "not enough history for 21-day bias statistics"}
        return _summarize(np.vstack(self.factor_21d), np.vstack(self.random_21d), np.concatenate(self.cap_21d),
                          np.vstack(self.loglik_21d), ROLLING_PERIODS_21D, report_factors, "periods",
                          _stack(self.eigen_21d))  # fmt: skip


def _stack(blocks: list[np.ndarray]) -> np.ndarray | None:
    return np.vstack(blocks) if blocks else None


def _bias(scores: np.ndarray) -> np.ndarray:
    """Bias statistic of each column (std with ddof 1 over the finite rows)."""
    finite = np.isfinite(scores)
    with np.errstate(invalid="ignore", divide="ignore"):
        count = finite.sum(axis=0)
        mean = np.nansum(scores, axis=0) / count
        return np.sqrt(np.nansum((scores - mean) ** 2, axis=0) / (count - 1))


def _robust_bias(scores: np.ndarray) -> np.ndarray:
    """Tail-robust bias of each column: 1.4826 x the median absolute deviation from the median."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        median = np.nanmedian(scores, axis=0)
        return MAD_SCALE * np.nanmedian(np.abs(scores - median), axis=0)


def _q_statistic(scores: np.ndarray) -> np.ndarray:
    """Mean of ``b^2 - ln b^2`` per column (2.27 expected for correct normal forecasts)."""
    squares = scores**2
    with np.errstate(invalid="ignore", divide="ignore"):
        values = np.where(squares > 0, squares - np.log(squares), np.nan)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.nanmean(values, axis=0)


def _rolling(scores: np.ndarray, window: int, step: int) -> np.ndarray:
    """(n_windows, n_columns) bias statistics over trailing windows of ``window`` rows, every ``step`` rows."""
    ends = range(window, len(scores) + 1, step)
    if len(scores) < window:
        return np.empty((0, scores.shape[1]))
    return np.array([_bias(scores[end - window : end]) for end in ends])  # a few dozen windows


def _summarize(factors, randoms, cap_scores, loglik, rolling_window, report_factors, unit, eigen=None) -> dict:
    observations = int(np.isfinite(randoms).sum(axis=0).max())
    if observations < 2:
        return {f"out_of_sample_{unit}": observations, "note": "too few scored periods for bias statistics"}
    band = math.sqrt(2 / observations)
    factor_bias = _bias(factors)
    if report_factors is not None:
        factor_bias = factor_bias[report_factors]
    random_bias = _bias(randoms)
    cap_bias = float(_bias(cap_scores[:, None])[0])
    inside = lambda b: float(np.mean(np.abs(b[np.isfinite(b)] - 1) <= band))  # noqa: E731
    rolling = _rolling(randoms, rolling_window, REFIT_DAYS if unit == "days" else 1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        rolling_mean = np.nanmean(rolling, axis=1) if len(rolling) else np.empty(0)
        mrad = float(np.nanmean(np.abs(rolling - 1))) if len(rolling) else math.nan
        in_range = float(np.nanmean((rolling >= 0.66) & (rolling <= 1.34))) if len(rolling) else math.nan
    eigen_bias = _bias(eigen) if eigen is not None else np.full(2, np.nan)
    return {
        f"out_of_sample_{unit}": observations,
        "band": [1 - band, 1 + band],
        "top_eigenfactor_bias": float(eigen_bias[0]),
        "bottom_eigenfactor_bias": float(eigen_bias[1]),
        "factor_bias_mean": float(np.nanmean(factor_bias)),
        "factor_bias_share_in_band": inside(factor_bias),
        "random_bias_mean": float(np.nanmean(random_bias)),
        "random_bias_median": float(np.nanmedian(random_bias)),
        "random_bias_share_in_band": inside(random_bias),
        "random_bias_pooled": float(_bias(randoms.reshape(-1, 1))[0]),
        "cap_weighted_bias": cap_bias,
        "cap_weighted_in_band": bool(abs(cap_bias - 1) <= band),
        "random_robust_bias_mean": float(np.nanmean(_robust_bias(randoms))),
        "cap_weighted_robust_bias": float(_robust_bias(cap_scores[:, None])[0]),
        "random_q_statistic_mean": float(np.nanmean(_q_statistic(randoms))),
        "cap_weighted_q_statistic": float(_q_statistic(cap_scores[:, None])[0]),
        "random_mean_log_likelihood": float(np.nanmean(loglik[:, :-1])) if loglik.size else math.nan,
        "cap_weighted_mean_log_likelihood": float(np.nanmean(loglik[:, -1])) if loglik.size else math.nan,
        "random_rolling_12m": [float(v) for v in rolling_mean],
        "random_rolling_12m_mrad": mrad,
        "random_rolling_12m_share_in_0.66_1.34": in_range,
        "factor_bias": [float(v) for v in factor_bias],
    }
