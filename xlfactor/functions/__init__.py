"""The worksheet-function catalog: every ``OF_`` function, defined once.

Each function is a plain Python callable importable by its worksheet name
(``from xlfactor.functions import OF_TRACKINGERROR``) taking arguments shaped the way
Excel sends them (lists of lists, ``None`` for empty cells, floats for numbers, text
with stray spaces). Scalars come back as numbers, tables as a list of rows with a
header row (they spill in dynamic-array Excel), and any problem as a one-line text
starting with ``#XLFACTOR`` -- never an exception.

:data:`CATALOG` (name, arguments with help, return shape, description) is what every
front end is generated from. The functions live in one module per area; importing this
package registers them all, in the order the reference lists them.
Units: risk annualized decimals, VaR a positive daily loss fraction, returns daily.

>>> from xlfactor.functions import CATALOG, OF_SNAPSHOT
>>> "OF_TRACKINGERROR" in CATALOG
True
>>> OF_SNAPSHOT("simulated")
True
"""

from xlfactor.functions import portfolio_risk  # isort: skip (import order is the reference order)
from xlfactor.functions import track as track_functions  # isort: skip
from xlfactor.functions import hedging  # isort: skip
from xlfactor.functions import scenarios  # isort: skip
from xlfactor.functions import themes  # isort: skip
from xlfactor.functions import optimize as optimize_functions  # isort: skip
from xlfactor.functions.catalog import (
    ARGUMENT_HELP,
    CATALOG,
    ERROR_PREFIX,
    MAX_MESSAGE,
    AccessPolicy,
    Argument,
    WorksheetFunction,
    access_policy,
    current_policy,
    reference_markdown,
    reference_text,
    register_arguments,
)

globals().update({name: entry.function for name, entry in CATALOG.items()})

__all__ = [
    "ARGUMENT_HELP",
    "CATALOG",
    "ERROR_PREFIX",
    "MAX_MESSAGE",
    "AccessPolicy",
    "Argument",
    "WorksheetFunction",
    "access_policy",
    "current_policy",
    "hedging",
    "optimize_functions",
    "portfolio_risk",
    "track_functions",
    "reference_markdown",
    "reference_text",
    "register_arguments",
    "scenarios",
    "themes",
    *CATALOG,
]
