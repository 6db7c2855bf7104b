"""Build a risk model from CSV files, then price a book on it.

Run: ``python examples/build_model_from_csvs.py [FOLDER]`` (default ``./example-model``).
The input CSVs are the simulated demo market's (150 names, 1.2 years), written in the
builder's input format; replace them with your own prices, classification and fundamentals.
Takes about 20 seconds.
"""

import sys
from pathlib import Path

import pandas as pd

import xlfactor as xf
from xlfactor.builder import BuildOptions, build_snapshot
from xlfactor.demo import write_demo_inputs
from xlfactor.demo.simulate import simulate_market

folder = Path(sys.argv[1] if len(sys.argv) > 1 else "example-model")
inputs, output = folder / "inputs", folder / "snapshot"

# 1. Input CSVs: prices.csv(.gz) (date, ticker, close, volume, market_cap ...), classification.csv
#    (ticker, sector, industry), fundamentals.csv(.gz), benchmark.csv (index and ETF closes).
write_demo_inputs(inputs, 3, simulate_market(3, 150, 300))
for name in ["prices.csv.gz", "classification.csv", "benchmark.csv"]:
    print(f"{name}:\n{pd.read_csv(inputs / name, nrows=3).to_string(index=False)}\n")

# 2. Build the latest snapshot (no quality report, to keep the example quick).
written = build_snapshot(inputs, output, options=BuildOptions(universe="example", quality=False))
snap = xf.load_snapshot(written[-1])
print(snap.describe())

# 3. Price an equal-weighted book of the first 20 names on the new model.
book = pd.DataFrame({"ticker": list(snap.tickers[:20]), "allocation": 1 / 20})
summary = xf.portfolio_report(book, snap)["summary"]["value"]
print(summary[["total_risk", "factor_risk", "idiosyncratic_risk", "tracking_error", "beta"]].to_string())
