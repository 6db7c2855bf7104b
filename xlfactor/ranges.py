"""Arguments shaped the way Excel sends them: ranges as lists of lists, None for blanks.

Pure Python (no xlwings): the worksheet-function catalog parses its arguments here,
so the functions behave the same in Excel, over HTTP and when called from Python.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence

import pandas as pd

from xlfactor.errors import PortfolioError, XlfactorError
from xlfactor.risk.holdings import Holdings, holdings_from_pairs

EXCEL_EPOCH = dt.date(1899, 12, 30)

Cell = float | int | str | bool | dt.date | dt.datetime | None
"""One worksheet cell as xlwings passes it (``None`` when empty)."""

RangeValue = Cell | Sequence[Cell] | Sequence[Sequence[Cell]]
"""A cell, a row or column, or a block (list of rows) as xlwings passes a range."""

TableResult = list[list[object]]
"""A spilled table: a header row, then one row per record."""


def as_rows(value: object) -> list[list[object]]:
    """Normalize a cell, a row, a column or a block to a list of rows."""
    if value is None:
        return []
    if isinstance(value, pd.DataFrame):
        return [list(value.columns)] + value.to_numpy(dtype=object).tolist()
    if isinstance(value, (list, tuple)):
        if not value:
            return []
        if all(isinstance(row, (list, tuple)) for row in value):
            return value if isinstance(value, list) else list(value)
        return [list(value)]
    return [[value]]


def is_blank(value: object) -> bool:
    """True for an empty cell: None, empty or whitespace text, NaN."""
    if value is None:
        return True
    if isinstance(value, str):
        return not value.strip()
    return isinstance(value, float) and math.isnan(value)


def parse_holdings_range(value: object, name: str = "holdings") -> Holdings:
    """Holdings from a two-column range (ticker, value), with or without a header row.

    A first row naming the columns (``ticker``/``symbol`` or ``value``/``allocation``/
    ``weight``...) is a header; a header whose second cell reads ``allocation`` means weights used as given;
    otherwise values are signed dollars normalized by gross exposure. Blank rows are
    skipped. A ticker without a value (or a value without a ticker) is an error.
    """
    tickers: list[object] = []
    amounts: list[object] = []
    for row in as_rows(value):  # one pass over the range's rows; blank tests inlined for speed
        if len(row) < 2:
            raise PortfolioError(f"{name} must be a two-column range (ticker, value)")
        ticker, amount = row[0], row[1]
        no_ticker = ticker is None or (type(ticker) is str and not ticker.strip()) or ticker != ticker
        no_amount = amount is None or (type(amount) is str and not amount.strip()) or amount != amount
        if no_ticker and (no_amount or (type(amount) in (int, float) and amount == 0)):
            continue  # a blank row (xlwings Server sends empty cells as 0)
        if no_ticker:
            raise PortfolioError(f"{name} row {len(tickers) + 1} has a value but no ticker")
        if no_amount:
            raise PortfolioError(f"{name} row {len(tickers) + 1} ({str(ticker).strip()}) has no value")
        tickers.append(ticker)
        amounts.append(amount)
    if not tickers:
        raise PortfolioError(f"{name} range is empty")
    kind = "value"
    if _is_header(tickers[0], amounts[0]):
        kind = "allocation" if str(amounts[0]).strip().lower() == "allocation" else "value"
        tickers, amounts = tickers[1:], amounts[1:]
        if not tickers:
            raise PortfolioError(f"{name} range has a header but no holdings")
    return holdings_from_pairs(tickers, amounts, kind, name)  # type: ignore[arg-type]


HEADER_TICKER_WORDS = frozenset({"ticker", "tickers", "symbol", "symbols", "security", "name", "id"})
HEADER_VALUE_WORDS = frozenset(
    {"value", "values", "allocation", "weight", "weights", "amount", "market value", "position", "notional", "usd"}
)


def _is_header(first: object, second: object) -> bool:
    """A header row names its columns (``ticker``/``value``...); a data row is never mistaken for one."""
    if not isinstance(second, str) or _looks_numeric(second):
        return False
    return second.strip().lower() in HEADER_VALUE_WORDS or str(first).strip().lower() in HEADER_TICKER_WORDS


def _looks_numeric(text: str) -> bool:
    try:
        float(text.strip().replace(",", ""))
    except ValueError:
        return False
    return True


def optional_text(value: object) -> str | None:
    """A single-cell text argument; None when omitted or blank."""
    value = _single(value)
    if is_blank(value):
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).strip()


def optional_number(value: object, name: str, default: float) -> float:
    """A single-cell number argument (text numbers accepted); ``default`` when omitted."""
    value = _single(value)
    if is_blank(value):
        return default
    if isinstance(value, bool):
        raise XlfactorError(f"`{name}` must be a number, got {value!r}")
    try:
        return float(str(value).strip()) if isinstance(value, str) else float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise XlfactorError(f"`{name}` must be a number, got {value!r}") from None


def optional_flag(value: object, name: str, default: bool = False) -> bool:
    """A TRUE/FALSE argument: booleans, 1/0, or the texts true/false/yes/no."""
    value = _single(value)
    if is_blank(value):
        return default
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float)) and value in (0, 1):
        return bool(value)
    text = str(value).strip().lower()
    if text in ("true", "yes", "y", "1"):
        return True
    if text in ("false", "no", "n", "0"):
        return False
    raise XlfactorError(f"`{name}` must be TRUE or FALSE, got {value!r}")


def optional_date(value: object, name: str = "as_of") -> str | None:
    """An ISO date from a date cell, an Excel serial number or text; None for latest."""
    value = _single(value)
    if is_blank(value):
        return None
    if isinstance(value, dt.datetime):
        return value.date().isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return (EXCEL_EPOCH + dt.timedelta(days=int(value))).isoformat()
    text = str(value).strip()
    if text.lower() == "latest":
        return None
    try:
        return dt.date.fromisoformat(text[:10]).isoformat()
    except ValueError:
        raise XlfactorError(f"`{name}` must be a date (YYYY-MM-DD) or 'latest', got {value!r}") from None


def text_list(value: object) -> list[str]:
    """Non-blank texts of a range, row by row (e.g. a list of hedge instruments)."""
    return [str(cell).strip() for row in as_rows(value) for cell in row if not is_blank(cell)]


def _single(value: object) -> object:
    rows = as_rows(value) if isinstance(value, (list, tuple)) else None
    if rows is None:
        return value
    cells = [cell for row in rows for cell in row]
    if len(cells) > 1:
        raise XlfactorError("expected a single cell")
    return cells[0] if cells else None


def table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> list[list[object]]:
    """A spilled table: header row then data rows; NaN becomes an empty cell."""
    out: list[list[object]] = [list(header)]
    for row in rows:
        out.append([None if isinstance(v, float) and math.isnan(v) else _plain(v) for v in row])
    return out


def _plain(value: object) -> object:
    if hasattr(value, "item"):
        return value.item()  # numpy scalar to Python
    return value
