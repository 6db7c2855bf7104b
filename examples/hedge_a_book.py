"""Hedge a book: its factor risk, an ETF hedge, the ETF cascade, and a hedge to a factor share.

Run from anywhere: ``python examples/hedge_a_book.py``. Uses the embedded demo snapshot
(a simulated market) and the sample book ``examples/portfolio.csv``; writes nothing.
"""

from pathlib import Path

import numpy as np
import pandas as pd

import xlfactor as xf

PORTFOLIO = Path(__file__).resolve().parent / "portfolio.csv"

snap = xf.load_snapshot()
data = xf.factor_model_data(snap)
w = data.align_holdings(pd.read_csv(PORTFOLIO)).weights

print(f"total risk {data.risk(w):.2%}, factor risk {data.factor_risk(w):.2%}, beta {data.beta(w):.2f}")
print(data.risk_decomposition(w).to_string(index=False))

# 1. The factor-model hedge: the book minus its tracking portfolio in SPY and the sector SPDRs.
etfs = ["SPY", "XLK", "XLF", "XLV", "XLE", "XLI", "XLY"]
hedged = xf.hedged_book(data, w, etfs)
print("\nETF hedge (weights of gross):")
print(pd.Series(hedged.hedge_weights, index=hedged.instruments).round(4).to_string())
print(f"risk before {hedged.risk_before:.2%}, after {hedged.risk_after:.2%}")

# 2. The ETF cascade of the book's largest long: SPY, then its sector SPDR cleaned of SPY.
#    (`xlfactor hedge` runs the three-level cascade, down to subsector ETFs, for the whole book.)
from xlfactor.risk.timeseries import stock_returns  # noqa: E402 - after the headline numbers
from xlfactor.snapshot.etf_map import etf_for_sector  # noqa: E402

top = int(np.argmax(w))
ticker, sector = data.tickers[top], data.member_names("sector")[top]
sector_etf = etf_for_sector()[sector]
returns = stock_returns(snap)
cascade = xf.etf_cascade(returns[[ticker]], snap.index_returns["SPY"], snap.index_returns[sector_etf])
print(f"\nETF cascade of {ticker} ({sector}: SPY, then {sector_etf}):")
print(cascade.table().T.round(3).to_string())

# 3. Keep the factors to 20% of the variance: how much of the factor exposure to hedge.
x = data.factor_exposure(w)
idiosyncratic_variance = float(np.sum(w**2 * data.idiosyncratic_variance))
cut = xf.hedge_to_factor_share(x, data.factor_covariance, idiosyncratic_variance, limit=0.2)
print(f"\nfactor share {cut.share_before:.0%} -> {cut.share_after:.0%}: keep {cut.scale:.1%} of the factor exposure")
