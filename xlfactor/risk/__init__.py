"""Analytics on (snapshot, weights): holdings, risk decomposition, beta, VaR, attribution."""

from xlfactor.risk.attribution import DailyAttribution, attributable_dates, daily_attribution
from xlfactor.risk.holdings import Holdings, PortfolioWeights, align, holdings_from_frame, holdings_from_pairs
from xlfactor.risk.model_data import FactorModelData, factor_model_data

__all__ = [
    "DailyAttribution",
    "FactorModelData",
    "Holdings",
    "PortfolioWeights",
    "align",
    "attributable_dates",
    "daily_attribution",
    "factor_model_data",
    "holdings_from_frame",
    "holdings_from_pairs",
]
