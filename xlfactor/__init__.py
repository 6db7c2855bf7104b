"""xlfactor: an open equity factor risk model for Excel, Python and the command line.

>>> import xlfactor as xf
>>> snap = xf.load_snapshot()            # the embedded simulated market, offline
>>> snap.is_simulated
True
"""

from xlfactor.errors import PortfolioError, ScenarioError, SnapshotError, UnknownTickersError, XlfactorError
from xlfactor.report import portfolio_report
from xlfactor.risk import FactorModelData, factor_model_data
from xlfactor.risk.scenarios import historical_var, replay, scenario, scenario_table, stress, worst_days, worst_window
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
    "factor_model_data",
    "historical_var",
    "load_snapshot",
    "portfolio_report",
    "replay",
    "scenario",
    "scenario_table",
    "stress",
    "track_attribution",
    "worst_days",
    "worst_window",
    "write_snapshot",
]
