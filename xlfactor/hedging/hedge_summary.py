"""Two ways to hedge a book with the same ETFs, side by side.

* The ETF cascade (:mod:`xlfactor.hedging.cascade`): time-series hedge ratios of every
  held name on SPY, its sector SPDR and its subsector ETF, weight-summed.
* The factor-model alternative (:func:`xlfactor.hedging.instruments.hedge`, objective ``risk``):
  the minimum tracking-error hedge of the book with the same ETFs, whose model
  exposures include the industries of their sector.

Both are evaluated in the factor model: annualized risk, factor share of variance and
ex-ante beta to the cap-weighted universe, before and after.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from xlfactor.hedging.cascade import (
    CASCADE_WINDOW,
    PortfolioCascade,
    portfolio_cascade,
    universe_cascade,
)
from xlfactor.hedging.instruments import hedge, hedged_statistics


@dataclass(frozen=True, eq=False)
class HedgeComparison:
    """The cascade and minimum-TE hedges of one book with the same ETFs."""

    cascade: PortfolioCascade
    etfs: list[str]  # ETFs with a non-zero cascade hedge
    hedges: pd.DataFrame  # index etfs; columns etf_cascade, minimum_te (decimals of gross)
    summary: pd.DataFrame  # index unhedged, etf_cascade, minimum_te; columns risk, factor_share, beta
    levels: pd.DataFrame  # index level_1..; columns explained_risk, residual_share, hedged_volatility


def hedge_comparison(data, weights: np.ndarray, levels: int = 3, window: int = CASCADE_WINDOW) -> HedgeComparison:
    """Compare the ETF cascade hedge of ``weights`` with the minimum-TE hedge in the same ETFs.

    Parameters
    ----------
    data : FactorModelData
    weights : array (n_assets,)
        The book (decimals of gross).
    levels : int
        Depth of the cascade (1 SPY, 2 + sector SPDRs, 3 + subsector ETFs).
    window : int
        Days of the cascade regressions.
    """
    cascade = portfolio_cascade(universe_cascade(data, window), weights, levels)
    deepest = cascade.hedge_ratios[-1]
    used = np.abs(deepest) > 0
    etfs = [e for e, u in zip(cascade.etfs, used) if u]
    h_cascade = deepest[used]
    minimum = hedge(data, weights, etfs, "risk")
    rows = {
        "unhedged": hedged_statistics(data, weights, etfs, np.zeros(len(etfs))),
        "etf_cascade": hedged_statistics(data, weights, etfs, h_cascade),
        "minimum_te": hedged_statistics(data, weights, etfs, minimum.hedge_weights),
    }
    summary = pd.DataFrame(
        {name: {"risk": s.risk, "factor_share": s.factor_share, "beta": s.beta} for name, s in rows.items()}
    ).T
    share = np.concatenate([1.0 - np.cumsum(cascade.explained_risk)])
    level_table = pd.DataFrame(
        {
            "explained_risk": cascade.explained_risk,
            "residual_share": share,
            "hedged_volatility": cascade.hedged_volatility,
        },
        index=[f"level_{k + 1}" for k in range(cascade.levels)],
    )
    return HedgeComparison(
        cascade=cascade,
        etfs=etfs,
        hedges=pd.DataFrame({"etf_cascade": h_cascade, "minimum_te": minimum.hedge_weights}, index=pd.Index(etfs, name="etf")),
        summary=summary,
        levels=level_table,
    )
