"""Stress a book: factor shocks, the scenario library, the worst days, historical VaR.

Run from anywhere: ``python examples/stress_a_book.py``. Uses the embedded demo snapshot
(a simulated market: its two library episodes are simulated too); writes nothing.
"""

from pathlib import Path

import pandas as pd

import xlfactor as xf

PORTFOLIO = Path(__file__).resolve().parent / "portfolio.csv"

data = xf.factor_model_data(xf.load_snapshot())
portfolio = pd.read_csv(PORTFOLIO)
w = data.align_holdings(portfolio).weights

# A market fall of 10%: the other factors move by their expectation given it.
shock = xf.stress(data, portfolio, {"market": -0.10})
print(f"market -10%: {shock.portfolio_pnl:.2%} of gross, {shock.dollars['portfolio']:,.0f} dollars")
print(shock.summary.round(4).to_string())

# The same shock moving the market alone.
alone = xf.stress(data, w, {"market": -0.10}, propagate=False)
print(f"market -10% alone: {alone.portfolio_pnl:.2%}")

# Every library episode, the worst 21-day window and the worst days of the stored history.
table = xf.scenario_table(data, w)
print(table.drop(columns=["description"]).round(4).to_string(index=False))

# Historical against parametric VaR, 99% over 10 days.
h = xf.historical_var(data, w, 0.99, horizon_days=10)
print(f"VaR 99% 10 days: historical {h.var:.2%}, parametric {h.parametric_var:.2%} (ratio {h.ratio:.2f})")
