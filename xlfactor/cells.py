"""User strings in the files we write: always text, never a live formula.

Every workbook and CSV xlfactor writes goes through this module for its text cells
(tickers, names, dates, headers, notes, paths): a string is never evaluated by Excel,
LibreOffice or Google Sheets, whatever it starts with. Two entry points, one rule:

* :func:`set_cell` for workbooks written with openpyxl: strings are stored as string
  cells (``t="s"``, never ``<f>``); one that starts like a formula also gets Excel's
  quote prefix, so editing the cell keeps it text.
* :func:`safe_text` / :func:`safe_frame` for CSV files and cells typed into Excel through
  xlwings: a string starting with ``=``, ``+``, ``-``, ``@``, tab or carriage return gets a
  leading apostrophe (the OWASP CSV-injection rule; Excel hides the apostrophe when the
  value is entered into a cell). Numbers are never changed.

Pure Python (no openpyxl import), so every layer may use it.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
"""First characters that make a spreadsheet read a text as a formula (OWASP)."""

QUOTE = "'"


def is_formula_like(value: object) -> bool:
    """True for a string a spreadsheet would evaluate (starts with ``= + - @``, tab or CR).

    >>> is_formula_like('=HYPERLINK("http://x","y")'), is_formula_like("AAPL"), is_formula_like(-1.5)
    (True, False, False)
    """
    return isinstance(value, str) and value.startswith(FORMULA_PREFIXES)


def safe_text(value: Any) -> Any:
    """``value`` made safe for a CSV cell or a value typed into Excel: formula-like strings get ``'``.

    Anything that is not a string is returned unchanged; so is a string already escaped
    (it starts with the apostrophe), so escaping twice changes nothing.

    >>> safe_text("=1+2"), safe_text("-ABC"), safe_text("@SUM(A1)"), safe_text("AAPL"), safe_text(-2.5)
    ("'=1+2", "'-ABC", "'@SUM(A1)", 'AAPL', -2.5)
    >>> safe_text(safe_text("=1+2"))
    "'=1+2"
    """
    if is_formula_like(value):
        return QUOTE + value
    return value


def safe_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``frame`` whose text cells and column names pass through :func:`safe_text`.

    Use it just before ``to_csv``. Numeric columns are untouched (a negative number is
    a number, not text).

    >>> safe_frame(pd.DataFrame({"ticker": ["=X", "AAA"], "weight": [-0.5, 1.5]})).to_dict("list")
    {'ticker': ["'=X", 'AAA'], 'weight': [-0.5, 1.5]}
    """
    out = frame.copy()
    for column in out.columns:
        if out[column].dtype == object or pd.api.types.is_string_dtype(out[column].dtype):
            out[column] = out[column].map(safe_text)
    out.columns = [safe_text(c) if isinstance(c, str) else c for c in out.columns]
    return out


def set_cell(cell: Any, value: Any) -> Any:
    """Store ``value`` in an openpyxl cell; a string is always a string cell, never a formula.

    openpyxl turns any string starting with ``=`` into a formula; this undoes that for
    user text and sets the quote prefix on formula-like strings. Returns the cell.
    Write your own formulas with a plain ``cell.value = "=..."`` instead.

    >>> from openpyxl import Workbook
    >>> ws = Workbook().active
    >>> set_cell(ws["A1"], '=HYPERLINK("http://x","y")').data_type
    's'
    """
    cell.value = value
    if isinstance(value, str):
        if cell.data_type == "f":
            cell.data_type = "s"
        if is_formula_like(value):
            cell.quotePrefix = True
    return cell


def append_row(ws: Any, values: list[Any]) -> int:
    """``ws.append(values)`` with every string stored through :func:`set_cell`; returns the row number."""
    ws.append(values)
    row = getattr(ws, "_current_row", ws.max_row)
    for column, value in enumerate(values, start=1):
        if isinstance(value, str):
            set_cell(ws.cell(row=row, column=column), value)
    return row
