"""A deterministic simulated equity market with known true factors.

Data-generating process (one draw per seed):

* ``n_assets`` stocks, each in one industry (and so one sector); log market caps are
  normal; caps then move with the simulated returns.
* Style exposures follow persistent processes (daily AR(1) for price styles, quarterly
  updates for fundamental ones), are standardized each day with a cap-weighted mean and
  an equal-weighted standard deviation and clipped at +-5; ``size`` is the standardized
  log cap and ``mid_cap`` its squared term orthogonalized to it.
* Daily factor returns are correlated Student-t(5) draws (fat tails) scaled by a
  volatility regime that rises to 1.8x for a few weeks; sector returns are projected
  to a cap-weighted sum of zero and industry returns to a cap-weighted sum of zero
  within each sector, the identification the model builder uses.
* Specific returns are Student-t(5) with annual volatility falling with size, under a
  milder version of the same regime. A few names list late (no returns before).
* Stock return on day t = exposures known at the close of t-1 times factor returns
  of t, plus the specific return.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.signal import lfilter

from xlfactor.conventions import INDUSTRY_PREFIX, SECTOR_PREFIX, SQRT_TRADING_DAYS, TRADING_DAYS_PER_YEAR
from xlfactor.demo import classification as cls
from xlfactor.demo.simulate_constants import LAST_DATE, SEED

N_ASSETS = 1000
N_DAYS = 380
LATE_LISTINGS = 15
LATE_LISTING_DAYS = 100
EXPOSURE_CLIP = 5.0
STUDENT_DOF = 5


@dataclass(frozen=True, eq=False)
class SimulatedMarket:
    """Everything the simulation drew, including the truth a model should recover."""

    dates: np.ndarray  # (n_days,) ISO dates
    tickers: np.ndarray  # (n_assets,)
    factor_names: np.ndarray  # (n_factors,) market, sector:*, industry:*, styles
    factor_groups: np.ndarray  # (n_factors,)
    exposures: np.ndarray  # (n_days, n_assets, n_factors) known at the close of each date
    factor_returns: np.ndarray  # (n_days, n_factors) daily; row 0 is NaN (no prior exposures)
    specific_returns: np.ndarray  # (n_days, n_assets) daily; NaN before a late listing
    stock_returns: np.ndarray  # (n_days, n_assets) daily total returns
    market_cap: np.ndarray  # (n_days, n_assets) dollars at each close
    specific_risk: np.ndarray  # (n_assets,) true annualized specific volatility (calm regime)
    factor_covariance: np.ndarray  # (n_factors, n_factors) true annualized, calm regime
    regime: np.ndarray  # (n_days,) volatility multiplier
    sector_of: np.ndarray  # (n_assets,) sector name
    industry_of: np.ndarray  # (n_assets,) industry name
    price_styles: tuple[str, ...]
    reference_styles: tuple[str, ...]


def simulate_market(seed: int = SEED, n_assets: int = N_ASSETS, n_days: int = N_DAYS) -> SimulatedMarket:
    """Simulate the demo market (see the module docstring for the process)."""
    rng = np.random.default_rng(seed)
    sectors = list(cls.INDUSTRIES)
    industries = [(s, i) for s in sectors for i in cls.INDUSTRIES[s]]
    n_ind = len(industries)
    industry_code = np.arange(n_assets) % n_ind
    industry_code[n_ind * 8 :] = rng.integers(0, n_ind, n_assets - n_ind * 8)
    industry_code = rng.permutation(industry_code)
    sector_code = np.array([sectors.index(industries[j][0]) for j in industry_code])
    industry_parent = np.array([sectors.index(s) for s, _ in industries])

    price_styles = tuple(cls.PRICE_STYLES)
    reference_styles = tuple(cls.REFERENCE_STYLES)
    styles = price_styles + reference_styles
    factor_names = np.array(
        ["market"]
        + [SECTOR_PREFIX + s for s in sectors]
        + [INDUSTRY_PREFIX + i for _, i in industries]
        + list(styles)
    )
    groups = np.array(["market"] + ["sector"] * len(sectors) + ["industry"] * n_ind + ["style"] * len(styles))
    n_sec, n_sty, k = len(sectors), len(styles), len(factor_names)
    sec0, ind0, sty0 = 1, 1 + n_sec, 1 + n_sec + n_ind

    # True factor covariance (calm regime): volatilities times a random correlation.
    vols = np.concatenate(
        [
            [cls.MARKET_VOLATILITY],
            rng.uniform(*cls.SECTOR_VOLATILITY, n_sec),
            rng.uniform(*cls.INDUSTRY_VOLATILITY, n_ind),
            [cls.STYLE_VOLATILITY_SCALE * {**cls.PRICE_STYLES, **cls.REFERENCE_STYLES}[s] for s in styles],
        ]
    )
    loadings = rng.normal(0, 0.45, (k, 3))
    correlation = loadings @ loadings.T + np.eye(k)
    d = np.sqrt(np.diag(correlation))
    correlation /= np.outer(d, d)
    covariance = correlation * np.outer(vols, vols)

    t = np.arange(n_days)
    regime = 1.0 + 0.8 * np.exp(-(((t - (n_days - 120)) / 15.0) ** 2))

    # Fat-tailed correlated factor shocks and specific shocks (unit variance).
    scale_t = np.sqrt((STUDENT_DOF - 2) / STUDENT_DOF)
    factor_shocks = rng.standard_t(STUDENT_DOF, (n_days, k)) * scale_t
    factor_draws = (factor_shocks @ np.linalg.cholesky(covariance / TRADING_DAYS_PER_YEAR).T) * regime[:, None]
    log_cap0 = rng.normal(np.log(2e10), 1.1, n_assets)
    size_rank = (np.argsort(np.argsort(-log_cap0)) + 0.5) / n_assets  # 0 = largest
    specific_risk = np.clip(0.13 + 0.22 * size_rank + rng.normal(0, 0.04, n_assets), 0.09, 0.60)
    specific = rng.standard_t(STUDENT_DOF, (n_days, n_assets)) * scale_t
    specific *= specific_risk / SQRT_TRADING_DAYS * np.sqrt(regime)[:, None]
    late = rng.choice(n_assets, LATE_LISTINGS, replace=False)
    specific[: n_days - LATE_LISTING_DAYS, late] = np.nan

    latent = _latent_styles(rng, n_days, n_assets, len(price_styles), len(reference_styles))
    size_col = styles.index("size")
    mid_col = styles.index("mid_cap")

    member = np.zeros((n_assets, k))
    member[:, 0] = 1.0
    member[np.arange(n_assets), sec0 + sector_code] = 1.0
    member[np.arange(n_assets), ind0 + industry_code] = 1.0

    exposures = np.empty((n_days, n_assets, k))
    factor_returns = np.full((n_days, k), np.nan)
    stock_returns = np.full((n_days, n_assets), np.nan)
    caps = np.empty((n_days, n_assets))
    caps[0] = np.exp(log_cap0)
    for day in range(n_days):  # caps feed the next day's exposures: a true recursion
        if day > 0:
            f = factor_draws[day].copy()
            _constrain(f, caps[day - 1], sector_code, industry_code, industry_parent, sec0, ind0, n_sec, n_ind)
            factor_returns[day] = f
            returns = exposures[day - 1] @ f + np.nan_to_num(specific[day])
            stock_returns[day] = returns
            caps[day] = caps[day - 1] * (1.0 + returns)
        style_values = latent[day].copy()
        style_values[:, size_col] = np.log(caps[day])
        exposures[day, :, :sty0] = member[:, :sty0]
        exposures[day, :, sty0:] = _standardize_styles(style_values, caps[day], size_col, mid_col)
    stock_returns[:, late] = np.where(np.isnan(specific[:, late]), np.nan, stock_returns[:, late])

    dates = pd.bdate_range(end=LAST_DATE, periods=n_days).strftime("%Y-%m-%d").to_numpy()
    return SimulatedMarket(
        dates=dates,
        tickers=np.array([f"SIM{i:04d}" for i in range(1, n_assets + 1)]),
        factor_names=factor_names,
        factor_groups=groups,
        exposures=exposures,
        factor_returns=factor_returns,
        specific_returns=specific,
        stock_returns=stock_returns,
        market_cap=caps,
        specific_risk=specific_risk,
        factor_covariance=covariance,
        regime=regime,
        sector_of=np.array(sectors)[sector_code],
        industry_of=np.array([i for _, i in industries])[industry_code],
        price_styles=price_styles,
        reference_styles=reference_styles,
    )


def _latent_styles(rng: np.random.Generator, n_days: int, n_assets: int, n_price: int, n_reference: int) -> np.ndarray:
    """Unstandardized style scores, (n_days, n_assets, n_styles): persistent, as real ones are."""
    rho = 0.99
    start = rng.normal(0, 1, (1, n_assets, n_price))
    shocks = rng.normal(0, np.sqrt(1 - rho**2), (n_days, n_assets, n_price))
    shocks[0] = start[0] * 1.0
    price = lfilter([1.0], [1.0, -rho], shocks, axis=0)
    # Fundamentals change at quarterly reports (a random day in each 63-day quarter).
    quarters = -(-n_days // 63)
    ref_levels = lfilter([1.0], [1.0, -0.9], rng.normal(0, 1, (quarters + 1, n_assets, n_reference)), axis=0)
    report_day = rng.integers(0, 63, (n_assets, n_reference))
    day = np.arange(n_days)[:, None, None]
    quarter_index = (day - report_day[None]) // 63 + 1
    reference = np.take_along_axis(ref_levels, np.clip(quarter_index, 0, quarters), axis=0)
    return np.concatenate([price, reference], axis=2)


def _standardize_styles(values: np.ndarray, caps: np.ndarray, size_col: int, mid_col: int) -> np.ndarray:
    """Cap-weighted mean 0, equal-weighted std 1, clipped; mid_cap = size^2 orthogonalized."""
    weights = caps / caps.sum()
    z = _zscore(values, weights)
    size = z[:, size_col]
    square = -(size**2)
    slope = np.cov(size, square, bias=True)[0, 1] / size.var()
    z[:, mid_col] = _zscore((square - slope * size)[:, None], weights)[:, 0]
    return np.round(np.clip(z, -EXPOSURE_CLIP, EXPOSURE_CLIP), 3)


def _zscore(values: np.ndarray, weights: np.ndarray) -> np.ndarray:
    centred = values - weights @ values
    return centred / values.std(axis=0)


def _constrain(
    f: np.ndarray,
    caps: np.ndarray,
    sector_code: np.ndarray,
    industry_code: np.ndarray,
    industry_parent: np.ndarray,
    sec0: int,
    ind0: int,
    n_sec: int,
    n_ind: int,
) -> None:
    """Project sector returns to cap-weighted sum 0, industry returns to 0 within each sector."""
    sector_caps = np.bincount(sector_code, caps, n_sec)
    sec = f[sec0 : sec0 + n_sec]
    sec -= sector_caps * (sector_caps @ sec) / (sector_caps @ sector_caps)
    industry_caps = np.bincount(industry_code, caps, n_ind)
    ind = f[ind0 : ind0 + n_ind]
    dot = np.bincount(industry_parent, industry_caps * ind, n_sec)
    norm = np.bincount(industry_parent, industry_caps**2, n_sec)
    ind -= industry_caps * (dot / norm)[industry_parent]
