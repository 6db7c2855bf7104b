"""A deterministic simulated equity market whose true factor model is known.

Data-generating process (one draw per seed; ``n_assets`` names over ``n_days`` days):

* Classification: sectors of about equal size (11, GICS names), each name in one of its
  sector's 3-4 industries (dealt round-robin). Caps are log-normal at the start and move with returns.
* Fundamentals: quarterly reports on a staggered calendar, from persistent (AR(1)
  across quarters) company characteristics: assets, leverage, profitability, growth,
  margins, accruals, capex, payout, forward earnings, short interest, analyst score.
* Exposures: **exactly the model builder's exposures of this market** --
  descriptors of the simulated prices, caps and reports, standardized day by day
  (``xlfactor.builder.builder.style_exposures``), plus market, sector and industry
  membership. Because exposures depend on past simulated prices, the market is solved
  as a fixed point: returns -> exposures -> returns, until no daily return moves by 1e-6 (far below the
  idiosyncratic noise of any estimate; typically 12-15 iterations).
* Factor returns: correlated Student-t(5) draws (fat tails) under a volatility regime
  that rises to 1.8x for a few weeks; sector returns projected to a cap-weighted sum
  of zero and industry returns to zero within each sector (previous-close caps), the
  builder's identification.
* Idiosyncratic returns: Student-t(5), annual volatility falling with size, under a milder
  version of the regime.
* Hidden themes (:mod:`xlfactor.demo.themes`, their own random stream): two groups of
  20-40 names across sectors share a common shock that no factor carries; it is part of
  their idiosyncratic return, and ``themes`` lists the members. Every name has a fictional
  company name (``classification.name``).
* Two simulated crisis episodes (drawn from their own random stream, so the draws
  above do not move): a five-day momentum unwind (momentum about -3, value +2 daily
  standard deviations a day, the market a little down) and, later, a six-day crash of
  the market (about -3 daily standard deviations a day) as the volatility regime
  rises. Both lie inside the demo snapshot's factor-return history and are its
  scenario library.
* Stock return on day t = exposures known at the close of t-1 times the factor
  returns of t, plus the idiosyncratic return. SPY and the sector funds are the cap-weighted
  universe and sectors with a little tracking noise.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from xlfactor.conventions import SQRT_TRADING_DAYS, TRADING_DAYS_PER_YEAR
from xlfactor.demo import classification as cls
from xlfactor.demo import themes as demo_themes
from xlfactor.demo.simulate_constants import LAST_DATE, SEED
from xlfactor.builder.inputs import MarketData, fundamentals_asof

CRISIS_STREAM = 12
"""Issue number keying the crisis episodes' own random stream ``default_rng([seed, 12])``."""

CRISIS_EPISODES = (
    # name, first day (days before the last), length, shocks in daily standard deviations per day
    ("Simulated crash (demo)", 135, 6, {"market": -3.0, "beta": -1.0, "residual_volatility": -1.0},
     "SIMULATED: a six-day market crash in the demo market, high-beta and volatile names hit hardest"),
    ("Simulated momentum unwind (demo)", 200, 5, {"market": -0.5, "momentum": -3.0, "value": 2.0},
     "SIMULATED: a five-day momentum unwind in the demo market, past winners sold and value bought"),
)  # fmt: skip

N_ASSETS = 1000
N_DAYS = 760
STUDENT_DOF = 5
QUARTER = 63
MAX_ITERATIONS = 40
MAX_NAMES = demo_themes.MAX_COMPANY_NAMES
"""The largest simulated market (one unique fictional company name per stock)."""
TOLERANCE = 1e-6


@dataclass(frozen=True, eq=False)
class SimulatedMarket:
    """The simulated inputs (builder format) and the truth a model should recover."""

    data: MarketData  # aligned inputs, as the builder reads them
    prices: pd.DataFrame  # date, ticker, close, volume, market_cap
    classification: pd.DataFrame  # ticker, sector, industry, name (fictional company name)
    fundamentals: pd.DataFrame  # ticker, available_date, ...
    benchmark: pd.DataFrame  # date, ticker, close (SPY and sector funds)
    factor_names: np.ndarray  # (n_factors,) builder names: market, sector:*, industry:*, styles
    factor_groups: np.ndarray
    factor_returns: np.ndarray  # (n_days, n_factors) true daily factor returns (row 0 NaN)
    exposures: np.ndarray  # (n_tickers, n_factors) true exposures at the last close (NaN = absent)
    idiosyncratic_returns: np.ndarray  # (n_days, n_tickers) idiosyncratic plus hidden-theme returns
    idiosyncratic_risk: np.ndarray  # (n_tickers,) true annualized idiosyncratic volatility, calm regime
    regime: np.ndarray  # (n_days,) volatility multiplier
    iterations: int  # fixed-point iterations used
    themes: pd.DataFrame | None = None  # theme, ticker, loading: the hidden themes' members
    episodes: pd.DataFrame | None = None  # simulated crisis episodes: name, start, end, description


def simulate_market(
    seed: int = SEED, n_assets: int = N_ASSETS, n_days: int = N_DAYS, progress: Callable[[str, int, int], None] | None = None
) -> SimulatedMarket:
    """Simulate the market (see the module docstring).

    ``progress(stage, done, total)`` is called as each stage starts (``done`` 0) and
    advances: the daily draws (days), then the exposure fixed point (iterations, at most
    ``MAX_ITERATIONS``: it usually stops well before), then the final exposures.
    """
    from xlfactor.builder.builder import factor_names, style_exposures

    stage = progress if progress is not None else (lambda label, done, total: None)
    if n_assets > MAX_NAMES:
        raise ValueError(f"at most {MAX_NAMES:,} simulated names, {n_assets:,} asked")
    stage("simulate draws (days)", 0, n_days)

    rng = np.random.default_rng(seed)
    calendar = pd.bdate_range(end=LAST_DATE, periods=n_days + 2 * QUARTER * 3)
    dates = calendar[-n_days:].strftime("%Y-%m-%d").to_numpy()
    tickers = np.array([f"SIM{i:04d}" for i in range(1, n_assets + 1)])

    sectors = sorted(cls.INDUSTRIES)
    industries = sorted((i, s) for s in sectors for i in cls.INDUSTRIES[s])
    industry_names = np.array([i for i, _ in industries])
    industry_sector = np.array([sectors.index(s) for _, s in industries])
    n_ind, n_sec = len(industries), len(sectors)
    sector_code = rng.permutation(np.arange(n_assets) % n_sec)  # sectors of about equal size
    industry_code = np.empty(n_assets, dtype=np.int64)
    for s in range(n_sec):  # eleven sectors: industries dealt round-robin within each
        members = np.nonzero(sector_code == s)[0]
        choices = np.nonzero(industry_sector == s)[0]
        industry_code[members] = rng.permutation(choices[np.arange(len(members)) % len(choices)])

    log_cap0 = rng.normal(np.log(2e10), 1.1, n_assets)
    price0 = rng.uniform(20, 200, n_assets)
    shares = np.exp(log_cap0) / price0
    turnover = np.exp(rng.normal(np.log(0.008), 0.5, n_assets))
    volume = shares * turnover * np.exp(rng.normal(0, 0.3, (n_days, n_assets)))
    size_rank = (np.argsort(np.argsort(-log_cap0)) + 0.5) / n_assets
    specific_risk = np.clip(0.08 + 0.14 * size_rank + rng.normal(0, 0.02, n_assets), 0.06, 0.30)

    reports = _reports(rng, calendar, dates, tickers, shares, np.exp(log_cap0))
    panels, report_rows = fundamentals_asof(reports, dates, tickers)

    t = np.arange(n_days)
    regime = 1.0 + 0.8 * np.exp(-(((t - (n_days - 120)) / 15.0) ** 2))
    scale_t = np.sqrt((STUDENT_DOF - 2) / STUDENT_DOF)
    specific = rng.standard_t(STUDENT_DOF, (n_days, n_assets)) * scale_t
    specific *= specific_risk / SQRT_TRADING_DAYS * np.sqrt(regime)[:, None]
    specific[0] = np.nan
    theme_rng = np.random.default_rng([seed, demo_themes.STREAM])  # own stream: shifts no other draw
    company_names = demo_themes.company_names(theme_rng, industry_names[industry_code])
    themes, theme_shocks = demo_themes.draw_hidden_themes(theme_rng, tickers, n_days)
    specific += theme_shocks

    sector_grid = np.broadcast_to(sector_code, (n_days, n_assets))
    industry_grid = np.broadcast_to(industry_code, (n_days, n_assets))
    style_count = len(cls.PRICE_STYLES) + len(cls.REFERENCE_STYLES)
    k_draw = 1 + n_sec + n_ind + style_count
    vols = np.concatenate(
        [
            [cls.MARKET_VOLATILITY],
            rng.uniform(*cls.SECTOR_VOLATILITY, n_sec),
            rng.uniform(*cls.INDUSTRY_VOLATILITY, n_ind),
            rng.uniform(*cls.STYLE_VOLATILITY, style_count),
        ]
    )
    loadings = rng.normal(0, 0.35, (k_draw, 3))
    correlation = loadings @ loadings.T + np.eye(k_draw)
    d = np.sqrt(np.diag(correlation))
    covariance = correlation / np.outer(d, d) * np.outer(vols, vols)
    shocks = rng.standard_t(STUDENT_DOF, (n_days, k_draw)) * scale_t
    draws = shocks @ np.linalg.cholesky(covariance / TRADING_DAYS_PER_YEAR).T * regime[:, None]
    draws[0] = np.nan
    styles_drawn = ["market"] + [""] * (n_sec + n_ind) + list(cls.PRICE_STYLES) + list(cls.REFERENCE_STYLES)
    episodes = _crisis_episodes(np.random.default_rng([seed, CRISIS_STREAM]), draws, dates, vols, styles_drawn)

    stage("simulate draws (days)", n_days, n_days)
    returns = np.full((n_days, n_assets), np.nan)
    returns[1:] = (
        draws[1:, :1]
        + np.take_along_axis(draws[1:, 1 : 1 + n_sec], sector_grid[:-1], axis=1)
        + np.take_along_axis(draws[1:, 1 + n_sec : 1 + n_sec + n_ind], industry_grid[:-1], axis=1)
        + specific[1:]
    )
    from xlfactor.builder.descriptors import report_descriptors

    from_reports = None
    iterations = 0
    fixed_point = f"exposure fixed point (iterations, at most {MAX_ITERATIONS})"
    stage(fixed_point, 0, MAX_ITERATIONS)
    for iterations in range(1, MAX_ITERATIONS + 1):  # fixed point: exposures depend on past prices
        data = _market_data(dates, tickers, price0, shares, volume, returns, sector_grid, industry_grid,
                            np.array(sectors), industry_names, industry_sector, panels, report_rows)  # fmt: skip
        if from_reports is None:
            from_reports = report_descriptors(data)
        exposures = style_exposures(data, keep_raw=False, from_reports=from_reports)
        f = _identified(draws, data.market_cap, sector_code, industry_code, industry_sector, n_sec, n_ind)
        truth = _truth_columns(f, exposures.names, n_sec, n_ind)
        common = (
            f[1:, :1]
            + np.take_along_axis(f[1:, 1 : 1 + n_sec], sector_grid[:-1], axis=1)
            + np.take_along_axis(f[1:, 1 + n_sec : 1 + n_sec + n_ind], industry_grid[:-1], axis=1)
        )
        base = 1 + n_sec + n_ind
        for j in range(len(exposures.names)):  # 26 styles, each a whole (days x names) array
            common += np.nan_to_num(exposures.styles[:-1, :, j]) * truth[1:, base + j, None]
        updated = returns.copy()
        updated[1:] = common + specific[1:]
        change = np.nanmax(np.abs(updated - returns))
        returns = updated
        if change < TOLERANCE:
            break
        stage(fixed_point, iterations, MAX_ITERATIONS)
    stage(fixed_point, MAX_ITERATIONS, MAX_ITERATIONS)
    stage("final exposures", 0, 1)
    data = _market_data(dates, tickers, price0, shares, volume, returns, sector_grid, industry_grid,
                        np.array(sectors), industry_names, industry_sector, panels, report_rows)  # fmt: skip
    exposures = style_exposures(data, keep_raw=False, from_reports=from_reports)
    stage("final exposures", 1, 1)
    names, groups = factor_names(data, exposures.names)
    truth = _truth_columns(f, exposures.names, n_sec, n_ind)
    final = np.zeros((n_assets, len(names)))
    final[:, 0] = 1.0
    final[np.arange(n_assets), 1 + sector_code] = 1.0
    final[np.arange(n_assets), 1 + n_sec + industry_code] = 1.0
    final[:, 1 + n_sec + n_ind :] = exposures.styles[-1]
    prices = _price_frame(data)
    classification = pd.DataFrame({"ticker": tickers, "sector": np.array(sectors)[sector_code], "industry": industry_names[industry_code],
                                   "name": company_names})  # fmt: skip
    benchmark = _benchmark(rng, data, sector_code, sectors)
    benchmark = pd.concat([benchmark, _subsector_etfs(seed, data, industry_names[industry_code])], ignore_index=True)
    return SimulatedMarket(
        data=data,
        prices=prices,
        classification=classification,
        fundamentals=reports,
        benchmark=benchmark,
        factor_names=names,
        factor_groups=groups,
        factor_returns=truth,
        exposures=final,
        idiosyncratic_returns=specific,
        idiosyncratic_risk=specific_risk,
        regime=regime,
        iterations=iterations,
        themes=themes,
        episodes=episodes,
    )


def _crisis_episodes(rng, draws, dates, vols, names) -> pd.DataFrame:
    """Add the crisis episodes to the factor draws (in place); return their table."""
    for _, before, length, shocks, _ in CRISIS_EPISODES:  # two episodes
        first = len(dates) - before
        if first < 1:
            continue  # a market too short for this episode
        for factor, size in shocks.items():
            j = names.index(factor)
            daily = vols[j] / SQRT_TRADING_DAYS
            draws[first : first + length, j] += size * daily * (1 + 0.2 * rng.standard_normal(length))
    return crisis_table(dates)


def crisis_table(dates) -> pd.DataFrame:
    """The simulated crisis episodes of a simulated calendar ``dates``: ``name, start, end, description``."""
    rows = []
    for name, before, length, _, description in CRISIS_EPISODES:  # two episodes
        first = len(dates) - before
        if first < 1:
            continue
        rows.append((name, str(dates[first]), str(dates[first + length - 1]), description))
    return pd.DataFrame(rows, columns=["name", "start", "end", "description"])


def _identified(draws, caps, sector_code, industry_code, industry_sector, n_sec, n_ind) -> np.ndarray:
    """Project each day's sector (industry) returns to a cap-weighted sum of 0 (within sectors)."""
    f = draws.copy()
    previous = caps[:-1]
    sector_caps = np.stack([previous[:, sector_code == s].sum(axis=1) for s in range(n_sec)], axis=1)
    industry_caps = np.stack([previous[:, industry_code == i].sum(axis=1) for i in range(n_ind)], axis=1)
    sec = f[1:, 1 : 1 + n_sec]
    sec -= sector_caps * ((sector_caps * sec).sum(axis=1) / (sector_caps**2).sum(axis=1))[:, None]
    ind = f[1:, 1 + n_sec : 1 + n_sec + n_ind]
    for s in range(n_sec):  # eleven sectors
        members = industry_sector == s
        c = industry_caps[:, members]
        ind[:, members] -= c * ((c * ind[:, members]).sum(axis=1) / (c**2).sum(axis=1))[:, None]
    return f


def _truth_columns(f: np.ndarray, style_names: list[str], n_sec: int, n_ind: int) -> np.ndarray:
    """True factor returns in the builder's order (styles the builder computed, in its order)."""
    drawn_styles = list(cls.PRICE_STYLES) + list(cls.REFERENCE_STYLES)
    base = 1 + n_sec + n_ind
    style_columns = [base + drawn_styles.index(n) for n in style_names]
    return np.concatenate([f[:, :base], f[:, style_columns]], axis=1)


def _market_data(dates, tickers, price0, shares, volume, returns, sector, industry, sector_names, industry_names,
                 industry_sector, panels, reports) -> MarketData:  # fmt: skip
    growth = np.vstack([np.ones((1, len(tickers))), 1.0 + returns[1:]])
    close = price0 * np.cumprod(growth, axis=0)
    return MarketData(
        dates=dates,
        tickers=tickers,
        close=close,
        adjusted=close,
        volume=volume,
        market_cap=close * shares,
        returns=returns,
        sector=np.ascontiguousarray(sector),
        industry=np.ascontiguousarray(industry),
        sector_names=sector_names,
        industry_names=industry_names,
        industry_sector=industry_sector,
        fundamentals=panels,
        reports=reports,
        benchmark=None,
    )


def _reports(rng, calendar, dates, tickers, shares, cap0) -> pd.DataFrame:
    """Quarterly fundamentals from persistent company characteristics."""
    n = len(tickers)
    quarters = len(calendar) // QUARTER + 1
    offset = rng.integers(0, QUARTER, n)

    def ar(rho: float, sigma: float) -> np.ndarray:
        out = np.empty((quarters, n))
        out[0] = rng.normal(0, 1, n)
        for q in range(1, quarters):  # a few dozen quarters
            out[q] = rho * out[q - 1] + np.sqrt(1 - rho**2) * rng.normal(0, 1, n)
        return out * sigma

    assets = cap0 * np.exp(rng.normal(0, 0.8, n)) * np.exp(np.cumsum(0.015 + ar(0.8, 0.03), axis=0))
    leverage = 1 / (1 + np.exp(-(ar(0.9, 1.0) + 0.2)))
    roa = 0.012 + ar(0.8, 0.012)
    sales = np.exp(ar(0.9, 0.4)) * 0.25
    margin = np.clip(0.35 + ar(0.8, 0.12), 0.05, 0.9)
    net_income = assets * roa
    frame = {
        "book_equity": assets * (1 - leverage),
        "net_income": net_income * 4,
        "revenue": assets * sales * 4,
        "gross_profit": assets * sales * margin * 4,
        "total_assets": assets,
        "total_liabilities": assets * leverage,
        "operating_cash_flow": (net_income + assets * ar(0.6, 0.01)) * 4,
        "capex": assets * np.exp(ar(0.8, 0.5)) * 0.01 * 4,
        "dividends_per_share": cap0 * np.maximum(0.02 + ar(0.9, 0.015), 0) / shares,
        "shares_outstanding": np.broadcast_to(shares, (quarters, n)),
        "eps_forward": cap0 * (0.06 + ar(0.8, 0.03)) / shares,
        "short_interest": shares * np.clip(0.03 + ar(0.8, 0.02), 0.001, 0.3),
        "analyst_score": ar(0.7, 1.0),
    }
    day = np.arange(quarters)[:, None] * QUARTER + offset[None, :]
    available = np.asarray(calendar.strftime("%Y-%m-%d"))[np.minimum(day, len(calendar) - 1)]
    usable = (day < len(calendar)) & (available <= dates[-1])
    rows = {"ticker": np.broadcast_to(tickers, (quarters, n))[usable], "available_date": available[usable]}
    rows.update({k: np.asarray(v)[usable] for k, v in frame.items()})
    return pd.DataFrame(rows).sort_values(["available_date", "ticker"], kind="stable").reset_index(drop=True)


def _price_frame(data: MarketData) -> pd.DataFrame:
    n_days, n = data.close.shape
    return pd.DataFrame(
        {
            "date": np.repeat(data.dates, n),
            "ticker": np.tile(data.tickers, n_days),
            "close": data.close.ravel(),
            "volume": np.round(data.volume.ravel()),
            "market_cap": data.market_cap.ravel(),
        }
    ).sort_values(["ticker", "date"], kind="stable").reset_index(drop=True)


def _benchmark(rng, data: MarketData, sector_code: np.ndarray, sectors: list[str]) -> pd.DataFrame:
    caps = data.market_cap[:-1]
    r = data.returns[1:]
    series = {"SPY": (caps * r).sum(axis=1) / caps.sum(axis=1)}
    for s, sector in enumerate(sectors):
        members = sector_code == s
        series[cls.SECTOR_ETFS[sector]] = (caps[:, members] * r[:, members]).sum(axis=1) / caps[:, members].sum(axis=1)
    frames = []
    for ticker, returns in series.items():
        noisy = returns + rng.normal(0, 0.0002, len(returns))
        closes = 100 * np.concatenate([[1.0], np.cumprod(1 + noisy)])
        frames.append(pd.DataFrame({"date": data.dates, "ticker": ticker, "close": closes}))
    return pd.concat(frames, ignore_index=True)


SUBSECTOR_STREAM = 11  # the subsector ETFs' own random stream: adding them moves no other draw


def _subsector_etfs(seed: int, data: MarketData, industry: np.ndarray) -> pd.DataFrame:
    """Closes of the subsector ETFs mapped to demo industries (cap-weighted members plus noise)."""
    from xlfactor.snapshot.etf_map import etf_for_sub_industry

    rng = np.random.default_rng([seed, SUBSECTOR_STREAM])
    caps = data.market_cap[:-1]
    r = data.returns[1:]
    mapping = etf_for_sub_industry()
    etfs = sorted({mapping[i] for i in np.unique(industry) if i in mapping})
    frames = []
    for etf in etfs:  # a score of ETFs
        members = np.isin(industry, [i for i, e in mapping.items() if e == etf])
        returns = (caps[:, members] * r[:, members]).sum(axis=1) / caps[:, members].sum(axis=1)
        noisy = returns + rng.normal(0, 0.0002, len(returns))
        closes = 100 * np.concatenate([[1.0], np.cumprod(1 + noisy)])
        frames.append(pd.DataFrame({"date": data.dates, "ticker": etf, "close": closes}))
    return pd.concat(frames, ignore_index=True)
