"""Core speed: portfolio_report and single risk calls on the demo snapshot.

Prints median wall times (and the ratio to a naive baseline that builds the full asset
covariance V = X F X' + D and takes w'Vw), for 200- and 1000-name portfolios.
Targets: portfolio_report (200 names) under 25 ms; one risk call under 0.2 ms.
Run: python benchmarks/bench_core.py
"""

from __future__ import annotations

import time

import numpy as np
import pandas as pd

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _timing import median_seconds  # noqa: E402

import xlfactor as xf


def main() -> None:
    start = time.perf_counter()
    snapshot = xf.load_snapshot()
    load = time.perf_counter() - start
    data = xf.factor_model_data(snapshot)
    print(f"demo snapshot load (cold, this process): {load * 1e3:.1f} ms")
    rng = np.random.default_rng(0)
    X, F, d = data.exposures, data.factor_covariance, data.idiosyncratic_variance
    for n in (200, 1000):
        picks = rng.choice(len(data.tickers), n, replace=False)
        portfolio = pd.DataFrame({"ticker": data.tickers[picks], "value": rng.uniform(-1, 3, n)})
        w = data.align_holdings(portfolio).weights
        report = median_seconds(lambda: xf.portfolio_report(portfolio, snapshot), 30)
        risk = median_seconds(lambda: data.risk(w), 2000)
        te = median_seconds(lambda: data.tracking_error(w), 2000)
        beta = median_seconds(lambda: data.beta(w), 2000)

        def naive():
            V = X @ F @ X.T + np.diag(d)
            return float(np.sqrt(w @ V @ w))

        baseline = median_seconds(naive, 20)
        print(
            f"{n:>5} names: portfolio_report {report * 1e3:7.2f} ms | risk {risk * 1e6:6.1f} us"
            f" | tracking_error {te * 1e6:6.1f} us | beta {beta * 1e6:6.1f} us"
            f" | naive w'Vw {baseline * 1e3:6.2f} ms ({baseline / risk:,.0f}x slower than risk)"
        )


if __name__ == "__main__":
    main()
