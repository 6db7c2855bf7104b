"""xlfactor: an open equity factor risk model for Excel, Python and the command line.

>>> import xlfactor as xf
>>> snap = xf.load_snapshot()            # the embedded simulated market, offline
>>> snap.is_simulated
True
"""

from xlfactor.errors import PortfolioError, ScenarioError, SnapshotError, UnknownTickersError, XlfactorError
from xlfactor.report import portfolio_report
from xlfactor.risk import FactorModelData, factor_model_data
from xlfactor.risk.batch import batch_risk
from xlfactor.risk.budgets import hedge_to_factor_share, implied_covariance, position_size
from xlfactor.risk.etf_cascade import cascade_hedge_ratios, etf_cascade
from xlfactor.risk.portfolios import factor_portfolio, hedged_book, tracking_portfolio
from xlfactor.risk.scenarios import historical_var, replay, scenario, scenario_table, stress, worst_days, worst_window
from xlfactor.risk.timeseries import regress_returns, rolling_exposures
from xlfactor.snapshot import Snapshot, load_snapshot, write_snapshot
from xlfactor.track import track_attribution

__version__ = "0.1.0"

__all__ = [
    "FactorModelData",
    "PortfolioError",
    "ScenarioError",
    "Snapshot",
    "SnapshotError",
    "UnknownTickersError",
    "XlfactorError",
    "__version__",
    "batch_risk",
    "cascade_hedge_ratios",
    "etf_cascade",
    "factor_model_data",
    "factor_portfolio",
    "hedge_to_factor_share",
    "hedged_book",
    "historical_var",
    "implied_covariance",
    "load_snapshot",
    "portfolio_report",
    "position_size",
    "regress_returns",
    "replay",
    "rolling_exposures",
    "scenario",
    "scenario_table",
    "stress",
    "track_attribution",
    "tracking_portfolio",
    "worst_days",
    "worst_window",
    "write_snapshot",
]
