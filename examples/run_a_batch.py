"""Run a batch: the risk summary of many books from one long holdings file.

Run: ``python examples/run_a_batch.py [FOLDER]`` (default ``./example-batch``). Writes
``books.csv`` (portfolio, ticker, value: 200 random long/short books of the demo market) and
runs ``xlfactor batch`` on it, which writes ``summary.csv``, ``summary.parquet`` and
``failed.csv``; then prices the same books in memory with ``xf.batch_risk``.
"""

import sys
from pathlib import Path

import numpy as np
import pandas as pd

import xlfactor as xf
from xlfactor.cli import main

folder = Path(sys.argv[1] if len(sys.argv) > 1 else "example-batch")
folder.mkdir(parents=True, exist_ok=True)
data = xf.factor_model_data(xf.load_snapshot())

rng = np.random.default_rng(11)
rows = []
for book in range(200):
    names = rng.choice(data.tickers, size=30, replace=False)
    values = rng.normal(0, 1e5, size=30)
    rows += [(f"book{book:03d}", ticker, value) for ticker, value in zip(names, values)]
rows.append(("broken", "NOT-A-TICKER", 1e5))  # a book with no holding in the universe: listed in failed.csv
books = pd.DataFrame(rows, columns=["portfolio", "ticker", "value"])
books.to_csv(folder / "books.csv", index=False)

status = main(["batch", "--holdings", str(folder / "books.csv"), "--out", str(folder / "out")])
summary = pd.read_csv(folder / "out" / "summary.csv")
print(summary.describe().T[["mean", "min", "max"]].round(4).to_string())
print(pd.read_csv(folder / "out" / "failed.csv").to_string(index=False))

# The same numbers in memory: one (books x names) weight matrix, a few matrix products.
weights = np.vstack([data.align_holdings(group, name).weights for name, group in books.groupby("portfolio") if name != "broken"])
in_memory = xf.batch_risk(data, weights)
print("largest difference of tracking error:", float(np.max(np.abs(in_memory["tracking_error"].to_numpy() - summary["tracking_error"].to_numpy()))))
sys.exit(status)
