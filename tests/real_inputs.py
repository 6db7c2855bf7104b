"""Builder input folder assembled from the real market data in ../shared/data (read there, never copied).

Prices: Kaggle S&P 500 daily closes 2013-02..2018-02 (price returns), the flagged bad
prices masked. Market caps: shares implied by the S&P 500 financials snapshots
(market cap / price). Fundamentals: those snapshots (book value, dividends) and the
Kaggle NYSE annual 10-K items, usable 90 days after the fiscal period end.
Classification: GICS sector and sub-industry as of ~2017. Benchmark: the S&P 500 price
index (``SPX``), which pins the market factor.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd


def write_real_inputs(shared: Path, folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    prices = pd.read_csv(shared / "prices" / "all_stocks_5yr.csv.gz", usecols=["date", "close", "volume", "Name"])
    prices = prices.rename(columns={"Name": "ticker"}).dropna(subset=["close"])
    flags = pd.read_csv(shared / "prices" / "known_price_issues.csv")
    flags = flags[flags["file"] == "prices/all_stocks_5yr.csv.gz"]
    masked = prices.set_index(["date", "ticker"]).index.isin(flags.set_index(["date", "ticker"]).index)
    prices = prices[~masked & (prices["close"] > 0)].sort_values(["ticker", "date"])
    prices[["date", "ticker", "close", "volume"]].to_csv(folder / "prices.csv.gz", index=False)

    snapshots = pd.read_csv(shared / "fundamentals" / "sp500_financials_snapshots_2012_2018.csv")
    shares = snapshots["market_cap_usd"] / snapshots["price"]
    from_snapshots = pd.DataFrame(
        {
            "ticker": snapshots["ticker"],
            "available_date": snapshots["snapshot_date"],
            "shares_outstanding": shares,
            "book_equity": snapshots["book_value_per_share"] * shares,
            "dividends_per_share": snapshots["dividend_yield_pct"] / 100 * snapshots["price"],
        }
    ).dropna(subset=["shares_outstanding"])
    from_snapshots = from_snapshots[from_snapshots["shares_outstanding"] > 0]
    annual = pd.read_csv(shared / "fundamentals" / "nyse_kaggle_fundamentals_2012_2016.csv.gz")
    period_end = pd.to_datetime(annual["Period Ending"], errors="coerce")
    from_annual = pd.DataFrame(
        {
            "ticker": annual["Ticker Symbol"],
            "available_date": (period_end + pd.Timedelta(days=90)).dt.strftime("%Y-%m-%d"),
            "net_income": annual["Net Income"],
            "revenue": annual["Total Revenue"],
            "gross_profit": annual["Gross Profit"],
            "total_assets": annual["Total Assets"],
            "total_liabilities": annual["Total Liabilities"],
            "operating_cash_flow": annual["Net Cash Flow-Operating"],
            "capex": -annual["Capital Expenditures"],
        }
    ).dropna(subset=["available_date"])
    fundamentals = pd.concat([from_snapshots, from_annual], ignore_index=True)
    fundamentals = fundamentals.drop_duplicates(["ticker", "available_date"], keep="last")
    fundamentals.to_csv(folder / "fundamentals.csv", index=False)

    securities = pd.read_csv(shared / "classification" / "nyse_kaggle_securities.csv")
    classification = pd.DataFrame(
        {
            "ticker": securities["Ticker symbol"],
            "sector": securities["GICS Sector"],
            "industry": securities["GICS Sub Industry"],
        }
    )
    later = pd.read_csv(shared / "classification" / "sp500_constituents_snapshots_2012_2018.csv")
    later = later[later["snapshot_date"] == later["snapshot_date"].max()]
    extra = later[~later["ticker"].isin(classification["ticker"])]
    classification = pd.concat(
        [classification, pd.DataFrame({"ticker": extra["ticker"], "sector": extra["gics_sector"], "industry": np.nan})]
    ).drop_duplicates("ticker")
    classification.to_csv(folder / "classification.csv", index=False)

    index = pd.read_csv(shared / "skfolio" / "sp500_index.csv.gz")
    index = index[(index["Date"] >= "2013-01-01") & (index["Date"] <= "2018-03-01")]
    pd.DataFrame({"date": index["Date"], "ticker": "SPX", "close": index["SP500"]}).to_csv(folder / "benchmark.csv", index=False)
    return folder


def ken_french_momentum(shared: Path) -> pd.Series:
    """Ken French daily momentum factor (decimal), indexed by ISO date."""
    factors = pd.read_csv(shared / "factors" / "ff_daily_factors_tidy.csv")
    return pd.Series(factors["Mom"].to_numpy() / 100, index=factors["date"].astype(str))


CRISIS_PRICES = "prices/us_stocks_sp500_universe_adj_daily_2000_2017.csv.gz"


def write_crisis_inputs(shared: Path, folder: Path, start: str = "2007-01-03", end: str = "2009-12-31", names: int = 250) -> Path:
    """Builder inputs for the 2007-2009 crisis from the adjusted price panel (read there, never copied).

    Universe: S&P 500 members on 2008-09-15 (point-in-time membership) with prices on
    at least 95% of the days, the ``names`` largest by cap on the first day (a CI-sized
    model). Prices: split- and dividend-adjusted closes, flagged bad prices masked.
    Caps: adjusted close times the shares implied by the earliest (2012-12-27)
    financials snapshot -- approximate, fine for exposures. Classification: GICS as of
    ~2017 (survivorship: names delisted before 2017 are absent). Benchmark: the S&P 500
    price index (``SPX``), which pins the market factor.
    """
    folder.mkdir(parents=True, exist_ok=True)
    prices = pd.read_csv(shared / CRISIS_PRICES, usecols=["date", "ticker", "close", "volume"])
    prices = prices[(prices["date"] >= start) & (prices["date"] <= end) & (prices["close"] > 0)]
    flags = pd.read_csv(shared / "prices" / "known_price_issues.csv")
    flags = flags[flags["file"] == CRISIS_PRICES]
    prices = prices[~prices.set_index(["date", "ticker"]).index.isin(flags.set_index(["date", "ticker"]).index)]

    members = pd.read_csv(shared / "membership" / "sp500_ticker_start_end.csv")
    lehman = "2008-09-15"
    members = members[(members["start_date"] <= lehman) & (members["end_date"].isna() | (members["end_date"] >= lehman))]
    prices = prices[prices["ticker"].isin(set(members["ticker"]))]
    days = prices["date"].nunique()
    counts = prices.groupby("ticker")["date"].count()
    prices = prices[prices["ticker"].isin(set(counts[counts >= 0.95 * days].index))]

    financials = pd.read_csv(shared / "fundamentals" / "sp500_financials_snapshots_2012_2018.csv")
    first = financials[financials["snapshot_date"] == financials["snapshot_date"].min()]
    shares = (first["market_cap_usd"] / first["price"]).groupby(first["ticker"]).last().dropna()
    shares = shares[shares > 0]
    prices = prices[prices["ticker"].isin(set(shares.index))].copy()
    prices["shares_outstanding"] = prices["ticker"].map(shares)
    securities = pd.read_csv(shared / "classification" / "nyse_kaggle_securities.csv")
    prices = prices[prices["ticker"].isin(set(securities["Ticker symbol"]))]
    opening = prices[prices["date"] == prices["date"].min()]
    largest = (opening["close"] * opening["shares_outstanding"]).groupby(opening["ticker"]).sum().nlargest(names).index
    prices = prices[prices["ticker"].isin(set(largest))].sort_values(["ticker", "date"])
    prices.to_csv(folder / "prices.csv.gz", index=False)
    pd.DataFrame(
        {"ticker": securities["Ticker symbol"], "sector": securities["GICS Sector"], "industry": securities["GICS Sub Industry"]}
    ).to_csv(folder / "classification.csv", index=False)
    index = pd.read_csv(shared / "skfolio" / "sp500_index.csv.gz")
    index = index[(index["Date"] >= start) & (index["Date"] <= end)]
    pd.DataFrame({"date": index["Date"], "ticker": "SPX", "close": index["SP500"]}).to_csv(folder / "benchmark.csv", index=False)
    return folder


def sp500_index_returns(shared: Path) -> pd.Series:
    """Daily simple returns of the S&P 500 price index (skfolio copy), indexed by ISO date."""
    index = pd.read_csv(shared / "skfolio" / "sp500_index.csv.gz")
    levels = pd.Series(index["SP500"].to_numpy(dtype=float), index=index["Date"].astype(str))
    return levels.pct_change().dropna()
