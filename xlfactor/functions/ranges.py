"""Arguments shaped the way Excel sends them: ranges as lists of lists, None for blanks.

Pure Python (no xlwings): the worksheet-function catalog parses its arguments here,
so the functions behave the same in Excel, over HTTP and when called from Python.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from dataclasses import replace

import numpy as np
import pandas as pd

from xlfactor.conventions import as_of_date, number_from_text
from xlfactor.errors import PortfolioError, XlfactorError
from xlfactor.risk.holdings import (
    ALLOCATION_HEADERS, TICKER_HEADERS, VALUE_HEADERS, Holdings, accepted_headers, amount_kind, canonical_tickers, cell_types,
    holdings_from_arrays, kind_mask, numeric_amounts, same_headers,
)  # fmt: skip
from xlfactor.snapshot.memo import Memo, memo

EXCEL_EPOCH = dt.date(1899, 12, 30)
EXCEL_LAST_SERIAL = 2958465  # 9999-12-31, the last date Excel shows

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
    skipped and counted (``Holdings.skipped_blank_rows``). A ticker without a value (or a value without a ticker) is an error.

    The result is memoized per range content (the most recent ranges: :data:`MEMO_SIZE`
    keys of sampled rows, :data:`BUCKET_SIZE` ranges each), so twenty OF_ cells over the
    same range parse it once; its arrays are read-only. Cells are compared by value, as
    Python's ``==`` does (1 and 1.0 are the same content), except that TRUE/FALSE never
    match a stored 1/0: a boolean cell parses differently from a number, so a range with
    one is never memoized and never served from the memo. The parse itself is a few
    array passes (no per-row branching).

    >>> h = parse_holdings_range([["ticker", "value"], [" aapl", 300.0], [None, None], ["MSFT", 100]])
    >>> h.tickers.tolist(), h.weights.tolist()
    (['AAPL', 'MSFT'], [0.75, 0.25])
    """
    key, probe = _memo_key(value)
    bucket = _MEMO.get(key) if key is not None else None
    if bucket is not None:
        for content, zero_one, holdings in bucket:
            # the whole range, cell by cell (C-level list equality, no copy); then the few cells
            # equal to 0 or 1 must not be booleans in the probe (True == 1 in Python)
            if probe == content and not any(isinstance(probe[i][j], _BOOLS) for i, j in zero_one):
                return holdings
    holdings = _parse_holdings(as_rows(value), name)
    holdings.tickers.flags.writeable = False
    holdings.amounts.flags.writeable = False
    copied = None if key is None else _row_copy(probe)
    if copied is not None:  # a bucket is made only when something is stored in it
        if bucket is None:
            bucket = _MEMO.put(key, [])
        bucket.insert(0, (*copied, holdings))
        del bucket[BUCKET_SIZE:]
    return holdings


MEMO_SIZE = 256
BUCKET_SIZE = 8
_MEMO: Memo[list[tuple[list, list, Holdings]]] = memo("parsed ranges", MEMO_SIZE)
"""Sample hash -> [(content, positions of its 0/1 cells, holdings)], newest first."""
_ROW_TYPES = frozenset({list, tuple})
_BOOLS = (bool, np.bool_)
_TEXT_TYPES = frozenset({str, type(None)})
_NUMBER_TYPES = frozenset({float, int})


def _memo_key(value: object) -> tuple[int | None, list | None]:
    """The memo key of this block (its size and sampled rows), and the block as a list of rows.

    The key hashes the row count and four sampled rows only (a warm call must not hash
    1,000 rows); a hit is then confirmed on the full content. Ranges that share the
    samples but differ elsewhere (a what-if copy of a book) live side by side in one
    bucket. ``(None, None)`` when ``value`` is no block of rows or a sampled cell is
    unhashable.
    """
    if type(value) not in _ROW_TYPES or not value:
        return None, None
    probe = value if type(value) is list else list(value)
    n = len(probe)
    sample = (probe[0], probe[n // 3], probe[(2 * n) // 3], probe[-1])
    if not set(map(type, sample)) <= _ROW_TYPES:
        return None, None
    try:
        return hash((n, *map(tuple, sample))), probe
    except TypeError:
        return None, None


def _row_copy(rows: list) -> tuple[list, list[tuple[int, int]]] | None:
    """A copy of the rows that later edits of the caller's lists cannot change, and its 0/1 cells.

    The positions ``(row, column)`` of cells equal to 0 or 1 are what a hit must check
    for booleans. None (not memoized) when a row is no list or tuple, a cell is
    unhashable (a mutable cell could change behind the copy) or a cell is a boolean.
    """
    if not set(map(type, rows)) <= _ROW_TYPES:
        return None
    try:
        hash(tuple(map(tuple, rows)))
    except TypeError:
        return None
    zero_one = _zero_one_cells(rows)
    if zero_one is None:
        return None
    return [row if type(row) is tuple else list(row) for row in rows], zero_one


def _zero_one_cells(rows: list) -> list[tuple[int, int]] | None:
    """``(row, column)`` of the cells equal to 0 or 1 in the two parsed columns; None if one is a boolean.

    Array passes over the columns (``zip(*rows)``, as the parse reads them): cells beyond
    the second column are not parsed, so they cannot change the result.
    """
    cells: list[tuple[int, int]] = []
    for j, column in enumerate(list(zip(*rows))[:2]):
        kinds = set(map(type, column))
        if not kinds.isdisjoint(_BOOLS):
            return None
        if kinds <= _TEXT_TYPES:  # a ticker column: no cell can equal 0 or 1
            continue
        numeric = kinds <= _NUMBER_TYPES  # the usual value column: a float array compares at C speed
        values = np.fromiter(column, dtype=float if numeric else object, count=len(column))
        try:
            found = np.nonzero((values == 0) | (values == 1))[0]
        except (TypeError, ValueError):  # a cell whose == raises: not memoized
            return None
        cells.extend((int(i), j) for i in found)
    return cells


def _parse_holdings(rows: list[list[object]], name: str) -> Holdings:
    if not rows:
        raise PortfolioError(f"{name} range is empty")
    if min(map(len, rows)) < 2:
        raise PortfolioError(f"{name} must be a two-column range (ticker, value)")
    columns = list(zip(*rows))
    raw_tickers = np.array(columns[0], dtype=object)
    raw_amounts = np.array(columns[1], dtype=object)
    canonical = canonical_tickers(raw_tickers)  # one pass: text, stripped, upper case
    types = cell_types(raw_amounts)
    values = numeric_amounts(raw_amounts, types)  # numbers as they are, text numbers parsed, else NaN
    text = kind_mask(types, str)  # np.str_ too
    no_ticker = pd.isna(raw_tickers) | (canonical == "")
    no_amount = pd.isna(raw_amounts)
    if text.any():
        no_amount[text] = [not c.strip() for c in raw_amounts[text]]  # the text cells only
    zero = (values == 0) & kind_mask(types, (int, float, np.integer, np.floating)) & ~kind_mask(types, (bool, np.bool_))
    keep = ~(no_ticker & (no_amount | zero))  # blank rows (xlwings Server sends empty cells as 0)
    position = np.cumsum(keep)  # 1-based row among the non-blank rows
    orphan = keep & no_ticker
    if orphan.any():
        raise PortfolioError(f"{name} row {position[np.argmax(orphan)]} has a value but no ticker")
    empty = keep & no_amount
    if empty.any():
        i = int(np.argmax(empty))
        raise PortfolioError(f"{name} row {position[i]} ({str(raw_tickers[i]).strip()}) has no value")
    kept = np.nonzero(keep)[0]
    if not len(kept):
        raise PortfolioError(f"{name} range is empty")
    kind = "value"
    if _is_header(raw_tickers[kept[0]], raw_amounts[kept[0]]):
        first, second = raw_tickers[kept[0]], raw_amounts[kept[0]]
        same = same_headers([c for c in rows[kept[0]] if not is_blank(c)])
        if same:
            raise PortfolioError(f"{name} header has columns that are one name ignoring case and spaces: {same}; keep one of them")
        kind = amount_kind(second)  # a `weight` header is allocation: used as given, never renormalized as dollars
        if kind is None or str(first).strip().lower() not in HEADER_TICKER_WORDS:
            bad = second if kind is None else first
            raise PortfolioError(f"{name} header {str(bad).strip()!r} is unknown; accepted: {accepted_headers()}")
        kept = kept[1:]
        if not len(kept):
            raise PortfolioError(f"{name} range has a header but no holdings")
    holdings = holdings_from_arrays(canonical[kept], values[kept], kind, name)  # type: ignore[arg-type]
    blank_rows = int((~keep).sum())
    return replace(holdings, skipped_blank_rows=blank_rows) if blank_rows else holdings


HEADER_TICKER_WORDS = frozenset((*TICKER_HEADERS, "name"))  # the first column of a two-column range
HEADER_VALUE_WORDS = frozenset(VALUE_HEADERS + ALLOCATION_HEADERS)


def _is_header(first: object, second: object) -> bool:
    """A header row names its columns (``ticker``/``value``...); a data row is never mistaken for one."""
    if not isinstance(second, str) or _looks_numeric(second):
        return False
    return amount_kind(second) is not None or str(first).strip().lower() in HEADER_TICKER_WORDS


def _looks_numeric(text: str) -> bool:
    try:
        number_from_text(text)
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


def optional_number(value: object, name: str, default: float, finite: bool = True) -> float:
    """A single-cell number argument (text numbers accepted); ``default`` when omitted.

    NaN and infinities (``"nan"``, ``"inf"``, ``"1e999"``) are refused unless the caller
    passes ``finite=False``: a typed ``"nan"`` never silently means the default.

    Raises
    ------
    XlfactorError
        One line naming the argument, if the cell is not a number or not a finite one.
    """
    value = _single(value)
    if is_blank(value):
        return default
    if isinstance(value, bool):
        raise XlfactorError(f"`{name}` must be a number, got {value!r}")
    try:
        number = float(str(value).strip()) if isinstance(value, str) else float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError, OverflowError):
        raise XlfactorError(f"`{name}` must be a number, got {value!r}") from None
    if finite and not math.isfinite(number):
        raise XlfactorError(f"`{name}` must be a finite number, got {value!r}")
    return number


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
        if not (math.isfinite(value) and 1 <= value <= EXCEL_LAST_SERIAL):
            raise XlfactorError(f"`{name}` {value!r} is not a date: Excel date serials run from 1 to {EXCEL_LAST_SERIAL} (9999-12-31)")
        return (EXCEL_EPOCH + dt.timedelta(days=int(value))).isoformat()
    try:
        return as_of_date(value, name)  # the whole text: "2026-10-30junk" is refused, not read as 2026-10-30
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
