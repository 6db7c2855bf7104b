"""The ETF hedge cascade on real data: S&P 500 stocks on SPY, their sector SPDR and a subsector ETF, 2014-2016.

Stocks: Kaggle S&P 500 daily closes (price returns; flagged bad prices masked), the names
whose GICS sub-industry (Kaggle securities file, ~2017) has a subsector ETF in the
package's map and full history over the window. ETFs: adjusted closes of the Kaggle
"Huge" ETF set. The checks are identities of the cascade, which hold for any data.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import xlfactor as xf
from tests.conftest import require_shared_data
from xlfactor.snapshot.etf_map import etf_for_sector, etf_for_sub_industry

START, END = "2014-01-01", "2016-12-31"


@pytest.fixture(scope="module")
def real_cascade_inputs():
    shared = require_shared_data()
    securities = pd.read_csv(shared / "classification" / "nyse_kaggle_securities.csv")
    securities["sector_etf"] = securities["GICS Sector"].map(etf_for_sector())
    securities["sub_etf"] = securities["GICS Sub Industry"].map(etf_for_sub_industry())
    mapped = securities.dropna(subset=["sector_etf", "sub_etf"])
    mapped = mapped[mapped["sector_etf"] != "XLRE"]  # XLRE starts in Oct 2015
    prices = pd.read_csv(shared / "prices" / "all_stocks_5yr.csv.gz", usecols=["date", "close", "Name"])
    prices = prices[(prices["date"] >= "2013-12-31") & (prices["date"] <= END) & prices["Name"].isin(mapped["Ticker symbol"])]
    flags = pd.read_csv(shared / "prices" / "known_price_issues.csv")
    flags = flags[flags["file"] == "prices/all_stocks_5yr.csv.gz"]
    bad = prices.set_index(["date", "Name"]).index.isin(flags.set_index(["date", "ticker"]).index)
    closes = prices[~bad].pivot(index="date", columns="Name", values="close")
    returns = closes.pct_change().iloc[1:]
    returns = returns.loc[:, returns.notna().all()]
    etfs = pd.read_csv(shared / "etfs" / "etfs_kaggle_huge_daily_2005_2017.csv.gz", usecols=["date", "ticker", "close"])
    etfs = etfs[(etfs["date"] >= "2013-12-31") & (etfs["date"] <= END)]
    etf_returns = etfs.pivot(index="date", columns="ticker", values="close").pct_change().iloc[1:]
    mapped = mapped[mapped["Ticker symbol"].isin(returns.columns)]
    mapped = mapped[mapped["sub_etf"].isin(etf_returns.columns) & mapped["sector_etf"].isin(etf_returns.columns)]
    return returns, etf_returns, mapped


def test_cascade_identities_on_real_stocks(real_cascade_inputs):
    returns, etf_returns, mapped = real_cascade_inputs
    assert len(mapped) >= 30
    assert mapped["sub_etf"].nunique() >= 5 and mapped["sector_etf"].nunique() >= 4
    checked = 0
    for (sector, sub), group in mapped.groupby(["sector_etf", "sub_etf"]):  # one vectorized cascade per ETF pair
        tickers = list(group["Ticker symbol"])
        result = xf.etf_cascade(returns[tickers], etf_returns["SPY"], etf_returns[sector], etf_returns[sub], window=None)
        assert len(result.dates) >= 750 and result.dates[0] >= START and result.dates[-1] <= END
        # replication with raw ETF returns, every day of the window
        R = returns.loc[result.dates, tickers].to_numpy()
        E = etf_returns.loc[result.dates, ["SPY", sector, sub]].to_numpy()
        replicated = result.alpha + E @ (-result.hedge_ratios[-1]).T + result.residuals.to_numpy()
        assert np.abs(R - replicated).max() < 1e-10
        assert result.replication_error.max() < 1e-10
        # explained risk per level plus the residual share is 1
        np.testing.assert_allclose(result.explained_risk.sum(axis=1) + result.residual_share, 1.0, atol=1e-10)
        # a deeper hedge never leaves more residual variance
        assert (result.residual_variance[:, 2] <= result.residual_variance[:, 0] * (1 + 1e-12)).all()
        hedged_l1 = R + E[:, :1] * result.hedge_ratios[0][:, 0]
        np.testing.assert_allclose(result.residual_variance[:, 0], hedged_l1.var(axis=0, ddof=1), rtol=1e-9)
        checked += len(tickers)
    assert checked == len(mapped)


def test_real_subsector_etf_explains_part_of_its_members(real_cascade_inputs):
    returns, etf_returns, mapped = real_cascade_inputs
    semis = list(mapped.loc[mapped["sub_etf"] == "SOXX", "Ticker symbol"])
    assert len(semis) >= 5
    result = xf.etf_cascade(returns[semis], etf_returns["SPY"], etf_returns["XLK"], etf_returns["SOXX"], window=None)
    assert 0.6 < result.link_betas[0] < 1.4  # XLK on SPY
    assert np.median(result.explained_risk[:, 0]) > 0.2  # the market explains a good share
    assert np.median(result.explained_risk[:, 2]) > 0.08  # and SOXX adds something beyond XLK
    assert np.median(result.betas[:, 2]) > 0.5
