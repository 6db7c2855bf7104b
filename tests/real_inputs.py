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
