r"""Pure risk formulas of a linear factor model, on arrays in universe order.

Model: asset covariance :math:`V = X F X^\top + \mathrm{diag}(d)` with exposures ``X``
(n_assets, n_factors), annualized factor covariance ``F`` and annualized idiosyncratic
variances ``d``. For weights ``w`` the factor exposures are :math:`x = X^\top w` and

.. math:: \sigma^2 = x^\top F x + \sum_i w_i^2 d_i .

Every risk here is an annualized decimal volatility; every ``..._variance`` an
annualized decimal variance. Contributions are Euler contributions: they add up
exactly to the total (variance contributions to the variance, risk contributions to
the risk). Weights that are active (portfolio minus benchmark) give tracking-error
figures through the same functions.
"""

from __future__ import annotations

import math
from statistics import NormalDist

import numpy as np

from xlfactor._typing import FloatArray
from xlfactor.conventions import SQRT_TRADING_DAYS

_STANDARD_NORMAL = NormalDist()


def factor_exposures(weights: FloatArray, exposures: FloatArray) -> FloatArray:
    """Portfolio factor exposures ``x = X' w``, shape (n_factors,).

    >>> factor_exposures(np.array([0.5, 0.5]), np.array([[1.0, 2.0], [1.0, 0.0]]))
    array([1., 1.])
    """
    return exposures.T @ weights


def factor_variance(factor_exposure: FloatArray, factor_covariance: FloatArray) -> float:
    """Annualized common-factor variance ``x' F x`` (never negative)."""
    return max(float(factor_exposure @ factor_covariance @ factor_exposure), 0.0)


def group_factor_variance(factor_exposure: FloatArray, factor_covariance: FloatArray, mask: np.ndarray) -> float:
    """Annualized stand-alone variance ``x_g' F_gg x_g`` of the factors selected by ``mask``.

    >>> F = np.array([[0.04, 0.01], [0.01, 0.09]])
    >>> round(group_factor_variance(np.array([1.0, 2.0]), F, np.array([False, True])), 6)
    0.36
    """
    return factor_variance(factor_exposure[mask], factor_covariance[np.ix_(mask, mask)])


def idiosyncratic_variance(weights: FloatArray, asset_idiosyncratic_variance: FloatArray) -> float:
    """Annualized idiosyncratic variance ``sum_i w_i^2 d_i`` (names assumed uncorrelated)."""
    return float((weights * weights) @ asset_idiosyncratic_variance)


def total_risk(
    weights: FloatArray, exposures: FloatArray, factor_covariance: FloatArray, asset_idiosyncratic_variance: FloatArray
) -> float:
    r"""Annualized volatility :math:`\sqrt{x^\top F x + \sum_i w_i^2 d_i}` of ``weights``.

    With active weights (portfolio minus benchmark) this is the ex-ante tracking error.

    >>> total_risk(np.array([0.5, -0.5]), np.array([[1.0], [0.0]]),
    ...            np.array([[0.04]]), np.array([0.01, 0.01]))
    0.1224...
    """
    x = exposures.T @ weights
    return math.sqrt(
        factor_variance(x, factor_covariance) + idiosyncratic_variance(weights, asset_idiosyncratic_variance)
    )


def factor_variance_contributions(factor_exposure: FloatArray, factor_covariance: FloatArray) -> FloatArray:
    """Per-factor Euler variance contributions ``x_k (F x)_k``; they sum to ``x' F x``."""
    return factor_exposure * (factor_covariance @ factor_exposure)


def factor_correlations(
    factor_exposure: FloatArray, factor_covariance: FloatArray, portfolio_risk: float
) -> FloatArray:
    r"""Correlation :math:`\rho_k = (F x)_k / (\sigma_k \sigma_P)` of each factor with the portfolio.

    With it a factor's risk contribution is ``exposure x volatility x correlation``
    (Menchero and Davis' x-sigma-rho). Zero when the portfolio has no risk.
    """
    if portfolio_risk <= 0:
        return np.zeros_like(factor_exposure)
    return (factor_covariance @ factor_exposure) / (np.sqrt(np.diag(factor_covariance)) * portfolio_risk)


def asset_covariance_with(
    weights: FloatArray, exposures: FloatArray, factor_covariance: FloatArray, asset_idiosyncratic_variance: FloatArray
) -> FloatArray:
    """``V w``: each asset's annualized covariance with the portfolio, shape (n_assets,)."""
    return exposures @ (factor_covariance @ (exposures.T @ weights)) + asset_idiosyncratic_variance * weights


def asset_marginal_contributions(
    weights: FloatArray, exposures: FloatArray, factor_covariance: FloatArray, asset_idiosyncratic_variance: FloatArray
) -> FloatArray:
    """Marginal contribution to risk ``(V w)_i / sigma`` of each asset (d risk / d w_i).

    ``weights * marginal`` are the assets' risk contributions and sum to the risk.
    Zero when the portfolio has no risk.
    """
    covariance = asset_covariance_with(weights, exposures, factor_covariance, asset_idiosyncratic_variance)
    variance = float(weights @ covariance)
    if variance <= 0:
        return np.zeros_like(weights)
    return covariance / math.sqrt(variance)


def beta(
    weights: FloatArray,
    benchmark_weights: FloatArray,
    exposures: FloatArray,
    factor_covariance: FloatArray,
    asset_idiosyncratic_variance: FloatArray,
) -> float:
    r"""Ex-ante beta :math:`w^\top V b / b^\top V b` of ``weights`` to ``benchmark_weights``.

    The idiosyncratic overlap of names held by both is included. NaN if the benchmark
    has no risk.

    >>> beta(np.array([1.0, 0.0]), np.array([0.5, 0.5]), np.array([[1.0], [1.0]]),
    ...      np.array([[0.04]]), np.array([0.0, 0.0]))
    1.0
    """
    covariance = asset_covariance_with(benchmark_weights, exposures, factor_covariance, asset_idiosyncratic_variance)
    variance = float(benchmark_weights @ covariance)
    return float(weights @ covariance) / variance if variance > 0 else math.nan


def normal_quantile(confidence: float) -> float:
    """Standard normal quantile ``z`` with ``P(Z <= z) = confidence`` (1.6449 at 0.95)."""
    return _STANDARD_NORMAL.inv_cdf(confidence)


def parametric_var(risk: float, confidence: float = 0.95, horizon_days: float = 1.0) -> float:
    r"""Normal parametric value at risk as a **positive loss fraction**.

    :math:`\mathrm{VaR} = z_{c}\,\sigma_{annual}/\sqrt{252}\,\sqrt{h}`, mean ignored.

    >>> round(parametric_var(0.1866, 0.95, 1), 5)  # 1.645 x 18.66% / sqrt(252)
    0.01933
    """
    return normal_quantile(confidence) * risk / SQRT_TRADING_DAYS * math.sqrt(horizon_days)


def parametric_expected_shortfall(risk: float, confidence: float = 0.95, horizon_days: float = 1.0) -> float:
    r"""Normal expected shortfall (mean loss beyond VaR) as a positive loss fraction.

    :math:`\mathrm{ES} = \sigma_h\,\varphi(z_c)/(1-c)`: 2.063 sigma at 95%, 2.665 sigma at 99%.
    """
    z = normal_quantile(confidence)
    density = math.exp(-0.5 * z * z) / math.sqrt(2 * math.pi)
    return density / (1 - confidence) * risk / SQRT_TRADING_DAYS * math.sqrt(horizon_days)
