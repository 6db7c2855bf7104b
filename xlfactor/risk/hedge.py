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

import numpy as np
import pandas as pd

from xlfactor.conventions import TRADING_DAYS_PER_YEAR, normalize_ticker
from xlfactor.errors import UnknownTickersError, XlfactorError

OBJECTIVES = ("risk", "te", "factor", "beta")
MIN_REGRESSION_DAYS = 60


@dataclass(frozen=True, eq=False)
class HedgeResult:
    instruments: list[str]
    hedge_weights: np.ndarray  # (n_instruments,) decimals of gross
    instrument_betas: np.ndarray  # (n_instruments,) ex-ante beta of each instrument to the benchmark
    risk_before: float  # annualized (tracking error for objective "te")
    risk_after: float
    beta_after: float


def hedge(data, weights: np.ndarray, instruments: list[str], objective: str = "risk") -> HedgeResult:
    """Hedge ``weights`` with ``instruments`` under ``objective`` (see the module docstring)."""
    objective = (objective or "risk").strip().lower()
    if objective not in OBJECTIVES:
        raise XlfactorError(f"objective must be one of {', '.join(OBJECTIVES)}, got {objective!r}")
    if not instruments:
        raise XlfactorError("no hedge instruments given")
    names = [normalize_ticker(t) for t in instruments]
    if len(set(names)) != len(names):
        raise XlfactorError("hedge instruments must be distinct")
    F, D = data.factor_covariance, data.idiosyncratic_variance
    Y, S_diag, stock_rows = _instrument_model(data, names)
    base = weights - data.benchmark_weights if objective == "te" else weights
    x = data.exposures.T @ base
    def idiosyncratic_overlap(weights: np.ndarray) -> np.ndarray:
        """Idiosyncratic covariance of ``weights`` with each instrument (non-zero only for a held stock)."""
        rows = np.maximum(stock_rows, 0)
        return np.where(stock_rows >= 0, weights[rows] * D[rows], 0.0)

    c = idiosyncratic_overlap(base)
    S = np.diag(S_diag)
    same = (stock_rows[:, None] == stock_rows[None, :]) & (stock_rows[:, None] >= 0)
    S = np.where(same, S_diag[:, None], S)
    b = data.benchmark_weights
    bench_cov = data.exposures @ (F @ (data.exposures.T @ b)) + D * b
    bench_var = float(b @ bench_cov)
    betas = (Y @ (F @ (data.exposures.T @ b)) + idiosyncratic_overlap(b)) / bench_var
    if objective == "beta":
        if len(names) != 1:
            raise XlfactorError("the beta objective takes exactly one instrument")
        h = np.array([-float(weights @ bench_cov) / bench_var / betas[0]])
    elif objective == "factor":
        h = np.linalg.lstsq(Y @ F @ Y.T, -(Y @ F @ x), rcond=None)[0]
    else:
        h = np.linalg.lstsq(Y @ F @ Y.T + S, -(Y @ F @ x + c), rcond=None)[0]

    def variance(hh: np.ndarray) -> float:
        xx = x + Y.T @ hh
        return float(xx @ F @ xx + (base * base) @ D + 2 * c @ hh + hh @ S @ hh)

    beta_after = (float(weights @ bench_cov) + float(betas @ h) * bench_var) / bench_var
    return HedgeResult(
        instruments=names,
        hedge_weights=h,
        instrument_betas=betas,
        risk_before=float(np.sqrt(max(variance(np.zeros_like(h)), 0.0))),
        risk_after=float(np.sqrt(max(variance(h), 0.0))),
        beta_after=beta_after,
    )


def _instrument_model(data, names: list[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
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


def index_exposures(returns: pd.Series, factor_returns: pd.DataFrame, factor_groups: np.ndarray) -> tuple[np.ndarray, float]:
    """Market and sector exposures of an index from OLS on those factors' daily returns.

    Returns the exposure vector (other factors 0) and the annualized residual variance.
    """
    use = np.isin(factor_groups, ("market", "sector"))
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
