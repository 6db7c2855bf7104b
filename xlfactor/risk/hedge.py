"""Hedge ratios: how much of each instrument to hold against a portfolio.

An instrument is a universe stock (its model exposures and idiosyncratic variance) or
an index/ETF of the snapshot's ``index_returns`` (exposures to market and sectors from
a time-series regression of its daily returns on those factor returns; its residual
variance is treated as uncorrelated with the stocks'). With instrument exposures ``Y``
(n_instruments, n_factors), instrument idiosyncratic covariance ``S`` and the portfolio's
idiosyncratic covariance with each instrument ``c``, holding ``h`` gives the variance

    (x + Y'h)' F (x + Y'h) + w'Dw + 2 c'h + h'Sh.

Objectives (hedge weights are decimals of the portfolio's gross, negative = short):

* ``risk``: minimum total variance, ``(Y F Y' + S) h = -(Y F x + c)``;
* ``te``: the same for the active weights (portfolio minus benchmark);
* ``factor``: minimum common-factor variance, ``Y F Y' h = -Y F x``;
* ``beta``: zero ex-ante beta to the benchmark with a single instrument.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from xlfactor._typing import FloatArray
from xlfactor.conventions import TRADING_DAYS_PER_YEAR, Choice, FactorGroup, normalize_ticker
from xlfactor.errors import UnknownTickersError, XlfactorError
from xlfactor.risk import decomposition as dec

if TYPE_CHECKING:
    from xlfactor.risk.model_data import FactorModelData

MIN_REGRESSION_DAYS = 60


class HedgeObjective(Choice):
    """What a hedge minimizes (see the module docstring)."""

    RISK = "risk"
    TE = "te"
    FACTOR = "factor"
    BETA = "beta"


OBJECTIVES = tuple(o.value for o in HedgeObjective)


@dataclass(frozen=True, eq=False)
class HedgeResult:
    """Hedge weights and the risk and beta of the hedged book."""

    instruments: list[str]
    hedge_weights: FloatArray  # (n_instruments,) decimals of gross
    instrument_betas: FloatArray  # (n_instruments,) ex-ante beta of each instrument to the benchmark
    risk_before: float  # annualized (tracking error for objective "te")
    risk_after: float
    beta_after: float  # ex-ante beta of the hedged book to the benchmark


def hedge(
    data: FactorModelData,
    weights: FloatArray,
    instruments: list[str],
    objective: HedgeObjective | str = HedgeObjective.RISK,
) -> HedgeResult:
    """Hedge ``weights`` with ``instruments`` under ``objective`` (see the module docstring).

    Parameters
    ----------
    data : FactorModelData
        The aligned model (benchmark: its cap-weighted universe).
    weights : ndarray of shape (n_assets,)
        Portfolio weights in universe order, decimals of gross.
    instruments : list of str
        Universe tickers or index/ETF tickers of the snapshot's ``index_returns``.
    objective : HedgeObjective or str
        ``risk`` (default), ``te``, ``factor`` or ``beta``.

    Returns
    -------
    HedgeResult
        Hedge weights (negative = short) and risk/beta before and after.

    Raises
    ------
    XlfactorError
        For an unknown objective (the message lists the choices), no or repeated
        instruments, or an index with too little return history.
    UnknownTickersError
        For instruments that are neither in the universe nor an index.
    """
    objective = HedgeObjective.parse(objective or HedgeObjective.RISK, "objective")
    if not instruments:
        raise XlfactorError("no hedge instruments given")
    names = [normalize_ticker(t) for t in instruments]
    if len(set(names)) != len(names):
        raise XlfactorError("hedge instruments must be distinct")
    X, F, D = data.exposures, data.factor_covariance, data.idiosyncratic_variance
    Y, S_diag, stock_rows = _instrument_model(data, names)
    base = weights - data.benchmark_weights if objective is HedgeObjective.TE else weights
    x = dec.factor_exposures(base, X)

    def idiosyncratic_overlap(w: FloatArray) -> FloatArray:
        """Idiosyncratic covariance of ``w`` with each instrument (non-zero only for a held stock)."""
        rows = np.maximum(stock_rows, 0)
        return np.where(stock_rows >= 0, w[rows] * D[rows], 0.0)

    c = idiosyncratic_overlap(base)
    S = np.diag(S_diag)
    same = (stock_rows[:, None] == stock_rows[None, :]) & (stock_rows[:, None] >= 0)
    S = np.where(same, S_diag[:, None], S)
    b = data.benchmark_weights
    bench_cov = dec.asset_covariance_with(b, X, F, D)  # V b
    bench_var = float(b @ bench_cov)
    # beta of each instrument: its covariance with the benchmark over the benchmark's variance
    betas = (Y @ (F @ dec.factor_exposures(b, X)) + idiosyncratic_overlap(b)) / bench_var
    portfolio_beta = dec.beta(weights, b, X, F, D)
    if objective is HedgeObjective.BETA:
        if len(names) != 1:
            raise XlfactorError("the beta objective takes exactly one instrument")
        h = np.array([-portfolio_beta / betas[0]])
    elif objective is HedgeObjective.FACTOR:
        h = np.linalg.lstsq(Y @ F @ Y.T, -(Y @ F @ x), rcond=None)[0]
    else:
        h = np.linalg.lstsq(Y @ F @ Y.T + S, -(Y @ F @ x + c), rcond=None)[0]

    def variance(hh: FloatArray) -> float:
        xx = x + Y.T @ hh
        return dec.factor_variance(xx, F) + dec.idiosyncratic_variance(base, D) + float(2 * c @ hh + hh @ S @ hh)

    return HedgeResult(
        instruments=names,
        hedge_weights=h,
        instrument_betas=betas,
        risk_before=float(np.sqrt(max(variance(np.zeros_like(h)), 0.0))),
        risk_after=float(np.sqrt(max(variance(h), 0.0))),
        beta_after=portfolio_beta + float(betas @ h),
    )


def _instrument_model(data: FactorModelData, names: list[str]) -> tuple[FloatArray, FloatArray, np.ndarray]:
    """Exposures (n_instruments, n_factors), idiosyncratic variances and universe rows (-1 for indexes)."""
    snapshot = data.snapshot
    rows = data.ticker_index.get_indexer(names)
    index_returns = snapshot.index_returns
    unknown = [n for n, r in zip(names, rows) if r < 0 and (index_returns is None or n not in index_returns.columns)]
    if unknown:
        raise UnknownTickersError(unknown)
    Y = np.zeros((len(names), len(data.factor_names)))
    S = np.zeros(len(names))
    for j, (name, row) in enumerate(zip(names, rows)):  # a handful of instruments, not stocks
        if row >= 0:
            Y[j] = data.exposures[row]
            S[j] = data.idiosyncratic_variance[row]
        else:
            Y[j], S[j] = index_exposures(index_returns[name], snapshot.factor_returns, data.factor_groups)
    return Y, S, rows


def index_exposures(
    returns: pd.Series, factor_returns: pd.DataFrame, factor_groups: np.ndarray
) -> tuple[FloatArray, float]:
    """Market and sector exposures of an index from OLS on those factors' daily returns.

    The regression has an intercept; only the dates both series have (no NaN) are used.

    Parameters
    ----------
    returns : Series
        The index's daily decimal returns, indexed by ISO date; its ``name`` is used in errors.
    factor_returns : DataFrame
        (n_days, n_factors) daily decimal factor returns, columns in model order.
    factor_groups : ndarray of str, shape (n_factors,)
        Group of each factor column.

    Returns
    -------
    exposure : ndarray of shape (n_factors,)
        OLS slopes on the market and sector factors; every other factor 0.
    residual_variance : float
        Annualized residual variance: ``sum(e^2) / (days - regressors - 1) x 252``.

    Raises
    ------
    XlfactorError
        With fewer than ``MIN_REGRESSION_DAYS`` common days.
    """
    use = np.isin(factor_groups, (FactorGroup.MARKET.value, FactorGroup.SECTOR.value))
    frame = pd.concat([returns.rename("_y"), factor_returns.loc[:, use]], axis=1, join="inner").dropna()
    if len(frame) < MIN_REGRESSION_DAYS:
        raise XlfactorError(f"{returns.name}: only {len(frame)} days of returns to estimate its exposures")
    y = frame.pop("_y").to_numpy()
    design = np.column_stack([np.ones(len(frame)), frame.to_numpy()])
    coefficients, *_ = np.linalg.lstsq(design, y, rcond=None)
    residual = y - design @ coefficients
    exposure = np.zeros(len(factor_groups))
    exposure[use] = coefficients[1:]
    dof = max(len(y) - design.shape[1], 1)
    return exposure, float(residual @ residual / dof * TRADING_DAYS_PER_YEAR)
