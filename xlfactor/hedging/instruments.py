"""Hedge ratios: how much of each instrument to hold against a portfolio.

An instrument is a universe stock (its model exposures and idiosyncratic variance) or
an index/ETF of the snapshot's ``index_returns`` (exposures to the market, the sectors and
the industries of its own sector, from a time-series regression of its daily returns on
those factor returns; its residual variance is treated as uncorrelated with the stocks'). With instrument exposures ``Y``
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
    X, F, D = data.exposures, data.factor_covariance, data.idiosyncratic_variance
    Y, S_diag, stock_rows, names = instrument_model(data, instruments)
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


def instrument_model(
    data: FactorModelData, instruments: list[str]
) -> tuple[FloatArray, FloatArray, np.ndarray, list[str]]:
    """Exposures, idiosyncratic variances, universe rows and names of hedge instruments.

    Parameters
    ----------
    data : FactorModelData
    instruments : list of str
        Universe tickers or index/ETF tickers of the snapshot's ``index_returns``.

    Returns
    -------
    exposures : ndarray (n_instruments, n_factors)
        A stock's model exposures; an ETF's from :func:`index_exposures` on the market,
        the sectors and the industries of its sector (from :mod:`xlfactor.snapshot.etf_map`),
        pinned like a stock's when the model is nested; estimated once per snapshot.
    idiosyncratic_variance : ndarray (n_instruments,)
        Annualized.
    rows : ndarray (n_instruments,)
        Universe rows (-1 for an index/ETF).
    names : list of str
        Canonical tickers.
    """
    if not instruments:
        raise XlfactorError("no hedge instruments given")
    names = [normalize_ticker(t) for t in instruments]
    if len(set(names)) != len(names):
        raise XlfactorError("hedge instruments must be distinct")
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

            def estimate(name: str = name) -> tuple[FloatArray, float]:
                industries, sector = _etf_industries(data, name)
                return index_exposures(
                    index_returns[name], snapshot.factor_returns, data.factor_groups, industries, sector, _nested(data)
                )

            Y[j], S[j] = snapshot.cached(f"index_exposures:{name}", estimate)
    return Y, S, rows, names


def _nested(data: FactorModelData) -> bool:
    """Every name's sector exposures sum to its market exposure, and its industries too."""
    groups = np.asarray(data.factor_groups).astype(str)
    X = data.exposures
    market = np.nonzero(groups == FactorGroup.MARKET.value)[0]
    if len(market) != 1 or not (groups == FactorGroup.SECTOR.value).any():
        return False
    total = X[:, market[0]]
    industries = groups == FactorGroup.INDUSTRY.value
    return bool(np.allclose(X[:, groups == FactorGroup.SECTOR.value].sum(axis=1), total)
                and (not industries.any() or np.allclose(X[:, industries].sum(axis=1), total)))  # fmt: skip


def _etf_industries(data: FactorModelData, etf: str) -> tuple[np.ndarray | None, int | None]:
    """The mask of the industry columns of the ETF's sector (from the ETF map) and that sector's column."""
    from xlfactor.snapshot.etf_map import sectors_of_etf

    names = [str(n) for n in data.factor_names]
    groups = np.asarray(data.factor_groups).astype(str)
    for sector in sectors_of_etf(etf):
        column = f"sector:{sector}"
        if column in names:
            members = data.exposures[:, names.index(column)] > 0
            mask = (groups == FactorGroup.INDUSTRY.value) & (data.exposures[members] > 0).any(axis=0)
            return (mask, names.index(column)) if mask.any() else (None, None)
    return None, None


def idiosyncratic_overlap(data: FactorModelData, stock_rows: np.ndarray, weights: FloatArray) -> FloatArray:
    """Idiosyncratic covariance of ``weights`` with each instrument (non-zero only for a held stock).

    Parameters
    ----------
    data : FactorModelData
        The model.
    stock_rows : ndarray of int, shape (n_instruments,)
        Each instrument's row in the universe, -1 for an index or ETF.
    weights : ndarray, shape (n_assets,)
        Portfolio weights (decimals of gross).

    Returns
    -------
    ndarray, shape (n_instruments,)
        ``w_i d_i`` (annualized decimal²) for an instrument that is stock ``i``, 0 otherwise.
    """
    rows = np.maximum(stock_rows, 0)
    return np.where(stock_rows >= 0, weights[rows] * data.idiosyncratic_variance[rows], 0.0)


def _instrument_idiosyncratic(S_diag: FloatArray, stock_rows: np.ndarray) -> FloatArray:
    """Idiosyncratic covariance among instruments (the same stock twice is perfectly correlated)."""
    same = (stock_rows[:, None] == stock_rows[None, :]) & (stock_rows[:, None] >= 0)
    return np.where(same, S_diag[:, None], np.diag(S_diag))


def variance_with_hedge(
    data: FactorModelData, weights: FloatArray, Y: FloatArray, S_diag: FloatArray, stock_rows: np.ndarray, h: FloatArray
) -> float:
    """Annualized variance of ``weights`` plus ``h`` of the instruments (exposures ``Y``, from :func:`instrument_model`)."""
    xx = data.exposures.T @ weights + Y.T @ h
    c = idiosyncratic_overlap(data, stock_rows, weights)
    S = _instrument_idiosyncratic(S_diag, stock_rows)
    return float(xx @ data.factor_covariance @ xx + (weights * weights) @ data.idiosyncratic_variance + 2 * c @ h + h @ S @ h)


@dataclass(frozen=True, eq=False)
class HedgedStatistics:
    """Model risk, factor share of variance and ex-ante beta of a book plus a hedge."""

    risk: float  # annualized
    factor_share: float  # common-factor variance / total variance
    beta: float  # to the benchmark (the cap-weighted universe)


def hedged_statistics(data: FactorModelData, weights: FloatArray, instruments: list[str], h: FloatArray) -> HedgedStatistics:
    """Risk, factor share and beta of ``weights`` plus ``h`` of ``instruments`` (decimals of gross)."""
    Y, S, rows, _ = instrument_model(data, instruments)
    h = np.asarray(h, dtype=float)
    total = variance_with_hedge(data, weights, Y, S, rows, h)
    x = data.exposures.T @ weights + Y.T @ h
    factor = float(x @ data.factor_covariance @ x)
    b = data.benchmark_weights
    fb = data.factor_covariance @ (data.exposures.T @ b)
    bench_var = float(b @ (data.exposures @ fb + data.idiosyncratic_variance * b))
    covariance = float(x @ fb + weights @ (data.idiosyncratic_variance * b) + idiosyncratic_overlap(data, rows, b) @ h)
    return HedgedStatistics(
        risk=float(np.sqrt(max(total, 0.0))),
        factor_share=factor / total if total > 0 else float("nan"),
        beta=covariance / bench_var,
    )


def index_exposures(
    returns: pd.Series,
    factor_returns: pd.DataFrame,
    factor_groups: np.ndarray,
    industries: np.ndarray | None = None,
    sector: int | None = None,
    nested: bool = False,
) -> tuple[FloatArray, float]:
    """Exposures of an index/ETF from OLS of its daily returns on factor returns.

    The regression has an intercept; only the dates both series have (no NaN) are used.
    The regressors are the market and every sector and, when ``industries`` and
    ``sector`` are given, the industries of the ETF's own sector, so a subsector ETF gets
    the industry exposure it tracks. With ``nested`` (every stock's sectors sum to its
    market exposure, its industries to its sector's) the model identifies sector returns
    to a cap-weighted sum of zero, and industry returns within each sector, so those
    returns are collinear over time; the exposures are then pinned the way a stock's are
    (sectors sum to the market exposure, the sector's industries to the sector's) by
    least squares on the null space of those constraints.

    Parameters
    ----------
    returns : Series
        The index's daily decimal returns, indexed by ISO date; its ``name`` is used in errors.
    factor_returns : DataFrame
        (n_days, n_factors) daily decimal factor returns, columns in model order.
    factor_groups : ndarray of str, shape (n_factors,)
        Group of each factor column.
    industries : ndarray of bool, shape (n_factors,), optional
        The industry columns of the ETF's sector.
    sector : int, optional
        Column of the ETF's sector (needed with ``industries``).
    nested : bool
        Impose the nesting constraints above.

    Returns
    -------
    exposure : ndarray of shape (n_factors,)
        Coefficients on the market, sector (and industry) factors; every other factor 0.
    residual_variance : float
        Annualized residual variance: ``sum(e^2) / (days - regressors - 1) x 252``.

    Raises
    ------
    XlfactorError
        With fewer than ``MIN_REGRESSION_DAYS`` common days.
    """
    from scipy.linalg import null_space

    groups_all = np.asarray(factor_groups)
    use = np.isin(groups_all, (FactorGroup.MARKET.value, FactorGroup.SECTOR.value))
    members = np.zeros(len(groups_all), dtype=bool)
    if industries is not None and sector is not None:
        members = np.asarray(industries, dtype=bool) & (groups_all == FactorGroup.INDUSTRY.value)
        use = use | members
    frame = pd.concat([returns.rename("_y"), factor_returns.loc[:, use]], axis=1, join="inner").dropna()
    if len(frame) < MIN_REGRESSION_DAYS:
        raise XlfactorError(f"{returns.name}: only {len(frame)} days of returns to estimate its exposures")
    y = frame.pop("_y").to_numpy()
    columns = np.nonzero(use)[0]
    groups = groups_all[columns]
    constraints = []
    if nested:
        constraints.append(np.where(groups == FactorGroup.SECTOR.value, 1.0, 0.0) - (groups == FactorGroup.MARKET.value))
        if members.any():
            row = members[columns].astype(float)
            row[list(columns).index(sector)] = -1.0
            constraints.append(row)
    basis = null_space(np.array(constraints)) if constraints else np.eye(len(columns))
    design = np.column_stack([np.ones(len(y)), frame.to_numpy() @ basis])
    coefficients, *_ = np.linalg.lstsq(design, y, rcond=None)
    residual = y - design @ coefficients
    exposure = np.zeros(len(groups_all))
    exposure[columns] = basis @ coefficients[1:]
    dof = max(len(y) - design.shape[1], 1)
    return exposure, float(residual @ residual / dof * TRADING_DAYS_PER_YEAR)
