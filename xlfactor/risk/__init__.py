"""Analytics on (snapshot, weights): holdings, risk, beta, VaR, attribution, scenarios, many books.

Modules: :mod:`holdings` and :mod:`holdings_file` (labels aligned once, at the boundary),
:mod:`decomposition` (pure formulas over arrays), :mod:`model_data`
(:class:`FactorModelData`, the aligned arrays every analytic reads), :mod:`attribution`,
:mod:`timeseries` (regressions, rolling exposures), :mod:`scenarios` (stress, replay,
historical VaR) and :mod:`batch` (thousands of books at once). Acting on the risk (hedges,
the ETF cascade, budgets) lives one layer up, in :mod:`xlfactor.hedging`.
"""

from xlfactor.risk.attribution import DailyAttribution, attributable_dates, daily_attribution
from xlfactor.risk.batch import batch_risk, book_weights
from xlfactor.risk.holdings import (
    Holdings, PortfolioWeights, accepted_headers, align, amount_kind, holdings_columns, holdings_from_frame, holdings_from_pairs,
)  # fmt: skip
from xlfactor.risk.holdings_file import HoldingsFile, read_holdings_csv
from xlfactor.risk.model_data import FactorModelData, factor_model_data
from xlfactor.risk.scenarios import (
    historical_var,
    replay,
    scenario,
    scenario_table,
    stress,
    stress_table,
    worst_days,
    worst_window,
)
from xlfactor.risk.timeseries import regress_returns, rolling_exposures

__all__ = [
    "DailyAttribution",
    "FactorModelData",
    "Holdings",
    "HoldingsFile",
    "PortfolioWeights",
    "align",
    "attributable_dates",
    "batch_risk",
    "book_weights",
    "daily_attribution",
    "factor_model_data",
    "historical_var",
    "accepted_headers",
    "amount_kind",
    "holdings_columns",
    "holdings_from_frame",
    "holdings_from_pairs",
    "read_holdings_csv",
    "regress_returns",
    "replay",
    "rolling_exposures",
    "scenario",
    "scenario_table",
    "stress",
    "stress_table",
    "worst_days",
    "worst_window",
]
