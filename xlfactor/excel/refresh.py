"""What the track workbook's Refresh button runs: record today's risk and return.

``refresh_book(book)`` reads the ``Holdings`` and ``Settings`` sheets of the open
workbook, records the day with :func:`xlfactor.reporting.track.record_day` (the same function as
``xlfactor track``) into the history folder next to the workbook, and writes the
``Track`` and ``TrackSummary`` sheets back. ``book`` is an xlwings ``Book`` in Excel;
anything with ``fullname``, ``sheets[name].used_range.value``,
``sheets[name].clear_contents()`` and ``sheets[name].range("A1").value = rows`` works,
which is how it is tested without Excel.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from xlfactor.cells import safe_text
from xlfactor.functions.ranges import as_rows, is_blank, optional_date, optional_text, parse_holdings_range
from xlfactor.snapshot.sources import load_snapshot
from xlfactor.reporting.track import DayRecord, read_history, realized_statistics, record_day

SETTINGS = ("snapshot", "date", "history")


def settings_of(book: Any) -> dict[str, object]:
    """``Settings`` sheet as {name: value}: snapshot (blank = demo), date (blank = latest), history folder."""
    names = [sheet.name for sheet in book.sheets]
    if "Settings" not in names:
        return {}
    rows = as_rows(book.sheets["Settings"].used_range.value)
    return {str(row[0]).strip().lower(): row[1] for row in rows if len(row) >= 2 and not is_blank(row[0])}


def history_folder(book: Any, settings: dict[str, object]) -> Path:
    """The history folder: the ``history`` setting, or ``<workbook name>_history`` beside the workbook."""
    workbook = Path(book.fullname)
    configured = optional_text(settings.get("history"))
    if configured:
        folder = Path(configured)
        return folder if folder.is_absolute() else workbook.parent / folder
    return workbook.parent / f"{workbook.stem}_history"


def refresh_book(book: Any) -> DayRecord:
    """Record the day for the holdings in ``book`` and show the history in it."""
    settings = settings_of(book)
    holdings = parse_holdings_range(book.sheets["Holdings"].used_range.value)
    column = "allocation" if holdings.kind == "allocation" else "value"
    portfolio = pd.DataFrame({"ticker": holdings.tickers, column: holdings.amounts})
    snapshot = load_snapshot(optional_text(settings.get("snapshot")))
    folder = history_folder(book, settings)
    day = record_day(portfolio, folder, snapshot=snapshot, date=optional_date(settings.get("date"), "date"))
    tables = read_history(folder)
    _show(book, "Track", tables["track"].sort_values("date"))
    _show(book, "TrackSummary", realized_statistics(tables["track"]).reset_index())
    return day


def _show(book: Any, name: str, frame: pd.DataFrame) -> None:
    sheet = book.sheets[name]
    sheet.clear_contents()
    rows = [list(frame.columns)] + frame.astype(object).where(frame.notna(), None).to_numpy().tolist()
    # Excel evaluates what xlwings types in: user text (tickers, dates...) goes in quote-prefixed.
    sheet.range("A1").value = [[safe_text(value) for value in row] for row in rows]
