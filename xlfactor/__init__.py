"""xlfactor: an open equity factor risk model for Excel, Python and the command line.

>>> import xlfactor as xf
>>> snap = xf.load_snapshot()            # the embedded simulated market, offline
>>> snap.is_simulated
True
"""

import importlib

from xlfactor.errors import PortfolioError, ScenarioError, SnapshotError, UnknownTickersError, XlfactorError

_LAZY = {
    **dict.fromkeys(("cascade_hedge_ratios", "etf_cascade", "factor_portfolio", "hedge_to_factor_share", "hedged_book",
                     "implied_covariance", "position_size", "tracking_portfolio"), "xlfactor.hedging"),
    **dict.fromkeys(("portfolio_report", "track_attribution"), "xlfactor.reporting"),
    **dict.fromkeys(("FactorModelData", "batch_risk", "factor_model_data", "historical_var", "regress_returns", "replay",
                     "rolling_exposures", "scenario", "scenario_table", "stress", "worst_days", "worst_window"), "xlfactor.risk"),
    **dict.fromkeys(("check_limits", "optimize", "what_if"), "xlfactor.optimizer"),
    **dict.fromkeys(("discover_semantic_factors", "semantic_factor_members"), "xlfactor.semantic"),
    **dict.fromkeys(("Snapshot", "load_snapshot", "write_snapshot"), "xlfactor.snapshot"),
}  # fmt: skip
"""Public names and the package that defines each: imported on first use (``import xlfactor`` stays quick, so the
command line shows its first progress line at once)."""
_SUBPACKAGES = ("builder", "cells", "conventions", "demo", "excel", "functions", "hedging", "optimizer", "reporting", "risk",
                "semantic", "snapshot")  # fmt: skip


def __getattr__(name: str):
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
    elif name in _SUBPACKAGES:
        value = importlib.import_module(f"xlfactor.{name}")
    else:
        raise AttributeError(f"module 'xlfactor' has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})



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
