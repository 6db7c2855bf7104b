"""Acting on risk: hedges, factor and tracking portfolios, risk budgets and the ETF cascade.

Modules: :mod:`instruments` (OF_HEDGE: instrument hedge ratios and the hedged statistics),
:mod:`portfolios` (factor, tracking and hedged-book portfolios), :mod:`budgets` (position
size, factor share, hedges to a factor share, implied covariance), :mod:`cascade`
(SPY -> sector -> subsector hedge ratios) and :mod:`hedge_summary` (the cascade beside the
direct hedge). Everything here reads a :class:`~xlfactor.risk.FactorModelData` and weights.
"""

from xlfactor.hedging.budgets import factor_share, hedge_book_to_share, hedge_to_factor_share, implied_covariance, position_size
from xlfactor.hedging.cascade import cascade_hedge_ratios, etf_cascade, portfolio_cascade, universe_cascade
from xlfactor.hedging.instruments import HedgeObjective, HedgeResult, hedge, hedged_statistics
from xlfactor.hedging.hedge_summary import HedgeComparison, hedge_comparison
from xlfactor.hedging.portfolios import FactorPortfolio, HedgedBook, TrackingPortfolio, UnsolvableError, factor_portfolio, hedged_book, tracking_portfolio

__all__ = [
    "FactorPortfolio",
    "HedgeComparison",
    "HedgeObjective",
    "HedgeResult",
    "HedgedBook",
    "TrackingPortfolio",
    "UnsolvableError",
    "cascade_hedge_ratios",
    "etf_cascade",
    "factor_portfolio",
    "factor_share",
    "hedge",
    "hedge_book_to_share",
    "hedge_comparison",
    "hedge_to_factor_share",
    "hedged_book",
    "hedged_statistics",
    "implied_covariance",
    "portfolio_cascade",
    "position_size",
    "tracking_portfolio",
    "universe_cascade",
]
