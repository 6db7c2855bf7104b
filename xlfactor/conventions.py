"""Units and conventions shared by every module (the only place 252 is written).

Every risk number in xlfactor is an **annualized decimal** (0.15 = 15% volatility)
unless its name says otherwise (``..._daily``). "Risk" always means volatility;
variances are always called ``..._variance``. Returns in the snapshot files
(factor, residual and index returns) are **daily simple decimal returns**.
Weights are decimals of gross exposure; shorts are negative.
"""

from __future__ import annotations

import math


TRADING_DAYS_PER_YEAR = 252
"""Trading days used to annualize daily figures."""

SQRT_TRADING_DAYS = math.sqrt(TRADING_DAYS_PER_YEAR)

FORECAST_HORIZON_DAYS = 21
"""Horizon of the main risk forecast (USE4: one month). Its annualized value is the
Newey-West 21-day forecast x 252/21; the one-day forecast (no serial-correlation terms)
is kept beside it and used for one-day VaR."""

MARKET_FACTOR = "market"
SECTOR_PREFIX = "sector:"
INDUSTRY_PREFIX = "industry:"

FACTOR_GROUPS = ("market", "style", "sector", "industry")
"""The closed set of factor groups, in display order."""


def factor_group(factor: str) -> str:
    """Group of a factor id: ``market``, ``sector``, ``industry`` or ``style``.

    >>> factor_group("sector:Energy"), factor_group("momentum")
    ('sector', 'style')
    """
    if factor == MARKET_FACTOR:
        return "market"
    if factor.startswith(SECTOR_PREFIX):
        return "sector"
    if factor.startswith(INDUSTRY_PREFIX):
        return "industry"
    return "style"


def normalize_ticker(ticker: object) -> str:
    """Canonical ticker: text, surrounding spaces removed, upper case.

    >>> normalize_ticker("  brk.b ")
    'BRK.B'
    """
    return str(ticker).strip().upper()
