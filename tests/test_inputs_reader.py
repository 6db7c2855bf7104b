"""The builder's input reader against a plain pandas pivot of the same long rows.

The reader codes dates and tickers once per distinct value and fills panels with array
passes; the expectation here is pandas doing the obvious thing row by row (normalize every
ticker, parse every date, pivot, forward-fill).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from xlfactor.model.inputs import InputError, forward_fill, fundamentals_asof, market_data


@pytest.fixture(scope="module")
def messy_prices():
    """Long price rows with lower-case and padded tickers, two date spellings, gaps, a late listing and a name that left."""
    rng = np.random.default_rng(7)
    dates = pd.bdate_range("2024-01-01", periods=40)
    rows = []
    for j, name in enumerate(["aaa", " BBB", "Ccc ", "ddd", "EEE"]):
        days = dates[j * 3 :] if name != "EEE" else dates[:6]  # late listings; EEE trades only early on
        days = days[rng.random(len(days)) > 0.1]  # gaps
        spelled = [d.strftime("%Y-%m-%d") if k % 2 else d.strftime("%m/%d/%Y") for k, d in enumerate(days)]
        close = 50 * np.exp(np.cumsum(rng.normal(0, 0.01, len(days))))
        rows.append(pd.DataFrame({"date": spelled, "ticker": name, "close": close, "adj_close": close * 0.99,
                                  "volume": rng.integers(1_000, 9_000, len(days)).astype(float),
                                  "market_cap": close * 1e7}))  # fmt: skip
    return pd.concat(rows, ignore_index=True)


def classification():
    return pd.DataFrame({"ticker": ["AAA", "BBB", "CCC", "DDD", "EEE"], "sector": ["Energy", "Energy", "Tech", "Tech", "Tech"],
                         "industry": ["Oil", "Gas", "Chips", "Software", "Chips"]})  # fmt: skip


def pivoted(prices: pd.DataFrame, column: str, start: str | None = None) -> pd.DataFrame:
    long = prices.assign(ticker=prices["ticker"].str.strip().str.upper(),
                         date=pd.to_datetime(prices["date"], format="mixed").dt.strftime("%Y-%m-%d"))  # fmt: skip
    if start:
        long = long[long["date"] >= start]
    return long.pivot(index="date", columns="ticker", values=column).sort_index().sort_index(axis=1)


@pytest.mark.parametrize("start", [None, "2024-01-15"])
def test_panels_equal_a_pandas_pivot(messy_prices, start):
    shuffled = messy_prices.sample(frac=1.0, random_state=3)
    day = pd.to_datetime(shuffled["date"], format="mixed").to_numpy()
    shuffled = shuffled.iloc[np.argsort(day, kind="stable")]  # dates ascending, tickers shuffled within a date
    data = market_data(shuffled, classification(), start=start)
    for column, panel in (("close", data.close), ("adj_close", data.adjusted), ("volume", data.volume), ("market_cap", data.market_cap)):
        expected = pivoted(messy_prices, column, start)
        assert data.dates.tolist() == expected.index.tolist()
        assert data.tickers.tolist() == expected.columns.tolist()
        np.testing.assert_array_equal(panel, expected.to_numpy())
    if start:
        assert "EEE" not in data.tickers  # its rows are all before the start: not in the universe
    adjusted = pivoted(messy_prices, "adj_close", start).to_numpy()
    np.testing.assert_allclose(data.returns[1:], adjusted[1:] / adjusted[:-1] - 1, rtol=0, atol=0)


def test_errors_count_rows_and_name_the_first(messy_prices):
    bad = messy_prices.copy()
    bad.loc[[4, 9, 11], "date"] = ["soon", "later", "soon"]
    with pytest.raises(InputError, match=r"prices.csv: 3 unparseable dates, e.g. 'soon'"):
        market_data(bad, classification())
    twice = pd.concat([messy_prices, messy_prices.iloc[[5, 6]]], ignore_index=True)
    first = messy_prices.iloc[5]
    expected_date = pd.to_datetime(first["date"], format="mixed").strftime("%Y-%m-%d")
    with pytest.raises(InputError, match=rf"2 duplicate \(date, ticker\) rows, e.g. {first['ticker'].strip().upper()} {expected_date}"):
        market_data(twice, classification())
    swapped = messy_prices.copy()
    ccc = np.flatnonzero(swapped["ticker"].str.strip().str.upper() == "CCC")
    swapped.iloc[[ccc[2], ccc[3]]] = swapped.iloc[[ccc[3], ccc[2]]].to_numpy()  # one ticker's rows out of date order
    with pytest.raises(InputError, match=r"dates out of order for 1 tickers \(CCC\)"):
        market_data(swapped, classification())


def test_forward_fill_equals_pandas_ffill():
    rng = np.random.default_rng(1)
    grid = rng.normal(size=(60, 9))
    grid[rng.random(grid.shape) < 0.7] = np.nan
    grid[:, 3] = np.nan  # a column with no value at all
    np.testing.assert_array_equal(forward_fill(grid), pd.DataFrame(grid).ffill().to_numpy())


def test_fundamentals_as_of_equal_a_pandas_pivot_and_truncate_like_a_slice():
    """Each value is known from the first trading date on or after its available date, the later report winning."""
    rng = np.random.default_rng(11)
    dates = pd.bdate_range("2024-01-01", periods=30).strftime("%Y-%m-%d").to_numpy()
    tickers = np.array(["AAA", "BBB", "CCC"])
    available = pd.to_datetime("2023-12-25") + pd.to_timedelta(rng.integers(0, 50, 24), unit="D")  # weekends, before and after
    reports = pd.DataFrame({"ticker": rng.choice(["aaa", "BBB ", "ccc", "ZZZ"], 24), "available_date": available.strftime("%Y-%m-%d"),
                            "book_equity": rng.normal(100, 10, 24), "net_income": np.where(rng.random(24) < 0.3, np.nan, 5.0)})  # fmt: skip
    panels, _ = fundamentals_asof(reports, dates, tickers)
    for name in ("book_equity", "net_income"):
        rows = reports.assign(ticker=reports["ticker"].str.strip().str.upper()).dropna(subset=[name])
        rows = rows[rows["ticker"].isin(tickers)]
        first = np.searchsorted(dates, rows["available_date"].to_numpy())  # first trading date on or after
        rows = rows.assign(row=first)[first < len(dates)].sort_values(["available_date", "ticker"], kind="stable")
        known = rows.groupby(["row", "ticker"])[name].last().unstack().reindex(index=range(len(dates)), columns=tickers)
        np.testing.assert_array_equal(panels[name], known.ffill().to_numpy())
        np.testing.assert_array_equal(panels.until(17)[name], panels[name][:17])
    assert sorted(panels) == ["book_equity", "net_income"]
