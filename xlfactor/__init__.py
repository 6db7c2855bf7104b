"""xlfactor: an open equity factor risk model for Excel, Python and the command line.

>>> import xlfactor as xf
>>> snap = xf.load_snapshot()            # the embedded simulated market, offline
>>> snap.is_simulated
True
"""

from xlfactor.errors import PortfolioError, ScenarioError, SnapshotError, UnknownTickersError, XlfactorError
from xlfactor.hedging import (
    cascade_hedge_ratios,
    etf_cascade,
    factor_portfolio,
    hedge_to_factor_share,
    hedged_book,
    implied_covariance,
    position_size,
    tracking_portfolio,
)
from xlfactor.optimize import check_limits, what_if
from xlfactor.optimize import optimize as _optimize  # bound below: xf.optimize is the function, not the package
from xlfactor.reporting import portfolio_report, track_attribution
from xlfactor.risk import (
    FactorModelData,
    batch_risk,
    factor_model_data,
    historical_var,
    regress_returns,
    replay,
    rolling_exposures,
    scenario,
    scenario_table,
    stress,
    worst_days,
    worst_window,
)
from xlfactor.semantic import discover_semantic_factors, semantic_factor_members
from xlfactor.snapshot import Snapshot, load_snapshot, write_snapshot

optimize = _optimize

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
    "check_limits",
    "discover_semantic_factors",
    "etf_cascade",
    "factor_model_data",
    "factor_portfolio",
    "hedge_to_factor_share",
    "hedged_book",
    "historical_var",
    "implied_covariance",
    "load_snapshot",
    "optimize",
    "portfolio_report",
    "position_size",
    "regress_returns",
    "replay",
    "rolling_exposures",
    "scenario",
    "scenario_table",
    "semantic_factor_members",
    "stress",
    "track_attribution",
    "tracking_portfolio",
    "what_if",
    "worst_days",
    "worst_window",
    "write_snapshot",
]
