"""Which ETF hedges which part of the market: GICS sector -> SPDR, sub-industry -> subsector ETF.

The table ships as ``xlfactor/data/etf_map.csv`` (columns ``level, name, sector, etf,
etf_name, source``). ``level`` is ``sector`` (a GICS sector and its Select Sector SPDR)
or ``sub_industry`` (a GICS sub-industry, or an industry of the simulated demo, and the
subsector ETF that tracks it; ``sector`` is the sector it belongs to). ``source`` says
whether the name is a GICS name (``gics``; ``gics-2017`` for the pre-2018 structure)
and/or a demo industry (``demo``). Sub-industries without a liquid subsector ETF are
absent: their names are hedged at the market and sector levels only.

>>> etf_for_sector()["Energy"], etf_for_sub_industry()["Semiconductors"]
('XLE', 'SOXX')
"""

from __future__ import annotations

import csv
import functools
from pathlib import Path

from xlfactor.snapshot.memo import on_clear

ETF_MAP_FILE = Path(__file__).resolve().parents[1] / "data" / "etf_map.csv"
MARKET_ETF = "SPY"


@functools.lru_cache(maxsize=1)
def etf_map_rows() -> tuple[dict[str, str], ...]:
    """The rows of the shipped table, as dictionaries (read once; :func:`~xlfactor.snapshot.memo.clear_memos` forgets them)."""
    with ETF_MAP_FILE.open(newline="", encoding="utf-8") as handle:
        return tuple(dict(row) for row in csv.DictReader(handle))


def etf_for_sector() -> dict[str, str]:
    """GICS sector name -> its Select Sector SPDR."""
    return {r["name"]: r["etf"] for r in etf_map_rows() if r["level"] == "sector"}


def etf_for_sub_industry() -> dict[str, str]:
    """Sub-industry (GICS or demo industry) name -> its subsector ETF."""
    return {r["name"]: r["etf"] for r in etf_map_rows() if r["level"] == "sub_industry"}


def sectors_of_etf(etf: str) -> list[str]:
    """Sector names an ETF of the table belongs to (its own sector, or its sub-industries' sectors)."""
    seen: list[str] = []
    for r in etf_map_rows():
        if r["etf"] == etf and r["sector"] not in seen:
            seen.append(r["sector"])
    return seen


on_clear(etf_map_rows.cache_clear)
