"""The hierarchical ETF hedge: market (SPY) -> sector ETF -> subsector ETF.

Per stock, on a window of daily returns (``../shared/notes/hedging_math.md`` section 4):

1. Link betas between the ETFs: ``l_sm = beta(SEC on SPY)``, sector cleaned
   ``x_sec = SEC - l_sm SPY``; ``l_um = beta(SUB on SPY)``, ``l_us = beta(SUB on x_sec)``,
   subsector cleaned ``x_sub = SUB - l_um SPY - l_us x_sec``.
2. Cascade betas: the stock on SPY (``b1``), the residual on ``x_sec`` (``b2``), that
   residual on ``x_sub`` (``b3``). The regressors are orthogonal in sample, so these are
   also the betas of one joint regression.
3. Hedge ratios in raw ETFs (dollars of ETF per dollar of stock, negative = short):
   ``HR_sub = -b3``, ``HR_sec = -(b2 - b3 l_us)``, ``HR_mkt = -(b1 - l_sm (b2 - b3 l_us) - b3 l_um)``.
   The level-1 and level-2 hedges use the same formulas with the lower betas at zero.
4. Explained risk per level ``ER_k = b_k^2 Var(x_k) / Var(r)``; ``ER_1 + ER_2 + ER_3 + RR = 1``
   with ``RR = Var(e) / Var(r)`` the residual share. Replication identity, every day:
   ``r_t = alpha + sum_k (-HR_k) ETF_kt + e_t``.

A portfolio hedge weight-sums the per-stock hedge ratios (by ETF); its explained risk
comes from the portfolio's own return series (variance does not add across names).
Returns are daily decimals; variances here are daily; shares are of variance.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from xlfactor.conventions import TRADING_DAYS_PER_YEAR
from xlfactor.errors import PortfolioError, XlfactorError

LEVELS = ("market", "sector", "subsector")
CASCADE_WINDOW = TRADING_DAYS_PER_YEAR  # a year of daily returns
MIN_CASCADE_DAYS = 60


def cascade_hedge_ratios(direct_betas, link_betas) -> np.ndarray:
    """Hedge ratios in raw ETFs from cascade betas and ETF link betas.

    Parameters
    ----------
    direct_betas : array (..., 3)
        ``(b_market, b_sector, b_subsector)``: the stock's betas on SPY, on the cleaned
        sector ETF and on the cleaned subsector ETF.
    link_betas : array (..., 3)
        ``(sector_on_market, subsector_on_market, subsector_on_sector)`` =
        ``(l_sm, l_um, l_us)``.

    Returns
    -------
    ndarray (..., 3)
        Dollars of (market, sector, subsector) ETF per dollar of stock; negative = short.

    Examples
    --------
    The wiki's Walmart example (SPY, XLP, PBJ):

    >>> cascade_hedge_ratios((0.50, 0.30, 0.20), (0.60, 0.40, 0.70)).round(6).tolist()
    [-0.324, -0.16, -0.2]
    """
    b = np.asarray(direct_betas, dtype=float)
    link = np.asarray(link_betas, dtype=float)
    if b.shape[-1:] != (3,) or link.shape[-1:] != (3,):
        raise XlfactorError("direct_betas and link_betas must each have 3 entries (market, sector, subsector)")
    b1, b2, b3 = b[..., 0], b[..., 1], b[..., 2]
    l_sm, l_um, l_us = link[..., 0], link[..., 1], link[..., 2]
    sector_net = b2 - b3 * l_us
    return np.stack([-(b1 - l_sm * sector_net - b3 * l_um), -sector_net, -b3], axis=-1)


@dataclass(frozen=True, eq=False)
class CascadeResult:
    """The ETF cascade of one or more stocks that share the same three ETFs.

    Shapes: ``n`` stocks, ``T`` days of the window. Hedge ratios are in raw ETFs per dollar
    of stock (negative = short); explained risk and residual shares are of the stock's
    variance over the window; variances daily decimal squared.

    Parameters
    ----------
    tickers : list of str
        The stocks (``n``).
    etfs : tuple of (str, str or None, str or None)
        The market, sector and subsector ETFs; None for a level not used.
    dates : pandas.Index
        The ``T`` dates of the window.
    link_betas : ndarray of shape (3,)
        ``l_sm, l_um, l_us``: the sector ETF on the market, the subsector on the market and
        on the sector (0 where a level is absent).
    alpha : ndarray of shape (n,)
        Daily intercepts, decimals.
    betas : ndarray of shape (n, 3)
        ``b1, b2, b3``: on the market, the cleaned sector and the cleaned subsector ETF.
    hedge_ratios : ndarray of shape (3, n, 3)
        By level (L1 only, L1+L2, L1+L2+L3), stock and ETF: raw ETF dollars per stock dollar.
    explained_risk : ndarray of shape (n, 3)
        Share of the stock's variance explained at each level.
    residual_share : ndarray of shape (n,)
        Share left: ``explained_risk.sum(1) + residual_share == 1``.
    residual_variance : ndarray of shape (n, 3)
        Daily variance left after hedging to each level.
    residuals : pandas.DataFrame
        (T, n) level-3 residual returns, daily decimals.
    replication_error : ndarray of shape (n,)
        Worst ``|r_t - alpha - sum(-HR ETF_t) - e_t|`` over the window (rounding-level).

    Examples
    --------
    >>> import xlfactor as xf
    >>> from xlfactor.risk.timeseries import stock_returns
    >>> snap = xf.load_snapshot()
    >>> etfs = snap.index_returns
    >>> result = xf.etf_cascade(stock_returns(snap)[["SIM0001"]], etfs["SPY"], etfs["XLK"], etfs["SOXX"])
    >>> parts = result.explained_risk.sum(axis=1) + result.residual_share
    >>> round(float(parts[0]), 10), bool(result.replication_error.max() < 1e-10)
    (1.0, True)
    """

    tickers: list[str]
    etfs: tuple[str, str | None, str | None]  # (market, sector, subsector); None if not used
    dates: pd.Index  # (T,)
    link_betas: np.ndarray  # (3,) l_sm, l_um, l_us (0 where a level is absent)
    alpha: np.ndarray  # (n,) daily
    betas: np.ndarray  # (n, 3) b1, b2, b3
    hedge_ratios: np.ndarray  # (3 levels, n, 3 ETFs): L1 only, L1+L2, L1+L2+L3
    explained_risk: np.ndarray  # (n, 3) ER per level
    residual_share: np.ndarray  # (n,) RR; explained_risk.sum(1) + residual_share == 1
    residual_variance: np.ndarray  # (n, 3) daily variance left after hedging to each level
    residuals: pd.DataFrame  # (T, n) level-3 residual returns e_t
    replication_error: np.ndarray  # (n,) worst |r_t - alpha - sum(-HR) ETF_t - e_t| over the window

    def table(self) -> pd.DataFrame:
        """One row per stock: betas, full hedge ratios, explained risk per level and residual share.

        Returns
        -------
        pandas.DataFrame
            Index ``ticker``; columns ``b_market, b_sector, b_subsector, hr_market, hr_sector,
            hr_subsector`` (level-3 hedge ratios, raw ETF dollars per stock dollar, negative =
            short), ``er_market, er_sector, er_subsector, residual_share`` (shares of variance).

        Examples
        --------
        >>> import xlfactor as xf
        >>> from xlfactor.risk.timeseries import stock_returns
        >>> snap = xf.load_snapshot()
        >>> etfs = snap.index_returns
        >>> table = xf.etf_cascade(stock_returns(snap)[["SIM0001", "SIM0002"]], etfs["SPY"], etfs["XLK"]).table()
        >>> table.index.tolist(), bool((table["b_subsector"] == 0).all())    # two levels asked
        (['SIM0001', 'SIM0002'], True)
        """
        hr = self.hedge_ratios[-1]
        return pd.DataFrame(
            {
                "b_market": self.betas[:, 0],
                "b_sector": self.betas[:, 1],
                "b_subsector": self.betas[:, 2],
                "hr_market": hr[:, 0],
                "hr_sector": hr[:, 1],
                "hr_subsector": hr[:, 2],
                "er_market": self.explained_risk[:, 0],
                "er_sector": self.explained_risk[:, 1],
                "er_subsector": self.explained_risk[:, 2],
                "residual_share": self.residual_share,
            },
            index=pd.Index(self.tickers, name="ticker"),
        )


def _beta(y: np.ndarray, x: np.ndarray) -> np.ndarray:
    """OLS slope(s) with intercept of each column of ``y`` (T, ...) on one regressor ``x`` (T,)."""
    xc = x - x.mean()
    return (xc @ (y - y.mean(axis=0))) / (xc @ xc)


def _cascade_block(R: np.ndarray, m: np.ndarray, s: np.ndarray | None, u: np.ndarray | None) -> dict[str, np.ndarray]:
    """The cascade of stock returns ``R`` (T, n) on raw ETF returns (T,) each; s/u may be absent."""
    T, n = R.shape
    zero = np.zeros(n)
    link = np.zeros(3)
    regressors = [m]
    betas = [_beta(R, m)]
    if s is not None:
        link[0] = _beta(s, m)
        x_sec = s - link[0] * m
        regressors.append(x_sec)
        betas.append(_beta(R, x_sec))
        if u is not None:
            link[1] = _beta(u, m)
            link[2] = _beta(u, x_sec)
            x_sub = u - link[1] * m - link[2] * x_sec
            regressors.append(x_sub)
            betas.append(_beta(R, x_sub))
    while len(betas) < 3:
        betas.append(zero)
        regressors.append(None)
    b = np.stack(betas, axis=1)  # (n, 3)
    var_r = R.var(axis=0, ddof=1)
    explained = np.zeros((n, 3))
    fitted = np.zeros_like(R)
    means = 0.0
    for k, x in enumerate(regressors):  # three levels
        if x is None:
            continue
        explained[:, k] = b[:, k] ** 2 * x.var(ddof=1) / var_r
        fitted += np.outer(x, b[:, k])
        means = means + b[:, k] * x.mean()
    alpha = R.mean(axis=0) - means
    residuals = R - alpha - fitted
    residual_share = residuals.var(axis=0, ddof=1) / var_r
    levels = np.stack([b * (np.arange(3) < k + 1) for k in range(3)])  # (3, n, 3): lower betas zeroed
    hedge = cascade_hedge_ratios(levels, np.broadcast_to(link, levels.shape))
    etf = np.column_stack([m, np.zeros(T) if s is None else s, np.zeros(T) if u is None else u])
    replicated = alpha + etf @ (-hedge[-1]).T + residuals
    return {
        "link": link,
        "alpha": alpha,
        "betas": b,
        "hedge": hedge,
        "explained": explained,
        "residual_share": residual_share,
        "residual_variance": var_r[:, None] * (1.0 - np.cumsum(explained, axis=1)),
        "residuals": residuals,
        "replication_error": np.max(np.abs(R - replicated), axis=0),
    }


def etf_cascade(
    stock_returns: pd.Series | pd.DataFrame,
    market: pd.Series,
    sector: pd.Series | None = None,
    subsector: pd.Series | None = None,
    window: int | None = CASCADE_WINDOW,
) -> CascadeResult:
    """Estimate the SPY -> sector -> subsector ETF cascade from daily return series.

    Parameters
    ----------
    stock_returns : Series or DataFrame (T, n)
        Daily decimal returns of the stock(s), indexed by date. All columns share the ETFs.
    market, sector, subsector : Series
        Daily decimal returns of the market, sector and subsector ETFs (raw, not cleaned);
        ``sector``/``subsector`` may be None to stop the cascade earlier.
    window : int or None
        The last ``window`` dates on which every series is present (None: all of them).

    Returns
    -------
    CascadeResult
        Betas, hedge ratios per level (raw ETF dollars per stock dollar, negative = short),
        explained risk per level and the residual share, per stock.

    Raises
    ------
    XlfactorError
        Too few common dates, or a stock with missing returns inside the window.

    Examples
    --------
    >>> rng = np.random.default_rng(3)
    >>> spy = pd.Series(rng.normal(0, 0.01, 300))
    >>> xlk = 1.1 * spy + pd.Series(rng.normal(0, 0.005, 300))
    >>> stock = 0.9 * spy + 0.5 * xlk + pd.Series(rng.normal(0, 0.01, 300))
    >>> result = etf_cascade(stock.rename("ABC"), spy, xlk, window=None)
    >>> bool(abs(result.hedge_ratios[-1, 0, 1] + 0.5) < 0.1), float(result.replication_error.max()) < 1e-12
    (True, True)
    """
    if sector is None and subsector is not None:
        raise XlfactorError("subsector needs a sector ETF above it in the cascade")
    frame = stock_returns.to_frame() if isinstance(stock_returns, pd.Series) else stock_returns
    if frame.shape[1] == 0:
        raise XlfactorError("stock_returns has no columns")
    names = [str(c) for c in frame.columns]
    etf_series = {"market": market, "sector": sector, "subsector": subsector}
    used = {k: v for k, v in etf_series.items() if v is not None}
    etf_frame = pd.concat({k: pd.to_numeric(v, errors="coerce") for k, v in used.items()}, axis=1, join="inner").dropna()
    dates = etf_frame.index.intersection(frame.index)
    etf_frame = etf_frame.loc[dates]
    if window is not None:
        etf_frame = etf_frame.iloc[-int(window) :]
    if len(etf_frame) < MIN_CASCADE_DAYS:
        raise XlfactorError(f"only {len(etf_frame)} dates with every ETF and the stock returns (need {MIN_CASCADE_DAYS})")
    R = frame.loc[etf_frame.index].apply(pd.to_numeric, errors="coerce").to_numpy(dtype=float)
    incomplete = [n for n, ok in zip(names, np.isfinite(R).all(axis=0)) if not ok]
    if incomplete:
        raise XlfactorError(f"stock_returns missing inside the window for: {', '.join(incomplete[:5])}")
    block = _cascade_block(
        R,
        etf_frame["market"].to_numpy(),
        etf_frame["sector"].to_numpy() if "sector" in etf_frame else None,
        etf_frame["subsector"].to_numpy() if "subsector" in etf_frame else None,
    )
    labels = tuple(None if s is None else str(getattr(s, "name", None) or level) for level, s in etf_series.items())
    return CascadeResult(
        tickers=names,
        etfs=labels,  # type: ignore[arg-type]
        dates=etf_frame.index,
        link_betas=block["link"],
        alpha=block["alpha"],
        betas=block["betas"],
        hedge_ratios=block["hedge"],
        explained_risk=block["explained"],
        residual_share=block["residual_share"],
        residual_variance=block["residual_variance"],
        residuals=pd.DataFrame(block["residuals"], index=etf_frame.index, columns=names),
        replication_error=block["replication_error"],
    )


# ---------------------------------------------------------------- every name of a snapshot, cached


@dataclass(frozen=True, eq=False)
class UniverseCascade:
    """The cascade of every universe name against its mapped ETFs (one per snapshot).

    ``etf_codes[i, level]`` indexes ``etfs`` (-1: no ETF at that level for name ``i``).
    """

    tickers: np.ndarray  # (n,)
    etfs: list[str]  # (m,) ETF tickers used
    etf_codes: np.ndarray  # (n, 3) int
    dates: pd.Index  # (T,)
    stock_returns: np.ndarray  # (T, n) daily
    etf_returns: np.ndarray  # (T, m) daily
    hedge_ratios: np.ndarray  # (3 levels, n, 3)
    betas: np.ndarray  # (n, 3)
    explained_risk: np.ndarray  # (n, 3)
    residual_share: np.ndarray  # (n,)
    complete: np.ndarray  # (n,) bool: full history in the window
    replication_error: float  # worst over names and days


def market_etf(snapshot) -> str:
    """The snapshot's market ETF: SPY when present, else its default benchmark series."""
    from xlfactor.snapshot.etf_map import MARKET_ETF

    returns = snapshot.index_returns
    if returns is None or returns.shape[1] == 0:
        raise XlfactorError("the snapshot has no index/ETF returns for an ETF hedge")
    if MARKET_ETF in returns.columns:
        return MARKET_ETF
    indexes = snapshot.indexes
    if indexes is not None and "default_benchmark" in indexes:
        flagged = indexes.loc[indexes["default_benchmark"].astype(str).str.lower().isin(["true", "1"]), "ticker"]
        if len(flagged) and flagged.iloc[0] in returns.columns:
            return str(flagged.iloc[0])
    return str(returns.columns[0])


def universe_cascade(data, window: int = CASCADE_WINDOW) -> UniverseCascade:
    """Cascade every universe name on SPY, its sector SPDR and its subsector ETF (memoized per snapshot).

    Sector and sub-industry (the model's industry) come from the exposures; the ETFs
    from :mod:`xlfactor.snapshot.etf_map`, used when the snapshot has their returns. Names whose
    sector (sub-industry) has no ETF stop the cascade at the market (sector) level.
    Stock returns are :func:`xlfactor.risk.timeseries.stock_returns` (model plus residual).
    """
    return data.snapshot.cached(f"universe_cascade:{window}", lambda: _universe_cascade(data, window))


def _universe_cascade(data, window: int) -> UniverseCascade:
    from xlfactor.snapshot.etf_map import etf_for_sector, etf_for_sub_industry
    from xlfactor.risk.timeseries import stock_returns

    snapshot = data.snapshot
    index_returns = snapshot.index_returns
    spy = market_etf(snapshot)
    available = set(index_returns.columns)
    sector_etf = np.array([etf_for_sector().get(s, "") for s in data.member_names("sector")], dtype=object)
    sub_etf = np.array([etf_for_sub_industry().get(s, "") for s in data.member_names("industry")], dtype=object)
    sector_etf = np.where(np.isin(sector_etf, list(available)), sector_etf, "")
    sub_etf = np.where((sector_etf != "") & np.isin(sub_etf, list(available)), sub_etf, "")
    etfs = [spy] + sorted({e for e in np.concatenate([sector_etf, sub_etf]) if e and e != spy})
    returns = stock_returns(snapshot)
    etf_frame = index_returns[etfs].dropna()
    dates = etf_frame.index.intersection(returns.index)[-int(window) :]
    if len(dates) < MIN_CASCADE_DAYS:
        raise XlfactorError(f"only {len(dates)} days of ETF and stock returns in the snapshot (need {MIN_CASCADE_DAYS})")
    R = returns.loc[dates].to_numpy(dtype=float)
    E = etf_frame.loc[dates].to_numpy(dtype=float)
    code = {e: i for i, e in enumerate(etfs)}
    n = R.shape[1]
    codes = np.full((n, 3), -1)
    codes[:, 0] = 0
    codes[:, 1] = [code.get(e, -1) for e in sector_etf]
    codes[:, 2] = [code.get(e, -1) for e in sub_etf]
    complete = np.isfinite(R).all(axis=0)
    hedge = np.full((3, n, 3), np.nan)
    betas = np.full((n, 3), np.nan)
    explained = np.full((n, 3), np.nan)
    residual_share = np.full(n, np.nan)
    worst = 0.0
    groups = pd.Series(np.arange(n))[complete].groupby([codes[complete, 1], codes[complete, 2]])
    for (sec, sub), members in groups:  # one block per (sector ETF, subsector ETF): a few dozen
        rows = members.to_numpy()
        block = _cascade_block(
            R[:, rows], E[:, 0], E[:, sec] if sec >= 0 else None, E[:, sub] if sub >= 0 else None
        )
        hedge[:, rows] = block["hedge"]
        betas[rows] = block["betas"]
        explained[rows] = block["explained"]
        residual_share[rows] = block["residual_share"]
        worst = max(worst, float(block["replication_error"].max()))
    return UniverseCascade(
        tickers=np.asarray(data.tickers),
        etfs=etfs,
        etf_codes=codes,
        dates=dates,
        stock_returns=R,
        etf_returns=E,
        hedge_ratios=hedge,
        betas=betas,
        explained_risk=explained,
        residual_share=residual_share,
        complete=complete,
        replication_error=worst,
    )


@dataclass(frozen=True, eq=False)
class PortfolioCascade:
    """The ETF hedge of a book: weight-summed per-stock hedge ratios by ETF.

    ``hedge_ratios[level]`` is the hedge (dollars of each ETF per dollar of gross,
    negative = short) using levels 1..level+1. ``explained_risk`` per level and the
    ``residual_share`` come from the book's own daily return series over the window.
    """

    etfs: list[str]  # (m,)
    hedge_ratios: np.ndarray  # (levels, m)
    explained_risk: np.ndarray  # (levels,)
    residual_share: float  # after the deepest level used
    volatility: float  # annualized, of the unhedged book over the window
    hedged_volatility: np.ndarray  # (levels,) annualized, after each level
    levels: int

    def table(self) -> pd.DataFrame:
        """One row per ETF with a non-zero hedge, one column per level."""
        used = np.abs(self.hedge_ratios).max(axis=0) > 0
        return pd.DataFrame(
            self.hedge_ratios[:, used].T,
            index=pd.Index(np.asarray(self.etfs)[used], name="etf"),
            columns=[f"level_{k + 1}" for k in range(self.levels)],
        )


def portfolio_cascade(cascade: UniverseCascade, weights: np.ndarray, levels: int = 3) -> PortfolioCascade:
    """ETF hedge of a book from the cached universe cascade.

    Parameters
    ----------
    cascade : UniverseCascade
    weights : array (n,)
        Book weights in universe order (decimals of gross).
    levels : int
        1 (SPY only), 2 (plus sector ETFs) or 3 (plus subsector ETFs).
    """
    from xlfactor.conventions import SQRT_TRADING_DAYS

    if levels not in (1, 2, 3):
        raise XlfactorError(f"levels must be 1, 2 or 3, got {levels!r}")
    w = np.asarray(weights, dtype=float)
    held = w != 0
    if not held.any():
        raise PortfolioError("the book holds no name of the universe")
    bad = held & ~cascade.complete
    if bad.any():
        raise XlfactorError(f"no full return history in the cascade window for: {', '.join(cascade.tickers[bad][:5])}")
    m = len(cascade.etfs)
    hedge = np.zeros((levels, m))
    for level in range(levels):  # at most three levels; each is one weighted bincount per ETF slot
        for slot in range(3):
            codes = cascade.etf_codes[held, slot]
            ok = codes >= 0
            hedge[level] += np.bincount(codes[ok], weights=w[held][ok] * cascade.hedge_ratios[level, held, slot][ok], minlength=m)
    book = cascade.stock_returns[:, held] @ w[held]
    variance = book.var(ddof=1)
    hedged = book[:, None] + cascade.etf_returns @ hedge.T  # (T, levels)
    left = hedged.var(axis=0, ddof=1) / variance
    explained = -np.diff(np.concatenate([[1.0], left]))
    return PortfolioCascade(
        etfs=list(cascade.etfs),
        hedge_ratios=hedge,
        explained_risk=explained,
        residual_share=float(left[-1]),
        volatility=float(np.sqrt(variance) * SQRT_TRADING_DAYS),
        hedged_volatility=np.sqrt(hedged.var(axis=0, ddof=1)) * SQRT_TRADING_DAYS,
        levels=levels,
    )
