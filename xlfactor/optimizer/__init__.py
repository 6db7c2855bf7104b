"""From risk to trades: the limits language, the pre-trade check, what-if figures and the optimizer.

Modules: :mod:`limits` (the ``limit, name, min, max`` table, parsed once and measured on
any book), :mod:`check` (:func:`check_limits`, :func:`what_if`) and :mod:`solver`
(:func:`optimize`: cvxpy + Clarabel in factor structure, shadow prices, the ``names``
heuristic, the search for conflicting limits).

``xf.optimize`` (the package root) is the *function*; the root binds that name after this
package is imported, so ``import xlfactor.optimizer as m`` also gives the function. Import
this package's names with ``from xlfactor.optimizer import ...``.
"""

from xlfactor.optimizer.check import WhatIf, check_limits, what_if
from xlfactor.optimizer.limits import LIMIT_KINDS, PERCENT_KINDS, Limit, LimitKind, LimitsError, parse_limits, position_model, value_style
from xlfactor.optimizer.solver import InfeasibleLimitsError, Objective, OptimizeResult, SolverLimitError, factor_root, optimize

__all__ = [
    "LIMIT_KINDS",
    "PERCENT_KINDS",
    "InfeasibleLimitsError",
    "SolverLimitError",
    "Limit",
    "LimitKind",
    "LimitsError",
    "Objective",
    "OptimizeResult",
    "WhatIf",
    "check_limits",
    "factor_root",
    "optimize",
    "parse_limits",
    "position_model",
    "value_style",
    "what_if",
]
