"""OF_ETFHEDGE on a 200-name book (demo snapshot).

Prints the median warm time of one worksheet call (target: under 20 ms), the bare numeric
call it wraps (portfolio_cascade on the cached universe cascade), and the naive baseline
that re-estimates every held name's cascade on each call (no per-snapshot cache), with ratios.
Run: python benchmarks/bench_etfhedge.py
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _timing import median_seconds

import xlfactor as xf
from xlfactor.functions import OF_ETFHEDGE
from xlfactor.hedging import cascade as ec


def main() -> None:
    snapshot = xf.load_snapshot()
    data = xf.factor_model_data(snapshot)
    rng = np.random.default_rng(0)
    picks = rng.choice(len(data.tickers), 200, replace=False)
    values = rng.uniform(-1, 3, 200) * 1e6
    holdings = [["ticker", "value"]] + [[t, float(v)] for t, v in zip(data.tickers[picks], values)]
    start = time.perf_counter()
    first = OF_ETFHEDGE(holdings)
    cold = time.perf_counter() - start
    assert isinstance(first, list), first
    warm = median_seconds(lambda: OF_ETFHEDGE(holdings), 50)
    cascade = ec.universe_cascade(data)
    w = data.align_holdings(__import__("pandas").DataFrame({"ticker": data.tickers[picks], "value": values})).weights
    bare = median_seconds(lambda: ec.portfolio_cascade(cascade, w, 3), 200)

    def uncached():  # what every call would cost without the per-snapshot cache
        return ec.portfolio_cascade(ec._universe_cascade(data, 252), w, 3)

    naive = median_seconds(uncached, 5)
    print(f"OF_ETFHEDGE 200 names: first call {cold * 1e3:.1f} ms (builds the per-snapshot cascade of {len(data.tickers)} names)")
    print(f"  warm worksheet call {warm * 1e3:6.2f} ms (target < 20 ms)")
    print(f"  bare portfolio_cascade {bare * 1e3:6.3f} ms -> the front end costs {warm / bare:.1f}x the numeric call")
    print(f"  without the per-snapshot cache {naive * 1e3:6.1f} ms -> the cache is {naive / warm:.0f}x faster")


if __name__ == "__main__":
    main()
