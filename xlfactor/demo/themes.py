"""Fictional company names and two hidden themes of the simulated demo market.

Drawn from their own random stream (``np.random.default_rng([seed, 13])``) so they shift
no other draw of the simulation. A hidden theme is a group of names across several
sectors that share a common residual shock the factor model does not know about: the
missing risk semantic discovery (:mod:`xlfactor.semantic`) should find. Each member's
return gets ``loading x theme shock`` on top of its idiosyncratic return; the shocks are
Gaussian, independent of every factor, with the annualized volatility below.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from xlfactor.conventions import SQRT_TRADING_DAYS

STREAM = 13
"""Second element of the demo's ``[seed, STREAM]`` random stream for names and themes."""


@dataclass(frozen=True)
class HiddenTheme:
    """A theme planted in the simulated residuals."""

    name: str
    description: str
    size: int  # number of member stocks
    volatility: float  # annualized decimal volatility of the common shock


HIDDEN_THEMES = (
    HiddenTheme(
        "Grid-scale battery storage",
        "Companies whose earnings ride on utility-scale battery storage: cell and inverter makers, "
        "lithium refiners, project developers, utilities and insurers with storage exposure.",
        32,
        0.12,
    ),
    HiddenTheme(
        "Obesity drug supply chain",
        "Companies exposed to GLP-1 weight-loss drugs: makers, contract manufacturers, injector and "
        "packaging suppliers, and food, beverage and restaurant names hurt by lower calorie intake.",
        24,
        0.10,
    ),
)

_STEMS_A = (
    "Aster", "Brava", "Calder", "Delmar", "Everly", "Fenwick", "Galen", "Harrow", "Isola", "Juniper",
    "Kestrel", "Larch", "Meridian", "Norvane", "Orrin", "Pallas", "Quill", "Rowan", "Solace", "Tamsin",
    "Umbra", "Vesper", "Wexford", "Xavia", "Yarrow", "Zephyr", "Alder", "Beacon", "Cobalt", "Drift",
    "Ember", "Fable", "Granite", "Halcyon", "Ivory", "Jasper", "Keel", "Lumen", "Marlow", "Nimbus",
)  # fmt: skip
_STEMS_B = (
    "", "ford", "ridge", "gate", "field", "wood", "mont", "crest", "haven", "stone",
    "brook", "vale", "point", "worth", "line", "bury", "shore", "wick", "more", "ton",
    "dale", "moor", "port", "well", "land", "by", "hurst", "ward", "ley", "mere",
)  # fmt: skip
_SUFFIXES = ("Inc.", "Corp.", "Holdings", "Group", "plc", "Co.", "Ltd.", "SA")
_QUALIFIERS = ("", "North", "Pacific", "Atlantic", "United", "First", "Summit", "Global", "Prime", "Royal")
MAX_COMPANY_NAMES = len(_STEMS_A) * len(_STEMS_B) * len(_QUALIFIERS)
"""Unique fictional company names available (12,000: stems, then stems with a qualifier)."""


def company_names(rng: np.random.Generator, industries: np.ndarray) -> np.ndarray:
    """One unique fictional company name per stock, e.g. ``'Norvanecrest Software Holdings'`` (up to 12,000).

    Parameters
    ----------
    rng : Generator
        The names-and-themes stream.
    industries : ndarray of str, shape (n_assets,)
        Each stock's industry (part of its name, as in real company names).
    """
    n = len(industries)
    stems = np.array([a + b for a in _STEMS_A for b in _STEMS_B])
    if n > len(stems):  # a larger market: qualified stems too ("Pacific Asterford"); up to 1,200 names draw as before
        stems = np.array([f"{q} {s}".strip() for q in _QUALIFIERS for s in stems])
    if n > len(stems):
        raise ValueError(f"at most {len(stems)} fictional names, {n} asked")
    chosen = stems[rng.permutation(len(stems))[:n]]
    suffix = np.array(_SUFFIXES)[rng.integers(0, len(_SUFFIXES), n)]
    words = np.array([i.split(" & ")[0] for i in industries])
    return np.array([f"{s} {w} {x}" for s, w, x in zip(chosen, words, suffix)])


def draw_hidden_themes(
    rng: np.random.Generator, tickers: np.ndarray, n_days: int
) -> tuple[pd.DataFrame, np.ndarray]:
    """Members (disjoint, uniform over the universe) and the daily residual shock of each stock.

    Returns
    -------
    members : DataFrame
        ``theme, ticker, loading`` (one row per member; loadings between 0.7 and 1.3).
    shocks : ndarray, shape (n_days, n_assets)
        Daily decimal return added to each stock (0 for non-members; row 0 is 0).
    """
    n = len(tickers)
    order = rng.permutation(n)
    shocks = np.zeros((n_days, n))
    rows = []
    start = 0
    for theme in HIDDEN_THEMES:
        members = np.sort(order[start : start + theme.size])
        start += theme.size
        loading = rng.uniform(0.7, 1.3, theme.size)
        factor = rng.normal(0.0, theme.volatility / SQRT_TRADING_DAYS, n_days)
        factor[0] = 0.0
        shocks[:, members] += factor[:, None] * loading[None, :]
        rows.append(pd.DataFrame({"theme": theme.name, "ticker": tickers[members], "loading": loading}))
    return pd.concat(rows, ignore_index=True), shocks


def hidden_theme_members(seed: int, tickers: np.ndarray, n_days: int) -> pd.DataFrame:
    """The hidden themes' members (``theme, ticker, loading``) of the market simulated with ``seed``.

    Replays the names-and-themes stream without simulating the market (names first, then
    themes, as :func:`xlfactor.demo.simulate.simulate_market` draws them).
    """
    rng = np.random.default_rng([seed, STREAM])
    company_names(rng, np.full(len(tickers), "Industry"))
    members, _ = draw_hidden_themes(rng, np.asarray(tickers), n_days)
    return members
