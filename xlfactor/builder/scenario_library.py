"""The library of well-known market episodes a built snapshot carries in ``scenarios.csv``.

Dates are the US trading days whose returns make up the episode (first and last
return date, inclusive). The builder keeps the episodes that lie wholly inside the
factor-return history it writes (see ``BuildOptions.history_days``).

>>> library = scenarios_within(["2008-01-02", "2009-12-31"])
>>> "2008 Lehman weeks" in set(library["name"])
True
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pandas as pd

SCENARIO_COLUMNS = ("name", "start", "end", "description")


@dataclass(frozen=True)
class Episode:
    """A named date range of daily returns (ISO dates, inclusive)."""

    name: str
    start: str
    end: str
    description: str


KNOWN_EPISODES: tuple[Episode, ...] = (
    Episode("2001 September 11", "2001-09-17", "2001-09-21", "Markets reopened after the 11 September attacks: the S&P 500 fell about 12% in a week"),
    Episode("2007 quant quake", "2007-08-06", "2007-08-10", "Crowded quantitative long/short books unwound: value and momentum reversed within days"),
    Episode("2008 Lehman weeks", "2008-09-15", "2008-10-10", "Lehman Brothers filed for bankruptcy (15 Sep 2008); the S&P 500 fell about 28% to 10 Oct"),
    Episode("2009 momentum crash", "2009-03-09", "2009-05-29", "The rebound from the March 2009 low: past losers rallied and momentum crashed"),
    Episode("2010 flash crash", "2010-05-06", "2010-05-07", "6 May 2010: US stocks fell about 9% intraday within minutes; the next day's sell-off"),
    Episode("2011 US downgrade", "2011-08-01", "2011-08-10", "S&P downgraded US debt (5 Aug 2011); the S&P 500 fell 6.7% on 8 Aug"),
    Episode("2013 taper tantrum", "2013-05-22", "2013-06-24", "The Fed's hint at tapering bond purchases: yields jumped, rate-sensitive stocks fell"),
    Episode("2015 yuan devaluation", "2015-08-11", "2015-08-25", "China devalued the yuan (11 Aug 2015); US stocks fell about 11% to the 25 Aug low"),
    Episode("2016 Brexit vote", "2016-06-24", "2016-06-27", "The UK voted to leave the EU (23 Jun 2016): two days of global sell-off"),
    Episode("2018 volatility shock", "2018-02-02", "2018-02-08", "The VIX doubled and short-volatility products collapsed; the S&P 500 fell about 10%"),
    Episode("2018 Q4 sell-off", "2018-10-03", "2018-12-24", "Rate and trade fears: the S&P 500 fell about 20% to Christmas Eve"),
    Episode("2020 COVID crash", "2020-02-20", "2020-03-23", "The pandemic crash: the S&P 500 fell about 34% in 23 trading days"),
    Episode("2020 vaccine rotation", "2020-11-09", "2020-11-13", "Vaccine news (9 Nov 2020): value over momentum, the sharpest momentum reversal in years"),
    Episode("2022 rate shock", "2022-01-03", "2022-06-16", "Inflation and rate hikes: growth stocks de-rated, the S&P 500 fell about 23% by mid-June"),
)  # fmt: skip


def scenarios_within(dates: Sequence[str], episodes: Sequence[Episode] = KNOWN_EPISODES) -> pd.DataFrame | None:
    """The episodes lying wholly inside ``dates`` (stored return dates, ascending) as a scenarios table.

    Parameters
    ----------
    dates : sequence of str
        ISO return dates of the factor-return history (only the first and last matter).
    episodes : sequence of Episode
        Defaults to :data:`KNOWN_EPISODES`.

    Returns
    -------
    DataFrame or None
        Columns ``name, start, end, description``; None when nothing falls inside (the
        snapshot then has no ``scenarios.csv``).
    """
    rows = []
    if len(dates):
        first, last = str(dates[0]), str(dates[-1])
        rows = [(e.name, e.start, e.end, e.description) for e in episodes if first <= e.start and e.end <= last]
    return pd.DataFrame(rows, columns=list(SCENARIO_COLUMNS)) if rows else None
