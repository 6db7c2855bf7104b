"""The builder's input reader against a plain pandas pivot of the same long rows.

The reader codes dates and tickers once per distinct value and fills panels with array
passes; the expectation here is pandas doing the obvious thing row by row (normalize every
ticker, parse every date, pivot, forward-fill).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from xlfactor.builder.inputs import InputError, forward_fill, fundamentals_asof, market_data


@pytest.fixture(scope="module")
def messy_prices():
    """Long price rows with lower-case and padded tickers, US-spelled dates, gaps, a late listing and a name that left."""
    rng = np.random.default_rng(7)
    dates = pd.bdate_range("2024-01-01", periods=40)
    rows = []
    for j, name in enumerate(["aaa", " BBB", "Ccc ", "ddd", "EEE"]):
        days = dates[j * 3 :] if name != "EEE" else dates[:6]  # late listings; EEE trades only early on
        days = days[rng.random(len(days)) > 0.1]  # gaps
        spelled = [d.strftime("%m/%d/%Y") for d in days]  # one spelling, not ISO: the format is inferred
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
                         date=pd.to_datetime(prices["date"], format="%m/%d/%Y").dt.strftime("%Y-%m-%d"))  # fmt: skip
    if start:
        long = long[long["date"] >= start]
    return long.pivot(index="date", columns="ticker", values=column).sort_index().sort_index(axis=1)


@pytest.mark.parametrize("start", [None, "2024-01-15"])
def test_panels_equal_a_pandas_pivot(messy_prices, start):
    shuffled = messy_prices.sample(frac=1.0, random_state=3)
    day = pd.to_datetime(shuffled["date"], format="%m/%d/%Y").to_numpy()
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
    expected_date = pd.to_datetime(first["date"], format="%m/%d/%Y").strftime("%Y-%m-%d")
    with pytest.raises(InputError, match=rf"2 duplicate \(date, ticker\) rows, e.g. {first['ticker'].strip().upper()} {expected_date}"):
        market_data(twice, classification())
    swapped = messy_prices.copy()
    ccc = np.flatnonzero(swapped["ticker"].str.strip().str.upper() == "CCC")
    swapped.iloc[[ccc[2], ccc[3]]] = swapped.iloc[[ccc[3], ccc[2]]].to_numpy()  # one ticker's rows out of date order
    with pytest.raises(InputError, match=r"dates out of order for 1 tickers \(CCC\)"):
        market_data(swapped, classification())


@pytest.mark.parametrize(
    ("dates", "message"),
    [
        (["2024-01-02", "03.01.2024", "2024-01-04"], r"1 unparseable dates, e.g. '03.01.2024'"),  # mixed spellings
        (["2024-01-02", "2024", "2024-01-04"], r"1 unparseable dates, e.g. '2024'"),  # a bare year
        (["2024-01-02 16:00", "2024-01-03T16:00:00Z", "2024-01-04"], r"2 unparseable dates, e.g. '2024-01-03T16:00:00Z'"),
        (["2024-01-02T16:00:00+01:00", "2024-01-03T16:00:00+02:00"], r"prices.csv: dates cannot be read \(Mixed timezones"),
        ([20240102.0, np.nan, 20240104.0], r"1 unparseable dates, e.g. nan"),  # a number column with a hole
    ],
)
def test_dates_are_read_one_way_or_refused(dates, message):
    prices = pd.DataFrame({"date": dates, "ticker": "AAA", "close": 10.0, "volume": 1.0, "market_cap": 1e9})
    with pytest.raises(InputError, match=message):
        market_data(prices, classification())


def test_day_first_and_numeric_dates_are_read_as_written():
    """The format comes from the first value, and a number column is its digits, not nanoseconds since 1970."""
    day_first = pd.DataFrame({"date": ["13/01/2024", "05/02/2024"], "ticker": "AAA", "close": 10.0, "volume": 1.0, "market_cap": 1e9})
    assert market_data(day_first, classification()).dates.tolist() == ["2024-01-13", "2024-02-05"]
    numeric = day_first.assign(date=[20240102, 20240103])
    assert market_data(numeric, classification()).dates.tolist() == ["2024-01-02", "2024-01-03"]


def test_a_row_without_a_ticker_is_refused(tmp_path):
    """An empty ticker cell (NaN once read) is named, not turned into a ticker or into one-letter tickers."""
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "prices.csv").write_text("date,ticker,close,volume,market_cap\n2024-01-02,AAPL,1,1,1\n2024-01-02,,1,1,1\n2024-01-02,MSFT,1,1,1\n")
    classification().to_csv(folder / "classification.csv", index=False)
    from xlfactor.builder.inputs import read_inputs

    with pytest.raises(InputError, match=r"prices.csv: 1 rows without a ticker, e.g. the row dated 2024-01-02"):
        read_inputs(folder)


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
