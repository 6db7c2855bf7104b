"""Rebalance a book into its limits: check it, try a trade, let the optimizer find the trades.

Run from anywhere: ``python examples/rebalance.py``. Uses the embedded demo snapshot (a
simulated market); writes nothing.
"""

from pathlib import Path

import pandas as pd

import xlfactor as xf

PORTFOLIO = Path(__file__).resolve().parent / "portfolio.csv"

data = xf.factor_model_data(xf.load_snapshot())
book = pd.read_csv(PORTFOLIO)  # ticker, value: signed dollars

# One limits table for the check, the what-if and the optimizer: limit, name, min, max.
limits = pd.DataFrame(
    [
        ["tracking_error", "", None, 0.08],  # annualized
        ["active_exposure", "style", -0.25, 0.25],  # every style factor, against the benchmark
        ["weight", "*", -0.05, 0.05],  # every name, decimals of the book's gross
        ["turnover", "", None, 0.30],  # one-way, a decimal of gross
    ],
    columns=["limit", "name", "min", "max"],
)

# 1. The pre-trade check: which limits the book breaks today.
check = xf.check_limits(data, book, limits)
print(check[["limit", "name", "min", "max", "before", "at_before", "breach_before"]].round(4).to_string(index=False))

# 2. A trade the PM has in mind, before and after.
idea = pd.DataFrame({"ticker": [book["ticker"].iloc[0]], "value": [-100_000.0]})
print(xf.what_if(data, book, idea).summary.round(4).to_string())

# 3. The trades that bring the book inside every limit at the least tracking error.
result = xf.optimize(data, book, limits)
print(f"status {result.status}: TE {result.tracking_error_before:.2%} -> {result.tracking_error_after:.2%}, "
      f"{len(result.trades)} trades in {result.solve_seconds:.2f} s")
print(result.trade_list().round(0).head(10).to_string(index=False))
print(result.binding[["limit", "name", "side", "bound", "shadow_price"]].round(4).to_string(index=False))
for note in result.notes:
    print("note:", note)

# The trades meet every limit when checked on their own.
after = xf.check_limits(data, book, limits, result.trade_list())
assert not after["breach"].any(), after
