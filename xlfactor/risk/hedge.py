"""Hedge ratios: how much of each instrument to hold against a portfolio.

An instrument is a universe stock (its model exposures and idiosyncratic variance) or
an index/ETF of the snapshot's ``index_returns`` (exposures to the market, the sectors
and the industries of its own sector, from a time-series regression of its daily returns
on those factor returns; its residual variance is treated as uncorrelated with the stocks'). With instrument exposures ``Y``
(n_instruments, n_factors), instrument specific covariance ``S`` and the portfolio's
specific covariance with each instrument ``c``, holding ``h`` gives the variance

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
    F, D = data.factor_covariance, data.idiosyncratic_variance
    Y, S_diag, stock_rows, names = instrument_model(data, instruments)
    base = weights - data.benchmark_weights if objective == "te" else weights
    x = data.exposures.T @ base
    c = _specific_overlap(data, stock_rows, base)
    S = _instrument_specific(S_diag, stock_rows)
    b = data.benchmark_weights
    bench_cov = data.exposures @ (F @ (data.exposures.T @ b)) + D * b
    bench_var = float(b @ bench_cov)
    betas = (Y @ (F @ (data.exposures.T @ b)) + _specific_overlap(data, stock_rows, b)) / bench_var
    if objective == "beta":
        if len(names) != 1:
            raise XlfactorError("the beta objective takes exactly one instrument")
        h = np.array([-float(weights @ bench_cov) / bench_var / betas[0]])
    elif objective == "factor":
        h = np.linalg.lstsq(Y @ F @ Y.T, -(Y @ F @ x), rcond=None)[0]
    else:
        h = np.linalg.lstsq(Y @ F @ Y.T + S, -(Y @ F @ x + c), rcond=None)[0]
    beta_after = (float(weights @ bench_cov) + float(betas @ h) * bench_var) / bench_var
    return HedgeResult(
        instruments=names,
        hedge_weights=h,
        instrument_betas=betas,
        risk_before=float(np.sqrt(max(variance_with_hedge(data, base, Y, S_diag, stock_rows, np.zeros_like(h)), 0.0))),
        risk_after=float(np.sqrt(max(variance_with_hedge(data, base, Y, S_diag, stock_rows, h), 0.0))),
        beta_after=beta_after,
    )


def _specific_overlap(data, stock_rows: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Specific covariance of ``weights`` with each instrument (non-zero only for a held stock)."""
    rows = np.maximum(stock_rows, 0)
    return np.where(stock_rows >= 0, weights[rows] * data.idiosyncratic_variance[rows], 0.0)


def _instrument_specific(S_diag: np.ndarray, stock_rows: np.ndarray) -> np.ndarray:
    """Specific covariance among instruments (the same stock twice is perfectly correlated)."""
    same = (stock_rows[:, None] == stock_rows[None, :]) & (stock_rows[:, None] >= 0)
    return np.where(same, S_diag[:, None], np.diag(S_diag))


def variance_with_hedge(data, weights, Y, S_diag, stock_rows, h) -> float:
    """Annualized variance of ``weights`` plus ``h`` of the instruments (exposures ``Y``)."""
    xx = data.exposures.T @ weights + Y.T @ h
    c = _specific_overlap(data, stock_rows, weights)
    S = _instrument_specific(S_diag, stock_rows)
    return float(xx @ data.factor_covariance @ xx + (weights * weights) @ data.idiosyncratic_variance + 2 * c @ h + h @ S @ h)


def instrument_model(data, instruments: list[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[str]]:
    """Exposures (n_instruments, n_factors), specific variances, universe rows (-1 for ETFs) and names.

    ETF exposures come from :func:`index_exposures` (market, sectors and the industries
    of the ETF's sector), computed once per snapshot and ETF.
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
            key = f"index_exposures:{name}"
            if key not in snapshot._memo:
                industries, sector = _etf_industries(data, name)
                snapshot._memo[key] = index_exposures(
                    index_returns[name], snapshot.factor_returns, data.factor_groups, industries, sector, _nested(data)
                )
            Y[j], S[j] = snapshot._memo[key]
    return Y, S, rows, names


def _nested(data) -> bool:
    """Every name's sector exposures sum to its market exposure, and its industries to it too."""
    groups = np.asarray(data.factor_groups).astype(str)
    X = data.exposures
    market = np.nonzero(groups == "market")[0]
    if len(market) != 1 or not (groups == "sector").any():
        return False
    total = X[:, market[0]]
    industries = groups == "industry"
    return bool(np.allclose(X[:, groups == "sector"].sum(axis=1), total)
                and (not industries.any() or np.allclose(X[:, industries].sum(axis=1), total)))  # fmt: skip


def _etf_industries(data, etf: str) -> tuple[np.ndarray | None, int | None]:
    """The ETF's sector column (from the ETF map) and the mask of that sector's industry columns."""
    from xlfactor.etf_map import sectors_of_etf

    names = [str(n) for n in data.factor_names]
    groups = np.asarray(data.factor_groups).astype(str)
    for sector in sectors_of_etf(etf):
        column = f"sector:{sector}"
        if column in names:
            members = data.exposures[:, names.index(column)] > 0
            mask = (groups == "industry") & (data.exposures[members] > 0).any(axis=0)
            return (mask, names.index(column)) if mask.any() else (None, None)
    return None, None


def index_exposures(
    returns: pd.Series,
    factor_returns: pd.DataFrame,
    factor_groups: np.ndarray,
    industries: np.ndarray | None = None,
    sector: int | None = None,
    nested: bool = False,
) -> tuple[np.ndarray, float]:
    """Exposures of an index/ETF from OLS of its daily returns on factor returns.

    The regressors are the market and every sector and, when ``industries`` (a boolean
    mask over the factors) and its ``sector`` (column index) are given, the industries of
    the ETF's own sector, so a subsector ETF gets the industry exposure it tracks.
    With ``nested`` (every stock's sectors sum to its market exposure, and its industries
    to its sector's) the model identifies sector returns to a cap-weighted sum of zero,
    and industry returns within each sector, so those returns are collinear over time;
    the ETF's exposures are then pinned the way the stocks' are: sectors summing to the
    market exposure, the sector's industries to the sector exposure (least squares on the
    null space of those constraints). Returns the exposure vector (other factors 0) and
    the annualized residual variance.
    """
    from scipy.linalg import null_space

    use = np.isin(factor_groups, ("market", "sector"))
    members = np.zeros(len(factor_groups), dtype=bool)
    if industries is not None and sector is not None:
        members = np.asarray(industries, dtype=bool) & (np.asarray(factor_groups) == "industry")
        use = use | members
    frame = pd.concat([returns.rename("_y"), factor_returns.loc[:, use]], axis=1, join="inner").dropna()
    if len(frame) < MIN_REGRESSION_DAYS:
        raise XlfactorError(f"{returns.name}: only {len(frame)} days of returns to estimate its exposures")
    y = frame.pop("_y").to_numpy()
    columns = np.nonzero(use)[0]
    groups = np.asarray(factor_groups)[columns]
    constraints = []
    if nested:
        row = np.where(groups == "sector", 1.0, 0.0) - (groups == "market")
        constraints.append(row)
        if members.any():
            row = members[columns].astype(float)
            row[list(columns).index(sector)] = -1.0
            constraints.append(row)
    basis = null_space(np.array(constraints)) if constraints else np.eye(len(columns))
    design = np.column_stack([np.ones(len(y)), frame.to_numpy() @ basis])
    coefficients, *_ = np.linalg.lstsq(design, y, rcond=None)
    residual = y - design @ coefficients
    exposure = np.zeros(len(factor_groups))
    exposure[columns] = basis @ coefficients[1:]
    dof = max(len(y) - design.shape[1], 1)
    return exposure, float(residual @ residual / dof * TRADING_DAYS_PER_YEAR)


@dataclass(frozen=True, eq=False)
class HedgedStatistics:
    """Model risk, factor share of variance and ex-ante beta of a book plus a hedge."""

    risk: float  # annualized
    factor_share: float  # common-factor variance / total variance
    beta: float  # to the benchmark (default: cap-weighted universe)


def hedged_statistics(data, weights: np.ndarray, instruments: list[str], h: np.ndarray) -> HedgedStatistics:
    """Risk, factor share and beta of ``weights`` plus ``h`` of ``instruments`` (decimals of gross)."""
    Y, S, rows, _ = instrument_model(data, instruments)
    h = np.asarray(h, dtype=float)
    total = variance_with_hedge(data, weights, Y, S, rows, h)
    x = data.exposures.T @ weights + Y.T @ h
    factor = float(x @ data.factor_covariance @ x)
    b = data.benchmark_weights
    fb = data.factor_covariance @ (data.exposures.T @ b)
    bench_var = float(b @ (data.exposures @ fb + data.idiosyncratic_variance * b))
    covariance = float(x @ fb + weights @ (data.idiosyncratic_variance * b) + _specific_overlap(data, rows, b) @ h)
    return HedgedStatistics(
        risk=float(np.sqrt(max(total, 0.0))),
        factor_share=factor / total if total > 0 else float("nan"),
        beta=covariance / bench_var,
    )
