"""Read a holdings CSV file (ticker, value or allocation) the way users actually save them.

What the command line and the track job read. Rules:

* The separator is detected from the header line: comma, semicolon (a European Excel
  export, whose numbers may use decimal commas and dot thousands separators) or tab.
* A line with more fields than the header is refused naming the line (``AAA,1,5``: a
  decimal comma in a comma-separated file is never read as two cells).
* A file cut off mid-line is refused naming the line; a last line without a line end
  that still has every field is read, with a warning naming it (a hand-written file).
* Blank rows are skipped and counted.
* An empty cell is the only missing value: ``NA`` is a ticker, not a NaN.
"""

from __future__ import annotations

import csv
import io
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from xlfactor.errors import PortfolioError

_SEPARATORS = ((",", "comma"), (";", "semicolon"), ("\t", "tab"))
_EUROPEAN_NUMBER = re.compile(r"[+-]?(\d{1,3}(\.\d{3})+|\d+)(,\d+)?")


@dataclass(frozen=True, eq=False)
class HoldingsFile:
    """A holdings file as read: the rows (blank rows removed) and what the reader noticed."""

    frame: pd.DataFrame  # the file's columns, text cells; numbers normalized to dot decimals
    blank_rows: int = 0
    notes: tuple[str, ...] = field(default_factory=tuple)


def read_holdings_csv(path: str | os.PathLike[str], name: str | None = None) -> HoldingsFile:
    r"""Read a holdings CSV; see the module docstring for the rules.

    Parameters
    ----------
    path : path
        The CSV file (UTF-8, with or without a byte-order mark, or Windows-1252).
    name : str, optional
        How messages call the file (default: the path as given).

    Returns
    -------
    HoldingsFile
        ``frame`` has the file's header as columns; pass it to
        :func:`xlfactor.portfolio_report` (which validates tickers and amounts).

    Raises
    ------
    PortfolioError
        Naming the file: unreadable, empty, cut off mid-line, or with a single column.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "book.csv"
    >>> _ = p.write_text("ticker;value\nAAA;1.250,5\n\nBBB;-20\n")
    >>> read = read_holdings_csv(p)
    >>> read.frame["value"].tolist(), read.blank_rows
    (['1250.5', '-20'], 1)
    """
    label = name or str(path)
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise PortfolioError(f"cannot read {label}: {exc.strerror or exc}") from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = data.decode("cp1252", errors="replace")
    if not text.strip():
        raise PortfolioError(f"{label} is empty")
    lines = text.splitlines()
    header_line = next(line for line in lines if line.strip())
    separator, word = next(((s, w) for s, w in _SEPARATORS if s in header_line), (",", "comma"))
    notes: list[str] = []
    header = next(csv.reader([header_line], delimiter=separator))
    if not text.endswith(("\n", "\r")):
        last = len(lines)
        try:
            fields = next(csv.reader([lines[-1]], delimiter=separator, strict=True))
        except csv.Error:
            fields = []
        quotes_open = lines[-1].count('"') % 2 == 1
        if quotes_open or len(fields) < len(header) or not fields[-1].strip():
            raise PortfolioError(f"{label}: line {last} is incomplete ({lines[-1]!r}); the file looks cut off")
        notes.append(
            f"{label}: line {last} has no line end; read as {lines[-1]!r} (check it if the file may be cut off)"
        )
    for number, fields in enumerate(csv.reader(io.StringIO(text), delimiter=separator), start=1):
        if len(fields) > len(header) and any(f.strip() for f in fields[len(header):]):
            hint = " -- a decimal comma in a comma-separated file? quote the number (\"1,5\") or use semicolons" if separator == "," else ""
            raise PortfolioError(f"{label}: line {number} has {len(fields)} fields but the header has {len(header)}{hint}")
    try:
        frame = pd.read_csv(
            io.StringIO(text), sep=separator, dtype=str, keep_default_na=False, skip_blank_lines=False, index_col=False
        )
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        detail = str(exc).strip().splitlines()[0]
        raise PortfolioError(f"{label}: cannot be parsed at line {len(lines)} or before ({detail})") from None
    frame = frame.fillna("")
    if frame.shape[1] < 2:
        raise PortfolioError(
            f"{label} has one column ({', '.join(map(str, frame.columns))}); expected ticker and value "
            "separated by commas, semicolons or tabs"
        )
    blank = frame.apply(lambda column: column.str.strip().eq("")).all(axis=1)
    blank_rows = int(blank.sum())
    frame = frame[~blank].reset_index(drop=True)
    if blank_rows:
        notes.append(f"{label}: skipped {blank_rows} blank rows")
    if separator == ";":
        frame, decimal_commas = _european_numbers(frame)
        notes.append(f"{label}: read as semicolon-separated" + (" with decimal commas" if decimal_commas else ""))
    elif separator != ",":
        notes.append(f"{label}: read as {word}-separated")
    return HoldingsFile(frame=frame, blank_rows=blank_rows, notes=tuple(notes))


def _european_numbers(frame: pd.DataFrame) -> tuple[pd.DataFrame, bool]:
    """Amount columns with a decimal comma (``1.234,5``) rewritten with a decimal point.

    A column is read with decimal commas only if one of its cells has a comma and every
    non-blank cell matches ``1.234,5`` / ``1234,5`` / ``1234``; otherwise it is left as is.
    """
    converted = False
    frame = frame.copy()
    for column in frame.columns:
        if str(column).strip().lower() == "ticker":
            continue
        cells = frame[column].str.strip()
        filled = cells[cells != ""]
        if not filled.str.contains(",", regex=False).any():
            continue
        if filled.map(lambda v: _EUROPEAN_NUMBER.fullmatch(v) is not None).all():
            frame[column] = cells.str.replace(".", "", regex=False).str.replace(",", ".", regex=False)
            converted = True
    return frame, converted
