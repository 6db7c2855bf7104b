"""Time-series exposure of a return stream: OLS on factor returns, FMCAR, rolling betas.

A return stream ``r`` (a stock's model-plus-residual return, a portfolio's stored history,
any column) is regressed on factor returns ``f`` (model factors, ETFs, user columns)::

    r_t = alpha + sum_k b_k f_kt + e_t            (daily decimal returns, OLS with intercept)

* Regression statistics come from statsmodels (imported lazily): classical and
  Newey-West (HAC, Bartlett kernel, small-sample correction) standard errors, t-stats,
  95% intervals, R² and adjusted R².
* FMCAR (factor marginal contribution to active risk, the lecture's definition):
  ``FMCAR_j = b_j (C b)_j / Var(r)`` with ``C`` the sample covariance of the factors;
  the idiosyncratic share ``Var(e) / Var(r)``. In sample they add up to 1 exactly.
* Rolling: the same regression on a moving window (vectorized over windows), with a
  Jarque-Bera p-value (scipy) of each factor's rolling estimates: a small p-value says
  the estimates are not normal, so a textbook interval on the exposure means little.

Alpha is daily and annualized (x 252); residual volatility annualized (x sqrt 252).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from xlfactor.conventions import SQRT_TRADING_DAYS, TRADING_DAYS_PER_YEAR
from xlfactor.errors import XlfactorError

CONFIDENCE = 0.95


@dataclass(frozen=True, eq=False)
class RegressionResult:
    """OLS of one return stream on factor returns (see the module docstring).

    ``table`` has one row per term (``alpha`` first, then the factors) with columns
    ``coefficient, std_error, t_stat, ci_low, ci_high`` (classical, 95%) and
    ``nw_std_error, nw_t_stat, nw_ci_low, nw_ci_high`` (Newey-West), plus ``fmcar`` (NaN
    for alpha). Coefficients are per unit of daily factor return; alpha daily.

    Parameters
    ----------
    table : pandas.DataFrame
        The coefficient table, index ``alpha`` then the factor names.
    alpha_daily : float
        Intercept, daily decimal return.
    alpha_annualized : float
        ``alpha_daily x 252``.
    betas : pandas.Series
        (n_factors,) exposures per unit of daily factor return.
    r_squared, adj_r_squared : float
        Fit of the regression.
    residual_volatility : float
        Annualized decimal volatility of the residuals.
    fmcar : pandas.Series
        (n_factors,) each factor's share of ``Var(r)`` (factor marginal contribution to risk).
    idiosyncratic_share : float
        ``Var(e) / Var(r)``; ``fmcar.sum() + idiosyncratic_share == 1``.
    n_observations : int
        Days used.
    newey_west_lags : int
        Lags of the Newey-West errors.
    residuals : pandas.Series
        Daily decimal residuals, indexed by the dates used.

    Examples
    --------
    >>> import xlfactor as xf
    >>> from xlfactor.risk.timeseries import stock_returns
    >>> snap = xf.load_snapshot()
    >>> fit = xf.regress_returns(stock_returns(snap)["SIM0001"], snap.index_returns[["SPY"]])
    >>> fit.table.index.tolist(), round(float(fit.fmcar.sum() + fit.idiosyncratic_share), 10)
    (['alpha', 'SPY'], 1.0)
    """

    table: pd.DataFrame  # index: alpha, factor names
    alpha_daily: float
    alpha_annualized: float
    betas: pd.Series  # (n_factors,)
    r_squared: float
    adj_r_squared: float
    residual_volatility: float  # annualized decimal
    fmcar: pd.Series  # (n_factors,) shares of Var(r)
    idiosyncratic_share: float  # Var(e) / Var(r); fmcar.sum() + idiosyncratic_share == 1
    n_observations: int
    newey_west_lags: int
    residuals: pd.Series  # daily decimals, index = dates used

    def summary(self) -> pd.DataFrame:
        """One column of headline statistics (name -> value).

        Returns
        -------
        pandas.DataFrame
            Index ``alpha_daily, alpha_annualized, r_squared, adj_r_squared,
            residual_volatility, idiosyncratic_share, observations, newey_west_lags``; column ``value``.

        Examples
        --------
        >>> import xlfactor as xf
        >>> from xlfactor.risk.timeseries import stock_returns
        >>> snap = xf.load_snapshot()
        >>> fit = xf.regress_returns(stock_returns(snap)["SIM0001"], snap.index_returns[["SPY"]])
        >>> int(fit.summary().loc["observations", "value"]) == fit.n_observations
        True
        """
        return pd.Series(
            {
                "alpha_daily": self.alpha_daily,
                "alpha_annualized": self.alpha_annualized,
                "r_squared": self.r_squared,
                "adj_r_squared": self.adj_r_squared,
                "residual_volatility": self.residual_volatility,
                "idiosyncratic_share": self.idiosyncratic_share,
                "observations": float(self.n_observations),
                "newey_west_lags": float(self.newey_west_lags),
            },
            name="value",
        ).to_frame()


@dataclass(frozen=True, eq=False)
class RollingExposures:
    """Rolling-window regressions; each row is the window ending on its date.

    Parameters
    ----------
    window : int
        Days per regression.
    alpha_daily : pandas.Series
        (n_windows,) daily intercepts.
    betas : pandas.DataFrame
        (n_windows, n_factors) exposures.
    fmcar : pandas.DataFrame
        (n_windows, n_factors) shares of the variance.
    idiosyncratic_share : pandas.Series
        (n_windows,) residual share of the variance.
    r_squared : pandas.Series
        (n_windows,) fit.
    jarque_bera_pvalue : pandas.Series
        (n_factors,) normality test of each factor's rolling betas (a low p-value: an
        interval on the exposure means little).

    Examples
    --------
    >>> import xlfactor as xf
    >>> from xlfactor.risk.timeseries import stock_returns
    >>> snap = xf.load_snapshot()
    >>> roll = xf.rolling_exposures(stock_returns(snap)["SIM0001"], snap.factor_returns[["market"]], window=63)
    >>> roll.window, len(roll.betas) == len(roll.r_squared)
    (63, True)
    """

    window: int
    alpha_daily: pd.Series  # (n_windows,)
    betas: pd.DataFrame  # (n_windows, n_factors)
    fmcar: pd.DataFrame  # (n_windows, n_factors)
    idiosyncratic_share: pd.Series  # (n_windows,)
    r_squared: pd.Series  # (n_windows,)
    jarque_bera_pvalue: pd.Series  # (n_factors,) of each factor's rolling betas


def default_newey_west_lags(n_observations: int) -> int:
    """Newey-West (1994) rule of thumb ``floor(4 (n/100)^(2/9))``.

    >>> default_newey_west_lags(252)
    4
    """
    return math.floor(4 * (n_observations / 100.0) ** (2.0 / 9.0))


def _aligned(returns: pd.Series | pd.DataFrame, factors: pd.DataFrame | pd.Series) -> tuple[pd.Series, pd.DataFrame]:
    if isinstance(returns, pd.DataFrame):
        if returns.shape[1] != 1:
            raise XlfactorError(f"returns must be one column, got {returns.shape[1]}")
        returns = returns.iloc[:, 0]
    if not isinstance(returns, pd.Series):
        raise XlfactorError("returns must be a pandas Series of daily returns")
    if isinstance(factors, pd.Series):
        factors = factors.to_frame(factors.name if factors.name is not None else "factor")
    if not isinstance(factors, pd.DataFrame) or factors.shape[1] == 0:
        raise XlfactorError("factors must be a DataFrame with at least one column")
    if factors.columns.duplicated().any():
        raise XlfactorError("factors has duplicate column names")
    y = pd.to_numeric(returns, errors="coerce").astype(float).rename("_returns")
    x = factors.apply(pd.to_numeric, errors="coerce").astype(float)
    frame = pd.concat([y, x], axis=1, join="inner").dropna()
    if len(frame) < x.shape[1] + 3:
        raise XlfactorError(
            f"returns: only {len(frame)} dates with the return and every factor present ({x.shape[1]} factors need {x.shape[1] + 3})"
        )
    return frame.pop("_returns"), frame


def regress_returns(
    returns: pd.Series, factors: pd.DataFrame, newey_west_lags: int | None = None
) -> RegressionResult:
    """Regress a daily return stream on factor returns (OLS with intercept).

    Parameters
    ----------
    returns : Series
        Daily decimal returns, indexed by date.
    factors : DataFrame
        Daily decimal factor (or ETF) returns, one column per factor. Dates are
        intersected with ``returns``; rows with any missing value are dropped.
    newey_west_lags : int, optional
        Lags of the Newey-West standard errors; default ``floor(4 (n/100)^(2/9))``.

    Returns
    -------
    RegressionResult
        Betas are per unit of factor return (unitless); alpha daily and x252;
        residual volatility annualized; FMCAR shares plus the idiosyncratic share sum to 1.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> f = pd.DataFrame({"mkt": rng.normal(0, 0.01, 500)})
    >>> r = pd.Series(0.0002 + 1.2 * f["mkt"] + rng.normal(0, 0.005, 500))
    >>> fit = regress_returns(r, f)
    >>> round(float(fit.betas["mkt"]), 1), round(float(fit.fmcar.sum() + fit.idiosyncratic_share), 12)
    (1.2, 1.0)
    """
    import statsmodels.api as sm

    y, x = _aligned(returns, factors)
    n = len(x)
    lags = default_newey_west_lags(n) if newey_west_lags is None else int(newey_west_lags)
    if lags < 0 or lags >= n:
        raise XlfactorError(f"newey_west_lags must be between 0 and {n - 1}, got {newey_west_lags!r}")
    design = sm.add_constant(x.to_numpy(), has_constant="add")
    model = sm.OLS(y.to_numpy(), design)
    classical = model.fit()
    robust = model.fit(cov_type="HAC", cov_kwds={"maxlags": lags, "use_correction": True}, use_t=True)
    ci = classical.conf_int(1 - CONFIDENCE)
    nw_ci = robust.conf_int(1 - CONFIDENCE)
    terms = ["alpha", *map(str, x.columns)]
    params = classical.params
    betas = params[1:]
    cov_f = np.atleast_2d(np.cov(x.to_numpy(), rowvar=False))
    var_r = float(np.var(y.to_numpy(), ddof=1))
    residuals = classical.resid
    fmcar = betas * (cov_f @ betas) / var_r
    idiosyncratic = float(np.var(residuals, ddof=1)) / var_r
    table = pd.DataFrame(
        {
            "coefficient": params,
            "std_error": classical.bse,
            "t_stat": classical.tvalues,
            "ci_low": ci[:, 0],
            "ci_high": ci[:, 1],
            "nw_std_error": robust.bse,
            "nw_t_stat": robust.tvalues,
            "nw_ci_low": nw_ci[:, 0],
            "nw_ci_high": nw_ci[:, 1],
            "fmcar": np.concatenate([[np.nan], fmcar]),
        },
        index=pd.Index(terms, name="term"),
    )
    resid_vol_daily = math.sqrt(float(residuals @ residuals) / classical.df_resid)
    return RegressionResult(
        table=table,
        alpha_daily=float(params[0]),
        alpha_annualized=float(params[0]) * TRADING_DAYS_PER_YEAR,
        betas=pd.Series(betas, index=terms[1:], name="beta"),
        r_squared=float(classical.rsquared),
        adj_r_squared=float(classical.rsquared_adj),
        residual_volatility=resid_vol_daily * SQRT_TRADING_DAYS,
        fmcar=pd.Series(fmcar, index=terms[1:], name="fmcar"),
        idiosyncratic_share=idiosyncratic,
        n_observations=int(n),
        newey_west_lags=lags,
        residuals=pd.Series(residuals, index=y.index, name="residual"),
    )


def rolling_exposures(returns: pd.Series, factors: pd.DataFrame, window: int = 63) -> RollingExposures:
    """Rolling OLS betas and FMCAR of a return stream on factor returns.

    Vectorized over windows: every window's centred cross-moments come from one
    sliding view, and the normal equations are solved as one batch.

    Parameters
    ----------
    returns : Series
        Daily decimal returns indexed by date.
    factors : DataFrame
        Daily decimal factor returns (intersected with ``returns``; incomplete rows dropped).
    window : int
        Days per regression (default 63, a quarter); must exceed the factor count + 2.

    Returns
    -------
    RollingExposures
        One row per window end date; ``jarque_bera_pvalue`` per factor from
        ``scipy.stats.jarque_bera`` of its rolling betas.

    Examples
    --------
    >>> rng = np.random.default_rng(1)
    >>> f = pd.DataFrame({"mkt": rng.normal(0, 0.01, 300)})
    >>> r = pd.Series(0.8 * f["mkt"] + rng.normal(0, 0.004, 300))
    >>> roll = rolling_exposures(r, f, window=63)
    >>> roll.betas.shape, bool(abs(roll.betas["mkt"].mean() - 0.8) < 0.1)
    ((238, 1), True)
    """
    from scipy import stats

    y, x = _aligned(returns, factors)
    window = int(window)
    n, k = x.shape
    if window < k + 3:
        raise XlfactorError(f"window must be at least {k + 3} days for {k} factors, got {window}")
    if window > n:
        raise XlfactorError(f"window ({window} days) is longer than the {n} dates with every series present")
    X = np.lib.stride_tricks.sliding_window_view(x.to_numpy(), window, axis=0)  # (m, k, window)
    Y = np.lib.stride_tricks.sliding_window_view(y.to_numpy(), window)  # (m, window)
    Xc = X - X.mean(axis=2, keepdims=True)
    Yc = Y - Y.mean(axis=1, keepdims=True)
    cov_ff = np.einsum("mkt,mjt->mkj", Xc, Xc) / (window - 1)
    cov_fy = np.einsum("mkt,mt->mk", Xc, Yc) / (window - 1)
    var_y = np.einsum("mt,mt->m", Yc, Yc) / (window - 1)
    betas = np.linalg.solve(cov_ff, cov_fy[..., None])[..., 0]
    alpha = Y.mean(axis=1) - np.einsum("mk,mk->m", X.mean(axis=2), betas)
    explained = betas * np.einsum("mkj,mj->mk", cov_ff, betas)
    fmcar = explained / var_y[:, None]
    idiosyncratic = 1.0 - fmcar.sum(axis=1)
    dates = y.index[window - 1 :]
    names = [str(c) for c in x.columns]
    jb = np.array([stats.jarque_bera(betas[:, j]).pvalue for j in range(k)])  # k factors, a handful
    return RollingExposures(
        window=window,
        alpha_daily=pd.Series(alpha, index=dates, name="alpha_daily"),
        betas=pd.DataFrame(betas, index=dates, columns=names),
        fmcar=pd.DataFrame(fmcar, index=dates, columns=names),
        idiosyncratic_share=pd.Series(idiosyncratic, index=dates, name="idiosyncratic_share"),
        r_squared=pd.Series(1.0 - idiosyncratic, index=dates, name="r_squared"),
        jarque_bera_pvalue=pd.Series(jb, index=names, name="jarque_bera_pvalue"),
    )


def stock_returns(snapshot, tickers: list[str] | None = None) -> pd.DataFrame:
    """Daily total returns of universe names: model return plus residual.

    ``r_it = X_i(t-1) f_t + e_it`` with the exposures known at the previous close where
    the snapshot's exposure panel has them, the snapshot's own exposures otherwise.
    Daily decimals, (n_days, n_names), NaN where the residual is absent. Memoized on the
    snapshot for the whole universe.
    """
    def compute() -> pd.DataFrame:
        factors = snapshot.factor_returns.reindex(snapshot.residual_returns.index)  # factor history may be longer
        F = factors.to_numpy(dtype=float)
        E = snapshot.residual_returns.to_numpy(dtype=float)
        X = np.nan_to_num(np.asarray(snapshot.exposures), nan=0.0)
        model = F @ X.T  # (n_days, n_assets) with today's exposures
        panel = snapshot.exposure_panel
        if panel is not None and len(panel.dates) > 1:
            dates = factors.index.to_numpy(dtype=str)
            previous = np.searchsorted(panel.dates, dates, side="left") - 1  # last panel date before t
            known = previous >= 0
            known &= np.r_[False, np.isin(dates[:-1], panel.dates)]  # the panel covers the previous close
            rows = np.nonzero(known)[0]
            if len(rows):
                block = np.nan_to_num(np.asarray(panel.values)[previous[rows]], nan=0.0)  # (m, n, k)
                model[rows] = np.einsum("mnk,mk->mn", block, F[rows])
        return pd.DataFrame(model + E, index=factors.index, columns=snapshot.tickers)

    full = snapshot.cached("stock_returns", compute)
    if tickers is None:
        return full
    missing = [t for t in tickers if t not in full.columns]
    if missing:
        from xlfactor.errors import UnknownTickersError

        raise UnknownTickersError(missing)
    return full[list(tickers)]


def portfolio_returns(snapshot, weights: np.ndarray) -> pd.Series:
    """Daily return history of a book over the snapshot's return dates: ``R w`` (NaN where a held name has none).

    ``weights`` (n_assets,) in universe order, decimals of gross.
    """
    w = np.asarray(weights, dtype=float)
    held = np.nonzero(w)[0]
    if not len(held):
        from xlfactor.errors import PortfolioError

        raise PortfolioError("the book holds no name of the universe")
    returns = stock_returns(snapshot)
    R = returns.to_numpy()[:, held]
    return pd.Series(R @ w[held], index=returns.index, name="portfolio")


def factor_series(snapshot, names: list[str]) -> pd.DataFrame:
    """Daily returns of model factors (by id, case-insensitive) or index/ETF series (by ticker).

    Raises ``XlfactorError`` naming the ones the snapshot has neither as a factor nor as an index.
    """
    factors = snapshot.factor_returns.reindex(snapshot.residual_returns.index)  # the window of the stock returns
    indexes = snapshot.index_returns if snapshot.index_returns is not None else pd.DataFrame(index=factors.index)
    by_factor = {str(c).lower(): c for c in factors.columns}
    by_index = {str(c).upper(): c for c in indexes.columns}
    columns, unknown = {}, []
    for name in names:
        key = str(name).strip()
        if key.lower() in by_factor:
            columns[str(by_factor[key.lower()])] = factors[by_factor[key.lower()]]
        elif key.upper() in by_index:
            columns[str(by_index[key.upper()])] = indexes[by_index[key.upper()]]
        else:
            unknown.append(key)
    if unknown:
        raise XlfactorError(f"factors: not a model factor or index/ETF of the snapshot: {', '.join(unknown[:5])}")
    if not columns:
        raise XlfactorError("factors range is empty")
    return pd.DataFrame(columns).reindex(factors.index)
