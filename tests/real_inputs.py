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
    write_reference_files(shared, folder, "2013-01-01", "2018-03-01")
    return folder


def write_reference_files(shared: Path, folder: Path, start: str, end: str, industries: str = "sub_industry") -> None:
    """fundamentals.csv, classification.csv and benchmark.csv (SPX from ``start`` to ``end``)."""
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
    if industries == "industry":
        classification["industry"] = classification["industry"].map(GICS_INDUSTRY)
    elif industries == "fold_thin":
        counts = classification["industry"].map(classification["industry"].value_counts())
        classification["industry"] = classification["industry"].where(counts >= 5, classification["industry"].map(GICS_INDUSTRY))
    elif industries != "sub_industry":
        raise ValueError(f"industries must be sub_industry, industry or fold_thin, got {industries!r}")
    later = pd.read_csv(shared / "classification" / "sp500_constituents_snapshots_2012_2018.csv")
    later = later.sort_values("snapshot_date").drop_duplicates("ticker", keep="last")  # each name's last known sector
    extra = later[~later["ticker"].isin(classification["ticker"])]
    sectors = extra["gics_sector"].replace({"Telecommunication Services": "Telecommunications Services"})  # one spelling
    classification = pd.concat(
        [classification, pd.DataFrame({"ticker": extra["ticker"], "sector": sectors, "industry": np.nan})]
    ).drop_duplicates("ticker")
    classification.to_csv(folder / "classification.csv", index=False)

    index = pd.read_csv(shared / "skfolio" / "sp500_index.csv.gz")
    index = index[(index["Date"] >= start) & (index["Date"] <= end)]
    pd.DataFrame({"date": index["Date"], "ticker": "SPX", "close": index["SP500"]}).to_csv(folder / "benchmark.csv", index=False)


GICS_INDUSTRY = {  # GICS sub-industry (as named in nyse_kaggle_securities.csv, pre-2018 GICS) -> its GICS industry
    'Advertising': 'Media',
    'Broadcasting & Cable TV': 'Media',
    'Cable & Satellite': 'Media',
    'Publishing': 'Media',
    'Apparel Retail': 'Specialty Retail',
    'Automotive Retail': 'Specialty Retail',
    'Computer & Electronics Retail': 'Specialty Retail',
    'Home Improvement Retail': 'Specialty Retail',
    'Specialty Retail': 'Specialty Retail',
    'Specialty Stores': 'Specialty Retail',
    'Apparel, Accessories & Luxury Goods': 'Textiles, Apparel & Luxury Goods',
    'Auto Parts & Equipment': 'Auto Components',
    'Tires & Rubber': 'Auto Components',
    'Automobile Manufacturers': 'Automobiles',
    'Motorcycle Manufacturers': 'Automobiles',
    'Casinos & Gaming': 'Hotels, Restaurants & Leisure',
    'Hotels, Resorts & Cruise Lines': 'Hotels, Restaurants & Leisure',
    'Restaurants': 'Hotels, Restaurants & Leisure',
    'Consumer Electronics': 'Household Durables',
    'Home Furnishings': 'Household Durables',
    'Homebuilding': 'Household Durables',
    'Household Appliances': 'Household Durables',
    'Housewares & Specialties': 'Household Durables',
    'Department Stores': 'Multiline Retail',
    'General Merchandise Stores': 'Multiline Retail',
    'Distributors': 'Distributors',
    'Internet & Direct Marketing Retail': 'Internet & Direct Marketing Retail',
    'Leisure Products': 'Leisure Products',
    'Agricultural Products': 'Food Products',
    'Packaged Foods & Meats': 'Food Products',
    'Brewers': 'Beverages',
    'Distillers & Vintners': 'Beverages',
    'Soft Drinks': 'Beverages',
    'Drug Retail': 'Food & Staples Retailing',
    'Food Distributors': 'Food & Staples Retailing',
    'Food Retail': 'Food & Staples Retailing',
    'Hypermarkets & Super Centers': 'Food & Staples Retailing',
    'Household Products': 'Household Products',
    'Personal Products': 'Personal Products',
    'Tobacco': 'Tobacco',
    'Integrated Oil & Gas': 'Oil, Gas & Consumable Fuels',
    'Oil & Gas Exploration & Production': 'Oil, Gas & Consumable Fuels',
    'Oil & Gas Refining & Marketing & Transportation': 'Oil, Gas & Consumable Fuels',
    'Oil & Gas Drilling': 'Energy Equipment & Services',
    'Oil & Gas Equipment & Services': 'Energy Equipment & Services',
    'Asset Management & Custody Banks': 'Capital Markets',
    'Financial Exchanges & Data': 'Capital Markets',
    'Investment Banking & Brokerage': 'Capital Markets',
    'Banks': 'Banks',
    'Regional Banks': 'Banks',
    'Consumer Finance': 'Consumer Finance',
    'Diversified Financial Services': 'Diversified Financial Services',
    'Multi-Sector Holdings': 'Diversified Financial Services',
    'Insurance Brokers': 'Insurance',
    'Life & Health Insurance': 'Insurance',
    'Multi-line Insurance': 'Insurance',
    'Property & Casualty Insurance': 'Insurance',
    'Thrifts & Mortgage Finance': 'Thrifts & Mortgage Finance',
    'Biotechnology': 'Biotechnology',
    'Health Care Distributors': 'Health Care Providers & Services',
    'Health Care Facilities': 'Health Care Providers & Services',
    'Health Care Services': 'Health Care Providers & Services',
    'Managed Health Care': 'Health Care Providers & Services',
    'Health Care Equipment': 'Health Care Equipment & Supplies',
    'Health Care Supplies': 'Health Care Equipment & Supplies',
    'Health Care Technology': 'Health Care Technology',
    'Life Sciences Tools & Services': 'Life Sciences Tools & Services',
    'Pharmaceuticals': 'Pharmaceuticals',
    'Aerospace & Defense': 'Aerospace & Defense',
    'Air Freight & Logistics': 'Air Freight & Logistics',
    'Airlines': 'Airlines',
    'Building Products': 'Building Products',
    'Construction & Farm Machinery & Heavy Trucks': 'Machinery',
    'Industrial Machinery': 'Machinery',
    'Diversified Commercial Services': 'Commercial Services & Supplies',
    'Diversified Support Services': 'Commercial Services & Supplies',
    'Environmental Services': 'Commercial Services & Supplies',
    'Technology, Hardware, Software and Supplies': 'Commercial Services & Supplies',
    'Electrical Components & Equipment': 'Electrical Equipment',
    'Human Resource & Employment Services': 'Professional Services',
    'Research & Consulting Services': 'Professional Services',
    'Industrial Conglomerates': 'Industrial Conglomerates',
    'Industrial Materials': 'Industrial Conglomerates',
    'Railroads': 'Road & Rail',
    'Trucking': 'Road & Rail',
    'Trading Companies & Distributors': 'Trading Companies & Distributors',
    'Application Software': 'Software',
    'Systems Software': 'Software',
    'Home Entertainment Software': 'Software',
    'Computer Hardware': 'Technology Hardware, Storage & Peripherals',
    'Computer Storage & Peripherals': 'Technology Hardware, Storage & Peripherals',
    'Technology Hardware, Storage & Peripherals': 'Technology Hardware, Storage & Peripherals',
    'Data Processing & Outsourced Services': 'IT Services',
    'IT Consulting & Other Services': 'IT Services',
    'Electronic Components': 'Electronic Equipment, Instruments & Components',
    'Electronic Equipment & Instruments': 'Electronic Equipment, Instruments & Components',
    'Electronic Manufacturing Services': 'Electronic Equipment, Instruments & Components',
    'Internet Software & Services': 'Internet Software & Services',
    'Networking Equipment': 'Communications Equipment',
    'Telecommunications Equipment': 'Communications Equipment',
    'Semiconductor Equipment': 'Semiconductors & Semiconductor Equipment',
    'Semiconductors': 'Semiconductors & Semiconductor Equipment',
    'Construction Materials': 'Construction Materials',
    'Copper': 'Metals & Mining',
    'Gold': 'Metals & Mining',
    'Steel': 'Metals & Mining',
    'Diversified Chemicals': 'Chemicals',
    'Fertilizers & Agricultural Chemicals': 'Chemicals',
    'Industrial Gases': 'Chemicals',
    'Specialty Chemicals': 'Chemicals',
    'Metal & Glass Containers': 'Containers & Packaging',
    'Paper Packaging': 'Containers & Packaging',
    'Office REITs': 'Equity Real Estate Investment Trusts (REITs)',
    'REITs': 'Equity Real Estate Investment Trusts (REITs)',
    'Residential REITs': 'Equity Real Estate Investment Trusts (REITs)',
    'Retail REITs': 'Equity Real Estate Investment Trusts (REITs)',
    'Specialized REITs': 'Equity Real Estate Investment Trusts (REITs)',
    'Real Estate Services': 'Real Estate Management & Development',
    'Alternative Carriers': 'Diversified Telecommunication Services',
    'Integrated Telecommunications Services': 'Diversified Telecommunication Services',
    'Electric Utilities': 'Electric Utilities',
    'Independent Power Producers & Energy Traders': 'Independent Power and Renewable Electricity Producers',
    'MultiUtilities': 'Multi-Utilities',
    'Water Utilities': 'Water Utilities',
}


def _reference_options():
    from xlfactor.builder.builder import BuildOptions

    return BuildOptions(market_series="SPX", universe="sp500-point-in-time", quality_start="2012-01-01")


REFERENCE_OPTIONS = _reference_options()
"""Options of the reference real-data build: SPX pins the market; bias statistics scored from 2012."""

ADJUSTED_PANEL = "prices/us_stocks_sp500_universe_adj_daily_2000_2017.csv.gz"


def write_adjusted_inputs(
    shared: Path, folder: Path, start: str = "2010-01-01", end: str = "2017-12-31", industries: str = "industry"
) -> Path:
    """The reference real-data build: adjusted (total-return) prices, point-in-time S&P 500.

    * Prices: the Kaggle "Huge Stock Market Dataset" S&P 500-universe subset (adjusted for
      splits and dividends, 651 tickers, to 2017-11-10), ``start``..``end``; the one-day bad
      ticks of ``known_price_issues.csv`` are removed (their returns become missing, not zero).
    * Universe: a name has a market cap (and so is in the model's universe) only on the
      days it was an S&P 500 member (``membership/sp500_ticker_start_end.csv``). Prices are
      kept outside membership, so a name that leaves the index still has its later returns.
    * Market caps: the cap of the nearest S&P 500 financials snapshot (34 dates,
      2012-12..2018-02; the last one at or before the day, else the first after it) carried
      with the adjusted price ratio, ``cap_t = cap_s P_t / P_s``. A member without any
      snapshot (left the index before 2013) has no cap and stays out of the universe.
    * Fundamentals, classification and benchmark as in :func:`write_real_inputs`
      (GICS as of ~2017; the S&P 500 price index ``SPX`` pins the market factor).
      ``industries``: ``"industry"`` (GICS industries, :data:`GICS_INDUSTRY`: the
      reference, about USE4's 60 industries), ``"sub_industry"`` (GICS sub-industries) or
      ``"fold_thin"`` (sub-industries with fewer than 5 names in the file replaced by
      their GICS industry).
    """
    folder.mkdir(parents=True, exist_ok=True)
    prices = pd.read_csv(shared / ADJUSTED_PANEL, usecols=["date", "ticker", "close", "volume"])
    prices = prices[(prices["date"] >= start) & (prices["date"] <= end) & (prices["close"] > 0)]
    flags = pd.read_csv(shared / "prices" / "known_price_issues.csv")
    ticks = flags[(flags["file"] == ADJUSTED_PANEL) & flags["issue"].str.startswith("bad tick")]
    bad = prices.set_index(["date", "ticker"]).index.isin(ticks.set_index(["date", "ticker"]).index)
    prices = prices[~bad].sort_values(["ticker", "date"]).reset_index(drop=True)

    snapshots = pd.read_csv(shared / "fundamentals" / "sp500_financials_snapshots_2012_2018.csv")
    snapshots = snapshots[(snapshots["market_cap_usd"] > 0)][["snapshot_date", "ticker", "market_cap_usd"]]
    snapshots = snapshots.drop_duplicates(["ticker", "snapshot_date"], keep="last")
    keyed = prices[["date", "ticker", "close"]].assign(when=pd.to_datetime(prices["date"])).sort_values("when")
    snap = snapshots.assign(when=pd.to_datetime(snapshots["snapshot_date"])).sort_values("when")
    # the panel's adjusted price on (or just before) each snapshot date
    at_snapshot = pd.merge_asof(snap, keyed[["when", "ticker", "close"]], on="when", by="ticker", direction="backward")
    at_snapshot = at_snapshot.dropna(subset=["close"]).rename(columns={"close": "snapshot_close"})
    reference = at_snapshot[["when", "ticker", "market_cap_usd", "snapshot_close"]]
    nearest = pd.merge_asof(keyed, reference, on="when", by="ticker", direction="backward")
    following = pd.merge_asof(keyed, reference, on="when", by="ticker", direction="forward")
    use_following = nearest["market_cap_usd"].isna()
    cap_s = nearest["market_cap_usd"].where(~use_following, following["market_cap_usd"])
    close_s = nearest["snapshot_close"].where(~use_following, following["snapshot_close"])
    keyed["market_cap"] = cap_s.to_numpy() * keyed["close"].to_numpy() / close_s.to_numpy()

    membership = pd.read_csv(shared / "membership" / "sp500_ticker_start_end.csv")
    membership["end_date"] = membership["end_date"].fillna("9999-12-31")
    spans = keyed[["date", "ticker"]].reset_index().merge(membership, on="ticker", how="inner")
    inside = spans[(spans["date"] >= spans["start_date"]) & (spans["date"] <= spans["end_date"])]
    member = keyed.index.isin(inside["index"].unique())
    keyed.loc[~member, "market_cap"] = np.nan
    prices = prices.join(keyed["market_cap"])
    prices[["date", "ticker", "close", "volume", "market_cap"]].to_csv(folder / "prices.csv.gz", index=False)

    write_reference_files(shared, folder, start, end, industries)
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
