"""Units and conventions shared by every module (the only place 252 is written).

Every risk number in xlfactor is an **annualized decimal** (0.15 = 15% volatility)
unless its name says otherwise (``..._daily``). "Risk" always means volatility;
variances are always called ``..._variance``. Returns in the snapshot files
(factor, residual and index returns) are **daily simple decimal returns**.
Weights are decimals of gross exposure; shorts are negative.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from enum import Enum
from typing import TypeVar

import pandas as pd

from xlfactor.errors import XlfactorError


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



class Choice(str, Enum):
    """A closed set of option values; members compare equal to their text (``"risk"``)."""

    def __str__(self) -> str:
        return self.value

    @classmethod
    def parse(cls: type[_C], value: object, argument: str) -> _C:
        """The member named by ``value`` (case and surrounding spaces ignored).

        Raises
        ------
        XlfactorError
            Naming ``argument`` and listing the choices, if ``value`` is none of them.

        >>> FactorGroup.parse(" Sector", "group")
        <FactorGroup.SECTOR: 'sector'>
        >>> FactorGroup.parse("sectors", "group")
        Traceback (most recent call last):
        ...
        xlfactor.errors.XlfactorError: group must be one of market, style, sector, industry; got 'sectors'
        """
        if isinstance(value, cls):
            return value
        text = str(value).strip().lower() if isinstance(value, str) else value
        for member in cls:
            if member.value == text:
                return member
        choices = ", ".join(m.value for m in cls)
        raise XlfactorError(f"{argument} must be one of {choices}; got {value!r}")


_C = TypeVar("_C", bound=Choice)


class FactorGroup(Choice):
    """The factor groups, in display order."""

    MARKET = "market"
    STYLE = "style"
    SECTOR = "sector"
    INDUSTRY = "industry"


FACTOR_GROUPS = tuple(g.value for g in FactorGroup)
"""The closed set of factor groups as text, in display order."""


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


def as_of_date(value: object, name: str = "as_of") -> str | None:
    """An as-of argument as an ISO date, or None for ``latest`` / blank.

    Raises ``ValueError`` naming ``name`` when the text is not a real ``YYYY-MM-DD`` date
    (callers turn it into their own error type).

    >>> as_of_date("2026-10-30"), as_of_date("latest"), as_of_date(None)
    ('2026-10-30', None, None)
    >>> as_of_date("garbage")
    Traceback (most recent call last):
    ...
    ValueError: `as_of` 'garbage' is malformed: expected a date YYYY-MM-DD or 'latest'
    """
    import datetime as _dt

    if value is None:
        return None
    text = str(value).strip()
    if text.lower() in ("", "latest"):
        return None
    try:
        return _dt.date.fromisoformat(text).isoformat() if len(text) == 10 else _bad_date(text, name)
    except ValueError:
        return _bad_date(text, name)


def _bad_date(text: str, name: str) -> str:
    raise ValueError(f"`{name}` {text!r} is malformed: expected a date YYYY-MM-DD or 'latest'")


_THOUSANDS = re.compile(r"[+-]?[1-9]\d{0,2}(,\d{3})+(\.\d+)?")
_DECIMAL_COMMA = re.compile(r"[+-]?\d*,\d+")


def number_from_text(text: str) -> float:
    """A number typed as text: ``"1,000.5"`` (comma thousands), ``"-0,1"`` (decimal comma) or plain.

    A comma is a thousands separator only in groups of three digits after a first group that
    does not start with 0 (``1,000`` / ``12,345.6``); a single comma otherwise is a decimal
    comma (``1,5`` is 1.5, ``-0,1`` is -0.1, ``0,100`` is 0.1), never dropped. Anything else
    with a comma (``1,5,0``, ``1.000,5``) is not a number.

    Raises
    ------
    ValueError
        If the text is not a number in one of these forms.

    Examples
    --------
    >>> number_from_text("1,000"), number_from_text(" -0,1 "), number_from_text("1,5"), number_from_text("2.5e-3")
    (1000.0, -0.1, 1.5, 0.0025)
    """
    value = str(text).strip()
    if "," in value:
        if _THOUSANDS.fullmatch(value):
            value = value.replace(",", "")
        elif _DECIMAL_COMMA.fullmatch(value):
            value = value.replace(",", ".")
        else:
            raise ValueError(f"{text!r} is not a number")
    return float(value)


def normalize_tickers(tickers: Iterable[object] | pd.Series | pd.Index) -> pd.Series:
    """:func:`normalize_ticker` of every element, vectorized (a Series in the input's order).

    >>> normalize_tickers([" aapl", "Msft "]).tolist()
    ['AAPL', 'MSFT']
    """
    series = tickers if isinstance(tickers, pd.Series) else pd.Series(list(tickers), dtype=object)
    return series.astype(str).str.strip().str.upper()
